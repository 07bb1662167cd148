"""The style's own brushwork on the photo: its detail layer copied patch by patch ("texture by numbers").

Image analogies (Hertzmann et al., SIGGRAPH 2001) paint a target with a source's texture by matching each target
patch to the source patch whose *guide* (here: its blurred colour, the "number") and direction agree. This is a
one-pass, fixed-grid form of it:

* **Bank** (per style and working size, cached): the style resized so a stroke keeps its share of the canvas, split
  into a smooth base (Gaussian, σ = patch / 2) and its detail (style − base: strokes, grain, lines). Patches of the
  detail on a half-overlapping grid, keyed by the base colour at their centre, their dominant direction (the
  structure tensor's doubled angle, weighted by coherence) and how busy they are (the rank of their local detail
  energy in the style), each also rotated by 90° so any direction finds one.
* **Transfer**: the photo (already in the style's palette) is keyed the same way on a grid with a half-patch hop —
  direction and busyness read from the photo itself, so its busy parts take the style's busy strokes and its flat
  sky the style's calm areas (this is what keeps the photo's edges the strongest ones). Each cell takes its
  nearest style patch for a slightly jittered key (fixed seed, so a flat wall does not tile one patch); the patches
  are overlap-added under sin² windows, which sum to exactly 1 at a half hop (no seams), and rescaled so the sum
  of unrelated patches keeps the style's contrast.

The result is a detail field (Lab) the lite tier adds to its painted base: Van Gogh's swirls in the sky-coloured
areas, Hokusai's line work where the photo is that blue, a film frame's smooth gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Weight of the direction key against the colour key (Lab units per unit of coherence).
DIRECTION_WEIGHT = 12.0
#: Weight of the activity key (a busy part of the photo takes busy strokes, a flat sky the style's calm areas).
ACTIVITY_WEIGHT = 30.0
#: The detail is the style minus its Gaussian blur at this share of the patch side: brush marks and grain, not
#: the outlines of its large shapes (those would land at random places).
DETAIL_SIGMA = 0.5
#: Std of the fixed-seed jitter added to each cell's key (key units), so a uniform region gets varied patches.
JITTER = 4.0


def _window(p: int) -> np.ndarray:
    w = np.sin(np.pi * (np.arange(p) + 0.5) / p) ** 2  # sin² windows at a hop of p/2 sum to 1
    return np.outer(w, w).astype(np.float32)


def _direction(light: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, 2): coherence × (cos 2θ, sin 2θ) of the gradient direction θ (structure tensor, smoothed)."""
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)
    e, f, g = (cv2.GaussianBlur(m, (0, 0), sigma) for m in (gx * gx, gx * gy, gy * gy))
    c, s = e - g, 2 * f
    return np.dstack([c, s]) / (e + g + 1e-3)[..., None]


def _activity(light: np.ndarray, p: int, centre_y: np.ndarray, centre_x: np.ndarray) -> np.ndarray:
    """How busy each cell is, as its rank (0–1) among the image's cells: the local std of the lightness detail."""
    detail = light - cv2.GaussianBlur(light, (0, 0), p / 4)
    local = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), p / 3))[centre_y, centre_x]
    ranks = np.empty(local.size, np.float32)
    ranks[np.argsort(local, axis=None)] = np.linspace(0.0, 1.0, local.size, dtype=np.float32)
    return ranks.reshape(local.shape)


def _keys(lab: np.ndarray, p: int, rows: np.ndarray, cols: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
    """Per cell: base colour (Lab), direction (2) and activity rank (1) — the last two read from `guide` (the
    photo itself, when `lab` is the photo already in the style's palette)."""
    guide = lab if guide is None else guide
    light = np.ascontiguousarray(guide[..., 0])
    base = cv2.GaussianBlur(lab, (0, 0), p / 2)
    direction = _direction(light, p / 2)
    centre_y, centre_x = np.meshgrid(rows + p // 2, cols + p // 2, indexing="ij")
    return np.concatenate([base[centre_y, centre_x], DIRECTION_WEIGHT * direction[centre_y, centre_x],
                           ACTIVITY_WEIGHT * _activity(light, p, centre_y, centre_x)[..., None]], -1)  # fmt: skip


@dataclass(frozen=True)
class Bank:
    patch: int
    keys: np.ndarray  # (N, 6) float32
    detail: np.ndarray  # (N, p, p, 3) float32, windowed
    tree: object  # scipy cKDTree over keys
    shape: tuple[int, int]  # the style's working size

    def transfer(self, lab: np.ndarray, guide: np.ndarray, seed: int = 0) -> np.ndarray:
        """The detail field (H×W×3 Lab) for an image `lab` already in the style's palette; `guide` is the photo's
        own Lab (its directions and busy parts)."""
        p, hop = self.patch, self.patch // 2
        h, w = lab.shape[:2]
        rows_n, cols_n = (h + hop - 1) // hop + 1, (w + hop - 1) // hop + 1
        pad = (hop, rows_n * hop + hop - h, hop, cols_n * hop + hop - w)
        padded, guide = (cv2.copyMakeBorder(x, *pad, cv2.BORDER_REFLECT) for x in (lab, guide))
        rows, cols = np.arange(rows_n) * hop, np.arange(cols_n) * hop
        keys = _keys(padded, p, rows, cols, guide).reshape(-1, self.keys.shape[1])
        # A fixed-seed jitter of the keys: neighbouring cells of a uniform region reach different close matches.
        keys += np.random.default_rng(seed).normal(0.0, JITTER, keys.shape).astype(np.float32)
        _, pick = self.tree.query(keys, k=1)
        patches = self.detail[pick].reshape(rows_n, cols_n, p, p, 3)
        out = np.zeros(((rows_n + 1) * hop, (cols_n + 1) * hop, 3), np.float32)
        for dy in (0, 1):  # four phases, each a seamless tiling of non-overlapping patches
            for dx in (0, 1):
                tiles = patches[dy::2, dx::2]
                r, c = tiles.shape[:2]
                block = tiles.transpose(0, 2, 1, 3, 4).reshape(r * p, c * p, 3)
                out[dy * hop : dy * hop + r * p, dx * hop : dx * hop + c * p] += block
        # Four unrelated patches averaged under the windows lose contrast (the variance of a weighted sum of
        # independent parts is Σw², not (Σw)² = 1): divide by √Σw², a fixed pattern of the grid, so the strokes
        # keep the style's contrast everywhere instead of pulsing weaker between patch centres.
        w1 = np.sin(np.pi * (np.arange(hop) + 0.5) / p) ** 4 + np.cos(np.pi * (np.arange(hop) + 0.5) / p) ** 4
        gain = 1.0 / np.sqrt(np.outer(np.tile(w1, rows_n + 1), np.tile(w1, cols_n + 1)))
        return out[hop : hop + h, hop : hop + w] * gain[hop : hop + h, hop : hop + w, None].astype(np.float32)


def build_bank(style_lab: np.ndarray, patch: int, max_patches: int = 30_000) -> Bank:
    """The detail bank of a style image (Lab float32, already at its working size)."""
    from scipy.spatial import cKDTree

    p, hop = patch, max(1, patch // 2)
    base = cv2.GaussianBlur(style_lab, (0, 0), DETAIL_SIGMA * p)
    detail = style_lab - base
    h, w = style_lab.shape[:2]
    rows, cols = np.arange(0, h - p + 1, hop), np.arange(0, w - p + 1, hop)
    keys = _keys(style_lab, p, rows, cols).reshape(-1, 6)
    iy, ix = np.meshgrid(rows, cols, indexing="ij")
    offs = np.arange(p)
    patches = detail[iy.reshape(-1, 1, 1) + offs[None, :, None], ix.reshape(-1, 1, 1) + offs[None, None, :]]
    # Turned by 90°: the direction key's doubled angle turns by 180°, i.e. changes sign.
    keys = np.concatenate([keys, keys * np.array([1, 1, 1, -1, -1, 1], np.float32)])
    patches = np.concatenate([patches, np.rot90(patches, 1, axes=(1, 2))])
    if len(keys) > max_patches:
        keep = np.random.default_rng(0).choice(len(keys), max_patches, replace=False)
        keys, patches = keys[keep], patches[keep]
    patches = np.ascontiguousarray(patches * _window(p)[None, :, :, None])
    return Bank(p, keys.astype(np.float32), patches.astype(np.float32), cKDTree(keys, balanced_tree=False), (h, w))
