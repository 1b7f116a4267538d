"""The `tthc` command line: a Flask CLI group, so `flask --app wsgi ...` works the same."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from registry import create_app
    from registry.settings import SettingsError
    try:
        return create_app()
    except SettingsError as exc:  # a clear one-line error, not a traceback
        raise click.ClickException(str(exc)) from exc


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False, add_version_option=False)
def main() -> None:
    """tthc: integration-status registry of administrative procedures (TTHC)."""


def init_app(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
    from . import data
    for command in data.COMMANDS:
        app.cli.add_command(command)
    for module in ("registry.cli.auth", "registry.cli.probe", "registry.cli.serve", "registry.cli.dossiers"):
        try:
            mod = __import__(module, fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        for command in mod.COMMANDS:
            app.cli.add_command(command)
