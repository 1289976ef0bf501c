"""The generic data test ``not_null_columns`` (tests/generic/) on small DuckDB tables: its SQL,
rendered from the ``{% test %}`` block with Jinja, returns rows exactly when a listed column holds
a NULL. No dbt build needed (``render_test`` works for the other generic tests too)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

GENERIC = Path(__file__).resolve().parents[1] / "generic"


def render_test(name: str, **kwargs) -> str:
    """The SQL of generic test ``name`` for ``kwargs``: its ``{% test %}`` block as a Jinja macro."""
    text = (GENERIC / f"{name}.sql").read_text()
    text = re.sub(r"{%-?\s*test\s+", "{% macro ", text)
    text = re.sub(r"{%-?\s*endtest\s*-?%}", "{% endmacro %}", text)
    module = jinja2.Environment().from_string(text).module
    return str(getattr(module, name)(**kwargs))


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create table t as select * from (values (1, 'a', 1.5), (2, null, null), "
              "(3, null, 2.5)) v(id, label, price)")
    yield c
    c.close()


def test_not_null_columns_names_each_column_with_nulls_and_its_count(con):
    sql = render_test("not_null_columns", model="t", columns=["id", "label", "price"])
    rows = con.execute(f"{sql} order by column_name").fetchall()
    assert rows == [("label", 2), ("price", 1)]


def test_not_null_columns_passes_when_no_column_has_nulls(con):
    assert con.execute(render_test("not_null_columns", model="t", columns=["id"])).fetchall() == []
    con.execute("delete from t")   # an empty table passes too
    assert con.execute(render_test("not_null_columns", model="t",
                                   columns=["id", "label"])).fetchall() == []


def test_not_null_columns_agrees_with_one_not_null_check_per_column(con):
    con.execute("insert into t values (null, 'b', 3.0), (5, 'c', null)")
    cols = ["id", "label", "price"]
    merged = dict(con.execute(render_test("not_null_columns", model="t", columns=cols)).fetchall())
    single = {c: con.execute(f"select count(*) from t where {c} is null").fetchone()[0] for c in cols}
    assert merged == {c: n for c, n in single.items() if n > 0}
