"""The degradation: bead fits, the degradation model (every sigma, haze and noise with its
source), degraded training pairs, and how they compare with real widefield patches."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from centriole_sr import beads, degrade, io, psf
from centriole_sr.logs import logging_to
from centriole_sr.patches import load_pairs, load_patches, save_patches
from centriole_sr.seeds import field_seed
from centriole_sr.settings import Degradation, Optics, Reading

PathLike = str | os.PathLike


def fit_beads(
    *,
    images: Sequence[PathLike],
    modality: str,
    optics: Optics,
    table: PathLike,
    figure: PathLike,
    log: PathLike | None = None,
) -> None:
    """Fit every bead of one modality's bead images (2D or z-stacks) into one table, and draw
    the first image's beads and the fitted widths.

    Each row is one bead (:func:`beads.fit_beads`), with its ``image``; the pixel size comes
    from the file, checked against the modality's in config.
    """
    from centriole_sr.figures import beads_figure

    with logging_to(log) as logger:
        pixel_nm = getattr(optics, f"{modality}_pixel_nm")
        tables, first = [], None
        for path in images:
            image, _ = io.read_field(path, pixel_nm, z_stack="stack")
            first = image if first is None else first
            fitted = beads.fit_beads(
                image,
                pixel_nm,
                sigma_guess_nm=psf.paraxial_sigma_nm(optics, modality),
                pixel_integrated=modality == "widefield",  # a camera integrates, a scan samples
                source=str(path),
            )
            logger.info("%s: %d beads, %d accepted", path, len(fitted), fitted["accepted"].sum())
            tables.append(fitted.assign(image=Path(path).stem))
        every = pd.concat(tables, ignore_index=True)
        summary = beads.bead_sigma_nm(every, source=f"{modality} bead images")
        logger.info("%s sigma %.1f nm (MAD %.1f nm, %d beads)", modality, summary["sigma_nm"],
                    summary["sigma_mad_nm"], summary["count"])  # fmt: skip
        io.write_table(table, every)
        shown = every[every["image"] == Path(images[0]).stem]
        beads_figure(first, shown, summary, f"{modality} {Path(images[0]).name}", figure)


def _microscope_sigma_nm(
    optics: Optics, modality: str, settings: Degradation, bead_table: PathLike | None
) -> tuple[float, dict[str, Any]]:
    """One microscope's PSF sigma (nm) from its ``degradation.sigma_source``, and the source."""
    source = settings.sigma_source[modality]
    if source == "beads":
        summary = beads.bead_sigma_nm(io.read_table(bead_table), source=str(bead_table))
        return summary["sigma_nm"], {"source": "beads", **summary}
    if source == "computed":
        defocus_nm = settings.defocus_range_nm
        sigma = psf.computed_sigma_nm(optics, modality, defocus_nm)
        return sigma, {"source": f"computed PSF, defocus range {defocus_nm:g} nm"}
    return psf.paraxial_sigma_nm(optics, modality), {"source": "optics (paraxial)"}


def _noise_calibration_data(
    fields: Sequence[PathLike],
    field_patches: Sequence[PathLike],
    confocal_patches: Sequence[PathLike],
    widefield_pixel_nm: float,
    reading: Reading,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """(widefield field, its patches) pairs and the pooled confocal patches for noise."""
    widefield = [
        (
            io.read_field(field, widefield_pixel_nm, **vars(reading))[0],
            load_patches(patches)["patches"],
        )
        for field, patches in zip(fields, field_patches, strict=True)
    ]
    confocal = np.concatenate([load_patches(path)["patches"] for path in confocal_patches])
    if not any(len(patches) for _, patches in widefield) or not len(confocal):
        raise io.InputError(
            f"no patches to calibrate the noise on ({', '.join(map(str, field_patches))}); set "
            "degradation.peak_photons and degradation.read_noise_photons in config.yaml"
        )
    return widefield, confocal


def degradation_model(
    *,
    optics: Optics,
    settings: Degradation,
    bead_tables: Mapping[str, PathLike],
    calibration_fields: Sequence[PathLike] = (),
    calibration_patches: Sequence[PathLike] = (),
    confocal_patches: Sequence[PathLike] = (),
    reading: Reading,
    output: PathLike,
    log: PathLike | None = None,
) -> None:
    """Write the whole degradation to ``output`` (model.json): every sigma (nm and pixels) with
    its source, the haze and the noise, each with the source of its value.

    Sigma per modality (``degradation.sigma_source``): "optics" (paraxial formulas),
    "computed" (vectorial PSF averaged over ``defocus_range_nm``) or "beads" (the median of
    ``bead_tables[modality]``). Haze "auto": the widefield PSF over the sample's thickness
    (:func:`psf.widefield_haze`). Noise "auto": calibrated on the widefield
    ``calibration_fields`` (with their ``calibration_patches``) against ``confocal_patches``.
    """
    with logging_to(log) as logger:
        sigma_nm, details = {}, {}
        for modality in ("widefield", "confocal"):
            sigma_nm[modality], details[modality] = _microscope_sigma_nm(
                optics, modality, settings, bead_tables.get(modality)
            )
        summary_source = ", ".join(f"{m}: {details[m]['source']}" for m in details)
        model = {
            **psf.sigma_table(optics, sigma_nm["widefield"], sigma_nm["confocal"], summary_source),
            "sigma_sources": details,
            "confocal_pixel_nm": optics.confocal_pixel_nm,
            "widefield_pixel_nm": optics.widefield_pixel_nm,
        }
        thickness_nm = settings.sample_thickness_nm
        haze = psf.widefield_haze(optics, thickness_nm)
        origins = {}
        for key in ("haze_fraction", "haze_sigma_nm"):
            auto = getattr(settings, key) == "auto"
            model[key] = haze[key] if auto else float(getattr(settings, key))
            origins[key] = f"widefield PSF over {thickness_nm:g} nm" if auto else "config"
        noise_keys = ("peak_photons", "read_noise_photons")
        if settings.calibrates_noise:
            widefield, confocal = _noise_calibration_data(
                calibration_fields, calibration_patches, confocal_patches,
                optics.widefield_pixel_nm, reading,
            )  # fmt: skip
            noiseless = degrade.Degradation.from_model(
                {**model, "peak_photons": 1.0, "read_noise_photons": 0}
            )
            calibrated = dict(
                zip(noise_keys, degrade.calibrated_noise(widefield, confocal, noiseless),
                    strict=True)
            )  # fmt: skip
            fields = ", ".join(Path(field).stem for field in calibration_fields)
        for key in noise_keys:
            auto = getattr(settings, key) == "auto"
            model[key] = calibrated[key] if auto else float(getattr(settings, key))
            origins[key] = f"calibrated on widefield {fields}" if auto else "config"
        model["parameter_sources"] = origins
        logger.info("%s", model)
        io.write_json(output, model)


def degrade_patches(
    *,
    patches: PathLike,
    model: PathLike,
    seed: int,
    field: str,
    pairs: PathLike,
    log: PathLike | None = None,
) -> None:
    """Make (degraded input, confocal target) training pairs from one field's confocal patches."""
    with logging_to(log) as logger:
        params = degrade.Degradation.from_model(io.read_json(model))
        confocal = load_patches(patches)["patches"]
        inputs, targets = degrade.degrade_patches(confocal, params, field_seed(seed, field))
        logger.info("%d pairs with %s", len(inputs), params)
        save_patches(pairs, inputs=inputs, targets=targets)


def degradation_examples(
    *, pairs: PathLike, widefield: PathLike, figure: PathLike, log: PathLike | None = None
) -> None:
    """Draw degraded confocal patches beside real widefield patches, for the eye."""
    from centriole_sr.figures import degradation_figure

    with logging_to(log):
        made = load_patches(pairs)
        real = load_patches(widefield)["patches"]
        degradation_figure(made["targets"], made["inputs"], real, figure)


def domain_gap(
    *,
    pairs: Sequence[PathLike],
    widefield: Sequence[PathLike],
    widefield_pixel_nm: float,
    gap: PathLike,
    figure: PathLike,
    log: PathLike | None = None,
) -> None:
    """Compare every degraded confocal patch with every real widefield patch: a number
    (:func:`centriole_sr.quality.domain_gap`, written as JSON) and a figure."""
    from centriole_sr import quality
    from centriole_sr.figures import domain_gap_figure, message_figure

    with logging_to(log) as logger:
        degraded, _, _ = load_pairs(pairs)
        real = [load_patches(path)["patches"] for path in widefield]
        real = np.concatenate(real) if real else np.zeros((0, 1, 1))
        if len(degraded) == 0 or len(real) == 0:
            message = (
                f"no domain gap: {len(degraded)} degraded confocal and {len(real)} "
                "widefield patches (check the picks of the modality without any)"
            )
            logger.warning(message)
            io.write_json(gap, {"degraded_patches": len(degraded), "widefield_patches": len(real)})
            message_figure(message, figure)
            return
        measured = quality.domain_gap(degraded, real)
        logger.info("%s", measured)
        io.write_json(gap, measured)
        frequency, power_degraded = quality.radial_power_spectrum(degraded)
        _, power_widefield = quality.radial_power_spectrum(real)
        frequency_per_um = frequency * 1000.0 / widefield_pixel_nm
        domain_gap_figure(frequency_per_um, power_degraded, power_widefield, measured, figure)
