"""Style transfer: any style image (a painting, a print, a film frame) onto any photo, the photo's structure kept.

Tiers: `lite` (lite.py) runs offline on the CPU — the style's palette through a 3-D LUT, anisotropic Kuwahara
brushwork at the style's stroke size, the style's own detail patch by patch, ink lines, faces protected — at
webcam rates in the live path, in about a second for a photo, or as patch synthesis in the "high" quality mode.
`student` / `teacher` (diffusion.py) run InstantStyle on SDXL: the style through IP-Adapter on its style block
only, the photo's lines through the xinsir union ControlNet, SDXL-Lightning 4-step as the student and SDXL base
as the teacher; `auto` falls back to the teacher when the student lost the structure (diffusion.GateLimits).
Every result carries colour, texture, structure and (portraits) identity metrics computed without network weights.
"""

from __future__ import annotations

import numpy as np

from studio.errors import InputError
from studio.imaging import image_digest, input_key, load_image
from studio.live import face_tracker
from studio.schema import App, ChoiceParam, ImageParam, Preview, Result, SliderParam, Stopwatch, ToggleParam
from studio.tiers import choose_tier, lite_provenance, tier_params

from . import diffusion, lite, report
from .palette import fit_palette, lab_of

LITE_MODELS = ["mediapipe/face_mesh(refined, 478)", "mediapipe/selfie_segmentation"]
QUALITIES = ("standard", "high")
#: A webcam stream refits the palette when the scene's mean colour moves this far (Lab units) from the frame
#: it was fitted on (a new room, the light switched on), at most once per this many frames.
LIVE_REFIT_DRIFT, LIVE_REFIT_EVERY = 12.0, 30
MIN_STYLE_SIDE = 32


def load_style(ctx, style) -> tuple[np.ndarray, lite.StyleFit, list[str]]:
    """(style RGB, its fit, notes); the fit is cached by the style's digest (a slider move never refits it)."""
    if style is None:
        raise InputError("Upload a style image: a painting, a print or any picture whose look you want.")
    rgb = load_image(style, what="style image", max_pixels=ctx.settings.max_pixels)
    if min(rgb.shape[:2]) < MIN_STYLE_SIDE:
        raise InputError(f"The style image is {rgb.shape[1]}×{rgb.shape[0]} px: too small to show any brushwork. "
                         f"Use one at least {MIN_STYLE_SIDE} px on each side (a few hundred is best).")  # fmt: skip
    fit = ctx.cache("style.fits").get_or_compute(image_digest(rgb), lambda: lite.fit_style(rgb))
    notes = []
    if fit.grey:
        notes.append("The style image has no colour (black and white or one tint), so the result takes its greys; "
                     "skin on faces keeps a trace of its own colour.")  # fmt: skip
    if float(rgb.std()) < 2.0:
        notes.append("The style image is almost one flat colour: only its colour can be transferred.")
    return rgb, fit, notes


def palette_for(ctx, rgb: np.ndarray, style_rgb: np.ndarray, fit: lite.StyleFit):
    key = (image_digest(rgb), image_digest(style_rgb))
    return ctx.cache("style.palettes").get_or_compute(key, lambda: fit_palette(rgb, fit.quantiles))


def bank_for(ctx, style_rgb: np.ndarray, fit: lite.StyleFit, long_side: int, at_512: float = lite.PATCH_AT_512):
    key = (image_digest(style_rgb), long_side, at_512)
    return ctx.cache("style.banks", max_items=8).get_or_compute(key, lambda: lite.detail_bank(fit, long_side, at_512))


def run(ctx, content, style, strength: float, preserve_faces: bool, quality: str, tier: str, seed: int, steps: int):
    watch = Stopwatch()
    choice = choose_tier(ctx, "style", tier, "style transfer")  # before any work: a missing tier fails fast
    with watch("read"):
        rgb = load_image(content, what="content photo", max_pixels=ctx.settings.max_pixels)
    with watch("style"):
        style_rgb, fit, notes = load_style(ctx, style)
    with watch("faces"):
        faces = ctx.preprocess.faces(rgb)
        guarded = faces if preserve_faces else []
        person = ctx.preprocess.person_mask(rgb) if guarded else None
    info = {"requested_tier": tier, "faces": len(faces), "style": fit.to_dict(), "strength": strength,
            "preserve_faces": preserve_faces}  # fmt: skip
    if faces and not preserve_faces:
        notes.append("Face protection is off: faces take the full palette and brushwork.")
    if choice.lite:
        with watch("palette"):
            palette = palette_for(ctx, rgb, style_rgb, fit)
        with watch("brushwork"):
            bank = bank_for(ctx, style_rgb, fit, min(lite.WORK_SIDE, max(rgb.shape[:2])))
            out, details = yield from _render(ctx, rgb, fit, palette, bank, strength, guarded, person, quality, seed)
        provenance = lite_provenance("style", choice, LITE_MODELS, {}, notes)
        info.update(quality=quality, lite=details)
        extras = {}
    else:
        done = yield from diffusion.transfer(ctx, rgb, style_rgb, fit, strength, guarded, person, choice.mode, seed,
                                             choice.steps(steps), watch)  # fmt: skip
        out, provenance, extras = done.image, done.provenance, done.extras
        provenance.notes += notes
        info["diffusion"] = done.info
    with watch("metrics"):
        metrics, details = report.measure(ctx, rgb, out, fit, faces)
    info.update(details)
    provenance.timings_ms.update({k: round(v, 2) for k, v in watch.timings_ms.items()})
    extras = {"photo | style | result": report.strip(rgb, style_rgb, out), **extras}
    yield Result(image=out, provenance=provenance, before=rgb, extras=extras, metrics=metrics, info=info)


def _render(ctx, rgb, fit, palette, bank, strength, faces, person, quality, seed):
    """The lite still: its previews pass through, its (image, details) come back."""
    if strength <= 0:
        return rgb.copy(), {"note": "strength 0: the photo is returned unchanged"}
    gen = lite.render(rgb, fit, palette, bank, strength, faces, person, quality, seed)
    while True:
        ctx.check_cancelled()
        try:
            step, total, label, image = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Preview(image, step, total, label)


def live(ctx, frame, content=None, style=None, strength=0.8, preserve_faces=True, quality="standard", tier="lite",
         seed=0, steps=0):  # fmt: skip
    """One webcam frame through the lite tier at `lite.LIVE_SIDE`. The style is fitted once per stream; the palette
    and the brushwork gains are fitted on the stream's first frame and refitted when the scene changes."""
    rgb = load_image(frame if frame is not None else content, what="webcam frame")
    tracker = face_tracker(ctx, "style")
    style_rgb, fit, digest = tracker.remember(("style", input_key(style)), lambda: _live_style(ctx, style))
    state = ctx.shared("style.live", dict)
    key = (digest, rgb.shape[:2])
    mean = lab_of(rgb[::16, ::16]).reshape(-1, 3).mean(axis=0)
    fitted = state.get(key)
    if fitted is not None:
        fitted["frames"] += 1
    drifted = fitted is not None and np.abs(mean - fitted["mean"]).max() > LIVE_REFIT_DRIFT
    if fitted is None or (fitted["frames"] > LIVE_REFIT_EVERY and drifted):
        palette = fit_palette(rgb, fit.quantiles)
        bank = bank_for(ctx, style_rgb, fit, lite.LIVE_SIDE, lite.LIVE_PATCH_AT_512)
        canvas = lite.prepare(rgb, palette, strength, [], lite.LIVE_SIDE)
        tuned = lite.tune(canvas, lite.brushwork(canvas, fit, bank, rings=1, sectors=4), fit)
        fitted = state[key] = {"palette": palette, "bank": bank, "gains": (tuned.contrast, tuned.grain), "mean": mean,
                               "frames": 0, "memo": {}}  # fmt: skip
    faces = tracker.faces(rgb) if preserve_faces else []
    return lite.live_frame(rgb, fit, fitted["palette"], fitted["bank"], strength, faces, fitted["gains"],
                           fitted["memo"])  # fmt: skip


def _live_style(ctx, style):
    style_rgb, fit, _ = load_style(ctx, style)
    return style_rgb, fit, image_digest(style_rgb)


def check(ctx, values: dict) -> None:
    """Before a batch over photos: the style they share must load (a batch over styles checks each row)."""
    if values.get("style") is not None and not _is_folder(values["style"]):
        load_style(ctx, values["style"])


def _is_folder(value) -> bool:
    from pathlib import Path

    return isinstance(value, (str, Path)) and Path(value).is_dir()


def examples(settings) -> list[dict]:
    from studio.examples import people

    from .samples import STYLES, sample_style

    photos = people(settings, "any")  # different people, one per style in turn
    return [{"content": photos[i % len(photos)], "style": sample_style(name, settings.cache_dir), "tier": "lite"}
            for i, name in enumerate(STYLES)]  # fmt: skip


def bench_workload(frame):
    """`studio bench style`: the drawn swirls style on the webcam path, the lite parts alone, and the stills."""
    from . import bench

    return bench.workload(APP, frame)


APP = App(
    id="style",
    title="Style transfer",
    description=(
        "Paint your photo in the look of any style image — a painting, a woodblock print, an ink wash, a film "
        "frame: its colours, its brushwork and its lines, while the photo's shapes, edges and faces stay "
        "readable. The lite tier runs offline on the CPU, live on the webcam; 'high' quality rebuilds the photo "
        "from the style's own patches (seconds). The diffusion tiers (InstantStyle on SDXL with a Lightning "
        "student) need downloaded weights."
    ),
    params=(
        ImageParam("content", "Your photo", help="The photo to restyle (JPEG, PNG, WebP).", webcam=True),
        ImageParam("style", "Style image", help="The painting or picture whose look to copy."),
        SliderParam("strength", "Strength", default=0.8,
                    help="How far the photo moves to the style: 0 keeps the photo, 1 is the full style."),
        ToggleParam("preserve_faces", "Protect faces", default=True, advanced=True,
                    help="Faces and skin keep most of their own colour, and eyes, brows and lips get finer strokes."),
        ChoiceParam("quality", "Quality", default="standard", choices=QUALITIES,
                    help="Lite tier: 'standard' paints in about a second; 'high' rebuilds the photo from the style's "
                         "own patches first (several seconds)."),
        *tier_params(),
    ),  # fmt: skip
    run=run,
    capabilities=frozenset({"compare", "live", "batch", "bench"}),
    recipe="style",
    primary_input="content",
    examples=examples,
    live=live,
    live_param="content",
    bench_workload=bench_workload,
    check=check,
)
