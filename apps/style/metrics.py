"""Style-transfer metrics without network weights (no VGG, no CLIP): colour, texture, structure, identity.

* `colour_distance(a, b)` — sliced Wasserstein distance (SW2) between the two images' pixel colours in CIELAB,
  in Lab units (about ΔE76). Pitié's iterative distribution transfer, which the lite tier uses, minimises
  exactly this (Heitz et al., CVPR 2021, arXiv 2006.07229), so one algorithm gives transfer and metric.
* `texture_distance(a, b)` — sliced Wasserstein distance between the distributions of responses to a fixed bank
  of random zero-mean filters (+ ReLU) on the luminance, at two scales. Random shallow filter banks are good
  texture models (Ustyuzhaninov et al., arXiv 1606.00021). Zero-mean filters on L only: the mean brightness and
  the colours are the colour metric's business, so this one measures strokes, grain, contrast and lines.
* `edge_fscore(content, result)` — the structure kept: Canny edges of both at a common size, precision and
  recall within a 2 px tolerance, F = 2PR/(P+R). Thresholds are each image's own gradient percentiles, so a
  result with a different palette (darker, lower contrast) is judged on where its edges are, not how strong.

Every function takes RGB uint8 images of any size; each resizes to its own fixed working size so the numbers
do not depend on the photo's resolution. The random draws have fixed seeds: the same pair of images always
gives the same number.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

#: Working long side of the colour and texture metrics (the style and the result are compared at one scale).
METRIC_SIDE = 256
#: Working long side of the edge F-score (its 2 px tolerance is in these pixels).
EDGE_SIDE = 512
EDGE_TOLERANCE_PX = 2.0
#: Pixels / feature vectors sampled per image and random projections per distance.
SAMPLES = 20_000
PROJECTIONS = 64
QUANTILES = 256
#: The texture filter bank: 32 random 7×7 zero-mean unit-norm filters.
FILTERS, FILTER_SIZE = 32, 7
#: Canny thresholds: the high one is this percentile of the image's own gradient magnitude, the low one half of it.
EDGE_PERCENTILE = 90.0


def _resize_long(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.multiply(rgb, np.float32(1 / 255), dtype=np.float32), cv2.COLOR_RGB2Lab)


@functools.cache
def _directions(dim: int, n: int = PROJECTIONS, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((dim, n)).astype(np.float32)
    return d / np.linalg.norm(d, axis=0, keepdims=True)


def _sample(points: np.ndarray, n: int = SAMPLES, seed: int = 1) -> np.ndarray:
    if len(points) <= n:
        return points
    return points[np.random.default_rng(seed).choice(len(points), n, replace=False)]


def sliced_wasserstein(x: np.ndarray, y: np.ndarray) -> float:
    """SW2 between two point clouds (N×d, M×d) over fixed random directions, compared at `QUANTILES` quantiles
    (so the clouds may differ in size)."""
    d = _directions(x.shape[1])
    px, py = _quantiles(x @ d), _quantiles(y @ d)
    return float(np.sqrt(np.mean((px - py) ** 2)))


def _quantiles(values: np.ndarray) -> np.ndarray:
    """`QUANTILES` evenly spaced quantiles of each column (one sort; linear between neighbouring ranks)."""
    ordered = np.sort(values, axis=0)
    pos = np.linspace(0.0, len(ordered) - 1, QUANTILES)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(ordered) - 1)
    frac = (pos - lo)[:, None].astype(np.float32)
    return ordered[lo] * (1 - frac) + ordered[hi] * frac


def colour_points(rgb: np.ndarray) -> np.ndarray:
    return _sample(_lab(_resize_long(rgb, METRIC_SIDE)).reshape(-1, 3))


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Sliced Wasserstein distance of the Lab colour distributions of two images (Lab units)."""
    return sliced_wasserstein(colour_points(a), colour_points(b))


@functools.cache
def _filter_bank() -> np.ndarray:
    f = np.random.default_rng(7).standard_normal((FILTERS, FILTER_SIZE, FILTER_SIZE)).astype(np.float32)
    f -= f.mean(axis=(1, 2), keepdims=True)
    return f / np.linalg.norm(f, axis=(1, 2), keepdims=True)


def lightness_features(light: np.ndarray, samples: int = SAMPLES) -> list[np.ndarray]:
    """Sampled filter-bank responses (N×32) of a lightness image (L, 0–100, already at the metric size) and of
    its half-size copy."""
    lum = np.asarray(light, np.float32) / 100.0
    out = []
    for level in range(2):
        if level:
            lum = cv2.pyrDown(lum)
        responses = np.stack([cv2.filter2D(lum, -1, k, borderType=cv2.BORDER_REFLECT) for k in _filter_bank()], -1)
        m = FILTER_SIZE // 2  # borders are reflections, not texture
        out.append(_sample(np.maximum(responses[m:-m, m:-m], 0.0).reshape(-1, FILTERS), samples, seed=2 + level))
    return out


def texture_features(rgb: np.ndarray) -> list[np.ndarray]:
    """`lightness_features` of an RGB image at the metric size."""
    return lightness_features(_lab(_resize_long(rgb, METRIC_SIDE))[..., 0])


def feature_distance(fa: list[np.ndarray], fb: list[np.ndarray]) -> float:
    """Mean over the two scales of the sliced Wasserstein distance between two feature sets (×100)."""
    return 100.0 * float(np.mean([sliced_wasserstein(x, y) for x, y in zip(fa, fb)]))


def texture_distance(a: np.ndarray, b: np.ndarray, b_features: list[np.ndarray] | None = None) -> float:
    """Texture distance between two RGB images (see the module docstring)."""
    return feature_distance(texture_features(a), b_features or texture_features(b))


def edges(rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Bool Canny edges of the luminance at `size` (w, h; default: long side `EDGE_SIDE`)."""
    if size is None:
        small = _resize_long(rgb, EDGE_SIDE)
    else:
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return grey_edges(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))


def edge_fscore(content: np.ndarray, result: np.ndarray) -> dict[str, float]:
    """{"f": F-score, "precision", "recall"} of the result's edges against the content's, 2 px tolerance."""
    ref = edges(content)
    return edge_match(ref, edges(result, (ref.shape[1], ref.shape[0])))


def grey_edges(grey: np.ndarray) -> np.ndarray:
    """Bool Canny edges of a uint8 grey image at its own size (thresholds from its gradient percentile)."""
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    high = max(float(np.percentile(np.hypot(gx, gy), EDGE_PERCENTILE)), 8.0)
    return cv2.Canny(grey, 0.5 * high, high, L2gradient=True) > 0


def edge_match(ref: np.ndarray, out: np.ndarray, tolerance: float = EDGE_TOLERANCE_PX) -> dict[str, float]:
    """F-score of edge map `out` against `ref` (same size), within `tolerance` px."""
    if not ref.any() or not out.any():
        return {"f": 0.0, "precision": 0.0, "recall": 0.0}
    to_ref = cv2.distanceTransform((~ref).astype(np.uint8), cv2.DIST_L2, 3)
    to_out = cv2.distanceTransform((~out).astype(np.uint8), cv2.DIST_L2, 3)
    precision = float((to_ref[out] <= tolerance).mean())
    recall = float((to_out[ref] <= tolerance).mean())
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"f": f, "precision": precision, "recall": recall}
