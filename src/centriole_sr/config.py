"""Checks of the configuration beyond its JSON schema, and the labels table."""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

import pandas as pd

from centriole_sr.io import InputError, field_shape_yx, read_table

LABEL_COLUMNS = ("field", "x_px", "y_px")
log = logging.getLogger("centriole_sr.config")


def check_config(config: dict[str, Any]) -> None:
    """Raise InputError naming the key when settings contradict each other."""
    optics = config["optics"]
    if optics["numerical_aperture"] >= optics["refractive_index"]:
        raise InputError(
            f"optics.numerical_aperture ({optics['numerical_aperture']}) must be smaller than "
            f"optics.refractive_index ({optics['refractive_index']})"
        )
    ratio = optics["widefield_pixel_nm"] / optics["confocal_pixel_nm"]
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-6:
        raise InputError(
            f"optics.widefield_pixel_nm / optics.confocal_pixel_nm = {ratio:.4g} must be a whole "
            "number >= 1; choose pixel sizes with an integer ratio"
        )
    size = config["patches"]["size_px"]
    if size % (round(ratio) * 4):
        raise InputError(
            f"patches.size_px ({size}) must be a multiple of 4 x the pixel-size ratio "
            f"({round(ratio)}), e.g. {round(ratio) * 4 * max(1, size // (round(ratio) * 4))}"
        )
    demo = config["demo"]
    if demo["enabled"] and demo["labelled_fields"] > demo["confocal_fields"]:
        raise InputError(
            f"demo.labelled_fields ({demo['labelled_fields']}) exceeds demo.confocal_fields "
            f"({demo['confocal_fields']})"
        )
    if not demo["enabled"]:
        for modality in bead_modalities(config):
            folder = config["degradation"]["beads"].get(modality) or ""
            if not bead_images(config, modality):
                raise InputError(
                    f"degradation.beads.{modality}: no bead images (*.tif) in '{folder}', and "
                    f"degradation.sigma_source.{modality} is beads; point it to a folder of "
                    "bead TIFFs or choose optics or computed"
                )
        for key in ("confocal", "widefield", "labels"):
            path = config["inputs"].get(key)
            if not path or not os.path.exists(path):
                raise InputError(
                    f"inputs.{key}: '{path}' does not exist; set it in config.yaml "
                    "or turn demo.enabled on"
                )


def bead_modalities(config: dict[str, Any]) -> list[str]:
    """The modalities whose PSF width comes from bead images."""
    sources = config["degradation"]["sigma_source"]
    return [modality for modality in ("confocal", "widefield") if sources[modality] == "beads"]


def bead_images(config: dict[str, Any], modality: str) -> list[str]:
    """The bead TIFFs in ``degradation.beads.<modality>`` (none when it is unset), sorted."""
    folder = config["degradation"]["beads"].get(modality) or ""
    return sorted(glob.glob(os.path.join(folder, "*.tif"))) if folder else []


def read_labels(
    path: str | os.PathLike, fields: dict[str, list[str]], *, strict: bool = True
) -> pd.DataFrame:
    """Read clicked centres (field, x_px, y_px[, modality]); CSV or TSV, x = column.

    Without a modality column a label applies to every modality that has the field.
    Labels naming a field that no modality of ``fields`` has stop with an error naming them;
    with ``strict=False`` they are left out (for reading the labels of a few fields only).
    """
    table = read_table(path)
    missing = [column for column in LABEL_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected field, x_px, y_px "
            "and optionally modality"
        )
    table = _complete_rows(table, path)
    if table.empty:
        raise InputError(f"{path}: no labels; click a few centrioles per field (Fiji or napari)")
    table["field"] = table["field"].astype(str)
    if "modality" in table.columns:
        pairs = list(zip(table["modality"], table["field"], strict=True))
        known = [name in fields.get(modality, ()) for modality, name in pairs]
        unknown = sorted({f"{m}/{n}" for (m, n), ok in zip(pairs, known, strict=True) if not ok})
        table = table[known]
    else:
        every_field = {name for names in fields.values() for name in names}
        unknown = sorted(set(table["field"]) - every_field)
        table = pd.concat(
            [
                table[table["field"].isin(names)].assign(modality=modality)
                for modality, names in fields.items()
            ],
            ignore_index=True,
        )
    if unknown and strict:
        raise InputError(f"{path}: labels name unknown field(s): {', '.join(unknown)}")
    return table[["field", "modality", "x_px", "y_px"]].reset_index(drop=True)


def _complete_rows(table: pd.DataFrame, path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a labels table with a field and both coordinates. Blank rows (no field, no
    coordinate: trailing separators, spreadsheet leftovers) are dropped with a warning; a row
    with only some of them stops, naming it."""
    values = table[list(LABEL_COLUMNS)]
    present = values.notna() & (values.astype(str).apply(lambda c: c.str.strip()) != "")
    blank = ~present.any(axis=1)
    if blank.any():
        rows = ", ".join(str(index + 1) for index in table.index[blank][:10])
        log.warning("%s: %d blank row(s) dropped (row %s after the header)", path,
                    int(blank.sum()), rows)  # fmt: skip
    partial = ~blank & ~present.all(axis=1)
    if partial.any():
        index = table.index[partial][0]
        missing = [c for c in LABEL_COLUMNS if not present.loc[index, c]]
        shown = ", ".join(
            f"{k} {v:g}" if isinstance(v, int | float) else f"{k} {v}"
            for k, v in values.loc[index].items()
            if present.loc[index, k]
        )
        raise InputError(
            f"{path}: row {index + 1} after the header ({shown}) has no "
            f"{' and no '.join(missing)}; complete the row or delete it"
        )
    return table[~blank].reset_index(drop=True)


def labelled_fields_by_modality(
    path: str | os.PathLike, fields: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The fields that carry labels, per modality, in the order of ``fields``."""
    labels = read_labels(path, fields)
    labelled = {}
    for modality, names in fields.items():
        present = set(labels.loc[labels["modality"] == modality, "field"])
        labelled[modality] = [name for name in names if name in present]
        if not labelled[modality]:
            raise InputError(f"{path}: no labels for any {modality} field; click a few centrioles")
    return labelled


def check_labels_inside(
    path: str | os.PathLike, images: dict[str, dict[str, str | os.PathLike]]
) -> None:
    """Stop naming the labels whose (x, y) lie outside their field (``images``: the image file
    of each field, per modality)."""
    fields = {modality: list(paths) for modality, paths in images.items()}
    labels = read_labels(path, fields)
    outside = []
    for (modality, field), rows in labels.groupby(["modality", "field"], sort=True):
        height, width = field_shape_yx(images[modality][field])
        inside = rows["x_px"].between(0, width, inclusive="left") & rows["y_px"].between(
            0, height, inclusive="left"
        )
        outside += [
            f"{modality}/{field} x {x:g}, y {y:g} (field {width} x {height} px)"
            for x, y in rows.loc[~inside, ["x_px", "y_px"]].itertuples(index=False)
        ]
    if outside:
        shown = "; ".join(outside[:5]) + (
            f"; and {len(outside) - 5} more" if len(outside) > 5 else ""
        )
        raise InputError(
            f"{path}: label(s) outside their field: {shown}. Coordinates are pixels of the "
            "field itself, x the column and y the row, from 0"
        )
