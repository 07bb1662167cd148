"""The lite tier's looks: cartoon, comic, anime and painted filters for a head crop.

Each look is built from a few classical parts, measured on this CPU at 640×480 in ../shared/docs/round2.md §A2
("two bilateral passes at half resolution, then 8-level quantisation, then an XDoG edge mask: 9–11 ms"):

* **flat shading**: edge-preserving smoothing (bilateral at half resolution), then the lightness cut into a few
  levels with soft or hard steps (cel shading), the colour kept;
* **lines**: XDoG (Winnemöller et al., "XDoG: An eXtended difference-of-Gaussians compendium", Computers &
  Graphics 36(6), 2012): a difference of Gaussians with a soft threshold, drawn on the smoothed image so skin
  texture makes no lines;
* **halftone**: a 45° dot screen in the shadows, dots growing with darkness (comic);
* **brush**: a generalised Kuwahara filter (Papari, Petkov & Campisi, "Artistic edge and corner enhancing
  smoothing", IEEE TIP 16(10), 2007): eight soft sectors around each pixel, each sector's mean weighted by how
  flat the sector is, so strokes follow edges (painted).

Every size is in face heights (`scale`: the face's forehead-to-chin distance in crop pixels), so a look is the
same on a 200-px selfie and on a 12-megapixel portrait. Images are RGB uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


#: Smoothing, shading and brush work run on the crop scaled so the face is this tall (never enlarged): the look
#: then has the same stroke and band sizes on any photo, and a 12-megapixel portrait costs what a selfie does.
WORK_FACE = 128


@dataclass(frozen=True)
class Look:
    """The filter settings of one preset (see presets.py)."""

    smooth: float  # bilateral sigmaColor of the flattening passes; 0 = none
    passes: int  # bilateral passes
    band: float  # lightness band width in units of the face's own lightness spread; 0 = no bands
    step: float  # softness of a band edge (0 = hard cel edge, 0.5 = gentle)
    saturation: float  # chroma gain
    lines: float  # outline opacity 0–1
    line_width: float  # XDoG sigma in face heights
    line_threshold: float = 0.01  # how dark an edge must be to draw a line (lower = more lines)
    ink: tuple[int, int, int] = (25, 20, 25)  # line colour (RGB)
    halftone: float = 0.0  # dot-screen opacity in the shadows (comic)
    brush: float = 0.0  # Kuwahara radius in face heights (painted)
    work_face: int = WORK_FACE  # face height (px) the flattening runs at: lower = broader, flatter shapes
    shadow: float = 0.6  # halftone: dots start this many bands below the face's median lightness
    texture: float = 0.0  # brush-stroke relief, in lightness units (painted)
    highlights: bool = True  # False: no band brighter than the face's own tone (anime's flat lit skin)
    feature_tone: float = 0.0  # share of the features' own (unbanded) lightness kept inside the detail mask


def work_scale(scale: float, work_face: int = WORK_FACE) -> float:
    """The factor from crop pixels to work pixels (≤ 1)."""
    return min(1.0, work_face / max(scale, 1.0))


def flatten(small: np.ndarray, look: Look) -> np.ndarray:
    """Edge-preserving smoothing at work scale: skin texture and noise go, edges stay."""
    for _ in range(look.passes):
        small = cv2.bilateralFilter(small, 5, look.smooth, 3)
    return small


def quantise(lightness: np.ndarray, centre: float, width: float, step: float) -> np.ndarray:
    """Lightness (0–255) in bands `width` wide, one centred on `centre` (the face's own median lightness, so the
    face keeps its tone), with band edges `step` wide (0 = hard)."""
    x = (lightness - centre) / max(width, 1.0)
    base = np.floor(x)
    frac = x - base
    if step > 0:
        frac = np.clip((frac - 0.5) / step + 0.5, 0.0, 1.0)
        frac = frac * frac * (3.0 - 2.0 * frac)
    else:
        frac = (frac >= 0.5).astype(np.float32)
    return np.clip(centre + (base + frac) * width, 0.0, 255.0)


def saturate(lab: np.ndarray, gain: float) -> np.ndarray:
    if gain != 1.0:
        lab[..., 1:] = np.clip(128.0 + (lab[..., 1:] - 128.0) * gain, 0, 255)
    return lab


def xdog_lines(grey: np.ndarray, sigma: float, threshold: float = 0.01) -> np.ndarray:
    """Line opacity (float32 0–1) from XDoG on a grey image (uint8); a lower `threshold` draws more lines."""
    g = grey.astype(np.float32) / 255.0
    g1 = cv2.GaussianBlur(g, (0, 0), sigma)
    g2 = cv2.GaussianBlur(g, (0, 0), sigma * 1.6)
    dog = g1 - 0.99 * g2
    # XDoG's soft threshold: 1 − tanh(φ·(D − ε)) below ε; ε (−threshold) sets how dark an edge must be, φ = 80
    # its crispness.
    return np.clip(-np.tanh(80.0 * (dog + threshold)), 0.0, 1.0)


def halftone_dots(dark: np.ndarray, cell: float) -> np.ndarray:
    """Ink coverage (float32 0–1) of a 45° dot screen with `cell`-pixel spacing, each dot's area growing with
    `dark` (0–1), as the Ben-Day dots of printed comics."""
    h, w = dark.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xs + ys) * (0.70710678 / cell)
    v = (xs - ys) * (0.70710678 / cell)
    du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
    dist = np.sqrt(du * du + dv * dv)  # 0 at a cell centre, ~0.7 at its corner
    radius = 0.55 * np.sqrt(dark)
    return np.clip((radius - dist) * cell, 0.0, 1.0).astype(np.float32)


def kuwahara(rgb: np.ndarray, radius: float, sectors: int = 8, q: float = 8.0) -> np.ndarray:
    """Generalised Kuwahara filter (Papari et al. 2007): each pixel becomes the mean of its flattest sectors.

    Sector kernels are Gaussian-windowed, smoothly overlapping wedges; sector i's weight is 1 / (1 + σ_i^q) with
    σ_i its colour standard deviation (Papari's weighting), so strokes stop at edges instead of smearing them."""
    r = max(2, int(round(radius)))
    kernels = _sector_kernels(r, sectors)
    img = rgb.astype(np.float32) * (1.0 / 255.0)
    # One 4-channel filter per sector: the colour mean (3) and the mean squared norm (1) together.
    stack = np.dstack([img, (img * img).sum(axis=2)])
    num = np.zeros_like(img)
    den = np.zeros(img.shape[:2], np.float32)
    for k in kernels:
        moments = cv2.filter2D(stack, -1, k, borderType=cv2.BORDER_REFLECT)
        mean = moments[..., :3]
        var = moments[..., 3] - (mean * mean).sum(axis=2)
        sigma = np.sqrt(np.maximum(var, 1e-10)) * 255.0  # grey levels: skin texture 5-20, an edge 40+
        weight = 1.0 / (1.0 + sigma**q)
        num += mean * weight[..., None]
        den += weight
    return np.clip(num / den[..., None] * 255.0 + 0.5, 0, 255).astype(np.uint8)


_SECTOR_CACHE: dict[tuple[int, int], list[np.ndarray]] = {}


def _sector_kernels(r: int, n: int) -> list[np.ndarray]:
    key = (r, n)
    if key not in _SECTOR_CACHE:
        ys, xs = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
        angle = np.arctan2(ys, xs)
        window = np.exp(-(xs * xs + ys * ys) / (2.0 * (r / 2.0) ** 2))
        kernels = []
        for i in range(n):
            centre = 2.0 * np.pi * i / n
            diff = np.angle(np.exp(1j * (angle - centre)))
            wedge = np.clip(1.0 - np.abs(diff) / (2.0 * np.pi / n), 0.0, 1.0) ** 2
            wedge[r, r] = 1.0 / n  # the centre belongs to every sector
            k = (wedge * window).astype(np.float32)
            kernels.append(k / k.sum())
        _SECTOR_CACHE[key] = kernels
    return _SECTOR_CACHE[key]


def brush_strokes(grey: np.ndarray, length: float, seed: int = 7) -> np.ndarray:
    """A brush-stroke relief (float32, mean 0, std 1) whose streaks follow the image's edges: noise smeared along
    each pixel's edge tangent (a line integral convolution, Cabral & Leedom, SIGGRAPH 1993), the tangent taken from
    the smoothed structure tensor. The noise is seeded, so a still always gets the same strokes."""
    h, w = grey.shape
    g = grey.astype(np.float32)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    sigma = max(1.0, length / 3.0)
    jxx, jxy, jyy = (cv2.GaussianBlur(a, (0, 0), sigma) for a in (gx * gx, gx * gy, gy * gy))
    theta = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy) + np.pi / 2.0  # along the edge, not across it
    tx, ty = np.cos(theta), np.sin(theta)
    noise = np.random.default_rng(seed).random((h, w), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    steps = 6
    acc = noise.copy()
    for k in range(1, steps + 1):
        d = k * length / (2.0 * steps)
        for sign in (-1.0, 1.0):
            acc += cv2.remap(noise, xs + sign * d * tx, ys + sign * d * ty, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)  # fmt: skip
    acc -= acc.mean()
    return acc / max(float(acc.std()), 1e-6)


def _resized(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    if f >= 1:
        return rgb
    return cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)


def stylise(rgb: np.ndarray, look: Look, scale: float, skin: tuple[float, float] = (128.0, 30.0),
            detail: np.ndarray | None = None, palette=None) -> np.ndarray:  # fmt: skip
    """The head crop `rgb` in `look`.

    Args:
        scale: the face height in crop pixels (sizes of strokes, lines and dots follow it).
        skin: (median, spread) of the face's lightness in OpenCV Lab L units: the bands are laid out around the
            face's own tone, so a dark face stays dark and a pale one pale.
        detail: where the face's features are (float32 0–1, crop-sized): eyes, brows, lips and nostrils keep the
            finer work scale's shapes while skin and hair take the look's broad ones, as an illustrator draws
            detailed eyes on simple skin (and the person stays recognisable).
        palette: an optional `style.StyleRef` whose colours and line character the result takes on.
    """
    h, w = rgb.shape[:2]
    fine_f = work_scale(scale, WORK_FACE)
    fine = _resized(rgb, fine_f)
    size = fine.shape[1::-1]
    if look.brush > 0:
        coarse = kuwahara(_resized(rgb, work_scale(scale, look.work_face)), look.brush * min(scale, look.work_face))
        small = coarse if coarse.shape[:2] == fine.shape[:2] else cv2.resize(coarse, size, interpolation=cv2.INTER_CUBIC)
    else:
        coarse = flatten(_resized(rgb, work_scale(scale, look.work_face)), look)
        small = coarse if coarse.shape[:2] == fine.shape[:2] else cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)
    if detail is not None and look.work_face < WORK_FACE:
        # The features at the finer scale (a small brush, or one smoothing pass) inside the detail mask.
        if look.brush > 0:
            sharp = kuwahara(fine, max(2.0, 0.4 * look.brush * min(scale, WORK_FACE)))
        else:
            sharp = flatten(fine, Look(**{**look.__dict__, "passes": 1}))
        d = cv2.resize(detail, size, interpolation=cv2.INTER_AREA)[..., None]
        small = np.clip(small + (sharp.astype(np.float32) - small) * d + 0.5, 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    if look.band > 0:
        tone = lab[..., 0].copy()
        width = look.band * max(skin[1], 8.0)
        # At most half a band brighter than the face's own tone: more reads as a blown-out patch of glare.
        lab[..., 0] = np.minimum(quantise(tone, skin[0], width, look.step),
                                 skin[0] + (0.5 * width if look.highlights else 0.0))
        if detail is not None and look.feature_tone > 0:
            # Eyes, brows, nostrils and lips keep some of their own modelling: the bands alone flatten the very
            # shading a face is recognised by.
            keep = cv2.resize(detail, size, interpolation=cv2.INTER_AREA) * look.feature_tone
            lab[..., 0] += (tone - lab[..., 0]) * keep
    lab = saturate(lab, look.saturation)
    if palette is not None:
        lab = palette.recolour(lab)
    if (h, w) != lab.shape[:2]:
        lab = cv2.resize(lab, (w, h), interpolation=cv2.INTER_LINEAR)
        smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        smooth = small
    if look.brush > 0:  # strokes at the fine work scale, then scaled up with the colour (they are broad)
        strokes = brush_strokes(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), look.brush * min(scale, WORK_FACE) * 1.5)
        if strokes.shape != lab.shape[:2]:
            strokes = cv2.resize(strokes, (w, h), interpolation=cv2.INTER_LINEAR)
        lab[..., 0] = np.clip(lab[..., 0] + look.texture * strokes, 0, 255)
    out = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    ink = np.array(look.ink, np.float32)
    if look.halftone > 0:
        width = look.band * max(skin[1], 8.0)
        dark = np.clip((skin[0] - look.shadow * width - lab[..., 0]) / (2.0 * width), 0.0, 1.0)
        dots = halftone_dots(dark, max(3.0, 0.022 * scale)) * look.halftone
        out += (ink - out) * dots[..., None]
    if look.lines > 0:
        grey = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)
        weight = palette.line_weight if palette is not None else 1.0
        density = palette.line_density if palette is not None else 1.0
        lines = xdog_lines(grey, max(1.0, look.line_width * scale * weight), look.line_threshold / density)
        out += (ink - out) * (lines * look.lines)[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
