"""Studio-wide settings, read once by an entry point (launch.py, the CLI, a notebook) and passed down.

Nothing here runs at import time: `Settings.from_env()` is called explicitly, and flags override it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InputError
from .imaging import DEFAULT_MAX_PIXELS

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _env_bool(env: dict, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw not in _TRUE + _FALSE:
        raise InputError(f"{name}={env[name]!r} is not a yes/no value: set it to 1 or 0 (or unset it).")
    return raw in _TRUE


def _env_number(env: dict, name: str, default, kind=int, minimum: float = 1):
    """A positive number from the environment, or `default` when unset; a junk value is an error naming it."""
    raw = (env.get(name) or "").strip()
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        what = "a whole number" if kind is int else "a number"
        raise InputError(f"{name}={env[name]!r} is not valid: it must be {what} of at least {minimum:g}. Fix or "
                         "unset it.")  # fmt: skip
    return value


def _env_choice(env: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in choices:
        raise InputError(f"{name}={env[name]!r} is not valid: use one of {', '.join(choices)} (or unset it).")
    return raw


def _writable_dir(env: dict, name: str, default: Path) -> Path:
    """A folder the studio may create and write in: the nearest existing parent must be a writable folder."""
    path = Path(env.get(name) or default).expanduser()
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{name}={str(path)!r} cannot be written ({probe} is not a writable folder): point it at a "
                         "folder you can write to, or unset it.")  # fmt: skip
    return path


def _env_outputs(env: dict) -> str:
    """STUDIO_OUTPUTS: "auto" (unset), "off", or a folder the local UI keeps its results in (checked writable)."""
    raw = (env.get("STUDIO_OUTPUTS") or "").strip()
    if raw.lower() in ("", "auto", "on", "1", "true", "yes"):
        return "auto"
    if raw.lower() in ("off", "0", "false", "no", "none"):
        return "off"
    return str(_writable_dir({"STUDIO_OUTPUTS": raw}, "STUDIO_OUTPUTS", Path(raw)))  # a file is refused there too


def _parse_model_paths(raw: str) -> tuple[tuple[str, Path], ...]:
    """STUDIO_MODEL_PATHS="lcm-lora-sd15=/w/lcm.safetensors,sd15=/w/sd15" -> ((id, path), ...)."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        if "=" not in item:
            raise InputError(f"STUDIO_MODEL_PATHS entry {item!r} must look like catalog-id=/path/to/weights.")
        key, value = item.split("=", 1)
        pairs.append((key.strip(), Path(value.strip()).expanduser()))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    #: "auto" picks CUDA, then MPS, then CPU; or name one ("cuda", "cuda:1", "mps", "cpu").
    device: str = "auto"
    #: Where users drop local weights (ComfyUI / A1111 convention); also where the catalog lives.
    models_dir: Path = field(default_factory=lambda: Path("models"))
    #: Root of InsightFace packs: packs live in `<root>/models/<name>/*.onnx` (InsightFace's own layout).
    insightface_root: Path = field(default_factory=lambda: Path.home() / ".insightface")
    #: Where the studio keeps files it makes itself (example images, benchmark scratch).
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "distill-studio")
    #: Folder of controlnet-aux annotator weights (a local copy of lllyasviel/Annotators).
    annotators_dir: Path | None = None
    #: True when HF_HUB_OFFLINE is set: never touch the network, resolve from the cache only.
    offline: bool = False
    #: Refuse larger images with a clear error instead of decoding them.
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: The most faces an app works on in one photo (largest first); the note says when a photo had more.
    max_faces: int = 12
    #: How many analysed images the preprocessing cache keeps per kind (face, pose, …).
    preprocess_cache_size: int = 32
    #: Most memory the preprocessing cache may hold, in MB (faces, masks and poses of recent photos).
    preprocess_cache_mb: int = 1024
    #: Hugging Face hub cache to resolve and download weights in; None uses huggingface_hub's default
    #: (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub).
    hf_cache_dir: Path | None = None
    #: Most memory resident pipelines may hold, in MB; None = 90 % of the GPU, or half the RAM on CPU.
    memory_budget_mb: float | None = None
    #: Move each model to the GPU only while it runs (diffusers model CPU offload): slower, much less VRAM.
    cpu_offload: bool = False
    #: Merge a LoRA student into its base while student calls follow one another ("auto": on GPUs, where the
    #: copy kept to restore the teacher's exact weights lives in host RAM; "on": also on the CPU, where that
    #: copy costs RAM beside the model; "off": never). See studio/engine/fusion.py.
    fuse_lora: str = "auto"
    #: Let the engine run and `studio fetch` download non-commercial models (DMD2, SDXL-Turbo). Off by default.
    include_noncommercial: bool = False
    #: Explicit local weights per catalog id: ((id, folder or file), ...); wins over models_dir and the cache.
    model_paths: tuple[tuple[str, Path], ...] = ()
    #: Plan every diffusion call as if the GPU had this many GB (the VRAM planner, studio/engine/planner.py);
    #: None = the device's own memory. On a CPU it makes the engine act on plans (tests, rehearsals).
    vram_gb: float | None = None
    #: torch.compile for the denoiser and the VAE decoder: "off", "regional" (the repeated blocks, seconds to
    #: compile) or "full" (whole models, longest compile). See studio/engine/speed.py.
    compile: str = "off"
    #: Where torch.compile keeps its caches between runs (None: <cache_dir>/torch-compile).
    compile_cache_dir: Path | None = None
    #: Where the local UI keeps every result (PNG with its settings and provenance, see studio/outputs.py): "auto"
    #: (`outputs/` in the working folder for a server on this computer; off on shared servers and Spaces), "off",
    #: or a folder (kept there even on a shared server). Env STUDIO_OUTPUTS.
    outputs: str = "auto"

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        defaults = cls()
        annotators = env.get("STUDIO_ANNOTATORS_DIR")
        hf_cache = env.get("HF_HUB_CACHE") or (str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None)
        from .devices import check_device_name

        try:
            device = check_device_name(env.get("STUDIO_DEVICE") or defaults.device)
        except InputError as exc:
            raise InputError(f"STUDIO_DEVICE: {exc}") from None
        return cls(
            device=device,
            models_dir=Path(env.get("STUDIO_MODELS_DIR", defaults.models_dir)),
            insightface_root=Path(env.get("STUDIO_INSIGHTFACE_ROOT", defaults.insightface_root)).expanduser(),
            annotators_dir=Path(annotators).expanduser() if annotators else None,
            cache_dir=_writable_dir(env, "STUDIO_CACHE_DIR", defaults.cache_dir),
            offline=_env_bool(env, "HF_HUB_OFFLINE", False),
            max_pixels=_env_number(env, "STUDIO_MAX_PIXELS", defaults.max_pixels, int, minimum=4096),
            max_faces=_env_number(env, "STUDIO_MAX_FACES", defaults.max_faces),
            preprocess_cache_size=_env_number(env, "STUDIO_PREPROCESS_CACHE", defaults.preprocess_cache_size),
            preprocess_cache_mb=_env_number(env, "STUDIO_PREPROCESS_CACHE_MB", defaults.preprocess_cache_mb, minimum=16),
            hf_cache_dir=Path(hf_cache).expanduser() if hf_cache else None,
            memory_budget_mb=_env_number(env, "STUDIO_MEMORY_BUDGET_MB", None, float, minimum=64),
            cpu_offload=_env_bool(env, "STUDIO_CPU_OFFLOAD", False),
            fuse_lora=_env_choice(env, "STUDIO_FUSE_LORA", defaults.fuse_lora, ("auto", "on", "off")),
            include_noncommercial=_env_bool(env, "STUDIO_INCLUDE_NONCOMMERCIAL", False),
            model_paths=_parse_model_paths(env.get("STUDIO_MODEL_PATHS", "")),
            vram_gb=_env_number(env, "STUDIO_VRAM_GB", None, float, minimum=0.5),
            compile=_env_choice(env, "STUDIO_COMPILE", defaults.compile, ("off", "regional", "full")),
            compile_cache_dir=(_writable_dir(env, "STUDIO_COMPILE_CACHE", Path())
                               if env.get("STUDIO_COMPILE_CACHE") else None),  # fmt: skip
            outputs=_env_outputs(env),
        )

    def with_overrides(self, **overrides) -> "Settings":
        """A copy with the given fields replaced; `None` values (unset flags) are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
