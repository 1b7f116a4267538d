"""The CLI's help: only tthc's commands, an `Example:` block in every command, help on every option."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
import pytest

from registry.cli import main


def _walk(group: click.Group, prefix: str = "tthc") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_walk(command, path))
        else:
            found.append((path, command))
    return found


COMMANDS = _walk(main)


def test_help_lists_only_tthc_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(main.commands)
    for flask_own in ("run", "shell", "routes"):
        assert flask_own not in listed
    for flask_option in ("--app", "--debug", "--env-file"):
        assert flask_option not in result.output


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_an_example(path: str, command: click.Command):
    assert command.help, f"{path} has no help"
    assert "Example:" in command.help, f"{path}: its help has no `Example:` block"
    example = command.help.split("Example:", 1)[1]
    assert path.split()[-1] in example or path == "tthc", f"{path}: the example does not use the command"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_has_help(path: str, command: click.Command):
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{path} {param.opts[0]} has no help text"


def test_help_in_an_empty_directory_creates_nothing(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    exe = Path(sys.executable).with_name("tthc")
    for args in (["--help"], ["import", "--help"], ["user", "--help"]):
        done = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
