"""Diffusion-tier benchmarks for `studio bench <app> --tiny`: the real engine on the tiny hub.

For an app's recipe (its pipeline kind, student, teacher and adapters) it measures, after a warm-up:
  - student (its catalog steps) and teacher (30 steps) latency per phase (the engine's own timings);
  - the speed-up, and the denoising speed-up against the step ratio once fixed costs (prompt encoding,
    decode) are set aside, with the per-step cost of each (an unfused LoRA adds work to every student step);
  - the studio's overhead over a bare diffusers call on the very same loaded components, scheduler and
    arguments (what the engine adds: planning, locks, state capture/restore, step callback, provenance).
Tiny models are far cheaper than real ones, so fixed per-call costs weigh more here than on a GPU.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..bench import machine_info

#: The student runs its catalog steps (None): a step-locked student (Hyper 8-step, Lightning) at another count would
#: time a recipe off its trained grid. The teacher runs a typical 30.
STUDENT_STEPS, TEACHER_STEPS = None, 30


def synthetic_request(app: str, engine, size: int = 64):
    """A request with every image the app's pipeline kind needs, made from noise and simple shapes."""
    from .request import GenerationRequest

    recipe = engine._recipe(app)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    kind = recipe.pipeline
    fields = {"image": image, "mask_image": mask} if kind in ("inpaint", "controlnet-inpaint", "img2img",
                                                               "controlnet-img2img") else {}  # fmt: skip
    if "controlnet" in kind:
        fields["control_image"] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if any("ip-adapter" in a for a in recipe.adapters):
        fields["ip_adapter_image"] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if any("union" in a for a in recipe.adapters):
        fields["control_mode"] = 3
    return GenerationRequest(app=app, prompt="a portrait photo", negative_prompt="blurry", seed=0, width=size,
                             height=size, previews=False, **fields)  # fmt: skip


def _bare_call(engine, request, tier: str) -> float:
    """Wall time of the diffusers pipeline called directly on the engine's loaded components (same scheduler,
    same arguments, same LoRA state), without the engine around it — on the engine's device thread.

    Why that thread: once torch has run on one thread, OpenMP work started from another thread runs ~2.5×
    slower on a 2-core CPU (the first thread's OpenMP workers keep spinning on a core). The engine runs every
    call on its one device thread, so the fair comparison runs the bare call there too, and this benchmark
    never runs torch on its main thread."""
    return engine.call_on_device(_bare_call_here, engine, request, tier)


def _bare_call_here(engine, request, tier: str) -> float:
    import torch

    from .loader import ComponentState
    from .request import call_kwargs
    from .runner import _accepted, _sync_lora_fusion, build_view, load_for

    plan = engine.plan(request, tier)
    loaded = load_for(engine, request, plan, [])
    _sync_lora_fusion(engine, loaded, plan)  # already as the engine's own call left it: merged or not
    view, _ = build_view(loaded, plan, [])
    kwargs, _ = call_kwargs(request, plan)
    kwargs, _ = _accepted(view, kwargs)
    # The adapters are set up as a diffusers user would have them before calling (not timed), and put back after.
    state = ComponentState.capture([loaded.base.unet, loaded.unet])
    try:
        if plan.own is not None and plan.own.spec.kind == "lora":
            state.activate_lora(plan.spec.id, plan.spec.scale)
        else:
            state.deactivate_lora()
        if plan.ip_adapter is not None:
            view.set_ip_adapter_scale(plan.ip_adapter.spec.scale)
        start = time.perf_counter()
        # diffusers' default output (PIL): like the studio's call, it ends with a ready 8-bit image
        view(**kwargs, generator=torch.Generator("cpu").manual_seed(0))
        return (time.perf_counter() - start) * 1000.0
    finally:
        state.restore()


def bench_tiny(app: str, repeats: int = 11, size: int = 64, hub_dir: Path | None = None) -> dict:
    """Student vs teacher and studio overhead for `app`'s recipe on the tiny hub, on the CPU.

    A LoRA student runs twice: as the CPU default has it (unfused: the LoRA layers work at every step) and merged
    into its base (`fuse_lora="on"`, what GPUs do by default; see fusion.py)."""
    import torch

    from ..settings import Settings
    from .engine import Engine
    from .tinyhub import build

    hub = Path(hub_dir or tempfile.mkdtemp(prefix="studio-tinyhub-"))
    settings = Settings(device="cpu", hf_cache_dir=hub, models_dir=Path(tempfile.mkdtemp()), offline=True,
                        fuse_lora="off")  # fmt: skip
    engine = Engine(settings)
    engine.call_on_device(build, hub)  # torch stays off this thread (see _bare_call)
    base = synthetic_request(app, engine, size)
    student, teacher = replace(base, mode="fast", steps=STUDENT_STEPS), replace(base, mode="quality", steps=TEACHER_STEPS)
    runs = {"student": (engine, student, "student")}
    if engine.catalog.get(engine._recipe(app).student).kind == "lora":
        runs["student_fused"] = (Engine(replace(settings, fuse_lora="on")), student, "student")
    runs["teacher"] = (engine, teacher, "teacher")
    report: dict = {"benchmark": "diffusion-tiny", "app": app, "size": size, "machine": machine_info(),
                    "torch_threads": torch.get_num_threads(), "tiers": {},
                    "note": "tiny random models at 64 px on the CPU: fixed per-call costs weigh far more than on a "
                            "GPU with real models; see `studio bench <app> --random-weights` for full size"}  # fmt: skip
    for name, (runner, request, tier) in runs.items():
        report["tiers"][name] = _time_tier(runner, request, tier, repeats)
    t = report["tiers"]["teacher"]
    for name in [n for n in report["tiers"] if n != "teacher"]:
        s = report["tiers"][name]
        ratios = {
            "speedup_total": round(t["studio_ms"] / s["studio_ms"], 2),
            "speedup_denoise": round(t["denoise_ms"] / s["denoise_ms"], 2),
            # The yardstick is the step ratio; the UNet-evaluation ratio also counts CFG's doubled batch
            # (on tiny CPU models a doubled batch costs far less than double, so that ratio is out of reach there).
            "step_ratio": round(t["steps"] / s["steps"], 2),
            "unet_eval_ratio": round((t["steps"] * (2 if t["cfg"] else 1)) / (s["steps"] * (2 if s["cfg"] else 1)), 2),
            "student_step_cost_vs_teacher": round(s["step_ms"] / t["step_ms"], 3),
        }
        ratios["denoise_speedup_vs_step_ratio"] = round(ratios["speedup_denoise"] / ratios["step_ratio"], 3)
        if name == "student":
            report.update(ratios)  # the default student's figures at the top level
        else:
            report[name] = ratios
    report["overhead_pct"] = {k: round(100 * v["overhead_ms"] / v["bare_diffusers_ms"], 2)
                              for k, v in report["tiers"].items()}  # fmt: skip
    report["targets"] = {"denoise_speedup_vs_step_ratio": ">= 0.9", "overhead_pct": "<= 5"}
    for runner, *_ in runs.values():
        runner.release()
    return report


def _time_tier(engine, request, tier: str, repeats: int) -> dict:
    engine.run(request)  # load + warm-up
    _bare_call(engine, request, tier)
    studio_ms, bare_ms, phases = [], [], []
    for _ in range(repeats):  # interleaved, so drifting machine load hits both sides alike
        start = time.perf_counter()
        result = engine.run(request)
        studio_ms.append((time.perf_counter() - start) * 1000.0)
        phases.append(result.provenance.timings_ms)
        bare_ms.append(_bare_call(engine, request, tier))
    denoise = statistics.median(p["denoise"] for p in phases)
    step_ms = denoise / result.provenance.steps
    # One more call with step previews on (TAESD from the tiny hub): what a preview costs beside a step.
    shown = engine.run(replace(request, previews=True))
    count = shown.info["previews"]
    preview_ms = shown.provenance.timings_ms["previews"] / count if count else 0.0
    preview = {"decoder": shown.info["preview_decoder"] or "latent->RGB", "previews": count,
               "ms_each": round(preview_ms, 3), "pct_of_step": round(100 * preview_ms / step_ms, 2)}  # fmt: skip
    # Overhead from the paired differences: each studio call and the bare call right after it share the
    # machine's state of the moment, so the median difference is far steadier than a ratio of medians.
    extra = statistics.median(s - b for s, b in zip(studio_ms, bare_ms))
    return {
        "model": result.info[tier], "steps": result.provenance.steps, "cfg": result.info["cfg"],
        "lora": result.info["lora"], "studio_ms": round(statistics.median(studio_ms), 2),
        "bare_diffusers_ms": round(statistics.median(bare_ms), 2), "overhead_ms": round(extra, 2),
        "denoise_ms": round(denoise, 2), "step_ms": round(step_ms, 3), "preview": preview,
        "peak_memory_mb": result.provenance.peak_memory_mb, "peak_memory_source": result.info["peak_memory_source"],
        "resident_mb": round(engine.resident_bytes() / 1e6, 1),
        "fixed_ms": round(statistics.median(sum(p.values()) - p["denoise"] for p in phases), 2),
        "phases_ms": {k: round(statistics.median(p[k] for p in phases), 2) for k in phases[0]},
    }  # fmt: skip


def plot_tiers(report: dict, path: Path) -> None:
    """Stacked bars of each tier's phases (studio call) beside the bare diffusers call."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiers = report["tiers"]
    phases = [p for p in next(iter(tiers.values()))["phases_ms"] if p != "load"]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 1.0 * len(tiers)))
    for i, (tier, row) in enumerate(tiers.items()):
        left = 0.0
        for phase in phases:
            width = row["phases_ms"][phase]
            ax.barh(i, width, left=left, label=phase if i == 0 else None)
            left += width
        ax.barh(i + 0.4, row["bare_diffusers_ms"], height=0.3, color="grey", label="bare diffusers" if i == 0 else None)
    labels = [f"{t} ({r['steps']} steps{', LoRA ' + r['lora'] if r.get('lora') else ''})" for t, r in tiers.items()]
    ax.set_yticks([i + 0.15 for i in range(len(tiers))], labels)
    ax.set_xlabel("milliseconds per image (CPU, tiny models)")
    ax.set_title(f"{report['app']}: student vs teacher, speed-up ×{report['speedup_total']}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
