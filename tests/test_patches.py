import numpy as np

from centriole_sr.patches import extract_patches, load_patches, save_patches


def test_patch_is_centred_on_the_pick():
    image = np.zeros((100, 120), np.float32)
    image[40, 70] = 1.0
    patches, kept = extract_patches(image, np.array([[40.2, 69.8]]), 16)
    assert patches.shape == (1, 16, 16)
    assert np.unravel_index(patches[0].argmax(), (16, 16)) == (8, 8)
    np.testing.assert_allclose(kept, [[40.2, 69.8]])


def test_border_picks_are_dropped_or_padded():
    image = np.random.default_rng(1).random((50, 50)).astype(np.float32)
    centres = np.array([[3.0, 25.0], [25.0, 25.0], [49.0, 49.0]])
    dropped, kept = extract_patches(image, centres, 16, border="drop")
    assert len(dropped) == 1 and tuple(kept[0]) == (25.0, 25.0)
    padded, kept_padded = extract_patches(image, centres, 16, border="pad")
    assert padded.shape == (3, 16, 16) and len(kept_padded) == 3
    # the inside of a padded crop is the image itself: row 3 of the field is row 8 of the crop
    np.testing.assert_array_equal(padded[0][8], image[3, 17:33])


def test_no_picks_gives_an_empty_stack(tmp_path):
    patches, kept = extract_patches(np.ones((20, 20), np.float32), np.zeros((0, 2)), 8)
    assert patches.shape == (0, 8, 8) and kept.shape == (0, 2)
    save_patches(tmp_path / "p.npz", patches=patches, centres_yx_px=kept)
    assert load_patches(tmp_path / "p.npz")["patches"].shape == (0, 8, 8)
