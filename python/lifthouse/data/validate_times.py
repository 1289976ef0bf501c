"""Time checks of rows bound for the raw layer: stamps in plausible years and not in the future,
bars on their dataset's grain and spaced by it (naming the sibling dataset whose grain they fit),
funding stamps on the settlement hours. Every failure is a :class:`RawDataError` naming the row;
used by :func:`lifthouse.data.validate.validate`."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from lifthouse.data.schema import DATASETS, DatasetSpec, RawDataError

# Plausible stamps (timestamps outside are a unit or parsing mistake): Binance opened in 2017;
# the upper bound is next year, so a file from the future is refused too.
FIRST_PLAUSIBLE_YEAR = 2010
# A stamp later than now by more than this is refused (market data is never from the future;
# the slack absorbs a clock a few minutes fast), waivable with --allow-any-year (issue 35, 8)
FUTURE_SLACK_SECONDS = 15 * 60
# Funding settles on the hour: every Binance schedule (8 h, 4 h, 1 h) settles at 00:00, 08:00
# and 16:00 UTC; exchange stamps run a few ms late. A stamp more than this off a whole hour is
# refused, and so is a file spanning a 00/08/16 settlement without one (a shifted clock).
FUNDING_GRID_TOLERANCE_SECONDS = 60
# the grain suffix of a dataset name (um_klines_1m, spot_klines_5m)
_GRAIN_SUFFIX = re.compile(r"_\d+m$")


def plausible_years() -> tuple[int, int]:
    """The years a raw stamp may fall in: FIRST_PLAUSIBLE_YEAR .. next year (UTC)."""
    return FIRST_PLAUSIBLE_YEAR, dt.datetime.now(dt.timezone.utc).year + 1


def latest_plausible_us() -> int:
    """The latest stamp a raw row may carry (naive UTC microseconds): now plus
    :data:`FUTURE_SLACK_SECONDS`."""
    now = np.datetime64(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "us")
    return int(now.astype(np.int64)) + FUTURE_SLACK_SECONDS * 1_000_000


def _refuse_future(name: str, t_us: np.ndarray, *, source: str) -> None:
    """Stamps after now (+ slack) are a wrong unit, zone or clock: RawDataError naming the
    first such row (input order)."""
    limit = latest_plausible_us()
    bad = np.flatnonzero(t_us > limit)
    if bad.size:
        i = int(bad[0])
        now = _fmt_us(limit - FUTURE_SLACK_SECONDS * 1_000_000)[:16]
        raise RawDataError(
            f"{name} {_fmt_us(t_us[i])} is in the future (now is {now} UTC; {bad.size} such "
            "row(s)): market data is never from the future, so the time unit, the time zone or "
            "the clock is off", file=source, row=i + 1,
            hint="check --time-unit and --naive-tz (stamps are UTC); if these stamps are right "
                 "(synthetic data), re-run with --allow-any-year")


def _check_funding_grid(t_us: np.ndarray, *, source: str) -> None:
    """Funding stamps more than :data:`FUNDING_GRID_TOLERANCE_SECONDS` off a whole hour, or a
    file spanning a 00:00 / 08:00 / 16:00 UTC settlement without one (a shifted clock)."""
    hour = 3_600_000_000
    tol = FUNDING_GRID_TOLERANCE_SECONDS * 1_000_000
    fix = ("fix the stamps (UTC; for datetimes without a zone, --naive-tz ZONE); if these "
           "times are right, re-run with --allow-off-grain")
    r = t_us % hour
    dist = np.minimum(r, hour - r)
    bad = np.flatnonzero(dist > tol)
    if bad.size:
        i = int(bad[0])
        raise RawDataError(
            f"funding_time {_fmt_us(t_us[i])} is {_fmt_step(float(dist[i]))} off the whole hour "
            f"({bad.size} of {t_us.size} row(s) off it): funding settles on the hour (00:00, "
            "08:00, 16:00 UTC; every 4 h or 1 h for some symbols), so the clock, the time zone "
            "or the time unit is off", file=source, row=i + 1, hint=fix)
    eight = 8 * hour
    r8 = t_us % eight
    if (np.minimum(r8, eight - r8) <= tol).any():
        return
    lo, hi = int(t_us.min()) - tol, int(t_us.max()) + tol
    if -(-lo // eight) * eight > hi:  # the file spans no 00/08/16 settlement
        return
    hours = np.round(r8 / hour).astype(int) % 8
    shift = int(np.bincount(hours, minlength=8).argmax())
    shift = shift - 8 if shift > 4 else shift
    raise RawDataError(
        f"no funding_time falls on 00:00, 08:00 or 16:00 UTC, where every Binance funding "
        f"schedule (8 h, 4 h, 1 h) settles: the stamps look shifted by {shift:+d} h (a local "
        f"time zone?), e.g. {_fmt_us(t_us[0])}", file=source, row=1, hint=fix)


def _check_times(spec: DatasetSpec, t_us: np.ndarray, *, source: str,
                 waive: frozenset[str]) -> None:
    """Refuse stamps that betray a wrong unit or a shifted clock: years outside
    :func:`plausible_years`, bars spaced unlike the dataset's grain, klines off the minute.
    ``t_us`` is in the input's row order (rows are 1-based in messages)."""
    name = spec.time_column
    if "any-year" not in waive:
        lo, hi = plausible_years()
        lo_us = int((np.datetime64(f"{lo}-01-01", "us")).astype(np.int64))
        hi_us = int((np.datetime64(f"{hi + 1}-01-01", "us")).astype(np.int64))
        bad = np.flatnonzero((t_us < lo_us) | (t_us >= hi_us))
        if bad.size:
            i = int(bad[0])
            raise RawDataError(
                f"{name} {_fmt_us(t_us[i])} is outside the plausible years {lo}..{hi} "
                f"({bad.size} such row(s)): the time unit is probably wrong",
                file=source, row=i + 1,
                hint="check --time-unit (Binance files hold milliseconds: --time-unit ms); if "
                     "these dates are right, re-run with --allow-any-year")
        _refuse_future(name, t_us, source=source)
    if spec.grain_seconds is None or t_us.size < 2:
        return
    grain_us = spec.grain_seconds * 1_000_000
    if spec.on_grain and "off-grain" not in waive:
        off = np.flatnonzero(t_us % grain_us != 0)
        if off.size:
            _refuse_other_grain(spec, t_us, source=source,
                                flags="--allow-off-grain --allow-any-spacing")
            i = int(off[0])
            raise RawDataError(
                f"{name} {_fmt_us(t_us[i])} is not on the {spec.grain_seconds} s grain of "
                f"{spec.name} ({off.size} of {t_us.size} row(s) off it): bars open on the "
                "minute, so the clock or the time unit is off",
                file=source, row=i + 1,
                hint="fix the timestamps (or --time-unit); if these stamps are right, re-run "
                     "with --allow-off-grain")
    if "any-spacing" not in waive:
        steps = np.diff(np.sort(t_us))
        typical = float(np.median(steps))
        if not 0.5 * grain_us <= typical <= 1.5 * grain_us:
            _refuse_other_grain(spec, t_us, source=source, flags="--allow-any-spacing")
            raise RawDataError(
                f"{name}: rows are typically {_fmt_step(typical)} apart, but {spec.name} has a "
                f"{spec.grain_seconds} s grain: wrong dataset or wrong time unit",
                file=source, row=2,
                hint="check --dataset and --time-unit; if the spacing is right, re-run with "
                     "--allow-any-spacing")


def grain_siblings(spec: DatasetSpec) -> list[DatasetSpec]:
    """The datasets that differ from ``spec`` in their grain only: ``um_klines_1m`` ->
    [``um_klines_5m``], ``spot_klines_5m`` -> [``spot_klines_1m``]; none for the others."""
    stem = _GRAIN_SUFFIX.sub("", spec.name)
    if stem == spec.name:
        return []
    return [d for d in DATASETS.values() if d.name != spec.name and d.grain_seconds
            and _GRAIN_SUFFIX.sub("", d.name) == stem and d.columns == spec.columns]


def _fits_grain(spec: DatasetSpec, t_us: np.ndarray) -> bool:
    """True when the stamps sit on ``spec``'s grain (when it has one) and are typically spaced
    by it."""
    grain_us = spec.grain_seconds * 1_000_000
    if spec.on_grain and (t_us % grain_us != 0).any():
        return False
    typical = float(np.median(np.diff(np.sort(t_us))))
    return 0.5 * grain_us <= typical <= 1.5 * grain_us


def _refuse_other_grain(spec: DatasetSpec, t_us: np.ndarray, *, source: str, flags: str) -> None:
    """Bars of another grain than ``spec``'s that fit a sibling dataset (1m bars offered as
    ``um_klines_5m``, 5m bars as ``um_klines_1m``): RawDataError naming that dataset (and the
    ``flags`` that would accept them as ``spec`` anyway)."""
    for other in grain_siblings(spec):
        if _fits_grain(other, t_us):
            typical = float(np.median(np.diff(np.sort(t_us))))
            raise RawDataError(
                f"{spec.time_column}: rows are typically {_fmt_step(typical)} apart, but "
                f"{spec.name} has a {spec.grain_seconds} s grain: these are "
                f"{other.name} bars ({other.grain_seconds} s)",
                file=source, row=2,
                hint=f"import them with --dataset {other.name}; if they really are "
                     f"{spec.name} bars, re-run with {flags}")


def _fmt_step(us: float) -> str:
    for size, unit in ((86_400e6, "days"), (3600e6, "h"), (60e6, "min"), (1e6, "s"), (1e3, "ms")):
        if abs(us) >= size:
            return f"{us / size:g} {unit}"
    return f"{us:g} us"


def _fmt_us(us: int) -> str:
    return str(np.datetime64(int(us), "us")).replace("T", " ")
