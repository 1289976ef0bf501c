"""Trade statistics and multiple-testing corrections for the Phase 2 backtest (SPEC 6).

Pure numpy / pandas / scipy. Conventions (also in docs/phase2.md):

* **Day-clustered t-statistic** of the mean net bps. Model ``y_i = mu + e_i`` with clusters
  g = UTC day of entry. ``se^2 = G/(G-1) * sum_g (sum_{i in g} (y_i - ybar))^2 / n^2`` (CRV1 with
  the usual small-sample factor ``G/(G-1) * (n-1)/(n-k)``, which is ``G/(G-1)`` for k = 1 —
  statsmodels' default for ``OLS(y, ones).fit(cov_type='cluster')``). p-values come
  from Student t with ``G-1`` degrees of freedom (statsmodels: ``use_t=True``; its default
  ``use_t=False`` would use the normal). ``clustered_t`` returns the two-sided p-value by default
  (as statsmodels); the candidate tables (``summarize``) use the ONE-sided p-value of
  H1: mean > 0, because the research claim is "positive after-cost edge". With two-sided
  p-values every significantly *negative* candidate (after costs most null candidates are) would
  count as a BH discovery and raise the BH cut-off for the positive ones (anti-conservative).
  With fewer than 2 clusters (or a zero SE) the t-statistic and p-value are NaN: one day says
  nothing about day-to-day variation, and a NaN p-value fails the q gate.
* **Annualised Sharpe** per trade: ``mean/std * sqrt(trades per year)`` where trades per year is
  the observed frequency ``n / (block length in days / 365)`` (crypto trades every day). NaN with
  n < 2 or std = 0.
* **Max drawdown** of the cumulative net bps of the trade sequence in entry order, starting from
  0, reported as a positive number of bps (0 = never below a previous peak).
* **BH / BY q-values**: step-up adjusted p-values over the non-NaN entries (m = their number);
  NaN p-values stay NaN and do not count in m. BY multiplies by ``c(m) = sum_{i<=m} 1/i``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lifthouse.research.multiple_testing import bh_qvalues, by_qvalues

STAT_FIELDS = ("n", "n_days", "mean_bps", "median_bps", "hit_rate", "std_bps", "t_stat",
               "p_value", "sharpe_ann", "max_dd_bps")


def t_sf(x, dof):
    """Survival function of Student's t with ``dof`` degrees of freedom: the value (same bits)
    of ``scipy.stats.t.sf(x, dof)``, which evaluates ``scipy.special.stdtr(dof, -x)`` and gives
    NaN where dof <= 0 or is NaN. Called here directly, because importing scipy.stats costs
    1-3 s in each dbt Python model that needs a p-value (tests/python/test_stats.py compares
    the two)."""
    from scipy.special import stdtr

    x = np.asarray(x, dtype=float)
    dof = np.asarray(dof, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(dof > 0, stdtr(dof, -x), np.nan)
    return out[()] if out.ndim == 0 else out


def t_pvalue(t, dof, alternative: str = "two-sided"):
    """p-value of a t statistic: ``two-sided`` or ``greater`` (H1: mean > 0)."""
    if alternative == "two-sided":
        return 2.0 * t_sf(np.abs(t), dof)
    if alternative == "greater":
        return t_sf(t, dof)
    raise ValueError(f"alternative must be 'two-sided' or 'greater', got {alternative!r}")


def clustered_t(y: np.ndarray, clusters: np.ndarray, alternative: str = "two-sided"
                ) -> tuple[float, float, float, int]:
    """(t_stat, p_value, se, n_clusters) of mean(y) with cluster-robust SE (see module doc)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    _, inv = np.unique(np.asarray(clusters), return_inverse=True)
    g = int(inv.max()) + 1
    if g < 2:
        return math.nan, math.nan, math.nan, g
    resid = y - y.mean()
    sums = np.bincount(inv, weights=resid, minlength=g)
    var = g / (g - 1.0) * float(np.sum(sums**2)) / n**2
    se = math.sqrt(var)
    if not se > 0:
        return math.nan, math.nan, se, g
    t = float(y.mean() / se)
    p = float(t_pvalue(t, g - 1, alternative))
    return t, p, se, g


def sharpe_annualised(y: np.ndarray, period_days: float) -> float:
    """Per-trade Sharpe scaled by sqrt(observed trades per year) over a block of period_days."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 2 or not period_days or period_days <= 0:
        return math.nan
    sd = float(np.std(y, ddof=1))
    if not sd > 0:
        return math.nan
    trades_per_year = n / (period_days / 365.0)
    return float(y.mean() / sd * math.sqrt(trades_per_year))


def max_drawdown_bps(y: np.ndarray) -> float:
    """Largest peak-to-trough fall of cumsum(y) (starting at 0), as a positive bps number."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return math.nan
    cum = np.concatenate([[0.0], np.cumsum(y)])
    return float(np.max(np.maximum.accumulate(cum) - cum))


def summarize(y: np.ndarray, days: np.ndarray, period_days: float) -> dict[str, float]:
    """STAT_FIELDS for one block of trades (y = net bps in entry order, days = UTC entry day).
    ``p_value`` is one-sided (H1: mean > 0)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0:
        return {"n": 0, "n_days": 0, **{k: math.nan for k in STAT_FIELDS[2:]}}
    t, p, _se, g = clustered_t(y, days, alternative="greater")
    return {
        "n": n,
        "n_days": g,
        "mean_bps": float(y.mean()),
        "median_bps": float(np.median(y)),
        "hit_rate": float(np.mean(y > 0)),
        "std_bps": float(np.std(y, ddof=1)) if n > 1 else math.nan,
        "t_stat": t,
        "p_value": p,
        "sharpe_ann": sharpe_annualised(y, period_days),
        "max_dd_bps": max_drawdown_bps(y),
    }


def summarize_groups(keys: np.ndarray, y: np.ndarray, days: np.ndarray,
                     period_days: float) -> pd.DataFrame:
    """``summarize`` for many groups at once (vectorised; same conventions). Rows must be in
    entry order within each key (the drawdown follows row order). Index = key."""
    cols = list(STAT_FIELDS)
    if len(keys) == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], dtype=object))
    df = pd.DataFrame({"k": keys, "y": np.asarray(y, dtype=float), "d": days})
    grp = df.groupby("k", sort=False)["y"]
    out = pd.DataFrame({
        "n": grp.size(), "mean_bps": grp.mean(), "median_bps": grp.median(),
        "hit_rate": (df["y"] > 0).groupby(df["k"], sort=False).mean(),
        "std_bps": grp.std(ddof=1),
    })
    # clustered SE: residual sums per (key, day) = sum_y - n_day * mean_key
    df["mean"] = df["k"].map(out["mean_bps"])
    df["resid"] = df["y"] - df["mean"]
    day_sums = df.groupby(["k", "d"], sort=False)["resid"].sum()
    G = day_sums.groupby(level=0, sort=False).size().reindex(out.index)
    ss = (day_sums**2).groupby(level=0, sort=False).sum().reindex(out.index)
    n = out["n"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(G / (G - 1.0) * ss / n**2)
        ok = (G >= 2) & (se > 0)
        t = np.where(ok, out["mean_bps"] / se, np.nan)
        p = np.where(ok, t_pvalue(t, np.maximum(G - 1, 1), "greater"), np.nan)
        sd = out["std_bps"]
        sharpe = np.where((n >= 2) & (sd > 0) & (period_days > 0),
                          out["mean_bps"] / sd * np.sqrt(n / (period_days / 365.0)), np.nan)
    out["n_days"] = G
    out["t_stat"] = t
    out["p_value"] = p
    out["sharpe_ann"] = sharpe
    cum = df.groupby("k", sort=False)["y"].cumsum()
    peak = cum.groupby(df["k"], sort=False).cummax().clip(lower=0.0)
    out["max_dd_bps"] = (peak - cum).groupby(df["k"], sort=False).max().clip(lower=0.0)
    return out[cols]

def candidate_statistics(plan: pd.DataFrame, trades: pd.DataFrame,
                         block_days: dict[str, float]) -> pd.DataFrame:
    """One row per candidate of ``plan``: status counts over all considered rows, SPEC 6
    statistics on the discovery (``disc_``) and holdout (``hold_``) blocks, and BH/BY q-values
    over all candidates' discovery p-values.

    trades: candidate_id, trade_status, block, entry_time, trade_day, net_bps, event_id (the
        output of ``backtest.run_backtest`` or a projection of it).
    block_days: calendar days per block (``backtest.Split.block_days()``) for the Sharpe ratio.
    """
    ids = plan["candidate_id"].to_numpy(dtype=object)
    out = pd.DataFrame({"candidate_id": ids})

    counts = (trades.groupby(["candidate_id", "trade_status"], sort=False).size()
              .unstack(fill_value=0))
    for status, col in [("traded", "n_trades"), ("skipped_overlap", "n_skipped_overlap"),
                        ("dropped_past_end", "n_dropped_past_end"),
                        ("dropped_gap", "n_dropped_gap")]:
        s = counts[status] if status in counts.columns else pd.Series(dtype="int64")
        out[col] = s.reindex(ids).fillna(0).astype("int64").to_numpy()
    out["n_events"] = out[["n_trades", "n_skipped_overlap", "n_dropped_past_end",
                           "n_dropped_gap"]].sum(axis=1).astype("int64")

    order_cols = ["candidate_id", "entry_time"] + (["event_id"] if "event_id" in trades else [])
    traded = trades.loc[trades["trade_status"] == "traded",
                        list(dict.fromkeys(order_cols + ["block", "trade_day", "net_bps"]))]
    for block, prefix in [("discovery", "disc_"), ("holdout", "hold_")]:
        b = traded.loc[traded["block"] == block].sort_values(order_cols, kind="stable")
        g = summarize_groups(b["candidate_id"].to_numpy(dtype=object),
                             b["net_bps"].to_numpy(dtype=float), b["trade_day"].to_numpy(),
                             block_days.get(block, math.nan))
        g = g.reindex(ids)
        g["n"] = g["n"].fillna(0).astype("int64")
        g["n_days"] = g["n_days"].fillna(0).astype("int64")
        for k in STAT_FIELDS:
            out[prefix + k] = g[k].to_numpy()

    out["q_bh"] = bh_qvalues(out["disc_p_value"].to_numpy(dtype=float))
    out["q_by"] = by_qvalues(out["disc_p_value"].to_numpy(dtype=float))
    return out
