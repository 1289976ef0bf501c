"""The data layer's benchmark step (``reuse_sample``, ``reuse_20x365`` of
:mod:`lifthouse.run.bench`): a cold run, a run asking another question of the same data, a run
over one more day, and the extended run's exports against a cold build's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from lifthouse.run.bench_measure import _lifthouse, _manifest_timings, measure


def _export_files(out: Path, run_id: str) -> dict[str, bytes]:
    root = out / "data" / "reports"
    files = {}
    for kind in ("phase2", "ablation"):
        folder = root / kind / run_id
        for f in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if f.is_file():
                files[f"{kind}/{f.relative_to(folder).as_posix()}"] = f.read_bytes()
    return files


def same_exports(out_a: Path, id_a: str, out_b: Path, id_b: str) -> dict:
    """Are two runs' exported tables (data/reports/{phase2,ablation}/<run_id>/) byte-identical?"""
    a, b = _export_files(out_a, id_a), _export_files(out_b, id_b)
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return {"byte_identical": bool(a) and not differ, "files": len(a), "differ": differ[:20]}


def bench_reuse(work: Path, name: str, raw: Path, start: str, end: str,
                symbols: list[str] | None, cold_ref: tuple[Path, str] | None) -> dict:
    """Cold (window less its last day), reuse (new run id, another event threshold), append
    (the last day added), in one out dir: walls, peaks, the layer's own timings, and the
    appended run's exports against ``cold_ref`` (out dir, run id of a cold run of the window)."""
    out = work / f"{name}_out"
    before = (dt.date.fromisoformat(end) - dt.timedelta(days=1)).isoformat()
    base = [_lifthouse(), "run", "--start-date", start, "--data-dir", str(raw),
            "--out-dir", str(out)] + (["--symbols", ",".join(symbols)] if symbols else [])
    steps = {"cold": ([f"--run-id={name}_cold", "--end-date", before, "--fresh"]),
             "reuse": ([f"--run-id={name}_reuse", "--end-date", before,
                        "--var", "cascade_zmove_min=3.5"]),
             "append": ([f"--run-id={name}_append", "--end-date", end])}
    res: dict = {}
    for key, extra in steps.items():
        r = measure([*base, *extra], work / f"{name}_{key}.log")
        run_id = f"{name}_{key}"
        r.update(_manifest_timings(out, run_id))
        manifest = out / "data" / "reports" / "runs" / run_id / "manifest.json"
        if manifest.exists():
            doc = json.loads(manifest.read_text())
            layer = doc.get("data_layer") or {}
            r["data_layer"] = {k: layer.get(k) for k in ("mode", "reason", "layer_id", "cut",
                                                         "fell_back")}
            r["data_layer"]["seconds"] = doc.get("timing", {}).get("data_layer_seconds")
        res[key] = r
    cold = res["cold"].get("wall_s") or float("nan")
    res["reuse_share_of_cold"] = round(res["reuse"].get("wall_s", float("nan")) / cold, 3)
    res["append_share_of_cold"] = round(res["append"].get("wall_s", float("nan")) / cold, 3)
    res["rc"] = max(int(r.get("rc") or 0) for r in (res["cold"], res["reuse"], res["append"]))
    res["wall_s"] = round(sum(r.get("wall_s", 0) for r in (res["cold"], res["reuse"],
                                                         res["append"])), 2)
    res["peak_rss_mb"] = max(r.get("peak_rss_mb", 0) for r in (res["cold"], res["reuse"],
                                                                res["append"]))
    if cold_ref is not None:
        res["append_vs_cold"] = same_exports(out, f"{name}_append", *cold_ref)
    layers = out / "warehouse" / "layers"
    res["layer_store_mb"] = round(sum(f.stat().st_size for f in layers.glob("*.duckdb"))
                                  / 2 ** 20) if layers.is_dir() else None
    return res
