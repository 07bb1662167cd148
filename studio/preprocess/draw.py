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


def draw_landmarks(rgb: np.ndarray, faces: list[Face], labels: bool = True) -> np.ndarray:
    """All 478 points per face, with the main contours and the face box; subject-left eye in green; with `labels`,
    each box's number and yaw (`draw_face_labels`)."""
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
    return draw_face_labels(out, faces) if labels else out


def draw_face_labels(out: np.ndarray, faces: list[Face]) -> np.ndarray:
    """Each face's number and yaw on a dark tag beside its box (never on a box or another tag where the image has
    room: `place_labels`), in place; drawn last, over every other overlay."""
    scale = max(out.shape[:2]) / 640.0
    font_scale, thick = 0.5 * scale, max(1, round(1.5 * scale))
    boxes = [tuple(int(v) for v in face.box) for face in faces]
    labels = [f"#{i + 1} yaw {face.yaw_deg:+.0f}" for i, face in enumerate(faces)]
    for text, rect in zip(labels, place_labels(labels, boxes, out.shape[:2], font_scale, thick)):
        draw_label(out, text, rect, font_scale, thick)
    return out


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _overlaps(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def place_labels(labels: list[str], boxes: list[tuple[int, int, int, int]], size: tuple[int, int], font_scale: float,
                 thick: int) -> list[tuple[int, int, int, int]]:  # fmt: skip
    """Where each box's label goes, as (x, y, width, height) of its background: just above its box (below it when
    there is no room above), shifted to stay inside the image, on no box and no other label where any such place
    exists (else the candidate that covers the least)."""
    height, width = size
    placed: list[tuple[int, int, int, int]] = []
    for text, (x0, y0, x1, y1) in zip(labels, boxes):
        (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, thick)
        pad = max(2, thick + 1)
        w, h = min(width, tw + 2 * pad), min(height, th + base + 2 * pad)
        gap = max(1, thick)
        candidates = []
        for y in (y0 - gap - h, y1 + gap, y0 - gap - 2 * h, y1 + gap + h, y0 + gap):  # above, below, further, inside
            for x in (x0, x1 - w, x0 - w // 2):
                cx, cy = int(np.clip(x, 0, width - w)), int(np.clip(y, 0, height - h))
                candidates.append((cx, cy, w, h))

        def cover(rect) -> int:
            hits = sum(_overlaps(rect, other) for other in placed)
            hits += sum(_overlaps(rect, (bx0, by0, bx1 - bx0, by1 - by0)) for bx0, by0, bx1, by1 in boxes)
            return hits

        best = min(candidates, key=cover)  # the first candidate (above, left-aligned) wins ties
        placed.append(best)
    return placed


def draw_label(out: np.ndarray, text: str, rect: tuple[int, int, int, int], font_scale: float, thick: int,
               color=(255, 220, 0), background=(20, 20, 20)) -> None:  # fmt: skip
    """`text` on a dark background filling `rect` (x, y, width, height), in place."""
    x, y, w, h = rect
    cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), background, -1)
    (_, th), base = cv2.getTextSize(text, _FONT, font_scale, thick)
    pad = (h - th - base) // 2
    cv2.putText(out, text, (x + max(2, thick + 1), y + pad + th), _FONT, font_scale, color, thick, cv2.LINE_AA)


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
