"""A student prepared once for a stream of webcam frames, then called once per frame (StreamDiffusion-style).

StreamDiffusion (Kodaira et al. 2023, arXiv:2312.12491) reaches real-time image-to-image by doing per frame only
the work that changes per frame: the prompt is encoded once, the noise is fixed, a 1–4 step student denoises and a
tiny autoencoder (TAESD) encodes and decodes. The studio does the same with its own engine parts, so a stream
shares the resident models, the LoRA fusion and the state guarantees of every other call:

  - `prepare()` (once per setup): the student's plan (Engine.plan, mode fast), its memory plan (a live stream must
    fit on the device without offloading: per-frame transfers would cost more than the frame), everything loaded
    through the resident LRU, the LoRA merged (fusion.py), a pipeline view with TAESD as its autoencoder when it is
    cached, and the prompt (long prompts in chunks) and the IP-Adapter reference encoded once;
  - `frame(image, mask, control)` (per frame): a fresh copy of the scheduler, the LoRA and IP-Adapter scales set
    and restored around the call (another app's call may run between two frames), the same seed every frame (the
    same noise: a still scene gives a still result), the cached embeddings.

Both run on the device thread (engine.device_worker): `studio.live_student` submits them and drops frames while
the device is busy.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from ..errors import InputError
from . import speed
from .loader import ComponentState, fresh_scheduler, load_autoencoder, make_scheduler, make_view, pin_timesteps
from .placement import place
from .prompts import chunk_long_prompts
from .request import call_kwargs, to_pil
from .runner import _accepted, _sync_ip_adapter, _sync_lora_fusion, _text_encoders, load_for

EMBED_NAMES = ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds")


class LiveDoesNotFit(InputError):
    """The live student would need offloading (or more memory than there is): too slow for a live stream."""


class StudentStream:
    """One stream's student: `request` holds what stays fixed (app, prompt, reference, kind, strength, steps, seed,
    student); its images are a sample frame's, used to plan the size."""

    def __init__(self, engine, request):
        self.engine = engine
        self.request = replace(request, mode="fast", previews=False, quality_gate=None, cancel=None)
        self.plan = None
        self.info: dict = {}
        self._view = None
        self._built_for: tuple | None = None
        self._embeds: dict = {}
        self._taesd = None

    # ------------------------------------------------------------------------------------------ once
    def prepare(self) -> dict:
        """Plan, load, build and encode (device thread). Raises ModelUnavailable, LiveDoesNotFit, InputError."""
        from .engine import _StudentMissing

        start = time.perf_counter()
        engine, request = self.engine, self.request
        try:
            plan = engine.plan(request, "student")
        except _StudentMissing as missing:
            raise missing.error from None
        recipe = engine.catalog.app(request.app)
        taesd = engine.resolver.locate(engine.catalog.get(recipe.preview)).resolved if recipe.preview else None
        plan.preview = taesd
        plan.memory = engine.memory_plan(request, plan, decoder="taesd" if taesd else "vae")
        memory = plan.memory
        if memory.enforced and (not memory.fits or memory.offload is not None or "offload" in memory.mode):
            raise LiveDoesNotFit(
                f"The live student '{plan.spec.id}' does not fit on the {memory.device} without offloading "
                f"({memory.modes['gpu']['peak_mb'] / 1e3:.1f} GB predicted, {memory.usable_mb / 1e3:.1f} GB usable): "
                f"offloading every frame would be slower than the lite tier, which keeps running. Plan: "
                f"{memory.describe()}"
            )
        self.plan = plan
        if taesd is not None:
            self._taesd = engine.residency.get(("taesd", taesd.spec.id),
                                               lambda: load_autoencoder(taesd, engine.device.device,
                                                                        engine.device.dtype, tiny=True),
                                               None, set()).value  # fmt: skip
        loaded = self._build(self._loaded())
        self.info = {
            "student": plan.spec.id, "kind": plan.kind, "steps": plan.schedule.runs,
            "num_inference_steps": plan.schedule.num_inference_steps, "strength": plan.schedule.strength,
            "guidance": plan.guidance, "cfg": self._cfg, "seed": int(request.seed),
            "decoder": f"TAESD ({taesd.spec.id})" if taesd else "the full VAE (TAESD is not cached)",
            "lora": "fused" if _fused(loaded, plan) else ("unfused" if plan.own and plan.own.spec.kind == "lora"
                                                         else None),
            "memory_plan": memory.describe(), "device": engine.device.device,
            "prepare_ms": round((time.perf_counter() - start) * 1000.0, 1), "notes": list(plan.notes),
        }  # fmt: skip
        return self.info

    @property
    def _cfg(self) -> bool:
        return self.plan.guidance > 1.0 and not self.plan.spec.guidance_embedding

    def _loaded(self):
        loaded = load_for(self.engine, self.request, self.plan, [])
        _sync_lora_fusion(self.engine, loaded, self.plan)
        return loaded

    def _modules(self, loaded) -> list:
        shared = (loaded.unet, loaded.base.unet, loaded.controlnet, loaded.encoder, *_text_encoders(loaded.base),
                  loaded.base.vae, self._taesd)  # fmt: skip
        return list({id(m): m for m in shared if m is not None}.values())

    def _build(self, loaded):
        """The stream's own view and its cached embeddings, for these resident modules."""
        plan, dev = self.plan, self.engine.device.device
        place(self._modules(loaded), dev)  # a call that offloaded may have left them on the CPU
        prototypes = loaded.base_entry.state.setdefault("schedulers", {})
        if plan.spec.scheduler not in prototypes:
            prototypes[plan.spec.scheduler] = make_scheduler(loaded.base.scheduler, plan.spec.scheduler)
        self._prototype = prototypes[plan.spec.scheduler]
        components = {}
        if loaded.unet_entry is not None:
            components["unet"] = loaded.unet
        if loaded.controlnet is not None:
            components["controlnet"] = loaded.controlnet
        if loaded.encoder is not None:
            components.update(image_encoder=loaded.encoder, feature_extractor=loaded.feature_extractor)
        if self._taesd is not None:
            components["vae"] = self._taesd  # a drop-in AutoencoderKL replacement (diffusers' TAESD docs)
        union = plan.controlnet is not None and plan.controlnet.spec.union
        view = make_view(loaded.base, plan.spec.family, plan.kind, union=union,
                         scheduler=fresh_scheduler(self._prototype), **components)  # fmt: skip
        _sync_ip_adapter(view, plan, loaded.unet_state, [])
        self._view = view
        self._embeds = self._encode(view, loaded)
        self._built_for = self._identity(loaded)
        return loaded

    def _identity(self, loaded) -> tuple:
        return tuple(id(m) for m in self._modules(loaded))

    @torch.no_grad()
    def _encode(self, view, loaded) -> dict:
        """Prompt and reference embeddings, once per stream (what StreamDiffusion caches)."""
        request, dev, cfg = self.request, self.engine.device.device, self._cfg
        kwargs = {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None}
        note = chunk_long_prompts(view, kwargs)  # a long prompt: chunked embeddings instead of a cut
        if note:
            self.plan.notes.append(note)
            embeds = {k: v for k, v in kwargs.items() if k in EMBED_NAMES}
            if not cfg:
                embeds = {k: v for k, v in embeds.items() if not k.startswith("negative")}
        else:
            out = view.encode_prompt(prompt=request.prompt, device=dev, num_images_per_prompt=1,
                                     do_classifier_free_guidance=cfg, negative_prompt=kwargs["negative_prompt"])
            embeds = {name: t for name, t in zip(EMBED_NAMES, out) if t is not None}
        if self.plan.ip_adapter is not None:
            embeds["ip_adapter_image_embeds"] = view.prepare_ip_adapter_image_embeds(
                to_pil(request.ip_adapter_image), None, dev, 1, cfg)  # fmt: skip
        return embeds

    # ------------------------------------------------------------------------------------------ per frame
    def frame(self, image, mask=None, control=None) -> tuple[np.ndarray, float]:
        """One frame through the prepared student (device thread): (uint8 RGB of the call's size, ms)."""
        start = time.perf_counter()
        plan, engine = self.plan, self.engine
        loaded = self._loaded()  # resident: dictionary look-ups; another call may have evicted or moved something
        if self._identity(loaded) != self._built_for:
            self._build(loaded)
        view = self._view
        scheduler = fresh_scheduler(self._prototype)
        if plan.schedule.timesteps is not None:
            pin_timesteps(scheduler, plan.schedule.timesteps)
        view.register_modules(scheduler=scheduler)
        _sync_ip_adapter(view, plan, loaded.unet_state, [])
        modules = self._modules(loaded)
        place(modules, engine.device.device)
        state = ComponentState.capture(modules)
        request = replace(self.request, image=image, mask_image=mask, control_image=control,
                          ip_adapter_image=None)  # fmt: skip
        kwargs, _ = call_kwargs(request, replace(plan, ip_adapter=None))
        for name in ("prompt", "negative_prompt"):
            kwargs.pop(name, None)
        kwargs, _ = _accepted(view, {**kwargs, **self._embeds})
        try:
            if plan.own is not None and plan.own.spec.kind == "lora":
                state.activate_lora(plan.spec.id, plan.spec.scale)
            else:
                state.deactivate_lora()
            if plan.ip_adapter is not None:
                scale = self.request.ip_adapter_scale
                state.set_ip_scale(plan.ip_adapter.spec.scale if scale is None else scale)

            def call():
                generator = torch.Generator("cpu").manual_seed(int(self.request.seed))  # the same noise every frame
                return view(**kwargs, generator=generator, output_type="np")

            compiled = engine.settings.compile != "off"
            output = speed.guarded(call, compiled, loaded.base_entry.state, self.plan.notes,
                                   speed.compile_cache(engine.settings))  # fmt: skip
        finally:
            state.restore()
        out = (np.clip(output.images[0], 0.0, 1.0) * 255.0).round().astype(np.uint8)
        return out, (time.perf_counter() - start) * 1000.0


def _fused(loaded, plan) -> bool:
    fusion = loaded.base_entry.state.get("fusion")
    return fusion is not None and fusion.fused is not None and fusion.fused[0] == plan.spec.id
