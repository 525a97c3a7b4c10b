"""Progress on long commands: a bar on a terminal, spaced-out plain lines elsewhere."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from app.progress import progress
from tests.test_cli import Appeals, appeals, cli_env

__all__ = ["appeals", "cli_env"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_at_most_every_few_seconds_and_once_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with progress("rendering letters", stream=out, terminal=False, every=5, clock=clock) as report:
        for done in range(100):
            clock.now = done * 0.2  # 20 s of work in all
            report(done, 100)
        clock.now = 20.0
        report(100, 100)
    assert out.getvalue().splitlines() == [
        "rendering letters: 25/100 (5 s)",
        "rendering letters: 50/100 (10 s)",
        "rendering letters: 75/100 (15 s)",
        "rendering letters: 100/100 (20 s)",
    ]


def test_quick_work_off_a_terminal_prints_nothing() -> None:
    out, clock = io.StringIO(), Clock()
    with progress("importing cases", stream=out, terminal=False, clock=clock) as report:
        report(31, 31)
    assert out.getvalue() == ""


def test_on_a_terminal_a_bar_names_the_work_and_the_count() -> None:
    out = io.StringIO()
    with progress("typesetting batch 3", stream=out, terminal=True) as report:
        for done in range(11):
            report(done, 10)
    assert "typesetting batch 3" in out.getvalue()
    assert "10/10" in out.getvalue()


def test_templates_check_on_a_terminal_shows_its_progress(
    appeals: Appeals, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert appeals("db", "upgrade").returncode == 0
    assert appeals("import").returncode == 0
    # stderr is a terminal (where the bar goes); stdout stays a pipe for the result
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "app", "templates", "check"],
            env={**cli_env, "COLUMNS": "120"},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=180,
            check=False,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0, done.stdout
    rendered = done.stdout.split()[0]
    assert "rendering letters" in shown.decode()
    assert f"{rendered}/{rendered}" in shown.decode()
    assert "\x1b" not in done.stdout  # the result itself carries no control characters
