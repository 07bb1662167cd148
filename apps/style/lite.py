"""The lite tier: the style image's palette, brushwork and ink on the photo, offline, at webcam rates.

Read from the style once (`fit_style`, cached by its digest):
* its colours — ~12k sampled Lab pixels, summarised along the palette transfer's rotations (palette.py);
* its stroke size — the mean spacing of its edges, 2 / (edge pixels per pixel) on a 512 px copy (an edge map has
  about one pixel per crossing, and strokes w px wide put two crossings in every w), as a fraction of its long
  side: Van Gogh measures ~0.03, Matisse's broad patches ~0.056, a smooth film frame ~0.066;
* its ink — how much of it is thin dark line (the share of pixels a small black-top-hat finds), and the ink's
  colour (the dark end of its palette);
* its metric signatures (metrics.py), so every result is scored against it at the cost of one image.

Per photo (`render` for stills, `live_frame` for the webcam):
1. **Palette** (`prepare`): the photo through the style's 3-D LUT — chroma from the IDT flow fitted on this photo,
   lightness from a monotone map of its own lightness, so shading order and edges survive.
2. **Faces protected**: skin (the face oval, and wherever that face's skin colour appears on the person: neck,
   arms, hands) keeps most of its own chroma and lightness; the style only tints it.
3. **Brushwork** (`brushwork`): anisotropic Kuwahara (kuwahara.py) at a radius from the style's stroke size, along
   the photo's own edges — finer on skin, finest on eyes, brows and lips — or, in the "high" quality, the photo
   rebuilt from the style's patches (patches.py). On top, the style's own detail, patch by patch (texture.py).
4. **Tuning** (`tune`): the base's local contrast and the detail's gain are chosen on a small copy so the texture
   and colour come closest to the style's while the photo's edges are kept.
5. **Ink** (`finish`): XDoG lines of the photo in the style's ink colour, as strong as the style's own lines (faces
   always get some, so eyes and mouth stay readable), drawn at full resolution.

`strength` (0–1) scales all of it (0 returns the photo; the palette is complete from `PALETTE_FULL_AT`). Stills are
painted at `WORK_SIDE` and webcam frames at `LIVE_SIDE` (long side), the colour field upsampled under the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.preprocess.regions import (FACE_OVAL, LEFT_BROW_LOWER, LEFT_BROW_UPPER, LEFT_EYE, LIPS_OUTER,
                                       RIGHT_BROW_LOWER, RIGHT_BROW_UPPER, RIGHT_EYE)  # fmt: skip

from . import metrics, texture
from .kuwahara import kuwahara, structure
from .palette import Palette, lab_of, rgb_of, sample_pixels, target_quantiles

#: Work size (long side) of stills and of webcam frames (measured: 224 keeps the webcam path near 30 ms of CPU a
#: frame; 192 looks visibly softer, 256 costs ~10 % more).
WORK_SIDE, LIVE_SIDE = 768, 224
#: Webcam frames between two placements of the style's detail.
LIVE_DETAIL_EVERY = 6
#: Long side of the copy of a style kept for its patch banks.
STYLE_SIDE = 1024
#: Detail patch side at a 512 px canvas (scaled with the canvas), for stills and for webcam frames (larger
#: patches: a quarter of the searches, re-laid every LIVE_DETAIL_EVERY frames).
PATCH_AT_512, LIVE_PATCH_AT_512 = 16, 24
#: Strength at which the palette is fully the style's (above it, only the brushwork grows).
PALETTE_FULL_AT = 0.8
#: How far towards the style's lightness the palette moves the photo's, off skin (the map is monotone, so the
#: photo's shading order stays whatever the share).
LUMINANCE_SHARE = 1.0
#: How much of the style's chroma / lightness shift skin takes at full protection (it keeps the rest).
SKIN_CHROMA_SHARE, SKIN_LIGHTNESS_SHARE = 0.35, 0.35
#: Kuwahara radius as a share of the style's stroke spacing, and its bounds in pixels at a 512 px long side.
RADIUS_SHARE, RADIUS_RANGE = 0.35, (3.0, 10.0)
#: Kuwahara radius inside faces (skin) and on eyes, brows and lips, relative to the style's.
FACE_RADIUS, FEATURE_RADIUS = 0.55, 0.25
#: Ink: black-top-hat share of a style without lines and of one that is all line work; the least ink any style
#: gets off faces; the ink on faces whatever the style (eyes and mouth stay readable).
INK_NONE, INK_FULL, MIN_INK, FACE_INK = 0.08, 0.22, 0.0, 0.35
#: Blur of the transferred detail at a 768 px canvas: its finest grain only adds edges the photo does not have.
DETAIL_BLUR = 1.0
#: The grid `tune` searches (base contrast, detail gain) and the samples it scores with; the Gaussian σ (share of
#: the long side) that separates "local" contrast from the broad light of the scene.
TUNE_CONTRAST, TUNE_GRAIN, TUNE_SAMPLES = (0.55, 0.8, 1.0, 1.25), (0.3, 0.8, 1.4, 2.0), 5000
CONTRAST_SCALE = 0.03
#: The structure `tune` keeps: edge F-score (on its metric-size copy, 1 px there ≈ 2 px at 512) not below this.
TUNE_MIN_F, TUNE_TOLERANCE = 0.5, 1.0
#: A still whose full-size edge F-score falls below this is recomposed with up to STRUCTURE_RETRIES runners-up.
STRUCTURE_FLOOR, STRUCTURE_RETRIES = 0.5, 3


@dataclass(frozen=True)
class StyleFit:
    """What the lite tier reads from a style image (see the module docstring)."""

    image: np.ndarray = field(repr=False)  # the style, long side ≤ STYLE_SIDE (patch banks are cut from it)
    quantiles: np.ndarray = field(repr=False)  # its Lab cloud along the IDT rotations (palette.target_quantiles)
    stroke: float = 0.0  # edge spacing, fraction of the long side
    lines: float = 0.0  # 0–1
    ink: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))  # Lab
    grey: bool = False  # the style has no colour
    colour_signature: np.ndarray = field(repr=False, default=None)  # its metric signatures, kept with the fit
    texture_signature: list = field(repr=False, default=None)

    def to_dict(self) -> dict:
        return {"stroke_size": round(self.stroke, 4), "ink_lines": round(self.lines, 3),
                "ink_lab": [round(float(v), 1) for v in self.ink], "greyscale": self.grey}  # fmt: skip


def fit_style(rgb: np.ndarray) -> StyleFit:
    small = metrics._resize_long(rgb, 512)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    density = float(metrics.edges(small).mean())
    # Edges per pixel → the mean spacing between them (stripes w px wide put an edge every w/2 px... along a
    # line, and an edge map counts about one pixel per crossing: spacing ≈ 2 / density).
    stroke = (2.0 / max(density, 1e-3)) / 512.0
    hat = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    lines = float(np.clip(((hat > 0.1).mean() - INK_NONE) / (INK_FULL - INK_NONE), 0.0, 1.0))
    lab = sample_pixels(rgb)
    dark = lab[lab[:, 0] <= np.percentile(lab[:, 0], 3)]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    return StyleFit(image=metrics._resize_long(rgb, STYLE_SIDE) if max(rgb.shape[:2]) > STYLE_SIDE else rgb,
                    quantiles=target_quantiles(lab), stroke=stroke, lines=lines, ink=dark.mean(axis=0),
                    grey=bool(np.percentile(chroma, 95) < 4.0), colour_signature=metrics.colour_signature(rgb),
                    texture_signature=metrics.texture_signature(rgb))  # fmt: skip


def detail_bank(fit: StyleFit, long_side: int, at_512: float = None) -> texture.Bank:
    """The style's detail bank for a canvas `long_side` px long (the style at the same canvas size); `at_512` is the
    patch side at a 512 px canvas (default `PATCH_AT_512`; the webcam path uses coarser, cheaper patches)."""
    patch = max(8, 2 * round((at_512 or PATCH_AT_512) * long_side / 512 / 2))
    return texture.build_bank(lab_of(metrics._resize_long(fit.image, long_side)), patch)


# --------------------------------------------------------------------------------------------- faces
def _poly(mask: np.ndarray, points: np.ndarray) -> None:
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)


@dataclass
class Protection:
    """Soft (0–1) float32 masks at work size: `skin` keeps its colour, `fine` gets fine strokes."""

    skin: np.ndarray
    fine: np.ndarray
    features: np.ndarray


def protection(lab: np.ndarray, faces: list, scale: float, person: np.ndarray | None = None,
               skin_colour: bool = True) -> Protection:  # fmt: skip
    """Masks for `faces` (landmarks in photo pixels, `scale` = work size / photo size) on the work image.

    Skin beyond the face oval (neck, arms, hands) is found by the face's own skin colour, inside `person` (a
    person mask at work size) when given, else inside a generous box below each face (webcam frames)."""
    h, w = lab.shape[:2]
    oval, features = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    near = np.zeros((h, w), np.float32) if person is None else person
    skin_px = []
    for face in faces:
        pts = face.landmarks[:, :2] * scale
        face_mask = np.zeros((h, w), np.float32)
        _poly(face_mask, pts[list(FACE_OVAL)])
        feat = np.zeros((h, w), np.float32)
        for ring in (LEFT_EYE, RIGHT_EYE, LIPS_OUTER, LEFT_BROW_UPPER + LEFT_BROW_LOWER[::-1],
                     RIGHT_BROW_UPPER + RIGHT_BROW_LOWER[::-1]):  # fmt: skip
            _poly(feat, pts[list(ring)])
        (x0, y0), (x1, y1) = pts[list(FACE_OVAL)].min(axis=0), pts[list(FACE_OVAL)].max(axis=0)
        size = max(2.0, 0.04 * float(y1 - y0))
        core = (face_mask > 0.5) & (cv2.dilate(feat, np.ones((3, 3), np.uint8)) < 0.5)
        if core.sum() > 30:
            skin_px.append(lab[core])
        if person is None:  # neck, shoulders and hands of a webcam subject: within reach below the face
            fw, fh = x1 - x0, y1 - y0
            cv2.rectangle(near, (int(x0 - 1.5 * fw), int(y0)), (int(x1 + 1.5 * fw), int(y1 + 4 * fh)), 1.0, -1)
        oval = np.maximum(oval, cv2.GaussianBlur(face_mask, (0, 0), size))
        features = np.maximum(features, cv2.GaussianBlur(cv2.dilate(feat, np.ones((3, 3), np.uint8)), (0, 0),
                                                         0.5 * size))  # fmt: skip
    skin = oval
    if skin_px and skin_colour:
        skin = np.maximum(skin, skin_likeness(lab, np.concatenate(skin_px)) * near)
    return Protection(skin=skin, fine=skin, features=np.clip(features * 1.5, 0, 1))


def skin_likeness(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """0–1 per pixel: how close its colour is to the face's skin (Mahalanobis in Lab; lightness loosely, since
    shading moves it far more than it moves hue)."""
    mean = skin.mean(axis=0)
    cov = np.cov(skin.T) + np.diag([150.0, 2.0, 2.0])
    inv = np.linalg.inv(cov).astype(np.float32)
    d = lab.reshape(-1, 3) - mean.astype(np.float32)
    m2 = np.einsum("ij,jk,ik->i", d, inv, d).reshape(lab.shape[:2])
    return np.exp(-0.5 * np.maximum(m2 - 3.0, 0.0) / 1.5).astype(np.float32)


# --------------------------------------------------------------------------------------------- lines
def xdog(grey: np.ndarray, sigma: float, density: float = 0.06) -> np.ndarray:
    """Ink coverage 0–1 (float32) of dark XDoG lines (Winnemöller et al., Computers & Graphics 36(6), 2012) on a
    0–1 grey image: the difference of Gaussians at σ and 1.6σ, thresholded at this image's own percentile so
    roughly `density` of it may be line, with a linear ramp over one threshold's width (the paper's tanh, cheaper)."""
    d = cv2.GaussianBlur(grey, (0, 0), 1.6 * sigma) - cv2.GaussianBlur(grey, (0, 0), sigma)  # dark lines: d > 0
    step = max(1, round(np.sqrt(d.size / 40_000)))  # the threshold from ~40k pixels is as good as from all
    eps = max(float(np.percentile(d[::step, ::step], 100 * (1 - density))), 0.008)
    return np.minimum(np.maximum(d - eps, 0.0) * np.float32(1.0 / eps), 1.0)


# --------------------------------------------------------------------------------------------- the chain
def radius_px(fit: StyleFit, long_side: int) -> float:
    at_512 = np.clip(RADIUS_SHARE * fit.stroke * 512, *RADIUS_RANGE)
    return float(at_512 * long_side / 512)


@dataclass
class Canvas:
    """The photo at work size with everything the painting steps share."""

    rgb: np.ndarray  # the photo, full size
    small: np.ndarray  # … at work size
    lab: np.ndarray  # its Lab
    target: np.ndarray  # Lab in the style's palette, luminance- and skin-protected, at `strength`
    guard: Protection
    strength: float

    @property
    def scale(self) -> float:
        return self.small.shape[0] / self.rgb.shape[0]


def prepare(rgb: np.ndarray, palette: Palette, strength: float, faces: list, work_side: int,
            person: np.ndarray | None = None, skin_colour: bool = True) -> Canvas:  # fmt: skip
    """Step 1–2: the photo at work size in the style's palette, skin protected (`person`: the photo's person
    mask, float 0–1, any size; None for webcam frames)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    # Webcam frames are shrunk bilinearly (a third of area averaging's cost; the brushwork smooths any aliasing).
    how = cv2.INTER_AREA if skin_colour else cv2.INTER_LINEAR
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=how)
    lab = lab_of(small)
    styled = palette.lut(small)  # its lightness channel is the monotone lightness map (Palette)
    if person is not None and faces:
        person = cv2.resize(person.astype(np.float32), small.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    guard = protection(lab, faces, small.shape[0] / h, person, skin_colour)
    keep = 1.0 - guard.skin
    amount = min(1.0, strength / PALETTE_FULL_AT)
    chroma_w = amount * (SKIN_CHROMA_SHARE + (1.0 - SKIN_CHROMA_SHARE) * keep)
    light_w = amount * (SKIN_LIGHTNESS_SHARE + (LUMINANCE_SHARE - SKIN_LIGHTNESS_SHARE) * keep)
    target = lab + (styled - lab) * cv2.merge([light_w, chroma_w, chroma_w])
    return Canvas(rgb, small, lab, target, guard, strength)


@dataclass
class Strokes:
    """Step 3's two layers (Lab, work size): the brushed base and the style's detail (at unit gain)."""

    base: np.ndarray
    detail: np.ndarray | None
    contrast: float = 1.0  # local lightness contrast of the base (1 = the photo's)
    grain: float = 1.0  # gain of the detail
    tuned: dict = field(default_factory=dict)  # what `tune` measured


def brushwork(canvas: Canvas, fit: StyleFit, bank: texture.Bank | None, rings: int = 3,
              base: np.ndarray | None = None, sectors: int = 8) -> Strokes:  # fmt: skip
    """Step 3: the base — anisotropic Kuwahara brushwork (or `base`, e.g. `paint_high`'s) — and the style's own
    detail (lighter on skin)."""
    guard, strength = canvas.guard, canvas.strength
    long_side = max(canvas.small.shape[:2])
    if base is None:
        radius = radius_px(fit, long_side) * (0.4 + 0.6 * strength)
        local = radius * (1.0 - (1.0 - FACE_RADIUS) * guard.fine) * (1.0 - (1.0 - FEATURE_RADIUS) * guard.features)
        light = np.ascontiguousarray(canvas.lab[..., 0])
        base = kuwahara(canvas.target, local.astype(np.float32), rings, structure(light), sectors)
    detail = None
    if bank is not None:
        detail = bank.transfer(canvas.target, canvas.lab)
        if DETAIL_BLUR > 0:
            detail = cv2.GaussianBlur(detail, (0, 0), DETAIL_BLUR * long_side / 768)
        amount = strength * (1.0 - 0.75 * guard.fine)
        detail *= cv2.merge([amount, 0.6 * amount, 0.6 * amount])
    return Strokes(base, detail)


def compose(canvas: Canvas, strokes: Strokes, contrast: float | None = None, grain: float | None = None) -> np.ndarray:
    """The painted Lab image: the base with its local lightness contrast scaled (not on skin: faces keep their
    modelling), plus the detail at its gain."""
    contrast = strokes.contrast if contrast is None else contrast
    grain = strokes.grain if grain is None else grain
    out = strokes.base.copy()
    if contrast != 1.0:
        light = out[..., 0]
        broad = cv2.GaussianBlur(light, (0, 0), CONTRAST_SCALE * max(light.shape))
        gain = contrast + (1.0 - contrast) * canvas.guard.fine
        out[..., 0] = broad + gain * (light - broad)
    if strokes.detail is not None and grain:
        out += grain * strokes.detail
    return out


def tune(canvas: Canvas, strokes: Strokes, fit: StyleFit) -> Strokes:
    """Choose the base contrast and the detail gain that bring the painting's texture closest to the style's.

    Photos differ far more than paintings do: a studio portrait has hard white-shirt-on-dark-suit edges no Turner
    has, a white wall has none of the grain every painting has. So the two gains are searched on a grid, scoring
    each by `metrics.texture_distance` to the style on a metric-size copy (composition is linear, so the copy is
    composed from downsized layers: ~15 ms a candidate)."""
    side = metrics.METRIC_SIDE
    small = Canvas(canvas.rgb, canvas.small, canvas.lab, canvas.target,
                   Protection(*(_resize_to(m, side) for m in (canvas.guard.skin, canvas.guard.fine,
                                                                canvas.guard.features))), canvas.strength)  # fmt: skip
    detail = None if strokes.detail is None else _resize_to(strokes.detail, side)
    layers = Strokes(_resize_to(strokes.base, side), detail)
    photo = _resize_to(canvas.lab, side)
    ink = _resize_to(ink_weight(canvas, fit), side)[..., None] if fit.lines or canvas.guard.skin.any() else None

    def scores(lab: np.ndarray) -> tuple[float, float, float]:
        if ink is not None:  # the ink lines `finish` will draw, in Lab
            lab = lab * (1.0 - ink) + fit.ink.astype(np.float32) * ink
        rgb01 = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        tex = metrics.signatures_distance(metrics.texture_signatures(rgb01, TUNE_SAMPLES), fit.texture_signature)
        col = metrics.signature_distance(metrics.signature(metrics.colour_points(lab, TUNE_SAMPLES, lab=True)),
                                         fit.colour_signature)  # fmt: skip
        return tex, col, metrics.edge_match(reference, metrics.grey_edges(_grey(lab[..., 0])), TUNE_TOLERANCE)["f"]

    reference = metrics.grey_edges(_grey(photo[..., 0]))
    tex0, col0, _ = scores(photo)
    found = {}
    for contrast in TUNE_CONTRAST:
        for grain in TUNE_GRAIN if layers.detail is not None else (0.0,):
            tex, col, f = scores(compose(small, layers, contrast, grain))
            # How far each is from its goal (texture down by a quarter, colour by half): the worse one counts.
            found[(contrast, grain)] = (max(tex / tex0 / 0.75, col / col0 / 0.5), tex, col, f)
    # Structure first: the best score among candidates that keep the edges; if none does, the one keeping most.
    keeping = sorted((k for k, v in found.items() if v[3] >= TUNE_MIN_F), key=lambda k: found[k][0])
    others = sorted((k for k in found if k not in keeping), key=lambda k: -found[k][3])
    best = (keeping + others)[0]
    score, tex, col, f = found[best]
    # The runners-up with more structure, best score first: `render` falls back on them if the full-size result
    # loses its edges.
    safer = sorted((k for k in found if found[k][3] > f + 0.02), key=lambda k: found[k][0])[:STRUCTURE_RETRIES]
    return Strokes(strokes.base, strokes.detail, *best, {"contrast": best[0], "grain": best[1],
                   "texture_distance_estimate": round(tex, 3), "colour_distance_estimate": round(col, 3),
                   "edge_f_estimate": round(f, 3), "safer": safer})  # fmt: skip


def _grey(light: np.ndarray) -> np.ndarray:
    return np.clip(light * 2.55 + 0.5, 0, 255).astype(np.uint8)


def paint_high(canvas: Canvas, fit: StyleFit, seed: int = 0):
    """Step 3 (still, high quality), a generator: yields (done, total, Lab preview) while the photo is rebuilt from
    the style's patches (patches.py), and returns the painted base (Lab, work size). Faces and the photo's edges are
    fused back in; faces then keep the protected palette photo (reassembled patches would blur features)."""
    from . import patches

    side = min(patches.SYNTH_SIDE, max(canvas.small.shape[:2]))
    target = _resize_to(canvas.target, side)
    light = _resize_to(canvas.lab[..., 0], side)
    g = cv2.GaussianBlur(light, (0, 0), 1.0)
    edges = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    edges = np.clip(edges / max(float(np.percentile(edges, 95)), 1e-3), 0.0, 1.0)
    skin = _resize_to(canvas.guard.fine, side)
    fusion = (patches.FUSION_FLOOR + patches.FUSION_EDGES * edges + patches.FUSION_FACES * skin) / max(
        canvas.strength, 0.05)
    style = lab_of(metrics._resize_long(fit.image, side))
    synth = target
    for done, total, synth in patches.synthesize(target, style, fusion.astype(np.float32), fit.quantiles[0], seed):
        yield done, total, synth
    synth = cv2.resize(synth, canvas.small.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    keep = (canvas.guard.fine * 0.8)[..., None]
    return synth * (1.0 - keep) + canvas.target * keep


def ink_weight(canvas: Canvas, fit: StyleFit, scale: float = 1.0) -> np.ndarray:
    """Per-pixel ink opacity (float32, the photo's size × `scale`): XDoG lines of the photo, as strong as the
    style's own lines, and never weaker than FACE_INK on skin (so eyes and mouth stay readable)."""
    rgb, guard = canvas.rgb, canvas.guard
    h, w = rgb.shape[:2]
    size = (round(w * scale), round(h * scale))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    ink = xdog(grey.astype(np.float32) * np.float32(1 / 255), sigma=max(0.8, 0.6 * scale * max(h, w) / 512))
    amount = _up(guard.skin, size) * np.float32(FACE_INK) if guard.skin.any() else np.float32(0.0)
    return ink * np.float32(canvas.strength) * np.maximum(amount, np.float32(max(fit.lines, MIN_INK)))


def finish(canvas: Canvas, painted: np.ndarray, fit: StyleFit, ink_scale: float = 1.0) -> np.ndarray:
    """Step 4: back to RGB at the photo's size, with ink lines drawn at `ink_scale` of it (stills: full
    resolution; webcam frames: half, the line map upsampled)."""
    h, w = canvas.rgb.shape[:2]
    out = rgb_of(painted)
    if out.shape[:2] != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    if canvas.strength * max(fit.lines, MIN_INK, FACE_INK if canvas.guard.skin.any() else 0.0) <= 0.02:
        return out
    weight = ink_weight(canvas, fit, ink_scale)
    if ink_scale != 1.0:
        weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
    ink_rgb = np.empty_like(out)
    ink_rgb[:] = rgb_of(fit.ink.reshape(1, 1, 3).astype(np.float32))[0, 0]
    return cv2.blendLinear(out, ink_rgb, 1.0 - weight, weight)


def render(rgb: np.ndarray, fit: StyleFit, palette: Palette, bank, strength: float, faces: list,
           person: np.ndarray | None = None, quality: str = "standard", seed: int = 0):  # fmt: skip
    """A still, as a generator: yields (step, total, label, RGB preview) and returns (RGB result, details).

    `quality` "standard": Kuwahara brushwork (~1 s for 1 MP); "high": the photo rebuilt from the style's patches
    first (seconds). Both add the style's detail at the gains `tune` picks, and ink."""
    total = 3 if quality == "standard" else 3 + patches_total()
    canvas = prepare(rgb, palette, strength, faces, WORK_SIDE, person)
    yield 1, total, "palette", _preview(canvas, canvas.target)
    base = None
    if quality == "high":
        gen = paint_high(canvas, fit, seed)
        while True:
            try:
                done, steps, lab = next(gen)
            except StopIteration as stop:
                base = stop.value
                break
            yield 1 + done, total, f"patch synthesis {done}/{steps}", _preview(canvas, lab)
    strokes = tune(canvas, brushwork(canvas, fit, bank, base=base), fit)
    safer = strokes.tuned.pop("safer")
    painted = compose(canvas, strokes)
    yield total - 1, total, "brushwork", _preview(canvas, painted)
    out = finish(canvas, painted, fit)
    # Structure guard: `tune` judged on a small copy; the full-size result is measured, and if it lost the photo's
    # edges (F below STRUCTURE_FLOOR) the runner-up with more structure is composed instead (a few tenths of a s).
    f = metrics.edge_fscore(rgb, out)["f"]
    tried = [(f, out, (strokes.contrast, strokes.grain))]
    for contrast, grain in safer if f < STRUCTURE_FLOOR else ():
        candidate = finish(canvas, compose(canvas, strokes, contrast, grain), fit)
        tried.append((metrics.edge_fscore(rgb, candidate)["f"], candidate, (contrast, grain)))
        if tried[-1][0] >= STRUCTURE_FLOOR:
            break
    f, out, (contrast, grain) = tried[-1] if tried[-1][0] >= STRUCTURE_FLOOR else max(tried, key=lambda t: t[0])
    details = {"work_size": list(canvas.small.shape[1::-1]), "kuwahara_radius_px": None if base is not None else
               round(radius_px(fit, max(canvas.small.shape[:2])) * (0.4 + 0.6 * strength), 2), **strokes.tuned,
               "contrast": contrast, "grain": grain, "structure_retries": len(tried) - 1}  # fmt: skip
    return out, details


def patches_total() -> int:
    from .patches import LEVELS

    return sum(len(sizes) * iters for _, sizes, iters in LEVELS)


def _preview(canvas: Canvas, lab: np.ndarray) -> np.ndarray:
    out = rgb_of(lab)
    return cv2.resize(out, canvas.rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)


def stylize(rgb: np.ndarray, fit: StyleFit, palette: Palette, strength: float, faces: list, bank=None,
            person: np.ndarray | None = None, quality: str = "standard") -> np.ndarray:  # fmt: skip
    """The whole chain without previews: the photo in the style (RGB uint8, its size). Strength 0 returns it."""
    if strength <= 0:
        return rgb.copy()
    gen = render(rgb, fit, palette, bank, strength, faces, person, quality)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value[0]


def live_frame(rgb: np.ndarray, fit: StyleFit, palette: Palette, bank, strength: float, faces: list,
               gains: tuple[float, float] = (1.0, 1.0), memo: dict | None = None) -> np.ndarray:  # fmt: skip
    """One webcam frame: the fast chain at `LIVE_SIDE` (7-sample, 4-sector Kuwahara; skin by the face oval alone),
    the gains `tune` chose for the stream, ink at half size. The style's detail is re-laid every `LIVE_DETAIL_EVERY`
    frames (`memo` keeps it between calls): strokes that hold still a few frames read as canvas, not as flicker."""
    if strength <= 0:
        return rgb
    canvas = prepare(rgb, palette, strength, faces, LIVE_SIDE, skin_colour=False)
    memo = {} if memo is None else memo
    stale = memo.get("shape") != canvas.small.shape or memo.get("age", LIVE_DETAIL_EVERY) >= LIVE_DETAIL_EVERY
    strokes = brushwork(canvas, fit, bank if stale else None, rings=1, sectors=4)
    if stale:
        memo.update(detail=strokes.detail, shape=canvas.small.shape, age=0)
    else:
        strokes.detail = memo["detail"]
    memo["age"] += 1
    return finish(canvas, compose(canvas, strokes, *gains), fit, ink_scale=0.5)


def _resize_to(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) == side:
        return image
    scale = side / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip


def _up(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return mask if mask.shape[::-1] == size else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
