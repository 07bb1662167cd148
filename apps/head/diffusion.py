"""The diffusion tiers of head stylization: the catalog recipe (model-catalog.md §6.5) run face by face.

For every face in the photo:

1. **Crop.** The face's eye-aligned square crop at the recipe's native resolution (512 for SD1.5): the model sees
   a head at the scale it was trained on, whatever the photo's size.
2. **First pass.** The lite tier's result (preset look, caricature warp, the style reference's palette) is the init
   image, re-noised at `DENOISE_STRENGTH`: it fixes where hair, eyes and outline are, so the generated head lines
   up with the head mask it is pasted through; the model redraws it as an illustration.
3. **Conditioning.** ControlNet: the MediaPipe-face render of the *warped* mesh in crop space (the caricature's
   big eyes and small nose are what the model is held to). IP-Adapter plus-face: the source photo's aligned face
   crop — the identity. Prompt: the preset in words. A user LoRA from models/loras/ (a style) runs on both tiers.
4. **Paste back** through the lite tier's head mask for this face (minus the other faces), feathered at the crop's
   edge: hair beyond the crop keeps the lite look, and the neck, clothes and background keep the photo's bytes.

Mode `auto` carries a quality gate (`QualityGate`): the student's crop is pasted back and measured — dlib identity
distance to the source face, and SSIM outside the generous head box — and a failing student falls back to the
teacher with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.engine.request import GenerationRequest
from studio.generate import native_resolution, run_on_engine
from studio.metrics import ssim
from studio.preprocess.face import AlignedCrop, Face
from studio.preprocess.face_control import control_image
from studio.schema import Preview, Provenance, Result

from . import report

APP_ID = "head"
#: How much of the lite first pass is re-noised: enough for the model to redraw skin, hair and lines as an
#: illustration, little enough that the head keeps the shape the paste-back mask was cut for. 0.6 is the
#: engine's img2img default (DEFAULT_IMG2IMG_STRENGTH), a starting value to tune once real weights are measured;
#: the step-locked Hyper-SD 8-step student then runs int(8 × 0.6) = 4 of its 8 steps (engine rule).
DENOISE_STRENGTH = 0.6
NEGATIVE_PROMPT = ("photo, photograph, photorealistic, realistic skin texture, blurry, lowres, deformed, disfigured, "
                   "extra eyes, asymmetric eyes, bad anatomy, text, watermark, signature")  # fmt: skip
PROMPTS = {
    "cartoon": "cartoon portrait of a person, flat colours, clean bold outlines, simple cel shading, 2d illustration",
    "comic": "comic book portrait of a person, bold ink lines, halftone dot shading, vivid flat colours",
    "anime": "anime portrait of a person, large expressive eyes, small nose and mouth, cel shading, clean line art",
    "painted": "oil painting portrait of a person, visible brush strokes, painterly, rich colours, canvas texture",
}


@dataclass(frozen=True)
class GateLimits:
    """The quality gate's limits (a test or experiment injects others with `RunContext.gate_limits["head"]`)."""

    #: dlib's "same person" bar is below 0.6 (davisking/dlib-models README; face_recognition's tolerance 0.6); the
    #: issue asks every preset to stay at or under 0.55, a margin below it.
    max_identity_distance: float = 0.55
    #: Outside the generous head box the photo must be unchanged (the paste-back mask should make it 1.0 exactly).
    min_ssim_outside: float = 0.97


def crop_alpha(crop: AlignedCrop, box, alpha: np.ndarray, shape) -> np.ndarray:
    """This face's composite opacity (photo space, inside `box`) in crop space, faded out at the crop's edge."""
    full = np.zeros(shape[:2], np.float32)
    x0, y0, x1, y1 = box
    full[y0:y1, x0:x1] = alpha
    warped = cv2.warpAffine(full, crop.matrix, (crop.size, crop.size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    edge = max(2, crop.size // 24)
    ramp = np.clip((np.minimum(np.arange(crop.size), crop.size - 1 - np.arange(crop.size)) + 0.5) / edge, 0.0, 1.0)
    return warped * ramp[:, None] * ramp[None, :]


def paste(crop: AlignedCrop, image: np.ndarray, onto: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend a generated crop back into the photo inside `alpha` (already feathered)."""
    if image.shape[:2] != (crop.size, crop.size):
        image = cv2.resize(image, (crop.size, crop.size), interpolation=cv2.INTER_LINEAR)  # latent-size previews
    return crop.paste_back(image, onto, mask=alpha, feather_px=0)


@dataclass
class QualityGate:
    """The engine's `quality_gate` for one face: paste the student's crop back, measure, pass or say why."""

    ctx: object
    source: np.ndarray
    composite: np.ndarray
    crop: AlignedCrop
    alpha: np.ndarray
    face: Face
    outside: np.ndarray  # bool: outside the generous head box
    limits: GateLimits = field(default_factory=GateLimits)
    record: dict = field(default_factory=dict)
    elapsed_ms: float = 0.0

    def __call__(self, image: np.ndarray) -> str | None:
        start = time.perf_counter()
        try:
            candidate = paste(self.crop, image, self.composite, self.alpha)
            before = self.ctx.preprocess.identity(self.source, self.face)
            distance = before.distance(self.ctx.preprocess.identity(candidate, self.face))
            failures = []
            if distance > self.limits.max_identity_distance:
                failures.append(f"identity distance {distance:.3f} > {self.limits.max_identity_distance} "
                                f"({before.embedder}: the stylised face no longer reads as the same "
                                "person)")  # fmt: skip
            kept = ssim(self.source, candidate, self.outside) if self.outside.sum() > 64 else 1.0
            if kept < self.limits.min_ssim_outside:
                failures.append(f"SSIM outside the head {kept:.3f} < {self.limits.min_ssim_outside} (the background "
                                "changed)")  # fmt: skip
            verdict = "; ".join(failures) or None
            self.record.update(identity_distance=round(distance, 4), ssim_outside_head=round(kept, 4),
                               limits=self.limits.__dict__, verdict=verdict or "pass")  # fmt: skip
            return verdict
        finally:
            self.elapsed_ms += (time.perf_counter() - start) * 1000.0


@dataclass
class Generated:
    image: np.ndarray
    provenance: Provenance
    extras: dict[str, np.ndarray]
    info: dict


def generate(ctx, rgb: np.ndarray, faces: list[Face], lite, preset: str, loras: tuple, mode: str, seed: int,
             steps: int | None, watch):  # fmt: skip
    """Generator: yields Previews (the lite result, then each face's steps pasted into the photo) and returns a
    `Generated`. `lite` is the lite tier's `Stylised` (the first pass); `loras` the user LoRAs (UserLora, weight)."""
    size = native_resolution(ctx.engine, APP_ID)
    yield Preview(lite.image, 0, 1, "lite tier's look (the first pass); diffusion starting")
    composite = lite.image.copy()
    outside = report.outside_mask(lite.masks)
    limits = ctx.limits(APP_ID, GateLimits())
    results, per_face, extras, gate_ms = [], [], {}, 0.0
    for i, face in enumerate(faces):
        ctx.check_cancelled()  # between faces: a cancelled call starts no further diffusion
        box, own_alpha = lite.alphas[i]
        if not own_alpha.any():
            continue
        label = f"face {i + 1} of {len(faces)}"
        with watch("preprocess"):
            crop = face.aligned_crop(lite.image, size)
            init = crop.image
            identity = face.aligned_crop(rgb, size).image
            moved = np.hstack([lite.landmarks[i], np.ones((len(lite.landmarks[i]), 1), np.float32)]) @ crop.matrix.T
            control = control_image(moved, size)
            alpha = crop_alpha(crop, box, own_alpha, rgb.shape)
        gate = QualityGate(ctx, rgb, composite, crop, alpha, face, outside, limits) if mode == "auto" else None
        request = GenerationRequest(app=APP_ID, mode=mode, pipeline="controlnet-img2img", prompt=PROMPTS[preset],
                                    negative_prompt=NEGATIVE_PROMPT, image=init, control_image=control,
                                    ip_adapter_image=identity, strength=DENOISE_STRENGTH, steps=steps, seed=seed,
                                    quality_gate=gate, cancel=ctx.cancel, loras=loras)  # fmt: skip
        result = yield from run_on_engine(ctx, request, lambda image: paste(crop, image, composite, alpha),
                                          label if len(faces) > 1 else "")  # fmt: skip
        with watch("paste_back"):
            composite = paste(crop, result.image, composite, alpha)
        gate_ms += gate.elapsed_ms if gate else 0.0
        results.append(result)
        per_face.append(_face_record(i, result, gate))
        if i == 0:
            extras["diffusion inputs (init · control · IP-Adapter · paste mask)"] = report.side_by_side(
                [init, control, identity, (np.repeat(alpha[..., None], 3, axis=2) * 255).astype(np.uint8)],
                height=min(size, 256))  # fmt: skip
        for key, image in result.extras.items():
            extras[f"{key}, {label}"] = image
    if gate_ms:
        watch.timings_ms["quality_gate"] = watch.timings_ms.get("quality_gate", 0.0) + gate_ms
    composite = np.where(lite.alpha[..., None] > 0, composite, rgb)  # outside the heads: the photo's own bytes
    info = {"crop_size": size, "denoise_strength": DENOISE_STRENGTH, "prompt": PROMPTS[preset],
            "negative_prompt": NEGATIVE_PROMPT, "control": "MediaPipe-face render of the warped mesh",
            "ip_adapter_image": "the source photo's aligned face crop (identity)", "faces": per_face}  # fmt: skip
    return Generated(composite, merge_provenance(results, len(faces)), extras, info)


def _face_record(index: int, result: Result, gate: QualityGate | None) -> dict:
    p, info = result.provenance, result.info
    record = {"face": index + 1, "tier": p.tier, "fallback_reason": p.fallback_reason, "steps": p.steps,
              "guidance": p.guidance, "models": p.models,
              **{k: info.get(k) for k in ("pipeline", "scheduler", "timesteps", "strength", "cfg", "settings")}}
    if gate is not None and gate.record:
        record["quality_gate"] = gate.record
    if "rejected_student" in info:
        record["rejected_student"] = info["rejected_student"]["provenance"]
    return record


def merge_provenance(results: list[Result], n_faces: int) -> Provenance:
    """One provenance for the photo: the teacher's when any face needed it (the image then carries teacher pixels),
    with that face's fallback reason; engine timings add up over the faces."""
    main = next((r for r in results if r.provenance.tier == "teacher"), results[0])
    models, timings, notes = [], {}, []
    for i, r in enumerate(results):
        p = r.provenance
        models += [m for m in p.models if m not in models]
        for key, value in p.timings_ms.items():
            timings[key] = round(timings.get(key, 0.0) + value, 2)
        rejected = r.info.get("rejected_student")
        if rejected:  # the student's run before the gate rejected it is part of this photo's wall time
            timings["rejected_student"] = round(timings.get("rejected_student", 0.0)
                                                + sum(rejected["provenance"]["timings_ms"].values()), 2)  # fmt: skip
        notes += [(f"Face {i + 1}: " if len(results) > 1 else "") + n for n in p.notes]
    if n_faces > 1:
        notes.append(f"All {n_faces} heads were generated, one diffusion call each; metrics give the worst face.")
    peaks = [r.provenance.peak_memory_mb for r in results if r.provenance.peak_memory_mb is not None]
    p = main.provenance
    return Provenance(app=APP_ID, tier=p.tier, models=models, steps=p.steps, guidance=p.guidance, seed=p.seed,
                      device=p.device, timings_ms=timings, peak_memory_mb=max(peaks) if peaks else None,
                      fallback_reason=p.fallback_reason, notes=notes)  # fmt: skip
