"""Can the report's no-reference checks be trusted? Figures from a finished demo run.

Run from the project root after ``snakemake --cores all`` on the demo config:

    .venv/bin/python benchmarks/report_checks.py [ROOT]

Prints, as Markdown:
1. the time ``snakemake --report`` takes;
2. how the data-consistency error follows the true error against the demo's noise-free
   confocal image: Spearman correlation over tiles of every widefield field, per method;
3. whether the invented-structure flag catches invented centrioles: copies of restored
   centrioles, at several brightnesses, pasted into the network's restoration far from
   every object of the sample; the share flagged, and the regions flagged elsewhere.
It writes them to docs/benchmarks/report_checks.md too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _page import Page
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.stats import spearmanr

from centriole_sr import baselines, io
from centriole_sr.baselines import WIENER_BALANCE
from centriole_sr.degrade import Degradation
from centriole_sr.metrics import compare
from centriole_sr.quality import data_consistency

TILE_PX = 32  # widefield pixels (2.9 µm at 90 nm)
BRIGHTNESS = (0.1, 0.25, 0.5, 1.0)
INVENTED_PER_FIELD = 10


def report_seconds(root: Path) -> float:
    """Wall-clock seconds of ``snakemake --report`` (report written to a scratch file)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--report", "/tmp/report_checks.html", "--quiet"],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def restorations(root: Path, field: str, sigmas: dict, iterations: int) -> dict[str, np.ndarray]:
    """The four restorations of one demo widefield field, as the report makes them."""
    widefield, _ = io.read_field(root / f"results/demo/widefield/{field}.tif")
    bicubic = baselines.bicubic_upsample(io.normalize_percentile(widefield), int(sigmas["scale"]))
    sigma_px = sigmas["sigma_degradation_confocal_px"]
    return {
        "bicubic": bicubic,
        "richardson_lucy": baselines.richardson_lucy_gaussian(bicubic, sigma_px, iterations),
        "wiener": baselines.wiener_gaussian(bicubic, sigma_px, WIENER_BALANCE),
        "network": io.read_field(root / f"results/restored/{field}.tif")[0],
    }


def tile_rms(image: np.ndarray, tile_px: int) -> np.ndarray:
    """Root mean square of each tile_px x tile_px tile."""
    rows, columns = image.shape[0] // tile_px, image.shape[1] // tile_px
    tiles = image[: rows * tile_px, : columns * tile_px].reshape(rows, tile_px, columns, tile_px)
    return np.sqrt(np.mean(tiles.astype(np.float64) ** 2, axis=(1, 3))).ravel()


def empty_places(occupied_yx: np.ndarray, shape: tuple[int, int], count: int, rng) -> np.ndarray:
    """``count`` (y, x) places at least 40 px from every occupied place and the border."""
    tree = cKDTree(occupied_yx)
    places: list[np.ndarray] = []
    while len(places) < count:
        candidate = rng.uniform(40, np.array(shape) - 40)
        if tree.query(candidate)[0] > 40 and all(np.hypot(*(candidate - p)) > 40 for p in places):
            places.append(candidate)
    return np.round(np.array(places)).astype(int)


def main(root: Path) -> None:
    config = yaml.safe_load((root / "config.yaml").read_text())
    sigmas = io.read_json(root / "results/degradation/model.json")
    params = Degradation.from_model(sigmas)
    threshold = config["evaluation"]["consistency_threshold_sigma"]
    iterations = int(io.read_json(root / "results/evaluation/rl_iterations.json")["iterations"])
    scale, pixel_nm = int(sigmas["scale"]), sigmas["confocal_pixel_nm"]
    rng = np.random.default_rng(0)
    tiles, injected, truth_regions = [], [], {}
    for path in sorted((root / "results/demo/widefield").glob("*.tif")):
        field = path.stem
        widefield, _ = io.read_field(path)
        reference, _ = io.read_field(root / f"results/demo/confocal_clean/{field}.tif")
        images = restorations(root, field, sigmas, iterations)
        truth_regions[field] = data_consistency(
            reference, widefield, params, threshold_sigma=threshold
        ).invented_regions
        for method, image in images.items():
            check = data_consistency(image, widefield, params, threshold_sigma=threshold)
            true_error = compare(image, reference)[1]
            tiles.append(pd.DataFrame({
                "field": field, "method": method,
                "consistency": tile_rms(check.error_map, TILE_PX),
                "true_error": tile_rms(true_error, TILE_PX * scale),
            }))  # fmt: skip
        # invented centrioles: restored centrioles copied far from every object of the sample
        centres = pd.read_csv(root / f"results/demo/centres/{field}.tsv", sep="\t")
        occupied = centres[["y_nm", "x_nm"]].to_numpy() / pixel_nm
        truth = pd.read_csv(root / f"results/demo/truth/confocal/{field}.tsv", sep="\t")
        network = images["network"]
        sources = np.round(truth[["y_px", "x_px"]].to_numpy()).astype(int)
        sources = sources[np.all((sources > 20) & (sources < np.array(network.shape) - 20), 1)]
        background = float(np.median(network))
        base = data_consistency(network, widefield, params, threshold_sigma=threshold)
        for brightness in BRIGHTNESS:
            edited = network.copy()
            places = empty_places(occupied, network.shape, INVENTED_PER_FIELD, rng)
            for (y, x), (sy, sx) in zip(
                places, sources[rng.permutation(len(sources))], strict=False
            ):
                copy = network[sy - 16 : sy + 16, sx - 16 : sx + 16] - background
                edited[y - 16 : y + 16, x - 16 : x + 16] += brightness * np.clip(copy, 0, None)
            check = data_consistency(edited, widefield, params, threshold_sigma=threshold)
            labels, count = ndimage.label(check.invented)
            region_yx = np.array(
                ndimage.center_of_mass(check.invented, labels, range(1, count + 1))
            )
            near = cKDTree(places / scale).query(region_yx.reshape(-1, 2))[0] <= 12 if count else []
            caught = sum(
                check.invented[max(y // scale - 3, 0) : y // scale + 4,
                               max(x // scale - 3, 0) : x // scale + 4].any()
                for y, x in places
            )  # fmt: skip
            injected.append({
                "field": field, "brightness": brightness, "invented": len(places),
                "flagged": caught, "other_regions": int(count - np.sum(near)),
                "regions_before": base.invented_regions,
            })  # fmt: skip
    tiles = pd.concat(tiles, ignore_index=True)
    rows = [
        {"method": method, "tiles": len(group),
         "spearman_rho": spearmanr(group["consistency"], group["true_error"]).statistic}
        for method, group in [*tiles.groupby("method", sort=False), ("all", tiles)]
    ]  # fmt: skip
    page = Page("report_checks", "Report checks")
    show = page.show

    show(f"## Report generation\n\nsnakemake --report: {report_seconds(root):.1f} s\n")
    show(f"## Consistency error vs true error, tiles of {TILE_PX} widefield pixels\n")
    show(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"))
    injected = pd.DataFrame(injected)
    summary = injected.groupby("brightness").agg(
        invented=("invented", "sum"), flagged=("flagged", "sum"),
        other_regions=("other_regions", "sum"), regions_before=("regions_before", "sum"),
    ).reset_index()  # fmt: skip
    summary["recall"] = summary["flagged"] / summary["invented"]
    show(f"\n## Invented centrioles in the network's restorations (threshold {threshold} s.d.)\n")
    show("brightness: relative to the restored centriole copied\n")
    show(summary.to_markdown(index=False, floatfmt=".2f"))
    show(f"\nRegions flagged on the noise-free confocal (the truth) itself: {truth_regions}")
    page.write()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
