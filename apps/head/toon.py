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


@dataclass(frozen=True)
class Look:
    """The filter settings of one preset (see presets.py)."""

    smooth: float  # bilateral strength (sigmaColor); 0 = none
    passes: int  # bilateral passes at half resolution
    levels: int  # lightness levels; 0 = no quantisation
    step: float  # width of a level step (0 = hard cel edge, 0.5 = gentle)
    saturation: float  # chroma gain
    lines: float  # outline opacity 0–1
    line_width: float  # XDoG sigma in face heights
    ink: tuple[int, int, int] = (25, 20, 25)  # line colour (RGB)
    halftone: float = 0.0  # dot-screen opacity in the shadows (comic)
    brush: float = 0.0  # Kuwahara radius in face heights (painted)
    lift: float = 0.0  # lightness lift of the darkest level towards the middle (anime's bright cel look)


def _half(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def flatten(rgb: np.ndarray, look: Look, scale: float) -> np.ndarray:
    """Edge-preserving smoothing at half resolution (skin texture and noise go, edges stay)."""
    if look.smooth <= 0 or look.passes <= 0:
        return rgb
    small = _half(rgb)
    d = int(np.clip(0.03 * scale, 5, 9))
    for _ in range(look.passes):
        small = cv2.bilateralFilter(small, d, look.smooth, d)
    return cv2.resize(small, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)


def quantise(lab: np.ndarray, levels: int, step: float, lift: float = 0.0) -> np.ndarray:
    """Lightness cut into `levels` bands with steps `step` wide (fractions of a band), chroma untouched.

    `lab` is float32 OpenCV Lab (L, a, b in 0–255); a copy is returned."""
    out = lab.copy()
    if levels <= 0:
        return out
    q = out[..., 0] * (levels / 255.0)
    base = np.floor(q)
    frac = q - base
    if step > 0:
        frac = np.clip((frac - 0.5) / step + 0.5, 0.0, 1.0)
        frac = frac * frac * (3.0 - 2.0 * frac)
    else:
        frac = (frac >= 0.5).astype(np.float32)
    level = (base + frac) / levels
    if lift > 0:  # the darkest band moves towards the middle: bright, flat anime skin without erasing shadow shapes
        level = level + lift * (1.0 - level) * (level < 0.5)
    out[..., 0] = np.clip(level * 255.0, 0, 255)
    return out


def saturate(lab: np.ndarray, gain: float) -> np.ndarray:
    if gain != 1.0:
        lab[..., 1:] = np.clip(128.0 + (lab[..., 1:] - 128.0) * gain, 0, 255)
    return lab


def xdog_lines(grey: np.ndarray, sigma: float, density: float = 1.0) -> np.ndarray:
    """Line opacity (float32 0–1) from XDoG on a grey image (uint8). `density` > 1 draws more lines."""
    g = grey.astype(np.float32) / 255.0
    g1 = cv2.GaussianBlur(g, (0, 0), sigma)
    g2 = cv2.GaussianBlur(g, (0, 0), sigma * 1.6)
    dog = g1 - 0.985 * g2
    # A soft threshold: tanh(phi · (dog − eps)) below eps. eps sets how dark an edge must be; phi its crispness.
    eps = -0.012 / max(density, 0.2)
    lines = np.clip(-np.tanh(60.0 * (dog - eps)), 0.0, 1.0)
    return lines


def halftone_dots(lightness: np.ndarray, cell: float, threshold: float = 0.42) -> np.ndarray:
    """Ink coverage (0/1 float32) of a 45° dot screen: dots where lightness (0–1) is under `threshold`, their
    radius growing with the darkness (Ben-Day dots of printed comics)."""
    h, w = lightness.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xs + ys) * (0.70710678 / cell)
    v = (xs - ys) * (0.70710678 / cell)
    du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
    dist = np.sqrt(du * du + dv * dv)  # 0 at a cell centre, ~0.7 at its corner
    dark = np.clip((threshold - lightness) / threshold, 0.0, 1.0)
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


def canvas_texture(shape: tuple[int, int], cell: float) -> np.ndarray:
    """A fixed woven-canvas relief (float32 around 0, ±1), the same for every frame so live video does not shimmer."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return (np.sin(xs * (np.pi / cell)) * np.sin(ys * (np.pi / cell)) * 0.6
            + np.sin((xs + ys) * (np.pi / (2.3 * cell))) * 0.4).astype(np.float32)  # fmt: skip


def stylise(rgb: np.ndarray, look: Look, scale: float, palette=None) -> np.ndarray:
    """The head crop `rgb` in `look`; `scale` is the face height in crop pixels; `palette` an optional
    `style.StyleRef` whose colours and line character the result takes on."""
    density = palette.line_density if palette is not None else 1.0
    if look.brush > 0:
        # Painted: the Kuwahara filter at half resolution (brush strokes a few pixels wide need no more), then a
        # light bilateral pass to merge the strokes' seams.
        small = _half(rgb)
        small = kuwahara(small, look.brush * scale / 2.0)
        base = cv2.resize(small, rgb.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    else:
        base = flatten(rgb, look, scale)
    lab = cv2.cvtColor(base, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = quantise(lab, look.levels, look.step, look.lift)
    lab = saturate(lab, look.saturation)
    if palette is not None:
        lab = palette.recolour(lab)
    if look.brush > 0:
        lab[..., 0] = np.clip(lab[..., 0] + 6.0 * canvas_texture(lab.shape[:2], max(2.0, 0.012 * scale)), 0, 255)
    out = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    if look.halftone > 0:
        dots = halftone_dots(lab[..., 0] / 255.0, max(3.0, 0.022 * scale)) * look.halftone
        out = out * (1.0 - dots[..., None]) + np.array(look.ink, np.float32) * dots[..., None]
    if look.lines > 0:
        grey = cv2.cvtColor(base, cv2.COLOR_RGB2GRAY)
        sigma = max(0.7, look.line_width * scale) * (palette.line_weight if palette is not None else 1.0)
        lines = xdog_lines(grey, sigma, density) * look.lines
        out = out * (1.0 - lines[..., None]) + np.array(look.ink, np.float32) * lines[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
