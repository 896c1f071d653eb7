"""Print the figures of a finished pipeline run: runtime per stage, picking and restoration.

Run from the project root after ``snakemake --cores all``:

    .venv/bin/python benchmarks/pipeline_figures.py [ROOT]

Reads logs/benchmarks/ (Snakemake's per-job timings), results/evaluation/ and
results/degradation/domain_gap.json; prints Markdown tables and writes them to
docs/benchmarks/pipeline_figures.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from _page import Page

MODALITIES = ("confocal", "widefield")
TIMINGS = Path("logs/benchmarks")  # Snakemake's benchmark: files, under the run's root


def stage_runtimes(root: Path) -> pd.DataFrame:
    """Jobs, summed and longest wall-clock seconds per stage.

    A stage is the folder of a benchmark file under logs/benchmarks/ without modality folders:
    logs/benchmarks/picking/extract/confocal/field00.tsv counts for picking/extract.
    """
    timings = root / TIMINGS
    rows = []
    for path in sorted(timings.rglob("*.tsv")):
        folders = path.relative_to(timings).parent.parts
        stage = "/".join(part for part in folders if part not in MODALITIES)
        rows.append({"stage": stage, "s": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
    if not rows:
        raise SystemExit(f"no benchmark files under {timings}: run the pipeline first")
    table = pd.DataFrame(rows)
    return (
        table.groupby("stage", sort=False)["s"]
        .agg(jobs="count", total_s="sum", longest_s="max")
        .reset_index()
    )


def picking_scores(root: Path) -> pd.DataFrame:
    """Precision, recall and F1 over the held-out fields and over all fields of each modality."""
    rows = []
    for path in sorted((root / "results/evaluation").glob("picking_*.csv")):
        table = pd.read_csv(path)
        for pooled in ("held-out", "all"):
            overall = table[table["field"] == pooled]
            if overall.empty:
                continue
            rows.append(
                {
                    "modality": path.stem.removeprefix("picking_"),
                    "fields": pooled,
                    **{
                        k: overall.iloc[0][k]
                        for k in ("tp", "fp", "fn", "precision", "recall", "f1")
                    },
                }
            )
    return pd.DataFrame(rows)


def main(root: Path) -> None:
    page = Page("pipeline_figures", "Pipeline figures")
    show = page.show

    show("## Runtime per stage (s)\n")
    show(stage_runtimes(root).to_markdown(index=False, floatfmt=".1f"))
    show("\n## Picking against ground truth\n")
    show(picking_scores(root).to_markdown(index=False, floatfmt=".3f"))
    summary = pd.read_csv(root / "results/evaluation/summary.csv")
    columns = ["dataset", "method", "psnr_db_mean", "psnr_db_std", "ssim_mean", "ssim_std"]
    show("\n## Restoration (mean ± std over patches or fields)\n")
    scored = summary[summary["psnr_db_count"] > 0]
    show(scored[columns + ["psnr_db_count"]].to_markdown(index=False, floatfmt=".3f"))
    checks = summary[summary["resolution_nm_count"] > 0]
    columns = ["method", "resolution_nm_mean", "resolution_nm_std", "consistency_rse_mean",
               "consistency_rsp_mean", "invented_regions_mean"]  # fmt: skip
    show("\n## Checks without ground truth, widefield fields (mean over fields)\n")
    show(checks[columns].to_markdown(index=False, floatfmt=".3f"))
    gap = json.loads((root / "results/degradation/domain_gap.json").read_text())
    show("\n## Domain gap, degraded confocal against real widefield patches\n")
    show(pd.DataFrame([gap]).to_markdown(index=False, floatfmt=".3f"))
    page.write()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
