"""The diffusion tiers of style transfer (catalog §6.4): InstantStyle on SDXL.

* **Style** — the style image through IP-Adapter `ip-adapter_sdxl`, on the *style block only*: InstantStyle
  (Wang et al., arXiv 2404.02733) found that in SDXL `up_blocks.0.attentions.1` carries style and
  `down_blocks.2.attentions.1` spatial layout, and injecting the image into the style block alone transfers colour
  and brushwork without copying the style image's content (diffusers `set_ip_adapter_scale` docstring:
  `{"up": {"block_0": [0.0, 1.0, 0.0]}}`). The dict is built from the UNet's own config (`instantstyle_scale`), so
  the same rule addresses SDXL and the tiny test UNet; the layout block is available (`LAYOUT_SCALE`) and off,
  since the layout comes from the photo.
* **Structure** — the photo's Canny edges through the xinsir union ControlNet in mode 3 ("thin line": canny and
  line art, ControlNetPlus README).
* **Closer to the photo** — below `FULL_STYLE_STRENGTH` the run is image-to-image from the photo itself
  (ControlNet img2img), denoising 0.5 + 0.5 × strength of it: at strength 0.8, 0.9; at 0.2, 0.6.
* **Tiers** — SDXL-Lightning 4-step (the recipe's student; its card: Euler trailing, guidance 0) or SDXL base with
  its 30 steps and real CFG (the teacher), on a canvas of the photo's aspect at the recipe's native pixel count.
* **Faces** — with face protection on, the photo's own face in the style's palette (the lite tier's protected
  colour layer) is blended back over skin at `FACE_KEEP`, so a portrait stays recognisable.

`auto` runs the student and the engine hands its image to `QualityGate`: the edge F-score against the photo
(metrics.edge_fscore) below `GateLimits.min_edge_f` means the structure was lost, and the teacher runs instead.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.engine.request import GenerationRequest
from studio.generate import merge_timings, native_resolution, run_on_engine
from studio.schema import Provenance, Result

from . import metrics
from .lite import prepare
from .palette import fit_palette, rgb_of

APP_ID = "style"
#: Union ControlNet mode for thin lines (0 openpose, 1 depth, 2 thick line, 3 thin line/canny, …).
CONTROL_MODE = 3
#: From this strength up, generation starts from noise (ControlNet only); below, from the photo (img2img).
FULL_STYLE_STRENGTH = 0.95
#: IP-Adapter scale on the layout block (0: off; InstantStyle's "style + layout" uses 1.0 there).
LAYOUT_SCALE = 0.0
#: How much of the photo's own (palette-protected) face is blended back over skin, and over eyes, brows, lips.
FACE_KEEP, FEATURE_KEEP = 0.5, 0.7
PROMPT = "a painting in the style of the reference image, {subject}, masterpiece, best quality"
NEGATIVE_PROMPT = "photo, photorealistic, 3d render, lowres, blurry, deformed, text, watermark, signature"


@dataclass(frozen=True)
class GateLimits:
    """The quality gate's limits (tests and experiments inject others with `RunContext.gate_limits["style"]`)."""

    #: Edge F-score (2 px at 512 px) of the student's image against the photo. The lite tier, which keeps the
    #: geometry exactly, measures 0.45–0.85 on the fixtures; a diffusion model redraws every edge, so a third of
    #: the lite floor is allowed to move before the structure counts as lost. Not yet measured on real weights.
    min_edge_f: float = 0.3


def instantstyle_scale(unet_config: dict, style: float, layout: float = LAYOUT_SCALE) -> dict:
    """The per-block IP-Adapter scale dict for a UNet config: `style` on the second attention of the first up
    block with attentions (SDXL: up_blocks.0.attentions.1), `layout` on the second attention of the last down block
    with attentions (SDXL: down_blocks.2.attentions.1), 0 everywhere else (diffusers' default for unlisted blocks)."""
    per_block = unet_config.get("layers_per_block", 2)
    per_block = per_block[-1] if isinstance(per_block, (list, tuple)) else per_block
    up = [i for i, t in enumerate(unet_config["up_block_types"]) if "CrossAttn" in t]
    down = [i for i, t in enumerate(unet_config["down_block_types"]) if "CrossAttn" in t]
    n_up, n_down = per_block + 1, per_block  # an up block has one attention more than a down block

    def one_hot(n: int, value: float) -> list[float]:
        return [float(value) if i == min(1, n - 1) else 0.0 for i in range(n)]

    scale = {"up": {f"block_{up[0]}": one_hot(n_up, style)}}
    if layout:
        scale["down"] = {f"block_{down[-1]}": one_hot(n_down, layout)}
    return scale


def unet_config(engine) -> dict:
    """The app's teacher UNet config (its `unet/config.json`, read from disk without loading any weights)."""
    spec = engine.catalog.get(engine.catalog.app(APP_ID).teacher)
    return json.loads(engine.resolver.resolve(spec, fetch_target=APP_ID).file("unet/config.json").read_text())


def canvas_size(engine, shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height): the photo's aspect at the recipe's native pixel count (SDXL: ~1024²), multiples of 8."""
    side = native_resolution(engine, APP_ID)
    h, w = shape
    scale = side / np.sqrt(h * w)
    return max(64, round(w * scale / 8) * 8), max(64, round(h * scale / 8) * 8)


@dataclass
class QualityGate:
    """The engine's `quality_gate`: the student's image must keep the photo's edges."""

    content: np.ndarray
    limits: GateLimits = field(default_factory=GateLimits)
    record: dict = field(default_factory=dict)

    def __call__(self, image: np.ndarray) -> str | None:
        start = time.perf_counter()
        f = metrics.edge_fscore(self.content, image)["f"]
        self.record.update(edge_f=round(f, 4), min_edge_f=self.limits.min_edge_f,
                           ms=round((time.perf_counter() - start) * 1000, 2))  # fmt: skip
        if f < self.limits.min_edge_f:
            self.record["verdict"] = "structure lost"
            return f"structure lost: edge F-score {f:.2f} against the photo < {self.limits.min_edge_f}"
        self.record["verdict"] = "pass"
        return None


@dataclass
class Transfer:
    image: np.ndarray
    provenance: Provenance
    extras: dict
    info: dict


def protect_faces(image: np.ndarray, rgb: np.ndarray, fit, strength: float, faces: list, person) -> np.ndarray:
    """The photo's own faces, in the style's palette with skin protected, blended back over the generated skin."""
    palette = fit_palette(rgb, fit.quantiles)
    canvas = prepare(rgb, palette, strength, faces, max(rgb.shape[:2]), person)
    alpha = np.maximum(canvas.guard.skin * FACE_KEEP, canvas.guard.features * FEATURE_KEEP)[..., None]
    return np.clip(image * (1.0 - alpha) + rgb_of(canvas.target) * alpha + 0.5, 0, 255).astype(np.uint8)


def transfer(ctx, rgb: np.ndarray, style_rgb: np.ndarray, fit, strength: float, faces: list, person, mode: str,
             seed: int, steps: int | None, watch):  # fmt: skip
    """Generator: the engine's step previews (at the photo's size), then returns a `Transfer`."""
    h, w = rgb.shape[:2]
    size = canvas_size(ctx.engine, (h, w))
    with watch("preprocess"):
        work = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        control = ctx.preprocess.control(work, "canny")
        scale = instantstyle_scale(unet_config(ctx.engine), style=0.4 + 0.6 * strength)
    img2img = strength < FULL_STYLE_STRENGTH
    gate = QualityGate(work, ctx.limits(APP_ID, GateLimits())) if mode == "auto" else None
    subject = "a portrait of a person" if faces else "a scene"
    request = GenerationRequest(
        app=APP_ID, mode=mode, pipeline="controlnet-img2img" if img2img else "controlnet",
        prompt=PROMPT.format(subject=subject), negative_prompt=NEGATIVE_PROMPT, image=work if img2img else None,
        strength=0.5 + 0.5 * strength if img2img else None, control_image=control, control_mode=CONTROL_MODE,
        ip_adapter_image=style_rgb, ip_adapter_scale=scale, steps=steps, seed=seed, width=size[0], height=size[1],
        quality_gate=gate, cancel=ctx.cancel,
    )  # fmt: skip

    def full_size(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)

    result: Result = yield from run_on_engine(ctx, request, full_size)
    with watch("paste_back"):
        out = full_size(result.image)
        if faces:
            out = protect_faces(out, rgb, fit, strength, faces, person)
    app_ms = dict(watch.timings_ms)
    if gate is not None and gate.record:
        app_ms["quality_gate"] = gate.record["ms"]
    provenance = merge_timings(result.provenance, app_ms)
    watch.timings_ms.clear()  # merged into the provenance already
    if faces:
        provenance.notes.append(f"Face protection: the photo's faces, in the style's palette, blended back over "
                                f"skin at {FACE_KEEP:g} (eyes, brows, lips {FEATURE_KEEP:g}).")  # fmt: skip
    extras = {"diffusion inputs (photo · canny control · style)": _strip([work, control, style_rgb]),
              **{k: full_size(v) for k, v in result.extras.items() if isinstance(v, np.ndarray)}}  # fmt: skip
    info = {"canvas": list(size), "pipeline": request.pipeline, "img2img_strength": request.strength,
            "control_mode": CONTROL_MODE, "control": "canny of the photo", "ip_adapter_scale": scale,
            "prompt": request.prompt, "negative_prompt": NEGATIVE_PROMPT,
            "quality_gate": (gate.record or None) if gate is not None else None, "engine": result.info}  # fmt: skip
    return Transfer(out, provenance, extras, info)


def _strip(images: list[np.ndarray]) -> np.ndarray:
    from studio.tiles import grid

    return grid([images], height=256)
