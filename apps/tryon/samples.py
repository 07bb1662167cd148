"""Example garments the studio draws itself: product shots of simple tops on a white backdrop.

The try-on page needs garment examples, and no installed package ships a product photo. These are drawn
(a polygon outline with soft fabric shading and a print) and written under the studio's cache folder the first
time a page asks for them, never at import time; nothing comes from the research-only test fixtures.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: name → (main colour RGB, sleeve style, print)
GARMENTS = {
    "tee_red": ((200, 40, 50), "short", "plain"),
    "tee_striped_navy": ((30, 45, 90), "short", "stripes"),
    "longsleeve_green": ((40, 130, 80), "long", "plain"),
    "tank_yellow": ((235, 190, 40), "none", "plain"),
}
SIZE = (1024, 768)  # (height, width), the shape of shop product shots


def _outline(sleeves: str) -> np.ndarray:
    """The garment's outline in a 768×1024 frame: the left half from the front neck to the hem, mirrored."""
    neck = [(384, 185), (330, 168), (295, 120)]
    if sleeves == "short":
        arm = [(195, 150), (110, 330), (185, 368), (210, 330)]
    elif sleeves == "long":
        arm = [(195, 150), (95, 760), (160, 775), (215, 380)]
    else:
        arm = [(262, 122), (230, 180), (215, 330)]
    left = neck + arm + [(200, 880), (384, 892)]
    right = [(768 - x, y) for x, y in reversed(left[1:-1])]
    return np.array(left + right, np.int32)


def draw_garment(name: str) -> np.ndarray:
    """RGB uint8 product shot of one of `GARMENTS`."""
    colour, sleeves, pattern = GARMENTS[name]
    h, w = SIZE
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [_outline(sleeves)], 255, lineType=cv2.LINE_AA)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fabric = np.empty((h, w, 3), np.float32)
    fabric[:] = colour
    if pattern == "stripes":
        fabric[(yy // 38) % 2 == 0] = (190, 205, 235)  # light blue: a white stripe would merge with the backdrop
    # Soft vertical folds and a light fall-off to the sides, so the fabric reads as cloth, not a flat fill.
    shade = 1.0 + 0.06 * np.sin(xx / 37.0) * np.sin(yy / 121.0) - 0.08 * ((xx - w / 2) / (w / 2)) ** 2
    fabric *= shade[..., None]
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.2)[..., None]
    backdrop = np.full((h, w, 3), 246.0, np.float32)
    return np.clip(backdrop * (1 - alpha) + fabric * alpha, 0, 255).astype(np.uint8)


def sample_garment(name: str, cache_dir: Path) -> Path:
    """Path to the PNG of a drawn example garment, written on first use."""
    if name not in GARMENTS:
        raise KeyError(f"Unknown example garment '{name}'. Known: {', '.join(GARMENTS)}")
    from studio.examples import example_file

    return example_file(cache_dir, f"tryon/{name}.png", lambda: draw_garment(name))
