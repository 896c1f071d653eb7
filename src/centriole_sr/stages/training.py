"""The restoration network, trained on crops of every degraded confocal field."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from centriole_sr import io, train
from centriole_sr.degrade import Degradation, DegradedField, working_pixel_nm
from centriole_sr.logs import logging_to
from centriole_sr.patches import load_patches
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
    """Train the restoration network on the degraded confocal fields ``pairs``, degraded
    with ``model`` (model.json).

    Writes weights.pt, card.json and history.tsv beside ``weights``; ``checkpoint`` lets an
    interrupted training resume.
    """
    with logging_to(log) as logger:
        degradation_model = io.read_json(model)
        degradation = Degradation.from_model(degradation_model)
        fields = [_training_field(path) for path in pairs]
        picks = sum(len(f.centres_yx_px) for f in fields)
        logger.info("%d degraded fields, %d picks", len(fields), picks)
        train.train_model(
            fields,
            degradation,
            train.TrainParams(**asdict(settings), threads=threads),
            Path(weights).parent,
            checkpoint,
            log=logger.info,
            card_extra={
                "confocal_pixel_nm": degradation_model["confocal_pixel_nm"],
                "widefield_pixel_nm": degradation_model["widefield_pixel_nm"],
                "working_pixel_nm": working_pixel_nm(degradation_model),
                "sigma": degradation_model,
            },
        )


def _training_field(path: PathLike) -> train.TrainingField:
    """One field's degraded arrays written by ``degrade_field``."""
    arrays = load_patches(path)
    degraded = DegradedField(
        target=arrays["target"],
        signal_photons=arrays["signal_photons"],
        input_low=float(arrays["input_low"]),
        input_high=float(arrays["input_high"]),
    )
    return train.TrainingField(Path(path).stem, degraded, arrays["picks_yx_px"])
