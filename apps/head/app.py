"""Head stylization: a cartoon, comic, anime or painted head that is still you, with the rest of the photo untouched.

Tiers: `lite` (lite.py) masks every head (selfie mask cut round the face oval), reshapes it with a mesh-driven
caricature warp, restyles it with the preset's filters and composites it back — offline, at webcam rates.
`student` / `teacher` (diffusion.py) run the catalog recipe — SD1.5 with the Hyper-SD 8-step CFG LoRA or the full
teacher, MediaPipe-face ControlNet, IP-Adapter plus-face, an optional user style LoRA — on each aligned head crop,
from the lite result, and paste back through the head mask. `auto` runs the student with the teacher as fallback
for a named reason (missing student weights, out of memory, the identity/background gate), or the lite tier when
no diffusion weights are installed, and says so (DESIGN §1).
"""

from __future__ import annotations

import functools

from studio.engine import user_loras
from studio.imaging import image_digest, input_key, load_image
from studio.preprocess.head import HeadTracker
from studio.schema import App, ChoiceParam, ImageParam, Param, Preview, Result, SliderParam, Stopwatch
from studio.tiers import choose_tier, lite_provenance, tier_params

from . import diffusion, report
from .lite import stylise_frame, stylise_photo
from .presets import PRESETS
from .style import read_style

LITE_MODELS = ["mediapipe/face_mesh(refined, 478)", "mediapipe/selfie_segmentation"]
BENCH_PRESET = "cartoon"


class LoraParam(Param):
    """A style LoRA's file name in models/loras/ ("" = none): a text field in the UI, `--lora` in the CLI."""

    kind = "text"

    def validate(self, value):
        name = "" if value is None else str(value).strip()
        return "" if name.lower() in ("", "none") else name


def style_for(ctx, style):
    """The style reference's palette and line character (cached by the image's digest), or None."""
    if style is None:
        return None
    rgb = load_image(style, what="style reference image", max_pixels=ctx.settings.max_pixels)
    return ctx.cache("head.styles").get_or_compute(image_digest(rgb), lambda: read_style(rgb))


def lora_for(ctx, name: str, weight: float) -> tuple:
    """((UserLora, weight),) for a named user LoRA, () for none; a missing file lists what is there."""
    if not name:
        return ()
    return ((user_loras.find(ctx.settings.models_dir, name, _catalog()), float(weight)),)


@functools.cache
def _catalog():
    from studio.models import load_catalog

    return load_catalog()


def run(ctx, source, preset: str, style, caricature: float, lora: str, lora_weight: float, tier: str, seed: int,
        steps: int):  # fmt: skip
    watch = Stopwatch()
    choice = choose_tier(ctx, "head", tier, "head stylization")  # before any work: a missing tier fails fast
    with watch("read"):
        rgb = load_image(source, what="source photo", max_pixels=ctx.settings.max_pixels)
        palette = style_for(ctx, style)
    loras = lora_for(ctx, lora, lora_weight)
    limit = ctx.settings.max_faces
    with watch("faces"):
        faces = ctx.preprocess.require_faces(rgb, what="the source photo", max_faces=limit + 1)
    notes = []
    if len(faces) > limit:
        notes.append(f"The photo shows more than {limit} faces: the {limit} largest were stylised.")
    faces = faces[:limit]
    with watch("person_mask"):
        person = ctx.preprocess.person_mask(rgb)
    with watch("lite"):
        lite = stylise_photo(rgb, faces, person, PRESETS[preset], caricature, palette)
    notes += lite.notes
    extras, info = {}, {}
    if choice.lite:
        out = lite.image
        yield Preview(out, 1, 2, "lite head stylised; measuring")
        if loras:
            notes.append(f"The LoRA {lora} is used by the diffusion tiers only; the lite tier ran without it.")
        provenance = lite_provenance("head", choice, LITE_MODELS, {})
    else:
        done = yield from diffusion.generate(ctx, rgb, faces, lite, preset, loras, choice.mode, seed,
                                             choice.steps(steps), watch)  # fmt: skip
        out, provenance, extras, info = done.image, done.provenance, done.extras, {"diffusion": done.info}
        if palette is not None:
            notes.append("The style reference's palette reached the model through the lite first pass (its init).")
    with watch("metrics"):
        metrics, details = report.measure(ctx, rgb, out, faces, lite.masks, lite.alpha)
    extras = {"before | after": report.side_by_side([rgb, out]), "close-up": report.close_up(rgb, out, lite.masks),
              "head mask (face red, hair blue) and the generous head box": report.masks_overlay(rgb, lite.masks),
              "caricature warp (before the look)": report.close_up(rgb, lite.warped, lite.masks), **extras}
    if palette is not None:
        extras["style palette"] = report.swatches(palette.to_dict()["palette"])
    provenance.timings_ms.update({k: round(v, 2) for k, v in watch.timings_ms.items()})
    provenance.notes += notes + [n for f in faces for n in f.notes]
    info = {"requested_tier": tier, "preset": preset, "caricature": caricature, "faces": len(faces),
            "face_boxes": [[round(float(v), 1) for v in f.box] for f in faces], "feature_scales": lite.scales,
            "style": palette.to_dict() if palette is not None else None,
            "lora": [u.to_dict() | {"weight": w} for u, w in loras],
            "user_loras_available": [u.to_dict() for u in user_loras.scan(ctx.settings.models_dir, _catalog())],
            **details, **info}  # fmt: skip
    yield Result(image=out, provenance=provenance, before=rgb, extras=extras, metrics=metrics, info=info)


def live(ctx, frame, source=None, preset="cartoon", style=None, caricature=0.5, lora="", lora_weight=0.8,
         tier="lite", seed=0, steps=0):  # fmt: skip
    """One webcam frame through the lite tier (faces and the person mask tracked across frames). A frame without a
    face comes back unchanged; an unreadable style reference raises as in a still run."""
    rgb = load_image(frame if frame is not None else source, what="webcam frame")
    tracker = ctx.shared("head.tracker", HeadTracker)
    palette = tracker.remember(("style", input_key(style)), lambda: style_for(ctx, style))
    faces, person = tracker.heads(rgb)
    return stylise_frame(rgb, faces, person, PRESETS[preset], caricature, palette) if faces else rgb


def check(ctx, values: dict) -> None:
    """Before a batch: the shared style reference and LoRA must be usable."""
    style_for(ctx, values["style"])
    lora_for(ctx, values["lora"], values["lora_weight"])


def examples(settings) -> list[dict]:
    from studio.examples import people

    from .style import poster_example

    faces = people(settings, "face")  # different people, one per style in turn
    rows = [{"source": faces[i % len(faces)], "preset": name, "tier": "lite"} for i, name in enumerate(PRESETS)]
    return rows + [{"source": faces[len(rows) % len(faces)], "preset": "comic",
                    "style": str(poster_example(settings.cache_dir)), "tier": "lite"}]  # fmt: skip


def bench_workload(frame):
    """`studio bench head`: the cartoon preset at the default caricature on a face moving 8 px a frame at 640×480 —
    face mesh, selfie mask, head masks, warp, look and composite every frame; each part timed alone beside it."""
    from studio.bench import close_up_frame
    from studio.bench.lite import Workload
    from studio.errors import NoFaceFound
    from studio.preprocess.head import head_masks


    values = APP.validate({"source": frame, "preset": BENCH_PRESET, "tier": "lite"})
    tracker = HeadTracker(skip_similar=False)
    faces, person = tracker.heads(frame)
    if not faces:
        raise NoFaceFound("the benchmark frame", "Pass --image with a photo that shows a face.")
    masks = head_masks(frame, faces, person)
    preset = PRESETS[BENCH_PRESET]
    return Workload(
        values=values, target_fps=20, streams={"close_up": close_up_frame()},
        info={"faces": len(faces), "preset": BENCH_PRESET, "caricature": values["caricature"]},
        fps_means="the webcam path (APP.live) on a face moving 8 px per frame at 640×480: face mesh + selfie mask on "
                  "the frame, head masks + caricature warp + cartoon look at 320×240, composite at 640×480, every "
                  "frame",
        parts={"tracking_and_selfie_mask": lambda moved: tracker.heads(moved),
               "stylise_at_live_size": lambda moved: stylise_frame(frame, faces, person, preset, 0.5),
               "stylise_full_size_still": lambda moved: stylise_photo(frame, faces, person, preset, 0.5, masks=masks)},
    )  # fmt: skip


APP = App(
    id="head",
    title="Head stylization",
    description=(
        "Turn the heads in your photo into a cartoon, a comic drawing, an anime character or a painting — still "
        "recognisably you, with the background, neck and clothes left exactly as they were. Caricature enlarges the "
        "eyes and exaggerates what makes the face yours; a style image lends its colours and line character. The "
        "lite tier runs offline on the CPU, fast enough for the webcam; the diffusion tiers (student, teacher) "
        "redraw each head with SD1.5 and need downloaded weights. Drop a style LoRA (.safetensors, SD1.5) into "
        "models/loras/ and name it below; its licence is shown as unknown unless the file states one."
    ),
    params=(
        ImageParam("source", "Your photo", help="A photo with one or more faces (JPEG, PNG, WebP).", webcam=True),
        ChoiceParam("preset", "Style", default="cartoon", choices=tuple(PRESETS),
                    help="; ".join(f"{p.name}: {p.help}" for p in PRESETS.values()) + "."),
        ImageParam("style", "Style reference", required=False, advanced=True,
                   help="Optional: an image whose palette and line character the head takes on."),
        SliderParam("caricature", "Caricature", default=0.5, minimum=0.0, maximum=1.0, step=0.05,
                    help="How much the features are exaggerated: 0 keeps the face's shape, 1 is the preset's "
                         "strongest (anime: biggest eyes, smallest nose)."),
        LoraParam("lora", "Style LoRA", default="", advanced=True,
                  help="Diffusion tiers: the file name of a style LoRA in models/loras/ (blank = none). The result's "
                       "details list the LoRAs found there with their licences."),
        SliderParam("lora_weight", "LoRA weight", default=0.8, minimum=0.0, maximum=1.5, step=0.05, advanced=True,
                    help="How strongly the style LoRA applies."),
        *tier_params(),
    ),  # fmt: skip
    run=run,
    capabilities=frozenset({"compare", "live", "batch", "bench"}),
    recipe="head",
    examples=examples,
    live=live,
    live_param="source",
    bench_workload=bench_workload,
    check=check,
)
