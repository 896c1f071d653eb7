"""Whole widefield fields restored by the network and by the classical methods, on demo
variants that change what a widefield sees, over training seeds.

Each variant gets only what a user would set (the sample the demo simulates, the optics in
config); nothing is tuned per variant. Per variant the full pipeline runs once; each further
training seed reruns training, restoration and evaluation only. Run from the project root
(about 12 min per variant and seed on 2 cores):

    .venv/bin/python benchmarks/restoration_variants.py [--variants default thin_clean ...]
        [--seeds 0 1 2] [--keep DIR] [--add] [--page-only]

Prints the tables and writes docs/benchmarks/restoration_variants.md, with every field's
scores in restoration_variants.csv beside it; --add keeps that table's other variants and
seeds (runs of the same variant and seed are replaced), so that runs can be made apart.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from _page import save_runs, write_page

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SNAKEMAKE, copy_workflow  # noqa: E402

VARIANTS = {
    "default": {},
    "thin_clean": {"demo": {"sample_thickness_nm": 1000, "background_fraction": 0.03}},
    "thick_hazy": {"demo": {"sample_thickness_nm": 6000, "background_fraction": 0.3}},
    "red_na1.2": {
        "optics": {
            "numerical_aperture": 1.2,
            "refractive_index": 1.333,
            "excitation_nm": 561,
            "emission_nm": 600,
        }
    },
    "emccd": {"demo": {"widefield_camera": "emccd"}},
    "ratio2.5_emccd": {
        "optics": {"widefield_pixel_nm": 112.5},
        "demo": {"widefield_camera": "emccd"},
    },
    "picker_seed_2": {"picking": {"seed": 2}},
    "demo_seed_8": {"demo": {"seed": 8}},
}
"""What each variant changes in config.yaml: the demo's sample and camera, or the optics; the
last two (:data:`STABILITY`) only the picker's seed or the demo's sample."""
STABILITY = ("picker_seed_2", "demo_seed_8")
SCORES = ROOT / "docs/benchmarks/restoration_variants.csv"
CLASSICAL = ("bicubic", "richardson_lucy", "wiener")
SHOWN = ("network", *CLASSICAL, "confocal_acquisition")
METRICS = ("psnr_db", "ssim", "psnr_centrioles_db", "ssim_centrioles", "psnr_background_db")


def _merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied, nested sections merged key by key."""
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def run_variant(
    name: str, seeds: list[int], workdir: Path, changes: dict | None = None
) -> pd.DataFrame:
    """Field tables of every seed of one variant (``changes`` to config.yaml, by default
    ``VARIANTS[name]``): one row per field, method and seed. A workdir kept from an earlier
    run is reused with today's workflow (Snakemake reruns only what changed)."""
    for folder in ("workflow", "envs", "slurm"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    copy_workflow(workdir)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    tables = []
    for seed in seeds:
        variant = VARIANTS[name] if changes is None else changes
        settings = _merge(_merge(config, variant), {"training": {"seed": seed}})
        (workdir / "variant.yaml").write_text(yaml.safe_dump(settings))
        start = time.perf_counter()
        result = subprocess.run(
            [*SNAKEMAKE, "--cores", "2", "--configfile", "variant.yaml"],
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"{name}, seed {seed}: snakemake failed:\n{result.stderr[-4000:]}", flush=True)
            continue
        print(f"{name}, seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
        fields = sorted((workdir / "results/evaluation/fields").glob("*.csv"))
        table = pd.concat([pd.read_csv(path) for path in fields], ignore_index=True)
        tables.append(table.assign(variant=name, seed=seed))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _mean_spread(values: pd.Series, digits: int, sign: str = "") -> str:
    """Mean ± standard deviation over seeds; the mean alone, marked, for one seed."""
    mean = f"{values.mean():{sign}.{digits}f}"
    if len(values) < 2:
        return f"{mean} (1 seed)"
    return f"{mean} ± {values.std(ddof=0):.{digits}f}"


def per_seed_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Each metric's mean over fields per variant, method (:data:`SHOWN`) and seed."""
    return (
        scores[scores["method"].isin(SHOWN)]
        .groupby(["variant", "method", "seed"], sort=False)[list(METRICS)]
        .mean()
        .reset_index()
    )


def summarise(per_seed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per variant and method, from :func:`per_seed_means`: each metric's mean and standard
    deviation over seeds; and the network's margin over the best classical method per seed
    (its worst seed too)."""
    rows = []
    for (variant, method), group in per_seed.groupby(["variant", "method"], sort=False):
        row = {"variant": variant, "method": method}
        for metric in METRICS:
            row[metric] = _mean_spread(group[metric], 3 if metric.startswith("ssim") else 2)
        rows.append(row)
    table = pd.DataFrame(rows)
    margins = []
    for variant, group in per_seed.groupby("variant", sort=False):
        network = group[group["method"] == "network"].set_index("seed")
        classical = group[group["method"].isin(CLASSICAL)]
        best_psnr = classical.groupby("seed")["psnr_db"].max()
        best_ssim = classical.groupby("seed")["ssim"].max()
        best_centrioles = classical.groupby("seed")["psnr_centrioles_db"].max()
        psnr_margin = network["psnr_db"] - best_psnr
        margins.append(
            {
                "variant": variant,
                "PSNR margin (dB)": _mean_spread(psnr_margin, 2, sign="+"),
                "worst seed (dB)": f"{psnr_margin.min():+.2f}",
                "SSIM margin": f"{(network['ssim'] - best_ssim).mean():+.3f}",
                "centriole PSNR margin (dB)": (
                    f"{(network['psnr_centrioles_db'] - best_centrioles).mean():+.2f}"
                ),
            }
        )
    return table, pd.DataFrame(margins)


def stability(per_seed: pd.DataFrame) -> pd.DataFrame:
    """The network's whole-field PSNR and SSIM with another picker or demo seed
    (:data:`STABILITY`) against the default demo's, per training seed that both ran, from
    :func:`per_seed_means`."""
    network = per_seed[per_seed["method"] == "network"].set_index(["variant", "seed"])
    scores = network[["psnr_db", "ssim"]]
    rows = []
    for variant, seed in sorted(scores.index):
        if variant not in STABILITY or ("default", seed) not in scores.index:
            continue
        moved = scores.loc[(variant, seed)] - scores.loc[("default", seed)]
        rows.append({"changed": variant, "training seed": seed,
                     "PSNR moved (dB)": f"{moved['psnr_db']:+.2f}",
                     "SSIM moved": f"{moved['ssim']:+.3f}"})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--add", action="store_true", help="add to the scores already there")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page, run nothing")
    args = parser.parse_args()
    if args.page_only:
        args.variants, args.add = [], True
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        runs = [run_variant(name, args.seeds, base / name) for name in args.variants]
        scores = pd.concat(runs, ignore_index=True) if runs else pd.DataFrame()
    scores = save_runs(SCORES, scores, args.add)
    per_seed = per_seed_means(scores)
    table, margins = summarise(per_seed)
    seeds = scores.groupby("variant", sort=False)["seed"].unique()
    body = "\n".join(
        [
            "Whole widefield fields against the noise-free confocal of the same sample: mean",
            "over fields per training seed, then mean ± s.d. over the seeds (training seeds: "
            + "; ".join(f"{v} {sorted(s.tolist())}" for v, s in seeds.items())
            + ").",
            "Centriole regions are discs of `evaluation.region_radius_nm` around the widefield",
            "picks; the background is the rest. Variants change only the demo's sample or",
            "camera, the optics, or the picker's seed (`VARIANTS` in the script).",
            "",
            "## The network against the best classical method (bicubic, RL, Wiener)",
            "",
            margins.to_markdown(index=False),
            "",
            "## Every method",
            "",
            table.to_markdown(index=False),
            "",
        ]
    )
    moved = stability(per_seed)
    if len(moved):
        body += "\n".join(
            [
                "\n## Stability: another picker seed or demo seed (default demo otherwise)",
                "",
                "The network's whole-field scores minus the default demo's, same training seed.",
                "",
                moved.to_markdown(index=False),
                "",
            ]
        )
    print(body)
    print(write_page("restoration_variants", "Restoration on demo variants", body))


if __name__ == "__main__":
    main()
