import os
import stat

import numpy as np
import pytest
import tifffile

from centriole_sr.io import (
    InputError,
    atomic_path,
    denormalize_percentile,
    field_name,
    find_fields,
    normalize_percentile,
    percentile_bounds,
    read_field,
    stored_dtype,
    write_tiff,
)


def test_tiff_round_trip_keeps_pixel_size(tmp_path):
    image = np.random.default_rng(0).random((40, 30)).astype(np.float32)
    write_tiff(tmp_path / "field.tif", image, 45.0)
    read, pixel_nm = read_field(tmp_path / "field.tif")
    np.testing.assert_array_equal(read, image)
    assert pixel_nm == pytest.approx(45.0, rel=1e-6)


def test_written_tiff_is_ome_with_its_pixel_size_as_ome_readers_see_it(tmp_path):
    """tifffile's OME parser (what napari's and bioio's OME-TIFF readers use) finds the pixel
    size (µm, OME's default unit), the axes, the description and the pixels; the same image
    gives the same bytes."""
    stack = np.random.default_rng(1).random((3, 16, 12)).astype(np.float32)
    for name in ("a.tif", "b.tif"):
        write_tiff(tmp_path / name, stack, 45.0, z_step_nm=200.0, description="model abc")
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    with tifffile.TiffFile(tmp_path / "a.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX"
        image = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
        np.testing.assert_array_equal(tif.series[0].asarray(), stack)
    pixels = image["Pixels"]
    assert (pixels["PhysicalSizeX"], pixels["PhysicalSizeXUnit"]) == (0.045, "µm")
    assert (pixels["PhysicalSizeY"], pixels["PhysicalSizeYUnit"]) == (0.045, "µm")
    assert (pixels["PhysicalSizeZ"], pixels["PhysicalSizeZUnit"]) == (0.2, "µm")
    assert read_field(tmp_path / "a.tif", z_stack="stack")[1] == pytest.approx(45.0)
    assert image["Description"] == "model abc"
    write_tiff(tmp_path / "c.tif", stack + 1, 45.0, z_step_nm=200.0, description="model abc")
    assert (tmp_path / "c.tif").read_bytes() != (tmp_path / "a.tif").read_bytes()


def test_plain_tiff_takes_pixel_size_from_config(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.arange(64, dtype=np.uint16).reshape(8, 8))
    image, pixel_nm = read_field(tmp_path / "plain.tif", expected_pixel_nm=90.0)
    assert image.dtype == np.float32 and pixel_nm == 90.0
    with pytest.raises(InputError, match="no pixel size"):
        read_field(tmp_path / "plain.tif")


def test_pixel_size_mismatch_names_both_values(tmp_path):
    write_tiff(tmp_path / "f.tif", np.eye(8, dtype=np.float32), 100.0)
    with pytest.raises(InputError, match=r"100\.00 nm.*90\.00 nm"):
        read_field(tmp_path / "f.tif", expected_pixel_nm=90.0)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_gives_the_permissions_of_a_newly_created_file(tmp_path):
    umask = os.umask(0o027)  # a group-shared results folder
    try:
        with atomic_path(tmp_path / "shared.csv") as tmp:
            tmp.write_text("a,b\n")
        (tmp_path / "plain.csv").write_text("a,b\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "shared.csv").stat().st_mode) == 0o640
    assert (tmp_path / "shared.csv").stat().st_mode == (tmp_path / "plain.csv").stat().st_mode


def test_normalize_percentile_maps_percentiles_to_zero_and_one():
    image = np.linspace(0, 1000, 10001, dtype=np.float32)
    normalised = normalize_percentile(image, 1.0, 99.0)
    assert np.percentile(normalised, 1.0) == pytest.approx(0.0, abs=1e-5)
    assert np.percentile(normalised, 99.0) == pytest.approx(1.0, abs=1e-5)


def test_denormalize_inverts_normalize_on_the_input_scale(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(100, 4000, (50, 40)).astype(np.uint16)
    bounds = percentile_bounds(image)
    back = denormalize_percentile(normalize_percentile(image), bounds, image.dtype)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)
    # integer types are clipped to their range, floats are not
    wide = denormalize_percentile(np.array([-5.0, 0.5, 5.0], np.float32), bounds, np.uint8)
    assert wide.tolist()[0] == 0 and wide.tolist()[2] == 255
    assert denormalize_percentile(np.array([5.0]), bounds, np.float32)[0] > 4000


@pytest.mark.parametrize(
    ("dtype", "stored"),
    [(np.uint8, np.uint8), (np.uint16, np.uint16), (np.int16, np.int16), (np.float64, np.float32)],
)
def test_write_tiff_keeps_integer_types(tmp_path, dtype, stored):
    image = np.arange(12, dtype=dtype).reshape(3, 4)
    write_tiff(tmp_path / "image.tif", image, 45.0)
    assert stored_dtype(tmp_path / "image.tif") == stored
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "image.tif"), image)


def test_fields_of_a_folder_by_every_tiff_ending_in_any_case(tmp_path):
    image = np.eye(8, dtype=np.float32)
    for name in ("a.tif", "b.TIFF", "c d.ome.tif", "e.OME.TIFF"):
        write_tiff(tmp_path / name, image, 45.0)
    (tmp_path / "notes.txt").write_text("not a field")
    found = find_fields(tmp_path)
    assert list(found) == ["a", "b", "c d", "e"]
    assert found["e"] == tmp_path / "e.OME.TIFF"
    assert field_name(tmp_path / "c d.ome.tif") == "c d"
    write_tiff(tmp_path / "a.tiff", image, 45.0)
    with pytest.raises(InputError, match="a.tif and a.tiff are both field 'a'"):
        find_fields(tmp_path)


def test_a_folder_without_fields_names_itself_and_the_patterns(tmp_path):
    (tmp_path / "field.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"no fields \(\*\.tif, \*\.tiff, \*\.ome\.tif, "):
        find_fields(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        find_fields(tmp_path / "missing")
