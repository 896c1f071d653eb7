"""Tests of stage functions on bad or empty input: clear messages, nothing half-written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from centriole_sr import io, pipeline
from centriole_sr.patches import load_patches


def test_field_without_picks_gives_no_patches_and_a_warning_naming_it(tmp_path):
    image_path = tmp_path / "field07.tif"
    io.write_tiff(image_path, np.random.default_rng(0).random((64, 64), np.float32), 45.0)
    picks_path = tmp_path / "field07.tsv"
    io.write_table(picks_path, pd.DataFrame(columns=["y_px", "x_px", "score"]))
    log_path = tmp_path / "patches.log"
    output = tmp_path / "field07.npz"
    pipeline.extract_field_patches(image_path, picks_path, 16, "drop", 45.0, output, log_path)
    saved = load_patches(output)
    assert saved["patches"].shape == (0, 16, 16)
    assert saved["centres_yx_px"].shape == (0, 2)
    assert f"{image_path}: no patches" in log_path.read_text()


def test_non_2d_field_stops_conversion_and_writes_nothing(tmp_path):
    image_path = tmp_path / "stack.tif"
    io.write_tiff(image_path, np.ones((2, 32, 32), np.float32), 45.0)
    output = tmp_path / "mrc" / "stack.mrc"
    with pytest.raises(io.InputError, match="stack.tif"):
        pipeline.convert_to_mrc(image_path, 45.0, 99.9, output, tmp_path / "convert.log")
    assert not output.exists()
    assert not list(tmp_path.glob("mrc/*"))
