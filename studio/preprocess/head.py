"""Head and hair masks: the selfie mask cut around the face oval, for apps that change the head and nothing else.

MediaPipe 0.10.21 ships no hair model (its wheel holds face detection, face mesh with iris, pose, selfie
segmentation, palm and hand models only; ../shared/docs/round2.md §A2). So the head is built from two things it
does have: the person mask of selfie segmentation, which covers hair as well as skin, and the face mesh, which says
where the head is and how it is turned:

* **band**: an ellipse in the face's own frame (roll-aware: "up" runs from the chin to the forehead) wide and tall
  enough for big hair, cut a little below the chin (round2: 0.15 × face height);
* **neck**: under the jaw the person mask is skin and collar, not head. There only non-skin pixels (hair hanging
  beside the face) are kept, judged by a colour model of the face's own skin, and never the column under the chin;
* **refine**: a guided filter on the photo's grey level snaps the soft edge to the hair's own edges, so strands
  blend instead of ending on a blurred ellipse (2-3 ms at 640×480).

`hair` is the head minus the grown face oval. Everything is computed inside the head's box, so a mask costs about a
millisecond whatever the photo's size. Used by head stylization (apps/head) and meant for any app that restyles or
relights the head alone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ..live import LIVE_MAX_FACES, FaceTracker
from .face import Face, face_height
from .regions import CHIN, FACE_OVAL, FOREHEAD

#: Band geometry, in face heights (forehead landmark to chin) and face widths (cheek to cheek), from the chin up.
BAND_BELOW_CHIN = 0.15  # round2 §A2: the head ends 0.15 face heights under the chin
BAND_TOP = 1.55  # up to 1.55 face heights above the chin: the oval reaches ~1.0, hair volume the rest
BAND_HALF_WIDTH = 1.15  # half-width of the ellipse: ~0.65 face widths of hair beside each cheek
NECK_HALF_WIDTH = 0.38  # the column under the chin that is always neck, never hair
#: Mahalanobis distance (in the face skin's own a/b spread) below which a pixel under the jaw counts as skin.
SKIN_DISTANCE = 3.0
#: The same for hair, in Lab, against the hair seen above the forehead.
HAIR_DISTANCE = 2.5
#: Masks are computed with the face scaled to at most this height (px), then scaled back and refined.
MASK_FACE = 160


@dataclass
class HeadMask:
    """One head: soft masks (float32, 0-1) inside its band box."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the band in photo pixels
    head: np.ndarray  # face, ears and hair; the neck and clothes excluded
    face: np.ndarray  # the filled face oval (0/1, where the person mask agrees)

    def full(self, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """`mask` (one of this head's box-sized masks) placed on a photo-sized canvas."""
        out = np.zeros(shape, np.float32)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = mask
        return out


@dataclass
class HeadMasks:
    """The heads of every face in a photo: per head, and merged on the photo."""

    heads: list[HeadMask]
    shape: tuple[int, int]  # (height, width) of the photo

    def _union(self, pick) -> np.ndarray:
        out = np.zeros(self.shape, np.float32)
        for one in self.heads:
            x0, y0, x1, y1 = one.box
            np.maximum(out[y0:y1, x0:x1], pick(one), out=out[y0:y1, x0:x1])
        return out

    @property
    def head(self) -> np.ndarray:
        return self._union(lambda one: one.head)

    @property
    def face(self) -> np.ndarray:
        return self._union(lambda one: one.face)

    @property
    def hair(self) -> np.ndarray:
        """Head minus the grown face oval: the hair (and ears)."""
        grown = cv2.dilate((self.face > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
        return np.clip(self.head - cv2.GaussianBlur(grown.astype(np.float32), (0, 0), 2.0), 0.0, 1.0)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The smallest box holding every head pixel (mask > 0.02)."""
        ys, xs = np.nonzero(self.head > 0.02)
        return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else (0, 0, 0, 0)

    def generous_box(self, grow: float = 0.15) -> tuple[int, int, int, int]:
        """The head box grown by `grow` of its size on every side (clipped to the photo): "outside the head" for
        checks that the rest of the photo is unchanged."""
        h, w = self.shape
        x0, y0, x1, y1 = self.box
        gx, gy = grow * (x1 - x0), grow * (y1 - y0)
        return (max(0, int(x0 - gx)), max(0, int(y0 - gy)),
                min(w, int(np.ceil(x1 + gx))), min(h, int(np.ceil(y1 + gy))))  # fmt: skip


def _frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(chin point, unit up vector, unit right vector (image right on an upright face), face height, face width)."""
    lm = landmarks[:, :2].astype(np.float32)
    chin, top = lm[CHIN], lm[FOREHEAD]
    up = top - chin
    fh = max(float(np.linalg.norm(up)), 1.0)
    up /= fh
    right = np.array([-up[1], up[0]], np.float32)  # image right on an upright face (y points down)
    oval = lm[list(FACE_OVAL)]
    across = (oval - chin) @ right
    fw = max(float(across.max() - across.min()), 1.0)
    return chin, up, right, fh, fw


def band_box(face: Face, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1) of a face's head band, clipped to the image."""
    chin, up, right, fh, fw = _frame(face.landmarks)
    corners = []
    for s in (-BAND_HALF_WIDTH * fw, BAND_HALF_WIDTH * fw):
        for t in (-BAND_BELOW_CHIN * fh, BAND_TOP * fh):
            corners.append(chin + s * right + t * up)
    pts = np.array(corners)
    h, w = image_size
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _likeness(samples: np.ndarray, values: np.ndarray, spread_floor: float, limit: float) -> np.ndarray | None:
    """How much each of `values` (N×C) looks like `samples` (M×C): 1 within `limit` Mahalanobis distances of their
    mean, fading to 0 over 1.5 more; None when fewer than 50 samples. `spread_floor` is added to the covariance's
    diagonal: a flat-lit face or a jet-black head of hair has almost no spread of its own."""
    if len(samples) < 50:
        return None
    mean = samples.mean(axis=0)
    cov = np.cov(samples, rowvar=False) + np.eye(samples.shape[1]) * spread_floor
    d = values - mean
    m2 = ((d @ cv2.invert(cov, flags=cv2.DECOMP_SVD)[1].astype(np.float32)) * d).sum(axis=1)
    return np.clip((limit + 1.5 - np.sqrt(np.maximum(m2, 0.0))) / 1.5, 0.0, 1.0).astype(np.float32)


def head_masks(rgb: np.ndarray, faces: list[Face], person: np.ndarray | None, refine: bool = True) -> HeadMasks:
    """Head and face masks of every face in `rgb`, one `HeadMask` per face (same order).

    Args:
        rgb: the photo (H×W×3 uint8).
        faces: the faces whose heads to mask.
        person: the selfie-segmentation mask (float32 H×W, 0-1), or None: then the band alone bounds the hair,
            which over-reaches into the background (callers should say so).
        refine: snap the edge to the photo's own edges with a guided filter.
    """
    h, w = rgb.shape[:2]
    heads = []
    for face in faces:
        x0, y0, x1, y1 = band_box(face, (h, w))
        if x1 - x0 < 4 or y1 - y0 < 4:
            heads.append(HeadMask((x0, y0, max(x1, x0), max(y1, y0)), np.zeros((max(0, y1 - y0), max(0, x1 - x0)),
                                  np.float32), np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.float32)))  # fmt: skip
            continue
        part = rgb[y0:y1, x0:x1]
        local = None if person is None else person[y0:y1, x0:x1]
        lm = face.landmarks[:, :2] - np.array([x0, y0], np.float32)
        f = min(1.0, MASK_FACE / max(face_height(face), 1.0))
        if f < 1.0:  # a smooth mask needs no more resolution; the guided filter below restores the fine edge
            size = (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f)))
            small = cv2.resize(part, size, interpolation=cv2.INTER_AREA)
            local = None if local is None else cv2.resize(local, size, interpolation=cv2.INTER_AREA)
            head, oval = _one_head(small, lm * np.array([size[0] / (x1 - x0), size[1] / (y1 - y0)], np.float32), local)
            head = cv2.resize(head, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            oval = cv2.resize(oval, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        else:
            head, oval = _one_head(part, lm, local)
        if refine:
            grey = cv2.cvtColor(np.ascontiguousarray(part), cv2.COLOR_RGB2GRAY)
            radius = max(2, int(round(0.02 * face_height(face))))
            # eps 0.01 (in 0-1 grey units²): edges with more contrast than ~0.1 pull the mask's edge onto them.
            refined = cv2.ximgproc.guidedFilter(grey, head, radius, 0.01 * 255.0**2)
            # The filter may only soften the edge: it never adds head beyond the band or removes the face.
            head = np.maximum(np.clip(refined, 0.0, 1.0) * (head > 0.02), oval)
        heads.append(HeadMask((x0, y0, x1, y1), head.astype(np.float32), oval))
    return HeadMasks(heads, (h, w))


def _one_head(rgb: np.ndarray, lm: np.ndarray, person: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(head, face oval) of one face inside its band box; `lm` are the landmarks in the box's pixels."""
    bh, bw = rgb.shape[:2]
    chin, up, right, fh, fw = _frame(lm)
    ys, xs = np.mgrid[0:bh, 0:bw].astype(np.float32)
    dx, dy = xs - chin[0], ys - chin[1]
    s = dx * right[0] + dy * right[1]  # across the face
    t = dx * up[0] + dy * up[1]  # up from the chin
    centre_t = (BAND_TOP - BAND_BELOW_CHIN) / 2.0 * fh
    half_t = (BAND_TOP + BAND_BELOW_CHIN) / 2.0 * fh
    ellipse = (s / (BAND_HALF_WIDTH * fw)) ** 2 + ((t - centre_t) / half_t) ** 2
    band = np.clip((1.0 - ellipse) / 0.08, 0.0, 1.0)  # a soft rim, not a hard ellipse
    bottom = np.clip((t + BAND_BELOW_CHIN * fh) / (0.06 * fh), 0.0, 1.0)  # fade out below the cut
    band *= bottom

    oval = np.zeros((bh, bw), np.uint8)
    pts = lm[list(FACE_OVAL), :2]
    cv2.fillPoly(oval, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_AA, 4)
    oval_f = oval.astype(np.float32)

    head = band * (person if person is not None else 1.0)
    # Under the jaw the person mask is neck and collar; what belongs to the head there is hair hanging beside the
    # face. Below the cheek landmarks (234/454), outside the oval, a pixel stays only when it looks like this
    # head's hair (colour statistics of the hair above the forehead) and not like its skin, and never in the
    # column under the chin.
    cheek_t = float(np.mean([(lm[i, :2] - chin) @ up for i in (234, 454)]))
    grown_oval = cv2.dilate(oval, np.ones((5, 5), np.uint8))
    below = np.clip((cheek_t - t) / (0.1 * fh), 0.0, 1.0) * (1.0 - grown_oval)
    region = below > 0
    if region.any():
        lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
        hair_seen = (t > 1.02 * fh) & (head > 0.6) & (grown_oval == 0)
        skin_seen = cv2.erode(oval, np.ones((7, 7), np.uint8)) > 0
        values = lab[region]
        hair_like = _likeness(lab[hair_seen], values, spread_floor=25.0, limit=HAIR_DISTANCE)
        skin_like = _likeness(lab[skin_seen][:, 1:], values[:, 1:], 4.0, SKIN_DISTANCE)
        if hair_like is None:
            keep = np.zeros(len(values), np.float32)  # no hair seen above the forehead: nothing below is hair
        else:
            keep = hair_like if skin_like is None else hair_like * (1.0 - skin_like)
        keep *= np.clip((np.abs(s[region]) - NECK_HALF_WIDTH * fw) / (0.08 * fw), 0.0, 1.0)
        head[region] *= 1.0 - below[region] * (1.0 - keep)
    # The oval is always head where the person mask agrees: on a turned face the mesh guesses the far side, which can
    # reach past the profile into the background.
    if person is not None:
        reach = max(3, int(0.04 * fh)) | 1
        oval_f = oval_f * np.clip(cv2.dilate(person, np.ones((reach, reach), np.uint8)) * 2.0, 0.0, 1.0)
    head = np.maximum(head, oval_f)
    return head.astype(np.float32), oval_f


class SelfieSegmenter:
    """MediaPipe selfie segmentation for a stream of frames (the landscape model: 144×256 input, made for webcam
    frames). Thread-safe; the graph is built on first use."""

    def __init__(self, landscape: bool = True):
        self.landscape = landscape
        self._graph = None
        self._lock = threading.Lock()

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._graph is None:
                import mediapipe as mp

                self._graph = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=int(self.landscape))
            out = self._graph.process(np.ascontiguousarray(rgb)).segmentation_mask
        return np.clip(np.array(out, dtype=np.float32, copy=True), 0.0, 1.0)


class HeadTracker(FaceTracker):
    """Faces and the person mask for a stream of webcam frames: MediaPipe's face mesh in tracking mode and the
    landscape selfie model, both skipped on frames that barely changed (studio.live's still-frame gate).

    The selfie model runs on every `mask_every`-th analysed frame; in between, the last mask is moved with the
    largest face (its nose tip's shift): a head moves as one piece from one frame to the next, and this saves a
    third of the analysis per frame."""

    def __init__(self, max_faces: int = LIVE_MAX_FACES, skip_similar: bool = True, mask_every: int = 2):
        super().__init__(max_faces, skip_similar=skip_similar)
        self.segmenter = SelfieSegmenter(landscape=True)
        self.mask_every = max(1, int(mask_every))
        self._mask_for: tuple = (None, None, None, 0)  # (faces list it was made for, mask, nose tip, frames since)
        self._mask_lock = threading.Lock()

    def heads(self, rgb: np.ndarray) -> tuple[list[Face], np.ndarray | None]:
        """(faces, person mask or None when there is no face) of one frame."""
        faces = self.faces(rgb)
        if not faces:
            return faces, None
        nose = faces[0].landmarks[1, :2]
        with self._mask_lock:
            seen, mask, at, age = self._mask_for
            usable = mask is not None and mask.shape == rgb.shape[:2]
            if usable and seen is faces:
                return faces, mask  # a still frame: the tracker reused its faces, so the mask is reused too
            if usable and age + 1 < self.mask_every:
                dx, dy = (nose - at).astype(np.float32)
                moved = cv2.warpAffine(mask, np.float32([[1, 0, dx], [0, 1, dy]]), mask.shape[::-1],
                                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                self._mask_for = (faces, moved, nose, age + 1)
                return faces, moved
            mask = self.segmenter.mask(rgb)
            self._mask_for = (faces, mask, nose, 0)
            return faces, mask
