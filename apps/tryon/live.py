"""Webcam mode: body tracking per run context, with frame skipping when the picture barely changes.

MediaPipe Pose in tracking mode (`static_image_mode=False`) follows the body from frame to frame instead of
re-detecting it, and with `enable_segmentation=True` the same pass returns the person mask, so one graph call per
frame gives everything the lite tier needs (~15 ms at 640×480 on a laptop CPU). When the downscaled grey frame
differs from the last analysed one by less than `STILL_THRESHOLD` grey levels, the last pose and mask are reused
(the garment is still composited on the new frame); every `MAX_REUSED` frames the body is analysed regardless.
"""

from __future__ import annotations

import threading
import weakref

import cv2
import numpy as np

from studio.preprocess.body import BodyPose

#: Mean absolute difference (grey levels) of an 80×60 thumbnail below which a frame counts as unchanged.
STILL_THRESHOLD = 1.5
#: Reuse the pose at most this many frames in a row.
MAX_REUSED = 10


class BodyTracker:
    """Pose + person mask for a stream of frames. Thread-safe; the MediaPipe graph is built on first use."""

    def __init__(self, skip_similar: bool = True):
        self.skip_similar = skip_similar
        self._graph = None
        self._lock = threading.Lock()
        self._thumb: np.ndarray | None = None
        self._last: tuple[BodyPose | None, np.ndarray | None] = (None, None)
        self._reused = 0
        self._memo: tuple = (None, None)
        self.analysed = 0
        self.skipped = 0

    def remember(self, key, compute):
        """One-slot memo for per-stream values too costly per frame (the parsed garment)."""
        with self._lock:
            if self._memo[0] == key:
                return self._memo[1]
        value = compute()
        with self._lock:
            self._memo = (key, value)
        return value

    def body(self, rgb: np.ndarray) -> tuple[BodyPose | None, np.ndarray | None]:
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (80, 60), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
        with self._lock:
            pose, mask = self._last
            if (self.skip_similar and pose is not None and self._thumb is not None and self._reused < MAX_REUSED
                    and pose.image_size == (h, w) and float(cv2.absdiff(thumb, self._thumb).mean()) < STILL_THRESHOLD):  # fmt: skip
                self._reused += 1
                self.skipped += 1
                return pose, mask
            if self._graph is None:
                import mediapipe as mp

                # model_complexity=1 is the only pose model bundled in the mediapipe wheel (0 and 2 download).
                self._graph = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                                     enable_segmentation=True, smooth_segmentation=True)  # fmt: skip
            result = self._graph.process(np.ascontiguousarray(rgb))
            self.analysed += 1
            self._thumb, self._reused = thumb, 0
            if result.pose_landmarks is None:
                self._last = (None, None)
                return self._last
            kp = np.array([(lm.x * w, lm.y * h, lm.z * w, lm.visibility) for lm in result.pose_landmarks.landmark],
                          np.float32)  # fmt: skip
            mask = np.array(result.segmentation_mask, np.float32, copy=True)
            self._last = (BodyPose(keypoints=kp, image_size=(h, w)), mask)
            return self._last


_trackers: dict[int, BodyTracker] = {}
_trackers_lock = threading.Lock()


def tracker_for(ctx) -> BodyTracker:
    """The tracker kept for one run context (one server or notebook), dropped with the context."""
    key = id(ctx)
    with _trackers_lock:
        tracker = _trackers.get(key)
        if tracker is None:
            tracker = _trackers[key] = BodyTracker()
            weakref.finalize(ctx, _trackers.pop, key, None)
        return tracker
