"""Step previews: cheap images of the denoised estimate while a pipeline runs.

Two previewers (doc §4 and §3.7 of the model catalog):
  - `Latent2RGB`: a 4×3 linear map from latent channels to RGB (ComfyUI `latent_formats.py` factors), always
    available and nearly free; the image has the latent's resolution (1/8 of the output).
  - `TinyVAEPreview`: TAESD / TAESDXL decode, full resolution, used when its weights are cached.

`preview_steps(total)` is the step-aware policy, and `StepCallback` is the `callback_on_step_end` that
records timesteps and timings, emits previews and stops a cancelled run. Previews show the model's
denoised estimate (x0), captured from the scheduler, not the noisy x_t the callback receives.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Callable

import numpy as np
import torch

from ..schema import Preview

# ComfyUI comfy/latent_formats.py (commit 040a3243): rows are latent channels 0–3, columns R, G, B; applied to
# model-space (scaled) latents, clamped to [-1, 1]. SD1.5 has no bias.
LATENT_RGB_FACTORS = {
    "sd15": (
        ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177)),
        (0.0, 0.0, 0.0),
    ),
    "sdxl": (
        ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362), (-0.3165, -0.2492, -0.2188)),
        (0.1084, -0.0175, -0.0011),
    ),
}

#: At most this many previews per run: enough to watch a teacher converge, few enough to stay cheap.
MAX_PREVIEWS = 8


def preview_steps(total: int) -> tuple[int, ...]:
    """Steps (1-based) after which a preview is shown.

    1–2 steps: none (the result arrives about as fast as a preview would). 3–8 steps (students): every step
    but the last. More (teachers): every ceil(total / 8) steps. Never the last step: the result follows it.
    """
    if total <= 2:
        return ()
    every = 1 if total <= MAX_PREVIEWS else math.ceil(total / MAX_PREVIEWS)
    return tuple(range(every, total, every))


def _to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """[-1, 1] float (h, w, 3) -> uint8, rounding rather than truncating (ComfyUI latent_preview.py)."""
    return rgb.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu().numpy()


class Latent2RGB:
    name = "latent2rgb"

    def __init__(self, family: str):
        factors, bias = LATENT_RGB_FACTORS[family]
        self.factors = torch.tensor(factors, dtype=torch.float32)  # (4, 3)
        self.bias = torch.tensor(bias, dtype=torch.float32)
        self._on: tuple[torch.device, torch.Tensor, torch.Tensor] | None = None

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        x = latents[0].float()  # (4, h, w); first image of the batch
        if self._on is None or self._on[0] != x.device:  # move the factors once per device, not per step
            self._on = (x.device, self.factors.to(x.device), self.bias.to(x.device))
        _, factors, bias = self._on
        rgb = torch.nn.functional.linear(x.permute(1, 2, 0), factors.T, bias)  # (h, w, 3)
        return _to_uint8(rgb)


class TinyVAEPreview:
    name = "taesd"

    def __init__(self, taesd, max_size: int = 512):
        self.taesd = taesd  # diffusers AutoencoderTiny; scaling_factor 1.0: decodes pipeline-space latents directly
        self.max_size = max_size  # previews are watched, not kept: like ComfyUI's 512 px preview cap

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        param = next(self.taesd.parameters())
        x = latents[:1].to(param.device, param.dtype)
        side = max(x.shape[-2:]) * 8
        if side > self.max_size:  # decode a 1024 px SDXL preview at 512 px: a quarter of the decoder's work
            x = torch.nn.functional.interpolate(x, scale_factor=self.max_size / side, mode="area")
        image = self.taesd.decode(x).sample[0]  # (3, H, W) in [-1, 1]
        return _to_uint8(image.float().permute(1, 2, 0))


class DenoisedCapture:
    """Wraps one scheduler *instance's* `step` to keep the denoised estimate x0 of the latest step.

    The engine builds a fresh scheduler for every call, so patching the instance never leaks into a shared
    component. Euler/DDIM return `pred_original_sample`, LCM `denoised`; TCD returns neither, so x0 is
    computed from the model output with the scheduler's own alphas.
    """

    def __init__(self, scheduler):
        self.x0: torch.Tensor | None = None
        self._scheduler = scheduler
        self._step = scheduler.step
        # Pipelines read step()'s signature to decide whether to pass `eta` and `generator`
        # (prepare_extra_step_kwargs); functools.wraps keeps it visible, or LCM/TCD noise would go unseeded.
        @functools.wraps(self._step)
        def step(*args, **kwargs):
            return self._wrapped(*args, **kwargs)

        scheduler.step = step

    def _wrapped(self, model_output, timestep, sample, *args, return_dict: bool = True, **kwargs):
        out = self._step(model_output, timestep, sample, *args, return_dict=True, **kwargs)
        x0 = getattr(out, "pred_original_sample", None)
        if x0 is None:
            x0 = getattr(out, "denoised", None)
        self.x0 = x0 if x0 is not None else self._x0_from_alphas(model_output, timestep, sample)
        return out if return_dict else out.to_tuple()

    def _x0_from_alphas(self, model_output, timestep, sample):
        alphas = getattr(self._scheduler, "alphas_cumprod", None)
        if alphas is None:
            return None
        a = alphas[int(timestep)].to(sample.device, torch.float32)
        kind = self._scheduler.config.prediction_type
        out, x = model_output.float(), sample.float()
        if kind == "epsilon":
            return (x - (1 - a).sqrt() * out) / a.sqrt()
        if kind == "v_prediction":
            return a.sqrt() * x - (1 - a).sqrt() * out
        return out  # "sample": the model predicts x0 itself


class Cancelled(Exception):
    """Raised inside the pipeline loop to stop a run at once (no VAE decode of a half-denoised image)."""


class StepCallback:
    """`callback_on_step_end` for one call: timesteps, per-step times, previews, cancellation."""

    def __init__(self, label: str, previewer: Callable | None, capture: DenoisedCapture | None,
                 emit: Callable[[Preview], None], cancelled: Callable[[], bool]):  # fmt: skip
        self.label = label
        self.previewer = previewer
        self.capture = capture
        self.emit = emit
        self.cancelled = cancelled
        self.total = 0
        self.show: set[int] = set()
        self.timesteps: list[int] = []
        self.step_ends: list[float] = []
        self.preview_ms = 0.0
        self.previews = 0

    def __call__(self, pipe, step_index: int, timestep, callback_kwargs: dict) -> dict:
        self.step_ends.append(time.perf_counter())
        self.timesteps.append(int(timestep))
        if not self.total:
            # The denoising step count is known only inside the call: img2img/inpaint run
            # int(num_inference_steps * strength) steps, and pipelines record it as `num_timesteps`.
            self.total = int(getattr(pipe, "num_timesteps", 0) or 0)
            self.show = set(preview_steps(self.total)) if self.previewer is not None else set()
        if self.cancelled():
            raise Cancelled()
        step = step_index + 1
        if step in self.show:
            start = time.perf_counter()
            x0 = self.capture.x0 if self.capture is not None else None
            image = self.previewer(x0 if x0 is not None else callback_kwargs["latents"])
            self.emit(Preview(image, step, self.total, self.label))
            self.previews += 1
            self.preview_ms += (time.perf_counter() - start) * 1000.0
        return {}
