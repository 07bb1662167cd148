"""A style reference for the lite tier: the palette and the line character of an image the user likes.

* **palette** — six colours by k-means in Lab on the reference (a 160-px thumbnail: palettes are about areas, not
  detail). The stylised head's colours move part of the way towards the nearest palette colour, lightness less
  than hue, so the head takes the reference's colours without losing its shading (and the person stays
  recognisable: a full swap turns skin the colour of a sky, ../shared/docs/round2.md §A1).
* **line character** — how much of the reference is edge (line density) and how thick its dark strokes are
  (line weight), relative to a plain photo; the look's outlines are drawn denser/thicker or sparser/thinner.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PALETTE_SIZE = 6
#: How far a stylised colour moves towards its palette colour: chroma (a, b) and lightness.
CHROMA_PULL, LIGHTNESS_PULL = 0.35, 0.1
#: Share of edge pixels (Canny at a 256-px thumbnail) in an ordinary photo; a reference with twice as much is drawn
#: with twice the line density.
PHOTO_EDGE_SHARE = 0.06


@dataclass(frozen=True)
class StyleRef:
    palette: np.ndarray  # (k, 3) float32 OpenCV Lab (0–255)
    line_density: float  # 1 = as a photo; > 1 draw more lines
    line_weight: float  # 1 = the look's own; > 1 thicker lines

    def recolour(self, lab: np.ndarray) -> np.ndarray:
        """`lab` (float32 H×W×3, OpenCV Lab) pulled towards the palette, in place and returned."""
        flat = lab.reshape(-1, 3)
        # Nearest by hue and saturation mostly: lightness counts half, so a dark shadow finds a dark palette colour
        # only when the palette has one of the same hue family.
        d = ((flat[:, None, 1:] - self.palette[None, :, 1:]) ** 2).sum(axis=2)
        d += 0.25 * (flat[:, None, 0] - self.palette[None, :, 0]) ** 2
        target = self.palette[d.argmin(axis=1)]
        flat[:, 1:] += CHROMA_PULL * (target[:, 1:] - flat[:, 1:])
        flat[:, 0] += LIGHTNESS_PULL * (target[:, 0] - flat[:, 0])
        return lab

    def to_dict(self) -> dict:
        rgb = cv2.cvtColor(np.clip(self.palette, 0, 255).astype(np.uint8)[None], cv2.COLOR_LAB2RGB)[0]
        return {"palette": ["#%02X%02X%02X" % tuple(int(v) for v in c) for c in rgb],
                "line_density": round(self.line_density, 3), "line_weight": round(self.line_weight, 3)}  # fmt: skip


def read_style(rgb: np.ndarray) -> StyleRef:
    """The palette and line character of a reference image (RGB uint8)."""
    h, w = rgb.shape[:2]
    f = 160.0 / max(h, w)
    thumb = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(thumb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    k = min(PALETTE_SIZE, len(np.unique(lab, axis=0)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    cv2.setRNGSeed(3)  # the same reference always gives the same palette
    _, _, centres = cv2.kmeans(lab, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    f = 256.0 / max(h, w)
    grey = cv2.cvtColor(cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2GRAY)  # fmt: skip
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 60, 150) > 0
    density = float(np.clip(edges.mean() / PHOTO_EDGE_SHARE, 0.5, 2.0))
    # Stroke weight: dark pixels next to edges per edge pixel; a pen drawing has ~1-2, an ink-brush print 3+.
    dark = grey < np.percentile(grey, 20)
    near = cv2.dilate(edges.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    weight = (dark & near).sum() / max(int(edges.sum()), 1)
    return StyleRef(centres.astype(np.float32), density, float(np.clip(weight / 1.5, 0.7, 1.8)))


def poster_example(cache_dir):
    """A style reference the studio draws itself (for the page's examples): a screen-print poster — a warm
    five-colour palette in flat shapes with heavy black outlines."""
    from studio.examples import example_file

    def make() -> np.ndarray:
        size = 384
        canvas = np.full((size, size, 3), (244, 232, 205), np.uint8)
        colours = [(230, 96, 60), (250, 190, 70), (40, 120, 140), (200, 60, 90), (90, 60, 110)]
        rng = np.random.default_rng(5)
        for i in range(14):
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            axes = tuple(int(v) for v in rng.integers(30, 110, 2))
            colour = colours[i % len(colours)]
            cv2.ellipse(canvas, centre, axes, float(rng.integers(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
            cv2.ellipse(canvas, centre, axes, float(0), 0, 360, (20, 16, 18), 4, cv2.LINE_AA)
        return canvas

    return example_file(cache_dir, "head_style_poster.png", make)
