"""Image-quality metrics computed as microscopists expect (CARE's evaluation).

The target is percentile-normalised, the prediction is mapped onto it by the
least-squares affine fit, then scikit-image's PSNR, SSIM and NRMSE are computed
with a data range of 1.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from centriole_sr.io import normalize_percentile


def affine_fit(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return ``a * prediction + b`` with (a, b) minimising the squared error to ``target``."""
    x = prediction.astype(np.float64).ravel()
    y = target.astype(np.float64).ravel()
    x_centred = x - x.mean()
    variance = float(np.dot(x_centred, x_centred))
    slope = float(np.dot(x_centred, y - y.mean())) / variance if variance > 0 else 0.0
    offset = y.mean() - slope * x.mean()
    return (slope * prediction.astype(np.float64) + offset).astype(np.float32)


def _comparable(prediction: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(affine-fitted prediction, percentile-normalised target), as every metric compares them."""
    if prediction.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {prediction.shape}, target {target.shape}")
    target_norm = normalize_percentile(target, 0.1, 99.9)
    return affine_fit(prediction, target_norm), target_norm


def compare(
    prediction: np.ndarray, target: np.ndarray
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """PSNR (dB), SSIM and NRMSE of ``prediction`` against ``target``, and the error and SSIM
    maps behind them: (metrics, error map, SSIM map), from one SSIM computation.

    The error is the affine-fitted prediction minus the normalised target (1 = the target's
    0.1-99.9 percentile range); the SSIM map is scikit-image's local SSIM.
    """
    fitted, target_norm = _comparable(prediction, target)
    ssim, ssim_map = structural_similarity(target_norm, fitted, data_range=1.0, full=True)
    metrics = {
        "psnr_db": float(peak_signal_noise_ratio(target_norm, fitted, data_range=1.0)),
        "ssim": float(ssim),
        "nrmse": float(normalized_root_mse(target_norm, fitted)),
    }
    return metrics, (fitted - target_norm).astype(np.float32), ssim_map.astype(np.float32)


def restoration_metrics(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR (dB), SSIM and NRMSE of ``prediction`` against ``target`` (same shape)."""
    return compare(prediction, target)[0]


def centre_discs(shape: tuple[int, int], centres_yx_px: np.ndarray, radius_px: float) -> np.ndarray:
    """Boolean mask of the pixels within ``radius_px`` of any (y, x) centre."""
    mask = np.zeros(shape, bool)
    reach = int(np.ceil(radius_px))
    offsets = np.arange(-reach, reach + 1)
    disc = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius_px**2
    for y, x in np.rint(np.asarray(centres_yx_px, float).reshape(-1, 2)).astype(int):
        top, left = y - reach, x - reach
        rows = slice(max(top, 0), min(top + len(offsets), shape[0]))
        cols = slice(max(left, 0), min(left + len(offsets), shape[1]))
        if rows.start < rows.stop and cols.start < cols.stop:
            mask[rows, cols] |= disc[rows.start - top : rows.stop - top,
                                     cols.start - left : cols.stop - left]  # fmt: skip
    return mask


def region_metrics(
    error_map: np.ndarray, ssim_map: np.ndarray, centrioles: np.ndarray
) -> dict[str, float]:
    """PSNR (dB) and mean SSIM over the ``centrioles`` mask and over the rest (background),
    from :func:`compare`'s maps: the same fit to the target as the whole-field figures."""
    scores = {}
    for name, region in (("centrioles", centrioles), ("background", ~centrioles)):
        if not region.any():
            scores |= {f"psnr_{name}_db": np.nan, f"ssim_{name}": np.nan}
            continue
        mse = max(float(np.mean(error_map[region].astype(np.float64) ** 2)), 1e-12)
        scores |= {f"psnr_{name}_db": -10 * np.log10(mse),
                   f"ssim_{name}": float(ssim_map[region].mean())}  # fmt: skip
    return scores
