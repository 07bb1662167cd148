"""Webcam mode: body tracking per run context, with frame skipping when the picture barely changes.

MediaPipe Pose in tracking mode (`static_image_mode=False`) follows the body from frame to frame instead of
re-detecting it, and with `enable_segmentation=True` the same pass returns the person mask, so one graph call per
frame gives everything the lite tier needs (~15 ms at 640×480 on a laptop CPU). When the downscaled grey frame
barely differs from the last analysed one, `studio.live.StillFrameGate` reuses the last pose and mask (the garment
is still composited on every new frame).
"""

from __future__ import annotations

import numpy as np

from studio.live import FrameTracker
from studio.preprocess.body import BodyPose


class BodyTracker(FrameTracker):
    """Pose + person mask for a stream of frames. Thread-safe; the MediaPipe graph is built on first use. Its
    memo keeps the parsed garment: parsing takes longer than a frame."""

    def __init__(self, skip_similar: bool = True):
        super().__init__(skip_similar)
        self._graph = None
        self._last: tuple[BodyPose | None, np.ndarray | None] = (None, None)

    def body(self, rgb: np.ndarray) -> tuple[BodyPose | None, np.ndarray | None]:
        h, w = rgb.shape[:2]
        with self._lock:
            pose, mask = self._last
            if self.gate.is_still(rgb, reusable=pose is not None and pose.image_size == (h, w)):
                return pose, mask
            if self._graph is None:
                import mediapipe as mp

                # model_complexity=1 is the only pose model bundled in the mediapipe wheel (0 and 2 download).
                self._graph = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                                     enable_segmentation=True, smooth_segmentation=True)  # fmt: skip
            result = self._graph.process(np.ascontiguousarray(rgb))
            if result.pose_landmarks is None:
                self._last = (None, None)
                return self._last
            kp = np.array([(lm.x * w, lm.y * h, lm.z * w, lm.visibility) for lm in result.pose_landmarks.landmark],
                          np.float32)  # fmt: skip
            mask = np.array(result.segmentation_mask, np.float32, copy=True)
            self._last = (BodyPose(keypoints=kp, image_size=(h, w)), mask)
            return self._last


def tracker_for(ctx) -> BodyTracker:
    """The tracker kept for one run context (one server or notebook), created on first use."""
    return ctx.shared("tryon.body_tracker", BodyTracker)
