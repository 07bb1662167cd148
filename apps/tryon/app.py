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


import numpy as np

from studio.cache import LRUCache
from studio.errors import InputError, ModelUnavailable
from studio.imaging import image_digest, input_key, load_image
from studio.schema import (
    App,
    ChoiceParam,
    ImageParam,
    Preview,
    Provenance,
    Result,
    SeedParam,
    SliderParam,
    Stopwatch,
    ToggleParam,
)

from . import diffusion, report
from .batch import run_batch
from .garment import GarmentParse, parse_garment
from .lite import dress
from .live import tracker_for
from .person import fit_body
from .warp import GarmentParts, split_parts

CATEGORIES = ("upper", "lower", "dress")
TIERS = ("auto", "student", "teacher", "lite")
ENGINE_MODES = {"auto": "auto", "student": "fast", "teacher": "quality"}  # tier → studio.engine mode
FETCH_COMMAND = "studio fetch tryon"
_garments = LRUCache(16)  # garment digest → (parse, parts): a new person photo never re-parses the garment


def garment_for(rgb: np.ndarray) -> tuple[GarmentParse, GarmentParts]:
    """The parsed garment and its warp pieces, cached by the product shot's digest."""
    def compute():
        parse = parse_garment(rgb)
        return parse, split_parts(parse)

    return _garments.get_or_compute(image_digest(rgb), compute)


def engine_mode(ctx, tier: str) -> tuple[str | None, str | None, list[str]]:
    """(engine mode, or None for the lite tier; fallback reason; notes), from what the engine has on disk.

    Explicit diffusion tiers never fall back to lite: a user who asked for the teacher gets told what is missing.
    """
    if tier == "lite":
        return None, None, []
    have = ctx.engine.availability("tryon")
    fetch = have["fetch"]
    if tier == "auto":
        if have["student"]["available"] or have["teacher"]["available"]:
            return "auto", None, []  # a missing student alone is the engine's fallback (teacher, "unavailable")
        note = "No diffusion weights (student or teacher) are installed, so the lite tier ran."
        return None, "unavailable", [f"{note} Fetch them with: {fetch}"]
    missing = have[tier]["missing"]
    if missing:
        listed = "; ".join(f"{sid} ({', '.join(files[:3])}{', …' if len(files) > 3 else ''})"
                           for sid, files in missing.items())  # fmt: skip
        raise ModelUnavailable(f"The try-on {tier} tier needs weights that are not on this machine: {listed}. Choose "
                               "the 'lite' tier to dress the photo offline now.", fetch_command=fetch)  # fmt: skip
    return ENGINE_MODES[tier], None, []


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
        parse, parts = garment_for(product)
    with watch("pose"):
        pose = ctx.preprocess.require_pose(rgb, what="the person photo")
        fit_body(pose, what="the person photo")  # a sideways person fails here, before any other work
        mask = ctx.preprocess.person_mask(rgb)
        region = ctx.preprocess.clothing_region(rgb, category)
    mode, fallback, notes = engine_mode(ctx, tier)  # before the work: a missing tier's error comes at once
    with watch("dress"):
        dressed = dress(rgb, pose, mask, parse, parts, category, arms_in_front, region)
    notes += garment_notes(parse, category) + dressed.notes
    if not arms_in_front:
        notes.append("Arms in front is off: the garment covers the arms where they cross the body.")
    info = {"requested_tier": tier, "category": category, "arms_in_front": arms_in_front,
            "garment": {"landmarks": parse.landmarks.to_dict(), "sleeves": parse.sleeves,
                        "length_to_chest": round(parse.length / parse.chest_width, 3),
                        "looks_like_dress": parse.looks_like_dress},
            "body_targets": {k: [round(float(v[0]), 1), round(float(v[1]), 1)] for k, v in
                             dressed.warped.targets.items()}}  # fmt: skip
    extras = report.extras(rgb, parse, dressed)
    if mode is not None:
        with watch("crop"):  # not "prepare": the engine reports a phase of that name
            job = diffusion.prepare(ctx.engine, rgb, pose, mask, parse, dressed, category)
        result = yield from diffusion.run(ctx, job, mode, seed, steps, watch)
        result.provenance.notes += notes
        result.extras = {**extras, **result.extras}
        result.info = {**info, **result.info}
        yield result
        return
    yield Preview(dressed.image, 1, 2, "lite try-on composited; measuring")
    with watch("metrics"):
        metrics = report.measure(ctx, rgb, mask, parse, dressed)
    provenance = Provenance(app="tryon", tier="lite", models=list(diffusion.BODY_MODELS), device="cpu",
                            fallback_reason=fallback, notes=notes,
                            timings_ms={k: round(v, 2) for k, v in watch.timings_ms.items()})  # fmt: skip
    yield Result(image=dressed.image, provenance=provenance, before=rgb, extras=extras, metrics=metrics, info=info)


def live(ctx, frame, person=None, garment=None, category="upper", tier="lite", seed=0, steps=4, arms_in_front=True):
    """One webcam frame through the lite tier (the body tracked across frames). A frame with nobody in it, or a
    person turned sideways, comes back unchanged; a missing or unusable garment raises as in a still run."""
    rgb = load_image(frame if frame is not None else person, what="webcam frame")
    tracker = tracker_for(ctx)
    if garment is None:
        raise InputError("Upload a garment photo to try on.")
    parse, parts = tracker.remember(("garment", input_key(garment)),
                                    lambda: garment_for(load_image(garment, what="garment photo")))  # fmt: skip
    pose, mask = tracker.body(rgb)
    if pose is None:
        return rgb
    try:
        return dress(rgb, pose, mask, parse, parts, category, arms_in_front).image
    except InputError:
        return rgb  # turned away or half out of frame: show the camera as it is until the body is usable


def examples(settings) -> list[dict]:
    from studio.examples import sample_image

    from .samples import GARMENTS, sample_garment

    person = str(sample_image("astronaut", settings.cache_dir))
    return [{"person": person, "garment": str(sample_garment(name, settings.cache_dir)), "category": "upper",
             "tier": "lite"} for name in GARMENTS]


def bench(**kwargs) -> dict:
    from .bench import bench_tryon

    return bench_tryon(**kwargs)


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
        ChoiceParam("tier", "Tier", help="auto = the student, its teacher on a named failure, lite without weights; "
                    "student/teacher need diffusion weights; lite runs offline on the CPU.", default="auto",
                    choices=TIERS),
        SeedParam("seed", "Seed", help="Diffusion tiers only (the lite tier is deterministic)."),
        SliderParam("steps", "Steps", help="The diffusion student's denoising steps (8 suits its Hyper-SD 8-step "
                    "LoRA); the teacher runs its recipe's own count.", default=8, minimum=1,
                    maximum=50, step=1, integer=True),
        ToggleParam("arms_in_front", "Arms in front", default=True,
                    help="Keep arms and hands that cross the body in front of the garment. Turn off when the arms "
                         "are behind the back, so the garment covers where the pose guessed them."),
    ),
    run=run,
    examples=examples,
    live=live,
    live_param="person",
    bench=bench,
    batch=run_batch,
)
