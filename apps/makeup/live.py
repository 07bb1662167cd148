"""Webcam mode: a face tracker per run context, with frame skipping when the picture barely changes.

MediaPipe's tracking mode (`FaceAnalyzer(video=True)`) follows faces from frame to frame instead of
re-detecting them, and `studio.live.StillFrameGate` reuses the last landmarks while the frame hardly changes
(the makeup is still painted on every new frame, so nothing lags).
"""

from __future__ import annotations

import numpy as np

from studio.live import FrameTracker

#: Faces tracked in webcam mode: more than one face costs a detector pass every frame.
LIVE_MAX_FACES = 2


class LiveTracker(FrameTracker):
    """Face landmarks for a stream of frames, with frame skipping. Thread-safe. Its memo keeps the look read
    from the reference photo: decoding the reference alone can take longer than a frame."""

    def __init__(self, max_faces: int = LIVE_MAX_FACES, skip_similar: bool = True):
        from studio.preprocess.face import FaceAnalyzer

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


def tracker_for(ctx) -> LiveTracker:
    """The tracker kept for one run context (one studio server or notebook), created on first use."""
    return ctx.shared("makeup.live_tracker", LiveTracker)
