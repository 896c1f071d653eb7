"""Restoration speed and memory: the network against 30 Richardson–Lucy iterations.

Run from the project root (after a pipeline run, to time the trained model; otherwise an
untrained network of the configured architecture, which takes exactly as long):

    .venv/bin/python benchmarks/restoration_speed.py [--large-px 8192]

Prints a Markdown table: for a 2048² widefield field, the network's seconds per megapixel
of widefield input (torch threads = CPU cores) and the time of 30 RL iterations on the
same field at the confocal pixel size (scikit-image, the pipeline's baseline, after
bicubic upsampling, which is not counted); then the time and peak memory of restoring a
``--large-px``² field TIFF with the pipeline's ``restore_field`` in a fresh process.
CUDA rows (mixed precision) are added when a GPU is visible. The tables are written to
docs/benchmarks/restoration_speed.md too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import torch
import yaml
from _page import Page
from scipy import ndimage

from centriole_sr.baselines import bicubic_upsample, richardson_lucy_gaussian
from centriole_sr.io import write_json, write_tiff
from centriole_sr.model import ResidualUNet
from centriole_sr.psf import Optics, optics_sigmas
from centriole_sr.restore import load_model, restore_image
from centriole_sr.settings import Reading, Restoration
from centriole_sr.stages.restoration import restore_field

ROOT = Path(__file__).resolve().parents[1]


def test_field(size_px: int, seed: int = 0) -> np.ndarray:
    """A normalised widefield-like field: blurred spots on a smooth background, with noise."""
    rng = np.random.default_rng(seed)
    spots = np.zeros((size_px, size_px), np.float32)
    n_spots = size_px * size_px // 2000
    spots[rng.integers(0, size_px, n_spots), rng.integers(0, size_px, n_spots)] = 50.0
    field = ndimage.gaussian_filter(spots, 2.0) + ndimage.gaussian_filter(spots, 12.0) * 5
    field += rng.normal(0, 0.02, field.shape).astype(np.float32)
    return (field / np.percentile(field, 99.8)).astype(np.float32)


def model_files(config: dict, folder: Path) -> tuple[Path, Path, str]:
    """Weights and card of the trained model in results/model, else of an untrained network
    of the configured architecture (written to ``folder``), which takes exactly as long."""
    weights, card = ROOT / "results/model/weights.pt", ROOT / "results/model/card.json"
    if weights.is_file() and card.is_file():
        return weights, card, "trained (results/model)"
    optics = Optics(**config["optics"])
    model = ResidualUNet(
        optics.scale, config["training"]["base_channels"], config["training"]["depth"]
    )
    weights, card = folder / "weights.pt", folder / "card.json"
    torch.save(model.state_dict(), weights)
    card_fields = {"architecture": type(model).__name__, "model_args": model.constructor_args()}
    card_fields |= {"scale": optics.scale, "widefield_pixel_nm": optics.widefield_pixel_nm}
    write_json(card, card_fields)
    return weights, card, "untrained, configured architecture"


def timed(function, *args, **kwargs) -> tuple[float, object]:
    """Wall-clock seconds of one call, and its result."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def restore_large(size_px: int, device: str) -> None:
    """Restore a size_px² field TIFF as the pipeline's rule does; print JSON: time, output
    shape and this process's peak memory (reading, restoring and writing the TIFF)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    pixel_nm = config["optics"]["widefield_pixel_nm"]
    with tempfile.TemporaryDirectory() as folder:
        weights, card, _ = model_files(config, Path(folder))
        field, output = Path(folder) / "field.tif", Path(folder) / "restored.tif"
        write_tiff(field, test_field(size_px), pixel_nm)
        settings = Restoration.from_dict(
            {**config["restoration"], "device": device, "output_dtype": "float32"}
        )
        seconds, _ = timed(
            partial(
                restore_field, image=field, weights=weights, card=card, pixel_nm=pixel_nm,
                settings=settings, reading=Reading(channel=None, z_stack="max"),
                threads=os.cpu_count(), restored=output,
            )
        )  # fmt: skip
        with tifffile.TiffFile(output) as tif:
            shape = list(tif.series[0].shape)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": seconds, "output_shape": shape, "peak_rss_gib": peak_gib}))


def large_field_run(size_px: int, device: str) -> dict:
    """:func:`restore_large` in a fresh process, so that its peak memory is its own."""
    command = [sys.executable, __file__, "--restore-large", str(size_px), "--device", device]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field-px", type=int, default=2048, help="widefield field side")
    parser.add_argument("--large-px", type=int, default=8192, help="0 skips the large field")
    parser.add_argument("--restore-large", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.restore_large:
        restore_large(args.restore_large, args.device)
        return
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    torch.set_num_threads(os.cpu_count())
    with tempfile.TemporaryDirectory() as folder:
        weights, card, origin = model_files(config, Path(folder))
        model = load_model(weights, card)[0]
    sigma_px = optics_sigmas(Optics(**config["optics"]))["sigma_degradation_confocal_px"]
    image = test_field(args.field_px)
    megapixels = image.size / 1e6
    tiles = {key: config["restoration"][key] for key in ("tile_px", "batch_size")}
    page = Page("restoration_speed", "Restoration speed")
    show = page.show

    show(f"model: {origin}; {os.cpu_count()} CPU cores; torch {torch.__version__}")
    show(f"field {args.field_px}² widefield px ({megapixels:.2f} MP); RL σ {sigma_px:.3f} px\n")

    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        if device == "cuda":  # first call pays CUDA start-up and cuDNN tuning
            restore_image(model, image[:512, :512], model.scale, device=device, **tiles)
            torch.cuda.synchronize()
        seconds, restored = timed(restore_image, model, image, model.scale, device=device, **tiles)
        rows.append(
            {
                "method": f"network ({device}{', mixed precision' if device == 'cuda' else ''})",
                "s": seconds,
                "s_per_input_MP": seconds / megapixels,
            }
        )
    upsampled = bicubic_upsample(image, model.scale)
    rl_seconds, _ = timed(richardson_lucy_gaussian, upsampled, sigma_px, 30)
    rows.append({"method": "Richardson–Lucy, 30 it. (cpu)", "s": rl_seconds})
    rows[-1]["s_per_input_MP"] = rl_seconds / megapixels
    table = pd.DataFrame(rows)
    table["RL-30 / method"] = rl_seconds / table["s"]
    show(table.to_markdown(index=False, floatfmt=".2f"))

    if args.large_px:
        show(f"\n## {args.large_px}² widefield field, fresh process\n")
        large = []
        for device in devices:
            run = large_field_run(args.large_px, device)
            run["s_per_input_MP"] = run["seconds"] / (args.large_px**2 / 1e6)
            large.append({"device": device, **run})
        show(pd.DataFrame(large).to_markdown(index=False, floatfmt=".2f"))
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        show(f"\nmachine memory: {memory_gib:.1f} GiB")
    page.write()


if __name__ == "__main__":
    main()
