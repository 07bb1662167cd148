"""Shared face / body / control-image preprocessing for every app, cached by image digest.

`Preprocessing` is the one object apps talk to. It owns the MediaPipe graphs (built lazily, on first
use) and an LRU per kind of analysis, so moving a slider never re-detects a face or re-runs the pose model.
Heavy imports (mediapipe, controlnet-aux, insightface) happen inside the methods, never at import time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from ..cache import LRUCache
from ..errors import NoFaceFound, NoPersonFound
from ..imaging import image_digest

if TYPE_CHECKING:
    from ..settings import Settings
    from .pose import BodyPose
    from .face import Face
    from .identity import IdentityEmbedding


class Preprocessing:
    def __init__(self, settings: "Settings"):
        self.settings = settings
        self._cache = LRUCache(settings.preprocess_cache_size * 4, max_bytes=settings.preprocess_cache_mb * 2**20)
        self._lock = threading.Lock()
        self._face_analyzer = None
        self._body_analyzer = None
        self._embedders: dict[str, object] = {}
        self._controls = None

    # ------------------------------------------------------------------ lazily built components
    @property
    def face_analyzer(self):
        with self._lock:
            if self._face_analyzer is None:
                from .face import FaceAnalyzer

                # One more than the cap, so an app can tell "exactly the cap" from "more than the cap".
                self._face_analyzer = FaceAnalyzer(max_faces=self.settings.max_faces + 1)
            return self._face_analyzer

    @property
    def body_analyzer(self):
        with self._lock:
            if self._body_analyzer is None:
                from .pose import BodyAnalyzer

                self._body_analyzer = BodyAnalyzer()
            return self._body_analyzer

    @property
    def controls(self):
        with self._lock:
            if self._controls is None:
                from .control import ControlImages

                self._controls = ControlImages(self.settings.annotators_dir)
            return self._controls

    def embedder(self, name: str = "auto"):
        """The identity embedder: "auto" (the default: dlib's ResNet recogniser, else the geometric descriptor),
        "dlib", "insightface" (needs a local pack; non-commercial, opt-in) or "geometric"."""
        from .identity import make_embedder

        with self._lock:
            if name not in self._embedders:
                self._embedders[name] = make_embedder(name, self.settings.insightface_root)
            return self._embedders[name]

    def warm_up(self) -> None:
        """Build the MediaPipe graphs and import controlnet-aux once (~5 s on a laptop CPU), so the first
        request a user makes is as fast as the rest. The servers call this in a background thread after
        the page is up; it uses a blank frame and caches nothing."""
        blank = np.full((256, 256, 3), 128, np.uint8)
        self.face_analyzer.analyze(blank)
        self.body_analyzer.pose(blank)
        self.body_analyzer.person_mask(blank)
        self.controls.render(blank, "canny")

    # ------------------------------------------------------------------ cached analyses
    def faces(self, rgb: np.ndarray, max_faces: int = 4) -> list["Face"]:
        """Every face in the image (up to `max_faces`), largest first; [] when there is none."""
        key = ("faces", image_digest(rgb), max_faces)
        return self._cache.get_or_compute(key, lambda: self.face_analyzer.analyze(rgb, max_faces=max_faces))

    def require_faces(self, rgb: np.ndarray, what: str = "the photo", max_faces: int = 4) -> list["Face"]:
        faces = self.faces(rgb, max_faces=max_faces)
        if not faces:
            raise NoFaceFound(what)
        return faces

    def pose(self, rgb: np.ndarray) -> "BodyPose | None":
        """The 33-point body pose of the most prominent person, or None."""
        key = ("pose", image_digest(rgb))
        return self._cache.get_or_compute(key, lambda: self.body_analyzer.pose(rgb))

    def require_pose(self, rgb: np.ndarray, what: str = "the photo") -> "BodyPose":
        pose = self.pose(rgb)
        if pose is None:
            raise NoPersonFound(what)
        return pose

    def person_mask(self, rgb: np.ndarray) -> np.ndarray:
        """Soft person mask (float32 H×W in [0, 1]) from MediaPipe selfie segmentation."""
        key = ("person", image_digest(rgb))
        return self._cache.get_or_compute(key, lambda: self.body_analyzer.person_mask(rgb))

    def clothing_region(self, rgb: np.ndarray, category: str) -> np.ndarray:
        """uint8 mask (0/255) of the clothing area for "upper", "lower" or "dress"."""
        key = ("clothing", image_digest(rgb), category)

        def compute():
            from .clothing import clothing_region

            return clothing_region(self.require_pose(rgb), self.person_mask(rgb), category)

        return self._cache.get_or_compute(key, compute)

    def identity(self, rgb: np.ndarray, face: "Face", embedder: str = "auto") -> "IdentityEmbedding":
        model = self.embedder(embedder)
        key = ("identity", image_digest(rgb), model.name, tuple(np.round(face.box).astype(int)))
        return self._cache.get_or_compute(key, lambda: model.embed(rgb, face))

    def control(self, rgb: np.ndarray, kind: str) -> np.ndarray:
        """A ControlNet conditioning image ("canny", "mediapipe_face", "openpose", "depth", …) as RGB uint8."""
        key = ("control", image_digest(rgb), kind)
        return self._cache.get_or_compute(key, lambda: self.controls.render(rgb, kind))
