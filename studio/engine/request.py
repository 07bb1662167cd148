"""`GenerationRequest`: what an app asks the engine for, validated up front with errors that name the field."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from .specs import IMAGE_KINDS, PIPELINE_KINDS, ModelSpec

MODES = ("auto", "fast", "quality")

#: Which images each pipeline kind needs.
NEEDS = {
    "txt2img": (),
    "img2img": ("image",),
    "inpaint": ("image", "mask_image"),
    "controlnet": ("control_image",),
    "controlnet-img2img": ("image", "control_image"),
    "controlnet-inpaint": ("image", "mask_image", "control_image"),
}

#: img2img strength when the request gives none: keeps the layout, changes the look.
DEFAULT_IMG2IMG_STRENGTH = 0.6


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. Images are RGB uint8 arrays (H, W, 3) or PIL images; masks are (H, W), 255 = repaint.

    `steps` and `guidance` override the catalog defaults of the tier the mode selects (the student in
    `fast`/`auto`, the teacher in `quality`); a fallback teacher always uses its own defaults, because a
    student's step count means nothing to it.
    """

    app: str  # app id with a recipe in studio.models.apps (makeup, tryon, avatar, style, head)
    prompt: str = ""
    negative_prompt: str = ""
    mode: str = "auto"  # "auto": student, teacher on a named failure; "fast": student only; "quality": teacher
    pipeline: str | None = None  # one of PIPELINE_KINDS; None = the app's default kind
    image: Any = None  # init image (img2img, inpaint kinds)
    mask_image: Any = None  # inpaint kinds
    control_image: Any = None  # ControlNet kinds
    control_mode: int | None = None  # union ControlNet mode (0 openpose, 1 depth, 2 thick line, 3 thin line, ...)
    ip_adapter_image: Any = None  # the app's IP-Adapter reference (a list: embeddings averaged); None = no IP-Adapter
    strength: float | None = None  # img2img/inpaint strength; None = 0.6 (img2img) or the lower inpaint strength of
    # the student and its base (see request.schedule)
    steps: int | None = None  # None = the tier's catalog default (inpaint kinds: its inpaint_steps when it has one)
    guidance: float | None = None
    seed: int = 0
    width: int | None = None  # txt2img/ControlNet output size; None = control image size or model resolution
    height: int | None = None
    student: str | None = None  # catalog id replacing the app's default student (see AppModels.alternatives)
    teacher: str | None = None  # catalog id replacing the app's teacher
    adapters: tuple[str, ...] | None = None  # None = the app's default adapters; () = none
    controlnet_scale: float | None = None  # None = the ControlNet entry's scale
    ip_adapter_scale: float | dict | list | None = None  # None = the entry's scale; dicts = InstantStyle blocks
    quality_gate: Callable[[np.ndarray], bool | str | None] | None = None  # student image -> pass? (see Engine)
    cancel: Callable[[], bool] | None = None  # polled every step; True stops the run (GenerationCancelled)
    previews: bool = True  # stream step previews (see previews.preview_steps for how many)
    # User LoRA files (studio.engine.user_loras.UserLora, weight) applied on the base UNet on top of the tier's own
    # weights, both tiers alike: a style LoRA from models/loras/.
    loras: tuple = ()


def check_request(req: GenerationRequest, kind: str) -> None:
    """Field checks that need no catalog: raise InputError naming the field, the value and the fix."""
    if req.mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {req.mode!r}.")
    if kind not in PIPELINE_KINDS:
        raise InputError(f"pipeline must be one of {', '.join(PIPELINE_KINDS)}; got {kind!r}.")
    for name in NEEDS[kind]:
        if getattr(req, name) is None:
            raise InputError(f"The '{kind}' pipeline needs {name}; pass it in the GenerationRequest.")
    if req.strength is not None and not (0.0 < req.strength <= 1.0):
        raise InputError(f"strength must be in (0, 1]; got {req.strength}.")
    if req.steps is not None and not (1 <= int(req.steps) <= 200):
        raise InputError(f"steps must be between 1 and 200; got {req.steps}.")
    if req.guidance is not None and not (0.0 <= req.guidance <= 30.0):
        raise InputError(f"guidance must be between 0 and 30; got {req.guidance}.")
    for _, weight in req.loras:
        if not -4.0 <= float(weight) <= 4.0:
            raise InputError(f"A LoRA weight must be between -4 and 4; got {weight}.")
    if not (0 <= int(req.seed) < 2**32):
        raise InputError(f"seed must be between 0 and 4294967295; got {req.seed}.")
    for name in ("width", "height"):
        value = getattr(req, name)
        if value is not None and (value < 64 or value % 8):
            raise InputError(
                f"{name} must be a multiple of 8 and at least 64 (the VAE works on 8×8 blocks); got {value}."
            )


def to_pil(image, mode: str = "RGB"):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert(mode)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputError(f"Images must be uint8 arrays (0–255); got dtype {array.dtype}.")
    if mode == "L" and array.ndim == 3:
        array = array[..., 0]
    return Image.fromarray(array).convert(mode)


def image_size(image) -> tuple[int, int]:
    """(width, height) of a PIL image or an array."""
    if hasattr(image, "size") and not isinstance(image, np.ndarray):
        return image.size
    array = np.asarray(image)
    return array.shape[1], array.shape[0]


@dataclass
class Schedule:
    """The steps one tier's call asks the pipeline for, on which timesteps, from which strength (see `schedule`)."""

    num_inference_steps: int  # passed to the pipeline
    runs: int  # steps that will run: int(num_inference_steps × strength) in image kinds, as diffusers computes
    strength: float | None = None  # image kinds only
    timesteps: tuple[int, ...] | None = None  # a student's fixed timesteps, set on the scheduler (runner)
    sources: dict[str, str] = field(default_factory=dict)  # setting -> where its value came from
    notes: list[str] = field(default_factory=list)


def _runs(steps: int, strength: float) -> int:
    """Steps an image-to-image pipeline runs (diffusers' get_timesteps: min(int(steps × strength), steps))."""
    return min(int(steps * strength), steps)


def schedule(req: GenerationRequest, kind: str, spec: ModelSpec, base: ModelSpec, tier: str,
             steps: int) -> Schedule:  # fmt: skip
    """Steps, timesteps and strength for one tier; raises InputError for combinations that cannot run as meant.

    - Strength (image kinds): the request's; else, for inpaint kinds, the lower of the student's and its base's
      `inpaint_strength` (SDXL inpainting's card asks for 0.99: "make sure to use `strength` below 1.0"); else
      DEFAULT_IMG2IMG_STRENGTH.
    - A step-locked student (Lightning, Hyper N-step, PCM, fixed timesteps) at its trained count keeps its trained
      grid: image kinds skip its first steps, int(steps × strength) run, as with any diffusers img2img call. Refused
      when that leaves no step.
    - A step-flexible student (LCM, TCD), or a step-locked one asked for another count (already off its grid: said
      in the notes), gets a longer schedule so the step count asked for runs (catalog doc G7).
    - Fixed timesteps (DMD2, Hyper 1-step UNet) go to the scheduler itself, so pipelines without a `timesteps`
      argument (every ControlNet img2img/inpaint pipeline) run them too.
    - The teacher runs diffusers' own arithmetic.
    """
    sources: dict[str, str] = {}
    notes: list[str] = []
    strength = None
    if kind in IMAGE_KINDS:
        if req.strength is not None:
            strength, sources["strength"] = float(req.strength), "request"
        elif "inpaint" in kind:
            owners = [spec] if spec is base else [spec, base]
            owner = min(owners, key=lambda s: s.inpaint_strength)
            strength = owner.inpaint_strength
            sources["strength"] = (f"{owner.id}: {owner.source_of('inpaint_strength')}" if strength < 1.0
                                   else "diffusers' inpaint default 1.0 (no card asks for less)")  # fmt: skip
        else:
            strength = DEFAULT_IMG2IMG_STRENGTH
            sources["strength"] = f"engine default {DEFAULT_IMG2IMG_STRENGTH} for img2img (keeps the layout)"
    student = tier == "student"
    fixed = spec.timesteps if student else None
    if fixed is not None and steps != len(fixed):
        raise InputError(
            f"'{spec.id}' runs the fixed timesteps {list(fixed)} ({spec.source_of('timesteps')}), so it takes "
            f"exactly {len(fixed)} step(s); steps={steps} cannot be honoured. Leave steps unset, or pick a "
            "step-flexible student (LCM, TCD) for another count."
        )
    on_grid = student and spec.step_locked and steps == spec.steps
    if student and spec.step_locked and not on_grid:
        notes.append(f"'{spec.id}' was distilled for {spec.steps} steps only ({spec.source_of('steps')}); {steps} "
                     "were requested, so it runs off its trained timesteps and quality may drop.")  # fmt: skip
    elif student and spec.step_range is not None and not spec.step_range[0] <= steps <= spec.step_range[1]:
        low, high = spec.step_range
        notes.append(f"{steps} steps is outside the {low}–{high} its card documents for '{spec.id}'.")
    n = steps
    if strength is None or strength >= 1.0:
        runs = n
    elif not student or on_grid:
        runs = _runs(n, strength)
        if runs < 1:
            who = f"'{spec.id}' ({'its trained ' + str(n) + '-step grid' if on_grid else str(n) + ' steps'})"
            raise InputError(
                f"strength {strength:g} leaves no denoising step for {who}: image-to-image runs int(steps × strength)"
                f" = int({n} × {strength:g}) = 0 steps. Use strength ≥ {1 / n:.3g}"
                + (", or a step-flexible student (LCM, TCD)." if on_grid else ", or more steps.")
            )
        if on_grid and runs < n:
            notes.append(f"'{spec.id}' keeps its trained {n}-step grid: strength {strength:g} skips its first "
                         f"{n - runs} step(s) and runs {runs}.")  # fmt: skip
    else:
        # Image-to-image runs int(steps × strength) steps (catalog G7); the student's count is what it was asked
        # for, so the schedule is lengthened instead.
        n = max(steps, math.ceil(steps / strength - 1e-9))
        while _runs(n, strength) < steps:
            n += 1
        runs = _runs(n, strength)
    return Schedule(n, runs, strength, fixed, sources, notes)


def call_kwargs(req: GenerationRequest, plan) -> tuple[dict, dict]:
    """Keyword arguments for the diffusers call of one `Plan` (engine.Plan), and facts worth recording."""
    kind, spec, sched = plan.kind, plan.spec, plan.schedule
    controlnet = plan.controlnet.spec if plan.controlnet is not None else None
    kwargs: dict[str, Any] = {"prompt": req.prompt, "negative_prompt": req.negative_prompt or None,
                              "guidance_scale": plan.guidance}  # fmt: skip
    facts: dict[str, Any] = {}
    if kind in IMAGE_KINDS:
        kwargs.update(image=to_pil(req.image), strength=sched.strength)
        facts["strength"] = sched.strength
        if "inpaint" in kind:
            kwargs["mask_image"] = to_pil(req.mask_image, "L")
        width, height = image_size(req.image)
        kwargs.update(width=width - width % 8, height=height - height % 8)
    else:
        size = image_size(req.control_image) if req.control_image is not None else None
        width = req.width or (size[0] - size[0] % 8 if size else spec.resolution or 512)
        height = req.height or (size[1] - size[1] % 8 if size else spec.resolution or 512)
        kwargs.update(width=width, height=height)
    if controlnet is not None:
        control = to_pil(req.control_image)
        kwargs["control_image" if kind != "controlnet" or controlnet.union else "image"] = control
        kwargs["controlnet_conditioning_scale"] = plan.controlnet_scale
        if controlnet.union:
            if req.control_mode is None:
                raise InputError(
                    f"{controlnet.id} is a union ControlNet: pass control_mode (0 openpose, 1 depth, 2 thick line, "
                    "3 thin line/canny, 4 normal, 5 segment)."
                )
            kwargs["control_image"] = [control]
            kwargs["control_mode"] = [int(req.control_mode)]
    if plan.ip_adapter is not None:
        images = req.ip_adapter_image
        # Several references of one subject (an avatar's selfies) stay a list: the runner averages their embeddings.
        many = isinstance(images, (list, tuple)) and len(images) > 1
        kwargs["ip_adapter_image"] = [to_pil(i) for i in images] if many else to_pil(
            images[0] if isinstance(images, (list, tuple)) else images)
    # Fixed timesteps are not passed as `timesteps`: the runner sets them on the call's scheduler (every pipeline).
    kwargs["num_inference_steps"] = sched.num_inference_steps
    if spec.eta is not None:
        kwargs["eta"] = spec.eta  # pipelines default eta to 0.0 and never use the scheduler's own (G4)
    facts.update(width=kwargs["width"], height=kwargs["height"], num_inference_steps=sched.num_inference_steps)
    return kwargs, facts
