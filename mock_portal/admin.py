"""The admin API (`/_admin`, JSON): world, faults, state, journal, payments, callbacks."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from mock_portal.faults import FaultError, profile_names, rules_from
from mock_portal.settlement import OUTCOMES, settle
from mock_portal.state import portal
from mock_portal.world import PAYMENT_KINDS, WorldError, load_world, named_worlds

bp = Blueprint("admin", __name__, url_prefix="/_admin")


def _error(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _body() -> Any:
    return request.get_json(silent=True)


@bp.get("/health")
def health() -> Response:
    """Alive, with what is loaded."""
    state = portal()
    with state.lock:
        return jsonify({"status": "ok", "world": state.world.name, "seed": state.faults.seed,
                        "listed": len(state.world.listed), "faults": len(state.faults.list()),
                        "payments": len(state.payments), "dossiers": len(state.dossiers)})


@bp.get("/world")
def world_summary() -> Response:
    """Counts of the world in force and the shipped worlds' names."""
    return jsonify({**portal().world.summary(), "shipped": named_worlds()})


@bp.post("/world")
def world_load() -> Response | tuple[Response, int]:
    """Load a world (`{"name"}`, `{"path"}` or `{"world": {...}}`); state is reset."""
    body = _body()
    if not isinstance(body, dict):
        return _error('expected {"name": ...}, {"path": ...} or {"world": {...}}')
    source = body.get("world") or body.get("path") or body.get("name")
    try:
        world = load_world(source)
    except WorldError as exc:
        return _error(str(exc))
    portal().reset(world)
    return jsonify(world.summary())


@bp.get("/faults")
def faults_list() -> Response:
    """The rules in force with their counters, and the shipped profiles."""
    state = portal()
    return jsonify({"seed": state.faults.seed, "rules": state.faults.list(),
                    "profiles": profile_names()})


@bp.post("/faults")
def faults_set() -> Response | tuple[Response, int]:
    """Add rules: a rule, a list, `{"rules": [...]}` or `{"profile": NAME}`."""
    body = _body()
    if not isinstance(body, (dict, list)):
        return _error("expected a rule, a list of rules, {\"rules\": [...]} or {\"profile\": ...}")
    state = portal()
    options = body if isinstance(body, dict) else {}
    payload: Any = body
    if isinstance(body, dict):
        payload = {k: v for k, v in body.items() if k not in ("replace", "seed")}
    try:
        rules = rules_from(payload)
        if options.get("seed") is not None:
            state.faults.reseed(int(options["seed"]))
        if options.get("replace"):
            state.faults.clear()
        added = state.faults.add(rules)
    except (FaultError, ValueError, TypeError) as exc:
        return _error(str(exc))
    return jsonify({"added": added, "rules": state.faults.list()})


@bp.delete("/faults")
def faults_clear() -> Response:
    """Remove every rule."""
    return jsonify({"removed": portal().faults.clear()})


@bp.delete("/faults/<name>")
def fault_remove(name: str) -> Response | tuple[Response, int]:
    """Remove one rule by name."""
    removed = portal().faults.clear(name)
    return jsonify({"removed": removed}) if removed else _error(f"no rule {name!r}", 404)


@bp.post("/reset")
def reset() -> Response:
    """Forget sessions, tokens, dossiers, payments, callbacks, journal; restart fault streams.

    `{"faults": true}` also removes the rules; `{"seed": N}` reseeds them.
    """
    body = _body() if isinstance(_body(), dict) else {}
    state = portal()
    if body.get("faults"):
        state.faults.clear()
    if body.get("seed") is not None:
        state.faults.reseed(int(body["seed"]))
    state.reset()
    return jsonify({"status": "reset", "seed": state.faults.seed})


@bp.post("/expire")
def expire() -> Response:
    """Expire every adapter session and LGSP token now."""
    return jsonify({"expired": portal().expire_all()})


@bp.get("/journal")
def journal() -> Response | tuple[Response, int]:
    """Requests received (oldest first): filter with `upstream`, `path` (glob), `since`, `limit`."""
    args = request.args
    try:
        since, limit = int(args.get("since", 0)), int(args.get("limit", 0))
    except ValueError:
        return _error("since and limit must be integers")
    entries = portal().journal_entries(args.get("upstream"), args.get("path"), since, limit)
    return jsonify({"entries": entries, "count": len(entries)})


@bp.delete("/journal")
def journal_clear() -> Response:
    """Empty the journal."""
    state = portal()
    with state.lock:
        count = len(state.journal)
        state.journal.clear()
    return jsonify({"cleared": count})


@bp.get("/payments")
def payments() -> Response:
    """Every payment with its state."""
    state = portal()
    with state.lock:
        return jsonify({"payments": [p.to_dict() for p in state.payments.values()]})


@bp.post("/payments/<ref>/<action>")
def payment_settle(ref: str, action: str) -> Response | tuple[Response, int]:
    """Do what the citizen would: `pay` or `fail` (ref: MaThamChieu, orderId or token)."""
    if action not in OUTCOMES:
        return _error("action must be pay or fail", 404)
    state = portal()
    found = state.find_payments(ref)
    channel = request.args.get("channel")
    if channel:
        found = [p for p in found if p.channel == channel]
    if not found:
        return _error(f"no payment {ref!r}", 404)
    if len(found) > 1:
        return _error(f"{ref!r} names several payments; add ?channel=", 409)
    payment = found[0]
    if not settle(state, payment, action):
        return _error(f"payment {ref!r} is already {payment.state}", 409)
    with state.lock:
        return jsonify(payment.to_dict())


@bp.get("/callbacks")
def callbacks() -> Response | tuple[Response, int]:
    """Callbacks with their delivery attempts; `?wait=S` waits up to S seconds for none pending."""
    try:
        wait = float(request.args.get("wait", 0))
    except ValueError:
        return _error("wait must be a number")
    return jsonify({"callbacks": portal().callbacks.list(wait=wait)})


@bp.get("/callback-urls")
def callback_urls() -> Response:
    """Where each partner's callbacks go now."""
    state = portal()
    world = state.world
    return jsonify({
        "dvcqg_payment": {p: state.callback_url("dvcqg_payment", p) for p in world.dvcqg_partners},
        "paygov": {p: state.callback_url("paygov", p) for p in world.paygov_partners},
    })


@bp.put("/callback-urls")
def callback_urls_set() -> Response | tuple[Response, int]:
    """Override callback URLs: `{"dvcqg_payment": {"HNI": URL}, "paygov": {"HNI": URL}}`."""
    body = _body()
    if not isinstance(body, dict) or set(body) - set(PAYMENT_KINDS):
        return _error(f"expected an object with keys among {', '.join(PAYMENT_KINDS)}")
    state = portal()
    with state.lock:
        for kind, partners in body.items():
            if not isinstance(partners, dict) or not all(
                    isinstance(u, str) or u is None for u in partners.values()):
                return _error(f"{kind}: expected {{partner: url}}")
            for partner, url in partners.items():
                state.callback_urls[(kind, partner)] = url
    return callback_urls()


@bp.get("/dossiers")
def dossiers() -> Response:
    """Dossiers kept from `DongBoHoSoMC`, with the unit that sent them."""
    state = portal()
    with state.lock:
        return jsonify({"dossiers": [dict(v, MaHoSo=k) for k, v in state.dossiers.items()]})


@bp.get("/dossiers/log")
def dossier_log() -> Response:
    """Every accepted `DongBoHoSoMC` dossier in arrival order (`since`: skip that many)."""
    state = portal()
    since = request.args.get("since", "0")
    start = int(since) if since.isdigit() else 0
    with state.lock:
        return jsonify({"total": len(state.dossier_log), "log": state.dossier_log[start:],
                        "ratings": len(state.ratings)})
