"""Tests of safe model loading, the pixel-size check and tiled restoration."""

import pickle

import numpy as np
import pytest
import torch

from centriole_sr.io import InputError, write_json
from centriole_sr.model import ResidualUNet
from centriole_sr.restore import (
    check_pixel_size,
    context_px,
    default_overlap_px,
    load_model,
    restore_image,
)
from tests.test_model import _randomised


def _one_piece(model: ResidualUNet, image: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(image)[None, None])[0, 0].numpy()


@pytest.mark.parametrize(("depth", "tile_px", "shape"), [(1, 48, (150, 133)), (2, 96, (230, 201))])
def test_tiled_equals_one_piece_away_from_the_border(depth, tile_px, shape):
    model = _randomised(ResidualUNet(scale=2, base_channels=4, depth=depth))
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    calls = []
    tiled = restore_image(
        model, image, 2, tile_px=tile_px, batch_size=3, progress=lambda *a: calls.append(a)
    )
    expected = _one_piece(model, image)
    assert tiled.shape == (shape[0] * 2, shape[1] * 2)
    assert tiled.dtype == np.float32
    assert calls[-1][0] == calls[-1][1] > 4  # several tiles, all done
    border = 2 * model.receptive_field_px  # output pixels
    inner = (slice(border, -border),) * 2
    assert np.abs(tiled - expected)[inner].max() < 1e-4
    assert np.abs(expected).max() > 0.1  # the residual branch is active


def test_short_overlap_still_blends_to_the_same_level():
    model = _randomised(ResidualUNet(scale=2, base_channels=4, depth=1))
    image = np.random.default_rng(1).random((100, 90), dtype=np.float32)
    tiled = restore_image(model, image, 2, tile_px=32, overlap_px=4)
    expected = _one_piece(model, image)
    # seams differ a little (too little context), but weights sum to one: no double counting
    assert tiled.mean() == pytest.approx(expected.mean(), rel=0.02)
    assert (
        np.corrcoef(tiled.ravel(), expected.ravel())[0, 1] > 0.95
    )  # and weights sum to one across them


def test_image_smaller_than_a_tile():
    model = _randomised(ResidualUNet(scale=2, base_channels=4, depth=2))
    image = np.random.default_rng(2).random((7, 5), dtype=np.float32)
    restored = restore_image(model, image, 2, tile_px=256)
    assert restored.shape == (14, 10)
    context = context_px(model)
    mirrored = _one_piece(model, np.pad(image, context, mode="symmetric"))
    crop = slice(2 * context, -2 * context)
    assert np.allclose(restored, mirrored[crop, crop], atol=1e-5)


def test_default_overlap_covers_the_receptive_field():
    model = ResidualUNet(scale=2, base_channels=4, depth=2)
    overlap = default_overlap_px(model)
    assert overlap >= model.receptive_field_px
    assert overlap % 4 == 0


def _save(tmp_path, model: ResidualUNet, state=None):
    weights, card = tmp_path / "weights.pt", tmp_path / "card.json"
    torch.save(model.state_dict() if state is None else state, weights)
    write_json(
        card,
        {
            "architecture": "ResidualUNet",
            "model_args": model.constructor_args(),
            "widefield_pixel_nm": 90.0,
        },
    )
    return weights, card


def test_load_model_round_trip(tmp_path):
    model = _randomised(ResidualUNet(scale=2, base_channels=4, depth=1))
    loaded, card = load_model(*_save(tmp_path, model))
    image = np.random.default_rng(3).random((20, 20), dtype=np.float32)
    assert not loaded.training
    assert card["widefield_pixel_nm"] == 90.0
    assert np.array_equal(_one_piece(loaded, image), _one_piece(model, image))


def test_load_model_refuses_other_architecture(tmp_path):
    weights, card = _save(tmp_path, ResidualUNet(scale=2, base_channels=4, depth=1))
    write_json(card, {"architecture": "ResidualUNet", "model_args": {"base_channels": 8}})
    with pytest.raises(InputError, match="weights.pt"):
        load_model(weights, card)


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_load_model_never_unpickles_objects(tmp_path, capsys):
    model = ResidualUNet(scale=2, base_channels=4, depth=1)
    weights, card = _save(tmp_path, model, state={"x": _Payload()})
    with pytest.raises(InputError, match="weights.pt"):
        load_model(weights, card)
    weights.write_bytes(pickle.dumps({"x": _Payload()}, protocol=2))
    with pytest.raises(InputError, match="weights.pt"):
        load_model(weights, card)
    assert "unpickled!" not in capsys.readouterr().out


def test_load_model_refuses_missing_card(tmp_path):
    weights, card = _save(tmp_path, ResidualUNet(scale=2, base_channels=4, depth=1))
    card.unlink()
    with pytest.raises(InputError, match="card.json"):
        load_model(weights, card)


def test_check_pixel_size():
    card = {"widefield_pixel_nm": 90.0}
    check_pixel_size(card, 91.0)
    with pytest.raises(InputError, match=r"100\.00 nm.*90\.00 nm"):
        check_pixel_size(card, 100.0)
    with pytest.raises(InputError, match="widefield_pixel_nm"):
        check_pixel_size({}, 90.0)
