"""Webcam (live) modes: face and body trackers, skipping frames that barely changed, and a one-slot memo.

`face_tracker(ctx, app_id)` and `body_tracker(ctx, app_id)` give each app its tracker for one run context (one
server or notebook). MediaPipe's tracking modes follow the subject from frame to frame instead of re-detecting it.

When consecutive webcam frames hardly differ, re-running the detectors gains nothing: `StillFrameGate` compares
an 80×60 grey thumbnail of each frame with the last analysed one and says "reuse" while the mean absolute
difference stays under `threshold` grey levels — at most `max_reused` frames in a row, so slow drift cannot
accumulate (the StreamDiffusion `SimilarImageFilter` idea). The app still renders every frame with the reused
analysis, so nothing lags.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import cv2
import numpy as np

#: Mean absolute difference (grey levels, 0–255) of the thumbnail below which a frame counts as unchanged.
STILL_THRESHOLD = 1.5
#: Reuse an analysis at most this many frames in a row.
MAX_REUSED = 10
THUMB_SIZE = (80, 60)


class StillFrameGate:
    """Decides, frame by frame, whether the last analysis can be reused. Not thread-safe on its own: callers
    hold their tracker's lock around `is_still` and the analysis it guards."""

    def __init__(self, enabled: bool = True, threshold: float = STILL_THRESHOLD, max_reused: int = MAX_REUSED):
        self.enabled, self.threshold, self.max_reused = enabled, threshold, max_reused
        self._thumb: np.ndarray | None = None
        self._reused = 0
        self.analysed = 0
        self.skipped = 0

    def is_still(self, rgb: np.ndarray, reusable: bool = True) -> bool:
        """True: reuse the last analysis for this frame. False: analyse it (the frame becomes the reference).

        `reusable=False` says the last analysis cannot serve this frame whatever it looks like (none yet, or
        another frame size)."""
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), THUMB_SIZE, interpolation=cv2.INTER_AREA)
        still = (reusable and self.enabled and self._thumb is not None and self._reused < self.max_reused
                 and float(cv2.absdiff(thumb, self._thumb).mean()) < self.threshold)  # fmt: skip
        if still:
            self._reused += 1
            self.skipped += 1
        else:
            self._thumb, self._reused = thumb, 0
            self.analysed += 1
        return still


class OneSlotMemo:
    """Keeps the last computed value per stream: values too costly to rebuild every frame (a reference look,
    a parsed garment) are rebuilt only when their key changes. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slot: tuple[Any, Any] = (None, None)

    def get(self, key, compute: Callable[[], Any]):
        with self._lock:
            if self._slot[0] == key:
                return self._slot[1]
        value = compute()
        with self._lock:
            self._slot = (key, value)
        return value


class FrameTracker:
    """Base of the apps' webcam trackers: a `StillFrameGate`, a `OneSlotMemo` for per-stream inputs (a
    reference look, a parsed garment) and a lock around the analysis. Subclasses add the analysis itself."""

    def __init__(self, skip_similar: bool = True):
        self.gate = StillFrameGate(enabled=skip_similar)
        self.memo = OneSlotMemo()
        self._lock = threading.Lock()

    @property
    def analysed(self) -> int:
        return self.gate.analysed

    @property
    def skipped(self) -> int:
        return self.gate.skipped

    def remember(self, key, compute: Callable[[], Any]):
        """The value for `key`, computed once per change of key (see `OneSlotMemo`)."""
        return self.memo.get(key, compute)


#: Faces tracked in webcam mode: more than one face costs a detector pass every frame.
LIVE_MAX_FACES = 2


class FaceTracker(FrameTracker):
    """Face landmarks for a stream of frames (MediaPipe in tracking mode), with frame skipping. Thread-safe."""

    def __init__(self, max_faces: int = LIVE_MAX_FACES, skip_similar: bool = True):
        from .preprocess.face import FaceAnalyzer

        super().__init__(skip_similar)
        self.analyzer = FaceAnalyzer(video=True, max_faces=max_faces)
        self.max_faces = max_faces
        self._faces: list = []

    def faces(self, rgb: np.ndarray) -> list:
        with self._lock:
            reusable = bool(self._faces) and self._faces[0].image_size == rgb.shape[:2]
            if self.gate.is_still(rgb, reusable):
                return self._faces
            self._faces = self.analyzer.analyze(rgb, max_faces=self.max_faces)
            return self._faces


class BodyTracker(FrameTracker):
    """Pose + person mask for a stream of frames, with frame skipping. Thread-safe.

    One pass of MediaPipe Pose in tracking mode with segmentation on gives both (~15 ms at 640×480 on a laptop
    CPU); the graph is built on first use and kept."""

    def __init__(self, skip_similar: bool = True):
        super().__init__(skip_similar)
        self._analyzer = None
        self._last: tuple = (None, None)

    def body(self, rgb: np.ndarray) -> tuple:
        """(BodyPose or None, float32 person mask or None) for this frame."""
        h, w = rgb.shape[:2]
        with self._lock:
            pose, mask = self._last
            if self.gate.is_still(rgb, reusable=pose is not None and pose.image_size == (h, w)):
                return pose, mask
            if self._analyzer is None:
                from .preprocess.pose import BodyAnalyzer

                self._analyzer = BodyAnalyzer(video=True)
            self._last = self._analyzer.pose_and_mask(rgb)
            return self._last


def face_tracker(ctx, app_id: str, max_faces: int = LIVE_MAX_FACES) -> FaceTracker:
    """The app's face tracker for one run context, created on first use."""
    return ctx.shared(f"{app_id}.face_tracker", lambda: FaceTracker(max_faces))


def body_tracker(ctx, app_id: str) -> BodyTracker:
    """The app's body tracker for one run context, created on first use."""
    return ctx.shared(f"{app_id}.body_tracker", BodyTracker)
