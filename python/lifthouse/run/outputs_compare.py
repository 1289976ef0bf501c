"""Compare the exported outputs of two runs (the same-results check of docs/benchmarks.md).

``python -m lifthouse.run.outputs_compare BEFORE AFTER`` walks the CSV files under both folders
(as written by ``lifthouse run``: data/reports/... and reports/...) and reports, per file:
byte-identical, or equal up to floating point (every text, integer and boolean cell equal, every
float within ``--rel`` relative, default 1e-9; the largest relative difference per column is
printed, which says where the last bits moved), or different. Other files are compared byte
for byte (figures are listed, not failed: their pixels follow the numbers). Exit 0 when every
CSV is equal within the tolerance and no file is missing on either side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


OUTPUT_FOLDERS = ("data/reports", "reports")  # what a run exports (docs/running.md)


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p
            for folder in OUTPUT_FOLDERS for p in sorted((root / folder).rglob("*"))
            if p.is_file() and p.name not in ("run.log", "manifest.json")}


def compare_csv(a: Path, b: Path, rel: float) -> tuple[bool, dict[str, float], str]:
    """(equal within ``rel``, max relative difference per float column, problem text)."""
    x = pd.read_csv(a, keep_default_na=False, dtype=str)
    y = pd.read_csv(b, keep_default_na=False, dtype=str)
    if list(x.columns) != list(y.columns):
        return False, {}, f"columns differ: {list(x.columns)} vs {list(y.columns)}"
    if len(x) != len(y):
        return False, {}, f"{len(x)} vs {len(y)} rows"
    moved: dict[str, float] = {}
    for col in x.columns:
        if x[col].equals(y[col]):
            continue
        fx, fy = pd.to_numeric(x[col], errors="coerce"), pd.to_numeric(y[col], errors="coerce")
        text_x, text_y = x[col][fx.isna()], y[col][fy.isna()]
        if not (fx.isna().equals(fy.isna()) and text_x.equals(text_y)):
            bad = int((x[col] != y[col]).sum())
            return False, moved, f"column {col}: {bad} non-numeric cell(s) differ"
        is_int = x[col].str.fullmatch(r"-?\d+") & y[col].str.fullmatch(r"-?\d+")
        if not x[col][is_int].equals(y[col][is_int]):
            return False, moved, f"column {col}: integer cells differ"
        u, v = fx.to_numpy(dtype=float), fy.to_numpy(dtype=float)
        ok = ~np.isnan(u)
        scale = np.maximum(np.abs(u[ok]), np.abs(v[ok]))
        diff = np.abs(u[ok] - v[ok])
        r = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
        moved[col] = float(r.max()) if r.size else 0.0
    worst = max(moved.values(), default=0.0)
    return worst <= rel, moved, "" if worst <= rel else f"relative difference {worst:.3g} > {rel:g}"


def compare_dirs(before: Path, after: Path, rel: float = 1e-9) -> tuple[bool, list[str]]:
    fa, fb = _files(before), _files(after)
    lines, ok = [], True
    for name in sorted(set(fa) | set(fb)):
        if name not in fa or name not in fb:
            ok = False
            lines.append(f"MISSING {'before' if name not in fa else 'after'}: {name}")
            continue
        if fa[name].read_bytes() == fb[name].read_bytes():
            lines.append(f"identical  {name}")
            continue
        if name.endswith(".csv"):
            same, moved, problem = compare_csv(fa[name], fb[name], rel)
            ok &= same
            cols = ", ".join(f"{c} {m:.1e}" for c, m in sorted(moved.items()) if m > 0)
            lines.append(f"{'within' if same else 'DIFFERENT'}  {name}"
                         + (f"  (last bits moved: {cols})" if cols else "")
                         + (f"  {problem}" if problem else ""))
        else:
            lines.append(f"bytes differ  {name}")
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifthouse.run.outputs_compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rel", type=float, default=1e-9)
    args = parser.parse_args(argv)
    ok, lines = compare_dirs(args.before, args.after, args.rel)
    print("\n".join(lines))
    print("same results" if ok else "RESULTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
