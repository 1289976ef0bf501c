"""Time columns of imported files as naive UTC microseconds: epoch numbers (their unit
detected, seconds only when stated), zone-aware or naive datetimes (``--naive-tz``, with DST
changes refused unless ``--dst`` chooses) and date strings (day/month order never guessed:
``--date-format``). Every refusal names the file, the rows and the flag that fixes it."""

from __future__ import annotations

import calendar
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lifthouse.data.schema import RawDataError

TIME_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}


def _time_to_us(col: pa.ChunkedArray | pa.Array, *, source: Path, name: str,
                time_unit: str | None, naive_tz: str | None, date_format: str | None = None,
                dst: str | None = None) -> pa.Array:
    """Convert a time column to naive UTC microseconds (int64 -> timestamp[us]). A row without
    a time, day/month strings without ``date_format`` and local times that a DST change makes
    ambiguous (unless ``dst`` chooses) or nonexistent are errors naming the rows."""
    _refuse_missing_times(col, source=source, name=name)
    s = pd.Series(col.to_pandas() if hasattr(col, "to_pandas") else col)
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype="float64")
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            raise RawDataError(f"time column {name!r} is empty", file=source)
        mag = float(np.median(np.abs(finite)))
        unit = time_unit
        if unit is None:
            if mag < 1e11:
                raise RawDataError(
                    f"time column {name!r} holds numbers like {int(finite[0])}, which look like "
                    "epoch SECONDS; Binance uses milliseconds, so this is ambiguous",
                    file=source, row=1, hint="if they are seconds, re-run with --time-unit s")
            unit = "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
        factor = TIME_UNITS[unit]
        us = (v * factor) if factor else (v / 1000.0)
        return pa.array(np.round(us).astype("int64"), type=pa.int64()).cast(pa.timestamp("us"))
    if pd.api.types.is_datetime64_any_dtype(s):
        if s.dt.tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        elif naive_tz is None:
            raise RawDataError(
                f"time column {name!r} holds datetimes without a time zone (naive), e.g. {s.iloc[0]}",
                file=source, row=1,
                hint="if they are UTC re-run with --naive-tz UTC (or give the zone they are in)")
        else:
            s = _localize(s, naive_tz, dst=dst, source=source, name=name)
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return pa.array(s.astype("datetime64[us]"), type=pa.timestamp("us"))
    # strings
    if date_format:
        parsed = _parse_with_format(s, date_format, source=source, name=name)
    else:
        _refuse_day_month(s, source=source, name=name)
        try:
            parsed = pd.to_datetime(s, utc=False, format="mixed")
        except (ValueError, TypeError) as exc:
            raise RawDataError(f"time column {name!r} cannot be parsed as dates: {exc}",
                               file=source) from exc
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise RawDataError(f"time column {name!r} has mixed time zones", file=source)
    return _time_to_us(pa.chunked_array([pa.array(parsed)]), source=source, name=name,
                       time_unit=time_unit, naive_tz=naive_tz, dst=dst)


def _rows_text(rows: np.ndarray, most: int = 5) -> str:
    """``rows 3, 4, 5`` (1-based) from 0-based indices, the first ``most`` of them."""
    shown = ", ".join(str(int(i) + 1) for i in rows[:most])
    more = f", ... ({rows.size} in all)" if rows.size > most else ""
    return f"row{'s' if rows.size > 1 else ''} {shown}{more}"


def _refuse_missing_times(col: pa.ChunkedArray | pa.Array, *, source: Path, name: str) -> None:
    """A row whose time is NULL, NaN, infinite or empty text: RawDataError naming the first
    such row of the file (before anything reads the stamps, so no other check fires on it)."""
    arr = col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])
    missing = pc.is_null(arr, nan_is_null=True)
    if pa.types.is_floating(arr.type):
        missing = pc.or_(missing, pc.fill_null(pc.is_inf(arr), False))
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        missing = pc.or_(missing, pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), False))
    rows = np.flatnonzero(missing.to_numpy(zero_copy_only=False))
    if rows.size:
        raise RawDataError(
            f"time column {name!r} is empty (NaN, NULL or blank) in {rows.size} row(s): "
            f"{_rows_text(rows)}", file=source, row=int(rows[0]) + 1,
            hint="fill in the time of those rows or drop them; nothing was written")


# a date written day/month/year or month/day/year (05/06/2025, 5.6.25, 05-06-2025 00:00)
DAY_MONTH_RE = r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)(.*)$"
DAY_MONTH_QUICK = r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}"   # the same, for Arrow (no backreference)


def _time_codes(rest: str) -> str | None:
    """The strftime codes of the time after a date (`` 00:00`` -> `` %H:%M``), None if unknown."""
    if not rest.strip():
        return ""
    m = re.match(r"^([ T])\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$", rest)
    if not m:
        return None
    return (f"{m[1]}%H:%M" + (":%S" if m[2] else "") + (".%f" if m[3] else "")
            + ("%z" if m[4] else ""))


def _refuse_day_month(s: pd.Series, *, source: Path, name: str) -> None:
    """Dates written day/month or month/day (``05/06/2025 00:00``: 5 June or May 6) are refused
    unless ``--date-format`` gives the order: never guessed, even when a day above 12 would
    tell (a file may mix both orders). The fix names the format that fits."""
    if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
        return
    text = pa.array(s.astype("string"), type=pa.string())
    if not pc.any(pc.match_substring_regex(text, DAY_MONTH_QUICK)).as_py():
        return                               # the common case (ISO strings), in Arrow's time
    m = s.astype("string").str.extract(DAY_MONTH_RE)
    hit = m[0].notna().to_numpy()
    if not hit.any():
        return
    rows = np.flatnonzero(hit)
    first = int(rows[0])
    a = m[0].iloc[rows].astype(int).to_numpy()
    b = m[2].iloc[rows].astype(int).to_numpy()
    day_first, month_first = rows[a > 12], rows[b > 12]   # only one order reads them
    sep, year = m[1].iloc[first], "%Y" if len(m[3].iloc[first]) == 4 else "%y"
    codes = _time_codes(str(m[4].iloc[first]))
    tail = codes if codes is not None else " <time codes, e.g. %H:%M>"
    dm, md = f"%d{sep}%m{sep}{year}{tail}", f"%m{sep}%d{sep}{year}{tail}"
    example = str(s.iloc[first]).strip()
    both = (f" ({example!r} is {int(a[0])} {calendar.month_name[int(b[0])]} day first, or "
            f"{calendar.month_name[int(a[0])]} {int(b[0])} month first)"
            if a[0] <= 12 and b[0] <= 12 and a[0] != b[0] else "")
    if day_first.size and month_first.size:
        d, mm = int(day_first[0]), int(month_first[0])
        raise RawDataError(
            f"time column {name!r} mixes day/month and month/day dates: row {d + 1} "
            f"({str(s.iloc[d]).strip()!r}) reads only as day/month, row {mm + 1} "
            f"({str(s.iloc[mm]).strip()!r}) only as month/day", file=source, row=mm + 1,
            hint="write every date in one order (best: ISO, 2025-05-06 00:00); nothing was "
                 "written")
    if day_first.size:
        why = (f"row {int(day_first[0]) + 1} ({str(s.iloc[day_first[0]]).strip()!r}) reads "
               "only as day/month")
        fix = f"pass --date-format '{dm}' (day first)"
    elif month_first.size:
        why = (f"row {int(month_first[0]) + 1} ({str(s.iloc[month_first[0]]).strip()!r}) "
               "reads only as month/day")
        fix = f"pass --date-format '{md}' (month first)"
    else:
        why = "every one of them reads both ways"
        fix = (f"pass --date-format '{dm}' if the day comes first, or --date-format '{md}' if "
               "the month does")
    raise RawDataError(
        f"time column {name!r} holds dates written day/month or month/day{both}; {why}; the "
        "order is never guessed", file=source, row=first + 1,
        hint=fix + "; or export ISO dates (2025-05-06 00:00); nothing was written")


def _parse_with_format(s: pd.Series, fmt: str, *, source: Path, name: str) -> pd.Series:
    """``s`` parsed with the strftime format ``--date-format`` gives; the first row that does
    not match it is an error naming the row."""
    try:
        parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise RawDataError(f"--date-format {fmt!r} cannot parse the time column {name!r}: {exc}",
                           file=source, hint="give strftime codes, e.g. --date-format "
                                             "'%d/%m/%Y %H:%M'") from exc
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise RawDataError(
            f"time column {name!r}: {str(s.iloc[bad[0]]).strip()!r} does not match --date-format "
            f"{fmt!r} ({bad.size} row(s) in all: {_rows_text(bad)})", file=source,
            row=int(bad[0]) + 1,
            hint="give the format the column is written in (strftime codes, e.g. "
                 "'%d/%m/%Y %H:%M'); nothing was written")
    return parsed


# --dst: how local times that occur twice (the clocks set back) are read
DST_CHOICES = ("infer", "earlier", "later")


def _localize(s: pd.Series, zone: str, *, dst: str | None, source: Path,
              name: str) -> pd.Series:
    """Naive local times in ``zone`` as zone-aware times. A local time the clocks skip (the
    start of summer time) is refused, naming the rows: such stamps do not follow that zone's
    clock. A local time that occurs twice (the clocks set back) is refused unless ``dst``
    chooses: ``infer`` (from the row order: the first pass of the repeated hour is the
    earlier one), ``earlier`` or ``later`` (every such time as its first or second pass)."""
    tz = time_zone(zone)
    try:
        return s.dt.tz_localize(tz)
    except ValueError:      # pandas: an ambiguous or nonexistent local time
        pass
    n = len(s)
    first = s.dt.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT")
    second = s.dt.tz_localize(tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    skipped = np.flatnonzero(first.isna().to_numpy())
    if skipped.size:
        raise RawDataError(
            f"time column {name!r}: {skipped.size} local time(s) do not exist in {zone} (its "
            f"clocks skip them, at the start of summer time), e.g. {s.iloc[skipped[0]]} at "
            f"{_rows_text(skipped)}: these stamps do not follow {zone}'s clock",
            file=source, row=int(skipped[0]) + 1,
            hint=f"pass the zone the stamps follow: {_fixed_zone(tz)} for {zone}'s offset "
                 "without summer time, or UTC; nothing was written")
    twice = np.flatnonzero((first != second).to_numpy())
    if dst is None:
        raise RawDataError(
            f"time column {name!r}: {twice.size} local time(s) occur twice in {zone} (its "
            f"clocks are set back, at the end of summer time), e.g. {s.iloc[twice[0]]} at "
            f"{_rows_text(twice)}: which pass each row means is not guessed",
            file=source, row=int(twice[0]) + 1,
            hint="pass --dst infer (from the row order: the repeated hour's first pass is the "
                 "earlier), --dst earlier or --dst later (every such time as its first or "
                 "second pass), or export the times in UTC; nothing was written")
    if dst == "infer":
        try:
            return s.dt.tz_localize(tz, ambiguous="infer")
        except ValueError as exc:
            raise RawDataError(
                f"time column {name!r}: --dst infer cannot tell the two passes of the local "
                f"times that occur twice in {zone} ({_rows_text(twice)}) from the row order "
                f"({exc})", file=source, row=int(twice[0]) + 1,
                hint="pass --dst earlier or --dst later, or export the times in UTC") from None
    pick = np.minimum if dst == "earlier" else np.maximum
    utc = pick(first.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]"),
               second.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]"))
    return pd.Series(utc, index=s.index).dt.tz_localize("UTC").dt.tz_convert(tz)


def _fixed_zone(tz) -> str:
    """The zone name of ``tz``'s offset without summer time (``Etc/GMT-1`` for UTC+1)."""
    import datetime as dt

    std = min(tz.utcoffset(dt.datetime(2025, m, 1)) for m in (1, 7))
    hours = std.total_seconds() / 3600
    if hours == 0:
        return "UTC"
    if hours.is_integer():
        return f"Etc/GMT{-int(hours):+d} (UTC{int(hours):+d}; the Etc sign is inverted)"
    return f"a zone with the fixed offset UTC{hours:+g} h"


def time_zone(name: str):
    """The zone ``--naive-tz`` names, or RawDataError (not a ZoneInfoNotFoundError traceback)."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        import difflib

        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=3)
        raise RawDataError(f"--naive-tz {name!r} is not a known time zone",
                           hint="give an IANA zone such as UTC, Europe/Berlin or Asia/Shanghai"
                                + (f" (close: {', '.join(close)})" if close else "")) from None
