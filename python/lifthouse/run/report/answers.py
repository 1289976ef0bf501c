"""The answers as lift_summary's question rows state them: rendered, never decided, here (the
verdicts come from :func:`lifthouse.research.questions.question_rows`), mapped improves -> yes,
hurts -> no, inconclusive -> inconclusive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lifthouse.research.questions import FALLBACK_QUESTION_ID
from lifthouse.run.report.format import to_number, fmt_pct
from lifthouse.run.report.inputs import first_value, rows_of_type

# lift_summary verdict -> the answer's word
ANSWER_WORDS = {"improves": "yes", "hurts": "no", "inconclusive": "inconclusive"}

@dataclass
class Answer:
    """One answer as lift_summary's question row states it (``row``: that row's values)."""

    key: str
    text: str
    kind: str                 # "lift" (does a condition improve an event?) | "fallback_rate"
    verdict: str              # lift: yes | no | inconclusive; fallback_rate: the rate or n/a
    reason: str
    row: dict = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """The question has a roll-up behind it (numbers to show)."""
        return self.kind == "lift" and to_number(self.row.get("lift_bps")) is not None


def _question_sort_key(key: Any) -> tuple[int, str]:
    s = str(key)
    digits = s[1:] if s[:1] == "Q" else ""
    return (int(digits), s) if digits.isdigit() else (10 ** 9, s)


def answers(lift_summary: pd.DataFrame) -> list[Answer]:
    """The answers in question order (Q1, Q2, Q3, ...), read from the 'question' rows of
    lift_summary only. Nothing is recomputed: the verdict is the row's, in words."""
    rows = rows_of_type(lift_summary, "question")
    out = []
    for r in sorted((r for _, r in rows.iterrows()),
                    key=lambda r: _question_sort_key(r.get("row_key"))):
        row = {k: first_value(r, k) for k in r.index}
        key, text = str(row.get("row_key")), str(row.get("detail") or row.get("row_key"))
        if key == FALLBACK_QUESTION_ID and row.get("event_type") is None:
            rate = to_number(row.get("fallback_rate"))
            out.append(Answer(key, text, "fallback_rate",
                              fmt_pct(rate) if rate is not None else "undefined",
                              str(row.get("verdict_reason") or ""), row))
        else:
            verdict = ANSWER_WORDS.get(str(row.get("verdict")), "inconclusive")
            out.append(Answer(key, text, "lift", verdict, str(row.get("verdict_reason") or ""),
                              row))
    return out
