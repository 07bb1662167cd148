"""The VRAM planner against a GPU: predicted and measured peak memory with full-size random weights (GPU only).

For SD1.5 at 512² and SDXL at 1024² in fp16 — both text encoders, the UNet and the VAE (SDXL's set up as the fp16
fix, as the engine uses it on GPUs) — student (4 steps, CFG off) and teacher (CFG on; 2 steps, since the peak does
not depend on the count), each in three memory modes: everything on the GPU, the VAE in the engine's 512 px tiles,
and model offload. Each row gives the planner's prediction for that mode (planner.py, from the catalog's sizes),
the measured `torch.cuda.max_memory_allocated` over one call after a warm-up, and the error; `max_memory_reserved`
and the CUDA context (memory the driver reports used beyond torch's reservations) show what the plan's reserve
covers. The issue's bar: within 15 %.

    python -m studio.engine.bench_memory --json OUT.json [--families sd15,sdxl]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from .planner import GIB, MB, TILE_PX, Call, plan_call

FAMILIES = {"sd15": ("sd15", 512), "sdxl": ("sdxl-base", 1024)}
TIERS = {"student": dict(steps=4, guidance=0.0), "teacher": dict(steps=2, guidance=7.5)}
MODES = ("gpu", "gpu+tiling", "model_offload")


def build_pipeline(family: str):
    """A full-size random pipeline on the GPU with every model the engine loads for text-to-image."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    from .fullhub import full_text_encoder, full_unet, full_vae
    from .tinyhub import tokenizer_files

    folder = Path(tempfile.mkdtemp(prefix="studio-tokenizer-"))
    for name, data in tokenizer_files().items():
        (folder / name).write_bytes(data)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))
    unet, vae, te = full_unet(family).half(), full_vae(family).half(), full_text_encoder("clip-l").half()
    if family == "sdxl":
        vae.register_to_config(force_upcast=False)  # as the fp16-fix VAE (the engine's on GPUs)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing")  # fmt: skip
    if family == "sd15":
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    else:
        te2 = full_text_encoder("bigg").half()
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tokenizer,
                                         tokenizer_2=tokenizer, unet=unet, scheduler=scheduler)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _catalog():
    try:
        from studio.models import load_catalog
    except ImportError:  # a bare checkout on a GPU machine (no pip install): models/ is studio.models once installed
        import sys

        import models

        sys.modules["studio.models"] = models
        from studio.models import load_catalog
    return load_catalog()


def predicted(family: str, tier: str, size: int, mode: str) -> dict:
    catalog = _catalog()
    spec = catalog.get(FAMILIES[family][0])
    fix = catalog.get("sdxl-vae-fp16-fix") if family == "sdxl" else None
    call = Call(tier, spec, spec, "txt2img", size, size, TIERS[tier]["guidance"], "float16", vae_fix=fix)
    plan = plan_call(call, 1e9, "bench", "cuda")
    return {"peak_mb": plan.modes[mode]["peak_mb"], "phase": plan.modes[mode]["phase"],
            "weights_mb": round(plan.weights_mb, 1)}  # fmt: skip


def measure(pipe, tier: str, size: int, mode: str) -> dict:
    pipe.remove_all_hooks()
    vae = pipe.vae
    vae.use_tiling = mode == "gpu+tiling"
    vae.tile_sample_min_size, vae.tile_latent_min_size = TILE_PX, TILE_PX // 8
    if mode == "model_offload":
        pipe.enable_model_cpu_offload()
    else:
        pipe.to("cuda")
    recipe = TIERS[tier]

    def call():
        return pipe(prompt="a portrait photo", negative_prompt="blurry", num_inference_steps=recipe["steps"],
                    guidance_scale=recipe["guidance"], height=size, width=size, output_type="np",
                    generator=torch.Generator("cpu").manual_seed(0))  # fmt: skip

    call()  # warm-up: cuDNN/cuBLAS handles and workspaces are made once
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    call()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    free, total = torch.cuda.mem_get_info()
    out = {"measured_mb": round(torch.cuda.max_memory_allocated() / MB, 1),
           "reserved_mb": round(torch.cuda.max_memory_reserved() / MB, 1),
           "outside_torch_mb": round((total - free - torch.cuda.memory_reserved()) / MB, 1), "call_s": round(seconds, 3)}
    vae.use_tiling = False
    return out  # fmt: skip


def run(families=("sd15", "sdxl"), out_json: str | None = None, log=print) -> dict:
    report = {"benchmark": "planner-vs-measured", "random_weights": True, "gpu": torch.cuda.get_device_name(0),
              "total_gb": round(torch.cuda.get_device_properties(0).total_memory / GIB, 1), "torch": torch.__version__,
              "rows": []}  # fmt: skip
    torch.backends.cuda.matmul.allow_tf32 = True
    for family in families:
        size = FAMILIES[family][1]
        pipe = build_pipeline(family)
        for tier in TIERS:
            for mode in MODES:
                row = {"family": family, "size": size, "tier": tier, "mode": mode}
                try:
                    row.update(predicted(family, tier, size, mode))
                    row.update(measure(pipe, tier, size, mode))
                    row["error_pct"] = round(100.0 * (row["peak_mb"] - row["measured_mb"]) / row["measured_mb"], 1)
                    row["within_15pct"] = abs(row["error_pct"]) <= 15.0
                except Exception as exc:  # noqa: BLE001 - one failed row must not lose the others
                    row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                report["rows"].append(row)
                log(json.dumps(row))
                if out_json:
                    Path(out_json).write_text(json.dumps(report, indent=2))
        pipe.remove_all_hooks()
        del pipe
        torch.cuda.empty_cache()
    done = [r for r in report["rows"] if "within_15pct" in r]
    report["all_within_15pct"] = bool(done) and all(r["within_15pct"] for r in done)
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=2))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description="VRAM planner: predicted vs measured peak on a GPU.")
    parser.add_argument("--families", default="sd15,sdxl")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    run(tuple(args.families.split(",")), args.json, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
