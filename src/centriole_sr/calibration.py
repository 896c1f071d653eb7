"""Calibrate the degradation on the user's widefield fields.

The haze (amount and width) and the blur that the widefield adds cannot be known from the
optics alone: how much out-of-focus light a field carries depends on the sample. They are
fitted so that confocal fields, degraded and normalised as restoration normalises a whole
widefield field, look like the real widefield fields in what the network sees: the mean
radial profile around picked centrioles and the distribution of the field's intensities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from centriole_sr.degrade import Degradation, add_noise, block_mean
from centriole_sr.io import normalize_percentile

FIELD_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
HAZE_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
HAZE_WIDTH_FACTORS = (0.5, 1.0, 2.0)  # times the starting haze width
SIGMA_FACTORS = (0.85, 1.0, 1.15)  # times the starting blur
MIN_PICKS = 5  # per modality, fewer give no reliable mean profile


def centre_windows(image: np.ndarray, centres_yx_px: np.ndarray, radius_px: int) -> np.ndarray:
    """Square windows (n, 2r+1, 2r+1) around centres, each first moved to the brightest pixel
    of the lightly smoothed image within 2 pixels (picks are a pixel or two off); centres
    closer than ``radius_px`` + 2 to the border are skipped."""
    smooth = ndimage.gaussian_filter(image.astype(np.float64), 1.0)
    reach, side, windows = radius_px + 2, 2 * radius_px + 1, []
    for y, x in np.rint(np.asarray(centres_yx_px, float).reshape(-1, 2)).astype(int):
        if not (reach <= y < image.shape[0] - reach and reach <= x < image.shape[1] - reach):
            continue
        local = smooth[y - 2 : y + 3, x - 2 : x + 3]
        dy, dx = np.unravel_index(np.argmax(local), local.shape)
        top, left = y + dy - 2 - radius_px, x + dx - 2 - radius_px
        windows.append(image[top : top + side, left : left + side])
    return np.asarray(windows, np.float32).reshape(-1, side, side)


def radial_mean(window: np.ndarray) -> np.ndarray:
    """Mean of a square (2r+1)-pixel window at whole-pixel radii 0 .. r from its centre."""
    radius_px = window.shape[0] // 2
    yy, xx = np.indices(window.shape) - radius_px
    radius = np.rint(np.hypot(yy, xx)).astype(int)
    inside = radius <= radius_px
    sums = np.bincount(radius[inside], window[inside], minlength=radius_px + 1)
    return sums / np.bincount(radius[inside], minlength=radius_px + 1)


@dataclass(frozen=True)
class Features:
    """What a set of normalised fields shows: the mean radial profile around its centres,
    the field percentiles :data:`FIELD_PERCENTILES` (mean over fields) and the windows."""

    profile: np.ndarray
    percentiles: np.ndarray
    windows: np.ndarray

    @classmethod
    def of(cls, fields: Sequence[tuple[np.ndarray, np.ndarray]], radius_px: int) -> Features:
        """Features of (normalised field, centres) pairs."""
        windows = np.concatenate([centre_windows(f, c, radius_px) for f, c in fields])
        percentiles = np.mean([np.percentile(f, FIELD_PERCENTILES) for f, _ in fields], axis=0)
        profile = radial_mean(windows.mean(axis=0)) if len(windows) else np.nan
        return cls(np.broadcast_to(profile, (radius_px + 1,)), percentiles, windows)

    def mismatch(self, other: Features) -> float:
        """Mean squared difference of the profiles plus that of the percentiles."""
        return float(
            np.mean((self.profile - other.profile) ** 2)
            + np.mean((self.percentiles - other.percentiles) ** 2)
        )


@dataclass(frozen=True)
class Calibration:
    """The fitted degradation and how well degraded confocal fields match the widefield.

    cost: :meth:`Features.mismatch` of degraded confocal and real widefield after the fit;
    cost_before at the starting degradation. ``widefield``, ``before`` and ``after`` are the
    features (profiles on ``radius_nm``); spectral gaps are :func:`quality.domain_gap`'s of
    the windows around centres. ``at_edge`` names the values fitted at the top of their
    range: the widefield may want more than the fit could give.
    """

    degradation: Degradation
    start: Degradation
    cost: float
    cost_before: float
    radius_nm: np.ndarray
    widefield: Features
    before: Features
    after: Features
    spectral_gap_before_db: float
    spectral_gap_after_db: float
    at_edge: tuple[str, ...] = ()


def calibrate_degradation(
    confocal: Sequence[tuple[np.ndarray, np.ndarray]],
    widefield: Sequence[tuple[np.ndarray, np.ndarray]],
    start: Degradation,
    widefield_pixel_nm: float,
    radius_nm: float = 1500.0,
    haze_fractions: Sequence[float] = HAZE_FRACTIONS,
    haze_width_factors: Sequence[float] = HAZE_WIDTH_FACTORS,
    sigma_factors: Sequence[float] = SIGMA_FACTORS,
    seed: int = 0,
) -> Calibration:
    """Fit the haze fraction, the haze width and the blur of ``start`` on real widefield fields.

    ``confocal``: (field normalised with :func:`normalize_percentile`, pick centres in
    confocal pixels); ``widefield``: (raw field, pick centres in widefield pixels). Every
    combination of ``haze_fractions``, ``haze_width_factors`` x start's haze width and
    ``sigma_factors`` x start's blur is tried (a grid: the mismatch has plateaus and noise);
    each degraded field gets the same noise, drawn with ``seed``, so that candidates differ
    by their optics only. Start's noise stays. Raises ValueError when either modality has no
    centre far enough inside its fields.
    """
    from centriole_sr.quality import domain_gap

    scale = start.scale
    radius_px = max(int(round(radius_nm / widefield_pixel_nm)), 2)
    real = Features.of([(normalize_percentile(f), c) for f, c in widefield], radius_px)
    if len(real.windows) == 0:
        raise ValueError("no widefield pick lies far enough inside its field to calibrate on")
    coarse_centres = [(centres + 0.5) / scale - 0.5 for _, centres in confocal]
    cache: dict[float, list[np.ndarray]] = {}

    def blurred(sigma_px: float) -> list[np.ndarray]:
        if sigma_px not in cache:
            cache[sigma_px] = [
                ndimage.gaussian_filter(np.clip(t, 0, None).astype(np.float64), sigma_px)
                for t, _ in confocal
            ]
        return cache[sigma_px]

    def features(params: Degradation) -> Features:
        rng = np.random.default_rng(seed)
        degraded = []
        sharp, haze = blurred(params.sigma_px), blurred(params.haze_sigma_px)
        for k, centres in enumerate(coarse_centres):
            signal = block_mean(sharp[k] + params.haze_fraction * haze[k], scale)
            noisy = add_noise(signal * params.peak_photons, params, rng)
            degraded.append((normalize_percentile(noisy), centres))
        return Features.of(degraded, radius_px)

    before = features(start)
    if len(before.windows) == 0:
        raise ValueError("no confocal pick lies far enough inside its field to calibrate on")
    best, best_cost = start, before.mismatch(real)
    for sigma_factor in sigma_factors:
        for width_factor in haze_width_factors:
            for fraction in haze_fractions:
                candidate = dataclasses.replace(
                    start,
                    sigma_px=start.sigma_px * sigma_factor,
                    haze_sigma_px=start.haze_sigma_px * width_factor,
                    haze_fraction=float(fraction),
                )
                cost = features(candidate).mismatch(real)
                if cost < best_cost:
                    best, best_cost = candidate, cost
    after = features(best)
    tried = {
        "haze_fraction": (best.haze_fraction, haze_fractions),
        "haze_sigma": (best.haze_sigma_px / start.haze_sigma_px, haze_width_factors),
        "sigma": (best.sigma_px / start.sigma_px, sigma_factors),
    }
    at_edge = tuple(
        name for name, (value, grid) in tried.items()
        if len(grid) > 1 and np.isclose(value, max(grid))
    )  # fmt: skip
    return Calibration(
        at_edge=at_edge,
        degradation=best,
        start=start,
        cost=best_cost,
        cost_before=before.mismatch(real),
        radius_nm=np.arange(radius_px + 1) * widefield_pixel_nm,
        widefield=real,
        before=before,
        after=after,
        spectral_gap_before_db=domain_gap(before.windows, real.windows)["spectral_gap_db"],
        spectral_gap_after_db=domain_gap(after.windows, real.windows)["spectral_gap_db"],
    )
