"""Does the trust map find the network's errors? Measured on demo variants, where the truth
(the noise-free confocal of each widefield field) is known.

Per variant and training seed the pipeline runs (benchmarks/restoration_variants.py; a kept
workdir is reused), then on every widefield field:

- the trust map (spread of the test-time-augmented ensemble, :mod:`centriole_sr.trust`) for
  2-8 members, and the data-consistency map, against the network's true error: Spearman rho
  over 32 x 32 px tiles (map mean against RMS error) and the average precision of map pixels
  for |restored - truth| above ``ERROR_THRESHOLD``;
- the ensemble's mean against the single restoration (PSNR against the truth);
- the data-consistency check on the truth (regions flagged: false alarms) and on
  restorations with restored centrioles pasted into the background at 0.25, 0.5 and 1 x
  their brightness (recall; other regions flagged);
- the time of the ensemble over the time of one restoration.

    .venv/bin/python benchmarks/trust_map.py [--variants default ...] [--seeds 0 1 2]
        [--keep DIR] [--measure-only] [--add]

Prints the tables and writes docs/benchmarks/trust_map.md (per-field rows in trust_map.csv).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _page import save_runs, write_page
from restoration_variants import VARIANTS, run_variant
from scipy import ndimage, stats

from centriole_sr import grid, io, trust
from centriole_sr.degrade import Degradation
from centriole_sr.metrics import compare
from centriole_sr.quality import Consistency, data_consistency
from centriole_sr.restore import Restorer
from centriole_sr.scoring import to_working_grid

ROOT = Path(__file__).resolve().parents[1]
SCORES = ROOT / "docs/benchmarks/trust_map.csv"
FIGURE = ROOT / "docs/benchmarks/trust_map.png"
TILE_PX = 32
ERROR_THRESHOLD = 0.1
"""True error worth flagging: a tenth of the truth's 0.1-99.9 percentile range."""
FAILURES = {
    "haze_x3": {"degradation": {"haze_fraction": 9.0}},
    "no_haze": {"degradation": {"haze_fraction": 0.0}},
}
"""Networks trained wrongly on purpose (the demo's calibrated haze fraction is about 3):
too much haze removed digs dark rings around centrioles; none leaves the haze in."""
CASES = {**VARIANTS, **FAILURES}
MEMBERS = (2, 3, 4, 8)
DEFAULT_MEMBERS = 3
"""restoration.ensemble's default."""
TOP_AREA = 0.05
"""Dark-ring coverage: the share of the dark area among the 5 % of the field a map ranks
least trusted."""
PASTE_BRIGHTNESS = (0.25, 0.5, 1.0)
PASTES_PER_FIELD = 10
FOUND_WITHIN_WF_PX = 2.0
"""A pasted centriole is found when a flagged region comes this close to its centre."""


def tile_spearman(trust_map: np.ndarray, error: np.ndarray, tile_px: int = TILE_PX) -> float:
    """Spearman rho between the tiles' mean trust map and their RMS error."""
    height, width = (n // tile_px * tile_px for n in error.shape)

    def tiles(image: np.ndarray) -> np.ndarray:
        blocks = image[:height, :width].reshape(height // tile_px, tile_px, -1, tile_px)
        return blocks.mean(axis=(1, 3)).ravel()

    return float(stats.spearmanr(tiles(trust_map), np.sqrt(tiles(error**2))).statistic)


def average_precision(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the precision-recall curve of ``score`` ranking the ``positive`` pixels."""
    order = np.argsort(-score.ravel(), kind="stable")
    hits = positive.ravel()[order]
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def _paste_sites(
    centres_yx: np.ndarray, shape: tuple[int, int], count: int, clear_px: float, seed: int
) -> np.ndarray:
    """``count`` random sites at least ``clear_px`` from every centre and the border."""
    rng = np.random.default_rng(seed)
    sites: list[np.ndarray] = []
    for _ in range(count * 200):
        site = rng.uniform(clear_px, np.array(shape) - clear_px)
        taken = np.vstack([centres_yx.reshape(-1, 2), *sites]) if sites else centres_yx
        if len(taken) == 0 or np.min(np.hypot(*(taken - site).T)) >= clear_px:
            sites.append(site[None])
        if len(sites) == count:
            break
    return np.vstack(sites)


def paste_centrioles(
    restored: np.ndarray, centres_yx: np.ndarray, sites_yx: np.ndarray, brightness: float,
    radius_px: int,
) -> np.ndarray:  # fmt: skip
    """``restored`` with copies of its own centrioles (a disc of ``radius_px`` around each
    centre, less its border's median) added at ``sites_yx``, times ``brightness``."""
    pasted = restored.astype(np.float32).copy()
    yy, xx = np.mgrid[-radius_px : radius_px + 1, -radius_px : radius_px + 1]
    disc = np.hypot(yy, xx) <= radius_px
    border = disc & (np.hypot(yy, xx) > radius_px - 1.5)
    sources = [
        (int(y), int(x)) for y, x in np.rint(centres_yx)
        if radius_px <= y < restored.shape[0] - radius_px
        and radius_px <= x < restored.shape[1] - radius_px
    ]  # fmt: skip
    for index, (y, x) in enumerate(np.rint(sites_yx).astype(int)):
        sy, sx = sources[index % len(sources)]
        patch = restored[sy - radius_px : sy + radius_px + 1, sx - radius_px : sx + radius_px + 1]
        spot = np.clip(patch - np.median(patch[border]), 0, None) * disc
        pasted[y - radius_px : y + radius_px + 1, x - radius_px : x + radius_px + 1] += (
            brightness * spot
        )
    return pasted


def _top_share(trust_map: np.ndarray, region: np.ndarray, top: float = TOP_AREA) -> float:
    """Share of ``region`` in the ``top`` fraction of the field's area by ``trust_map``."""
    if not region.any():
        return float("nan")
    return float((trust_map[region] >= np.quantile(trust_map, 1 - top)).mean())


def _found(invented: np.ndarray, sites_wf: np.ndarray) -> tuple[int, int]:
    """(pasted sites within reach of a flagged region, flagged regions reaching no site)."""
    labels, count = ndimage.label(invented)
    if count == 0:
        return 0, 0
    distance, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    found, touched = 0, set()
    for y, x in np.rint(sites_wf).astype(int):
        y, x = np.clip(y, 0, invented.shape[0] - 1), np.clip(x, 0, invented.shape[1] - 1)
        if distance[y, x] <= FOUND_WITHIN_WF_PX:
            found += 1
            touched.add(int(labels[iy[y, x], ix[y, x]]))
    return found, count - len(touched)


def measure_workdir(
    workdir: Path, threshold_sigma: float, figures: dict[str, dict[str, np.ndarray]]
) -> list[dict]:
    """Every measurement on every widefield field of one pipeline run; the maps of its first
    field go into ``figures`` under the workdir's name."""
    results = workdir / "results"
    restorer = Restorer.from_dir(results / "model", device="cpu")
    degradation = Degradation.from_model(io.read_json(results / "degradation/model.json"))
    wf_nm = restorer.widefield_pixel_nm
    conf_nm = wf_nm / restorer.pixel_ratio
    diameter_nm = 300.0
    rows = []
    for restored_path in sorted((results / "restored").glob("*.tif")):
        field = restored_path.stem
        widefield, _ = io.read_field(results / f"demo/widefield/{field}.tif", wf_nm)
        truth, _ = io.read_field(results / f"demo/confocal_clean/{field}.tif", conf_nm)
        start = time.perf_counter()
        single = restorer.restore(widefield)
        single_s = time.perf_counter() - start
        start = time.perf_counter()
        estimates = trust.augmented_restorations(restorer.restore, widefield, max(MEMBERS))
        ensemble_s = (time.perf_counter() - start) / max(MEMBERS)
        height = min(single.shape[0], truth.shape[0])
        width = min(single.shape[1], truth.shape[1])
        truth, single, estimates = (
            truth[:height, :width],
            single[:height, :width],
            estimates[:, :height, :width],
        )
        single_scores, error, _ = compare(single, truth)
        row = {"field": field, "seconds_restore": single_s, "seconds_per_member": ensemble_s,
               "psnr_single_db": single_scores["psnr_db"]}  # fmt: skip
        spreads = {}
        for members in MEMBERS:
            spreads[members] = spread = trust.spread_map(estimates[:members])
            mean_scores, mean_error, _ = compare(estimates[:members].mean(axis=0), truth)
            row |= {
                f"rho_{members}": tile_spearman(spread, error),
                f"ap_{members}": average_precision(spread, np.abs(error) > ERROR_THRESHOLD),
                f"rho_mean_{members}": tile_spearman(spread, mean_error),
                f"psnr_mean_{members}_db": mean_scores["psnr_db"],
            }

        def check(image: np.ndarray, widefield: np.ndarray = widefield) -> Consistency:
            working = to_working_grid(image, widefield.shape, degradation.scale, wf_nm, conf_nm)
            return data_consistency(working, widefield, degradation,
                                    threshold_sigma=threshold_sigma)  # fmt: skip

        network_check = check(single)
        consistency_map = grid.resample(np.abs(network_check.error_map), wf_nm, conf_nm,
                                        (height, width))  # fmt: skip
        dark = error < -ERROR_THRESHOLD  # restored darker than the truth: rings, holes
        row |= {
            "dark_area_fraction": float(dark.mean()),
            "dark_flagged_spread": _top_share(spreads[DEFAULT_MEMBERS], dark),
            "dark_flagged_consistency": _top_share(consistency_map, dark),
            "rho_consistency": tile_spearman(consistency_map, error),
            "ap_consistency": average_precision(consistency_map, np.abs(error) > ERROR_THRESHOLD),
            "network_regions": network_check.invented_regions,
            "truth_regions": check(truth).invented_regions,
        }
        centres_wf = io.read_table(results / f"demo/truth/widefield/{field}.tsv")[
            ["y_px", "x_px"]
        ].to_numpy(float)
        centres = centres_wf * restorer.pixel_ratio
        radius_px = int(np.ceil(diameter_nm / conf_nm))
        sites = _paste_sites(centres, single.shape, PASTES_PER_FIELD, 4 * radius_px, seed=1)
        for brightness in PASTE_BRIGHTNESS:
            pasted = check(paste_centrioles(single, centres, sites, brightness, radius_px))
            found, other = _found(pasted.invented, sites / restorer.pixel_ratio)
            row |= {f"recall_{brightness:g}": found / len(sites), f"other_{brightness:g}": other}
        rows.append(row)
        if workdir.name not in figures:  # the first field: what the maps look like
            figures[workdir.name] = {"restored": single, "|error|": np.abs(error),
                                     "trust map": spreads[DEFAULT_MEMBERS],
                                     "|consistency|": consistency_map}  # fmt: skip
        print(f"  {field}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()
                                        if not isinstance(v, str)), flush=True)  # fmt: skip
    return rows


def maps_figure(figures: dict[str, dict[str, np.ndarray]], path: Path, side_px: int = 256) -> None:
    """One row per case: the restoration, its true error, the trust map and the consistency
    map, cropped to the ``side_px`` square of the largest true error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(figures)
    figure, axes = plt.subplots(len(names), 4, figsize=(12, 3.1 * len(names)), squeeze=False,
                                layout="constrained")  # fmt: skip
    for row, name in enumerate(names):
        maps = figures[name]
        energy = ndimage.uniform_filter(maps["|error|"] ** 2, side_px)
        cy, cx = np.unravel_index(np.argmax(energy), energy.shape)
        top = int(np.clip(cy - side_px // 2, 0, energy.shape[0] - side_px))
        left = int(np.clip(cx - side_px // 2, 0, energy.shape[1] - side_px))
        for column, (label, image) in enumerate(maps.items()):
            crop = image[top : top + side_px, left : left + side_px]
            low, high = np.percentile(crop, [0.5 if column == 0 else 0, 99.9])
            shown = axes[row, column].imshow(crop, cmap="gray" if column == 0 else "magma",
                                             vmin=low, vmax=high)  # fmt: skip
            axes[row, column].set_title(f"{name}: {label}", fontsize=9)
            axes[row, column].set_axis_off()
            if column:
                figure.colorbar(shown, ax=axes[row, column], fraction=0.046)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _spread(values: pd.Series, digits: int) -> str:
    """Mean ± s.d. over seeds; the mean alone, marked, for one seed."""
    if len(values) < 2:
        return f"{values.mean():.{digits}f} (1 seed)"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def summarise(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The page's tables: one row per variant; rho and AP by ensemble size."""
    m = DEFAULT_MEMBERS
    scores = scores.assign(
        psnr_gain_db=scores[f"psnr_mean_{m}_db"] - scores["psnr_single_db"],
        cost=m * scores["seconds_per_member"] / scores["seconds_restore"] - 1,
    )
    per_seed = scores.drop(columns="field").groupby(["variant", "seed"], sort=False).mean()
    rows = []
    for variant, group in per_seed.groupby(level="variant", sort=False):
        fields = scores[scores["variant"] == variant]
        rows.append({
            "variant": variant,
            "seeds": " ".join(str(int(s)) for s in group.index.get_level_values("seed")),
            "rho": _spread(group[f"rho_{m}"], 2),
            "rho worst": f"{fields[f'rho_{m}'].min():.2f}",
            "AP": _spread(group[f"ap_{m}"], 2),
            "rho consistency": _spread(group["rho_consistency"], 2),
            "truth regions / field (max)": int(fields["truth_regions"].max()),
            "pasted 0.25 / 0.5 / 1 found": " / ".join(
                f"{group[f'recall_{b:g}'].mean():.2f}" for b in PASTE_BRIGHTNESS
            ),
            "other regions / field (max)": int(fields[[f"other_{b:g}" for b in PASTE_BRIGHTNESS]]
                                               .to_numpy().max()),
            "dark area %": _spread(100 * group["dark_area_fraction"], 2),
            "dark in top 5 %: map / consistency": f"{group['dark_flagged_spread'].mean():.2f}"
            f" / {group['dark_flagged_consistency'].mean():.2f}",
            "mean − single (dB)": _spread(group["psnr_gain_db"], 2),
            "trust map cost (x restoration)": _spread(group["cost"], 2),
        })  # fmt: skip
    by_members = per_seed.groupby(level="variant", sort=False)[
        [f"{kind}_{n}" for n in MEMBERS for kind in ("rho", "ap")]
    ].mean()
    return pd.DataFrame(rows), by_members.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["default"], choices=list(CASES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--keep", type=Path, help="run the pipelines in this folder, keep them")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure the kept workdirs as they are; run nothing")  # fmt: skip
    parser.add_argument("--threshold-sigma", type=float, default=5.0)
    parser.add_argument("--add", action="store_true", help="add to the rows already there")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page, run nothing")
    args = parser.parse_args()
    if args.page_only:
        args.variants, args.add = [], True
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        for name in args.variants:
            for seed in [None] if args.measure_only else args.seeds:
                if seed is not None and run_variant(name, [seed], base / name, CASES[name]).empty:
                    continue
                settings = yaml.safe_load((base / name / "variant.yaml").read_text())
                seed = settings["training"]["seed"]
                print(f"{name}, seed {seed}:", flush=True)
                measured = measure_workdir(base / name, args.threshold_sigma, figures)
                rows += [{"variant": name, "seed": seed, **row} for row in measured]
    scores = pd.DataFrame(rows, columns=["variant", "seed"] if not rows else None)
    scores = save_runs(SCORES, scores, args.add)
    summary, by_members = summarise(scores)
    body = "\n".join(
        [
            "Per variant: the mean over its widefield fields per training seed, then mean ±",
            "s.d. over seeds (worst: the worst field of any seed). The trust map is the",
            f"default ensemble's ({DEFAULT_MEMBERS} members). Consistency: the data-consistency",
            "check of `evaluate_field` (5 noise s.d.). Variants: `VARIANTS` in",
            "restoration_variants.py; failures (networks trained wrongly on purpose): `FAILURES`.",
            "",
            summary.to_markdown(index=False),
            "",
            "## Spearman ρ and average precision by ensemble size",
            "",
            by_members.to_markdown(index=False, floatfmt=".3f"),
            "",
        ]
    )
    if figures:
        maps_figure(figures, FIGURE)
    if FIGURE.exists():
        body += f"\n![the maps of the first field of the cases last measured]({FIGURE.name})\n"
    print(body)
    print(write_page("trust_map", "Trust map against the true error", body))


if __name__ == "__main__":
    sys.exit(main())
