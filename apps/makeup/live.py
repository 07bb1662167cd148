"""Webcam mode: a face tracker per run context, and frame skipping when the picture barely changes.

MediaPipe's tracking mode (`FaceAnalyzer(video=True)`) follows faces from frame to frame instead of
re-detecting them. On top of that, when the downscaled grey frame differs from the last analysed one by less
than `STILL_THRESHOLD` grey levels on average, the last landmarks are reused (the makeup is still painted on
the new frame, so nothing lags); every `MAX_REUSED` frames the face is analysed again regardless, so a slow
drift cannot accumulate (the StreamDiffusion `SimilarImageFilter` idea).
"""

from __future__ import annotations

import threading
import weakref

import cv2
import numpy as np

#: Mean absolute difference (grey levels, 0–255) of an 80×60 thumbnail below which a frame counts as unchanged.
STILL_THRESHOLD = 1.5
#: Reuse landmarks at most this many frames in a row.
MAX_REUSED = 10
#: Faces tracked in webcam mode: more than one face costs a detector pass every frame.
LIVE_MAX_FACES = 2


class LiveTracker:
    """Face landmarks for a stream of frames, with frame skipping. Thread-safe."""

    def __init__(self, max_faces: int = LIVE_MAX_FACES, skip_similar: bool = True):
        from studio.preprocess.face import FaceAnalyzer

        self.analyzer = FaceAnalyzer(video=True, max_faces=max_faces)
        self.max_faces = max_faces
        self.skip_similar = skip_similar
        self._lock = threading.Lock()
        self._thumb: np.ndarray | None = None
        self._faces: list = []
        self._reused = 0
        self._memo: tuple = (None, None)
        self.analysed = 0
        self.skipped = 0

    def remember(self, key, compute):
        """One-slot memo for per-stream values that are costly to rebuild every frame (the look read from the
        reference photo: decoding it alone can take longer than a frame)."""
        with self._lock:
            if self._memo[0] == key:
                return self._memo[1]
        value = compute()
        with self._lock:
            self._memo = (key, value)
        return value

    def faces(self, rgb: np.ndarray) -> list:
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (80, 60), interpolation=cv2.INTER_AREA)
        with self._lock:
            if (self.skip_similar and self._thumb is not None and self._thumb.shape == thumb.shape
                    and self._reused < MAX_REUSED and self._faces and self._faces[0].image_size == rgb.shape[:2]
                    and float(cv2.absdiff(thumb, self._thumb).mean()) < STILL_THRESHOLD):  # fmt: skip
                self._reused += 1
                self.skipped += 1
                return self._faces
            self._faces = self.analyzer.analyze(rgb, max_faces=self.max_faces)
            self._thumb, self._reused = thumb, 0
            self.analysed += 1
            return self._faces


_trackers: dict[int, LiveTracker] = {}
_trackers_lock = threading.Lock()


def tracker_for(ctx) -> LiveTracker:
    """The tracker kept for one run context (one studio server or notebook), created on first use.
    Keyed by id and dropped when the context is garbage-collected (contexts are not hashable)."""
    key = id(ctx)
    with _trackers_lock:
        tracker = _trackers.get(key)
        if tracker is None:
            tracker = _trackers[key] = LiveTracker()
            weakref.finalize(ctx, _trackers.pop, key, None)
        return tracker
