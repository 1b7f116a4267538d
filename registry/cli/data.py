"""Commands over the registry's data: init, import, export, search, fixtures, coverage."""
from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from .. import coverage, exporter, importer, seeding
from ..imports import run_import
from ..context import get_store, settings
from ..reporting import coverage_report


def _echo_json(doc: object) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@click.command("init")
@with_appcontext
def init_cmd() -> None:
    """Create the database (or upgrade it in place) at TTHC_DATABASE.

    \b
    Example:
        tthc init
        TTHC_DATABASE=/srv/tthc/registry.db tthc init
    """
    store = get_store()
    store.migrate()
    click.echo(f"database ready: {store.path} ({store.count_procedures()} procedures)")


@click.command("import")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--format", "fmt", type=click.Choice(importer.FORMATS), help="Override the detected format.")
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_cmd(file: Path, dry_run: bool, fmt: str | None, actor: str, as_json: bool) -> None:
    """Import procedures from xlsx/csv/json/jsonl: all rows or none.

    \b
    Example:
        tthc import danh-sach-tthc-BoTuPhap.xlsx --dry-run
        tthc import procedures.csv --actor "Sở Tư pháp"
    """
    try:
        report = run_import(get_store(), file.read_bytes(), file.name, actor=actor, fmt=fmt,
                            dry_run=dry_run)
    except importer.ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json(report.to_dict())
    else:
        for err in report.errors:
            click.echo(f"line {err.line}" + (f" ({err.code})" if err.code else "") +
                       f": {err.field}: {err.message}", err=True)
        if report.errors:
            click.echo(f"{len(report.errors)} problem(s) in {file.name}: nothing was written.", err=True)
        else:
            verb = "would be" if dry_run else "were"
            click.echo(f"{report.rows} rows read ({report.format}); {len(report.inserted)} inserted, "
                       f"{len(report.updated)} updated, {len(report.unchanged)} unchanged "
                       f"({verb} written).")
    if report.errors:
        sys.exit(1)


@click.command("export")
@with_appcontext
@click.option("--format", "fmt", type=click.Choice(exporter.FORMATS), default="csv", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout).")
@click.option("--include-retired", is_flag=True, help="Also export retired procedures.")
def export_cmd(fmt: str, output: Path | None, include_retired: bool) -> None:
    """Export procedures in the canonical fields (imports back unchanged).

    \b
    Example:
        tthc export --format csv > procedures.csv
        tthc export --format xlsx -o procedures.xlsx
    """
    data = exporter.export(get_store().all_procedures(include_retired=include_retired), fmt)
    if output:
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)
    elif fmt == "xlsx":
        raise click.UsageError("xlsx is binary: give --output FILE")
    else:
        sys.stdout.buffer.write(data)


@click.command("search")
@with_appcontext
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, help="Most results to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_cmd(query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Search procedures by code, name, field or agency, ignoring diacritics.

    \b
    Example:
        tthc search "dang ky khai sinh"
        tthc search 1.001193 --json
    """
    rows = get_store().search(" ".join(query), limit=limit)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['code']}\t{r['name']}\t{r['agency']}\tlevel {r['service_level']}")
    click.echo(f"{len(rows)} result(s)", err=True)


@click.group("fixtures", cls=AppGroup)
def fixtures_group() -> None:
    """Named data sets shipped with tthc.

    \b
    Example:
        tthc fixtures list
        tthc fixtures load hanoi-2021
    """


@fixtures_group.command("list")
def fixtures_list() -> None:
    """List the fixtures that can be loaded.

    \b
    Example:
        tthc fixtures list
    """
    for name in seeding.available():
        click.echo(name)


@fixtures_group.command("load")
@click.argument("name")
def fixtures_load(name: str) -> None:
    """Load a fixture (procedures and targets) into the database.

    \b
    Example:
        tthc fixtures load hanoi-2021
    """
    try:
        result = seeding.load_fixture(get_store(), name)
    except seeding.FixtureError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"fixture {name}: {result['inserted']} inserted, {result['updated']} updated, "
               f"{result['unchanged']} unchanged; {result['targets']} targets")


@click.command("coverage")
@with_appcontext
@click.option("--json", "fmt", flag_value="json", default=True, help="JSON report (default).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV: one row per indicator (and group).")
@click.option("--basis", type=click.Choice(["declared", "verified"]), default="declared", show_default=True,
              help="What staff declared, or only what the latest fresh probe verdicts confirm.")
@click.option("--group-by", "group_by", multiple=True, type=click.Choice(["agency", "level", "field"]),
              help="Add a breakdown (repeat for several).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="The report as it stood that day.")
def coverage_cmd(fmt: str, basis: str, group_by: tuple[str, ...], as_of) -> None:
    """Print the coverage report (method tthc-coverage/1).

    \b
    Example:
        tthc coverage --json --basis verified
        tthc coverage --csv --group-by agency > coverage.csv
    """
    day: date | None = as_of.date() if as_of else None
    report = coverage_report(get_store(), settings(), basis=basis, group_by=group_by, as_of=day)
    if fmt == "json":
        _echo_json(report)
        return
    rows = coverage.report_to_csv_rows(report)
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0].keys()) if rows else ["indicator"])
    writer.writeheader()
    writer.writerows(rows)


COMMANDS = [init_cmd, import_cmd, export_cmd, search_cmd, fixtures_group, coverage_cmd]
