"""The real engine on a CUDA GPU: what the CPU tests cannot see. One JSON line per check; exit 1 if one failed.

    python3 benchmarks/gpu_engine_check.py                 # checks on the tiny hub (about a minute)
    python3 benchmarks/gpu_engine_check.py cpu             # a smoke run of the checks on the CPU
    python3 benchmarks/gpu_engine_check.py live OUT.json   # the live student at 512² on full-size random weights
    python3 benchmarks/gpu_engine_check.py live OUT.json regional   # the same with regional compilation

Checks (tiny hub, fp16), for the makeup (SD1.5 + LCM-LoRA) and try-on (SDXL + Hyper-SD LoRA) recipes:
  - fusion: the student's LoRA is merged into the base by default on a GPU; the teacher after it runs on the base's
    exact original weights (bit for bit) and gives the same image as an engine that never merged;
  - memory modes: the VRAM planner's modes as the engine applies them (STUDIO_VRAM_GB set to sizes that make it
    choose model offload, then sequential offload, then everything on the GPU again): each call says which mode ran,
    gives the all-on-GPU image (fp16 rounding apart), and leaves the models where the next mode needs them;
  - live: the student live path on CUDA (prepared once, TAESD, the same image for the same frame, frames dropped
    while the device is busy);
  - compile: regional compilation (speed.py) gives the eager image (fp16 rounding apart) and its second call is
    not compiled again.
`live` measures the makeup app's live stream at 512² on full-size random weights written by fullhub.py: frames per
second back to back and from a simulated 30 FPS webcam (dropped frames counted), and the stream's preparation.
Needs torch, diffusers, peft, transformers, accelerate.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "studio" not in sys.modules:  # a bare checkout (no pip install): models/ installs as studio.models
    import models
    import studio

    studio.models = sys.modules["studio.models"] = models

from studio.engine.benchmark import synthetic_request  # noqa: E402
from studio.engine.engine import Engine, device_worker  # noqa: E402
from studio.engine.loader import lora_layers  # noqa: E402
from studio.engine.planner import CONTEXT_MB, FRAGMENTATION, GIB, MB, MODES  # noqa: E402
from studio.engine.tinyhub import build  # noqa: E402
from studio.settings import Settings  # noqa: E402


def settings_for(hub: Path, device: str, **overrides) -> Settings:
    return Settings(device=device, hf_cache_dir=hub, models_dir=Path(tempfile.mkdtemp()), offline=True,
                    cache_dir=Path(tempfile.mkdtemp()), **overrides)  # fmt: skip


def base_weights(engine: Engine) -> dict[str, torch.Tensor]:
    key = next(k for k in engine.residency.keys() if k[0] == "pipeline")
    unet = engine.residency.peek(key).value.unet
    return {n.replace(".base_layer", ""): p.detach().clone() for n, p in unet.named_parameters() if "lora_" not in n}


def diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


# --------------------------------------------------------------------------------------------- fusion
def check_fusion(app: str, hub: Path, device: str) -> dict:
    settings = settings_for(hub, device, fuse_lora="on" if device == "cpu" else "auto")
    merged, plain = Engine(settings), Engine(replace(settings, fuse_lora="off"))
    request = synthetic_request(app, merged)
    student, teacher = replace(request, mode="fast", steps=4), replace(request, mode="quality", steps=6)
    plain_teacher = plain.run(teacher).image
    plain_student = plain.run(student).image
    first = merged.run(teacher)
    original = base_weights(merged)
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        s = merged.run(student)
        t = merged.run(teacher)
        timings.append(round(time.perf_counter() - start, 3))
    after = base_weights(merged)
    report = {
        "check": "fusion", "app": app, "fuses_by_default": merged.fuses_lora, "student_lora": s.info["lora"],
        "dtype": s.info["dtype"],
        "teacher_same_as_never_merged": bool(np.array_equal(t.image, plain_teacher) and np.array_equal(first.image, plain_teacher)),
        "base_bit_exact_after_switches": all(torch.equal(after[n], original[n]) for n in original),
        "merged_vs_unmerged_student_max_diff": diff(s.image, plain_student),
        "lora_layers": len(lora_layers(merged.residency.peek(next(k for k in merged.residency.keys() if k[0] == "pipeline")).value.unet)),
        "student_then_teacher_s": timings,
    }  # fmt: skip
    report["ok"] = (report["fuses_by_default"] and report["student_lora"] == "fused"
                    and report["teacher_same_as_never_merged"] and report["base_bit_exact_after_switches"])  # fmt: skip
    return report


# --------------------------------------------------------------------------------------------- memory modes
def vram_for(plan, mode: str) -> float:
    """A GPU size (GB) at which the planner picks `mode` for this call: usable memory between the mode's peak and the
    lowest peak of the cheaper modes."""
    index = MODES.index(mode)
    ceiling = min((plan.modes[m]["peak_mb"] for m in MODES[:index]), default=plan.modes[mode]["peak_mb"] * 2)
    usable = (plan.modes[mode]["peak_mb"] + ceiling) / 2
    return round((usable + CONTEXT_MB) / (1 - FRAGMENTATION) * MB / GIB, 3)


def unet_device(engine: Engine) -> str:
    key = next(k for k in engine.residency.keys() if k[0] == "pipeline")
    return next(engine.residency.peek(key).value.unet.parameters()).device.type


def check_memory_modes(app: str, hub: Path, device: str) -> dict:
    settings = settings_for(hub, device)
    engine = Engine(settings)
    request = replace(synthetic_request(app, engine), mode="fast")
    reference = engine.run(request)
    plan = engine.memory_plan(request, engine.plan(request, "student"))
    report = {"check": "memory_modes", "app": app, "reference_mode": reference.info["memory_plan"]["mode"],
              "runs": []}  # fmt: skip
    ok = reference.info["memory_plan"]["offload"] is None
    for mode, offload in (("model_offload", "model"), ("sequential_offload", "sequential"), ("gpu", None)):
        vram = vram_for(plan, mode) if mode != "gpu" else 1000.0  # back on the GPU: a size everything fits
        engine.settings, engine._capacity = replace(settings, vram_gb=vram), None
        started = time.perf_counter()
        result = engine.run(request)
        teacher = engine.run(replace(request, mode="quality", steps=2))
        memory = result.info["memory_plan"]
        run = {"mode": mode, "vram_gb": vram, "chosen": memory["mode"], "offload": memory["offload"],
               "max_diff_vs_gpu": diff(result.image, reference.image), "unet_after": unet_device(engine),
               "teacher_mode": teacher.info["memory_plan"]["mode"], "lora": result.info["lora"],
               "seconds": round(time.perf_counter() - started, 2), "measured_peak_mb": memory["measured_peak_mb"],
               "predicted_peak_mb": memory["predicted_peak_mb"]}  # fmt: skip
        if not device.startswith("cuda"):
            offload = None  # a CPU records the offload modes and applies none
        # An offloading call runs a LoRA student unfused (fusion.py): fp16 rounding differs from the merged reference.
        run["ok"] = (memory["mode"] == mode and memory["offload"] == offload and run["max_diff_vs_gpu"] <= 16
                     and run["unet_after"] == ("cpu" if offload else device.split(":")[0]))  # fmt: skip
        ok = ok and run["ok"]
        report["runs"].append(run)
    report["ok"] = ok
    return report


# --------------------------------------------------------------------------------------------- live
def check_live(hub: Path, device: str) -> dict:
    from studio.context import RunContext
    from studio.live_student import stream_stats, student_frame

    engine = Engine(settings_for(hub, device))
    ctx = RunContext(settings=engine.settings, preprocess=None).with_engine(engine)
    request = synthetic_request("makeup", engine)
    inputs = dict(mask=request.mask_image, control=request.control_image, reference=request.ip_adapter_image,
                  prompt="a portrait photo, red lipstick", seed=4)  # fmt: skip
    first = student_frame(ctx, "makeup", request.image, wait=True, **inputs)
    again = student_frame(ctx, "makeup", request.image, **inputs)
    release = threading.Event()
    blocker = device_worker(engine.device.device).submit(release.wait, 30)
    busy = student_frame(ctx, "makeup", request.image, **inputs)
    release.set()
    blocker.result()
    times = []
    for i in range(10):
        start = time.perf_counter()
        student_frame(ctx, "makeup", np.roll(request.image, i, axis=1), **inputs)
        times.append((time.perf_counter() - start) * 1000)
    stats = stream_stats(ctx, "makeup")
    report = {"check": "live", "first": first.status, "reason": first.reason, "same_frame_same_image":
              bool(first.image is not None and np.array_equal(first.image, again.image)), "busy": busy.status,
              "decoder": stats.get("decoder"), "lora": stats.get("lora"), "median_ms": round(float(np.median(times)), 2),
              "prepare_ms": stats.get("prepare_ms")}  # fmt: skip
    report["ok"] = first.fresh and report["same_frame_same_image"] and busy.status == "dropped"
    return report


# --------------------------------------------------------------------------------------------- compile
def check_compile(hub: Path, device: str) -> dict:
    settings = settings_for(hub, device)
    request = replace(synthetic_request("makeup", Engine(settings)), mode="fast")
    eager = Engine(settings).run(request).image
    engine = Engine(replace(settings, compile="regional"))
    times, images = [], []
    for _ in range(3):
        start = time.perf_counter()
        images.append(engine.run(request).image)
        times.append(round(time.perf_counter() - start, 3))
    import torch._dynamo.utils as dynamo_utils

    report = {"check": "compile", "mode": "regional", "calls_s": times, "max_diff_vs_eager": diff(images[-1], eager),
              "graphs": dynamo_utils.counters["stats"].get("unique_graphs"),
              "cache": str(settings.cache_dir / "torch-compile")}  # fmt: skip
    report["ok"] = report["max_diff_vs_eager"] <= 8 and times[-1] <= times[0]
    return report


# --------------------------------------------------------------------------------------------- live, full size
def live_full(out_json: str, compile_mode: str = "off") -> int:
    from studio.bench.live import bench_live
    from studio.engine.fullhub import MAKEUP_LIVE
    from studio.engine.fullhub import build as build_full

    hub = Path(tempfile.mkdtemp(prefix="studio-fullhub-"))
    started = time.perf_counter()
    build_full(hub, MAKEUP_LIVE)
    settings = settings_for(hub, "cuda", compile=compile_mode)
    report = bench_live("makeup", seconds=5, sequential=30, hub_dir=hub, size=512, reference=False,
                        settings=settings)  # fmt: skip
    report["hub_build_s"] = round(time.perf_counter() - started - report["prepare_ms"] / 1000, 1)
    report["compile"] = compile_mode
    report.pop("results", None)
    Path(out_json).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("fps", "back_to_back", "webcam", "prepare_ms", "student", "steps",
                                              "decoder", "lora", "compile")}))  # fmt: skip
    return 0


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "cuda"
    if what == "live":
        return live_full(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "off")
    device = what
    hub = build(Path(tempfile.mkdtemp(prefix="studio-tinyhub-")))
    checks = [lambda: check_fusion("makeup", hub, device), lambda: check_fusion("tryon", hub, device),
              lambda: check_memory_modes("makeup", hub, device), lambda: check_memory_modes("tryon", hub, device),
              lambda: check_live(hub, device)]  # fmt: skip
    if device != "cpu":  # compiling on a 2-core CPU takes many minutes: tests/test_speed.py does it (RUN_SLOW=1)
        checks.append(lambda: check_compile(hub, device))
    ok = True
    for check in checks:
        try:
            report = check()
        except Exception as exc:  # noqa: BLE001 - report it and go on: the other checks still tell something
            report = {"check": getattr(check, "__name__", "check"), "ok": False,
                      "error": f"{type(exc).__name__}: {exc}"[:500], "where": traceback.format_exc()[-1200:]}  # fmt: skip
        print(json.dumps(report), flush=True)
        ok = ok and report["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
