"""Progress for every long step (training, evaluation, benchmarks, large images).

On a terminal: a rich bar with counts, elapsed time and ETA. Elsewhere (logs, CI, a background job): one
plain line every ``every`` seconds, so a log file shows that work goes on and when it will end. ``quiet``
shows nothing.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as _RichProgress
from rich.text import Text

__all__ = ["Progress", "console", "tagged"]

# No markup or emoji codes in what is printed: file names and datasets are text ("scan[1].png", "folder:one:")
console = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)


def tagged(tag: str, style: str, text: str) -> Text:
    """``tag`` in ``style`` (e.g. "error:" in bold red), then ``text`` exactly as it is."""
    return Text.assemble((tag, style), " ", text)


class Progress:
    """``with Progress("epoch 1/10", total=500) as bar: bar.update(done, text="loss 0.0123")``."""

    def __init__(self, label: str, total: int, *, quiet: bool = False, every: float = 30.0, out: Console = console):
        self.label, self.total, self.text = label, max(int(total), 1), ""
        self.out, self.every = out, every
        self.mode = "off" if quiet else ("bar" if out.is_terminal else "lines")
        self.done, self._t0, self._last = 0, time.monotonic(), time.monotonic()

    def __enter__(self) -> Progress:
        if self.mode == "bar":
            self._bar = _RichProgress(TextColumn("{task.description}", markup=False), BarColumn(),
                                      MofNCompleteColumn(), TextColumn("{task.fields[text]}", markup=False),
                                      TimeElapsedColumn(), TimeRemainingColumn(), console=self.out, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, text="")
        return self

    def update(self, done: int | None = None, *, advance: int = 0, total: int | None = None,
               text: str | None = None, label: str | None = None) -> None:
        """Set ``done`` (or add ``advance``) and ``total``; ``text`` and ``label`` replace what is shown."""
        self.done = done if done is not None else self.done + advance
        self.total = max(int(total), 1) if total is not None else self.total
        self.text = text if text is not None else self.text
        self.label = label if label is not None else self.label
        if self.mode == "bar":
            self._bar.update(self._task, completed=self.done, total=self.total, text=self.text,
                             description=self.label)
        elif self.mode == "lines" and time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self.out.print(self.line(), highlight=False)

    def callback(self, done: int, total: int) -> None:
        """For functions that report ``progress(done, total)``."""
        self.update(done, total=total)

    def line(self) -> str:
        """``label: done/total (pct), elapsed, ETA, text`` as one line."""
        elapsed = time.monotonic() - self._t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        return (f"{self.label}: {self.done}/{self.total} ({100 * self.done / self.total:.0f} %), "
                f"{_clock(elapsed)} elapsed, ETA {_clock(eta)}" + (f", {self.text}" if self.text else ""))

    def __exit__(self, *exc) -> bool:
        if self.mode == "bar":
            self._bar.__exit__(*exc)
        return False


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: not known yet
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
