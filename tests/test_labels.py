"""Labels as users have them: one table, or per-field files from napari and Fiji."""

import logging

import numpy as np
import pytest

from centriole_sr import io
from centriole_sr.config import picked_modalities
from centriole_sr.labels import check_labels_inside, label_files, read_labels

FIELDS = {"confocal": ["cell01", "cell02"], "widefield": ["cell01"]}
PIXEL_NM = {"confocal": 40.0, "widefield": 65.0}

# As napari's points layer writes it (File > Save Selected Layers... > .csv): an index, the
# data coordinates axis-0 (row), axis-1 (column), then the layer's features.
NAPARI = "index,axis-0,axis-1,label\n0,120.5,30.25,a\n1,14.0,200.0,b\n"
# Fiji's Results table of a measured multi-point selection, saved as CSV: a blank-named row
# column, the default measurements, X and Y (calibrated units on a calibrated image).
FIJI = (
    " ,Area,Mean,Min,Max,X,Y,Ch,Counter,Count\n"
    "1,0.002,812,812,812,1.2,4.8,1,0,1\n"
    "2,0.002,640,640,640,8.0,0.4,1,0,2\n"
)


def _rows(labels):
    return sorted(labels.itertuples(index=False, name=None))


def test_napari_points_files_in_a_folder_label_the_field_they_are_named_after(tmp_path):
    (tmp_path / "cell01.csv").write_text(NAPARI)
    (tmp_path / "confocal").mkdir()
    (tmp_path / "confocal" / "cell02.csv").write_text("index,axis-0,axis-1,axis-2\n0,3,10,20\n")
    labels = read_labels(tmp_path, FIELDS)
    assert _rows(labels) == [
        ("cell01", "confocal", 30.25, 120.5),
        ("cell01", "confocal", 200.0, 14.0),
        ("cell01", "widefield", 30.25, 120.5),  # a file at the top labels every modality
        ("cell01", "widefield", 200.0, 14.0),
        ("cell02", "confocal", 20.0, 10.0),  # a 3D layer: its last two axes are y, x
    ]
    assert [p.name for p in label_files(tmp_path)] == ["cell01.csv", "cell02.csv"]


def test_fiji_results_in_pixels_or_calibrated_units(tmp_path):
    (tmp_path / "widefield").mkdir()
    (tmp_path / "widefield" / "cell01.csv").write_text(FIJI)
    in_px = read_labels(tmp_path, FIELDS)
    assert _rows(in_px) == [("cell01", "widefield", 1.2, 4.8), ("cell01", "widefield", 8.0, 0.4)]
    in_um = read_labels(tmp_path, FIELDS, unit="um", pixel_nm=PIXEL_NM)
    np.testing.assert_allclose(
        in_um[["x_px", "y_px"]].to_numpy(), [[1200 / 65, 4800 / 65], [8000 / 65, 400 / 65]]
    )
    # pixel columns are pixels whatever the unit
    (tmp_path / "cell02.csv").write_text("x_px,y_px\n5,6\n")
    mixed = read_labels(tmp_path, FIELDS, unit="nm", pixel_nm=PIXEL_NM)
    assert ("cell02", "confocal", 5.0, 6.0) in _rows(mixed)


def test_calibrated_coordinates_read_as_pixels_are_caught_with_a_hint(tmp_path):
    for field in ("cell01", "cell02"):
        io.write_tiff(tmp_path / f"{field}.tif", np.zeros((64, 64), np.float32), 40.0)
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "cell01.csv").write_text(" ,X,Y\n1,1200,480\n")  # nm read as pixels
    images = {"confocal": {f: tmp_path / f"{f}.tif" for f in ("cell01", "cell02")}}
    with pytest.raises(io.InputError, match="outside their field.*set inputs.label_unit"):
        check_labels_inside(labels, images)
    check_labels_inside(labels, images, unit="nm", pixel_nm=PIXEL_NM)  # 30, 12 px: inside


def test_blank_rows_of_a_per_field_file_are_dropped_and_partial_ones_stop(tmp_path, caplog):
    (tmp_path / "cell01.csv").write_text("index,axis-0,axis-1\n0,5,6\n,,\n1,7,8\n")
    with caplog.at_level(logging.WARNING):
        labels = read_labels(tmp_path, {"confocal": ["cell01"]})
    assert len(labels) == 2
    assert "1 blank row(s) dropped (row 2 after the header)" in caplog.text
    assert "cell01.csv" in caplog.text
    (tmp_path / "cell01.csv").write_text("index,axis-0,axis-1\n0,5,6\n1,7,\n")
    with pytest.raises(io.InputError, match=r"cell01\.csv: row 2 .*axis-0 7.* no axis-1"):
        read_labels(tmp_path, {"confocal": ["cell01"]})


def test_a_file_named_after_no_field_or_an_empty_folder_stops_naming_it(tmp_path):
    with pytest.raises(io.InputError, match=r"no label files \(<field>\.csv, \.tsv or \.txt"):
        read_labels(tmp_path, FIELDS)
    (tmp_path / "cell1.csv").write_text(NAPARI)
    with pytest.raises(io.InputError, match=r"unknown field\(s\): cell1\. .*cell01, cell02"):
        read_labels(tmp_path, FIELDS)
    (tmp_path / "cell1.csv").write_text("index,z,row\n0,1,2\n")
    with pytest.raises(io.InputError, match=r"cell1\.csv: no coordinate columns"):
        read_labels(tmp_path, FIELDS)


def test_a_modality_without_labels_is_picked_only_with_a_picker(tmp_path, caplog):
    labels = tmp_path / "labels.tsv"
    no_picker = {"confocal": "", "widefield": ""}
    with caplog.at_level(logging.WARNING):
        assert picked_modalities({"confocal": ["a"], "widefield": []}, no_picker, labels) == [
            "confocal"
        ]
    assert "no widefield labels and no picking.model.widefield" in caplog.text
    given = {"confocal": "", "widefield": "old/picker.sav"}
    assert picked_modalities({"confocal": ["a"], "widefield": []}, given, labels) == [
        "confocal",
        "widefield",
    ]
    with pytest.raises(io.InputError, match="no labels for any confocal field.*picking.model"):
        picked_modalities({"confocal": [], "widefield": ["a"]}, no_picker, labels)
