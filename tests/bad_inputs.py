"""The bad (and awkward but valid) inputs every surface — Python API, CLI, UI — must handle clearly.

Each case is written into a temp folder from a real fixture face, never copied into the repository.
`expected` is either a phrase the error message must contain, or None for inputs that must work.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import fixture

FACE = "faces/face_man_east_asian_young_01.jpg"
BAD_INPUT_NAMES = ("zero_bytes.jpg", "text_named.jpg", "corrupt.jpg", "truncated.jpg", "huge.png", "cmyk.jpg",
                   "gray16.png", "rgba.png", "exif_rotated.jpg")  # fmt: skip


def make_inputs(folder: Path) -> dict[str, tuple[Path, str | None]]:
    folder.mkdir(parents=True, exist_ok=True)
    face = Image.open(fixture(FACE)).convert("RGB")
    jpeg = io.BytesIO()
    face.save(jpeg, format="JPEG", quality=92)
    cases: dict[str, tuple[Path, str | None]] = {}

    def write(name: str, data, expected: str | None, **save_kwargs):
        path = folder / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            data.save(path, **save_kwargs)
        cases[name] = (path, expected)

    write("zero_bytes.jpg", b"", "empty")
    write("text_named.jpg", b"shopping list: eggs, milk, a new camera\n" * 5, "not an image")
    write("corrupt.jpg", b"\xff\xd8\xff\xe0" + np.random.default_rng(0).bytes(4000), "damaged")
    write("truncated.jpg", jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "truncated")
    write("huge.png", Image.new("1", (30000, 30000)), "limit")
    write("cmyk.jpg", face.convert("CMYK"), None, quality=92)
    gray16 = Image.fromarray((np.asarray(face.convert("L")).astype(np.uint16) * 257), mode="I;16")
    write("gray16.png", gray16, None)
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.new("L", face.size, 255))
    write("rgba.png", rgba, None)
    # Pixels stored rotated 90° counter-clockwise, with EXIF orientation 6 ("rotate 90° CW to display").
    rotated = face.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    write("exif_rotated.jpg", rotated, None, exif=exif.tobytes(), quality=92)
    return cases
