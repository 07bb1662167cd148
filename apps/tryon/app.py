"""Virtual try-on: dress the person in a photo (or the webcam) in the garment from a product shot.

Every run starts with the lite tier: the garment is cut out of its plain backdrop and read for landmarks
(garment.py), warped onto the body from the shared pose (warp.py), and composited under arms, hands and hair with
the shading of the person's own clothes (lite.py). The diffusion tiers (diffusion.py) repaint the lite tier's
agnostic region from its result with SDXL inpainting, the garment through IP-Adapter and the pose through
ControlNet. Tiers map to engine modes (DESIGN §1): `auto` runs the student with the teacher as a named fallback
and the lite tier when no diffusion weights are installed; `student` and `teacher` run that tier or raise
ModelUnavailable with the fetch command; `lite` never touches the engine.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.errors import InputError
from studio.imaging import image_digest, input_key, load_image, shrink_to, upsample_box
from studio.live import body_tracker
from studio.preprocess.pose import BodyPose
from studio.schema import App, ChoiceParam, ImageParam, Preview, Result, Stopwatch, ToggleParam
from studio.tiers import choose_tier, lite_provenance, tier_params

from . import diffusion, report
from .garment import GarmentParse, parse_garment
from .lite import dress
from .person import fit_body
from .warp import GarmentParts, split_parts

CATEGORIES = ("upper", "lower", "dress")
#: The lite tier dresses photos larger than this at this size and lays the garment into the full photo.
LITE_WORK_PIXELS = 2_000_000
BENCH_GARMENT = "tee_red"


def garment_for(ctx, rgb: np.ndarray) -> tuple[GarmentParse, GarmentParts]:
    """The parsed garment and its warp pieces, cached by the product shot's digest: a new person photo, or a
    webcam frame, never re-parses the garment."""
    def compute():
        parse = parse_garment(rgb)
        return parse, split_parts(parse)

    return ctx.cache("tryon.garments").get_or_compute(image_digest(rgb), compute)


def garment_notes(parse: GarmentParse, category: str) -> list[str]:
    notes = []
    ratio = parse.length / parse.chest_width
    if category == "upper" and parse.looks_like_dress:
        notes.append(f"The garment looks like a dress (its length is {ratio:.1f}× its chest width, longer than "
                     "tops measure). It was dressed from the shoulders down at its own length; choose the 'dress' "
                     "category to fit the skirt to the legs.")  # fmt: skip
    if category == "lower" and parse.sleeves:
        notes.append("The garment has sleeves, so it looks like a top; the 'lower' category fits its top edge to "
                     "the waist. Choose 'upper' for tops.")  # fmt: skip
    return notes


def run(ctx, person, garment, category: str, tier: str, seed: int, steps: int, arms_in_front: bool):
    watch = Stopwatch()
    with watch("inputs"):
        rgb = load_image(person, what="person photo", max_pixels=ctx.settings.max_pixels)
        product = load_image(garment, what="garment photo", max_pixels=ctx.settings.max_pixels)
    with watch("garment"):
        parse, parts = garment_for(ctx, product)
    with watch("pose"):
        pose = ctx.preprocess.require_pose(rgb, what="the person photo")
        fit_body(pose, what="the person photo")  # a sideways person fails here, before any other work
        mask = ctx.preprocess.person_mask(rgb)
        region = ctx.preprocess.clothing_region(rgb, category)
    choice = choose_tier(ctx, "tryon", tier, "try-on")  # before the work: a missing tier's error comes at once
    full = rgb
    if choice.lite and rgb.shape[0] * rgb.shape[1] > LITE_WORK_PIXELS:
        rgb, pose, mask, region = _working_size(rgb, pose, mask, region)
    with watch("dress"):
        dressed = dress(rgb, pose, mask, parse, parts, category, arms_in_front, region)
    notes = garment_notes(parse, category) + dressed.notes
    if rgb is not full:
        notes.append(f"The {full.shape[1]}×{full.shape[0]} photo was dressed at {rgb.shape[1]}×{rgb.shape[0]} and "
                     "the garment laid into the full-size photo (everything else keeps its full resolution); the "
                     "metrics and detail images are at the working size.")  # fmt: skip
    if not arms_in_front:
        notes.append("Arms in front is off: the garment covers the arms where they cross the body.")
    info = {"requested_tier": tier, "category": category, "arms_in_front": arms_in_front,
            "garment": {"landmarks": parse.landmarks.to_dict(), "sleeves": parse.sleeves,
                        "length_to_chest": round(parse.length / parse.chest_width, 3),
                        "looks_like_dress": parse.looks_like_dress},
            "body_targets": {k: [round(float(v[0]), 1), round(float(v[1]), 1)] for k, v in
                             dressed.warped.targets.items()}}  # fmt: skip
    extras = report.extras(rgb, parse, dressed)
    if not choice.lite:
        with watch("crop"):  # not "prepare": the engine reports a phase of that name
            job = diffusion.prepare(ctx.engine, rgb, pose, mask, parse, dressed, category)
        result = yield from diffusion.run(ctx, job, choice.mode, choice.steps(steps), seed, watch)
        result.provenance.notes += notes
        result.extras = {**extras, **result.extras}
        result.info = {**info, **result.info}
        yield result
        return
    yield Preview(dressed.image, 1, 2, "lite try-on composited; measuring")
    with watch("metrics"):
        metrics = report.measure(ctx, rgb, mask, parse, dressed)
    image = dressed.image
    if rgb is not full:
        with watch("full size"):
            image = _lay_into(full, rgb, dressed)
    provenance = lite_provenance("tryon", choice, diffusion.BODY_MODELS, watch.timings_ms, notes)
    yield Result(image=image, provenance=provenance, before=full, extras=extras, metrics=metrics, info=info)


def _working_size(rgb: np.ndarray, pose: BodyPose, mask: np.ndarray, region: np.ndarray):
    """The photo and its analysis scaled down to `LITE_WORK_PIXELS`: a classical warp of a ~1-megapixel product
    shot gains nothing from 49 megapixels of person, and every full-size float mask costs 200 MB there."""
    small = shrink_to(rgb, LITE_WORK_PIXELS)
    (h, w), size = rgb.shape[:2], (small.shape[1], small.shape[0])
    kp = pose.keypoints.copy()
    kp[:, [0, 2]] *= size[0] / w  # z is scaled like x
    kp[:, 1] *= size[1] / h
    return (small, BodyPose(kp, small.shape[:2]), cv2.resize(mask, size, interpolation=cv2.INTER_AREA),
            cv2.resize(region, size, interpolation=cv2.INTER_NEAREST))  # fmt: skip


def _lay_into(full: np.ndarray, small: np.ndarray, dressed) -> np.ndarray:
    """The working-size result laid into the full-size photo: only where the try-on changed something (the garment,
    filled-in clothes), with a soft edge; hands and arms in front of it and everything else stay full resolution."""
    changed = np.maximum(dressed.garment_alpha, dressed.filled.astype(np.float32))
    changed = np.maximum(changed, (np.abs(dressed.image.astype(np.int16) - small).max(axis=2) > 2).astype(np.float32))
    changed = cv2.dilate(changed, np.ones((3, 3), np.uint8))
    out = full.copy()
    found = upsample_box(full.shape, changed > 0, changed, dressed.image)
    if found is not None:
        box, (a, top) = found
        base = full[box].astype(np.float32)
        out[box] = np.clip(base + (top.astype(np.float32) - base) * a[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out


def live(ctx, frame, person=None, garment=None, category="upper", tier="lite", seed=0, steps=0, arms_in_front=True):
    """One webcam frame through the lite tier (the body tracked across frames). A frame with nobody in it, or a
    person turned sideways, comes back unchanged; a missing or unusable garment raises as in a still run."""
    rgb = load_image(frame if frame is not None else person, what="webcam frame")
    tracker = body_tracker(ctx, "tryon")
    if garment is None:
        raise InputError("Upload a garment photo to try on.")
    parse, parts = tracker.remember(("garment", input_key(garment)),
                                    lambda: garment_for(ctx, load_image(garment, what="garment photo")))  # fmt: skip
    pose, mask = tracker.body(rgb)
    if pose is None:
        return rgb
    try:
        return dress(rgb, pose, mask, parse, parts, category, arms_in_front).image
    except InputError:
        return rgb  # turned away or half out of frame: show the camera as it is until the body is usable


def examples(settings) -> list[dict]:
    from studio.examples import people

    from .samples import GARMENTS, sample_garment

    persons = people(settings, "body")  # different people, one per garment in turn
    return [{"person": persons[i % len(persons)], "garment": str(sample_garment(name, settings.cache_dir)),
             "category": "upper", "tier": "lite"} for i, name in enumerate(GARMENTS)]  # fmt: skip


def bench_workload(frame):
    """`studio bench tryon`: the drawn red T-shirt (samples.py) on a person moving 6 px a frame, the garment parsed
    once as in a session where it stays and the camera runs; the try-on alone and body tracking alone beside it."""
    from studio.bench.lite import Workload
    from studio.errors import NoPersonFound
    from studio.live import BodyTracker
    from studio.preprocess.pose import BodyAnalyzer

    from .samples import draw_garment

    body, tracker, garment = BodyAnalyzer(), BodyTracker(skip_similar=False), draw_garment(BENCH_GARMENT)
    pose = body.pose(frame)
    if pose is None:
        raise NoPersonFound("the benchmark frame", "Pass --image with a photo of a person facing the camera.")
    mask = body.person_mask(frame)
    parse = parse_garment(garment)
    parts = split_parts(parse)
    return Workload(
        values={"person": frame, "garment": garment, "tier": "lite"}, target_fps=15,
        motion_px=(-12, -6, 0, 6, 12, 6, 0, -6), info={"garment": f"samples.{BENCH_GARMENT}"},
        fps_means="the webcam path (APP.live) on a person moving 6 px per frame at 640×480: pose + segmentation, "
                  "warp and composite on every frame; the garment parsed once",
        parts={"tryon_only": lambda moved: dress(frame, pose, mask, parse, parts),
               "body_tracking": lambda moved: tracker.body(moved)},
        photo_sizes_mp=(3, 12),  # issue 11: a 12 MP phone photo in ≤ 3 s, cost no faster than pixels
    )  # fmt: skip


APP = App(
    id="tryon",
    title="Virtual try-on",
    description=(
        "Dress the person in your photo — or on your webcam — in the garment from a product shot. The garment is "
        "cut out of its plain backdrop, fitted to the shoulders, chest, arms and hips, and slips under crossed "
        "arms and long hair while keeping the folds and light of the photo. The lite tier runs offline on the CPU "
        "at webcam rates; the diffusion tiers (SDXL inpainting with a few-step student, or its teacher) redraw the "
        "garment from there and need downloaded weights."
    ),
    params=(
        ImageParam("person", "Person photo", help="A front-facing photo showing at least head to hips (JPEG, PNG).",
                   webcam=True),
        ImageParam("garment", "Garment photo", help="A product shot of one garment on a plain white or grey backdrop."),
        ChoiceParam("category", "Category", help="upper = tops, lower = trousers and skirts, dress = dresses.",
                    default="upper", choices=CATEGORIES),
        *tier_params(),
        ToggleParam("arms_in_front", "Arms in front", default=True, advanced=True,
                    help="Keep arms and hands that cross the body in front of the garment. Turn off when the arms "
                         "are behind the back, so the garment covers where the pose guessed them."),
    ),
    run=run,
    capabilities=frozenset({"compare", "live", "batch", "bench"}),
    recipe="tryon",
    examples=examples,
    live=live,
    live_param="person",
    bench_workload=bench_workload,
)
