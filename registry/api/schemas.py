"""API-only marshmallow schemas: query arguments, pages, problems and response documents.

Request bodies reuse the core schemas (`registry.schemas`), subclassed here only to add what
the OpenAPI document needs (patterns, descriptions); responses that other modules own the
shape of (the coverage report) are documented with `unknown = EXCLUDE` so that a new member
does not break clients validating against the document.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from flask_smorest.fields import Upload

from .. import schemas as core
from ..importer import FORMATS as IMPORT_FORMATS
from ..store import VN_TZ
from ..store.procedures import SORTABLE

CODE_PATTERN = core.CODE_PATTERN  # the validator's own pattern, published as is
MIN_DATE, MAX_DATE = date(1970, 1, 1), date(2999, 12, 31)
_DATE_RANGE = validate.Range(
    min=MIN_DATE, max=MAX_DATE, error="must be between 1970-01-01 and 2999-12-31"
)


class Open(Schema):
    """Response documents: extra members allowed (additive changes do not break clients)."""

    class Meta:
        unknown = EXCLUDE


# -- problems ------------------------------------------------------------------
class ProblemSchema(Open):
    """RFC 9457 problem details, plus `errors` (field messages, or bad import rows)."""

    type = fields.String(
        metadata={
            "description": "A URI naming the kind of problem (`about:blank` for plain HTTP errors)."
        }
    )
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String(metadata={"description": "The request path that failed."})
    errors = fields.Raw(
        metadata={
            "description": "422: `{field: [message, ...]}`; imports: "
            "`[{line, code, field, message}, ...]`."
        }
    )
    current_version = fields.Integer(metadata={"description": "412: the stored version."})


# -- procedures -------------------------------------------------------------
class EvidenceSchema(Open):
    """The latest probe verdict of one dimension (linkage or payment)."""

    verdict = fields.String(allow_none=True)
    checked_at = fields.String(allow_none=True)
    stale = fields.Boolean(
        metadata={
            "description": "A later probe could not confirm it, or it is "
            "older than the staleness window."
        }
    )


class ProcedureSchema(core.ProcedureOutSchema):
    """A procedure as the API returns it (design.md "Canonical fields")."""

    class Meta:
        unknown = EXCLUDE

    linkage = fields.Nested(EvidenceSchema)
    payment = fields.Nested(EvidenceSchema)


_CODE_DOC = {"pattern": core.CODE_RE.pattern, "example": "1.001193"}


class ProcedureCreate(core.ProcedureCreateSchema):
    """A new procedure: `code` and `name` required; other fields take their defaults."""

    code = core.Code(required=True, metadata=_CODE_DOC)


class ProcedurePatch(core.ProcedureUpdateSchema):
    """Any subset of the editable fields; the code cannot change."""


class ProcedurePut(core.ProcedureUpdateSchema):
    """Every editable field: those left out are reset to their defaults."""

    code = core.Code(metadata={**_CODE_DOC, "description": "Optional; must equal the path's code."})
    name = core.Text(required=True, validate=validate.Length(min=1, max=5000))


class ReasonBody(Schema):
    """Why a procedure is retired or restored (kept in the audit log)."""

    reason = core.Text(validate=validate.Length(max=1000))


class ReasonArgs(Schema):
    """`?reason=`: why a procedure is retired (kept in the audit log)."""

    reason = core.Text(validate=validate.Length(max=1000))


class Links(Open):
    """Paging links (relative URLs); `next`/`prev` are null at the ends."""

    self = fields.String()
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)


class PageArgs(Schema):
    """page / per_page query arguments."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


_SORTS = sorted(SORTABLE) + sorted("-" + s for s in SORTABLE)


class ProcedureListArgs(PageArgs):
    """Filters, search and sort of the procedure list."""

    q = fields.String(
        validate=validate.Length(max=500),
        metadata={
            "description": "Search code, name, field and agency, ignoring diacritics "
            "(`dang ky khai sinh` finds `Đăng ký khai sinh`); results by relevance."
        },
    )
    level = fields.Integer(
        validate=validate.Range(min=1, max=4), metadata={"description": "service level"}
    )
    agency = fields.String(
        validate=validate.Length(max=300),
        metadata={"description": "Any of the procedure's agencies, exact name."},
    )
    field = fields.String(validate=validate.Length(max=300))
    integrated = fields.Boolean(metadata={"description": "dvcqg_integrated"})
    payment_channel = fields.String(validate=validate.OneOf(core.PAYMENT_CHANNELS))
    sso = fields.Boolean()
    has_fee = fields.Boolean()
    status = fields.String(load_default="active", validate=validate.OneOf([*core.STATUSES, "all"]))
    unassigned = fields.Boolean(
        metadata={"description": "true: only procedures without any agency (for an admin to assign)."}
    )
    sort = fields.String(
        validate=validate.OneOf(_SORTS),
        metadata={
            "description": "A column, `-` in front for descending. Default: code "
            "(relevance with `q`)."
        },
    )


class Page(Open):
    """What every page of a list carries besides its items."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    links = fields.Nested(Links)


class ProcedurePage(Page):
    """A page of procedures."""

    items = fields.List(fields.Nested(ProcedureSchema))


# -- imports ------------------------------------------------------------------
class ImportForm(Schema):
    """multipart/form-data: the file and the options."""

    file = Upload(
        required=True,
        metadata={"description": "xlsx (the national export as it is), csv, json or jsonl"},
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "Validate only; write nothing."}
    )
    format = fields.String(
        validate=validate.OneOf(IMPORT_FORMATS),
        metadata={"description": "Override the format found from the file name."},
    )
    only_mine = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Import only the rows of your own agencies: rows outside them are "
            "skipped and counted by agency in `skipped`, not errors."
        },
    )


class RowErrorSchema(Open):
    """One problem with one row of an import file."""

    line = fields.Integer()
    code = fields.String(allow_none=True)
    field = fields.String()
    message = fields.String()


class SkippedAgencySchema(Open):
    agency = fields.String()
    rows = fields.Integer()


class SkippedSchema(Open):
    """Rows left out by `only_mine` (outside the importer's agencies), by agency."""

    total = fields.Integer()
    by_agency = fields.List(fields.Nested(SkippedAgencySchema))


class ImportReportSchema(Open):
    """What an import did (or, with dry_run, would do)."""

    file = fields.String()
    format = fields.String()
    rows = fields.Integer()
    dry_run = fields.Boolean()
    written = fields.Boolean()
    inserted = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorSchema))
    blanks_kept = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "Per column: blank cells that kept an existing procedure's stored "
            "value (a blank cell never erases)."
        },
    )
    unassigned = fields.List(
        fields.String(),
        metadata={"description": "Codes of new procedures imported without an agency."},
    )
    only_mine = fields.Boolean()
    skipped = fields.Nested(SkippedSchema)


# -- coverage -----------------------------------------------------------------
class CoverageArgs(Schema):
    """Coverage query arguments."""

    format = fields.String(
        validate=validate.OneOf(["json", "csv"]),
        metadata={
            "description": "`csv` for CSV (also chosen by `Accept: text/csv`); JSON by default."
        },
    )
    basis = fields.String(
        load_default="declared", validate=validate.OneOf(["declared", "verified"])
    )
    group_by = fields.List(
        fields.String(validate=validate.OneOf(["agency", "level", "field"])),
        load_default=list,
        metadata={"description": "Repeat for several groupings."},
    )
    as_of = fields.Date(
        validate=_DATE_RANGE,
        metadata={"description": "The report as it stood at the end of this day (Hà Nội time)."},
    )


class UnitSchema(Open):
    code = fields.String()
    name = fields.String()


class TotalsSchema(Open):
    procedures = fields.Integer(required=True)
    online = fields.Integer(required=True)
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class TargetRefSchema(Open):
    percent = fields.Float()
    due = fields.String()
    source = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class IndicatorSchema(Open):
    id = fields.String(required=True)
    available = fields.Boolean(required=True)
    numerator = fields.Integer(allow_none=True, required=True)
    denominator = fields.Integer(allow_none=True, required=True)
    percent = fields.Float(allow_none=True, required=True)
    target = fields.Nested(TargetRefSchema, allow_none=True, required=True)
    met = fields.Boolean(allow_none=True, required=True)
    needed = fields.Integer(allow_none=True, required=True)
    claimed_unconfirmed = fields.Integer(allow_none=True)
    candidates = fields.List(fields.String())
    candidates_total = fields.Integer()


class GroupSchema(Open):
    key = fields.String(required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True)


class FreshnessSchema(Open):
    oldest_evidence = fields.String(allow_none=True, required=True)
    unverified = fields.Integer(required=True)


class CoverageReportSchema(Open):
    """A `tthc-coverage/1` report (docs/coverage.md)."""

    METHOD = "tthc-coverage/1"  # its JSON Schema: /api/v1/schemas/coverage-1.json (report_schema.py)

    schema = fields.String(data_key="$schema", metadata={"description": "Where this report's JSON Schema is."})
    method = fields.String(required=True)
    as_of = fields.String(required=True)
    basis = fields.String(required=True, validate=validate.OneOf(["declared", "verified"]))
    unit = fields.Nested(UnitSchema, allow_none=True, required=True)
    rounding = fields.String(required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True)
    groups = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(GroupSchema)), required=True)
    freshness = fields.Nested(FreshnessSchema, required=True)


# -- targets ------------------------------------------------------------------
class StrictText(core.Text):
    """Text that must be sent as a JSON string (core.Text also takes numbers, for spreadsheets)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class TargetIn(core.TargetSchema):
    """A target to create or change (one per indicator and due date)."""

    source = StrictText(required=True, validate=validate.Length(min=1, max=300))
    note = StrictText(load_default="", validate=validate.Length(max=2000))


class TargetOut(Open):
    """A stored target."""

    id = fields.Integer()
    indicator = fields.String()
    percent = fields.Float()
    due = fields.String(metadata={"format": "date"})
    source = fields.String()
    note = fields.String()


class TargetList(Open):
    """Every target."""

    items = fields.List(fields.Nested(TargetOut))
    total = fields.Integer()


class TargetReplace(Schema):
    """The whole targets table, replaced at once."""

    items = fields.List(fields.Nested(TargetIn), required=True)

    @validates_schema
    def _unique(self, data: dict, **kwargs: Any) -> None:
        seen = set()
        for t in data.get("items", []):
            key = (t["indicator"], t["due"])
            if key in seen:
                raise ValidationError(f"{t['indicator']} due {t['due']} appears twice", "items")
            seen.add(key)


# -- audit --------------------------------------------------------------------
class Moment(fields.Field):
    """A date (whole day) or an ISO 8601 date-time; naive times are Hà Nội time."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if value == "":
            return None  # `?since=` is "no bound", as a form would send it
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("expected a date (YYYY-MM-DD) or an ISO 8601 date-time")
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                moment = datetime.combine(
                    day, time.max if self.end_of_day else time.min, tzinfo=VN_TZ
                )
            else:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=VN_TZ)
            if not MIN_DATE.year <= moment.year <= MAX_DATE.year:
                raise ValueError("out of range")
            # The audit log stores Hà Nội time strings: compare like with like.
            return moment.astimezone(VN_TZ).isoformat(timespec="microseconds")
        except ValueError:
            raise ValidationError(
                "expected a date (YYYY-MM-DD) or an ISO 8601 date-time between 1970 and 2999"
            ) from None


class AuditArgs(PageArgs):
    """Audit filters."""

    procedure = fields.String(
        validate=validate.Length(max=100), metadata={"description": "A procedure code."}
    )
    actor = fields.String(validate=validate.Length(max=200))
    source = fields.String(
        validate=validate.Length(max=50), metadata={"description": "api, cli, import, ..."}
    )
    entity = fields.String(
        validate=validate.Length(max=50), metadata={"description": "procedure, target, ..."}
    )
    since = Moment(
        metadata={"description": "From this date (00:00) or date-time on.", "type": "string"}
    )
    until = Moment(
        end_of_day=True,
        metadata={"description": "Up to this date (end of day) or date-time.", "type": "string"},
    )


class AuditEntrySchema(Open):
    """One audited change."""

    id = fields.Integer()
    at = fields.String()
    actor = fields.String()
    source = fields.String()
    action = fields.String()
    entity = fields.String()
    key = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.String(
        allow_none=True, metadata={"description": "Why (a retirement's or restoration's reason)."}
    )


class AuditPage(Page):
    """A page of audit entries, newest first."""

    items = fields.List(fields.Nested(AuditEntrySchema))


class PrincipalSchema(Open):
    """The caller a token stands for."""

    username = fields.String()
    role = fields.String()
    agencies = fields.List(fields.String())
