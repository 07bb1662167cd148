"""studio.color: one Lab convention (CIE Lab D65, L 0–100) whichever path computes it, and the helpers on it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio.color import (bool_mask, ciede2000, hex_to_lab, lab_to_hex, lab_to_rgb, mean_lab, nearest_name,
                          rgb_to_lab)  # fmt: skip


def srgb_samples() -> np.ndarray:
    """Every 5th level of each channel (52³ colours) plus all 256 greys, where the two paths differ most."""
    v = np.arange(0, 256, 5, dtype=np.uint8)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return np.concatenate([cube, greys])


def test_fast_and_exact_paths_are_one_convention():
    """The metrics (scikit-image) and the lite tiers (OpenCV float32) measure the same colour within 0.5 ΔE2000,
    so moving a caller from one path to the other cannot change what it sees."""
    rgb = srgb_samples()
    exact, fast = rgb_to_lab(rgb), rgb_to_lab(rgb, fast=True)
    assert exact.dtype == np.float64 and fast.dtype == np.float32
    de = ciede2000(exact, fast)
    assert de.max() < 0.5, de.max()
    assert de.mean() < 0.15, de.mean()


@pytest.mark.parametrize("fast", [False, True])
def test_convention_anchors(fast):
    """D65 white is L 100 with a = b = 0, black L 0, greys neutral; red has positive a, blue negative b."""
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [128, 128, 128], [255, 0, 0], [0, 0, 255]], np.uint8), fast)
    assert lab[0] == pytest.approx([100.0, 0.0, 0.0], abs=0.05)
    assert lab[1] == pytest.approx([0.0, 0.0, 0.0], abs=0.05)
    assert abs(lab[2, 1]) < 0.5 and abs(lab[2, 2]) < 0.5 and 50 < lab[2, 0] < 56
    assert lab[3, 1] > 60 and lab[4, 2] < -90


def test_old_call_sites_agree():
    """The conversions the project used before studio.color, each against the one it became:
    scikit-image's rgb2lab (metrics), OpenCV float32 via ×(1/255) (makeup lite) or /255 (try-on garment parse),
    and OpenCV's 8-bit encoding (L×255/100, a and b + 128; the try-on skin model), decoded."""
    from skimage.color import rgb2lab

    rgb = srgb_samples()
    image = rgb[None]  # OpenCV converts images
    np.testing.assert_array_equal(rgb_to_lab(rgb), rgb2lab(rgb))
    np.testing.assert_array_equal(rgb_to_lab(image, fast=True), cv2.cvtColor(
        np.multiply(image, np.float32(1 / 255), dtype=np.float32), cv2.COLOR_RGB2Lab))  # fmt: skip
    garment = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0]
    assert np.abs(garment - rgb_to_lab(rgb, fast=True)).max() < 1e-3
    encoded = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[0].astype(np.float64)
    decoded = np.stack([encoded[:, 0] * 100 / 255, encoded[:, 1] - 128, encoded[:, 2] - 128], axis=1)
    de = ciede2000(rgb_to_lab(rgb), decoded)
    # Same colour space; the 8-bit encoding only rounds a and b to whole units (worst on near-greys).
    assert de.mean() < 0.5 and de.max() < 3.5, (de.mean(), de.max())


def test_fast_path_takes_any_shape():
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    lab = rgb_to_lab(image, fast=True)
    np.testing.assert_array_equal(rgb_to_lab(image.reshape(-1, 3), fast=True), lab.reshape(-1, 3))
    np.testing.assert_array_equal(rgb_to_lab(image[2, 3], fast=True), lab[2, 3])
    assert lab_to_rgb(lab).shape == image.shape and lab_to_rgb(lab[2, 3]).shape == (3,)


def test_lab_to_rgb_inverts_the_fast_path_and_clips():
    rgb = srgb_samples()
    back = lab_to_rgb(rgb_to_lab(rgb, fast=True))
    assert np.abs(back.astype(int) - rgb).max() <= 1
    assert np.all(back == rgb, axis=-1).mean() > 0.97
    # Out of gamut (colours no screen shows, lightness past black or white): clipped, never mirrored or wrapped.
    extreme = np.array([[50, 120, -120], [60, -100, 100], [90, -80, 90], [-5, 0, 0], [105, 0, 0]], np.float32)
    raw = cv2.cvtColor(extreme[None], cv2.COLOR_Lab2RGB)[0]
    np.testing.assert_array_equal(lab_to_rgb(extreme), np.round(np.clip(raw, 0, 1) * 255))
    assert lab_to_rgb(np.array([-5.0, 0.0, 0.0])).tolist() == [0, 0, 0]
    assert lab_to_rgb(np.array([105.0, 0.0, 0.0])).tolist() == [255, 255, 255]


def test_hex_codes_round_trip():
    """Every colour the project names as hex (makeup presets, prompt shades) comes back as itself."""
    from studio.apps.makeup.diffusion import SHADES
    from studio.apps.makeup.presets import PRESET_SKIN, PRESETS

    codes = {PRESET_SKIN} | {c for shades in SHADES.values() for c in shades.values()}
    codes |= {getattr(p, f) for p in PRESETS.values() for f in ("lips", "lid", "crease", "liner", "blush", "brows")}
    for code in sorted(codes):
        assert lab_to_hex(hex_to_lab(code)) == code.upper()
    assert hex_to_lab("FFFFFF") == pytest.approx(hex_to_lab("#ffffff"))
    assert hex_to_lab("#FFFFFF").dtype == np.float64


def test_ciede2000_is_elementwise_and_symmetric():
    a = rgb_to_lab(np.array([[200, 30, 40], [20, 120, 200], [90, 90, 90]], np.uint8))
    b = a[::-1]
    d = ciede2000(a, b)
    assert d.shape == (3,) and d[1] == 0.0
    np.testing.assert_allclose(d, ciede2000(b, a))
    assert float(ciede2000(a[0], a[0])) == 0.0


def test_mean_lab_over_a_mask():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[:5] = (200, 40, 60)
    rgb[5:] = (20, 40, 200)
    top = np.zeros((10, 12), np.uint8)
    top[:5] = 255
    np.testing.assert_allclose(mean_lab(rgb, top), rgb_to_lab(np.array([200, 40, 60], np.uint8)), atol=1e-9)
    np.testing.assert_allclose(mean_lab(rgb, top.astype(np.float32) / 255), mean_lab(rgb, top > 0))
    with pytest.raises(ValueError, match="no pixels"):
        mean_lab(rgb, np.zeros((10, 12), bool))
    with pytest.raises(ValueError, match="shape"):
        mean_lab(rgb, np.ones((12, 10), bool))
    assert bool_mask(None, rgb.shape) is None


def test_nearest_name():
    table = {"red": hex_to_lab("#D02020"), "green": hex_to_lab("#20A040"), "blue": hex_to_lab("#2040C0")}
    assert nearest_name(hex_to_lab("#B03030"), table) == "red"
    assert nearest_name(rgb_to_lab(np.array([30, 60, 220], np.uint8)), table) == "blue"
    # Ties go to the first name; plain lists work as table values.
    assert nearest_name([50.0, 0.0, 0.0], {"a": [60.0, 0.0, 0.0], "a2": [60.0, 0.0, 0.0]}) == "a"


def test_callers_use_the_shared_names():
    """The makeup shade words and the try-on colour words come from the same nearest-name function."""
    from studio.apps.makeup.diffusion import shade_name
    from studio.apps.tryon.diffusion import colour_name

    assert shade_name(hex_to_lab("#B0122E"), "lips") == "classic red"
    assert shade_name(hex_to_lab("#141414"), "eyeliner") == "black"
    assert colour_name(rgb_to_lab(np.array([250, 250, 250], np.uint8))) == "white"
