"""Classical baselines on the network's inputs: bicubic upsampling, Richardson–Lucy, Wiener.

They take the same normalised widefield images as the network and return images at
the confocal pixel size, normalised with :func:`centriole_sr.io.normalize_percentile`.
The Gaussian PSF is the degradation's blur (``scipy.ndimage.gaussian_filter``
applied to a point), so the deconvolution inverts exactly the simulated blur.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.restoration import richardson_lucy, wiener
from skimage.transform import rescale

from centriole_sr.io import normalize_percentile
from centriole_sr.metrics import restoration_metrics

WIENER_BALANCE = 0.1
"""Noise-to-signal balance of the Wiener baseline (images normalised to [0, 1])."""


def bicubic_upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Cubic-spline upsampling by ``scale``; output pixel centres map exactly onto the input.

    Pixel i covers [i, i+1) input pixels, so output pixel j samples input position
    (j + 0.5) / scale - 0.5 (no half-pixel shift).
    """
    upsampled = rescale(
        image.astype(np.float32), scale, order=3, mode="reflect", anti_aliasing=False
    )
    return upsampled.astype(np.float32)


def gaussian_psf(sigma_px: float) -> np.ndarray:
    """Gaussian kernel (sum 1, odd size) identical to ``ndimage.gaussian_filter``'s blur."""
    radius_px = max(int(4.0 * sigma_px + 0.5), 1)
    point = np.zeros((2 * radius_px + 1,) * 2)
    point[radius_px, radius_px] = 1.0
    return ndimage.gaussian_filter(point, sigma_px, mode="constant")


def _deconvolve_padded(image: np.ndarray, sigma_px: float, method) -> np.ndarray:
    """Run ``method(padded, psf)`` on the mirrored, non-negative image; crop and normalise."""
    psf = gaussian_psf(sigma_px)
    pad_px = psf.shape[0]
    padded = np.pad(np.clip(image.astype(np.float64), 0.0, None), pad_px, mode="reflect")
    restored = method(padded, psf)[pad_px:-pad_px, pad_px:-pad_px]
    return normalize_percentile(restored.astype(np.float32))


def richardson_lucy_gaussian(
    image_upsampled: np.ndarray, sigma_px: float, iterations: int
) -> np.ndarray:
    """Richardson–Lucy deconvolution with a Gaussian PSF of ``sigma_px`` (confocal pixels).

    Negative values (below the normalisation's low percentile) are clipped to 0 first.
    """
    return _deconvolve_padded(
        image_upsampled,
        sigma_px,
        lambda padded, psf: richardson_lucy(padded, psf, num_iter=iterations, clip=False),
    )


def wiener_gaussian(image_upsampled: np.ndarray, sigma_px: float, balance: float) -> np.ndarray:
    """Wiener deconvolution with a Gaussian PSF; ``balance`` trades sharpness for noise."""
    return _deconvolve_padded(
        image_upsampled,
        sigma_px,
        lambda padded, psf: wiener(padded, psf, balance, clip=False),
    )


def best_rl_iterations(
    inputs_upsampled: np.ndarray,
    targets: np.ndarray,
    sigma_px: float,
    candidates: Sequence[int] = (1, 2, 3, 5, 10, 20, 30, 50),
) -> int:
    """The iteration count with the best mean PSNR (centriole_sr.metrics) on these pairs."""
    if len(inputs_upsampled) == 0 or len(candidates) == 0:
        raise ValueError("need at least one pair and one candidate iteration count")
    scores = [
        np.mean(
            [
                restoration_metrics(richardson_lucy_gaussian(x, sigma_px, n), y)["psnr_db"]
                for x, y in zip(inputs_upsampled, targets, strict=True)
            ]
        )
        for n in candidates
    ]
    return int(candidates[int(np.argmax(scores))])


def classical_restorations(
    upsampled: np.ndarray, sigma_px: float, rl_iterations: int
) -> dict[str, np.ndarray]:
    """The baselines of a bicubic-upsampled, normalised widefield image: bicubic itself,
    Richardson–Lucy (``rl_iterations``) and Wiener (``WIENER_BALANCE``)."""
    return {
        "bicubic": upsampled,
        "richardson_lucy": richardson_lucy_gaussian(upsampled, sigma_px, rl_iterations),
        "wiener": wiener_gaussian(upsampled, sigma_px, WIENER_BALANCE),
    }
