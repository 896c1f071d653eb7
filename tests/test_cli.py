"""``centriole-sr restore`` and the Restorer under it, on a small untrained-but-real model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch

from centriole_sr import cli, io
from centriole_sr.api import Restorer
from centriole_sr.model import ResidualUNet
from centriole_sr.restore import restore_image


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """weights.pt and card.json of a small network for 90 nm widefield pixels."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    args = {"scale": 2, "base_channels": 4, "depth": 1}
    torch.save(ResidualUNet(**args).state_dict(), folder / "weights.pt")
    io.write_json(
        folder / "card.json",
        {"architecture": "ResidualUNet", "model_args": args, "scale": 2,
         "widefield_pixel_nm": 90.0, "confocal_pixel_nm": 45.0},
    )  # fmt: skip
    return folder


def _field(seed: int, shape=(70, 90)) -> np.ndarray:
    return np.random.default_rng(seed).poisson(50, shape).astype(np.uint16)


def test_restore_command_restores_the_good_files_and_counts_the_bad(model_dir, tmp_path):
    """Files, a folder and a glob; an empty and a corrupt file among them: the good ones are
    restored as the Restorer restores them, the exit status is the number that failed."""
    data = tmp_path / "in"
    (data / "more").mkdir(parents=True)
    io.write_tiff(data / "a.ome.tif", _field(1), 90.0)
    io.write_tiff(data / "more" / "b.TIFF", _field(2), 90.0)
    io.write_tiff(data / "c.tif", _field(3), 90.0)
    (data / "empty.tif").write_bytes(b"")
    (data / "corrupt.tif").write_bytes(b"II*\0 not a tiff")
    out = tmp_path / "out"
    status = cli.main(["restore", str(model_dir), str(data / "a.ome.tif"), str(data / "more"),
                       str(data / "[ce]*.tif"), str(data / "corrupt.tif"), "-o", str(out),
                       "--device", "cpu", "--tile-px", "64"])  # fmt: skip
    assert status == 2
    assert sorted(p.name for p in out.iterdir()) == [
        f"{name}{kind}.ome.tif" for name in "abc" for kind in ("", ".trust")
    ]
    restorer = Restorer.from_dir(model_dir, device="cpu", tile_px=64)
    for name, seed in (("a", 1), ("b", 2), ("c", 3)):
        expected = restorer.restore_with_trust(_field(seed).astype(np.float32), members=3)
        for suffix, image in zip(("", ".trust"), expected, strict=True):
            with tifffile.TiffFile(out / f"{name}{suffix}.ome.tif") as tif:
                restored = tif.asarray()
                ome = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
            assert ome["Pixels"]["PhysicalSizeX"] == pytest.approx(0.045)
            assert ome["Pixels"]["PhysicalSizeXUnit"] == "µm"
            described = json.loads(ome["Description"])
            assert described["model_sha256"] == restorer.weights_sha256
            assert described["tile_px"] == 64 and described["ensemble_members"] == 3
            np.testing.assert_array_equal(restored, image)
    one = tmp_path / "one"
    assert cli.main(["restore", str(model_dir), str(data / "c.tif"), "-o", str(one),
                     "--device", "cpu", "--tile-px", "64", "--ensemble", "1"]) == 0  # fmt: skip
    assert [p.name for p in one.iterdir()] == ["c.ome.tif"]
    np.testing.assert_array_equal(
        tifffile.imread(one / "c.ome.tif"), restorer.restore(_field(3).astype(np.float32))
    )


def test_a_model_for_another_pixel_size_stops_unless_resampled(model_dir, tmp_path):
    io.write_tiff(tmp_path / "coarse.tif", _field(4, (40, 50)), 100.0)
    out = tmp_path / "out"
    arguments = ["restore", str(model_dir), str(tmp_path / "coarse.tif"), "-o", str(out)]
    result = subprocess.run([sys.executable, "-m", "centriole_sr.cli", *arguments],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert "100.00 nm differs from the model's 90.00 nm" in result.stderr
    assert "--resample" in result.stderr
    assert not out.exists() or not list(out.iterdir())
    assert cli.main([*arguments, "--resample"]) == 0
    restored, pixel_nm = io.read_field(out / "coarse.ome.tif")
    assert pixel_nm == pytest.approx(45.0)  # the model's grid after resampling
    assert restored.shape == (2 * round(40 * 100 / 90), 2 * round(50 * 100 / 90))


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_stops_naming_it(model_dir, tmp_path, damage, capsys):
    broken = tmp_path / "model"
    if damage == "corrupt":
        broken.mkdir()
        (broken / "card.json").write_text((model_dir / "card.json").read_text())
        (broken / "weights.pt").write_bytes(b"not weights")
    io.write_tiff(tmp_path / "a.tif", _field(5), 90.0)
    status = cli.main(["restore", str(broken), str(tmp_path / "a.tif"), "-o", str(tmp_path)])
    assert status == cli.CANNOT_START
    message = capsys.readouterr().err
    assert str(broken / "weights.pt" if damage == "corrupt" else broken) in message


def test_no_matching_input_or_bad_arguments_cannot_start(model_dir, tmp_path, capsys):
    assert cli.main(["restore", str(model_dir), str(tmp_path / "*.tif"), "-o", "x"]) == 101
    assert "no such file, folder or matching files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["restore", str(model_dir)])
    assert stop.value.code == cli.CANNOT_START


def test_restorer_halves_its_tiles_when_the_device_runs_out_of_memory(model_dir, monkeypatch):
    """CUDA out of memory is simulated: tiles above 64 px fail as torch reports it."""
    import centriole_sr.restore as restore

    sizes = []

    def tight_memory(model, image, scale, tile_px, **kwargs):
        sizes.append(tile_px)
        if tile_px > 64:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return restore_image(model, image, scale, tile_px=tile_px, **kwargs)

    monkeypatch.setattr(restore, "restore_image", tight_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    restorer = Restorer.from_dir(model_dir, device="cpu", tile_px=256)
    image = _field(6).astype(np.float32)
    result = restorer.restore(image)
    assert sizes == [256, 128, 64]
    np.testing.assert_array_equal(result, Restorer.from_dir(model_dir, tile_px=64).restore(image))


def test_restore_with_trust_averages_the_symmetric_copies_and_reports_progress(model_dir):
    restorer = Restorer.from_dir(model_dir, device="cpu", tile_px=64)
    image = _field(5, (48, 80)).astype(np.float32)
    calls = []
    mean, trust_map = restorer.restore_with_trust(
        image, members=2, progress=lambda done, total: calls.append((done, total))
    )
    once = restorer.restore(image)
    turned = restorer.restore(np.ascontiguousarray(image.T)).T
    np.testing.assert_allclose(mean, (once + turned) / 2, atol=1e-6)
    assert trust_map.shape == mean.shape == (96, 160)
    assert calls[-1][0] == calls[-1][1] and len({total for _, total in calls}) == 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)  # never back
