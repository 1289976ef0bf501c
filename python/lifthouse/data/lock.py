"""The partition lock of the raw layer: :func:`partition_lock` holds an exclusive ``flock`` on
one ``symbol=`` folder while a writer re-reads, merges and renames its month files, so
concurrent writers of the same dataset and symbol never lose rows. A waiting writer gives up
after :func:`lock_timeout` seconds (``$LIFTHOUSE_LOCK_TIMEOUT``, default 600)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from pathlib import Path

from lifthouse.data.schema import RawDataError

LOCK_TIMEOUT_ENV = "LIFTHOUSE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0


def lock_timeout() -> float:
    """Seconds a writer waits for a partition lock ($LIFTHOUSE_LOCK_TIMEOUT, default 600)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    try:
        return float(text) if text else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise RawDataError(f"${LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds") from None


def _same_folder(fd: int, folder: Path) -> bool:
    """True when ``fd`` is the folder now at ``folder`` (not one removed since it was opened)."""
    try:
        a, b = os.fstat(fd), os.stat(folder)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _open_folder(folder: Path) -> tuple[int, bool]:
    """(a read-only fd of ``folder``, whether this call created it)."""
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(folder, os.O_RDONLY), created
    except OSError as exc:
        raise RawDataError(f"cannot write to {folder}: {exc.strerror}", file=folder,
                           hint="choose a writable --data-dir or fix its permissions") from exc


@contextlib.contextmanager
def partition_lock(folder: Path, timeout: float | None = None):
    """Hold the exclusive lock of one ``symbol=`` folder (``flock`` on the folder itself, so
    the raw layer holds no lock files).

    Waits up to ``timeout`` seconds (default :func:`lock_timeout`) while another writer holds
    it, telling the user once; then raises RawDataError. The kernel releases the lock when its
    holder exits, even after a crash. A folder this call created and no write filled is removed
    again; a writer that waited on a folder removed meanwhile locks the folder now at the path
    (else two writers could each hold the lock of a different folder)."""
    timeout = lock_timeout() if timeout is None else timeout
    t0 = time.monotonic()
    told = False
    while True:
        fd, created = _open_folder(folder)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                waited = time.monotonic() - t0
                if waited >= timeout:
                    raise RawDataError(
                        f"another lifthouse writer still holds the lock of {folder} after "
                        f"{waited:.0f} s; nothing was written", file=folder,
                        hint=f"wait for it to finish and re-run (or raise ${LOCK_TIMEOUT_ENV})")
                if not told:
                    print(f"lifthouse: waiting for another writer of {folder} ...",
                          file=sys.stderr, flush=True)
                    told = True
                time.sleep(0.05)
            if not _same_folder(fd, folder):
                fcntl.flock(fd, fcntl.LOCK_UN)
                continue                 # the folder was removed by its last holder: again
            try:
                yield
            finally:
                if created and not any(folder.iterdir()):
                    folder.rmdir()
                fcntl.flock(fd, fcntl.LOCK_UN)
            return
        finally:
            os.close(fd)
