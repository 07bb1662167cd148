"""The tiny studio behind `--tiny` commands (`studio distill --tiny`, `studio run/compare --tiny`): the tiny hub as
this machine's model store, so the real code paths run on the CPU in seconds with random weights.

  - `ensure_hub(settings)`: the whole catalog as a tiny hub (studio/engine/tinyhub.py) in
    `<STUDIO_CACHE_DIR>/tiny/hub`, built once (about a minute on a 2-core CPU) and rebuilt when the catalog changes;
  - `tiny_settings(settings)`: settings that resolve from that hub only (offline) and keep tiny students in
    `<STUDIO_CACHE_DIR>/tiny/models`, never beside real weights in models/;
  - `tiny_catalog(catalog)`: the catalog at the tiny models' native 64 px (their UNets are 8×8 latents), so an app's
    crops are 64 px as in the test suite.

The images are noise: tiny runs check that everything connects (loading, LoRA keys, schedulers, provenance), never
quality.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

#: The tiny UNets' sample_size (8) × the VAE's ÷8.
TINY_RESOLUTION = 64


def tiny_root(settings) -> Path:
    return Path(settings.cache_dir) / "tiny"


def tiny_settings(settings):
    """Settings on the tiny hub: offline, its own models folder, the CPU unless a device was named."""
    root = tiny_root(settings)
    return replace(settings, hf_cache_dir=root / "hub", models_dir=root / "models", offline=True)


def _fingerprint(catalog) -> str:
    rows = sorted((s.id, s.repo, s.kind, s.family, tuple(f.path for f in s.files)) for s in catalog.specs.values())
    return hashlib.sha1(json.dumps(rows).encode()).hexdigest()


def ensure_hub(settings, echo: Callable[[str], None] | None = None) -> Path:
    """The tiny hub of the whole catalog under `tiny_root(settings)/hub`, built when missing or out of date."""
    from studio.models import load_catalog

    from .tinyhub import build

    hub = tiny_root(settings) / "hub"
    marker = hub / ".studio-tinyhub.json"
    wanted = _fingerprint(load_catalog())
    if marker.is_file() and json.loads(marker.read_text()).get("catalog") == wanted:
        return hub
    if echo:
        echo(f"Building the tiny hub (every catalog model, tiny random weights) in {hub}: once, about a minute.")
    build(hub)
    marker.write_text(json.dumps({"catalog": wanted}))
    return hub


def tiny_catalog(catalog):
    """The catalog with every resolution at the tiny models' native 64 px."""
    from .specs import Catalog

    specs = {k: replace(s, resolution=TINY_RESOLUTION) if s.resolution else s for k, s in catalog.specs.items()}
    return Catalog(specs, catalog.apps)


def tiny_context(ctx, echo: Callable[[str], None] | None = None):
    """A run context on the tiny studio (`studio run/compare --tiny`): the tiny hub, its own models folder with the
    tiny students `studio distill --tiny` registered, the catalog at 64 px."""
    from studio.models import load_catalog

    from ..context import RunContext
    from ..preprocess import Preprocessing
    from .engine import Engine
    from .user_students import extend

    settings = tiny_settings(ctx.settings)
    ensure_hub(settings, echo)
    engine = Engine(settings, catalog=tiny_catalog(extend(load_catalog(), settings)))
    return RunContext(settings=settings, preprocess=Preprocessing(settings), gate_limits=ctx.gate_limits,
                      students=dict(ctx.students)).with_engine(engine)  # fmt: skip
