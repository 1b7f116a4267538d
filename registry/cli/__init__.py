"""The `tthc` command line: a plain click group of tthc's own commands.

Each command that needs the app uses Flask's public `with_appcontext`, which builds the app through the
`ScriptInfo` this group puts in the click context. The same commands are also attached to `app.cli`, so
`flask --app wsgi COMMAND` works the same; `tthc --help` lists only tthc's commands (no `run`, `shell`,
`routes`, `--app`, `--debug`).
"""
from __future__ import annotations

from importlib import import_module

import click
from flask import Flask
from flask.cli import ScriptInfo

from registry.errors import RegistryError

#: The modules whose `COMMANDS` list makes up the CLI, in the order `--help` shows them.
COMMAND_MODULES = ("registry.cli.data", "registry.cli.auth", "registry.cli.probe", "registry.cli.serve",
                   "registry.cli.federation", "registry.cli.alerts", "registry.cli.dossiers")


def _create_app() -> Flask:
    from registry import create_app
    from registry.settings import SettingsError
    try:
        app = create_app()
    except SettingsError as exc:  # a clear one-line error, not a traceback
        raise click.ClickException(str(exc)) from exc
    # A command that touches the store may create or upgrade the database (the factory never does).
    app.config["TTHC_MIGRATE_ON_OPEN"] = True
    return app


def commands() -> list[click.Command]:
    """Every tthc command, from the modules of `COMMAND_MODULES`."""
    found: list[click.Command] = []
    for name in COMMAND_MODULES:
        found.extend(import_module(name).COMMANDS)
    return found


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # registration order, not alphabetical

    def invoke(self, ctx: click.Context) -> object:
        """Any error of the registry's tree is one line on stderr and exit status 1, never a traceback."""
        try:
            return super().invoke(ctx)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """tthc: integration-status registry of administrative procedures (TTHC).

    \b
    Example:
        tthc up
        tthc fixtures load hanoi-2021 && tthc coverage --json
    """
    ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False)


for _command in commands():
    main.add_command(_command)


def init_app(app: Flask) -> None:
    """Attach every command to the app's CLI (for `flask --app wsgi COMMAND`)."""
    for command in commands():
        app.cli.add_command(command)
