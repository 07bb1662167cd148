"""Studio-wide settings, read once by an entry point (launch.py, the CLI, a notebook) and passed down.

Nothing here runs at import time: `Settings.from_env()` is called explicitly, and flags override it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .imaging import DEFAULT_MAX_PIXELS


def _env_bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    #: "auto" picks CUDA, then MPS, then CPU; or name one ("cuda", "cuda:1", "mps", "cpu").
    device: str = "auto"
    #: Where users drop local weights (ComfyUI / A1111 convention); also where the catalog lives.
    models_dir: Path = field(default_factory=lambda: Path("models"))
    #: Root of InsightFace packs: packs live in `<root>/models/<name>/*.onnx` (InsightFace's own layout).
    insightface_root: Path = field(default_factory=lambda: Path.home() / ".insightface")
    #: Folder of controlnet-aux annotator weights (a local copy of lllyasviel/Annotators).
    annotators_dir: Path | None = None
    #: True when HF_HUB_OFFLINE is set: never touch the network, resolve from the cache only.
    offline: bool = False
    #: Refuse larger images with a clear error instead of decoding them.
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: How many analysed images the preprocessing cache keeps per kind (face, pose, …).
    preprocess_cache_size: int = 32

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        defaults = cls()
        annotators = env.get("STUDIO_ANNOTATORS_DIR")
        return cls(
            device=env.get("STUDIO_DEVICE", defaults.device),
            models_dir=Path(env.get("STUDIO_MODELS_DIR", defaults.models_dir)),
            insightface_root=Path(env.get("STUDIO_INSIGHTFACE_ROOT", defaults.insightface_root)).expanduser(),
            annotators_dir=Path(annotators).expanduser() if annotators else None,
            offline=_env_bool(env, "HF_HUB_OFFLINE", False),
            max_pixels=int(env.get("STUDIO_MAX_PIXELS", defaults.max_pixels)),
            preprocess_cache_size=int(env.get("STUDIO_PREPROCESS_CACHE", defaults.preprocess_cache_size)),
        )

    def with_overrides(self, **overrides) -> "Settings":
        """A copy with the given fields replaced; `None` values (unset flags) are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
