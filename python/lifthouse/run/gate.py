"""The gate of a dbt build started ahead of time.

``lifthouse run`` starts dbt before its preflight: dbt's start-up (its import and the parse of
the project, 2-6 s) then runs beside the coverage check and the sample generation instead of
after them. dbt must not build before the preflight has passed, so it waits at a gate: once
its parse is done and before it opens the warehouse (``GraphRunnableTask.execute_with_hooks``,
where dbt acquires its first connection), ``lifthouse.run.dbt_main`` reads one line from the
pipe named by ``GATE_ENV``. ``GO`` lets it build. End of file (the preflight failed, the run
was interrupted, or the run's process died) makes it exit with ``CLOSED_EXIT``, having opened
nothing. The parent side is ``lifthouse.run.dbt.StartedDbt``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

GATE_ENV = "LIFTHOUSE_DBT_GATE_FD"
GO = b"go\n"
CLOSED_EXIT = 75


def open_gate() -> tuple[int, int]:
    """(read end for the child, write end kept by the parent)."""
    return os.pipe()


def release(write_end: int) -> None:
    """Let the child build; closes the write end."""
    try:
        os.write(write_end, GO)
    except BrokenPipeError:   # the child ended before its gate (a parse error): its output says why
        pass
    finally:
        os.close(write_end)


def wait(read_end: int) -> bool:
    """Block until the parent releases (True) or closes the gate (False)."""
    with os.fdopen(read_end, "rb") as gate:
        return gate.readline() == GO


def _gated(original: Callable, read_end: int) -> Callable:
    def execute_with_hooks(task: Any, selected_uids: Any):
        if not wait(read_end):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(CLOSED_EXIT)   # nothing opened yet: no warehouse to close
        return original(task, selected_uids)
    execute_with_hooks.lifthouse_original = original   # type: ignore[attr-defined]
    return execute_with_hooks


def install(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """In the dbt process: wait at the gate named by ``GATE_ENV`` (removed from ``environ``, so
    nothing dbt starts inherits it) before the build opens the warehouse. False when there is
    no gate. Should dbt no longer have the method the gate wraps, the wait happens here, at
    once (before the parse): later than the build may start is never."""
    fd = environ.pop(GATE_ENV, None)
    if fd is None:
        return False
    try:
        from dbt.task.runnable import GraphRunnableTask
        original = GraphRunnableTask.execute_with_hooks
    except (ImportError, AttributeError):
        if not wait(int(fd)):
            os._exit(CLOSED_EXIT)
        return True
    GraphRunnableTask.execute_with_hooks = _gated(original, int(fd))
    return True
