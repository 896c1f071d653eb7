"""Scores of restorations: a whole widefield field with and without a reference, and the
summary over fields and held-out pairs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from centriole_sr import grid
from centriole_sr.degrade import Degradation
from centriole_sr.metrics import centre_discs, compare, region_metrics
from centriole_sr.quality import (
    Consistency,
    data_consistency,
    decorrelation_resolution_nm,
    noise_sd,
)

RESTORATIONS = ("bicubic", "richardson_lucy", "wiener", "network")
"""Images made from the widefield field, whose consistency with it is checked."""
FIELD_COLUMNS = [
    "field",
    "method",
    "psnr_db",
    "ssim",
    "nrmse",
    "psnr_centrioles_db",
    "ssim_centrioles",
    "psnr_background_db",
    "ssim_background",
    "resolution_nm",
    "consistency_rse",
    "consistency_rsp",
    "invented_area_fraction",
    "invented_regions",
    "trust_spread",
    "trust_spread_centrioles",
]
"""Columns of results/evaluation/fields/<field>.csv, in order (docs/outputs.md)."""
SUMMARY_METRICS = FIELD_COLUMNS[2:]
HELDOUT_DATASETS = {
    "confocal": "held-out degraded pairs",
    "noise-free confocal": "held-out degraded pairs, noise-free target",
}
"""The summary's data set name of each target of the held-out table."""


@dataclass
class FieldScores:
    """One field's table (:data:`FIELD_COLUMNS`), the consistency check of each restoration
    (and of the reference, where there is one) and, with a reference, each image's error and
    SSIM maps."""

    table: pd.DataFrame
    consistency: dict[str, Consistency]
    errors: dict[str, tuple[np.ndarray, np.ndarray]]


def to_working_grid(
    image: np.ndarray,
    widefield_shape: tuple[int, ...],
    scale: int,
    widefield_pixel_nm: float,
    confocal_pixel_nm: float,
) -> np.ndarray:
    """An image on the confocal grid resampled onto the working grid (widefield / ``scale``),
    where the degradation applies, covering a widefield image of ``widefield_shape``."""
    working_nm = widefield_pixel_nm / scale
    if math.isclose(working_nm, confocal_pixel_nm):
        return image
    shape = tuple(n * scale for n in widefield_shape)
    return grid.resample(image, confocal_pixel_nm, working_nm, shape)


def score_field(
    field: str,
    widefield: np.ndarray,
    images: Mapping[str, np.ndarray],
    degradation: Degradation,
    widefield_pixel_nm: float,
    confocal_pixel_nm: float,
    consistency_threshold_sigma: float,
    reference: np.ndarray | None = None,
    centres_yx_px: np.ndarray | None = None,
    region_radius_px: float = 0.0,
    trust_map: np.ndarray | None = None,
) -> FieldScores:
    """Score the images made of one widefield field (restorations, and any confocal image),
    all on the confocal grid.

    Every image gets a decorrelation resolution at the widefield's noise level; each of
    :data:`RESTORATIONS` a data-consistency check against ``widefield``; with a ``reference``,
    PSNR, SSIM and NRMSE against it too, over the whole field and, with ``centres_yx_px``
    (confocal pixels), over discs of ``region_radius_px`` around them (centrioles) and the
    rest (background). The network's ``trust_map`` (:mod:`centriole_sr.trust`) gives its
    mean over the field and over the centriole discs.
    """
    # The widefield's noise, per confocal pixel (a pixel ratio**2 times smaller collects
    # ratio**2 times fewer photons), is every image's floor for decorrelation analysis.
    floor_sd = noise_sd(widefield) * widefield_pixel_nm / confocal_pixel_nm

    def on_working_grid(image: np.ndarray) -> np.ndarray:
        return to_working_grid(image, widefield.shape, degradation.scale,
                               widefield_pixel_nm, confocal_pixel_nm)  # fmt: skip

    rows: list[dict[str, Any]] = [
        {
            "field": field,
            "method": "widefield_input",
            "resolution_nm": decorrelation_resolution_nm(widefield, widefield_pixel_nm),
        }
    ]
    consistency, errors = {}, {}
    centrioles = None
    if centres_yx_px is not None and len(centres_yx_px):
        shape = reference.shape if reference is not None else images["network"].shape
        centrioles = centre_discs(shape, centres_yx_px, region_radius_px)
    for method, image in images.items():
        row: dict[str, Any] = {
            "field": field,
            "method": method,
            "resolution_nm": decorrelation_resolution_nm(image, confocal_pixel_nm, floor_sd),
        }
        if method in RESTORATIONS:
            check = data_consistency(
                on_working_grid(image), widefield, degradation,
                threshold_sigma=consistency_threshold_sigma,
            )  # fmt: skip
            consistency[method] = check
            row.update(
                consistency_rse=check.rse,
                consistency_rsp=check.rsp,
                invented_area_fraction=check.invented_area_fraction,
                invented_regions=check.invented_regions,
            )
        if method == "network" and trust_map is not None:
            trust_map = trust_map[: image.shape[0], : image.shape[1]]
            row["trust_spread"] = float(trust_map.mean())
            if centrioles is not None:
                row["trust_spread_centrioles"] = float(trust_map[centrioles].mean())
        if reference is not None:
            metrics, error_map, ssim_map = compare(image, reference)
            row.update(metrics)
            if centrioles is not None:
                row.update(region_metrics(error_map, ssim_map, centrioles))
            errors[method] = (error_map, ssim_map)
        rows.append(row)
    if reference is not None:
        # what the check makes of the truth: how far the degradation model is from the data
        consistency["reference"] = data_consistency(
            on_working_grid(reference), widefield, degradation,
            threshold_sigma=consistency_threshold_sigma,
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=FIELD_COLUMNS).astype({"invented_regions": "Int64"})
    return FieldScores(table, consistency, errors)


def summary_table(fields: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count of every metric per data set and method, over the
    field tables and the held-out pairs' table."""
    parts = [
        heldout[heldout["target"] == target].assign(dataset=dataset)
        for target, dataset in HELDOUT_DATASETS.items()
    ]
    parts.append(fields.assign(dataset="widefield fields"))
    combined = pd.concat(parts, ignore_index=True).reindex(
        columns=["dataset", "method", *SUMMARY_METRICS]
    )
    summary = (
        combined.groupby(["dataset", "method"], sort=False)[SUMMARY_METRICS]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    summary.columns = [
        "_".join(c for c in column if c) if isinstance(column, tuple) else column
        for column in summary.columns
    ]
    return summary
