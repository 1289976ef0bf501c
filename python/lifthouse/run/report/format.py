"""Numbers to text for the report: the formats, the markdown table, the state display order."""

from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd

STATE_ORDER = ("all", "vol_low", "vol_mid", "vol_high", "carry_neg", "carry_neutral", "carry_pos",
               "warmup")


def to_number(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_bps(x: Any, digits: int = 2) -> str:
    v = to_number(x)
    return "n/a" if v is None else f"{v:+.{digits}f}"


def fmt_p(x: Any) -> str:
    v = to_number(x)
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def fmt_int(x: Any) -> str:
    v = to_number(x)
    return "n/a" if v is None else str(int(round(v)))


def fmt_pct(x: Any, digits: int = 1) -> str:
    v = to_number(x)
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def fmt_ci(lo: Any, hi: Any) -> str:
    return f"[{fmt_bps(lo)}, {fmt_bps(hi)}]"


def markdown_table(df: pd.DataFrame, formats: dict[str, Callable[[Any], str]] | None = None,
                   headers: dict[str, str] | None = None) -> str:
    """A GitHub markdown table of ``df`` (row order as given). Pure."""
    if df is None or df.empty:
        return "_(no rows)_\n"
    formats = formats or {}
    headers = headers or {}

    def cell(col: str, value: Any) -> str:
        if col in formats:
            text = formats[col](value)
        elif value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            text = ""
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    cols = list(df.columns)
    lines = ["| " + " | ".join(headers.get(c, c) for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(cols, row)) + " |")
    return "\n".join(lines) + "\n"


def state_sort_key(state: Any) -> tuple[int, str]:
    s = str(state)
    return (STATE_ORDER.index(s) if s in STATE_ORDER else len(STATE_ORDER), s)


def ci_label(level: float | None) -> str:
    return f"{100 * level:g}% CI" if level else "CI"
