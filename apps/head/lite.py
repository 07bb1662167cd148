"""The lite tier: every head in the photo reshaped, stylised and composited back; the rest of the photo untouched.

Per face (largest first):

1. **mask** — head and hair from the selfie mask cut around the face oval (studio.preprocess.head);
2. **warp** — the caricature handles (geometry.py) through a moving-least-squares warp inside the head's band box,
   its border pinned (studio.warp), so nothing outside the box moves; the head mask follows the warp;
3. **look** — the preset's filters (toon.py) on the warped band box, sized by this face and laid out around its own
   skin tone;
4. **composite** — through the head mask, minus the other faces' ovals, so two heads cheek to cheek each keep their
   own tone. Outside the head masks every pixel is the photo's own byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.preprocess.face import Face, face_height
from studio.preprocess.regions import (FACE_OVAL, LEFT_BROW_LOWER, LEFT_BROW_UPPER, LEFT_EYE, LIPS_OUTER,
                                       RIGHT_BROW_LOWER, RIGHT_BROW_UPPER, RIGHT_EYE)  # fmt: skip
from studio.preprocess.head import HeadMasks, head_masks
from studio.warp import apply_in_box, warp_maps, warp_points

from . import geometry, toon
from .presets import Preset


#: The features as landmark polygons: eyes, brows (upper edge out, lower edge back) and the outer lips.
FEATURES = (LEFT_EYE, RIGHT_EYE, LEFT_BROW_UPPER + LEFT_BROW_LOWER[::-1], RIGHT_BROW_UPPER + RIGHT_BROW_LOWER[::-1],
            LIPS_OUTER)  # fmt: skip


@dataclass
class Stylised:
    image: np.ndarray
    masks: HeadMasks
    alpha: np.ndarray  # the composite's opacity (float32 H×W): where the stylised head replaced the photo
    warped: np.ndarray  # the photo after the caricature warp, before the look
    scales: list[dict] = field(default_factory=list)  # per face: the feature scales the warp used
    landmarks: list[np.ndarray] = field(default_factory=list)  # per face: its mesh (478×2) after the warp
    alphas: list[tuple] = field(default_factory=list)  # per face: (box, its own composite opacity in the box)
    notes: list[str] = field(default_factory=list)


def _polygons(mask: np.ndarray, polygons, origin) -> None:
    """Fill landmark polygons (N×2 photo pixels each) into `mask` (uint8, 255) whose top-left is at `origin`."""
    shifted = [np.round((np.asarray(p) - origin) * 16).astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, shifted, 255, cv2.LINE_AA, 4)


def skin_tone(rgb: np.ndarray, face: Face) -> tuple[float, float]:
    """(median, robust spread) of the face's lightness inside its oval, eyes, brows and lips left out, in OpenCV Lab
    L units (0–255). Drawn straight from the mesh: a webcam frame cannot spend ~2 ms on every region mask."""
    lm = face.landmarks[:, :2]
    oval = lm[list(FACE_OVAL)]
    h, w = rgb.shape[:2]
    x0, y0 = np.maximum(np.floor(oval.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(oval.max(axis=0)).astype(int) + 1, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 128.0, 30.0
    skin = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _polygons(skin, [oval], (x0, y0))
    features = np.zeros_like(skin)
    _polygons(features, [lm[list(ix)] for ix in FEATURES], (x0, y0))
    skin[features > 0] = 0
    if np.count_nonzero(skin) < 30:
        return 128.0, 30.0
    lightness = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB)[..., 0][skin > 127]
    q1, median, q3 = np.percentile(lightness, (25, 50, 75))
    return float(median), float(max((q3 - q1) / 1.35, 4.0))


def feature_mask(face: Face, box: tuple[int, int, int, int]) -> np.ndarray:
    """Where the face's features are, soft (float32 0–1) in `box`: eyes, brows, lips and the nostrils, grown a little
    so their outlines are inside."""
    x0, y0, x1, y1 = box
    lm = face.landmarks[:, :2]
    union = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _polygons(union, [lm[list(ix)] for ix in FEATURES], (x0, y0))
    fh = face_height(face)
    for i in (1, 98, 327):  # nose tip and nostrils
        x, y = lm[i] - (x0, y0)
        cv2.circle(union, (int(round(x)), int(round(y))), max(1, int(0.035 * fh)), 255, -1)
    grow = max(1, int(0.03 * fh))
    union = cv2.dilate(union, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return cv2.GaussianBlur(union.astype(np.float32) * (1.0 / 255.0), (0, 0), max(0.8, 0.015 * fh))


def stylise_photo(rgb: np.ndarray, faces: list[Face], person: np.ndarray | None, preset: Preset, caricature: float,
                  palette=None, masks: HeadMasks | None = None, landmarks: bool = True) -> Stylised:  # fmt: skip
    """Every face's head in `preset` at caricature `amount`; `person` is the selfie mask (None: the band alone).
    `landmarks=False` skips moving each mesh through the warp (only the diffusion tiers' ControlNet needs it)."""
    masks = masks if masks is not None else head_masks(rgb, faces, person)
    shape = rgb.shape[:2]
    out = rgb.copy()
    warped = rgb
    alpha_all = np.zeros(shape, np.float32)
    ovals = [cv2.dilate(m.face, np.ones((5, 5), np.uint8)) for m in masks.heads]
    scales, warped_mesh, alphas, notes = [], [], [], []
    for i, (face, head) in enumerate(zip(faces, masks.heads)):
        x0, y0, x1, y1 = head.box
        warped_mesh.append(face.landmarks[:, :2].copy())
        if x1 - x0 < 8 or y1 - y0 < 8:
            scales.append({})
            alphas.append((head.box, np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.float32)))
            continue
        alpha = head.head
        # Features and the head's own edge keep the finer shapes (coarse smoothing there would leave a halo of
        # background colour round the hair).
        edge = cv2.dilate(((alpha > 0.05) & (alpha < 0.95)).astype(np.uint8), np.ones((5, 5), np.uint8))
        detail = np.maximum(feature_mask(face, head.box), cv2.GaussianBlur(edge.astype(np.float32), (0, 0), 2.0))
        moved = geometry.handles(face, preset.shape, caricature)
        if moved is not None:
            maps = warp_maps(moved.moves_from, moved.moves_to, head.box, pinned=moved.pinned, detail=moved.detail)
            warped = apply_in_box(warped, maps, head.box)
            # The head's mask follows the warp; the photo's own outline stays covered too, so no sliver of the
            # unstylised head shows where a narrowed jaw pulled in.
            local = (maps[0] - x0, maps[1] - y0)
            alpha = np.maximum(alpha, cv2.remap(alpha, *local, cv2.INTER_LINEAR, borderValue=0.0))
            detail = cv2.remap(detail, *local, cv2.INTER_LINEAR, borderValue=0.0)
            scales.append({k: round(v, 3) for k, v in moved.scales.items()})
            if landmarks:
                warped_mesh[-1] = warp_points(moved.moves_from, moved.moves_to, head.box, warped_mesh[-1],
                                              moved.pinned)  # fmt: skip
        else:
            scales.append({})
        for j, other in enumerate(masks.heads):  # keep off the other faces
            if j != i:
                alpha = alpha * (1.0 - _in_box(ovals[j], other.box, head.box))
        crop = warped[y0:y1, x0:x1]
        styled = toon.stylise(crop, preset.look, face_height(face), skin_tone(rgb, face), detail, palette)
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region + (styled.astype(np.float32) - region) * alpha[..., None] + 0.5, 0,
                                    255).astype(np.uint8)  # fmt: skip
        np.maximum(alpha_all[y0:y1, x0:x1], alpha, out=alpha_all[y0:y1, x0:x1])
        alphas.append((head.box, alpha))
        if geometry.warp_weight(face) < 1.0 and caricature > 0:
            notes.append(f"Face {i + 1} is turned about {abs(face.yaw_deg):.0f}°: the caricature warp was "
                         f"{'reduced' if geometry.warp_weight(face) > 0 else 'left out'} (the mesh guesses the far "
                         "side of a turned face).")  # fmt: skip
    out = np.where(alpha_all[..., None] > 0, out, rgb)  # outside every head: the photo's own bytes
    return Stylised(out, masks, alpha_all, warped if warped is not rgb else rgb.copy(), scales, warped_mesh, alphas,
                    notes)


#: Webcam frames are stylised with their long side at most LIVE_SIDE pixels and the largest face at most LIVE_FACE
#: pixels tall, then composited at full size: a preview's softer lines for a quarter of the work or less (the face
#: mesh still runs on the full frame). At 640×480 a selfie's face (~290 px) is stylised at 90 px, as a still's
#: look is laid out at its work scale anyway (toon.WORK_FACE).
LIVE_SIDE, LIVE_FACE = 320, 90


def stylise_frame(frame: np.ndarray, faces: list[Face], person: np.ndarray | None, preset: Preset,
                  caricature: float, palette=None) -> np.ndarray:  # fmt: skip
    """The live path: `stylise_photo` on the frame scaled to `LIVE_SIDE`, the heads composited back at full size
    (every pixel outside them keeps the frame's bytes)."""
    h, w = frame.shape[:2]
    f = min(LIVE_SIDE / max(h, w), LIVE_FACE / max(max(face_height(face) for face in faces), 1.0))
    if f >= 1.0:
        return stylise_photo(frame, faces, person, preset, caricature, palette, landmarks=False).image
    size = (max(8, round(w * f)), max(8, round(h * f)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    scaled = [Face(face.landmarks * np.float32(f), (size[1], size[0]), face.score, face.found_by) for face in faces]
    mask = None if person is None else cv2.resize(person, size, interpolation=cv2.INTER_LINEAR)
    done = stylise_photo(small, scaled, mask, preset, caricature, palette, landmarks=False)
    ys, xs = np.nonzero(done.alpha > 0)
    if not len(xs):
        return frame
    # Only the heads' box is scaled up and blended.
    bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    x0, y0 = int(bx0 / f), int(by0 / f)
    x1, y1 = min(w, int(np.ceil(bx1 / f))), min(h, int(np.ceil(by1 / f)))
    box_size = (x1 - x0, y1 - y0)
    # The part of the small image that maps onto [x0, x1) × [y0, y1) (sub-pixel aligned by warpAffine).
    matrix = np.float32([[f, 0, x0 * f - 0.5 * (1 - f)], [0, f, y0 * f - 0.5 * (1 - f)]])
    up = cv2.warpAffine(done.image, matrix, box_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    alpha = cv2.warpAffine(done.alpha, matrix, box_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    out = frame.copy()
    region = out[y0:y1, x0:x1]
    blended = region.astype(np.float32) + (up.astype(np.float32) - region) * alpha[..., None]
    out[y0:y1, x0:x1] = np.where(alpha[..., None] > 0, np.clip(blended + 0.5, 0, 255).astype(np.uint8), region)
    return out


def _in_box(mask: np.ndarray, mask_box, box) -> np.ndarray:
    """`mask` (covering `mask_box`) cut to `box`'s area (zeros where it does not reach)."""
    out = np.zeros((box[3] - box[1], box[2] - box[0]), np.float32)
    x0, y0 = max(mask_box[0], box[0]), max(mask_box[1], box[1])
    x1, y1 = min(mask_box[2], box[2]), min(mask_box[3], box[3])
    if x1 > x0 and y1 > y0:
        out[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]] = \
            mask[y0 - mask_box[1] : y1 - mask_box[1], x0 - mask_box[0] : x1 - mask_box[0]]  # fmt: skip
    return out
