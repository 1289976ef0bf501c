"""The generic data test ``row_rules`` (tests/generic/) on small DuckDB tables: its SQL, rendered
from the ``{% test %}`` block with Jinja, returns rows exactly when a listed column holds a NULL
or a rule fails on some row. No dbt build needed (``render_test`` works
for the other generic tests too). And the run's failure message: the failing rows of a failed
test (``failed_test_rows``)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

from lifthouse.run.dbt import DbtRun, failed_test_rows

GENERIC = Path(__file__).resolve().parents[1] / "generic"


class CompilerError(Exception):
    pass


class _Exceptions:
    """dbt's ``exceptions`` context member, as far as the generic tests use it."""

    @staticmethod
    def raise_compiler_error(msg: str):
        raise CompilerError(msg)


def render_test(name: str, **kwargs) -> str:
    """The SQL of generic test ``name`` for ``kwargs``: its ``{% test %}`` block as a Jinja macro."""
    text = (GENERIC / f"{name}.sql").read_text()
    text = re.sub(r"{%-?\s*test\s+", "{% macro ", text)
    text = re.sub(r"{%-?\s*endtest\s*-?%}", "{% endmacro %}", text)
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(text, globals={"exceptions": _Exceptions}).module
    return str(getattr(module, name)(**kwargs))


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create table t as select * from (values (1, 'a', 1.5::double), (2, null, null), "
              "(3, null, 2.5)) v(id, label, price)")
    yield c
    c.close()


def _failing(con, **kwargs) -> list[tuple]:
    return con.execute(f"{render_test('row_rules', model='t', **kwargs)} order by 1").fetchall()


def test_row_rules_not_null_names_each_column_with_nulls_and_its_count(con):
    assert _failing(con, not_null=["id", "label", "price"]) == [
        ("label_not_null", 2, "label is not null"), ("price_not_null", 1, "price is not null")]


def test_row_rules_not_null_passes_when_no_column_has_nulls(con):
    assert _failing(con, not_null=["id"]) == []
    con.execute("delete from t")   # an empty table passes too
    assert _failing(con, not_null=["id", "label"]) == []


def test_row_rules_not_null_agrees_with_one_not_null_check_per_column(con):
    con.execute("insert into t values (null, 'b', 3.0), (5, 'c', null)")
    cols = ["id", "label", "price"]
    merged = {name: n for name, n, _ in _failing(con, not_null=cols)}
    single = {c: con.execute(f"select count(*) from t where {c} is null").fetchone()[0] for c in cols}
    assert merged == {f"{c}_not_null": n for c, n in single.items() if n > 0}


RULES = [
    {"name": "id_positive", "expression": "id > 0"},
    {"name": "price_below_2", "expression": "price < 2", "where": "label is null"},
    {"name": "label_known", "expression": "label in ('a', 'b')"},
]


def test_row_rules_names_each_failing_rule_with_its_count_and_expression(con):
    con.execute("insert into t values (-1, 'z', 9.0), (0, null, 2.0)")
    assert _failing(con, rules=RULES) == [
        ("id_positive", 2, "id > 0"),
        # (2, null, null): NULL passes; (3, null, 2.5) and (0, null, 2.0) fail; (-1, 'z', 9.0)
        # is outside the rule's where
        ("label_known", 1, "label in ('a', 'b')"),
        ("price_below_2", 2, "price < 2 (where label is null)"),
    ]


def test_row_rules_passes_when_every_rule_holds(con):
    assert _failing(con, rules=RULES[:1]) == []
    con.execute("delete from t")   # an empty table passes too
    assert _failing(con, rules=RULES, not_null=["id"]) == []


def test_row_rules_checks_not_null_columns_and_rules_in_one_query(con):
    assert _failing(con, rules=RULES[:1], not_null=["label"]) == [("label_not_null", 2, "label is not null")]
    con.execute("insert into t values (-4, 'a', 1.0)")
    assert _failing(con, rules=RULES[:1], not_null=["label"]) == [
        ("id_positive", 1, "id > 0"), ("label_not_null", 2, "label is not null")]


def test_row_rules_agree_with_one_where_not_test_per_rule(con):
    """The merged test finds what one ``select * from t where not (expression) [and (where)]``
    test per rule (the expression_is_true tests it replaced) finds, NULLs included."""
    con.execute("insert into t select (i % 7) - 2, case when i % 3 = 0 then null else "
                "chr(cast(97 + i % 4 as integer)) end, case when i % 5 = 0 then null else i / 40 end "
                "from range(200) r(i)")
    merged = {name: n for name, n, _ in
              con.execute(render_test("row_rules", model="t", rules=RULES)).fetchall()}
    single = {}
    for r in RULES:
        where = f" and ({r['where']})" if "where" in r else ""
        n = con.execute(f"select count(*) from t where not ({r['expression']}){where}").fetchone()[0]
        if n:
            single[r["name"]] = n
    assert merged == single and len(single) == 3


@pytest.mark.parametrize("rules", [
    [{"name": "a_rule", "expression": "id > 0"}, {"name": "a_rule", "expression": "id < 9"}],
    [{"name": "Upper", "expression": "id > 0"}],
    [{"name": "has space", "expression": "id > 0"}],
    [{"name": "1st", "expression": "id > 0"}],
    [{"name": "no_expression"}],
    [{"name": "id_not_null", "expression": "id > 0"}],   # clashes with the not_null rule of id
])
def test_row_rules_refuses_duplicate_or_malformed_rule_names(rules):
    with pytest.raises(CompilerError, match="unique lower-case identifier"):
        render_test("row_rules", model="t", rules=rules, not_null=["id"])


def test_row_rules_refuses_an_empty_test():
    with pytest.raises(CompilerError, match="no rules and no not_null columns"):
        render_test("row_rules", model="t")


def _run_results(sql: str, *, status: str = "fail", target: str | None = None) -> dict:
    args = {"which": "build", **({"target": target} if target else {})}
    return {"args": args, "results": [
        {"unique_id": "test.lifthouse.row_rules_t", "status": status, "compiled_code": sql},
        {"unique_id": "model.lifthouse.t", "status": "success", "compiled_code": "select 1"}]}


def test_failed_test_rows_reads_the_failing_rows_of_a_failed_test(tmp_path):
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as c:
        c.execute("create table t as select range as id from range(10)")
    sql = render_test("row_rules", model="t", rules=[{"name": "small", "expression": "id < 3"}])
    assert failed_test_rows(_run_results(sql), wh) == [
        "row_rules_t: failing rows", "  rule_name=small, failing_rows=7, rule=id < 3"]
    # at most `limit` rows, and says so
    many = failed_test_rows(_run_results("select id from t where id >= 3"), wh, limit=2)
    assert many == ["row_rules_t: failing rows (the first 2)", "  id=3", "  id=4"]
    # nothing for passing tests, a Spark target, a missing warehouse or SQL that does not run
    assert failed_test_rows(_run_results(sql, status="pass"), wh) == []
    assert failed_test_rows(_run_results(sql, target="spark"), wh) == []
    assert failed_test_rows(_run_results(sql), tmp_path / "missing.duckdb") == []
    assert failed_test_rows(_run_results("select * from no_such_table"), wh) == []


def test_run_results_of_an_earlier_command_are_not_this_ones(tmp_path):
    """dbt writes no run_results.json when it fails to parse: the file an earlier command left
    must not be read as this command's (its failed tests would be reported again)."""
    import os
    import time

    (tmp_path / "run_results.json").write_text('{"results": []}')
    assert DbtRun([], 1, "", tmp_path, started_at=0.0).run_results() == {"results": []}
    os.utime(tmp_path / "run_results.json", (time.time() - 60, time.time() - 60))
    assert DbtRun([], 1, "", tmp_path, started_at=time.time()).run_results() == {}
