"""JSON from outside, read so that no document can crash the reader.

`json.loads` raises RecursionError on a document nested a few thousand levels deep and
ValueError on an integer of more than 4,300 digits (Python's int/str conversion limit);
neither is a JSONDecodeError, so callers that only expected bad syntax answered 500. Here
deep nesting is a `JsonTooDeep` error, and an over-long integer becomes a `TooLongNumber`
value that no schema field accepts, so the error names the field that held it.
"""
from __future__ import annotations

import json
from typing import Any

MAX_INT_DIGITS = 30  # far beyond any count, level or amount the registry takes


class JsonTooDeep(ValueError):
    """The document nests arrays/objects deeper than the parser can follow."""


class TooLongNumber:
    """An integer literal too long to be a number the registry takes (kept as its length)."""

    __slots__ = ("digits",)

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def _int(literal: str) -> Any:
    return int(literal) if len(literal) <= MAX_INT_DIGITS else TooLongNumber(literal)


def loads(text: str | bytes) -> Any:
    """`json.loads` that raises JSONDecodeError for bad syntax and JsonTooDeep for nesting,
    and never fails on the size of an integer."""
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise JsonTooDeep("the JSON document is nested too deeply") from None
