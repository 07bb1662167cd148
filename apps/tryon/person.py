"""The person side of try-on: where each garment landmark goes on the body, what stays in front of the garment
(arms, hands, head and hair), and the shading of the clothes the person already wears.

All of it comes from the shared body preprocessing (33-point pose + person mask); the body frame (torso axis,
torso length, hips extrapolated when the photo stops above them) is the shared `Skeleton` of
`studio.preprocess.pose` and `studio.preprocess.clothing`, so the try-on and the clothing-region masks agree on the anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio.color import rgb_to_lab
from studio.errors import InputError
from studio.preprocess.clothing import Skeleton
from studio.preprocess.pose import L_ELBOW, L_SHOULDER, L_WRIST, NOSE, R_ELBOW, R_SHOULDER, R_WRIST, BodyPose

#: Shoulder width over torso length below which the person is turned sideways. Front-facing adults measure
#: 0.55–0.9 (fixtures: 0.58–0.68); a profile ≈ 0.2; a three-quarter view ≈ 0.45.
MIN_FRONTALNESS = 0.4
#: Chest width on the body (front view) over the shoulder-joint distance.
CHEST_WIDTH = 1.0
#: How far below the shoulder joints the armpits are, in torso lengths.
ARMPIT_DROP = 0.24
#: Fingers spread this far beyond the knuckles MediaPipe tracks (in units of the hand's tracked spread).
HAND_REACH = 1.7


@dataclass
class ArmChain:
    """One arm in image coordinates: shoulder → elbow → wrist, each with whether the model saw it."""

    side: str  # "left" / "right" = the image side the arm is on
    points: np.ndarray  # (3, 2)
    seen: np.ndarray  # (3,) bool


@dataclass
class BodyFit:
    """The body-side geometry one try-on needs, all in pixels of the person photo."""

    skeleton: Skeleton
    torso: float  # shoulder-to-hip length
    down: np.ndarray  # unit torso axis
    side: np.ndarray  # unit vector to the image's right
    shoulders: dict[str, np.ndarray]  # image side → shoulder joint
    hips: dict[str, np.ndarray]
    arms: dict[str, ArmChain]
    chest_half: float

    def armpit(self, side: str) -> np.ndarray:
        sign = -1.0 if side == "left" else 1.0
        mid = (self.shoulders["left"] + self.shoulders["right"]) / 2
        return mid + self.down * ARMPIT_DROP * self.torso + sign * self.side * self.chest_half

    def torso_polygon(self) -> np.ndarray:
        """Shoulder joints and hip joints, the polygon the coverage metric is measured on."""
        return np.array([self.shoulders["left"], self.shoulders["right"], self.hips["right"], self.hips["left"]])


def fit_body(pose: BodyPose, what: str = "the person photo") -> BodyFit:
    """Body geometry from a pose; InputError when the shoulders are missing or the person is turned sideways."""
    s = Skeleton(pose)  # raises InputError without visible shoulders
    frontalness = s.shoulder_w / max(s.torso, 1e-6)
    if frontalness < MIN_FRONTALNESS:
        raise InputError(
            f"The person in {what} is turned sideways (shoulder width is {frontalness:.2f} of the torso length; a "
            f"front-facing body measures above {MIN_FRONTALNESS:g}). The lite try-on dresses the front of the body: "
            "use a photo where the person faces the camera, shoulders square to it."
        )
    # Image sides: which joint is on the image's left decides which garment sleeve it wears.
    subject_left_on_image_right = (s.l_sh - s.r_sh) @ s.side >= 0
    joints = {"left": (R_SHOULDER, R_ELBOW, R_WRIST), "right": (L_SHOULDER, L_ELBOW, L_WRIST)}
    if not subject_left_on_image_right:  # the person faces away, or the photo is mirrored
        joints = {"left": joints["right"], "right": joints["left"]}
    kp = s.kp
    shoulders, hips, arms = {}, {}, {}
    for side, (sh, el, wr) in joints.items():
        shoulders[side] = kp[sh, :2].copy()
        hips[side] = (s.r_hip if sh == R_SHOULDER else s.l_hip).copy()
        elbow = s.limb_point(el, kp[sh, :2], 0.55 * s.torso)
        wrist = s.limb_point(wr, elbow, 0.5 * s.torso)
        seen = np.array([True, pose.visible(el, 0.5), pose.visible(wr, 0.5)])
        arms[side] = ArmChain(side, np.array([kp[sh, :2], elbow, wrist]), seen)
    return BodyFit(skeleton=s, torso=s.torso, down=s.down, side=s.side, shoulders=shoulders, hips=hips, arms=arms,
                   chest_half=0.5 * CHEST_WIDTH * s.shoulder_w)  # fmt: skip


# ------------------------------------------------------------------------------------------------ occluders
def _capsule(mask: np.ndarray, p0, p1, r0: float, r1: float) -> None:
    d = np.asarray(p1, float) - np.asarray(p0, float)
    n = np.hypot(*d)
    if n < 1e-6:
        cv2.circle(mask, tuple(round(v) for v in p0), max(1, round(max(r0, r1))), 255, -1)
        return
    d /= n
    perp = np.array([-d[1], d[0]])
    poly = np.array([p0 + perp * r0, p1 + perp * r1, p1 - perp * r1, p0 - perp * r0])
    cv2.fillConvexPoly(mask, np.round(poly * 4).astype(np.int32), 255, lineType=cv2.LINE_8, shift=2)
    for p, r in ((p0, r0), (p1, r1)):
        cv2.circle(mask, (round(p[0]), round(p[1])), max(1, round(r)), 255, -1)


def skin_model(rgb: np.ndarray, pose: BodyPose, fit: BodyFit) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Mean and inverse covariance of the skin's (a, b) chroma and its median lightness, sampled on the cheeks and
    nose below the eyes."""
    kp = pose.keypoints
    if kp[NOSE, 3] < 0.5:
        return None
    eye_d = float(np.hypot(*(kp[2, :2] - kp[5, :2])))
    r = max(2, round(0.35 * eye_d))
    c = kp[NOSE, :2] + fit.down * 0.1 * eye_d
    x0, y0 = int(c[0]) - r, int(c[1]) - r
    patch = rgb[max(0, y0) : y0 + 2 * r, max(0, x0) : x0 + 2 * r]
    if patch.size < 30:
        return None
    lab = rgb_to_lab(patch, fast=True).reshape(-1, 3)
    ab = lab[:, 1:]
    (c00, c01), (c10, c11) = np.cov(ab.T) + np.eye(2) * 4.0  # a floor: a flat-lit face has little chroma spread
    inv = np.array([[c11, -c01], [-c10, c00]]) / (c00 * c11 - c01 * c10)  # (2×2: no LAPACK call, whose thread
    return ab.mean(axis=0), inv, float(np.median(lab[:, 0]))  # start-up costs more than the whole inverse)


def skin_mask(rgb: np.ndarray, pose: BodyPose, fit: BodyFit, within: np.ndarray) -> np.ndarray:
    """uint8 mask of the pixels inside `within` whose chroma matches the face's skin. A large area is classified
    on every other pixel each way and filled in (skin regions are far wider than two pixels)."""
    out = np.zeros(rgb.shape[:2], np.uint8)
    model = skin_model(rgb, pose, fit)
    if model is None:
        return out
    step = 2 if np.count_nonzero(within) > 40000 else 1
    ys, xs = np.nonzero(within[::step, ::step])
    ab = rgb_to_lab(rgb[ys * step, xs * step], fast=True)[:, 1:] - model[0]
    (i00, i01), (i10, i11) = model[1]
    d2 = ab[:, 0] * (i00 * ab[:, 0] + i01 * ab[:, 1]) + ab[:, 1] * (i10 * ab[:, 0] + i11 * ab[:, 1])
    small = np.zeros(within[::step, ::step].shape, np.uint8)
    small[ys[d2 < 9.0], xs[d2 < 9.0]] = 255
    if step > 1:
        small = cv2.resize(small, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        small[within == 0] = 0
    return cv2.morphologyEx(small, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def arm_occluders(rgb: np.ndarray, pose: BodyPose, fit: BodyFit, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(arms, hands) uint8 masks of what stays in front of the garment's body.

    Each seen arm segment is a capsule around the bone, narrowed to the pixels that look like skin when the arm
    is bare (the capsule is an estimate of the arm's width; the skin test finds its real edge, so no sliver of
    the old clothes survives beside it). A clothed arm keeps a tight capsule. Hands are the wrist plus the
    knuckles MediaPipe tracks, grown to cover the fingers.
    """
    h, w = rgb.shape[:2]
    t = fit.torso
    arms = np.zeros((h, w), np.uint8)
    loose = np.zeros((h, w), np.uint8)
    hands = np.zeros((h, w), np.uint8)
    kp = pose.keypoints
    for chain, fingers in ((fit.arms["left"], None), (fit.arms["right"], None)):
        p = chain.points
        # The upper arm from below the armpit: above that the shoulder cap is under the garment's shoulder.
        below_pit = p[0] + 0.4 * (p[1] - p[0])
        for a, b, ra, rb, seen in ((below_pit, p[1], 0.1, 0.085, chain.seen[1]),
                                   (p[1], p[2], 0.085, 0.065, chain.seen[1] and chain.seen[2])):  # fmt: skip
            if seen:
                _capsule(arms, a, b, ra * t * 0.75, rb * t * 0.75)
                _capsule(loose, a, b, ra * t * 1.25, rb * t * 1.25)
    for wrist, knuckles in ((L_WRIST, (17, 19, 21)), (R_WRIST, (18, 20, 22))):
        if not pose.visible(wrist, 0.5):
            continue
        pts = [kp[wrist, :2]] + [kp[i, :2] for i in knuckles if kp[i, 3] >= 0.5]
        centre = np.mean(pts, axis=0)
        reach = max(max(float(np.hypot(*(q - centre))) for q in pts), 0.05 * t)
        cv2.circle(hands, (round(centre[0]), round(centre[1])), round(reach * HAND_REACH), 255, -1)
    if loose.any() or hands.any():
        skin = skin_mask(rgb, pose, fit, np.maximum(loose, hands))
        # A bare arm: most of its core is skin. Then the skin pixels of the loose capsule are the arm.
        core = arms > 0
        if core.any() and (skin[core] > 0).mean() > 0.5:
            arms = np.maximum(cv2.bitwise_and(arms, skin), cv2.bitwise_and(loose, skin))
            # Closed: the skin test misses specular highlights and shadowed pores, and every hole in the arm
            # would show a dot of the garment behind it along the arm.
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(1, round(0.02 * t)) + 1,) * 2)
            arms = cv2.bitwise_and(cv2.morphologyEx(arms, cv2.MORPH_CLOSE, k), loose)
        if (skin[hands > 0] > 0).mean() > 0.2 if hands.any() else False:
            hands = cv2.bitwise_and(hands, skin)  # bare hands: their real outline (gloves keep the disc)
    keep = (person > 0.5).astype(np.uint8)
    return cv2.bitwise_and(arms, arms, mask=keep), cv2.bitwise_and(hands, hands, mask=keep)


def head_mask(rgb: np.ndarray, pose: BodyPose, fit: BodyFit) -> np.ndarray:
    """uint8 mask of the head and the hair that falls over the shoulders: kept in front of the garment.

    The head is an ellipse from the ears/eyes (as in the clothing-region masks). Hair below the chin is found by
    colour: pixels near the head that match the hair (sampled at the crown) clearly better than both the clothes
    (sampled at the chest) and the skin (sampled on the face), connected to the head. Where hair is too like the
    clothes or the skin (blonde hair over a light neck), colour cannot tell it apart and only the ellipse is kept:
    a neck taken for hair would cut the new collar open.
    """
    s = fit.skeleton
    h, w = rgb.shape[:2]
    kp = s.kp
    head = np.zeros((h, w), np.uint8)
    if kp[NOSE, 3] < s.TRUST:
        return head
    width = max(s._head_width(), 0.25 * s.torso)
    centre = kp[NOSE, :2] - s.down * 0.1 * width
    axes = (max(1, round(0.62 * width)), max(1, round(0.85 * width)))
    angle = float(np.degrees(np.arctan2(s.down[1], s.down[0]))) - 90.0
    cv2.ellipse(head, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, 255, -1)
    band = np.zeros((h, w), np.uint8)
    cv2.ellipse(band, (round(centre[0]), round(centre[1] + 0.6 * width)), (round(1.3 * width),
                round(1.5 * width)), angle, 0, 360, 255, -1)  # fmt: skip
    # Everything below happens in the box of the head and its hair band.
    x, y, bw, bh = cv2.boundingRect(np.maximum(head, band))
    if bw == 0:
        return head
    box = slice(y, y + bh), slice(x, x + bw)
    yy, xx = np.mgrid[y : y + bh, x : x + bw]
    mid_sh = (fit.shoulders["left"] + fit.shoulders["right"]) / 2
    along = (xx - mid_sh[0]) * s.down[0] + (yy - mid_sh[1]) * s.down[1]
    # The chin and jaw: a face ends above the shoulder line, the neck below it is the garment's collar area.
    head[box][along > -0.12 * s.torso] = 0
    band[box][along > 0.45 * s.torso] = 0
    crown = centre - s.down * 0.75 * width
    chest = mid_sh + s.down * 0.3 * s.torso
    hair_s, cloth_s = _patch_lab(rgb, crown, 0.15 * width), _patch_lab(rgb, chest, 0.1 * s.torso)
    skin_s = _patch_lab(rgb, kp[NOSE, :2] + s.down * 0.1 * width, 0.12 * width)
    if hair_s is None or cloth_s is None or np.linalg.norm(hair_s - cloth_s) < 25:
        return head  # hair and clothes alike (black hair on a black top): colour can't tell them apart
    ys, xs = np.nonzero(band)
    lab = _weighted_lab(rgb[ys, xs])
    d_hair = np.linalg.norm(lab - hair_s, axis=1)
    pick = (d_hair < 0.6 * np.linalg.norm(lab - cloth_s, axis=1)) & (d_hair < 30)
    if skin_s is not None:
        pick &= d_hair < 0.6 * np.linalg.norm(lab - skin_s, axis=1)
    hair = np.zeros((h, w), np.uint8)
    hair[ys[pick], xs[pick]] = 255
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    grown = np.maximum(hair, head)
    _, labels = cv2.connectedComponents(grown[box])
    touching = np.unique(labels[head[box] > 0])
    out = np.zeros((h, w), np.uint8)
    out[box] = np.isin(labels, touching[touching > 0]) * 255
    return out


def _patch_lab(rgb: np.ndarray, c: np.ndarray, r: float) -> np.ndarray | None:
    h, w = rgb.shape[:2]
    r = max(2, round(r))
    x, y = round(c[0]), round(c[1])
    if not (0 <= x < w and 0 <= y < h):
        return None
    patch = rgb[max(0, y - r) : y + r, max(0, x - r) : x + r]
    return np.median(_weighted_lab(patch.reshape(-1, 3)), axis=0)


#: Hair against clothes is told apart by lightness more than by chroma: L counts this much more than a and b in
#: the colour distance (the 255/100 of an 8-bit L channel, which the thresholds above were tuned with).
HAIR_L_WEIGHT = 2.55


def _weighted_lab(pixels: np.ndarray) -> np.ndarray:
    """(n, 3) Lab of RGB pixels with L scaled by HAIR_L_WEIGHT, for the hair/clothes distances."""
    lab = rgb_to_lab(pixels, fast=True).reshape(-1, 3)
    lab[:, 0] *= HAIR_L_WEIGHT
    return lab


# ------------------------------------------------------------------------------------------------ old garment
#: Below the clothing region a longer top (a shirt's hem, a tunic) is followed down this far, in torso lengths.
HEM_REACH = 0.25
#: A pixel belongs to the old garment when its colour is at least this much likelier under the garment's colour
#: histogram than under the rest of the person's (legs, trousers): p(old) / (p(old) + p(other)).
OLD_GARMENT_ODDS = 0.6


def arm_zone(shape: tuple[int, int], fit: BodyFit) -> np.ndarray:
    """uint8 mask around both arms from below the shoulder cap to the wrists: where a person's own sleeves are.
    (The shoulder caps belong to the torso: a new garment's body covers them.)"""
    zone = np.zeros(shape, np.uint8)
    t = fit.torso
    for chain in fit.arms.values():
        p = chain.points
        _capsule(zone, p[0] + 0.3 * (p[1] - p[0]), p[1], 0.14 * t, 0.12 * t)
        _capsule(zone, p[1], p[2], 0.12 * t, 0.1 * t)
    return zone


def old_garment_mask(rgb: np.ndarray, pose: BodyPose, fit: BodyFit, person: np.ndarray, region: np.ndarray,
                     skin: np.ndarray, head: np.ndarray) -> np.ndarray:  # fmt: skip
    """uint8 mask of the clothes the person wears where the new garment goes: the clothing region (and the arms,
    for their sleeves) on the person, minus the head and minus skin, and continued below the region as far as
    the same colours run (a shirt longer than the new top), told from the trousers by colour histograms.

    Skin is what `skin` (the face's chroma) says, unless the clothes themselves have skin's chroma (a blush-pink or
    beige top): then the clothes' colours sampled on the chest are told from the face's by colour histograms.
    What the new garment does not cover of it is what still shows of the old one (`report` measures it; `lite`
    fills it in).
    """
    full_rgb = rgb
    h, w = rgb.shape[:2]
    t = fit.torso
    arms = arm_zone((h, w), fit)
    out = np.zeros((h, w), np.uint8)
    # Everything happens in the box of the region and the arms, down to the hem's reach and the legs below it.
    x, y, bw, bh = cv2.boundingRect(np.maximum(region, arms))
    if bw == 0:
        return out
    box = slice(y, min(h, int(y + bh + (HEM_REACH + 0.45) * t))), slice(x, x + bw)
    origin = np.array([x, y], np.float64)
    rgb, person, region, skin, head, arms = (a[box] for a in (rgb, person, region, skin, head, arms))
    h, w = rgb.shape[:2]
    on_person = person > 0.5
    old = ((region > 0) | (arms > 0)) & on_person & (head == 0)
    if not old.any():
        return out
    chest = np.zeros((h, w), np.uint8)
    cv2.fillPoly(chest, [np.round(_chest_core(fit) - origin).astype(np.int32)], 255)
    chest_px = rgb[(chest > 0) & old & (head == 0)]
    face = _face_pixels(full_rgb, pose, fit)
    if len(chest_px) >= 50 and face is not None and (skin[chest > 0] > 0).mean() > 0.5:
        ys, xs = np.nonzero(old)
        odds = _colour_odds(chest_px[:: max(1, len(chest_px) // 20000)], face, rgb[ys, xs][None])[0]
        old[ys[odds <= 0.5], xs[odds <= 0.5]] = False
    else:
        old &= skin == 0
    # The hem: between the region's lowest row and HEM_REACH torso lengths below it, pixels whose colour is the
    # old garment's rather than the legs'.
    ys = np.nonzero((region > 0).any(axis=1))[0]
    y0, y1 = int(ys.max()) + 1, min(h, int(ys.max() + HEM_REACH * t) + 1)
    if y1 - y0 > 2:
        below = slice(min(h, y1), min(h, y1 + int(0.4 * t)))
        band = on_person[y0:y1] & (skin[y0:y1] == 0)
        others = on_person[below]
        garment_px = rgb[old][:: max(1, int(old.sum()) // 20000)]
        other_px = rgb[below][others][:: max(1, int(others.sum()) // 20000 + 1)]
        if band.any() and len(garment_px) >= 50 and len(other_px) >= 50:
            odds = _colour_odds(garment_px, other_px, rgb[y0:y1])
            hem = band & (odds > OLD_GARMENT_ODDS)
            grown = old.copy()
            grown[y0:y1] |= hem
            # Only what hangs from the garment above counts (not a bag or a hand of the same colour).
            _, labels = cv2.connectedComponents(grown.astype(np.uint8))
            keep = np.unique(labels[old & (labels > 0)])
            old = np.isin(labels, keep[keep > 0]) & grown
    out[box] = old.astype(np.uint8) * 255
    return out


def _chest_core(fit: BodyFit) -> np.ndarray:
    """The middle of the torso (between the shoulders and above the hips, inset from the sides): clothes, on
    anyone wearing a top."""
    mid = (fit.shoulders["left"] + fit.shoulders["right"]) / 2
    half = 0.6 * fit.chest_half
    top, bottom = mid + fit.down * 0.15 * fit.torso, mid + fit.down * 0.75 * fit.torso
    return np.array([top - fit.side * half, top + fit.side * half, bottom + fit.side * half, bottom - fit.side * half])


def _face_pixels(rgb: np.ndarray, pose: BodyPose, fit: BodyFit) -> np.ndarray | None:
    """(n, 3) RGB of the cheeks and nose below the eyes (the skin sample `skin_model` reads), or None."""
    kp = pose.keypoints
    if kp[NOSE, 3] < 0.5:
        return None
    eye_d = float(np.hypot(*(kp[2, :2] - kp[5, :2])))
    r = max(2, round(0.35 * eye_d))
    c = kp[NOSE, :2] + fit.down * 0.1 * eye_d
    patch = rgb[max(0, int(c[1]) - r) : int(c[1]) + r, max(0, int(c[0]) - r) : int(c[0]) + r].reshape(-1, 3)
    return patch if len(patch) >= 30 else None


def _colour_odds(fg: np.ndarray, bg: np.ndarray, image: np.ndarray, bins: int = 16) -> np.ndarray:
    """p(fg) / (p(fg) + p(bg)) per pixel of `image` from RGB histograms of the two samples ((n, 3) uint8)."""
    q = 256 // bins

    def hist(px):
        idx = (px[:, 0] // q).astype(np.int32) * bins * bins + (px[:, 1] // q) * bins + px[:, 2] // q
        hst = np.bincount(idx, minlength=bins**3).astype(np.float32) + 0.5
        return hst / hst.sum()

    f, b = hist(fg), hist(bg)
    img = image.reshape(-1, 3)
    idx = (img[:, 0] // q).astype(np.int32) * bins * bins + (img[:, 1] // q) * bins + img[:, 2] // q
    return (f[idx] / (f[idx] + b[idx])).reshape(image.shape[:2])


# ------------------------------------------------------------------------------------------------ shading
def shading(rgb: np.ndarray, region: np.ndarray, torso: float) -> np.ndarray:
    """float32 H×W multiplier (≈ 1) carrying the folds and light of the person's own clothes onto the garment.

    The ratio of two blurs of the luminance inside the clothing region: the small one keeps folds and shadows,
    the large one (normalised by the mask, so the background does not leak in) removes the clothes' own
    brightness; prints and fine texture, narrower than the small blur, mostly cancel. Dark clothes carry little
    shading signal, so the ratio is taken on luminance + a floor and clipped.
    """
    h, w = rgb.shape[:2]
    # Shading is smooth: compute it where the torso is ~100 px long, then upsample (a webcam frame's budget).
    f = min(1.0, 100.0 / max(torso, 1.0))
    size = (max(8, round(w * f)), max(8, round(h * f)))
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    m = cv2.resize((region > 0).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    torso = torso * f
    small = max(1.0, 0.025 * torso)
    large = max(3.0, 0.12 * torso)
    num = cv2.GaussianBlur(grey * m, (0, 0), small) / np.maximum(cv2.GaussianBlur(m, (0, 0), small), 1e-3)
    den = cv2.GaussianBlur(grey * m, (0, 0), large) / np.maximum(cv2.GaussianBlur(m, (0, 0), large), 1e-3)
    floor = 40.0
    ratio = (num + floor) / (den + floor)
    # Beyond ±20 % the change is a print or a logo, not a fold: fade those areas (and their rims) to no shading
    # rather than stamping the old print's silhouette onto the new garment.
    printed = cv2.dilate((np.abs(ratio - 1.0) > 0.2).astype(np.uint8), np.ones((3, 3), np.uint8))
    keep = 1.0 - cv2.GaussianBlur(printed.astype(np.float32), (0, 0), small)
    ratio = 1.0 + (np.clip(ratio, 0.8, 1.15) - 1.0) * keep * (m > 0.5)
    ratio = cv2.resize(ratio.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    m = region > 0
    return np.where(m > 0, ratio, 1.0).astype(np.float32)
