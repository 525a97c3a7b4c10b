"""Progress of long command-line work, told to the person waiting for it.

On a terminal, a bar (rich's, which typer already brings) on stderr; in a log or a pipe, a plain
line at most every `every` seconds and one at the end when the work took that long (quick work
prints nothing), so a script's output holds no control characters and a cron mail stays short.
Stdout is left to the command's own result.

The work itself knows nothing of this: it takes a `Report`, a plain `(done, total)` callable,
so the domain modules stay free of the console.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Report = Callable[[int, int], None]
"""Told how many of how many items are done; called as often as the work likes."""


def ignore(done: int, total: int) -> None:
    """A `Report` for callers that show no progress."""


@contextmanager
def progress(
    description: str,
    *,
    stream: TextIO | None = None,
    terminal: bool | None = None,
    every: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Report]:
    """A `Report` that shows `description` and the count: a bar when `stream` (stderr by
    default) is a terminal, else a line at most every `every` seconds and a last one if the
    work took that long."""
    out = stream if stream is not None else sys.stderr
    if terminal if terminal is not None else out.isatty():
        with _bar(description, out) as report:
            yield report
        return
    lines = _Lines(description, out, every=every, clock=clock)
    try:
        yield lines
    finally:
        lines.finish()


@contextmanager
def _bar(description: str, out: TextIO) -> Iterator[Report]:
    # Imported here: the domains import this module for `Report`, and a server or worker
    # starting should not load rich's progress machinery that only a terminal will draw.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=out, force_terminal=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


class _Lines:
    """Plain progress lines, spaced out in time."""

    def __init__(
        self, description: str, out: TextIO, *, every: float, clock: Callable[[], float]
    ) -> None:
        self.description, self.out, self.every, self.clock = description, out, every, clock
        self.started = clock()
        self.last_shown = self.started
        self.done = self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = self.clock()
        if now - self.last_shown >= self.every and done < total:
            self.last_shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        print(
            f"{self.description}: {self.done}/{self.total} ({now - self.started:.0f} s)",
            file=self.out,
            flush=True,
        )

    def finish(self) -> None:
        """The last count, when the work was long enough for anyone to wait on it."""
        now = self.clock()
        if self.total and now - self.started >= self.every:
            self._show(now)
