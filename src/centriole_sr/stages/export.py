"""The trained model as a BioImage Model Zoo package, for Fiji/deepImageJ, napari and QuPath."""

from __future__ import annotations

import os

from centriole_sr import io
from centriole_sr.logs import logging_to
from centriole_sr.settings import Reading

PathLike = str | os.PathLike


def export_bmz(
    *,
    weights: PathLike,
    card: PathLike,
    field: PathLike,
    summary: PathLike | None = None,
    pixel_nm: float,
    reading: Reading,
    package: PathLike,
    log: PathLike | None = None,
) -> None:
    """Write ``package`` (a bioimage.io model zip, :func:`centriole_sr.bmz.export_bmz`) with its
    test input cut from the widefield ``field`` and the validation figures of ``summary``."""
    from centriole_sr.bmz import export_bmz as write_package
    from centriole_sr.restore import Restorer

    with logging_to(log) as logger:
        widefield, _ = io.read_field(field, pixel_nm, **vars(reading))
        restorer = Restorer.from_files(weights, card, device="cpu")
        write_package(restorer, package, widefield, summary=summary)
        logger.info("%s written, test input from %s", package, field)
