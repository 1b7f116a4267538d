"""Migration m008 on a database that already holds callbacks: unbounded rejection records are cut
to their first 4 KiB (size and hash kept), callback evidence loses its raw body and checksum."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlite_utils import Database

from registry.store import migrations, open_store


def test_m008_bounds_old_rejections_and_redacts_old_callback_evidence(tmp_path: Path):
    path = tmp_path / "old.db"
    db = Database(str(path))
    migrations.migrations.apply(db, stop_before="m008_trust")
    huge = json.dumps({"orderId": "A" * 200_000})
    db.execute("INSERT INTO callback_rejections (channel, received_at, reason, payload) VALUES (?, ?, ?, ?)",
               ["paygov", "2026-11-30T10:00:00+07:00", "checksum: checksum does not verify", huge])
    raw = {"orderId": "ORD-1.000028-1", "amount": "5000", "transactionNo": "PG1", "payDate": "20261130100000",
           "orderInfo": "Nguyen Van A", "checksum": "ab" * 32}
    db.execute("INSERT INTO probe_attempts (run_id, code, dimension, verdict, checked_at, details, evidence) "
               "VALUES (NULL, '1.000028', 'payment', 'payment_ready', '2026-11-30T10:00:00+07:00', ?, ?)",
               [json.dumps({"source": "callback", "channel": "paygov", "reference": "ORD-1.000028-1"}),
                json.dumps([raw])])
    db.conn.commit()
    db.close()
    with open_store(path) as store:  # applies m008 in place
        (rejection,) = store.list_callback_rejections()
        assert len(rejection["payload"]) == 4096 and rejection["size"] == len(huge)
        assert rejection["body_sha256"] == hashlib.sha256(huge.encode()).hexdigest()
        (attempt,) = store.probe_history("1.000028")
        text = json.dumps(attempt["evidence"])
        assert "Nguyen Van A" not in text and "ab" * 32 not in text
        assert attempt["evidence"] == [{"channel": "paygov", "reference": "ORD-1.000028-1", "transaction_no": "PG1",
                                        "amount": "5000", "paid_at": "20261130100000", "status": "paid"}]
