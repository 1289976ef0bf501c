"""The primary-key data test (tests/generic/unique_combination.sql), compiled by dbt and run on
hand-built tables: it reports every duplicated and every NULL key, and nothing else."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from lifthouse.run.dbt import run_dbt


@pytest.fixture(scope="module")
def key_test_sql(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("unique_combination")
    run = run_dbt(["compile", "--inline",
                   "{{ test_unique_combination(model='fixture_keys', "
                   "columns=['symbol', 'open_time']) }}", "--output", "json", "--quiet"],
                  warehouse=d / "wh.duckdb", target_dir=d / "target")
    return json.loads(run.stdout[run.stdout.index("{"):])["compiled"]


def _failures(sql: str, rows: list[tuple]) -> list[tuple]:
    con = duckdb.connect()
    con.execute("create table fixture_keys (symbol varchar, open_time timestamp, close double)")
    con.executemany("insert into fixture_keys values (?, ?, ?)", rows)
    return sorted(con.execute(sql).fetchall(), key=repr)


T0 = dt.datetime(2025, 1, 1)


def _minute(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=i)


def test_unique_keys_pass(key_test_sql):
    rows = [(s, _minute(i), 1.0) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT") for i in range(20_000)]
    assert _failures(key_test_sql, rows) == []


def test_each_duplicated_and_null_key_is_reported_once(key_test_sql):
    rows = [(s, _minute(i), 1.0) for s in ("BTCUSDT", "ETHUSDT") for i in range(1_000)]
    rows += [("ETHUSDT", _minute(7), 2.0),                      # a duplicate (other values)
             ("BTCUSDT", _minute(9), 1.0), ("BTCUSDT", _minute(9), 1.0),   # a triplicate
             (None, _minute(3), 1.0), ("SOLUSDT", None, 1.0)]   # NULL keys
    assert _failures(key_test_sql, rows) == sorted([
        ("BTCUSDT", _minute(9), "duplicate key"),
        ("ETHUSDT", _minute(7), "duplicate key"),
        (None, _minute(3), "null key"),
        ("SOLUSDT", None, "null key"),
    ], key=repr)


def test_the_same_time_on_two_symbols_is_not_a_duplicate(key_test_sql):
    # the key is the pair: rows that share one column only are distinct
    rows = [("BTCUSDT", _minute(0), 1.0), ("ETHUSDT", _minute(0), 1.0),
            ("BTCUSDT", _minute(1), 1.0)]
    assert _failures(key_test_sql, rows) == []
