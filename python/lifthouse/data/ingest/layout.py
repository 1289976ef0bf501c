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

from lifthouse.data.raw import normalize_symbol
from lifthouse.data.schema import DATASETS, RawDataError


@dataclass(frozen=True)
class Source:
    """Where one raw dataset comes from in the archive."""

    dataset: str
    market: str  # "futures/um", "futures/cm", "spot"
    kind: str  # archive folder: klines, markPriceKlines, fundingRate, metrics, ...
    interval: str | None  # "1m" for klines, None otherwise
    monthly: bool
    daily: bool


SOURCES: dict[str, Source] = {
    s.dataset: s
    for s in [
        Source("um_klines_1m", "futures/um", "klines", "1m", True, True),
        Source("spot_klines_1m", "spot", "klines", "1m", True, True),
        Source("um_mark_klines_1m", "futures/um", "markPriceKlines", "1m", True, True),
        Source("um_premium_index_klines_1m", "futures/um", "premiumIndexKlines", "1m", True, True),
        Source("um_funding_rate", "futures/um", "fundingRate", None, True, False),
        Source("um_open_interest_5m", "futures/um", "metrics", None, False, True),
        Source("um_liquidations", "futures/cm", "liquidationSnapshot", None, False, True),
    ]
}

# short names accepted by --datasets, besides the raw dataset names
ALIASES: dict[str, str] = {
    "klines": "um_klines_1m",
    "perp": "um_klines_1m",
    "spot": "spot_klines_1m",
    "mark": "um_mark_klines_1m",
    "premium": "um_premium_index_klines_1m",
    "funding": "um_funding_rate",
    "metrics": "um_open_interest_5m",
    "oi": "um_open_interest_5m",
    "open_interest": "um_open_interest_5m",
    "liquidations": "um_liquidations",
}

# USD value of one COIN-M perpetual contract (Binance contract specs)
CM_CONTRACT_USD: dict[str, float] = {"BTCUSD_PERP": 100.0}
CM_CONTRACT_USD_DEFAULT = 10.0

DEFAULT_BASE_URL = "https://data.binance.vision"

assert set(SOURCES) == set(DATASETS), "every raw dataset needs an archive source"


def parse_datasets(text: str | None) -> list[str]:
    """``"klines,funding"`` -> ``["um_klines_1m", "um_funding_rate"]``; None/"all" -> all."""
    if text is None or text.strip().lower() in ("", "all"):
        return list(SOURCES)
    out: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        ds = ALIASES.get(name.lower(), name)
        if ds not in SOURCES:
            raise RawDataError(
                f"unknown dataset {name!r}",
                hint=f"use one of {', '.join(SOURCES)} (or the short names {', '.join(ALIASES)})",
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
