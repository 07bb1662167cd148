"""Style images the studio draws itself, for its examples and benchmark (the fixture paintings are research-only
test data and never ship). Deterministic: fixed seeds, drawn with OpenCV the first time a page asks for them.

* `swirls` — a night sky of swirling blue and ochre brush strokes with a dark outlined foreground: strokes that
  follow a vortex field, a palette of two complementary hues, and ink contours.
* `ink_wash` — layered grey mountain ridges fading into paper, with dry-brush texture: a monochrome style.
"""

from __future__ import annotations

import cv2
import numpy as np

STYLES = {"swirls": "swirling blue and ochre brush strokes (drawn by the studio)",
          "ink_wash": "grey ink-wash mountains on paper (drawn by the studio)"}  # fmt: skip


def draw_style(name: str, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    if name not in STYLES:
        raise KeyError(f"Unknown sample style '{name}'. Known: {', '.join(STYLES)}")
    return _swirls(size) if name == "swirls" else _ink_wash(size)


def sample_style(name: str, cache_dir) -> str:
    from studio.examples import example_file

    return str(example_file(cache_dir, f"style_{name}.png", lambda: draw_style(name)))


def _swirls(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(11)
    sky = np.zeros((h, w, 3), np.float32)
    t = np.linspace(0, 1, h)[:, None, None]
    sky[:] = (1 - t) * np.array([25, 45, 110]) + t * np.array([70, 110, 170])  # deep blue → lighter blue
    image = sky.astype(np.uint8)
    centres = [(0.3 * w, 0.3 * h, 1.0), (0.72 * w, 0.22 * h, -1.0), (0.55 * w, 0.5 * h, 1.0)]
    palette = [(40, 70, 160), (90, 140, 210), (230, 200, 90), (250, 235, 160), (30, 50, 120)]
    for _ in range(2600):  # short strokes tangent to the nearest vortex
        x, y = rng.uniform(0, w), rng.uniform(0, 0.8 * h)
        cx, cy, turn = min(centres, key=lambda c: (c[0] - x) ** 2 + (c[1] - y) ** 2)
        angle = np.arctan2(y - cy, x - cx) + turn * np.pi / 2
        length = rng.uniform(6, 16)
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        colour = palette[rng.integers(0, len(palette))]
        cv2.line(image, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), colour, int(rng.integers(2, 5)),
                 cv2.LINE_AA)  # fmt: skip
    for cx, cy, r in ((0.85 * w, 0.15 * h, 28), (0.15 * w, 0.12 * h, 12), (0.45 * w, 0.1 * h, 10)):  # stars
        cv2.circle(image, (int(cx), int(cy)), r, (245, 220, 110), -1, cv2.LINE_AA)
        cv2.circle(image, (int(cx), int(cy)), r + 6, (250, 240, 180), 3, cv2.LINE_AA)
    hills = np.array([[0, h], [0, int(0.78 * h)], [int(0.3 * w), int(0.72 * h)], [int(0.6 * w), int(0.8 * h)],
                      [w, int(0.7 * h)], [w, h]], np.int32)  # fmt: skip
    cv2.fillPoly(image, [hills], (30, 40, 60), cv2.LINE_AA)
    cv2.polylines(image, [hills], False, (10, 10, 15), 3, cv2.LINE_AA)
    for _ in range(400):  # strokes on the hills
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0.8 * h, h))
        cv2.line(image, (x - 6, y), (x + 6, y - 2), (50, 70, 90), 2, cv2.LINE_AA)
    return image


def _ink_wash(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(5)
    paper = np.full((h, w), 236.0, np.float32) + rng.normal(0, 3, (h, w)).astype(np.float32)
    x = np.arange(w)
    for layer, (base, tone) in enumerate(((0.45, 170), (0.6, 120), (0.75, 70))):  # far ridges pale, near dark
        ridge = base * h + 0.12 * h * np.sin(x / w * (3 + layer) * np.pi + layer) + np.cumsum(rng.normal(0, 1.5, w))
        ridge = cv2.GaussianBlur(ridge.reshape(1, -1).astype(np.float32), (0, 0), 4).ravel()
        rows = np.arange(h)[:, None]
        below = rows > ridge[None, :]
        fade = np.clip((rows - ridge[None, :]) / (0.25 * h), 0, 1)  # wash fades downwards
        ink = tone + (236 - tone) * fade
        paper = np.where(below, np.minimum(paper, ink + rng.normal(0, 6, (h, w))), paper)
        edge = np.abs(rows - ridge[None, :]) < 1.5
        paper[edge] = tone * 0.5  # the brush line along the ridge
    paper = cv2.GaussianBlur(paper, (0, 0), 0.8)
    return np.repeat(np.clip(paper, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
