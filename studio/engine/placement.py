"""Carrying out a call's memory plan (planner.py) on the loaded modules: where they sit, offload hooks, VAE tiles.

The plan is made before loading; this is the part that touches modules, on the device thread, around one call:

  - `call_mode(engine, plan)`: what this device applies of the plan — offload ("model", "sequential" or None) and
    VAE tiling. Enforced on GPUs, and on a CPU told to plan as a GPU (`Settings.vram_gb`); elsewhere a forecast.
  - `place(modules, device)`: the call's modules where its mode needs them before the state is captured (on the GPU
    for the resident modes, on the CPU for the offload modes, whose hooks bring each model in while it runs), so
    `ComponentState.restore` puts them back where this call's mode keeps them, never on a GPU they do not fit.
  - `tiled_vae(vae)`: 512 px tiles for one call (diffusers tiles at the VAE's sample size, 1024 px for SDXL, which
    would leave a 1024² image in one tile), and the previous tiling restored afterwards.
"""

from __future__ import annotations

import contextlib

import torch

from .planner import TILE_PX


def call_mode(engine, plan) -> tuple[str | None, bool]:
    """(offload kind or None, VAE tiling) for this call on this device."""
    dev = engine.device.device
    memory = plan.memory
    if memory is None:  # a caller that bypassed the engine's planning: the settings decide, as before the planner
        return ("model" if engine.settings.cpu_offload and dev.startswith("cuda") else None), False
    if not memory.enforced:
        return None, False
    offload = memory.offload if dev.startswith("cuda") else None
    return offload, memory.tiling


def place(modules, device: str) -> None:
    """Move each module whose weights are elsewhere to `device` (a no-op for modules already there)."""
    for module in modules:
        param = next(module.parameters(), None)
        if param is not None and param.device.type != torch.device(device).type:
            module.to(device)


def offload_hooks(view, kind: str | None, device: str):
    """Install diffusers' offload hooks on the call's view; returns the function that removes them."""
    if kind == "model":
        view.enable_model_cpu_offload(device=device)
    elif kind == "sequential":
        view.enable_sequential_cpu_offload(device=device)
    else:
        return lambda: None
    return view.remove_all_hooks


@contextlib.contextmanager
def tiled_vae(vae, enabled: bool):
    """Decode (and encode) in 512 px tiles for the duration of the block; the VAE's own settings come back after."""
    if not enabled or not hasattr(vae, "tile_latent_min_size"):  # TAESD and others: their own tiling, left alone
        yield False
        return
    saved = (vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = True, TILE_PX, TILE_PX // factor
    try:
        yield True
    finally:
        vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = saved
