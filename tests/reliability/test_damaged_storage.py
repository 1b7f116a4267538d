"""Damaged storage is reported, not served (issue 10 item 8): a corrupt database, a bad backup
file, a full disk and a read-only directory each give one clear line or a clear status.

The full disk and the read-only directory are real: a small tmpfs mounted for the test (root
only; skipped otherwise)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from registry import auth, create_app
from registry.store import open_store

TTHC = [sys.executable, "-c", "from registry.cli import main; main()"]
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
ROWS = [{"code": f"1.{900000 + i:06d}", "name": f"Thủ tục thử {i}", "agency": "Sở Tư pháp", "service_level": 4}
        for i in range(400)]


def tthc(db: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    env.update({"TTHC_DATABASE": str(db), "TTHC_SWEEP_INTERVAL_MINUTES": "0", "TTHC_PORT": "1"})
    return subprocess.run([*TTHC, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=db.parent if db.parent.exists() else db.parent.parent, stdin=subprocess.DEVNULL)


def one_clear_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def build(path: Path) -> Path:
    """A database with 60 procedures registered through the API and an admin account."""
    with open_store(path) as store:
        auth.add_user(store, "quantri", "mat-khau-quan-tri", "admin", [], actor="tests")
        token, _ = auth.issue_token(store, "quantri", actor="tests")
    client = create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    for row in ROWS[:60]:
        resp = client.post("/api/v1/procedures", json=row, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 201, resp.get_json()
    with open_store(path) as store:  # fold the WAL into the file before it is copied
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def corrupt(path: Path) -> None:
    """Overwrite pages in the middle of the file (the header stays readable)."""
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size // 2 - (size // 2) % 4096)
        fh.write(b"\x00damaged" * 1024)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("storage") / "template.db")


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "registry.db"
    shutil.copyfile(template, path)
    return path


# -- a corrupt database ------------------------------------------------------------------
@pytest.mark.parametrize("args", [["init"], ["backup", "copy.db"], ["serve"], ["up", "--no-sweep"]])
def test_a_corrupt_database_is_reported_and_not_served_or_copied(db, args):
    corrupt(db)
    line = one_clear_line(tthc(db, *args), "damaged", "quick_check", "tthc restore")
    assert str(db) in line
    assert not (db.parent / "copy.db").exists()


def test_readyz_reports_a_corrupt_database(db):
    app = create_app({"DATABASE": str(db), "TESTING": True})
    assert app.test_client().get("/readyz").status_code == 200
    corrupt(db)
    fresh = create_app({"DATABASE": str(db), "TESTING": True})
    resp = fresh.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "damaged" and "quick_check" in resp.get_json()["problem"]


def test_a_sound_database_still_backs_up_and_restores(db, tmp_path):
    assert tthc(db, "backup", "copy.db").returncode == 0
    proc = tthc(db, "restore", "copy.db", "--yes")
    assert proc.returncode == 0 and "restored" in proc.stdout


def _bad_backups(tmp_path: Path, template: Path) -> dict[str, Path]:
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    half = tmp_path / "half.db"
    half.write_bytes(template.read_bytes()[: template.stat().st_size // 2])
    broken = tmp_path / "broken.db"
    shutil.copyfile(template, broken)
    corrupt(broken)
    other = tmp_path / "other.db"
    import sqlite3
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    return {"text": text, "truncated": half, "corrupt": broken, "not-tthc": other}


@pytest.mark.parametrize("kind", ["text", "truncated", "corrupt", "not-tthc"])
def test_restore_of_a_bad_file_says_one_line_and_leaves_the_target_untouched(db, template, tmp_path, kind):
    bad = _bad_backups(tmp_path, template)[kind]
    before = digest(db)
    one_clear_line(tthc(db, "restore", str(bad), "--yes"), str(bad))
    assert digest(db) == before
    with open_store(db) as store:
        assert store.quick_check() == "ok" and store.count_procedures() == 60


# -- a full disk and a read-only directory (a real tmpfs) ---------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
        try:
            fh.close()
        except OSError:
            pass
    for size in (4096, 512, 64, 1):  # the last crumbs too
        try:
            with (disk / f"crumbs-{size}").open("wb") as fh:
                while True:
                    fh.write(b"\0" * size)
                    fh.flush()
        except OSError:
            pass


def test_with_the_disk_full_reads_work_and_writes_get_a_clear_503(template, small_disk):
    db = small_disk / "registry.db"
    shutil.copyfile(template, db)
    with open_store(db) as store:
        token, _ = auth.issue_token(store, "quantri", actor="tests")
    app = create_app({"DATABASE": str(db), "TESTING": True, "SECRET_KEY": "t"})
    client = app.test_client()
    code = ROWS[0]["code"]
    etag = client.get(f"/api/v1/procedures/{code}").headers["ETag"]
    fill(small_disk)
    # Every request opens its own connection: each of them still reads.
    for _ in range(3):
        assert client.get("/api/v1/procedures?per_page=5").status_code == 200
        assert client.get(f"/api/v1/procedures/{code}").status_code == 200
        assert client.get("/api/v1/coverage").status_code == 200
        assert client.get("/").status_code == 200
    resp = client.patch(f"/api/v1/procedures/{code}", json={"sso": True},
                        headers={"Authorization": f"Bearer {token}", "If-Match": etag})
    assert resp.status_code == 503, resp.get_json()
    assert resp.get_json()["type"].endswith("storage-full") and "full" in resp.get_json()["detail"]
    big = {"name": "x" * 200_000, "code": "1.999999", "agency": "Sở Tư pháp"}
    resp = client.post("/api/v1/procedures", json=big, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 503
    # Nothing was half-written: once space is back, the data is as it was and writes work again.
    for leftover in small_disk.glob("filler*"):
        leftover.unlink()
    for leftover in small_disk.glob("crumbs-*"):
        leftover.unlink()
    assert client.get(f"/api/v1/procedures/{code}").get_json()["sso"] is False
    ok = client.patch(f"/api/v1/procedures/{code}", json={"sso": True},
                      headers={"Authorization": f"Bearer {token}", "If-Match": etag})
    assert ok.status_code == 200


def test_a_read_only_directory_gives_one_clear_line(template, small_disk):
    db = small_disk / "registry.db"
    shutil.copyfile(template, db)
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_disk)]).returncode == 0
    for args in (["init"], ["coverage"], ["serve"]):
        one_clear_line(tthc(db, *args), "cannot open the database", "writable")
    one_clear_line(tthc(small_disk / "new" / "registry.db", "init"), "cannot open the database")
