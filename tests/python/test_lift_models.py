"""The lift dbt Python models (models/intermediate/lift/int_candidate_lift.py,
models/marts/ablation/lift_summary.py) as thin wrappers: run their
``model(dbt, session)`` against a DuckDB session holding synthetic upstream tables, and check
that the frames they return materialise in DuckDB with the documented columns.

A full ``dbt build --select +lift_summary`` is exercised by the pipeline tests once the
upstream models exist; this test does not need them."""

from __future__ import annotations

import importlib.util


import duckdb
import pandas as pd
import pytest
import yaml

from lifthouse.research.lift import LIFT_COLUMNS, candidate_lift
from lifthouse.research.params import LiftParams
from lifthouse.research.questions import FALLBACK_QUESTION_ID, QUESTION_COLUMNS
from lifthouse.research.summary import SUMMARY_COLUMNS
from lifthouse.run.dbt import REPO_ROOT
from test_lift import make_world

# model -> its folder (each folder holds the model's .py and its YAML)
MODEL_DIRS = {"int_candidate_lift": REPO_ROOT / "models" / "intermediate" / "lift",
              "lift_summary": REPO_ROOT / "models" / "marts" / "ablation"}
YAML_FILES = {"int_candidate_lift": MODEL_DIRS["int_candidate_lift"] / "_int_candidate_lift.yml",
              "lift_summary": MODEL_DIRS["lift_summary"] / "_ablation__models.yml"}
QUESTIONS_SEED = REPO_ROOT / "seeds" / "lift_questions.csv"
VARS = {"bootstrap_seed": "20250101", "n_boot": "300", "lift_alpha": "0.05",
        "lift_q_max": "0.1", "lift_min_n": "10", "lift_min_days": "5"}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_lift_{name}", MODEL_DIRS[name] / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Config:
    def __init__(self, values):
        self.values = values

    def __call__(self, **kw):
        pass

    def get(self, name, default=None):
        return self.values.get(name, default)


class _FakeDbt:
    def __init__(self, con, values):
        self.con, self.config = con, _Config(values)

    def ref(self, name):
        return self.con.table(name)


@pytest.fixture(scope="module")
def session():
    plan, trades, _ = make_world(seed=31)
    results = plan[["candidate_id", "family_id", "event_type"]].assign(
        status="rejected", status_reason="gate_q")
    con = duckdb.connect()
    # a phase2_trades-like table with extra columns the wrapper must not need
    trades = trades.assign(entry_price=1.0, gross_bps=0.0)
    # the real seed plus a question about the synthetic world's event type
    questions = pd.concat([pd.read_csv(QUESTIONS_SEED, dtype=str), pd.DataFrame(
        [("Q9", "EVT", "vol_high", "Does vol_high improve EVT?")], columns=QUESTION_COLUMNS)])
    for name, df in (("candidate_plan", plan), ("phase2_trades", trades),
                     ("phase2_candidate_results", results), ("lift_questions", questions)):
        con.register(f"_{name}", df)
        con.execute(f"create table {name} as select * from _{name}")
    yield con, plan, trades, results
    con.close()


def test_models_run_and_materialise(session):
    con, plan, trades, results = session
    dbt = _FakeDbt(con, VARS)
    lift = _load("int_candidate_lift").model(dbt, con)
    params = LiftParams(n_boot=300)
    pd.testing.assert_frame_equal(lift, candidate_lift(plan, trades, params), check_exact=True)
    con.register("_lift", lift)
    con.execute("create table int_candidate_lift as select * from _lift")

    summary = _load("lift_summary").model(dbt, con)
    con.register("_summary", summary)
    con.execute("create table lift_summary as select * from _summary")
    cols = [r[0] for r in con.execute("describe lift_summary").fetchall()]
    assert cols == SUMMARY_COLUMNS
    types = dict(con.execute("select column_name, column_type from (describe lift_summary)"
                             ).fetchall())
    assert types["check_ok"] == "BOOLEAN" and types["n_cond"] == "BIGINT"
    assert types["lift_bps"] == "DOUBLE" and types["row_key"] == "VARCHAR"
    n_cand = con.execute("select count(*) from lift_summary where row_type = 'candidate'"
                         ).fetchone()[0]
    assert n_cand == int(plan["is_conditioned"].sum())
    q = dict(con.execute("select row_key, verdict from lift_summary "
                         "where row_type = 'question'").fetchall())
    assert set(q) == {"Q1", "Q2", "Q3", "Q9"}
    assert q["Q1"] == q["Q2"] == "inconclusive"   # no such event types in this world
    assert q["Q9"] in ("improves", "hurts", "inconclusive") and q["Q3"] is None
    dup = con.execute("select count(*) from (select row_type, row_key from lift_summary "
                      "group by all having count(*) > 1)").fetchone()[0]
    assert dup == 0


def test_yaml_documents_every_column():
    expected = {"int_candidate_lift": LIFT_COLUMNS, "lift_summary": SUMMARY_COLUMNS}
    for name, cols in expected.items():
        doc = yaml.safe_load(YAML_FILES[name].read_text())
        m = {m["name"]: m for m in doc["models"]}[name]
        documented = [c["name"] for c in m["columns"]]
        assert documented == cols, name
        assert all(c.get("description") for c in m["columns"]), name
        tests = [next(iter(t)) for t in m["data_tests"]]
        assert "unique_combination" in tests


def test_vars_block_defaults():
    proj = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    v = proj["vars"]
    assert (v["bootstrap_seed"], v["n_boot"], v["lift_alpha"], v["lift_q_max"]) == \
        (20250101, 2000, 0.05, 0.10)
    d = LiftParams()
    assert (d.bootstrap_seed, d.n_boot, d.lift_alpha, d.lift_q_max, d.lift_min_n, d.lift_min_days) == \
        (v["bootstrap_seed"], v["n_boot"], v["lift_alpha"], v["lift_q_max"],
         v["lift_min_n"], v["lift_min_days"])


def test_models_request_every_config_key_literally():
    """dbt ships to a Python model only the config keys it finds as literal
    ``dbt.config.get("<key>")`` calls in the source; a key passed any other way silently falls
    back to the default (a --vars override would be ignored)."""
    for name in ("int_candidate_lift", "lift_summary"):
        src = (MODEL_DIRS[name] / f"{name}.py").read_text()
        for key in VARS:
            assert f'dbt.config.get("{key}")' in src, (name, key)


def test_questions_seed_holds_the_spec_questions():
    q = pd.read_csv(QUESTIONS_SEED, dtype=str)
    assert list(q.columns) == QUESTION_COLUMNS
    assert q.set_index("question_id")[["event_type", "condition"]].to_dict("index") == {
        "Q1": {"event_type": "LIQUIDATION_CASCADE", "condition": "carry_pos"},
        "Q2": {"event_type": "liquidity_vacuum", "condition": "vol_high"}}
    assert FALLBACK_QUESTION_ID not in set(q["question_id"])
    doc = yaml.safe_load((REPO_ROOT / "seeds" / "_seeds.yml").read_text())
    seed = {m["name"]: m for m in doc["seeds"]}["lift_questions"]
    assert [c["name"] for c in seed["columns"]] == QUESTION_COLUMNS
