"""Metrics on synthetic cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from studio.metrics import METRICS, ciede2000, landmark_nme, psnr, region_delta_e, ssim


def test_identical_images():
    img = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    assert psnr(img, img) == float("inf")
    mask = np.ones(img.shape[:2], bool)
    assert region_delta_e(img, mask, img, mask) == pytest.approx(0.0, abs=1e-9)


def test_psnr_of_a_known_error():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 5, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25))


@pytest.mark.parametrize(
    "lab1, lab2, expected",
    [  # pairs 1, 7 and 17 of Sharma, Wu & Dalal (2005), Table 1 — the published CIEDE2000 test data
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ],
)
def test_ciede2000_matches_published_pairs(lab1, lab2, expected):
    assert float(ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


def test_ssim_drops_with_noise_and_respects_masks():
    rng = np.random.default_rng(1)
    img = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (64, 1, 3))
    noisy = img.copy()
    noisy[:, 32:] = np.clip(img[:, 32:].astype(int) + rng.normal(0, 40, img[:, 32:].shape), 0, 255).astype(np.uint8)
    left = np.zeros((64, 64), bool)
    left[:, :20] = True
    assert ssim(img, noisy) < 0.9
    assert ssim(img, noisy, mask=left) == pytest.approx(1.0, abs=1e-6)


def test_landmark_nme():
    a = np.zeros((4, 2))
    b = np.full((4, 2), [3.0, 4.0])
    assert landmark_nme(a, b, normalizer=10.0) == pytest.approx(0.5)


def test_every_metric_declares_direction_and_range():
    for metric in METRICS.values():
        assert metric.range[0] < metric.range[1]
        assert isinstance(metric.higher_is_better, bool)
