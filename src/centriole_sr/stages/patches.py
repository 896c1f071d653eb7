"""Fixed-size crops around the picks of one field."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from centriole_sr import io
from centriole_sr import patches as crops
from centriole_sr.logs import logging_to
from centriole_sr.settings import Reading

PathLike = str | os.PathLike


def extract_patches(
    *,
    image: PathLike,
    picks: PathLike,
    size_px: int,
    border: str,
    pixel_nm: float,
    reading: Reading,
    output: PathLike,
    log: PathLike | None = None,
) -> None:
    """Crop ``size_px`` patches around the picks of one field; save them with their centres
    and the field's percentiles 1 and 99.8 (``field_low``, ``field_high``), with which they
    are normalised as the whole field is."""
    with logging_to(log) as logger:
        field, _ = io.read_field(image, pixel_nm, **vars(reading))
        table = io.read_table(picks) if Path(picks).stat().st_size else pd.DataFrame()
        centres = table[["y_px", "x_px"]].to_numpy() if len(table) else np.zeros((0, 2))
        found, kept = crops.extract_patches(field, centres, size_px, border)  # type: ignore[arg-type]
        if len(found) == 0:
            logger.warning("%s: no patches (no picks inside the field)", image)
        logger.info("%d of %d picks gave %d-pixel patches", len(found), len(centres), size_px)
        low, high = io.percentile_bounds(field)
        crops.save_patches(
            output, patches=found, centres_yx_px=kept, pixel_nm=np.float64(pixel_nm),
            field_low=np.float64(low), field_high=np.float64(high),
        )  # fmt: skip
