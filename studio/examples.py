"""Example inputs the studio shows, made from images that ship inside installed packages.

scikit-image and matplotlib bundle a few public-domain photos of people: the astronaut portrait (NASA), Grace
Hopper's portrait (US Navy) and the cameraman (CC0, a man in black and white, in profile). They are written as PNG
files under the studio's cache folder the first time a page asks for them — never at import time, and never
copied into the repository.

`people(settings)` is the list each app's examples cycle through, so a page shows different people rather than
one photo. (Only packaged photos are shown, as DESIGN §6 decides: none of them shows darker skin, so the examples
cannot yet span skin tones; the test fixtures, which do, are test data, not product assets.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

#: name → (loader of the RGB array, what it shows)
SAMPLES = {
    "astronaut": ("skimage:astronaut", "portrait, frontal face and shoulders, woman (NASA, public domain)"),
    "grace_hopper": ("matplotlib:grace_hopper.jpg", "portrait, frontal, elderly woman with glasses (US Navy, public "
                                                    "domain)"),  # fmt: skip
    "cameraman": ("skimage:camera", "a man with a camera on a tripod, black and white, face in profile (CC0)"),
}

#: Which people suit which kind of example: a frontal face (makeup, heads, avatars), a person from head to hips
#: or more (try-on), anyone (style, the inspector). The packaged astronaut comes first in each.
KINDS = {
    "face": ("astronaut", "grace_hopper"),
    "body": ("astronaut", "grace_hopper", "cameraman"),
    "any": ("astronaut", "grace_hopper", "cameraman"),
}


def example_file(cache_dir: Path, name: str, make: Callable[[], np.ndarray]) -> Path:
    """`<cache_dir>/examples/<name>`, written from `make()` (an RGB array) the first time it is asked for."""
    path = Path(cache_dir).expanduser() / "examples" / name
    if not path.exists():
        from PIL import Image

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.part")
        Image.fromarray(make()).save(tmp, format="PNG")
        os.replace(tmp, path)  # two pages built at once never read a half-written file
    return path


def _load(source: str) -> np.ndarray:
    package, name = source.split(":", 1)
    if package == "skimage":
        from skimage import data

        rgb = getattr(data, name)()
    else:
        from matplotlib import cbook
        from PIL import Image

        with Image.open(cbook.get_sample_data(name)) as image:
            rgb = np.asarray(image.convert("RGB"))
    return np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb  # grey photos as RGB


def sample_image(name: str, cache_dir: Path) -> Path:
    """Path to the PNG of a bundled sample photo, written on first use."""
    if name not in SAMPLES:
        raise KeyError(f"Unknown sample '{name}'. Known samples: {', '.join(SAMPLES)}")
    return example_file(cache_dir, f"{name}.png", lambda: _load(SAMPLES[name][0]))


def people(settings, kind: str = "face") -> list[str]:
    """Photos of different people for an app's examples (paths), the packaged astronaut first."""
    return [str(sample_image(name, settings.cache_dir)) for name in KINDS[kind]]
