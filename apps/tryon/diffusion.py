"""The diffusion tiers of try-on (catalog §6.2): SDXL inpainting run by a few-step student (the Hyper-SDXL 8-step
CFG LoRA) or by the inpainting teacher itself, the garment through IP-Adapter Plus (ViT-H), the body through the
xinsir OpenPose ControlNet. Everything the pipeline is given comes from our own analysis; no human-parsing or
DensePose model is downloaded:

* **Repaint mask** — from the lite tier's parsing: the clothing region of the category joined with the warped
  garment's footprint (within the spill margin), grown by a thin ring so no fringe of the old clothes survives at
  the edge, minus what stays in front: the head and hair always; with arms in front, the hands, and the arms
  wherever no sleeve of the new garment lies on them (forearms crossing the chest keep their own pixels, while an
  upper arm under the new sleeve is repainted, as the lite tier lays its sleeves over the arms).
* **Crop** — generation runs on a crop around that mask (plus some body and background for context), shaped like
  one of the recipe's aspect buckets (3:4, 1:1, 4:3) at the recipe's native resolution, which comes from the
  catalog (SDXL: 1024 → 768×1024 for a torso), so a test catalog can ask for 64 px.
* **Init image** — the lite tier's result, inpainted at strength `LITE_INIT_STRENGTH`. The inpainting UNet sees
  the masked photo, not what was under the mask, so at strength 1 the garment would come from the IP-Adapter's
  loose image embedding alone; starting from the warped garment fixes its colour and placement on the body from
  the first step, and the remaining noise lets the model redraw folds, seams, collar and shading.
* **ControlNet** — `render_openpose` of our MediaPipe pose, mapped into the crop.
* **IP-Adapter** — the garment cut out of its backdrop onto white, squared (CLIP's processor centre-crops).
* **Prompt** — the garment's dominant colour(s) by name and the category.

The generated crop is resized back and pasted under the repaint mask only, feathered *inside* it: every pixel
outside the mask is the input's own, bit for bit. In `auto` mode the engine hands the student's crop to
`QualityGate`, which pastes it back the same way and checks the garment's colour and the pose on the full photo.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.color import ciede2000, nearest_name, rgb_to_lab
from studio.engine.request import GenerationRequest
from studio.errors import InputError
from studio.generate import merge_timings, native_resolution, run_on_engine
from studio.metrics import region_delta_e, ssim
from studio.preprocess.pose import BodyPose
from studio.preprocess.crops import BoxCrop, box_around, pose_control
from studio.schema import Preview, Result, Stopwatch

from . import report
from .garment import GarmentParse
from .lite import Dressed

#: Context kept around the repaint mask's box, in torso lengths: the model needs the neck, arms and background the
#: new garment meets to blend into them; more only spends resolution on pixels that are pasted back anyway.
CONTEXT_PAD = 0.15
#: Ring added around the agnostic region, in torso lengths: the person's own clothes reach a few pixels past the
#: segmentation, and a sliver of the old colour at the garment's edge is the most visible try-on artefact.
REPAINT_GROW = 0.015
#: Strength of the inpainting pass over the lite result. At 0.8 a scaled-linear SDXL schedule keeps roughly 20 % of
#: the init signal (√ᾱ at t = 800): the garment's colour and layout survive, the texture and folds are redrawn.
LITE_INIT_STRENGTH = 0.8
#: IP-Adapter Plus scale on the garment: above the catalog's general 0.6, because the garment's look has no other
#: channel (the prompt only names its colour); much higher and the model pastes the flat product shot.
IP_ADAPTER_SCALE = 0.7
@dataclass(frozen=True)
class GateLimits:
    """The quality gate's limits (a test or experiment injects others with `RunContext.gate_limits["tryon"]`)."""

    #: Garment colour bar (CIEDE2000 between the product shot's garment and the dressed region): the issue's bar for
    #: the lite tier. Beyond 10 a colour reads as another shade, not the same one in other light.
    max_delta_e: float = 10.0
    #: Pose drift accepted, in torso lengths (mean distance of nose, shoulders, elbows, wrists, hips between the
    #: input's pose and the pose re-detected on the result). Re-detecting on the lite result — whose body pixels are
    #: the photo's own — drifts 0.01–0.04 on the front-facing fixtures: twice the worst is detector noise, more means
    #: the model moved a shoulder or an arm.
    max_pose_drift: float = 0.08
    #: Where the detector is unsteady on this photo even for the lite result (crossed arms drift 0.2–0.26), the limit
    #: is the lite result's own drift plus this margin, so the gate judges the model and not the detector.
    drift_margin: float = 0.04


#: A pixel of the result is "garment" when it is within this CIEDE2000 of a colour of the garment's palette: folds
#: and the photo's light shift the fabric's lightness by up to ~10, another garment or skin is further away.
GARMENT_MATCH_DE = 15.0
#: Palette of the garment: up to this many k-means colours, each covering at least PALETTE_MIN_SHARE of it.
PALETTE_SIZE = 4
PALETTE_MIN_SHARE = 0.05
#: Two palette colours this far apart (CIEDE2000) are two colours of the garment, not two shades of one.
SECOND_COLOUR_DE = 25.0
#: Long side at which garment pixels are classified for coverage and spill (ratios do not need full resolution).
CLASSIFY_SIDE = 768

NOUNS = {"upper": "top", "lower": "lower-body garment", "dress": "dress"}
NEGATIVE_PROMPT = ("naked, bare torso, deformed body, extra arms, extra hands, distorted fingers, blurry, "
                   "low quality, text, watermark")  # fmt: skip
#: Colour words for the prompt, nearest by CIEDE2000 (sRGB anchors of everyday colour names).
COLOUR_NAMES = {
    "black": (25, 25, 25), "charcoal": (60, 62, 66), "grey": (128, 128, 128), "light grey": (195, 195, 195),
    "white": (245, 245, 242), "cream": (245, 235, 210), "beige": (215, 195, 160), "brown": (115, 75, 45),
    "red": (200, 30, 35), "burgundy": (110, 25, 40), "orange": (240, 130, 35), "peach": (245, 190, 160),
    "yellow": (240, 215, 50), "olive": (110, 110, 45), "lime": (205, 220, 55), "light green": (150, 210, 120),
    "green": (45, 140, 65),
    "dark green": (25, 75, 45), "teal": (25, 125, 125), "turquoise": (70, 200, 200), "light blue": (150, 190, 230),
    "blue": (40, 85, 200), "navy": (30, 40, 85), "purple": (110, 50, 150), "lavender": (185, 160, 220),
    "pale pink": (240, 205, 210), "pink": (240, 160, 195), "magenta": (210, 40, 140),
}  # fmt: skip
#: Preprocessing models the diffusion result also depends on (pose, person mask), listed with the engine's.
BODY_MODELS = ["mediapipe/pose_landmark_full", "mediapipe/selfie_segmentation"]


@dataclass
class Job:
    """One diffusion try-on, prepared: the photo-side masks and the pipeline's work-size inputs."""

    rgb: np.ndarray
    person_mask: np.ndarray  # float32 soft person mask
    parse: GarmentParse
    dressed: Dressed  # the lite result: init image, agnostic region, occluders, body fit
    category: str
    repaint: np.ndarray  # bool H×W: the only pixels of the photo the result may change
    alpha: np.ndarray  # float32 H×W paste-back weight: 0 outside `repaint`, ramping to 1 just inside it
    crop: BoxCrop  # the box of the photo the pipeline works on, and its work size
    image: np.ndarray  # work-size init image (the lite result)
    mask: np.ndarray  # work-size uint8 inpainting mask
    control: np.ndarray  # work-size OpenPose render
    reference: np.ndarray  # the garment on white, for the IP-Adapter
    palette: np.ndarray  # (k, 3) Lab colours of the garment, most common first
    prompt: str
    notes: list[str] = field(default_factory=list)

    def paste(self, image: np.ndarray) -> np.ndarray:
        """The photo with `image` (the pipeline's crop, or a preview of any size) put back under the repaint mask."""
        return self.crop.paste(image, self.rgb, self.alpha)

    def colour_region(self) -> np.ndarray:
        """Where the garment should show: the lite tier's fully-garment pixels, inside the repaint mask."""
        return report.dressed_region(self.dressed) & self.repaint


# ------------------------------------------------------------------------------------------------ preparation
def prepare(engine, rgb: np.ndarray, pose: BodyPose, person_mask: np.ndarray, parse: GarmentParse, dressed: Dressed,
            category: str) -> Job:  # fmt: skip
    torso = dressed.fit.torso
    repaint = repaint_mask(dressed)
    if not repaint.any():
        raise InputError("Nothing is left to repaint: the arms, hands and head cover the whole clothing area. Turn "
                         "'Arms in front' off, or use a photo where the torso shows.")  # fmt: skip
    box = box_around(repaint, CONTEXT_PAD * torso, native_resolution(engine, "tryon"))
    (x0, y0, x1, y1), size = box.box, box.size
    feather = max(1.0, 1.5 * box.scale)  # the generated edge is only as sharp as the work resolution
    alpha = np.clip(cv2.distanceTransform(repaint.astype(np.uint8), cv2.DIST_L2, 3) / feather, 0, 1)
    mask = box.cut(repaint.astype(np.uint8) * 255, border=cv2.BORDER_CONSTANT) > 127
    # The UNet sees the mask at 1/8 resolution: grow it by one latent cell so every pixel pasted back was generated.
    mask = cv2.dilate(mask.astype(np.uint8) * 255, np.ones((17, 17), np.uint8))
    palette, shares = garment_palette(parse)
    notes = [(f"Generated at {size[0]}×{size[1]} on a crop of the photo around the garment area ({x1 - x0}×"
              f"{y1 - y0} px at x={x0}, y={y0}) and pasted back under the repaint mask; every pixel outside it is the "
              "input's."),
             (f"Started from the lite try-on at strength {LITE_INIT_STRENGTH:g}: the warped garment sets colour and "
              "placement, the diffusion redraws folds, seams and shading.")]  # fmt: skip
    return Job(rgb=rgb, person_mask=person_mask, parse=parse, dressed=dressed, category=category, repaint=repaint,
               alpha=alpha.astype(np.float32), crop=box, image=box.cut(dressed.image), mask=mask,
               control=pose_control(pose, box, engine.catalog.app("tryon").adapters[0]),
               reference=garment_reference(parse), palette=palette,
               prompt=prompt_for(palette, shares, category), notes=notes)  # fmt: skip


def repaint_mask(dressed: Dressed) -> np.ndarray:
    """Bool H×W of the pixels the diffusion may change (see the module docstring)."""
    under = dressed.garment_under > 0.05  # the garment's footprint, already clipped to the spill margin
    sleeves = np.zeros_like(under)
    for _, alpha in dressed.warped.sleeves.values():
        sleeves |= alpha > 0.05
    keep = ((dressed.occluders > 0) & ~(sleeves & under)) | (dressed.on_top > 0)
    ring = max(1, round(REPAINT_GROW * dressed.fit.torso))
    area = ((dressed.region > 0) | under).astype(np.uint8)
    grown = cv2.dilate(area, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1,) * 2)) > 0
    return grown & ~keep  # the ring never eats into the face, the hair, the hands or arms kept in front


def garment_reference(parse: GarmentParse) -> np.ndarray:
    """The garment alone on white, squared around its mask: the IP-Adapter's image encoder centre-crops a square,
    which would cut off the sleeves of a wide top or the hem of a dress."""
    a = parse.alpha[..., None]
    cut = np.clip(parse.rgb * a + 255.0 * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(parse.mask)
    m = max(2, round(0.04 * max(np.ptp(ys), np.ptp(xs))))
    cut = cut[max(0, ys.min() - m) : ys.max() + m + 1, max(0, xs.min() - m) : xs.max() + m + 1]
    side = max(cut.shape[:2])
    top, left = (side - cut.shape[0]) // 2, (side - cut.shape[1]) // 2
    return cv2.copyMakeBorder(cut, top, side - cut.shape[0] - top, left, side - cut.shape[1] - left,
                              cv2.BORDER_CONSTANT, value=(255, 255, 255))  # fmt: skip


def garment_palette(parse: GarmentParse) -> tuple[np.ndarray, np.ndarray]:
    """(Lab colours, their shares) of the garment, most common first: k-means over its pixels (edge ring
    excluded). Several colours, because a colour-block or printed garment has no single meaningful mean."""
    lab = rgb_to_lab(parse.rgb[parse.mean_rgb_mask()][None])[0].astype(np.float32)
    lab = lab[:: max(1, len(lab) // 6000)]
    k = min(PALETTE_SIZE, len(lab))
    cv2.setRNGSeed(0)  # k-means++ seeding draws from OpenCV's RNG: a fixed seed, the same prompt every run
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
    order = [i for i in np.argsort(-shares) if shares[i] >= PALETTE_MIN_SHARE]
    return centres[order].astype(np.float64), shares[order]


def colour_name(lab: np.ndarray) -> str:
    """The colour word (COLOUR_NAMES) nearest to a Lab colour of the garment palette (exact path, like the palette)."""
    anchors = rgb_to_lab(np.array(list(COLOUR_NAMES.values()), np.uint8))
    return nearest_name(lab, dict(zip(COLOUR_NAMES, anchors)))


def prompt_for(palette: np.ndarray, shares: np.ndarray, category: str) -> str:
    """'a person wearing a teal top, photo, …': the main colour, and a second one when it covers ≥ 30 %."""
    first = colour_name(palette[0])
    # Folds and sheen split one fabric into light and dark clusters: name a second colour only when it is another
    # colour (ΔE2000 > SECOND_COLOUR_DE from the first), not a shade of it.
    other = len(palette) > 1 and shares[1] >= 0.3 and float(ciede2000(palette[0], palette[1])) > SECOND_COLOUR_DE
    second = colour_name(palette[1]) if other else first
    colour = first if second == first else f"{first} and {second}"
    article = "an" if colour[0] in "aeiou" else "a"
    return f"a person wearing {article} {colour} {NOUNS[category]}, photo, realistic fabric with natural folds"


# ------------------------------------------------------------------------------------------------ measuring
def garment_pixels(job: Job, out: np.ndarray) -> np.ndarray:
    """Bool H×W: pixels of the repainted area whose colour is one of the garment's (see GARMENT_MATCH_DE).

    A diffusion result has no garment alpha, so coverage and spill are read from colour; a garment the colour of
    the skin or the background around it counts those too (the measure is an estimate, and says so in `info`).
    """
    h, w = out.shape[:2]
    f = min(1.0, CLASSIFY_SIDE / max(h, w))
    small = cv2.resize(out, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    where = cv2.resize(job.repaint.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    found = np.zeros(where.shape, bool)
    if where.any():
        lab = rgb_to_lab(small[where][None])[0]
        d = np.min([ciede2000(lab, np.broadcast_to(c, lab.shape)) for c in job.palette], axis=0)
        found[where] = d <= GARMENT_MATCH_DE
    return (cv2.resize(found.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0) & job.repaint


def measure(ctx, job: Job, out: np.ndarray) -> dict[str, float]:
    """The lite tier's metrics (report.py), measured on a result that has no garment alpha: colour over the lite
    tier's garment area, coverage and spill from the garment's colours, SSIM outside the repainted area, pose."""
    rgb, parse, dressed = job.rgb, job.parse, job.dressed
    metrics: dict[str, float] = {}
    region = job.colour_region()
    if region.sum() >= 20:
        metrics["delta_e_garment"] = round(region_delta_e(out, region, parse.rgb, parse.mean_rgb_mask()), 2)
    garment = garment_pixels(job, out)
    poly = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(poly, [np.round(dressed.fit.torso_polygon()).astype(np.int32)], 1)
    poly = poly > 0
    if poly.any():  # arms and hands in front of the garment count as covered, as in the lite tier
        metrics["torso_coverage"] = round(float((garment | (dressed.occluders > 0))[poly].mean()), 4)
        metrics["torso_coverage_visible"] = round(float(garment[poly].mean()), 4)
    if garment.any():
        metrics["spill"] = round(float((job.person_mask[garment] <= 0.5).mean()), 4)
    changed = report._grow(job.repaint, report.SSIM_RADIUS_PX)
    if (~changed).any():
        metrics["ssim_outside_clothing"] = round(ssim(rgb, out, ~changed), 4)
    outside_region = ~report._grow(dressed.region > 0, report.SSIM_RADIUS_PX)
    if outside_region.any():
        metrics["ssim_outside_region"] = round(ssim(rgb, out, outside_region), 4)
    # The paste-back guarantee, measured: share of pixels outside the repaint mask that differ from the input.
    metrics["changed_outside_mask"] = round(float(np.any(out != rgb, axis=2)[~job.repaint].mean()), 6)
    metrics.update(report.pose_drift(ctx, rgb, out, dressed.fit.torso))
    return metrics


class QualityGate:
    """The engine's `quality_gate` for `auto`: pastes the student's crop back into the photo and checks the garment's
    colour and the pose against `GateLimits`. Returns None to pass or a sentence saying why it failed; what it
    measured is kept in `record`."""

    def __init__(self, ctx, job: Job, limits: GateLimits = GateLimits()):
        self.ctx, self.job, self.limits = ctx, job, limits
        self.record: dict = {}

    def __call__(self, image: np.ndarray) -> str | None:
        start = time.perf_counter()
        job, torso = self.job, self.job.dressed.fit.torso
        full = job.paste(image)
        limits = self.limits
        reasons, record = [], {"max_delta_e": limits.max_delta_e}
        region = job.colour_region()
        if region.sum() >= 20:
            de = region_delta_e(full, region, job.parse.rgb, job.parse.mean_rgb_mask())
            record["delta_e_garment"] = round(de, 2)
            if de > limits.max_delta_e:
                reasons.append(f"the garment's colour is off by ΔE2000 {de:.1f} (the gate allows "
                               f"{limits.max_delta_e:g})")  # fmt: skip
        lite = report.pose_drift(self.ctx, job.rgb, job.dressed.image, torso)
        drift = report.pose_drift(self.ctx, job.rgb, full, torso)
        record.update(pose=drift, lite_pose=lite)
        if not lite["pose_redetected"]:
            record["pose_check"] = "skipped: the pose model finds no body on the lite result either"
        elif not drift["pose_redetected"]:
            reasons.append("the pose model no longer finds the body on the result")
        elif "pose_drift" in drift:
            limit = max(limits.max_pose_drift, lite.get("pose_drift", 0.0) + limits.drift_margin)
            record["max_pose_drift"] = round(limit, 4)
            if drift["pose_drift"] > limit:
                reasons.append(f"the body moved: pose drift {drift['pose_drift']:.3f} torso lengths (the gate allows "
                               f"{limit:.3f})")  # fmt: skip
        record["passed"] = not reasons
        record["ms"] = round((time.perf_counter() - start) * 1000.0, 2)
        self.record = record
        return "; ".join(reasons) or None


# ------------------------------------------------------------------------------------------------ running
def run(ctx, job: Job, mode: str, steps: int | None, seed: int,
        watch: Stopwatch) -> Generator[Preview, None, Result]:  # fmt: skip
    """Yield the lite preview and the engine's step previews (pasted into the photo); return the Result.

    `mode` is the engine's (auto | fast | quality); `steps` None runs the tier's own count.
    """
    gate = QualityGate(ctx, job, ctx.limits("tryon", GateLimits())) if mode == "auto" else None
    request = GenerationRequest(
        app="tryon", mode=mode, prompt=job.prompt, negative_prompt=NEGATIVE_PROMPT, image=job.image,
        mask_image=job.mask, control_image=job.control, ip_adapter_image=job.reference,
        ip_adapter_scale=IP_ADAPTER_SCALE, strength=LITE_INIT_STRENGTH, steps=steps, seed=seed, quality_gate=gate,
        cancel=ctx.cancel,
    )  # fmt: skip
    yield Preview(job.dressed.image, 1, 1, "lite try-on (the diffusion starts from it)")
    result = yield from run_on_engine(ctx, request, job.paste)
    with watch("paste"):
        image = job.paste(result.image)
    with watch("metrics"):
        metrics = measure(ctx, job, image)
    prov = result.provenance
    prov.models = prov.models + BODY_MODELS
    app_ms = dict(watch.timings_ms)
    if gate is not None and gate.record:
        app_ms["quality_gate"] = gate.record["ms"]
    merge_timings(prov, app_ms)
    prov.notes = prov.notes + job.notes
    mask_rgb = np.repeat(job.repaint[..., None] * np.uint8(255), 3, axis=2)
    extras = {"lite try-on": job.dressed.image, "repaint mask": mask_rgb, "pose control (crop)": job.control,
              "garment reference": job.reference}  # fmt: skip
    extras.update({name: job.paste(img) for name, img in result.extras.items()})  # the rejected student, in place
    info = {"diffusion": {
        "prompt": job.prompt, "negative_prompt": NEGATIVE_PROMPT, "crop_box": list(job.crop.box),
        "work_size": list(job.crop.size), "init": "lite", "strength": LITE_INIT_STRENGTH,
        "ip_adapter_scale": IP_ADAPTER_SCALE, "repaint_pixels": int(job.repaint.sum()),
        "palette_lab": np.round(job.palette, 1).tolist(),
        "coverage_from": f"garment colours in the repainted area (ΔE2000 ≤ {GARMENT_MATCH_DE:g})",
        "quality_gate": (gate.record or None) if gate is not None else None, "engine": result.info,
    }}  # fmt: skip
    return Result(image=image, provenance=prov, before=job.rgb, extras=extras, metrics=metrics, info=info)
