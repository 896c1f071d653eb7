"""Metrics against ground truth and baselines; the figures and tables of the report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from centriole_sr import grid, io, picking
from centriole_sr.degrade import Degradation, working_pixel_nm
from centriole_sr.logs import logging_to
from centriole_sr.patches import load_pairs, load_patches
from centriole_sr.settings import Reading
from centriole_sr.trust import relative

PathLike = str | os.PathLike


def evaluate_picking(
    *,
    picks: Sequence[PathLike],
    truth: Sequence[PathLike],
    fields: Sequence[str],
    image: PathLike,
    match_radius_px: float,
    pixel_nm: float,
    reading: Reading,
    labelled: Sequence[str] = (),
    threshold: PathLike | None = None,
    table: PathLike,
    figure: PathLike,
    curve: PathLike | None = None,
    log: PathLike | None = None,
) -> None:
    """Precision, recall and F1 of the picks of every field against ground truth: one row per
    field, then ``held-out`` (the fields not in ``labelled``, which neither trained the picker
    nor chose its threshold) and ``all``. ``figure`` draws the first field (``image``); with
    ``threshold`` (threshold.json) and ``curve``, the picker's precision-recall curve on its
    labelled fields is drawn too."""
    from centriole_sr.figures import picks_figure, precision_recall_figure

    with logging_to(log) as logger:
        rows = []
        for field, pick_path, truth_path in zip(fields, picks, truth, strict=True):
            found, true = io.read_table(pick_path), io.read_table(truth_path)
            scores = picking.match_picks(
                found[["y_px", "x_px"]].to_numpy(),
                true[["y_px", "x_px"]].to_numpy(),
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
        scored = pd.concat([per_field, pd.DataFrame(totals)], ignore_index=True)
        logger.info("\n%s", scored.to_string(index=False))
        io.write_table(table, scored)
        field_yx, _ = io.read_field(image, pixel_nm, **vars(reading))
        picks_figure(
            field_yx,
            io.read_table(picks[0]),
            io.read_table(truth[0]),
            match_radius_px,
            f"{fields[0]}: Topaz picks against true centres, F1 {scored.iloc[0]['f1']:.2f}",
            figure,
        )
        if threshold is not None and curve is not None:
            calibration = io.read_json(threshold)
            precision_recall_figure(
                pd.DataFrame(calibration["curve"], columns=picking.CURVE_COLUMNS),
                calibration["threshold"],
                totals[0],
                f"picking at {match_radius_px * pixel_nm:g} nm",
                curve,
                evaluated_on=f"{totals[0]['field']} fields",
            )


def _noise_free_patches(
    fields: np.ndarray,
    clean_paths: Sequence[PathLike],
    pair_paths: Sequence[PathLike],
    degradation_model: dict,
) -> np.ndarray | None:
    """The noise-free confocal crops of ``fields``' pick-centred pairs, in their order, on
    the working grid of the ``degradation_model`` (model.json) as the pairs' targets are.

    None unless every field has a noise-free image (the demo).
    """
    clean_by_field = {Path(path).stem: path for path in clean_paths}
    pairs_by_field = {Path(path).stem: path for path in pair_paths}
    ordered = list(dict.fromkeys(fields.tolist()))
    if not all(f in clean_by_field for f in ordered):
        return None
    stacks = []
    for field in ordered:
        image, _ = io.read_field(clean_by_field[field])
        image = grid.resample(
            image, degradation_model["confocal_pixel_nm"], working_pixel_nm(degradation_model)
        )
        pairs = load_patches(pairs_by_field[field])
        fine_px = pairs["targets"].shape[-1]
        scale = fine_px // pairs["inputs"].shape[-1]
        stacks += [
            image[top * scale : top * scale + fine_px, left * scale : left * scale + fine_px]
            for top, left in pairs["origins_yx_px"]
        ]
    return np.stack(stacks).astype(np.float32)


def evaluate_heldout(
    *,
    pairs: Sequence[PathLike],
    weights: PathLike,
    card: PathLike,
    model: PathLike,
    rl_candidates: Sequence[int],
    clean: Sequence[PathLike] = (),
    table: PathLike,
    rl_iterations: PathLike,
    log: PathLike | None = None,
) -> None:
    """Network, bicubic, Richardson-Lucy and Wiener on the validation fields' degraded pairs.

    Each is scored against the confocal patch (target "confocal"). Where noise-free confocal
    images of the fields exist (``clean``, the demo), each
    is also scored against the noise-free patch (target "noise-free confocal"), and the
    noise-free patch itself against the confocal one (method "noise_free_confocal": the best
    any method can score there, as the target is noisy). Richardson-Lucy's iteration count is
    chosen from ``rl_candidates`` on the best target available and written to ``rl_iterations``.
    """
    from centriole_sr import baselines
    from centriole_sr.metrics import restoration_metrics
    from centriole_sr.restore import load_model, restore_image

    with logging_to(log) as logger:
        network, model_card = load_model(weights, card)
        scale = int(model_card["scale"])
        degradation_model = io.read_json(model)
        sigma_px = Degradation.from_model(degradation_model).sigma_px
        inputs, targets, fields = load_pairs(pairs)
        held_out = np.isin(fields, model_card["training"]["val_fields"])
        inputs, targets, fields = inputs[held_out], targets[held_out], fields[held_out]
        logger.info("%d held-out pairs from %s", len(inputs), sorted(set(fields)))
        noise_free = _noise_free_patches(fields, clean, pairs, degradation_model)
        references = {"confocal": targets}
        if noise_free is not None:
            references["noise-free confocal"] = noise_free
        logger.info("scored against: %s", ", ".join(references))
        upsampled = np.stack([baselines.bicubic_upsample(x, scale) for x in inputs])
        tuning = noise_free if noise_free is not None else targets
        iterations = baselines.best_rl_iterations(upsampled, tuning, sigma_px, rl_candidates)
        logger.info("Richardson-Lucy: best of %s is %d iterations", list(rl_candidates),
                    iterations)  # fmt: skip
        rows = []
        for i in range(len(inputs)):
            predictions = {
                "network": restore_image(network, inputs[i], scale),
                **baselines.classical_restorations(upsampled[i], sigma_px, iterations),
            }
            if noise_free is not None:
                predictions["noise_free_confocal"] = noise_free[i]
            for name, prediction in predictions.items():
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
        scored = pd.DataFrame(rows)
        means = scored.groupby(["target", "method"], sort=False)[["psnr_db", "ssim", "nrmse"]]
        logger.info("\n%s", means.mean())
        io.write_table(table, scored)
        io.write_json(
            rl_iterations, {"iterations": int(iterations), "candidates": list(rl_candidates)}
        )


def evaluate_field(
    *,
    widefield: PathLike,
    restored: PathLike,
    trust: PathLike,
    picks: PathLike | None,
    model: PathLike,
    rl_iterations: PathLike,
    field: str,
    widefield_pixel_nm: float,
    confocal_pixel_nm: float,
    consistency_threshold_sigma: float,
    region_radius_nm: float,
    reading: Reading,
    reference: PathLike | None = None,
    confocal: PathLike | None = None,
    table: PathLike,
    gallery: PathLike,
    maps: PathLike,
    log: PathLike | None = None,
) -> None:
    """Score one widefield field's restorations, with and without ground truth; draw them.

    The network's restoration (``restored``, with its ``trust`` map), bicubic,
    Richardson-Lucy and Wiener of the ``widefield`` field, and the ``confocal`` acquisition
    where there is one, are scored by
    :func:`centriole_sr.scoring.score_field` (against ``reference`` where given, also over
    discs of ``region_radius_nm`` around the ``picks`` and the background; None where the
    widefield is not picked: no regions) into ``table``;
    ``gallery`` and ``maps`` draw them. ``reading`` applies to the widefield field and the
    confocal images.
    """
    from centriole_sr import baselines
    from centriole_sr.figures import gallery_figure, maps_figure, method_label
    from centriole_sr.scoring import score_field

    with logging_to(log) as logger:
        widefield_yx, _ = io.read_field(widefield, widefield_pixel_nm, **vars(reading))
        network_yx, _ = io.read_field(restored, confocal_pixel_nm)
        trust_yx = relative(tifffile.imread(trust), network_yx)
        degradation_model = io.read_json(model)
        degradation = Degradation.from_model(degradation_model)
        iterations = int(io.read_json(rl_iterations)["iterations"])
        upsampled = baselines.bicubic_upsample(
            io.normalize_percentile(widefield_yx), degradation.scale
        )
        working_nm = working_pixel_nm(degradation_model)
        classical = baselines.classical_restorations(upsampled, degradation.sigma_px, iterations)
        images = {  # on the confocal grid, as the network's restoration is
            **{method: grid.resample(image, working_nm, confocal_pixel_nm, network_yx.shape)
               for method, image in classical.items()},
            "network": network_yx,
        }  # fmt: skip
        if confocal is not None:
            images["confocal_acquisition"] = io.read_field(
                confocal, confocal_pixel_nm, **vars(reading)
            )[0]
        reference_yx = None
        if reference is not None:
            reference_yx = io.read_field(reference, confocal_pixel_nm, **vars(reading))[0]
        # the restoration covers whole widefield pixels only: every image is cut to the area
        # all of them cover (the same origin, so the same grid)
        shapes = [image.shape for image in images.values()]
        if reference_yx is not None:
            shapes.append(reference_yx.shape)
        height, width = np.min(shapes, axis=0)
        images = {method: image[:height, :width] for method, image in images.items()}
        if reference_yx is not None:
            reference_yx = reference_yx[:height, :width]
        field_picks = (
            io.read_table(picks) if picks is not None else pd.DataFrame(columns=["y_px", "x_px"])
        )
        centres = grid.to_grid_px(  # widefield pixel centres -> confocal pixels
            field_picks[["y_px", "x_px"]].to_numpy(float).reshape(-1, 2), widefield_pixel_nm,
            confocal_pixel_nm,
        )  # fmt: skip
        scores = score_field(
            field, widefield_yx, images, degradation, widefield_pixel_nm, confocal_pixel_nm,
            consistency_threshold_sigma, reference_yx, centres,
            region_radius_nm / confocal_pixel_nm, trust_yx,
        )  # fmt: skip
        if reference_yx is None:
            logger.warning("%s: no reference image; PSNR, SSIM and NRMSE left empty", field)
        logger.info("\n%s", scores.table.to_string(index=False))
        io.write_table(table, scores.table)
        if field_picks.empty:
            logger.warning("%s: no picks; no centriole regions, and the gallery has no insets",
                           field)  # fmt: skip
        resolution_nm = scores.table.set_index("method")["resolution_nm"]

        def title(method: str) -> str:
            label, resolution = method_label(method, iterations), resolution_nm[method]
            return f"{label}\n{resolution:.0f} nm" if np.isfinite(resolution) else label

        panels = {title(method): image for method, image in images.items()}
        if reference_yx is not None:
            panels[method_label("reference")] = reference_yx
        note = "" if reference_yx is not None else "no reference image: no PSNR/SSIM"
        gallery_figure(
            panels,
            field_picks,
            widefield_pixel_nm / confocal_pixel_nm,
            confocal_pixel_nm,
            field,
            gallery,
            note=note,
        )
        maps_figure(
            {method_label(m, iterations): c for m, c in scores.consistency.items()},
            {method_label(m, iterations): e for m, e in scores.errors.items()},
            consistency_threshold_sigma,
            field,
            maps,
            trust_map=trust_yx,
            network=method_label("network", iterations),
        )


def summarize(
    *,
    fields: Sequence[PathLike],
    heldout: PathLike,
    history: PathLike,
    domain_gap: PathLike,
    model: PathLike,
    restored: Sequence[PathLike],
    trust: Sequence[PathLike],
    domain_gap_warning_db: float,
    summary: PathLike,
    figure: PathLike,
    verdict: PathLike,
    verdict_figure: PathLike,
    log: PathLike | None = None,
) -> None:
    """One summary table (mean metrics per method and data set) and its figure; the verdict
    (:func:`centriole_sr.verdict.verdict`) as a table of the network's margins and as the
    report's first figure, with the most and least trusted of the ``restored`` fields."""
    from centriole_sr import figures
    from centriole_sr import verdict as judged
    from centriole_sr.scoring import summary_table

    with logging_to(log) as logger:
        per_field = pd.concat([io.read_table(path) for path in fields], ignore_index=True)
        table = summary_table(per_field, io.read_table(heldout))
        logger.info("\n%s", table.to_string(index=False))
        io.write_table(summary, table)
        figures.summary_figure(table, io.read_table(history), figure)
        calibration = io.read_json(model).get("calibration", {})
        found = judged.verdict(table, per_field, io.read_json(domain_gap), calibration,
                      domain_gap_warning_db)  # fmt: skip
        for warning in found.warnings:
            logger.warning("%s", warning)
        io.write_table(verdict, found.margins)
        images = {Path(r).stem: (r, t) for r, t in zip(restored, trust, strict=True)}
        ranked = [name for name in found.trust["field"] if name in images]
        shown = list(dict.fromkeys(ranked[:1] + ranked[-1:]))
        trusted = {}
        for name in shown:
            restored_yx = tifffile.imread(images[name][0]).astype(np.float32)
            trusted[name] = (restored_yx, relative(tifffile.imread(images[name][1]), restored_yx))
        judged.verdict_figure(found, trusted, verdict_figure)
