"""Anisotropic Kuwahara filtering (Kyprianidis, Kang & Döllner, "Image and video abstraction by anisotropic
Kuwahara filtering", Computer Graphics Forum 28(7), 2009), written for numpy + OpenCV.

The filter turns a photo into flat, painterly patches whose boundaries follow the image's edges, and whose
strokes run along the local structure:

1. **Structure tensor** of the image, smoothed: its eigenvectors give the local edge direction, its eigenvalues
   an anisotropy A in [0, 1] (0 flat or isotropic, 1 a clean straight edge).
2. **Elliptical kernel** per pixel: the unit disk stretched along the edge tangent by (1 + A) and squeezed across
   it by 1 / (1 + A) (the paper's α = 1), rotated to the tangent, scaled by the radius (which may vary per pixel:
   the lite tier paints faces with finer strokes).
3. **Sectors**: the disk is cut into 8 overlapping angular sectors with smooth weights (a partition of unity
   times a radial Gaussian, in the spirit of the paper's smoothed sector functions). Each sector's weighted
   mean and variance are gathered.
4. **Output**: the sector means, weighted by 1 / σᵢ^q (q = 8): the sectors that do not straddle an edge win, so
   edges stay sharp while everything else is smoothed into strokes.

How it is made fast: the kernel is sampled at a fixed set of points of the *unit disk* (19 for the live path, 37
or 61 for stills), so every sample's sector weights are constants. Only the sample's position in the image
depends on the pixel, and `cv2.remap` fetches all pixels' samples at once with bilinear interpolation. A
sample costs one remap and a few multiply-adds over the image, whatever the radius.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

SECTORS = 8
#: Sharpness of the sector selection (the paper's q).
Q = 8.0
#: Smoothing of the structure tensor, in pixels (the paper's ρ).
TENSOR_SIGMA = 2.0


@functools.cache
def disk_samples(rings: int, sectors: int = SECTORS) -> tuple[np.ndarray, np.ndarray]:
    """(points N×2 in the unit disk, sector weights N×sectors): a centre and `rings` hexagonal rings.

    Sector weights: a Gaussian of the angular distance to each sector's axis, normalised to sum to 1 over the
    sectors (the centre belongs to all equally), times a radial Gaussian that fades the rim."""
    points = [(0.0, 0.0)]
    for k in range(1, rings + 1):
        radius = k / rings
        count = 6 * k
        offset = 0.5 * (k % 2) * 2 * np.pi / count  # stagger alternate rings
        points += [(radius * np.cos(offset + 2 * np.pi * i / count), radius * np.sin(offset + 2 * np.pi * i / count))
                   for i in range(count)]  # fmt: skip
    p = np.array(points, np.float32)
    theta = np.arctan2(p[:, 1], p[:, 0])
    axes = 2 * np.pi * np.arange(sectors) / sectors
    diff = np.angle(np.exp(1j * (theta[:, None] - axes[None, :])))
    w = np.exp(-0.5 * (diff / (0.75 * np.pi / sectors)) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    w[0] = 1.0 / sectors
    radial = np.exp(-0.5 * (np.hypot(p[:, 0], p[:, 1]) / 0.6) ** 2)
    w = w * radial[:, None]
    w[w < 0.01] = 0.0
    return p, w.astype(np.float32)


def structure(image: np.ndarray, sigma: float = TENSOR_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """(tangent, A): the edge-tangent direction (H×W×2 unit vectors) and the anisotropy A (H×W) of a float32
    image (H×W×C), from its smoothed structure tensor."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    ones = np.ones((1, image.shape[2] if image.ndim == 3 else 1), np.float32)
    e, f, g = (cv2.transform(m, ones) if image.ndim == 3 else m for m in (gx * gx, gx * gy, gy * gy))
    e, f, g = (cv2.GaussianBlur(m.reshape(image.shape[:2]), (0, 0), sigma) for m in (e, f, g))
    diff = e - g
    root = cv2.sqrt(diff * diff + 4 * f * f)
    # The tangent is the eigenvector of the smaller eigenvalue: (λ1 − e, −f) with λ1 = (e + g + root) / 2.
    tx, ty = 0.5 * (root - diff), -f
    norm = cv2.magnitude(tx, ty) + 1e-9
    flat = norm < 1e-6  # no structure at all: any direction does (A is 0 there)
    tangent = cv2.merge([np.where(flat, 1.0, tx / norm).astype(np.float32), (ty / norm).astype(np.float32)])
    anisotropy = root / (e + g + 1e-6)
    return tangent, anisotropy


def kuwahara(image: np.ndarray, radius: float | np.ndarray, rings: int = 2,
             orientation: tuple[np.ndarray, np.ndarray] | None = None,
             sectors: int = SECTORS) -> np.ndarray:  # fmt: skip
    """Anisotropic Kuwahara filter of a float32 image (H×W×3, any scale, e.g. Lab).

    Args:
        radius: kernel radius in pixels, a number or a per-pixel float32 map (H×W).
        rings: sample rings of the unit disk (1 → 7 samples, 2 → 19, 3 → 37, 4 → 61).
        sectors: 8 (the paper's), or 4 for the webcam path (half the sums; few samples could not fill 8 anyway).
        orientation: `structure(...)` of a guide image (default: of `image`).
    """
    h, w = image.shape[:2]
    tangent, a = orientation if orientation is not None else structure(image)
    r = np.broadcast_to(np.asarray(radius, np.float32), (h, w))
    along, across = r * (1.0 + a), r / (1.0 + a)
    t_step = cv2.merge([tangent[..., 0] * along, tangent[..., 1] * along])  # image offset per unit of disk x
    n_step = cv2.merge([-tangent[..., 1] * across, tangent[..., 0] * across])  # … per unit of disk y
    grid = _grid(h, w)
    # Four channels: the colour and its squared norm, so one remap and one accumulation give mean and variance.
    ones = np.ones((1, 3), np.float32)
    stacked = cv2.merge([*cv2.split(image), cv2.transform(image * image, ones).reshape(h, w)])
    points, weights = disk_samples(rings, sectors)
    sums = [np.zeros((h, w, 4), np.float32) for _ in range(sectors)]
    for (vx, vy), wj in zip(points, weights):
        where = cv2.scaleAdd(n_step, float(vy), cv2.scaleAdd(t_step, float(vx), grid))
        sample = cv2.remap(stacked, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        for k in np.flatnonzero(wj):
            cv2.scaleAdd(sample, float(wj[k]), sums[k], dst=sums[k])
    total = weights.sum(axis=0)
    # Per sector: mean m = s/W and variance s₃/W − |m|², from the sums s (colour, squared norm) and weight W.
    norm3 = np.array([[1, 1, 1, 0]], np.float32)
    variances = [np.maximum(sums[k][..., 3] * np.float32(1 / total[k])
                            - cv2.transform(sums[k] * sums[k], norm3).reshape(h, w) * np.float32(1 / total[k] ** 2),
                            0.0) + np.float32(1e-4) for k in range(sectors)]  # fmt: skip
    # α_k = 1 / σ_k^q, taken relative to the smallest σ so it neither overflows nor underflows.
    floor = np.minimum.reduce(variances)
    out = np.zeros((h, w, 4), np.float32)
    norm = np.zeros((h, w), np.float32)
    for k in range(sectors):
        alpha = cv2.pow(cv2.divide(floor, variances[k]), Q / 2)
        norm += alpha
        out += sums[k] * (alpha * np.float32(1 / total[k]))[..., None]
    return out[..., :3] / norm[..., None]


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> np.ndarray:
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    grid.flags.writeable = False
    return grid
