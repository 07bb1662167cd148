"""Detail images: contact sheets (rows of labelled images) and masks tinted over a photo.

Every app's "before | after" strip, the try-on batch contact sheet and the comparison grid are `grid`; every
"where is this mask" image (makeup regions, try-on agnostic region, the preprocessing inspector) is `overlay`.
Images are RGB uint8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

#: Height of the label band above a labelled row, and where the text's baseline sits in it.
LABEL_BAND = 24
_LABEL_BASELINE = LABEL_BAND - 7
_FONT, _FONT_SCALE, _TEXT_RGB = cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20)
#: A missing cell (a failed run) is a grey placeholder of portrait shape, so the sheet keeps its columns.
MISSING_RGB = (200, 200, 200)


def fit_height(rgb: np.ndarray, height: int) -> np.ndarray:
    """`rgb` scaled to `height` pixels tall, keeping its aspect (area averaging down, bicubic up)."""
    if rgb.ndim == 2:  # a mask or grey image shown next to colour ones
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    scale = height / rgb.shape[0]
    size = (max(1, round(rgb.shape[1] * scale)), height)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _label(cell: np.ndarray, text: str) -> None:
    """Write `text` into the label band on top of `cell`, shortened to the cell's width."""
    room = cell.shape[1] - 8
    while text and cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)[0][0] > room:
        text = text[:-1]
    cv2.putText(cell, text, (4, _LABEL_BASELINE), _FONT, _FONT_SCALE, _TEXT_RGB, 1, cv2.LINE_AA)


def grid(rows: Sequence[Sequence[np.ndarray | None]], height: int = 256, labels: Sequence[Sequence[str]] | None = None,
         gap: int = 0, background: int = 255) -> np.ndarray:  # fmt: skip
    """A contact sheet: each row's images side by side, every image scaled to `height` pixels tall.

    A `None` cell is a grey placeholder (a failed pair in a batch). Cells are `gap` pixels apart (columns and
    rows); shorter rows are padded on the right with `background`. With `labels` (one string per cell, same
    layout as `rows`), each row gets a `LABEL_BAND`-pixel band above it with each cell's label.
    """
    if not any(len(row) for row in rows):
        raise ValueError("grid needs at least one image")
    built = []
    for r, row in enumerate(rows):
        cells = [fit_height(image, height) if image is not None
                 else np.full((height, height * 3 // 4, 3), MISSING_RGB, np.uint8) for image in row]  # fmt: skip
        if labels is not None:
            texts = list(labels[r])
            for c, cell in enumerate(cells):
                band = np.full((LABEL_BAND, cell.shape[1], 3), background, np.uint8)
                _label(band, str(texts[c]) if c < len(texts) else "")
                cells[c] = np.concatenate([band, cell], axis=0)
        row_height = height + (LABEL_BAND if labels is not None else 0)
        parts = []
        for cell in cells:
            parts += [cell, np.full((row_height, gap, 3), background, np.uint8)]
        built.append(np.concatenate(parts[:-1], axis=1) if parts else np.zeros((row_height, 0, 3), np.uint8))
    width = max(row.shape[1] for row in built)
    sheet = []
    for row in built:
        sheet += [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=background),
                  np.full((gap, width, 3), background, np.uint8)]
    return np.concatenate(sheet[:-1], axis=0)


def overlay(rgb: np.ndarray, layers: Iterable[tuple[np.ndarray, Sequence[int]]], alpha: float = 0.55,
            dim: float = 1.0) -> np.ndarray:  # fmt: skip
    """`layers` of (mask, RGB colour) tinted over the photo in order, each covering the ones before it.

    A bool mask tints fully where True; a uint8 mask is read as 0–255 coverage and a float one as 0–1, so
    soft masks show their feathering (callers that want hard edges pass `mask > 0`). `alpha` is the tint's
    opacity at full coverage. `dim` < 1 darkens the whole photo first, so a pale mask stands out.
    """
    out = rgb.astype(np.float32)
    if dim != 1.0:
        out *= dim
    for mask, colour in layers:
        m = np.asarray(mask)
        weight = m.astype(np.float32) * (1 / 255 if m.dtype == np.uint8 else 1.0)
        weight = np.clip(weight, 0.0, 1.0)[..., None] * alpha
        out += weight * (np.asarray(colour, np.float32) - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
