"""Bad and unusual input files: each works, or stops naming the file and the fix, and no
output is corrupted (an output from an earlier run stays as it was, no temporary file is left).

Fields enter the pipeline through `convert_to_mrc` (picking), `extract_patches`,
`restore_field` and `evaluate_field`, which all read them with `io.read_field`; the tests
below go through the first stage, whose output is the picker's input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from centriole_sr import io, picking
from centriole_sr.labels import check_labels_inside
from centriole_sr.patches import load_patches, save_patches
from centriole_sr.settings import Reading, Training
from centriole_sr.stages.patches import extract_patches
from centriole_sr.stages.picking import convert_to_mrc
from centriole_sr.stages.training import train_model as train_model_stage

PIXEL_NM = 90.0
EARLIER = b"an earlier run's output"
TRAINING = Training(
    epochs=2, batch_size=16, crop_px=16, crops_per_epoch=8, centriole_fraction=0.5,
    learning_rate=1e-3, validation_fraction=0.25, max_minutes=1.0, early_stopping_patience=5,
    base_channels=4, depth=1, seed=0, ssim_weight=0.0, device="cpu",
)  # fmt: skip


def _field(seed: int = 0, shape: tuple[int, int] = (48, 40)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32) * 1000


def _convert(path, tmp_path, **reading):
    """convert_to_mrc into an output that already holds an earlier run's bytes."""
    output = tmp_path / "out" / "field.mrc"
    output.parent.mkdir(exist_ok=True)
    output.write_bytes(EARLIER)
    convert_to_mrc(
        image=path, pixel_nm=PIXEL_NM, saturate_percentile=99.9,
        reading=Reading(**{"channel": None, "z_stack": "max", **reading}),
        output=output, log=tmp_path / "convert.log",
    )  # fmt: skip
    return output


def _refused(path, tmp_path, message: str, **reading) -> str:
    """Assert convert_to_mrc stops naming the file, and leaves the earlier output alone."""
    with pytest.raises(io.InputError, match=message) as error:
        _convert(path, tmp_path, **reading)
    assert str(path) in str(error.value)
    assert (tmp_path / "out" / "field.mrc").read_bytes() == EARLIER
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["field.mrc"]
    return str(error.value)


def _truncated(path):
    tifffile.imwrite(path, _field(), resolution=(1, 1))
    path.write_bytes(path.read_bytes()[:2000])


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_bytes(b""), "empty \\(0 bytes\\)"),
        (lambda path: path.write_bytes(b"II*\x00 not an image"), "not a readable TIFF"),
        (_truncated, "not a readable TIFF"),
        (lambda path: path.write_text("field,x_px\n"), "not a readable TIFF"),
        (
            lambda path: tifffile.imwrite(path, _field().astype(np.uint8)[..., None].repeat(3, 2)),
            "3 channels; set inputs.channel",
        ),
        (lambda path: tifffile.imwrite(path, np.stack([_field(s) for s in range(5)])), "axes QYX"),
        (
            lambda path: tifffile.imwrite(
                path, np.stack([_field(s) for s in range(4)]), imagej=True, metadata={"axes": "TYX"}
            ),
            "axes TYX",
        ),
        (lambda path: tifffile.imwrite(path, np.where(_field() > 990, np.nan, _field())), "NaN"),
        (lambda path: tifffile.imwrite(path, np.where(_field() > 990, np.inf, _field())), "Inf"),
        (lambda path: tifffile.imwrite(path, np.full((32, 32), 7, np.uint16)), "constant"),
        (lambda path: io.write_tiff(path, _field(), 2 * PIXEL_NM), "differs from"),
        (lambda path: tifffile.imwrite(path, np.zeros((4, 4), np.complex64)), "pixel type"),
    ],
    ids=[
        "empty",
        "garbage",
        "truncated",
        "text",
        "rgb",
        "stack-without-axes",
        "time-series",
        "nan",
        "inf",
        "constant",
        "other-pixel-size",
        "complex",
    ],
)
def test_bad_field_stops_naming_the_file_and_keeps_earlier_outputs(tmp_path, write, message):
    path = tmp_path / "field 1 (bad).tif"
    write(path)
    _refused(path, tmp_path, message)


def test_missing_field_is_named(tmp_path):
    _refused(tmp_path / "nowhere.tif", tmp_path, "file not found")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_every_common_pixel_type_gives_the_same_field(tmp_path, dtype):
    values = np.random.default_rng(0).integers(0, 200, (48, 40))
    as_float = values.astype(np.float32) - (100 if dtype in (np.int16, np.float64) else 0)
    path = tmp_path / "field.tif"
    io.write_tiff(path, as_float.astype(dtype), PIXEL_NM)  # int16, float64: negative values
    image, pixel_nm = io.read_field(path, PIXEL_NM)
    assert image.dtype == np.float32 and pixel_nm == pytest.approx(PIXEL_NM)
    np.testing.assert_array_equal(image, as_float)
    topaz = picking.read_mrc(_convert(path, tmp_path))
    np.testing.assert_allclose(topaz, picking.fluorescence_to_topaz(as_float, 99.9), rtol=1e-6)


def test_missing_pixel_size_needs_the_config(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _field())  # no resolution tags
    assert io.read_field(path, PIXEL_NM)[1] == PIXEL_NM
    with pytest.raises(io.InputError, match="no pixel size in the file's metadata"):
        io.read_field(path)
    uncalibrated = tmp_path / "uncalibrated ImageJ.tif"  # ImageJ's "pixel" unit: no size
    tifffile.imwrite(uncalibrated, _field(), imagej=True, resolution=(1, 1))
    assert io.read_field(uncalibrated, PIXEL_NM)[1] == PIXEL_NM


def test_ome_and_imagej_pixel_sizes_are_read_and_checked(tmp_path):
    ome = tmp_path / "field.ome.tif"
    tifffile.imwrite(ome, _field(), metadata={"PhysicalSizeX": 0.09, "PhysicalSizeXUnit": "µm"})
    imagej = tmp_path / "field.tif"
    tifffile.imwrite(imagej, _field(), imagej=True, resolution=(1 / 0.09, 1 / 0.09),
                     metadata={"unit": "um"})  # fmt: skip
    for path in (ome, imagej):
        assert io.read_field(path)[1] == pytest.approx(90.0)
        with pytest.raises(io.InputError, match="90.00 nm in the file differs from 45.00 nm"):
            io.read_field(path, 45.0)


def test_channel_by_index_or_ome_name(tmp_path):
    channels = np.stack([_field(1), _field(2), _field(3)])
    path = tmp_path / "three channels.ome.tif"
    tifffile.imwrite(
        path,
        channels,
        metadata={"axes": "CYX", "PhysicalSizeX": PIXEL_NM / 1000, "PhysicalSizeXUnit": "µm",
                  "Channel": {"Name": ["DAPI", "centrin-GFP", "tubulin"]}},
    )  # fmt: skip
    for channel in (1, "centrin-GFP"):
        image, pixel_nm = io.read_field(path, PIXEL_NM, channel=channel)
        np.testing.assert_array_equal(image, channels[1])
        assert pixel_nm == pytest.approx(PIXEL_NM)
    message = _refused(path, tmp_path, "3 channels named DAPI, centrin-GFP, tubulin")
    assert "inputs.channel" in message
    _refused(path, tmp_path, "no channel named 'GFP'", channel="GFP")
    _refused(path, tmp_path, "inputs.channel 3 is out of range", channel=3)


def test_rgb_file_with_a_channel_chosen(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (32, 24, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    image, _ = io.read_field(tmp_path / "rgb.tif", PIXEL_NM, channel=1)
    np.testing.assert_array_equal(image, rgb[..., 1])


def test_z_stack_reduced_by_projection_or_sharpest_slice(tmp_path):
    sharp = np.zeros((40, 40), np.float32)
    sharp[::8, ::8] = 100.0
    from scipy import ndimage

    stack = np.stack([ndimage.gaussian_filter(sharp, s) for s in (4.0, 0.5, 2.0)]) + 1
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, imagej=True, metadata={"axes": "ZYX"})
    np.testing.assert_array_equal(io.read_field(path, PIXEL_NM)[0], stack.max(axis=0))
    sharpest, _ = io.read_field(path, PIXEL_NM, z_stack="sharpest")
    np.testing.assert_array_equal(sharpest, stack[1])
    # and the reverse: a 2D field whatever z_stack says
    io.write_tiff(tmp_path / "plane.tif", stack[2], PIXEL_NM)
    np.testing.assert_array_equal(
        io.read_field(tmp_path / "plane.tif", z_stack="sharpest")[0], stack[2]
    )


def test_channels_of_a_z_stack(tmp_path):
    hyperstack = np.random.default_rng(0).random((4, 2, 16, 16)).astype(np.float32)
    path = tmp_path / "zc.tif"
    tifffile.imwrite(path, hyperstack, imagej=True, metadata={"axes": "ZCYX"})
    image, _ = io.read_field(path, PIXEL_NM, channel=1)
    np.testing.assert_array_equal(image, hyperstack[:, 1].max(axis=0))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "table not found"),
        ("", "empty \\(0 bytes\\)"),
        ("field,x_px,y_px\n", "no labels"),
        ("field,x,y\nfield 1,1,2\n", "no coordinate columns \\(found field, x, y\\)"),
        ("x_px,y_px\n1,2\n", "no 'field' column.*a folder"),
        ("field,x_px,y_px\nfield 9,1,2\n", "unknown field\\(s\\): field 9"),
        (
            "field,x_px,y_px\nfield 1,39,47\nfield 1,40,3\nfield 1,5,-1\n",
            "confocal/field 1 x 40, y 3 \\(field 40 x 48 px\\); confocal/field 1 x 5, y -1",
        ),
    ],
    ids=[
        "missing",
        "empty",
        "header-only",
        "wrong-columns",
        "no-field",
        "unknown-field",
        "outside",
    ],  # fmt: skip
)
def test_bad_labels_tables_stop_naming_the_table(tmp_path, labels, message):
    io.write_tiff(tmp_path / "field 1.tif", _field(), 45.0)
    path = tmp_path / "labels.csv"
    if labels is not None:
        path.write_text(labels)
    with pytest.raises(io.InputError, match=message) as error:
        check_labels_inside(path, {"confocal": {"field 1": tmp_path / "field 1.tif"}})
    assert str(path) in str(error.value)


def test_field_without_picks_gives_no_patches_and_a_warning_naming_it(tmp_path):
    image_path = tmp_path / "field07.tif"
    io.write_tiff(image_path, np.random.default_rng(0).random((64, 64), np.float32), 45.0)
    picks_path = tmp_path / "field07.tsv"
    io.write_table(picks_path, pd.DataFrame(columns=["y_px", "x_px", "score"]))
    log_path = tmp_path / "patches.log"
    output = tmp_path / "field07.npz"
    extract_patches(
        image=image_path, picks=picks_path, size_px=16, border="drop", pixel_nm=45.0,
        reading=Reading(channel=None, z_stack="max"), output=output, log=log_path,
    )  # fmt: skip
    saved = load_patches(output)
    assert saved["patches"].shape == (0, 16, 16)
    assert saved["centres_yx_px"].shape == (0, 2)
    assert f"{image_path}: no patches" in log_path.read_text()


def _degraded_field_file(path, shape: tuple[int, int], picks: np.ndarray) -> None:
    """A field as degrade_field writes it: its target, signal and picks."""
    target = np.random.default_rng(0).random(shape).astype(np.float32)
    save_patches(path, target=target, signal_photons=target[::2, ::2] * 100, picks_yx_px=picks,
                 input_low=np.float64(0), input_high=np.float64(100))  # fmt: skip


def test_fields_without_picks_train_on_crops_anywhere(tmp_path):
    paths = [tmp_path / "field a.npz", tmp_path / "field b.npz"]
    _degraded_field_file(paths[0], (64, 64), np.zeros((0, 2)))
    _degraded_field_file(paths[1], (64, 64), np.array([[30.0, 30.0]]))
    io.write_json(tmp_path / "model.json", {"sigma_degradation_confocal_px": 1.0, "scale": 2,
                  "haze_fraction": 0.0, "haze_sigma_nm": 450.0, "confocal_pixel_nm": 45.0,
                  "widefield_pixel_nm": 90.0, "peak_photons": 100.0,
                  "read_noise_photons": 1.0})  # fmt: skip
    model = tmp_path / "model" / "weights.pt"
    train_model_stage(
        pairs=paths, model=tmp_path / "model.json", settings=TRAINING, threads=1,
        weights=model, checkpoint=tmp_path / "c.pt",
    )  # fmt: skip
    history = pd.read_csv(model.parent / "history.tsv", sep="\t")
    assert len(history) == 2 and np.isfinite(history["val_loss"]).all()
    small = tmp_path / "field c.npz"
    _degraded_field_file(small, (24, 24), np.zeros((0, 2)))
    with pytest.raises(io.InputError, match="field c.*training.crop_px") as error:
        train_model_stage(
            pairs=[small, paths[0]], model=tmp_path / "model.json", settings=TRAINING,
            threads=1, weights=tmp_path / "other" / "weights.pt", checkpoint=tmp_path / "d.pt",
        )  # fmt: skip
    assert "lower training.crop_px" in str(error.value)
    assert not (tmp_path / "other").exists()
