"""Tiled restoration of whole widefield fields and of the widefield patches around picks."""

from __future__ import annotations

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
    log: PathLike | None = None,
) -> None:
    """Restore one whole widefield field; write a TIFF at the confocal pixel size.

    The TIFF holds float32 on the normalised scale, or with ``output_dtype: input`` the
    input's pixel type on its intensity scale (see :func:`io.denormalize_percentile`).
    """
    import torch

    from centriole_sr.model import pick_device
    from centriole_sr.restore import check_pixel_size, load_model, restore_image

    torch.set_num_threads(threads)
    with logging_to(log) as logger:
        field, found_pixel_nm = io.read_field(image, pixel_nm, **vars(reading))
        model, model_card = load_model(weights, card)
        check_pixel_size(model_card, found_pixel_nm)
        device = pick_device(settings.device, "restoration.device")
        scale = int(model_card["scale"])
        logger.info("%s: %s on %s, %d threads", image, field.shape, device, threads)
        start = time.perf_counter()
        result = restore_image(
            model,
            io.normalize_percentile(field),
            scale,
            tile_px=settings.tile_px,
            batch_size=settings.batch_size,
            device=device,
            progress=progress_logger("tiles"),
        )
        if settings.output_dtype == "input":
            result = io.denormalize_percentile(result, field, io.stored_dtype(image))
        io.write_tiff(restored, result, found_pixel_nm / scale)
        seconds = time.perf_counter() - start
        logger.info(
            "%s -> %s %s in %.1f s (%.2f s per input megapixel)",
            field.shape, result.shape, result.dtype, seconds, seconds / (field.size / 1e6),
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
    from centriole_sr.restore import load_model, restore_image

    with logging_to(log) as logger:
        data = load_patches(patches)
        model, model_card = load_model(weights, card)
        scale = int(model_card["scale"])
        size = data["patches"].shape[-1] * scale
        stack = [
            restore_image(model, io.normalize_percentile(patch), scale) for patch in data["patches"]
        ]
        stack = np.stack(stack) if stack else np.zeros((0, size, size), np.float32)
        io.write_tiff(restored, stack, float(data["pixel_nm"]) / scale)
        logger.info("%d patches restored", len(stack))
