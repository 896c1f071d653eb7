"""Gaussian widths measured on bead images: sub-resolution beads imaged by each microscope.

`fit_beads` finds isolated beads in one image (2D, or the plane of best focus of a z-stack),
fits each with an isotropic 2D Gaussian plus a constant background and says which fits to
trust; `bead_sigma_nm` takes the robust median sigma of the accepted beads of one modality.

Coordinates follow simulate.py: pixel i's centre is at i in pixel units and at
(i + 0.5) * pixel_nm in nm. A camera (widefield) integrates light over each pixel's area, a
scanning confocal samples the PSF at pixel centres: ``pixel_integrated`` picks the matching
model, so that the sigma is the optical PSF's in both cases (a point-sampled Gaussian fitted to
camera pixels would report sqrt(sigma^2 + pixel^2 / 12), 4 nm too wide at 90 nm pixels).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage, optimize, special
from skimage.feature import peak_local_max

from centriole_sr.io import InputError
from centriole_sr.noise import neighbour_residual
from centriole_sr.simulate import px_to_nm

_MAD_TO_SD = 1.4826  # the MAD of normal data times this is its standard deviation
COLUMNS = [
    "bead",
    "z_plane",
    "y_px",
    "x_px",
    "y_nm",
    "x_nm",
    "sigma_px",
    "sigma_nm",
    "amplitude",
    "background",
    "photons",
    "peak_snr",
    "r2",
    "residual_rms",
    "accepted",
    "reason",
]


def gaussian_spot(
    shape: tuple[int, int],
    amplitude: float,
    y_px: float,
    x_px: float,
    sigma_px: float,
    background: float = 0.0,
    pixel_integrated: bool = False,
) -> np.ndarray:
    """An isotropic Gaussian of peak ``amplitude`` (per unit pixel area) plus a constant.

    Point-sampled: the Gaussian's value at each pixel centre. Pixel-integrated: its integral
    over each pixel's unit square, separable into two differences of error functions.
    """
    y, x = np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float)
    if pixel_integrated:
        scale = math.sqrt(2.0) * sigma_px
        profile_y = np.diff(special.erf((np.append(y - 0.5, y[-1] + 0.5) - y_px) / scale))
        profile_x = np.diff(special.erf((np.append(x - 0.5, x[-1] + 0.5) - x_px) / scale))
        return amplitude * (math.pi / 2) * sigma_px**2 * np.outer(profile_y, profile_x) + background
    profile_y = np.exp(-((y - y_px) ** 2) / (2 * sigma_px**2))
    profile_x = np.exp(-((x - x_px) ** 2) / (2 * sigma_px**2))
    return amplitude * np.outer(profile_y, profile_x) + background


def fit_spot(
    window: np.ndarray, sigma_guess_px: float, pixel_integrated: bool
) -> tuple[np.ndarray, float, float]:
    """Least-squares fit of `gaussian_spot` to a small window around one spot.

    Returns (amplitude, y_px, x_px, sigma_px, background) in window pixels, r^2 and the rms
    residual. The centre starts at the window's centre and may not leave the window; sigma
    is kept within [0.2, 5] x ``sigma_guess_px``.
    """
    window = np.asarray(window, dtype=float)
    height, width = window.shape
    background = float(np.percentile(window, 10))
    start = [
        max(float(window.max()) - background, 1e-12),
        (height - 1) / 2,
        (width - 1) / 2,
        sigma_guess_px,
        background,
    ]
    low = [0.0, -0.5, -0.5, 0.2 * sigma_guess_px, -np.inf]
    high = [np.inf, height - 0.5, width - 0.5, 5.0 * sigma_guess_px, np.inf]

    def residual(params: np.ndarray) -> np.ndarray:
        return (gaussian_spot(window.shape, *params, pixel_integrated) - window).ravel()

    result = optimize.least_squares(residual, start, bounds=(low, high), x_scale="jac")
    sum_squares = float(np.sum(result.fun**2))
    total = float(np.sum((window - window.mean()) ** 2))
    r2 = 1.0 - sum_squares / total if total > 0 else 0.0
    return result.x, r2, math.sqrt(sum_squares / window.size)


def focus_plane(stack: np.ndarray, smooth_px: float = 1.0) -> int:
    """The plane of a (z, y, x) bead stack where the beads' peaks are highest.

    Bead positions are the local maxima of the (smoothed) maximum projection brighter than
    half its top value; the chosen plane has the largest median over beads of the smoothed,
    background-subtracted value at those positions (a median, so that one bright aggregate
    or a hot pixel does not decide).
    """
    smooth = ndimage.gaussian_filter(stack.astype(np.float64), (0, smooth_px, smooth_px))
    smooth -= np.median(smooth, axis=(1, 2), keepdims=True)
    projection = smooth.max(axis=0)
    peaks = peak_local_max(projection, min_distance=2, threshold_rel=0.5)
    if len(peaks) == 0:
        return int(np.argmax(smooth.max(axis=(1, 2))))
    values = smooth[:, peaks[:, 0], peaks[:, 1]]
    return int(np.argmax(np.median(values, axis=1)))


def _mad_outliers(values: np.ndarray, limit: float, floor: float) -> np.ndarray:
    """Values more than ``limit`` robust standard deviations (at least ``floor``) from the
    median."""
    median = np.median(values)
    spread = max(_MAD_TO_SD * np.median(np.abs(values - median)), floor)
    return np.abs(values - median) > limit * spread


def fit_beads(
    image: np.ndarray,
    pixel_nm: float,
    *,
    sigma_guess_nm: float,
    pixel_integrated: bool,
    source: str = "bead image",
    threshold_snr: float = 6.0,
    window_sigmas: float = 3.0,
    neighbour_fraction: float = 0.05,
    saturation: float | None = None,
    min_r2: float = 0.9,
    outlier_mads: float = 4.0,
) -> pd.DataFrame:
    """Find and fit the beads of one image; one row per candidate, with ``accepted`` and why not.

    ``image`` is (y, x), or a (z, y, x) stack of which only `focus_plane` is used (column
    ``z_plane``; 0 for 2D images). ``sigma_guess_nm`` (e.g. the optics' paraxial sigma) sizes
    the fit window (a square of half-width ceil(window_sigmas x sigma) pixels) and starts the
    fit; the fitted sigma is free within [0.2, 5] x the guess. A real PSF is not a Gaussian,
    so its fitted sigma depends a little on the window (the demo's widefield: 84.8 nm over
    +-315 nm, 86.4 nm over +-1.5 um as in `psf.computed_sigmas`). ``pixel_integrated``: True for
    cameras (widefield), False for point-scanning (confocal); see the module docstring.

    Candidates are the local maxima of the image smoothed by a 1-pixel Gaussian that stand
    ``threshold_snr`` x its noise above its median (noise from `noise.neighbour_residual`).
    A candidate is rejected (``reason``) when its window leaves the image ("border"),
    another candidate brighter than ``neighbour_fraction`` x its peak lies within two window
    half-widths ("not isolated"), a window pixel reaches ``saturation`` ("saturated"; by
    default the image maximum when several pixels share it, as in a clipped image), the fit
    explains less than ``min_r2`` of the window's variance or its centre strays over a pixel
    from the peak ("poor fit"), or its sigma lies over ``outlier_mads`` robust standard
    deviations from the median of the others ("sigma outlier").

    Raises InputError naming ``source`` when no candidate is found.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise InputError(f"{source}: a bead image must be 2D (y, x) or a z-stack (z, y, x)")
    plane_index = focus_plane(image) if image.ndim == 3 else 0
    plane = (image[plane_index] if image.ndim == 3 else image).astype(np.float64)
    if saturation is None and np.count_nonzero(plane == plane.max()) > 1:
        saturation = float(plane.max())

    sigma_px = sigma_guess_nm / pixel_nm
    half = max(int(math.ceil(window_sigmas * sigma_px)), 2)
    noise = _MAD_TO_SD * np.median(np.abs(neighbour_residual(plane)))
    noise = max(noise, 1e-9 * float(np.ptp(plane)))  # noise-free synthetic images
    delta = np.zeros((9, 9))
    delta[4, 4] = 1.0
    smoothing_gain = float(np.sqrt(np.sum(ndimage.gaussian_filter(delta, 1.0) ** 2)))
    smooth = ndimage.gaussian_filter(plane, 1.0)
    smooth -= np.median(smooth)
    threshold = threshold_snr * noise * smoothing_gain
    peaks = peak_local_max(smooth, min_distance=1, threshold_abs=threshold, exclude_border=False)
    if len(peaks) == 0:
        raise InputError(
            f"{source}: no bead found ({threshold_snr:g} x noise above the background); check "
            "that the file holds beads in focus, or lower the detection threshold"
        )
    heights = smooth[peaks[:, 0], peaks[:, 1]]

    # Isolation: brighter-than-neighbour_fraction candidates within two window half-widths.
    distance = np.hypot(*(peaks[:, None, :] - peaks[None, :, :]).transpose(2, 0, 1))
    close = (distance <= 2 * half) & ~np.eye(len(peaks), dtype=bool)
    crowded = np.any(close & (heights[None, :] > neighbour_fraction * heights[:, None]), axis=1)

    rows = []
    for index, (y, x) in enumerate(peaks):
        row = {"bead": index, "z_plane": plane_index, "y_px": float(y), "x_px": float(x)}
        row["peak_snr"] = float(heights[index] / (noise * smoothing_gain))
        inside = half <= y < plane.shape[0] - half and half <= x < plane.shape[1] - half
        if not inside:
            rows.append({**row, "reason": "border"})
            continue
        window = plane[y - half : y + half + 1, x - half : x + half + 1]
        (amplitude, wy, wx, sigma, background), r2, rms = fit_spot(
            window, sigma_px, pixel_integrated
        )
        row |= {
            "y_px": float(y - half + wy),
            "x_px": float(x - half + wx),
            "sigma_px": float(sigma),
            "amplitude": float(amplitude),
            "background": float(background),
            "photons": float(2 * math.pi * sigma**2 * amplitude),
            "r2": r2,
            "residual_rms": rms,
        }
        if crowded[index]:
            row["reason"] = "not isolated"
        elif saturation is not None and window.max() >= saturation:
            row["reason"] = "saturated"
        elif r2 < min_r2 or math.hypot(wy - half, wx - half) > 1.0:
            row["reason"] = "poor fit"
        else:
            row["reason"] = ""
        rows.append(row)

    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["y_nm"] = px_to_nm(table["y_px"].to_numpy(float), pixel_nm)
    table["x_nm"] = px_to_nm(table["x_px"].to_numpy(float), pixel_nm)
    table["sigma_nm"] = table["sigma_px"] * pixel_nm
    good = (table["reason"] == "").to_numpy()
    if good.sum() >= 3:
        # A floor of 1 % of sigma keeps noise-free images from rejecting round-off.
        sigmas = table.loc[good, "sigma_nm"].to_numpy(float)
        outliers = _mad_outliers(sigmas, outlier_mads, 0.01 * float(np.median(sigmas)))
        table.loc[np.flatnonzero(good)[outliers], "reason"] = "sigma outlier"
    table["accepted"] = table["reason"] == ""
    return table


def bead_sigma_nm(table: pd.DataFrame, source: str = "beads", min_beads: int = 3) -> dict:
    """Median sigma (nm) over the accepted beads of one or more `fit_beads` tables, with its
    spread (``sigma_mad_nm``: 1.4826 x the MAD, a robust standard deviation) and count.

    Raises InputError naming ``source`` with fewer than ``min_beads`` accepted beads.
    """
    accepted = table.loc[table["accepted"].astype(bool), "sigma_nm"].to_numpy(float)
    if len(accepted) < min_beads:
        reasons = table.loc[~table["accepted"].astype(bool), "reason"].value_counts().to_dict()
        why = ", ".join(f"{count} {reason}" for reason, count in reasons.items()) or "none"
        raise InputError(
            f"{source}: {len(accepted)} accepted bead(s) of {len(table)} found, at least "
            f"{min_beads} needed (rejected: {why}); image more isolated, unsaturated beads"
        )
    median = float(np.median(accepted))
    return {
        "sigma_nm": median,
        "sigma_mad_nm": float(_MAD_TO_SD * np.median(np.abs(accepted - median))),
        "count": len(accepted),
    }
