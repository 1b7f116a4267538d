"""marshmallow schemas for every boundary that takes a procedure or a target."""
from __future__ import annotations

import re
from typing import Any, Sequence

from marshmallow import (RAISE, Schema, ValidationError, fields, post_load, pre_load, validate,
                         validates_schema)
from marshmallow import missing as missing_

from .text import clean, clean_multiline

# ASCII digits only: `\d` would accept "١.٠٠٠٣٩٠" or "１.000390", which no portal knows.
# The OpenAPI documents publish CODE_PATTERN; the validator compiles the very same string.
CODE_PATTERN = r"^[0-9]\.[0-9]{6}(\.[0-9A-Z]+)?$"
CODE_RE = re.compile(CODE_PATTERN, re.ASCII)
# Control characters an XLSX cell (XML 1.0) cannot hold; whitespace ones are collapsed by clean().
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
LEVELS = ("bo", "tinh", "huyen", "xa", "khac")
_LEVEL_SET = frozenset(LEVELS)
PAYMENT_CHANNELS = ("none", "dvcqg_payment", "paygov")
STATUSES = ("active", "retired")
ONLINE_MODES = {4: "toan_trinh", 3: "mot_phan"}


def online_mode(service_level: int) -> str:
    """The online mode implied by a service level (4 toàn trình, 3 một phần, else none)."""
    return ONLINE_MODES.get(service_level, "none")


def _encodable(value: str) -> str:
    """Refuse text SQLite cannot store (lone surrogates such as a JSON "\\ud800") and control
    characters (NUL...) that a spreadsheet cell cannot hold, so every record exports."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("contains characters that are not valid Unicode text") from None
    bad = _CONTROL.search(value)
    if bad:
        raise ValidationError(f"contains the control character U+{ord(bad.group()):04X}, "
                              "which spreadsheets cannot hold")
    return value


# Validators whose one check is all that Field._validate's `validate.And` wrapper would run.
_PLAIN_VALIDATORS = (validate.Length, validate.OneOf, validate.Range)


class _Lean:
    """Field mixin: marshmallow's Field.deserialize minus the bookkeeping a value skips.

    For a value that is present and not None, Field.deserialize only runs `_deserialize`
    then `_validate` (pre/post-load hooks aside); `_validate` builds a new `validate.And`
    per value, which for one plain validator just re-raises that validator's message. This
    path does the same with neither, halving the per-field cost of an import row. Missing
    values, None and fields with hooks take marshmallow's own path.
    """

    validators: list
    pre_load: list
    post_load: list

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None,
                    **kwargs: Any) -> Any:
        if value is missing_ or value is None or self.pre_load or self.post_load:
            return super().deserialize(value, attr, data, **kwargs)  # type: ignore[misc]
        output = self._deserialize(value, attr, data, **kwargs)  # type: ignore[attr-defined]
        self._validate(output)
        return output

    def _validate(self, value: Any) -> None:
        validators = self.validators
        if not validators:
            return
        if len(validators) == 1 and validators[0].__class__ in _PLAIN_VALIDATORS:
            validators[0](value)
        else:
            super()._validate(value)  # type: ignore[misc]


class Text(_Lean, fields.String):
    """A string that is NFC-normalised, trimmed and has inner whitespace runs collapsed."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        if value.__class__ is not str:  # a plain str passes String._deserialize unchanged
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            value = super()._deserialize(value, attr, data, **kwargs)
        return clean(_encodable(value))


class Code(_Lean, fields.String):
    """A procedure code: trimmed, then CODE_PATTERN (ASCII digits only)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": CODE_PATTERN, "example": "1.001193", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        if value.__class__ is not str:
            value = super()._deserialize(value, attr, data, **kwargs)
        code = clean(_encodable(value))
        if not CODE_RE.match(code):
            raise ValidationError(
                f"'{code}' is not a procedure code (expected like 1.000771, 2.002195.H26)")
        return code


class Choice(_Lean, fields.String):
    """A string that must be one of `choices` (validate.OneOf and its message)."""

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(choices), **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        if value.__class__ is str:  # what String._deserialize would return
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class Levels(_Lean, fields.List):
    """A list of administrative levels (each one of LEVELS)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Choice(LEVELS), **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list[str]:
        # The common case - a list of valid ids - loads to a copy of itself; anything
        # else goes through fields.List, item by item, for the usual per-index errors.
        if value.__class__ is list:
            for v in value:
                if v.__class__ is not str or v not in _LEVEL_SET:
                    break
            else:
                return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Level(_Lean, fields.Integer):
    """A service level 1-4."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=1, max=4, error="must be 1, 2, 3 or 4"),
                         **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> int:
        if value.__class__ is int:  # int(value) is value; bools go the long way (refused)
            return value
        if isinstance(value, float) and not value.is_integer():
            raise ValidationError("must be 1, 2, 3 or 4 (a whole number)")  # 3.5 is not 3
        if isinstance(value, str) and len(value) > 20:
            raise ValidationError("must be 1, 2, 3 or 4")  # no 5,000-digit int() parse
        return super()._deserialize(value, attr, data, **kwargs)


class TextList(_Lean, fields.List):
    """A list of cleaned strings; a single string is split on newlines or ';' (Excel/CSV cells)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text(), **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list[str]:
        if isinstance(value, str):
            return clean_multiline(_encodable(value))
        items = super()._deserialize(value, attr, data, **kwargs)
        return [i for i in items if i]


class Flag(_Lean, fields.Boolean):
    """A boolean that also takes the words staff type in spreadsheets (có/không, x, yes/no)."""

    truthy = fields.Boolean.truthy | {"có", "Có", "CÓ", "x", "X", "yes", "Yes", "YES"}
    falsy = fields.Boolean.falsy | {"không", "Không", "KHÔNG", "no", "No", "NO", ""}


def _code_required(**kw: Any) -> Code:
    return Code(required=True, error_messages={"required": "code is required"}, **kw)


class ProcedureFields(Schema):
    """The editable canonical fields of a procedure (design.md)."""

    class Meta:
        unknown = RAISE

    name = Text(validate=validate.Length(min=1, max=5000))
    field = Text(validate=validate.Length(max=300))
    agency = Text(validate=validate.Length(max=300))
    agencies = TextList()
    issuing_agency = Text(validate=validate.Length(max=300))
    levels = Levels()
    service_level = Level()
    has_fee = Flag()
    dvcqg_integrated = Flag()
    payment_channel = Choice(PAYMENT_CHANNELS)
    sso = Flag()
    status = Choice(STATUSES)
    # Derived from service_level; accepted so that exports import back, checked when given.
    online_mode = Choice(["toan_trinh", "mot_phan", "none"], load_only=True)

    @pre_load
    def _split_levels(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("levels"), str):
            data = dict(data)
            data["levels"] = [fold_level(v) for v in clean_multiline(data["levels"].replace(",", ";"))]
        return data

    @validates_schema
    def _consistent(self, data: dict, **kwargs: Any) -> None:
        mode = data.get("online_mode")
        if mode is not None and "service_level" not in data:
            raise ValidationError(
                "online_mode is derived from service_level (4 → toan_trinh, 3 → mot_phan, else none) "
                "and cannot be set on its own; change service_level instead", "online_mode")
        if mode is not None and mode != online_mode(data["service_level"]):
            raise ValidationError(
                f"online_mode '{mode}' contradicts service_level {data['service_level']}",
                "online_mode")
        if data.get("payment_channel") not in (None, "none") and data.get("has_fee") is False:
            raise ValidationError("a procedure without fee cannot have a payment channel",
                                  "payment_channel")

    @post_load
    def _derive(self, data: dict, **kwargs: Any) -> dict:
        data.pop("online_mode", None)
        if "agencies" in data and "agency" not in data and data["agencies"]:
            data["agency"] = data["agencies"][0]
        if "agency" in data and "agencies" in data and data["agency"] and data["agency"] not in data["agencies"]:
            data["agencies"] = [data["agency"], *data["agencies"]]
        return data


def fold_level(value: str) -> str:
    """Accept the Vietnamese spellings of a level as well as the canonical ids."""
    from .text import fold
    v = fold(value).replace(" ", "")
    return {"bo": "bo", "capbo": "bo", "tinh": "tinh", "captinh": "tinh", "huyen": "huyen",
            "caphuyen": "huyen", "xa": "xa", "capxa": "xa", "khac": "khac"}.get(v, value)


DEFAULTS: dict[str, Any] = {
    "field": "", "agency": "", "agencies": [], "issuing_agency": "", "levels": [],
    "service_level": 2, "has_fee": False, "dvcqg_integrated": False, "payment_channel": "none",
    "sso": False, "status": "active",
}


class ProcedureCreateSchema(ProcedureFields):
    """Body of a new procedure: code and name required, other fields default (see DEFAULTS)."""

    code = _code_required()
    name = Text(required=True, validate=validate.Length(min=1, max=5000))


class ProcedureUpdateSchema(ProcedureFields):
    """Body of an update: any subset of the editable fields; the code cannot change."""


class ImportRowSchema(ProcedureFields):
    """One row of an import file; absent columns keep stored values (or take defaults if new)."""

    code = _code_required()


def with_defaults(data: dict) -> dict:
    """A full procedure record: `data` over DEFAULTS, with agency/agencies made consistent."""
    full = {**DEFAULTS, **data}
    if full["agency"] and full["agency"] not in full["agencies"]:
        full["agencies"] = [full["agency"], *full["agencies"]]
    if not full["agency"] and full["agencies"]:
        full["agency"] = full["agencies"][0]
    return full


class ProcedureOutSchema(Schema):
    """A procedure as the API and exports show it (design.md "Canonical fields")."""

    code = fields.String()
    name = fields.String()
    field = fields.String()
    agency = fields.String()
    agencies = fields.List(fields.String())
    issuing_agency = fields.String()
    levels = fields.List(fields.String())
    service_level = fields.Integer()
    online_mode = fields.String()
    has_fee = fields.Boolean()
    dvcqg_integrated = fields.Boolean()
    payment_channel = fields.String()
    sso = fields.Boolean()
    status = fields.String()
    linkage = fields.Dict(allow_none=True)
    payment = fields.Dict(allow_none=True)
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


class TargetSchema(Schema):
    """A coverage target: indicator, percent, due date and the plan that sets it."""

    class Meta:
        unknown = RAISE

    indicator = fields.String(required=True, validate=validate.OneOf([
        "online_rate", "level4_rate", "dvcqg_integration_rate", "sso_payment_rate",
        "online_payment_rate", "dossier_online_services_rate", "dossier_fully_online_rate",
        "dossier_on_time_rate", "satisfaction_rate"]))
    percent = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    due = fields.Date(required=True)
    source = Text(required=True, validate=validate.Length(min=1, max=300))
    note = Text(load_default="")
    id = fields.Integer(dump_only=True)

    @post_load
    def _iso(self, data: dict, **kwargs: Any) -> dict:
        data["due"] = data["due"].isoformat()
        return data
