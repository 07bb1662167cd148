"""Makeup transfer: copy a reference photo's makeup, or a named preset look, onto every face in a photo.

Tiers: `lite` (lite.py) is region-by-region colour transfer on the shared face mesh, offline and at webcam
rates. `student` / `teacher` (diffusion.py) run the catalog recipe — SD1.5 inpainting with the LCM-LoRA
student or the full teacher, MediaPipe-face ControlNet, IP-Adapter plus-face — on each aligned face crop and
paste the makeup regions back. `auto` runs the student with the teacher as fallback for a named reason
(missing student weights, out of memory, the quality gate), or the lite tier when no diffusion weights are
installed, and says so (DESIGN §1). An explicit `student` / `teacher` without weights is an error naming the
fetch command, never a silent lite run.
"""

from __future__ import annotations

import numpy as np

from studio.errors import InputError, NoFaceFound
from studio.imaging import image_digest, input_key, load_image, shrink_to, upsample_box
from studio.live import face_tracker
from studio.schema import App, ChoiceParam, ImageParam, Preview, Result, SliderParam, Stopwatch, ToggleParam
from studio.tiers import choose_tier, lite_provenance, tier_params

from . import diffusion, report
from .lite import apply_look
from .look import extract_look, is_grayscale
from .presets import PRESETS, preset_look
from .regions import REGION_TABLE

LITE_MODELS = ["mediapipe/face_mesh(refined, 478)"]
BENCH_PRESET = "classic_red"
#: The lite tier works on photos larger than this at this size and lays the colour change over the full photo.
LITE_WORK_PIXELS = 4_000_000


def resolve_look(ctx, reference, preset: str):
    """(look, reference RGB or None, its face or None, notes) for a preset name or a reference photo."""
    names = ", ".join(PRESETS)
    looks = ctx.cache("makeup.looks")  # reference digest / preset name → Look: a slider move never re-reads it
    if preset != "reference":
        notes = [f"Preset '{preset}' was used; the reference photo was not."] if reference is not None else []
        return looks.get_or_compute(("preset", preset), lambda: preset_look(preset)), None, None, notes
    if reference is None:
        raise InputError(f"Upload a makeup reference photo, or choose a preset look ({names}).")
    ref = load_image(reference, what="makeup reference photo", max_pixels=ctx.settings.max_pixels)
    faces = ctx.preprocess.faces(ref)
    if not faces:
        raise NoFaceFound("the makeup reference photo", "Use a clear, roughly frontal photo of the made-up face, "
                          f"or choose a preset look ({names}).")  # fmt: skip
    if is_grayscale(ref, faces[0]):
        raise InputError("The makeup reference photo is black-and-white, so it has no makeup colours to copy. "
                         f"Use a colour photo, or choose a preset look ({names}).")  # fmt: skip
    look = looks.get_or_compute(("reference", image_digest(ref)), lambda: extract_look(ref, faces[0]))
    notes = list(look.notes)
    if len(faces) > 1:
        notes.append(f"The reference shows {len(faces)} faces: the look was taken from the largest.")
    return look, ref, faces[0], notes


def strengths(values: dict) -> dict[str, float]:
    """Region → strength, 0 for regions switched off."""
    return {region: float(values[f"{region}_strength"]) if values[region] else 0.0 for region in REGION_TABLE}


def run(ctx, source, reference, preset: str, tier: str, seed: int, steps: int, **regions):
    watch = Stopwatch()
    choice = choose_tier(ctx, "makeup", tier)  # before any work: a missing explicit tier fails fast
    with watch("read"):  # (not "load": in the diffusion tiers that is the engine's model loading)
        rgb = load_image(source, what="source photo", max_pixels=ctx.settings.max_pixels)
    with watch("reference"):
        look, ref, ref_face, notes = resolve_look(ctx, reference, preset)
    full = rgb
    if choice.lite:
        # Makeup is a smooth colour change laid over the photo's own texture: worked out on a copy of at most
        # LITE_WORK_PIXELS and added to the full-size photo, it looks the same at a fraction of the time and memory.
        rgb = shrink_to(rgb, LITE_WORK_PIXELS)
    with watch("faces"):
        cap = ctx.settings.max_faces
        faces = ctx.preprocess.require_faces(rgb, what="the source photo", max_faces=cap + 1)
    if len(faces) > cap:
        faces = faces[:cap]
        notes.append(f"The photo has more than {cap} faces: the {cap} largest were made up (raise STUDIO_MAX_FACES "
                     "for more).")  # fmt: skip
    amounts = strengths(regions)
    painted = [r for r, v in amounts.items() if v > 0 and look.has(r)]
    if not choice.lite and not painted:
        choice = choice.run_lite("Every makeup region is switched off, so nothing was generated.")
    extras, info = {}, {}  # the diffusion tiers' own
    if choice.lite:
        with watch("makeup"):
            out, paint_notes = apply_look(rgb, faces, look, amounts)
        yield Preview(out, 1, 2, "lite look applied; measuring")
        provenance = lite_provenance("makeup", choice, LITE_MODELS, {}, paint_notes)
        if len(faces) > 1:
            notes.append(f"The look was applied to all {len(faces)} faces; metrics describe the largest.")
    else:
        done = yield from diffusion.transfer(ctx, rgb, faces, look, amounts, painted, ref, ref_face, choice.mode,
                                             seed, choice.steps(steps), watch)  # fmt: skip
        out, provenance, extras, info = done.image, done.provenance, done.extras, {"diffusion": done.info}
    with watch("metrics"):
        metrics, details = report.measure(ctx, rgb, out, faces, look, painted, ref, ref_face)
    extras = {"before | after": report.side_by_side([rgb, out] + ([ref] if ref is not None else [])),
              "close-up": report.close_up(rgb, out, faces[0]),
              "makeup regions": report.regions_overlay(rgb, faces, painted), "look": report.swatches(look), **extras}
    provenance.timings_ms.update({k: round(v, 2) for k, v in watch.timings_ms.items()})
    provenance.notes += notes + [n for f in faces for n in f.notes]
    info = {"requested_tier": tier, "look": look.to_dict(), "regions_painted": painted, "faces": len(faces),
            "face_boxes": [[round(float(v), 1) for v in f.box] for f in faces], **details, **info}  # fmt: skip
    if rgb is not full:
        with watch("full size"):
            out = _lay_into(full, rgb, out)
        provenance.timings_ms["full size"] = round(watch.timings_ms["full size"], 2)
        provenance.notes.append(f"The {full.shape[1]}×{full.shape[0]} photo was made up at {rgb.shape[1]}×"
                                f"{rgb.shape[0]} and the colour change laid over the full-size photo (its own detail "
                                "and texture stay); metrics, face boxes and detail images are at the working size.")  # fmt: skip
    yield Result(image=out, provenance=provenance, before=full, extras=extras, metrics=metrics, info=info)


def _lay_into(full: np.ndarray, small: np.ndarray, out_small: np.ndarray) -> np.ndarray:
    """The working-size makeup laid over the full-size photo: the change it made (out − in), scaled up and added to
    the full photo inside the box where anything changed."""
    delta = out_small.astype(np.float32) - small.astype(np.float32)
    out = full.copy()
    found = upsample_box(full.shape, np.abs(delta).max(axis=2) > 0.5, delta)
    if found is not None:
        box, (up,) = found
        out[box] = np.clip(full[box].astype(np.float32) + up + 0.5, 0, 255).astype(np.uint8)
    return out


def live(ctx, frame, source=None, reference=None, preset="reference", tier="lite", seed=0, steps=0, **regions):
    """One webcam frame through the lite tier (faces tracked across frames), then, with tier "student", through the
    live student (diffusion.live_student). A frame without a face comes back unchanged; a missing or faceless
    reference raises the same errors as a still run."""
    rgb = load_image(frame if frame is not None else source, what="webcam frame")
    tracker = face_tracker(ctx, "makeup")
    look = tracker.remember(("look", input_key(reference), preset), lambda: resolve_look(ctx, reference, preset)[0])
    faces = tracker.faces(rgb)
    if not faces:
        return rgb
    out = apply_look(rgb, faces, look, strengths(regions))[0]
    return diffusion.live_student(ctx, out, faces[0], look, strengths(regions), seed) if tier == "student" else out


def check(ctx, values: dict) -> None:
    """Before a batch: the look every photo shares must be usable (a reference with a face, or a preset)."""
    resolve_look(ctx, values["reference"], values["preset"])


def examples(settings) -> list[dict]:
    from studio.examples import people

    faces = people(settings, "face")  # different people, one per look in turn
    return [{"source": faces[i % len(faces)], "preset": name, "tier": "lite"} for i, name in enumerate(PRESETS)]


def bench_workload(frame):
    """`studio bench makeup`: the classic_red preset with every region on (the most work a frame can need), the
    webcam path beside a close-up (the face filling the frame), face tracking alone and the painting alone."""
    from studio.bench import close_up_frame
    from studio.bench.lite import Workload
    from studio.live import FaceTracker

    values = APP.validate({"source": frame, "preset": BENCH_PRESET, "tier": "lite"})
    look, amounts, tracker = preset_look(BENCH_PRESET), strengths(values), FaceTracker(skip_similar=False)
    faces = tracker.faces(frame)
    if not faces:
        raise NoFaceFound("the benchmark frame", "Pass --image with a photo that shows a face.")
    return Workload(
        values=values, target_fps=30, streams={"close_up": close_up_frame()}, info={"faces": len(faces),
        "look": BENCH_PRESET}, fps_means="the webcam path (APP.live) on a face moving 8 px per frame at 640×480: "
        "face mesh + masks + makeup on every frame",
        parts={"face_tracking_with_masks": lambda moved: [f.regions for f in tracker.faces(moved)],
               "makeup_only": lambda moved: apply_look(frame, faces, look, amounts)},
        photo_sizes_mp=(3, 12),  # issue 11: a 12 MP phone photo in ≤ 3 s, cost no faster than pixels
    )  # fmt: skip


def _region_params():
    for r in REGION_TABLE.values():  # in the order a makeup artist lists them
        yield ToggleParam(r.id, r.label, help=f"Switch {r.label.lower()} on or off.", default=True, advanced=True)
        yield SliderParam(f"{r.id}_strength", f"{r.label} strength", help=r.help[0].upper() + r.help[1:] + ".",
                          default=r.default, advanced=True)  # fmt: skip


APP = App(
    id="makeup",
    title="Makeup transfer",
    description=(
        "Copy the makeup from a reference photo — or pick a preset look — onto every face in your photo: "
        "lipstick that keeps your lips' texture, eyeshadow with its lid-to-crease gradient, liner, blush, "
        "foundation and brows, each with its own switch and strength. The lite tier runs offline on the CPU, "
        "fast enough for the webcam; the diffusion tiers (student, teacher) re-render the makeup regions on each "
        "face and need downloaded weights."
    ),
    params=(
        ImageParam("source", "Your photo", help="A photo with one or more faces (JPEG, PNG, WebP).", webcam=True),
        ImageParam("reference", "Makeup reference", help="A photo of the made-up face to copy (its largest face).",
                   required=False),  # fmt: skip
        ChoiceParam("preset", "Look", help="'reference' copies the reference photo; any other is a preset look.",
                    default="reference", choices=("reference", *PRESETS)),  # fmt: skip
        *_region_params(),
        *tier_params(),
    ),
    run=run,
    capabilities=frozenset({"compare", "live", "batch", "bench"}),
    recipe="makeup",
    examples=examples,
    live=live,
    live_param="source",
    bench_workload=bench_workload,
    check=check,
)
