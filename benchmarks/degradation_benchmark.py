"""Which degradation makes the network work on real widefield? Figures from a demo run.

Run from the project root after ``snakemake --cores all`` on the demo config:

    .venv/bin/python benchmarks/degradation_benchmark.py [ROOT] [--threads N] [--seeds N]

For each degradation below, the demo's confocal patches are degraded, a network is trained
on them with the config's training settings, and the demo's widefield fields are
restored and scored against the noise-free confocal image of the same sample (percentile
normalisation and affine fit, as the report). Also each degradation's domain gap to the real
widefield patches (centriole_sr.quality.domain_gap). Prints a Markdown table and writes it to
docs/benchmarks/degradation_benchmark.md.

- fixed 4 px: the original PSSR blur, sigma = 4 confocal pixels;
- paraxial: sigma_deg from the paraxial Gaussian approximations of both PSFs;
- computed PSFs: sigma_deg from Gaussians fitted to the vectorial PSFs averaged over the
  depth range of the demo's centrioles (+-300 nm);
- PSF haze: the run's degradation before its calibration on the widefield fields (the
  computed-PSF blur, the haze of the widefield PSF over the sample's 3 um);
- full chain: the run's results/degradation/model.json, what the pipeline trains on (by
  default haze and blur fitted on the labelled widefield fields, noise calibrated there).
The first three are blur only (no haze), with uncalibrated noise (100 photons, read noise 2).
Whole confocal fields are degraded and the network trained on crops of them, as the
pipeline does.
Each degradation trains --seeds networks (training seeds 0, 1, ...): single runs differ by
up to a dB.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _config import load_config
from _page import write_page

from centriole_sr import io
from centriole_sr.degrade import Degradation
from centriole_sr.metrics import compare
from centriole_sr.patches import load_patches
from centriole_sr.psf import Optics, computed_sigmas, optics_sigmas
from centriole_sr.quality import domain_gap
from centriole_sr.restore import load_model, restore_image
from centriole_sr.settings import Reading, Training
from centriole_sr.simulate import DemoParams
from centriole_sr.stages.degradation import degrade_field
from centriole_sr.stages.training import train_model


def degradations(root: Path, config: dict) -> dict[str, tuple[dict, Degradation]]:
    """Name -> (sigma table, degradation parameters)."""
    optics = Optics(**config["optics"])
    run = io.read_json(root / "results/degradation/model.json")
    blur_only = {"haze_fraction": 0.0, "haze_sigma_nm": 1.0, "peak_photons": 100.0,
                 "read_noise_photons": 2.0}  # fmt: skip
    paraxial = optics_sigmas(optics)
    fixed = {**paraxial, "source": "fixed 4 px", "sigma_degradation_confocal_px": 4.0,
             "sigma_degradation_nm": 4.0 * optics.confocal_pixel_nm}  # fmt: skip
    computed = computed_sigmas(optics, DemoParams().centriole_z_range_nm)
    pixels = {"confocal_pixel_nm": optics.confocal_pixel_nm,
              "widefield_pixel_nm": optics.widefield_pixel_nm}  # fmt: skip
    chains = {
        name: {**sigmas, **pixels, **blur_only}
        for name, sigmas in (("fixed 4 px", fixed), ("paraxial", paraxial),
                             ("computed PSFs", computed))
    }  # fmt: skip
    if run.get("calibration", {}).get("status") == "calibrated":
        before = run["calibration"]["before"]
        factor = run["calibration"]["sigma_factor"]
        chains["PSF haze"] = {
            **run, **before, "sigma_degradation_nm": run["sigma_degradation_nm"] / factor,
            "sigma_degradation_confocal_px": run["sigma_degradation_confocal_px"] / factor,
        }  # fmt: skip
    chains["full chain"] = run
    return {name: (sigmas, Degradation.from_model(sigmas)) for name, sigmas in chains.items()}


def score(
    root: Path,
    config: dict,
    sigmas: dict,
    params: Degradation,
    scratch: Path,
    threads: int,
    seeds: list[int],
) -> dict[str, float]:
    """Train on the degraded demo patches, once per training seed; restore and score every
    demo widefield field. PSNR and SSIM: mean and standard deviation over the seeds."""
    io.write_json(scratch / "model.json", sigmas)
    pair_paths = []
    for path in sorted((root / "results/demo/confocal").glob("*.tif")):
        pair_paths.append(scratch / f"{path.stem}.npz")
        degrade_field(
            image=path, picks=root / f"results/picks/confocal/{path.stem}.tsv",
            model=scratch / "model.json", seed=config["degradation"]["seed"], field=path.stem,
            pixel_nm=config["optics"]["confocal_pixel_nm"],
            reading=Reading(channel=None, z_stack="max"),
            pair_px=config["patches"]["size_px"] // params.scale, pairs=pair_paths[-1],
        )  # fmt: skip
    degraded = np.concatenate([load_patches(p)["inputs"] for p in pair_paths])
    widefield_paths = sorted((root / "results/patches/widefield").glob("*.npz"))
    widefield_patches = np.concatenate([load_patches(p)["patches"] for p in widefield_paths])
    gap = domain_gap(degraded, widefield_patches)
    runs = []
    for seed in seeds:  # the same pairs, networks from different initial weights
        training = Training.from_dict({**config["training"], "device": "cpu", "seed": seed})
        model_dir = scratch / f"model{seed}"
        train_model(
            pairs=pair_paths, model=scratch / "model.json", settings=training, threads=threads,
            weights=model_dir / "weights.pt", checkpoint=model_dir / "checkpoint.pt",
        )  # fmt: skip
        model, card = load_model(model_dir / "weights.pt", model_dir / "card.json")
        rows = []
        for path in sorted((root / "results/demo/widefield").glob("*.tif")):
            widefield, _ = io.read_field(path)
            reference, _ = io.read_field(root / f"results/demo/confocal_clean/{path.name}")
            restored = restore_image(model, io.normalize_percentile(widefield), int(card["scale"]))
            rows.append(compare(restored, reference)[0])
        runs.append(pd.DataFrame(rows).mean())
    runs = pd.DataFrame(runs)
    return {
        "sigma_deg_nm": sigmas["sigma_degradation_nm"],
        "haze_fraction": params.haze_fraction,
        "peak_photons": params.peak_photons,
        "domain_gap_db": gap["spectral_gap_db"],
        "fields_psnr_db": runs["psnr_db"].mean(),
        "psnr_sd": runs["psnr_db"].std(),
        "fields_ssim": runs["ssim"].mean(),
        "ssim_sd": runs["ssim"].std(),
    }


def main(root: Path, threads: int, seeds: list[int], only: list[str]) -> None:
    config = load_config(root)
    torch.set_num_threads(threads)
    rows = []
    for name, (sigmas, params) in degradations(root, config).items():
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix="degradation_benchmark_") as scratch:
            scores = score(root, config, sigmas, params, Path(scratch), threads, seeds)
            rows.append({"degradation": name, **scores})
            print(rows[-1], flush=True)
    heading = "## Degradations: domain gap; networks trained on each, on widefield fields"
    table = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f")
    print(f"\n{heading}\n")
    print(table)
    write_page("degradation_benchmark", "Degradation benchmark", f"{heading}\n\n{table}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path.cwd())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="networks trained per degradation")
    parser.add_argument("--only", nargs="*", default=[], help="degradations to run, by name")
    arguments = parser.parse_args()
    main(arguments.root, arguments.threads, list(range(arguments.seeds)), arguments.only)
