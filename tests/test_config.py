import copy

import pytest
import yaml

from centriole_sr.config import check_config
from centriole_sr.io import InputError
from centriole_sr.labels import labelled_fields_by_modality, read_labels

from .conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_config_passes():
    check_config(copy.deepcopy(CONFIG))


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("optics", "numerical_aperture", 1.6, "optics.numerical_aperture"),
        ("optics", "widefield_pixel_nm", 40.0, "smaller than optics.confocal_pixel_nm"),
        ("demo", "labelled_fields", 9, "demo.labelled_fields"),
    ],
)
def test_contradicting_settings_name_the_key(section, key, value, message):
    config = copy.deepcopy(CONFIG)
    config[section][key] = value
    with pytest.raises(InputError, match=message):
        check_config(config)


def test_any_pixel_size_ratio_of_at_least_one_passes():
    for widefield_nm in (45.0, 67.5, 112.5, 130.0):
        config = copy.deepcopy(CONFIG)
        config["optics"]["widefield_pixel_nm"] = widefield_nm
        check_config(config)


def test_missing_inputs_are_named(tmp_path):
    config = copy.deepcopy(CONFIG)
    config["demo"]["enabled"] = False
    config["inputs"]["confocal"] = str(tmp_path / "nowhere")
    with pytest.raises(InputError, match="inputs.confocal"):
        check_config(config)


def test_labels_without_modality_apply_to_every_modality(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("field,x_px,y_px\na,1,2\nb,3,4\n")
    fields = {"confocal": ["a", "b"], "widefield": ["b"]}
    labels = read_labels(path, fields)
    assert sorted(zip(labels.modality, labels.field, strict=True)) == [
        ("confocal", "a"),
        ("confocal", "b"),
        ("widefield", "b"),
    ]
    labelled = labelled_fields_by_modality(read_labels(path, fields), fields)
    assert labelled == {"confocal": ["a", "b"], "widefield": ["b"]}


def test_labels_naming_unknown_fields_stop(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("field\tx_px\ty_px\tmodality\na\t1\t2\tconfocal\nzz\t3\t4\twidefield\n")
    with pytest.raises(InputError, match="widefield/zz"):
        read_labels(path, {"confocal": ["a"], "widefield": ["b"]})
    # a picker reads only its own fields' labels and ignores the rest
    some = read_labels(path, {"confocal": ["a"]}, strict=False)
    assert some[["field", "modality", "x_px", "y_px"]].values.tolist() == [["a", "confocal", 1, 2]]
    assert read_labels(path, {"widefield": ["b"]}, strict=False).empty


def test_beads_chosen_without_bead_images_name_the_key(tmp_path):
    config = copy.deepcopy(CONFIG)
    config["demo"]["enabled"] = False
    for key in ("confocal", "widefield"):
        (tmp_path / key).mkdir()
        config["inputs"][key] = str(tmp_path / key)
    config["inputs"]["labels"] = str(tmp_path / "confocal")
    config["degradation"]["sigma_source"]["widefield"] = "beads"
    config["degradation"]["beads"]["widefield"] = str(tmp_path / "empty")
    with pytest.raises(InputError, match=r"degradation\.beads\.widefield: no bead images"):
        check_config(config)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bead1.tif").write_bytes(b"")
    check_config(config)  # a folder with bead TIFFs passes (their content is read later)


def test_blank_label_rows_are_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "labels.csv"
    path.write_text("field,x_px,y_px\na,1,2\n,,\n  ,,\nb,3,4\n,,\n")
    labels = read_labels(path, {"confocal": ["a", "b"]})
    assert labels[["field", "x_px", "y_px"]].values.tolist() == [["a", 1, 2], ["b", 3, 4]]
    assert "3 blank row(s) dropped (row 2, 3, 5 after the header)" in caplog.text


@pytest.mark.parametrize(
    ("row", "message"),
    [("a,,7", r"row 2 after the header \(field a, y_px 7\) has no x_px;"),
     ("a,,", r"row 2 after the header \(field a\) has no x_px and no y_px;"),
     (",5,6", r"row 2 after the header \(x_px 5, y_px 6\) has no field;")],
)  # fmt: skip
def test_a_label_row_with_a_field_but_no_coordinates_stops_naming_it(tmp_path, row, message):
    path = tmp_path / "labels.csv"
    path.write_text(f"field,x_px,y_px\na,1,2\n{row}\n")
    with pytest.raises(InputError, match=message) as error:
        read_labels(path, {"confocal": ["a"]})
    assert str(path) in str(error.value)
