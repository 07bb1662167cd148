"""The 33-point body pose: MediaPipe landmarks, the analyzer that finds them (stills or a video stream), the
person mask, and the OpenPose-style skeleton render a pose ControlNet reads.

Everything here works offline with the models that ship inside the mediapipe 0.10.21 wheel:

- Pose uses `mp.solutions.pose.Pose(model_complexity=1)`. Complexities 0 and 2 download their
  `.tflite` from storage.googleapis.com on first use and fail offline, so they are never offered.
- The person mask uses `mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)`
  (general-purpose model; it copes with full-body photos as well as selfies) on stills, and the pose graph's own
  segmentation output in video mode (one pass per frame gives both).

MediaPipe's "left"/"right" are the *subject's* left/right: in an unmirrored photo of someone facing the
camera, `left_shoulder` lies on the image's right. All keypoints are stored in pixels so callers never
have to remember which axis a normalised coordinate was scaled by.

Garment geometry built on the pose (clothing regions, the body frame) lives in `studio.preprocess.clothing`.
mediapipe is imported inside the methods that need it, never at module import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

#: MediaPipe `PoseLandmark` names in index order (lower-cased enum names of mediapipe 0.10.21).
POSE_LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
_INDEX = {name: i for i, name in enumerate(POSE_LANDMARKS)}

# Indices used by the geometry below, named once so the formulas read like anatomy.
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 2, 5, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28

#: OpenPose BODY / COCO-18 joint order, as used by the ControlNet OpenPose annotator.
OPENPOSE18: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip
# MediaPipe index feeding each OpenPose joint; None = the neck, which MediaPipe lacks (mid-shoulders).
_OPENPOSE_SOURCE: tuple[int | None, ...] = (
    NOSE, None,
    R_SHOULDER, R_ELBOW, R_WRIST,
    L_SHOULDER, L_ELBOW, L_WRIST,
    R_HIP, R_KNEE, R_ANKLE,
    L_HIP, L_KNEE, L_ANKLE,
    R_EYE, L_EYE, R_EAR, L_EAR,
)  # fmt: skip

#: The OpenPose colour convention (RGB), one colour per joint; limb i is drawn in colour i.
OPENPOSE_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
#: The 17 limbs drawn by OpenPose renders, as pairs of OpenPose-18 indices (neck-centred tree).
OPENPOSE_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# ---------------------------------------------------------------------------------------------- pose


@dataclass
class BodyPose:
    """One person's 33 MediaPipe keypoints in pixel coordinates.

    `keypoints[i] = (x, y, z, visibility)`: x, y in pixels of the analysed image; z is MediaPipe's
    relative depth (origin at the hips, smaller = closer to the camera) scaled by the image width like
    x; visibility in [0, 1] is the model's confidence that the point is visible (not occluded).
    `image_size` is (height, width).
    """

    keypoints: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if self.keypoints.shape != (len(POSE_LANDMARKS), 4):
            raise ValueError(f"BodyPose.keypoints must have shape (33, 4); got {self.keypoints.shape}")
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @staticmethod
    def index(name_or_index: str | int) -> int:
        """The MediaPipe index of a landmark given by name ("left_shoulder") or index (11)."""
        if isinstance(name_or_index, (int, np.integer)):
            if not 0 <= int(name_or_index) < len(POSE_LANDMARKS):
                raise KeyError(f"Pose landmark index {name_or_index} is out of range 0..{len(POSE_LANDMARKS) - 1}.")
            return int(name_or_index)
        key = str(name_or_index).strip().lower()
        if key not in _INDEX:
            raise KeyError(f"Unknown pose landmark {name_or_index!r}; valid names: {', '.join(POSE_LANDMARKS)}.")
        return _INDEX[key]

    def point(self, name_or_index: str | int) -> np.ndarray:
        """Pixel (x, y) of a landmark as a float32 array of shape (2,)."""
        return self.keypoints[self.index(name_or_index), :2].copy()

    def in_frame(self, name_or_index: str | int) -> bool:
        h, w = self.image_size
        x, y = self.keypoints[self.index(name_or_index), :2]
        return bool(0 <= x < w and 0 <= y < h)

    def visible(self, name_or_index: str | int, thr: float = 0.5) -> bool:
        """True when the model is confident about the landmark *and* it lies inside the image.

        MediaPipe keeps predicting body parts beyond the frame (hips below a half-body photo) and can
        report high visibility for them, so the in-frame test matters as much as the score.
        """
        return bool(self.keypoints[self.index(name_or_index), 3] >= thr) and self.in_frame(name_or_index)

    def openpose18(self) -> np.ndarray:
        """(18, 3) float32 array of x, y, confidence in OpenPose COCO-18 order (see `OPENPOSE18`).

        The neck is the mid-point of the shoulders with the lower of their two confidences. Points outside
        the image get confidence 0, because an OpenPose detector could not have reported them either.
        """
        out = np.zeros((len(OPENPOSE18), 3), dtype=np.float32)
        for j, src in enumerate(_OPENPOSE_SOURCE):
            if src is None:
                ls, rs = self.keypoints[L_SHOULDER], self.keypoints[R_SHOULDER]
                out[j, :2] = (ls[:2] + rs[:2]) / 2.0
                out[j, 2] = min(ls[3], rs[3])
            else:
                out[j, :2] = self.keypoints[src, :2]
                out[j, 2] = self.keypoints[src, 3]
        h, w = self.image_size
        outside = (out[:, 0] < 0) | (out[:, 0] >= w) | (out[:, 1] < 0) | (out[:, 1] >= h)
        out[outside, 2] = 0.0
        return out

    def to_dict(self) -> dict:
        """JSON-ready form: image size and every keypoint by name (pixels, rounded to 0.01)."""
        h, w = self.image_size
        return {
            "image_size": {"height": h, "width": w},
            "keypoints": {
                name: {
                    "x": round(float(k[0]), 2),
                    "y": round(float(k[1]), 2),
                    "z": round(float(k[2]), 2),
                    "visibility": round(float(k[3]), 3),
                }
                for name, k in zip(POSE_LANDMARKS, self.keypoints)
            },
        }


#: Skeleton drawing conventions, one per family of pose ControlNets (the catalog names one per ControlNet entry,
#: `ModelSpec.control_render`). A ControlNet learns the stroke width of its training labels: drawn thinner, the pose
#: reads as weak or unstable.
OPENPOSE_STYLES: tuple[str, ...] = ("openpose", "xinsir")


def openpose_strokes(style: str, height: int, width: int) -> tuple[int, int]:
    """(limb half-width, joint radius) in pixels for a `height`×`width` canvas in the given style.

    - "openpose": the ControlNet 1.1 annotator (lllyasviel; controlnet_aux `draw_bodypose`) draws limbs as ellipses
      of minor semi-axis `stickwidth = 4` and joints of radius 4 on its detect canvas, 512 px on the short side; the
      render is then resized to the generation size, so both scale with the short side here.
    - "xinsir": xinsir/controlnet-openpose-sdxl-1.0's card, section "Replace the default draw pose function to get
      better result": "When using the default pose line the performance may be unstable, this is because the pose
      label use more thick line in training". Its `draw_bodypose` multiplies both by a ratio of the canvas's long
      side: 1 below 500 px, 2 below 1000, 3 below 2000, … 7 from 5000 (`stickwidth * ratio`, `int(4 * ratio)`),
      i.e. `1 if max_side < 500 else min(2 + max_side // 1000, 7)`. 12 px (24 px strokes) on a 768×1024 canvas.
    """
    h, w = int(height), int(width)
    if style == "openpose":
        scale = min(h, w) / 512.0
        return max(1, round(4 * scale)), max(2, round(4 * scale))
    if style == "xinsir":
        side = max(h, w)
        ratio = 1 if side < 500 else min(2 + side // 1000, 7)
        return 4 * ratio, 4 * ratio
    raise InputError(f"Unknown OpenPose drawing style {style!r}; use one of: {', '.join(OPENPOSE_STYLES)}.")


def openpose_style(controlnet: str) -> str:
    """The skeleton drawing a pose ControlNet (catalog id) was trained on: its catalog entry's `control_render`."""
    from studio.models import load_catalog

    try:
        spec = load_catalog().get(controlnet)
    except KeyError as exc:
        raise InputError(str(exc).strip("'\"")) from None
    if spec.control_render not in OPENPOSE_STYLES:
        raise InputError(f"'{controlnet}' is not a pose ControlNet (no skeleton drawing in its catalog entry); "
                         "pass a pose ControlNet id such as controlnet-openpose-sdxl-xinsir.")  # fmt: skip
    return spec.control_render


def render_openpose(pose: BodyPose, controlnet: str | None = None, *, size: tuple[int, int] | None = None,
                    min_confidence: float = 0.5, style: str | None = None) -> np.ndarray:  # fmt: skip
    """Draw `pose` as an OpenPose-style skeleton on a black RGB canvas, the ControlNet-OpenPose input.

    Follows the OpenPose convention pose ControlNets were trained on: 18 joint colours, limbs as filled
    ellipses in the limb's colour at 60 % intensity, joints as full-colour dots on top. Stroke width follows
    the convention of the ControlNet that will read the render (see `openpose_strokes`): pass `controlnet=` its
    catalog id (the xinsir SDXL OpenPose ControlNet's labels are drawn much thicker than the ControlNet 1.1
    annotator's), or `style=` directly; neither gives the ControlNet 1.1 annotator's "openpose" drawing.

    Args:
        pose: the detected pose.
        controlnet: catalog id of the pose ControlNet the render is for; its entry's drawing wins over `style`.
        size: (height, width) of the canvas; defaults to the analysed image's size. Keypoints are
            scaled to it, so a pose found on a large photo can be drawn at generation resolution.
        min_confidence: joints below this confidence (or outside the image) are left out, with their limbs.
        style: one of OPENPOSE_STYLES.
    """
    if controlnet is not None:
        style = openpose_style(controlnet)
    src_h, src_w = pose.image_size
    h, w = size if size is not None else pose.image_size
    h, w = int(h), int(w)
    if h < 1 or w < 1:
        raise InputError(f"Cannot render a pose on a {w}×{h} canvas; give a positive (height, width).")
    stick, radius = openpose_strokes(style or "openpose", h, w)
    joints = pose.openpose18()
    joints[:, 0] *= w / src_w
    joints[:, 1] *= h / src_h
    shown = joints[:, 2] >= min_confidence

    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    for i, (a, b) in enumerate(OPENPOSE_LIMBS):
        if not (shown[a] and shown[b]):
            continue
        (xa, ya), (xb, yb) = joints[a, :2], joints[b, :2]
        length = float(np.hypot(xb - xa, yb - ya))
        if length < 1.0:
            continue
        angle = float(np.degrees(np.arctan2(yb - ya, xb - xa)))
        centre = (round((xa + xb) / 2), round((ya + yb) / 2))
        polygon = cv2.ellipse2Poly(centre, (max(1, round(length / 2)), stick), round(angle), 0, 360, 1)
        colour = tuple(round(c * 0.6) for c in OPENPOSE_COLORS[i])
        cv2.fillConvexPoly(canvas, polygon, colour, lineType=cv2.LINE_AA)

    for j in np.flatnonzero(shown):
        x, y = joints[j, :2]
        cv2.circle(canvas, (round(float(x)), round(float(y))), radius, OPENPOSE_COLORS[j], thickness=-1,
                   lineType=cv2.LINE_AA)
    return canvas


# ---------------------------------------------------------------------------------------------- analyzer


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        desc = f"{type(rgb).__name__} {getattr(rgb, 'shape', '')} {getattr(rgb, 'dtype', '')}".strip()
        raise InputError(
            f"Body analysis needs an RGB uint8 image of shape H×W×3; got {desc}. "
            "Load images with studio.imaging.load_image first."
        )
    # MediaPipe's packet creation wants C-contiguous memory (a crop or [::-1] view would fail inside C++).
    return np.ascontiguousarray(rgb)


def _pose_from(landmarks, h: int, w: int) -> BodyPose | None:
    if landmarks is None:
        return None
    kp = np.array([(lm.x * w, lm.y * h, lm.z * w, lm.visibility) for lm in landmarks.landmark], dtype=np.float32)
    return BodyPose(keypoints=kp, image_size=(h, w))


class BodyAnalyzer:
    """Owns MediaPipe's pose graph (and, for stills, the selfie-segmentation graph), built on first use.

    Args:
        video: False (default): every call is an unrelated still (`static_image_mode=True`): the person is detected
            afresh, and the mask comes from selfie segmentation. True: frames of one stream (a webcam): the pose
            graph runs in tracking mode (`static_image_mode=False`), following the body from the previous frame
            instead of re-detecting it, with its own smoothed segmentation, so `pose_and_mask` costs one graph pass
            per frame. Keep one video analyzer per stream and reuse it across frames; a new stream wants a new
            analyzer (or `close()`, which drops the tracking state).
        min_detection_confidence: MediaPipe's person-detection threshold.

    The legacy MediaPipe graphs are not thread-safe, so each has its own lock: a pose call and a mask
    call may run at the same time, two pose calls may not.
    """

    def __init__(self, min_detection_confidence: float = 0.5, video: bool = False):
        self.min_detection_confidence = min_detection_confidence
        self.video = bool(video)
        self._pose_graph = None
        self._seg_graph = None
        self._pose_lock = threading.Lock()
        self._seg_lock = threading.Lock()

    def _build_pose(self):
        import mediapipe as mp

        # model_complexity=1 is the only pose model bundled in the wheel (0 and 2 are downloaded).
        # Stills: static_image_mode, so nothing is tracked from an unrelated previous photo. Video: tracking mode,
        # plus the graph's own segmentation (smoothed across frames) so one pass gives pose and mask.
        return mp.solutions.pose.Pose(
            static_image_mode=not self.video,
            model_complexity=1,
            enable_segmentation=self.video,
            smooth_segmentation=self.video,
            min_detection_confidence=self.min_detection_confidence,
        )

    def _build_segmentation(self):
        import mediapipe as mp

        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def _process_pose(self, rgb: np.ndarray):
        with self._pose_lock:
            if self._pose_graph is None:
                self._pose_graph = self._build_pose()
            return self._pose_graph.process(rgb)

    def pose(self, rgb: np.ndarray) -> BodyPose | None:
        """The pose of the most prominent person in `rgb` (RGB uint8), or None when there is nobody."""
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        return _pose_from(self._process_pose(rgb).pose_landmarks, h, w)

    def person_mask(self, rgb: np.ndarray) -> np.ndarray:
        """Soft mask of the people in `rgb`: float32 H×W in [0, 1] (1 = person), from selfie segmentation."""
        rgb = _check_rgb(rgb)
        with self._seg_lock:
            if self._seg_graph is None:
                self._seg_graph = self._build_segmentation()
            mask = self._seg_graph.process(rgb).segmentation_mask
        # The graph returns its own buffer; copy so later calls can't change a cached mask.
        return np.clip(np.array(mask, dtype=np.float32, copy=True), 0.0, 1.0)

    def pose_and_mask(self, rgb: np.ndarray) -> tuple[BodyPose | None, np.ndarray | None]:
        """(pose or None, float32 H×W person mask or None) of one frame.

        Video mode: one tracking pass of the pose graph gives both (the mask is None when nobody is found, as the
        graph gives none). Stills: `pose(rgb)` and `person_mask(rgb)` (the mask is None when there is no pose).
        """
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        if not self.video:
            pose = self.pose(rgb)
            return pose, (self.person_mask(rgb) if pose is not None else None)
        result = self._process_pose(rgb)
        pose = _pose_from(result.pose_landmarks, h, w)
        if pose is None or result.segmentation_mask is None:
            return pose, None
        return pose, np.clip(np.array(result.segmentation_mask, dtype=np.float32, copy=True), 0.0, 1.0)

    def close(self) -> None:
        """Release the MediaPipe graphs (they are rebuilt on next use; a video analyzer starts tracking afresh)."""
        with self._pose_lock:
            if self._pose_graph is not None:
                self._pose_graph.close()
                self._pose_graph = None
        with self._seg_lock:
            if self._seg_graph is not None:
                self._seg_graph.close()
                self._seg_graph = None


__all__ = ["POSE_LANDMARKS", "OPENPOSE18", "OPENPOSE_COLORS", "OPENPOSE_LIMBS", "OPENPOSE_STYLES", "BodyPose",
           "BodyAnalyzer", "openpose_strokes", "openpose_style", "render_openpose", "NOSE", "L_EYE", "R_EYE",
           "L_EAR", "R_EAR", "L_SHOULDER", "R_SHOULDER", "L_ELBOW", "R_ELBOW", "L_WRIST", "R_WRIST", "L_HIP",
           "R_HIP", "L_KNEE", "R_KNEE", "L_ANKLE", "R_ANKLE"]  # fmt: skip
