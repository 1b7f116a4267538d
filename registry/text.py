"""Vietnamese text helpers: NFC normalisation and diacritic folding for search."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# đ/Đ are letters of their own, not a base letter plus a combining mark, so NFD
# does not split them; they must be folded by hand.
_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "d"})
# After NFD every Vietnamese tone and vowel mark is a combining character of this block;
# one regex pass in C is ~10x faster than testing unicodedata.combining() per character.
_MARKS = re.compile("[\u0300-\u036f]")


def clean(value: str) -> str:
    """NFC-normalise, trim and collapse inner runs of whitespace to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def clean_multiline(value: str) -> list[str]:
    """Split a cell that holds several items (one per line or ';'), cleaning each."""
    parts = re.split(r"[\n;]+", unicodedata.normalize("NFC", value))
    return [c for c in (clean(p) for p in parts) if c]


def fold(value: str) -> str:
    """Lower-case, strip diacritics and fold đ to d: 'Đăng ký' -> 'dang ky'."""
    decomposed = unicodedata.normalize("NFD", value.translate(_FOLD_EXTRA))
    return _SPACES.sub(" ", _MARKS.sub("", decomposed)).strip().lower()


def search_tokens(query: str) -> list[str]:
    """Fold a free-text query into the word tokens the search index holds."""
    return re.findall(r"[0-9a-z]+", fold(query))
