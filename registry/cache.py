"""A per-process cache of documents computed from the database, keyed on its change counter.

Pure bookkeeping: no Flask, no SQL. The caller supplies the data state (`Store.data_state()`,
bumped by triggers in every writing transaction) and a fingerprint of everything else the
document depends on (its parameters, the settings, the method); an entry also carries the
moment it stops being true with no write at all (a verdict going stale, a new target coming
into force at midnight). Entries never outlive their state, so no invalidation is needed.

ETags are self-describing: `W/"<state>.<fingerprint>.<expiry>"`. Any process (any gunicorn
worker, any restart) can tell whether a tag is current from the state (one tiny query), the
request and the clock: a 304 costs no computation and no cache.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

NEVER = math.inf


@dataclass(frozen=True, slots=True)
class Cached:
    """A computed document: its value, its ETag and when it stops being true (epoch seconds)."""

    value: Any
    etag: str
    expires: float


def fingerprint(*parts: Any) -> str:
    """A short stable digest of JSON-able parts (parameters, settings, method)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_etag(state: str, print_: str, expires: float) -> str:
    """The weak ETag of a document computed at `state` for `print_`, true until `expires`."""
    until = "inf" if expires == NEVER else str(int(expires))
    return f'W/"{state}.{print_}.{until}"'


def etag_is_current(tag: str, state: str, print_: str, now: float) -> bool:
    """True when `tag` (as sent in If-None-Match, quotes and W/ optional) names this state
    and fingerprint and its expiry has not passed."""
    value = tag.strip()
    if value.startswith("W/"):
        value = value[2:]
    parts = value.strip('"').rsplit(".", 2)
    if len(parts) != 3 or parts[0] != state or parts[1] != print_:
        return False
    if parts[2] == "inf":
        return True
    try:
        return now < int(parts[2])
    except ValueError:
        return False


def any_current(tags: Iterable[str], state: str, print_: str, now: float) -> str | None:
    """The first of `tags` that is current, else None."""
    for tag in tags:
        if etag_is_current(tag, state, print_, now):
            return tag
    return None


class StateCache:
    """An LRU of `Cached` entries; one computation per key at a time (others wait for it)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, now: float) -> Cached | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry.expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: Cached) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: Hashable, now: float, compute: Callable[[], Cached]) -> Cached:
        """The entry of `key`, computing it (once, however many threads ask) on a miss."""
        entry = self.get(key, now)
        if entry is not None:
            self.hits += 1
            return entry
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            entry = self.get(key, now)  # another thread may have computed it meanwhile
            if entry is not None:
                self.hits += 1
                return entry
            self.misses += 1
            entry = compute()
            self.put(key, entry)
        with self._lock:
            self._computing.pop(key, None)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_caches: OrderedDict[str, StateCache] = OrderedDict()
_caches_lock = threading.Lock()


def cache_for(database: str, maxsize: int = 256) -> StateCache:
    """The process's cache of one database file (a few files at most are served at once)."""
    with _caches_lock:
        cache = _caches.get(database)
        if cache is None:
            cache = _caches[database] = StateCache(maxsize)
            while len(_caches) > 16:
                _caches.popitem(last=False)
        _caches.move_to_end(database)
        return cache
