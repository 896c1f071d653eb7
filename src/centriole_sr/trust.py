"""How far a restoration can be trusted without ground truth: the disagreement of the network
with itself under the symmetries of the image (test-time augmentation).

A widefield image rotated or mirrored is as plausible as the original, and the network was
trained on crops flipped and rotated alike, so each transformed input, restored and
transformed back, is another estimate of the same confocal image. Where the estimates agree
the network is on ground it learnt; where they differ it is guessing, and its error there
is large (measured: benchmarks/trust_map.py). Their mean is the ensemble's restoration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from centriole_sr.io import percentile_bounds

Transform = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]

DIHEDRAL: tuple[tuple[str, Transform], ...] = (
    ("identity", (lambda a: a, lambda a: a)),
    ("transpose", (lambda a: a.T, lambda a: a.T)),
    ("rotate 180", (lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 2))),
    ("anti-transpose", (lambda a: np.rot90(a, 2).T, lambda a: np.rot90(a, 2).T)),
    ("flip y", (lambda a: a[::-1], lambda a: a[::-1])),
    ("flip x", (lambda a: a[:, ::-1], lambda a: a[:, ::-1])),
    ("rotate 90", (lambda a: np.rot90(a, 1), lambda a: np.rot90(a, -1))),
    ("rotate 270", (lambda a: np.rot90(a, -1), lambda a: np.rot90(a, 1))),
)
"""The 8 symmetries of the square grid as (forward, inverse) on (y, x) arrays, in the order
ensemble members use them: the first ones change the image most (axes swapped, both flipped)."""
MAX_MEMBERS = len(DIHEDRAL)
SMOOTHING_PX = 1.0
"""The spread is averaged over about a confocal PSF (Gaussian sigma, confocal pixels)."""


def augmented_restorations(
    restore: Callable[[np.ndarray], np.ndarray], image: np.ndarray, members: int
) -> np.ndarray:
    """``restore`` applied to ``members`` symmetric copies of ``image`` (:data:`DIHEDRAL`),
    each result transformed back: (members, y, x) estimates of the same restoration."""
    if not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"ensemble members must be 1-{MAX_MEMBERS}, got {members}")
    estimates = [
        np.ascontiguousarray(inverse(restore(np.ascontiguousarray(forward(image)))))
        for _, (forward, inverse) in DIHEDRAL[:members]
    ]
    return np.stack(estimates).astype(np.float32)


def spread_map(estimates: np.ndarray, smoothing_px: float = SMOOTHING_PX) -> np.ndarray:
    """Standard deviation over the estimates (n, y, x) per pixel, in the estimates' units,
    averaged over a Gaussian of ``smoothing_px``: the trust map (large = not trusted).
    Zero for a single estimate."""
    if len(estimates) < 2:
        return np.zeros(estimates.shape[1:], np.float32)
    spread = np.std(estimates.astype(np.float64), axis=0, ddof=1)
    return ndimage.gaussian_filter(spread, smoothing_px).astype(np.float32)


def relative(trust_map: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """The trust map as a fraction of its restoration's 1-99.8 percentile range: the same
    figure whatever the restoration's intensity scale (``restoration.output_dtype``)."""
    low, high = percentile_bounds(restored)
    return (np.asarray(trust_map, np.float32) / max(float(high - low), 1e-12)).astype(np.float32)
