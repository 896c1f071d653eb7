"""The trust map: an ensemble of the network over the symmetries of the image."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from centriole_sr import trust

RNG_SEED = 11


def upsample(image: np.ndarray) -> np.ndarray:
    """A restoration that commutes with rotations and mirrors: every member agrees."""
    return ndimage.gaussian_filter(np.kron(image, np.ones((2, 2))), 1.0)


def test_each_symmetry_is_undone_by_its_inverse():
    image = np.arange(12.0).reshape(3, 4)
    for name, (forward, inverse) in trust.DIHEDRAL:
        assert np.array_equal(inverse(forward(image)), image), name
    shapes = {forward(image).tobytes() for _, (forward, _) in trust.DIHEDRAL}
    assert len(shapes) == 8  # eight different images: no symmetry counted twice


def test_an_equivariant_restoration_has_zero_spread_on_a_non_square_image():
    image = np.random.default_rng(RNG_SEED).random((30, 44))
    estimates = trust.augmented_restorations(upsample, image, 8)
    assert estimates.shape == (8, 60, 88)
    np.testing.assert_allclose(estimates, upsample(image)[None].repeat(8, 0), atol=1e-5)
    assert trust.spread_map(estimates).max() < 1e-5


def test_the_spread_is_large_where_the_restoration_depends_on_orientation():
    """A restoration that smears along its rows: members disagree on the spot, not on the
    flat background."""
    image = np.zeros((64, 64))
    image[20, 40] = 1.0

    def smear(copy: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter1d(copy, 9, axis=1)

    spread = trust.spread_map(trust.augmented_restorations(smear, image, 3))
    assert spread.max() > 0.02  # of a spot of 1 smeared over 9 px: 0.11
    assert spread[50, 10] < 1e-6
    assert np.unravel_index(np.argmax(spread), spread.shape) == pytest.approx((20, 40), abs=4)


def test_one_member_has_no_spread_and_too_many_are_refused():
    image = np.ones((8, 8))
    assert not trust.spread_map(trust.augmented_restorations(upsample, image, 1)).any()
    with pytest.raises(ValueError, match="1-8"):
        trust.augmented_restorations(upsample, image, 9)


def _field_rows(field: str, psnr: dict[str, float], spread: float) -> list[dict]:
    return [
        {"field": field, "method": method, "psnr_db": value, "ssim": value / 40,
         "trust_spread": spread if method == "network" else np.nan,
         "trust_spread_centrioles": 2 * spread if method == "network" else np.nan}
        for method, value in psnr.items()
    ]  # fmt: skip


def test_the_verdict_says_what_the_network_beats_and_warns_in_words(tmp_path):
    from centriole_sr.scoring import summary_table
    from centriole_sr.verdict import verdict, verdict_figure

    scores = {"bicubic": 20.0, "richardson_lucy": 26.0, "wiener": 22.0, "network": 25.0}
    rows = []
    for index, spread in enumerate((0.01, 0.011, 0.012, 0.05)):
        rows += _field_rows(f"field{index}", scores, spread)
    fields = pd.DataFrame(rows)
    heldout = pd.DataFrame(
        [{"field": "f", "pair": 0, "target": "confocal", "method": m, "psnr_db": v + 5,
          "ssim": 0.9 if m == "network" else 0.8} for m, v in scores.items()]
    )  # fmt: skip
    found = verdict(summary_table(fields, heldout), fields, {"spectral_gap_db": 4.2},
                    {"status": "not calibrated", "reason": "no widefield picks"}, 3.0)  # fmt: skip
    fields_margins = found.margins[found.margins["dataset"] == "widefield fields"]
    assert dict(zip(fields_margins["method"], fields_margins["beats"], strict=True)) == {
        "bicubic": True, "richardson_lucy": False, "wiener": True
    }  # fmt: skip
    assert fields_margins["psnr_margin_db"].tolist() == pytest.approx([5.0, -1.0, 3.0])
    text = "\n".join(found.warnings)
    assert "does not beat Richardson-Lucy: PSNR -1.00 dB" in text
    assert "domain gap is 4.2 dB" in text and "not calibrated: no widefield picks" in text
    assert "field3 is trusted least" in text and "field0" not in text
    assert found.trust["field"].tolist() == ["field0", "field1", "field2", "field3"]
    image = np.random.default_rng(RNG_SEED).random((40, 40))
    verdict_figure(found, {"field0": (image, image / 10), "field3": (image, image)},
                   tmp_path / "verdict.png")  # fmt: skip
    assert (tmp_path / "verdict.png").stat().st_size > 20_000


def test_a_verdict_without_references_says_so_and_nothing_else_is_wrong():
    from centriole_sr.scoring import summary_table
    from centriole_sr.verdict import verdict

    scores = {"bicubic": np.nan, "richardson_lucy": np.nan, "wiener": np.nan, "network": np.nan}
    fields = pd.DataFrame(_field_rows("a", scores, 0.01) + _field_rows("b", scores, 0.012))
    heldout = pd.DataFrame(
        [{"field": "f", "pair": 0, "target": "confocal", "method": m, "psnr_db": 30.0,
          "ssim": 0.9} for m in scores]
    )  # fmt: skip
    found = verdict(summary_table(fields, heldout), fields, {"spectral_gap_db": 1.0},
                    {"status": "calibrated"}, 3.0)  # fmt: skip
    assert set(found.margins["dataset"]) == {"held-out degraded pairs"}
    assert not found.margins["beats"].any()  # equal scores beat nothing
    assert sum("No widefield field has a reference" in w for w in found.warnings) == 1
    assert not any("domain gap" in w or "trusted least" in w for w in found.warnings)


def test_a_relative_trust_map_is_the_same_on_any_intensity_scale():
    restored = np.random.default_rng(RNG_SEED).random((32, 32)).astype(np.float32)
    spread = 0.1 * restored
    np.testing.assert_allclose(
        trust.relative(spread, restored),
        trust.relative(250 * spread, 250 * restored + 1000),
        rtol=1e-4,
    )
