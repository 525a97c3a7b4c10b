"""`appeals --help` lists the commands without importing them, and the list says what they say."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import cli


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_the_listed_help_is_the_commands_own_first_line(name: str) -> None:
    command = cli.load(name)
    assert command.name == name
    assert (command.help or "").strip().splitlines()[0] == cli.COMMANDS[name].help


def test_help_imports_neither_the_web_framework_nor_the_orm() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['appeals', '--help']\n"
        "try:\n"
        "    runpy.run_module('app', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = {'fastapi', 'sqlalchemy', 'jinja2', 'pydantic_settings'} & set(sys.modules)\n"
        "heavy = sorted(heavy)\n"
        "print(','.join(heavy) or 'none')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    listing, loaded = done.stdout.rsplit("\n", 2)[0], done.stdout.rsplit("\n", 2)[1]
    assert loaded == "none"
    for name in cli.COMMANDS:
        assert name in listing


def test_an_unknown_command_is_refused_with_the_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "No such command" in done.stderr
