"""One function per workflow stage: read files, call the science, write files.

Each Snakemake script under workflow/scripts/ calls exactly one of these; they can
equally be called from Python without Snakemake. Every output is written atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from centriole_sr import beads, io, picking
from centriole_sr.config import calibrates_noise, read_labels
from centriole_sr.degrade import Degradation, calibrated_noise, degrade_patches
from centriole_sr.patches import extract_patches, load_patches, save_patches
from centriole_sr.psf import (
    Optics,
    computed_sigma_nm,
    paraxial_sigma_nm,
    sigma_table,
    widefield_haze,
)

PathLike = str | os.PathLike
log = logging.getLogger("centriole_sr")


@contextlib.contextmanager
def logging_to(path: PathLike | None) -> Iterator[logging.Logger]:
    """Send the package's log records (and Python warnings) to ``path`` for one stage."""
    handler: logging.Handler
    handler = logging.FileHandler(path, mode="w") if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield log
    except Exception:
        log.exception("stage failed")
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


# Topaz log-likelihood scores of real picks lie within about +-10: extraction at this
# threshold keeps every local maximum, for calibrating the threshold on labelled fields.
CALIBRATION_SCORE = -50.0


# Noise-to-signal balance of the Wiener baseline (images normalised to [0, 1]).
WIENER_BALANCE = 0.1


def field_seed(seed: int, field: str) -> int:
    """A per-field seed that does not depend on how many fields there are."""
    return seed * 1_000_003 + zlib.crc32(field.encode())


# --- demo -------------------------------------------------------------------------------------


def simulate_demo(
    field: str,
    demo: dict[str, Any],
    optics: dict[str, Any],
    outputs: dict[str, PathLike],
    log_path: PathLike | None = None,
) -> None:
    """Simulate one demo field imaged by both microscopes; write images and centre tables."""
    from centriole_sr.simulate import DemoParams, simulate_field, truth_table

    with logging_to(log_path):
        optics_ = Optics(**optics)
        params = DemoParams(
            field_size_px=demo["field_size_px"],
            centrioles_per_field=demo["centrioles_per_field"],
            clutter_per_field=demo["clutter_per_field"],
        )
        seed = field_seed(demo["seed"], field)
        log.info("simulating %s (seed %d): %s", field, seed, params)
        result = simulate_field(optics_, params, seed)
        io.write_tiff(outputs["confocal"], result.confocal, optics_.confocal_pixel_nm)
        io.write_tiff(outputs["confocal_clean"], result.confocal_clean, optics_.confocal_pixel_nm)
        io.write_tiff(outputs["widefield"], result.widefield, optics_.widefield_pixel_nm)
        io.write_table(outputs["centres"], result.centres)
        for modality, pixel_nm in (
            ("confocal", optics_.confocal_pixel_nm),
            ("widefield", optics_.widefield_pixel_nm),
        ):
            io.write_table(outputs[f"truth_{modality}"], truth_table(result.centres, pixel_nm))
        log.info("%d centrioles, %d clutter spots", *_kind_counts(result.centres))


def simulate_demo_beads(
    modality: str,
    seed: int,
    optics: dict[str, Any],
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """A bead image of the demo's microscopes: 30 sub-resolution beads, 256 pixels square.

    The widefield's is a z-stack (7 planes 200 nm apart, focus in the middle), as bead
    stacks are usually acquired; the confocal's a single in-focus plane.
    """
    from centriole_sr.simulate import simulate_beads

    with logging_to(log_path):
        optics_ = Optics(**optics)
        pixel_nm = getattr(optics_, f"{modality}_pixel_nm")
        planes_nm = np.arange(-3, 4) * 200.0 if modality == "widefield" else None
        image, truth = simulate_beads(optics_, modality, pixel_nm, 256, 30, seed, planes_nm)
        log.info("%s beads, image %s, seed %d", modality, image.shape, seed)
        io.write_tiff(output, image, pixel_nm)


def _kind_counts(centres: pd.DataFrame) -> tuple[int, int]:
    kinds = centres["kind"].value_counts()
    return int(kinds.get("centriole", 0)), int(kinds.get("clutter", 0))


def demo_labels(
    centres_paths: Sequence[PathLike],
    labels_per_field: int,
    seed: int,
    optics: dict[str, Any],
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Write a sparse labels table (a few clicked centres per labelled field and modality)."""
    from centriole_sr.simulate import demo_labels as make_labels

    with logging_to(log_path):
        centres = {Path(path).stem: io.read_table(path) for path in centres_paths}
        labels = make_labels(centres, list(centres), labels_per_field, Optics(**optics), seed)
        io.write_table(output, labels)
        log.info("%d labels on fields %s", len(labels), ", ".join(centres))


# --- picking ----------------------------------------------------------------------------------


def convert_to_mrc(
    image_path: PathLike,
    pixel_nm: float,
    saturate_percentile: float,
    output: PathLike,
    log_path: PathLike | None = None,
    reading: dict[str, Any] | None = None,
) -> None:
    """Check a field; write it saturated and negated (dark centrioles, as Topaz expects) as
    float32 MRC. ``reading``: channel and z_stack for :func:`io.read_field`."""
    with logging_to(log_path):
        image, found_pixel_nm = io.read_field(image_path, pixel_nm, **(reading or {}))
        log.info("%s: %s pixels of %.2f nm", image_path, image.shape, found_pixel_nm)
        picking.write_mrc(output, picking.fluorescence_to_topaz(image, saturate_percentile))


def preprocess_for_topaz(
    mrc_path: PathLike,
    factor: int,
    output: PathLike,
    log_path: PathLike,
    *,
    sample: int = picking.GMM_SAMPLE,
    seed: int = 0,
) -> None:
    """Downsample and normalise one field with ``topaz preprocess``, its GMM fitted on one
    pixel in ``sample`` drawn with ``seed`` (picking.gmm_sample and picking.seed)."""
    work_dir = Path(output).parent / f".{Path(output).stem}.topaz"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    try:
        produced = picking.preprocess(
            mrc_path, work_dir, factor, log_path, sample=sample, seed=seed
        )
        os.replace(produced, output)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def train_picker(
    images: Sequence[PathLike],
    fields: Sequence[str],
    labels_path: PathLike,
    modality: str,
    factor: int,
    picking_config: dict[str, Any],
    pixel_nm: float,
    threads: int,
    output: PathLike,
    threshold_output: PathLike,
    log_path: PathLike,
    **calibration: Any,
) -> None:
    """Train a Topaz picker for one modality from the clicked centres of its labelled ``fields``
    and calibrate it: ``output`` gets the picker, :func:`calibrate_picker` (with the keyword
    arguments ``calibration``: field_images, reference_paths, match_radius_nm, reading)
    ``threshold_output``.

    Labels of other fields are ignored here (the workflow checks the whole table at start), so
    that adding a field never retrains a picker. ``images`` are the preprocessed fields.
    """
    labels = read_labels(labels_path, {modality: list(fields)}, strict=False)
    targets = picking.labels_to_targets(labels, factor)
    work_dir = Path(output).parent / "train"
    work_dir.mkdir(parents=True, exist_ok=True)
    model = picking.train_picker(
        dict(zip(fields, map(Path, images), strict=True)),
        targets,
        work_dir,
        radius_px=picking.label_radius_px(
            picking_config["centriole_diameter_nm"], pixel_nm, factor
        ),
        num_particles_per_image=picking_config["expected_per_field"],
        num_epochs=picking_config["epochs"],
        epoch_size=picking_config["epoch_size"],
        seed=picking_config["seed"],
        threads=threads,
        log_path=log_path,
    )
    calibrate_picker(
        model, images, fields, labels_path, modality, factor, picking_config, pixel_nm,
        threads, threshold_output, log_path, **calibration,
    )  # fmt: skip
    with io.atomic_path(output) as tmp:
        tmp.write_bytes(Path(model).read_bytes())


def calibrate_picker(
    model: PathLike,
    images: Sequence[PathLike],
    fields: Sequence[str],
    labels_path: PathLike,
    modality: str,
    factor: int,
    picking_config: dict[str, Any],
    pixel_nm: float,
    threads: int,
    threshold_output: PathLike,
    log_path: PathLike,
    *,
    field_images: Sequence[PathLike],
    reference_paths: Sequence[PathLike] = (),
    match_radius_nm: float,
    reading: dict[str, Any] | None = None,
) -> None:
    """Fit the rescorer and choose the score threshold of a Topaz picker on its labelled fields.

    ``images`` are the preprocessed fields and ``field_images`` the original ones (for
    :func:`picking.refine_centres` and the rescorer). With ``picking.rescore``, a
    :class:`picking.Rescorer` is fitted on the fields' candidates against the references below
    and the picks are ranked by its log-odds. With ``picking.threshold: auto`` the threshold
    maximises F1 at ``match_radius_nm`` on the labelled fields, against ``reference_paths``
    (complete centre tables of those fields, as the demo's ground truth) or, without them,
    against the labels themselves, which must then mark every centriole of those fields. A
    number is used as it is. ``threshold_output`` gets the threshold, its source, the rescorer,
    the precision-recall curve and the picking pixel size.
    """
    labels = read_labels(labels_path, {modality: list(fields)}, strict=False)
    if reference_paths:
        references = [
            io.read_table(path)[["y_px", "x_px"]].to_numpy(float) for path in reference_paths
        ]
        against = "the reference centres of the labelled fields"
    else:
        references = [
            labels.loc[labels["field"] == field, ["y_px", "x_px"]].to_numpy(float)
            for field in fields
        ]
        against = "the labels (every centriole of the labelled fields must be labelled)"
        per_field = len(labels) / max(len(fields), 1)
        uses_labels = picking_config["threshold"] == "auto" or picking_config["rescore"]
        if uses_labels and per_field < picking_config["expected_per_field"] / 2:
            with open(log_path, "a") as handle:
                handle.write(
                    f"WARNING: {labels_path}: {per_field:.1f} labels per labelled field against "
                    f"picking.expected_per_field {picking_config['expected_per_field']}; the "
                    "rescorer learns every unlabelled centriole there as clutter, and threshold "
                    "auto counts it as a false pick: label every centriole of those fields, or "
                    "give inputs.truth\n"
                )
    radius_px = _centriole_radius_px(picking_config, pixel_nm)
    match_radius_px = match_radius_nm / pixel_nm
    fields_yx = [io.read_field(path, pixel_nm, **(reading or {}))[0] for path in field_images]
    candidates = [
        _picks(model, image, field, factor, pixel_nm, picking_config, CALIBRATION_SCORE,
               log_path, threads)
        for image, field in zip(images, fields_yx, strict=True)
    ]  # fmt: skip
    rescorer = None
    if picking_config["rescore"]:
        rescorer = picking.fit_rescorer(
            fields_yx, candidates, references, radius_px, match_radius_px
        )
        if rescorer is None:
            with open(log_path, "a") as handle:
                handle.write(
                    f"WARNING: fewer than {picking.MIN_EXAMPLES} centrioles or clutter picks near "
                    "them on the labelled fields: no rescoring, the picks keep Topaz's scores\n"
                )
        else:
            with open(log_path, "a") as handle:
                handle.write(rescorer.describe() + "\n")
            candidates = [
                rescorer.score(field, picks, radius_px)
                for field, picks in zip(fields_yx, candidates, strict=True)
            ]
    curve = picking.precision_recall_curve(candidates, references, match_radius_px)
    best = picking.best_threshold(curve)
    threshold = picking_config["threshold"]
    if threshold == "auto":
        threshold = best["threshold"]
        source = f"auto: the highest F1 at {match_radius_nm:g} nm against {against}"
    else:
        source = "picking.threshold in the config"
    scored_by = "the rescorer's log-odds" if rescorer else "Topaz"
    with open(log_path, "a") as handle:
        handle.write(
            f"score threshold {threshold:.3f} ({source}; scores by {scored_by}); "
            f"best F1 {best['f1']:.3f}\n"
        )
    io.write_json(
        threshold_output,
        {
            "threshold": float(threshold),
            "source": source,
            "best": best,
            "match_radius_nm": match_radius_nm,
            "picking_pixel_nm": pixel_nm * factor,
            "rescorer": rescorer.to_dict() if rescorer else None,
            "curve": curve.to_dict(orient="list"),
        },
    )


def _centriole_radius_px(picking_config: dict[str, Any], pixel_nm: float) -> float:
    """Half of picking.centriole_diameter_nm in a field's pixels."""
    return picking_config["centriole_diameter_nm"] / 2 / pixel_nm


def _picks(
    model_path: PathLike,
    image_path: PathLike,
    field: np.ndarray,
    factor: int,
    pixel_nm: float,
    picking_config: dict[str, Any],
    threshold: float,
    log_path: PathLike,
    threads: int = 1,
) -> pd.DataFrame:
    """Topaz picks scoring >= ``threshold``, moved to the centroid of the original ``field``
    within a centriole radius, then closer ones than ``min_distance_nm`` merged."""
    picks = picking.extract_picks(
        model_path,
        image_path,
        factor,
        radius_px=picking.suppression_radius_px(
            picking_config["centriole_diameter_nm"], pixel_nm, factor
        ),
        threshold=threshold,
        log_path=log_path,
        threads=threads,
    )
    picks = picking.refine_centres(field, picks, _centriole_radius_px(picking_config, pixel_nm))
    return picking.merge_duplicates(picks, picking_config["min_distance_nm"] / pixel_nm)


def pick_centrioles(
    model_path: PathLike,
    threshold_path: PathLike,
    image_path: PathLike,
    field_path: PathLike,
    factor: int,
    pixel_nm: float,
    picking_config: dict[str, Any],
    output: PathLike,
    log_path: PathLike,
    reading: dict[str, Any] | None = None,
    threads: int = 1,
) -> None:
    """Extract picks from one field; write (y_px, x_px, score, topaz_score) in the field's own
    pixels: ``score`` is the rescorer's log-odds where the picker has one (threshold.json),
    else Topaz's score.

    The threshold (on ``score``) comes from ``threshold_path`` (written with the picker) unless
    ``picking.threshold`` is a number. A picker trained at another picking pixel size stops.
    ``threads``: Topaz's scoring threads (``-j``).
    """
    calibration = io.read_json(threshold_path)
    trained_nm, picking_nm = calibration["picking_pixel_nm"], pixel_nm * factor
    if not np.isclose(trained_nm, picking_nm):
        raise ValueError(
            f"{model_path} was trained on fields of {trained_nm:g} nm pixels ({threshold_path}), "
            f"these are picked at {picking_nm:g} nm: set picking.pixel_nm to match, or retrain"
        )
    threshold = picking_config["threshold"]
    if threshold == "auto":
        threshold = calibration["threshold"]
    field, _ = io.read_field(field_path, pixel_nm, **(reading or {}))
    rescorer = calibration.get("rescorer")
    rescorer = picking.Rescorer.from_dict(rescorer) if rescorer else None
    picks = _picks(
        model_path, image_path, field, factor, pixel_nm, picking_config,
        rescorer.topaz_floor if rescorer else threshold, log_path, threads,
    )  # fmt: skip
    if rescorer:
        picks = rescorer.score(field, picks, _centriole_radius_px(picking_config, pixel_nm))
        picks = picks[picks["score"] >= threshold].reset_index(drop=True)
    else:
        picks = picks.assign(topaz_score=picks["score"])
    with open(log_path, "a") as handle:
        if picks.empty:
            handle.write(f"WARNING: no picks in {image_path} at score >= {threshold:.3f}\n")
        else:
            handle.write(f"{len(picks)} picks at score >= {threshold:.3f}\n")
    io.write_table(output, picks)


# --- patches and degradation ------------------------------------------------------------------


def extract_field_patches(
    image_path: PathLike,
    picks_path: PathLike,
    size_px: int,
    border: str,
    pixel_nm: float,
    output: PathLike,
    log_path: PathLike | None = None,
    reading: dict[str, Any] | None = None,
) -> None:
    """Crop patches around the picks of one field; save them with their centres."""
    with logging_to(log_path):
        image, _ = io.read_field(image_path, pixel_nm, **(reading or {}))
        picks = io.read_table(picks_path) if Path(picks_path).stat().st_size else pd.DataFrame()
        centres = picks[["y_px", "x_px"]].to_numpy() if len(picks) else np.zeros((0, 2))
        patches, kept = extract_patches(image, centres, size_px, border)  # type: ignore[arg-type]
        if len(patches) == 0:
            log.warning("%s: no patches (no picks inside the field)", image_path)
        log.info("%d of %d picks gave %d-pixel patches", len(patches), len(centres), size_px)
        save_patches(output, patches=patches, centres_yx_px=kept, pixel_nm=np.float64(pixel_nm))


def fit_bead_images(
    images: Sequence[PathLike],
    modality: str,
    optics: dict[str, Any],
    output: PathLike,
    figure_output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Fit every bead of one modality's bead images (2D or z-stacks) into one table, and draw
    the first image's beads and the fitted widths.

    Each row is one bead (`beads.fit_beads`), with its ``image``; the pixel size comes from
    the file, checked against the modality's in config.
    """
    from centriole_sr.figures import beads_figure

    with logging_to(log_path):
        optics_ = Optics(**optics)
        pixel_nm = getattr(optics_, f"{modality}_pixel_nm")
        tables, first = [], None
        for path in images:
            image, _ = io.read_field(path, pixel_nm, z_stack="stack")
            first = image if first is None else first
            table = beads.fit_beads(
                image,
                pixel_nm,
                sigma_guess_nm=paraxial_sigma_nm(optics_, modality),
                pixel_integrated=modality == "widefield",  # a camera integrates, a scan samples
                source=str(path),
            )
            log.info("%s: %d beads, %d accepted", path, len(table), table["accepted"].sum())
            tables.append(table.assign(image=Path(path).stem))
        table = pd.concat(tables, ignore_index=True)
        summary = beads.bead_sigma_nm(table, source=f"{modality} bead images")
        log.info("%s sigma %.1f nm (MAD %.1f nm, %d beads)", modality, summary["sigma_nm"],
                 summary["sigma_mad_nm"], summary["count"])  # fmt: skip
        io.write_table(output, table)
        shown = table[table["image"] == Path(images[0]).stem]
        beads_figure(first, shown, summary, f"{modality} {Path(images[0]).name}", figure_output)


def _calibration_data(
    fields: Sequence[PathLike],
    field_patches: Sequence[PathLike],
    confocal_patches: Sequence[PathLike],
    widefield_pixel_nm: float,
    reading: dict[str, Any],
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """(widefield field, its patches) pairs and the pooled confocal patches for noise."""
    widefield = [
        (io.read_field(field, widefield_pixel_nm, **reading)[0], load_patches(patches)["patches"])
        for field, patches in zip(fields, field_patches, strict=True)
    ]
    confocal = np.concatenate([load_patches(path)["patches"] for path in confocal_patches])
    if not any(len(patches) for _, patches in widefield) or not len(confocal):
        raise io.InputError(
            f"no patches to calibrate the noise on ({', '.join(map(str, field_patches))}); set "
            "degradation.peak_photons and degradation.read_noise_photons in config.yaml"
        )
    return widefield, confocal


def _microscope_sigma_nm(
    optics: Optics, modality: str, degradation: dict[str, Any], bead_table: PathLike | None
) -> tuple[float, dict[str, Any]]:
    """One microscope's PSF sigma (nm) from its ``degradation.sigma_source``, and the source."""
    source = degradation["sigma_source"][modality]
    if source == "beads":
        summary = beads.bead_sigma_nm(io.read_table(bead_table), source=str(bead_table))
        return summary["sigma_nm"], {"source": "beads", **summary}
    if source == "computed":
        defocus_nm = degradation["defocus_range_nm"]
        sigma = computed_sigma_nm(optics, modality, defocus_nm)
        return sigma, {"source": f"computed PSF, defocus range {defocus_nm:g} nm"}
    return paraxial_sigma_nm(optics, modality), {"source": "optics (paraxial)"}


def degradation_model(
    optics: dict[str, Any],
    degradation: dict[str, Any],
    bead_tables: dict[str, PathLike],
    calibration: dict[str, Sequence[PathLike]],
    reading: dict[str, Any],
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Write the whole degradation to sigma.json: every sigma (nm and pixels) with its source,
    the haze and the noise, each with the source of its value.

    Sigma per modality (``degradation.sigma_source``): "optics" (paraxial formulas),
    "computed" (vectorial PSF averaged over ``defocus_range_nm``) or "beads" (the median of
    ``bead_tables[modality]``). Haze "auto": the widefield PSF over the sample's thickness
    (`psf.widefield_haze`). Noise "auto": calibrated on ``calibration``'s widefield fields
    ("fields", "field_patches") against its confocal patches ("confocal_patches").
    """
    with logging_to(log_path):
        optics_ = Optics(**optics)
        sigma_nm, details = {}, {}
        for modality in ("widefield", "confocal"):
            sigma_nm[modality], details[modality] = _microscope_sigma_nm(
                optics_, modality, degradation, bead_tables.get(modality)
            )
        summary_source = ", ".join(f"{m}: {details[m]['source']}" for m in details)
        sigmas = {
            **sigma_table(optics_, sigma_nm["widefield"], sigma_nm["confocal"], summary_source),
            "sigma_sources": details,
            "confocal_pixel_nm": optics_.confocal_pixel_nm,
            "widefield_pixel_nm": optics_.widefield_pixel_nm,
        }
        thickness_nm = degradation["sample_thickness_nm"]
        haze = widefield_haze(optics_, thickness_nm)
        origins = {}
        for key in ("haze_fraction", "haze_sigma_nm"):
            auto = degradation[key] == "auto"
            sigmas[key] = haze[key] if auto else float(degradation[key])
            origins[key] = f"widefield PSF over {thickness_nm:g} nm" if auto else "config"
        noise_keys = ("peak_photons", "read_noise_photons")
        if calibrates_noise(degradation):
            widefield, confocal = _calibration_data(
                calibration["fields"], calibration["field_patches"],
                calibration["confocal_patches"], optics_.widefield_pixel_nm, reading,
            )  # fmt: skip
            noiseless = degradation_from({**sigmas, "peak_photons": 1.0, "read_noise_photons": 0})
            calibrated = dict(
                zip(noise_keys, calibrated_noise(widefield, confocal, noiseless), strict=True)
            )
            fields = ", ".join(Path(field).stem for field in calibration["fields"])
        for key in noise_keys:
            auto = degradation[key] == "auto"
            sigmas[key] = calibrated[key] if auto else float(degradation[key])
            origins[key] = f"calibrated on widefield {fields}" if auto else "config"
        sigmas["parameter_sources"] = origins
        log.info("%s", sigmas)
        io.write_json(output, sigmas)


def degrade_field_patches(
    patches_path: PathLike,
    sigma_path: PathLike,
    seed: int,
    field: str,
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Make (degraded input, confocal target) training pairs from one field's confocal patches."""
    with logging_to(log_path):
        params = degradation_from(io.read_json(sigma_path))
        patches = load_patches(patches_path)["patches"]
        inputs, targets = degrade_patches(patches, params, field_seed(seed, field))
        log.info("%d pairs with %s", len(inputs), params)
        save_patches(output, inputs=inputs, targets=targets)


def degradation_from(sigmas: dict[str, Any]) -> Degradation:
    """The degradation parameters written to sigma.json by :func:`degradation_model`."""
    return Degradation(
        sigma_px=sigmas["sigma_degradation_confocal_px"],
        scale=int(sigmas["scale"]),
        haze_fraction=sigmas["haze_fraction"],
        haze_sigma_px=sigmas["haze_sigma_nm"] / sigmas["confocal_pixel_nm"],
        peak_photons=sigmas["peak_photons"],
        read_noise_photons=sigmas["read_noise_photons"],
    )


# --- training and restoration -----------------------------------------------------------------


def load_pairs(paths: Sequence[PathLike]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the degraded pairs of several fields: (inputs, targets, field of each pair)."""
    inputs, targets, fields = [], [], []
    for path in paths:
        pairs = load_patches(path)
        inputs.append(pairs["inputs"])
        targets.append(pairs["targets"])
        fields += [Path(path).stem] * len(pairs["inputs"])
    return np.concatenate(inputs), np.concatenate(targets), np.asarray(fields)


def train_network(
    pair_paths: Sequence[PathLike],
    sigma_path: PathLike,
    training: dict[str, Any],
    threads: int,
    weights_output: PathLike,
    checkpoint_path: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Train the restoration network on every field's degraded pairs.

    Writes weights.pt, card.json and history.tsv beside ``weights_output``.
    """
    from centriole_sr.train import TrainParams, train_model

    with logging_to(log_path):
        inputs, targets, fields = load_pairs(pair_paths)
        sigmas = io.read_json(sigma_path)
        log.info("%d pairs from %d fields", len(inputs), len(set(fields)))
        if len(inputs) < 2:
            raise io.InputError(
                f"{len(inputs)} training pair(s) from {', '.join(map(str, pair_paths))}: the "
                "network needs at least 2; label more centrioles or lower picking.threshold"
            )
        params = TrainParams(**training, threads=threads)
        train_model(
            inputs,
            targets,
            fields,
            int(sigmas["scale"]),
            params,
            Path(weights_output).parent,
            checkpoint_path,
            log=log.info,
            card_extra={
                "confocal_pixel_nm": sigmas["confocal_pixel_nm"],
                "widefield_pixel_nm": sigmas["widefield_pixel_nm"],
                "sigma": sigmas,
            },
        )


def _progress_logger(what: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that logs each tenth with elapsed time and ETA."""
    start = time.perf_counter()
    logged_tenths = [0]

    def progress(done: int, total: int) -> None:
        tenths = 10 * done // total
        if tenths > logged_tenths[0]:
            logged_tenths[0] = tenths
            seconds = time.perf_counter() - start
            eta_s = seconds * (total - done) / done
            log.info("%s %d/%d (%.0f s, ETA %.0f s)", what, done, total, seconds, eta_s)

    return progress


def restore_field(
    image_path: PathLike,
    weights_path: PathLike,
    card_path: PathLike,
    pixel_nm: float,
    restoration: dict[str, Any],
    threads: int,
    output: PathLike,
    log_path: PathLike | None = None,
    reading: dict[str, Any] | None = None,
) -> None:
    """Restore one whole widefield field; write a TIFF at the confocal pixel size.

    The TIFF holds float32 on the normalised scale, or with ``output_dtype: input`` the
    input's pixel type on its intensity scale (see :func:`io.denormalize_percentile`).
    """
    import torch

    from centriole_sr.model import pick_device
    from centriole_sr.restore import check_pixel_size, load_model, restore_image

    torch.set_num_threads(threads)
    with logging_to(log_path):
        image, found_pixel_nm = io.read_field(image_path, pixel_nm, **(reading or {}))
        model, card = load_model(weights_path, card_path)
        check_pixel_size(card, found_pixel_nm)
        device = pick_device(restoration["device"], "restoration.device")
        scale = int(card["scale"])
        log.info("%s: %s on %s, %d threads", image_path, image.shape, device, threads)
        start = time.perf_counter()
        restored = restore_image(
            model,
            io.normalize_percentile(image),
            scale,
            tile_px=restoration["tile_px"],
            batch_size=restoration["batch_size"],
            device=device,
            progress=_progress_logger("tiles"),
        )
        if restoration["output_dtype"] == "input":
            restored = io.denormalize_percentile(restored, image, io.stored_dtype(image_path))
        io.write_tiff(output, restored, found_pixel_nm / scale)
        megapixels = image.size / 1e6
        seconds = time.perf_counter() - start
        log.info(
            "%s -> %s %s in %.1f s (%.2f s per input megapixel)",
            image.shape,
            restored.shape,
            restored.dtype,
            seconds,
            seconds / megapixels,
        )


def restore_field_patches(
    patches_path: PathLike,
    weights_path: PathLike,
    card_path: PathLike,
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Restore the widefield patches around the picks of one field; write a TIFF stack."""
    from centriole_sr.restore import load_model, restore_image

    with logging_to(log_path):
        data = load_patches(patches_path)
        model, card = load_model(weights_path, card_path)
        scale = int(card["scale"])
        size = data["patches"].shape[-1] * scale
        restored = [
            restore_image(model, io.normalize_percentile(patch), scale) for patch in data["patches"]
        ]
        stack = np.stack(restored) if restored else np.zeros((0, size, size), np.float32)
        io.write_tiff(output, stack, float(data["pixel_nm"]) / scale)
        log.info("%d patches restored", len(stack))


# --- evaluation -------------------------------------------------------------------------------


def evaluate_picking(
    pick_paths: Sequence[PathLike],
    truth_paths: Sequence[PathLike],
    fields: Sequence[str],
    image_path: PathLike,
    match_radius_px: float,
    pixel_nm: float,
    table_output: PathLike,
    figure_output: PathLike,
    log_path: PathLike | None = None,
    reading: dict[str, Any] | None = None,
    *,
    labelled: Sequence[str] = (),
    threshold_path: PathLike | None = None,
    curve_output: PathLike | None = None,
) -> None:
    """Precision, recall and F1 of the picks of every field against ground truth: one row per
    field, then ``held-out`` (the fields not in ``labelled``, which neither trained the picker
    nor chose its threshold) and ``all``. With ``threshold_path`` and ``curve_output``, the
    picker's precision-recall curve on its labelled fields is drawn too."""
    from centriole_sr.figures import picks_figure, precision_recall_figure

    with logging_to(log_path):
        rows = []
        for field, pick_path, truth_path in zip(fields, pick_paths, truth_paths, strict=True):
            picks, truth = io.read_table(pick_path), io.read_table(truth_path)
            scores = picking.match_picks(
                picks[["y_px", "x_px"]].to_numpy(),
                truth[["y_px", "x_px"]].to_numpy(),
                match_radius_px,
            )
            rows.append({"field": field, **scores})
        per_field = pd.DataFrame(rows)
        held_out = per_field[~per_field["field"].isin(labelled)]
        groups = ([("held-out", held_out)] if len(held_out) else []) + [("all", per_field)]
        totals = [
            {"field": name, **picking.pooled_scores(group.to_dict("records"))}
            for name, group in groups
        ]
        table = pd.concat([per_field, pd.DataFrame(totals)], ignore_index=True)
        log.info("\n%s", table.to_string(index=False))
        io.write_table(table_output, table)
        image, _ = io.read_field(image_path, pixel_nm, **(reading or {}))
        picks_figure(
            image,
            io.read_table(pick_paths[0]),
            io.read_table(truth_paths[0]),
            match_radius_px,
            f"{fields[0]}: Topaz picks against true centres, F1 {table.iloc[0]['f1']:.2f}",
            figure_output,
        )
        if threshold_path is not None and curve_output is not None:
            calibration = io.read_json(threshold_path)
            precision_recall_figure(
                pd.DataFrame(calibration["curve"], columns=picking.CURVE_COLUMNS),
                calibration["threshold"],
                totals[-1],
                f"picking at {match_radius_px * pixel_nm:g} nm",
                curve_output,
            )


def _noise_free_patches(
    fields: np.ndarray,
    clean_paths: Sequence[PathLike],
    patch_paths: Sequence[PathLike],
    size_px: int,
) -> np.ndarray | None:
    """The noise-free confocal patches at the centres of ``fields``' pairs, in their order.

    None unless every field has a noise-free image (demo) and a confocal patch table.
    """
    clean_by_field = {Path(path).stem: path for path in clean_paths}
    patches_by_field = {Path(path).stem: path for path in patch_paths}
    ordered = list(dict.fromkeys(fields.tolist()))
    if not all(f in clean_by_field and f in patches_by_field for f in ordered):
        return None
    stacks = []
    for field in ordered:
        image, _ = io.read_field(clean_by_field[field])
        centres = load_patches(patches_by_field[field])["centres_yx_px"]
        stacks.append(extract_patches(image, centres, size_px, "pad")[0])  # kept centres only
    return np.concatenate(stacks)


def evaluate_heldout(
    pair_paths: Sequence[PathLike],
    weights_path: PathLike,
    card_path: PathLike,
    sigma_path: PathLike,
    rl_candidates: Sequence[int],
    table_output: PathLike,
    rl_output: PathLike,
    log_path: PathLike | None = None,
    clean_paths: Sequence[PathLike] = (),
    patch_paths: Sequence[PathLike] = (),
) -> None:
    """Network, bicubic, Richardson-Lucy and Wiener on the validation fields' degraded pairs.

    Each is scored against the confocal patch (target "confocal"). Where noise-free
    confocal images of the fields exist (``clean_paths``, the demo; ``patch_paths`` give
    the patch centres), each is also scored against the noise-free patch (target
    "noise-free confocal"), and the noise-free patch itself against the confocal one
    (method "noise_free_confocal": the best any method can score there, as the target is
    noisy). Richardson-Lucy's iteration count is tuned on the best target available.
    """
    from centriole_sr import baselines
    from centriole_sr.metrics import restoration_metrics
    from centriole_sr.restore import load_model, restore_image

    with logging_to(log_path):
        model, card = load_model(weights_path, card_path)
        scale = int(card["scale"])
        sigma_px = io.read_json(sigma_path)["sigma_degradation_confocal_px"]
        inputs, targets, fields = load_pairs(pair_paths)
        held_out = np.isin(fields, card["training"]["val_fields"])
        inputs, targets, fields = inputs[held_out], targets[held_out], fields[held_out]
        log.info("%d held-out pairs from %s", len(inputs), sorted(set(fields)))
        clean = _noise_free_patches(fields, clean_paths, patch_paths, targets.shape[-1])
        references = {"confocal": targets}
        if clean is not None:
            references["noise-free confocal"] = clean
        log.info("scored against: %s", ", ".join(references))
        upsampled = np.stack([baselines.bicubic_upsample(x, scale) for x in inputs])
        tuning = clean if clean is not None else targets
        iterations = baselines.best_rl_iterations(upsampled, tuning, sigma_px, rl_candidates)
        log.info("Richardson-Lucy: best of %s is %d iterations", list(rl_candidates), iterations)
        methods = {
            "network": lambda i: restore_image(model, inputs[i], scale),
            "bicubic": lambda i: upsampled[i],
            "richardson_lucy": lambda i: baselines.richardson_lucy_gaussian(
                upsampled[i], sigma_px, iterations
            ),
            "wiener": lambda i: baselines.wiener_gaussian(upsampled[i], sigma_px, WIENER_BALANCE),
        }
        if clean is not None:
            methods["noise_free_confocal"] = lambda i: clean[i]
        rows = []
        for i in range(len(inputs)):
            for name, method in methods.items():
                prediction = method(i)
                for target_name, reference in references.items():
                    if name == "noise_free_confocal" and target_name != "confocal":
                        continue
                    rows.append(
                        {
                            "field": fields[i],
                            "pair": i,
                            "target": target_name,
                            "method": name,
                            **restoration_metrics(prediction, reference[i]),
                        }
                    )
        table = pd.DataFrame(rows)
        means = table.groupby(["target", "method"], sort=False)[["psnr_db", "ssim", "nrmse"]]
        log.info("\n%s", means.mean())
        io.write_table(table_output, table)
        io.write_json(rl_output, {"iterations": int(iterations), "candidates": list(rl_candidates)})


def evaluate_field(
    widefield_path: PathLike,
    restored_path: PathLike,
    picks_path: PathLike,
    sigma_path: PathLike,
    rl_path: PathLike,
    consistency_threshold_sigma: float,
    widefield_pixel_nm: float,
    confocal_pixel_nm: float,
    field: str,
    table_output: PathLike,
    gallery_output: PathLike,
    maps_output: PathLike,
    reference_path: PathLike | None = None,
    confocal_path: PathLike | None = None,
    log_path: PathLike | None = None,
    reading: dict[str, Any] | None = None,
) -> None:
    """Score one widefield field's restorations, with and without ground truth; draw them.

    Every image (widefield input, bicubic, Richardson-Lucy, Wiener, network, confocal
    acquisition where there is one) gets a decorrelation resolution at the widefield's
    noise level and, the restorations, a data-consistency check against the widefield
    input (:mod:`centriole_sr.quality`); with a reference image, also PSNR, SSIM and
    NRMSE (:mod:`centriole_sr.metrics`). ``reading`` (channel, z_stack) applies to the
    widefield field and the confocal images.
    """
    from centriole_sr import baselines
    from centriole_sr.figures import gallery_figure, maps_figure, method_label
    from centriole_sr.metrics import compare
    from centriole_sr.quality import data_consistency, decorrelation_resolution_nm, noise_sd

    with logging_to(log_path):
        widefield, _ = io.read_field(widefield_path, widefield_pixel_nm, **(reading or {}))
        restored, _ = io.read_field(restored_path, confocal_pixel_nm)
        sigmas = io.read_json(sigma_path)
        params = degradation_from(sigmas)
        scale = int(sigmas["scale"])
        iterations = int(io.read_json(rl_path)["iterations"])
        bicubic = baselines.bicubic_upsample(io.normalize_percentile(widefield), scale)
        sigma_px = sigmas["sigma_degradation_confocal_px"]
        images = {
            "bicubic": bicubic,
            "richardson_lucy": baselines.richardson_lucy_gaussian(bicubic, sigma_px, iterations),
            "wiener": baselines.wiener_gaussian(bicubic, sigma_px, WIENER_BALANCE),
            "network": restored,
        }
        if confocal_path is not None:
            images["confocal_acquisition"] = io.read_field(
                confocal_path, confocal_pixel_nm, **(reading or {})
            )[0]
        reference = None
        if reference_path is not None:
            reference = io.read_field(reference_path, confocal_pixel_nm, **(reading or {}))[0]
        # The widefield's noise, per confocal pixel (a pixel scale**2 times smaller collects
        # scale**2 times fewer photons), is every image's floor for decorrelation analysis.
        floor_sd = noise_sd(widefield) * scale
        rows = [
            {
                "field": field,
                "method": "widefield_input",
                "resolution_nm": decorrelation_resolution_nm(widefield, widefield_pixel_nm),
            }
        ]
        consistency, errors = {}, {}
        for method, image in images.items():
            row: dict[str, Any] = {
                "field": field,
                "method": method,
                "resolution_nm": decorrelation_resolution_nm(image, confocal_pixel_nm, floor_sd),
            }
            if method in RESTORATIONS:
                check = data_consistency(
                    image, widefield, params, threshold_sigma=consistency_threshold_sigma
                )
                consistency[method] = check
                row.update(
                    consistency_rse=check.rse,
                    consistency_rsp=check.rsp,
                    invented_area_fraction=check.invented_area_fraction,
                    invented_regions=check.invented_regions,
                )
            if reference is not None:
                metrics, error_map, ssim_map = compare(image, reference)
                row.update(metrics)
                errors[method] = (error_map, ssim_map)
            rows.append(row)
        table = pd.DataFrame(rows, columns=FIELD_COLUMNS).astype({"invented_regions": "Int64"})
        if reference is None:
            log.warning("%s: no reference image; PSNR, SSIM and NRMSE left empty", field)
        log.info("\n%s", table.to_string(index=False))
        io.write_table(table_output, table)
        picks = io.read_table(picks_path)
        if picks.empty:
            log.warning("%s: no picks; the gallery has no insets", field)
        resolution_nm = table.set_index("method")["resolution_nm"]

        def title(method: str) -> str:
            label, resolution = method_label(method, iterations), resolution_nm[method]
            return f"{label}\n{resolution:.0f} nm" if np.isfinite(resolution) else label

        panels = {title(method): image for method, image in images.items()}
        if reference is not None:
            panels[method_label("reference")] = reference
            # what the check makes of the truth: how far the degradation model is from the data
            consistency["reference"] = data_consistency(
                reference, widefield, params, threshold_sigma=consistency_threshold_sigma
            )
        note = "" if reference is not None else "no reference image: no PSNR/SSIM"
        gallery_figure(panels, picks, scale, confocal_pixel_nm, field, gallery_output, note=note)
        maps_figure(
            {method_label(m, iterations): c for m, c in consistency.items()},
            {method_label(m, iterations): e for m, e in errors.items()},
            consistency_threshold_sigma,
            field,
            maps_output,
        )


RESTORATIONS = ("bicubic", "richardson_lucy", "wiener", "network")
"""Images made from the widefield field, whose consistency with it is checked."""
FIELD_COLUMNS = [
    "field",
    "method",
    "psnr_db",
    "ssim",
    "nrmse",
    "resolution_nm",
    "consistency_rse",
    "consistency_rsp",
    "invented_area_fraction",
    "invented_regions",
]
"""Columns of results/evaluation/fields/<field>.csv, in order (documented in README)."""
SUMMARY_METRICS = FIELD_COLUMNS[2:]


HELDOUT_DATASETS = {
    "confocal": "held-out degraded pairs",
    "noise-free confocal": "held-out degraded pairs, noise-free target",
}
"""The summary's data set name of each target of the held-out table."""


def summarize(
    field_paths: Sequence[PathLike],
    heldout_path: PathLike,
    history_path: PathLike,
    table_output: PathLike,
    figure_output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """One summary table (mean metrics per method and data set) and its figure."""
    from centriole_sr.figures import summary_figure

    with logging_to(log_path):
        fields = pd.concat([io.read_table(path) for path in field_paths], ignore_index=True)
        heldout = io.read_table(heldout_path)
        parts = [
            heldout[heldout["target"] == target].assign(dataset=dataset)
            for target, dataset in HELDOUT_DATASETS.items()
        ]
        parts.append(fields.assign(dataset="widefield fields"))
        combined = pd.concat(parts, ignore_index=True).reindex(
            columns=["dataset", "method", *SUMMARY_METRICS]
        )
        summary = (
            combined.groupby(["dataset", "method"], sort=False)[SUMMARY_METRICS]
            .agg(["mean", "std", "count"])
            .reset_index()
        )
        summary.columns = [
            "_".join(c for c in column if c) if isinstance(column, tuple) else column
            for column in summary.columns
        ]
        log.info("\n%s", summary.to_string(index=False))
        io.write_table(table_output, summary)
        summary_figure(summary, io.read_table(history_path), figure_output)


def domain_gap(
    pair_paths: Sequence[PathLike],
    widefield_patch_paths: Sequence[PathLike],
    widefield_pixel_nm: float,
    json_output: PathLike,
    figure_output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Compare every degraded confocal patch with every real widefield patch: a number
    (:func:`centriole_sr.quality.domain_gap`, written as JSON) and a figure."""
    from centriole_sr.figures import domain_gap_figure, message_figure
    from centriole_sr.quality import domain_gap as measure_gap
    from centriole_sr.quality import radial_power_spectrum

    with logging_to(log_path):
        degraded, _, _ = load_pairs(pair_paths)
        widefield = [load_patches(path)["patches"] for path in widefield_patch_paths]
        widefield = np.concatenate(widefield) if widefield else np.zeros((0, 1, 1))
        if len(degraded) == 0 or len(widefield) == 0:
            message = (
                f"no domain gap: {len(degraded)} degraded confocal and {len(widefield)} "
                "widefield patches (check the picks of the modality without any)"
            )
            log.warning(message)
            io.write_json(json_output, {"degraded_patches": len(degraded),
                                        "widefield_patches": len(widefield)})  # fmt: skip
            message_figure(message, figure_output)
            return
        gap = measure_gap(degraded, widefield)
        log.info("%s", gap)
        io.write_json(json_output, gap)
        frequency, power_degraded = radial_power_spectrum(degraded)
        _, power_widefield = radial_power_spectrum(widefield)
        frequency_per_um = frequency * 1000.0 / widefield_pixel_nm
        domain_gap_figure(frequency_per_um, power_degraded, power_widefield, gap, figure_output)


def degradation_examples(
    pairs_path: PathLike,
    widefield_patches_path: PathLike,
    output: PathLike,
    log_path: PathLike | None = None,
) -> None:
    """Draw degraded confocal patches beside real widefield patches, for the eye."""
    from centriole_sr.figures import degradation_figure

    with logging_to(log_path):
        pairs = load_patches(pairs_path)
        widefield = load_patches(widefield_patches_path)["patches"]
        degradation_figure(pairs["targets"], pairs["inputs"], widefield, output)
