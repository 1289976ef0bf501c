"""What the dbt Python models share: reading a DuckDB relation into pandas via Arrow, and the
columns of the candidate plan they read. (Each model keeps its own literal ``dbt.ref("...")``
and ``dbt.config.get("...")`` calls: dbt finds dependencies and config keys only that way.)"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

PLAN_COLUMNS = ("candidate_id, family_id, twin_candidate_id, event_type, condition, "
                "vol_condition, carry_condition, is_conditioned, horizon_min, direction_rule, "
                "symbol_scope")


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
    return to_pandas(candidate_plan, f"select {PLAN_COLUMNS} from r")
