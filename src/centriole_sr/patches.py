"""Fixed-size crops around picked centres, aware of field borders."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from centriole_sr.io import atomic_path

BorderMode = Literal["drop", "pad"]


def patch_origin_px(centre_px: float, size_px: int) -> int:
    """Index of the first pixel of a ``size_px`` crop whose centre is nearest ``centre_px``."""
    return int(np.floor(centre_px + 0.5)) - size_px // 2


def extract_patches(
    image: np.ndarray,
    centres_yx_px: np.ndarray,
    size_px: int,
    border: BorderMode = "drop",
) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``size_px`` squares around (y, x) centres of a 2D image.

    With ``border="drop"`` crops that would leave the field are skipped; with
    ``"pad"`` the image is mirrored at its borders. Returns the crops
    (n, size_px, size_px) float32 and the (y, x) centres that were kept.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {image.shape}")
    centres = np.asarray(centres_yx_px, dtype=np.float64).reshape(-1, 2)
    height, width = image.shape
    if border == "pad":
        pad = size_px
        source = np.pad(image, pad, mode="reflect")
    else:
        pad = 0
        source = image
    crops, kept = [], []
    for y_px, x_px in centres:
        top, left = patch_origin_px(y_px, size_px), patch_origin_px(x_px, size_px)
        inside = 0 <= top and 0 <= left and top + size_px <= height and left + size_px <= width
        if border == "drop" and not inside:
            continue
        if border == "pad" and not (-pad <= top < height and -pad <= left < width):
            continue
        crop = source[top + pad : top + pad + size_px, left + pad : left + pad + size_px]
        crops.append(crop)
        kept.append((y_px, x_px))
    if not crops:
        return np.zeros((0, size_px, size_px), np.float32), np.zeros((0, 2))
    return np.stack(crops).astype(np.float32), np.asarray(kept)


def save_patches(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save named arrays to a compressed NPZ, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_patches(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load the arrays saved by :func:`save_patches`."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def load_pairs(paths: Sequence[str | os.PathLike]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the degraded pairs of several fields: (inputs, targets, field of each pair)."""
    inputs, targets, fields = [], [], []
    for path in paths:
        pairs = load_patches(path)
        inputs.append(pairs["inputs"])
        targets.append(pairs["targets"])
        fields += [Path(path).stem] * len(pairs["inputs"])
    return np.concatenate(inputs), np.concatenate(targets), np.asarray(fields)
