"""Picking on the demo: accuracy at a physical matching radius, training time, picking speed.

Run from the project root after a demo run (``snakemake --cores 2``):

    .venv/bin/python benchmarks/picking_benchmark.py [--radius-nm 150] [--seeds 1 2 3]
        [--clicks 3 5 10 20 40]

Prints Markdown tables: per modality, precision, recall and F1 of results/picks against the
demo's true centres at ``--radius-nm``, over the held-out fields (neither labelled nor used to
choose the threshold) and over all fields; the picker's training time
(logs/benchmarks/picking/train/<modality>.tsv, which includes choosing the threshold); and
the wall-clock time of picking a 2048² field with the trained picker, as the pipeline's jobs
do it (convert: TIFF -> MRC; preprocess: ``topaz preprocess``; extract:
``topaz extract`` with ``--threads`` scoring threads, centroid refinement and merging), on a
field tiled from the demo fields of that modality, step by step, with CPU seconds, which a busy
machine does not inflate. With ``--seeds``, each modality's picker is trained again for each
``--clicks`` count and ``picking.seed``, on that many true centres of the labelled fields drawn
with the seed and dealt over the fields (on the run's preprocessed fields, with the
train_picker rule's 2 threads, calibrated as the pipeline calibrates), and its held-out F1 is
printed at its own threshold and at the oracle's (the held-out fields' best), with the F1 its
calibration expected. The tables are written to docs/benchmarks/picking_benchmark.md too.
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
from _config import load_config
from _page import Page

from centriole_sr import io, picking
from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import (
    LabelledFields,
    convert_to_mrc,
    pick_centrioles,
    preprocess_for_topaz,
    train_picker,
)

ROOT = Path(__file__).resolve().parents[1]
MODALITIES = ("confocal", "widefield")


def demo_fields(config: dict, modality: str) -> tuple[list[str], list[str]]:
    """The run's fields of ``modality``: the labelled ones (the first) and the held-out ones."""
    fields = sorted(p.stem for p in (ROOT / f"results/picks/{modality}").glob("*.tsv"))
    labelled = config["demo"]["labelled_fields"]
    return fields[:labelled], fields[labelled:]


def true_centres(modality: str, field: str) -> np.ndarray:
    """The demo's true centriole centres of one field, (y_px, x_px)."""
    table = io.read_table(ROOT / f"results/demo/truth/{modality}/{field}.tsv")
    return table[["y_px", "x_px"]].to_numpy()


def pick_scores(
    config: dict, modality: str, picks: dict[str, pd.DataFrame], radius_nm: float
) -> dict[str, float]:
    """Precision, recall and F1 of the picks of each field (a table per field) against the
    demo's true centres, pooled over the fields."""
    radius_px = radius_nm / config["optics"][f"{modality}_pixel_nm"]
    return picking.pooled_scores(
        picking.match_picks(
            table[["y_px", "x_px"]].to_numpy(), true_centres(modality, field), radius_px
        )
        for field, table in picks.items()
    )


def accuracy(config: dict, modality: str, radius_nm: float) -> list[dict]:
    """Pooled precision, recall and F1 of the held-out fields and of all fields."""
    labelled, held_out = demo_fields(config, modality)
    rows = []
    for name, chosen in (("held-out", held_out), ("all", labelled + held_out)):
        picks = {f: io.read_table(ROOT / f"results/picks/{modality}/{f}.tsv") for f in chosen}
        rows.append({"modality": modality, "fields": name,
                     **pick_scores(config, modality, picks, radius_nm)})  # fmt: skip
    return rows


READING = Reading(channel=None, z_stack="max")  # the demo's fields are 2D


def labelled_fields(config: dict, modality: str, fields: list[str], labels: Path) -> LabelledFields:
    """The run's labelled ``fields`` of ``modality`` with the clicks of ``labels`` and no
    complete centre tables: as the train_picker rule passes them for a user's data."""
    pixel_nm = config["optics"][f"{modality}_pixel_nm"]
    return LabelledFields(
        modality=modality,
        fields=fields,
        images=[ROOT / f"results/picking/{modality}/preprocessed/{f}.mrc" for f in fields],
        field_images=[ROOT / f"results/demo/{modality}/{f}.tif" for f in fields],
        labels=labels,
        references=[],
        factor=picking.downsample_factor(pixel_nm, config["picking"]["pixel_nm"]),
        pixel_nm=pixel_nm,
        reading=READING,
    )


def picking_settings(config: dict, **changes) -> Picking:
    """The config's picking section with ``changes``, typed."""
    return Picking.from_dict({**config["picking"], **changes})


def clicks(modality: str, fields: list[str], count: int, seed: int) -> pd.DataFrame:
    """``count`` true centres of ``fields`` drawn at random with ``seed``, dealt over the
    fields in turn as a user clicks a few per field: a labels table (field, x_px, y_px)."""
    rng = np.random.default_rng(seed)
    orders = {f: rng.permutation(len(true_centres(modality, f))) for f in fields}
    rows = []
    for k in range(count):
        field = fields[k % len(fields)]
        y, x = true_centres(modality, field)[orders[field][k // len(fields)]]
        rows.append({"field": field, "x_px": x, "y_px": y})
    return pd.DataFrame(rows)


def pick_with(
    config: dict, modality: str, folder: Path, fields: list[str], threshold: float | str = "auto"
) -> dict[str, pd.DataFrame]:
    """The picks of the picker in ``folder`` on the run's ``fields`` at ``threshold`` (auto:
    its threshold.json's), as the pick_centrioles rule picks; a table per field."""
    pixel_nm = config["optics"][f"{modality}_pixel_nm"]
    settings = picking_settings(config, threshold=threshold)
    for field in fields:
        pick_centrioles(
            model=folder / "picker.sav", threshold=folder / "threshold.json",
            image=ROOT / f"results/picking/{modality}/preprocessed/{field}.mrc",
            field=ROOT / f"results/demo/{modality}/{field}.tif",
            factor=picking.downsample_factor(pixel_nm, settings.pixel_nm), pixel_nm=pixel_nm,
            settings=settings, reading=READING, threads=2, output=folder / f"{field}.tsv",
            log=folder / "pick.log",
        )  # fmt: skip
    return {field: io.read_table(folder / f"{field}.tsv") for field in fields}


def clicks_study(
    config: dict, modality: str, seed: int, count: int, radius_nm: float, folder: Path
) -> dict:
    """Held-out F1 of a picker trained and calibrated as the pipeline does on ``count`` clicks
    (:func:`clicks`) with ``picking.seed`` = ``seed``: at its own threshold, and at the
    held-out fields' best (the oracle: no threshold does better with this ranking)."""
    labelled, held_out = demo_fields(config, modality)
    labels = folder / "labels.tsv"
    io.write_table(labels, clicks(modality, labelled, count, seed))
    start = time.perf_counter()
    train_picker(
        labelled=labelled_fields(config, modality, labelled, labels),
        settings=picking_settings(config, seed=seed),
        match_radius_nm=radius_nm,
        threads=2,
        model=folder / "picker.sav",
        threshold=folder / "threshold.json",
        log=folder / "train.log",
    )
    train_s = time.perf_counter() - start
    calibration = io.read_json(folder / "threshold.json")
    candidates = pick_with(config, modality, folder, held_out, -1e9)
    radius_px = radius_nm / config["optics"][f"{modality}_pixel_nm"]
    curve = picking.precision_recall_curve(
        list(candidates.values()), [true_centres(modality, f) for f in held_out], radius_px
    )
    own = calibration["threshold"]
    kept = {f: table[table["score"] >= own] for f, table in candidates.items()}
    return {
        "modality": modality,
        "clicks": count,
        "seed": seed,
        "threshold": own,
        "expected_f1": calibration["best"]["f1"],
        "pipeline_f1": pick_scores(config, modality, kept, radius_nm)["f1"],
        "oracle_f1": picking.best_threshold(curve)["f1"],
        "oracle_threshold": picking.best_threshold(curve)["threshold"],
        "train_s": train_s,
    }


def clicks_table(
    config: dict, counts: list[int], seeds: list[int], radius_nm: float
) -> pd.DataFrame:
    """:func:`clicks_study` for each modality, click count and seed, each in a temporary
    folder, its row printed as it comes; the rows as a table."""
    rows = []
    for modality in MODALITIES:
        for count in counts:
            for seed in seeds:
                with tempfile.TemporaryDirectory() as folder:
                    rows.append(
                        clicks_study(config, modality, seed, count, radius_nm, Path(folder))
                    )
                print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


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
    settings = picking_settings(config)
    factor = picking.downsample_factor(pixel_nm, settings.pixel_nm)
    log = folder / f"{modality}.log"
    steps = {
        "convert": lambda: convert_to_mrc(
            image=field_path, pixel_nm=pixel_nm,
            saturate_percentile=settings.saturate_percentile, reading=READING,
            output=folder / "mrc" / "big.mrc", log=log,
        ),
        "preprocess": lambda: preprocess_for_topaz(
            mrc=folder / "mrc" / "big.mrc", factor=factor, gmm_sample=settings.gmm_sample,
            seed=settings.seed, output=folder / "big.mrc", log=log,
        ),
        "extract": lambda: pick_centrioles(
            model=ROOT / f"results/picking/{modality}/picker.sav",
            threshold=ROOT / f"results/picking/{modality}/threshold.json",
            image=folder / "big.mrc", field=field_path, factor=factor, pixel_nm=pixel_nm,
            settings=settings, reading=READING, threads=threads,
            output=folder / "picks.tsv", log=log,
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
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[], help="retrain with these picking.seed values"
    )
    parser.add_argument(
        "--clicks",
        type=int,
        nargs="*",
        default=[10],
        help="with --seeds: train on this many clicks per modality, drawn from the labelled fields",
    )
    args = parser.parse_args()
    config = load_config(ROOT)
    page = Page("picking_benchmark", "Picking benchmark")
    show = page.show

    show(f"#### Picking against ground truth at {args.radius_nm:g} nm\n")
    rows = [row for m in MODALITIES for row in accuracy(config, m, args.radius_nm)]
    show(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f") + "\n")
    show("#### Picker training (s, logs/benchmarks/picking/train)\n")
    timings = ROOT / "logs/benchmarks/picking/train"
    train = [
        {"modality": m, "train_s": pd.read_csv(timings / f"{m}.tsv", sep="\t")["s"].iloc[0]}
        for m in MODALITIES
    ]
    show(pd.DataFrame(train).to_markdown(index=False, floatfmt=".1f") + "\n")
    show(f"#### Picking one {args.size_px}² field with the trained picker (s)\n")
    times = []
    for modality in MODALITIES:
        with tempfile.TemporaryDirectory() as folder:
            times.append(picking_time(config, modality, args.size_px, Path(folder), args.threads))
    show(pd.DataFrame(times).to_markdown(index=False, floatfmt=".1f"))
    if args.seeds:
        show(
            f"\n#### Held-out F1 at {args.radius_nm:g} nm against the clicks per modality: the "
            "pipeline's threshold and the oracle's\n"
        )
        table = clicks_table(config, args.clicks, args.seeds, args.radius_nm)
        table["gap"] = table["oracle_f1"] - table["pipeline_f1"]
        show(table.to_markdown(index=False, floatfmt=".3f") + "\n")
        columns = ["pipeline_f1", "oracle_f1", "gap", "expected_f1"]
        summary = table.groupby(["modality", "clicks"])[columns].agg(["mean", "std", "min"])
        summary.columns = [f"{score} {statistic}" for score, statistic in summary.columns]
        show(summary.to_markdown(floatfmt=".3f"))
    page.write()


if __name__ == "__main__":
    main()
