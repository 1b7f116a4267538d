"""Client of the DVCQG public catalogue (contract section 1): list, search, detail, deep link."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote

import httpx

from connectors.config import PortalConfig
from connectors.evidence import CallRecord, Outcome, Status
from connectors.transport import Exchange, Judgement, Transport, parse_retry_after

LIST_PATH = "/api/v1/submitting/formality/list-all-public-formality-by-citizen"
DETAIL_PATH = "/api/v1/configuring/formality/get-formality-by-citizen"
PAGE_PATH = "/dich-vu-cong-truc-tuyen/{code}"
DEEP_LINK_PATH = "/dich-vu-cong-truc-tuyen/{code}/nop-ho-so"

# Statuses that say "this link is gone" rather than "the portal is struggling".
_BROKEN_STATUSES = {404: "not_found", 410: "gone"}
_GONE_OUTCOMES = frozenset(_BROKEN_STATUSES.values())


@dataclass(frozen=True, slots=True)
class CatalogPage:
    """One page of the catalogue list and the cursor of the next ("" at the end)."""

    items: list[dict[str, Any]]
    last_id: str


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """Result of following a deep link: works, broken (on every attempt) or unknown."""

    state: Literal["works", "broken", "unknown"]
    url: str
    calls: tuple[CallRecord, ...]
    reason: str
    style: str = "legacy"  # legacy (server-rendered) | spa (app shell + catalogue API)
    cause: str | None = None  # for unknown: unavailable | unexpected


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page (attributes, scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_APP_ROOT = re.compile(r"<div\b[^>]*\bid\s*=\s*[\"']?(?:root|app)\b", re.IGNORECASE)
#: Catalogue detail states in which a single-page app offers the procedure (contract v2 §1).
LIVE_STATES = frozenset({"ACTIVE", "UPDATED"})


def is_app_shell(html: str) -> bool:
    """True for a single-page app's shell: an HTML page with the app root element."""
    return _APP_ROOT.search(html) is not None


def spa_offer(detail: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether a catalogue detail offers online submission: (True|False, why), or
    (None, why) when a field the decision needs is missing."""
    missing = [name for name in ("state", "executionMethods") if detail.get(name) is None]
    if missing:
        return None, "catalogue detail without required field " + ", ".join(missing)
    state = str(detail["state"]).upper()
    if state not in LIVE_STATES:
        return False, f"catalogue detail state is {detail['state']}"
    methods = detail["executionMethods"]
    if not isinstance(methods, list):
        return None, "catalogue detail executionMethods is not a list"
    if not any(
        isinstance(m, dict) and str(m.get("submissionMethod", "")).upper() == "ONLINE"
        for m in methods
    ):
        return False, "catalogue detail offers no ONLINE submission method"
    return True, f"catalogue detail state {state} with an ONLINE submission method"


def _names(text: str, code: str) -> bool:
    """True when `code` occurs in `text` as a whole code: "1.000771" not inside "11.000771" or
    "1.000771.H26"; a full stop ending a sentence is fine. (No regex: one per code thrashed
    the regex cache, compiling again on most calls of a sweep.)"""
    at = text.find(code)
    while at != -1:
        before = text[at - 1] if at else ""
        end = at + len(code)
        after = text[end:end + 2]
        if not (before.isalnum() or before == ".") and not (
            after[:1].isalnum() or (after[:1] == "." and after[1:2].isalnum())
        ):
            return True
        at = text.find(code, at + 1)
    return False


def page_names_code(html: str, code: str) -> bool:
    """True when the visible text of `html` names `code` as a whole code (not a prefix of one)."""
    if code not in html:
        return False  # cannot name it: no need to parse (an SPA shell, a maintenance page)
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return _names(" ".join(parser.parts), code)


def _envelope(exchange: Exchange) -> Outcome[Any]:
    """Read the {code, message, data} envelope of an accepted catalogue answer."""
    calls = tuple(exchange.calls)
    if not exchange.accepted:
        return Outcome(
            Status.UNAVAILABLE, message=exchange.last.message or exchange.last.outcome, calls=calls
        )
    payload = exchange.payload
    record = exchange.last
    if not isinstance(payload, dict) or "code" not in payload:
        return Outcome(
            Status.UNEXPECTED, message=f"HTTP {record.status}: no catalogue envelope", calls=calls
        )
    code = str(payload.get("code"))
    record.error_code = code
    if code != "OK":
        record.message = payload.get("message")
        return Outcome(Status.REFUSED, error_code=code, message=payload.get("message"), calls=calls)
    return Outcome(Status.OK, value=payload.get("data"), calls=calls)


class CatalogClient:
    """The public catalogue (no credentials)."""

    def __init__(
        self, client: httpx.AsyncClient, config: PortalConfig, transport: Transport | None = None
    ) -> None:
        self.config = config
        self.transport = transport or Transport(client, config)

    def deep_link_url(self, code: str) -> str:
        """The citizen's submission link of a procedure."""
        return self.config.url("dvcqg", DEEP_LINK_PATH.format(code=quote(code, safe="")))

    async def list(
        self,
        *,
        q: str = "",
        last_id: str = "",
        limit: int | None = None,
        category_id: str = "",
        department_code: str = "",
    ) -> Outcome[CatalogPage]:
        """One page of the catalogue; `q` matches code or name."""
        body = {
            "limit": limit or self.config.catalog_page_size,
            "lastId": last_id,
            "q": q,
            "categoryId": category_id,
            "departmentCode": department_code,
        }
        exchange = await self.transport.send(
            "dvcqg", "catalog.list", "POST", self.config.url("dvcqg", LIST_PATH), body=body
        )
        outcome = _envelope(exchange)
        if not outcome.ok:
            return outcome
        data = outcome.value
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return Outcome(
                Status.UNEXPECTED, message="catalogue list without items", calls=outcome.calls
            )
        cursor = data.get("lastId") or ""
        return Outcome(Status.OK, value=CatalogPage(items, str(cursor)), calls=outcome.calls)

    async def search_code(self, code: str) -> Outcome[dict[str, Any] | None]:
        """The catalogue item whose code is exactly `code` (value None when not listed)."""
        calls: list[CallRecord] = []
        cursor, seen = "", set()
        for _ in range(self.config.catalog_max_pages):
            page = await self.list(q=code, last_id=cursor)
            calls.extend(page.calls)
            if not page.ok:
                return Outcome(
                    page.status,
                    error_code=page.error_code,
                    message=page.message,
                    calls=tuple(calls),
                )
            for item in page.value.items:
                if item.get("code") == code:
                    return Outcome(Status.OK, value=item, calls=tuple(calls))
            cursor = page.value.last_id
            if not cursor:
                return Outcome(Status.OK, value=None, calls=tuple(calls))
            if cursor in seen:
                return Outcome(
                    Status.UNEXPECTED,
                    message=f"catalogue cursor {cursor!r} repeats",
                    calls=tuple(calls),
                )
            seen.add(cursor)
        return Outcome(
            Status.UNEXPECTED,
            calls=tuple(calls),
            message=f"no answer within {self.config.catalog_max_pages} catalogue pages",
        )

    async def detail(self, formality_id: str) -> Outcome[dict[str, Any]]:
        """Detail of a catalogue item by its id (uuid)."""
        exchange = await self.transport.send(
            "dvcqg",
            "catalog.detail",
            "POST",
            self.config.url("dvcqg", DETAIL_PATH),
            body={"id": formality_id},
        )
        outcome = _envelope(exchange)
        if outcome.ok and not isinstance(outcome.value, dict):
            return Outcome(Status.UNEXPECTED, message="detail without data", calls=outcome.calls)
        return outcome

    async def procedure_page(self, code: str) -> Outcome[str]:
        """HTML page of a procedure (REFUSED with error_code '404' when unknown)."""
        url = self.config.url("dvcqg", PAGE_PATH.format(code=quote(code, safe="")))
        exchange = await self.transport.send(
            "dvcqg", "catalog.page", "GET", url, judge=_html_judge(code), follow_redirects=True
        )
        calls = tuple(exchange.calls)
        if exchange.accepted and exchange.last.outcome in _GONE_OUTCOMES:
            return Outcome(
                Status.REFUSED,
                error_code=str(exchange.last.status),
                message=exchange.last.outcome,
                calls=calls,
            )
        if exchange.accepted:
            return Outcome(Status.OK, value=exchange.response.text, calls=calls)
        if all(c.outcome == "code_absent" for c in calls):
            return Outcome(
                Status.UNEXPECTED, message="the page does not name the code", calls=calls
            )
        return Outcome(Status.UNAVAILABLE, message=exchange.last.outcome, calls=calls)

    async def check_deep_link(self, code: str, catalog_id: str | None = None) -> LinkCheck:
        """Follow the submission deep link and tell whether it works, in either portal style.

        Legacy (server-rendered): an HTML page naming the code works. Broken: a 404/410 answer
        (definitive, not retried), or no attempt finding the page while at least two attempts
        (one if only one is allowed) answered a page that does not name the code. Timeouts,
        resets, 5xx and 429 are neutral: a link that only fails that way is unknown.

        Single-page app: the page is the app shell (an app root, no procedure named); the link
        works when the catalogue detail of the procedure (`catalog_id`) has state ACTIVE or
        UPDATED and an ONLINE submission method; broken when the detail is missing, in another
        state or without ONLINE on two readings in a row.
        """
        url = self.deep_link_url(code)
        exchange = await self.transport.send(
            "dvcqg", "deep_link", "GET", url, judge=_html_judge(code), follow_redirects=True
        )
        calls = tuple(exchange.calls)
        outcomes = [c.outcome for c in calls]
        if exchange.accepted and exchange.last.outcome in _GONE_OUTCOMES:
            return LinkCheck("broken", url, calls, f"deep link answers {exchange.last.status}")
        if exchange.accepted and exchange.last.outcome == "app_shell":
            return await self._check_spa(code, catalog_id, url, list(calls))
        if exchange.accepted:
            return LinkCheck("works", url, calls, "the page names the code")
        absent = outcomes.count("code_absent")
        if absent >= min(2, self.config.attempts):
            return LinkCheck(
                "broken", url, calls, f"the page does not name the code ({absent} of {len(calls)})"
            )
        return LinkCheck(
            "unknown", url, calls, "deep link unreachable: " + ", ".join(outcomes), cause="unavailable"
        )

    async def _check_spa(
        self, code: str, catalog_id: str | None, url: str, calls: builtins.list[CallRecord]
    ) -> LinkCheck:
        """The app shell answered: what the app would show comes from the catalogue detail."""
        if not catalog_id:
            found = await self.search_code(code)
            calls.extend(found.calls)
            if not found.ok:
                return LinkCheck(
                    "unknown", url, tuple(calls), f"catalogue search failed: {found.message}",
                    "spa", _cause(found.status),
                )
            if found.value is None or not found.value.get("id"):
                return LinkCheck(
                    "broken", url, tuple(calls), "the app finds no procedure with this code", "spa"
                )
            catalog_id = str(found.value["id"])
        reasons: list[str] = []
        for _ in range(2):  # broken only when two readings in a row say so
            detail = await self.detail(catalog_id)
            calls.extend(detail.calls)
            if detail.status is Status.REFUSED:
                reasons.append(f"catalogue detail refused ({detail.error_code}: {detail.message})")
                continue
            if not detail.ok:
                return LinkCheck(
                    "unknown", url, tuple(calls), f"catalogue detail failed: {detail.message}",
                    "spa", _cause(detail.status),
                )
            offered, why = spa_offer(detail.value or {})
            if offered is None:
                return LinkCheck("unknown", url, tuple(calls), why, "spa", "unexpected")
            if offered:
                return LinkCheck("works", url, tuple(calls), "app shell; " + why, "spa")
            reasons.append(why)
        return LinkCheck("broken", url, tuple(calls), "app shell; " + reasons[-1], "spa")


def _cause(status: Status) -> str:
    return "unavailable" if status is Status.UNAVAILABLE else "unexpected"


def _html_judge(code: str) -> Callable[[httpx.Response], Judgement]:
    """Judge of a citizen-facing page: HTML naming the code, else why not."""

    def judge(response: httpx.Response) -> Judgement:
        status = response.status_code
        if status in _BROKEN_STATUSES:
            return Judgement(True, _BROKEN_STATUSES[status])  # definitive: not retried
        if status == 429 or status == 408 or status >= 500:
            outcome = "http_429" if status == 429 else "http_408" if status == 408 else "http_5xx"
            return Judgement(
                False, outcome, None, parse_retry_after(response.headers.get("retry-after"))
            )
        if not 200 <= status < 300:
            return Judgement(False, f"http_{status // 100}xx")
        content_type = response.headers.get("content-type", "").lower()
        if "html" not in content_type:
            return Judgement(False, "malformed")
        text = response.text
        if page_names_code(text, code):
            return Judgement(True, "ok")
        if is_app_shell(text):
            return Judgement(True, "app_shell")  # a single-page app: the catalogue API decides
        return Judgement(False, "code_absent")

    return judge


__all__ = ["CatalogClient", "CatalogPage", "LinkCheck", "is_app_shell", "page_names_code", "spa_offer"]
