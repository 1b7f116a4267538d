"""Versioned schema migrations (sqlite-utils Migrations): append new ones, never edit old ones."""
from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("tthc")


@migrations()
def m001_core(db: Database) -> None:
    """Procedures, agencies, targets and the audit log."""
    db.execute("""
        CREATE TABLE procedures (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            field TEXT NOT NULL DEFAULT '',
            agency TEXT NOT NULL DEFAULT '',
            agencies TEXT NOT NULL DEFAULT '[]',
            issuing_agency TEXT NOT NULL DEFAULT '',
            levels TEXT NOT NULL DEFAULT '[]',
            service_level INTEGER NOT NULL CHECK (service_level BETWEEN 1 AND 4),
            has_fee INTEGER NOT NULL DEFAULT 0,
            dvcqg_integrated INTEGER NOT NULL DEFAULT 0,
            payment_channel TEXT NOT NULL DEFAULT 'none'
                CHECK (payment_channel IN ('none', 'dvcqg_payment', 'paygov')),
            sso INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            search_text TEXT NOT NULL DEFAULT ''
        )""")
    db.execute("CREATE INDEX idx_procedures_agency ON procedures(agency)")
    db.execute("CREATE INDEX idx_procedures_status_level ON procedures(status, service_level)")
    db.execute("""
        CREATE TABLE agencies (
            name TEXT PRIMARY KEY,
            code TEXT,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE targets (
            id INTEGER PRIMARY KEY,
            indicator TEXT NOT NULL,
            percent REAL NOT NULL,
            due TEXT NOT NULL,
            source TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            UNIQUE (indicator, due)
        )""")
    db.execute("""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            key TEXT NOT NULL,
            before TEXT,
            after TEXT
        )""")
    db.execute("CREATE INDEX idx_audit_entity_key ON audit(entity, key, id)")
    db.execute("CREATE INDEX idx_audit_at ON audit(at)")
    db.execute("CREATE INDEX idx_audit_actor ON audit(actor)")
    # Full-text search over the folded (diacritic-free) text, kept in sync by triggers.
    db["procedures"].enable_fts(["search_text"], create_triggers=True, tokenize="unicode61")


@migrations()
def m002_settings(db: Database) -> None:
    """A key/value table for product state that must survive restarts (datasette-style)."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m003_probes(db: Database) -> None:
    """Probe runs, every probe attempt, the latest verdict per procedure and dimension, payments."""
    db.execute("""
        CREATE TABLE probe_runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            selection TEXT NOT NULL,
            status TEXT NOT NULL,
            actor TEXT NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            finished_at TEXT,
            total INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            counts TEXT NOT NULL DEFAULT '{}',
            message TEXT NOT NULL DEFAULT ''
        )""")
    db.execute("CREATE INDEX idx_probe_runs_status ON probe_runs(status)")
    db.execute("""
        CREATE TABLE probe_attempts (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES probe_runs(id),
            code TEXT NOT NULL,
            dimension TEXT NOT NULL CHECK (dimension IN ('linkage', 'payment')),
            verdict TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            duration_ms REAL NOT NULL DEFAULT 0,
            details TEXT NOT NULL DEFAULT '{}',
            evidence TEXT NOT NULL DEFAULT '[]'
        )""")
    db.execute("CREATE INDEX idx_probe_attempts_code ON probe_attempts(code, dimension, id)")
    db.execute("CREATE UNIQUE INDEX idx_probe_attempts_run ON probe_attempts(run_id, code, dimension)")
    db.execute("""
        CREATE TABLE verdicts (
            code TEXT NOT NULL,
            dimension TEXT NOT NULL,
            verdict TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            stale INTEGER NOT NULL DEFAULT 0,
            stale_since TEXT,
            attempt_id INTEGER NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (code, dimension)
        )""")
    db.execute("""
        CREATE TABLE payments (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            reference TEXT NOT NULL,
            code TEXT,
            amount TEXT,
            transaction_no TEXT,
            status TEXT NOT NULL,
            received_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            UNIQUE (channel, reference)
        )""")
    db.execute("""
        CREATE TABLE callback_rejections (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            received_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload TEXT NOT NULL
        )""")


@migrations()
def m004_auth(db: Database) -> None:
    """API users (hashed passwords, role, agency scope) and their tokens (hashed at rest)."""
    db.execute("""
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
            agencies TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            name TEXT NOT NULL DEFAULT '',
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT,
            last_used_at TEXT
        )""")
    db.execute("CREATE INDEX idx_tokens_user ON tokens(user_id)")


@migrations()
def m005_coverage_index(db: Database) -> None:
    """A covering index in the order the coverage cohorts group by: the report reads no table rows."""
    db.execute("CREATE INDEX idx_procedures_coverage ON procedures(status, service_level, has_fee, "
               "dvcqg_integrated, payment_channel, sso, code)")


@migrations()
def m006_status_code_index(db: Database) -> None:
    """Pages of active procedures in code order straight from an index (no sort of every row)."""
    db.execute("CREATE INDEX idx_procedures_status_code ON procedures(status, code)")


@migrations()
def m007_audit_reason(db: Database) -> None:
    """Why a change was made (a retirement's or restoration's reason), kept beside the audit entry."""
    db.execute("ALTER TABLE audit ADD COLUMN reason TEXT")


@migrations()
def m008_trust(db: Database) -> None:
    """Callbacks identified by their platform transaction, bounded rejection records (existing
    bodies cut to their first 4 KiB, size and hash kept), callback evidence redacted, and
    server-side dashboard sessions with login throttling."""
    import hashlib
    import json as _json

    db.execute("CREATE INDEX IF NOT EXISTS idx_payments_transaction ON payments(channel, transaction_no)")
    for column, decl in (("reference", "TEXT NOT NULL DEFAULT ''"), ("source", "TEXT NOT NULL DEFAULT ''"),
                         ("size", "INTEGER NOT NULL DEFAULT 0"), ("body_sha256", "TEXT NOT NULL DEFAULT ''"),
                         ("count", "INTEGER NOT NULL DEFAULT 1"), ("last_at", "TEXT")):
        db.execute(f"ALTER TABLE callback_rejections ADD COLUMN {column} {decl}")
    rows = db.execute("SELECT id, payload FROM callback_rejections").fetchall()
    for rid, payload in rows:
        raw = (payload or "").encode("utf-8", "surrogatepass")
        db.execute("UPDATE callback_rejections SET payload = ?, size = ?, body_sha256 = ?, last_at = received_at "
                   "WHERE id = ?", [raw[:4096].decode("utf-8", "ignore"), len(raw),
                                    hashlib.sha256(raw).hexdigest(), rid])
    db.execute("CREATE INDEX IF NOT EXISTS idx_callback_rejections_hash "
               "ON callback_rejections(channel, body_sha256, reason)")
    # Evidence of payment callbacks is public: keep what it proves, never the raw body or checksum.
    for aid, details, evidence in db.execute(
            "SELECT id, details, evidence FROM probe_attempts "
            "WHERE json_extract(details, '$.source') = 'callback'").fetchall():
        try:
            body = (_json.loads(evidence) or [{}])[0]
            info = _json.loads(details)
        except (ValueError, IndexError, KeyError):
            body, info = {}, {}
        if not isinstance(body, dict):
            body = {}
        view = {"channel": info.get("channel"), "reference": info.get("reference"),
                "transaction_no": body.get("MaGiaoDich", body.get("transactionNo")),
                "amount": body.get("SoTien", body.get("amount")),
                "paid_at": body.get("ThoiGianGD", body.get("payDate")), "status": "paid"}
        db.execute("UPDATE probe_attempts SET evidence = ? WHERE id = ?",
                   [_json.dumps([view], ensure_ascii=False), aid])
    db.execute("""
        CREATE TABLE staff_sessions (
            id_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT,
            address TEXT NOT NULL DEFAULT ''
        )""")
    db.execute("CREATE INDEX idx_staff_sessions_user ON staff_sessions(username, created_at)")
    db.execute("""
        CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_at TEXT NOT NULL
        )""")


@migrations()
def m010_dossiers(db: Database) -> None:
    """Dossiers and ratings (DongBoHoSoMC / DongBoDanhGia), exact rollups per day x procedure,
    the relay outbox to DVCQG, and the `system` role (integration accounts)."""
    db.execute("""
        CREATE TABLE dossiers (
            mahoso TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            status INTEGER NOT NULL,
            channel TEXT,
            paid_online INTEGER NOT NULL DEFAULT 0,
            has_fee INTEGER NOT NULL DEFAULT 0,
            received_at TEXT,
            due_at TEXT,
            finished_at TEXT,
            returned_at TEXT,
            payload TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sync_state TEXT NOT NULL DEFAULT 'pending'
                CHECK (sync_state IN ('pending', 'synced', 'status_behind', 'missing', 'unknown')),
            sync_checked_at TEXT,
            sync_remote_status TEXT
        )""")
    # The verification queue: dossiers changed since their last check (pending) or not answered.
    db.execute("CREATE INDEX idx_dossiers_sync_queue ON dossiers(sync_state, updated_at) "
               "WHERE sync_state IN ('pending', 'unknown')")
    db.execute("""
        CREATE TABLE dossier_ratings (
            mahoso TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            score TEXT NOT NULL CHECK (score IN ('1', '2', '3')),
            rated_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            source TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    counters = ("received", "recv_direct", "recv_online", "recv_post", "online_fee_ok", "paid_online",
                "resolved", "resolved_early", "resolved_on_time", "resolved_late", "resolved_no_due",
                "pending_due", "pending_no_due", "ratings", "ratings_ok")
    columns = [*counters, *(f"v_{c}" for c in counters), "sync_missing", "sync_behind", "sync_unknown"]
    body = ",\n".join(f"            {c} INTEGER NOT NULL DEFAULT 0" for c in columns)
    # Day first: a period's report is one range scan of the primary key.
    db.execute(f"""
        CREATE TABLE dossier_daily (
            day TEXT NOT NULL,
            code TEXT NOT NULL,
{body},
            PRIMARY KEY (day, code)
        ) WITHOUT ROWID""")
    # The same counters per month x procedure: a year's report reads at most 12 rows per procedure.
    db.execute(f"""
        CREATE TABLE dossier_monthly (
            month TEXT NOT NULL,
            code TEXT NOT NULL,
{body},
            PRIMARY KEY (month, code)
        ) WITHOUT ROWID""")
    db.execute("""
        CREATE TABLE dossier_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mahoso TEXT NOT NULL,
            is_updating INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_error TEXT,
            delivered_at TEXT,
            answer_code TEXT
        )""")
    db.execute("CREATE INDEX idx_dossier_outbox_pending ON dossier_outbox(id) WHERE delivered_at IS NULL")
    # Integration accounts: widen the role CHECK in place (a CHECK that admits more needs no
    # rewrite of the rows: SQLite's documented writable_schema path, schema_version bumped).
    old = "CHECK (role IN ('viewer', 'editor', 'admin'))"
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetchone()[0]
    if old in sql:
        version = db.execute("PRAGMA schema_version").fetchone()[0]
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'users'",
                   [old, old.replace("'admin'", "'admin', 'system'")])
        db.execute(f"PRAGMA schema_version = {version + 1}")
        db.execute("PRAGMA writable_schema = OFF")


@migrations()
def m011_change_counter_and_federation(db: Database) -> None:
    """A change counter bumped by triggers in the writing transaction (the cache key of the
    coverage report), and federation: other units, their pulls and dated report snapshots."""
    # `instance` tells databases apart (a restored or recreated file restarts the counter).
    db.execute("CREATE TABLE change_counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL, "
               "instance TEXT NOT NULL)")
    db.execute("INSERT INTO change_counter (id, value, instance) VALUES (1, 0, lower(hex(randomblob(6))))")
    db.execute("""
        CREATE TABLE federation_units (
            code TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE federation_snapshots (
            id INTEGER PRIMARY KEY,
            unit_code TEXT NOT NULL,
            basis TEXT NOT NULL,
            method TEXT NOT NULL,
            as_of TEXT NOT NULL,
            pulled_at TEXT NOT NULL,
            confirmed_at TEXT NOT NULL,
            etag TEXT,
            sha256 TEXT NOT NULL,
            report TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX idx_federation_snapshots_unit ON federation_snapshots(unit_code, basis, id)")
    db.execute("""
        CREATE TABLE federation_pulls (
            id INTEGER PRIMARY KEY,
            unit_code TEXT NOT NULL,
            basis TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('changed', 'not_modified', 'failed')),
            reason TEXT NOT NULL DEFAULT '',
            http_status INTEGER,
            snapshot_id INTEGER,
            evidence TEXT NOT NULL DEFAULT '[]'
        )""")
    db.execute("CREATE INDEX idx_federation_pulls_unit ON federation_pulls(unit_code, basis, id)")


@migrations()
def m013_alerts(db: Database) -> None:
    """Alerts: confirmation state per (subject, dimension), events, subscriptions, delivery outbox."""
    db.execute("""
        CREATE TABLE alert_state (
            subject TEXT NOT NULL,
            dimension TEXT NOT NULL,
            confirmed TEXT,
            pending TEXT,
            streak INTEGER NOT NULL DEFAULT 0,
            stale_attempt INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (subject, dimension)
        )""")
    db.execute("""
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            dedupe_key TEXT NOT NULL UNIQUE,
            code TEXT,
            dimension TEXT,
            agencies TEXT NOT NULL DEFAULT '[]',
            verdict TEXT,
            previous TEXT,
            occurred_at TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        )""")
    db.execute("CREATE INDEX idx_alert_events_code ON alert_events(code, id)")
    db.execute("""
        CREATE TABLE alert_subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('all', 'agency', 'procedure')),
            agency_key TEXT,
            procedure_code TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            address TEXT NOT NULL,
            secret TEXT,
            mode TEXT NOT NULL DEFAULT 'event' CHECK (mode IN ('event', 'digest')),
            event_types TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            removed_at TEXT
        )""")
    db.execute("CREATE INDEX idx_alert_subscriptions_owner ON alert_subscriptions(owner)")
    db.execute("""
        CREATE TABLE alert_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id INTEGER NOT NULL REFERENCES alert_events(id),
            subscription_id INTEGER NOT NULL REFERENCES alert_subscriptions(id),
            channel TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            lease_owner TEXT,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            UNIQUE (event_id, subscription_id)
        )""")
    db.execute("CREATE INDEX idx_alert_deliveries_due ON alert_deliveries(status, next_attempt_at)")
    # Start after what is already stored: history never fires; today's verdicts are the baseline.
    db.execute("INSERT OR REPLACE INTO meta (key, value) SELECT 'alerts.attempt_cursor', "
               "CAST(coalesce(max(id), 0) AS TEXT) FROM probe_attempts")
    db.execute("INSERT OR REPLACE INTO meta (key, value) SELECT 'alerts.run_cursor', "
               "CAST(coalesce(max(id), 0) AS TEXT) FROM probe_runs WHERE status != 'running'")
    db.execute("INSERT INTO alert_state (subject, dimension, confirmed, pending, streak, updated_at) "
               "SELECT code, dimension, verdict, NULL, 0, checked_at FROM verdicts WHERE verdict != 'unknown'")


@migrations()
def m014_probe_run_items(db: Database) -> None:
    """What each sweep planned to probe, fixed when it opens: a run's `total` is its plan, and a
    procedure imported while it runs (or before its worker process starts) is not probed by it."""
    db.execute("""
        CREATE TABLE probe_run_items (
            run_id INTEGER NOT NULL REFERENCES probe_runs(id),
            code TEXT NOT NULL,
            dimension TEXT NOT NULL,
            PRIMARY KEY (run_id, code, dimension)
        ) WITHOUT ROWID""")


def apply(db: Database) -> None:
    """Bring the database up to the newest schema, in place."""
    migrations.apply(db)


def pending(db: Database) -> list[str]:
    """Names of migrations not yet applied (empty when the schema is current)."""
    return [m.name for m in migrations.pending(db)]
