"""The degradation: bead fits, the degradation model (every sigma, haze and noise with its
source), degraded training pairs, and how they compare with real widefield patches."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from centriole_sr import beads, calibration, degrade, grid, io, psf
from centriole_sr.logs import logging_to
from centriole_sr.patches import load_pairs, load_patches, save_patches
from centriole_sr.seeds import field_seed
from centriole_sr.settings import Degradation, Optics, Reading

log = logging.getLogger("centriole_sr.degradation")

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


FieldReader = Callable[[PathLike, float], np.ndarray]


def _field_reader(reading: Reading) -> FieldReader:
    """A field's 2D plane by path and pixel size (nm), read from its file once: the noise and
    the optics calibrations read the same fields."""

    @functools.cache
    def read(path: PathLike, pixel_nm: float) -> np.ndarray:
        return io.read_field(path, pixel_nm, **vars(reading))[0]

    return read


def _noise_calibration_data(
    fields: Sequence[PathLike],
    field_patches: Sequence[PathLike],
    confocal_fields: Sequence[PathLike],
    confocal_patches: Sequence[PathLike],
    optics: Optics,
    read: FieldReader,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """(widefield field, its patches) pairs and the confocal patches for noise. Without
    widefield patches (the widefield is not picked), whole fields stand for patches on both
    sides."""
    widefield_fields = [read(field, optics.widefield_pixel_nm) for field in fields]
    if not field_patches:
        log.info("no widefield picks: the noise is calibrated on whole fields")
        confocal = [_working(read(f, optics.confocal_pixel_nm), optics) for f in confocal_fields]
        return [(field, field[None]) for field in widefield_fields], confocal
    widefield = [
        (field, load_patches(patches)["patches"])
        for field, patches in zip(widefield_fields, field_patches, strict=True)
    ]
    confocal = [
        _working(patch, optics, normalised=True)
        for path in confocal_patches
        for patch in _normalised_as_field(path)
    ]
    if not any(len(patches) for _, patches in widefield) or not len(confocal):
        raise io.InputError(
            f"no patches to calibrate the noise on ({', '.join(map(str, field_patches))}); set "
            "degradation.peak_photons and degradation.read_noise_photons in config.yaml"
        )
    return widefield, confocal


def on_working_grid(
    confocal: np.ndarray,
    centres_yx_px: np.ndarray,
    confocal_pixel_nm: float,
    working_pixel_nm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A confocal image and (y, x) positions in it, moved onto the working grid (unchanged
    for a whole-number pixel-size ratio)."""
    return (grid.resample(confocal, confocal_pixel_nm, working_pixel_nm),
            grid.to_grid_px(centres_yx_px, confocal_pixel_nm, working_pixel_nm))  # fmt: skip


def _working(image: np.ndarray, optics: Optics, *, normalised: bool = False) -> np.ndarray:
    """A confocal image normalised (unless it is) and on the working grid."""
    image = image if normalised else io.normalize_percentile(image)
    return grid.resample(image, optics.confocal_pixel_nm, optics.working_pixel_nm)


def _normalised_as_field(path: PathLike) -> np.ndarray:
    """A field's patches normalised with the field's percentiles, as training targets are."""
    patches = load_patches(path)
    span = max(float(patches["field_high"] - patches["field_low"]), 1e-6)
    return (patches["patches"] - patches["field_low"]) / span


def degradation_model(
    *,
    optics: Optics,
    settings: Degradation,
    bead_tables: Mapping[str, PathLike],
    calibration_fields: Sequence[PathLike] = (),
    calibration_patches: Sequence[PathLike] = (),
    confocal_fields: Sequence[PathLike] = (),
    confocal_patches: Sequence[PathLike] = (),
    reading: Reading,
    output: PathLike,
    figure: PathLike,
    log: PathLike | None = None,
) -> None:
    """Write the whole degradation to ``output`` (model.json): every sigma (nm and pixels) with
    its source, the haze and the noise, each with the source of its value; ``figure`` draws
    the calibration.

    Sigma per modality (``degradation.sigma_source``): "optics" (paraxial formulas),
    "computed" (vectorial PSF averaged over ``defocus_range_nm``) or "beads" (the median of
    ``bead_tables[modality]``). Haze "psf": the widefield PSF over the sample's thickness
    (:func:`psf.widefield_haze`). Haze "auto" and ``fit_sigma``: fitted so that the
    ``confocal_fields`` (picks: ``confocal_patches``' centres), degraded, look like the
    widefield ``calibration_fields`` (picks: ``calibration_patches``' centres)
    (:func:`calibration.calibrate_degradation`); where that cannot be done, the log and
    model.json say why and the PSF's values are used. Noise "auto": calibrated on the
    widefield fields' patches against the confocal patches (whole fields on both sides
    without ``calibration_patches``, where the widefield is not picked).
    """
    from centriole_sr.figures import calibration_figure, message_figure

    read = _field_reader(reading)
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
            from_psf = getattr(settings, key) in ("auto", "psf")
            model[key] = haze[key] if from_psf else float(getattr(settings, key))
            origins[key] = f"widefield PSF over {thickness_nm:g} nm" if from_psf else "config"
        model["parameter_sources"] = origins
        noise = _NoiseCalibration(settings, calibration_fields, calibration_patches,
                                  confocal_fields, confocal_patches, optics, read)  # fmt: skip
        noise.apply(model)
        fitted = None
        if settings.calibrates_optics:
            fitted = _calibrate_optics(
                model, settings, optics, (confocal_fields, confocal_patches),
                (calibration_fields, calibration_patches), read, logger,
            )  # fmt: skip
            noise.apply(model)  # the noise as the calibrated haze and blur leave it
        logger.info("%s", model)
        io.write_json(output, model)
        if fitted is None:
            message_figure(
                model.get("calibration", {}).get("reason", "degradation not calibrated"), figure
            )
        else:
            calibration_figure(fitted, figure)


class _NoiseCalibration:
    """The noise of the degradation: from config, or calibrated on widefield patches."""

    KEYS = ("peak_photons", "read_noise_photons")

    def __init__(self, settings: Degradation, fields, field_patches, confocal_fields,
                 confocal_patches, optics: Optics, read: FieldReader) -> None:  # fmt: skip
        self.settings = settings
        self.data = None
        if settings.calibrates_noise:
            self.data = _noise_calibration_data(
                fields, field_patches, confocal_fields, confocal_patches, optics, read
            )
        self.fields = ", ".join(Path(field).stem for field in fields)

    def apply(self, model: dict[str, Any]) -> None:
        """Set the noise keys of ``model`` and their sources, for its blur and haze."""
        calibrated = {}
        if self.data is not None:
            noiseless = degrade.Degradation.from_model(
                {**model, "peak_photons": 1.0, "read_noise_photons": 0}
            )
            values = degrade.calibrated_noise(*self.data, noiseless)
            calibrated = dict(zip(self.KEYS, values, strict=True))
        for key in self.KEYS:
            auto = getattr(self.settings, key) == "auto"
            model[key] = calibrated[key] if auto else float(getattr(self.settings, key))
            source = f"calibrated on widefield {self.fields}" if auto else "config"
            model["parameter_sources"][key] = source


def _calibrate_optics(
    model: dict[str, Any],
    settings: Degradation,
    optics: Optics,
    confocal_inputs: tuple[Sequence[PathLike], Sequence[PathLike]],
    widefield_inputs: tuple[Sequence[PathLike], Sequence[PathLike]],
    read: FieldReader,
    logger: logging.Logger,
) -> calibration.Calibration | None:
    """Fit the haze and blur of ``model`` on the widefield fields, in place; None (and the
    reason in ``model["calibration"]``) when it cannot be done. Each modality's inputs are
    its (fields, patch files whose centres are its picks)."""

    def fields_with_picks(inputs, pixel_nm: float) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (read(field, pixel_nm),
             load_patches(patches)["centres_yx_px"])
            for field, patches in zip(*inputs, strict=True)
        ]  # fmt: skip

    fields = {
        "confocal": [Path(f).stem for f in confocal_inputs[0]],
        "widefield": [Path(f).stem for f in widefield_inputs[0]],
    }
    try:
        if not widefield_inputs[1]:
            raise ValueError(
                "no widefield picks (no widefield labels and no picking.model.widefield)"
            )
        confocal = [
            on_working_grid(
                io.normalize_percentile(field),
                centres,
                optics.confocal_pixel_nm,
                optics.working_pixel_nm,
            )  # fmt: skip
            for field, centres in fields_with_picks(confocal_inputs, optics.confocal_pixel_nm)
        ]
        widefield = fields_with_picks(widefield_inputs, optics.widefield_pixel_nm)
        picks = {m: sum(len(c) for _, c in data) for m, data in
                 (("confocal", confocal), ("widefield", widefield))}  # fmt: skip
        too_few = [m for m, n in picks.items() if n < calibration.MIN_PICKS]
        if too_few:
            raise ValueError(
                ", ".join(f"{picks[m]} {m} picks" for m in too_few)
                + f" on the calibration fields; at least {calibration.MIN_PICKS} are needed"
            )
        start = degrade.Degradation.from_model(model)
        fitted = calibration.calibrate_degradation(
            confocal,
            widefield,
            start,
            optics.widefield_pixel_nm,
            haze_fractions=calibration.HAZE_FRACTIONS
            if settings.haze_fraction == "auto" else (start.haze_fraction,),
            haze_width_factors=calibration.HAZE_WIDTH_FACTORS
            if settings.haze_sigma_nm == "auto" else (1.0,),
            sigma_factors=calibration.SIGMA_FACTORS if settings.fit_sigma else (1.0,),
            seed=settings.seed,
        )  # fmt: skip
    except ValueError as error:
        fallback = "the widefield PSF's haze and the sigma sources' blur"
        logger.warning("degradation not calibrated: %s; using %s", error, fallback)
        model["calibration"] = {"status": "not calibrated", "reason": f"{error}; using {fallback}",
                                "fields": fields}  # fmt: skip
        return None
    result = fitted.degradation
    sigma_factor = result.sigma_px / start.sigma_px
    source = f"fitted on widefield {', '.join(fields['widefield'])}"
    if settings.fit_sigma:
        degradation_nm = model["sigma_degradation_nm"] * sigma_factor
        widefield_nm = float(np.hypot(degradation_nm, model["sigma_confocal_nm"]))
        table = psf.sigma_table(optics, widefield_nm, model["sigma_confocal_nm"],
                                f"{model['source']}; widefield sigma {source}")  # fmt: skip
        model.update(table)
    for key, value, auto in (
        ("haze_fraction", result.haze_fraction, settings.haze_fraction == "auto"),
        ("haze_sigma_nm", result.haze_sigma_px * optics.working_pixel_nm,
         settings.haze_sigma_nm == "auto"),
    ):  # fmt: skip
        if auto:
            model[key] = float(value)
            model["parameter_sources"][key] = source
    model["calibration"] = {
        "status": "calibrated",
        "fields": fields,
        "sigma_factor": sigma_factor,
        "mismatch_before": fitted.cost_before,
        "mismatch_after": fitted.cost,
        "spectral_gap_before_db": fitted.spectral_gap_before_db,
        "spectral_gap_after_db": fitted.spectral_gap_after_db,
        "widefield_picks": len(fitted.widefield.windows),
        "confocal_picks": len(fitted.before.windows),
        "at_range_top": list(fitted.at_edge),
        "before": {"haze_fraction": start.haze_fraction,
                   "haze_sigma_nm": start.haze_sigma_px * optics.working_pixel_nm},
    }  # fmt: skip
    logger.info("calibrated: %s", model["calibration"])
    if fitted.at_edge:
        logger.warning(
            "the fitted %s reached the top of the range tried: the widefield fields look "
            "hazier or blurrier than the fit can make the confocal fields",
            ", ".join(fitted.at_edge),
        )
    return fitted


def degrade_field(
    *,
    image: PathLike,
    picks: PathLike,
    model: PathLike,
    seed: int,
    field: str,
    pixel_nm: float,
    reading: Reading,
    pair_px: int,
    pairs: PathLike,
    log: PathLike | None = None,
) -> None:
    """Degrade one whole confocal field with ``model`` (model.json) for training, and cut
    ``pair_px``-pixel (widefield) pairs around its picks for evaluation and comparison.

    ``pairs`` (NPZ) holds the :class:`degrade.DegradedField` arrays, the picks
    (``picks_yx_px``), and the pick-centred ``inputs`` and ``targets`` of one noisy frame
    with their widefield-pixel ``origins_yx_px``; targets and picks on the working grid
    (:mod:`centriole_sr.grid`).
    """
    with logging_to(log) as logger:
        degradation_model = io.read_json(model)
        params = degrade.Degradation.from_model(degradation_model)
        confocal, _ = io.read_field(image, pixel_nm, **vars(reading))
        table = io.read_table(picks) if Path(picks).stat().st_size else pd.DataFrame()
        centres = table[["y_px", "x_px"]].to_numpy(float) if len(table) else np.zeros((0, 2))
        working_nm = degrade.working_pixel_nm(degradation_model)
        confocal, centres = on_working_grid(confocal, centres, pixel_nm, working_nm)
        degraded = degrade.degrade_field(confocal, params, field_seed(seed, field))
        origins = degrade.aligned_origins_px(
            centres, pair_px, params.scale, degraded.signal_photons.shape
        )
        rng = np.random.default_rng(field_seed(seed + 1, field))
        inputs, targets = degrade.field_crops(degraded, origins, pair_px, params, rng)
        logger.info("%s degraded with %s; %d of %d picks gave %d-pixel pairs", field, params,
                    len(inputs), len(centres), pair_px)  # fmt: skip
        save_patches(
            pairs,
            target=degraded.target,
            signal_photons=degraded.signal_photons,
            input_low=np.float64(degraded.input_low),
            input_high=np.float64(degraded.input_high),
            picks_yx_px=centres,
            inputs=inputs,
            targets=targets,
            origins_yx_px=origins,
        )


def degradation_examples(
    *, pairs: PathLike, widefield: PathLike | None, figure: PathLike, log: PathLike | None = None
) -> None:
    """Draw degraded confocal patches beside real widefield patches (``widefield``: None where
    the widefield is not picked), for the eye."""
    from centriole_sr.figures import degradation_figure

    with logging_to(log):
        made = load_patches(pairs)
        real = load_patches(widefield)["patches"] if widefield else made["inputs"][:0]
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
