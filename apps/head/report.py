"""What comes with every head stylization result: its metrics and detail images.

Metrics (every face; the headline numbers are the worst face's):

* `identity_distance` — the identity embedder's distance between each face before and after (dlib's ResNet face
  descriptor by default: the same person below 0.6; `info["identity_embedder"]` names the embedder). The result is
  embedded inside the source face's box: the warp pins the face's outline, and re-detecting a cartoon face with
  the photo-trained mesh would measure the detector, not the likeness.
* `ssim_outside_head` — SSIM between source and result outside a generous box round the heads (the head box
  grown by 15 % of its size on every side): 1.0 means the rest of the photo is untouched.
* `head_change` — 1 − SSIM inside the head mask: how much the head was restyled (0 = not at all; the presets
  reach ~0.3–0.6, well past what a colour filter does).
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.metrics import ssim
from studio.preprocess.face import Face
from studio.preprocess.head import HeadMasks
from studio.tiles import grid, overlay

#: The generous head box: the masks' box grown by this share of its size on every side.
HEAD_BOX_GROWTH = 0.15


def outside_mask(masks: HeadMasks, grow: float = HEAD_BOX_GROWTH) -> np.ndarray:
    """True outside the generous head box."""
    out = np.ones(masks.shape, bool)
    x0, y0, x1, y1 = masks.generous_box(grow)
    out[y0:y1, x0:x1] = False
    return out


def measure(ctx, source: np.ndarray, output: np.ndarray, faces: list[Face], masks: HeadMasks,
            alpha: np.ndarray) -> tuple[dict, dict]:  # fmt: skip
    """(metrics, details) of a finished result; `alpha` is where the stylised heads were composited."""
    metrics: dict[str, float] = {}
    details: dict = {}
    distances = []
    for face in faces:
        before = ctx.preprocess.identity(source, face)
        after = ctx.preprocess.identity(output, face)
        distances.append(round(before.distance(after), 4))
        details["identity_embedder"] = before.embedder
        if before.same_person_below is not None:
            details["identity_same_person_below"] = before.same_person_below
    metrics["identity_distance"] = max(distances)
    details["identity_distance_per_face"] = distances
    outside = outside_mask(masks)
    if outside.sum() > 64:
        metrics["ssim_outside_head"] = round(ssim(source, output, outside), 4)
    else:
        details["ssim_outside_head"] = "the heads fill the photo: there is no outside to compare"
    head = masks.head > 0.5
    if head.any():
        x0, y0, x1, y1 = masks.box
        metrics["head_change"] = round(1.0 - ssim(source[y0:y1, x0:x1], output[y0:y1, x0:x1], head[y0:y1, x0:x1]), 4)
    changed = np.any(source != output, axis=-1)
    details["changed_pixels_outside_heads"] = int(np.count_nonzero(changed & (alpha == 0)))  # 0 by construction
    return metrics, details


# --------------------------------------------------------------------------------------------- detail images
def side_by_side(images: list[np.ndarray], height: int = 512) -> np.ndarray:
    return grid([images], height, gap=8)


def close_up(source: np.ndarray, output: np.ndarray, masks: HeadMasks, height: int = 384) -> np.ndarray:
    """The heads before and after, cropped to their box."""
    x0, y0, x1, y1 = masks.box
    return side_by_side([source[y0:y1, x0:x1], output[y0:y1, x0:x1]], height)


def masks_overlay(source: np.ndarray, masks: HeadMasks) -> np.ndarray:
    """Head (face in red, hair in blue) over the photo, and the generous box the "unchanged" check starts at."""
    out = overlay(source, [(masks.head, (230, 60, 60)), (masks.hair, (60, 90, 230))], alpha=0.5)
    x0, y0, x1, y1 = masks.generous_box(HEAD_BOX_GROWTH)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (250, 220, 0), max(1, round(max(out.shape[:2]) / 400)))
    return out


def swatches(palette_hex: list[str], height: int = 64) -> np.ndarray:
    """The style reference's palette as a strip of colour blocks."""
    strip = np.zeros((height, height * len(palette_hex), 3), np.uint8)
    for i, code in enumerate(palette_hex):
        strip[:, i * height : (i + 1) * height] = [int(code[k : k + 2], 16) for k in (1, 3, 5)]
    return strip
