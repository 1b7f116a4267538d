"""What the mock portal knows: procedures, units, credentials, integrations, payment set-up.

A world is a JSON document (format `mock-portal-world/1`, described in docs/mock_portal.md). It
names a catalogue source (by default the national catalogue shipped in `fixtures/`) and says,
on top of it, which procedures are integrated for which unit at which `MUCDO`, whose deep link
is broken and which have payment configured for which partner.
"""
from __future__ import annotations

import json
import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Mapping

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

FORMAT = "mock-portal-world/1"
DEFAULT_UNIT = "000.00.00.H26"
DEFAULT_UNIT_NAME = "UBND thành phố Hà Nội"
DEFAULT_SOURCE = "national-catalog.jsonl"
LEVELS = ("2", "3", "4")
BROKEN_MODES = ("404", "410", "wrong_page")
#: How a single-page-app portal shows a broken deep link: the catalogue detail is missing,
#: in a state other than ACTIVE/UPDATED, or offers no ONLINE submission method.
SPA_MODES = ("missing", "inactive", "abolished", "no_online")
#: A legacy broken link's SPA counterpart, when the world names none (`spa_details`).
SPA_FROM_BROKEN = {"404": "missing", "410": "inactive", "wrong_page": "no_online"}
CHANNELS = ("online", "postal", "in_person")
PAYMENT_KINDS = ("dvcqg_payment", "paygov")
CODE_RE = r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,63}$"
# A stable namespace so that procedures without a portal UUID always get the same id.
_ID_NAMESPACE = uuid.UUID("6f1c2a34-1d0e-4c55-9a57-7d1f3b0c9e21")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FEE_RE = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:đồng|Đồng|VNĐ|VND)")
_TIME_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(Ngày làm việc|Ngày|Giờ|Tháng|Năm)")
_TIME_UNITS = {"Ngày làm việc": "WORKING_DAY", "Ngày": "DAY", "Giờ": "HOUR", "Tháng": "MONTH",
               "Năm": "YEAR"}


class WorldError(ValueError):
    """A world file that cannot be loaded; the message names every problem."""


def nfc(text: str) -> str:
    """Vietnamese text in NFC, trimmed, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def fixtures_dir() -> Path:
    """The directory of the `fixtures` package (data shipped with the project)."""
    return Path(str(files("fixtures")))


def short_code(prefix: str, text: str) -> str:
    """A stable short code for a name (categories and departments have no code in our data)."""
    return f"{prefix}-{uuid.uuid5(_ID_NAMESPACE, text).hex[:8].upper()}"


@dataclass(frozen=True)
class Procedure:
    """One procedure as the portal shows it."""

    id: str
    code: str
    name: str
    field: str = ""
    agencies: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("online", "postal", "in_person")
    fees: tuple[int, ...] = ()
    processing_time: str = ""
    processing_unit: str = ""


@dataclass(frozen=True)
class PaymentPartner:
    """A DVCQG Payment Platform partner (`MaDoiTac`)."""

    secret: str
    callback_url: str | None = None


@dataclass(frozen=True)
class PayGovPartner:
    """A PayGov partner (`partnerCode`)."""

    access_key: str
    secret_key: str
    ipn_url: str | None = None


@dataclass
class World:
    """A loaded, validated world; read-only once built (the admin API swaps whole worlds)."""

    name: str
    units: dict[str, str]
    adapter_users: dict[str, str]
    dvcqg_partners: dict[str, PaymentPartner]
    paygov_partners: dict[str, PayGovPartner]
    lgsp_clients: dict[str, str]
    listed: list[Procedure]
    known: dict[str, Procedure]
    integrations: dict[str, dict[str, str]]  # code -> {unit code: MUCDO}
    broken_links: dict[str, str]
    payments: dict[str, dict[str, frozenset[str]]]  # kind -> partner -> codes
    spa_details: dict[str, str] = field(default_factory=dict)  # code -> SPA_MODES
    listed_by_code: dict[str, Procedure] = field(default_factory=dict)
    listed_by_id: dict[str, Procedure] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.listed_by_code = {p.code: p for p in self.listed}
        self.listed_by_id = {p.id: p for p in self.listed}

    def spa_mode(self, code: str) -> str | None:
        """How the catalogue detail of `code` is broken (None: it offers online submission)."""
        mode = self.spa_details.get(code)
        if mode is not None:
            return mode
        broken = self.broken_links.get(code)
        return SPA_FROM_BROKEN.get(broken) if broken else None

    def payment_configured(self, kind: str, partner: str, code: str) -> bool:
        """Whether `code` takes payments through `kind` for `partner`."""
        return code in self.payments.get(kind, {}).get(partner, frozenset())

    def summary(self) -> dict[str, Any]:
        """Counts for the admin API and logs."""
        return {
            "name": self.name,
            "units": dict(self.units),
            "listed": len(self.listed),
            "integrations": {u: sum(1 for m in self.integrations.values() if u in m)
                             for u in self.units},
            "broken_links": len(self.broken_links),
            "payments": {k: {p: len(c) for p, c in v.items()} for k, v in self.payments.items()},
        }


def _procedure_from_record(rec: Mapping[str, Any]) -> Procedure:
    """Build a Procedure from a national-catalogue line or a world `procedures` entry."""
    code = rec["code"].strip()
    match = _UUID_RE.search(rec.get("id") or rec.get("detail_url") or "")
    pid = match.group(0) if match else str(uuid.uuid5(_ID_NAMESPACE, code))
    agencies = rec.get("agencies") or [a for a in [rec.get("agency") or rec.get("executing_agency")]
                                      if a]
    methods = rec.get("methods_text") or ""
    fees = rec.get("fees")
    if fees is None:
        fees = sorted({int(m.replace(".", "")) for m in _FEE_RE.findall(methods)})
    time = _TIME_RE.search(methods)
    return Procedure(
        id=pid, code=code, name=nfc(rec["name"]), field=nfc(rec.get("field") or ""),
        agencies=tuple(nfc(a) for a in agencies if nfc(a)),
        levels=tuple(rec.get("levels") or ()),
        channels=tuple(rec.get("channels") or CHANNELS),
        fees=tuple(fees),
        processing_time=rec.get("processing_time") or (time.group(1) if time else ""),
        processing_unit=rec.get("processing_unit") or (_TIME_UNITS[time.group(2)] if time else ""),
    )


@lru_cache(maxsize=8)
def _read_catalog(path: str) -> tuple[Procedure, ...]:
    """Parse a catalogue JSONL file once per process (the national one has 2,642 lines)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(_procedure_from_record(json.loads(line)))
    return tuple(out)


class _ProcedureSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    name = fields.String(required=True, validate=validate.Length(min=1))
    id = fields.String()
    field = fields.String()
    agency = fields.String()
    agencies = fields.List(fields.String())
    levels = fields.List(fields.String())
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)))
    fees = fields.List(fields.Integer(validate=validate.Range(min=0)))
    processing_time = fields.String()
    processing_unit = fields.String()


class _PartnerSchema(Schema):
    class Meta:
        unknown = RAISE

    secret = fields.String(required=True)
    callback_url = fields.String(allow_none=True, load_default=None)


class _PayGovSchema(Schema):
    class Meta:
        unknown = RAISE

    access_key = fields.String(required=True)
    secret_key = fields.String(required=True)
    ipn_url = fields.String(allow_none=True, load_default=None)


def _default_credentials() -> dict[str, Any]:
    # Must match the registry's defaults (registry/settings.py) so that `tthc up` works untouched.
    return {
        "adapter": {"hanoi": "hanoi-secret"},
        "dvcqg_payment": {"HNI": {"secret": "dvcqg-secret", "callback_url": None}},
        "paygov": {"HNI": {"access_key": "paygov-access", "secret_key": "paygov-secret",
                           "ipn_url": None}},
        "lgsp": {"tthc": "lgsp-secret"},
    }


class _CredentialsSchema(Schema):
    class Meta:
        unknown = RAISE

    adapter = fields.Dict(keys=fields.String(), values=fields.String())
    dvcqg_payment = fields.Dict(keys=fields.String(), values=fields.Nested(_PartnerSchema))
    paygov = fields.Dict(keys=fields.String(), values=fields.Nested(_PayGovSchema))
    lgsp = fields.Dict(keys=fields.String(), values=fields.String())


class _CatalogSchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(allow_none=True, load_default=DEFAULT_SOURCE)
    only = fields.List(fields.String(), allow_none=True, load_default=None)
    exclude = fields.List(fields.String(), load_default=list)


_Codes = fields.List(fields.String(validate=validate.Regexp(CODE_RE)))


class _PaymentsSchema(Schema):
    class Meta:
        unknown = RAISE

    dvcqg_payment = fields.Dict(keys=fields.String(), values=_Codes, load_default=dict)
    paygov = fields.Dict(keys=fields.String(), values=_Codes, load_default=dict)


class WorldSchema(Schema):
    """The world file, validated strictly: an unknown key is a typo, not a feature."""

    class Meta:
        unknown = RAISE

    format = fields.String(load_default=FORMAT, validate=validate.Equal(FORMAT))
    name = fields.String(load_default="custom")
    description = fields.String()
    seed = fields.Integer()
    units = fields.Dict(keys=fields.String(validate=validate.Length(min=1)), values=fields.String(),
                        load_default=lambda: {DEFAULT_UNIT: DEFAULT_UNIT_NAME})
    credentials = fields.Nested(_CredentialsSchema, load_default=dict)
    catalog = fields.Nested(_CatalogSchema, load_default=lambda: {"source": DEFAULT_SOURCE,
                                                                  "exclude": [], "only": None})
    procedures = fields.List(fields.Nested(_ProcedureSchema), load_default=list)
    integrations = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(validate=validate.Regexp(CODE_RE)),
                           values=fields.String(validate=validate.OneOf(LEVELS))),
        load_default=dict)
    broken_links = fields.Dict(keys=fields.String(validate=validate.Regexp(CODE_RE)),
                               values=fields.String(validate=validate.OneOf(BROKEN_MODES)),
                               load_default=dict)
    payments = fields.Nested(_PaymentsSchema, load_default=dict)
    # Additive (v2): per procedure, how a single-page-app portal shows it broken; by default a
    # broken deep link's counterpart (404 → missing, 410 → inactive, wrong_page → no_online).
    spa_details = fields.Dict(keys=fields.String(validate=validate.Regexp(CODE_RE)),
                              values=fields.String(validate=validate.OneOf(SPA_MODES)),
                              load_default=dict)
    # Read by the probe tests, ignored by the portal.
    expected_discrepancies = fields.Raw()
    stats = fields.Raw()


def _resolve_source(source: str, base: Path | None) -> Path:
    path = Path(source)
    if path.is_absolute():
        return path
    if base is not None and (base / path).exists():
        return base / path
    return fixtures_dir() / path


def named_worlds() -> list[str]:
    """Names of the worlds shipped in `fixtures/worlds/`."""
    return sorted(p.stem for p in (fixtures_dir() / "worlds").glob("*.json"))


def _locate(world: str | Path) -> Path:
    path = Path(world)
    if path.exists():
        return path
    shipped = fixtures_dir() / "worlds" / f"{world}.json"
    if shipped.exists():
        return shipped
    raise WorldError(f"world not found: {world} (shipped worlds: {', '.join(named_worlds())})")


def load_world(world: str | Path | Mapping[str, Any] | None = None) -> World:
    """Load a world from a path, a shipped world's name, a dict, or None (the default world)."""
    base: Path | None = None
    if world is None:
        raw: Mapping[str, Any] = {"name": "default"}
    elif isinstance(world, Mapping):
        raw = world
    else:
        path = _locate(world)
        base = path.parent
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorldError(f"cannot read world {path}: {exc}") from exc
    return build_world(raw, base=base)


def _check_known(errors: dict[str, Any], where: str, codes: Iterable[str], known: Mapping) -> None:
    unknown = sorted(set(codes) - set(known))
    if unknown:
        errors[where] = [f"unknown procedure codes: {', '.join(unknown[:10])}"
                         + (f" (+{len(unknown) - 10} more)" if len(unknown) > 10 else "")]


def _unique_ids(universe: dict[str, Procedure]) -> None:
    """Give every procedure a distinct id: the crawled data reuses a few portal UUIDs, and a
    shared id would make the catalogue cursor ambiguous."""
    seen: set[str] = set()
    for code in sorted(universe):
        proc = universe[code]
        if proc.id in seen:
            proc = universe[code] = replace(proc, id=str(uuid.uuid5(_ID_NAMESPACE, code)))
        seen.add(proc.id)


def build_world(raw: Mapping[str, Any], base: Path | None = None) -> World:
    """Validate a world document and resolve it against its catalogue source."""
    try:
        data = WorldSchema().load(dict(raw))
    except ValidationError as exc:
        raise WorldError(f"invalid world: {json.dumps(exc.messages, ensure_ascii=False)}") from exc
    catalog = data["catalog"]
    universe: dict[str, Procedure] = {}
    if catalog.get("source"):
        src = _resolve_source(catalog["source"], base)
        if not src.exists():
            raise WorldError(f"catalogue source not found: {src}")
        universe.update((p.code, p) for p in _read_catalog(str(src)))
    for rec in data["procedures"]:
        proc = _procedure_from_record(rec)
        universe[proc.code] = proc
    _unique_ids(universe)
    errors: dict[str, Any] = {}
    _check_known(errors, "catalog.exclude", catalog["exclude"], universe)
    _check_known(errors, "catalog.only", catalog.get("only") or [], universe)
    listed_codes = set(catalog["only"]) if catalog.get("only") is not None else set(universe)
    listed_codes -= set(catalog["exclude"])
    integrations: dict[str, dict[str, str]] = {}
    for unit, entries in data["integrations"].items():
        _check_known(errors, f"integrations.{unit}", entries, universe)
        for code, level in entries.items():
            integrations.setdefault(code, {})[unit] = level
    _check_known(errors, "broken_links", data["broken_links"], universe)
    _check_known(errors, "spa_details", data["spa_details"], universe)
    payments: dict[str, dict[str, frozenset[str]]] = {}
    for kind in PAYMENT_KINDS:
        for partner, codes in data["payments"].get(kind, {}).items():
            _check_known(errors, f"payments.{kind}.{partner}", codes, universe)
            payments.setdefault(kind, {})[partner] = frozenset(codes)
    creds = _default_credentials()
    creds.update(data["credentials"])
    for kind in PAYMENT_KINDS:
        for partner in payments.get(kind, {}):
            if partner not in creds[kind]:
                errors[f"payments.{kind}.{partner}"] = ["partner has no credentials"]
    if errors:
        raise WorldError(f"invalid world: {json.dumps(errors, ensure_ascii=False)}")
    units = dict(data["units"])
    for entries in integrations.values():
        for unit in entries:
            units.setdefault(unit, unit)
    return World(
        name=data["name"], units=units,
        adapter_users=dict(creds["adapter"]),
        dvcqg_partners={k: PaymentPartner(**v) for k, v in creds["dvcqg_payment"].items()},
        paygov_partners={k: PayGovPartner(**v) for k, v in creds["paygov"].items()},
        lgsp_clients=dict(creds["lgsp"]),
        listed=sorted((universe[c] for c in listed_codes), key=lambda p: p.code),
        known=universe, integrations=integrations,
        broken_links=dict(data["broken_links"]), payments=payments,
        spa_details=dict(data["spa_details"]),
    )
