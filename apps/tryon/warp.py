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
#: A top is lengthened by at most this share of the torso to cover the person's own, longer one (a shirt's hem
#: below a T-shirt's); beyond that the garment would no longer be itself.
HEM_STRETCH = 0.15
#: Grid cells per image side (the longer one) on which the backward maps are evaluated.
GRID_CELLS = 160
#: How much steeper a warped piece's alpha ramp is made (then softened by 0.7 px): edges stay a pixel or two wide.
EDGE_SHARPEN = 4.0
#: Stations along each sleeve strip, seam to cuff (quads between them; see `sleeve_strip`).
SLEEVE_STATIONS = 6
#: The sleeve strips reach this much wider than the sleeve's measured edges, in the shot and on the arm alike.
SLEEVE_MARGIN = 0.15
#: ...and this share of their first station's length back past the seam, into the garment's body.
SEAM_OVERLAP = 0.3
#: Half-width of an arm at the shoulder and at the wrist, in torso lengths (a sleeve is never narrower).
ARM_HALF = (0.1, 0.06)
#: Form shading of a piece over the body: its edges (across the torso or the arm) darken by this share, following
#: |across| to this power, so the middle stays as photographed. Measured on product-on-model photos, a plain tee
#: is 15–30 % darker at the body's sides than at its front.
FORM_DEPTH, FORM_POWER = 0.22, 3.0


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
    # OpenCV's LU for a system this small: LAPACK's threaded solve spends longer starting threads than solving.
    _, coef = cv2.solve(A, b, flags=cv2.DECOMP_LU)
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
    rows: np.ndarray | None = None  # per row of the shot: (centre x, half-width) of the body piece, for its shading


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
    return GarmentParts(torso=rest, sleeves=sleeves, frames=frames, rows=_row_extents(rest > 0.5))


def _row_extents(mask: np.ndarray) -> np.ndarray:
    """(rows, 2): each row's centre x and half-width over its garment pixels (filled down from the row above
    where a row is empty), so any point of the piece knows how far it is from its middle to its edge."""
    h, w = mask.shape
    any_px = mask.any(axis=1)
    left = np.where(any_px, mask.argmax(axis=1), 0).astype(np.float32)
    right = np.where(any_px, w - 1 - mask[:, ::-1].argmax(axis=1), 0).astype(np.float32)
    out = np.stack([(left + right) / 2, (right - left + 1) / 2], axis=1)
    if any_px.any():
        idx = np.where(any_px, np.arange(h), 0)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(any_px))
        idx[:first] = first
        out = out[idx]
    return out


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


def body_correspondences(parse: GarmentParse, fit: BodyFit, category: str, cover_to: float | None = None,
                         ) -> tuple[np.ndarray, np.ndarray, dict, float]:  # fmt: skip
    """(body points, garment points, named body targets, hem drop) for the garment body's spline. With `cover_to`
    (px down the torso axis from the shoulders' midpoint), the hem is lowered to reach it, by at most
    `HEM_STRETCH`; the drop (px) is returned."""
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
            targets[f"shoulder_{side}"] = fit.shoulders[side] + e * sign * 0.09 * t - d * 0.05 * t
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
    drop = 0.0
    if cover_to is not None:
        hem_along = ((targets["hem_left"] + targets["hem_right"]) / 2 - mid_sh) @ d
        drop = float(np.clip(cover_to + 0.01 * t - hem_along, 0.0, HEM_STRETCH * t))
        for side in ("left", "right"):
            targets[f"hem_{side}"] = targets[f"hem_{side}"] + d * drop
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
    # The armhole's middle on the seam's middle: the spline would otherwise bow the armhole in between the shoulder
    # and armpit points, away from where the sleeve strip starts, leaving a gap between body and sleeve.
    if parse.sleeves:
        for side in ("left", "right"):
            src_g[f"seam_{side}"] = (src_g[f"shoulder_{side}"] + src_g[f"armpit_{side}"]) / 2
            targets[f"seam_{side}"] = (targets[f"shoulder_{side}"] + targets[f"armpit_{side}"]) / 2
    # The centre line: the garment's centre between neck and hem follows the body's.
    g_hem_mid = (lm.hem_left + lm.hem_right) / 2
    b_hem_mid = (targets["hem_left"] + targets["hem_right"]) / 2
    for f in (0.5,):
        src_g[f"centre{f}"] = lm.neck + f * (g_hem_mid - lm.neck)
        targets[f"centre{f}"] = targets["neck"] + f * (b_hem_mid - targets["neck"])
    names = list(targets)
    return np.array([targets[k] for k in names]), np.array([src_g[k] for k in names]), targets, drop


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


def _polyline_points(chain: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at the given fractions (0…1) of a polyline's length."""
    seg = np.linalg.norm(np.diff(chain, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.asarray(fractions) * dist[-1]
    return np.stack([np.interp(at, dist, chain[:, k]) for k in range(2)], axis=1)


def _outward(d: np.ndarray, sign: float) -> np.ndarray:
    return sign * np.array([-d[1], d[0]])


def sleeve_strip(frame, g_sh: np.ndarray, g_pit: np.ndarray, b_sh: np.ndarray, b_pit: np.ndarray,
                 chain: np.ndarray, s: float, torso: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(body points, garment points), each (SLEEVE_STATIONS + 2, 3, 2): a sleeve as a strip of quads from just
    past its seam to its cuff, on its outer edge, centre line and inner edge, in the product shot and on the arm.

    In the product shot the sleeve's outer edge runs from the shoulder seam's top to the cuff's outer corner and
    its inner edge from the armpit to the cuff's inner corner. On the body the two edges start on the body's seam
    (shoulder top and armpit, where the garment's body piece ends) and follow the arm's two sides through the
    elbow: the outer edge over the shoulder and down the outside of the arm, the inner edge from the armpit down
    its inside. Stations sit at the same fractions of each edge's length, so however the arm hangs or bends the
    quads never fold at the shoulder, and the sleeve is as long on the arm as it is in the shot (scaled with the
    chest). It is never narrower than the arm inside it. Both strips are a little wider than the sleeve
    (`SLEEVE_MARGIN`), so a puffed sleeve is not cut; its alpha gives its real shape.
    """
    seam_half, cuff_half, length, u, v = frame
    g_root = (g_sh + g_pit) / 2
    b_root = (b_sh + b_pit) / 2
    g_cuff = g_root + u * length
    grow = 1.0 + SLEEVE_MARGIN
    g_outer = np.array([g_root + (g_sh - g_root) * grow, g_cuff + v * cuff_half * grow])
    g_inner = np.array([g_root + (g_pit - g_root) * grow, g_cuff - v * cuff_half * grow])
    # The arm's axis from the seam's middle through the elbow and wrist (straight on past the wrist if need be).
    axis = np.array([b_root, chain[1], chain[2]], np.float64)
    ext = axis[2] + (axis[2] - axis[1]) / max(float(np.hypot(*(axis[2] - axis[1]))), 1e-6) * torso
    axis = np.vstack([axis, ext])
    d1 = (axis[1] - axis[0]) / max(float(np.hypot(*(axis[1] - axis[0]))), 1e-6)
    sign = 1.0 if (b_sh - b_root) @ np.array([-d1[1], d1[0]]) >= 0 else -1.0  # the outer side: the shoulder's
    reach = length * s
    cuff, d_cuff = _along_chain(axis, reach)
    upper = float(np.hypot(*(axis[1] - axis[0])))
    arm_len = upper + float(np.hypot(*(axis[2] - axis[1])))

    def half_at(dist: float) -> float:  # the sleeve's half-width on the body at a distance along the arm
        f = min(dist / max(reach, 1e-6), 1.0)
        garment = (seam_half + f * (cuff_half - seam_half)) * s * grow
        arm = (ARM_HALF[0] + min(dist / max(arm_len, 1e-6), 1.0) * (ARM_HALF[1] - ARM_HALF[0])) * torso
        return max(garment, arm * grow)

    h_cuff = half_at(reach)
    outer, inner = [b_root + (b_sh - b_root) * grow], [b_root + (b_pit - b_root) * grow]
    # An arm hanging at the side starts right under the shoulder joint, so the body's armpit point lies on the
    # arm's middle: from just below it the inner edge runs down the arm's inner side, or the sleeve would leave a
    # wedge of the arm (in the person's own sleeve) uncovered under the armpit.
    d_pit = float(np.clip((b_pit - b_root) @ d1, 0.0, upper))
    n1 = _outward(d1, sign)
    under_pit = b_root + d1 * (d_pit + 0.02 * torso) - n1 * half_at(d_pit)
    if reach > d_pit + 0.05 * torso and (inner[0] - under_pit) @ n1 > 0:
        inner.append(under_pit)
    if reach > upper * 1.05:  # past the elbow: both edges bend there, on the bisector of the two segments
        d2 = (axis[2] - axis[1]) / max(float(np.hypot(*(axis[2] - axis[1]))), 1e-6)
        n = _outward(d1, sign) + _outward(d2, sign)
        n = n / max(float(np.hypot(*n)), 1e-6)
        h = half_at(upper)
        outer.append(axis[1] + n * h)
        inner.append(axis[1] - n * h)
    n_cuff = _outward(d_cuff, sign)
    outer.append(cuff + n_cuff * h_cuff)
    inner_end = cuff - n_cuff * h_cuff
    # A short sleeve on a hanging arm can end above the armpit: its inner edge then still runs down the arm.
    if (inner_end - inner[0]) @ d1 < 0.05 * torso:
        inner_end = inner_end + d1 * (0.05 * torso - (inner_end - inner[0]) @ d1)
    inner.append(inner_end)
    f = np.linspace(0.0, 1.0, SLEEVE_STATIONS + 1)
    b_out, b_in = _polyline_points(np.array(outer), f), _polyline_points(np.array(inner), f)
    g_out, g_in = _polyline_points(g_outer, f), _polyline_points(g_inner, f)
    body = np.stack([b_out, (b_out + b_in) / 2, b_in], axis=1)
    garment = np.stack([g_out, (g_out + g_in) / 2, g_in], axis=1)
    # One more station a little past the seam, into the garment's body: the sleeve's soft edge then overlaps the
    # body piece instead of the two leaving a hairline gap where their maps meet.
    body = np.concatenate([body[:1] - (body[1:2] - body[:1]) * SEAM_OVERLAP, body])
    garment = np.concatenate([garment[:1] - (garment[1:2] - garment[:1]) * SEAM_OVERLAP, garment])
    return body, garment


def strip_triangles(n_stations: int) -> np.ndarray:
    """(T, 3) indices into a strip's points flattened station-major (outer, centre, inner per station)."""
    tris = []
    for i in range(n_stations - 1):
        o, m, n = 3 * i, 3 * i + 1, 3 * i + 2
        o2, m2, n2 = o + 3, m + 3, n + 3
        tris += [(o, m, o2), (m, m2, o2), (m, n, m2), (n, n2, m2)]
    return np.array(tris, np.int32)


def piecewise_affine_maps(body: np.ndarray, garment: np.ndarray, triangles: np.ndarray, shape: tuple[int, int],
                          ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:  # fmt: skip
    """The backward map of a triangle mesh: for each pixel of the mesh's box on the body, where to sample the
    product shot (map_x, map_y; −1 outside every triangle, which samples nothing). Each triangle carries its own
    affine map, so the mesh's corners land exactly and the map is continuous across its edges."""
    h, w = shape
    x0, y0 = np.floor(np.clip(body.min(axis=0), 0, [w, h])).astype(int)
    x1, y1 = np.ceil(np.clip(body.max(axis=0) + 1, 0, [w, h])).astype(int)
    if x1 <= x0 or y1 <= y0:
        return None
    ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
    shift = 4
    affine = np.zeros((len(triangles), 2, 3), np.float32)
    for k, tri in enumerate(triangles):
        b = body[tri].astype(np.float32)
        if abs(float(np.cross(b[1] - b[0], b[2] - b[0]))) < 1e-3:
            continue  # a triangle squashed to a line covers nothing
        affine[k] = cv2.getAffineTransform(b, garment[tri].astype(np.float32))
        pts = np.round((b - [x0, y0]) * (1 << shift)).astype(np.int32)
        cv2.fillConvexPoly(ids, pts, int(k), cv2.LINE_8, shift)
    inside = ids >= 0
    map_x = np.full(ids.shape, -1.0, np.float32)
    map_y = np.full(ids.shape, -1.0, np.float32)
    ys, xs = np.nonzero(inside)
    a = affine[ids[inside]]
    px, py = (xs + x0).astype(np.float32), (ys + y0).astype(np.float32)
    map_x[inside] = a[:, 0, 0] * px + a[:, 0, 1] * py + a[:, 0, 2]
    map_y[inside] = a[:, 1, 0] * px + a[:, 1, 1] * py + a[:, 1, 2]
    return (int(x0), int(y0), int(x1), int(y1)), map_x, map_y


@dataclass
class Warped:
    """The garment on the person's canvas: per-piece colour and alpha, full image size."""

    torso_rgb: np.ndarray
    torso_alpha: np.ndarray
    sleeves: dict[str, tuple[np.ndarray, np.ndarray]]  # side → (rgb, alpha)
    targets: dict[str, np.ndarray]
    lengthened: float = 0.0  # px the hem was lowered to cover the person's own, longer top
    #: side → the sleeve strip's outline on the body (outer edge down, inner edge back up): where the arm is inside
    #: the sleeve, so never in front of the garment's body
    sleeve_outlines: dict[str, np.ndarray] = field(default_factory=dict)

    def footprint(self) -> np.ndarray:
        a = self.torso_alpha.copy()
        for _, al in self.sleeves.values():
            a = np.maximum(a, al)
        return a


def warp_garment(parse: GarmentParse, parts: GarmentParts, fit: BodyFit, shape: tuple[int, int],
                 category: str = "upper", cover_to: float | None = None) -> Warped:  # fmt: skip
    """The garment on the person's canvas. `cover_to`: see `body_correspondences` (how far its hem must reach)."""
    h, w = shape
    lengthened = 0.0
    if category == "lower":
        body_pts, garment_pts, targets = lower_correspondences(parse, fit)
        parts = GarmentParts(torso=parse.alpha, sleeves={})  # no sleeves on trousers or a skirt
    else:
        body_pts, garment_pts, targets, lengthened = body_correspondences(parse, fit, category, cover_to)
    model = tps_fit(body_pts, garment_pts, smooth=1e-3)
    t = fit.torso
    pad = 0.15 * t
    x0, y0 = np.floor(body_pts.min(0) - pad).astype(int)
    x1, y1 = np.ceil(body_pts.max(0) + pad).astype(int)
    box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
    torso_rgb = np.zeros((h, w, 3), np.uint8)
    torso_alpha = np.zeros((h, w), np.float32)
    source = parse.rgb_bled
    if box[2] > box[0] and box[3] > box[1]:
        pts, gshape = _grid(box, shape)
        mx, my = _upsample(tps_eval(model, pts), gshape, box)
        _remap_into(source, parts.torso, mx, my, box, torso_rgb, torso_alpha)
        if parts.rows is not None:
            row = np.clip(np.round(my), 0, len(parts.rows) - 1).astype(np.int32)
            centre, half = parts.rows[row, 0], parts.rows[row, 1]
            _shade_into(torso_rgb, (mx - centre) / np.maximum(half, 1.0), box)
    sleeves, outlines = {}, {}
    s = 2 * fit.chest_half / parse.chest_width
    lm = parse.landmarks
    triangles = strip_triangles(SLEEVE_STATIONS + 2)
    for side, alpha in parts.sleeves.items():
        g_sh, g_pit = getattr(lm, f"shoulder_{side}"), getattr(lm, f"armpit_{side}")
        b_sh, b_pit = targets[f"shoulder_{side}"], targets[f"armpit_{side}"]
        body, garment = sleeve_strip(parts.frames[side], g_sh, g_pit, b_sh, b_pit, fit.arms[side].points, s, t)
        outlines[side] = np.concatenate([body[:, 0], body[::-1, 2]])
        rgb = np.zeros((h, w, 3), np.uint8)
        al = np.zeros((h, w), np.float32)
        maps = piecewise_affine_maps(body.reshape(-1, 2), garment.reshape(-1, 2), triangles, shape)
        if maps is not None:
            sbox, mx, my = maps
            _remap_into(source, alpha, mx, my, sbox, rgb, al)
            seam_half, cuff_half, length, u, v = parts.frames[side]
            root = (g_sh + g_pit) / 2
            along = np.clip(((mx - root[0]) * u[0] + (my - root[1]) * u[1]) / length, 0.0, 1.0)
            across = ((mx - root[0]) * v[0] + (my - root[1]) * v[1]) / (seam_half + along * (cuff_half - seam_half))
            _shade_into(rgb, across, sbox)
        sleeves[side] = (rgb, al)
    return Warped(torso_rgb=torso_rgb, torso_alpha=torso_alpha, sleeves=sleeves, targets=targets,
                  lengthened=lengthened, sleeve_outlines=outlines)


def _shade_into(rgb: np.ndarray, across: np.ndarray, box) -> None:
    """Round the garment piece in `box` over the body under it: darker towards its edges across the limb or the
    torso (`across`: −1…1 from one edge to the other), as a cylinder lit from the front is. A flat-lay product
    shot has no such shading, and without it the piece reads as a flat cut-out (a "slab") on any person."""
    x0, y0, x1, y1 = box
    a = np.clip(np.abs(across), 0.0, 1.0)
    form = (1.0 - FORM_DEPTH * a**FORM_POWER).astype(np.float32)
    piece = rgb[y0:y1, x0:x1]
    rgb[y0:y1, x0:x1] = np.clip(piece.astype(np.float32) * form[..., None] + 0.5, 0, 255).astype(np.uint8)


def _remap_into(src_rgb, src_alpha, mx, my, box, out_rgb, out_alpha) -> None:
    x0, y0, x1, y1 = box
    out_rgb[y0:y1, x0:x1] = cv2.remap(src_rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(src_alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # The edge as soft as a photographed edge (a pixel or two), however far the warp stretched the shot's own
    # anti-aliased edge: a stretched ramp reads as a translucent band.
    out_alpha[y0:y1, x0:x1] = cv2.GaussianBlur(np.clip((alpha - 0.5) * EDGE_SHARPEN + 0.5, 0.0, 1.0), (0, 0), 0.7)
