"""Picking on the demo: accuracy at a physical matching radius, training time, picking speed.

Run from the project root after a demo run (``snakemake --cores 2``), or on a variant of the
demo, which it first runs to its picking evaluation in ``--workdir``:

    .venv/bin/python benchmarks/picking_benchmark.py [--radius-nm 150] [--seeds 1 2 3]
        [--clicks 3 5 10 20 40] [--size-px 2048 312] [--variant small_fields --workdir DIR]

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
calibration expected (fewer clicks where the labelled fields hold fewer centrioles). The tables
are written to docs/benchmarks/picking_benchmark.md too (picking_benchmark_<variant>.md).
"""

from __future__ import annotations

import argparse
import importlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml
from _config import load_config
from _page import Page, save_runs

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
sys.path.insert(0, str(ROOT))

from tests.conftest import SNAKEMAKE, copy_workflow  # noqa: E402

MODALITIES = ("confocal", "widefield")
VARIANTS = {
    "default": {},
    "small_fields": {
        "demo": {
            "confocal_fields": 36,
            "widefield_fields": 36,
            "labelled_fields": 20,
            "labels_per_field": 1,
            "field_size_px": 312,
            "centrioles_per_field": [1, 3],
            "clutter_per_field": 1,
        },
        "picking": {"expected_per_field": 2},
    },
}
"""What each variant changes in config.yaml: small_fields are cells cropped around their
centrosome (312² confocal pixels, 1-3 centrioles), one click on each of 20 fields."""


@dataclass(frozen=True)
class Run:
    """A finished run to measure: its folder and its validated config."""

    root: Path
    config: dict


def variant_run(name: str, workdir: Path) -> Run:
    """The demo variant ``name`` run to its picking evaluation in ``workdir`` (reused: Snakemake
    reruns only what changed), the shipped config.yaml with ``VARIANTS[name]`` applied; the
    default: the finished demo run in ``workdir`` as it is."""
    if name == "default":
        return Run(workdir, load_config(workdir))
    for folder in ("workflow", "envs", "slurm"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    copy_workflow(workdir)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, changes in VARIANTS[name].items():
        config[section] = {**config[section], **changes}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [f"results/evaluation/picking_{modality}.csv" for modality in MODALITIES]
    start = time.perf_counter()
    subprocess.run([*SNAKEMAKE, "--cores", "2", *targets], cwd=workdir, check=True)
    print(f"{name}: picking run in {time.perf_counter() - start:.0f} s", flush=True)
    return Run(workdir, load_config(workdir))


def demo_fields(run: Run, modality: str) -> tuple[list[str], list[str]]:
    """The run's fields of ``modality``: the labelled ones (the first) and the held-out ones."""
    fields = sorted(p.stem for p in (run.root / f"results/picks/{modality}").glob("*.tsv"))
    labelled = run.config["demo"]["labelled_fields"]
    return fields[:labelled], fields[labelled:]


def true_centres(run: Run, modality: str, field: str) -> np.ndarray:
    """The demo's true centriole centres of one field, (y_px, x_px)."""
    table = io.read_table(run.root / f"results/demo/truth/{modality}/{field}.tsv")
    return table[["y_px", "x_px"]].to_numpy()


def pick_scores(
    run: Run, modality: str, picks: dict[str, pd.DataFrame], radius_nm: float
) -> dict[str, float]:
    """Precision, recall and F1 of the picks of each field (a table per field) against the
    demo's true centres, pooled over the fields."""
    radius_px = radius_nm / run.config["optics"][f"{modality}_pixel_nm"]
    return picking.pooled_scores(
        picking.match_picks(
            table[["y_px", "x_px"]].to_numpy(), true_centres(run, modality, field), radius_px
        )
        for field, table in picks.items()
    )


def accuracy(run: Run, modality: str, radius_nm: float) -> list[dict]:
    """Pooled precision, recall and F1 of the held-out fields and of all fields."""
    labelled, held_out = demo_fields(run, modality)
    rows = []
    for name, chosen in (("held-out", held_out), ("all", labelled + held_out)):
        picks = {f: io.read_table(run.root / f"results/picks/{modality}/{f}.tsv") for f in chosen}
        rows.append({"modality": modality, "fields": name,
                     **pick_scores(run, modality, picks, radius_nm)})  # fmt: skip
    return rows


READING = Reading(channel=None, z_stack="max")  # the demo's fields are 2D


def labelled_fields(run: Run, modality: str, fields: list[str], labels: Path) -> LabelledFields:
    """The run's labelled ``fields`` of ``modality`` with the clicks of ``labels`` and no
    complete centre tables: as the train_picker rule passes them for a user's data."""
    pixel_nm = run.config["optics"][f"{modality}_pixel_nm"]
    return LabelledFields(
        modality=modality,
        fields=fields,
        images=[run.root / f"results/picking/{modality}/preprocessed/{f}.mrc" for f in fields],
        field_images=[run.root / f"results/demo/{modality}/{f}.tif" for f in fields],
        labels=labels,
        references=[],
        factor=picking.downsample_factor(pixel_nm, run.config["picking"]["pixel_nm"]),
        pixel_nm=pixel_nm,
        reading=READING,
    )


def picking_settings(run: Run, **changes) -> Picking:
    """The config's picking section with ``changes``, typed."""
    return Picking.from_dict({**run.config["picking"], **changes})


def clicks(run: Run, modality: str, fields: list[str], count: int, seed: int) -> pd.DataFrame:
    """``count`` true centres of ``fields`` (all of them if they hold fewer) drawn at random
    with ``seed``, dealt over the fields in turn as a user clicks a few per field: a labels
    table (field, x_px, y_px)."""
    rng = np.random.default_rng(seed)
    centres = {f: true_centres(run, modality, f) for f in fields}
    orders = {f: list(rng.permutation(len(c))) for f, c in centres.items()}
    rows: list[dict] = []
    while len(rows) < count and any(orders.values()):
        for field in fields:
            if orders[field] and len(rows) < count:
                y, x = centres[field][orders[field].pop(0)]
                rows.append({"field": field, "x_px": x, "y_px": y})
    return pd.DataFrame(rows)


def pick_with(
    run: Run, modality: str, folder: Path, fields: list[str], threshold: float | str = "auto"
) -> dict[str, pd.DataFrame]:
    """The picks of the picker in ``folder`` on the run's ``fields`` at ``threshold`` (auto:
    its threshold.json's), as the pick_centrioles rule picks; a table per field."""
    pixel_nm = run.config["optics"][f"{modality}_pixel_nm"]
    settings = picking_settings(run, threshold=threshold)
    for field in fields:
        pick_centrioles(
            model=folder / "picker.sav", threshold=folder / "threshold.json",
            image=run.root / f"results/picking/{modality}/preprocessed/{field}.mrc",
            field=run.root / f"results/demo/{modality}/{field}.tif",
            factor=picking.downsample_factor(pixel_nm, settings.pixel_nm), pixel_nm=pixel_nm,
            settings=settings, reading=READING, threads=2, output=folder / f"{field}.tsv",
            log=folder / "pick.log",
        )  # fmt: skip
    return {field: io.read_table(folder / f"{field}.tsv") for field in fields}


def clicks_study(
    run: Run, modality: str, seed: int, count: int, radius_nm: float, folder: Path
) -> dict:
    """Held-out F1 of a picker trained and calibrated as the pipeline does on ``count`` clicks
    (:func:`clicks`) with ``picking.seed`` = ``seed``: at its own threshold, and at the
    held-out fields' best (the oracle: no threshold does better with this ranking)."""
    labelled, held_out = demo_fields(run, modality)
    labels = folder / "labels.tsv"
    table = clicks(run, modality, labelled, count, seed)
    io.write_table(labels, table)
    start = time.perf_counter()
    train_picker(
        labelled=labelled_fields(run, modality, labelled, labels),
        settings=picking_settings(run, seed=seed),
        match_radius_nm=radius_nm,
        threads=2,
        model=folder / "picker.sav",
        threshold=folder / "threshold.json",
        log=folder / "train.log",
    )
    train_s = time.perf_counter() - start
    calibration = io.read_json(folder / "threshold.json")
    candidates = pick_with(run, modality, folder, held_out, -1e9)
    radius_px = radius_nm / run.config["optics"][f"{modality}_pixel_nm"]
    curve = picking.precision_recall_curve(
        list(candidates.values()), [true_centres(run, modality, f) for f in held_out], radius_px
    )
    own = calibration["threshold"]
    kept = {f: table[table["score"] >= own] for f, table in candidates.items()}
    return {
        "modality": modality,
        "clicks": count,
        "clicked": len(table),
        "clicked_fields": table["field"].nunique(),
        "seed": seed,
        "threshold": own,
        "expected_f1": calibration["best"]["f1"],
        "pipeline_f1": pick_scores(run, modality, kept, radius_nm)["f1"],
        "oracle_f1": picking.best_threshold(curve)["f1"],
        "oracle_threshold": picking.best_threshold(curve)["threshold"],
        "train_s": train_s,
    }


def clicks_table(
    run: Run,
    counts: list[int],
    seeds: list[int],
    radius_nm: float,
    progress: Callable[[pd.DataFrame], None],
    keep: Path | None = None,
) -> pd.DataFrame:
    """:func:`clicks_study` for each click count, seed and modality, each in a temporary
    folder (with ``keep``, kept as ``keep``/<modality>_<clicks>_<seed>: the picker, its
    threshold.json, labels and held-out candidates); ``progress`` gets the rows so far after
    each (the page is written as they come). The rows as a table, with the gap between the
    oracle's F1 and the pipeline's."""
    rows = []
    for count in counts:
        for seed in seeds:
            for modality in MODALITIES:
                with tempfile.TemporaryDirectory() as folder:
                    rows.append(clicks_study(run, modality, seed, count, radius_nm, Path(folder)))
                    if keep is not None:
                        kept = keep / f"{modality}_{count}_{seed}"
                        shutil.rmtree(kept, ignore_errors=True)
                        shutil.copytree(folder, kept, ignore=shutil.ignore_patterns("train"))
                print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
                table = pd.DataFrame(rows)
                table["gap"] = table["oracle_f1"] - table["pipeline_f1"]
                progress(table)
    return table


def clicks_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, s.d. and minimum over seeds of each modality's and click count's F1s."""
    columns = ["pipeline_f1", "oracle_f1", "gap", "expected_f1"]
    summary = table.groupby(["modality", "clicks"])[columns].agg(["mean", "std", "min"])
    summary.columns = [f"{score} {statistic}" for score, statistic in summary.columns]
    return summary.reset_index()


def clicks_section(table: pd.DataFrame, radius_nm: float, csv_name: str) -> list[str]:
    """The page's Markdown of the clicks study: its heading, the summary, every picker."""
    table = table.sort_values(["clicks", "seed", "modality"], ignore_index=True)
    return [
        f"\n#### Held-out F1 at {radius_nm:g} nm against the clicks per modality: the "
        "pipeline's threshold and the oracle's, over picker seeds\n",
        clicks_summary(table).to_markdown(index=False, floatfmt=".3f") + "\n",
        f"Every picker (also in {csv_name}):\n",
        table.to_markdown(index=False, floatfmt=".3f"),
    ]


def cpu_s() -> float:
    """User and system CPU seconds of this process and its finished children (Topaz runs)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def picking_time(run: Run, modality: str, size_px: int, folder: Path, threads: int) -> dict:
    """Seconds (wall and CPU) of each step of picking one ``size_px``² field tiled from the demo
    fields of ``modality``, as the pipeline's jobs run them once Topaz is loaded (``threads``:
    Topaz's scoring threads, the pick_centrioles rule's)."""
    pixel_nm = run.config["optics"][f"{modality}_pixel_nm"]
    tiles = [
        tifffile.imread(p) for p in sorted((run.root / f"results/demo/{modality}").glob("*.tif"))
    ]
    side = tiles[0].shape[0]
    per_row = -(-size_px // side)
    rows = [np.hstack([tiles[(r * per_row + c) % len(tiles)] for c in range(per_row)])
            for r in range(per_row)]  # fmt: skip
    field = np.vstack(rows)[:size_px, :size_px]
    field_path = folder / f"{modality}_{size_px}.tif"
    io.write_tiff(field_path, field, pixel_nm)
    settings = picking_settings(run)
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
            model=run.root / f"results/picking/{modality}/picker.sav",
            threshold=run.root / f"results/picking/{modality}/threshold.json",
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
    parser.add_argument("--size-px", type=int, nargs="+", default=[2048])
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
    parser.add_argument(
        "--add", action="store_true",
        help="keep the pickers of earlier runs in picking_benchmark[_<variant>].csv (runs of the "
        "same modality, clicks and seed are replaced)",
    )  # fmt: skip
    parser.add_argument("--keep", type=Path, help="keep each retrained picker's folder here")
    parser.add_argument("--variant", choices=list(VARIANTS), default="default")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT,
        help="the run to measure (default: a finished demo run); other variants run there first",
    )  # fmt: skip
    args = parser.parse_args()
    run = variant_run(args.variant, args.workdir.resolve())
    suffix = "" if args.variant == "default" else f"_{args.variant}"
    page = Page(f"picking_benchmark{suffix}", f"Picking benchmark: {args.variant} demo")
    show = page.show

    show(f"#### Picking against ground truth at {args.radius_nm:g} nm\n")
    rows = [row for m in MODALITIES for row in accuracy(run, m, args.radius_nm)]
    show(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f") + "\n")
    show("#### Picker training (s, logs/benchmarks/picking/train)\n")
    timings = run.root / "logs/benchmarks/picking/train"
    train = [
        {"modality": m, "train_s": pd.read_csv(timings / f"{m}.tsv", sep="\t")["s"].iloc[0]}
        for m in MODALITIES
    ]
    show(pd.DataFrame(train).to_markdown(index=False, floatfmt=".1f") + "\n")
    sizes = " and ".join(f"{size}²" for size in args.size_px)
    show(f"#### Picking one {sizes} field with the trained picker (s)\n")
    start = time.perf_counter()
    for module in ("topaz.extract", "topaz.commands.preprocess"):
        importlib.import_module(module)
    show(
        f"Loading Topaz and PyTorch, once per process (a pipeline job, a `centriole-sr pick` "
        f"call): {time.perf_counter() - start:.1f} s; then each field:\n"
    )
    times = []
    for size_px in args.size_px:
        for modality in MODALITIES:
            with tempfile.TemporaryDirectory() as folder:
                times.append(picking_time(run, modality, size_px, Path(folder), args.threads))
    show(pd.DataFrame(times).to_markdown(index=False, floatfmt=".1f"))
    scores = ROOT / f"docs/benchmarks/picking_benchmark{suffix}.csv"
    if not args.seeds and scores.is_file():
        page.parts += [
            "\nThe pickers that earlier runs retrained with `--seeds` (not rerun now):",
            *clicks_section(pd.read_csv(scores), args.radius_nm, scores.name),
        ]
    page.write()
    if args.seeds:
        fixed = list(page.parts)

        def progress(table: pd.DataFrame) -> None:
            table = save_runs(scores, table, args.add, keys=("modality", "clicks", "seed"))
            page.parts = [*fixed, *clicks_section(table, args.radius_nm, scores.name)]
            page.write()

        table = clicks_table(run, args.clicks, args.seeds, args.radius_nm, progress, args.keep)
        table = save_runs(scores, table, args.add, keys=("modality", "clicks", "seed"))
        print("\n".join(clicks_section(table, args.radius_nm, scores.name)[:2]), flush=True)


if __name__ == "__main__":
    main()
