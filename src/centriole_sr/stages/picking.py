"""Topaz picking: MRC conversion, preprocessing, picker training and calibration, extraction."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from centriole_sr import io, picking
from centriole_sr.labels import LabelUnit, read_labels
from centriole_sr.logs import logging_to
from centriole_sr.settings import Picking, Reading

PathLike = str | os.PathLike


def convert_to_mrc(
    *,
    image: PathLike,
    pixel_nm: float,
    saturate_percentile: float,
    reading: Reading,
    output: PathLike,
    log: PathLike | None = None,
) -> None:
    """Check a field; write it saturated and negated (dark centrioles, as Topaz expects) as
    float32 MRC."""
    with logging_to(log) as logger:
        field, found_pixel_nm = io.read_field(image, pixel_nm, **vars(reading))
        logger.info("%s: %s pixels of %.2f nm", image, field.shape, found_pixel_nm)
        picking.write_mrc(output, picking.fluorescence_to_topaz(field, saturate_percentile))


def preprocess_for_topaz(
    *,
    mrc: PathLike,
    factor: int,
    gmm_sample: int,
    seed: int,
    output: PathLike,
    log: PathLike | None = None,
) -> None:
    """Downsample and normalise one field with ``topaz preprocess``, its GMM fitted on one
    pixel in ``gmm_sample`` drawn with ``seed`` (picking.gmm_sample and picking.seed)."""
    work_dir = Path(output).parent / f".{Path(output).stem}.topaz"
    with logging_to(log):
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        try:
            produced = picking.preprocess(mrc, work_dir, factor, sample=gmm_sample, seed=seed)
            os.replace(produced, output)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)


@dataclass(frozen=True)
class LabelledFields:
    """The labelled fields of one modality as its picker learns from them: their names, the
    preprocessed (``images``) and original (``field_images``) fields, the labels (table or
    folder, :mod:`centriole_sr.labels`) and the unit of Fiji's X, Y there, the complete centre
    tables (``<field>.tsv``) of those fields that have one (``references``), Topaz's
    downsampling factor, the fields' pixel size and how they are read."""

    modality: str
    fields: Sequence[str]
    images: Sequence[PathLike]
    field_images: Sequence[PathLike]
    labels: PathLike
    references: Sequence[PathLike]
    factor: int
    pixel_nm: float
    reading: Reading
    label_unit: LabelUnit = "px"

    def read_labels(self) -> pd.DataFrame:
        """The labels of these fields (those of other fields are left out)."""
        return read_labels(
            self.labels, {self.modality: list(self.fields)}, unit=self.label_unit,
            pixel_nm={self.modality: self.pixel_nm}, strict=False,
        )  # fmt: skip


def train_picker(
    *,
    labelled: LabelledFields,
    settings: Picking,
    match_radius_nm: float,
    threads: int,
    model: PathLike,
    threshold: PathLike,
    log: PathLike | None = None,
) -> None:
    """Train a Topaz picker for one modality from the clicked centres of its ``labelled``
    fields, then calibrate it (:func:`calibrate_picker`): ``model`` gets the picker,
    ``threshold`` its calibration.

    Labels of other fields are ignored here (the workflow checks the whole table at start), so
    that adding a field never retrains a picker.
    """
    with logging_to(log):
        fields, factor = labelled.fields, labelled.factor
        table = labelled.read_labels()
        work_dir = Path(model).parent / "train"
        work_dir.mkdir(parents=True, exist_ok=True)
        trained = picking.train_picker(
            dict(zip(fields, map(Path, labelled.images), strict=True)),
            picking.labels_to_targets(table, factor),
            work_dir,
            radius_px=picking.label_radius_px(
                settings.centriole_diameter_nm, labelled.pixel_nm, factor
            ),
            num_particles_per_image=settings.expected_per_field,
            num_epochs=settings.epochs,
            epoch_size=settings.epoch_size,
            seed=settings.seed,
            threads=threads,
        )
        calibrate_picker(
            model=trained, labelled=labelled, settings=settings,
            match_radius_nm=match_radius_nm, threads=threads, threshold=threshold,
        )  # fmt: skip
        with io.atomic_path(model) as tmp:
            tmp.write_bytes(Path(trained).read_bytes())


def calibrate_picker(
    *,
    model: PathLike,
    labelled: LabelledFields,
    settings: Picking,
    match_radius_nm: float,
    threads: int,
    threshold: PathLike,
) -> None:
    """Fit the rescorer and choose the score threshold of a trained Topaz picker on its labelled
    fields; write them to ``threshold`` (threshold.json). Logs to the caller's log.

    A :class:`picking.Rescorer` fitted positive-unlabelled on the known centres (the clicks, any
    number of the centrioles of a field, or a field's complete centre table in
    ``references``, as the demo's ground truth) gives each pick the log-odds of being a
    centriole (on the ring profile too with ``picking.rescore``). With ``picking.threshold:
    auto`` the threshold maximises the expected F1 at ``match_radius_nm``
    (:func:`picking.calibrate`); a number is used as it is.
    """
    logger = picking.log
    fields, pixel_nm, factor = labelled.fields, labelled.pixel_nm, labelled.factor
    table = labelled.read_labels()
    references = {Path(path).stem: path for path in labelled.references}
    known = [
        io.read_table(references[field])[["y_px", "x_px"]].to_numpy(float)
        if field in references
        else table.loc[table["field"] == field, ["y_px", "x_px"]].to_numpy(float)
        for field in fields
    ]
    by_clicks = [field for field in fields if field not in references]
    known_from = ", ".join(
        ([f"the clicks on {', '.join(by_clicks)}"] if by_clicks else [])
        + ([f"the complete centre tables of {', '.join(references)}"] if references else [])
    )
    fields_yx = [
        io.read_field(path, pixel_nm, **vars(labelled.reading))[0] for path in labelled.field_images
    ]
    candidates = [
        picking.pick_field(model, image, field_yx, factor, pixel_nm, settings, None, threads)
        for image, field_yx in zip(labelled.images, fields_yx, strict=True)
    ]  # fmt: skip
    calibration = picking.calibrate(
        fields_yx,
        candidates,
        known,
        settings.centriole_radius_px(pixel_nm),
        match_radius_nm / pixel_nm,
        settings.rescore,
    )
    chosen = settings.threshold
    if chosen == "auto":
        chosen = calibration.best["threshold"]
        how = "expected" if calibration.rescorer else "measured against the known centres"
        source = f"auto: the highest F1 at {match_radius_nm:g} nm, {how}, from {known_from}"
    else:
        source = "picking.threshold in the config"
    rescorer = calibration.rescorer
    scored_with = "the rescorer's log-odds" if rescorer else "Topaz"
    logger.info(
        "score threshold %.3f (%s; scores by %s); best F1 %.3f, precision %.3f, recall %.3f",
        chosen, source, scored_with, calibration.best["f1"], calibration.best["precision"],
        calibration.best["recall"],
    )  # fmt: skip
    io.write_json(
        threshold,
        {
            "threshold": float(chosen),
            "source": source,
            "best": calibration.best,
            "match_radius_nm": match_radius_nm,
            "picking_pixel_nm": pixel_nm * factor,
            "field_pixel_nm": pixel_nm,
            "picking": asdict(settings),
            "rescorer": rescorer.to_dict() if rescorer else None,
            "curve": calibration.curve.to_dict(orient="list"),
        },
    )


def pick_centrioles(
    *,
    model: PathLike,
    threshold: PathLike,
    image: PathLike,
    field: PathLike,
    factor: int,
    pixel_nm: float,
    settings: Picking,
    reading: Reading,
    threads: int = 1,
    output: PathLike,
    napari: PathLike | None = None,
    log: PathLike | None = None,
) -> None:
    """Pick one field (``image``: preprocessed, ``field``: original); write (y_px, x_px, score,
    topaz_score) in the field's own pixels: ``score`` is the rescorer's log-odds where the picker
    has one (``threshold``: its threshold.json), else Topaz's score. ``napari`` gets the same
    picks as a napari points layer's CSV.

    The threshold (on ``score``) comes from threshold.json unless ``picking.threshold`` is a
    number. A picker trained at another picking pixel size stops. ``threads``: Topaz's.
    """
    with logging_to(log) as logger:
        calibration = io.read_json(threshold)
        trained_nm, picking_nm = calibration["picking_pixel_nm"], pixel_nm * factor
        if not np.isclose(trained_nm, picking_nm):
            raise ValueError(
                f"{model} was trained on fields of {trained_nm:g} nm pixels ({threshold}), "
                f"these are picked at {picking_nm:g} nm: set picking.pixel_nm to match, or "
                "retrain"
            )
        cut = calibration["threshold"] if settings.threshold == "auto" else settings.threshold
        field_yx, _ = io.read_field(field, pixel_nm, **vars(reading))
        rescorer = calibration.get("rescorer")
        rescorer = picking.Rescorer.from_dict(rescorer) if rescorer else None
        topaz_cut = None if rescorer else cut  # None: the field's floor
        picks = picking.pick_field(
            model, image, field_yx, factor, pixel_nm, settings, topaz_cut, threads
        )
        if rescorer:
            picks = rescorer.score(field_yx, picks, settings.centriole_radius_px(pixel_nm))
            picks = picks[picks["score"] >= cut].reset_index(drop=True)
        else:
            picks = picks.assign(topaz_score=picks["score"])
        if picks.empty:
            logger.warning("no picks in %s at score >= %.3f", image, cut)
        else:
            logger.info("%d picks at score >= %.3f", len(picks), cut)
        io.write_table(output, picks)
        if napari is not None:
            io.write_napari_points(napari, picks)
