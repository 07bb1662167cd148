"""`studio bench style --tier lite`: the webcam path's frame rate and the stills' latency.

* `fps` — `APP.live` on a 640×480 frame moving 8 px a frame: face tracking, the palette LUT, 19-sample anisotropic
  Kuwahara and the style's detail at 256 px, ink at 640×480; the style's fit, palette and gains made once for the
  stream, as in a session where the style stays and the camera runs.
* parts — the painting alone (no face tracking) and face tracking alone.
* stills — a whole `studio run` on a 1-megapixel photo (the sample frame scaled to 1152×864) in each quality, in a
  fresh context each time: the style fitted, the palette fitted, painted and measured, as for a new photo and style.
"""

from __future__ import annotations

import cv2

from . import lite
from .palette import fit_palette
from .samples import draw_style

BENCH_STYLE = "swirls"
STILL_SIZE = (1152, 864)  # ≈ 1.0 MP


def workload(app, frame):
    from studio.bench.lite import Workload
    from studio.context import make_context
    from studio.live import FaceTracker

    style = draw_style(BENCH_STYLE)
    fit = lite.fit_style(style)
    palette = fit_palette(frame, fit.quantiles)
    bank = lite.detail_bank(fit, lite.LIVE_SIDE, lite.LIVE_PATCH_AT_512)
    canvas = lite.prepare(frame, palette, 0.8, [], lite.LIVE_SIDE)
    tuned = lite.tune(canvas, lite.brushwork(canvas, fit, bank, rings=1, sectors=4), fit)
    tracker = FaceTracker(skip_similar=False)
    faces = tracker.faces(frame)
    still = cv2.resize(frame, STILL_SIZE, interpolation=cv2.INTER_CUBIC)
    memo: dict = {}  # the painting-alone part keeps its detail between frames, as the live path does

    def still_run(quality: str):
        return lambda: app(make_context("cpu"), content=still, style=style, tier="lite", quality=quality)

    return Workload(
        values={"content": frame, "style": style, "tier": "lite"}, target_fps=20,
        info={"style": f"samples.{BENCH_STYLE}", "faces": len(faces), "still_size": list(STILL_SIZE)},
        fps_means="the webcam path (APP.live) on a frame moving 8 px per frame at 640×480: face tracking, palette, "
                  "brushwork and the style's detail at 256 px, ink at 640×480; the style fitted once per stream",
        parts={"paint_only": lambda moved: lite.live_frame(moved, fit, palette, bank, 0.8, faces,
                                                           (tuned.contrast, tuned.grain), memo),
               "face_tracking": lambda moved: tracker.faces(moved)},
        stills={"still_standard_1mp": still_run("standard"), "still_high_1mp": still_run("high")},
    )  # fmt: skip
