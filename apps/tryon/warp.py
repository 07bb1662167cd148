"""Warping the garment onto the body: a thin-plate spline for the garment's body, a bent strip per sleeve.

Both are *backward* maps (for each output pixel, where in the product shot to sample), evaluated on a coarse grid
of the body's bounding box and upsampled bilinearly before `cv2.remap`: the spline is smooth, so a grid every
~1/160 of the image loses nothing visible and keeps the warp at a few milliseconds per webcam frame.

- **Body:** the landmarks (neckline, shoulder seams, armpits, sides, hem corners) are placed on the body — the
  neckline at the base of the neck, the seams on the shoulder joints, the armpits under them at chest width —
  and the rest follows the garment's own proportions scaled to the chest, so a cropped top stays cropped and a
  tunic reaches the thighs. The spline goes from those body points back to the garment's points.
- **Sleeves:** each sleeve is a strip from its seam to its cuff. On the body it follows the arm from the shoulder
  through the elbow (and on to the wrist when it is long enough), so a sleeve laid out at 45° in the product shot
  hangs along an arm at the side, or bends with an arm folded across the chest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .garment import GarmentParse, sleeve_mask
from .person import BodyFit

#: The garment's length below the armpits, relative to its chest width, is kept on the body with this factor
#: (measured on shop product shots: a regular T-shirt then ends just below the hip joints).
LENGTH_FACTOR = 0.85
#: Garments are at least this wide at the hem relative to the hip joints' distance (hips are wider than joints).
HIP_OUTLINE = 1.55
#: Grid cells per image side (the longer one) on which the backward maps are evaluated.
GRID_CELLS = 160


# --------------------------------------------------------------------------------------------- thin-plate spline
def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, 0.5 * r2 * np.log(r2), 0.0)


def tps_fit(src: np.ndarray, dst: np.ndarray, smooth: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Thin-plate spline mapping `src` (n, 2) onto `dst` (n, 2): returns (control points, coefficients)."""
    n = len(src)
    scale = max(float(np.ptp(src, axis=0).max()), 1.0)
    s = src / scale  # condition the system: r² log r² on pixel distances spans many orders of magnitude
    K = _tps_kernel(((s[:, None, :] - s[None, :, :]) ** 2).sum(-1)) + smooth * np.eye(n)
    P = np.hstack([np.ones((n, 1)), s])
    A = np.zeros((n + 3, n + 3))
    A[:n, :n], A[:n, n:], A[n:, :n] = K, P, P.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    coef = np.linalg.solve(A, b)
    return s, np.concatenate([coef, [[scale, scale]]])


def tps_eval(model: tuple[np.ndarray, np.ndarray], pts: np.ndarray) -> np.ndarray:
    ctrl, coef = model
    scale = coef[-1, 0]
    p = pts / scale
    n = len(ctrl)
    U = _tps_kernel(((p[:, None, :] - ctrl[None, :, :]) ** 2).sum(-1))
    return U @ coef[:n] + coef[n] + p @ coef[n + 1 : n + 3]


# ------------------------------------------------------------------------------------------------- layers
@dataclass
class GarmentParts:
    """The product shot split into the pieces that warp separately (alpha per piece, sampling resolution)."""

    torso: np.ndarray  # float32 alpha of the garment's body (sleeves removed)
    sleeves: dict[str, np.ndarray]  # image side → float32 alpha of that sleeve
    frames: dict[str, tuple] = field(default_factory=dict)  # image side → `_sleeve_frame`, measured once


def split_parts(parse: GarmentParse) -> GarmentParts:
    lm = parse.landmarks
    mask = parse.mask
    cx = float(lm.neck[0])
    sleeves = {}
    rest = parse.alpha.copy()
    for side in ("left", "right"):
        if getattr(lm, f"sleeve_{side}") is None:
            continue
        cut_end = getattr(lm, f"underarm_{side}")
        cut_end = getattr(lm, f"armpit_{side}") if cut_end is None else cut_end
        sl = sleeve_mask(mask, getattr(lm, f"shoulder_{side}"), cut_end, cx)
        # Grown by the alpha's soft edge, so no outline of the sleeve stays on the torso piece.
        soft = cv2.GaussianBlur(cv2.dilate(sl.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32),
                                (0, 0), 1.0)  # fmt: skip
        sleeves[side] = parse.alpha * soft
        rest = rest * (1.0 - soft)
    frames = {side: _sleeve_frame(alpha, getattr(lm, f"shoulder_{side}"), getattr(lm, f"armpit_{side}"),
                                  getattr(lm, f"sleeve_{side}")) for side, alpha in sleeves.items()}  # fmt: skip
    return GarmentParts(torso=rest, sleeves=sleeves, frames=frames)


def _edge_at(mask: np.ndarray, y: float, cx: float, side: str) -> float:
    row = mask[int(np.clip(round(y), 0, mask.shape[0] - 1))]
    xs = np.flatnonzero(row)
    if not xs.size:
        return cx
    # The run through the centre line: walk out from cx until the garment ends.
    c = int(np.clip(round(cx), 0, len(row) - 1))
    if side == "left":
        gaps = np.flatnonzero(~row[: c + 1])
        return float(gaps.max() + 1) if gaps.size else 0.0
    gaps = np.flatnonzero(~row[c:])
    return float(c + gaps.min() - 1) if gaps.size else float(len(row) - 1)


def body_correspondences(parse: GarmentParse, fit: BodyFit, category: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(body points, garment points, named body targets) for the garment body's spline."""
    lm = parse.landmarks
    e, d, t = fit.side, fit.down, fit.torso
    mid_sh = (fit.shoulders["left"] + fit.shoulders["right"]) / 2
    s = 2 * fit.chest_half / parse.chest_width  # garment px → body px
    g_pit = (lm.armpit_left + lm.armpit_right) / 2
    b_pit = (fit.armpit("left") + fit.armpit("right")) / 2

    def shape(g: np.ndarray, ky: float = LENGTH_FACTOR) -> np.ndarray:
        """A garment point placed on the body by the garment's own proportions, from the armpit line."""
        return b_pit + e * (g[0] - g_pit[0]) * s + d * (g[1] - g_pit[1]) * s * ky

    hip_half = max(float(np.hypot(*(fit.hips["left"] - fit.hips["right"]))) / 2 * HIP_OUTLINE, fit.chest_half)
    if category == "dress":
        hip_half *= 1.1  # a skirt hangs clear of the hips
    targets = {
        "neck": mid_sh - d * 0.1 * t,
        "neck_left": mid_sh - d * 0.11 * t - e * abs(lm.neck[0] - lm.neck_left[0]) * s,
        "neck_right": mid_sh - d * 0.11 * t + e * abs(lm.neck_right[0] - lm.neck[0]) * s,
        "armpit_left": fit.armpit("left"),
        "armpit_right": fit.armpit("right"),
    }
    for side, sign in (("left", -1), ("right", 1)):
        g_sh = getattr(lm, f"shoulder_{side}")
        if parse.sleeves:
            # The seam sits on the outer edge of the shoulder, a little above the joint.
            targets[f"shoulder_{side}"] = fit.shoulders[side] + e * sign * 0.1 * t - d * 0.09 * t
        else:
            # A strap keeps its place between neck and shoulder; only its height is the body's.
            p = shape(g_sh)
            targets[f"shoulder_{side}"] = p - d * ((p - mid_sh) @ d + 0.07 * t)
        g_hem = getattr(lm, f"hem_{side}")
        p = shape(g_hem)
        across = (p - b_pit) @ e
        if abs(across) < hip_half:
            p = p + e * (sign * hip_half - across)
        targets[f"hem_{side}"] = p
    src_g = {k: getattr(lm, k) for k in targets}
    # Side seams halfway between armpit and hem keep the sides straight instead of bowing in the spline.
    mask = parse.mask
    for side in ("left", "right"):
        g_a, g_h = src_g[f"armpit_{side}"], src_g[f"hem_{side}"]
        for f in (0.33, 0.66):
            gy = g_a[1] + f * (g_h[1] - g_a[1])
            gx = _edge_at(mask, gy, float(lm.neck[0]), side)
            src_g[f"side{f}_{side}"] = np.array([gx, gy])
            targets[f"side{f}_{side}"] = targets[f"armpit_{side}"] + f * (targets[f"hem_{side}"] - targets[f"armpit_{side}"])
    # The centre line: the garment's centre between neck and hem follows the body's.
    g_hem_mid = (lm.hem_left + lm.hem_right) / 2
    b_hem_mid = (targets["hem_left"] + targets["hem_right"]) / 2
    for f in (0.5,):
        src_g[f"centre{f}"] = lm.neck + f * (g_hem_mid - lm.neck)
        targets[f"centre{f}"] = targets["neck"] + f * (b_hem_mid - targets["neck"])
    names = list(targets)
    return np.array([targets[k] for k in names]), np.array([src_g[k] for k in names]), targets


def lower_correspondences(parse: GarmentParse, fit: BodyFit) -> tuple[np.ndarray, np.ndarray, dict]:
    """(body points, garment points, named targets) for trousers or a skirt: the waistband's corners on the
    body's waist, the hem by the garment's proportions scaled to the waist, a trouser crotch between the legs."""
    mask = parse.mask
    ys = np.nonzero(mask.any(axis=1))[0]
    y0, y1 = int(ys.min()), int(ys.max())
    band = mask[y0 : y0 + max(2, (y1 - y0) // 30)]
    bx = np.flatnonzero(band.any(0))
    g_wl, g_wr = np.array([bx.min(), y0], float), np.array([bx.max(), y0], float)
    bottom = mask[y1 - max(2, (y1 - y0) // 30) : y1 + 1]
    hx = np.flatnonzero(bottom.any(0))
    g_hl, g_hr = np.array([hx.min(), y1], float), np.array([hx.max(), y1], float)
    cx = (g_wl[0] + g_wr[0]) / 2
    col = mask[:, round(cx)]
    gap = np.flatnonzero(~col[y0:y1 + 1])
    e, d, t = fit.side, fit.down, fit.torso
    mid_hip = (fit.hips["left"] + fit.hips["right"]) / 2
    hip_half = max(float(np.hypot(*(fit.hips["left"] - fit.hips["right"]))) / 2 * HIP_OUTLINE, 0.2 * t)
    waist = mid_hip - d * 0.18 * t
    s = 2 * hip_half * 0.95 / max(g_wr[0] - g_wl[0], 1.0)
    g_mid = (g_wl + g_wr) / 2

    def shape(g):
        return waist + e * (g[0] - g_mid[0]) * s + d * (g[1] - g_mid[1]) * s

    targets = {"waist_left": waist - e * hip_half * 0.95, "waist_right": waist + e * hip_half * 0.95,
               "hem_left": shape(g_hl), "hem_right": shape(g_hr)}  # fmt: skip
    src = {"waist_left": g_wl, "waist_right": g_wr, "hem_left": g_hl, "hem_right": g_hr}
    if gap.size:  # trousers: the crotch sits a quarter torso below the hip joints
        src["crotch"] = np.array([cx, y0 + gap.min()], float)
        targets["crotch"] = mid_hip + d * 0.25 * t
    names = list(targets)
    return np.array([targets[k] for k in names]), np.array([src[k] for k in names]), targets


def _grid(box: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    x0, y0, x1, y1 = box
    step = max(2.0, max(shape) / GRID_CELLS)
    nx = max(2, int(np.ceil((x1 - x0) / step)) + 1)
    ny = max(2, int(np.ceil((y1 - y0) / step)) + 1)
    gx, gy = np.meshgrid(np.linspace(x0, x1 - 1, nx), np.linspace(y0, y1 - 1, ny))
    return np.stack([gx.ravel(), gy.ravel()], 1), (ny, nx)


def _upsample(values: np.ndarray, grid_shape, box) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = box
    ny, nx = grid_shape
    mx = cv2.resize(values[:, 0].reshape(ny, nx).astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    my = cv2.resize(values[:, 1].reshape(ny, nx).astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return mx, my


def _sleeve_frame(alpha: np.ndarray, g_sh: np.ndarray, g_pit: np.ndarray, g_cuff: np.ndarray):
    """(seam half-width, cuff half-width, length, unit axis, unit across) of a sleeve in the product shot; the
    across direction points to the shoulder side of the axis."""
    root = (g_sh + g_pit) / 2
    u = g_cuff - root
    length = max(float(np.hypot(*u)), 1.0)
    u = u / length
    v = np.array([-u[1], u[0]])
    if (g_sh - root) @ v < 0:
        v = -v
    ys, xs = np.nonzero(alpha > 0.5)
    rel = np.stack([xs - root[0], ys - root[1]], 1)
    along, across = rel @ u, rel @ v
    near_cuff = along > 0.85 * length
    cuff_half = float(np.ptp(across[near_cuff]) / 2) if near_cuff.sum() > 3 else 0.5 * float(np.hypot(*(g_sh - g_pit)))
    return 0.5 * float(np.hypot(*(g_sh - g_pit))), cuff_half, length, u, v


def _along_chain(chain: np.ndarray, dist: float) -> tuple[np.ndarray, np.ndarray]:
    """The point `dist` along the polyline (extrapolated past its end) and the unit direction there."""
    last = len(chain) - 2
    for i in range(last + 1):
        seg = chain[i + 1] - chain[i]
        L = max(float(np.hypot(*seg)), 1e-6)
        if dist <= L or i == last:
            return chain[i] + seg / L * dist, seg / L
        dist -= L
    return chain[-1], np.array([0.0, 1.0])


def sleeve_correspondences(frame, g_sh, g_pit, b_sh, b_pit, chain, s, torso_centre, arm_half):
    """(body points, garment points) for one sleeve's spline: the seam on the body's seam, then pairs of points
    across the sleeve at its elbow and cuff, laid along the arm; the garment's shoulder-side edge goes to the
    arm's outer side."""
    seam_half, cuff_half, length, u, v = frame
    g_root = (g_sh + g_pit) / 2
    b_root = (b_sh + b_pit) / 2
    body, garment = [b_sh, b_pit, b_root], [g_sh, g_pit, g_root]
    upper = float(np.hypot(*(chain[1] - chain[0])))
    stations = [f for f in (0.5,) if f * length * s < upper] + [1.0]
    if length * s > upper * 1.1:
        stations.insert(-1, upper / (length * s))  # a long sleeve bends at the elbow
    for f in stations:
        g_c = g_root + u * f * length
        # A sleeve is never narrower on the body than the arm inside it (≈ 0.2 torso lengths at the biceps).
        half = max(seam_half + f * (cuff_half - seam_half), arm_half / s)
        p, d = _along_chain(chain, f * length * s)
        n = np.array([-d[1], d[0]])
        if (p - torso_centre) @ n < 0:
            n = -n  # n points away from the torso: the arm's outer side
        body += [p + n * half * s, p, p - n * half * s]
        garment += [g_c + v * half, g_c, g_c - v * half]
    return np.array(body), np.array(garment)


@dataclass
class Warped:
    """The garment on the person's canvas: per-piece colour and alpha, full image size."""

    torso_rgb: np.ndarray
    torso_alpha: np.ndarray
    sleeves: dict[str, tuple[np.ndarray, np.ndarray]]  # side → (rgb, alpha)
    targets: dict[str, np.ndarray]

    def footprint(self) -> np.ndarray:
        a = self.torso_alpha.copy()
        for _, al in self.sleeves.values():
            a = np.maximum(a, al)
        return a


def warp_garment(parse: GarmentParse, parts: GarmentParts, fit: BodyFit, shape: tuple[int, int],
                 category: str = "upper") -> Warped:  # fmt: skip
    h, w = shape
    if category == "lower":
        body_pts, garment_pts, targets = lower_correspondences(parse, fit)
        parts = GarmentParts(torso=parse.alpha, sleeves={})  # no sleeves on trousers or a skirt
    else:
        body_pts, garment_pts, targets = body_correspondences(parse, fit, category)
    model = tps_fit(body_pts, garment_pts, smooth=1e-3)
    t = fit.torso
    pad = 0.15 * t
    x0, y0 = np.floor(body_pts.min(0) - pad).astype(int)
    x1, y1 = np.ceil(body_pts.max(0) + pad).astype(int)
    box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
    torso_rgb = np.zeros((h, w, 3), np.uint8)
    torso_alpha = np.zeros((h, w), np.float32)
    if box[2] > box[0] and box[3] > box[1]:
        pts, gshape = _grid(box, shape)
        mx, my = _upsample(tps_eval(model, pts), gshape, box)
        _remap_into(parse.rgb, parts.torso, mx, my, box, torso_rgb, torso_alpha)
    sleeves = {}
    s = 2 * fit.chest_half / parse.chest_width
    lm = parse.landmarks
    torso_centre = (targets["neck"] + (targets["hem_left"] + targets["hem_right"]) / 2) / 2
    for side, alpha in parts.sleeves.items():
        g_sh, g_pit = getattr(lm, f"shoulder_{side}"), getattr(lm, f"armpit_{side}")
        chain = fit.arms[side].points.copy()
        b_sh, b_pit = targets[f"shoulder_{side}"], targets[f"armpit_{side}"]
        chain[0] = (b_sh + b_pit) / 2
        b_pts, g_pts = sleeve_correspondences(parts.frames[side], g_sh, g_pit, b_sh, b_pit, chain, s, torso_centre,
                                                     0.12 * t)
        smodel = tps_fit(b_pts, g_pts, smooth=1e-3)
        # Only near the arm: far from its control points a spline extrapolates, and could paint sleeve elsewhere.
        near = np.zeros((h, w), np.uint8)
        for a, b in zip(b_pts[2::3][:-1], b_pts[2::3][1:]):
            r = 0.9 * max(np.hypot(*(b_pts[0] - b_pts[1])), 0.25 * t)
            cv2.line(near, tuple(round(c) for c in a), tuple(round(c) for c in b), 255, round(2 * r))
        cv2.fillConvexPoly(near, np.round(b_pts[:2].tolist() + [b_pts[5]]).astype(np.int32), 255)
        ys, xs = np.nonzero(near)
        rgb = np.zeros((h, w, 3), np.uint8)
        al = np.zeros((h, w), np.float32)
        if ys.size:
            sbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            pts, gshape = _grid(sbox, shape)
            mx, my = _upsample(tps_eval(smodel, pts), gshape, sbox)
            _remap_into(parse.rgb, alpha, mx, my, sbox, rgb, al)
            al *= cv2.GaussianBlur(near.astype(np.float32) / 255, (0, 0), 2.0)
        sleeves[side] = (rgb, al)
    return Warped(torso_rgb=torso_rgb, torso_alpha=torso_alpha, sleeves=sleeves, targets=targets)


def _remap_into(src_rgb, src_alpha, mx, my, box, out_rgb, out_alpha) -> None:
    x0, y0, x1, y1 = box
    out_rgb[y0:y1, x0:x1] = cv2.remap(src_rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out_alpha[y0:y1, x0:x1] = cv2.remap(src_alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                        borderValue=0)  # fmt: skip
