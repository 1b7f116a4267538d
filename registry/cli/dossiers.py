"""`tthc dossiers ...`: import files, the tthc-coverage/2 report, the DVCQG check and the relay."""
from __future__ import annotations

import csv
import json
import sys
import threading
from pathlib import Path

import click
from flask.cli import with_appcontext

from .. import dossiers, probing
from ..context import get_store, settings
from ..coverage import CSV_COLUMNS, report_to_csv_rows
from ..dossier_schemas import DossierFileError
from ..store import StoreError, SweepBusy


@click.group("dossiers")
def dossiers_group() -> None:
    """Dossiers and ratings (DongBoHoSoMC / DongBoDanhGia): import, report, check, relay.

    \b
    Example:
        tthc dossiers import hoso-2021.jsonl --dry-run
        tthc dossiers report --period 2021
    """


@dossiers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["dossiers", "ratings"]), default="dossiers", show_default=True,
              help="What the file holds (the contract's keys: MaHoSo, MaTTHC, ... / MucDoHaiLong ...).")
@click.option("--dry-run", is_flag=True, help="Validate every row, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@with_appcontext
def import_cmd(file: Path, kind: str, dry_run: bool, as_json: bool) -> None:
    """Import a JSONL, CSV or XLSX file of dossiers or ratings: all or nothing.

    Every bad row is reported with its line and field; exit status 1 when any row is bad.

    \b
    Example:
        tthc dossiers import hoso-2021.xlsx --dry-run
        tthc dossiers import danhgia.jsonl --kind ratings
    """
    try:
        report = dossiers.import_file(get_store(), settings(), file, kind=kind, dry_run=dry_run)
    except (DossierFileError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for err in report.errors:
            click.echo(f"{file.name}:{err['line']}: {err['field']}: {err['message']}", err=True)
        if not report.ok:
            click.echo(f"{len(report.errors)} problems in {report.rows} rows; nothing written", err=True)
        elif dry_run:
            click.echo(f"{report.rows} {kind} valid (dry run: nothing written)")
        else:
            written = report.written or {}
            click.echo(f"{report.rows} {kind}: {written.get('created', 0)} new, {written.get('updated', 0)} "
                       f"updated, {written.get('unchanged', 0)} unchanged")
    if not report.ok:
        sys.exit(1)


@dossiers_group.command("report")
@click.option("--period", help="2021, 2021-Q3 or 2021-07 (default: the latest year with dossiers).")
@click.option("--from", "day_from", help="First day (YYYY-MM-DD), with --to.")
@click.option("--to", "day_to", help="Last day (YYYY-MM-DD), with --from.")
@click.option("--basis", type=click.Choice(["declared", "verified"]), default="declared", show_default=True,
              help="Declared (as synced) or verified (only dossiers DVCQG confirmed).")
@click.option("--group-by", "group_by", multiple=True, type=click.Choice(["agency", "field", "level", "procedure"]),
              help="Group the figures (repeat for several).")
@click.option("--json", "fmt", flag_value="json", help="The report as JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="The report as CSV.")
@with_appcontext
def report_cmd(period: str | None, day_from: str | None, day_to: str | None, basis: str,
               group_by: tuple[str, ...], fmt: str | None) -> None:
    """The coverage report with the dossier indicators of a period (method tthc-coverage/2).

    \b
    Example:
        tthc dossiers report --period 2021-Q3 --basis verified --json
    """
    try:
        chosen = dossiers.parse_period(period, day_from, day_to) if (period or day_from or day_to) else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    report = dossiers.dossier_report(get_store(), settings(), basis=basis, period=chosen, group_by=group_by)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(report_to_csv_rows(report))
        return
    click.echo(f"{report['method']} {report['basis']} {report['period']['label']} "
               f"({report['period']['from']} .. {report['period']['to']})")
    for item in report["indicators"]:
        if item["id"].startswith(("dossier_", "satisfaction")):
            target = item["target"]["percent"] if item["target"] else "-"
            click.echo(f"{item['id']:32} {item['numerator']:>8}/{item['denominator']:<8} {item['percent']}% "
                       f"target {target}% met {item['met']}")
    sync = report["dossiers"]["dvcqg_sync"]
    click.echo(f"DVCQG sync: {sync['confirmed']}/{sync['received']} confirmed, {sync['missing']} missing, "
               f"{sync['status_behind']} status behind")


@dossiers_group.command("check")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many dossiers (default: the setting).")
@with_appcontext
def check_cmd(limit: int | None) -> None:
    """Look up queued dossiers on DVCQG (TraCuuHoSo): synced / status_behind / missing / unknown.

    \b
    Example:
        tthc dossiers check --limit 5000
    """
    try:
        run = probing.check_dossiers(get_store(), settings(), actor="cli", limit=limit)
    except (probing.ProbeConfigError, SweepBusy) as exc:
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run["counts"].items())) or "nothing queued"
    click.echo(f"sweep {run['id']}: {run['status']} ({run['done']}/{run['total']}); {counts}")
    if run["status"] != "completed":
        sys.exit(1)


@dossiers_group.command("relay")
@click.option("--watch", is_flag=True, help="Keep delivering (backoff after failures) until Ctrl-C.")
@with_appcontext
def relay_cmd(watch: bool) -> None:
    """Deliver the relay outbox to DVCQG in order (TTHC_DOSSIER_RELAY mode).

    \b
    Example:
        tthc dossiers relay --watch
    """
    cfg = settings()
    try:
        if watch:
            stop = threading.Event()
            try:
                probing.relay_until_stopped(lambda c: probing.open_store_for(c), cfg, stop)
            except KeyboardInterrupt:
                stop.set()
            return
        outcome = probing.relay_once(get_store(), cfg)
    except probing.ProbeConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({**outcome, **dossiers.relay_status(get_store(), cfg)}, ensure_ascii=False))
    if outcome["failed"]:
        sys.exit(1)


@dossiers_group.command("unsynced")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="How many to list.")
@with_appcontext
def unsynced_cmd(limit: int) -> None:
    """Dossiers DVCQG does not hold as the registry does (missing, status behind).

    \b
    Example:
        tthc dossiers unsynced --limit 20
    """
    for row in dossiers.unsynced(get_store(), limit):
        click.echo(f"{row['mahoso']}\t{row['code']}\t{row['sync_state']}\tours {row['status']}\t"
                   f"DVCQG {row['remote_status'] or '-'}")


COMMANDS = [dossiers_group]
