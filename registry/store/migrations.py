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

def apply(db: Database) -> None:
    """Bring the database up to the newest schema, in place."""
    migrations.apply(db)


def pending(db: Database) -> list[str]:
    """Names of migrations not yet applied (empty when the schema is current)."""
    return [m.name for m in migrations.pending(db)]
