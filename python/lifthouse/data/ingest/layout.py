"""The Binance public-archive layout (data.binance.vision) and the download plan.

Pure functions: which zip archives cover a window, where they live, what they are called.

Archive paths (relative to the base URL)::

    data/<market>/<monthly|daily>/<kind>/<ARCHIVE_SYMBOL>/[<interval>/]<stem>.zip
    data/<market>/<monthly|daily>/<kind>/<ARCHIVE_SYMBOL>/[<interval>/]<stem>.zip.CHECKSUM

with ``<stem>`` = ``<ARCHIVE_SYMBOL>-<interval or kind>-<YYYY-MM or YYYY-MM-DD>`` and the zip
holding one ``<stem>.csv``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from lifthouse.data.schema import (BAR_MINUTES, DATASETS, RawDataError, check_bar_minutes,
                                   perp_klines_dataset, spot_klines_dataset)
from lifthouse.data.symbols import normalize_symbol


@dataclass(frozen=True)
class Source:
    """Where one raw dataset comes from in the archive."""

    dataset: str
    market: str  # "futures/um", "futures/cm", "spot"
    kind: str  # archive folder: klines, markPriceKlines, fundingRate, metrics, ...
    interval: str | None  # "1m" / "5m" for klines, None otherwise
    monthly: bool
    daily: bool


SOURCES: dict[str, Source] = {
    s.dataset: s
    for s in [
        Source("um_klines_1m", "futures/um", "klines", "1m", True, True),
        Source("spot_klines_1m", "spot", "klines", "1m", True, True),
        Source("um_klines_5m", "futures/um", "klines", "5m", True, True),
        Source("spot_klines_5m", "spot", "klines", "5m", True, True),
        Source("um_mark_klines_1m", "futures/um", "markPriceKlines", "1m", True, True),
        Source("um_premium_index_klines_1m", "futures/um", "premiumIndexKlines", "1m", True, True),
        Source("um_funding_rate", "futures/um", "fundingRate", None, True, False),
        Source("um_open_interest_5m", "futures/um", "metrics", None, False, True),
        Source("um_liquidations", "futures/cm", "liquidationSnapshot", None, False, True),
    ]
}

# short names whose dataset is the klines of the grain ingest is asked for (--bar-minutes)
GRAIN_ALIASES: dict[str, Callable[[int], str]] = {
    "klines": perp_klines_dataset,
    "perp": perp_klines_dataset,
    "spot": spot_klines_dataset,
}
# short names of one dataset whatever the grain
FIXED_ALIASES: dict[str, str] = {
    **{f"{name}{m}m": fn(m) for m in BAR_MINUTES for name, fn in GRAIN_ALIASES.items()},
    "mark": "um_mark_klines_1m",
    "premium": "um_premium_index_klines_1m",
    "funding": "um_funding_rate",
    "metrics": "um_open_interest_5m",
    "oi": "um_open_interest_5m",
    "open_interest": "um_open_interest_5m",
    "liquidations": "um_liquidations",
}
# the klines datasets of one grain: "all" takes those of the grain asked for only
KLINES_GRAIN: dict[str, int] = {fn(m): m for m in BAR_MINUTES for fn in GRAIN_ALIASES.values()}


def aliases(bar_minutes: int = 1) -> dict[str, str]:
    """The short names --datasets accepts, besides the raw dataset names, at ``bar_minutes``:
    ``klines``/``perp`` and ``spot`` mean the klines of that grain; ``klines5m``, ``spot1m``,
    ``funding``, ``oi``, ... mean one dataset whatever the grain."""
    grain = check_bar_minutes(bar_minutes)
    return {**{k: fn(grain) for k, fn in GRAIN_ALIASES.items()}, **FIXED_ALIASES}


# the short names at the default grain (1m)
ALIASES: dict[str, str] = aliases(1)

# USD value of one COIN-M perpetual contract (Binance contract specs)
CM_CONTRACT_USD: dict[str, float] = {"BTCUSD_PERP": 100.0}
CM_CONTRACT_USD_DEFAULT = 10.0

DEFAULT_BASE_URL = "https://data.binance.vision"

assert set(SOURCES) == set(DATASETS), "every raw dataset needs an archive source"


def all_datasets(bar_minutes: int = 1) -> list[str]:
    """Every archive dataset a run at ``bar_minutes`` can read: the klines of that grain (not
    the other grain's) and every other dataset."""
    grain = check_bar_minutes(bar_minutes)
    return [d for d in SOURCES if KLINES_GRAIN.get(d, grain) == grain]


def parse_datasets(text: str | None, bar_minutes: int = 1) -> list[str]:
    """``"klines,funding"`` -> ``["um_klines_1m", "um_funding_rate"]`` (``um_klines_5m`` at
    ``bar_minutes`` 5); None/"all" -> :func:`all_datasets`."""
    if text is None or text.strip().lower() in ("", "all"):
        return all_datasets(bar_minutes)
    names = aliases(bar_minutes)
    out: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        ds = names.get(name.lower(), name)
        if ds not in SOURCES:
            raise RawDataError(
                f"unknown dataset {name!r}",
                hint=f"use one of {', '.join(SOURCES)} (or the short names {', '.join(names)})",
            )
        if ds not in out:
            out.append(ds)
    return out


def parse_symbols(text: str | list[str]) -> list[str]:
    parts = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for p in parts:
        if p.strip():
            s = normalize_symbol(p)
            if s not in out:
                out.append(s)
    if not out:
        raise RawDataError("no symbols given", hint="pass --symbols BTCUSDT,ETHUSDT,SOLUSDT")
    return out


def cm_symbol(symbol: str) -> str:
    """USD-M symbol -> its COIN-M perpetual: BTCUSDT -> BTCUSD_PERP."""
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    return f"{base}USD_PERP"


def contract_usd(archive_symbol: str) -> float:
    return CM_CONTRACT_USD.get(archive_symbol, CM_CONTRACT_USD_DEFAULT)


@dataclass(frozen=True)
class Archive:
    """One zip in the archive: the unit of download, verification and writing."""

    dataset: str
    symbol: str  # the USD-M symbol the user asked for (raw layer partition)
    archive_symbol: str  # the symbol in the archive path (BTCUSD_PERP for COIN-M)
    freq: str  # "monthly" | "daily"
    period: str  # "YYYY-MM" | "YYYY-MM-DD"

    @property
    def source(self) -> Source:
        return SOURCES[self.dataset]

    @property
    def stem(self) -> str:
        mid = self.source.interval or self.source.kind
        return f"{self.archive_symbol}-{mid}-{self.period}"

    @property
    def name(self) -> str:
        return f"{self.stem}.zip"

    @property
    def csv_name(self) -> str:
        return f"{self.stem}.csv"

    @property
    def path(self) -> str:
        s = self.source
        parts = ["data", s.market, self.freq, s.kind, self.archive_symbol]
        if s.interval:
            parts.append(s.interval)
        return "/".join(parts + [self.name])

    @property
    def start(self) -> dt.date:
        if self.freq == "daily":
            return dt.date.fromisoformat(self.period)
        return dt.date.fromisoformat(self.period + "-01")

    @property
    def end(self) -> dt.date:
        """Exclusive end of the period the archive covers."""
        if self.freq == "daily":
            return self.start + dt.timedelta(days=1)
        return _next_month(self.start)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def make_archive(dataset: str, symbol: str, freq: str, period: str) -> Archive:
    arch_sym = cm_symbol(symbol) if SOURCES[dataset].market == "futures/cm" else symbol
    return Archive(dataset, symbol, arch_sym, freq, period)


def daily_archives(dataset: str, symbol: str, start: dt.date, end: dt.date) -> list[Archive]:
    """One daily archive per day in [start, end)."""
    out = []
    d = start
    while d < end:
        out.append(make_archive(dataset, symbol, "daily", d.isoformat()))
        d += dt.timedelta(days=1)
    return out


@dataclass
class Plan:
    archives: list[Archive]
    # days not requested because the archive cannot have them yet (>= today, UTC)
    not_yet_published: tuple[dt.date, dt.date] | None = None


def plan(datasets: list[str], symbols: list[str], start: dt.date, end: dt.date,
         today: dt.date) -> Plan:
    """The archives covering [start, end) for every dataset and symbol.

    Whole calendar months inside the window that have ended before ``today`` come from the
    monthly archive; the other days from daily archives. Datasets published monthly only
    (funding) use every month overlapping the window; those published daily only use days.
    Days on or after ``today`` (UTC) are not published yet and are left out.
    """
    if end <= start:
        raise RawDataError(f"empty window: --end {end} is not after --start {start}",
                           hint="--end is exclusive: --start 2025-05-01 --end 2025-06-01 is May")
    clipped = None
    if end > today:
        clipped = (max(start, today), end)
    stop = min(end, today)
    archives: list[Archive] = []
    for ds in datasets:
        src = SOURCES[ds]
        for sym in symbols:
            if src.monthly and not src.daily:
                m = dt.date(start.year, start.month, 1)
                while m < stop:
                    archives.append(make_archive(ds, sym, "monthly", m.strftime("%Y-%m")))
                    m = _next_month(m)
                continue
            d = start
            while d < stop:
                m0 = dt.date(d.year, d.month, 1)
                m1 = _next_month(m0)
                if src.monthly and m0 == d and m1 <= stop:
                    archives.append(make_archive(ds, sym, "monthly", m0.strftime("%Y-%m")))
                    d = m1
                else:
                    upto = min(m1, stop)
                    archives.extend(daily_archives(ds, sym, d, upto))
                    d = upto
    return Plan(archives, clipped)


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path
