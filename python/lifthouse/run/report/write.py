"""Writes a run's report: ``executive_summary.md`` with ``figures/*.png`` beside it."""

from __future__ import annotations

from pathlib import Path

from lifthouse.data.atomic import atomic_write_bytes
from lifthouse.run.report.figures import plot_lift, plot_paths
from lifthouse.run.report.inputs import ReportInputs, ReportMeta
from lifthouse.run.report.markdown import render_markdown
from lifthouse.run.report.snooping import plot_pbo_logits


def write_report(out_dir: Path, inputs: ReportInputs, meta: ReportMeta) -> dict[str, Path]:
    """Write ``executive_summary.md`` and ``figures/*.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    files = {
        "lift_by_condition.png": plot_lift(inputs.lift_summary, fig_dir / "lift_by_condition.png",
                                           meta),
        "event_paths.png": plot_paths(inputs.paths, fig_dir / "event_paths.png", meta),
    }
    figures = {"lift": "figures/lift_by_condition.png", "paths": "figures/event_paths.png"}
    pbo = plot_pbo_logits(inputs.grid_tests, fig_dir / "pbo_logits.png", meta) \
        if not inputs.grid_tests.empty else None
    if pbo is not None:
        files["pbo_logits.png"] = pbo
        figures["pbo"] = "figures/pbo_logits.png"
    md = render_markdown(inputs, meta, figures=figures)
    summary = out_dir / "executive_summary.md"
    atomic_write_bytes(md.encode("utf-8"), summary)
    files["executive_summary.md"] = summary
    return files
