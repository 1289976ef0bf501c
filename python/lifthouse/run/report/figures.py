"""The report's figures: lift per condition with CIs, and the average path after events by
state. matplotlib's Agg backend with fixed metadata, so the PNGs are reproducible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from lifthouse.data.atomic import atomic_write_bytes
from lifthouse.run.report.answers import answers
from lifthouse.run.report.format import ci_label, to_number, state_sort_key, fmt_int
from lifthouse.run.report.inputs import ReportMeta
from lifthouse.run.report.sections import rollup_table

# one colour per state in every figure (combinations of two states: COMBO_COLOR)
STATE_COLORS = {"all": "black", "vol_low": "tab:blue", "vol_mid": "tab:orange",
                "vol_high": "tab:red", "carry_neg": "tab:purple", "carry_neutral": "tab:gray",
                "carry_pos": "tab:green", "warmup": "tab:olive"}
COMBO_COLOR = "tab:brown"


def preload_in_background() -> None:
    """Import matplotlib (Agg) in a daemon thread. The run calls this as dbt starts: while dbt
    imports and parses, one of the two cores is idle, and importing matplotlib takes 0.6-0.7 s
    of the report stage otherwise (docs/benchmarks.md). The report's own import then finds the
    modules loaded (or waits for them); the figures' bytes do not depend on it."""
    import threading

    threading.Thread(target=_pyplot, name="lifthouse-matplotlib", daemon=True).start()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "lifthouse"
    return plt


def _savefig(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    # bbox "tight": no label is clipped at the figure's edge
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
    atomic_write_bytes(buf.getvalue(), path)
    return path


def _finish(plt, fig, path: Path, title: str) -> Path:
    """Title, layout, the reproducible PNG at ``path``; the figure is closed."""
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out


def _state_color(condition: Any) -> str:
    return STATE_COLORS.get(str(condition), COMBO_COLOR)


def plot_lift(lift_summary: pd.DataFrame, path: Path, meta: ReportMeta | None = None) -> Path:
    """Roll-up lift per (event type, condition) with CI error bars, coloured by state (the same
    colours as the path figure). Pre-registered pairs are marked with a star. Rows with fewer
    than lift_min_n events (or lift_min_days days) are not drawn, so they do not set the scale:
    their label says so."""
    meta = meta or ReportMeta(run_id="?", start_date="?", end_date="?", symbols=[])
    plt = _pyplot()
    roll = rollup_table(lift_summary)
    types = sorted(roll["event_type"].unique()) if not roll.empty else []
    most = max([int((roll["event_type"] == t).sum()) for t in types] or [1])
    fig, axes = plt.subplots(1, max(1, len(types)), squeeze=False,
                             figsize=(6.5 * max(1, len(types)), max(3.5, 2.2 + 0.32 * most)))
    if not types:
        axes[0][0].text(0.5, 0.5, "no roll-up rows", ha="center", va="center")
    asked = {(a.row.get("event_type"), a.row.get("condition")): a.key
             for a in answers(lift_summary) if a.kind == "lift"}
    for ax, et in zip(axes[0], types):
        part = roll[roll["event_type"] == et]
        labels = []
        for i, r in enumerate(part.to_dict("records")):
            cond = r.get("condition")
            few = meta.too_few(r.get("n_cond"), r.get("n_cond_days"))
            q = asked.get((et, cond))
            lift, lo, hi = (to_number(r.get(c)) for c in ("lift_bps", "lift_ci_low", "lift_ci_high"))
            label = f"{cond} (n={fmt_int(r.get('n_cond'))})"
            if q:
                label = f"{q}: {label}"
            if few or lift is None:
                label += f": {few or 'no lift'}, not drawn"
            elif lo is not None and hi is not None:
                ax.errorbar(lift, i, xerr=[[max(0.0, lift - lo)], [max(0.0, hi - lift)]],
                            fmt="*" if q else "o", markersize=12 if q else 6,
                            color=_state_color(cond), capsize=3)
            else:
                ax.plot(lift, i, "*" if q else "o", color=_state_color(cond))
            labels.append(label)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        for tick, cond in zip(ax.get_yticklabels(), part["condition"]):
            if (et, cond) in asked:
                tick.set_fontweight("bold")
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(str(et))
        ax.set_xlabel(f"lift vs unconditioned twin (bps, {ci_label(meta.ci_level)})")
        ax.grid(axis="x", alpha=0.3)
    return _finish(plt, fig, path, "Lift per condition (roll-ups; star = pre-registered "
                   f"question)\n{meta.figure_title()}")


def plot_paths(paths: pd.DataFrame, path: Path, meta: ReportMeta | None = None) -> Path:
    """Mean cumulative return after entry per event type, one line per state (colours as in
    the lift figure) with a 95% band; states with fewer than lift_min_n events are not drawn
    (listed in the legend), so they do not set the scale."""
    meta = meta or ReportMeta(run_id="?", start_date="?", end_date="?", symbols=[])
    plt = _pyplot()
    types = sorted(paths["event_type"].unique()) if not paths.empty else []
    fig, axes = plt.subplots(1, max(1, len(types)), figsize=(6.5 * max(1, len(types)), 4.8),
                             squeeze=False)
    if not types:
        axes[0][0].text(0.5, 0.5, "no events", ha="center", va="center")
    for ax, et in zip(axes[0], types):
        part = paths[paths["event_type"] == et]
        dim = str(part["state_dimension"].iloc[0])
        hidden = []
        for state in sorted(part["state"].unique(), key=state_sort_key):
            st = part[part["state"] == state].sort_values("minute")
            n0 = st.loc[st["minute"] == st["minute"].min(), "n_events"]
            n = int(n0.iloc[0]) if len(n0) else 0
            if n < meta.min_n:
                hidden.append(f"{state} (n={n})")
                continue
            x = st["minute"].to_numpy()
            y = st["mean_ret_bps"].to_numpy(dtype=float)
            color = _state_color(state)
            ax.plot(x, y, color=color, linewidth=1.6 if state == "all" else 1.1,
                    label=f"{state} (n={n})")
            if "sd_ret_bps" in st.columns:
                se = (pd.to_numeric(st["sd_ret_bps"], errors="coerce").to_numpy(dtype=float)
                      / st["n_events"].clip(lower=1).to_numpy(dtype=float) ** 0.5)
                ax.fill_between(x, y - 1.96 * se, y + 1.96 * se, color=color, alpha=0.15,
                                linewidth=0)
        if hidden:
            ax.plot([], [], " ", label=f"not drawn, n < {meta.min_n}: " + ", ".join(hidden))
        ax.axhline(0.0, color="grey", linewidth=0.6)
        ax.set_title(f"{et} by {dim}")
        ax.set_xlabel("minutes after entry")
        ax.set_ylabel("mean cumulative return (bps, event direction)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _finish(plt, fig, path, "Average path after events, 95% band, before costs, in the "
                   "event's direction (fade profits when the line falls)\n"
                   f"{meta.figure_title()}")
