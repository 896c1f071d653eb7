"""Tiled restoration of whole widefield fields and of the widefield patches around picks."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from centriole_sr import io
from centriole_sr.logs import logging_to, progress_logger
from centriole_sr.patches import load_patches
from centriole_sr.settings import Reading, Restoration

PathLike = str | os.PathLike


def restore_field(
    *,
    image: PathLike,
    weights: PathLike,
    card: PathLike,
    pixel_nm: float,
    settings: Restoration,
    reading: Reading,
    threads: int,
    restored: PathLike,
    trust: PathLike,
    log: PathLike | None = None,
) -> None:
    """Restore one whole widefield field as the mean of an ensemble of ``settings.ensemble``
    rotated and mirrored copies; write it and its trust map (the ensemble's spread) as
    OME-TIFFs at the confocal pixel size (:meth:`centriole_sr.api.Restorer.restore_file`,
    as ``centriole-sr restore`` does).

    The TIFFs hold float32 on the normalised scale, or with ``output_dtype: input`` the
    input's pixel type on its intensity scale (see :func:`io.denormalize_percentile`).
    """
    import torch

    from centriole_sr.restore import Restorer

    torch.set_num_threads(threads)
    with logging_to(log) as logger:
        restorer = Restorer.from_files(
            weights, card, device=settings.device, tile_px=settings.tile_px,
            batch_size=settings.batch_size,
        )  # fmt: skip
        logger.info("%s on %s, %d threads, ensemble of %d", image, restorer.device, threads,
                    settings.ensemble)  # fmt: skip
        start = time.perf_counter()
        result = restorer.restore_file(
            image, restored, pixel_nm=pixel_nm, reading=reading,
            output_dtype=settings.output_dtype, trust_output=trust, members=settings.ensemble,
            progress=progress_logger("tiles"),
        )  # fmt: skip
        seconds = time.perf_counter() - start
        megapixels = result.size / restorer.pixel_ratio**2 / 1e6
        logger.info(
            "%s %s in %.1f s (%.2f s per input megapixel, %.2f per ensemble member)",
            result.shape, result.dtype, seconds, seconds / megapixels,
            seconds / megapixels / settings.ensemble,
        )  # fmt: skip


def restore_patches(
    *,
    patches: PathLike,
    weights: PathLike,
    card: PathLike,
    restored: PathLike,
    log: PathLike | None = None,
) -> None:
    """Restore the widefield patches around the picks of one field; write a TIFF stack."""
    from centriole_sr.restore import Restorer

    with logging_to(log) as logger:
        data = load_patches(patches)
        restorer = Restorer.from_files(weights, card, device="cpu")
        size = math.floor(data["patches"].shape[-1] * restorer.pixel_ratio + 1e-6)
        stack = [restorer.restore(patch) for patch in data["patches"]]
        stack = np.stack(stack) if stack else np.zeros((0, size, size), np.float32)
        pixel_nm = float(data["pixel_nm"]) / restorer.pixel_ratio
        io.write_tiff(restored, stack, pixel_nm, description=json.dumps(restorer.metadata()))
        logger.info("%d patches restored", len(stack))
