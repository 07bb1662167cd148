"""Results kept as A1111, ComfyUI and Fooocus users expect: every final result of the local UI as a PNG under an
outputs folder, its settings and provenance inside the file, readable again with `studio info IMAGE`.

    outputs/2025-06-01/2025-06-01_14-03-27_makeup_student_seed7.png

Where: `Settings.outputs` (env STUDIO_OUTPUTS) — "auto" (the default) keeps results in `outputs/` in the folder
the studio was started from when the server listens on this computer only; on a shared server (another --host, or
--share) and on Spaces nothing is kept, since every visitor's photos would pile up on the host and the History
view would show them to everyone. "off" keeps nothing; a folder path keeps results there, even on a shared server
(the operator asked for it; the History view is then left out).

What: the PNG holds one iTXt chunk `distill-studio` with JSON — app, role (run, or compare's student/teacher),
when, the page's settings (image inputs by file name), provenance, metrics and info — and a one-line `parameters`
text chunk in the spirit of A1111's. Nothing here imports gradio; the UI calls `save_result`.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

#: The PNG text chunk holding the JSON record.
CHUNK = "distill-studio"
#: The default folder under "auto": relative to the working folder, as A1111's and Fooocus's `outputs/`.
DEFAULT_FOLDER = Path("outputs")
#: Record format version (bump when the JSON changes shape).
FORMAT = 1

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")


def is_shared(host: str | None, share: bool = False) -> bool:
    """True for a server other people can reach: a gradio.live link, or a host other than the loopback address."""
    return bool(share) or (host or "127.0.0.1").strip().lower() not in _LOCAL_HOSTS


def outputs_folder(settings, shared: bool) -> Path | None:
    """Where this server keeps results (None: nowhere), from `settings.outputs` and whether others can reach it."""
    choice = getattr(settings, "outputs", "auto") or "auto"
    if choice == "off":
        return None
    if choice == "auto":
        return None if shared else DEFAULT_FOLDER
    return Path(choice).expanduser()


# --------------------------------------------------------------------------------------------- saving
def _image_name(value: Any) -> Any:
    """An image input as the record keeps it: an uploaded file's name (never the server's temp path)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_image_name(v) for v in value]
    if isinstance(value, (str, os.PathLike)):
        return Path(value).name
    return _plain(value)


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of one setting."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return "<image bytes>"
    if isinstance(value, np.ndarray):
        return f"<image {value.shape[1]}×{value.shape[0]}>" if value.ndim >= 2 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return Path(value).name
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower() or "x"


def record(app_id: str, params: dict, summary: dict, role: str = "run", when: float | None = None,
           image_params: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """The JSON stored in the PNG: what ran, with which settings (`image_params` by file name), and the result's
    provenance, metrics and info."""
    when = time.time() if when is None else when
    settings = {k: _image_name(v) if k in image_params else _plain(v) for k, v in params.items()}
    return {"format": FORMAT, "studio": _version(), "app": app_id, "role": role,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)),
            "settings": settings, **_plain(summary)}  # fmt: skip


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("distill-studio")
    except PackageNotFoundError:
        return None


def save_result(folder: Path, app_id: str, params: dict, result, role: str = "run", when: float | None = None,
                image_params: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """Write `result.image` as a PNG under `folder/<date>/` with its record; returns the path (never overwrites).
    `image_params`: the settings that are image inputs (kept by file name)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    when = time.time() if when is None else when
    data = record(app_id, params, result.summary(), role, when, image_params)
    prov = data.get("provenance") or {}
    seed = prov.get("seed") if prov.get("seed") is not None else data["settings"].get("seed")  # lite: the page's
    tier = prov.get("tier") or "result"
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(when))
    parts = [stamp, _slug(app_id), _slug(tier if role == "run" else role)]
    if seed is not None:
        parts.append(f"seed{seed}")
    day = Path(folder) / time.strftime("%Y-%m-%d", time.localtime(when))
    day.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    info.add_itxt(CHUNK, json.dumps(data, ensure_ascii=False), zip=True)
    info.add_text("parameters", _one_line(data))
    image = Image.fromarray(np.ascontiguousarray(result.image))
    for n in range(1000):
        path = day / ("_".join(parts) + (f"_{n}" if n else "") + ".png")
        try:
            with open(path, "xb") as handle:  # exclusive: two results in one second get _1, _2, …
                image.save(handle, format="PNG", pnginfo=info, compress_level=4)
            return path
        except FileExistsError:
            continue
    raise InputError(f"Too many results named {'_'.join(parts)} in {day}.")


def _one_line(data: dict) -> str:
    """A1111-style `parameters` text: settings, then tier/model/steps/seed."""
    prov = data.get("provenance") or {}
    settings = ", ".join(f"{k}: {v}" for k, v in data.get("settings", {}).items())
    models = ", ".join(prov.get("models") or []) or "none"
    return (f"Distill Studio {data['app']} ({data['role']}). {settings}\nTier: {prov.get('tier')}, Steps: "
            f"{prov.get('steps')}, Guidance: {prov.get('guidance')}, Seed: {prov.get('seed')}, Models: {models}")


# --------------------------------------------------------------------------------------------- reading
def read_info(path) -> dict:
    """The record a studio PNG carries; `InputError` for a missing file, a non-image, or an image without one."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    try:
        with Image.open(path) as image:
            image.load()
            text = dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path} is not an image ({type(exc).__name__}): `studio info` reads the PNGs the studio "
                         "saves in its outputs folder.") from None  # fmt: skip
    raw = text.get(CHUNK)
    if raw is None:
        raise InputError(f"{path} carries no Distill Studio provenance (no '{CHUNK}' text chunk): only PNGs the "
                         "studio saved itself have it; a re-saved, converted or shared copy may have lost it.")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise InputError(f"{path}: its '{CHUNK}' text chunk is not valid JSON (the file was edited or damaged).") \
            from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: its '{CHUNK}' text chunk is not a Distill Studio record.")
    return data


def describe(data: dict, path=None) -> str:
    """A readable summary of a record, for `studio info` and the History view."""
    prov = data.get("provenance") or {}
    lines = []
    if path is not None:
        lines.append(str(path))
    lines.append(f"app       {data.get('app')} ({data.get('role', 'run')}), saved {data.get('saved_at')}"
                 + (f" by Distill Studio {data['studio']}" if data.get("studio") else ""))  # fmt: skip
    badge = [str(prov.get("tier"))]
    if prov.get("steps"):
        badge.append(f"{prov['steps']} steps")
    if prov.get("guidance") is not None:
        badge.append(f"guidance {prov['guidance']:g}" if isinstance(prov["guidance"], (int, float))
                     else f"guidance {prov['guidance']}")  # fmt: skip
    if prov.get("seed") is not None:
        badge.append(f"seed {prov['seed']}")
    badge.append(str(prov.get("device")))
    lines.append("tier      " + " · ".join(badge))
    if prov.get("fallback_reason"):
        lines.append(f"fallback  {prov['fallback_reason']}")
    lines.append("models    " + (", ".join(prov.get("models") or []) or "none (no diffusion model)"))
    timings = prov.get("timings_ms") or {}
    if timings:
        total = sum(v for v in timings.values() if isinstance(v, (int, float)))
        lines.append(f"time      {total:.0f} ms (" + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()
                                                          if isinstance(v, (int, float))) + ")")  # fmt: skip
    if prov.get("peak_memory_mb") is not None:
        lines.append(f"memory    {prov['peak_memory_mb']:.0f} MB peak")
    settings = data.get("settings") or {}
    if settings:
        lines.append("settings")
        lines += [f"  {k:<24} {v}" for k, v in settings.items()]
    metrics = data.get("metrics") or {}
    if metrics:
        lines.append("metrics")
        lines += [f"  {k:<24} {v:.4g}" if isinstance(v, float) else f"  {k:<24} {v}" for k, v in metrics.items()]
    for note in prov.get("notes") or []:
        lines.append(f"note      {note}")
    return "\n".join(lines)


@dataclass
class Entry:
    """One kept result: its file and record (None when the file has none or cannot be read)."""

    path: Path
    data: dict | None

    @property
    def caption(self) -> str:
        if not self.data:
            return self.path.name
        prov = self.data.get("provenance") or {}
        when = (self.data.get("saved_at") or "").replace("T", " ")
        seed = prov.get("seed") if prov.get("seed") is not None else (self.data.get("settings") or {}).get("seed")
        text = f"{when} · {self.data.get('app')} · {prov.get('tier')}"
        return text + (f" · seed {seed}" if seed is not None else "")


def list_results(folder: Path | None, limit: int = 200) -> list[Entry]:
    """The PNGs under `folder` (its date folders included), newest first, with their records."""
    if folder is None or not Path(folder).is_dir():
        return []
    paths = [p for p in Path(folder).rglob("*.png") if p.is_file()]
    paths.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    entries = []
    for path in paths[:limit]:
        try:
            data = read_info(path)
        except InputError:
            data = None
        entries.append(Entry(path, data))
    return entries


def cmd_info(image: str, as_json: bool = False) -> int:
    """`studio info IMAGE [--json]`: print what a studio PNG carries."""
    data = read_info(image)
    print(json.dumps(data, indent=2, ensure_ascii=False) if as_json else describe(data, image))
    return 0
