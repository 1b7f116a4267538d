"""The daily digest: a day's events for one subscriber in one Vietnamese e-mail, at the digest hour."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from registry import alerts, create_app
from registry.auth import Principal
from registry.store import VN_TZ, open_store


def test_the_digest_groups_a_days_events_in_one_vietnamese_email(hanoi_db: Path, tmp_path: Path, smtp):
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    app = create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", "SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": smtp.port, "SMTP_STARTTLS": False, "ALERT_DIGEST_HOUR": 7})
    cfg = app.config["TTHC"]
    day = datetime(2026, 12, 1, 8, 0, tzinfo=VN_TZ)
    with open_store(path) as store:
        procs = [p for p in store.all_procedures() if p["dvcqg_integrated"] and p["service_level"] >= 3]
        agency = procs[0]["agency"]
        mine = [p["code"] for p in procs if p["agency"] == agency][:3]
        assert len(mine) == 3
        boss = Principal("tuan", "editor", (agency,))
        from registry.auth import add_user
        add_user(store, "tuan", "password-123", "editor", [agency], actor="test")
        alerts.subscribe(store, boss, {"scope": "agency", "agency": agency, "channel": "email",
                                       "address": "tuan@example.vn", "mode": "digest"}, source="test")
        # Three procedures break at three times of the day; each break is confirmed by two verdicts.
        for hour, code in zip((9, 13, 17), mine):
            at = day.replace(hour=hour)
            for verdict in ("integrated", "link_broken", "link_broken"):
                store.record_attempts([{"run_id": None, "code": code, "dimension": "linkage", "verdict": verdict,
                                        "checked_at": at.isoformat()}])
            alerts.process(store, cfg, now=at)
        assert smtp.messages == []  # nothing before the digest hour
        assert alerts.process(store, cfg, now=day.replace(hour=23))["delivered"] == 0
        counts = alerts.process(store, cfg, now=day.replace(hour=7) + timedelta(days=1, minutes=1))
        assert counts["delivered"] == 3
        assert alerts.process(store, cfg, now=day + timedelta(days=2))["delivered"] == 0
        assert {d["status"] for d in store.list_deliveries()} == {"delivered"}
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "[TTHC] Tổng hợp cảnh báo ngày 01/12/2026: 3 sự kiện"
    body = msg.get_content()
    assert all(code in body for code in mine)
    assert body.index(mine[0]) < body.index(mine[1]) < body.index(mine[2])  # in the order they happened
    assert body.count("Liên thông Cổng DVCQG bị hỏng") == 3 and "Kính gửi" in body
    assert msg.get_content_charset() == "utf-8"
