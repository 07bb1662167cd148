"""Colour in one convention: CIE L*a*b* (CIELAB) under the D65 white point, L 0–100, a and b signed (about
−128…127), as floats.

Every Lab number in the project is in this convention: the metrics, the makeup looks and presets, the shade
and colour-name tables, the try-on garment palette. There are two ways to get there, and they agree:

* exact — `rgb_to_lab(rgb)`: scikit-image, float64. What the metrics and reports measure with.
* fast — `rgb_to_lab(rgb, fast=True)`: OpenCV's float32 conversion, several times quicker; what the lite
  tiers paint with at webcam rates. OpenCV uses a slightly different D65 white (0.950456, 1, 1.088754 vs
  0.95047, 1, 1.08883) and tabulated curves, so the two differ by 0.09 ΔE2000 on average and by less than
  0.5 on every one of the 16.7 M 8-bit sRGB colours (the most on near-greys, whose a/b OpenCV rounds more
  coarsely) — below the 1–2 a person can see. tests/test_color.py holds it to 0.5.

OpenCV's *8-bit* conversion (`cv2.cvtColor(uint8, COLOR_RGB2LAB)`) is a different encoding (L scaled to
0–255, a and b offset by 128) and is not used here.

Colours as hex strings (`hex_to_lab`, `lab_to_hex`) go through the fast path in both directions: they are the
colours the lite tier paints, and this way a hex colour round-trips to itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# OpenCV (~0.2 s) and scikit-image (~0.5 s) are imported where they are used: the metrics import this module,
# and importing the metrics should not cost either.


def bool_mask(mask, shape) -> np.ndarray | None:
    """A mask (bool, uint8 0/255 or float 0–1) as bool, checked against an image's height and width.
    None stays None (no mask: the whole image)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != tuple(shape[:2]):
        raise ValueError(f"mask has shape {m.shape}, expected {tuple(shape[:2])}")
    return m > (0.5 if m.dtype.kind == "f" else 0)


def rgb_to_lab(rgb: np.ndarray, fast: bool = False) -> np.ndarray:
    """sRGB uint8 (…×3) → CIELAB D65, L 0–100. Exact (scikit-image, float64) by default; `fast=True` uses
    OpenCV's float32 conversion, same convention, within 0.5 ΔE2000 of the exact one."""
    rgb = np.asarray(rgb, np.uint8)
    if not fast:
        from skimage.color import rgb2lab

        return rgb2lab(rgb)
    import cv2

    # OpenCV converts images (H×W×3); any other shape (a pixel list, one colour) goes through as a one-row one.
    image = rgb if rgb.ndim == 3 else rgb.reshape(1, -1, 3)
    # Scaling by a float32 reciprocal in one pass is the quickest way to OpenCV's 0–1 float input.
    lab = cv2.cvtColor(np.multiply(image, np.float32(1 / 255), dtype=np.float32), cv2.COLOR_RGB2Lab)
    return lab if rgb.ndim == 3 else lab.reshape(rgb.shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (…×3, this module's convention) → sRGB uint8, rounded; out-of-gamut colours are clipped.
    OpenCV's float32 conversion (the inverse of the fast path)."""
    import cv2

    lab = np.asarray(lab, np.float32)
    image = lab if lab.ndim == 3 else lab.reshape(1, -1, 3)
    rgb = cv2.cvtColor(image, cv2.COLOR_Lab2RGB)
    # convertScaleAbs scales, rounds and saturates to uint8 in one pass; out-of-gamut negatives are clamped to 0
    # first, since it would otherwise mirror them.
    out = cv2.convertScaleAbs(np.maximum(rgb, 0.0, out=rgb), alpha=255.0)
    return out if lab.ndim == 3 else out.reshape(lab.shape)


def hex_to_lab(code: str) -> np.ndarray:
    """'#RRGGBB' (the '#' optional) → Lab float64 (fast path, so `lab_to_hex` gives the same code back)."""
    code = code.lstrip("#")
    rgb = np.array([int(code[i : i + 2], 16) for i in (0, 2, 4)], np.uint8)
    return rgb_to_lab(rgb, fast=True).astype(np.float64)


def lab_to_hex(lab: np.ndarray) -> str:
    """A Lab colour as the '#RRGGBB' sRGB code a designer would recognise (clipped into the sRGB gamut)."""
    r, g, b = lab_to_rgb(np.asarray(lab).reshape(3))
    return f"#{r:02X}{g:02X}{b:02X}"


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between Lab colours (Sharma, Wu & Dalal 2005), element-wise over the last
    axis. About 1 is just noticeable side by side; above 10 reads as a different colour."""
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))


def mean_lab(rgb: np.ndarray, mask) -> np.ndarray:
    """Mean Lab colour (exact path) of the masked pixels. The average is taken in Lab, which is perceptual,
    not in sRGB, whose gamma would weight dark and light pixels unevenly."""
    m = bool_mask(mask, rgb.shape)
    if m is None or not m.any():
        raise ValueError("mask selects no pixels")
    return rgb_to_lab(rgb[m][None])[0].mean(axis=0)


def nearest_name(lab: np.ndarray, table: Mapping[str, np.ndarray]) -> str:
    """The name in `table` (name → Lab colour) nearest to `lab` by CIEDE2000, e.g. a shade or colour word for a
    prompt. On a tie the first name in the table wins."""
    names = list(table)
    anchors = np.stack([np.asarray(table[n], np.float64) for n in names])
    distances = ciede2000(anchors, np.broadcast_to(np.asarray(lab, np.float64), anchors.shape))
    return names[int(np.argmin(distances))]
