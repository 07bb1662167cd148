"""Garment parsing from a product shot: its mask and its landmarks, with no downloaded model.

A product shot shows one garment, upright and front-on, on a plain backdrop (white, grey, a soft gradient).
The parse runs in three steps:

1. **Backdrop model.** A quadratic surface of Lab colour is fitted to the image's border strip (robustly, twice,
   so a garment touching the edge does not bend it). The border residuals decide whether the backdrop is plain:
   a busy background (a room, a painting, a street) raises `InputError` before any segmentation is attempted.
2. **Graph cut.** Pixels far from the backdrop seed OpenCV's GrabCut (colour GMMs + a graph cut), which also
   recovers the garment's parts close to the backdrop colour (white flowers on a white backdrop, soft edges)
   and drops cast shadows. The largest component is kept and small holes are filled.
3. **Landmarks from the mask geometry:** neckline, shoulder seams, armpits, hem corners and sleeve ends, read
   off the mask's row profile (see `find_landmarks`).

Coordinates are pixels of `GarmentParse.rgb` (the product shot, scaled so its long side is ≤ SAMPLE_SIDE).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.errors import InputError
from studio.color import rgb_to_lab
from studio.imaging import fit_within

#: OpenCV's random generator is seeded with this before GrabCut (see `garment_mask`).
GRABCUT_SEED = 20
#: Long side at which the mask is computed: GrabCut's cost grows with pixels and 384 px keeps fabric edges.
PARSE_SIDE = 384
#: Long side at which the garment is kept for warping: enough detail for a torso filling a 1024 px photo.
SAMPLE_SIDE = 1024
#: Border strip (fraction of the short side) that models the backdrop.
BORDER = 0.03
#: At least this fraction of the border strip must fit the backdrop model (a garment may touch the edge).
MIN_PLAIN_BORDER = 0.75
#: Residual noise (Lab units) of a plain backdrop stays under this; busy scenes are far above it.
MAX_BACKDROP_NOISE = 5.0
#: A sleeveless garment whose length is this many times its chest width is a dress. Measured on product shots
#: (length neckline→hem over armpit→armpit): tops 1.4–1.9; the halter dress 2.4.
DRESS_LENGTH_RATIO = 1.9
#: With sleeves the armpits sit higher and narrower, so shirts measure long: a polo 2.2, a T-shirt 2.1.
SLEEVED_DRESS_LENGTH_RATIO = 2.6


@dataclass
class GarmentLandmarks:
    """Named points in garment pixels. Sleeve entries are None for a sleeveless garment; "left"/"right" are the
    image's sides (a product shot is not mirrored on a person, the garment's right sleeve lies on the image's left
    exactly as the person's right arm does)."""

    neck: np.ndarray  # centre of the (back) neckline: the top of the mask at the centre line
    neck_left: np.ndarray  # where the neckline meets the shoulder line, each side
    neck_right: np.ndarray
    shoulder_left: np.ndarray  # shoulder seam (top of the armhole); the strap top on a sleeveless garment
    shoulder_right: np.ndarray
    armpit_left: np.ndarray
    armpit_right: np.ndarray
    hem_left: np.ndarray
    hem_right: np.ndarray
    sleeve_left: np.ndarray | None = None  # centre of the cuff, each side
    sleeve_right: np.ndarray | None = None
    # Where a long sleeve hanging against the body first separates from it (its inner edge): the sleeve is cut
    # off the body along shoulder → here. None where the sleeve stands out (the cut is shoulder → armpit).
    underarm_left: np.ndarray | None = None
    underarm_right: np.ndarray | None = None

    def named(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def to_dict(self) -> dict:
        return {k: [round(float(v[0]), 1), round(float(v[1]), 1)] for k, v in self.named().items()}


@dataclass
class GarmentParse:
    rgb: np.ndarray  # the product shot at sampling resolution
    alpha: np.ndarray  # float32 H×W in [0, 1], soft-edged garment mask at the same resolution
    landmarks: GarmentLandmarks
    sleeves: bool  # has sleeves that stand out from the torso (short or long)
    chest_width: float  # armpit to armpit, px
    length: float  # neckline to hem, px
    notes: list[str] = field(default_factory=list)

    @property
    def mask(self) -> np.ndarray:
        return self.alpha > 0.5

    @functools.cached_property
    def rgb_bled(self) -> np.ndarray:
        """The product shot with every pixel outside the garment's solid core given the nearest core pixel's
        colour (worked out once per garment). A warp that stretches the garment's edge (a shoulder line drawn out
        over a wider, higher body) would otherwise spread the shot's background, mixed into the edge pixels, as a
        grey band along it."""
        core = self.alpha >= 0.95
        if not core.any() or core.all():
            return self.rgb
        _, labels = cv2.distanceTransformWithLabels((~core).astype(np.uint8), cv2.DIST_L2, 3,
                                                    labelType=cv2.DIST_LABEL_PIXEL)  # fmt: skip
        out = self.rgb.copy()
        out[~core] = self.rgb[core][labels[~core] - 1]  # labels number the core pixels in scan order, from 1
        return out

    @property
    def looks_like_dress(self) -> bool:
        ratio = SLEEVED_DRESS_LENGTH_RATIO if self.sleeves else DRESS_LENGTH_RATIO
        return self.length >= ratio * self.chest_width

    def mean_rgb_mask(self) -> np.ndarray:
        """Bool mask of the garment pixels its colour is measured over (the edge ring excluded)."""
        core = cv2.erode(self.mask.astype(np.uint8), np.ones((5, 5), np.uint8))
        return core > 0


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb, fast=True)


def _design(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)


def backdrop_distance(rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(per-pixel Lab distance from the fitted backdrop, backdrop noise, fraction of the border that is plain).

    The backdrop is a quadratic surface per Lab channel, fitted to the border strip with one round of outlier
    rejection, so a vignetted or graded studio backdrop is modelled as well as a flat one.
    """
    h, w = rgb.shape[:2]
    lab = _lab(rgb)
    b = max(3, round(BORDER * min(h, w)))
    border = np.zeros((h, w), bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    ys, xs = np.nonzero(border)
    X = _design(xs / w - 0.5, ys / h - 0.5)
    samples = lab[ys, xs].astype(np.float64)
    keep = np.ones(len(xs), bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(X[keep], samples[keep], rcond=None)
        resid = np.linalg.norm(samples - X @ coef, axis=1)
        # Keep the inner 90 %: a garment reaching the edge is an outlier, not part of the backdrop.
        keep = resid <= max(np.quantile(resid, 0.9), 2.0)
    noise = float(np.sqrt(np.mean(resid[keep] ** 2)))
    gy, gx = np.mgrid[0:h, 0:w]
    surface = (_design(gx.ravel() / w - 0.5, gy.ravel() / h - 0.5) @ coef).reshape(h, w, 3)
    dist = np.linalg.norm(lab - surface.astype(np.float32), axis=2)
    plain = float(np.mean(resid <= max(8.0, 3.0 * noise)))
    return dist, noise, plain


def _busy_error(detail: str) -> InputError:
    return InputError(
        f"The garment photo's background is not plain ({detail}), so the garment cannot be cut out without a "
        "segmentation model. Use a product shot of the garment alone on a plain white, grey or single-colour "
        "backdrop (as on shop pages), or cut it out first and place it on white."
    )


def garment_mask(rgb: np.ndarray) -> np.ndarray:
    """Bool mask of the garment in a product shot (at `rgb`'s resolution); InputError for busy backgrounds."""
    h, w = rgb.shape[:2]
    dist, noise, plain = backdrop_distance(rgb)
    if plain < MIN_PLAIN_BORDER:
        raise _busy_error(f"only {plain:.0%} of its border is one even colour")
    if noise > MAX_BACKDROP_NOISE:
        raise _busy_error(f"its border varies by {noise:.1f} Lab units, a plain backdrop by under {MAX_BACKDROP_NOISE:g}")
    thr = max(10.0, 4.0 * noise)
    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    gc[dist > 0.5 * thr] = cv2.GC_PR_FGD
    sure_fg = cv2.erode((dist > 2.0 * thr).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    gc[sure_fg] = cv2.GC_FGD
    b = max(2, round(0.01 * min(h, w)))
    edge = np.zeros((h, w), bool)
    edge[:b], edge[-b:], edge[:, :b], edge[:, -b:] = True, True, True, True
    gc[edge & (dist < thr)] = cv2.GC_BGD
    if not (gc == cv2.GC_FGD).any():
        raise InputError("No garment found in the garment photo: it looks like an empty backdrop. "
                         "Use a product shot that shows the garment.")  # fmt: skip
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models with k-means, drawn from OpenCV's random generator: seeded here, one product
    # shot parses the same in every process and after any other work (the CLI, the UI and Python agree).
    cv2.setRNGSeed(GRABCUT_SEED)
    cv2.grabCut(rgb[..., ::-1].copy(), gc, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        raise InputError("No garment found in the garment photo. Use a product shot that shows the garment.")
    areas = stats[1:, cv2.CC_STAT_AREA]
    main = 1 + int(np.argmax(areas))
    if areas.max() < 0.6 * areas.sum():
        raise _busy_error(f"the cut-out falls apart into {int((areas > 0.05 * areas.sum()).sum())} large pieces")
    mask = labels == main
    # Fill enclosed holes up to 2 % of the garment (light prints, lace, buttons read as backdrop); larger
    # enclosed areas are real openings (a keyhole back) and stay open.
    holes = (~mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    limit = 0.02 * mask.sum()
    for i in range(1, n):
        x, y, ww, hh, area = stats[i]
        if area <= limit and x > 0 and y > 0 and x + ww < w and y + hh < h:
            mask |= labels == i
    area = mask.mean()
    if area < 0.03:
        raise InputError(f"The garment covers only {area:.1%} of the garment photo. Crop the photo to the garment "
                         "(it should fill most of the frame).")  # fmt: skip
    touching = np.mean(np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]]))
    if touching > 0.25:
        raise InputError(f"The garment runs off the edges of the garment photo ({touching:.0%} of the border). "
                         "Use a product shot that shows the whole garment with some backdrop around it.")  # fmt: skip
    return mask


# ----------------------------------------------------------------------------------------------- landmarks
def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) inclusive of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], row, [False]])
    d = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(d[0::2], d[1::2] - 1))


def _central_profile(mask: np.ndarray, cx: float, y0: int, y1: int) -> np.ndarray:
    """(rows, 2) left/right x of the run containing (or nearest to) the centre line in each row; NaN if empty."""
    prof = np.full((y1 - y0 + 1, 2), np.nan)
    for i, y in enumerate(range(y0, y1 + 1)):
        runs = _runs(mask[y])
        if not runs:
            continue
        best = min(runs, key=lambda r: 0 if r[0] <= cx <= r[1] else min(abs(r[0] - cx), abs(r[1] - cx)))
        prof[i] = best
    return prof


def _hanging_sleeve_rows(mask: np.ndarray, prof: np.ndarray, y0: int, start: int, stop: int) -> dict[str, int]:
    """Rows (between `start` and `stop`, relative to y0) where a separate run lies left / right of the torso run:
    a sleeve hanging beside the body with backdrop between."""
    count = {"left": 0, "right": 0}
    for i in range(start, stop + 1):
        if np.isnan(prof[i, 0]):
            continue
        runs = _runs(mask[y0 + i])
        count["left"] += any(r[1] < prof[i, 0] for r in runs)
        count["right"] += any(r[0] > prof[i, 1] for r in runs)
    return count


def _gap_top(mask: np.ndarray, prof: np.ndarray, y0: int, sign: int, start: int, stop: int) -> np.ndarray:
    """The highest row where a hanging sleeve is apart from the body: the inner edge of the sleeve there."""
    for i in range(start, stop + 1):
        if np.isnan(prof[i, 0]):
            continue
        runs = _runs(mask[y0 + i])
        outer = [r for r in runs if (r[1] < prof[i, 0] if sign < 0 else r[0] > prof[i, 1])]
        if outer:
            r = max(outer, key=lambda r: r[1]) if sign < 0 else min(outer, key=lambda r: r[0])
            return np.array([float(r[1] if sign < 0 else r[0]), float(y0 + i)])
    return np.array([float(prof[stop, 0] if sign < 0 else prof[stop, 1]), float(y0 + stop)])


def _shoulder_corner(mask: np.ndarray, cx: float, sign: int, y0: int, hem_i: int, mid_w: float) -> np.ndarray:
    """Where the top edge, walking out from the centre line past the collar, first turns steeper than 50°
    (shoulder line → sleeve)."""
    w = mask.shape[1]
    start = int(cx + sign * 0.2 * mid_w)  # the collar's own steep sides lie within this
    xs = np.arange(start, w) if sign > 0 else np.arange(start, -1, -1)
    tops = np.array([np.argmax(mask[:, x]) if mask[:, x].any() else -1 for x in xs], float)
    valid = tops >= 0
    xs, tops = xs[valid], tops[valid]
    step = max(2, round(0.02 * hem_i))
    for j in range(step, len(xs) - step):
        if tops[j + step] - tops[j] > 1.2 * step and tops[j] > y0 + 0.03 * hem_i:
            return np.array([float(xs[j]), tops[j]])
    return np.array([float(xs[len(xs) // 2]), tops[len(xs) // 2]])


def _smooth(v: np.ndarray, k: int) -> np.ndarray:
    k = max(1, k) | 1
    filled = np.where(np.isnan(v), np.nanmedian(v), v)
    pad = np.pad(filled, k // 2, mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def find_landmarks(mask: np.ndarray) -> tuple[GarmentLandmarks, bool]:
    """Landmarks of an upright, front-on garment mask, and whether it has sleeves.

    The row profile of the run through the centre line is the torso (plus the sleeves where they join it).
    Walking up from the hem, each side's edge moves smoothly until a sleeve joins: there the edge jumps outward
    by more than a tenth of the torso width — the armpit. A sleeveless garment has no jump; its armpit is the
    outermost point of the edge in the upper half, where the armhole turns inward. The shoulder seam lies on the
    top edge straight above the armpit; the cuff is the sleeve's point farthest from the seam.
    """
    ys, xs = np.nonzero(mask)
    y0, y1 = int(ys.min()), int(ys.max())
    height = y1 - y0 + 1
    lower = ys > y0 + 0.55 * height
    cx = float(np.median(xs[lower])) if lower.any() else float(np.median(xs))
    prof = _central_profile(mask, cx, y0, y1)
    width = prof[:, 1] - prof[:, 0] + 1
    mid_w = np.nanmedian(width[int(0.4 * height) : int(0.75 * height)])
    # Hem: the lowest row still at least half the torso's width (a hanging tie or belt end is narrower).
    wide = np.flatnonzero(width >= 0.5 * mid_w)
    hem_i = int(wide.max())
    hem_i = max(int(0.6 * height), hem_i - max(1, round(0.015 * height)))  # just above a rounded hem's tip
    sleeves = False
    armpits, shoulders, underarms = {}, {}, {}
    k = max(3, round(0.02 * height))
    hanging = _hanging_sleeve_rows(mask, prof, y0, int(0.5 * height), hem_i)
    for side, sign in (("left", -1), ("right", 1)):
        edge = prof[:, 0] if sign < 0 else prof[:, 1]
        out = _smooth(sign * (edge - cx), 3)  # distance of the edge from the centre line
        top = int(0.08 * height)
        lo = int(0.7 * height)
        jump_at = None
        for i in range(lo, top, -1):
            below = np.median(out[i + 1 : i + 1 + k]) if i + 1 < len(out) else out[i]
            if out[i] - below > 0.1 * mid_w:
                jump_at = i + 1
                break
        if jump_at is None and hanging[side] >= max(3, 0.03 * height):
            # A long sleeve hanging against the body, seen apart from it only near the cuff: the torso edge is
            # hidden above that, so the shoulder seam is where the top edge turns from the shoulder's slope to the
            # sleeve's steep one, and the armpit lies below it at the usual 35 % of the neck-to-hem length.
            sleeves = True
            shoulders[side] = _shoulder_corner(mask, cx, sign, y0, hem_i, mid_w)
            armpits[side] = np.array([shoulders[side][0], y0 + 0.35 * hem_i])
            underarms[side] = _gap_top(mask, prof, y0, sign, int(0.5 * height), hem_i)
            continue
        if jump_at is not None:
            sleeves = True
            # The jump row is the first sleeve row; the armpit is the torso edge just below it.
            ai = min(jump_at + 1, len(out) - 1)
        else:
            # Sleeveless: the armhole's lowest, outermost point, below the straps and the neckline's top
            # (a one-shoulder drape's upper corner is not an armpit).
            start = int(0.2 * height)
            ai = start + int(np.argmax(out[start : int(0.55 * height)]))
        ax = cx + sign * out[ai]
        armpits[side] = np.array([ax, y0 + ai], float)
        col = mask[:, int(np.clip(round(ax), 0, mask.shape[1] - 1))]
        above = np.flatnonzero(col[: y0 + ai + 1])
        if jump_at is not None and above.size:
            shoulders[side] = np.array([ax, float(above.min())])
        else:
            # Sleeveless: the strap's top on this side of the centre line.
            half = mask[:, : int(cx)] if sign < 0 else mask[:, int(cx) :]
            sy, sx = np.nonzero(half[: y0 + ai])
            if sy.size:
                j = np.argmin(sy + 0.02 * np.abs(sx - (ax - (0 if sign < 0 else int(cx)))))
                shoulders[side] = np.array([sx[j] + (0 if sign < 0 else int(cx)), sy[j]], float)
            else:
                shoulders[side] = armpits[side].copy()
    # Neckline: the top edge between the two shoulders; its centre, and where it meets the shoulder line
    # (the highest point each side of the centre).
    xl, xr = round(shoulders["left"][0]), round(shoulders["right"][0])
    xl, xr = min(xl, int(cx) - 1), max(xr, int(cx) + 1)
    tops = np.array([np.argmax(mask[:, x]) if mask[:, x].any() else y1 for x in range(xl, xr + 1)], float)
    c = round(cx) - xl
    neck = np.array([cx, tops[c]])
    left_top = int(np.argmin(tops[: c + 1]))
    right_top = c + int(np.argmin(tops[c:]))
    neck_left = np.array([xl + left_top, tops[left_top]])
    neck_right = np.array([xl + right_top, tops[right_top]])
    hem_row = prof[hem_i]
    hem_left = np.array([hem_row[0], y0 + hem_i], float)
    hem_right = np.array([hem_row[1], y0 + hem_i], float)
    cuffs = {}
    if sleeves:
        for side in ("left", "right"):
            cuffs[side] = _cuff(mask, shoulders[side], underarms.get(side, armpits[side]), cx)
    lm = GarmentLandmarks(neck=neck, neck_left=neck_left, neck_right=neck_right,
                          shoulder_left=shoulders["left"], shoulder_right=shoulders["right"],
                          armpit_left=armpits["left"], armpit_right=armpits["right"],
                          hem_left=hem_left, hem_right=hem_right,
                          sleeve_left=cuffs.get("left"), sleeve_right=cuffs.get("right"),
                          underarm_left=underarms.get("left"), underarm_right=underarms.get("right"))  # fmt: skip
    return lm, sleeves


def sleeve_mask(mask: np.ndarray, shoulder: np.ndarray, armpit: np.ndarray, cx: float) -> np.ndarray:
    """Bool mask of the garment pixels on the far side of the shoulder→armpit line from the centre line."""
    h, w = mask.shape
    gy, gx = np.mgrid[0:h, 0:w]
    d = armpit - shoulder
    # Side of the line each pixel is on; the centre line's side is the torso.
    cross = d[0] * (gy - shoulder[1]) - d[1] * (gx - shoulder[0])
    centre_side = np.sign(d[0] * (armpit[1] - shoulder[1]) - d[1] * (cx - shoulder[0])) or 1.0
    beyond = (mask & (np.sign(cross) == -centre_side) & (gy >= shoulder[1] - 2)).astype(np.uint8)
    # Only the pieces that touch the seam (shoulder → armpit) are sleeve: a tie or a flared hem can also reach
    # past that line further down, without being part of the sleeve.
    _, labels = cv2.connectedComponents(beyond, connectivity=8)
    t = np.linspace(0.0, 1.0, 32)[:, None]
    seam = np.round(shoulder + t * d).astype(int)
    seam[:, 0] = np.clip(seam[:, 0], 0, w - 1)
    seam[:, 1] = np.clip(seam[:, 1], 0, h - 1)
    near = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8))[seam[:, 1], seam[:, 0]]
    keep = [i for i in np.unique(near.astype(int)) if i > 0]
    return np.isin(labels, keep)


def _cuff(mask: np.ndarray, shoulder: np.ndarray, armpit: np.ndarray, cx: float) -> np.ndarray | None:
    sl = sleeve_mask(mask, shoulder, armpit, cx)
    ys, xs = np.nonzero(sl)
    if ys.size < 20:
        return None
    root = (shoulder + armpit) / 2
    d = np.hypot(xs - root[0], ys - root[1])
    far = d >= np.quantile(d, 0.97)
    return np.array([xs[far].mean(), ys[far].mean()])


def parse_garment(rgb: np.ndarray) -> GarmentParse:
    """Mask and landmarks of the garment in a product shot (RGB uint8). Raises InputError when it can't."""
    sample = fit_within(rgb, SAMPLE_SIDE)
    small = fit_within(sample, PARSE_SIDE)
    mask_small = garment_mask(small)
    sh, sw = sample.shape[:2]
    # Upsample the hard mask to a soft alpha (a 1-px bilinear edge), then snap to the sample grid.
    alpha = cv2.resize(mask_small.astype(np.float32), (sw, sh), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.6, 0.5 * sw / mask_small.shape[1]))
    lm_small, sleeves = find_landmarks(mask_small)
    scale = sw / mask_small.shape[1]
    lm = GarmentLandmarks(**{k: (None if v is None else v * scale) for k, v in lm_small.__dict__.items()})
    chest = float(np.hypot(*(lm.armpit_right - lm.armpit_left)))
    length = float((lm.hem_left[1] + lm.hem_right[1]) / 2 - lm.neck[1])
    if chest < 8 or length < 8:
        raise InputError("The garment's shape could not be read from the garment photo (it is too small or thin). "
                         "Use a front-on product shot of a top, dress or trousers laid out flat or on a form.")  # fmt: skip
    return GarmentParse(rgb=sample, alpha=alpha, landmarks=lm, sleeves=sleeves, chest_width=chest, length=length)


def landmarks_overlay(parse: GarmentParse) -> np.ndarray:
    """The product shot with its mask outline and named landmarks drawn on it."""
    out = parse.rgb.copy()
    contours, _ = cv2.findContours(parse.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    t = max(2, round(out.shape[0] / 300))
    cv2.drawContours(out, contours, -1, (0, 200, 255), t)
    colours = {"neck": (255, 0, 0), "shoulder": (255, 160, 0), "armpit": (0, 200, 0), "hem": (200, 0, 200),
               "sleeve": (0, 90, 255), "underarm": (0, 120, 60)}  # fmt: skip
    for name, p in parse.landmarks.named().items():
        colour = next(c for k, c in colours.items() if name.startswith(k))
        cv2.circle(out, (round(float(p[0])), round(float(p[1]))), 3 * t, colour, -1, lineType=cv2.LINE_AA)
        cv2.circle(out, (round(float(p[0])), round(float(p[1]))), 3 * t, (255, 255, 255), max(1, t // 2),
                   lineType=cv2.LINE_AA)  # fmt: skip
    return out
