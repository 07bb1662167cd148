"""Step previews: the step-aware policy, latent->RGB, TAESD decode, the x0 capture and cancellation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from studio.engine.previews import (LATENT_RGB_FACTORS, Cancelled, DenoisedCapture, Latent2RGB, StepCallback,
                                    TinyVAEPreview, preview_steps)  # fmt: skip


@pytest.mark.parametrize("total,expected", [
    (1, ()), (2, ()), (3, (1, 2)), (4, (1, 2, 3)), (8, tuple(range(1, 8))),
    (9, (2, 4, 6, 8)), (30, (4, 8, 12, 16, 20, 24, 28)), (50, (7, 14, 21, 28, 35, 42, 49)),
])  # fmt: skip
def test_preview_policy_is_step_aware(total, expected):
    assert preview_steps(total) == expected
    assert total not in expected and len(expected) <= 8


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_latent_to_rgb_uses_the_comfyui_factors(family):
    factors, bias = LATENT_RGB_FACTORS[family]
    latents = torch.zeros(1, 4, 5, 7)
    latents[0, 0] = 1.0  # channel 0 only: the image is row 0 of the factors plus the bias
    rgb = Latent2RGB(family)(latents)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
    expected = np.round((np.clip(np.add(factors[0], bias), -1, 1) + 1) * 127.5)
    assert np.array_equal(rgb[2, 3], expected.astype(np.uint8))
    assert np.array_equal(Latent2RGB(family)(torch.full((1, 4, 2, 2), 50.0))[0, 0] > 0, np.array(factors).sum(0) > 0)


def test_taesd_preview_decodes_to_full_resolution():
    from studio.engine.tinyhub import tiny_taesd

    image = TinyVAEPreview(tiny_taesd())(torch.randn(2, 4, 8, 6))
    assert image.shape == (64, 48, 3) and image.dtype == np.uint8


def test_denoised_capture_keeps_the_step_signature_and_finds_x0():
    from diffusers import EulerDiscreteScheduler, TCDScheduler

    config = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    # Pipelines pass eta/generator only when step() declares them: the wrapper must not hide them.
    tcd = TCDScheduler(**config)
    capture = DenoisedCapture(tcd)
    assert {"eta", "generator"} <= set(inspect.signature(tcd.step).parameters)

    tcd.set_timesteps(4)
    sample, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    t = tcd.timesteps[0]
    out = tcd.step(eps, t, sample, eta=0.3, return_dict=False)
    assert isinstance(out, tuple)
    alpha = tcd.alphas_cumprod[int(t)]
    assert torch.allclose(capture.x0, (sample - (1 - alpha).sqrt() * eps) / alpha.sqrt(), atol=1e-5)

    euler = EulerDiscreteScheduler(**config)
    capture = DenoisedCapture(euler)
    euler.set_timesteps(4)
    result = euler.step(eps, euler.timesteps[0], sample)
    assert torch.equal(capture.x0, result.pred_original_sample)


def test_step_callback_emits_scheduled_previews_and_cancels():
    class Pipe:
        num_timesteps = 4

    shown, cancelled = [], {"now": False}
    callback = StepCallback("student · x", Latent2RGB("sd15"), None, shown.append, lambda: cancelled["now"])
    latents = {"latents": torch.randn(1, 4, 8, 8)}
    for i, t in enumerate([999, 749, 499]):
        assert callback(Pipe(), i, torch.tensor(t), latents) == {}
    assert [p.step for p in shown] == [1, 2, 3] and all(p.total == 4 for p in shown)
    assert callback.timesteps == [999, 749, 499] and callback.preview_ms > 0
    cancelled["now"] = True
    with pytest.raises(Cancelled):
        callback(Pipe(), 3, torch.tensor(249), latents)
