"""The diffusion tiers of makeup transfer: the catalog recipe (model-catalog.md §6.1) run face by face.

For every face in the photo:

1. **Crop.** The face's eye-aligned square crop at the recipe's native resolution (512 for SD1.5), so the
   model sees a face at the scale it was trained on whatever the photo's size.
2. **First pass.** The lite tier paints the look at full strength and that crop is the init image, denoised
   at `DENOISE_STRENGTH`: the lite tier puts each colour where it belongs (measured, skin-aware), the model
   re-renders it as real pigment on real skin. From pure noise (strength 1) the colour would come only from
   the prompt's words and the IP-Adapter, which carry hue names, not a ΔE-accurate shade.
3. **Conditioning.** Inpaint mask: the enabled makeup regions grown by the feather reach, minus the eyes and
   the inner mouth (eye whites, irises and teeth keep their own pixels as context). ControlNet image: the
   MediaPipe-face render of *our* mesh in crop space (`control_image`). IP-Adapter image: the reference's
   aligned face crop, or for a preset the lite first pass itself (see `ip_adapter_image`). Prompt: the look
   in words (`prompt_for`).
4. **Paste back.** Only inside the feathered makeup regions (never beyond the lite tier's makeup area, never
   on eyes or teeth), so hair, background, the rest of the face and every other pixel stay bit-identical.
   Each region's strength slider is its paste-back opacity: the inpaint mask is binary (the pipeline
   binarises it), so this is where "lipstick 1.0, foundation 0.3" can take effect — once, since the first
   pass is painted at full strength.

Mode `auto` carries a quality gate (`QualityGate`): the student's crop is pasted back and measured — identity
drift and region colour error — and a failing student falls back to the teacher with reason `quality_gate`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.color import hex_to_lab, nearest_name
from studio.engine.request import GenerationRequest
from studio.errors import InputError
from studio.generate import native_resolution, run_on_engine
from studio.preprocess.face import AlignedCrop, Face, face_height
from studio.preprocess.face_control import control_image, crop_face
from studio.schema import Preview, Provenance, Result

from . import report
from .lite import _inward, apply_look
from .look import Look, is_grayscale
from .regions import FEATHER_REACH, INWARD_FEATHER, SIGMA

APP_ID = "makeup"
#: How much of the lite first pass is re-noised: high enough that the model re-renders pigment, gloss and skin
#: texture, low enough that the first pass's shade and placement survive the noise (at 1.0 nothing of it would).
#: 0.7 is the middle of the img2img range SDEdit-style edits use; a starting value to tune once real weights are
#: measured (with LCM it runs 4 of 6 scheduled steps, the engine stretching the schedule for the student).
DENOISE_STRENGTH = 0.7

# Quality gate. Identity drift: the bar for the lite tier, which only recolours, is 2 % of the eye
# distance; the diffusion tiers re-render the very edges the mesh locks on (lip line, lash line, brows), so
# re-detection moves more on an unchanged face. Beyond 4 % (about 2.5 mm on an adult face) features visibly move
# (`max_drift`).
# Region colour: the student may reach the larger of an absolute ΔE2000 and the lite tier's own error on this
# face (same strengths) plus a margin. Lipstick is opaque, so its colour should match the reference whatever the
# skin: 10 is the lite bar (8, "a close match") plus 2 for the gloss and shading a model adds to a mean.
# Eyeshadow and blush are translucent: the same product looks different on a different complexion, so their
# absolute error is dominated by the two skins (the lite tier itself measures a median of 20 on eyeshadow and
# 12 on cheeks over the fixture photos). For them the lite tier, which is skin-aware, sets the expectation and
# the student may differ from it by a clearly visible but same-colour-family 6.
@dataclass(frozen=True)
class GateLimits:
    """The quality gate's limits (a test or experiment injects others with `RunContext.gate_limits["makeup"]`)."""

    max_drift: float = 0.04
    #: Identity embedder distance between the face before and after (dlib's "same person" bar is below 0.6).
    max_identity_distance: float = 0.6
    #: region → (absolute ΔE2000, margin over the lite tier's own error)
    delta_e: dict = field(default_factory=lambda: {"lips": (10.0, 4.0), "eyeshadow": (8.0, 6.0),
                                                   "cheeks": (8.0, 6.0)})  # fmt: skip



NEGATIVE_PROMPT = ("cartoon, painting, illustration, 3d render, deformed, blurry, smudged makeup, extra teeth, "
                   "asymmetric eyes, plastic skin, heavy airbrushing, watermark, text")  # fmt: skip

# Colour words for the prompt: the shades a makeup counter names, as sRGB on skin, per product (nobody sells
# "nude eyebrows" or "navy blush"). CLIP knows these words; the exact shade comes from the first pass.
SHADES = {
    "lips": {"classic red": "#B0122E", "deep red": "#7E0E1E", "cherry red": "#C8243C", "brick red": "#9C3B2E",
             "orange-red": "#D8402A", "coral": "#EE604E", "peach": "#F0A080", "pink": "#E87890",
             "hot pink": "#E0407A", "soft pink": "#E8A8B0", "rose": "#C06070", "mauve": "#A06878", "berry": "#7A1E3E",
             "plum": "#6E3C54", "wine": "#5A1828", "nude": "#C08A7A", "brown": "#7A4A3A", "terracotta": "#C06A4A"},
    "eyeshadow": {"black": "#141414", "charcoal": "#3A3A3C", "grey": "#8A8A8A", "taupe": "#8A7A70",
                  "dark brown": "#3E2C24", "brown": "#6A4030", "bronze": "#A0704A", "gold": "#C8A050",
                  "champagne": "#E0C8A8", "beige": "#D8B8A0", "peach": "#F0A080", "apricot": "#E8A07A",
                  "copper": "#B06A40", "rose": "#C06070", "mauve": "#A06878", "plum": "#6E3C54", "purple": "#6A3A8A",
                  "lavender": "#B090C8", "navy": "#202A50", "blue": "#3A5AA0", "teal": "#2A8080", "green": "#4A7A4A"},
    "eyeliner": {"black": "#141414", "charcoal": "#3A3A3C", "dark brown": "#3E2C24", "brown": "#6A4030",
                 "navy": "#202A50", "plum": "#4E2C44", "green": "#2E4A2E"},
    "blush": {"peach": "#F0A080", "apricot": "#E8A07A", "coral": "#EE7A66", "soft pink": "#E8A8B0", "pink": "#E08898",
              "rose": "#C8707E", "mauve": "#B07C88", "berry": "#9A3E5A", "bronze": "#B07A50", "terracotta": "#C87A5A"},
    "brows": {"black": "#1A1614", "dark brown": "#3E2C24", "brown": "#5A4034", "light brown": "#8A6A54",
              "ash brown": "#6E6058", "auburn": "#7A3E28", "blonde": "#B8956A", "grey": "#8A8682"},
}  # fmt: skip
_SHADE_LAB = {product: {name: hex_to_lab(code) for name, code in shades.items()} for product, shades in SHADES.items()}


# --------------------------------------------------------------------------------------------- conditioning
def region_union(face: Face, regions) -> np.ndarray:
    """uint8 0/255 union of the app regions' masks on `face` (its visible sides)."""
    out = np.zeros(face.image_size, np.uint8)
    for region in regions:
        out = np.maximum(out, report.region_mask(face, region))
    return out


def crop_masks(crop: AlignedCrop, cface: Face, face: Face, strengths: dict[str, float],
               shape) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(inpaint mask uint8 0/255, paste-back alpha float32 0–1), both in crop space, for the regions with a
    strength above 0.

    The pipeline binarises its mask (diffusers' mask processor), so the inpaint mask is a plain grown union. The
    alpha is each region's feathered mask times its strength (the most of any region where they overlap), with
    the lite tier's feathers: lips, liner, shadow and brows blurred outwards by their σ (within the feather
    reach), blush and foundation faded in from their edge. It is zero on the eyes and the inner mouth and is
    clipped to the lite tier's makeup area warped into the crop (eroded by a pixel for the bilinear warp back),
    so "unchanged outside the makeup" means the same pixels in both tiers.
    """
    regions = [r for r, v in strengths.items() if v > 0]
    union = region_union(cface, regions)
    protect = (cface.regions.full("eyes") | cface.regions.full("irises") | cface.regions.full("inner_mouth")) > 0
    reach = FEATHER_REACH * face_height(cface)
    grow = int(np.ceil(reach)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    inpaint = cv2.dilate(union, kernel)
    inpaint[protect] = 0
    alpha = np.zeros(union.shape, np.float32)
    for region in regions:
        mask = report.region_mask(cface, region)
        if region in SIGMA:
            # A Gaussian reaches ~4σ, which must stay inside the reach (less a pixel for rasterising).
            sigma = min(SIGMA[region] * face_height(cface), (reach - 1.0) / 4.0)
            soft = mask.astype(np.float32) / 255.0
            soft = cv2.GaussianBlur(soft, (0, 0), sigma) if sigma > 0.3 else soft
        else:
            # Faded in from the outer edge only: around the holes (brows, lips) foundation stops where the feature
            # starts, as the product does; fading there too would leave a ring of bare skin around the lips.
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            filled = cv2.drawContours(np.zeros_like(mask), contours, -1, 255, cv2.FILLED)
            soft = _inward(filled, INWARD_FEATHER * face_height(cface)) * (mask > 0)
        np.maximum(alpha, soft * float(min(strengths[region], 1.0)), out=alpha)
    area = report.makeup_area([face], regions, shape).astype(np.float32)
    area_crop = cv2.warpAffine(area, crop.matrix, (crop.size, crop.size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    inside = cv2.erode((area_crop >= 0.999).astype(np.uint8), np.ones((3, 3), np.uint8))
    alpha *= inside
    alpha[protect] = 0.0
    return inpaint, alpha


def ip_adapter_image(ref: np.ndarray | None, ref_face: Face | None, first_pass: np.ndarray, size: int):
    """(image, what it is) for the IP-Adapter.

    With a reference photo: its aligned face crop, the makeup as worn. With a preset there is no photo; the lite
    first pass of *this* face is used — the preset's colours in the right places on a real face. A synthetic
    face-shaped template would also work as a swatch, but IP-Adapter plus-face encodes identity as well as
    look, so it would pull every result towards the template's features; this image pulls towards the source's.
    """
    if ref is not None and ref_face is not None:
        return ref_face.aligned_crop(ref, size).image, "the reference photo's aligned face crop"
    return first_pass, "the preset painted on this face by the lite tier (no reference photo)"


def shade_name(lab: np.ndarray, product: str) -> str:
    """The nearest named shade of `product` (lips, eyeshadow, eyeliner, blush, brows) to a Lab colour (CIEDE2000)."""
    return nearest_name(lab, _SHADE_LAB[product])


def _amount_word(amount: float) -> str:
    return "sheer " if amount < 0.35 else "soft " if amount < 0.65 else "bold " if amount >= 0.9 else ""


def prompt_for(look: Look, amounts: dict[str, float], grayscale: bool = False) -> str:
    """The look in words, e.g. 'portrait photo, bold classic red lipstick, soft charcoal to taupe eyeshadow, …'.

    `amounts` say how strongly each region is worn (0–1; regions at 0 are left out).
    """
    parts = ["black and white portrait photo" if grayscale else "portrait photo", "professional makeup"]
    on = {r: a for r, a in amounts.items() if a > 0 and look.has(r)}
    if "lips" in on:
        parts.append(f"{_amount_word(on['lips'])}{shade_name(look.lips, 'lips')} lipstick")
    if "eyeshadow" in on:
        lid, crease = (shade_name(look.skin + look.eyeshadow[k], "eyeshadow") for k in (0, -1))
        shade = lid if lid == crease else f"{lid} to {crease}"
        parts.append(f"{_amount_word(on['eyeshadow'])}{shade} eyeshadow")
    if "eyeliner" in on:
        parts.append(f"{shade_name(look.eyeliner, 'eyeliner')} eyeliner")
    if "blush" in on:
        parts.append(f"{_amount_word(on['blush'])}{shade_name(look.skin + look.blush, 'blush')} blush")
    if "brows" in on:
        parts.append(f"groomed {shade_name(look.brows, 'brows')} eyebrows")
    if "foundation" in on:
        parts.append("even skin tone, light foundation")
    parts.append("natural skin texture, sharp focus, realistic")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------- quality gate
@dataclass
class QualityGate:
    """The engine's `quality_gate` for one face: paste the student's crop back, measure, pass or say why.

    The engine hands the gate the crop the pipeline produced; identity drift needs the face re-detected in the
    photo and colour error needs the photo's region masks, so the gate pastes back itself (the same paste the
    app does) and measures with `report.measure`. The lite tier's result on this face at the same strengths,
    measured the same way, is the expectation for the translucent regions (see `GateLimits`).
    """

    ctx: object
    source: np.ndarray
    composite: np.ndarray  # the photo with the faces before this one already done
    lite: np.ndarray  # the lite tier's result at the user's strengths, all faces
    crop: AlignedCrop
    alpha: np.ndarray
    face: Face
    look: Look
    regions: list[str]
    ref: np.ndarray | None
    ref_face: Face | None
    grayscale: bool
    limits: GateLimits = field(default_factory=GateLimits)
    record: dict = field(default_factory=dict)  # what was measured, for Result.info
    elapsed_ms: float = 0.0

    def __call__(self, image: np.ndarray) -> str | None:
        start = time.perf_counter()
        try:
            return self._verdict(image)
        finally:
            self.elapsed_ms += (time.perf_counter() - start) * 1000.0

    def _measure(self, image: np.ndarray) -> dict:
        return report.measure(self.ctx, self.source, image, [self.face], self.look, self.regions, self.ref,
                              self.ref_face)[0]  # fmt: skip

    def _verdict(self, crop_image: np.ndarray) -> str | None:
        candidate = paste(self.crop, crop_image, self.composite, self.alpha, self.grayscale)
        student, lite = self._measure(candidate), self._measure(self.lite)
        failures, limits = [], {}
        drift = student.get("identity_drift_nme")
        if drift is None:
            failures.append("no face was re-detected on the student's result")
        elif drift > self.limits.max_drift:
            failures.append(f"identity drift {drift:.3f} > {self.limits.max_drift} (landmark NME on the re-detected "
                            "face)")  # fmt: skip
        distance = student.get("identity_distance")
        if distance is not None and distance >= self.limits.max_identity_distance:
            failures.append(f"identity distance {distance:.3f} ≥ {self.limits.max_identity_distance} (no longer the "
                            "same person to the identity embedder)")  # fmt: skip
        for region, (absolute, margin) in self.limits.delta_e.items():
            key = f"delta_e_{region}"
            if key not in student:
                continue
            limit = max(absolute, lite.get(key, 0.0) + margin)
            limits[key] = round(limit, 3)
            if student[key] > limit:
                failures.append(f"{region} colour error ΔE2000 {student[key]:.1f} > {limit:.1f}")
        self.record.update(student=student, lite=lite, limits=limits, verdict="; ".join(failures) or "pass")
        return "; ".join(failures) or None


# --------------------------------------------------------------------------------------------- the run
def paste(crop: AlignedCrop, image: np.ndarray, onto: np.ndarray, alpha: np.ndarray, grayscale: bool) -> np.ndarray:
    """Blend a generated crop back into the photo inside `alpha` (already feathered: no extra blur)."""
    if image.shape[:2] != (crop.size, crop.size):
        image = cv2.resize(image, (crop.size, crop.size), interpolation=cv2.INTER_LINEAR)  # latent-size previews
    if grayscale:  # a black-and-white photo stays black-and-white: the model's colours become tones
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return crop.paste_back(image, onto, mask=alpha, feather_px=0)


@dataclass
class Transfer:
    """What the diffusion tiers hand back to the app: the photo, merged provenance, extras and details."""

    image: np.ndarray
    provenance: Provenance
    extras: dict[str, np.ndarray]
    info: dict


def transfer(ctx, rgb: np.ndarray, faces: list[Face], look: Look, amounts: dict[str, float], regions: list[str],
             ref, ref_face, mode: str, seed: int, steps: int | None, watch):  # fmt: skip
    """Generator: yields Previews (the lite result, then each face's steps pasted into the photo) and returns a
    `Transfer`. `amounts` are the user's strengths, `regions` the app regions to paint (strength > 0 and in the
    look); `watch` collects the app's own timings."""
    size = native_resolution(ctx.engine, APP_ID)
    grayscale = all(is_grayscale(rgb, f) for f in faces)
    strengths = {r: amounts[r] for r in regions}
    with watch("first_pass"):
        # At full strength for the model to re-render (the sliders act at paste-back), and at the user's strengths
        # as the first preview and the quality gate's colour expectation.
        first_pass, notes = apply_look(rgb, faces, look, {r: 1.0 for r in regions}, grayscale=grayscale)
        lite_view = apply_look(rgb, faces, look, strengths, grayscale=grayscale)[0]
    yield Preview(lite_view, 0, 1, "lite tier's look; diffusion starting")
    prompt = prompt_for(look, {r: look.intensity.get(r, 1.0) for r in regions}, grayscale)
    if grayscale:
        notes.append("The source is black-and-white: the generated makeup was pasted back as tones only.")
    composite = rgb.copy()
    results: list[Result] = []
    per_face: list[dict] = []
    extras: dict[str, np.ndarray] = {}
    gate_ms = 0.0
    for i, face in enumerate(faces):
        ctx.check_cancelled()  # between faces: a cancelled call starts no further diffusion
        label = f"face {i + 1} of {len(faces)}"
        with watch("preprocess"):
            crop = face.aligned_crop(rgb, size)
            cface = crop_face(crop, face)
            init = face.aligned_crop(first_pass, size).image
            inpaint, alpha = crop_masks(crop, cface, face, strengths, rgb.shape)
            control = control_image(crop.landmarks, size)
            ip_image, ip_what = ip_adapter_image(ref, ref_face, init, size)
        if not inpaint.any():
            notes.append(f"{label.capitalize()}: none of the enabled regions is visible in its crop; left unchanged.")
            continue
        gate = QualityGate(ctx, rgb, composite, lite_view, crop, alpha, face, look, regions, ref, ref_face, grayscale,
                           ctx.limits(APP_ID, GateLimits())) if mode == "auto" else None  # fmt: skip
        request = GenerationRequest(app=APP_ID, mode=mode, pipeline="controlnet-inpaint", prompt=prompt,
                                    negative_prompt=NEGATIVE_PROMPT, image=init, mask_image=inpaint,
                                    control_image=control, ip_adapter_image=ip_image, strength=DENOISE_STRENGTH,
                                    steps=steps, seed=seed, quality_gate=gate, cancel=ctx.cancel)  # fmt: skip
        result = yield from run_on_engine(ctx, request, lambda image: paste(crop, image, composite, alpha, grayscale),
                                          label if len(faces) > 1 else "")  # fmt: skip
        with watch("paste_back"):
            composite = paste(crop, result.image, composite, alpha, grayscale)
        gate_ms += gate.elapsed_ms if gate else 0.0
        results.append(result)
        per_face.append(_face_record(i, result, gate, ip_what))
        if i == 0:
            extras["diffusion inputs (init · mask · control · IP-Adapter)"] = report.side_by_side(
                [init, np.repeat(inpaint[..., None], 3, axis=2), control, ip_image], height=min(size, 256))
        for key, image in result.extras.items():
            extras[f"{key}, {label}"] = image
    if not results:
        raise InputError("None of the switched-on makeup regions could be located on the faces in this photo, so "
                         "there was nothing to generate. Switch on lips or eyeshadow, or use a more frontal photo.")
    if gate_ms:
        watch.timings_ms["quality_gate"] = watch.timings_ms.get("quality_gate", 0.0) + gate_ms
    provenance = merge_provenance(results, notes, len(faces))
    info = {"crop_size": size, "denoise_strength": DENOISE_STRENGTH, "prompt": prompt,
            "negative_prompt": NEGATIVE_PROMPT, "control": "MediaPipe-face render of the studio's own mesh",
            "faces": per_face}  # fmt: skip
    return Transfer(composite, provenance, extras, info)


def _face_record(index: int, result: Result, gate: QualityGate | None, ip_what: str) -> dict:
    p, info = result.provenance, result.info
    record = {"face": index + 1, "tier": p.tier, "fallback_reason": p.fallback_reason, "steps": p.steps,
              "guidance": p.guidance, "models": p.models, "ip_adapter_image": ip_what,
              **{k: info.get(k) for k in ("pipeline", "scheduler", "timesteps", "strength", "width", "height", "cfg")}}
    if gate is not None and gate.record:
        record["quality_gate"] = gate.record
    if "rejected_student" in info:
        record["rejected_student"] = info["rejected_student"]["provenance"]
    return record


def merge_provenance(results: list[Result], notes: list[str], n_faces: int) -> Provenance:
    """One provenance for the photo. Its tier is the teacher's when any face needed the teacher (the image then
    carries teacher pixels), with that face's fallback reason, steps and guidance; the engine's timings add up
    over faces (the app adds its own phases)."""
    main = next((r for r in results if r.provenance.tier == "teacher"), results[0])
    models: list[str] = []
    engine_ms: dict[str, float] = {}
    face_notes: list[str] = []
    for i, r in enumerate(results):
        p = r.provenance
        models += [m for m in p.models if m not in models]
        for key, value in p.timings_ms.items():
            engine_ms[key] = engine_ms.get(key, 0.0) + value
        rejected = r.info.get("rejected_student")
        if rejected:  # the student's run before the gate rejected it is part of this photo's wall time
            spent = sum(rejected["provenance"]["timings_ms"].values())
            engine_ms["rejected_student"] = engine_ms.get("rejected_student", 0.0) + spent
        prefix = f"Face {i + 1}: " if len(results) > 1 else ""
        face_notes += [prefix + n for n in p.notes]
    tiers = {r.provenance.tier for r in results}
    if len(tiers) > 1:
        face_notes.insert(0, "Faces ran on different tiers: " + ", ".join(
            f"face {i + 1} {r.provenance.tier}" + (f" ({r.provenance.fallback_reason})" if r.provenance.fallback_reason
                                                   else "") for i, r in enumerate(results)) + ".")  # fmt: skip
    if n_faces > 1:
        face_notes.append(f"The look was generated on all {n_faces} faces, one diffusion call each; metrics describe "
                          "the largest.")  # fmt: skip
    peaks = [r.provenance.peak_memory_mb for r in results if r.provenance.peak_memory_mb is not None]
    timings = {k: round(v, 2) for k, v in engine_ms.items()}
    return Provenance(app=APP_ID, tier=main.provenance.tier, models=models, steps=main.provenance.steps,
                      guidance=main.provenance.guidance, seed=main.provenance.seed, device=main.provenance.device,
                      timings_ms=timings, peak_memory_mb=max(peaks) if peaks else None,
                      fallback_reason=main.provenance.fallback_reason, notes=face_notes + notes)  # fmt: skip


def live_student(ctx, lite: np.ndarray, face: Face, look: Look, amounts: dict[str, float], seed: int) -> np.ndarray:
    """A webcam frame's largest face through the live student (studio.live_student): the lite frame's aligned crop
    is the init image, the makeup regions the inpaint mask, the mesh the control; the result is pasted back inside
    the regions. The lite frame is returned while the student prepares, is unavailable, or the device is busy."""
    from studio.live_student import student_frame

    regions = {r: a for r, a in amounts.items() if a > 0 and look.has(r)}
    if not regions:
        return lite
    size = native_resolution(ctx.engine, APP_ID)
    crop = face.aligned_crop(lite, size)
    inpaint, alpha = crop_masks(crop, crop_face(crop, face), face, regions, lite.shape)
    prompt = prompt_for(look, {r: look.intensity.get(r, 1.0) for r in regions})
    live = student_frame(ctx, APP_ID, crop.image, mask=inpaint, control=control_image(crop.landmarks, size),
                         prompt=prompt, negative_prompt=NEGATIVE_PROMPT, seed=seed)  # fmt: skip
    return lite if live.image is None else paste(crop, live.image, lite, alpha, False)
