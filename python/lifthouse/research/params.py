"""Parameters of the research numerics, named exactly like their dbt vars (dbt_project.yml).

The defaults here are the dbt_project.yml defaults, for direct calls from Python (tests,
notebooks); ``tests/python/test_params.py`` fails when one differs. In a build every value
comes from dbt: a Python model passes its ``dbt.config.get("<var>")`` values to
:func:`from_config` (macros/python_model_config.sql maps each key to the var of that name).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

T = TypeVar("T")
_CASTS: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str,
                                           "bool": lambda v: str(v).strip().lower() in ("true", "1")}


def from_config(cls: type[T], get: Callable[[str], Any], **fixed: Any) -> T:
    """An instance of the dataclass ``cls`` from a dbt ``config.get``-like callable: each field
    is read under its own name (= the dbt var; values may arrive as strings). ``fixed`` sets
    fields directly; a field neither fixed nor configured keeps its default."""
    kwargs: dict[str, Any] = dict(fixed)
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            continue
        value = get(f.name)
        if value is not None and value != "":
            kwargs[f.name] = _CASTS.get(str(f.type), lambda v: v)(value)
    return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class LiftParams:
    """The ablation vars (SPEC 8) and one internal constant."""
    bootstrap_seed: int = 20250101
    n_boot: int = 2000
    lift_alpha: float = 0.05      # CIs at 1 - lift_alpha
    lift_q_max: float = 0.10      # verdict needs BH q <= lift_q_max
    lift_min_n: int = 10          # verdict needs n_cond >= lift_min_n ...
    lift_min_days: int = 5        # ... on at least lift_min_days distinct UTC days
    min_valid_share: float = 0.5  # not a var: share of bootstrap draws with every mean defined
