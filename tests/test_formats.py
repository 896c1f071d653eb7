"""Vendor formats (CZI, ND2, LIF) through bioio, the `formats` extra.

The reader packages ship no sample files, so bioio's reading is tested on an OME-TIFF bioio
writes (channels with names, pixel size), and the routing of vendor endings to it separately.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from centriole_sr import io


def _two_channels() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, (2, 3, 40, 50)).astype(np.uint16)  # C, Z, Y, X


def test_without_bioio_a_vendor_file_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "cell 1.czi"
    path.write_bytes(b"ZISRAWFILE")
    monkeypatch.setitem(sys.modules, "bioio", None)  # as if not installed
    with pytest.raises(io.InputError, match=r"pip install -e '\.\[formats\]'") as error:
        io.read_field(path, 90.0)
    assert str(path) in str(error.value)


def test_bioio_reads_channels_z_and_pixel_size_from_a_file_it_wrote(tmp_path):
    writers = pytest.importorskip("bioio.writers")
    from bioio_base.types import PhysicalPixelSizes

    data = _two_channels()
    path = tmp_path / "written.ome.tiff"
    writers.OmeTiffWriter.save(
        data, path, dim_order="CZYX", channel_names=["dna", "centrin"],
        physical_pixel_sizes=PhysicalPixelSizes(0.2, 0.09, 0.09),
    )  # fmt: skip
    pixels, axes, pixel_nm, names = io.read_with_bioio(path)
    assert axes == "CZYX" and names == ["dna", "centrin"]
    assert pixel_nm == pytest.approx(90.0)
    np.testing.assert_array_equal(pixels, data)


def test_vendor_endings_are_fields_read_through_bioio(tmp_path, monkeypatch):
    """A .nd2 field is read by bioio; its channel is chosen by name and its z-stack projected
    as for TIFFs; its shape comes from the header alone; a file bioio cannot read stops,
    naming it."""
    pytest.importorskip("bioio")
    data = _two_channels()
    reads = []

    class VendorFile:  # what bioio.BioImage gives of a file: lazy pixels, metadata
        dims = SimpleNamespace(Y=40, X=50)
        physical_pixel_sizes = SimpleNamespace(X=0.09)
        channel_names = ["dna", "centrin"]

        def __init__(self, path):
            self.path = path

        def get_image_data(self, order, T):
            reads.append((self.path, order, T))
            return data

    for name in ("a.nd2", "b.CZI", "c.lif"):
        (tmp_path / name).write_bytes(b"vendor bytes")
    assert list(io.find_fields(tmp_path)) == ["a", "b", "c"]
    monkeypatch.setattr(io, "_bioimage", VendorFile)
    image, pixel_nm = io.read_field(tmp_path / "a.nd2", 90.0, channel="centrin", z_stack="max")
    assert reads == [(tmp_path / "a.nd2", "CZYX", 0)] and pixel_nm == pytest.approx(90.0)
    np.testing.assert_array_equal(image, data[1].max(axis=0).astype(np.float32))
    assert io.field_shape_yx(tmp_path / "b.CZI") == (40, 50)
    assert len(reads) == 1  # the shape read no pixels
    monkeypatch.undo()
    with pytest.raises(io.InputError, match="not readable by bioio") as error:
        io.read_field(tmp_path / "c.lif", 90.0)
    assert "c.lif" in str(error.value)
    with pytest.raises(io.InputError, match="not readable by bioio"):
        io.field_shape_yx(tmp_path / "c.lif")


def test_our_ome_tiffs_open_in_bioio_at_their_pixel_size(tmp_path):
    """What napari-bioio and other bioio users see of a restored field and a patch stack."""
    pytest.importorskip("bioio_ome_tiff")
    field = np.random.default_rng(1).random((64, 48)).astype(np.float32)
    stack = np.random.default_rng(2).random((3, 32, 32)).astype(np.float32)
    io.write_tiff(tmp_path / "field.tif", field, 45.0, description="restored")
    io.write_tiff(tmp_path / "stack.tif", stack, 45.0)
    for name, expected in (("field.tif", field[None]), ("stack.tif", stack)):
        pixels, axes, pixel_nm, _ = io.read_with_bioio(tmp_path / name)
        assert pixel_nm == pytest.approx(45.0)
        np.testing.assert_array_equal(pixels[0], expected)  # channel 0: (z, y, x)
