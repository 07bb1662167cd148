"""Benchmarks that measure, never assert: median latencies written as JSON (plus a PNG plot).

`bench_preprocess` times the shared face analysis (MediaPipe mesh + every region mask) on a 640×480 frame,
the live-rate workload of the lite tiers, and the body analysis (pose + person mask) beside it. Caches are
bypassed so each frame is analysed from scratch.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

FRAME_SIZE = (480, 640)  # (height, width): VGA, a typical laptop webcam frame


def sample_frame() -> np.ndarray:
    """scikit-image's astronaut portrait (public domain, NASA) letterboxed to 640×480."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    frame = np.zeros((*FRAME_SIZE, 3), np.uint8)
    frame[:, 80:560] = face
    return frame


def close_up_frame() -> np.ndarray:
    """The astronaut's face filling a 640×480 frame (about 290 px forehead to chin), like a laptop-webcam selfie:
    the most pixels a face app has to render. Upscaled from scikit-image's public-domain portrait."""
    import cv2
    from skimage import data

    crop = data.astronaut()[36:213, 106:342]  # centred on the face, 4:3
    return cv2.resize(crop, (FRAME_SIZE[1], FRAME_SIZE[0]), interpolation=cv2.INTER_CUBIC)


def require_lite(app_id: str, tier: str) -> None:
    """Live-rate benchmarks measure the lite tier; the diffusion tiers are measured by the engine benchmarks."""
    if tier in ("student", "teacher"):
        from ..errors import InputError

        raise InputError(
            f"This benchmark measures the {app_id} lite tier. For the {tier} tier run `studio bench {app_id} --tiny` "
            f"(tiny random models, CPU) or `studio bench {app_id} --random-weights` (full size, best on a GPU)."
        )


def bench_frame(image=None) -> np.ndarray:
    """The 640×480 frame a benchmark runs on: `image` (any form `load_image` takes) fitted to it, or the sample."""
    if image is None:
        return sample_frame()
    import cv2

    from ..imaging import fit_within, load_image

    rgb = fit_within(load_image(image, what="benchmark photo"), FRAME_SIZE[1])
    return cv2.resize(rgb, (FRAME_SIZE[1], FRAME_SIZE[0])) if rgb.shape[:2] != FRAME_SIZE else rgb


def moving_frames(rgb: np.ndarray, offsets_px=(-16, -8, 0, 8, 16, 8, 0, -8)):
    """An endless sequence of `rgb` shifted sideways by `offsets_px`, so a tracker must follow the subject."""
    import itertools

    import cv2

    h, w = rgb.shape[:2]
    frames = [cv2.warpAffine(rgb, np.float32([[1, 0, dx], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
              for dx in offsets_px]  # fmt: skip
    return itertools.cycle(frames)


def finish_report(report: dict, results: dict, out_json=None, plot=None, title: str = "") -> dict:
    """Add the timings (without raw samples) to `report`, write it as JSON and a box plot next to it."""
    report["results"] = {k: {kk: vv for kk, vv in v.items() if kk != "samples_ms"} for k, v in results.items()}
    if out_json is not None:
        out_json = Path(out_json)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(report, indent=2))
        plot = plot or out_json.with_suffix(".png")
    if plot is not None:
        plot_latencies(results, Path(plot), report.get("targets_ms", {}), title)
        report["plot"] = str(plot)
    return report


def time_calls(fn, frames: int, warmup: int = 5) -> dict:
    """Call `fn` `warmup` times, then `frames` times; median/p90/min latency and FPS."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(frames):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 3),
        "min_ms": round(samples[0], 3),
        "fps": round(1000.0 / statistics.median(samples), 2),
        "frames": frames,
        "samples_ms": [round(s, 3) for s in samples],
    }


def machine_info() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}  # fmt: skip


def bench_preprocess(image=None, frames: int = 100, out_json: Path | None = None, plot: Path | None = None) -> dict:
    from ..preprocess.pose import BodyAnalyzer
    from ..preprocess.face import FaceAnalyzer

    rgb = bench_frame(image)
    faces = FaceAnalyzer()
    body = BodyAnalyzer()
    if not faces.analyze(rgb):
        from ..errors import NoFaceFound

        raise NoFaceFound("the benchmark frame", "Pass --image with a photo that shows a face.")

    def face_analysis():  # detection + 478-point mesh + all region masks, from scratch
        for face in faces.analyze(rgb):
            face.regions  # noqa: B018

    results = {
        "face_analysis_with_masks": time_calls(face_analysis, frames),
        "pose": time_calls(lambda: body.pose(rgb), max(10, frames // 4)),
        "person_mask": time_calls(lambda: body.person_mask(rgb), max(10, frames // 4)),
    }
    report = {
        "benchmark": "preprocess",
        "frame": {"width": FRAME_SIZE[1], "height": FRAME_SIZE[0], "source": image or "skimage astronaut"},
        "machine": machine_info(),
        "targets_ms": {"face_analysis_with_masks": 10.0},
    }
    return finish_report(report, results, out_json, plot, "Preprocessing latency")


def plot_latencies(results: dict, path: Path, targets: dict, title: str) -> None:
    """Box plot of `time_calls` samples per named workload, with dashed target lines."""
    import matplotlib

    matplotlib.use("Agg")  # no display here; also safe inside a server process
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(results)
    ax.boxplot([results[n]["samples_ms"] for n in names], orientation="horizontal", tick_labels=names, showfliers=False)
    for i, name in enumerate(names, start=1):
        if name in targets:
            ax.plot([targets[name]] * 2, [i - 0.4, i + 0.4], "r--", label=f"target {targets[name]:g} ms")
    ax.set_xlabel("milliseconds per 640×480 frame (CPU)")
    ax.set_title(title)
    if targets:
        ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
