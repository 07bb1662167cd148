"""studio.tiles: the one contact-sheet builder and the one mask overlay behind every app's detail images."""

from __future__ import annotations

import numpy as np
import pytest

from studio.tiles import LABEL_BAND, MISSING_RGB, fit_height, grid, overlay


def solid(h: int, w: int, rgb=(10, 120, 240)) -> np.ndarray:
    return np.full((h, w, 3), rgb, np.uint8)


def test_fit_height_keeps_the_aspect():
    assert fit_height(solid(100, 50), 40).shape == (40, 20, 3)
    assert fit_height(solid(30, 90), 60).shape == (60, 180, 3)  # enlarged too
    assert fit_height(np.zeros((10, 10), np.uint8), 20).shape == (20, 20, 3)  # a mask shown as an image


def test_rows_of_different_sizes_fit_one_height():
    rows = [[solid(100, 50), solid(30, 90)], [solid(64, 64)]]
    sheet = grid(rows, height=40, gap=4)
    # Row 1: 20 + 4 + 120 wide; row 2: 40, padded on the right with white. 40 + 4 + 40 tall.
    assert sheet.shape == (84, 144, 3)
    assert np.all(sheet[:40, :20] == (10, 120, 240)) and np.all(sheet[:40, 20:24] == 255)
    assert np.all(sheet[40:44] == 255)  # gap between rows
    assert np.all(sheet[44:, 40:] == 255)  # padding of the shorter row


def test_single_row_is_a_side_by_side_strip():
    a, b = solid(100, 80), solid(50, 50, (200, 0, 0))
    strip = grid([[a, b]], height=50, gap=8)
    expected = np.hstack([fit_height(a, 50), np.full((50, 8, 3), 255, np.uint8), fit_height(b, 50)])
    np.testing.assert_array_equal(strip, expected)


def test_missing_cells_are_grey_placeholders():
    sheet = grid([[solid(40, 40), None]], height=40)
    assert sheet.shape == (40, 40 + 30, 3)
    assert np.all(sheet[:, 40:] == MISSING_RGB)


def test_labels_sit_in_a_band_above_each_row():
    rows = [[solid(40, 40), solid(40, 120)], [solid(40, 40)]]
    sheet = grid(rows, height=40, labels=[["input", "a very long label that cannot fit in one narrow cell"], ["x"]])
    assert sheet.shape == (2 * (LABEL_BAND + 40), 160, 3)
    band = sheet[:LABEL_BAND]
    assert (band[:, :40] < 128).any() and (band[:, 40:] < 128).any()  # text written in each cell's band
    assert np.all(band[:, 36:44] == 255)  # the long label does not run into its neighbour, nor the short one
    assert np.all(sheet[LABEL_BAND:LABEL_BAND + 40, :40] == (10, 120, 240))  # images below the band, untouched
    # A row with fewer labels than cells leaves the rest blank.
    sheet = grid([[solid(40, 40), solid(40, 40)]], height=40, labels=[["only one"]])
    assert np.all(sheet[:LABEL_BAND, 40:] == 255)


def test_grid_needs_an_image():
    with pytest.raises(ValueError):
        grid([[]])
    with pytest.raises(ValueError):
        grid([])


def test_overlay_tints_inside_the_mask_only():
    rgb = solid(6, 8, (100, 100, 100))
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:6] = True
    out = overlay(rgb, [(mask, (255, 0, 0))], alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    np.testing.assert_array_equal(out[~mask], rgb[~mask])
    assert out[2, 3].tolist() == [178, 50, 50]  # halfway, rounded


def test_overlay_mask_types_and_layer_order():
    rgb = solid(4, 4, (0, 0, 0))
    full = overlay(rgb, [(np.full((4, 4), 255, np.uint8), (200, 200, 200))], alpha=1.0)
    half = overlay(rgb, [(np.full((4, 4), 0.5, np.float32), (200, 200, 200))], alpha=1.0)
    soft = overlay(rgb, [(np.full((4, 4), 51, np.uint8), (200, 200, 200))], alpha=1.0)  # uint8 is 0–255 coverage
    assert full[0, 0].tolist() == [200] * 3 and half[0, 0].tolist() == [100] * 3 and soft[0, 0].tolist() == [40] * 3
    everywhere = np.ones((4, 4), bool)
    top = overlay(rgb, [(everywhere, (255, 0, 0)), (everywhere, (0, 0, 255))], alpha=1.0)
    assert top[0, 0].tolist() == [0, 0, 255]  # later layers cover earlier ones


def test_overlay_dims_the_photo():
    rgb = solid(4, 4, (200, 100, 50))
    out = overlay(rgb, [(np.zeros((4, 4), bool), (255, 0, 0))], dim=0.5)
    assert out[0, 0].tolist() == [100, 50, 25]


def test_app_detail_images_use_the_shared_builders():
    """The makeup "before | after" strip and its palette are grids."""
    from studio.apps.makeup import report as makeup_report
    from studio.apps.makeup.presets import preset_look

    a, b = solid(100, 80), solid(50, 50, (200, 0, 0))
    np.testing.assert_array_equal(makeup_report.side_by_side([a, b], 64), grid([[a, b]], 64, gap=8))
    palette = makeup_report.swatches(preset_look("classic_red"), size=48)
    assert palette.shape == (LABEL_BAND + 48, 48 * 9, 3)
