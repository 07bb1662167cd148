"""The training images and their captions, read from a folder the way trainers people already use read them.

Captions, first found wins per image:
  1. `--captions FILE`: a `metadata.jsonl` (`{"file_name": ..., "text": ...}` per line, the Hugging Face imagefolder
     layout the diffusers scripts read) or a `.csv` with `file_name,text` columns;
  2. a `metadata.jsonl` inside the images folder (the same layout, found without a flag);
  3. a sidecar `<image stem>.txt` next to the image (the kohya / A1111 trainers' convention);
  4. `--caption TEXT` for every image still without one;
  5. the words of the file name ("woman_red_lips_01.jpg" → "woman red lips"), with a note saying so.
The teacher runs classifier-free guidance on these captions, so a student learns what they describe: a brand's trigger
word belongs in them.

Images go through `studio.imaging.load_image` (the same errors as everywhere: corrupt, oversized, 16-bit, CMYK and
grey files are converted or refused with the reason). Files that fail, and images smaller than half the training
resolution on their short side (upscaled photos teach blur), are skipped and listed; none left is an error.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, StudioError

#: Words of camera file names that say nothing about the picture ("IMG_2041.jpg", "DSC00012.JPG").
CAMERA_WORDS = {"img", "image", "dsc", "dscn", "dscf", "pxl", "photo", "pic", "scan", "screenshot", "frame", "mvimg"}
DEFAULT_CAPTION = "a photo"


@dataclass
class Sample:
    path: Path
    caption: str
    caption_source: str  # "captions file", "metadata.jsonl", "sidecar .txt", "--caption", "file name"


@dataclass
class ImageSet:
    samples: list[Sample]
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> why
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def describe(self) -> dict:
        sources: dict[str, int] = {}
        for s in self.samples:
            sources[s.caption_source] = sources.get(s.caption_source, 0) + 1
        return {"images": len(self.samples), "caption_sources": sources, "skipped": self.skipped}


def caption_from_name(path: Path) -> str:
    """Readable words from a file name: split on separators and camelCase, drop numbers and camera prefixes."""
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", path.stem)
    words = [w.lower() for w in re.split(r"[\s_\-.,+()\[\]]+", stem) if w]
    words = [w for w in words if w.isalpha() and len(w) > 1 and w not in CAMERA_WORDS]
    return " ".join(words) or DEFAULT_CAPTION


def _read_captions_file(path: Path) -> dict[str, str]:
    """file name -> caption from a metadata.jsonl or a file_name,text CSV."""
    if not path.is_file():
        raise InputError(f"The captions file '{path}' does not exist.")
    captions: dict[str, str] = {}
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"file_name", "text"} <= set(reader.fieldnames):
                raise InputError(f"The captions CSV '{path}' needs the columns file_name and text; it has "
                                 f"{', '.join(reader.fieldnames or []) or 'none'}.")  # fmt: skip
            for row in reader:
                captions[Path(row["file_name"]).name] = (row["text"] or "").strip()
        return captions
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} line {number} is not JSON ({exc.msg}). Each line must look like "
                             '{"file_name": "a.jpg", "text": "a caption"}.') from None  # fmt: skip
        if not isinstance(entry, dict) or "file_name" not in entry or "text" not in entry:
            raise InputError(f"{path.name} line {number} needs the keys file_name and text (the imagefolder layout).")
        text = entry["text"]
        if isinstance(text, list):  # imagefolder allows a list of captions; the first is used
            text = text[0] if text else ""
        captions[Path(str(entry["file_name"])).name] = str(text).strip()
    return captions


def scan(images: Path, captions: Path | None = None, caption: str | None = None) -> ImageSet:
    """The images of `images` (a folder, searched one level deep, or one file) with their captions."""
    from ..imaging import list_images

    images = Path(images).expanduser()
    files = list_images(images, "training images")
    folder = images if images.is_dir() else images.parent
    listed = _read_captions_file(Path(captions).expanduser()) if captions else {}
    metadata = folder / "metadata.jsonl"
    found = _read_captions_file(metadata) if metadata.is_file() and not captions else {}
    samples, named = [], 0
    for path in files:
        if path.name in listed and listed[path.name]:
            samples.append(Sample(path, listed[path.name], "captions file"))
        elif path.name in found and found[path.name]:
            samples.append(Sample(path, found[path.name], "metadata.jsonl"))
        elif path.with_suffix(".txt").is_file() and path.with_suffix(".txt").read_text(encoding="utf-8").strip():
            samples.append(Sample(path, path.with_suffix(".txt").read_text(encoding="utf-8").strip(), "sidecar .txt"))
        elif caption:
            samples.append(Sample(path, caption.strip(), "--caption"))
        else:
            samples.append(Sample(path, caption_from_name(path), "file name"))
            named += 1
    image_set = ImageSet(samples)
    if listed:
        unused = sorted(set(listed) - {p.name for p in files})
        if unused:
            image_set.notes.append(f"{len(unused)} captions name files that are not in the folder (e.g. {unused[0]}).")
    if named:
        image_set.notes.append(f"{named} of {len(files)} images had no caption, so the words of their file names were "
                               "used; captions (metadata.jsonl, .txt sidecars or --caption) teach the student what "
                               "your prompts will say.")  # fmt: skip
    return image_set


def load_checked(image_set: ImageSet, resolution: int, max_pixels: int) -> ImageSet:
    """Open every image once to refuse bad files up front (not at step 900); returns the usable ones."""
    from PIL import Image

    from ..imaging import load_image

    usable = []
    for sample in image_set.samples:
        try:
            rgb = load_image(sample.path, what=f"training image {sample.path.name}", max_pixels=max_pixels)
        except StudioError as exc:
            image_set.skipped[sample.path.name] = str(exc)
            continue
        except (OSError, Image.DecompressionBombError) as exc:
            image_set.skipped[sample.path.name] = f"unreadable: {exc}"
            continue
        short = min(rgb.shape[:2])
        if short < resolution // 2:
            image_set.skipped[sample.path.name] = (f"{rgb.shape[1]}×{rgb.shape[0]} px is under half the training "
                                                   f"resolution ({resolution} px) on its short side")  # fmt: skip
            continue
        usable.append(sample)
    if not usable:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(image_set.skipped.items())[:3])
        raise InputError(f"None of the {len(image_set.samples)} training images can be used ({reasons}).")
    image_set.samples = usable
    if image_set.skipped:
        image_set.notes.append(f"{len(image_set.skipped)} images were skipped: " +
                               "; ".join(f"{k} ({v})" for k, v in list(image_set.skipped.items())[:5]))  # fmt: skip
    return image_set


@dataclass
class Prepared:
    """One training image after resize and crop: pixels in [-1, 1] (3, R, R) and the SDXL size conditioning."""

    pixels: np.ndarray
    original_size: tuple[int, int]  # (h, w) before resizing
    crop_top_left: tuple[int, int]  # (top, left) of the crop in the resized image


class ResizedCache:
    """Images already decoded and resized to the training side, kept up to `budget_mb` (least recently used out).

    Decoding a 12 MP JPEG and resizing it costs more than a tiny model's whole step; the resize is deterministic, so
    reusing it changes nothing (a resumed run still matches an uninterrupted one)."""

    def __init__(self, budget_mb: float = 512):
        from collections import OrderedDict

        self.budget = budget_mb * 1e6
        self.items: OrderedDict = OrderedDict()
        self.used = 0

    def get(self, key, make):
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        size = value[0].nbytes
        if size <= self.budget:
            self.items[key] = value
            self.used += size
            while self.used > self.budget:
                _, old = self.items.popitem(last=False)
                self.used -= old[0].nbytes
        return value


def _resized(path: Path, resolution: int, max_pixels: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The image with its short side at `resolution` (Lanczos), and its original (h, w)."""
    from PIL import Image

    from ..imaging import load_image

    rgb = load_image(path, what=f"training image {path.name}", max_pixels=max_pixels)
    h, w = rgb.shape[:2]
    scale = resolution / min(h, w)
    size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS)), (h, w)


def prepare(path: Path, resolution: int, rng: np.random.Generator, center_crop: bool, flip: bool,
            max_pixels: int, cache: ResizedCache | None = None) -> Prepared:  # fmt: skip
    """Resize the short side to `resolution` (Lanczos), crop a square (random or centred), maybe flip."""
    key = (str(path), resolution)
    make = lambda: _resized(path, resolution, max_pixels)  # noqa: E731
    resized, (h, w) = cache.get(key, make) if cache is not None else make()
    rh, rw = resized.shape[:2]
    if center_crop:
        top, left = (rh - resolution) // 2, (rw - resolution) // 2
    else:
        top, left = int(rng.integers(0, rh - resolution + 1)), int(rng.integers(0, rw - resolution + 1))
    crop = resized[top : top + resolution, left : left + resolution]
    if flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
        left = rw - left - resolution  # where the crop sits in the flipped image (SDXL's crop conditioning)
    pixels = crop.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    return Prepared(np.ascontiguousarray(pixels), (h, w), (top, left))
