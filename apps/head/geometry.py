"""The mesh-driven caricature: which of the 478 points move where, for a preset's `Shape` and the caricature amount.

Features are resized around their own centres — eyes (their rings and irises), the nose, the lips — and the jaw is
narrowed or widened across the face's own axis. With `Shape.exaggerate`, a feature also grows or shrinks by how far
this face's proportion departs from the average face (the reference the geometric descriptor uses,
`studio.preprocess.identity.average_face`): a wide nose gets a little wider, a long chin a little longer. That is
the classic caricature rule (Brennan, "Caricature generator", Leonardo 18(3), 1985: exaggerate the difference from
a norm), kept gentle so the person stays recognisable. The brows, the forehead and the top of the face outline are
pinned, so the hairline and the head's silhouette stay where the photo has them; studio.warp pins the band's box.

A face turned beyond ~30° gets less of the warp and none beyond 50°: the mesh guesses the far half of a profile, and
enlarging a hidden eye would draw one where there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.preprocess.face import Face
from studio.preprocess.identity import GEOMETRIC_FEATURES, average_face, some_geometric_features
from studio.preprocess.regions import (FACE_OVAL, LEFT_BROW_UPPER, LEFT_EYE, LEFT_IRIS_CENTER, LIPS_INNER,
                                       LIPS_OUTER, RIGHT_BROW_UPPER, RIGHT_EYE, RIGHT_IRIS_CENTER)  # fmt: skip

from .presets import Shape

#: FACEMESH_NOSE of mediapipe's face_mesh_connections, less the bridge top (6, 168), which stays pinned.
NOSE = (1, 2, 4, 5, 19, 45, 48, 64, 94, 97, 98, 115, 195, 197, 220, 275, 278, 294, 326, 327, 344, 440)
#: The face outline under the cheekbones, from the subject's right jaw angle round the chin to the left one.
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
PINNED = tuple(i for i in FACE_OVAL if i not in JAW)[::2] + LEFT_BROW_UPPER[::2] + RIGHT_BROW_UPPER[::2] + (6, 168)
#: A ring of extra handles round each eye (radius in eye half-widths) carrying part of the eye's scale (a fraction),
#: so the enlargement fades out over the lids and the cheek instead of stopping at the lash line.
EYE_FALLOFF_RADIUS, EYE_FALLOFF_SHARE = 1.5, 0.45
#: Gain on the log deviation from the average face; the result is clipped to ±MAX_EXAGGERATION.
MAX_EXAGGERATION = 0.15
#: Full warp up to this head turn (degrees), none beyond NO_WARP_YAW.
FULL_WARP_YAW, NO_WARP_YAW = 30.0, 50.0

_FEATURE = {name: i for i, (name, _, _) in enumerate(GEOMETRIC_FEATURES)}


@dataclass
class Handles:
    """Points that move (from → to) and points held still, in photo pixels, plus the scales used (for Result.info)."""

    moves_from: np.ndarray
    moves_to: np.ndarray
    pinned: np.ndarray
    scales: dict[str, float]
    detail: list  # (box, grid step) windows round the eyes, nose and mouth for studio.warp.warp_maps


#: The proportions the caricature exaggerates: our key → the geometric descriptor's feature (two point groups).
_PICK = {"eyes": "eye width", "nose_width": "nose width at the wings", "nose_length": "nasion to nose base",
         "jaw": "jaw-angle width", "chin": "nose base to chin"}  # fmt: skip


def deviations(face: Face) -> dict[str, float]:
    """How this face departs from the average face, as log ratios (0 = average; 0.1 ≈ 10 % larger)."""
    mean, _ = average_face()
    indices = [_FEATURE[name] for name in _PICK.values()]
    values = some_geometric_features(face.landmarks, indices) - mean[indices]
    return {key: float(v) for key, v in zip(_PICK, values)}


def warp_weight(face: Face) -> float:
    """1 for a frontal face, fading to 0 for a face turned beyond NO_WARP_YAW."""
    return float(np.clip((NO_WARP_YAW - abs(face.yaw_deg)) / (NO_WARP_YAW - FULL_WARP_YAW), 0.0, 1.0))


def scales_for(face: Face, shape: Shape, amount: float) -> dict[str, float]:
    """Each feature's scale for `shape` at caricature `amount` (0–1)."""
    c = amount * warp_weight(face)
    dev = deviations(face) if shape.exaggerate > 0 and c > 0 else {}

    def grow(base: float, key: str) -> float:
        extra = float(np.clip(shape.exaggerate * c * dev.get(key, 0.0), -MAX_EXAGGERATION, MAX_EXAGGERATION))
        return float((1.0 + c * (base - 1.0)) * np.exp(extra))

    return {"eyes": grow(shape.eyes, "eyes"), "nose_width": grow(shape.nose, "nose_width"),
            "nose_length": grow(shape.nose, "nose_length"), "mouth": 1.0 + c * (shape.mouth - 1.0),
            "jaw": grow(shape.jaw, "jaw"), "chin": grow(1.0, "chin")}  # fmt: skip


def handles(face: Face, shape: Shape, amount: float) -> Handles | None:
    """The warp's handles for one face, or None when nothing moves (caricature 0, a neutral shape, a profile)."""
    scales = scales_for(face, shape, amount)
    if all(abs(v - 1.0) < 0.005 for v in scales.values()):
        return None
    lm = face.landmarks[:, :2].astype(np.float64)
    up = lm[10] - lm[152]
    up /= max(np.linalg.norm(up), 1e-6)
    right = np.array([-up[1], up[0]])
    src, dst, detail = [], [], []

    def scale_about(indices, centre, across: float, along: float, window: float = 0.0, points=None):
        pts = lm[list(indices)] if points is None else points
        rel = pts - centre
        s, t = rel @ right, rel @ up
        src.append(pts)
        dst.append(centre + np.outer(s * across, right) + np.outer(t * along, up))
        if window > 0:  # a finer grid round a small feature: its handles sit only a few pixels apart
            both = np.vstack([pts, dst[-1]])
            lo, hi = both.min(axis=0), both.max(axis=0)
            grow = window * (hi - lo).max()
            side = float((hi - lo).max())
            box = (int(lo[0] - grow), int(lo[1] - grow), int(np.ceil(hi[0] + grow)), int(np.ceil(hi[1] + grow)))
            detail.append((box, max(3.0, side / 7.0)))

    for ring, centre in ((RIGHT_EYE, RIGHT_IRIS_CENTER), (LEFT_EYE, LEFT_IRIS_CENTER)):
        middle = lm[list(ring)].mean(axis=0)  # the eye's middle, not the iris: it does not move with the gaze
        half = 0.5 * float(np.linalg.norm(lm[ring[0]] - lm[ring[8]]))  # corner to corner
        angles = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
        circle = middle + EYE_FALLOFF_RADIUS * half * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        soft = 1.0 + EYE_FALLOFF_SHARE * (scales["eyes"] - 1.0)
        scale_about((), middle, soft, soft, points=circle)
        # Every other point of each outline: MLS interpolates between handles, and the warp's cost grows with
        # their number (about 100 in all keeps a webcam frame's warp near 2 ms).
        scale_about(ring[::2] + (centre,), middle, scales["eyes"], scales["eyes"], window=0.9)
    scale_about(NOSE[::2], lm[list(NOSE)].mean(axis=0), scales["nose_width"], scales["nose_length"], window=0.3)
    mouth = lm[list(LIPS_OUTER)].mean(axis=0)
    scale_about(LIPS_OUTER[::2] + LIPS_INNER[::3], mouth, scales["mouth"], scales["mouth"], window=0.3)
    # The jaw: across the face about the chin's line, and the chin along it from the cheekbones' level.
    cheeks = (lm[234] + lm[454]) / 2.0
    scale_about(JAW[::2], cheeks + ((lm[152] - cheeks) @ right) * right, scales["jaw"], scales["chin"])
    return Handles(np.vstack(src), np.vstack(dst), lm[list(PINNED)], scales, detail)
