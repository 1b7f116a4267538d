"""The portal's mutable state, in memory, behind one lock (the server is threaded)."""
from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable

from flask import current_app

from mock_portal.callbacks import CallbackDispatcher
from mock_portal.clock import iso_now, now_vn
from mock_portal.dossier_world import world_dossiers
from mock_portal.faults import FaultSet
from mock_portal.world import World

# QUERY's TrangThaiGD for each payment state.
TRANG_THAI_GD = {"pending": "3", "paid": "1", "failed": "4"}


@dataclass
class Payment:
    """One payment started by INIT (DVCQG) or create (PayGov)."""

    token: str
    channel: str  # "dvcqg_payment" | "paygov"
    partner: str
    reference: str  # MaThamChieu / orderId
    amount: str
    procedure_code: str
    transaction_no: str
    request: dict[str, Any]
    state: str = "pending"
    created_at: str = field(default_factory=iso_now)
    settled_at: str | None = None
    settled_stamp: str | None = None  # yyyyMMddHHmmss of payment, for the callback
    callback_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The payment as the admin API shows it."""
        return {**asdict(self), "TrangThaiGD": TRANG_THAI_GD[self.state]}


@dataclass
class Grant:
    """An adapter session or an LGSP token."""

    subject: str
    expires_at: float
    uses: int = 0


class PortalState:
    """Sessions, tokens, dossiers, payments, callbacks, the journal and the faults in force."""

    def __init__(self, world: World, seed: int, config: dict[str, Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.RLock()
        self.world = world
        self.seed = seed
        self.config = config
        self.clock = clock
        self.faults = FaultSet(seed)
        self.stopping = threading.Event()
        self.callbacks = CallbackDispatcher(
            max_attempts=int(config["CALLBACK_MAX_ATTEMPTS"]),
            backoff=float(config["CALLBACK_BACKOFF"]),
            backoff_max=float(config["CALLBACK_BACKOFF_MAX"]),
            timeout=float(config["CALLBACK_TIMEOUT"]))
        self.callback_urls: dict[tuple[str, str], str | None] = {}
        self._clear()

    def _clear(self) -> None:
        self.sessions: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}
        # The world's dossiers as DVCQG received them (when the world ships some), then every
        # DongBoHoSoMC accepted (in `dossier_log`, in order) and DongBoDanhGia ratings.
        self.dossiers: dict[str, dict[str, Any]] = world_dossiers(self.world)
        self.dossier_log: list[dict[str, Any]] = []
        self.ratings: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, Payment] = {}
        self.journal: deque[dict[str, Any]] = deque(maxlen=int(self.config["JOURNAL_MAX"]))
        self._journal_seq = 0
        self._transactions = 0

    def reset(self, world: World | None = None) -> None:
        """Forget sessions, tokens, dossiers, payments, callbacks, journal; restart faults."""
        self.callbacks.reset()
        with self.lock:
            if world is not None:
                self.world = world
            self._clear()
            self.faults.reseed()

    # --- adapter sessions and LGSP tokens -------------------------------------------------
    def _issue(self, store: dict[str, Grant], subject: str, ttl: float) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            store[token] = Grant(subject, self.clock() + ttl)
        return token

    def _valid(self, store: dict[str, Grant], token: Any) -> bool:
        with self.lock:
            grant = store.get(token) if isinstance(token, str) else None
            if grant is None:
                return False
            if self.clock() >= grant.expires_at:
                del store[token]
                return False
            return True

    def issue_session(self, username: str) -> str:
        """A new adapter session for `username`, valid SESSION_TTL seconds."""
        return self._issue(self.sessions, username, float(self.config["SESSION_TTL"]))

    def session_valid(self, token: Any) -> bool:
        """Whether an adapter session exists and has not expired; with SESSION_MAX_CALLS, a
        session serves that many calls and then answers as expired."""
        limit = self.config.get("SESSION_MAX_CALLS")
        with self.lock:
            if not self._valid(self.sessions, token):
                return False
            if limit:
                grant = self.sessions[token]
                grant.uses += 1
                if grant.uses > int(limit):
                    del self.sessions[token]
                    return False
            return True

    def issue_token(self, client_id: str) -> str:
        """A new LGSP access token for `client_id`, valid TOKEN_TTL seconds."""
        return self._issue(self.tokens, client_id, float(self.config["TOKEN_TTL"]))

    def token_valid(self, token: Any) -> bool:
        """Whether an LGSP token exists and has not expired."""
        return self._valid(self.tokens, token)

    def revoke(self, token: Any) -> None:
        """Drop a session or token (a session-expiry fault)."""
        with self.lock:
            self.sessions.pop(token, None)
            self.tokens.pop(token, None)

    def expire_all(self) -> int:
        """Expire every session and token now; returns how many there were."""
        with self.lock:
            count = len(self.sessions) + len(self.tokens)
            self.sessions.clear()
            self.tokens.clear()
            return count

    # --- payments --------------------------------------------------------------------------
    def next_transaction_no(self, prefix: str) -> str:
        """A unique, readable transaction number (MaGiaoDich / transactionNo)."""
        with self.lock:
            self._transactions += 1
            return f"{prefix}{now_vn():%Y%m%d}{self._transactions:06d}"

    def add_payment(self, payment: Payment) -> None:
        """Keep a new payment."""
        with self.lock:
            self.payments[payment.token] = payment

    def find_payments(self, ref: str) -> list[Payment]:
        """Payments whose token, reference or transaction number is `ref`."""
        with self.lock:
            return [p for p in self.payments.values()
                    if ref in (p.token, p.reference, p.transaction_no)]

    def payment_by_reference(self, channel: str, partner: str, reference: str) -> Payment | None:
        """The payment a partner started with this reference."""
        with self.lock:
            for p in self.payments.values():
                if (p.channel, p.partner, p.reference) == (channel, partner, reference):
                    return p
            return None

    def callback_url(self, channel: str, partner: str) -> str | None:
        """Where to send a partner's callbacks: admin override, then config, then the world."""
        with self.lock:
            if (channel, partner) in self.callback_urls:
                return self.callback_urls[(channel, partner)]
            if channel == "dvcqg_payment":
                conf = self.config.get("DVCQG_CALLBACK_URL")
                p = self.world.dvcqg_partners.get(partner)
                return conf or (p.callback_url if p else None)
            conf = self.config.get("PAYGOV_IPN_URL")
            g = self.world.paygov_partners.get(partner)
            return conf or (g.ipn_url if g else None)

    # --- journal ---------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        """Append one request to the journal."""
        with self.lock:
            self._journal_seq += 1
            self.journal.append({"seq": self._journal_seq, **entry})

    def journal_entries(self, upstream: str | None = None, path: str | None = None,
                        since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Journal entries, oldest first, filtered by upstream, path glob and sequence number."""
        with self.lock:
            out = [e for e in self.journal if e["seq"] > since
                   and (upstream is None or e["upstream"] == upstream)
                   and (path is None or fnmatchcase(e["path"], path))]
        return out[-limit:] if limit else out


def portal() -> PortalState:
    """The state of the app handling the current request."""
    return current_app.extensions["mock_portal"]
