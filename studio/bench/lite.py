"""`studio bench <app> --tier lite`: how fast an app's lite tier runs, from the workload the app declares.

Every app with a webcam path is measured the same way: the headline `fps` is the whole webcam path (`app.live`)
on a subject that moves every frame (so tracking, masks and rendering run on every frame), beside the same path
on a still scene (what frame skipping buys) and a one-off photo run with every metric. The app adds what is its
own: other live streams (a close-up) and a breakdown of its parts (tracking alone, painting alone).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import FRAME_SIZE, bench_frame, finish_report, machine_info, moving_frames, require_lite, time_calls


@dataclass
class Workload:
    """What an app's lite benchmark runs (returned by `App.bench_workload(frame)`)."""

    #: The app's parameters for the frame (the live input may be the frame itself; it is replaced per frame).
    values: dict
    #: Frames per second the live path should reach (the target line in the plot).
    target_fps: float
    #: What the headline fps means, in words, for the report.
    fps_means: str
    #: Sideways offsets (px) of the moving sequence: the subject moves this much between frames.
    motion_px: tuple[int, ...] = (-16, -8, 0, 8, 16, 8, 0, -8)
    #: Other live streams, name → frame (e.g. "close_up": the face filling the frame); each gets `fps_<name>`.
    streams: dict[str, np.ndarray] = field(default_factory=dict)
    #: The app's parts timed alone, name → fn(moving frame).
    parts: dict[str, Callable[[np.ndarray], object]] = field(default_factory=dict)
    #: One-off photo runs too slow for the frame loop (e.g. each preset with its metrics), name → fn(); each is
    #: timed `max(3, frames // 20)` times after one warm-up call.
    stills: dict[str, Callable[[], object]] = field(default_factory=dict)
    #: What the frame shows, for the report (e.g. {"look": "classic_red"}).
    info: dict = field(default_factory=dict)
    #: Photo sizes (megapixels) the one-off photo run is also timed at: how its cost grows with the pixel count.
    photo_sizes_mp: tuple[float, ...] = ()


def bench_lite(app, tier: str = "lite", frames: int = 100, out_json=None, plot=None, image=None) -> dict:
    from ..context import make_context
    from ..live import FrameTracker

    require_lite(app.id, tier)
    rgb = bench_frame(image)
    workload = app.bench_workload(rgb)
    values = app.validate({**workload.values, app.live_param: rgb})
    live_values = {k: v for k, v in values.items() if k != app.live_param}
    moving = moving_frames(rgb, workload.motion_px)
    live_ctx, still_ctx, photo_ctx = (make_context("cpu") for _ in range(3))
    counter = itertools.count()

    def photo_run(photo=rgb):
        fresh = photo.copy()  # one changed pixel gives a new digest, so the analysis re-runs as for a new photo
        fresh[0, 0, 0] = next(counter) % 256
        app(photo_ctx, **{**workload.values, app.live_param: fresh, "tier": "lite"})

    results = {"live_frame": time_calls(lambda: app.live(live_ctx, next(moving), **live_values), frames)}
    stream_ctxs = {}
    for name, frame in workload.streams.items():
        stream, stream_ctxs[name] = moving_frames(frame, workload.motion_px), make_context("cpu")
        results[f"live_frame_{name}"] = time_calls(
            lambda s=stream, c=stream_ctxs[name]: app.live(c, next(s), **live_values), frames)  # fmt: skip
    for name, part in workload.parts.items():
        results[name] = time_calls(lambda p=part: p(next(moving)), frames)
    results["live_frame_still_scene"] = time_calls(lambda: app.live(still_ctx, rgb, **live_values), frames)
    results["photo_run_with_metrics"] = time_calls(photo_run, max(5, frames // 10), warmup=2)
    for name, still in workload.stills.items():
        results[name] = time_calls(still, max(3, frames // 20), warmup=1)
    by_size = {round(rgb.shape[0] * rgb.shape[1] / 1e6, 2): results["photo_run_with_metrics"]["median_ms"] / 1000}
    for mp in workload.photo_sizes_mp:
        import cv2

        f = (mp * 1e6 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
        big = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)), interpolation=cv2.INTER_CUBIC)
        results[f"photo_run_{mp:g}mp"] = time_calls(lambda b=big: photo_run(b), 3, warmup=1)
        by_size[mp] = results[f"photo_run_{mp:g}mp"]["median_ms"] / 1000

    trackers = [obj for c in (live_ctx, *stream_ctxs.values()) for obj in c._shared.objects.values()
                if isinstance(obj, FrameTracker)]  # fmt: skip
    target_ms = round(1000.0 / workload.target_fps, 2)
    report = {
        "benchmark": app.id,
        "tier": "lite",
        "requested_tier": tier,
        "fps": results["live_frame"]["fps"],
        "fps_means": workload.fps_means,
        **{f"fps_{name}": results[f"live_frame_{name}"]["fps"] for name in workload.streams},
        "live_frames_analysed": sum(t.analysed for t in trackers),
        "live_frames_skipped": sum(t.skipped for t in trackers),
        "frame": {"width": FRAME_SIZE[1], "height": FRAME_SIZE[0], "source": image or "skimage astronaut",
                  **workload.info},  # fmt: skip
        "machine": machine_info(),
        "targets_ms": {"live_frame": target_ms, **{f"live_frame_{name}": target_ms for name in workload.streams}},
    }
    if workload.photo_sizes_mp:
        sizes = sorted(by_size)
        report["photo_seconds_by_megapixels"] = {f"{mp:g}": round(by_size[mp], 3) for mp in sizes}
        # Seconds per megapixel from the smallest to the largest photo: ≤ 1 means cost grows no faster than pixels.
        first, last = sizes[0], sizes[-1]
        report["photo_cost_growth_vs_pixels"] = round((by_size[last] / by_size[first]) / (last / first), 3)
    if tier == "auto":
        report["note"] = "auto: no diffusion weights are installed, so the lite tier was measured."
    return finish_report(report, results, out_json, plot, f"{app.title} lite tier, 640×480 frame (CPU)")
