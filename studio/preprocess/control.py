"""ControlNet conditioning images through controlnet-aux 0.0.10.

Three kinds need no weights and always work offline: "canny", "mediapipe_face" (uses the FaceMesh model
bundled in the mediapipe wheel) and "lineart_standard". The others load annotator weights from a local
copy of the `lllyasviel/Annotators` repository (the folder in `STUDIO_ANNOTATORS_DIR`); without those
files they raise `PreprocessorUnavailable` that names the files to fetch — never a download attempt.

`import controlnet_aux` imports every detector eagerly (~3 s, torch + timm) and emits FutureWarnings
and registry-overwrite UserWarnings, so it happens lazily, once, with those warnings silenced, and each
detector is built once and reused.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import InputError, NoFaceFound, PreprocessorUnavailable


@dataclass(frozen=True)
class _Kind:
    #: Files (relative to the annotators folder) the detector loads; empty = weight-free.
    files: tuple[str, ...]
    #: Short description for UIs and error messages.
    label: str


#: Every control kind, in the order UIs should list them.
_KINDS: dict[str, _Kind] = {
    "canny": _Kind((), "Canny edges"),
    "mediapipe_face": _Kind((), "MediaPipe face mesh"),
    "lineart_standard": _Kind((), "standard line art"),
    # Openpose.from_pretrained loads body, hand and face networks together, so all three are needed.
    "openpose": _Kind(("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth"), "OpenPose skeleton"),
    "hed": _Kind(("ControlNetHED.pth",), "HED soft edges"),
    "depth": _Kind(("dpt_hybrid-midas-501f0c75.pt",), "MiDaS depth"),
    "lineart": _Kind(("sk_model.pth", "sk_model2.pth"), "learned line art"),
}

KINDS: tuple[str, ...] = tuple(_KINDS)
#: Kinds that work on any install, with no annotator files.
WEIGHT_FREE_KINDS: tuple[str, ...] = tuple(k for k, v in _KINDS.items() if not v.files)

ANNOTATORS_REPO = "lllyasviel/Annotators"


@contextlib.contextmanager
def _quiet(swallow_stdout: bool = False):
    """Silence controlnet-aux's import-time and call-time warnings.

    `swallow_stdout` also hides its print()s ("No faces detected…" from the MediaPipe face annotator,
    which we turn into NoFaceFound). It swaps the process-wide sys.stdout, so it is used only around
    that one call rather than everywhere.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        if swallow_stdout:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        else:
            yield


class ControlImages:
    """Renders ControlNet conditioning images; each output is RGB uint8 at the input's size.

    Args:
        annotators_dir: local copy of `lllyasviel/Annotators` (None when STUDIO_ANNOTATORS_DIR is unset).
        device: torch device for the weight-needing detectors ("cpu", "cuda", …).
        detect_resolution: short side, in pixels, at which detectors run; ControlNet's annotators were
            used at 512, and the result is resized back to the input size either way.
    """

    def __init__(self, annotators_dir: Path | None, device: str = "cpu", detect_resolution: int = 512):
        self.annotators_dir = Path(annotators_dir).expanduser() if annotators_dir else None
        self.device = device
        self.detect_resolution = int(detect_resolution)
        self._detectors: dict[str, object] = {}
        # One lock per kind: building a detector happens once, and torch/mediapipe models are not
        # guaranteed to be re-entrant, while different kinds can run side by side.
        self._locks = {k: threading.Lock() for k in _KINDS}

    # ------------------------------------------------------------------ availability
    def missing_files(self, kind: str) -> list[str]:
        """The annotator files `kind` needs that are not present (all of them when no folder is set)."""
        spec = self._spec(kind)
        if not spec.files:
            return []
        if self.annotators_dir is None or not self.annotators_dir.is_dir():
            return list(spec.files)
        return [f for f in spec.files if not (self.annotators_dir / f).is_file()]

    def available(self, kind: str) -> bool:
        return not self.missing_files(kind)

    def available_kinds(self) -> list[str]:
        return [k for k in KINDS if self.available(k)]

    def _spec(self, kind: str) -> _Kind:
        if kind not in _KINDS:
            raise InputError(f"Unknown control image kind {kind!r}; choose one of: {', '.join(KINDS)}.")
        return _KINDS[kind]

    def _require_files(self, kind: str) -> None:
        missing = self.missing_files(kind)
        if not missing:
            return
        spec = _KINDS[kind]
        if self.annotators_dir is None:
            where = "STUDIO_ANNOTATORS_DIR is not set, so there is no annotators folder to look in"
        elif not self.annotators_dir.is_dir():
            where = f"the annotators folder {self.annotators_dir} does not exist"
        else:
            verb = "is" if len(missing) == 1 else "are"
            where = f"{', '.join(missing)} {verb} missing from {self.annotators_dir}"
        target = self.annotators_dir or "<folder>"
        raise PreprocessorUnavailable(
            f"The '{kind}' control image ({spec.label}) needs the annotator file{'s' if len(spec.files) > 1 else ''} "
            f"{', '.join(spec.files)} "
            f"from {ANNOTATORS_REPO}, but {where}. Put them in one folder and set STUDIO_ANNOTATORS_DIR to it, "
            f"or use a weight-free kind ({', '.join(WEIGHT_FREE_KINDS)}).",
            fetch_command=f"hf download {ANNOTATORS_REPO} {' '.join(spec.files)} --local-dir {target}",
        )

    # ------------------------------------------------------------------ rendering
    def render(self, rgb: np.ndarray, kind: str) -> np.ndarray:
        """The `kind` control image for `rgb` (RGB uint8 H×W×3), as RGB uint8 of the same H×W.

        Raises:
            InputError: unknown kind or an input that is not an RGB uint8 image.
            PreprocessorUnavailable: the kind needs annotator files that are not present.
            NoFaceFound: "mediapipe_face" found no face to draw.
        """
        self._spec(kind)
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputError(
                f"Control images need an RGB uint8 image of shape H×W×3; got {getattr(rgb, 'shape', type(rgb))}. "
                "Load images with studio.imaging.load_image first."
            )
        self._require_files(kind)
        h, w = rgb.shape[:2]
        rgb = np.ascontiguousarray(rgb)
        # Never upsample to detect: a small image gains nothing from being blown up first.
        res = max(64, min(self.detect_resolution, h, w))
        with self._locks[kind]:
            detector = self._detector(kind)
            with _quiet(swallow_stdout=kind == "mediapipe_face"):
                out = self._run(kind, detector, rgb, res)
        out = np.asarray(out)
        if out.ndim == 2:
            out = np.stack([out] * 3, axis=-1)
        out = out[..., :3].astype(np.uint8, copy=False)
        if kind == "mediapipe_face" and not out.any():
            # controlnet-aux only prints "No faces detected" and returns a black image.
            raise NoFaceFound(
                "the photo for the MediaPipe face control image",
                hint="Use a photo with a clearly visible, roughly frontal face, or pick another control kind.",
            )
        if out.shape[:2] != (h, w):
            # Detectors work on a short side rounded to a multiple of 64; map back to the caller's pixels.
            interp = cv2.INTER_AREA if out.shape[0] > h else cv2.INTER_LINEAR
            out = cv2.resize(out, (w, h), interpolation=interp)
        return np.ascontiguousarray(out)

    @staticmethod
    def _run(kind: str, detector: Callable, rgb: np.ndarray, res: int) -> np.ndarray:
        if kind == "canny":
            return detector(rgb, low_threshold=100, high_threshold=200, detect_resolution=res,
                            image_resolution=res, output_type="np")
        if kind == "mediapipe_face":
            return detector(rgb, max_faces=4, min_confidence=0.5, detect_resolution=res,
                            image_resolution=res, output_type="np")
        if kind == "lineart_standard":
            # This detector has no image_resolution argument (TypeError if passed); it resizes back itself.
            return detector(rgb, detect_resolution=res, output_type="np")
        if kind == "openpose":
            return detector(rgb, detect_resolution=res, image_resolution=res, include_body=True,
                            include_hand=False, include_face=False, output_type="np")
        return detector(rgb, detect_resolution=res, image_resolution=res, output_type="np")

    def _detector(self, kind: str):
        """Build the detector for `kind` once (controlnet-aux is imported here, on first use)."""
        if kind in self._detectors:
            return self._detectors[kind]
        with _quiet():
            import controlnet_aux as aux

            if kind == "canny":
                det = aux.CannyDetector()
            elif kind == "mediapipe_face":
                det = aux.MediapipeFaceDetector()
            elif kind == "lineart_standard":
                det = aux.LineartStandardDetector()
            else:
                det = self._load_weighted(aux, kind)
        self._detectors[kind] = det
        return det

    def _load_weighted(self, aux, kind: str):
        folder = str(self.annotators_dir)
        classes = {
            "openpose": aux.OpenposeDetector,
            "hed": aux.HEDdetector,
            "depth": aux.MidasDetector,
            "lineart": aux.LineartDetector,
        }
        try:
            # A local directory makes from_pretrained read files from it instead of calling the Hub.
            det = classes[kind].from_pretrained(folder)
            if hasattr(det, "to"):
                det = det.to(self.device)
        except Exception as exc:  # corrupt files, a torch.load refusal, a CUDA-only checkpoint, …
            raise PreprocessorUnavailable(
                f"The '{kind}' annotator files in {folder} ({', '.join(_KINDS[kind].files)}) could not be loaded: "
                f"{type(exc).__name__}: {exc}. Re-download them from {ANNOTATORS_REPO}."
            ) from exc
        return det
