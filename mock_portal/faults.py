"""Seeded, reproducible fault injection: rules, profiles, and the decision for one request.

Each rule owns a `random.Random` seeded from the portal seed and the rule's name, so the same
seed and the same sequence of requests give the same faults, whatever other rules exist.
"""
from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

UPSTREAMS = ("dvcqg", "adapter", "payment", "lgsp", "paygov")
# Faults that only slow a request down and then let it be answered normally.
DELAY_KINDS = ("latency", "timeout")
# Faults that replace the answer.
TERMINAL_KINDS = ("error", "http_error", "rate_limit", "reset", "malformed", "maintenance",
                  "session_expiry")
KINDS = DELAY_KINDS + TERMINAL_KINDS
DISTRIBUTIONS = ("fixed", "uniform", "long_tail")


class FaultError(ValueError):
    """A fault rule or profile that cannot be used; the message says why."""


class RuleSchema(Schema):
    """One fault rule (see docs/mock_portal.md, "Faults")."""

    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    upstream = fields.String(load_default="*", validate=validate.OneOf(UPSTREAMS + ("*",)))
    path = fields.String(load_default="*")
    methods = fields.List(fields.String(), load_default=list)
    service = fields.String(allow_none=True, load_default=None)
    codes = fields.List(fields.String(), load_default=list)
    rate = fields.Float(load_default=1.0, validate=validate.Range(min=0.0, max=1.0))
    times = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    status = fields.Integer(load_default=503, validate=validate.Range(min=400, max=599))
    retry_after = fields.Integer(load_default=1, validate=validate.Range(min=0))
    delay = fields.Float(load_default=30.0, validate=validate.Range(min=0.0, max=3600.0))
    distribution = fields.String(load_default="fixed", validate=validate.OneOf(DISTRIBUTIONS))
    ms = fields.Float(load_default=100.0, validate=validate.Range(min=0.0))
    min_ms = fields.Float(load_default=0.0, validate=validate.Range(min=0.0))
    max_ms = fields.Float(load_default=10_000.0, validate=validate.Range(min=0.0))
    alpha = fields.Float(load_default=1.5, validate=validate.Range(min=0.1))
    message = fields.String(load_default="")
    # Fire only on the first attempt of a request: a retry of the same request (same method,
    # path and body, fresh references and sessions aside) passes.
    first_attempt = fields.Boolean(load_default=False)

    @validates_schema
    def _bounds(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("min_ms", 0.0) > data.get("max_ms", 10_000.0):
            raise ValidationError("min_ms must not exceed max_ms", "min_ms")


@dataclass
class Rule:
    """A live rule: its settings, its own random stream and how often it matched and fired."""

    spec: dict[str, Any]
    rng: random.Random
    matched: int = 0
    fired: int = 0
    seen: set[str] = field(default_factory=set)  # request signatures (first_attempt rules)

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    def matches(self, info: "RequestInfo") -> bool:
        """Whether this rule applies (upstream, path glob, method, service, codes)."""
        s = self.spec
        if s["upstream"] != "*" and s["upstream"] != info.upstream:
            return False
        if not fnmatchcase(info.path, s["path"]):
            return False
        if s["methods"] and info.method.upper() not in {m.upper() for m in s["methods"]}:
            return False
        if s["service"] and s["service"] != info.service:
            return False
        if s["codes"] and not set(s["codes"]) & info.codes:
            return False
        return True

    def draw_delay(self) -> float:
        """Seconds to wait, drawn from this rule's distribution."""
        s = self.spec
        if s["kind"] == "timeout":
            return s["delay"]
        if s["distribution"] == "uniform":
            ms = self.rng.uniform(s["min_ms"], s["max_ms"])
        elif s["distribution"] == "long_tail":
            # Pareto: most answers near `ms`, a few many times slower, capped at max_ms.
            ms = min(s["ms"] * self.rng.paretovariate(s["alpha"]), s["max_ms"])
        else:
            ms = s["ms"]
        return ms / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """The rule as the admin API lists it."""
        return {**self.spec, "matched": self.matched, "fired": self.fired}


@dataclass(frozen=True)
class RequestInfo:
    """What a rule can match on."""

    method: str
    path: str
    upstream: str | None
    service: str | None = None
    codes: frozenset[str] = frozenset()
    signature: str = ""  # the request without its volatile parts (first_attempt rules)


@dataclass
class Decision:
    """The outcome for one request: total delay, the terminal fault (if any), names that fired."""

    delay: float = 0.0
    action: Rule | None = None
    fired: list[str] = field(default_factory=list)


def profiles_dir() -> Path:
    """Where the named fault profiles live."""
    return Path(str(files("mock_portal"))) / "profiles"


def profile_names() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in profiles_dir().glob("*.json"))


def load_profile(profile: str | Path) -> list[dict[str, Any]]:
    """Rules of a named profile (`flaky`) or of a JSON file holding `{"rules": [...]}`."""
    path = Path(profile)
    if not path.exists():
        path = profiles_dir() / f"{profile}.json"
    if not path.exists():
        raise FaultError(f"unknown fault profile {profile!r} (known: {', '.join(profile_names())})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FaultError(f"cannot read fault profile {path}: {exc}") from exc
    rules = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(rules, list):
        raise FaultError(f"fault profile {path} has no list of rules")
    return rules


def rules_from(faults: str | Path | Mapping[str, Any] | Iterable[Mapping[str, Any]] | None
               ) -> list[dict[str, Any]]:
    """Normalise what create_app/serve accept as `faults` to a list of raw rules."""
    if faults is None:
        return []
    if isinstance(faults, (str, Path)):
        return load_profile(faults)
    if isinstance(faults, Mapping):
        if "profile" in faults:
            return load_profile(faults["profile"]) + list(faults.get("rules", []))
        if "rules" in faults:
            return list(faults["rules"])
        return [dict(faults)]
    return [dict(r) for r in faults]


class FaultSet:
    """The rules in force, evaluated in order; thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rules: list[Rule] = []
        self._serial = 0
        self._lock = threading.Lock()

    def _rng(self, name: str) -> random.Random:
        # A string seed is hashed with SHA-512 by `random`, so it is stable across runs.
        return random.Random(f"{self.seed}:{name}")

    def add(self, raw_rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Validate and append rules (a rule with an existing name replaces it); all or nothing."""
        specs = []
        for i, raw in enumerate(raw_rules):
            try:
                specs.append(RuleSchema().load(dict(raw)))
            except ValidationError as exc:
                raise FaultError(f"invalid fault rule #{i}: {json.dumps(exc.messages)}") from exc
        with self._lock:
            added = []
            for spec in specs:
                if not spec.get("name"):
                    self._serial += 1
                    spec["name"] = f"{spec['kind']}-{self._serial}"
                rule = Rule(spec=spec, rng=self._rng(spec["name"]))
                self._rules = [r for r in self._rules if r.name != rule.name] + [rule]
                added.append(rule.to_dict())
            return added

    def clear(self, name: str | None = None) -> int:
        """Remove one rule by name, or all; returns how many were removed."""
        with self._lock:
            before = len(self._rules)
            if name is None:
                self._rules, self._serial = [], 0
            else:
                self._rules = [r for r in self._rules if r.name != name]
            return before - len(self._rules)

    def reseed(self, seed: int | None = None) -> None:
        """Restart every rule's random stream (and counters) from `seed` (default: the same)."""
        with self._lock:
            if seed is not None:
                self.seed = seed
            for rule in self._rules:
                rule.rng, rule.matched, rule.fired = self._rng(rule.name), 0, 0
                rule.seen.clear()

    def list(self) -> list[dict[str, Any]]:
        """Every rule with its counters."""
        with self._lock:
            return [r.to_dict() for r in self._rules]

    @property
    def wants_signature(self) -> bool:
        """Whether some rule needs request signatures (computing them costs a JSON dump)."""
        return any(r.spec["first_attempt"] for r in self._rules)

    def decide(self, info: RequestInfo) -> Decision:
        """Draw the faults for one request; every matching rule draws, so sequences replay."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(info):
                    continue
                if rule.spec["times"] is not None and rule.fired >= rule.spec["times"]:
                    continue
                if rule.spec["first_attempt"]:
                    if info.signature in rule.seen:
                        continue  # a retry: let it through
                    rule.seen.add(info.signature)
                rule.matched += 1
                if rule.rng.random() >= rule.spec["rate"]:
                    continue
                if rule.kind in DELAY_KINDS:
                    decision.delay += rule.draw_delay()
                elif decision.action is None:
                    decision.action = rule
                else:
                    continue  # one answer per request: the first terminal rule wins
                rule.fired += 1
                decision.fired.append(rule.name)
        return decision
