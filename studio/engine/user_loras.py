"""LoRA files the user drops into `models/loras/` (the ComfyUI / A1111 convention): a style on top of a recipe.

The catalog's own LoRAs (students) may sit in the same folder under their published names; those are not user
LoRAs and are left out of the list. A user LoRA is not in the catalog, so nobody here has read its licence: it is
listed as "unknown" unless the file states one, in its safetensors metadata (`modelspec.license`, the key of
Stability AI's model-spec metadata, or a plain `license`) or in a text file beside it named `<file stem>.license.txt`
(or `.licence.txt`). Only `.safetensors` files are offered: a pickle from an unknown source could run code.

Everything here reads file headers only (no torch). `resolve` turns a user file into the engine's `Resolved`, after
checking that it was trained for the base it would run on (its cross-attention width must match the UNet's: an SDXL
LoRA on SD1.5 would fail deep inside diffusers with a shape error).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .resolver import Resolved
from .specs import FileSpec, Licence, ModelSpec

SUFFIX = ".safetensors"
#: Safetensors metadata keys that may state a licence, in the order they are read.
LICENCE_KEYS = ("modelspec.license", "license", "licence")
#: Text files beside a LoRA that may state its licence (first non-empty line).
LICENCE_FILES = (".license.txt", ".licence.txt")
_HEADER_LIMIT = 100_000_000  # safetensors headers are JSON; a bigger one is not a LoRA file


@dataclass(frozen=True)
class UserLora:
    name: str  # the file name, as the user refers to it
    path: Path
    licence: str  # "unknown" unless the file or a text file beside it states one
    licence_source: str  # where the licence was read, or why it is unknown
    size_mb: float

    def describe(self) -> str:
        return f"{self.name} ({self.size_mb:.0f} MB, licence: {self.licence})"

    def to_dict(self) -> dict:
        return {"file": self.name, "licence": self.licence, "licence_source": self.licence_source,
                "size_mb": round(self.size_mb, 1)}  # fmt: skip


def read_header(path: Path) -> dict:
    """The safetensors header (tensor name → {dtype, shape, offsets}, plus `__metadata__`), without the tensors."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ValueError("too short")
            (length,) = struct.unpack("<Q", raw)
            if not 0 < length < _HEADER_LIMIT:
                raise ValueError("bad header length")
            header = json.loads(fh.read(length))
        if not isinstance(header, dict):
            raise ValueError("header is not a table")
        return header
    except (OSError, ValueError) as exc:
        raise InputError(f"{path.name} is not a readable safetensors LoRA file ({exc}). Re-download it, or remove it "
                         f"from {path.parent}.") from None  # fmt: skip


def _licence(path: Path, metadata: dict) -> tuple[str, str]:
    for key in LICENCE_KEYS:
        value = str(metadata.get(key) or "").strip()
        if value:
            return value, f"the file's metadata ({key})"
    for suffix in LICENCE_FILES:
        note = path.with_name(path.stem + suffix)
        if note.is_file():
            lines = [ln.strip() for ln in note.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[0][:200], note.name
    return "unknown", "not stated in the file or beside it; check where you downloaded it"


def user_lora(path: Path) -> UserLora:
    header = read_header(path)
    licence, source = _licence(path, header.get("__metadata__") or {})
    return UserLora(path.name, path, licence, source, path.stat().st_size / 1e6)


def scan(models_dir: Path, catalog=None) -> list[UserLora]:
    """The user LoRAs in `<models_dir>/loras/`, by name; catalog LoRA files there are left out."""
    folder = Path(models_dir) / "loras"
    if not folder.is_dir():
        return []
    known = set()
    if catalog is not None:
        known = {Path(s.weights.path).name for s in catalog.specs.values() if s.kind == "lora"}
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() == SUFFIX and path.is_file() and path.name not in known:
            try:
                found.append(user_lora(path))
            except InputError:
                continue  # an unreadable file is not offered; naming it explicitly gives the error
    return found


def find(models_dir: Path, name: str, catalog=None) -> UserLora:
    """The user LoRA `name` (a file name in models/loras/, with or without `.safetensors`)."""
    folder = Path(models_dir) / "loras"
    wanted = name if name.lower().endswith(SUFFIX) else name + SUFFIX
    if Path(wanted).name != wanted:
        raise InputError(f"Name a LoRA by its file name in {folder} (no folders): got {name!r}.")
    path = folder / wanted
    if not path.is_file():
        have = scan(models_dir, catalog)
        listed = "; ".join(u.describe() for u in have) or "none"
        raise InputError(f"No LoRA file {wanted} in {folder}. LoRAs there: {listed}. Drop a .safetensors style LoRA "
                         "for this app's base model there, or leave the LoRA empty.")  # fmt: skip
    return user_lora(path)


def cross_attention_width(header: dict) -> int | None:
    """The text-embedding width a LoRA's cross-attention key layers take (768 for SD1.5, 2048 for SDXL), read from
    the shape of a `to_k` down-projection of an `attn2` layer; None when the file has none."""
    for key, info in header.items():
        if key == "__metadata__" or not isinstance(info, dict):
            continue
        k = key.replace(".", "_")
        if "attn2" in k and "to_k" in k and ("lora_down" in k or "lora_A" in k):
            shape = info.get("shape") or []
            if len(shape) == 2:
                return int(shape[1])
    return None


def resolve(lora: UserLora, base: Resolved, family: str) -> Resolved:
    """The engine's `Resolved` for a user LoRA on `base` (a pipeline folder), after checking it fits that base."""
    width = cross_attention_width(read_header(lora.path))
    config = base.root / "unet" / "config.json"
    if width is not None and config.is_file():
        expected = json.loads(config.read_text()).get("cross_attention_dim")
        if isinstance(expected, int) and expected != width:
            kind = {768: "SD1.5", 1024: "SD2", 2048: "SDXL"}.get(width, "another base model")
            name = {"sd15": "SD1.5", "sdxl": "SDXL"}.get(family, family)
            raise InputError(f"{lora.name} was trained for {kind} (cross-attention width {width}); this app runs "
                             f"{name} ({base.spec.id}, width {expected}). Use a LoRA made for {name}.")  # fmt: skip
    stat = lora.path.stat()
    # The adapter name carries the file's size and time, so a replaced file under the same name loads afresh.
    digest = hashlib.sha1(f"{lora.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", lora.path.stem.lower()).strip("-") or "lora"
    files = (FileSpec(lora.name, round(stat.st_size / 1e6, 1) or None),)
    spec = ModelSpec(id=f"user-{slug[:40]}-{digest}", title=f"user LoRA {lora.name}", kind="lora", role="adapter",
                     family=family, repo=f"local/{slug[:40]}", files=files,
                     licence=Licence(lora.licence, "unverified", lora.licence_source), base=base.spec.id)  # fmt: skip
    return Resolved(spec, lora.path.parent, {lora.name: lora.path}, "path", "local")
