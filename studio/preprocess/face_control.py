"""Face conditioning on an aligned crop: the face's mesh moved into crop space, and the MediaPipe-face
ControlNet image drawn from it (makeup transfer today, head stylization next).

Drawn from our own landmarks rather than by running controlnet-aux's detector on the crop: that runs a new
FaceMesh, which can find a different face (a neighbour at the crop's edge), a slightly different mesh than the
one the masks and paste-back use, or none at all on a small, made-up or turned face; it also drops faces under
64 px. Our render always matches the masks, costs no detection, and works at any size.
"""

from __future__ import annotations

import cv2
import numpy as np

from .face import AlignedCrop, Face

# ControlNet MediaPipe-face drawing convention (controlnet-aux 0.0.10 mediapipe_face_common.py, which is how
# CrucibleAI/ControlNetMediaPipeFace's training images were made): lines 2 px wide at 512 px on black, iris
# centres as 4×4 squares. Colours are theirs, converted to RGB (they draw BGR, then flip the channels).
CONTROL_COLORS = {"oval": (10, 200, 10), "lips": (10, 180, 10), "left_eye": (10, 200, 180),
                  "left_brow": (10, 220, 180), "right_eye": (180, 200, 10), "right_brow": (180, 220, 10)}  # fmt: skip
IRIS_COLORS = {468: (250, 200, 10), 473: (10, 200, 250)}  # right, left iris centre (subject's sides)


def crop_face(crop: AlignedCrop, face: Face) -> Face:
    """The face in crop coordinates (landmarks through the crop's similarity transform, depth scaled alike), so
    the shared region masks can be drawn straight in crop space."""
    scale = float(np.sqrt(abs(np.linalg.det(crop.matrix[:, :2]))))
    landmarks = np.hstack([crop.landmarks, face.landmarks[:, 2:3] * scale]).astype(np.float32)
    return Face(landmarks, (crop.size, crop.size), score=face.score, found_by=face.found_by)


def control_image(landmarks: np.ndarray, size: int) -> np.ndarray:
    """MediaPipe-face ControlNet image of our mesh: face oval, eyes, brows and lips as coloured lines on black,
    iris centres as squares (the controlnet-aux convention, scaled from its 512 px line width). `landmarks` are
    in the square crop's pixels (see `crop_face`)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    sets = {"oval": fmc.FACEMESH_FACE_OVAL, "left_eye": fmc.FACEMESH_LEFT_EYE, "left_brow": fmc.FACEMESH_LEFT_EYEBROW,
            "right_eye": fmc.FACEMESH_RIGHT_EYE, "right_brow": fmc.FACEMESH_RIGHT_EYEBROW, "lips": fmc.FACEMESH_LIPS}
    canvas = np.zeros((size, size, 3), np.uint8)
    thickness = max(1, round(2 * size / 512))
    # mediapipe's drawing_utils: pixel = floor(normalised × size), and an edge is skipped when an end is outside.
    points = np.floor(landmarks[:, :2]).astype(int)
    inside = np.all((landmarks[:, :2] >= 0) & (landmarks[:, :2] <= size), axis=1)
    points = np.minimum(points, size - 1)
    for part, edges in sets.items():
        for a, b in edges:
            if inside[a] and inside[b]:
                start, end = tuple(map(int, points[a])), tuple(map(int, points[b]))
                cv2.line(canvas, start, end, CONTROL_COLORS[part], thickness)
    half = max(1, round(2 * size / 512))
    for index, color in IRIS_COLORS.items():
        if index < len(points) and inside[index]:
            x, y = points[index]
            canvas[max(0, y - half) : y + half, max(0, x - half) : x + half] = color
    return canvas
