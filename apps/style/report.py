"""What comes with every style-transfer result: the metrics (metrics.py, no network weights) and detail images.

Metrics, each with the photo's own value beside it so a reader sees how far the result moved:
* `colour_distance` / `colour_distance_content`: sliced Wasserstein distance in Lab from the result / from the
  photo to the style; `colour_ratio` = their quotient (the issue's bar: ≤ 0.5).
* `texture_distance` / `texture_distance_content` / `texture_ratio` (bar: ≤ 0.75).
* `edge_f` (with `edge_precision`, `edge_recall`): structure kept (bar: ≥ 0.45).
* `identity_distance`: dlib's face-descriptor distance between the photo's largest face and the same face on the
  result ("same person" below 0.6), for portraits. The result is not re-detected: the geometry is the photo's,
  so the photo's face box is where the face is, however stylised.
"""

from __future__ import annotations

import numpy as np

from studio import tiles

from . import metrics


def measure(ctx, content: np.ndarray, result: np.ndarray, fit, faces: list, style_rgb: np.ndarray | None = None):
    """(metrics, details) for a result. `fit` carries the style's metric features (lite.StyleFit)."""
    colour = metrics.colour_distance(result, None, fit.colour_signature)
    colour0 = metrics.colour_distance(content, None, fit.colour_signature)
    texture = metrics.texture_distance(result, None, fit.texture_signature)
    texture0 = metrics.texture_distance(content, None, fit.texture_signature)
    edges = metrics.edge_fscore(content, result)
    out = {"colour_distance": colour, "colour_distance_content": colour0, "colour_ratio": colour / max(colour0, 1e-6),
           "texture_distance": texture, "texture_distance_content": texture0,
           "texture_ratio": texture / max(texture0, 1e-6), "edge_f": edges["f"], "edge_precision": edges["precision"],
           "edge_recall": edges["recall"]}  # fmt: skip
    details: dict = {}
    if faces:
        embedder = ctx.preprocess.embedder()
        before = ctx.preprocess.identity(content, faces[0])
        after = ctx.preprocess.identity(result, faces[0])
        out["identity_distance"] = before.distance(after)
        details["identity_embedder"] = getattr(embedder, "name", type(embedder).__name__)
    return {k: round(float(v), 4) for k, v in out.items()}, details


def strip(content: np.ndarray, style: np.ndarray, result: np.ndarray) -> np.ndarray:
    """"photo | style | result", labelled, 320 px tall."""
    return tiles.grid([[content, style, result]], height=320, labels=[["photo", "style", "result"]])
