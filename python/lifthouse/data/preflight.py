"""``lifthouse preflight``: is the raw layer complete enough for a run window?

For every symbol and raw dataset it counts, over the window plus its lookback buffer
(``[start - lookback_days, end)``, UTC), the time slots expected and present (minutes for 1m
klines, 5-minute slots for 5m klines and open interest, 8h settlements for funding, days with
any forced order for liquidations), the longest gap and the first/last stamp. A run at
``bar_minutes`` 5 reads the 5m klines (``um_klines_5m``, ``spot_klines_5m``) instead of the 1m
ones, so those are checked instead. Required datasets
(:func:`lifthouse.data.schema.required_datasets`) that are missing or below ``min_coverage`` are
errors and come with the ``lifthouse ingest`` command that would fill them; missing optional
datasets are warnings that name what the run will lack.

Python API for the run orchestrator: :func:`check_coverage` -> :class:`PreflightReport`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lifthouse import defaults
from lifthouse.data.raw import list_files, resolve_data_dir
from lifthouse.data.schema import (BAR_MINUTES, DATASETS, check_bar_minutes, perp_klines_dataset,
                                   required_datasets, spot_klines_dataset)
from lifthouse.data.symbols import normalize_symbol

# dataset -> (slot length in seconds, unit name)
GRAIN: dict[str, tuple[int, str]] = {
    "um_klines_1m": (60, "minutes"),
    "spot_klines_1m": (60, "minutes"),
    "um_klines_5m": (300, "5m slots"),
    "spot_klines_5m": (300, "5m slots"),
    "um_mark_klines_1m": (60, "minutes"),
    "um_premium_index_klines_1m": (60, "minutes"),
    "um_funding_rate": (8 * 3600, "8h settlements"),
    "um_open_interest_5m": (300, "5m slots"),
    "um_liquidations": (86400, "days with orders"),
}


@dataclass
class Coverage:
    dataset: str
    symbol: str
    unit: str
    slot_seconds: int
    expected: int
    present: int
    rows: int
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    gap_start: dt.datetime | None = None  # first missing slot of the longest gap
    gap_slots: int = 0

    @property
    def ratio(self) -> float:
        return self.present / self.expected if self.expected else 0.0

    @property
    def missing(self) -> bool:
        return self.rows == 0

    def gap_text(self) -> str:
        if not self.gap_slots or self.gap_start is None:
            return "-"
        end = self.gap_start + dt.timedelta(seconds=self.slot_seconds * self.gap_slots)
        return f"{_ts(self.gap_start)} .. {_ts(end)} ({_dur(self.gap_slots * self.slot_seconds)})"


@dataclass
class PreflightReport:
    data_dir: Path
    symbols: list[str]
    start: dt.date
    end: dt.date
    lookback_days: int
    coverage: list[Coverage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ingest_command: str | None = None  # fills the required data that is missing
    optional_command: str | None = None  # adds the optional data that is missing
    bar_minutes: int = 1  # the grain of the run: which klines datasets are checked
    future: str | None = None  # the window reaches past today and required data is missing
    notes: list[str] = field(default_factory=list)  # the raw files' own check (rawcheck)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def window_start(self) -> dt.date:
        return self.start - dt.timedelta(days=self.lookback_days)

    def get(self, dataset: str, symbol: str) -> Coverage:
        return next(c for c in self.coverage if c.dataset == dataset and c.symbol == symbol)

    def render(self) -> str:
        lines = [
            f"preflight: window {self.start} .. {self.end} (end exclusive) + {self.lookback_days} "
            f"lookback day(s): checking {self.window_start} 00:00 .. {self.end} 00:00 UTC "
            f"in {self.data_dir}" + (f" ({self.bar_minutes}m bars)" if self.bar_minutes != 1
                                     else ""),
            "",
        ]
        head = ["symbol", "dataset", "present / expected", "coverage", "first", "last",
                "longest gap"]
        body = []
        for c in self.coverage:
            body.append([
                c.symbol, c.dataset, f"{c.present} / {c.expected} {c.unit}",
                "missing" if c.missing else f"{100 * c.ratio:.1f}%",
                _ts(c.first) if c.first else "-", _ts(c.last) if c.last else "-",
                c.gap_text() if not c.missing else "-",
            ])
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        for r in [head] + body:
            lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if self.errors:
            lines += ["", "errors:"] + [f"  {e}" for e in self.errors]
        if self.warnings:
            lines += ["", "warnings:"] + [f"  {w}" for w in self.warnings]
        if self.ingest_command:
            lines += ["", "to fill the required data, run:", f"  {self.ingest_command}"]
        if self.optional_command:
            lines += ["", "to add the optional data the archive may have, run:",
                      f"  {self.optional_command}"]
        if self.notes:
            lines += ["", "notes:"] + [f"  {n}" for n in self.notes]
        lines += ["", "preflight: OK" if self.ok else "preflight: FAILED (required data missing)"]
        return "\n".join(lines)


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _dur(seconds: int) -> str:
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else ""]
    return " ".join(p for p in parts if p) or f"{seconds} s"


def _as_date(x: dt.date | str) -> dt.date:
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


def measure(con: duckdb.DuckDBPyConnection, data_dir: Path, dataset: str, symbol: str,
            lo: dt.datetime, hi: dt.datetime) -> Coverage:
    """Coverage of one dataset and symbol over [lo, hi) from its Parquet files."""
    slot, unit = GRAIN[dataset]
    expected = int((hi - lo).total_seconds() // slot)
    cov = Coverage(dataset, symbol, unit, slot, expected, 0, 0)
    files = list_files(data_dir, dataset, symbol)  # the month files dbt's sources read
    if not files:
        return cov
    tcol = DATASETS[dataset].time_column
    slot_us = slot * 1_000_000
    # one scan for the counts and bounds; the longest inner gap (a sort of the slots) only when
    # the present slots do not fill [first slot, last slot]
    source = f"""
        select (epoch_us("{tcol}") // {slot_us}) * {slot_us} as slot, "{tcol}" as t
        from read_parquet(?)
        where "{tcol}" >= ? and "{tcol}" < ?
    """
    params = [[str(f) for f in files], lo, hi]
    rows, first, last, present, smin, smax = con.execute(
        f"select count(*), min(t), max(t), count(distinct slot), min(slot), max(slot) "
        f"from ({source})", params).fetchone()
    gap_end = gap_step = None
    if rows and present < (smax - smin) // slot_us + 1:
        gap_end, gap_step = con.execute(
            f"""
            with s as (select distinct slot from ({source})),
            g as (select slot, slot - lag(slot) over (order by slot) as step from s)
            select arg_max(slot, step), max(step) from g where step > {slot_us}
            """, params).fetchone()
    cov.rows, cov.first, cov.last, cov.present = int(rows), first, last, int(present)
    if not rows:
        return cov
    lo_us = int(lo.replace(tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    hi_us = int(hi.replace(tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    # candidate gaps: before the first slot, between slots, after the last slot
    lo_slot = -(-lo_us // slot_us) * slot_us
    cands = [(lo_slot, (smin - lo_slot) // slot_us),
             (smax + slot_us, (hi_us - smax - slot_us) // slot_us)]
    if gap_end is not None:
        cands.append((gap_end - gap_step + slot_us, gap_step // slot_us - 1))
    start_us, n = max(cands, key=lambda c: c[1])
    if n > 0:
        cov.gap_start = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(start_us))
        cov.gap_slots = int(n)
    return cov


def check_readable(data_dir: Path) -> None:
    """Every file of the raw layout is the writer's and opens (all symbols, all months: dbt's
    sources glob every file); kept for callers of the old name: :func:`check_coverage` runs the
    full check, :func:`lifthouse.data.rawcheck.check_files`."""
    from lifthouse.data.rawcheck import check_files

    check_files(data_dir, [])


def check_coverage(
    data_dir: str | os.PathLike | None,
    symbols: list[str] | tuple[str, ...] | str = defaults.SYMBOLS,
    start: dt.date | str = "",
    end: dt.date | str = "",
    lookback_days: int = defaults.LOOKBACK_DAYS,
    *,
    min_coverage: float = 0.95,
    bar_minutes: int = 1,
) -> PreflightReport:
    """Measure every dataset a run at ``bar_minutes`` (1 or 5) reads for every symbol; decide
    errors, warnings and the ingest command. At 5 the klines checked are ``um_klines_5m``
    (required) and ``spot_klines_5m`` (optional), counted in 5-minute slots."""
    bar_minutes = check_bar_minutes(bar_minutes)
    data_dir = resolve_data_dir(data_dir)
    if isinstance(symbols, str):
        symbols = symbols.split(",")
    syms = list(dict.fromkeys(normalize_symbol(s) for s in symbols if s.strip()))
    start, end = _as_date(start), _as_date(end)
    if end <= start:
        raise ValueError(f"empty window: end {end} is not after start {start}")
    if not 0 < min_coverage <= 1:
        raise ValueError(f"--min-coverage {min_coverage} must be a share in (0, 1] (0.95: a "
                         "required dataset must have 95% of its slots)")
    rep = PreflightReport(data_dir, syms, start, end, lookback_days, bar_minutes=bar_minutes)
    # the layout's own files first: strays, damaged files, rows outside their month, checksums
    from lifthouse.data.rawcheck import check_files

    checked = check_files(data_dir, syms)
    rep.notes += checked.notes
    rep.warnings += checked.warnings
    lo = dt.datetime.combine(rep.window_start, dt.time())
    hi = dt.datetime.combine(end, dt.time())
    con = duckdb.connect()
    try:
        for sym in syms:
            for ds in checked_datasets(bar_minutes):
                rep.coverage.append(measure(con, data_dir, ds, sym, lo, hi))
    finally:
        con.close()
    _judge(rep, min_coverage)
    return rep


def checked_datasets(bar_minutes: int = 1) -> list[str]:
    """The datasets preflight measures for a run at ``bar_minutes``: every dataset of
    :data:`GRAIN` but the klines of the other grain."""
    other = {f(m) for m in BAR_MINUTES if m != bar_minutes
             for f in (perp_klines_dataset, spot_klines_dataset)}
    return [ds for ds in GRAIN if ds not in other]


def _judge(rep: PreflightReport, min_coverage: float) -> None:
    need: dict[str, list[str]] = {}  # dataset -> symbols to ingest (required)
    want: dict[str, list[str]] = {}  # optional
    for sym in rep.symbols:
        for ds in required_datasets(rep.bar_minutes):
            c = rep.get(ds, sym)
            if c.missing:
                rep.errors.append(f"{sym}: no {ds} in the window (required)")
                need.setdefault(ds, []).append(sym)
            elif c.ratio < min_coverage:
                rep.errors.append(
                    f"{sym}: {ds} is badly incomplete: {c.present} of {c.expected} {c.unit} "
                    f"({100 * c.ratio:.1f}% < {100 * min_coverage:.0f}%), longest gap "
                    f"{c.gap_text()}")
                need.setdefault(ds, []).append(sym)
            elif c.gap_slots:
                rep.warnings.append(
                    f"{sym}: {ds} has gaps ({100 * c.ratio:.1f}% of {c.unit}); longest "
                    f"{c.gap_text()}: gap bars are flagged and their returns are NULL")
        oi, liq = rep.get("um_open_interest_5m", sym), rep.get("um_liquidations", sym)
        spot = rep.get(spot_klines_dataset(rep.bar_minutes), sym)
        if oi.missing and liq.missing:
            rep.warnings.append(f"{sym}: no open interest and no liquidations: no "
                                "LIQUIDATION_CASCADE events")
        elif oi.missing:
            rep.warnings.append(f"{sym}: no open interest: oi features NULL; "
                                "LIQUIDATION_CASCADE uses liquidation evidence only")
        elif liq.missing:
            rep.warnings.append(f"{sym}: no liquidations: liq_long_usd/liq_short_usd NULL; "
                                "LIQUIDATION_CASCADE uses open-interest evidence only")
        if spot.missing:
            rep.warnings.append(f"{sym}: no spot klines: basis_bps NULL")
        for c in (oi, spot):
            if not c.missing and c.gap_slots and c.ratio < 1:
                rep.warnings.append(
                    f"{sym}: {c.dataset} covers {100 * c.ratio:.1f}% of {c.unit}; longest gap "
                    f"{c.gap_text()}")
        mark, prem = rep.get("um_mark_klines_1m", sym), rep.get("um_premium_index_klines_1m", sym)
        if mark.missing or prem.missing:
            what = " and ".join(n for n, c in (("mark-price", mark), ("premium-index", prem))
                                if c.missing)
            rep.warnings.append(f"{sym}: no {what} klines (optional; features v1 do not use them)")
        for ds, c in (("um_open_interest_5m", oi), ("um_liquidations", liq),
                      (spot.dataset, spot)):
            if c.missing:
                want.setdefault(ds, []).append(sym)
    end = rep.end
    today = utc_today()
    if need and rep.end > today:
        # no archive holds days that have not ended: an ingest of them can never succeed
        if rep.window_start >= today:
            rep.future = (f"the window {rep.window_start} .. {rep.end} lies in the future (today "
                          f"is {today} UTC): no market data exists for it yet; choose a window "
                          f"that ends on or before {today}")
            end = None
        else:
            rep.future = (f"the window ends {rep.end} (exclusive), after today {today} UTC: the "
                          f"days from {today} on have no data yet (an ingest covers the days "
                          f"before {today}); choose --end {today} or earlier")
            end = today
        rep.errors.insert(0, rep.future)
    rep.ingest_command = _command(rep, need, end)
    rep.optional_command = _command(rep, want, end)


def utc_today() -> dt.date:
    """Today's date in UTC: a day from it on has not ended, so no archive holds it."""
    return dt.datetime.now(dt.timezone.utc).date()


def _command(rep: PreflightReport, by_dataset: dict[str, list[str]],
             end: dt.date | None = None) -> str | None:
    """The ``lifthouse ingest`` command for ``by_dataset``, up to ``end`` (the window's end;
    None: nothing an ingest can fill)."""
    if not by_dataset or end is None:
        return None
    syms = [s for s in rep.symbols if any(s in v for v in by_dataset.values())]
    cmd = (f"lifthouse ingest --symbols {','.join(syms)} --start {rep.window_start} "
           f"--end {end} --datasets {','.join(by_dataset)}")
    return cmd + f" --data-dir {rep.data_dir}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", "--start-date", dest="start", help="first day of the analysis window (UTC); required unless --record-checksums")
    parser.add_argument("--end", "--end-date", dest="end", help="day after the last one (exclusive); required unless --record-checksums")
    parser.add_argument("--record-checksums", action="store_true",
                        help="first record the rows checksum in every month file that has none "
                             "(files written before lifthouse recorded checksums): each is "
                             "rewritten with the same rows, under the writer's lock")
    parser.add_argument("--symbols", default=",".join(defaults.SYMBOLS),
                        help=f"comma-separated symbols (default {','.join(defaults.SYMBOLS)})")
    parser.add_argument("--lookback-days", "--lookback_days", dest="lookback_days", type=int,
                        default=defaults.LOOKBACK_DAYS, help="warm-up days before --start that "
                        f"must be present too (default {defaults.LOOKBACK_DAYS})")
    parser.add_argument("--min-coverage", type=float, default=0.95,
                        help="required datasets below this share of slots fail, in (0, 1] "
                             "(default 0.95)")
    parser.add_argument("--bar-minutes", type=int, choices=BAR_MINUTES, default=1,
                        help="the grain of the run: 5 checks um_klines_5m (required) and "
                             "spot_klines_5m instead of the 1m klines (default 1)")
    parser.add_argument("--data-dir", help="raw data directory (default $LIFTHOUSE_DATA_DIR or data/raw)")


def run(args: argparse.Namespace) -> int:
    if args.record_checksums:
        from lifthouse.data.rawcheck import record_checksums

        data_dir = resolve_data_dir(args.data_dir)
        done = record_checksums(data_dir)
        print(f"lifthouse preflight: recorded the rows checksum of {len(done)} file(s) under "
              f"{data_dir}")
        if args.start is None and args.end is None:
            return 0
    if args.start is None or args.end is None:
        print("lifthouse preflight: error: --start and --end are required (the run window), "
              "unless only --record-checksums is asked for")
        return 2
    try:
        rep = check_coverage(args.data_dir, args.symbols, args.start, args.end, args.lookback_days,
                             min_coverage=args.min_coverage, bar_minutes=args.bar_minutes)
    except ValueError as exc:
        print(f"lifthouse preflight: error: {exc}")
        return 2
    print(rep.render())
    return 0 if rep.ok else 1
