"""The "still, high quality" mode: style transfer by texture synthesis, after Elad & Milanfar ("Style transfer via
texture synthesis", IEEE TIP 26(5):2338–2351, 2017, arXiv 1609.03057), written for numpy + scipy + OpenCV.

The output is built only from the style's own patches, arranged so that they agree with each other and with the
photo (Kwatra et al.'s texture optimisation, SIGGRAPH 2005, plus the paper's additions):

    X ← the photo in the style's palette, plus noise                            (coarsest level)
    for each level, coarse to fine (the style resized to the same canvas scale):
        for each patch size, large to small:
            repeat:
                1. match: every patch of X on a grid (gap < patch) → its nearest style patch (PCA-reduced, k-d tree)
                2. aggregate robustly (IRLS, r = 0.8): overlapping patches vote per pixel, each weighted by
                   ‖patch − match‖^(r−2), so one bad match cannot smear a region
                3. fuse the content: X ← (X̃ + W·C) / (1 + W), W large on the photo's edges and faces
                4. colour: X's Lab histogram pulled to the style's (per channel)
                5. denoise: an edge-preserving domain-transform filter (Gastal & Oliveira 2011)
        upsample X to the next level

The paper's parameters (3 levels; patches 33/21/13/9, gaps 28/18/8/5; 3 × 10 IRLS iterations, at ~400 px) are
scaled down here to fit the issue's budget (under 20 s for a 1 MP photo on a laptop CPU): it synthesises at
`SYNTH_SIDE` px, 2 levels, patches 13 and 7, 2 iterations each, 2 IRLS passes. The lite tier then treats the
synthesis as its base: the style's detail and the ink lines go on top at full size (lite.render). Matching is an
exhaustive search in PCA space (12 dimensions) over a fixed-seed sample of 8k style patches, half of them from the
style turned by 90°.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Long side of the synthesis (the last level).
SYNTH_SIDE = 512
#: (scale of SYNTH_SIDE, patch sizes with gaps, iterations) per level.
LEVELS = ((0.5, ((13, 8), (7, 4)), 2), (1.0, ((13, 8), (7, 4)), 2))
#: Robust aggregation exponent (the paper's r) and IRLS passes per iteration.
ROBUST_R, IRLS_PASSES = 0.8, 2
#: PCA dimensions of the patch search.
PCA_DIMS = 12
#: Most style patches kept per bank (a fixed-seed subset beyond it).
MAX_BANK = 8_000
#: Content fusion weight on the photo's edges and on faces; elsewhere FUSION_FLOOR.
FUSION_EDGES, FUSION_FACES, FUSION_FLOOR = 3.0, 1.2, 0.6


@dataclass
class PatchBank:
    size: int
    mean: np.ndarray  # PCA mean (d,)
    basis: np.ndarray  # (d, k)
    patches: np.ndarray  # (N, d) raw patches (Lab, flattened)
    codes: np.ndarray  # (N, k) their PCA coordinates
    norms: np.ndarray  # (N,) squared norms of the codes

    def nearest(self, flat: np.ndarray) -> np.ndarray:
        """Index of the nearest bank patch for each row of `flat` (exhaustive search in PCA space, by matrix
        products in chunks: in 16 dimensions a k-d tree is slower than brute force)."""
        q = (flat - self.mean) @ self.basis * np.float32(-2.0)
        out = np.empty(len(q), np.int64)
        for start in range(0, len(q), 1024):
            d = q[start : start + 1024] @ self.codes.T  # −2 q·p; adding ‖p‖² gives ‖q − p‖² − ‖q‖²
            d += self.norms
            out[start : start + 1024] = np.argmin(d, axis=1)
        return out


def _windows(image: np.ndarray, n: int, gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patches (R, C, n*n*3), row starts, column starts): a grid of n×n windows every `gap` px that covers the
    image, the last row and column flush with its edge."""
    h, w = image.shape[:2]
    rows = np.unique(np.append(np.arange(0, h - n + 1, gap), h - n))
    cols = np.unique(np.append(np.arange(0, w - n + 1, gap), w - n))
    view = np.lib.stride_tricks.sliding_window_view(image, (n, n), axis=(0, 1))  # (h-n+1, w-n+1, 3, n, n)
    patches = view[rows[:, None], cols[None, :]].transpose(0, 1, 3, 4, 2).reshape(len(rows), len(cols), -1)
    return patches, rows, cols


def build_bank(style_lab: np.ndarray, n: int, seed: int = 0) -> PatchBank:
    """Up to MAX_BANK n×n patches of the style at random positions (fixed seed), half of them from the style
    turned by 90° (the other stroke direction), with their PCA codes."""
    rng = np.random.default_rng(seed)
    chunks = []
    for image in (style_lab, np.ascontiguousarray(np.rot90(style_lab))):
        h, w = image.shape[:2]
        count = min(MAX_BANK // 2, (h - n + 1) * (w - n + 1))
        ys, xs = rng.integers(0, h - n + 1, count), rng.integers(0, w - n + 1, count)
        view = np.lib.stride_tricks.sliding_window_view(image, (n, n), axis=(0, 1))
        chunks.append(view[ys, xs].transpose(0, 2, 3, 1).reshape(count, -1))
    patches = np.ascontiguousarray(np.concatenate(chunks), np.float32)
    mean = patches.mean(axis=0)
    sample = patches[rng.choice(len(patches), min(len(patches), 1500), replace=False)]
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    basis = np.ascontiguousarray(vt[:PCA_DIMS].T, np.float32)
    codes = np.ascontiguousarray((patches - mean) @ basis)
    return PatchBank(n, mean, basis, patches, codes, (codes * codes).sum(axis=1))


def _aggregate(shape, matched: np.ndarray, weights: np.ndarray, rows, cols, n: int) -> np.ndarray:
    """Weighted overlap-add of per-cell patches (R, C, n*n*3) into an image."""
    h, w = shape[:2]
    acc = np.zeros((h, w, 3), np.float32)
    norm = np.zeros((h, w, 1), np.float32)
    p = matched.reshape(len(rows), len(cols), n, n, 3) * weights[:, :, None, None, None]
    ry, cx = rows[:, None], cols[None, :]
    wn = weights[..., None]
    for dy in range(n):  # for one offset the cells' pixels are all distinct, so plain fancy-index adds are exact
        for dx in range(n):
            acc[ry + dy, cx + dx] += p[:, :, dy, dx]
            norm[ry + dy, cx + dx] += wn
    return acc / np.maximum(norm, 1e-6)


def _step(x: np.ndarray, bank: PatchBank, gap: int) -> np.ndarray:
    n = bank.size
    patches, rows, cols = _windows(x, n, gap)
    flat = patches.reshape(-1, patches.shape[-1])
    matched = bank.patches[bank.nearest(flat)]
    weights = np.ones((len(rows), len(cols)), np.float32)
    out = x
    for _ in range(IRLS_PASSES):
        out = _aggregate(x.shape, matched, weights, rows, cols, n)
        current, _, _ = _windows(out, n, gap)
        err = np.linalg.norm(current.reshape(-1, flat.shape[1]) - matched, axis=1) + 1e-3
        weights = (err ** (ROBUST_R - 2)).reshape(len(rows), len(cols)).astype(np.float32)
        weights /= weights.max()
    return out


def _match_histograms(x: np.ndarray, target_q: np.ndarray) -> np.ndarray:
    """Each Lab channel of `x` mapped onto the style's quantiles (`target_q`: (Q, 3))."""
    q = np.linspace(0.0, 1.0, len(target_q))
    out = np.empty_like(x)
    for c in range(3):
        src = np.quantile(x[..., c], q)
        src = np.maximum.accumulate(src + np.arange(len(q)) * 1e-4)
        out[..., c] = np.interp(x[..., c], src, target_q[:, c])
    return out


def synthesize(content_lab: np.ndarray, style_lab: np.ndarray, fusion: np.ndarray, style_quantiles: np.ndarray,
               seed: int = 0):  # fmt: skip
    """Generator: yields (done, total, X) after every iteration, X the photo being rebuilt from the style's patches
    (Lab float32 at the current level's size); the last X is the result, at `content_lab`'s size.

    Args:
        content_lab: the photo in the style's palette (the fusion target C).
        style_lab: the style at the same canvas scale as `content_lab`.
        fusion: W (H×W float32), how strongly each pixel is pulled to the content.
        style_quantiles: (Q, 3) Lab quantiles of the style, for the colour step.
    """
    rng = np.random.default_rng(seed)
    total = sum(len(sizes) * iters for _, sizes, iters in LEVELS)
    done = 0
    x = None
    h, w = content_lab.shape[:2]
    for scale, sizes, iters in LEVELS:
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        c = cv2.resize(content_lab, size, interpolation=cv2.INTER_AREA)
        f = cv2.resize(fusion, size, interpolation=cv2.INTER_AREA)[..., None]
        s_scale = size[0] / w
        s = cv2.resize(style_lab, (max(16, round(style_lab.shape[1] * s_scale)), max(16, round(style_lab.shape[0] *
                                                                                                 s_scale))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
        if x is None:
            x = c + rng.normal(0.0, 12.0, c.shape).astype(np.float32)
        else:
            x = cv2.resize(x, size, interpolation=cv2.INTER_CUBIC)
        for n, gap in sizes:
            if min(s.shape[:2]) <= n or min(size) <= n:
                continue
            bank = build_bank(s, n, seed)
            for _ in range(iters):
                x = _step(x, bank, gap)
                x = (x + f * c) / (1.0 + f)
                x = _match_histograms(x, style_quantiles)
                x = cv2.ximgproc.dtFilter(x, x, sigmaSpatial=max(2.0, n / 3), sigmaColor=6.0)
                done += 1
                yield done, total, x
    if done < total:  # a tiny image skipped some patch sizes: still end on the full-size result
        yield total, total, x
