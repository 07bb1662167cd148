"""One tier's call, start to finish: load what the plan needs, build the view, run, restore, report.

Runs on the device's one worker thread (engine.device_worker). The order follows a diffusers `__call__`:
load (resident LRU) → merge the student's LoRA into its base, or restore the base's exact weights (fusion.py)
→ view and a fresh scheduler copy → activate adapters → call with a seeded CPU generator and the step callback
→ restore every per-call change in `finally` → Result with provenance.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ..schema import Preview, Provenance, Result
from . import speed
from .fusion import LoraFusion
from .loader import (ComponentState, attach_ip_adapter, fresh_scheduler, image_processor_for, load_autoencoder,
                     load_controlnet, load_image_encoder, load_lora, load_pipeline, load_unet, lora_layers,
                     make_scheduler, make_view, module_bytes, pin_timesteps, quiet, scheduler_info,
                     structure_changed)  # fmt: skip
from .placement import call_mode, offload_hooks, place, tiled_vae
from .previews import DenoisedCapture, Latent2RGB, StepCallback, TinyVAEPreview
from .prompts import chunk_long_prompts
from .request import call_kwargs
from .residency import Entry
from .specs import ModelSpec


def estimate_mb(spec: ModelSpec, dtype: torch.dtype) -> float:
    """Resident size guess before loading: catalog file sizes, doubled when fp16 files load as fp32."""
    size = spec.size_mb or 0.0
    half_files = spec.variant == "fp16" or "fp16" in spec.weights.path
    return size * 2 if half_files and dtype == torch.float32 else size


@dataclass
class Loaded:
    """The resident objects one call uses (all shared with other calls)."""

    base_entry: Entry
    unet_entry: Entry | None
    controlnet: Any
    encoder: Any
    feature_extractor: Any
    previewer: Any

    @property
    def base(self):
        return self.base_entry.value

    @property
    def unet(self):
        return self.unet_entry.value if self.unet_entry is not None else self.base.unet

    @property
    def unet_state(self) -> dict:
        """Bookkeeping of the UNet this call runs (which IP-Adapter it carries)."""
        return self.unet_entry.state if self.unet_entry is not None else self.base_entry.state


def load_for(engine, request, plan, notes: list[str]) -> Loaded:
    """Everything the plan needs, from the resident LRU or freshly loaded into it."""
    residency, dtype = engine.residency, engine.device.dtype
    offload, _ = call_mode(engine, plan)  # the memory plan's (placement.py)
    to = "cpu" if offload else engine.device.device
    spec = plan.spec
    ip = plan.ip_adapter.spec if plan.ip_adapter else None
    # Keyed by repo + folder: adapters that share an image encoder (SD1.5 and SDXL ViT-H) share one copy.
    encoder_key = ("image_encoder", f"{ip.repo}/{ip.image_encoder}") if ip else None
    pinned = {("pipeline", plan.base.spec.id), encoder_key}
    pinned |= {(kind, r.spec.id) for kind, r in (("unet", plan.own), ("controlnet", plan.controlnet),
                                                 ("taesd", plan.preview)) if r}  # fmt: skip

    prepared: dict = {}

    def base_loader():
        vae = load_autoencoder(plan.vae_fix, to, dtype, tiny=False) if plan.vae_fix else None
        pipe = load_pipeline(plan.base, to, dtype, vae=vae, offload=bool(offload))
        prepared.update(speed.prepare_pipeline(pipe, engine.settings, engine.device.device))  # compile, NHWC
        return pipe

    def faster(model, kind: str):
        speed.prepare_model(model, engine.settings, engine.device.device, kind)
        return model

    _room_for_the_plan(residency, plan, pinned, offload)
    base_key = ("pipeline", plan.base.spec.id)
    base_entry = residency.get(base_key, base_loader, estimate_mb(plan.base.spec, dtype), pinned)
    if prepared:
        base_entry.state["speed"] = prepared
    if plan.vae_fix is not None:
        notes.append("SDXL VAE: madebyollin/sdxl-vae-fp16-fix (no fp32 upcast).")
    unet_entry = None
    if plan.own is not None and plan.own.spec.kind == "lora":
        loras = base_entry.state.setdefault("loras", set())
        if spec.id not in loras:
            load_lora(base_entry.value, plan.own)  # stays resident, disabled, in the shared base
            loras.add(spec.id)
    elif plan.own is not None:
        unet_entry = residency.get(("unet", spec.id),
                                   lambda: faster(load_unet(plan.own, base_entry.value.unet, to, dtype), "unet"),
                                   estimate_mb(spec, dtype), pinned)  # fmt: skip
    for resolved, _ in plan.loras:  # user LoRAs (a style): resident in the base like the students'
        loras = base_entry.state.setdefault("loras", set())
        if resolved.spec.id not in loras:
            load_lora(base_entry.value, resolved)
            loras.add(resolved.spec.id)
    controlnet = None
    if plan.controlnet is not None:
        controlnet = residency.get(("controlnet", plan.controlnet.spec.id),
                                   lambda: faster(load_controlnet(plan.controlnet, to, dtype), "controlnet"),
                                   estimate_mb(plan.controlnet.spec, dtype), pinned).value  # fmt: skip
    encoder = processor = None
    if ip is not None:
        enc_entry = residency.get(encoder_key, lambda: load_image_encoder(plan.ip_adapter, to, dtype), None, pinned)
        encoder = enc_entry.value
        processor = enc_entry.state.setdefault("processor", image_processor_for(encoder))
    previewer = None
    if request.previews and plan.preview is not None:
        taesd = residency.get(("taesd", plan.preview.spec.id),
                              lambda: load_autoencoder(plan.preview, engine.device.device, dtype, tiny=True),
                              None, pinned).value  # fmt: skip
        previewer = TinyVAEPreview(taesd)
    elif request.previews:
        previewer = Latent2RGB(spec.family)
    return Loaded(base_entry, unet_entry, controlnet, encoder, processor, previewer)


def _room_for_the_plan(residency, plan, pinned: set, offload: str | None) -> None:
    """Evict models this call does not use until the call's whole predicted peak (its weights and activations) fits
    beside the rest under the memory budget; the per-model estimates alone would leave no room for activations."""
    if plan.memory is None or not plan.memory.enforced or offload or all(key in pinned for key in residency.keys()):
        return
    own = module_bytes(*(e.value for e in residency.entries() if e.key in pinned)) / 1e6
    residency.make_room(max(plan.memory.peak_mb - own, 0.0), pinned)


def build_view(loaded: Loaded, plan, notes: list[str]):
    """The per-call pipeline (fresh scheduler, the call's UNet/ControlNet/encoder) with the right IP-Adapter."""
    # A copy of a pristine scheduler kept with the base: building one from its config costs ~0.4 ms a call.
    prototypes = loaded.base_entry.state.setdefault("schedulers", {})
    recipe = plan.spec.scheduler if plan.tier == "student" else None
    if recipe not in prototypes:  # None: the base's own scheduler class
        prototypes[recipe] = make_scheduler(loaded.base.scheduler, recipe)
    scheduler = fresh_scheduler(prototypes[recipe])
    if plan.schedule is not None and plan.schedule.timesteps is not None:
        pin_timesteps(scheduler, plan.schedule.timesteps)  # the call's copy only: reaches every pipeline kind
    components = {"scheduler": scheduler}
    if loaded.unet_entry is not None:
        components["unet"] = loaded.unet
    if loaded.controlnet is not None:
        components["controlnet"] = loaded.controlnet
    if loaded.encoder is not None:
        components.update(image_encoder=loaded.encoder, feature_extractor=loaded.feature_extractor)
    union = plan.controlnet is not None and plan.controlnet.spec.union
    # `from_pipe` walks every module (`.to()` on each component): ~10 ms a call on a laptop CPU. The last view
    # is kept with its base and reused when the next call needs the same kind over the same modules; only its
    # scheduler changes per call. One view per base at most, so an evicted UNet/ControlNet is not kept alive.
    key = (plan.spec.family, plan.kind, union, *(id(m) for m in components.values() if m is not scheduler))
    cached = loaded.base_entry.state.get("view")
    if cached is not None and cached[0] == key:
        view = cached[1]
        view.register_modules(scheduler=scheduler)
    else:
        view = make_view(loaded.base, plan.spec.family, plan.kind, union=union, **components)
        loaded.base_entry.state["view"] = (key, view)
    _sync_ip_adapter(view, plan, loaded.unet_state, notes)
    return view, scheduler


def run_plan(engine, request, plan, emit: Callable[[Preview], None], cancelled: Callable[[], bool]) -> Result:
    dev = engine.device.device
    offload, tiling = call_mode(engine, plan)  # the memory plan, as this device applies it (placement.py)
    spec, notes = plan.spec, list(plan.notes)
    timings = {"resolve": plan.resolve_ms}

    start = time.perf_counter()
    loaded = load_for(engine, request, plan, notes)
    fusion_note = _sync_lora_fusion(engine, loaded, plan)
    if fusion_note:
        notes.append(fusion_note)
    timings["load"] = (time.perf_counter() - start) * 1000.0
    view, scheduler = build_view(loaded, plan, notes)
    base, unet, controlnet = loaded.base, loaded.unet, loaded.controlnet

    shared = (unet, base.unet, controlnet, loaded.encoder, *_text_encoders(base), base.vae)
    modules = list({id(m): m for m in shared if m is not None}.values())
    place(modules, "cpu" if offload else dev)  # where this call's memory mode keeps them, before the capture
    state = ComponentState.capture(modules)  # after residency changes, before anything call-specific
    capture = DenoisedCapture(scheduler) if loaded.previewer is not None else None  # x0 is for previews only
    callback = StepCallback(f"{plan.tier} · {spec.id}", loaded.previewer, capture, emit, cancelled)
    kwargs, facts = call_kwargs(request, plan)
    kwargs, dropped = _accepted(view, kwargs)
    notes += [f"{type(view).__name__} takes no {name}; it was not used." for name in dropped
              if name == "negative_prompt"]  # fmt: skip
    embedded = getattr(getattr(unet, "config", None), "time_cond_proj_dim", None) is not None
    if embedded and not hasattr(view, "get_guidance_scale_embedding"):
        # The catalog flags these UNets (Engine._check_guidance_embedding); this catches an unflagged one.
        from ..errors import InputError

        raise InputError(f"'{spec.id}' has a guidance-embedding UNet (time_cond_proj_dim) that {type(view).__name__} "
                         "never feeds; use another pipeline kind or a LoRA student.")  # fmt: skip
    first_forward: list[float] = []
    def mark_first_forward(*_):
        if not first_forward:  # ControlNet runs before the UNet: whichever comes first starts the denoise phase
            first_forward.append(time.perf_counter())
            for hook in hooks:  # a module with hooks takes torch's slower call path: drop them once they fired
                hook.remove()

    hooks = [m.register_forward_pre_hook(mark_first_forward) for m in (unet, controlnet) if m is not None]
    windowed = _reset_peak(dev)

    call_start = time.perf_counter()
    remove_hooks = lambda: None  # noqa: E731
    try:
        extra = {resolved.spec.id: weight for resolved, weight in plan.loras}  # user LoRAs, on either tier
        if plan.own is not None and plan.own.spec.kind == "lora":
            if extra:
                state.activate_loras({spec.id: spec.scale, **extra})
            else:
                state.activate_lora(spec.id, spec.scale)
        elif extra:
            state.activate_loras(extra)
        else:
            state.deactivate_lora()  # the teacher (or a UNet student) runs on the plain base weights
        if plan.ip_adapter is not None:
            scale = request.ip_adapter_scale if request.ip_adapter_scale is not None else plan.ip_adapter.spec.scale
            if isinstance(scale, (int, float)):
                state.set_ip_scale(scale)
            else:
                view.set_ip_adapter_scale(scale)  # an InstantStyle per-block dict
        remove_hooks = offload_hooks(view, offload, dev)
        # After the LoRA and offload are set: a LoRA may touch the text encoder, offload moves it.
        chunked = chunk_long_prompts(view, kwargs)
        if chunked:
            notes.append(chunked)
        if isinstance(kwargs.get("ip_adapter_image"), list):  # several references: one averaged embedding
            kwargs["ip_adapter_image_embeds"] = average_ip_embeds(view, kwargs.pop("ip_adapter_image"), plan.guidance)

        def call():
            generator = torch.Generator("cpu").manual_seed(int(request.seed))  # same seed, same image on any device
            return view(**kwargs, generator=generator, callback_on_step_end=callback,
                        callback_on_step_end_tensor_inputs=["latents"], output_type="np")  # fmt: skip

        compiled, cache = engine.settings.compile != "off", speed.compile_cache(engine.settings)
        with tiled_vae(view.vae, tiling), speed.eager_while(offload is not None):
            output = speed.guarded(call, compiled, loaded.base_entry.state, notes, cache)
        cfg = bool(getattr(view, "do_classifier_free_guidance", False))
    finally:
        for hook in hooks:
            hook.remove()
        remove_hooks()
        state.restore()
    call_end = time.perf_counter()

    image = (np.clip(output.images[0], 0.0, 1.0) * 255.0).round().astype(np.uint8)
    denoise_start = first_forward[0] if first_forward else call_start
    last_step = callback.step_ends[-1] if callback.step_ends else call_end
    timings.update(prepare=(denoise_start - call_start) * 1000.0,
                   denoise=(last_step - denoise_start) * 1000.0 - callback.preview_ms,
                   previews=callback.preview_ms, decode=(call_end - last_step) * 1000.0)  # fmt: skip
    peak_mb, peak_source = _peak_mb(dev, windowed)
    memory = _memory_record(plan, peak_mb, offload, tiling)
    if memory is not None:
        notes.append("memory plan: " + plan.memory.describe())
    sched = scheduler_info(scheduler)
    described = spec.scheduler.describe() if plan.tier == "student" and spec.scheduler else sched["class"]
    notes.insert(0, f"scheduler {described}")
    notes.append(f"CFG {'on' if cfg else 'off'} (guidance {plan.guidance:g})")
    settings = _settings(plan, kwargs, described, callback.timesteps, cfg, request)
    notes.append("settings: " + describe_settings(settings))
    labels = [r.label for r in (plan.own, plan.base, plan.controlnet, plan.ip_adapter, plan.preview) if r is not None]
    labels += [f"{resolved.label} ({resolved.spec.weights.path}, licence {resolved.spec.licence.name})"
               for resolved, _ in plan.loras]
    provenance = Provenance(
        app=request.app, tier=plan.tier, models=labels, steps=len(callback.timesteps), guidance=plan.guidance,
        seed=int(request.seed), device=dev, timings_ms={k: round(v, 2) for k, v in timings.items()},
        peak_memory_mb=peak_mb, notes=notes,
    )
    info = {
        plan.tier: spec.id, "pipeline": type(view).__name__, "scheduler": sched["class"],
        "scheduler_config": sched["config"], "timesteps": callback.timesteps, "cfg": cfg,
        "dtype": engine.device.dtype_name, "eta": kwargs.get("eta"), "previews": callback.previews,
        "preview_decoder": getattr(loaded.previewer, "name", None), "peak_memory_source": peak_source,
        "ip_adapter_scale": _jsonable(request.ip_adapter_scale) if plan.ip_adapter else None,
        "lora": _lora_mode(loaded, plan), "settings": settings, "memory_plan": memory,
        "speed": {"compile": engine.settings.compile, **loaded.base_entry.state.get("speed", {}),
                  "attention": speed.attention_kind(unet, controlnet)}, **facts,
    }
    before = np.asarray(request.image) if isinstance(request.image, np.ndarray) else None
    return Result(image=image, provenance=provenance, before=before, info=info)


def average_ip_embeds(view, images: list, guidance: float) -> list:
    """One IP-Adapter's embedding of several reference images, averaged: `ip_adapter_image_embeds` for the call.

    diffusers would concatenate several images' tokens (each image conditions on its own); the mean of their image
    embeddings is the subject they share (an avatar's selfies, each with its own light and angle). The negative half
    is the encoder's embedding of a blank image either way, so averaging leaves it as it is.
    """
    unet = view.unet
    cfg = guidance > 1.0 and getattr(unet.config, "time_cond_proj_dim", None) is None  # as the pipelines decide
    with torch.no_grad():
        embeds = view.prepare_ip_adapter_image_embeds([images], None, view._execution_device, 1, cfg)
    return [e.mean(dim=1, keepdim=True) for e in embeds]  # (CFG halves × images × tokens × width) → one image


def _settings(plan, kwargs: dict, scheduler: str, timesteps: list, cfg: bool, request) -> dict:
    """The settings this call ran with, and where each comes from (`Result.info["settings"]`; Compare shows it)."""
    spec = plan.spec
    out = {"scheduler": scheduler, "steps": len(timesteps), "timesteps": list(timesteps),
           "num_inference_steps": kwargs.get("num_inference_steps"), "guidance": plan.guidance,
           "cfg": cfg}  # fmt: skip
    if "strength" in kwargs:
        out["strength"] = kwargs["strength"]
    if "eta" in kwargs:
        out["eta"] = kwargs["eta"]
    if plan.own is not None and spec.kind == "lora":
        out["lora_scale"] = spec.scale
    if plan.loras:
        out["loras"] = {resolved.spec.weights.path: weight for resolved, weight in plan.loras}
    if "controlnet_conditioning_scale" in kwargs:
        out["controlnet_scale"] = kwargs["controlnet_conditioning_scale"]
    if plan.ip_adapter is not None:
        scale = request.ip_adapter_scale if request.ip_adapter_scale is not None else plan.ip_adapter.spec.scale
        out["ip_adapter_scale"] = _jsonable(scale)
    out["sources"] = dict(plan.sources)
    return out


def describe_settings(settings: dict) -> str:
    """One line: 'steps 6 of 8 [749, …], guidance 5 (CFG on), strength 0.8, eta 0.3, ControlNet 1, LoRA 1'."""
    steps = settings["steps"]
    total = settings.get("num_inference_steps")
    parts = [f"{steps} step(s)" + (f" of a {total}-step schedule" if total and total != steps else "")
             + f" at t={settings['timesteps']}",
             f"guidance {settings['guidance']:g} (CFG {'on' if settings['cfg'] else 'off'})"]  # fmt: skip
    labels = (("strength", "strength"), ("eta", "eta"), ("lora_scale", "LoRA scale"),
              ("controlnet_scale", "ControlNet scale"), ("ip_adapter_scale", "IP-Adapter scale"))
    for key, label in labels:
        if key in settings:
            value = settings[key]
            parts.append(f"{label} {value:g}" if isinstance(value, (int, float)) else f"{label} {value}")
    return ", ".join(parts)


def _memory_record(plan, measured_mb, offload, tiling) -> dict | None:
    """The memory plan for `Result.info`: the chosen mode, what ran, predicted against measured peak."""
    memory = plan.memory
    if memory is None:
        return None
    return {"mode": memory.mode, "applied": memory.applied, "enforced": memory.enforced, "offload": offload,
            "vae_tiling": tiling,
            "predicted_peak_mb": round(memory.peak_mb, 1), "measured_peak_mb": measured_mb,
            "usable_mb": memory.usable_mb, "capacity_gb": memory.capacity_gb, "capacity": memory.capacity_source,
            "weights_mb": round(memory.weights_mb, 1), "activations_mb": memory.activations_mb,
            "host_mb": memory.host_mb, "modes": {m: v["peak_mb"] for m, v in memory.modes.items()},
            "notes": memory.notes}  # fmt: skip


def _sync_lora_fusion(engine, loaded: Loaded, plan) -> str | None:
    """Merge the student's LoRA into the base, or give the base its exact own weights back, as this call needs."""
    # A merged layer ignores every other adapter (PEFT), so a call with user LoRAs runs its student unfused; offloaded
    # weights travel between devices every call, so an offloading call runs it unfused too.
    fused_student = (plan.own is not None and plan.own.spec.kind == "lora" and engine.fuses_lora and not plan.loras
                     and call_mode(engine, plan)[0] is None)  # fmt: skip
    fusion = loaded.base_entry.state.get("fusion")
    if fusion is None:
        if not fused_student:
            return None
        fusion = loaded.base_entry.state["fusion"] = LoraFusion(engine.device.device)
    layers = lora_layers(loaded.base.unet)
    return fusion.ensure(layers, plan.spec.id, plan.spec.scale) if fused_student else fusion.ensure(layers, None)


def _lora_mode(loaded: Loaded, plan) -> str | None:
    """How a LoRA student ran: "fused" (merged into the base) or "unfused"; None for any other call."""
    if plan.own is None or plan.own.spec.kind != "lora":
        return None
    fusion = loaded.base_entry.state.get("fusion")
    return "fused" if fusion is not None and fusion.fused and fusion.fused[0] == plan.spec.id else "unfused"


def _sync_ip_adapter(view, plan, owner_state: dict, notes: list[str]) -> None:
    """Attach the plan's IP-Adapter to the UNet the call uses, or detach one this call does not use.

    A UNet with IP layers cannot run without a reference image, so a request without one detaches it (the
    next request with a reference attaches it again, a few hundred ms at real size).
    """
    attached = owner_state.get("ip_adapter")
    wanted = plan.ip_adapter.spec.id if plan.ip_adapter is not None else None
    if attached == wanted:
        return
    if attached is not None:
        encoder, processor = view.image_encoder, view.feature_extractor
        with quiet():
            view.unload_ip_adapter()  # also unregisters the view's image encoder and processor: put them back
        view.register_modules(image_encoder=encoder, feature_extractor=processor)
        structure_changed()
        owner_state.pop("ip_adapter")
        why = "uses another" if wanted else "has no reference image"
        notes.append(f"IP-Adapter {attached} detached (this request {why}).")
    if wanted is not None:
        attach_ip_adapter(view, plan.ip_adapter)
        owner_state["ip_adapter"] = wanted


def _text_encoders(pipe) -> list:
    return [getattr(pipe, name, None) for name in ("text_encoder", "text_encoder_2")]


def _accepted(view, kwargs: dict) -> tuple[dict, list[str]]:
    params = _call_parameters(type(view))
    kept = {k: v for k, v in kwargs.items() if k in params and v is not None}
    return kept, [k for k, v in kwargs.items() if k not in params and v is not None]


@functools.lru_cache(maxsize=None)
def _call_parameters(cls) -> frozenset[str]:
    return frozenset(inspect.signature(cls.__call__).parameters)


def _jsonable(value):
    return value if value is None or isinstance(value, (int, float, str, list, dict)) else repr(value)


def _reset_peak(dev: str) -> bool:
    """Start this call's peak-memory window; False where only the process's lifetime peak can be read."""
    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(dev))
        return True
    try:  # Linux: writing 5 resets the process's peak RSS (VmHWM), so the peak read after the call is this call's
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, b"5")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _peak_mb(dev: str, windowed: bool) -> tuple[float | None, str]:
    if dev.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated(torch.device(dev)) / 1e6, 1), "torch.cuda.max_memory_allocated"
    if dev == "mps":
        return round(torch.mps.driver_allocated_memory() / 1e6, 1), "torch.mps.driver_allocated_memory"
    try:
        import resource
    except ImportError:  # Windows
        return None, "not measured on this system"
    # getrusage reads the same peak as /proc/self/status's VmHWM (and follows its reset), in 1 µs instead of the
    # ~0.2 ms the status file takes right after a large call. Linux counts kB, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return round(peak / 1e6, 1), "process peak RSS during the call" if windowed else "process lifetime peak RSS"
