"""Smooth image warps driven by a few handle points: moving-least-squares similarity deformation, applied inside a
box with the box's border pinned, so every pixel outside the box keeps its exact bytes.

Moving least squares (Schaefer, McPhail & Warren, "Image deformation using moving least squares", SIGGRAPH 2006):
each point of the image moves by the similarity transform that best carries the handles near it to their targets,
"near" weighted by 1 / distance^(2α). The result is smooth, keeps local shapes (no shear), and is exact at the
handles. It is evaluated on a coarse grid (every `step` pixels) and interpolated, then applied with one `remap`:
about 2 ms for ~100 handles at 640×480 on a laptop CPU (../shared/docs/round2.md §A2 measured 2 ms for 13 handles
on a 32×24 grid).

For image warping the map is *backward*: for each output pixel, where to read in the source. So the deformation is
solved with the roles swapped — from the handles' target positions back to their source positions — which is the
usual way to warp with MLS and differs from the exact inverse by a negligible amount for gentle edits.

Apps use it for caricature and feature resizing on the face mesh (head stylization) and may use it for any
landmark-driven reshaping.
"""

from __future__ import annotations

import cv2
import numpy as np


def mls_similarity(handles_from: np.ndarray, handles_to: np.ndarray, points: np.ndarray, alpha: float = 1.0,
                   eps: float = 1e-6) -> np.ndarray:  # fmt: skip
    """Where each of `points` (G×2) goes under the MLS similarity deformation carrying `handles_from` (N×2) to
    `handles_to` (N×2). A point on a handle goes exactly to that handle's target."""
    origin = np.asarray(points, np.float64).mean(axis=0)  # small coordinates keep the sums below exact
    p = np.asarray(handles_from, np.float64) - origin
    q = np.asarray(handles_to, np.float64) - origin
    v = np.asarray(points, np.float64) - origin
    d2 = (v * v).sum(axis=1)[:, None] - 2.0 * (v @ p.T) + (p * p).sum(axis=1)[None, :]  # G×N squared distances
    w = 1.0 / np.maximum(d2, eps)
    if alpha != 1.0:
        w = w**alpha
    total = w.sum(axis=1)
    p_star = (w @ p) / total[:, None]
    q_star = (w @ q) / total[:, None]
    # Schaefer et al. eq. 6 sums w_i q̂_i A_i over the handles (q̂ = q − q*, p̂ = p − p*). Expanding the hats turns
    # each sum into one matrix-vector product over the handles (Σ w q̂·p̂ = Σ w q·p − W q*·p*, and alike), so
    # nothing G×N×2 is ever built: ~10× faster than the direct form.
    a = w @ (q[:, 0] * p[:, 0] + q[:, 1] * p[:, 1]) - total * (q_star * p_star).sum(axis=1)
    cross = q_star[:, 0] * p_star[:, 1] - q_star[:, 1] * p_star[:, 0]
    b = w @ (q[:, 0] * p[:, 1] - q[:, 1] * p[:, 0]) - total * cross
    mu = w @ (p * p).sum(axis=1) - total * (p_star * p_star).sum(axis=1)
    dv = v - p_star
    fx = a * dv[:, 0] + b * dv[:, 1]
    fy = a * dv[:, 1] - b * dv[:, 0]
    out = np.stack([fx, fy], axis=1) / np.maximum(mu, eps)[:, None] + q_star + origin
    nearest = d2.argmin(axis=1)
    exact = d2[np.arange(len(v)), nearest] < eps  # on a handle: its target, without the 0/0 of the formula
    if exact.any():
        out[exact] = q[nearest[exact]] + origin
    return out


def _window(h: int, w: int, margin: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 at the box's edge over `margin` pixels (the pinned border)."""
    def ramp(n):
        x = np.minimum(np.arange(n, dtype=np.float32) + 0.5, n - 0.5 - np.arange(n, dtype=np.float32)) / max(margin, 1)
        x = np.clip(x, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)

    return ramp(h)[:, None] * ramp(w)[None, :]


Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in photo pixels


def warp_maps(moves_from: np.ndarray, moves_to: np.ndarray, box: Box, step: int = 8, pinned: np.ndarray | None = None,
              margin: float | None = None, detail: list[tuple[Box, float]] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Backward `remap` maps (map_x, map_y in photo pixels) for the box (x0, y0, x1, y1) moving `moves_from` points
    to `moves_to`, with `pinned` points (and the box's border) held still.

    The field is evaluated every `step` pixels; `detail` lists (box, step) windows where the handles are close
    together (an eye a few dozen pixels wide) and a finer grid is needed to keep the handles' moves — each is
    evaluated on its own grid and feathered into the coarse field. The displacement is zero on the box's edge (a
    smooth window `margin` px wide, default 8 % of the box), so a warp never reaches outside it."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if margin is None:
        margin = 0.08 * min(bw, bh)
    border = _border_points(box, 4)
    anchors = border if pinned is None or not len(pinned) else np.vstack([pinned, border])
    src = np.vstack([moves_from, anchors]).astype(np.float64)
    dst = np.vstack([moves_to, anchors]).astype(np.float64)
    # Every grid (the box's, then each detail window's) is evaluated in one MLS call: a call's fixed cost is most
    # of its time at webcam sizes.
    windows = [(box, step)]
    for (dx0, dy0, dx1, dy1), fine_step in detail:
        dx0, dy0, dx1, dy1 = max(dx0, x0), max(dy0, y0), min(dx1, x1), min(dy1, y1)
        if dx1 - dx0 >= 4 and dy1 - dy0 >= 4:
            windows.append(((dx0, dy0, dx1, dy1), fine_step))
    grids = [_grid(b, s) for b, s in windows]
    moved = mls_similarity(dst, src, np.vstack([g.reshape(-1, 2) for g in grids]))  # backward: targets → sources
    fields, start = [], 0
    for (b, _), g in zip(windows, grids):
        n = g.shape[0] * g.shape[1]
        back = (moved[start : start + n] - g.reshape(-1, 2)).reshape(g.shape).astype(np.float32)
        start += n
        # The grid's first and last samples sit on the box's first and last pixel centres, as align_corners
        # resizing expects; cv2.resize aligns pixel areas, a sub-pixel difference invisible in a smooth field.
        fields.append(cv2.resize(back, (b[2] - b[0], b[3] - b[1]), interpolation=cv2.INTER_LINEAR))
    disp = fields[0]
    for ((dx0, dy0, dx1, dy1), _), fine in zip(windows[1:], fields[1:]):
        blend = _window(dy1 - dy0, dx1 - dx0, 0.3 * min(dx1 - dx0, dy1 - dy0))[..., None]
        part = disp[dy0 - y0 : dy1 - y0, dx0 - x0 : dx1 - x0]
        part += (fine - part) * blend
    disp *= _window(bh, bw, margin)[..., None]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    return xs + disp[..., 0], ys + disp[..., 1]


def warp_points(moves_from: np.ndarray, moves_to: np.ndarray, box: tuple[int, int, int, int], points: np.ndarray,
                pinned: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Where `points` (N×2, photo pixels) land under the same deformation as `warp_maps` (forward, without the
    border window: for points well inside the box, such as a face's landmarks)."""
    border = _border_points(box, 4)
    anchors = border if pinned is None or not len(pinned) else np.vstack([pinned, border])
    return mls_similarity(np.vstack([moves_from, anchors]), np.vstack([moves_to, anchors]), points)


def _grid(box: tuple[int, int, int, int], step: float) -> np.ndarray:
    """Sample points (gh × gw × 2) every ~`step` px over the box, its first and last pixel centres included."""
    x0, y0, x1, y1 = box
    gx = np.linspace(x0, x1 - 1, max(2, int(np.ceil((x1 - x0) / step)) + 1))
    gy = np.linspace(y0, y1 - 1, max(2, int(np.ceil((y1 - y0) / step)) + 1))
    return np.stack(np.meshgrid(gx, gy), axis=-1)


def _border_points(box: tuple[int, int, int, int], per_side: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    xs, ys = x0 + t * (x1 - 1 - x0), y0 + t * (y1 - 1 - y0)
    return np.vstack([np.stack([xs, np.full_like(xs, y0)], 1), np.stack([np.full_like(ys, x1 - 1), ys], 1),
                      np.stack([xs[::-1] + (x1 - 1 - x0) / per_side, np.full_like(xs, y1 - 1)], 1),
                      np.stack([np.full_like(ys, x0), ys[::-1] + (y1 - 1 - y0) / per_side], 1)])  # fmt: skip


def apply_in_box(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], box: tuple[int, int, int, int],
                 interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:  # fmt: skip
    """`image` with the box replaced by its warped content (a copy); outside the box every byte is the input's."""
    x0, y0, x1, y1 = box
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, maps[0], maps[1], interpolation, borderMode=cv2.BORDER_REFLECT)
    return out
