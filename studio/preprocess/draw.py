"""Overlays that show what the preprocessing found: landmarks, coloured region masks, masks as images."""

from __future__ import annotations

import cv2
import numpy as np

from ..tiles import overlay
from .face import Face
from .regions import FACE_OVAL, LEFT_EYE, LIPS_INNER, LIPS_OUTER, RIGHT_EYE

#: Display colour per region (RGB). Subject-left regions are green-ish, subject-right blue-ish.
REGION_COLORS: dict[str, tuple[int, int, int]] = {
    "lips": (230, 40, 60),
    "inner_mouth": (40, 220, 220),
    "left_eye": (60, 220, 60),
    "right_eye": (60, 120, 255),
    "left_iris": (200, 255, 0),
    "right_iris": (0, 200, 255),
    "left_brow": (20, 120, 20),
    "right_brow": (20, 40, 140),
    "left_eyeshadow": (170, 60, 230),
    "right_eyeshadow": (250, 140, 30),
    "left_eyeliner": (30, 30, 30),
    "right_eyeliner": (80, 80, 80),
    "left_cheek": (255, 120, 170),
    "right_cheek": (255, 190, 120),
}


def draw_landmarks(rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """All 478 points per face, with the main contours and the face box; subject-left eye in green."""
    out = rgb.copy()
    scale = max(rgb.shape[:2]) / 640.0
    radius, thick = max(1, round(1.2 * scale)), max(1, round(1.5 * scale))
    for i, face in enumerate(faces):
        pts = face.landmarks[:, :2]
        for x, y in pts:
            cv2.circle(out, (int(x), int(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
        for ring, color in ((FACE_OVAL, (255, 220, 0)), (LIPS_OUTER, (230, 40, 60)), (LIPS_INNER, (230, 40, 60)),
                            (LEFT_EYE, (60, 220, 60)), (RIGHT_EYE, (60, 120, 255))):  # fmt: skip
            cv2.polylines(out, [pts[list(ring)].astype(np.int32)], True, color, thick, cv2.LINE_AA)
        x0, y0, x1, y1 = face.box.astype(int)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 220, 0), thick)
        label = f"#{i + 1} yaw {face.yaw_deg:+.0f}"
        cv2.putText(out, label, (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 220, 0), thick)
    return out


def draw_regions(rgb: np.ndarray, faces: list[Face], alpha: float = 0.55) -> np.ndarray:
    """Every feature region tinted in its colour, skin and head outlined."""
    out = rgb.copy()
    for face in faces:
        regions = face.regions
        x0, y0, x1, y1 = regions.roi
        # Tinted within the face's box only, where its masks live (the rest of the photo is untouched).
        layers = [(regions.local(name) > 0, color) for name, color in REGION_COLORS.items()]
        out[y0:y1, x0:x1] = overlay(out[y0:y1, x0:x1], layers, alpha)
    thick = max(1, round(max(rgb.shape[:2]) / 500))
    for face in faces:
        for name, color in (("skin", (255, 255, 255)), ("head", (255, 220, 0))):
            contours, _ = cv2.findContours(face.regions.full(name), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, color, thick, cv2.LINE_AA)
    return out


def mask_on_image(rgb: np.ndarray, mask: np.ndarray, color=(255, 60, 60), alpha: float = 0.6) -> np.ndarray:
    """A mask (uint8 0–255 or float 0–1) tinted over a dimmed copy of the photo, so it can be judged in place."""
    return overlay(rgb, [(mask, color)], alpha, dim=0.6)
