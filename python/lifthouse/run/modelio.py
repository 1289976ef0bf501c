"""What the dbt Python models share: reading a relation into pandas via Arrow, handing the result
back to the engine, and the candidate plan's columns (:data:`lifthouse.research.plan.PLAN_COLUMNS`,
their one home). The relation is a DuckDB relation (dbt-duckdb) or a Spark DataFrame (dbt-spark,
docs/spark.md); both give the same Arrow table, with naive UTC timestamps (SPEC 2), so the pure
functions see the same frame on either engine. (Each model keeps its own literal
``dbt.ref("...")`` and ``dbt.config.get("...")`` calls: dbt finds dependencies and config keys
only that way.)"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from lifthouse.research.plan import PLAN_COLUMNS


def is_spark(obj) -> bool:
    """True for a Spark DataFrame or SparkSession (without importing pyspark)."""
    return type(obj).__module__.startswith("pyspark.")


def naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps with a time zone (Spark's TIMESTAMP) as naive UTC microseconds."""
    fields = [pa.field(f.name, pa.timestamp("us"), f.nullable)
              if pa.types.is_timestamp(f.type) and f.type.tz is not None else f
              for f in table.schema]
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


def to_arrow(relation) -> pa.Table:
    """A DuckDB relation or Spark DataFrame as an Arrow table (``.arrow()`` returns a reader on
    some DuckDB versions)."""
    if is_spark(relation):
        return naive_utc(relation.toArrow())
    out = relation.arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def query(relation, sql: str):
    """``sql`` over the relation, in which it is called ``r`` (lazy on both engines)."""
    if is_spark(relation):
        relation.createOrReplaceTempView("r")
        return relation.sparkSession.sql(sql)
    return relation.query("r", sql)


def to_pandas(relation, sql: str | None = None) -> pd.DataFrame:
    """The relation (optionally through ``sql``, in which it is called ``r``) as pandas."""
    if sql is not None:
        relation = query(relation, sql)
    return to_arrow(relation).to_pandas()


def to_engine(session, result: pd.DataFrame | pa.Table):
    """What a model returns: the frame itself on DuckDB; on Spark a DataFrame built from its
    Arrow form (columns with no value at all become strings: Parquet has no NULL type)."""
    if not is_spark(session):
        return result
    table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result, preserve_index=False)
    schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                        for f in table.schema])
    return session.createDataFrame(table.cast(schema) if schema != table.schema else table)


def read_plan(candidate_plan) -> pd.DataFrame:
    """The plan columns the Python models use, from the ``candidate_plan`` relation."""
    return to_pandas(candidate_plan, f"select {', '.join(PLAN_COLUMNS)} from r")
