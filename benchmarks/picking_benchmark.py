"""Picking on the demo: accuracy at a physical matching radius, training time, picking speed.

Run from the project root after a demo run (``snakemake --cores 2``):

    .venv/bin/python benchmarks/picking_benchmark.py [--radius-nm 150] [--seeds 1 2 3]
        [--threshold-study]

Prints Markdown tables: per modality, precision, recall and F1 of results/picks against the
demo's true centres at ``--radius-nm``, over the held-out fields (neither labelled nor used to
choose the threshold) and over all fields; the picker's training time
(logs/benchmarks/picking/train/<modality>.tsv, which includes choosing the threshold); and the
wall-clock time of picking a 2048² field with the trained picker, as the pipeline's jobs do it
(convert: TIFF -> MRC; preprocess: ``topaz preprocess``; extract: ``topaz extract`` with
``--threads`` scoring threads, centroid refinement and merging), on a field tiled from the demo
fields of that modality, step by step, with CPU seconds, which a busy machine does not inflate.
With ``--seeds``, each modality's picker is also trained again with each ``picking.seed``
(on the run's preprocessed labelled fields, with the train_picker rule's 2 threads, its
threshold chosen as the pipeline does) and its held-out F1 printed, with the picks ranked by
the rescorer (``picking.rescore``, the default) and by Topaz's score alone, each with its own
threshold: how much of a run's F1 is the luck of one training, and what the rescorer adds.
With ``--threshold-study`` as well, the held-out F1 of the pipeline's ranking is printed beside
the F1 of the threshold chosen in other ways (:func:`threshold_study`): is the threshold or
the ranking what limits it? The tables are written to docs/benchmarks/picking_benchmark.md too.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from _config import load_config
from _page import Page

from centriole_sr import io, picking
from centriole_sr.logs import logging_to
from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import (
    LabelledFields,
    calibrate_picker,
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


def labelled_fields(config: dict, modality: str, fields: list[str]) -> LabelledFields:
    """The run's labelled ``fields`` of ``modality`` as the train_picker rule passes them."""
    pixel_nm = config["optics"][f"{modality}_pixel_nm"]
    return LabelledFields(
        modality=modality,
        fields=fields,
        images=[ROOT / f"results/picking/{modality}/preprocessed/{f}.mrc" for f in fields],
        field_images=[ROOT / f"results/demo/{modality}/{f}.tif" for f in fields],
        labels=ROOT / "results/demo/labels.tsv",
        references=[ROOT / f"results/demo/truth/{modality}/{f}.tsv" for f in fields],
        factor=picking.downsample_factor(pixel_nm, config["picking"]["pixel_nm"]),
        pixel_nm=pixel_nm,
        reading=READING,
    )


def picking_settings(config: dict, **changes) -> Picking:
    """The config's picking section with ``changes``, typed."""
    return Picking.from_dict({**config["picking"], **changes})


def train_as_pipeline(
    config: dict, modality: str, seed: int, fields: list[str], radius_nm: float, folder: Path
) -> None:
    """A picker trained on the run's preprocessed ``fields`` as the train_picker rule trains it
    (threshold chosen on ``fields``), with ``picking.seed`` = ``seed``: ``folder`` gets
    picker.sav and threshold.json."""
    train_picker(
        labelled=labelled_fields(config, modality, fields),
        settings=picking_settings(config, seed=seed),
        match_radius_nm=radius_nm,
        threads=2,
        model=folder / "picker.sav",
        threshold=folder / "threshold.json",
        log=folder / "train.log",
    )


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


def recalibrate(
    config: dict, modality: str, fields: list[str], radius_nm: float, folder: Path, rescore: bool
) -> None:
    """Fit the rescorer (or not) and choose the threshold of the picker in ``folder`` again, on
    ``fields``, as the train_picker rule does with ``picking.rescore`` = ``rescore``."""
    with logging_to(folder / "calibrate.log"):
        calibrate_picker(
            model=folder / "picker.sav",
            labelled=labelled_fields(config, modality, fields),
            settings=picking_settings(config, rescore=rescore),
            match_radius_nm=radius_nm,
            threads=2,
            threshold=folder / "threshold.json",
        )


def seed_spread(config: dict, modality: str, seed: int, radius_nm: float, folder: Path) -> dict:
    """Held-out F1 of a picker trained as the pipeline trains it, with ``picking.seed`` =
    ``seed``: its threshold chosen on the labelled fields, the held-out fields picked with it;
    the picks ranked by the rescorer (``rescored``) and by Topaz's score alone (``topaz``)."""
    labelled, held_out = demo_fields(config, modality)
    start = time.perf_counter()
    train_as_pipeline(config, modality, seed, labelled, radius_nm, folder)
    row = {"modality": modality, "seed": seed, "train_s": time.perf_counter() - start}
    for name, rescore in (("topaz", False), ("rescored", True)):
        recalibrate(config, modality, labelled, radius_nm, folder, rescore)
        scores = pick_scores(
            config, modality, pick_with(config, modality, folder, held_out), radius_nm
        )
        row[f"{name} tp/fp/fn"] = "{tp}/{fp}/{fn}".format(**scores)
        row[f"{name}_f1"] = scores["f1"]
    return row


def threshold_study(config: dict, modality: str, seed: int, radius_nm: float, folder: Path) -> dict:
    """Held-out F1 of the ``seed``'s pickers with the threshold chosen in other ways: the
    pipeline's picker (all labelled fields) with its own threshold (chosen on the fields it
    trained on), with the threshold of highest F1 on the labelled fields each scored by a picker
    trained without it (folds), and with the held-out fields' own best threshold (an oracle:
    no rule does better); and, per labelled field, a picker trained without it with the
    threshold chosen on it (a held-out split of the labels)."""
    labelled, held_out = demo_fields(config, modality)
    radius_px = radius_nm / config["optics"][f"{modality}_pixel_nm"]

    def best(candidates: dict[str, pd.DataFrame]) -> float:
        curve = picking.precision_recall_curve(
            list(candidates.values()), [true_centres(modality, f) for f in candidates], radius_px
        )
        return picking.best_threshold(curve)["threshold"]

    def held_out_f1(candidates: dict[str, pd.DataFrame], threshold: float) -> float:
        kept = {f: candidates[f][candidates[f]["score"] >= threshold] for f in held_out}
        return pick_scores(config, modality, kept, radius_nm)["f1"]

    train_as_pipeline(config, modality, seed, labelled, radius_nm, folder / "all")
    every = pick_with(config, modality, folder / "all", held_out, picking.CALIBRATION_SCORE)
    own = io.read_json(folder / "all/threshold.json")["threshold"]
    out_of_fold, split = {}, []
    for field in labelled:
        others = [f for f in labelled if f != field]
        train_as_pipeline(config, modality, seed, others, radius_nm, folder / field)
        candidates = pick_with(
            config, modality, folder / field, [field, *held_out], picking.CALIBRATION_SCORE
        )
        out_of_fold[field] = candidates[field]
        split.append(held_out_f1(candidates, best({field: candidates[field]})))
    return {
        "modality": modality,
        "seed": seed,
        "own_fields": held_out_f1(every, own),
        "folds": held_out_f1(every, best(out_of_fold)),
        "oracle": held_out_f1(every, best({f: every[f] for f in held_out})),
        **{f"split_{field}": f1 for field, f1 in zip(labelled, split, strict=True)},
    }


def per_seed(
    study: Callable[..., dict], config: dict, seeds: list[int], radius_nm: float
) -> pd.DataFrame:
    """``study(config, modality, seed, radius_nm, folder)`` for each modality and seed, each in
    a temporary folder, its row printed as it comes; the rows as a table."""
    rows = []
    for modality in MODALITIES:
        for seed in seeds:
            with tempfile.TemporaryDirectory() as folder:
                rows.append(study(config, modality, seed, radius_nm, Path(folder)))
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
        "--threshold-study",
        action="store_true",
        help="with --seeds: held-out F1, the threshold chosen in other ways too (3 pickers a seed)",
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
    if args.seeds and not args.threshold_study:
        show(f"\n#### Held-out F1 at {args.radius_nm:g} nm of pickers trained with other seeds\n")
        table = per_seed(seed_spread, config, args.seeds, args.radius_nm)
        show(table.to_markdown(index=False, floatfmt=".3f") + "\n")
        f1 = table.groupby("modality")[["topaz_f1", "rescored_f1"]]
        summary = f1.agg(["mean", "std", "min", "max"])
        summary.columns = [f"{score} {statistic}" for score, statistic in summary.columns]
        show(summary.to_markdown(floatfmt=".3f"))
    if args.seeds and args.threshold_study:
        show(f"\n#### Held-out F1 at {args.radius_nm:g} nm, the threshold chosen in other ways\n")
        table = per_seed(threshold_study, config, args.seeds, args.radius_nm)
        show(table.to_markdown(index=False, floatfmt=".3f") + "\n")
        means = table.groupby("modality").mean(numeric_only=True).drop(columns="seed")
        show(means.to_markdown(floatfmt=".3f"))
    page.write()


if __name__ == "__main__":
    main()
