"""End-to-end ingest against an archive tree served on 127.0.0.1 in Binance's layout.

The tree is built by the tests (file names, folders, both CSV header variants, ms and us stamps,
``.CHECKSUM`` files), from real rows of ../shared/data/binance where the test says so and from
small synthetic rows otherwise, so the fault tests run without the real data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifthouse.cli import main as cli_main
from lifthouse.data.ingest import RetryPolicy, ingest
from lifthouse.data.ingest.layout import make_archive
from lifthouse.data.raw import read_dataset
from lifthouse.data.schema import RawDataError

FAST = RetryPolicy(attempts=3, backoff_base=0.01, timeout=5.0)
TODAY = dt.date(2025, 8, 1)
KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                "taker_buy_volume,taker_buy_quote_volume,ignore")


# --------------------------------------------------------------------------- archive tree


class Tree:
    """An archive tree on disk in data.binance.vision's layout."""

    def __init__(self, root: Path):
        self.root = root

    def put(self, dataset: str, symbol: str, freq: str, period: str, csv_text: str, *,
            member: str | None = None, zip_bytes: bytes | None = None,
            checksum: str | None = None) -> Path:
        a = make_archive(dataset, symbol, freq, period)
        path = self.root / a.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if zip_bytes is None:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(member or a.csv_name, csv_text)
            zip_bytes = buf.getvalue()
        path.write_bytes(zip_bytes)
        digest = checksum or hashlib.sha256(zip_bytes).hexdigest()
        Path(str(path) + ".CHECKSUM").write_text(f"{digest}  {a.name}\n")
        return path


def _f(x: float) -> str:
    return repr(float(x))


def kline_csv(df: pd.DataFrame, *, header: bool, unit_us: bool = False) -> str:
    """12-column Binance kline CSV from a frame with open_time (ms) and OHLCV (+ optional
    quote_volume, count, taker_buy_volume, taker_buy_quote_volume)."""
    mul = 1000 if unit_us else 1
    lines = [KLINE_HEADER] if header else []
    for r in df.itertuples(index=False):
        ot = int(r.open_time) * mul
        ct = (int(r.open_time) + 59_999) * mul + (mul - 1 if unit_us else 0)
        lines.append(",".join([str(ot), _f(r.open), _f(r.high), _f(r.low), _f(r.close),
                               _f(r.volume), str(ct), _f(r.quote_volume), str(int(r.count)),
                               _f(r.taker_buy_volume), _f(r.taker_buy_quote_volume), "0"]))
    return "\n".join(lines) + "\n"


def with_kline_extras(df: pd.DataFrame) -> pd.DataFrame:
    """Real rows carry OHLCV only: add deterministic quote/taker/count columns."""
    df = df.copy()
    df["quote_volume"] = (df["volume"] * df["close"]).round(4)
    df["count"] = (df["volume"] * 10).astype(int) + 1
    df["taker_buy_volume"] = (df["volume"] / 2).round(6)
    df["taker_buy_quote_volume"] = (df["quote_volume"] / 2).round(4)
    return df


def synthetic_klines(day: str, n: int = 1440, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = int(pd.Timestamp(day).value // 1_000_000)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n)).round(2)
    open_ = np.r_[100.0, close[:-1]]
    df = pd.DataFrame({
        "open_time": t0 + 60_000 * np.arange(n),
        "open": open_, "close": close,
        "high": np.maximum(open_, close) + 0.05, "low": np.minimum(open_, close) - 0.05,
        "volume": rng.uniform(1, 5, n).round(3),
    })
    df["high"] = df["high"].round(2)
    df["low"] = df["low"].round(2)
    return with_kline_extras(df)


def funding_csv(df: pd.DataFrame, *, header: bool) -> str:
    lines = ["calc_time,funding_interval_hours,last_funding_rate"] if header else []
    for r in df.itertuples(index=False):
        lines.append(f"{int(r.funding_time_raw)},8,{_f(r.funding_rate)}")
    return "\n".join(lines) + "\n"


def metrics_csv(df: pd.DataFrame, symbol: str) -> str:
    lines = ["create_time,symbol,sum_open_interest,sum_open_interest_value,"
             "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
             "count_long_short_ratio,sum_taker_long_short_vol_ratio"]
    for r in df.itertuples(index=False):
        ts = pd.Timestamp(int(r.timestamp), unit="ms").strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{ts},{symbol},{_f(r.sum_open_interest)},{_f(r.sum_open_interest_value)},"
                     "1.5,1.6,1.7,0.9")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTTP server


class ArchiveServer:
    """ThreadingHTTPServer on 127.0.0.1 serving ``root``; counts requests; injects faults."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        self.faults: dict[str, list[str]] = {}  # path -> queue of "500" | "cut"
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                with outer.lock:
                    outer.requests.append(path)
                    queue = outer.faults.get(path)
                    fault = queue.pop(0) if queue else None
                if fault == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                file = outer.root / path.lstrip("/")
                if not file.is_file():
                    self.send_error(404, "Not Found")
                    return
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "cut":  # the server stops mid-download
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def count(self, suffix: str = "") -> int:
        return sum(1 for r in self.requests if r.endswith(suffix))


@pytest.fixture
def server(tmp_path):
    srv = ArchiveServer(tmp_path / "archive")
    srv.root.mkdir()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


def raw_files(data_dir: Path) -> dict[str, float]:
    """Every file in the raw layer (outside _ingest) -> mtime_ns."""
    return {str(p.relative_to(data_dir)): p.stat().st_mtime_ns
            for p in data_dir.rglob("*") if p.is_file() and "_ingest" not in p.parts}


def leftovers(data_dir: Path) -> list[str]:
    """Temp/partial files anywhere under data_dir."""
    return [str(p) for p in data_dir.rglob("*") if p.is_file()
            and (p.name.endswith((".tmp", ".part")) or p.name.startswith("."))]


def run_ingest(server: ArchiveServer, data_dir: Path, datasets: list[str], start: str, end: str,
               symbols=("BTCUSDT",), **kw):
    return ingest(list(symbols), datasets, dt.date.fromisoformat(start),
                  dt.date.fromisoformat(end), data_dir=data_dir, base_url=server.url,
                  policy=kw.pop("policy", FAST), today=kw.pop("today", TODAY),
                  progress_stream=kw.pop("progress_stream", None), **kw)


# --------------------------------------------------------------------------- real rows


@pytest.mark.realdata
def test_real_rows_round_trip_monthly_daily_both_headers_ms_and_us(server, tmp_path,
                                                                   real_data_dir, capsys):
    """BTCUSDT 2025-05-30 .. 2025-07-01: daily klines (no header) + a monthly June file
    (header), spot monthly in microseconds, monthly funding (both variants), daily metrics.
    Ingested rows equal the real source rows."""
    tree = Tree(server.root)
    src = pd.read_parquet(real_data_dir / "um_klines_1m" / "BTCUSDT.parquet")
    src = with_kline_extras(src)
    ts = pd.to_datetime(src["open_time"], unit="ms")
    src = src[(ts >= "2025-05-30") & (ts < "2025-07-01")].reset_index(drop=True)
    ts = pd.to_datetime(src["open_time"], unit="ms")
    for day in ("2025-05-30", "2025-05-31"):
        part = src[ts.dt.strftime("%Y-%m-%d") == day]
        tree.put("um_klines_1m", "BTCUSDT", "daily", day, kline_csv(part, header=False))
    tree.put("um_klines_1m", "BTCUSDT", "monthly", "2025-06",
             kline_csv(src[ts.dt.strftime("%Y-%m") == "2025-06"], header=True))

    spot = with_kline_extras(pd.read_parquet(real_data_dir / "spot_klines_1m" / "BTCUSDT.parquet"))
    sts = pd.to_datetime(spot["open_time"], unit="ms")
    spot = spot[(sts >= "2025-05-30") & (sts < "2025-07-01")].reset_index(drop=True)
    sts = pd.to_datetime(spot["open_time"], unit="ms")
    for day in ("2025-05-30", "2025-05-31"):
        tree.put("spot_klines_1m", "BTCUSDT", "daily", day,
                 kline_csv(spot[sts.dt.strftime("%Y-%m-%d") == day], header=False, unit_us=True))
    tree.put("spot_klines_1m", "BTCUSDT", "monthly", "2025-06",
             kline_csv(spot[sts.dt.strftime("%Y-%m") == "2025-06"], header=False, unit_us=True))

    fund = pd.read_parquet(real_data_dir / "um_funding_rate" / "BTCUSDT.parquet")
    fts = pd.to_datetime(fund["funding_time"], unit="ms")
    fund_may = fund[fts.dt.strftime("%Y-%m") == "2025-05"]
    fund_jun = fund[fts.dt.strftime("%Y-%m") == "2025-06"]
    tree.put("um_funding_rate", "BTCUSDT", "monthly", "2025-05", funding_csv(fund_may, header=True))
    tree.put("um_funding_rate", "BTCUSDT", "monthly", "2025-06", funding_csv(fund_jun, header=False))

    oi = pd.read_parquet(real_data_dir / "um_open_interest_5m" / "BTCUSDT.parquet")
    ots = pd.to_datetime(oi["timestamp"], unit="ms")
    oi = oi[(ots >= "2025-05-30") & (ots < "2025-07-01")].reset_index(drop=True)
    ots = pd.to_datetime(oi["timestamp"], unit="ms")
    for day in pd.date_range("2025-05-30", "2025-06-30").strftime("%Y-%m-%d"):
        tree.put("um_open_interest_5m", "BTCUSDT", "daily", day,
                 metrics_csv(oi[ots.dt.floor("D").dt.strftime("%Y-%m-%d") == day], "BTCUSDT"))

    data_dir = tmp_path / "raw"
    datasets = ["um_klines_1m", "spot_klines_1m", "um_funding_rate", "um_open_interest_5m"]
    rep = run_ingest(server, data_dir, datasets, "2025-05-30", "2025-07-01",
                     symbols=["btc"], progress_stream=sys.stderr)
    assert rep.exit_code == 0, rep.render()
    assert len(rep.by_status("written")) == 3 + 3 + 2 + 32
    err = capsys.readouterr().err
    assert "ingest: 40/40 archives" in err and "ETA" in err

    got = read_dataset(data_dir, "um_klines_1m", "BTCUSDT").to_pandas()
    assert len(got) == len(src) == 2 * 1440 + 23 * 1440 + 632
    exp = src.assign(open_time=pd.to_datetime(src["open_time"], unit="ms"))
    pd.testing.assert_frame_equal(got, exp[got.columns.tolist()], check_dtype=False)

    got = read_dataset(data_dir, "spot_klines_1m", "BTCUSDT").to_pandas()
    exp = spot.assign(open_time=pd.to_datetime(spot["open_time"], unit="ms"))
    assert len(got) == len(spot) == 32 * 1440
    pd.testing.assert_frame_equal(got, exp[got.columns.tolist()], check_dtype=False)

    got = read_dataset(data_dir, "um_funding_rate", "BTCUSDT").to_pandas()
    exp = pd.concat([fund_may, fund_jun])
    assert len(got) == len(exp) == 93 + 70  # real funding ends 2025-06-24
    assert (got["funding_time"].to_numpy() ==
            pd.to_datetime(exp["funding_time"], unit="ms").to_numpy()).all()
    assert (got["funding_rate"].to_numpy() == exp["funding_rate"].to_numpy()).all()

    got = read_dataset(data_dir, "um_open_interest_5m", "BTCUSDT").to_pandas()
    assert len(got) == len(oi)
    assert (got["timestamp"].to_numpy() == pd.to_datetime(oi["timestamp"], unit="ms").to_numpy()).all()
    assert (got["sum_open_interest"].to_numpy() == oi["sum_open_interest"].to_numpy()).all()
    assert (got["sum_open_interest_value"].to_numpy() == oi["sum_open_interest_value"].to_numpy()).all()


@pytest.mark.realdata
def test_real_coin_m_liquidations_map_to_the_usdt_symbol(server, tmp_path, real_data_dir):
    tree = Tree(server.root)
    liq = pd.read_parquet(real_data_dir / "cm_liquidation_snapshot_2024q1" / "BTCUSDT.parquet")
    lts = pd.to_datetime(liq["ts"], unit="ms")
    hdr = ("time,side,order_type,time_in_force,original_quantity,price,average_price,"
           "order_status,last_fill_quantity,accumulated_fill_quantity")
    for day in ("2024-01-02", "2024-01-03"):
        part = liq[lts.dt.strftime("%Y-%m-%d") == day]
        rows = [f"{int(r.ts)},{r.side},LIMIT,IOC,{_f(r.qty_contracts)},{_f(r.price * 1.01)},"
                f"{_f(r.price)},FILLED,{_f(r.qty_contracts)},{_f(r.qty_contracts)}"
                for r in part.itertuples()]
        tree.put("um_liquidations", "BTCUSDT", "daily", day, "\n".join([hdr] + rows) + "\n")
    rep = run_ingest(server, tmp_path / "raw", ["um_liquidations"], "2024-01-02", "2024-01-04")
    assert rep.exit_code == 0, rep.render()
    assert server.count("/BTCUSD_PERP-liquidationSnapshot-2024-01-02.zip") == 1
    got = read_dataset(tmp_path / "raw", "um_liquidations", "BTCUSDT").to_pandas()
    exp = liq[(lts >= "2024-01-02") & (lts < "2024-01-04")]
    assert len(got) == len(exp) > 0
    assert sorted(zip(got["time"].astype("int64") // 1000, got["side"], got["price"],
                      got["quantity"])) == \
        sorted(zip(exp["ts"], exp["side"], exp["price"], exp["qty_contracts"]))
    assert (got["notional_usd"] == got["quantity"] * 100).all()
    assert (got["contract_usd"] == 100).all()


# --------------------------------------------------------------------------- synthetic tree


def synthetic_tree(server: ArchiveServer) -> dict[str, pd.DataFrame]:
    """Two days of BTCUSDT klines (one with header, one without), mark/premium klines,
    and June funding for BTC and SOL."""
    tree = Tree(server.root)
    frames = {}
    for i, day in enumerate(("2025-06-01", "2025-06-02")):
        df = synthetic_klines(day, seed=i)
        frames[day] = df
        tree.put("um_klines_1m", "BTCUSDT", "daily", day, kline_csv(df, header=(i == 0)))
        tree.put("um_mark_klines_1m", "BTCUSDT", "daily", day, kline_csv(df, header=True))
        prem = df.copy()
        for c in ("open", "high", "low", "close"):
            prem[c] = (prem[c] - 100) / 1e4  # premium index: small, can be negative
        tree.put("um_premium_index_klines_1m", "BTCUSDT", "daily", day, kline_csv(prem, header=True))
    t0 = int(pd.Timestamp("2025-06-01").value // 1_000_000)
    fund = pd.DataFrame({"funding_time_raw": t0 + 8 * 3600_000 * np.arange(90) + 3,
                         "funding_rate": np.round(np.linspace(-0.0001, 0.0001, 90), 8)})
    frames["funding"] = fund
    for sym in ("BTCUSDT", "SOLUSDT"):
        tree.put("um_funding_rate", sym, "monthly", "2025-06", funding_csv(fund, header=True))
    return frames


def test_synthetic_round_trip_and_rerun_is_a_no_op(server, tmp_path):
    frames = synthetic_tree(server)
    data_dir = tmp_path / "raw"
    ds = ["um_klines_1m", "um_mark_klines_1m", "um_premium_index_klines_1m", "um_funding_rate"]
    rep = run_ingest(server, data_dir, ds, "2025-06-01", "2025-06-03")
    assert rep.exit_code == 0, rep.render()
    assert len(rep.by_status("written")) == 7
    assert server.count() == 14  # a CHECKSUM and a zip per archive
    got = read_dataset(data_dir, "um_klines_1m", "BTCUSDT").to_pandas()
    exp = pd.concat([frames["2025-06-01"], frames["2025-06-02"]], ignore_index=True)
    exp["open_time"] = pd.to_datetime(exp["open_time"], unit="ms")
    pd.testing.assert_frame_equal(got, exp[got.columns.tolist()], check_dtype=False)
    prem = read_dataset(data_dir, "um_premium_index_klines_1m", "BTCUSDT").to_pandas()
    assert len(prem) == 2880 and (prem["low"] < 0).any()
    fr = read_dataset(data_dir, "um_funding_rate", "BTCUSDT").to_pandas()
    assert fr["funding_time"].iloc[1] == pd.Timestamp("2025-06-01 08:00")  # ms jitter floored
    assert fr["funding_rate"].tolist() == frames["funding"]["funding_rate"].tolist()

    before = raw_files(data_dir)
    assert len(before) == 4
    n = server.count()
    rep2 = run_ingest(server, data_dir, ds, "2025-06-01", "2025-06-03")
    assert rep2.exit_code == 0
    assert server.count() == n, "a re-run must not download anything"
    assert len(rep2.by_status("done")) == 7
    assert raw_files(data_dir) == before, "a re-run must not rewrite any raw file"
    assert "7 already done (no download)" in rep2.render()

    # state lost (e.g. _ingest deleted): everything is downloaded again but nothing rewritten
    shutil.rmtree(data_dir / "_ingest")
    rep3 = run_ingest(server, data_dir, ds, "2025-06-01", "2025-06-03")
    assert len(rep3.by_status("unchanged")) == 7 and server.count() == n + 14
    assert raw_files(data_dir) == before
    # a raw file deleted behind the marker's back: that archive (only) is fetched again
    os.unlink(data_dir / "um_mark_klines_1m" / "symbol=BTCUSDT" / "2025-06.parquet")
    rep4 = run_ingest(server, data_dir, ds, "2025-06-01", "2025-06-03")
    assert len(rep4.by_status("written")) == 2 and server.count() == n + 14 + 4


def test_monthly_404_falls_back_to_daily_and_404_days_are_warnings(server, tmp_path):
    """July 2025 is requested whole: its monthly file is missing, so daily files are used; the
    days that are not published either are listed, and the run still succeeds."""
    tree = Tree(server.root)
    for day in ("2025-07-01", "2025-07-02"):
        tree.put("um_klines_1m", "BTCUSDT", "daily", day, kline_csv(synthetic_klines(day), header=True))
    t0 = int(pd.Timestamp("2025-07-01").value // 1_000_000)
    tree.put("um_funding_rate", "BTCUSDT", "monthly", "2025-07", funding_csv(pd.DataFrame(
        {"funding_time_raw": [t0, t0 + 28_800_000], "funding_rate": [0.0001, 0.00005]}), header=True))
    rep = run_ingest(server, tmp_path / "raw", ["um_klines_1m", "um_funding_rate",
                                                "um_open_interest_5m"],
                     "2025-07-01", "2025-08-01", today=dt.date(2025, 8, 2))
    text = rep.render()
    assert rep.exit_code == 0, text
    assert server.count("/BTCUSDT-1m-2025-07.zip.CHECKSUM") == 1
    assert len(rep.by_status("written")) == 3
    assert "warning: um_klines_1m BTCUSDT: not in the archive (404): " \
           "2025-07-03..2025-07-31 (29 days)" in text
    assert "warning: um_open_interest_5m BTCUSDT: not in the archive (404): " \
           "2025-07-01..2025-07-31 (31 days)" in text
    assert len(read_dataset(tmp_path / "raw", "um_klines_1m", "BTCUSDT")) == 2880


def test_required_dataset_with_nothing_exits_non_zero(server, tmp_path):
    rep = run_ingest(server, tmp_path / "raw", ["um_funding_rate"], "2025-06-01", "2025-06-03")
    assert rep.exit_code == 1
    assert "ERROR: required dataset um_funding_rate got no data for BTCUSDT" in rep.render()


# --------------------------------------------------------------------------- faults


def _one_day(server: ArchiveServer, **put) -> Path:
    tree = Tree(server.root)
    return tree.put("um_klines_1m", "BTCUSDT", "daily", "2025-06-01",
                    kline_csv(synthetic_klines("2025-06-01"), header=True), **put)


def _assert_nothing_written(data_dir: Path) -> None:
    assert raw_files(data_dir) == {}
    assert leftovers(data_dir) == []
    assert not (data_dir / "_ingest" / "done").exists()


def _fails(server, tmp_path, pattern: str) -> None:
    rep = run_ingest(server, tmp_path / "raw", ["um_klines_1m"], "2025-06-01", "2025-06-02")
    assert rep.exit_code == 1
    text = rep.render()
    assert "FAILED um_klines_1m BTCUSDT data/futures/um/daily/klines/BTCUSDT/1m/" \
           "BTCUSDT-1m-2025-06-01.zip" in text
    assert pattern in text, text
    _assert_nothing_written(tmp_path / "raw")


def test_checksum_mismatch(server, tmp_path):
    _one_day(server, checksum="0" * 64)
    _fails(server, tmp_path, "checksum mismatch for BTCUSDT-1m-2025-06-01.zip")
    assert server.count(".zip") == 2  # downloaded once more before giving up


def test_a_missing_checksum_file_is_named_not_taken_for_a_missing_zip(server, tmp_path):
    zip_path = _one_day(server)
    Path(str(zip_path) + ".CHECKSUM").unlink()  # the zip is published, its CHECKSUM is not
    _fails(server, tmp_path, "BTCUSDT-1m-2025-06-01.zip.CHECKSUM is missing from the archive, "
                             "but BTCUSDT-1m-2025-06-01.zip is there")
    rep = run_ingest(server, tmp_path / "raw2", ["um_klines_1m"], "2025-06-01", "2025-06-02")
    assert not rep.by_status("missing") and "not in the archive (404)" not in rep.render()


def test_truncated_zip(server, tmp_path):
    good = _one_day(server).read_bytes()
    _one_day(server, zip_bytes=good[: len(good) // 2])  # published broken, checksum matches
    _fails(server, tmp_path, "is not a readable zip")


def test_zip_with_the_wrong_csv_inside(server, tmp_path):
    _one_day(server, member="ETHUSDT-1m-2025-06-01.csv")
    _fails(server, tmp_path, "expected exactly BTCUSDT-1m-2025-06-01.csv")


def test_zip_with_funding_csv_under_a_klines_name(server, tmp_path):
    Tree(server.root).put("um_klines_1m", "BTCUSDT", "daily", "2025-06-01",
                          "calc_time,funding_interval_hours,last_funding_rate\n1748736000000,8,0.0001\n")
    _fails(server, tmp_path, "has 3 columns in its first row, expected 12")


def test_http_500_then_success_is_retried(server, tmp_path, capsys):
    _one_day(server)
    path = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-06-01.zip"
    server.faults[path] = ["500", "500"]
    rep = run_ingest(server, tmp_path / "raw", ["um_klines_1m"], "2025-06-01", "2025-06-02",
                     progress_stream=sys.stderr)
    assert rep.exit_code == 0, rep.render()
    assert server.count(".zip") == 3
    assert "retry 2/2" in capsys.readouterr().err
    assert len(read_dataset(tmp_path / "raw", "um_klines_1m", "BTCUSDT")) == 1440


def test_http_500_forever_gives_up_and_a_rerun_resumes(server, tmp_path):
    _one_day(server)
    Tree(server.root).put("um_klines_1m", "BTCUSDT", "daily", "2025-06-02",
                          kline_csv(synthetic_klines("2025-06-02"), header=True))
    path = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-06-01.zip"
    server.faults[path] = ["500"] * 3
    data_dir = tmp_path / "raw"
    rep = run_ingest(server, data_dir, ["um_klines_1m"], "2025-06-01", "2025-06-03")
    assert rep.exit_code == 1
    assert "HTTP 500 Internal Server Error (gave up after 3 attempts)" in rep.render()
    assert len(rep.by_status("written")) == 1 and leftovers(data_dir) == []
    n = server.count()
    rep = run_ingest(server, data_dir, ["um_klines_1m"], "2025-06-01", "2025-06-03")
    assert rep.exit_code == 0
    assert server.requests[n:] == [path + ".CHECKSUM", path]  # only the missing archive
    assert len(read_dataset(data_dir, "um_klines_1m", "BTCUSDT")) == 2880


def test_server_stops_mid_download(server, tmp_path):
    _one_day(server)
    path = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-06-01.zip"
    server.faults[path] = ["cut"] * 3
    _fails(server, tmp_path, "connection closed after")
    # ... and once it stays up, the same command succeeds
    server.faults[path] = ["cut"]
    rep = run_ingest(server, tmp_path / "raw", ["um_klines_1m"], "2025-06-01", "2025-06-02")
    assert rep.exit_code == 0, rep.render()


def test_404_alone_is_a_warning_for_optional_data(server, tmp_path):
    rep = run_ingest(server, tmp_path / "raw", ["um_liquidations"], "2025-06-01", "2025-06-02",
                     symbols=["SOL"])
    assert rep.exit_code == 0
    assert "warning: um_liquidations SOLUSDT: not in the archive (404): 2025-06-01" in rep.render()
    # the CHECKSUM is absent, and so is the zip (asked for once: a zip without its CHECKSUM
    # would be an error, not a warning)
    zip_path = ("/data/futures/cm/daily/liquidationSnapshot/SOLUSD_PERP/"
                "SOLUSD_PERP-liquidationSnapshot-2025-06-01.zip")
    assert server.requests == [zip_path + ".CHECKSUM", zip_path]
    _assert_nothing_written(tmp_path / "raw")


def test_data_dir_under_a_regular_file_is_refused_before_any_download(server, tmp_path, capsys):
    _one_day(server)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(RawDataError, match="not writable"):
        run_ingest(server, blocker / "raw", ["um_klines_1m"], "2025-06-01", "2025-06-02")
    assert server.requests == []
    code = cli_main(["ingest", "--symbols", "BTC", "--start", "2025-06-01", "--end", "2025-06-02",
                     "--datasets", "klines", "--base-url", server.url, "--data-dir",
                     str(blocker / "raw"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "data directory is not writable" in err and "choose a writable --data-dir" in err


def test_raw_folder_not_writable_fails_the_archive_cleanly(server, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod does not block writes (the regular-file case above "
                    "covers an unwritable data dir)")
    _one_day(server)
    data_dir = tmp_path / "raw"
    folder = data_dir / "um_klines_1m" / "symbol=BTCUSDT"
    folder.mkdir(parents=True)
    folder.chmod(0o500)
    try:
        rep = run_ingest(server, data_dir, ["um_klines_1m"], "2025-06-01", "2025-06-02")
    finally:
        folder.chmod(0o700)
    assert rep.exit_code == 1
    assert "cannot write to" in rep.render()
    _assert_nothing_written(data_dir)


# --------------------------------------------------------------------------- CLI and mirror


def test_cli_with_a_local_mirror_directory(server, tmp_path, capsys):
    synthetic_tree(server)  # the tree on disk is a mirror; the server is not used
    data_dir = tmp_path / "raw"
    args = ["ingest", "--symbols", "BTC,SOL", "--start", "2025-06-01", "--end", "2025-06-03",
            "--datasets", "klines,funding", "--mirror", str(server.root), "--data-dir",
            str(data_dir)]
    code = cli_main(args)
    out, err = capsys.readouterr()
    assert server.requests == []
    # SOL has no klines in the mirror: required dataset empty -> exit 1, named in the summary
    assert code == 1
    assert "ERROR: required dataset um_klines_1m got no data for SOLUSDT" in out
    assert "ingest: 6/6 archives" in err
    assert len(read_dataset(data_dir, "um_funding_rate", "SOLUSDT")) == 90
    assert cli_main(args[:2] + ["BTC"] + args[3:]) == 0
    assert "3 already done (no download)" in capsys.readouterr().out


# --------------------------------------------------------------------------- 5m klines (issue 33)


def five_minute_klines(day: str, seed: int = 0) -> pd.DataFrame:
    """A day of 5m klines (288 bars) with every column."""
    df = synthetic_klines(day, n=288, seed=seed)
    df["open_time"] = df["open_time"].iloc[0] + 300_000 * np.arange(288)
    return df


def test_five_minute_archives_land_in_um_klines_5m(server, tmp_path):
    tree = Tree(server.root)
    perp = five_minute_klines("2025-06-01")
    spot = five_minute_klines("2025-06-01", seed=1)
    tree.put("um_klines_5m", "BTCUSDT", "daily", "2025-06-01", kline_csv(perp, header=True))
    tree.put("spot_klines_5m", "BTCUSDT", "daily", "2025-06-01",
             kline_csv(spot, header=False, unit_us=True))
    data_dir = tmp_path / "raw"
    rep = run_ingest(server, data_dir, ["klines", "spot"], "2025-06-01", "2025-06-02",
                     bar_minutes=5)
    assert rep.exit_code == 0, rep.render()
    assert rep.datasets == ["um_klines_5m", "spot_klines_5m"]
    assert sorted(server.requests) == [  # (downloads run in parallel)
        "/data/futures/um/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip",
        "/data/futures/um/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip.CHECKSUM",
        "/data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip",
        "/data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2025-06-01.zip.CHECKSUM",
    ]
    for ds, frame in (("um_klines_5m", perp), ("spot_klines_5m", spot)):
        got = read_dataset(data_dir, ds, "BTCUSDT").to_pandas()
        exp = frame.assign(open_time=pd.to_datetime(frame["open_time"], unit="ms"))
        pd.testing.assert_frame_equal(got, exp[got.columns.tolist()], check_dtype=False)
    assert not (data_dir / "um_klines_1m").exists()


def test_cli_bar_minutes_5_from_a_mirror(server, tmp_path, capsys):
    Tree(server.root).put("um_klines_5m", "BTCUSDT", "daily", "2025-06-01",
                          kline_csv(five_minute_klines("2025-06-01"), header=True))
    data_dir = tmp_path / "raw"
    args = ["ingest", "--symbols", "BTC,SOL", "--start", "2025-06-01", "--end", "2025-06-02",
            "--datasets", "klines", "--bar-minutes", "5", "--mirror", str(server.root),
            "--data-dir", str(data_dir), "--quiet"]
    assert cli_main(args) == 1  # SOL has no 5m klines: a required dataset got nothing
    out = capsys.readouterr().out
    assert "ERROR: required dataset um_klines_5m got no data for SOLUSDT" in out
    assert len(read_dataset(data_dir, "um_klines_5m", "BTCUSDT")) == 288
    assert cli_main(args[:2] + ["BTC"] + args[3:]) == 0
    assert "1 already done (no download)" in capsys.readouterr().out


def test_one_minute_bars_served_as_the_5m_archive_are_refused(server, tmp_path):
    Tree(server.root).put("um_klines_5m", "BTCUSDT", "daily", "2025-06-01",
                          kline_csv(synthetic_klines("2025-06-01"), header=True))
    rep = run_ingest(server, tmp_path / "raw", ["klines5m"], "2025-06-01", "2025-06-02")
    assert rep.exit_code == 1
    text = rep.render()
    assert "FAILED um_klines_5m BTCUSDT data/futures/um/daily/klines/BTCUSDT/5m/" in text
    assert "these are um_klines_1m bars" in text, text
    _assert_nothing_written(tmp_path / "raw")
