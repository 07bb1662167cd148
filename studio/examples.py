"""Example inputs the studio shows, made from images that ship inside installed packages.

scikit-image bundles a few public-domain photos (the astronaut portrait is NASA's, public domain per its
docstring). They are written as PNG files under the studio's cache folder the first time a page asks for
them — never at import time, and never copied from the research-only test fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

#: name → (scikit-image data function, what it shows)
SAMPLES = {
    "astronaut": ("astronaut", "portrait, frontal face and shoulders (NASA, public domain)"),
}


def example_file(cache_dir: Path, name: str, make: Callable[[], np.ndarray]) -> Path:
    """`<cache_dir>/examples/<name>`, written from `make()` (an RGB array) the first time it is asked for."""
    path = Path(cache_dir).expanduser() / "examples" / name
    if not path.exists():
        from PIL import Image

        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(make()).save(path)
    return path


def sample_image(name: str, cache_dir: Path) -> Path:
    """Path to the PNG of a bundled sample photo, written on first use."""
    if name not in SAMPLES:
        raise KeyError(f"Unknown sample '{name}'. Known samples: {', '.join(SAMPLES)}")

    def make():
        from skimage import data

        return getattr(data, SAMPLES[name][0])()

    return example_file(cache_dir, f"{name}.png", make)
