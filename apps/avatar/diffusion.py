"""The diffusion tiers of the avatar (catalog §6.3, option C — no InsightFace, commercially usable): SDXL base with
the SDXL-Lightning 4-step student or the 30-step teacher, the selfies through IP-Adapter Plus face (ViT-H), the pose
through the xinsir OpenPose ControlNet. Everything it is given comes from our own analysis:

* **Canvas** — the recipe's native resolution (SDXL: 1024) in the aspect bucket nearest the preset's frame
  (studio.preprocess.crops.ASPECT_BUCKETS: 768×1024 for 4:5 portraits, 1024×1024 for squares).
* **ControlNet** — the OpenPose skeleton of the driver (when given) or of the main selfie, placed on the canvas the
  way the lite tier frames the head for this preset (same head share, same eye line), drawn with the xinsir card's
  thick strokes. A face-only photo, where MediaPipe Pose finds no body, gets the head joints from the face mesh.
* **IP-Adapter** — each selfie's eye-aligned face crop; with several selfies the engine averages their image
  embeddings (each alone carries its own light and angle; their mean, the face they share).
* **Prompt** — the preset's own words (presets.py).

The generated portrait is finished like a lite one where the preset needs it (passport framing and rules, the
user's background). In `auto` mode the engine hands the student's image to `QualityGate`: identity distance of the
face it drew to every selfie (dlib), averaged, must stay under the limit, or the teacher runs instead.

Non-commercial identity adapters (InstantID, IP-Adapter FaceID) are not offered: they need InsightFace embeddings
and community pipeline code the engine does not have (models/catalog.py, "Not catalogued, on purpose").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.engine.request import GenerationRequest
from studio.generate import merge_timings, native_resolution, run_on_engine
from studio.preprocess.crops import ASPECT_BUCKETS
from studio.preprocess.pose import POSE_LANDMARKS, BodyPose, render_openpose
from studio.schema import Result

from .framing import frame_transform, measure_head
from .presets import NEGATIVE_PROMPT, Preset

APP_ID = "avatar"
CONTROLNET = "controlnet-openpose-sdxl-xinsir"


@dataclass(frozen=True)
class GateLimits:
    """The quality gate's limits (tests and experiments inject others with `RunContext.gate_limits["avatar"]`)."""

    #: Mean identity distance of the generated face to the selfies. dlib's "same person" bar is 0.6; the lite tier's
    #: portraits measure 0.05–0.45 on the fixture faces, so 0.5 leaves a generated likeness room to differ from
    #: any one selfie while staying clearly the same person.
    max_identity_distance: float = 0.5


def canvas_size(engine, preset: Preset) -> tuple[int, int]:
    """(width, height): the recipe's native side in the aspect bucket nearest the preset's frame."""
    side = native_resolution(engine, APP_ID)
    w, h = preset.size or (1, 1)
    fw, fh = min(ASPECT_BUCKETS, key=lambda b: abs(np.log(b[0] / b[1] * h / w)))
    grow = max(1.0, 64.0 / (min(fw, fh) * side))  # the engine's smallest side (a test catalog's tiny models)
    return round(fw * side * grow / 8) * 8, round(fh * side * grow / 8) * 8


def face_pose(face, image_size) -> BodyPose:
    """A BodyPose holding only the head joints, from the face mesh: nose, eyes, ears, mouth corners (shoulders and
    below invisible). For face-only photos where MediaPipe Pose finds no body."""
    kp = np.zeros((len(POSE_LANDMARKS), 4), np.float32)
    lm = face.landmarks
    for name, index in (("nose", 1), ("left_eye", 473), ("right_eye", 468), ("left_ear", 454), ("right_ear", 234),
                        ("mouth_left", 291), ("mouth_right", 61)):  # fmt: skip
        kp[POSE_LANDMARKS.index(name)] = (*lm[index, :3], 1.0)
    return BodyPose(kp, image_size)


def pose_image(ctx, rgb, face, preset: Preset, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """(the OpenPose control image on the canvas, where its joints came from)."""
    pose = ctx.preprocess.pose(rgb)
    source = "MediaPipe Pose"
    if pose is None:
        pose, source = face_pose(face, rgb.shape[:2]), "the face mesh (no body found)"
    head = measure_head(face, None)
    share, eyes = (preset.head_share, preset.eyes_from_top) if preset.size else (0.4, 0.4)
    m = frame_transform(head, size, share, eyes, preset.level)
    kp = pose.keypoints.copy()
    kp[:, :2] = kp[:, :2] @ m[:, :2].T + m[:, 2]
    placed = BodyPose(kp, (size[1], size[0]))
    return render_openpose(placed, CONTROLNET), source


@dataclass
class QualityGate:
    """The engine's `quality_gate`: the face in the student's image must be the selfies' person."""

    ctx: object
    selfies: list
    limits: GateLimits = field(default_factory=GateLimits)
    record: dict = field(default_factory=dict)

    def __call__(self, image: np.ndarray) -> str | None:
        start = time.perf_counter()
        faces = self.ctx.preprocess.faces(image)
        if not faces:
            self.record = {"passed": False, "face_found": False, "ms": round((time.perf_counter() - start) * 1e3, 2)}
            return "no face was found in the student's portrait"
        mine = self.ctx.preprocess.identity(image, faces[0])
        distances = [round(s.identity.distance(mine), 4) for s in self.selfies]
        mean = float(np.mean(distances))
        passed = mean < self.limits.max_identity_distance
        self.record = {"passed": passed, "face_found": True, "identity_distances": distances,
                       "identity_distance_mean": round(mean, 4), "limit": self.limits.max_identity_distance,
                       "embedder": mine.embedder, "ms": round((time.perf_counter() - start) * 1e3, 2)}  # fmt: skip
        if passed:
            return None
        return (f"identity drift: the student's face is {mean:.2f} from the selfies on average ({mine.embedder}; the "
                f"gate allows under {self.limits.max_identity_distance})")  # fmt: skip


def generate(ctx, selfies, preset: Preset, pose_from: tuple, mode: str, steps: int | None, seed: int, watch):
    """Generator: the engine's step previews, then returns the engine's `Result` (the canvas-sized portrait) with
    the app's timings, the gate's record and the conditioning images in its extras and info."""
    size = canvas_size(ctx.engine, preset)
    with watch("conditioning"):
        control, pose_source = pose_image(ctx, *pose_from, preset, size)
        crops = [s.face.aligned_crop(s.rgb, 512).image for s in selfies]
    gate = QualityGate(ctx, selfies, ctx.limits(APP_ID, GateLimits())) if mode == "auto" else None
    request = GenerationRequest(
        app=APP_ID, mode=mode, pipeline="controlnet", prompt=preset.prompt, negative_prompt=NEGATIVE_PROMPT,
        control_image=control, ip_adapter_image=crops if len(crops) > 1 else crops[0], steps=steps, seed=seed,
        width=size[0], height=size[1], quality_gate=gate, cancel=ctx.cancel,
    )  # fmt: skip
    result: Result = yield from run_on_engine(ctx, request, lambda image: image)
    prov = result.provenance
    app_ms = dict(watch.timings_ms)
    if gate is not None and gate.record:
        app_ms["quality_gate"] = gate.record["ms"]
    merge_timings(prov, app_ms)
    strip = [cv2.resize(c, (256, 256), interpolation=cv2.INTER_AREA) for c in crops]
    result.extras = {"pose control": control, "IP-Adapter selfies": np.concatenate(strip, axis=1),
                     **result.extras}  # fmt: skip
    result.info = {"diffusion": {
        "prompt": preset.prompt, "negative_prompt": NEGATIVE_PROMPT, "canvas": list(size), "pose_from": pose_source,
        "ip_adapter_images": len(crops), "ip_adapter_embeddings": "averaged" if len(crops) > 1 else "one selfie",
        "quality_gate": (gate.record or None) if gate is not None else None, "engine": result.info,
    }}  # fmt: skip
    return result
