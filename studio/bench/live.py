"""`studio bench <app> --tiny --live`: the student live path on the tiny hub — frames per second and dropped frames.

Three measurements, after the stream is prepared (its preparation time is reported too):

  - **back to back**: frames sent one after another, each waiting for the last; the latency of a frame and the
    most frames a second the student path can give on this machine;
  - **webcam**: a camera thread offers frames at `camera_fps` for `seconds`, each handled on one of `handlers`
    threads (the Gradio webcam stream's concurrency); a frame that finds the device busy is dropped, never queued.
    Reported: frames offered, fresh results, dropped, fresh frames a second and the drop rate;
  - **the app's webcam path** (`app.live` with tier "student") on the sample face, when the app's live hook calls
    the student path (`studio.live_student`); otherwise the report says the hook does not use it yet.

Tiny random models on the CPU: the images are noise, and a tiny model is far cheaper than a real one, so the
numbers measure the path (preparation once, per-frame overhead, dropping), not a GPU's frame rate:
benchmarks/gpu.sh measures that at full size.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import bench_frame, finish_report, machine_info


def _inputs(app_id: str, engine, size: int, reference: bool = True) -> dict:
    from ..engine.benchmark import synthetic_request
    from ..live_student import live_kind

    recipe = engine.catalog.app(app_id)
    request = synthetic_request(app_id, engine, size)
    rng = np.random.default_rng(1)
    image = request.image if request.image is not None else rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = request.mask_image if "inpaint" in live_kind(recipe.pipeline) else None
    return {"image": image, "mask": mask, "control": request.control_image, "control_mode": request.control_mode,
            "reference": request.ip_adapter_image if reference else None}  # fmt: skip


def bench_live(app, seconds: float = 10.0, camera_fps: float = 30.0, handlers: int = 4, size: int = 64,
               sequential: int = 20, hub_dir: Path | None = None, out_json=None, plot=None, device: str = "cpu",
               reference: bool = True, app_path: bool = True, settings=None) -> dict:  # fmt: skip
    """`app`: an App, or an app id (no webcam-path measurement then). `hub_dir`: a Hugging Face cache to run from
    (default: a tiny hub built here); `device`/`size`/`reference`: benchmarks/gpu_engine_check.py runs it on CUDA at
    512 px on full-size random weights (fullhub.py), without an IP-Adapter reference."""
    if isinstance(app, str):
        from types import SimpleNamespace

        app, app_path = SimpleNamespace(id=app, title=app), False
    from ..context import RunContext
    from ..engine.engine import Engine
    from ..engine.tinyhub import build
    from ..live_student import stream_stats, student_frame
    from ..settings import Settings

    hub = Path(hub_dir or tempfile.mkdtemp(prefix="studio-tinyhub-"))
    settings = settings or Settings(device=device, hf_cache_dir=hub, models_dir=Path(tempfile.mkdtemp()),
                                    offline=True)  # fmt: skip
    engine = Engine(settings)
    if not any(hub.glob("models--*")):
        engine.call_on_device(build, hub)  # torch stays on the device thread (see engine.benchmark._bare_call)
    ctx = RunContext(settings=settings, preprocess=None).with_engine(engine)
    inputs = _inputs(app.id, engine, size, reference)
    image = inputs.pop("image")
    prompt = "a portrait photo, natural light"

    def send(frame):
        return student_frame(ctx, app.id, frame, prompt=prompt, seed=0, **inputs)

    start = time.perf_counter()
    first = student_frame(ctx, app.id, image, prompt=prompt, seed=0, wait=True, **inputs)
    prepare_ms = (time.perf_counter() - start) * 1000.0
    if first.status == "unavailable":
        from ..errors import InputError

        raise InputError(f"The live student could not run: {first.reason}")

    for i in range(3):  # warm-up: the first calls of a new shape allocate and pick kernels
        send(np.roll(image, -i, axis=1))
    latencies = []
    for i in range(sequential):
        t0 = time.perf_counter()
        out = send(np.roll(image, i, axis=1))
        latencies.append((time.perf_counter() - t0) * 1000.0)
        assert out.fresh, out.status  # back to back: the device is never busy when a frame arrives
    latencies.sort()

    counts = {"ok": 0, "dropped": 0, "preparing": 0, "unavailable": 0}
    lock = threading.Lock()

    def handle(frame):
        status = send(frame).status
        with lock:
            counts[status] = counts.get(status, 0) + 1

    offered = 0
    with ThreadPoolExecutor(max_workers=handlers) as pool:
        begin = time.perf_counter()
        while (now := time.perf_counter()) - begin < seconds:
            pool.submit(handle, np.roll(image, offered % 16, axis=1))
            offered += 1
            time.sleep(max(0.0, begin + offered / camera_fps - time.perf_counter()))
        elapsed = now - begin
    stats = stream_stats(ctx, app.id) or {}
    report = {
        "benchmark": "live-student", "app": app.id, "tier": "student", "size": size, "machine": machine_info(),
        "device": engine.device.device, "memory_plan": stats.get("memory_plan"),
        "student": stats.get("student"), "why": stats.get("why"), "kind": stats.get("kind"),
        "steps": stats.get("steps"), "decoder": stats.get("decoder"), "lora": stats.get("lora"),
        "prepare_ms": round(prepare_ms, 1),
        "back_to_back": {"frames": sequential, "median_ms": round(statistics.median(latencies), 2),
                         "p90_ms": round(latencies[int(0.9 * (len(latencies) - 1))], 2),
                         "fps": round(1000.0 / statistics.median(latencies), 2)},
        "webcam": {"camera_fps": camera_fps, "handlers": handlers, "seconds": round(elapsed, 2), "offered": offered,
                   "fresh": counts["ok"], "dropped": counts["dropped"],
                   "fps": round(counts["ok"] / elapsed, 2) if elapsed else None,
                   "dropped_pct": round(100.0 * counts["dropped"] / max(offered, 1), 1)},
        "fps": round(counts["ok"] / elapsed, 2) if elapsed else None,
        "dropped_frames": counts["dropped"],
    }  # fmt: skip
    if engine.device.device == "cpu":
        report["note"] = ("tiny random models on the CPU: this measures the live path (prepared once, frames dropped "
                          "while busy, never queued), not a GPU's frame rate; benchmarks/gpu.sh measures full size")
    if app_path:
        report["webcam_path"] = _app_path(app, settings, engine, frames=max(5, sequential // 2))
    results = {"live_frame_back_to_back": {"samples_ms": latencies, "median_ms": report["back_to_back"]["median_ms"]}}
    return finish_report(report, results, out_json, plot, f"{app.title}: student live path (tiny models, CPU)")


def _app_path(app, settings, engine, frames: int) -> dict:
    """The app's own webcam path with tier "student", when its live hook calls the student path."""
    from ..context import RunContext
    from ..live_student import stream_stats, wait_until_idle

    try:
        from ..preprocess import Preprocessing
    except ImportError as exc:  # a bare GPU machine without MediaPipe
        return {"note": f"not measured: {exc}"}
    if not app.offers("live") or app.bench_workload is None:
        return {"note": f"the {app.id} app has no webcam section"}
    frame = bench_frame()
    workload = app.bench_workload(frame)
    values = app.validate({**workload.values, app.live_param: frame, "tier": "student"})
    values.pop(app.live_param)
    ctx = RunContext(settings=settings, preprocess=Preprocessing(settings)).with_engine(engine)
    app.live(ctx, frame, **values)  # starts preparing the stream, if the hook uses it
    if stream_stats(ctx, app.id) is None:
        return {"note": f"the {app.id} app's live hook does not call studio.live_student yet (tier 'student' runs its "
                        "lite path): the helper was measured above on synthetic crops"}  # fmt: skip
    wait_until_idle(ctx, app.id)
    samples = []
    for i in range(frames):
        t0 = time.perf_counter()
        app.live(ctx, np.roll(frame, 4 * (i % 4), axis=1), **values)
        samples.append((time.perf_counter() - t0) * 1000.0)
    stats = stream_stats(ctx, app.id)
    return {"frames": frames, "median_ms": round(statistics.median(samples), 2),
            "fps": round(1000.0 / statistics.median(samples), 2), "fresh": stats["fresh"], "dropped": stats["dropped"],
            "student": stats.get("student"), "means": "640×480 webcam frames through app.live(tier='student'): "
            "tracking, the app's crop and masks, the student, paste-back"}  # fmt: skip
