"""The restoration network, trained on every field's degraded pairs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from centriole_sr import io, train
from centriole_sr.logs import logging_to
from centriole_sr.patches import load_pairs
from centriole_sr.settings import Training

PathLike = str | os.PathLike


def train_model(
    *,
    pairs: Sequence[PathLike],
    model: PathLike,
    settings: Training,
    threads: int,
    weights: PathLike,
    checkpoint: PathLike,
    log: PathLike | None = None,
) -> None:
    """Train the restoration network on ``pairs`` degraded with ``model`` (model.json).

    Writes weights.pt, card.json and history.tsv beside ``weights``; ``checkpoint`` lets an
    interrupted training resume.
    """
    with logging_to(log) as logger:
        inputs, targets, fields = load_pairs(pairs)
        degradation = io.read_json(model)
        logger.info("%d pairs from %d fields", len(inputs), len(set(fields)))
        if len(inputs) < 2:
            raise io.InputError(
                f"{len(inputs)} training pair(s) from {', '.join(map(str, pairs))}: the "
                "network needs at least 2; label more centrioles or lower picking.threshold"
            )
        train.train_model(
            inputs,
            targets,
            fields,
            int(degradation["scale"]),
            train.TrainParams(**asdict(settings), threads=threads),
            Path(weights).parent,
            checkpoint,
            log=logger.info,
            card_extra={
                "confocal_pixel_nm": degradation["confocal_pixel_nm"],
                "widefield_pixel_nm": degradation["widefield_pixel_nm"],
                "sigma": degradation,
            },
        )
