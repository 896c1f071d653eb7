"""Picking on the demo: accuracy at a physical matching radius, training time, picking speed.

Run from the project root after a demo run (``snakemake --cores 2``):

    .venv/bin/python tests/benchmarks/picking_benchmark.py [--radius-nm 150]

Prints Markdown tables: per modality, precision, recall and F1 of results/picks against the
demo's true centres at ``--radius-nm``, over the held-out fields (neither labelled nor used to
choose the threshold) and over all fields; the picker's training time
(benchmarks/picking/train/<modality>.tsv, which includes choosing the threshold); and the
wall-clock time of picking a 2048² field with the trained picker, as the pipeline's jobs do it
(convert: TIFF -> MRC; preprocess: ``topaz preprocess``; extract: ``topaz extract`` with
``--threads`` scoring threads, centroid refinement and merging), on a field tiled from the demo
fields of that modality, step by step, with CPU seconds, which a busy machine does not inflate.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml

from centriole_sr import io, picking, pipeline

ROOT = Path(__file__).resolve().parents[2]
MODALITIES = ("confocal", "widefield")


def accuracy(config: dict, modality: str, radius_nm: float) -> list[dict]:
    """Pooled precision, recall and F1 of the held-out fields and of all fields."""
    pixel_nm = config["optics"][f"{modality}_pixel_nm"]
    fields = sorted(p.stem for p in (ROOT / f"results/picks/{modality}").glob("*.tsv"))
    labelled = set(fields[: config["demo"]["labelled_fields"]])
    counts = {}
    for field in fields:
        picks = io.read_table(ROOT / f"results/picks/{modality}/{field}.tsv")
        truth = io.read_table(ROOT / f"results/demo/truth/{modality}/{field}.tsv")
        counts[field] = picking.match_picks(
            picks[["y_px", "x_px"]].to_numpy(), truth[["y_px", "x_px"]].to_numpy(),
            radius_nm / pixel_nm,
        )  # fmt: skip
    rows = []
    for name, chosen in (("held-out", set(fields) - labelled), ("all", set(fields))):
        tp, fp, fn = (sum(counts[f][key] for f in chosen) for key in ("tp", "fp", "fn"))
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        rows.append({"modality": modality, "fields": name, "tp": tp, "fp": fp, "fn": fn,
                     "precision": precision, "recall": recall, "f1": f1})  # fmt: skip
    return rows


def cpu_s() -> float:
    """User and system CPU seconds of this process and its finished children (Topaz runs)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def picking_time(config: dict, modality: str, size_px: int, folder: Path, threads: int) -> dict:
    """Seconds (wall and CPU) of each step of picking one ``size_px``² field tiled from the demo
    fields of ``modality``, as the pipeline's jobs run them (``threads``: Topaz's scoring threads,
    the pick_centrioles rule's)."""
    pixel_nm = config["optics"][f"{modality}_pixel_nm"]
    tiles = [tifffile.imread(p) for p in sorted((ROOT / f"results/demo/{modality}").glob("*.tif"))]
    side = tiles[0].shape[0]
    per_row = -(-size_px // side)
    rows = [np.hstack([tiles[(r * per_row + c) % len(tiles)] for c in range(per_row)])
            for r in range(per_row)]  # fmt: skip
    field = np.vstack(rows)[:size_px, :size_px]
    field_path = folder / f"{modality}_{size_px}.tif"
    io.write_tiff(field_path, field, pixel_nm)
    picking_config = config["picking"]
    factor = picking.downsample_factor(pixel_nm, picking_config["pixel_nm"])
    log = folder / f"{modality}.log"
    steps = {
        "convert": lambda: pipeline.convert_to_mrc(
            field_path, pixel_nm, picking_config["saturate_percentile"],
            folder / "mrc" / "big.mrc", log,
        ),
        "preprocess": lambda: pipeline.preprocess_for_topaz(
            folder / "mrc" / "big.mrc", factor, folder / "big.mrc", log,
            sample=picking_config["gmm_sample"], seed=picking_config["seed"],
        ),
        "extract": lambda: pipeline.pick_centrioles(
            ROOT / f"results/picking/{modality}/picker.sav",
            ROOT / f"results/picking/{modality}/threshold.json",
            folder / "big.mrc", field_path, factor, pixel_nm, picking_config,
            folder / "picks.tsv", log, threads=threads,
        ),
    }  # fmt: skip
    row = {"modality": modality, "field_px": f"{size_px}²"}
    for name, step in steps.items():
        start, start_cpu = time.perf_counter(), cpu_s()
        step()
        row[f"{name}_s"], row[f"{name}_cpu_s"] = time.perf_counter() - start, cpu_s() - start_cpu
    row["total_s"] = sum(row[f"{name}_s"] for name in steps)
    row["total_cpu_s"] = sum(row[f"{name}_cpu_s"] for name in steps)
    row["picks"] = len(io.read_table(folder / "picks.tsv"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--radius-nm", type=float, default=150.0)
    parser.add_argument("--size-px", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2, help="Topaz scoring threads")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    print(f"#### Picking against ground truth at {args.radius_nm:g} nm\n")
    rows = [row for m in MODALITIES for row in accuracy(config, m, args.radius_nm)]
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"), "\n")
    print("#### Picker training (s, benchmarks/picking/train)\n")
    train = [
        {
            "modality": m,
            "train_s": pd.read_csv(ROOT / f"benchmarks/picking/train/{m}.tsv", sep="\t")["s"].iloc[
                0
            ],
        }
        for m in MODALITIES
    ]
    print(pd.DataFrame(train).to_markdown(index=False, floatfmt=".1f"), "\n")
    print(f"#### Picking one {args.size_px}² field with the trained picker (s)\n")
    times = []
    for modality in MODALITIES:
        with tempfile.TemporaryDirectory() as folder:
            times.append(picking_time(config, modality, args.size_px, Path(folder), args.threads))
    print(pd.DataFrame(times).to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
