"""`GenerationRequest`: what an app asks the engine for, validated up front with errors that name the field."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from .specs import PIPELINE_KINDS, ModelSpec

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
    ip_adapter_image: Any = None  # reference image for the app's IP-Adapter; None = no IP-Adapter this call
    strength: float | None = None  # img2img/inpaint strength; None = 0.6 (img2img) or the model's inpaint strength
    steps: int | None = None
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


def call_kwargs(req: GenerationRequest, kind: str, spec: ModelSpec, tier: str, steps: int, guidance: float,
                controlnet: ModelSpec | None, ip_used: bool) -> tuple[dict, dict]:  # fmt: skip
    """Keyword arguments for the diffusers call, and facts worth recording (strength, size)."""
    kwargs: dict[str, Any] = {"prompt": req.prompt, "negative_prompt": req.negative_prompt or None,
                              "guidance_scale": guidance}  # fmt: skip
    facts: dict[str, Any] = {}
    if kind in ("img2img", "controlnet-img2img", "inpaint", "controlnet-inpaint"):
        default = spec.inpaint_strength if "inpaint" in kind else DEFAULT_IMG2IMG_STRENGTH
        strength = req.strength if req.strength is not None else default
        kwargs.update(image=to_pil(req.image), strength=strength)
        facts["strength"] = strength
        if "inpaint" in kind:
            kwargs["mask_image"] = to_pil(req.mask_image, "L")
        width, height = image_size(req.image)
        kwargs.update(width=width - width % 8, height=height - height % 8)
        if tier == "student" and strength < 1.0 and spec.timesteps is None:
            # Image-to-image runs int(steps * strength) steps (catalog G7); a few-step student must keep its
            # step count, so the schedule is lengthened instead.
            steps = math.ceil(steps / strength)
    else:
        size = image_size(req.control_image) if req.control_image is not None else None
        width = req.width or (size[0] - size[0] % 8 if size else spec.resolution or 512)
        height = req.height or (size[1] - size[1] % 8 if size else spec.resolution or 512)
        kwargs.update(width=width, height=height)
    if controlnet is not None:
        control = to_pil(req.control_image)
        kwargs["control_image" if kind != "controlnet" or controlnet.union else "image"] = control
        scale = req.controlnet_scale if req.controlnet_scale is not None else controlnet.scale
        kwargs["controlnet_conditioning_scale"] = scale
        if controlnet.union:
            if req.control_mode is None:
                raise InputError(
                    f"{controlnet.id} is a union ControlNet: pass control_mode (0 openpose, 1 depth, 2 thick line, "
                    "3 thin line/canny, 4 normal, 5 segment)."
                )
            kwargs["control_image"] = [control]
            kwargs["control_mode"] = [int(req.control_mode)]
    if ip_used:
        kwargs["ip_adapter_image"] = to_pil(req.ip_adapter_image)
    kwargs["num_inference_steps"] = steps
    if spec.timesteps is not None and tier == "student":
        kwargs["timesteps"] = list(spec.timesteps)
    if spec.eta is not None:
        kwargs["eta"] = spec.eta  # pipelines default eta to 0.0 and never use the scheduler's own (G4)
    facts.update(width=kwargs["width"], height=kwargs["height"], num_inference_steps=steps)
    return kwargs, facts
