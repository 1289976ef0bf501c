"""Calibration of the grid-level snooping tests (docs/phase2.md, "Data snooping"): the tests on
null markets (``lifthouse sample --null``: no planted drift) and on planted ones, each generated
into a temporary folder and built with ``dbt build --select +phase2_grid_tests
+phase2_candidate_results`` (default vars, the sample window).

    python -m lifthouse.run.snoop_calibration --null-seeds 1-10 --planted-seeds 7,8,9

Prints one line per market (SPA p-values of the whole grid, StepM's selection, PBO) and, for
planted markets, which selected candidates follow a planted rule: cascades faded where
carry_state can be carry_pos, vacuums followed where vol_regime can be vol_high
(docs/sample_data.md). A selection outside them is a false discovery. Not part of ``make test``
(about 20 s a market on 2 cores)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from lifthouse.run.dbt import run_dbt

SELECT = ["+phase2_grid_tests", "+phase2_candidate_results"]


def planted_rule(candidate_id: str) -> bool:
    """True when the candidate trades a planted effect the right way round: a cascade faded
    under a condition that admits carry_pos, a vacuum followed under one that admits vol_high."""
    event, condition, _h, rule, _scope = candidate_id.split("__")
    parts = condition.split("_x_")
    if event == "LIQUIDATION_CASCADE":
        return rule == "fade" and not any(p in ("carry_neg", "carry_neutral") for p in parts)
    if event == "liquidity_vacuum":
        return rule == "follow" and not any(p in ("vol_low", "vol_mid") for p in parts)
    return False


def calibrate(seed: int, null: bool, work: Path) -> dict:
    from lifthouse.data.sample import generate

    raw = work / f"raw_{'null' if null else 'planted'}_{seed}"
    generate(raw, seed=seed, null=null)
    wh = work / f"wh_{'null' if null else 'planted'}_{seed}.duckdb"
    run_dbt(["build", "--select", *SELECT, "--exclude-resource-type", "unit_test",
             "--exclude-resource-type", "test"],
            warehouse=wh, target_dir=work / "target", vars={"raw_dir": str(raw)})
    with duckdb.connect(str(wh), read_only=True) as con:
        g = con.execute("select * from phase2_grid_tests where scope = 'all'").df().iloc[0]
        prom = con.execute("select count(*) filter (where status in ('promoted', 'fallback')), "
                           "count(*) filter (where status in ('promoted', 'fallback') and "
                           "stepm_selected) from phase2_candidate_results").fetchone()
    wh.unlink()
    ids = [c for c in str(g["stepm_selected_ids"]).split(",") if c]
    outside = ids if null else [c for c in ids if not planted_rule(c)]  # null: every one is false
    return {"seed": seed, "null": null, "k_tested": int(g["k_tested"]),
            "spa_p_consistent": float(g["spa_p_consistent"]),
            "spa_p_lower": float(g["spa_p_lower"]), "spa_p_upper": float(g["spa_p_upper"]),
            "stepm_n_selected": len(ids), "stepm_outside_planted": outside,
            "pbo": float(g["pbo"]), "prob_oos_loss": float(g["prob_oos_loss"]),
            "n_trials_effective": float(g["n_trials_effective"]),
            "promotions": int(prom[0]), "promotions_stepm": int(prom[1])}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifthouse.run.snoop_calibration",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--null-seeds", default="1-10", help="seeds of null markets, e.g. 1-10")
    parser.add_argument("--planted-seeds", default="7", help="seeds of planted markets, e.g. 7,8")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    from lifthouse.run.resources import exit_on_bad_environment

    exit_on_bad_environment(parser.prog, Path(tempfile.gettempdir()) / "x.duckdb")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifthouse-snoop-") as tmp:
        for null, seeds in ((True, _seeds(args.null_seeds)), (False, _seeds(args.planted_seeds))):
            for seed in seeds:
                r = calibrate(seed, null, Path(tmp))
                rows.append(r)
                print(json.dumps(r), flush=True)
    df = pd.DataFrame(rows)
    for null, part in df.groupby("null"):
        kind = "null" if null else "planted"
        print(f"{kind}: {len(part)} markets; SPA p < 0.05 in {(part['spa_p_consistent'] < 0.05).sum()}; "
              f"StepM selects nothing in {(part['stepm_n_selected'] == 0).sum()}; "
              f"false selections (null: every one; planted: outside the planted rules): {sum(map(len, part['stepm_outside_planted']))}; "
              f"PBO median {part['pbo'].median():.2f} (min {part['pbo'].min():.2f})")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
