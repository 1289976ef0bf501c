"""The Spark engine (docs/spark.md): what dbt-spark's session method lacks for this project.

Open-source dbt-spark submits Python models only to Databricks (``all_purpose_cluster`` /
``job_cluster`` over its REST API). :class:`SessionPythonJobHelper` runs the compiled model in
the dbt process's own SparkSession instead, so the same thin model wrappers and the same
pandas/numpy kernels run on both engines. :func:`install` registers it; the dbt plugin
``python/dbt_lifthouse.py`` calls it when the Spark adapter is loaded, so plain
``dbt build --target spark`` works as well as ``lifthouse run --engine spark``.

:func:`publish` copies a Spark build's tables into a DuckDB file so the export, report and
manifest stages read a Spark run exactly as they read a DuckDB run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SUBMISSION_METHOD = "session"


class SessionPythonJobHelper:
    """A dbt PythonJobHelper that executes the compiled Python model in the active session."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        name = f"<dbt python model {self.parsed_model.get('alias')}>"
        exec(compile(compiled_code, name, "exec"), {"spark": spark, "__name__": "__dbt_model__"})


def install() -> None:
    """Make ``session`` dbt-spark's Python submission method for ``method: session`` profiles."""
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_lifthouse_session_python", False):
        return
    helpers = SparkAdapter.python_submission_helpers.fget
    default = SparkAdapter.default_python_submission_method.fget

    def python_submission_helpers(self):
        return {**helpers(self), SUBMISSION_METHOD: SessionPythonJobHelper}

    def default_python_submission_method(self):
        method = getattr(self.config.credentials, "method", None)
        return SUBMISSION_METHOD if str(method) in ("session", "SparkConnectionMethod.SESSION") \
            else default(self)

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
    SparkAdapter.default_python_submission_method = property(default_python_submission_method)
    SparkAdapter._lifthouse_session_python = True
    try:
        _install_session_functions()
    except ImportError:        # dbt-spark without the session extra: nothing to register
        pass


QUANTILE_FUNCTION = "lifthouse_quantile_cont"


def register_functions(spark) -> None:
    """SQL functions the spark__ macros call (macros/portable/trailing_quantile.sql).

    ``lifthouse_quantile_cont(x, q)``: the exact quantile with linear interpolation (DuckDB's
    quantile_cont, numpy's default), NULLs ignored, as a pandas aggregate usable over window
    frames. Spark's own exact percentile() re-sorts every sliding frame in the JVM, which took
    minutes on a 24h frame; numpy does the same work per frame far faster."""
    import numpy as np
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def quantile_cont(values, q):
        v = values.dropna().to_numpy(dtype="float64")
        if v.size == 0:
            return None
        return float(np.quantile(v, float(q.iloc[0])))

    # real classes, not the strings `from __future__ import annotations` would leave: pyspark
    # infers a grouped-aggregate (Series, Series -> scalar) UDF from them
    quantile_cont.__annotations__ = {"values": pd.Series, "q": pd.Series, "return": float}
    spark.udf.register(QUANTILE_FUNCTION, pandas_udf(quantile_cont, "double"))


def _install_session_functions() -> None:
    """Register :func:`register_functions` in the session before dbt-spark's first statement."""
    from dbt.adapters.spark import session as spark_session
    from pyspark.sql import SparkSession

    execute = spark_session.Cursor.execute
    state = {"done": False}

    def execute_with_functions(self, sql, *parameters):
        if not state["done"]:
            builder = SparkSession.builder.enableHiveSupport()
            for key, value in self.server_side_parameters.items():
                builder = builder.config(key, value)
            register_functions(builder.getOrCreate())
            state["done"] = True
        return execute(self, sql, *parameters)

    spark_session.Cursor.execute = execute_with_functions

    # dbt-spark 1.11's session cursor renders a NULL seed cell as the string 'None'
    fix_binding = spark_session.SessionConnectionWrapper._fix_binding.__func__

    def fix_binding_null(cls, value):
        return "null" if value is None else fix_binding(cls, value)

    spark_session.SessionConnectionWrapper._fix_binding = classmethod(fix_binding_null)


# what ``--engine spark`` imports (``make setup-spark`` installs them in .venv-spark)
REQUIRED_MODULES = {"pyspark": "pyspark", "dbt.adapters.spark": "dbt-spark"}  # module: package


def missing_requirements() -> list[str]:
    """What this Python lacks for a Spark build: the packages of :data:`REQUIRED_MODULES` it
    cannot import, and ``java`` when neither JAVA_HOME nor PATH has one (pyspark starts a JVM).
    Checked before dbt starts: without them dbt-spark fails with "Credentials ... invalid"."""
    import importlib.util
    import shutil

    missing = []
    for module, package in REQUIRED_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:        # a parent package (dbt.adapters) is missing
            found = False
        if not found:
            missing.append(package)
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and (Path(java_home) / "bin" / "java").exists()) and not shutil.which("java"):
        missing.append("java (a Java runtime)")
    return missing


def spark_env(spark_dir: Path, master: str | None = None) -> dict[str, str]:
    """Environment for a dbt build on the ``spark`` target (one Spark directory per build)."""
    import sys

    # executors' Python workers (the quantile function) need this venv's pandas and numpy
    env = {"LIFTHOUSE_SPARK_DIR": str(Path(spark_dir).resolve()),
           "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    if master:
        env["LIFTHOUSE_SPARK_MASTER"] = master
    return env


def table_dirs(spark_dir: Path, schema: str = "main") -> dict[str, Path]:
    """The Parquet folder of every table of a Spark build (``<dir>/tables/<schema>.db/<t>``)."""
    root = Path(spark_dir) / "tables" / f"{schema}.db"
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir())
            if p.is_dir() and any(p.glob("*.parquet"))}


def publish(spark_dir: Path, warehouse: Path, schema: str = "main") -> list[str]:
    """Copy every table of a Spark build into the DuckDB file ``warehouse`` (replaced), with
    Spark's UTC-adjusted timestamps turned back into naive UTC timestamps (SPEC 2). Returns the
    table names. The rows are Spark's; only the container changes."""
    import duckdb

    from lifthouse.data.raw import glob_escape, sql_string

    tables = table_dirs(spark_dir, schema)
    warehouse = Path(warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse.with_name(warehouse.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("set TimeZone = 'UTC'")
        for name, folder in tables.items():
            src = f"read_parquet({sql_string(glob_escape(folder.as_posix()) + '/*.parquet')})"
            cols = con.execute(f"describe select * from {src}").fetchall()
            select = ", ".join(
                f'cast("{c[0]}" as timestamp) as "{c[0]}"' if c[1].startswith("TIMESTAMP WITH")
                else f'"{c[0]}"' for c in cols)
            con.execute(f'create table "{name}" as select {select} from {src}')
    finally:
        con.close()
    os.replace(tmp, warehouse)
    return list(tables)
