"""Latent consistency distillation, the arithmetic: the teacher's ODE grid, the boundary scalings, one guided DDIM
step, the consistency function and the loss. Pure torch; `train.py` runs the loop around it.

Sources (each used below where it applies):
  - LCM: Luo et al., "Latent Consistency Models", arXiv 2310.04378 — Algorithm 1 (latent consistency distillation):
    sample t_{n+k} on a skipping-step grid, take one guided ODE-solver step from z_{t_{n+k}} to z_{t_n} with the frozen
    teacher, and pull the student's consistency function at (z_{t_{n+k}}, t_{n+k}) towards its own prediction at
    (z_{t_n}, t_n); Eq. 8 (guidance as ω(ε_c − ε_u)); §4.3 skipping step k.
  - LCM-LoRA: Luo et al., arXiv 2311.05556 — the student is a LoRA on the teacher's UNet; the same UNet with its LoRA
    switched off *is* the teacher, so one copy of the weights serves both.
  - diffusers `LCMScheduler.get_scalings_for_boundary_condition_discrete` (σ_data = 0.5, timestep_scaling 10): the
    student must use the same c_skip / c_out the scheduler applies at inference, or its few-step samples drift.
  - diffusers `examples/consistency_distillation` defaults (../shared/docs/round2.md §F): 50 DDIM timesteps, huber
    c = 0.001, guidance w drawn from [w_min, w_max] (SDXL 3–15, SD1.5 5–15).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: σ_data of the consistency parameterisation (Song et al. 2023 §C; LCMScheduler's default `sigma_data`).
SIGMA_DATA = 0.5


@dataclass
class OdeGrid:
    """The skipping-step grid the teacher's DDIM solver walks (LCM §4.3): `n` timesteps spaced `k = T // n` apart,
    t_i = (i + 1)·k − 1, the same grid `LCMScheduler` draws its inference timesteps from
    (`original_inference_steps`), so a student trained here and sampled there sees the same timesteps."""

    timesteps: torch.Tensor  # (n,) long: t_{n+k} candidates
    alphas_cumprod: torch.Tensor  # (T,) float32 from the teacher's noise schedule (float64 is missing on MPS)
    skip: int  # k

    @classmethod
    def build(cls, alphas_cumprod: torch.Tensor, num_ddim_timesteps: int) -> "OdeGrid":
        total = int(alphas_cumprod.shape[0])
        if not 1 <= num_ddim_timesteps <= total:
            raise ValueError(f"num_ddim_timesteps must be between 1 and {total}; got {num_ddim_timesteps}.")
        skip = total // num_ddim_timesteps
        timesteps = torch.arange(1, num_ddim_timesteps + 1, dtype=torch.long) * skip - 1
        return cls(timesteps, alphas_cumprod.to(torch.float32), skip)

    def to(self, device) -> "OdeGrid":
        return OdeGrid(self.timesteps.to(device), self.alphas_cumprod.to(device), self.skip)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(index, t_{n+k}, t_n) for a batch: index uniform over the grid, t_n = t_{n+k} − k clamped at 0."""
        index = torch.randint(0, len(self.timesteps), (batch,), generator=generator)
        index = index.to(self.timesteps.device)
        start = self.timesteps[index]
        return index, start, (start - self.skip).clamp(min=0)

    def alpha_sigma(self, t: torch.Tensor, ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """√ᾱ_t and √(1−ᾱ_t), shaped to broadcast over latents of `ndim` dimensions."""
        a = self.alphas_cumprod[t]
        shape = (-1,) + (1,) * (ndim - 1)
        return a.sqrt().reshape(shape), (1 - a).sqrt().reshape(shape)

    def ddim_step(self, x0: torch.Tensor, eps: torch.Tensor, t_prev: torch.Tensor) -> torch.Tensor:
        """Deterministic DDIM (η = 0) from t_{n+k} to t_n given the guided x̂0 and ε̂: √ᾱ_{t_n}·x̂0 + √(1−ᾱ_{t_n})·ε̂.

        At the first grid point t_n = 0 would be the clamp; ᾱ_0 (not 1) is used, as the teacher's schedule has it."""
        a, s = self.alpha_sigma(t_prev, x0.ndim)
        return (a * x0 + s * eps).to(x0.dtype)


def boundary_scalings(t: torch.Tensor, ndim: int, timestep_scaling: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """c_skip(t), c_out(t) of the consistency function f(x, t) = c_skip·x + c_out·x̂0 (LCM Eq. 3 with the discrete
    scaling `LCMScheduler` uses: c_skip → 1 and c_out → 0 as t → 0, so f(x, 0) = x)."""
    scaled = t.to(torch.float32) * timestep_scaling
    c_skip = SIGMA_DATA**2 / (scaled**2 + SIGMA_DATA**2)
    c_out = scaled / (scaled**2 + SIGMA_DATA**2).sqrt()
    shape = (-1,) + (1,) * (ndim - 1)
    return c_skip.reshape(shape), c_out.reshape(shape)


def predicted_x0(model_output: torch.Tensor, t: torch.Tensor, sample: torch.Tensor, prediction_type: str,
                 grid: OdeGrid) -> torch.Tensor:  # fmt: skip
    """x̂0 from the UNet's output at timestep t: ε-prediction (SD1.5, SDXL) or v-prediction (some fine-tunes)."""
    a, s = grid.alpha_sigma(t, sample.ndim)
    out, x = model_output.float(), sample.float()
    if prediction_type == "epsilon":
        x0 = (x - s * out) / a
    elif prediction_type == "v_prediction":
        x0 = a * x - s * out
    else:
        raise ValueError(f"The teacher predicts '{prediction_type}'; distillation supports epsilon and v_prediction.")
    return x0.to(sample.dtype)


def predicted_eps(model_output: torch.Tensor, t: torch.Tensor, sample: torch.Tensor, prediction_type: str,
                  grid: OdeGrid) -> torch.Tensor:  # fmt: skip
    """ε̂ from the UNet's output (identity for ε-prediction; ε = σ·x + α·v for v-prediction)."""
    if prediction_type == "epsilon":
        return model_output
    a, s = grid.alpha_sigma(t, sample.ndim)
    return (s * sample.float() + a * model_output.float()).to(sample.dtype)


def consistency(sample: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, timestep_scaling: float) -> torch.Tensor:
    """f(x_t, t) = c_skip(t)·x_t + c_out(t)·x̂0."""
    c_skip, c_out = boundary_scalings(t, sample.ndim, timestep_scaling)
    return (c_skip * sample.float() + c_out * x0.float()).to(sample.dtype)


def guided(cond: torch.Tensor, uncond: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """LCM Eq. 8 guidance: cond + w·(cond − uncond), i.e. CFG at scale w + 1 (w broadcast per sample)."""
    return cond + w * (cond - uncond)


def distillation_loss(pred: torch.Tensor, target: torch.Tensor, loss_type: str, huber_c: float) -> torch.Tensor:
    """Mean over the batch: "huber" = √((p − t)² + c²) − c (pseudo-Huber, c = 0.001 by default), or "l2"."""
    diff = pred.float() - target.float()
    if loss_type == "huber":
        return (torch.sqrt(diff**2 + huber_c**2) - huber_c).mean()
    if loss_type == "l2":
        return (diff**2).mean()
    raise ValueError(f"loss_type must be 'huber' or 'l2'; got {loss_type!r}.")


def sample_guidance(batch: int, w_min: float, w_max: float, generator: torch.Generator) -> torch.Tensor:
    """w ~ U[w_min, w_max] per sample (LCM §4.2: the student bakes in a range of guidance strengths)."""
    return torch.rand(batch, generator=generator) * (w_max - w_min) + w_min
