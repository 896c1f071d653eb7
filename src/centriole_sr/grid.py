"""Pixel grids of any size ratio: the confocal grid, the widefield grid and the working grid.

Pixel i of a grid of pitch p covers [i p, (i + 1) p) of the sample, so its centre lies at
(i + 0.5) p, on every grid from the same origin. The network upsamples the widefield by a
whole ``scale`` k = ceil(widefield_pixel_nm / confocal_pixel_nm): its output lies on the
*working grid* of pitch widefield_pixel_nm / k. For a whole-number ratio that is the
confocal grid itself and nothing is resampled; otherwise confocal images are resampled onto
the working grid where they meet the degradation and training, and restorations back onto
the confocal grid where they leave the network.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

RATIO_TOLERANCE = 1e-6
"""Pixel-size ratios this close to a whole number are that number."""


def working_scale(pixel_ratio: float) -> int:
    """The network's whole upsampling factor for widefield / confocal pixel size ``pixel_ratio``
    (>= 1): the smallest whole number not below it."""
    if pixel_ratio < 1 - RATIO_TOLERANCE:
        raise ValueError(f"the pixel-size ratio must be >= 1, got {pixel_ratio:g}")
    return max(1, math.ceil(pixel_ratio - RATIO_TOLERANCE))


def is_whole(pixel_ratio: float) -> bool:
    """Whether the ratio is a whole number (working grid = confocal grid)."""
    return abs(pixel_ratio - round(pixel_ratio)) <= RATIO_TOLERANCE


def resampled_length(length_px: int, from_pixel_nm: float, to_pixel_nm: float) -> int:
    """Pixels of the new grid whose whole extent lies within ``length_px`` old pixels."""
    return max(1, math.floor(length_px * from_pixel_nm / to_pixel_nm + RATIO_TOLERANCE))


def to_grid_px(coords_px: np.ndarray, from_pixel_nm: float, to_pixel_nm: float) -> np.ndarray:
    """Pixel coordinates (any shape) on a grid of ``from_pixel_nm`` as coordinates on a grid of
    ``to_pixel_nm`` with the same origin (pixel centres at (i + 0.5) p); the same grid returns
    them as they are."""
    if from_pixel_nm == to_pixel_nm:
        return coords_px
    coords = np.asarray(coords_px, np.float64)
    return (coords + 0.5) * (from_pixel_nm / to_pixel_nm) - 0.5


def resample(
    image: np.ndarray,
    from_pixel_nm: float,
    to_pixel_nm: float,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """A (y, x) image on a grid of ``to_pixel_nm``: cubic-spline values at the new pixel
    centres (edges reflected). ``shape``: the new grid's, by default every pixel whose extent
    lies within the image (:func:`resampled_length`). The same grid and shape return the image
    as it is (not copied, not cast)."""
    if shape is None:
        shape = tuple(resampled_length(n, from_pixel_nm, to_pixel_nm) for n in image.shape)
    if from_pixel_nm == to_pixel_nm and tuple(shape) == image.shape:
        return image
    image = np.asarray(image, np.float32)
    rows = to_grid_px(np.arange(shape[0]), to_pixel_nm, from_pixel_nm)
    columns = to_grid_px(np.arange(shape[1]), to_pixel_nm, from_pixel_nm)
    coordinates = np.meshgrid(rows, columns, indexing="ij")
    resampled = ndimage.map_coordinates(image, coordinates, order=3, mode="mirror")
    return resampled.astype(np.float32)


def area_mean(image: np.ndarray, pixel_ratio: float) -> np.ndarray:
    """Integrate a fine (y, x) image over coarse pixels ``pixel_ratio`` fine pixels wide (any
    ratio >= 1): coarse pixel i averages fine pixels [i r, (i + 1) r), partly covered ones by
    the fraction covered, as a camera pixel integrates the light falling on it. Coarse pixels
    that would leave the image are dropped. Equals a block mean for a whole-number ratio."""
    image = np.asarray(image, np.float64)
    weights = [_overlaps(n, pixel_ratio) for n in image.shape]
    return (weights[0] @ image @ weights[1].T).astype(np.float32)


def _overlaps(fine_px: int, pixel_ratio: float) -> np.ndarray:
    """(coarse, fine) weights: the fraction of fine pixel j inside coarse pixel i, over r."""
    coarse_px = math.floor(fine_px / pixel_ratio + RATIO_TOLERANCE)
    starts = np.arange(coarse_px)[:, None] * pixel_ratio
    fine = np.arange(fine_px)[None, :]
    covered = np.minimum(starts + pixel_ratio, fine + 1) - np.maximum(starts, fine)
    return np.clip(covered, 0.0, None) / pixel_ratio
