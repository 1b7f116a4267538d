"""Contract section 1: the DVCQG public catalogue (`/dvcqg`), JSON API and citizen pages."""
from __future__ import annotations

import bisect
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from mock_portal.state import portal
from mock_portal.world import Procedure, World, short_code

bp = Blueprint("dvcqg", __name__, url_prefix="/dvcqg")

_METHODS = {"online": "ONLINE", "postal": "POSTAL", "in_person": "DIRECT"}


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form for search (đ/Đ fold to d)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


class _SearchIndex:
    """Codes (sorted) and folded search texts of the listed procedures, cached on the world.

    The texts are also kept joined by NUL, so that a `q` search jumps from match to match with
    `str.find` instead of testing 2,000+ texts one by one in Python on every page.
    """

    SEP = "\x00"

    def __init__(self, world: World) -> None:
        self.codes = [p.code for p in world.listed]
        self.texts = [fold(f"{p.code} {p.name}") for p in world.listed]
        self.joined = self.SEP.join(self.texts)
        self.offsets: list[int] = []
        at = 0
        for text in self.texts:
            self.offsets.append(at)
            at += len(text) + 1

    def matching(self, q: str, start: int) -> Iterator[int]:
        """Indices from `start` on whose text contains `q` (every index when q is empty)."""
        if not q:
            yield from range(start, len(self.texts))
            return
        if self.SEP in q:  # cannot use the joined text; never true for real queries
            yield from (i for i in range(start, len(self.texts)) if q in self.texts[i])
            return
        if start >= len(self.texts):
            return
        pos = self.joined.find(q, self.offsets[start])
        while pos != -1:
            i = bisect.bisect_right(self.offsets, pos) - 1
            yield i
            if i + 1 >= len(self.texts):
                return
            pos = self.joined.find(q, self.offsets[i + 1])


_INDEX_LOCK = threading.Lock()


def _index(world: World) -> _SearchIndex:
    """The search index of a world, built on first use."""
    cached = world.__dict__.get("_search_index")
    if cached is None:
        # Once: 32 first requests arriving together must not each fold the whole catalogue
        # (they did, and the first page of a sweep took a second).
        with _INDEX_LOCK:
            cached = world.__dict__.get("_search_index")
            if cached is None:
                cached = _SearchIndex(world)
                world.__dict__["_search_index"] = cached
    return cached


def envelope(data: Any, code: str = "OK", message: str = "Thành công") -> Response:
    """The catalogue's answer envelope."""
    return jsonify({"code": code, "message": message, "data": data})


def _item(p: Procedure) -> dict[str, Any]:
    return {
        "id": p.id, "code": p.code, "name": p.name, "type": "STANDARD",
        "categories": [{"code": short_code("LV", p.field), "name": p.field}] if p.field else [],
        "departments": [{"code": short_code("CQ", a), "name": a} for a in p.agencies],
    }


def _filters_match(proc: Procedure, category: str, department: str) -> bool:
    if not (category or department):
        return True
    item = _item(proc)
    return ((not category or any(c["code"] == category for c in item["categories"]))
            and (not department or any(d["code"] == department for d in item["departments"])))


def _limit(value: Any, maximum: int) -> int | None:
    if value in (None, ""):
        return 200
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum:
        return value
    return None


@bp.post("/api/v1/submitting/formality/list-all-public-formality-by-citizen")
def list_formalities() -> Response:
    """Catalogue page: filter by `q` (code or name), category, department; cursor `lastId`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return envelope(None, "BAD_REQUEST", "Body must be a JSON object")
    state = portal()
    limit = _limit(body.get("limit"), int(state.config["CATALOG_MAX_LIMIT"]))
    strings = {k: body.get(k) or "" for k in ("lastId", "q", "categoryId", "departmentCode")}
    if limit is None or not all(isinstance(v, str) for v in strings.values()):
        return envelope(None, "BAD_REQUEST",
                        "Invalid limit, lastId, q, categoryId or departmentCode")
    world = state.world
    index = _index(world)
    start = 0
    if strings["lastId"]:
        after = world.listed_by_id.get(strings["lastId"])
        if after is None:
            return envelope(None, "BAD_REQUEST", "Invalid lastId")
        # Resume after the cursor's code, so the cursor stays valid whatever the filter.
        start = bisect.bisect_right(index.codes, after.code)
    q = fold(strings["q"].strip())
    items: list[Procedure] = []
    more = False
    for i in index.matching(q, start):
        proc = world.listed[i]
        if not _filters_match(proc, strings["categoryId"], strings["departmentCode"]):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(proc)
    return envelope({"items": [_item(p) for p in items],
                     "lastId": items[-1].id if items and more else ""})


#: Detail states of a procedure whose SPA deep link is broken (contract v2 section 1).
_SPA_STATES = {"inactive": "INACTIVE", "abolished": "ABOLISHED"}


def _detail(p: Procedure, world: World) -> dict[str, Any]:
    fees = [{"type": "LE_PHI", "value": str(f)} for f in p.fees]
    mode = world.spa_mode(p.code)
    channels = list(p.channels)
    if p.code in world.integrations and "online" not in channels:
        channels.insert(0, "online")  # an online service on the portal is submitted online
    if mode == "no_online":
        channels = [c for c in channels if c != "online"]
    return {
        "id": p.id, "code": p.code, "name": p.name,
        # Full process (toàn trình) when some unit offers it at level 4 on the portal.
        "isFullProcess": "4" in world.integrations.get(p.code, {}).values(),
        "isProvince": "tinh" in p.levels, "isWard": "xa" in p.levels,
        "isMinistry": "bo" in p.levels, "isOtherAgency": "khac" in p.levels,
        "executionMethods": [
            {"submissionMethod": _METHODS[c], "processingTime": p.processing_time,
             "processingTimeUnit": p.processing_unit, "fees": fees}
            for c in channels if c in _METHODS],
        "categoriesDetails": [{"code": short_code("LV", p.field), "name": p.field}]
        if p.field else [],
        "state": _SPA_STATES.get(mode or "", "ACTIVE"),
    }


@bp.post("/api/v1/configuring/formality/get-formality-by-citizen")
def formality_detail() -> Response:
    """Detail of one procedure by its catalogue `id` (NOT_FOUND when the world says missing)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        return envelope(None, "BAD_REQUEST", "Body must be {\"id\": ...}")
    world = portal().world
    proc = world.listed_by_id.get(body["id"])
    if proc is None or world.spa_mode(proc.code) == "missing":
        return envelope(None, "NOT_FOUND", "Không tìm thấy thủ tục")
    return envelope(_detail(proc, world))


def _spa() -> bool:
    return portal().config.get("STYLE", "spa") == "spa"


def _app_shell() -> tuple[str, int, dict[str, str]]:
    """The single-page app's shell: the same HTML for every page path; it names nothing."""
    return (render_template("spa.html"), 200, {"Content-Type": "text/html; charset=utf-8"})


@bp.get("/assets/app.js")
def app_script() -> Response:
    """The app's script: finds the procedure through the catalogue API and renders it."""
    return current_app.send_static_file("app.js")


@bp.get("/")
@bp.get("/dich-vu-cong-truc-tuyen")
def home() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The portal's home page (the app shell in SPA style)."""
    if _spa():
        return _app_shell()
    return render_template("home.html"), 200


@bp.get("/dich-vu-cong-truc-tuyen/<code>")
def procedure_page(code: str) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """HTML page of a procedure; 404 when the catalogue does not list it (legacy style)."""
    if _spa():
        return _app_shell()
    proc = portal().world.listed_by_code.get(code)
    if proc is None:
        return render_template("not_found.html"), 404
    return render_template("procedure.html", proc=proc), 200


@bp.get("/dich-vu-cong-truc-tuyen/<code>/nop-ho-so")
def submission_page(code: str) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The deep link a citizen follows: a submission form naming the code, unless broken."""
    if _spa():
        return _app_shell()
    world = portal().world
    proc = world.listed_by_code.get(code)
    if proc is None:
        return render_template("not_found.html"), 404
    mode = world.broken_links.get(code)
    if mode in ("404", "410"):
        return render_template("not_found.html"), int(mode)
    if mode == "wrong_page":
        # A 200 page that does not name the code: the link lands on the portal's home page.
        return render_template("home.html"), 200
    return render_template("submit.html", proc=proc), 200
