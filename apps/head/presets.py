"""The head stylization presets: each is a filter look (toon.py) plus how the face's geometry is pushed
(geometry.py) at caricature 1. The caricature slider scales the geometry from none (0) to these amounts (1)."""

from __future__ import annotations

from dataclasses import dataclass

from .toon import Look


@dataclass(frozen=True)
class Shape:
    """Feature scales at caricature 1 (1.0 = unchanged; the default caricature 0.5 gives half of each change),
    applied by the mesh-driven warp around each feature's centre, and how strongly the face's own distinctive
    proportions are exaggerated."""

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
               Look(smooth=40, passes=3, band=0.9, step=0.3, saturation=1.3, lines=0.95, line_width=0.006,
                    work_face=90, feature_tone=0.35),
               Shape(eyes=1.3, exaggerate=3.0)),
        Preset("comic", "ink lines, a few hard tones and halftone dots in the shadows",
               Look(smooth=35, passes=2, band=1.1, step=0.0, saturation=1.3, lines=1.0, line_width=0.0065,
                    line_threshold=0.008, ink=(15, 12, 20), halftone=0.85, work_face=110,
                    feature_tone=0.3),
               Shape(eyes=1.15, exaggerate=4.0)),
        Preset("anime", "big eyes, small nose and mouth, smooth skin and two-tone cel shading",
               Look(smooth=60, passes=3, band=1.4, step=0.08, saturation=1.2, lines=0.9, line_width=0.005,
                    line_threshold=0.011, ink=(60, 30, 30), work_face=80, feature_tone=0.6),
               Shape(eyes=1.6, nose=0.55, mouth=0.65, jaw=0.86)),
        Preset("painted", "brushy strokes that follow the edges, rich colour, a canvas grain",
               Look(smooth=0, passes=0, band=0.0, step=0.0, saturation=1.25, lines=0.0, line_width=0.0,
                    brush=0.05, work_face=80, texture=5.0),
               Shape(eyes=1.1, exaggerate=2.0)),
    )
}  # fmt: skip
