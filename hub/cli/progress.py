"""Progress of long commands, and colours, on a terminal only.

A command that works for a while (``sync``, ``export``, ``documents issue``, ``verify``,
``journey rebuild``) wraps its work in :func:`progress_bar` and hands the ``advance(n)`` it yields
to the code that does the work. On a terminal a bar (rich) shows the count, the total when it is
known, the rate and the elapsed time on stderr; with ``--json``, or when stdout or stderr is a
file or a pipe, nothing is drawn and ``advance`` does nothing. ``advance`` may be called from
another thread (the store's).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

Advance = Callable[[int], None]


def on_terminal(as_json: bool = False) -> bool:
    """Draw progress and colours: not for scripts (--json), not into files or pipes."""
    return not as_json and sys.stdout.isatty() and sys.stderr.isatty()


class _Rate(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:  # the average since the start: steadier than rich's recent-window speed
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else None
        return Text(f"{rate:,.0f} {self.unit}/s" if rate else f"– {self.unit}/s", style="progress.data.speed")


@contextmanager
def progress_bar(label: str, *, unit: str, total: int | None = None, as_json: bool = False) -> Iterator[Advance]:
    """Yield ``advance(n)``: ``n`` more ``unit`` done (a bar on a terminal, else nothing)."""
    if not on_terminal(as_json):
        yield lambda n: None
        return
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   _Rate(unit), TimeElapsedColumn(), console=Console(stderr=True))
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda n: bar.advance(task, n)
        bar.update(task, total=bar.tasks[0].completed)  # done: the count reached is the whole
