"""Avatar: portraits in chosen looks that stay recognisably you, from 1–4 selfies, and a live puppet.

Tiers: `lite` (lite.py) frames, mattes, relights and restyles your own photo for each preset on the CPU; with a
driver photo or the webcam, the puppet (puppet.py) first moves your selfie with the driver's expression and head
pose. `student` / `teacher` (diffusion.py) run the catalog recipe — SDXL-Lightning 4-step or SDXL base at 30 steps,
your selfies through IP-Adapter Plus face, the pose through the xinsir OpenPose ControlNet. `auto` runs the student
with the teacher as the fallback for a named reason (missing weights, out of memory, the identity gate), or the
lite tier when no diffusion weights are installed, and says so (DESIGN §1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from studio.errors import NoFaceFound
from studio.imaging import load_image
from studio.schema import App, ChoiceParam, ImageListParam, ImageParam, Preview, Result, Stopwatch
from studio.tiers import choose_tier, lite_provenance, tier_params

from . import diffusion, driving, lite, puppet, report
from .matte import cover
from .presets import PRESETS
from .selfies import read_selfie, read_selfies

LITE_MODELS = ["mediapipe/face_mesh(refined, 478)", "mediapipe/selfie_segmentation", "dlib-resnet-v1 (identity)"]


def run(ctx, source, selfies, preset: str, background, driver, tier: str, seed: int, steps: int):
    watch = Stopwatch()
    look = PRESETS[preset]
    choice = choose_tier(ctx, "avatar", tier)  # before any work: a missing explicit tier fails fast
    with watch("selfies"):
        people = read_selfies(ctx, source, selfies)
        main = people[0]
        back = None if background is None else load_image(background, what="background photo",
                                                          max_pixels=ctx.settings.max_pixels)  # fmt: skip
    with watch("driver"):
        drv = None if driver is None else driving.read_driver(ctx, driver)
    notes = [n for s in people for n in s.notes]
    moved = details = None
    if choice.lite:
        rgb, face = main.rgb, main.face
        if drv is not None:
            with watch("puppet"):
                rgb, face, details = driving.move(ctx, main, *drv)
            yield Preview(rgb, 1, 2, "moved by the driver; framing")
            moved = rgb
        with watch("portrait"):
            done = lite.portrait(ctx, rgb, face, look, back, main.others)
        image, notes = done.image, notes + done.notes
        yield Preview(image, 2, 2, f"{look.label} ready; measuring the likeness")
        provenance = lite_provenance("avatar", choice, LITE_MODELS, {}, [])
        info = {"tier_detail": "lite", **done.info}
    else:
        pose_from = drv if drv is not None else (main.rgb, main.face)
        result = yield from diffusion.generate(ctx, people, look, pose_from, choice.mode, choice.steps(steps), seed,
                                               watch)  # fmt: skip
        with watch("finish"):
            image, done, finish_notes = finish(ctx, result.image, look, back)
        provenance, notes = result.provenance, notes + finish_notes
        info = dict(result.info)
    with watch("metrics"):
        expected = None  # where the selfie's face landed in the lite portrait (a generated one has its own)
        if choice.lite and done.transform is not None:
            expected = done.transform[:, :2] @ main.face.landmarks[:, :2].mean(0) + done.transform[:, 2]
        metrics, measured, metric_notes = report.measure(ctx, people, image, expected, look,
                                                         done.matte if done else None, done.head if done else None,
                                                         details)  # fmt: skip
    extras = report.extras(people, image, lite.matte_for(ctx, main.rgb, main.face, main.others) if choice.lite
                           else None, look, drv[0] if drv is not None else None, measured)  # fmt: skip
    if choice.lite and moved is not None and look.size is not None:
        extras["moved selfie (before framing)"] = moved
    if not choice.lite:
        extras.update(result.extras)
    provenance.timings_ms.update({k: round(v, 2) for k, v in watch.timings_ms.items()})
    provenance.notes += notes + metric_notes
    info = {"requested_tier": tier, "preset": look.id, "selfies": [s.name for s in people],
            "face_box": [round(float(v), 1) for v in main.face.box], **info, **measured}  # fmt: skip
    if details is not None:
        info["driver"] = {"head_turn_deg": details["head_turn"], "turn_limited": details["turn_limited"]}
    yield Result(image=image, provenance=provenance, before=main.rgb, extras=extras, metrics=metrics, info=info)


def finish(ctx, generated: np.ndarray, look, back):
    """A generated portrait made ready for the preset: passport framing and rules, the user's background; else
    the preset's frame. (image, lite Portrait or None, notes)"""
    faces = ctx.preprocess.faces(generated)
    if faces and (look.id == "passport" or (back is not None and look.uses_user_background)):
        done = lite.portrait(ctx, generated, faces[0], replace(look, relight=0.0, look=None, grade=(0.0, 0.0, 1.0)),
                             back, faces[1:])  # fmt: skip
        return done.image, done, done.notes
    notes = [] if faces else ["No face was found in the generated portrait, so it was not framed or finished."]
    return (cover(generated, look.size) if look.size else generated), None, notes


def live(ctx, frame, source=None, selfies=None, preset="headshot", background=None, driver=None, tier="lite",
         seed=0, steps=0):  # fmt: skip
    """One webcam frame drives the selfie (the live puppet). Without a face in the frame the selfie stays still."""
    return driving.live_frame(ctx, frame, source)


def check(ctx, values: dict) -> None:
    """Before a batch: the inputs every row shares (more selfies, background, driver) must be usable."""
    if values.get("selfies"):
        for i, value in enumerate(values["selfies"], start=2):
            read_selfie(ctx, value, f"selfie {i}")
    if values.get("background") is not None:
        load_image(values["background"], what="background photo")
    if values.get("driver") is not None:
        driving.read_driver(ctx, values["driver"])


def examples(settings) -> list[dict]:
    from studio.examples import example_file, people

    faces = people(settings, "face")  # the astronaut first, then different people, one per look in turn
    tilted = str(example_file(settings.cache_dir, "avatar_driver_tilted.png", driving.tilted_astronaut))
    # First a driven one (the page's first example, and the live endpoint's frame), then every look.
    looks = [p for p in PRESETS if p != "original"]
    return ([{"source": faces[0], "preset": "headshot", "driver": tilted, "tier": "lite"}]
            + [{"source": faces[(i + 1) % len(faces)], "preset": p, "tier": "lite"}
               for i, p in enumerate(looks)])  # fmt: skip


def bench_workload(frame):
    """`studio bench avatar`: the webcam puppet (the frame's face drives the same photo as the source, moving 8 px a
    frame), the warp alone and face tracking alone; and each preset's photo run with every metric."""
    from studio.bench.lite import Workload
    from studio.context import make_context
    from studio.live import FaceTracker

    faces = FaceTracker(skip_similar=False).faces(frame)
    if not faces:
        raise NoFaceFound("the benchmark frame", "Pass --image with a photo that shows a face.")
    rig = puppet.build_rig(frame, faces[0])
    tracker, stream, ctx = FaceTracker(max_faces=1, skip_similar=False), puppet.PuppetStream(), make_context("cpu")

    def warp(moved):
        found = tracker.faces(moved)
        return puppet.render(rig, stream.drive(rig, moved, found[0]), driving.LIVE_RASTER) if found else None

    stills = {f"preset_{name}": (lambda name=name: APP(ctx, source=_fresh(frame), preset=name, tier="lite"))
              for name in PRESETS}  # fmt: skip
    return Workload(
        values={"source": frame, "preset": "original", "tier": "lite"}, target_fps=25,
        fps_means="the webcam puppet (APP.live) at 640×480: the driver's face tracked, its offsets from its neutral "
                  "first frames smoothed, the selfie warped by one dense piecewise-affine remap, the mouth filled",
        info={"source": "the frame itself (a still copy)"}, stills=stills,
        parts={"face_tracking": lambda moved: tracker.faces(moved), "tracking_and_warp": warp},
    )  # fmt: skip


_COUNTER = [0]


def _fresh(frame: np.ndarray) -> np.ndarray:
    """A copy with one pixel changed: a new digest, so the photo is analysed afresh as a new upload would be."""
    _COUNTER[0] += 1
    out = frame.copy()
    out[0, 0, 0] = _COUNTER[0] % 256
    return out


APP = App(
    id="avatar",
    title="Avatar",
    description=(
        "Portraits in the look you choose — studio headshot, passport, LinkedIn, social, a painted portrait, a "
        "duotone poster — that stay recognisably you, from one to four selfies of yourself. Add a driver photo (or "
        "use the webcam) and your selfie takes on its expression and head pose. The lite tier runs offline on the "
        "CPU; the diffusion tiers (SDXL-Lightning student, SDXL teacher) generate new portraits and need downloaded "
        "weights."
    ),
    params=(
        ImageParam("source", "Your selfie", help="A clear, roughly frontal photo of your face (JPEG, PNG, WebP).",
                   webcam=True),
        ImageListParam("selfies", "More selfies (optional)", max_items=3, advanced=True,
                       help="Up to three more photos of the same person: checked to be you; the diffusion tiers "
                            "average them."),
        ChoiceParam("preset", "Preset", default="headshot", choices=tuple(PRESETS),
                    help="; ".join(f"{p.id}: {p.help.rstrip('.')}" for p in PRESETS.values()) + "."),
        ImageParam("background", "Background (optional)", required=False, advanced=True,
                   help="A photo to put behind you (headshot, LinkedIn, social, original)."),
        ImageParam("driver", "Driver (optional)", required=False, webcam=True, advanced=True,
                   help="A face whose expression and head pose your selfie takes (the live puppet). With the webcam, "
                        "look at the camera with a relaxed face first: that is the neutral pose."),
        *tier_params(),
    ),
    run=run,
    capabilities=frozenset({"compare", "live", "batch", "bench"}),
    recipe="avatar",
    primary_input="source",
    examples=examples,
    live=live,
    live_param="driver",
    bench_workload=bench_workload,
    check=check,
)
