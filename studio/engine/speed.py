"""Faster few-step calls: torch.compile (regional or whole-model), channels-last, SDPA — applied once, at load.

Why regional compilation: compiling a whole SDXL UNet took 84 s on an H200 before its first 0.249 s call. Most of
that UNet is a handful of block types repeated dozens of times (70 transformer blocks, ~40 ResNet blocks), and the
compiler can compile each type once and reuse the code for every instance, since torch.compile treats a module's
parameters as inputs. diffusers calls this `compile_repeated_blocks` (the PyTorch "regional compilation" recipe);
its UNet2DConditionModel lists no `_repeated_blocks` in 0.42.1, so the engine names them (`REPEATED_BLOCKS`). The
glue between blocks (time embedding, down/up-sampling, skip concatenation) stays eager: little work at few steps.

The VAE decoder is compiled whole in both modes: one small model with fixed shapes per resolution, and 35 % of a
compiled SDXL student call (issue 19). ControlNets get the same treatment as UNets.

Settings.compile (STUDIO_COMPILE): "off" (default: nothing to wait for), "regional", "full". Compiled code is
cached on disk by inductor (`TORCHINDUCTOR_CACHE_DIR`, set to Settings.compile_cache_dir, or
<cache_dir>/torch-compile), so the next process starts from the cache, not from scratch. Calls that offload
(planner.py) run eagerly: the offload hooks move weights inside the forward, which a compiled graph cannot follow.

Channels-last: convolutions on CUDA tensor cores want NHWC; the UNets, ControlNets and VAEs are converted when they
load on a CUDA device (measured by benchmarks/gpu.sh: eager student with and without). Attention: diffusers runs
`F.scaled_dot_product_attention` (AttnProcessor2_0) by default on torch 2, which picks flash / memory-efficient
kernels on CUDA; `attention_kind` reports it per call so a model loaded with another processor shows up.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

COMPILE_MODES = ("off", "regional", "full")
#: The repeated block types of UNet2DConditionModel and ControlNetModel (their class names in diffusers).
REPEATED_BLOCKS = ("BasicTransformerBlock", "ResnetBlock2D")
#: Each block type compiles once per input shape and channel width (SDXL: ~16 ResNet variants per batch size,
#: student and CFG teacher): torch's default of 8 recompilations per function would send most back to eager.
RECOMPILE_LIMIT = 64
#: Devices whose convolutions gain from channels-last (tensor cores want NHWC).
CHANNELS_LAST_DEVICES = ("cuda",)


def compile_cache(settings) -> Path:
    return Path(settings.compile_cache_dir or Path(settings.cache_dir) / "torch-compile")


def use_compile_cache(path: Path) -> Path:
    """Point inductor's on-disk caches (compiled graphs, autotuning) at `path`, unless the user chose another folder
    with TORCHINDUCTOR_CACHE_DIR; returns the folder in use. Inductor reads the variable whenever it compiles; it
    also sets it to its default (a temp folder, lost at reboot) when torch's compiler is imported, so only a value
    other than that default is the user's."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        default = os.path.abspath(default_cache_dir())
    except ImportError:  # an older torch: only an unset variable is ours to set
        default = None
    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current and os.path.abspath(current) not in (default, str(path.resolve()), _studio_set.get("path")):
        return Path(current)  # the user's folder
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = _studio_set["path"] = str(path.resolve())
    os.environ.setdefault("TRITON_CACHE_DIR", str(path.resolve() / "triton"))
    import torch._inductor.config as inductor

    inductor.fx_graph_cache = True  # the default in current torch; said here because the cache is the point
    return path


_studio_set: dict = {}  # the folder this process's studio chose last (another Settings may choose another)


def _raise_recompile_limit() -> None:
    import torch._dynamo.config as dynamo

    for name in ("recompile_limit", "cache_size_limit"):  # renamed in torch 2.7; older names kept as aliases
        if hasattr(dynamo, name) and getattr(dynamo, name) < RECOMPILE_LIMIT:
            setattr(dynamo, name, RECOMPILE_LIMIT)


def compile_denoiser(model, mode: str) -> str:
    """Compile a UNet or ControlNet in place (the module object stays the same: LoRA, IP-Adapter and fusion keep
    working on it); returns what was done, for provenance."""
    if mode == "off":
        return "eager"
    _raise_recompile_limit()
    if mode == "regional":
        # An instance attribute: diffusers' compile_repeated_blocks reads `self._repeated_blocks`.
        model._repeated_blocks = list(REPEATED_BLOCKS)
        model.compile_repeated_blocks(fullgraph=True, dynamic=False)
        return "regional (" + ", ".join(REPEATED_BLOCKS) + ")"
    # The forward, not `Module.compile()` (which would take the module's hooks into the graph too: the engine times
    # the first denoiser call with a pre-hook, and a timer cannot be traced). The module object stays the same.
    model.forward = torch.compile(model.forward, fullgraph=True, dynamic=False)
    return "full"


def compile_decoder(vae, mode: str) -> str:
    """Compile a VAE's (or TAESD's) decoder in place."""
    if mode == "off":
        return "eager"
    _raise_recompile_limit()
    vae.decoder.compile(fullgraph=True, dynamic=False)
    return "decoder"


def channels_last(model, device: str) -> bool:
    if not device.startswith(CHANNELS_LAST_DEVICES):
        return False
    model.to(memory_format=torch.channels_last)
    return True


def prepare_pipeline(pipe, settings, device: str) -> dict:
    """A freshly loaded pipeline: channels-last on CUDA, its UNet and VAE decoder compiled per Settings.compile."""
    mode = check_mode(settings.compile)
    if mode != "off":
        use_compile_cache(compile_cache(settings))
    done = {"channels_last": False, "unet": "eager", "vae": "eager"}
    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if module is None:
            continue
        done["channels_last"] = channels_last(module, device) or done["channels_last"]
        done[name] = compile_denoiser(module, mode) if name == "unet" else compile_decoder(module, mode)
    return done


def prepare_model(model, settings, device: str, kind: str) -> str:
    """A freshly loaded UNet student, ControlNet or VAE: the same treatment as a pipeline's own."""
    mode = check_mode(settings.compile)
    if mode != "off":
        use_compile_cache(compile_cache(settings))
    channels_last(model, device)
    return compile_decoder(model, mode) if kind in ("vae", "taesd") else compile_denoiser(model, mode)


def check_mode(mode: str) -> str:
    if mode not in COMPILE_MODES:
        from ..errors import InputError

        raise InputError(f"compile (STUDIO_COMPILE) must be one of {', '.join(COMPILE_MODES)}; got {mode!r}.")
    return mode


def guarded(call, compiled: bool, state: dict, notes: list[str], cache: Path | None = None):
    """`call()`, falling back to eager when compiled code fails to build or load (a compile cache cut short by a
    killed run leaves a truncated library, and the next process's load fails). The model keeps running eagerly from
    then on (`state["compile_failed"]`), and the provenance says so: compilation is a speed-up, never a new way for a
    generation to fail."""
    if not compiled:
        return call()
    if state.get("compile_failed"):
        with eager_while(True):
            return call()
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - re-raised below unless the compiler is where it came from
        if not _from_the_compiler(exc):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        state["compile_failed"] = f"{type(exc).__name__}: {first}"
        where = f" If the compile cache ({cache}) was cut short by a killed run, delete it." if cache else ""
        notes.append(f"torch.compile failed ({state['compile_failed']}); the call ran eagerly, and the next ones will."
                     + where)  # fmt: skip
    with eager_while(True):
        return call()


def _from_the_compiler(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 8:
        if type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def eager_while(offloading: bool):
    """A context that runs compiled modules eagerly (offload hooks move weights inside the forward)."""
    import contextlib

    if not offloading or not hasattr(torch.compiler, "set_stance"):
        return contextlib.nullcontext()
    return torch.compiler.set_stance("force_eager")


def attention_kind(*models) -> str:
    """'sdpa' when every attention processor calls F.scaled_dot_product_attention, else the processor names."""
    names = set()
    for model in models:
        processors = getattr(model, "attn_processors", None) or {}
        names |= {type(p).__name__ for p in processors.values()}
    if not names:
        return "none"
    return "sdpa" if all("2_0" in n for n in names) else ", ".join(sorted(names))
