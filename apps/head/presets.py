"""The head stylization presets: each is a filter look (toon.py) plus how the face's geometry is pushed
(geometry.py) at caricature 1. The caricature slider scales the geometry from none (0) to these amounts (1)."""

from __future__ import annotations

from dataclasses import dataclass

from .toon import Look


@dataclass(frozen=True)
class Shape:
    """Feature scales at caricature 1 (1.0 = unchanged), applied by the mesh-driven warp around each feature's
    centre, and how strongly the face's own distinctive proportions are exaggerated."""

    eyes: float = 1.0
    nose: float = 1.0
    mouth: float = 1.0
    jaw: float = 1.0  # width of the jaw and chin
    exaggerate: float = 0.0  # gain on the face's deviation from the average face (0 = none; classic caricature)


@dataclass(frozen=True)
class Preset:
    name: str
    help: str
    look: Look
    shape: Shape


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("cartoon", "flat shading in soft steps, clean dark outlines, brighter colour",
               Look(smooth=45, passes=2, levels=6, step=0.35, saturation=1.3, lines=0.9, line_width=0.005),
               Shape(eyes=1.18, exaggerate=1.6)),
        Preset("comic", "ink lines, a few hard tones and halftone dots in the shadows",
               Look(smooth=40, passes=2, levels=4, step=0.0, saturation=1.25, lines=1.0, line_width=0.007,
                    ink=(15, 12, 20), halftone=0.8),
               Shape(eyes=1.08, exaggerate=2.2)),
        Preset("anime", "big eyes, small nose and mouth, smooth skin and two-tone cel shading",
               Look(smooth=60, passes=3, levels=3, step=0.06, saturation=1.2, lines=0.85, line_width=0.0045,
                    ink=(45, 25, 30), lift=0.35),
               Shape(eyes=1.32, nose=0.75, mouth=0.8, jaw=0.92)),
        Preset("painted", "brushy strokes that follow the edges, rich colour, a canvas grain",
               Look(smooth=0, passes=0, levels=0, step=0.0, saturation=1.2, lines=0.0, line_width=0.0, brush=0.05),
               Shape(eyes=1.06, exaggerate=1.2)),
    )
}  # fmt: skip
