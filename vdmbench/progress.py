"""Progress a person can follow on a terminal and in a log file.

A run reports *stages* (``generate teacher-8step``, ``metrics …``, ``time 3 models``), each with a
count of done units out of a total. Where they go:

- stderr is a terminal: rich progress bars (as before);
- stderr is not a terminal (``nohup``, CI, Slurm, ``2> run.log``): plain lines, one when a stage
  starts, one when it ends, and in between at most one every ``interval_s`` seconds, e.g.
  ``generate teacher-8step 64/128 videos, 1m12s, ~1m10s left``;
- ``quiet``: nothing on stderr;
- ``log_path``: the same events (start, rate-limited progress, end, messages) as JSON lines
  (``{"time", "event", "stage", "subject", "done", "total", "unit", "elapsed_s", "eta_s"}``),
  whatever stderr is and even when ``quiet``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from vdmbench.records import now_iso


def format_duration(seconds: float) -> str:
    """``45s``, ``1m12s``, ``2h05m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Stage:
    """One stage of a run; :meth:`advance` as units complete, :meth:`finish` (or leave the
    ``with`` block) when it ends."""

    def __init__(self, reporter: Reporter, kind: str, subject: str, total: int, unit: str,
                 completed: int) -> None:
        self.reporter, self.kind, self.subject, self.unit = reporter, kind, subject, unit
        self.total, self.done, self._start_done = total, completed, completed
        self.started = time.monotonic()
        self._last_line = self.started
        self._finished = False
        self._task = reporter._add_bar(f"{kind} {subject}", total, completed)
        reporter._emit(self, "start")

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        """Seconds left at this stage's rate so far (None until a unit is done here)."""
        done_here = self.done - self._start_done
        if done_here <= 0:
            return None
        return self.elapsed() / done_here * (self.total - self.done)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.reporter._advance_bar(self._task, n)
        now = time.monotonic()
        if self.done < self.total and now - self._last_line >= self.reporter.interval_s:
            self._last_line = now
            self.reporter._emit(self, "progress")

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            self.reporter._emit(self, "end")


class Reporter:
    """Where a run's progress goes (see the module docstring)."""

    def __init__(self, quiet: bool = False, log_path: Path | None = None,
                 interval_s: float = 30.0, stream: IO[str] | None = None,
                 tty: bool | None = None) -> None:
        self.quiet, self.interval_s = quiet, interval_s
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.log_path = log_path
        self._log: IO[str] | None = None
        self._bars: RichProgress | None = None
        if not quiet and self.tty:
            self._bars = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(file=self.stream), transient=False)

    # -- context --------------------------------------------------------------------------------

    def __enter__(self) -> Reporter:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bars is not None:
            self._bars.stop()
        if self._log is not None:
            if exc is not None:
                self._write_log({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
            self._log.close()
            self._log = None

    # -- API ------------------------------------------------------------------------------------

    def stage(self, kind: str, subject: str, total: int, unit: str,
              completed: int = 0) -> Stage:
        """Start a stage of ``total`` units (``completed`` of them done before it started)."""
        return Stage(self, kind, subject, total, unit, completed)

    def message(self, text: str, **fields: Any) -> None:
        """One line for a person (plain or rich) and a ``message`` event in the log."""
        if not self.quiet:
            if self._bars is not None:
                self._bars.console.print(text, markup=False, highlight=False)
            else:
                self._line(text)
        self._write_log({"event": "message", "message": text, **fields})

    # -- internals ------------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _write_log(self, event: dict[str, Any]) -> None:
        if self._log is not None:
            self._log.write(json.dumps({"time": now_iso(), **event}) + "\n")
            self._log.flush()

    def _add_bar(self, description: str, total: int, completed: int) -> int | None:
        if self._bars is None:
            return None
        return self._bars.add_task(description, total=total, completed=completed)

    def _advance_bar(self, task: int | None, n: int) -> None:
        if self._bars is not None and task is not None:
            self._bars.advance(task, n)

    def _emit(self, stage: Stage, event: str) -> None:
        elapsed, eta = stage.elapsed(), stage.eta()
        self._write_log({"event": event, "stage": stage.kind, "subject": stage.subject,
                         "done": stage.done, "total": stage.total, "unit": stage.unit,
                         "elapsed_s": round(elapsed, 3),
                         "eta_s": None if eta is None else round(eta, 3)})
        if self.quiet or self._bars is not None:
            return
        head = f"{stage.kind} {stage.subject} {stage.done}/{stage.total} {stage.unit}"
        if event == "start":
            tail = "started" if stage.done < stage.total else "nothing to do"
        elif event == "end":
            tail = f"done in {format_duration(elapsed)}"
        else:
            tail = format_duration(elapsed) + ("" if eta is None
                                               else f", ~{format_duration(eta)} left")
        self._line(f"{head}, {tail}")
