"""Face regions from the 478-point MediaPipe mesh, as pixel masks.

Index sets come from MediaPipe's `face_mesh_connections.py` (FACEMESH_LIPS, _LEFT_EYE, …), ordered into
polygons by walking their edges (see ../shared/docs/preprocessing.md §1). "left"/"right" always mean the
**subject's** left/right, as in MediaPipe: the subject's left eye (263/362) appears on the image's right in
an unmirrored photo.

Masks are rasterised inside the face's region of interest only (not the whole frame), which keeps a
full set of masks for one face at a fraction of a millisecond on a laptop CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
# Upper lid from the outer corner to the inner corner (the lash line eyeliner follows).
LEFT_UPPER_LID = (263, 466, 388, 387, 386, 385, 384, 398, 362)
RIGHT_UPPER_LID = (33, 246, 161, 160, 159, 158, 157, 173, 133)
# Brows: upper and lower edges from the outer end to the inner end.
LEFT_BROW_UPPER = (276, 283, 282, 295, 285)
LEFT_BROW_LOWER = (300, 293, 334, 296, 336)
RIGHT_BROW_UPPER = (46, 53, 52, 65, 55)
RIGHT_BROW_LOWER = (70, 63, 105, 66, 107)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
LEFT_IRIS_RING, LEFT_IRIS_CENTER = (474, 475, 476, 477), 473
RIGHT_IRIS_RING, RIGHT_IRIS_CENTER = (469, 470, 471, 472), 468
# Cheek apples: the landmarks AR blush filters centre on (50 subject-right, 280 subject-left).
RIGHT_CHEEK_CENTER, LEFT_CHEEK_CENTER = 50, 280
# Nose tip, chin and forehead centre, used for the head region and pose estimates.
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10

#: Every region `FaceRegions` produces, in display order.
REGION_NAMES = (
    "lips", "inner_mouth", "left_eye", "right_eye", "left_iris", "right_iris", "left_brow", "right_brow",
    "left_eyeshadow", "right_eyeshadow", "left_eyeliner", "right_eyeliner", "left_cheek", "right_cheek",
    "skin", "face_oval", "head",
)  # fmt: skip

#: Regions that are the union of a left and a right part.
PAIRED = {
    "eyes": ("left_eye", "right_eye"),
    "irises": ("left_iris", "right_iris"),
    "brows": ("left_brow", "right_brow"),
    "eyeshadow": ("left_eyeshadow", "right_eyeshadow"),
    "eyeliner": ("left_eyeliner", "right_eyeliner"),
    "cheeks": ("left_cheek", "right_cheek"),
}


@dataclass
class FaceRegions:
    """Binary (0/255) uint8 masks of one face, stored in the face's region of interest.

    `roi` is (x0, y0, x1, y1) in image pixels; `full(name)` places a mask on a full-size canvas.
    """

    roi: tuple[int, int, int, int]
    image_size: tuple[int, int]  # (height, width)
    masks: dict[str, np.ndarray]

    def local(self, name: str) -> np.ndarray:
        if name in PAIRED:
            a, b = PAIRED[name]
            return np.maximum(self.masks[a], self.masks[b])
        try:
            return self.masks[name]
        except KeyError:
            known = ", ".join(list(REGION_NAMES) + list(PAIRED))
            raise KeyError(f"Unknown face region '{name}'. Known regions: {known}") from None

    def full(self, name: str) -> np.ndarray:
        h, w = self.image_size
        out = np.zeros((h, w), np.uint8)
        x0, y0, x1, y1 = self.roi
        out[y0:y1, x0:x1] = self.local(name)
        return out

    def area(self, name: str) -> int:
        return int(np.count_nonzero(self.local(name)))


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """Resample an open polyline to `n` points equally spaced along its length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, dist[-1], n)
    return np.stack([np.interp(targets, dist, points[:, k]) for k in range(2)], axis=1)


def compute_regions(landmarks: np.ndarray, image_size: tuple[int, int]) -> FaceRegions:
    """Rasterise every region in `REGION_NAMES` for one face.

    Args:
        landmarks: (478, ≥2) landmark pixels (refined mesh, so irises 468–477 exist).
        image_size: (height, width) of the image the landmarks live in.
    """
    h, w = image_size
    pts = landmarks[:, :2].astype(np.float32)
    oval = pts[list(FACE_OVAL)]
    face_h = float(np.linalg.norm(pts[FOREHEAD] - pts[CHIN]))
    # ROI: the face oval grown for the head region (forehead/hair above, ears at the sides).
    ox0, oy0 = oval.min(axis=0)
    ox1, oy1 = oval.max(axis=0)
    mx, my = 0.25 * (ox1 - ox0), 0.45 * (oy1 - oy0)
    x0, y0 = int(max(0, np.floor(ox0 - mx))), int(max(0, np.floor(oy0 - my)))
    x1, y1 = int(min(w, np.ceil(ox1 + mx))), int(min(h, np.ceil(oy1 + 0.1 * (oy1 - oy0))))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    shape = (y1 - y0, x1 - x0)
    local = pts - np.array([x0, y0], np.float32)
    # Sub-pixel polygon filling: cv2 takes fixed-point coordinates with `shift` fractional bits.
    shift, scale = 4, 16.0

    def poly(indices_or_points) -> np.ndarray:
        p = local[list(indices_or_points)] if isinstance(indices_or_points, tuple) else indices_or_points
        m = np.zeros(shape, np.uint8)
        cv2.fillPoly(m, [np.round(p * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)
        return np.where(m >= 128, 255, 0).astype(np.uint8)

    def line(points: np.ndarray, thickness: float) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.polylines(m, [np.round(points * scale).astype(np.int32)], False, 255, max(1, round(thickness)),
                      cv2.LINE_AA, shift)  # fmt: skip
        return np.where(m >= 128, 255, 0).astype(np.uint8)

    def disc(center: np.ndarray, axes: tuple[float, float], angle: float = 0.0) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        c = tuple(int(v) for v in np.round(center * scale))
        a = tuple(max(1, int(v)) for v in np.round(np.array(axes) * scale))
        cv2.ellipse(m, c, a, angle, 0, 360, 255, -1, cv2.LINE_AA, shift)
        return np.where(m >= 128, 255, 0).astype(np.uint8)

    masks: dict[str, np.ndarray] = {}
    outer, inner = poly(LIPS_OUTER), poly(LIPS_INNER)
    masks["inner_mouth"] = inner
    masks["lips"] = cv2.subtract(outer, inner)
    for side, eye, lid, brow_up, brow_low, ring, centre, cheek in (
        ("left", LEFT_EYE, LEFT_UPPER_LID, LEFT_BROW_UPPER, LEFT_BROW_LOWER, LEFT_IRIS_RING, LEFT_IRIS_CENTER,
         LEFT_CHEEK_CENTER),
        ("right", RIGHT_EYE, RIGHT_UPPER_LID, RIGHT_BROW_UPPER, RIGHT_BROW_LOWER, RIGHT_IRIS_RING,
         RIGHT_IRIS_CENTER, RIGHT_CHEEK_CENTER),
    ):  # fmt: skip
        eye_mask = poly(eye)
        masks[f"{side}_eye"] = eye_mask
        iris_r = float(np.mean(np.linalg.norm(local[list(ring)] - local[centre], axis=1)))
        masks[f"{side}_iris"] = cv2.bitwise_and(disc(local[centre], (iris_r, iris_r)), eye_mask)
        masks[f"{side}_brow"] = poly(brow_up + tuple(reversed(brow_low)))
        # Eyeshadow: from the lash line up to ~60 % of the way to the brow's lower edge (the lid and crease).
        lid_pts = _resample(local[list(lid)], 12)
        brow_pts = _resample(local[list(brow_low)], 12)
        crease = lid_pts + 0.6 * (brow_pts - lid_pts)
        shadow = poly(np.concatenate([lid_pts, crease[::-1]]))
        masks[f"{side}_eyeshadow"] = cv2.subtract(shadow, eye_mask)
        # Eyeliner: a band hugging the upper lash line, thickening towards a short wing at the outer corner.
        eye_w = float(np.linalg.norm(lid_pts[0] - lid_pts[-1]))
        wing_dir = lid_pts[0] - lid_pts[1]
        wing_dir = wing_dir / (np.linalg.norm(wing_dir) + 1e-6)
        wing = lid_pts[0] + 0.18 * eye_w * wing_dir + np.array([0.0, -0.06 * eye_w])
        # Drawn half a line-width above the lid contour, so it sits on the lashes rather than on the eye.
        lash_line = np.concatenate([wing[None], lid_pts]) - np.array([0.0, 0.035 * eye_w], np.float32)
        liner = line(lash_line, 0.07 * eye_w)
        masks[f"{side}_eyeliner"] = cv2.subtract(liner, eye_mask)
        # Blush: a soft ellipse on the cheek apple, sized by the face.
        masks[f"{side}_cheek"] = disc(local[cheek], (0.11 * face_h, 0.08 * face_h))
    masks["face_oval"] = poly(FACE_OVAL)
    features = np.maximum.reduce(
        [masks["left_eye"], masks["right_eye"], masks["left_brow"], masks["right_brow"], outer]
    )
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    masks["skin"] = cv2.subtract(masks["face_oval"], features)
    for side in ("left", "right"):
        # Cheeks never cover eyes, lips or the area outside the face.
        masks[f"{side}_cheek"] = cv2.bitwise_and(masks[f"{side}_cheek"], masks["skin"])
    # Head: the face oval grown outward and upward (forehead, hairline, ears) — a generous region for
    # head stylisation and paste-back; intersect with a person mask when hair matters.
    centre = oval.mean(axis=0) - np.array([x0, y0], np.float32)
    grown = (local[list(FACE_OVAL)] - centre) * np.array([1.2, 1.25], np.float32) + centre
    grown[:, 1] -= 0.12 * face_h
    masks["head"] = np.maximum(poly(cv2.convexHull(grown).reshape(-1, 2)), masks["face_oval"])
    return FaceRegions(roi=(x0, y0, x1, y1), image_size=(h, w), masks=masks)
