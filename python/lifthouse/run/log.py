"""Progress of a run: stage lines with elapsed times, kept for the run log file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from lifthouse.run.errors import RunInterrupted

STAGES = ("preflight", "build", "export", "report", "manifest")


class RunLog:
    """Prints stage progress with elapsed times and keeps every line for the run log file."""

    def __init__(self, stream: TextIO | None = None, n_stages: int = len(STAGES)):
        self.stream = stream if stream is not None else sys.stdout
        self.n_stages = n_stages
        self.t0 = time.monotonic()
        self.lines: list[str] = []
        self.stage_seconds: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, message: str) -> None:
        line = f"[{self.elapsed():6.1f}s] {message}"
        self.lines.append(line)
        self.stream.write(line + "\n")
        self.stream.flush()

    def raw(self, line: str) -> None:
        self.lines.append(line)
        self.stream.write(line + "\n")
        self.stream.flush()

    def stage(self, name: str, fn: Callable[[], Any]) -> Any:
        k = STAGES.index(name) + 1 if name in STAGES else len(self.stage_seconds) + 1
        self(f"[{k}/{self.n_stages}] {name} ...")
        t = time.monotonic()
        outcome = "failed"
        try:
            result = fn()
            outcome = "done"
            return result
        except RunInterrupted as exc:
            outcome = f"interrupted ({exc.name})"
            raise
        finally:
            secs = time.monotonic() - t
            self.stage_seconds[name] = secs
            self(f"[{k}/{self.n_stages}] {name} {outcome} after {secs:.1f}s"
                 if outcome != "done" else f"[{k}/{self.n_stages}] {name} done in {secs:.1f}s")

    def write(self, path: Path) -> None:
        """The log file; a folder that cannot be written is a warning, not a traceback (the
        run's own error already names it)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(self.lines) + "\n")
        except OSError as exc:
            self.stream.write(f"(run log not written: {path}: {exc.strerror})\n")
