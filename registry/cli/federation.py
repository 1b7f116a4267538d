"""`tthc federation add|list|remove|pull|coverage`: other units' coverage, pulled and summed."""
from __future__ import annotations

import csv
import json
import sys

import click
from flask.cli import with_appcontext

from .. import federation
from ..context import get_store, settings


@click.group("federation")
def federation_group() -> None:
    """Units whose coverage reports this registry pulls and sums (docs/federation.md).

    \b
    Example:
        tthc federation add 000.00.00.H26 http://127.0.0.1:8080 && tthc federation pull
    """


@federation_group.command("add")
@click.argument("unit_code")
@click.argument("url")
@click.option("--name", default="", help="The unit's name, for people (default: none).")
@with_appcontext
def add_cmd(unit_code: str, url: str, name: str) -> None:
    """Federate the unit UNIT_CODE served at URL (the base of its tthc, e.g. http://host:8080).

    \b
    Example:
        tthc federation add 000.00.00.H26 https://tthc.hanoi.example --name "UBND thành phố Hà Nội"
    """
    unit = federation.add_unit(get_store(), code=unit_code, url=url, name=name, actor="cli", source="cli")
    click.echo(f"federated {unit['code']} at {unit['url']}")


@federation_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@with_appcontext
def list_cmd(as_json: bool) -> None:
    """Every federated unit with its last pull per basis.

    \b
    Example:
        tthc federation list --json
    """
    units = federation.list_units(get_store())
    if as_json:
        click.echo(json.dumps(units, ensure_ascii=False, indent=2))
        return
    for unit in units:
        parts = []
        for basis in federation.BASES:
            pull = unit[basis]["last_pull"]
            parts.append(f"{basis}: " + ("never pulled" if pull is None else
                                         f"{pull['outcome']} at {pull['at']}" +
                                         (f" ({pull['reason']})" if pull["reason"] else "")))
        click.echo(f"{unit['code']}\t{unit['url']}\t{unit['name']}\t" + "; ".join(parts))


@federation_group.command("remove")
@click.argument("unit_code")
@with_appcontext
def remove_cmd(unit_code: str) -> None:
    """Stop pulling from UNIT_CODE (its snapshots stay as history).

    \b
    Example:
        tthc federation remove 000.00.00.H26
    """
    federation.remove_unit(get_store(), unit_code, actor="cli", source="cli")
    click.echo(f"removed {unit_code}")


@federation_group.command("pull")
@click.argument("unit_codes", nargs=-1)
@with_appcontext
def pull_cmd(unit_codes: tuple[str, ...]) -> None:
    """Pull every unit's coverage (or only UNIT_CODES'), both bases; exit 1 if any pull failed.

    \b
    Example:
        tthc federation pull
    """
    results = federation.pull(get_store(), settings(), unit_codes)
    for row in results:
        click.echo(f"{row['unit_code']}\t{row['basis']}\t{row['outcome']}" +
                   (f"\t{row['reason']}" if row["reason"] else ""))
    failed = sum(row["outcome"] == "failed" for row in results)
    elapsed = results[0]["elapsed_s"] if results else 0
    click.echo(f"{len(results)} pulls in {elapsed:.2f} s: {failed} failed", err=True)
    if failed:
        sys.exit(1)


@federation_group.command("coverage")
@click.option("--basis", type=click.Choice(list(federation.BASES)), default="declared", show_default=True,
              help="Sum the units' declared or verified reports.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
@with_appcontext
def coverage_cmd(basis: str, as_csv: bool) -> None:
    """The units' indicators summed (numerators and denominators), one row per unit.

    \b
    Example:
        tthc federation coverage --basis verified --csv
    """
    report = federation.federated_coverage(get_store(), settings(), basis=basis)
    if not as_csv:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(federation.CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(federation.to_csv_rows(report))


COMMANDS = [federation_group]
