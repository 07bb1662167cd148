"""Turn resolved catalog entries into diffusers objects, and build per-call pipeline views over them.

Loading rules (DESIGN.md §2):
  - Everything loads from local folders the resolver found (`local_files_only=True`): loading never downloads.
  - safetensors wherever the catalog lists them; torch pickles (.bin) only for entries marked `pickle`, through
    `torch.load(weights_only=True)`, with a warning; never `trust_remote_code`.
  - dtype policy from `studio.devices.pick_device`: fp16 on GPU, fp32 on CPU. On a fp16 GPU, SDXL uses the
    fp16-fix VAE when it is cached (otherwise diffusers upcasts the VAE to fp32 for decoding).
  - A LoRA student is loaded into its base pipeline as a named PEFT adapter and left *disabled*; the engine
    enables it only for the student's call. A full-UNet student is a separate UNet; the VAE and text encoders
    stay shared through `from_pipe`.

Views: `make_view(base, kind, ...)` returns `<Pipeline>.from_pipe(base, ...)` for the requested pipeline kind;
it shares every module with the base (no copies), so building one per call costs milliseconds.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .resolver import Resolved
from .specs import SchedulerSpec

log = logging.getLogger(__name__)

VIEW_CLASSES = {
    "sd15": {
        "txt2img": "StableDiffusionPipeline",
        "img2img": "StableDiffusionImg2ImgPipeline",
        "inpaint": "StableDiffusionInpaintPipeline",
        "controlnet": "StableDiffusionControlNetPipeline",
        "controlnet-img2img": "StableDiffusionControlNetImg2ImgPipeline",
        "controlnet-inpaint": "StableDiffusionControlNetInpaintPipeline",
    },
    "sdxl": {
        "txt2img": "StableDiffusionXLPipeline",
        "img2img": "StableDiffusionXLImg2ImgPipeline",
        "inpaint": "StableDiffusionXLInpaintPipeline",
        "controlnet": "StableDiffusionXLControlNetPipeline",
        "controlnet-img2img": "StableDiffusionXLControlNetImg2ImgPipeline",
        "controlnet-inpaint": "StableDiffusionXLControlNetInpaintPipeline",
    },
    # xinsir's ControlNetUnionModel needs the Union pipelines (doc §3.1), which take `control_mode`.
    "sdxl-union": {
        "controlnet": "StableDiffusionXLControlNetUnionPipeline",
        "controlnet-img2img": "StableDiffusionXLControlNetUnionImg2ImgPipeline",
        "controlnet-inpaint": "StableDiffusionXLControlNetUnionInpaintPipeline",
    },
}


@contextmanager
def quiet():
    """Silence diffusers/transformers warnings and progress bars that are noise for the studio (per-component
    load bars, "config attributes ... will be ignored" from scheduler swaps, "no text-encoder LoRA keys"),
    restoring both libraries' settings afterwards. Errors still raise. The loaders below use it as a decorator:
    only building things is noisy, and switching levels costs ~0.5 ms (every logger's cache is cleared), so a
    call that finds everything loaded does not pay for it."""
    from diffusers.utils import logging as d_log
    from transformers.utils import logging as t_log

    saved = (d_log.get_verbosity(), d_log.is_progress_bar_enabled(),
             t_log.get_verbosity(), t_log.is_progress_bar_enabled())  # fmt: skip
    # Only change levels that differ: each change clears every logger's level cache (thousands of loggers once
    # diffusers and transformers are imported), a visible share of a tiny model's call.
    if saved[0] < d_log.ERROR:
        d_log.set_verbosity_error()
    if saved[2] < t_log.ERROR:
        t_log.set_verbosity_error()
    d_log.disable_progress_bar()
    t_log.disable_progress_bar()
    try:
        yield
    finally:
        if saved[0] != d_log.get_verbosity():
            d_log.set_verbosity(saved[0])
        if saved[2] != t_log.get_verbosity():
            t_log.set_verbosity(saved[2])
        (d_log.enable_progress_bar if saved[1] else d_log.disable_progress_bar)()
        (t_log.enable_progress_bar if saved[3] else t_log.disable_progress_bar)()


def diffusers_class(name: str):
    import diffusers

    return getattr(diffusers, name)


# --------------------------------------------------------------------------------------------- memory
def module_bytes(*objects) -> int:
    """Bytes of every parameter and buffer reachable from the given pipelines/modules, each storage once.

    Shared modules (from_pipe views, a LoRA base used by student and teacher) are counted once, which is
    exactly the "resident" number: what would be freed if all of them were dropped.
    """
    seen: set[int] = set()
    total = 0
    for obj in objects:
        modules = obj.components.values() if hasattr(obj, "components") else [obj]
        for module in modules:
            if not isinstance(module, torch.nn.Module):
                continue
            for tensor in (*module.parameters(), *module.buffers()):
                if tensor.device.type == "meta":
                    continue
                storage = tensor.untyped_storage()
                key = storage.data_ptr()
                if key in seen:
                    continue
                seen.add(key)
                total += storage.nbytes()
    return total


# --------------------------------------------------------------------------------------------- components
@quiet()
def load_pipeline(resolved: Resolved, device: str, dtype: torch.dtype, vae=None, offload: bool = False):
    """A catalog `pipeline` entry, from its local folder, on `device` (or CPU when offloading)."""
    spec = resolved.spec
    cls = diffusers_class(spec.pipeline)
    accepted = inspect.signature(cls.__init__).parameters
    extra: dict[str, Any] = {}
    if "safety_checker" in accepted:
        # The studio does not run the SD safety checker (it is not fetched: 1.2 GB); say so explicitly so diffusers
        # does not try to load it from model_index.json.
        extra.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    if vae is not None:
        extra["vae"] = vae
    pipe = cls.from_pretrained(str(resolved.root), variant=spec.variant, dtype=dtype, local_files_only=True,
                               use_safetensors=True, **extra)  # fmt: skip
    if not offload and device != "cpu":  # from_pretrained loads on the CPU already
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)  # the studio streams its own previews; no tqdm per call
    return pipe


def _to(module, device: str):
    """Move only when needed: loaders put weights on the CPU, and a no-op `.to()` makes diffusers warn."""
    return module if device == "cpu" else module.to(device)


@quiet()
def load_lora(pipe, resolved: Resolved) -> None:
    """Load a LoRA file as a PEFT adapter named after its catalog id, then leave LoRA layers disabled."""
    weights = resolved.file(resolved.spec.weights.path)
    # Student LoRAs hold UNet keys only (catalog doc §10): diffusers warns once per text encoder; quiet() hides it.
    # PEFT warns that a second adapter joins the first: several students sharing one base is the point here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
        pipe.load_lora_weights(str(weights.parent), weight_name=weights.name, adapter_name=resolved.spec.id)
    pipe.disable_lora()
    structure_changed()


def _state_dict(resolved: Resolved) -> dict:
    path = resolved.file(resolved.spec.weights.path)
    if resolved.spec.pickle:
        warnings.warn(
            f"Loading {resolved.spec.id} from a torch pickle ({path.name}) with weights_only=True: only tensors are "
            "read, no code runs, but prefer safetensors where the repo has them.",
            stacklevel=3,
        )
        return torch.load(path, map_location="cpu", weights_only=True)
    from safetensors.torch import load_file

    return load_file(path)


@quiet()
def load_unet(resolved: Resolved, base_unet, device: str, dtype: torch.dtype):
    """A full-UNet student. Single-file UNets take the base UNet's config (G5: `from_config(load_config(...))`)."""
    from diffusers import UNet2DConditionModel

    spec = resolved.spec
    if any(f.path.endswith("config.json") for f in spec.files):
        unet = UNet2DConditionModel.from_pretrained(str(resolved.root), subfolder=spec.subfolder, variant=spec.variant,
                                                    dtype=dtype, local_files_only=True)  # fmt: skip
        return _to(unet, device).eval()
    # Build on the meta device and assign the loaded tensors: no second full-size random init (DMD2 README).
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(base_unet.config)
    unet.load_state_dict(_state_dict(resolved), strict=True, assign=True)
    leftovers = [name for name, t in (*unet.named_parameters(), *unet.named_buffers()) if t.device.type == "meta"]
    if leftovers:
        raise RuntimeError(f"{spec.id}: the weights file has no values for {leftovers[:3]}; it does not fit the base.")
    # assign=True kept the file's dtype (fp16); cast the whole module once to the engine's dtype and device.
    return torch.nn.Module.to(unet, device=device, dtype=dtype).eval()


@quiet()
def load_controlnet(resolved: Resolved, device: str, dtype: torch.dtype):
    spec = resolved.spec
    cls = diffusers_class("ControlNetUnionModel" if spec.union else "ControlNetModel")
    model = cls.from_pretrained(str(resolved.root), subfolder=spec.subfolder, variant=spec.variant, dtype=dtype,
                                local_files_only=True, use_safetensors=not spec.pickle)  # fmt: skip
    return _to(model, device).eval()


@quiet()
def load_image_encoder(resolved: Resolved, device: str, dtype: torch.dtype):
    """The CLIP image encoder of an IP-Adapter entry."""
    from transformers import CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection.from_pretrained(
        str(resolved.root / resolved.spec.image_encoder), dtype=dtype, local_files_only=True, use_safetensors=True
    )
    return _to(encoder, device).eval()


def image_processor_for(encoder):
    """A CLIPImageProcessor cropping to the encoder's own input size, as `load_ip_adapter` builds when a pipeline
    has no feature extractor (the studio does not load the SD safety checker's one)."""
    from transformers import CLIPImageProcessor

    size = encoder.config.image_size
    return CLIPImageProcessor(size=size, crop_size=size)


@quiet()
def attach_ip_adapter(view, resolved: Resolved) -> None:
    """Load IP-Adapter weights into `view.unet` (the view already carries the image encoder)."""
    spec = resolved.spec
    weights = resolved.file(spec.weights.path)
    view.load_ip_adapter(str(weights.parent), subfolder="", weight_name=weights.name, image_encoder_folder=None,
                         local_files_only=True)  # fmt: skip
    structure_changed()


@quiet()
def load_autoencoder(resolved: Resolved, device: str, dtype: torch.dtype, tiny: bool):
    cls = diffusers_class("AutoencoderTiny" if tiny else "AutoencoderKL")
    vae = cls.from_pretrained(str(resolved.root), subfolder=resolved.spec.subfolder, dtype=dtype,
                              local_files_only=True, use_safetensors=True)  # fmt: skip
    return _to(vae, device).eval()


# --------------------------------------------------------------------------------------------- per-call objects
def view_class(family: str, kind: str, union: bool = False):
    table = VIEW_CLASSES["sdxl-union" if union else family]
    if kind not in table:
        raise ValueError(f"No {family}{' union' if union else ''} pipeline for kind '{kind}'.")
    return diffusers_class(table[kind])


@quiet()
def make_view(base, family: str, kind: str, union: bool = False, **components):
    """A pipeline of the requested kind sharing the base's modules; `components` replace some (unet, controlnet...)."""
    cls = view_class(family, kind, union)
    # Always a new pipeline object, even when the class matches: the base keeps its own scheduler.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # from_pipe's notes about components the new class does not take
        view = cls.from_pipe(base, **components)
    view.set_progress_bar_config(disable=True)
    return view


@quiet()
def make_scheduler(base_scheduler, spec: SchedulerSpec | None):
    """A new scheduler: the recipe's class and overrides on the base's own config.

    Schedulers carry per-call state (timesteps, step index), so the engine never reuses the base's instance:
    the runner keeps one made here per recipe as a pristine prototype and gives each call a copy.
    """
    cls = type(base_scheduler) if spec is None else diffusers_class(spec.cls)
    return cls.from_config(base_scheduler.config, **(spec.kwargs if spec else {}))


def fresh_scheduler(prototype):
    """An independent copy of a pristine scheduler, for one call.

    Scheduler state is flat: a frozen config, tensors (betas, timesteps, sigmas) and lists or arrays that a call
    fills (PNDM's `ets`, DPM-Solver's `model_outputs`). Cloning those one level deep gives the call its own
    state, at a fifth of `copy.deepcopy`'s cost (0.02 ms against 0.08 ms on a laptop CPU, ~0.2 ms in a call).
    """
    scheduler = copy.copy(prototype)
    state = scheduler.__dict__
    for name, value in list(state.items()):
        if isinstance(value, torch.Tensor):
            state[name] = value.clone()
        elif isinstance(value, (list, dict, set, np.ndarray)):
            state[name] = copy.copy(value)
    return scheduler


def pin_timesteps(scheduler, timesteps) -> None:
    """Make this scheduler instance (one call's copy) always set `timesteps`, whatever step count it is asked for.

    Students distilled on fixed timesteps (DMD2 [999, 749, 499, 249], Hyper-SDXL 1-step UNet [800]) must run exactly
    those. Only some pipelines take a `timesteps` argument (none of the ControlNet img2img/inpaint ones), but every
    pipeline calls `scheduler.set_timesteps(num_inference_steps, ...)` and then slices the scheduler's timesteps for
    its strength, so setting them here reaches every kind. The caller passes num_inference_steps = len(timesteps).
    """
    method = type(scheduler).set_timesteps
    if "timesteps" not in inspect.signature(method).parameters:
        raise ValueError(f"{type(scheduler).__name__} cannot take fixed timesteps; give the entry LCMScheduler.")
    fixed = [int(t) for t in timesteps]

    @functools.wraps(method)
    def set_timesteps(num_inference_steps=None, device=None, timesteps=None, **kwargs):
        kwargs.pop("sigmas", None)
        method(scheduler, device=device, timesteps=fixed, **kwargs)

    scheduler.set_timesteps = set_timesteps


def scheduler_info(scheduler) -> dict:
    config = {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
    return {"class": type(scheduler).__name__, "config": config}


# --------------------------------------------------------------------------------------------- shared-state guard
# Walking every submodule for LoRA layers and IP-Adapter processors costs ~5 ms per call on a CPU, and the
# answer only changes when adapters are loaded or removed. Those places call `structure_changed()`.
_structure = {"version": 0}
_parts_cache: "weakref.WeakKeyDictionary[torch.nn.Module, tuple]" = weakref.WeakKeyDictionary()


def structure_changed() -> None:
    """Adapters were loaded into or removed from a module: the next capture walks the modules again."""
    _structure["version"] += 1


def lora_layers(module: torch.nn.Module) -> list:
    """The module's PEFT LoRA layers (cached until the structure changes)."""
    return _adapter_parts(module)[0]


def switch_lora(layers: list, enabled: bool) -> None:
    """Turn every given PEFT layer's adapters on or off for inference."""
    direct = _peft_disable_flag()
    for layer in layers:
        _set_lora_off(layer, not enabled, direct)


def _set_lora_off(layer, off: bool, direct: bool) -> None:
    """One PEFT layer's on/off switch.

    PEFT's `enable_adapters` also sets `requires_grad` on every LoRA weight of the layer (it serves training),
    ~10 µs a layer: 1.5 ms of a tiny 4-step SD1.5 call, more with SDXL's hundreds of layers. Inference needs only
    the flag PEFT's forward reads. It is written into the layer's own attributes: going through
    `nn.Module.__setattr__` costs 1 µs a layer for checks that concern parameters and submodules, not a bool.
    """
    attributes = layer.__dict__
    if direct and "_disable_adapters" in attributes:
        attributes["_disable_adapters"] = off
    elif bool(layer.disable_adapters) != off:
        layer.enable_adapters(not off)


def _adapter_parts(module: torch.nn.Module) -> tuple[list, list]:
    """The module's PEFT LoRA layers and IP-Adapter attention processors (cached until the structure changes)."""
    cached = _parts_cache.get(module)
    if cached is not None and cached[0] == _structure["version"]:
        return cached[1], cached[2]
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [sub for sub in module.modules() if isinstance(sub, BaseTunerLayer)]
    processors = module.attn_processors if hasattr(module, "attn_processors") else {}
    ip = [proc for proc in processors.values() if "IPAdapter" in type(proc).__name__]
    _parts_cache[module] = (_structure["version"], layers, ip)
    return layers, ip


@dataclass
class ComponentState:
    """What a call may change on shared modules, captured before and restored in `finally`."""

    lora: list[tuple[Any, list[str], bool, dict]]  # (peft layer, active adapters, disabled, scaling)
    ip_scales: list[tuple[Any, list]]  # (IP attention processor, its per-adapter scales)
    dtypes: list[tuple[torch.nn.Module, torch.dtype, torch.device]]

    @classmethod
    def capture(cls, modules: list[torch.nn.Module]) -> "ComponentState":
        lora, ip_scales, dtypes = [], [], []
        for module in modules:
            param = next(module.parameters(), None)
            if param is not None:
                dtypes.append((module, param.dtype, param.device))
            layers, processors = _adapter_parts(module)
            lora += [(sub, list(sub.active_adapters), bool(sub.disable_adapters), dict(sub.scaling)) for sub in layers]
            ip_scales += [(proc, list(proc.scale)) for proc in processors]
        return cls(lora, ip_scales, dtypes)

    # The LoRA loops below run twice a call over every LoRA layer (79 in the tiny SD1.5 UNet, hundreds in a real
    # SDXL one), so they stay plain: a few attribute reads and writes per layer.
    def activate_lora(self, adapter: str, scale: float) -> None:
        """Run the captured modules' LoRA layers with `adapter` alone at `scale`: what diffusers' `enable_lora()` and
        `set_adapters([adapter], [scale])` do, on the cached layer list (those two walk every submodule twice,
        ~3.5 ms a call on a CPU). Layers without this adapter stay out of the way: PEFT skips adapters a layer lacks."""
        direct = _peft_disable_flag()
        for layer, *_ in self.lora:
            if layer.active_adapters != [adapter]:
                layer.set_adapter([adapter])
            layer.set_scale(adapter, scale)  # a no-op for layers without the adapter
            _set_lora_off(layer, False, direct)

    def activate_loras(self, scales: dict[str, float]) -> None:
        """Run the captured LoRA layers with several adapters at once (a student and a user's style LoRA), each at
        its scale: diffusers' `set_adapters(names, weights)` on the cached layer list."""
        direct = _peft_disable_flag()
        names = list(scales)
        for layer, *_ in self.lora:
            if layer.active_adapters != names:
                layer.set_adapter(names)
            for name, scale in scales.items():
                layer.set_scale(name, scale)
            _set_lora_off(layer, False, direct)

    def deactivate_lora(self) -> None:
        """Run on the plain base weights (the teacher, or a full-UNet student): every LoRA layer disabled."""
        switch_lora([layer for layer, *_ in self.lora], enabled=False)

    def set_ip_scale(self, scale: float) -> None:
        """One scale for every IP-Adapter layer: diffusers' `set_ip_adapter_scale(float)`, on the cached processors
        (diffusers walks every attention processor to find them). Per-block dicts go through diffusers."""
        for proc, _ in self.ip_scales:
            proc.scale = [float(scale)] * len(proc.scale)

    def restore(self) -> None:
        direct = _peft_disable_flag()
        for layer, active, disabled, scaling in self.lora:
            if layer.active_adapters != active:
                layer.set_adapter(list(active))
            _set_lora_off(layer, disabled, direct)
            layer.scaling.update(scaling)
        for proc, scales in self.ip_scales:
            proc.scale = list(scales)
        for module, dtype, device in self.dtypes:
            param = next(module.parameters())
            if param.dtype != dtype or param.device != device:
                module.to(device, dtype)


@functools.cache
def _peft_disable_flag() -> bool:
    """Whether PEFT's layers read their on/off switch from `_disable_adapters` (checked once, on PEFT's own class);
    where it does not, the engine uses PEFT's public `enable_adapters` (see `_set_lora_off`)."""
    from types import SimpleNamespace

    from peft.tuners.tuners_utils import BaseTunerLayer

    read = BaseTunerLayer.disable_adapters.fget
    return read(SimpleNamespace(_disable_adapters=True)) is True and read(SimpleNamespace(_disable_adapters=False)) is False
