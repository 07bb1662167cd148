"""`studio bench makeup --tier lite --json OUT.json`: how fast the lite tier paints a 640×480 webcam frame.

The headline `fps` is the whole webcam path (`APP.live`) on a face that moves every frame, so face tracking
(MediaPipe mesh + region masks) and the makeup run on every frame; the report counts the frames analysed and
skipped to show it. `fps_close_up` is the same with the face filling the frame (the most pixels to paint).
The other workloads break it down, and show what frame skipping buys on a still scene and what a one-off photo
run costs, metrics included. The look is the "classic_red" preset with every region on: the most work a frame
can need.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from studio.bench import FRAME_SIZE, bench_frame, finish_report, machine_info, moving_frames, require_lite, time_calls
from studio.errors import NoFaceFound

BENCH_PRESET = "classic_red"
TARGET_MS = 1000.0 / 30  # the bar: 30 frames per second
MOTION_PX = (-16, -8, 0, 8, 16, 8, 0, -8)  # horizontal offsets of the moving-face sequence


def close_up_frame() -> np.ndarray:
    """The astronaut's face filling a 640×480 frame (about 290 px forehead to chin), like a laptop-webcam selfie:
    the most pixels the makeup has to paint. Upscaled from scikit-image's public-domain portrait."""
    from skimage import data

    crop = data.astronaut()[36:213, 106:342]  # centred on the face, 4:3
    return cv2.resize(crop, (FRAME_SIZE[1], FRAME_SIZE[0]), interpolation=cv2.INTER_CUBIC)


def bench_makeup(tier: str = "lite", frames: int = 100, out_json=None, plot=None, image=None) -> dict:
    require_lite("makeup", tier)
    from studio.preprocess.face import FaceAnalyzer
    from studio.serve import make_context

    from .app import APP, strengths
    from .lite import apply_look
    from .live import LiveTracker, tracker_for
    from .presets import preset_look

    rgb = bench_frame(image)
    if not FaceAnalyzer().analyze(rgb):
        raise NoFaceFound("the benchmark frame", "Pass --image with a photo that shows a face.")
    look = preset_look(BENCH_PRESET)
    values = APP.validate({"source": rgb, "preset": BENCH_PRESET, "tier": "lite"})
    amounts = strengths(values)
    moving, close_up = moving_frames(rgb, MOTION_PX), moving_frames(close_up_frame(), MOTION_PX)
    live_ctx, close_ctx, still_ctx, photo_ctx = (make_context("cpu") for _ in range(4))
    tracker = LiveTracker(skip_similar=False)
    faces = tracker.faces(rgb)
    counter = itertools.count()

    def photo_run():
        fresh = rgb.copy()  # one changed pixel gives a new digest, so detection re-runs as for a new photo
        fresh[0, 0, 0] = next(counter) % 256
        APP(photo_ctx, source=fresh, preset=BENCH_PRESET, tier="lite")

    results = {
        "live_frame": time_calls(lambda: APP.live(live_ctx, next(moving), **values), frames),
        "live_frame_close_up": time_calls(lambda: APP.live(close_ctx, next(close_up), **values), frames),
        "face_tracking_with_masks": time_calls(lambda: [f.regions for f in tracker.faces(next(moving))], frames),
        "makeup_only": time_calls(lambda: apply_look(rgb, faces, look, amounts), frames),
        "live_frame_still_scene": time_calls(lambda: APP.live(still_ctx, rgb, **values), frames),
        "photo_run_with_metrics": time_calls(photo_run, max(5, frames // 10), warmup=2),
    }
    live_tracker = tracker_for(live_ctx)
    report = {
        "benchmark": "makeup",
        "tier": "lite",
        "requested_tier": tier,
        "fps": results["live_frame"]["fps"],
        "fps_means": "the webcam path (APP.live) on a face moving 8 px per frame at 640×480: face mesh + masks "
                     "+ makeup on every frame",
        "fps_close_up": results["live_frame_close_up"]["fps"],
        "live_frames_analysed": live_tracker.analysed + tracker_for(close_ctx).analysed,
        "live_frames_skipped": live_tracker.skipped + tracker_for(close_ctx).skipped,
        "frame": {"width": FRAME_SIZE[1], "height": FRAME_SIZE[0], "source": image or "skimage astronaut",
                  "faces": len(faces), "look": BENCH_PRESET},  # fmt: skip
        "machine": machine_info(),
        "targets_ms": {"live_frame": round(TARGET_MS, 2), "live_frame_close_up": round(TARGET_MS, 2)},
    }
    if tier == "auto":
        report["note"] = "auto: no diffusion weights are installed, so the lite tier was measured."
    return finish_report(report, results, out_json, plot, "Makeup lite tier, 640×480 frame (CPU)")
