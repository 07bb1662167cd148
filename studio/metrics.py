"""Quality metrics, each a pure function tagged with its direction and range.

Used by the apps' quality gates, the student-vs-teacher comparison and the benchmarks. Images are RGB
uint8 arrays of the same size; masks are bool/uint8/float arrays of the image's height and width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Colour lives in studio.color (one Lab convention for the whole project); these names are re-exported because
# the metrics are where callers have always found them.
from .color import bool_mask, ciede2000, mean_lab, rgb_to_lab

__all__ = ["METRICS", "Metric", "ciede2000", "landmark_nme", "mean_lab", "psnr", "region_delta_e", "rgb_to_lab",
           "ssim"]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    higher_is_better: bool
    range: tuple[float, float]
    unit: str = ""
    help: str = ""

    def __call__(self, *args, **kwargs) -> float:
        return float(self.fn(*args, **kwargs))


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")


def psnr(a: np.ndarray, b: np.ndarray, mask=None) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    _check_pair(a, b)
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    m = bool_mask(mask, a.shape)
    mse = diff[m].mean() if m is not None else diff.mean()
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


#: SSIM is measured at most at this long side (larger images are downscaled first, area-averaged).
SSIM_MAX_SIDE = 1024


def ssim(a: np.ndarray, b: np.ndarray, mask=None) -> float:
    """Structural similarity (Wang et al. 2004, Gaussian window σ=1.5), averaged over the mask if given."""
    from skimage.metrics import structural_similarity

    import cv2

    _check_pair(a, b)
    m = bool_mask(mask, a.shape)
    scale = SSIM_MAX_SIDE / max(a.shape[:2])
    if scale < 1:
        # Structure at screen scale: SSIM's 11-px window on a 12 MP photo measures sensor noise, and costs seconds.
        size = (max(1, round(a.shape[1] * scale)), max(1, round(a.shape[0] * scale)))
        a, b = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (a, b))
        if m is not None:
            m = cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if min(a.shape[:2]) < 7:
        return 1.0 if np.array_equal(a, b) else float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    _, full = structural_similarity(a, b, channel_axis=-1 if a.ndim == 3 else None, data_range=255,
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True)  # fmt: skip
    per_pixel = full.mean(axis=-1) if full.ndim == 3 else full
    if m is not None:
        if not m.any():
            raise ValueError("SSIM mask selects no pixels")
        return float(per_pixel[m].mean())
    return float(per_pixel.mean())


def region_delta_e(a: np.ndarray, mask_a, b: np.ndarray, mask_b) -> float:
    """ΔE2000 between the mean colours of a region in two images (the regions may differ in place and size)."""
    return float(ciede2000(mean_lab(a, mask_a), mean_lab(b, mask_b)))


def landmark_nme(points_a: np.ndarray, points_b: np.ndarray, normalizer: float) -> float:
    """Normalised mean error: mean point-to-point distance divided by `normalizer` (e.g. inter-ocular distance)."""
    if points_a.shape != points_b.shape:
        raise ValueError(f"landmark sets differ: {points_a.shape} vs {points_b.shape}")
    if normalizer <= 0:
        raise ValueError("normalizer must be positive")
    return float(np.linalg.norm(points_a[:, :2] - points_b[:, :2], axis=1).mean() / normalizer)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("psnr", psnr, True, (0.0, float("inf")), "dB", "pixel fidelity; ∞ when identical"),
        Metric("ssim", ssim, True, (-1.0, 1.0), "", "structural similarity; 1 when identical"),
        Metric("delta_e2000", region_delta_e, False, (0.0, 100.0), "ΔE00", "perceived colour difference; ≤ 2 barely visible"),
        Metric("landmark_nme", landmark_nme, False, (0.0, float("inf")), "", "landmark drift relative to the face size"),
    )
}  # fmt: skip
