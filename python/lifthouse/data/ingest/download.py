"""Fetch archive files over HTTP(S) or from a local mirror, with bounded retries and sha256.

Standard library only. Transient failures (HTTP 5xx/429, connection reset or refused, a body
shorter than its Content-Length, timeouts) are retried with exponential backoff
(``backoff_base * 2**attempt`` seconds); a 404 raises :class:`NotFound` at once; anything else
raises :class:`FetchError`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHUNK = 1 << 16
USER_AGENT = "lifthouse-ingest/0.1 (+https://data.binance.vision)"


class FetchError(Exception):
    """A file could not be fetched. ``transient`` says whether retrying might help."""

    def __init__(self, url: str, reason: str, *, transient: bool = False):
        self.url = url
        self.reason = reason
        self.transient = transient
        super().__init__(f"{url}: {reason}")


class NotFound(FetchError):
    """HTTP 404 / missing mirror file: the archive does not have this day or month (yet)."""

    def __init__(self, url: str):
        super().__init__(url, "not found (404)")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_base: float = 1.0
    timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        return self.backoff_base * (2 ** attempt)


def _mirror_path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(urllib.request.url2pathname(parsed.path))


def _open(url: str, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http/https/file only)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            raise NotFound(url) from None
        transient = exc.code >= 500 or exc.code == 429
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}", transient=transient) from None
    except urllib.error.URLError as exc:
        raise FetchError(url, f"cannot connect: {exc.reason}", transient=True) from None
    except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}", transient=True) from None


def _fetch_once(url: str, dest: Path | None, timeout: float,
                on_bytes: Callable[[int], None] | None) -> tuple[bytes | None, str, int]:
    """One attempt: stream the body to ``dest`` (or memory). Returns (body or None, sha256, size)."""
    local = _mirror_path(url)
    h = hashlib.sha256()
    size = 0
    chunks: list[bytes] = []
    if local is not None:
        if not local.is_file():
            raise NotFound(url)
        src = open(local, "rb")
        expected = None
    else:
        src = _open(url, timeout)
        length = src.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
    try:
        out = open(dest, "wb") if dest is not None else None
        try:
            while True:
                try:
                    chunk = src.read(CHUNK)
                except http.client.IncompleteRead as exc:
                    raise FetchError(url, f"connection closed after {size + len(exc.partial)} "
                                          f"of {expected} bytes", transient=True) from None
                except (TimeoutError, socket.timeout, ConnectionError, OSError) as exc:
                    raise FetchError(url, f"{type(exc).__name__} while reading: {exc}",
                                     transient=True) from None
                if not chunk:
                    break
                h.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
                else:
                    chunks.append(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        finally:
            if out is not None:
                out.close()
    finally:
        src.close()
    if expected is not None and size != expected:
        raise FetchError(url, f"connection closed after {size} of {expected} bytes",
                         transient=True)
    return (None if dest is not None else b"".join(chunks)), h.hexdigest(), size


def fetch(url: str, dest: Path | None = None, *, policy: RetryPolicy = RetryPolicy(),
          on_bytes: Callable[[int], None] | None = None,
          sleep: Callable[[float], None] = time.sleep,
          on_retry: Callable[[str, int, FetchError], None] | None = None,
          ) -> tuple[bytes | None, str, int]:
    """Fetch ``url`` with retries. With ``dest`` the body is streamed into that file (which is
    removed on failure) and None is returned in place of the body."""
    last: FetchError | None = None
    for attempt in range(policy.attempts):
        try:
            return _fetch_once(url, dest, policy.timeout, on_bytes)
        except FetchError as exc:
            if dest is not None and dest.exists():
                os.unlink(dest)
            if not exc.transient:
                raise
            last = exc
            if attempt + 1 < policy.attempts:
                if on_retry:
                    on_retry(url, attempt + 1, exc)
                sleep(policy.delay(attempt))
    assert last is not None
    raise FetchError(last.url, f"{last.reason} (gave up after {policy.attempts} attempts)")


def parse_checksum(text: str, name: str, url: str) -> str:
    """``"<sha256 hex>  <name>"`` -> the hex digest; checks the name matches."""
    parts = text.strip().split()
    if len(parts) != 2 or len(parts[0]) != 64 or not all(c in "0123456789abcdef"
                                                         for c in parts[0].lower()):
        raise FetchError(url, f"not a CHECKSUM file (expected '<sha256>  {name}', got "
                              f"{text.strip()[:80]!r})")
    if parts[1].lstrip("*") != name:
        raise FetchError(url, f"CHECKSUM names {parts[1]!r}, expected {name!r}")
    return parts[0].lower()
