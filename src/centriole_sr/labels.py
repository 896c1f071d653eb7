"""Clicked centriole centres, as users have them: one table, or one file per field.

``inputs.labels`` is either

- one CSV/TSV table with columns ``field``, ``x_px``, ``y_px`` and optionally ``modality``
  (x is the column, y the row, in pixels of the field, from 0), or
- a folder of one file per field, named after the field (``<field>.csv``, ``.tsv`` or
  ``.txt``); files in its ``confocal/`` and ``widefield/`` subfolders label that modality only,
  files at its top every modality that has the field. A file is any of: a table with ``x_px``,
  ``y_px``; the CSV of a napari points layer (``index, axis-0, axis-1``: y then x, in the
  layer's data pixels; the last two axes of a 3D layer); Fiji's Results table of a multi-point
  selection measured (``X``, ``Y``, in pixels or, measured on a calibrated image, in the
  calibrated unit given by ``inputs.label_unit``).

Labels without a modality apply to every modality that has the field.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd

from centriole_sr.io import InputError, field_shape_yx, read_table

PathLike = str | os.PathLike
LabelUnit = Literal["px", "um", "nm"]
LABEL_COLUMNS = ("field", "x_px", "y_px")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
MODALITIES = ("confocal", "widefield")
NM_PER_UNIT = {"um": 1000.0, "nm": 1.0}
log = logging.getLogger("centriole_sr.labels")


def label_files(path: PathLike) -> list[Path]:
    """The files labels are read from: the table itself, or a folder's per-field files."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    found = [
        file
        for folder in (path, *(path / m for m in MODALITIES))
        if folder.is_dir()
        for file in sorted(folder.iterdir())
        if file.is_file() and file.name.lower().endswith(TABLE_SUFFIXES)
    ]
    if not found:
        raise InputError(
            f"{path}: no label files (<field>.csv, .tsv or .txt, at the top or in confocal/ "
            "and widefield/); click a few centrioles per field in Fiji or napari and save "
            "their points there"
        )
    return found


def read_labels(
    path: PathLike,
    fields: Mapping[str, list[str]],
    *,
    unit: LabelUnit = "px",
    pixel_nm: Mapping[str, float] | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """The clicked centres of ``fields`` (names per modality) as (field, modality, x_px, y_px).

    ``path``: a table or a folder of per-field files (see the module). ``unit``: that of Fiji's
    ``X``, ``Y`` columns, converted with the modality's ``pixel_nm``. Labels naming a field no
    modality of ``fields`` has stop, naming them; with ``strict=False`` they are left out (to
    read the labels of a few fields only).
    """
    path = Path(path)
    if path.is_dir():
        table = pd.concat([_per_field_file(f, path) for f in label_files(path)], ignore_index=True)
    else:
        table = _single_table(path)
    if table.empty:
        raise InputError(f"{path}: no labels; click a few centrioles per field (Fiji or napari)")
    given = table["modality"].notna()
    known = [
        field in fields.get(modality, ())
        for modality, field in zip(
            table.loc[given, "modality"], table.loc[given, "field"], strict=True
        )
    ]
    every_field = {name for names in fields.values() for name in names}
    unknown = {
        f"{m}/{f}"
        for m, f, ok in zip(
            table.loc[given, "modality"], table.loc[given, "field"], known, strict=True
        )
        if not ok
    }
    unknown |= set(table.loc[~given, "field"]) - every_field
    labels = pd.concat(
        [
            table[given][known],
            *(
                table[~given & table["field"].isin(names)].assign(modality=modality)
                for modality, names in fields.items()
            ),
        ],
        ignore_index=True,
    )
    if unknown and strict:
        names = sorted(unknown)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        examples = ", ".join(sorted(every_field)[:3]) or "none"
        raise InputError(
            f"{path}: labels name unknown field(s): {shown}. A field is named after its file "
            f"without the image ending (the fields here: {examples}, ...)"
        )
    calibrated = labels["calibrated"].to_numpy(bool)
    if calibrated.any() and unit != "px":
        scale = labels["modality"].map(lambda m: NM_PER_UNIT[unit] / (pixel_nm or {})[m])
        labels.loc[calibrated, ["x_px", "y_px"]] = labels.loc[calibrated, ["x_px", "y_px"]].mul(
            scale[calibrated], axis=0
        )
    return labels[["field", "modality", "x_px", "y_px"]].reset_index(drop=True)


def _single_table(path: Path) -> pd.DataFrame:
    """One table of every field's labels: field, x_px, y_px[, modality]."""
    table = read_table(path)
    if "field" not in table.columns:
        raise InputError(
            f"{path}: no 'field' column; a single labels table has columns field, x_px, y_px "
            "and optionally modality. Files of one field each (napari or Fiji points) go in a "
            "folder, named after their fields: set inputs.labels to that folder"
        )
    return _centres(table, path, field=None, modality=None)


def _per_field_file(file: Path, root: Path) -> pd.DataFrame:
    """The labels of one field's file: the field is its name, the modality its subfolder's."""
    modality = file.parent.name if file.parent != root else None
    return _centres(read_table(file), file, field=file.name[: -len(file.suffix)], modality=modality)


def _centres(
    table: pd.DataFrame, path: Path, *, field: str | None, modality: str | None
) -> pd.DataFrame:
    """(field, modality, x_px, y_px, calibrated) from a table of any known layout; blank rows
    (no field, no coordinate) are dropped with a warning; a row with only some stops."""
    axes = sorted((c for c in table.columns if re.fullmatch(r"axis-\d+", str(c))),
                  key=lambda c: int(c.split("-")[1]))  # fmt: skip
    if {"x_px", "y_px"} <= set(table.columns):
        x, y, calibrated = "x_px", "y_px", False
    elif len(axes) >= 2:
        y, x, calibrated = axes[-2], axes[-1], False
    elif {"X", "Y"} <= set(table.columns):
        x, y, calibrated = "X", "Y", True
    else:
        raise InputError(
            f"{path}: no coordinate columns (found {', '.join(map(str, table.columns))}); "
            "expected x_px and y_px, a napari points layer's axis-0 and axis-1, or Fiji's X "
            "and Y"
        )
    columns = {"x_px": x, "y_px": y}
    if field is None:
        columns = {"field": "field", **columns}
    table = _complete_rows(table, path, list(columns.values()))
    centres = pd.DataFrame({ours: table[theirs] for ours, theirs in columns.items()})
    if field is not None:
        centres.insert(0, "field", field)
    if modality is not None:
        centres["modality"] = modality
    elif "modality" in table.columns:
        centres["modality"] = table["modality"].where(table["modality"].notna(), None)
    else:
        centres["modality"] = None
    centres["field"] = centres["field"].astype(str)
    centres[["x_px", "y_px"]] = centres[["x_px", "y_px"]].astype(float)
    return centres.assign(calibrated=calibrated)


def _complete_rows(table: pd.DataFrame, path: Path, required: list[str]) -> pd.DataFrame:
    """The rows with every ``required`` column filled. Blank rows (trailing separators,
    spreadsheet leftovers) are dropped with a warning; a row with only some stops, naming it."""
    values = table[required]
    present = values.notna() & (values.astype(str).apply(lambda c: c.str.strip()) != "")
    blank = ~present.any(axis=1)
    if blank.any():
        rows = ", ".join(str(index + 1) for index in table.index[blank][:10])
        log.warning("%s: %d blank row(s) dropped (row %s after the header)", path,
                    int(blank.sum()), rows)  # fmt: skip
    partial = ~blank & ~present.all(axis=1)
    if partial.any():
        index = table.index[partial][0]
        missing = [c for c in required if not present.loc[index, c]]
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
    labels: pd.DataFrame, fields: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """The fields that carry ``labels`` (:func:`read_labels`), per modality, in the order of
    ``fields`` (a modality without any: an empty list)."""
    return {
        modality: [
            name
            for name in names
            if name in set(labels.loc[labels["modality"] == modality, "field"])
        ]
        for modality, names in fields.items()
    }


def check_labels_inside(
    path: PathLike,
    images: Mapping[str, Mapping[str, PathLike]],
    *,
    unit: LabelUnit = "px",
    pixel_nm: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The labels of ``path`` (:func:`read_labels`); stop naming those whose (x, y) lie outside
    their field (``images``: the image file of each field, per modality)."""
    fields = {modality: list(paths) for modality, paths in images.items()}
    labels = read_labels(path, fields, unit=unit, pixel_nm=pixel_nm)
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
        hint = (
            f" (inputs.label_unit is {unit}: Fiji's X and Y of an uncalibrated image are pixels)"
            if unit != "px"
            else " (Fiji's X and Y measured on a calibrated image are in its unit: set "
            "inputs.label_unit)"
        )
        raise InputError(
            f"{path}: label(s) outside their field: {shown}. Coordinates are pixels of the "
            f"field itself, x the column and y the row, from 0{hint}"
        )
    return labels
