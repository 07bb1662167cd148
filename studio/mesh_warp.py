"""Dense piecewise-affine warps driven by moving control points: one triangulation, one `cv2.remap`.

A face app that moves landmarks (the avatar's live puppet; any mesh-driven reshaping) describes the motion as
control points at their source positions and where they should go. `MeshWarp` triangulates the source points once
(Delaunay), and for each set of targets builds the *backward* map of the whole moving area at once: every
triangle's target footprint is rasterised into a triangle-id image, each pixel takes its triangle's affine map back
to the source, and a single remap samples the photo. Per-triangle `warpAffine` calls cost ~27 ms for a face mesh at
640×480; the dense map ~11 ms (docs/round2.md A3, measured), and less on a half-resolution id raster, which is
what `scale` sets: the map is continuous, so it is rasterised coarsely and upsampled bilinearly.

Points that do not move leave their triangles out of the raster (those pixels keep the identity map), so pin a ring
of still points around the moving area (and the image corners) and only that area costs anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Sub-pixel bits for rasterising triangle corners (cv2 fixed-point coordinates).
_SHIFT = 4


@dataclass
class WarpField:
    """A backward map for one box of the image: output pixel (x, y) in the box samples the source at
    (map_x, map_y), both float32 arrays of the box's size, in full-image pixel coordinates."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    map_x: np.ndarray
    map_y: np.ndarray

    def apply(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """`image` warped: pixels outside the box are copied from `out` (default: `image` itself)."""
        x0, y0, x1, y1 = self.box
        result = image.copy() if out is None else out
        result[y0:y1, x0:x1] = cv2.remap(image, self.map_x, self.map_y, cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        return result


class MeshWarp:
    """Control points triangulated once at their source positions; `field(targets)` maps any target layout.

    Args:
        points: (N, 2) source positions in pixels.
        image_size: (height, width) of the image the warp applies to.
        triangles: (T, 3) vertex indices; default: the Delaunay triangulation of `points`.
    """

    def __init__(self, points: np.ndarray, image_size: tuple[int, int], triangles: np.ndarray | None = None):
        self.points = np.asarray(points, np.float32)[:, :2].copy()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        if triangles is None:
            from scipy.spatial import Delaunay

            triangles = Delaunay(self.points.astype(np.float64)).simplices
        self.triangles = np.asarray(triangles, np.int32)
        # Source corners per triangle, (T, 2, 3): the "to" side of every per-triangle affine.
        self._src = np.transpose(self.points[self.triangles], (0, 2, 1)).astype(np.float64)
        self._orientation = np.sign(_inverse_corners(self.points[self.triangles].astype(np.float64))[1])

    def field(self, targets: np.ndarray, scale: float = 0.5, moved_px: float = 0.05,
              depth: np.ndarray | None = None) -> WarpField | None:  # fmt: skip
        """The backward map taking the source points to `targets` ((N, 2) pixels), over the box of the triangles
        that move (any corner displaced more than `moved_px`); None when nothing moves.

        `scale` is the id raster's resolution relative to the image (1 = exact at every pixel; 0.5 is
        indistinguishable on a smooth motion and four times cheaper). Where target triangles overlap (a surface
        turning away folds over itself) the nearer one shows when `depth` gives each point's distance from the
        camera (larger = farther), and triangles turned over (facing away) are not drawn; otherwise the later
        triangle in `triangles` shows.
        """
        targets = np.asarray(targets, np.float32)[:, :2]
        moving = np.linalg.norm(targets - self.points, axis=1) > moved_px
        active = np.flatnonzero(moving[self.triangles].any(axis=1))
        if depth is not None and len(active):  # painter's order: farthest first, so nearer triangles cover them
            active = active[np.argsort(-np.asarray(depth)[self.triangles[active]].mean(axis=1), kind="stable")]
        if not len(active):
            return None
        h, w = self.image_size
        corners = targets[self.triangles[active]].reshape(-1, 2)
        x0, y0 = np.floor(np.clip(corners.min(axis=0), 0, [w, h])).astype(int)
        x1, y1 = np.ceil(np.clip(corners.max(axis=0) + 1, 0, [w, h])).astype(int)
        if x1 <= x0 or y1 <= y0:
            return None
        bw, bh = x1 - x0, y1 - y0
        sw, sh = max(1, int(np.ceil(bw * scale))), max(1, int(np.ceil(bh * scale)))
        fx, fy = sw / bw, sh / bh  # the raster's exact scale per axis

        # Per-triangle affine from target pixels to source pixels: src = A @ [x, y, 1].
        dst = targets[self.triangles[active]].astype(np.float64)  # (T, 3, 2)
        inverse, det = _inverse_corners(dst)
        good = np.abs(det) > 1e-6  # a triangle squashed to a line covers no pixel
        hidden = np.zeros_like(good)
        if depth is not None:  # a triangle whose corners now run the other way round faces away: it is hidden
            hidden = good & (np.sign(det) != self._orientation[active])
            good &= ~hidden
        # Displacement per triangle, (6, T + 1): src − target = D @ [x, y, 1]; the last column (all zero) is for
        # pixels no triangle covers.
        coef = np.zeros((6, len(active) + 1), np.float32)
        affine = self._src[active[good]] @ (inverse[good] / det[good, None, None])
        affine[:, 0, 0] -= 1.0
        affine[:, 1, 1] -= 1.0
        coef[:, np.flatnonzero(good)] = affine.reshape(-1, 6).T

        ids = np.full((sh, sw), -1, np.int32)
        raster = np.round(((dst - [x0, y0] + 0.5) * [fx, fy] - 0.5) * (1 << _SHIFT)).astype(np.int32)
        for k in np.flatnonzero(good):  # later triangles cover earlier ones where they overlap
            cv2.fillConvexPoly(ids, raster[k], int(k), cv2.LINE_8, _SHIFT)
        if hidden.any():
            _fill_gaps(ids, raster[hidden])
        ids[ids < 0] = len(active)

        # Pixel centres of the raster in full-image coordinates, broadcast along rows and columns.
        gx = ((np.arange(sw, dtype=np.float32) + 0.5) / fx - 0.5 + x0)[None, :]
        gy = ((np.arange(sh, dtype=np.float32) + 0.5) / fy - 0.5 + y0)[:, None]
        c = np.take(coef, ids, axis=1)  # (6, sh, sw)
        dx = c[0] * gx + c[1] * gy + c[2]
        dy = c[3] * gx + c[4] * gy + c[5]
        if (sw, sh) != (bw, bh):
            dx = cv2.resize(dx, (bw, bh), interpolation=cv2.INTER_LINEAR)
            dy = cv2.resize(dy, (bw, bh), interpolation=cv2.INTER_LINEAR)
        map_x = dx + np.arange(x0, x1, dtype=np.float32)[None, :]
        map_y = dy + np.arange(y0, y1, dtype=np.float32)[:, None]
        return WarpField((int(x0), int(y0), int(x1), int(y1)), map_x, map_y)

    def warp(self, image: np.ndarray, targets: np.ndarray, scale: float = 0.5,
             depth: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """`image` with its source points moved to `targets` (a copy; unchanged when nothing moves)."""
        f = self.field(targets, scale, depth=depth)
        return image.copy() if f is None else f.apply(image)


def _inverse_corners(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjugate, determinant) of every triangle's [[x_a, x_b, x_c], [y_a, y_b, y_c], [1, 1, 1]], from (T, 3, 2)
    corners, written out (a thousand 3×3 inverses through LAPACK cost more than the rest of a frame); the inverse is
    adjugate / determinant, and the determinant's sign is the triangle's orientation."""
    (xa, ya), (xb, yb), (xc, yc) = (corners[:, k].T for k in range(3))
    adj = np.empty((len(corners), 3, 3))
    adj[:, 0, 0], adj[:, 0, 1], adj[:, 0, 2] = yb - yc, xc - xb, xb * yc - xc * yb
    adj[:, 1, 0], adj[:, 1, 1], adj[:, 1, 2] = yc - ya, xa - xc, xc * ya - xa * yc
    adj[:, 2, 0], adj[:, 2, 1], adj[:, 2, 2] = ya - yb, xb - xa, xa * yb - xb * ya
    det = xa * (yb - yc) + xb * (yc - ya) + xc * (ya - yb)
    return adj, det


def _fill_gaps(ids: np.ndarray, hidden_corners: np.ndarray) -> None:
    """Where only hidden (turned-away) triangles landed, nothing visible was drawn: give those pixels the triangle
    of the nearest drawn pixel, which continues the surface beside the fold (hair past a cheek turning away)."""
    gap = np.zeros(ids.shape, np.uint8)
    for corners in hidden_corners:
        cv2.fillConvexPoly(gap, corners, 1, cv2.LINE_8, _SHIFT)
    gap &= ids < 0
    drawn = ids >= 0
    if not gap.any() or not drawn.any():
        return
    # Every drawn pixel is a zero of the input and gets its own label, numbered in scan order.
    _, labels = cv2.distanceTransformWithLabels((~drawn).astype(np.uint8), cv2.DIST_L2, 3,
                                                labelType=cv2.DIST_LABEL_PIXEL)  # fmt: skip
    ids[gap > 0] = ids[drawn][labels[gap > 0] - 1]
