"""The errors a run stops with: :class:`RunError` (a stage failed, with the fix) and
:class:`RunInterrupted` (SIGINT / SIGTERM)."""

from __future__ import annotations

import signal


class RunError(RuntimeError):
    """A stage failed; the message says why and what to do. ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM arrived during a run (a BaseException, like KeyboardInterrupt, so no
    ``except Exception`` swallows it). Exit code 128 + the signal number, as a shell reports."""

    def __init__(self, signum: int):
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
