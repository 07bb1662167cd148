"""Clothing-region geometry: where a garment of a category sits on a person, from the 33-point pose and a mask.

`clothing_region(pose, person_mask, category)` returns the area a top ("upper"), trousers or skirt ("lower") or a
dress would cover: body-shaped polygons built from the pose, cut to the person mask, with the head, forearms and
hands taken out. `Skeleton` is the body frame behind it (torso axis and length, hips extrapolated when the photo
stops above them); try-on's person model uses the same frame, so both agree on the anatomy.

The pose itself (landmarks, analyzer, OpenPose render) lives in `studio.preprocess.pose`.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from .pose import (L_ANKLE, L_EAR, L_ELBOW, L_EYE, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, NOSE, R_ANKLE, R_EAR, R_ELBOW,
                   R_EYE, R_HIP, R_KNEE, R_SHOULDER, R_WRIST, BodyPose)  # fmt: skip

#: Garment categories `clothing_region` understands.
CLOTHING_CATEGORIES: tuple[str, ...] = ("upper", "lower", "dress")


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 1e-6 else np.array([0.0, 1.0])


class Skeleton:
    """Body-scale geometry shared by the clothing masks, with hips/knees extrapolated when unreliable.

    Coordinates are float pixels. `down` is the torso axis (shoulders → hips), `side` is perpendicular
    to it pointing towards the image's right. `torso` is the shoulder-to-hip length, the yardstick for
    every width below because it stays meaningful in side views, where the shoulder width collapses.
    """

    # Below this visibility a landmark position is treated as a guess and replaced by an extrapolation.
    TRUST = 0.3

    def __init__(self, pose: BodyPose):
        self.pose = pose
        kp = pose.keypoints.astype(np.float64)
        self.kp = kp
        vis = kp[:, 3]
        if min(vis[L_SHOULDER], vis[R_SHOULDER]) < self.TRUST or not (
            pose.in_frame(L_SHOULDER) or pose.in_frame(R_SHOULDER)
        ):
            raise InputError(
                "The shoulders are not visible in the photo, so the clothing area cannot be placed. "
                "Use a photo that shows the person from the shoulders down, facing the camera."
            )
        self.l_sh, self.r_sh = kp[L_SHOULDER, :2], kp[R_SHOULDER, :2]
        self.mid_sh = (self.l_sh + self.r_sh) / 2
        self.shoulder_w = float(np.hypot(*(self.l_sh - self.r_sh)))

        self.hips_trusted = min(vis[L_HIP], vis[R_HIP]) >= self.TRUST
        if self.hips_trusted:
            self.l_hip, self.r_hip = kp[L_HIP, :2], kp[R_HIP, :2]
            mid_hip = (self.l_hip + self.r_hip) / 2
            torso_vec = mid_hip - self.mid_sh
            # A "hip" above or level with the shoulders is a mis-detection, not anatomy.
            if torso_vec[1] <= 0.25 * self.shoulder_w:
                self.hips_trusted = False
        if self.hips_trusted:
            self.mid_hip = mid_hip
            self.down = _unit(torso_vec)
            self.torso = float(np.hypot(*torso_vec))
        else:
            # Adults' shoulder-to-hip length is ~1.5 shoulder widths (the head width stands in when the
            # shoulders overlap in a side view); the image vertical stands in for the torso axis because
            # nearly every photo is upright.
            self.down = np.array([0.0, 1.0])
            self.torso = 1.5 * max(self.shoulder_w, self._head_width() * 1.6)
            self.mid_hip = self.mid_sh + self.down * self.torso
        # Perpendicular to the torso axis, pointing to the image's right.
        self.side = np.array([-self.down[1], self.down[0]])
        if self.side[0] < 0:
            self.side = -self.side
        if not self.hips_trusted:
            a, b = self.across(self.mid_hip, max(self.shoulder_w * 0.35, self.torso * 0.15))
            # Subject-left is on the same image side as the subject-left shoulder.
            self.l_hip, self.r_hip = (b, a) if self.l_sh[0] >= self.r_sh[0] else (a, b)

    def _head_width(self) -> float:
        kp = self.kp
        if min(kp[L_EAR, 3], kp[R_EAR, 3]) >= self.TRUST:
            return float(np.hypot(*(kp[L_EAR, :2] - kp[R_EAR, :2])))
        # Eye centres are ~0.45 of a head width apart.
        return float(np.hypot(*(kp[L_EYE, :2] - kp[R_EYE, :2]))) / 0.45

    def across(self, centre: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
        """Two points `half` either side of `centre`, perpendicular to the torso axis (image-left first)."""
        return centre - self.side * half, centre + self.side * half

    def limb_point(self, idx: int, parent: np.ndarray, fallback_len: float) -> np.ndarray:
        """A joint's position, or `parent + down * fallback_len` when the model is unsure about it.

        A confident prediction is kept even beyond the frame (the knees of a head-to-thigh photo): the
        limb then runs off the edge, which is where the garment goes too.
        """
        if self.kp[idx, 3] >= self.TRUST:
            return self.kp[idx, :2]
        return parent + self.down * fallback_len


def _fill(mask: np.ndarray, points) -> None:
    pts = np.round(np.asarray(points, dtype=np.float64) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_8, shift=2)


def _limb(mask: np.ndarray, p0: np.ndarray, p1: np.ndarray, w0: float, w1: float) -> None:
    """A tapered capsule from p0 (half-width w0) to p1 (half-width w1): a limb or a sleeve."""
    d = _unit(p1 - p0)
    n = np.array([-d[1], d[0]])
    _fill(mask, [p0 + n * w0, p1 + n * w1, p1 - n * w1, p0 - n * w0])
    for p, r in ((p0, w0), (p1, w1)):
        cv2.circle(mask, (round(float(p[0])), round(float(p[1]))), max(1, round(r)), 255, -1)


def _upper_body(mask: np.ndarray, s: Skeleton, with_sleeves: bool) -> None:
    t = s.torso
    # Shoulders: landmarks sit on the joints; the garment reaches past them to the deltoids.
    sh_half = max(s.shoulder_w / 2, 0.22 * t) + 0.12 * t
    # Hip landmarks are the hip *joints*, well inside the visible hip line; clothes hang wider still.
    hip_half = max(float(np.hypot(*(s.l_hip - s.r_hip))) / 2, 0.18 * t) * 1.45
    # The neckline sits above the shoulder joints (trapezius); the head mask later trims the neck.
    neck = s.mid_sh - s.down * 0.12 * t
    sh_a, sh_b = s.across(s.mid_sh - s.down * 0.06 * t, sh_half)
    nk_a, nk_b = s.across(neck, 0.45 * sh_half)
    hip_centre = s.mid_hip + s.down * 0.05 * t  # tops end a little below the hip joints
    hp_a, hp_b = s.across(hip_centre, hip_half)
    _fill(mask, [nk_a, nk_b, sh_b, hp_b, hp_a, sh_a])
    if with_sleeves:
        upper_arm = 0.55 * t  # typical shoulder-to-elbow length when the elbow is not trusted
        for sh_idx, el_idx in ((L_SHOULDER, L_ELBOW), (R_SHOULDER, R_ELBOW)):
            shoulder = s.kp[sh_idx, :2]
            elbow = s.limb_point(el_idx, shoulder, upper_arm)
            _limb(mask, shoulder, elbow, 0.16 * t, 0.11 * t)


def _lower_body(mask: np.ndarray, s: Skeleton) -> None:
    t = s.torso
    hip_half = max(float(np.hypot(*(s.l_hip - s.r_hip))) / 2, 0.18 * t) * 1.5
    # The waistband sits between the navel and the hip joints.
    waist_a, waist_b = s.across(s.mid_hip - s.down * 0.18 * t, hip_half * 0.95)
    hip_a, hip_b = s.across(s.mid_hip + s.down * 0.08 * t, hip_half)
    crotch = s.mid_hip + s.down * 0.25 * t
    _fill(mask, [waist_a, waist_b, hip_b, crotch, hip_a])
    thigh = 0.95 * t  # hip-to-knee ≈ torso length
    for _hip_idx, knee_idx, ankle_idx, hip in ((L_HIP, L_KNEE, L_ANKLE, s.l_hip), (R_HIP, R_KNEE, R_ANKLE, s.r_hip)):
        knee = s.limb_point(knee_idx, hip, thigh)
        _limb(mask, hip, knee, 0.2 * t, 0.12 * t)
        # Down to the ankle when the model sees it; otherwise stop at the knee: a guessed shin in a
        # cropped photo would only add area that the person mask has to cut away again.
        if s.pose.visible(ankle_idx, 0.5):
            _limb(mask, knee, s.kp[ankle_idx, :2], 0.12 * t, 0.08 * t)


def _dress(mask: np.ndarray, s: Skeleton) -> None:
    t = s.torso
    _upper_body(mask, s, with_sleeves=False)
    hip_half = max(float(np.hypot(*(s.l_hip - s.r_hip))) / 2, 0.18 * t) * 1.5
    knees = []
    for knee_idx, hip in ((L_KNEE, s.l_hip), (R_KNEE, s.r_hip)):
        knees.append(s.limb_point(knee_idx, hip, 0.95 * t))
    knee_centre = (knees[0] + knees[1]) / 2
    # Skirts flare: the hem is wider than the hips and wider than the knees' own spread.
    hem_half = max(hip_half * 1.2, float(np.hypot(*(knees[0] - knees[1]))) / 2 + 0.2 * t)
    hem_centre = knee_centre + s.down * 0.08 * t
    waist_a, waist_b = s.across(s.mid_hip - s.down * 0.3 * t, hip_half * 0.9)
    hem_a, hem_b = s.across(hem_centre, hem_half)
    _fill(mask, [waist_a, waist_b, hem_b, hem_a])


def _forearms_and_hands(shape: tuple[int, int], s: Skeleton) -> np.ndarray:
    """uint8 mask of the forearms and hands the model can see: never part of a garment region.

    Hands often rest on the hips or in front of the torso; without this, try-on would repaint them.
    Only confidently seen, in-frame points are used, so a guessed arm never cuts a hole in the torso.
    """
    out = np.zeros(shape, dtype=np.uint8)
    t = s.torso
    pose = s.pose
    for elbow, wrist, fingers in ((L_ELBOW, L_WRIST, (17, 19, 21)), (R_ELBOW, R_WRIST, (18, 20, 22))):
        if not pose.visible(wrist, 0.5):
            continue
        w_pt = s.kp[wrist, :2]
        if pose.visible(elbow, 0.5):
            _limb(out, s.kp[elbow, :2], w_pt, 0.075 * t, 0.06 * t)
        # The hand: the wrist plus the pinky/index/thumb knuckles MediaPipe tracks, grown to cover fingers.
        pts = [w_pt] + [s.kp[i, :2] for i in fingers if s.kp[i, 3] >= 0.5]
        centre = np.mean(pts, axis=0)
        reach = max(float(max(np.hypot(*(p - centre)) for p in pts)), 0.05 * t)
        cv2.circle(out, (round(float(centre[0])), round(float(centre[1]))), round(reach * 1.6), 255, -1)
    return out


def _head_exclusion(shape: tuple[int, int], s: Skeleton) -> np.ndarray:
    """uint8 mask of the head (face, hair, ears) above the shoulder line, to keep out of garment masks."""
    kp = s.kp
    head = np.zeros(shape, dtype=np.uint8)
    face_pts = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if kp[i, 3] >= s.TRUST]
    if not face_pts:
        return head
    width = s._head_width()
    width = max(width, 0.25 * s.torso)  # guards against a collapsed estimate in profile views
    # The ears are at mid-height of the head; without them the nose is a little lower than the centre.
    if min(kp[L_EAR, 3], kp[R_EAR, 3]) >= s.TRUST:
        centre = (kp[L_EAR, :2] + kp[R_EAR, :2] + kp[NOSE, :2]) / 3
    else:
        centre = kp[face_pts, :2].mean(axis=0) - s.down * 0.1 * width
    # Head height ≈ 1.5 head widths (crown to chin); hair adds a margin around the skull.
    axes = (max(1, round(0.62 * width)), max(1, round(0.8 * width)))
    angle = float(np.degrees(np.arctan2(s.down[1], s.down[0]))) - 90.0
    cv2.ellipse(head, (round(float(centre[0])), round(float(centre[1]))), axes, angle, 0, 360, 255, -1)
    # Only above the shoulder line: long hair or a tilted head must not cut a hole in the torso.
    yy, xx = np.nonzero(head)
    below = (xx - s.mid_sh[0]) * s.down[0] + (yy - s.mid_sh[1]) * s.down[1] > -0.04 * s.torso
    head[yy[below], xx[below]] = 0
    return head


def clothing_region(pose: BodyPose, person_mask: np.ndarray, category: str) -> np.ndarray:
    """Where a garment of `category` would sit on this person: uint8 H×W mask, 0 or 255.

    - "upper": torso from the neckline to just below the hips, plus the upper arms (sleeves).
    - "lower": waist to the ankles (to the knees when the ankles are not visible).
    - "dress": shoulders to just below the knees, flaring out; arms are not included.

    The body-shaped polygons are intersected with the person mask (> 0.5); the head, the forearms and
    the hands are removed (they are never part of the garment, even when they rest on it).
    Hips and knees the model is unsure about are extrapolated from the torso; missing shoulders, or a
    region that falls entirely outside the photo, raise InputError.
    """
    key = str(category).strip().lower()
    if key not in CLOTHING_CATEGORIES:
        raise InputError(
            f"Unknown clothing category {category!r}; use one of: {', '.join(CLOTHING_CATEGORIES)}."
        )
    person_mask = np.asarray(person_mask)
    h, w = pose.image_size
    if person_mask.shape[:2] != (h, w):
        raise InputError(
            f"The person mask is {person_mask.shape[1]}×{person_mask.shape[0]} but the pose was found on a "
            f"{w}×{h} image; compute both from the same image."
        )
    s = Skeleton(pose)
    if key == "lower" and not s.hips_trusted:
        raise InputError(
            "The hips are not visible in the photo, so a lower-body garment has nowhere to go. "
            "Use a photo that shows the person at least from the waist to the knees."
        )

    region = np.zeros((h, w), dtype=np.uint8)
    if key == "upper":
        _upper_body(region, s, with_sleeves=True)
    elif key == "lower":
        _lower_body(region, s)
    else:
        _dress(region, s)

    person = person_mask.astype(np.float32) > 0.5
    region[~person] = 0
    region[_head_exclusion((h, w), s) > 0] = 0
    region[_forearms_and_hands((h, w), s) > 0] = 0
    if not region.any():
        raise InputError(
            f"The {key}-body clothing area lies outside the photo or off the person. "
            "Use a photo that shows that part of the body."
        )
    return region
