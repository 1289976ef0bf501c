"""What the dbt Python models share: reading a DuckDB relation into pandas via Arrow, and the
candidate plan's columns (:data:`lifthouse.research.plan.PLAN_COLUMNS`, their one home). (Each
model keeps its own literal ``dbt.ref("...")`` and ``dbt.config.get("...")`` calls: dbt finds
dependencies and config keys only that way.)"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from lifthouse.research.plan import PLAN_COLUMNS


def to_arrow(relation) -> pa.Table:
    """A DuckDB relation as an Arrow table (``.arrow()`` returns a reader on some versions)."""
    out = relation.arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def to_pandas(relation, sql: str | None = None) -> pd.DataFrame:
    """The relation (optionally through ``sql``, in which it is called ``r``) as pandas."""
    if sql is not None:
        relation = relation.query("r", sql)
    return to_arrow(relation).to_pandas()


def read_plan(candidate_plan) -> pd.DataFrame:
    """The plan columns the Python models use, from the ``candidate_plan`` relation."""
    return to_pandas(candidate_plan.project(", ".join(PLAN_COLUMNS)))
