"""The embedded demo: fields imaged by both microscopes, their labels, bead images."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from centriole_sr import io, simulate
from centriole_sr.logs import logging_to
from centriole_sr.seeds import field_seed
from centriole_sr.settings import Optics

PathLike = str | os.PathLike


def simulate_demo(
    *,
    field: str,
    sample: simulate.DemoParams,
    seed: int,
    optics: Optics,
    outputs: Mapping[str, PathLike],
    log: PathLike | None = None,
) -> None:
    """Simulate one demo field imaged by both microscopes; write its images and centre tables.

    ``outputs``: confocal, confocal_clean, widefield (TIFFs), centres, truth_confocal and
    truth_widefield (tables).
    """
    with logging_to(log) as logger:
        seed = field_seed(seed, field)
        logger.info("simulating %s (seed %d): %s", field, seed, sample)
        result = simulate.simulate_field(optics, sample, seed)
        io.write_tiff(outputs["confocal"], result.confocal, optics.confocal_pixel_nm)
        io.write_tiff(outputs["confocal_clean"], result.confocal_clean, optics.confocal_pixel_nm)
        io.write_tiff(outputs["widefield"], result.widefield, optics.widefield_pixel_nm)
        io.write_table(outputs["centres"], result.centres)
        for modality, pixel_nm in (
            ("confocal", optics.confocal_pixel_nm),
            ("widefield", optics.widefield_pixel_nm),
        ):
            table = simulate.truth_table(result.centres, pixel_nm)
            io.write_table(outputs[f"truth_{modality}"], table)
        logger.info("%d centrioles, %d clutter spots", *_kind_counts(result.centres))


def _kind_counts(centres: pd.DataFrame) -> tuple[int, int]:
    kinds = centres["kind"].value_counts()
    return int(kinds.get("centriole", 0)), int(kinds.get("clutter", 0))


def demo_labels(
    *,
    centres: Sequence[PathLike],
    labels_per_field: int,
    seed: int,
    optics: Optics,
    output: PathLike,
    log: PathLike | None = None,
) -> None:
    """Write a sparse labels table: a few clicked centres per labelled field and modality."""
    with logging_to(log) as logger:
        tables = {Path(path).stem: io.read_table(path) for path in centres}
        labels = simulate.demo_labels(tables, list(tables), labels_per_field, optics, seed)
        io.write_table(output, labels)
        logger.info("%d labels on fields %s", len(labels), ", ".join(tables))


def simulate_beads(
    *, modality: str, seed: int, optics: Optics, output: PathLike, log: PathLike | None = None
) -> None:
    """A bead image of the demo's microscopes: 30 sub-resolution beads, 256 pixels square.

    The widefield's is a z-stack (7 planes 200 nm apart, focus in the middle), as bead
    stacks are usually acquired; the confocal's a single in-focus plane.
    """
    with logging_to(log) as logger:
        pixel_nm = getattr(optics, f"{modality}_pixel_nm")
        z_step_nm = 200.0 if modality == "widefield" else None
        planes_nm = np.arange(-3, 4) * z_step_nm if z_step_nm else None
        image, _ = simulate.simulate_beads(optics, modality, pixel_nm, 256, 30, seed, planes_nm)
        logger.info("%s beads, image %s, seed %d", modality, image.shape, seed)
        io.write_tiff(output, image, pixel_nm, z_step_nm=z_step_nm)
