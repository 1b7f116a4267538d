"""`tthc probe` (sweeps with a progress bar) and `tthc discrepancies` (JSON, CSV or a table)."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import probing
from ..context import get_store, settings
from ..store import StoreError, SweepBusy


@click.command("probe")
@click.argument("codes", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Probe every active procedure.")
@click.option("--kind", type=click.Choice([*probing.KINDS, "dossier_sync"]), default="all", show_default=True,
              help="Which dimension to probe (dossier_sync: dossiers on DVCQG; `all` includes it).")
@click.option("--resume", is_flag=True, help="Resume the last interrupted sweep (what it finished is kept).")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@with_appcontext
def probe_cmd(codes: tuple[str, ...], all_: bool, kind: str, resume: bool, as_json: bool,
              no_progress: bool) -> None:
    """Probe DVCQG linkage and online payment of procedures (CODE... or --all) and keep the evidence.

    Exit status: 0 when the sweep completed, 1 when it did not (portal unavailable, failed).

    \b
    Example:
        tthc probe --all --kind linkage
        tthc probe 1.001193 2.002195 --json
        tthc probe --resume
    """
    if resume and (codes or all_):
        raise click.UsageError("--resume continues the interrupted sweep as it was: give no CODE or --all")
    if not resume and bool(codes) == all_:
        raise click.UsageError("give procedure CODEs, or --all, or --resume")
    try:
        run = probing.sweep_now(current_app._get_current_object(), kind=kind, actor="cli",
                                progress=not no_progress and not as_json, codes=list(codes) or None,
                                resume=resume)
    except (probing.ProbeConfigError, probing.SelectionError, probing.NothingToResume) as exc:
        raise click.ClickException(str(exc)) from exc
    except SweepBusy as exc:
        raise click.ClickException(f"{exc}: one sweep at a time (wait for it, or resume it if it died)") from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(run, ensure_ascii=False, indent=2))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run["counts"].items())) or "nothing probed"
        click.echo(f"sweep {run['id']}: {run['status']} ({run['done']}/{run['total']}); {counts}")
        if run["message"]:
            click.echo(run["message"])
    if run["status"] != "completed":
        sys.exit(1)


@click.command("discrepancies")
@click.option("--json", "fmt", flag_value="json", help="JSON: a list of rows.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@with_appcontext
def discrepancies_cmd(fmt: str | None) -> None:
    """Where the declarations and the latest probe verdicts disagree (default: a table).

    \b
    Example:
        tthc discrepancies --csv > discrepancies.csv
    """
    rows = probing.discrepancies(get_store(), settings())
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        sys.stdout.write(probing.to_csv(rows))
        return
    for row in rows:
        click.echo(f"{row['code']}\t{row['kind']}\tdeclared {row['declared']}\tobserved {row['observed']}\t"
                   f"{row['checked_at']}\t{row['agency']}")
    click.echo(f"{len(rows)} discrepancies", err=True)


COMMANDS = [probe_cmd, discrepancies_cmd]
