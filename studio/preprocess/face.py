"""Face analysis: MediaPipe 478-point mesh for every face, region masks, aligned crops with paste-back.

Uses only the legacy `mp.solutions` graphs of mediapipe 0.10.21, whose models ship inside the wheel, so
it works offline. The fast path runs FaceMesh on the whole frame (its own short-range detector finds the
faces); when that finds nothing, the full-range face detector (faces up to ~5 m away) proposes boxes and
the mesh runs again on each enlarged crop, which recovers small faces in big photos.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from .regions import CHIN, FACE_OVAL, FOREHEAD, NOSE_TIP, FaceRegions, compute_regions

#: Analysis runs on at most this many pixels on the long side; landmarks are scaled back to the original.
ANALYSIS_MAX_SIDE = 1600
#: Landmarks used to align faces: the two eye centres (mean of each eye ring) and the mouth centre.
_RIGHT_EYE_RING = (33, 133, 159, 145)
_LEFT_EYE_RING = (263, 362, 386, 374)
_MOUTH = (61, 291, 13, 14)
# Where those three points land in an aligned square crop (fractions of its side). The eyes sit at 40 %
# height with the mouth at 71 %, leaving room for forehead, hair and chin, as face-editing models expect.
_ALIGN_TEMPLATE = np.array([[0.355, 0.40], [0.645, 0.40], [0.5, 0.71]], np.float32)
#: Beyond this yaw the far side of the face is hidden and its regions are guesses.
FRONTAL_YAW_LIMIT_DEG = 35.0


@dataclass
class AlignedCrop:
    """A square, eye-aligned crop of one face, and the way back into the original photo."""

    image: np.ndarray  # size × size × 3 RGB
    matrix: np.ndarray  # 2×3 affine: original pixels → crop pixels
    inverse: np.ndarray  # 2×3 affine: crop pixels → original pixels
    landmarks: np.ndarray  # (478, 2) in crop pixels

    @property
    def size(self) -> int:
        return self.image.shape[0]

    def paste_back(self, edited: np.ndarray, original: np.ndarray, mask: np.ndarray | None = None,
                   feather_px: float | None = None) -> np.ndarray:  # fmt: skip
        """Warp `edited` (a crop-sized image) back into `original` and blend it in.

        Args:
            edited: the crop after editing, same size as `self.image`.
            original: the full photo the crop came from.
            mask: optional crop-sized mask (uint8 0–255 or float 0–1) of the pixels to paste; default all.
            feather_px: blur of the mask edge in crop pixels (default 2 % of the crop size).
        """
        if edited.shape[:2] != self.image.shape[:2]:
            raise ValueError(f"edited crop is {edited.shape[:2]}, expected {self.image.shape[:2]}")
        h, w = original.shape[:2]
        if mask is None:
            # Keep a margin at the crop's border so the seam never shows a hard square edge.
            m = np.zeros(self.image.shape[:2], np.float32)
            margin = max(2, self.size // 32)
            m[margin:-margin, margin:-margin] = 1.0
        else:
            m = mask.astype(np.float32)
            if m.max(initial=0) > 1.0:
                m /= 255.0
        feather = self.size * 0.02 if feather_px is None else feather_px
        if feather > 0:
            m = cv2.GaussianBlur(m, (0, 0), feather)
        back = cv2.warpAffine(edited, self.inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.warpAffine(m, self.inverse, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
        out = original.astype(np.float32) * (1.0 - alpha) + back.astype(np.float32) * alpha
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Face:
    """One detected face. Landmarks are in pixels of the analysed image: x, y, and z (MediaPipe's
    relative depth, scaled like x by the image width)."""

    landmarks: np.ndarray  # (478, 3) float32
    image_size: tuple[int, int]  # (height, width)
    score: float | None = None  # detector confidence when the full-range detector found the face
    found_by: str = "face_mesh"  # "face_mesh" or "face_detection+mesh" (small/far faces)
    notes: list[str] = field(default_factory=list)

    @cached_property
    def box(self) -> np.ndarray:
        """(x0, y0, x1, y1) of the face oval, in pixels."""
        oval = self.landmarks[list(FACE_OVAL), :2]
        return np.concatenate([oval.min(axis=0), oval.max(axis=0)]).astype(np.float32)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return float((x1 - x0) * (y1 - y0))

    @cached_property
    def yaw_deg(self) -> float:
        """Approximate head turn, + when the subject turns to their left (nose moves to image right)."""
        lm = self.landmarks
        right_edge, left_edge = lm[234, 0], lm[454, 0]  # face-oval extremes at the cheekbones
        width = max(left_edge - right_edge, 1e-3)
        offset = (lm[NOSE_TIP, 0] - (left_edge + right_edge) / 2.0) / (width / 2.0)
        return float(np.degrees(np.arcsin(np.clip(offset, -1.0, 1.0))))

    @cached_property
    def roll_deg(self) -> float:
        """In-plane rotation of the eye line, degrees (0 = level)."""
        r = self.landmarks[list(_RIGHT_EYE_RING), :2].mean(axis=0)
        l = self.landmarks[list(_LEFT_EYE_RING), :2].mean(axis=0)  # noqa: E741
        return float(np.degrees(np.arctan2(l[1] - r[1], l[0] - r[0])))

    @property
    def is_frontal(self) -> bool:
        return abs(self.yaw_deg) <= FRONTAL_YAW_LIMIT_DEG

    @cached_property
    def regions(self) -> FaceRegions:
        """All region masks (lips, eyes, irises, brows, eyeshadow, eyeliner, cheeks, skin, head, …)."""
        return compute_regions(self.landmarks, self.image_size)

    def aligned_crop(self, rgb: np.ndarray, size: int = 512) -> AlignedCrop:
        """A size×size crop with the eyes level and at fixed positions; see `AlignedCrop.paste_back`."""
        lm = self.landmarks[:, :2]
        src = np.stack([lm[list(_RIGHT_EYE_RING)].mean(0), lm[list(_LEFT_EYE_RING)].mean(0), lm[list(_MOUTH)].mean(0)])
        matrix, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), _ALIGN_TEMPLATE * size)
        if matrix is None:  # degenerate landmarks (should not happen for a detected face)
            raise ValueError("could not compute an alignment for this face")
        crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        ones = np.ones((len(lm), 1), np.float32)
        crop_lm = np.hstack([lm, ones]) @ matrix.T
        return AlignedCrop(crop, matrix.astype(np.float32), cv2.invertAffineTransform(matrix).astype(np.float32),
                           crop_lm.astype(np.float32))  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "landmarks": int(len(self.landmarks)),
            "score": None if self.score is None else round(self.score, 3),
            "found_by": self.found_by,
            "yaw_deg": round(self.yaw_deg, 1),
            "roll_deg": round(self.roll_deg, 1),
            "frontal": self.is_frontal,
            "notes": list(self.notes),
        }


class FaceAnalyzer:
    """Runs the MediaPipe graphs. Thread-safe (one lock; the graphs are not re-entrant).

    Args:
        video: track faces across frames (webcam); otherwise every call is an unrelated still.
        max_faces: the most faces the mesh looks for in one frame.
    """

    def __init__(self, video: bool = False, max_faces: int = 8):
        self.video = video
        self.max_faces = max_faces
        self._lock = threading.Lock()
        self._mesh = None
        self._crop_mesh = None
        self._detector = None

    def _graphs(self):
        if self._mesh is None:
            import mediapipe as mp

            # Detection confidence 0.6, not MediaPipe's 0.5: on the fixture photos real faces score ≥ 0.74,
            # while a background painting in a grayscale portrait scored 0.51.
            fm = mp.solutions.face_mesh
            self._mesh = fm.FaceMesh(static_image_mode=not self.video, max_num_faces=self.max_faces,
                                     refine_landmarks=True, min_detection_confidence=0.6)  # fmt: skip
            self._crop_mesh = fm.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                          min_detection_confidence=0.3)  # fmt: skip
            # Full range (model_selection=1) finds faces up to ~5 m away, which the mesh's own detector misses.
            self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        return self._mesh, self._crop_mesh, self._detector

    def analyze(self, rgb: np.ndarray, max_faces: int = 4) -> list[Face]:
        """Every face in an RGB uint8 image, largest first (at most `max_faces`)."""
        h, w = rgb.shape[:2]
        scale = min(1.0, ANALYSIS_MAX_SIDE / max(h, w))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        with self._lock:
            mesh, crop_mesh, detector = self._graphs()
            found = [(lm, None, "face_mesh") for lm in _mesh_landmarks(mesh, small)]
            if not found and not self.video:
                found = self._small_faces(small, crop_mesh, detector)
        faces = []
        for lm, score, how in found:
            lm = lm / scale if scale != 1.0 else lm
            faces.append(Face(lm.astype(np.float32), (h, w), score=score, found_by=how))
        faces.sort(key=lambda f: f.area, reverse=True)
        faces = faces[:max_faces]
        for face in faces:
            if not face.is_frontal:
                face.notes.append(
                    f"Face turned about {abs(face.yaw_deg):.0f}°: regions on the far side are estimated; "
                    "a frontal photo gives better results."
                )
        return faces

    @staticmethod
    def _small_faces(rgb, crop_mesh, detector):
        """Find faces too small for the mesh's own detector: full-range detection on the frame and on
        overlapping tiles (the detector sees 192×192, so a 60-px face in a 1600-px photo needs a tile),
        then the mesh on each enlarged face crop."""
        h, w = rgb.shape[:2]
        found: list[tuple[np.ndarray, float, str]] = []
        for tx, ty, tile in _tiles(rgb):
            th, tw = tile.shape[:2]
            for det in detector.process(np.ascontiguousarray(tile)).detections or []:
                bb = det.location_data.relative_bounding_box
                cx, cy = tx + (bb.xmin + bb.width / 2) * tw, ty + (bb.ymin + bb.height / 2) * th
                if any(_inside(cx, cy, lm) for lm, _, _ in found):
                    continue  # the same face seen again from an overlapping tile
                side = 2.2 * max(bb.width * tw, bb.height * th)  # the mesh needs context around the face
                x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
                x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
                if x1 - x0 < 8 or y1 - y0 < 8:
                    continue
                up = 384 / max(y1 - y0, x1 - x0)
                crop = cv2.resize(rgb[y0:y1, x0:x1], None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
                for lm in _mesh_landmarks(crop_mesh, np.ascontiguousarray(crop)):
                    lm = lm / up
                    lm[:, 0] += x0
                    lm[:, 1] += y0
                    found.append((lm, float(det.score[0]), "face_detection+mesh"))
        return found


def _tiles(rgb: np.ndarray, tile: int = 640, overlap: float = 0.25):
    """The whole frame first, then overlapping tile×tile windows when the frame is much larger."""
    h, w = rgb.shape[:2]
    yield 0, 0, rgb
    if max(h, w) <= tile * 1.25:
        return
    stride = int(tile * (1 - overlap))

    def starts(size):
        last = max(0, size - tile)
        return sorted(set(list(range(0, last, stride)) + [last]))

    for y in starts(h):
        for x in starts(w):
            yield x, y, rgb[y : y + tile, x : x + tile]


def _inside(x: float, y: float, landmarks: np.ndarray) -> bool:
    (x0, y0), (x1, y1) = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    return x0 <= x <= x1 and y0 <= y <= y1


def _mesh_landmarks(mesh, rgb: np.ndarray) -> list[np.ndarray]:
    h, w = rgb.shape[:2]
    result = mesh.process(rgb)
    out = []
    for face in result.multi_face_landmarks or []:
        arr = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], np.float32)
        out.append(arr)
    return out


def face_height(face: Face) -> float:
    """Forehead-to-chin distance in pixels, the scale most face edits are sized by."""
    return float(np.linalg.norm(face.landmarks[FOREHEAD, :2] - face.landmarks[CHIN, :2]))
