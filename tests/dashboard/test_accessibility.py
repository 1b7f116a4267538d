"""Accessibility of the pages themselves: labels, language, headings, and the palette's contrast."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .helpers import ADMIN, EDITOR, login

CSS = Path(__file__).resolve().parents[2] / "registry" / "dashboard" / "static" / "dashboard.css"

ANONYMOUS_PAGES = ["/", "/breakdowns", "/breakdowns/level", "/procedures", "/procedures/1.001193",
                   "/probes", "/discrepancies", "/login"]
EDITOR_PAGES = ["/procedures/new", "/imports", "/procedures/1.001193"]


class PageAudit(HTMLParser):
    """Collects form controls, labels, headings and tables of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.h1 = 0
        self.lang = None
        self.th_without_scope = 0
        self.svgs: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if a.get("type") not in ("hidden", "submit", "button"):
                self.controls.append({**a, "_tag": tag, "_wrapped": self.label_depth > 0})
        elif tag == "h1":
            self.h1 += 1
        elif tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        elif tag == "svg":
            self.svgs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1

    def unlabelled(self) -> list[dict]:
        return [c for c in self.controls if not (c["_wrapped"] or c.get("id") in self.label_for
                                                 or c.get("aria-label") or c.get("aria-labelledby"))]


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def check(html: str, url: str) -> None:
    page = audit(html)
    assert page.lang == "vi", url
    assert page.h1 == 1, f"{url}: {page.h1} h1"
    assert page.unlabelled() == [], f"{url}: controls without a label"
    assert page.th_without_scope == 0, f"{url}: table headers without scope"
    for svg in page.svgs:
        assert svg.get("role") == "img" and svg.get("aria-labelledby"), url


@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_public_pages_pass_the_static_checks(dash_client, url):
    check(dash_client.get(url).get_data(as_text=True), url)


@pytest.mark.parametrize("url", EDITOR_PAGES)
@pytest.mark.parametrize("account", [EDITOR, ADMIN], ids=["editor", "admin"])
def test_staff_pages_pass_the_static_checks(dash_client, account, url):
    login(dash_client, account)
    check(dash_client.get(url).get_data(as_text=True), url)


def test_the_checker_catches_an_unlabelled_control():
    bad = '<html lang="vi"><h1>x</h1><input type="text" name="q"><label for="a">A</label><input id="a"></html>'
    assert [c["name"] for c in audit(bad).unlabelled()] == ["q"]


# -- contrast (WCAG 2.x relative luminance), computed here from the stylesheet's variables ----

def palette() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS.read_text("utf-8"), re.S).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_on_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


TEXT_PAIRS = [("text", "bg"), ("text", "surface"), ("muted", "bg"), ("muted", "surface"),
              ("link", "bg"), ("link", "surface"), ("primary-text", "primary"), ("primary", "bg"),
              ("header-text", "header-bg"), ("badge-text", "ok-bg"), ("badge-text", "bad-bg"),
              ("badge-text", "unknown-bg"), ("error", "bg"), ("notice-text", "notice-bg"),
              ("ok-bg", "bg")]
# Non-text graphics (bars, markers, borders of inputs, focus ring): 3:1 (WCAG 1.4.11). The
# target marker crosses the bars on a halo of the background colour, so bars vs bg covers it.
GRAPHIC_PAIRS = [("declared", "bg"), ("verified", "bg"), ("target", "bg"), ("declared", "surface"),
                 ("verified", "surface"), ("target", "surface"), ("border", "bg"), ("focus", "bg")]


def test_target_markers_have_a_halo_where_they_cross_bars(dash_client):
    css = CSS.read_text("utf-8")
    assert re.search(r"\.meter \.target \{[^}]*box-shadow: 0 0 0 2px var\(--bg\)", css)
    assert re.search(r"\.target-halo \{[^}]*stroke: var\(--bg\)", css)
    assert dash_client.get("/").get_data(as_text=True).count('class="target-halo"') >= 3


@pytest.mark.parametrize("fg,bg", TEXT_PAIRS)
def test_text_colours_reach_4_5_to_1(fg, bg):
    colours = palette()
    assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg)


@pytest.mark.parametrize("fg,bg", GRAPHIC_PAIRS)
def test_graphic_colours_reach_3_to_1(fg, bg):
    colours = palette()
    assert contrast(colours[fg], colours[bg]) >= 3.0, (fg, bg)
