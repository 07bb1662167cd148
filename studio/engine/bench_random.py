"""Student vs teacher latency on full-size SD1.5 and SDXL architectures with RANDOM weights.

Speed does not depend on the weights' values, so this measures honest latency without downloading anything;
quality is meaningless here and nothing claims otherwise. Architectures come from the published
`unet/config.json` and `vae/config.json` of stable-diffusion-v1-5/stable-diffusion-v1-5 and
stabilityai/stable-diffusion-xl-base-1.0; text encoders are skipped by passing prompt embeddings of the
right shapes directly (they run once per image and are not what distillation speeds up).

    student: 4 steps, Euler "trailing" spacing, CFG off   (SDXL-Lightning / Hyper-SD 4-step recipe)
    teacher: 30 steps, Euler, guidance 7.5 (CFG doubles the UNet batch)
    student_lora_unfused (eager, `--lora-rank R`): the student with a PEFT LoRA left unfused, as the engine keeps
        LoRA students so the teacher shares their base. A fused LoRA costs exactly the plain student (same
        shapes), so the pair measures what unfused LoRA layers add to every step. Targets: attention q/k/v/out,
        proj_in/out and the feed-forward layers (diffusers' LoRA naming); rank 64 with those targets is about the
        size of the published SDXL student LoRAs (assumed, not read from their files).

    python -m studio.engine.bench_random --json OUT.json          # GPU, fp16, eager and torch.compile
    python -m studio.engine.bench_random --tiny --device cpu      # a quick smoke run of this module
    studio bench makeup --random-weights --device cuda            # the app's family only

Needs torch and diffusers only (no other studio dependency), so a bare GPU machine can run it from a
checkout: benchmarks/gpu.sh does, in under 8 minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from .architectures import SD15_UNET, SDXL_UNET, VAE

# Small stand-ins with the same block structure, for a quick CPU run of the script itself.
TINY_UNET = dict(block_out_channels=(32, 64), layers_per_block=1, attention_head_dim=2,
                 down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))  # fmt: skip
TINY_VAE = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)  # fmt: skip

RECIPES = {
    "student": dict(steps=4, guidance=0.0, spacing="trailing"),
    "teacher": dict(steps=30, guidance=7.5, spacing="leading"),
}


def build(family: str, tiny: bool, device: str, dtype: torch.dtype, channels_last: bool = True):
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet_cfg = dict(SD15_UNET if family == "sd15" else SDXL_UNET)
    vae_cfg = dict(VAE)
    if tiny:
        unet_cfg.update(TINY_UNET)
        unet_cfg.pop("transformer_layers_per_block", None)
        vae_cfg.update(TINY_VAE)
    with torch.device(device):  # initialise on the device: a 2.6 B-parameter random init on the CPU takes minutes
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        unet = UNet2DConditionModel(**unet_cfg).to(dtype=dtype, memory_format=fmt)
        # force_upcast off, as the fp16-fix VAE the engine uses for SDXL on GPUs (a random VAE does not overflow).
        vae = AutoencoderKL(**vae_cfg, scaling_factor=0.18215 if family == "sd15" else 0.13025,
                            force_upcast=False).to(dtype=dtype, memory_format=fmt)  # fmt: skip
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    if family == "sd15":
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=scheduler,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)  # fmt: skip
    else:
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=None, text_encoder_2=None, tokenizer=None,
                                         tokenizer_2=None, unet=unet, scheduler=scheduler)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def embeddings(family: str, pipe, device: str, dtype: torch.dtype) -> dict:
    dim = pipe.unet.config.cross_attention_dim
    g = torch.Generator("cpu").manual_seed(1)
    emb = {"prompt_embeds": torch.randn(1, 77, dim, generator=g), "negative_prompt_embeds": torch.randn(1, 77, dim, generator=g)}
    if family == "sdxl":
        pooled = pipe.unet.config.projection_class_embeddings_input_dim - 6 * pipe.unet.config.addition_time_embed_dim
        emb["pooled_prompt_embeds"] = torch.randn(1, pooled, generator=g)
        emb["negative_pooled_prompt_embeds"] = torch.randn(1, pooled, generator=g)
    return {k: v.to(device, dtype) for k, v in emb.items()}


def time_vae_decode(pipe, size: int, device: str, dtype, repeats: int = 3) -> float:
    """The fixed cost every image pays once, whatever the step count: decoding the latents to pixels."""
    latents = torch.randn(1, 4, size // 8, size // 8, device=device, dtype=dtype)
    with torch.no_grad():
        pipe.vae.decode(latents)  # warm-up
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            pipe.vae.decode(latents)
        sync(device)
    return (time.perf_counter() - start) / repeats


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_once(pipe, emb, recipe, size, device) -> float:
    pipe.scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config, timestep_spacing=recipe["spacing"])
    sync(device)
    start = time.perf_counter()
    pipe(**emb, num_inference_steps=recipe["steps"], guidance_scale=recipe["guidance"], height=size, width=size,
         output_type="pt", generator=torch.Generator("cpu").manual_seed(0))  # fmt: skip
    sync(device)
    return time.perf_counter() - start


LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]


def add_student_lora(unet, rank: int) -> int:
    """A random PEFT LoRA on the UNet (disabled until asked for); returns its parameter count."""
    from peft import LoraConfig

    before = sum(p.numel() for p in unet.parameters())
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights="gaussian"),
                     adapter_name="student")  # fmt: skip
    unet.disable_adapters()
    return sum(p.numel() for p in unet.parameters()) - before


def run_tier(pipe, emb, recipe, size, device) -> float:
    """One timed image; the LoRA tier switches the student LoRA on for its call only."""
    if "lora" in recipe:
        pipe.unet.enable_adapters()
    try:
        return run_once(pipe, emb, recipe, size, device)
    finally:
        if "lora" in recipe:
            pipe.unet.disable_adapters()


def time_fusion(pipe, emb, recipe, size, device, repeats) -> dict:
    """The studio's LoRA fusion (studio.engine.fusion) at full size: merging, the fused student, and the exact
    restore a teacher call after it pays; checks that the restored weights equal the originals bit for bit."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    from .fusion import LoraFusion

    layers = [m for m in pipe.unet.modules() if isinstance(m, BaseTunerLayer)]
    before = {n: p.detach().clone() for n, p in pipe.unet.named_parameters() if "lora_" not in n}
    fusion = LoraFusion(device)
    timings = {}
    for what, adapter in (("first_merge_s", "student"), ("restore_s", None), ("merge_s", "student")):
        sync(device)
        start = time.perf_counter()
        fusion.ensure(layers, adapter)
        sync(device)
        timings[what] = round(time.perf_counter() - start, 4)
        if adapter is None:
            after = dict(pipe.unet.named_parameters())
            timings["restored_bit_exact"] = all(torch.equal(after[n], t) for n, t in before.items())
    samples = [run_once(pipe, emb, recipe, size, device) for _ in range(repeats)]
    fusion.ensure(layers, None)
    del before
    return {**timings, "student_fused_median_s": round(statistics.median(samples), 4), "layers": len(layers),
            "host_copy_mb": round(fusion.copy_bytes / 1e6, 1)}  # fmt: skip


def bench_family(family, size, tiny, device, dtype, compile_unet, repeats, lora_rank: int = 0,
                 tiers: tuple[str, ...] = ("student", "teacher"), channels_last: bool = True) -> dict:  # fmt: skip
    """`compile_unet`: False (eager), True / "compiled" (torch.compile wrapping the UNet, as first measured), or the
    engine's own modes (speed.py): "regional" (the UNet's repeated blocks) or "full" (the whole UNet in place), both
    with the VAE decoder compiled too."""
    pipe = build(family, tiny, device, dtype, channels_last)
    emb = embeddings(family, pipe, device, dtype)
    out = {"family": family, "size": size, "compiled": compile_unet, "channels_last": channels_last}
    tiers = {k: v for k, v in RECIPES.items() if k in tiers}
    if compile_unet in ("regional", "full"):
        from .speed import compile_decoder, compile_denoiser

        out["unet"], out["vae"] = compile_denoiser(pipe.unet, compile_unet), compile_decoder(pipe.vae, compile_unet)
    elif compile_unet:
        # Static shapes: the student (batch 1) and the CFG teacher (batch 2) each compile once.
        pipe.unet = torch.compile(pipe.unet, fullgraph=True, dynamic=False)
    else:
        out["vae_decode_s"] = round(time_vae_decode(pipe, size, device, dtype), 4)
        if lora_rank:
            params = add_student_lora(pipe.unet, lora_rank)
            out["lora"] = {"rank": lora_rank, "targets": LORA_TARGETS, "params_m": round(params / 1e6, 1),
                           "fp16_mb": round(params * 2 / 1e6, 1)}  # fmt: skip
            tiers["student_lora_unfused"] = dict(RECIPES["student"], lora=True)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    # Warm-up (and compilation, when compiled), then interleaved runs: GPU clocks and other load drift over
    # every tier alike.
    first = {tier: run_tier(pipe, emb, recipe, size, device) for tier, recipe in tiers.items()}
    samples: dict[str, list[float]] = {tier: [] for tier in tiers}
    for _ in range(repeats):
        for tier, recipe in tiers.items():
            samples[tier].append(run_tier(pipe, emb, recipe, size, device))
    for tier, recipe in tiers.items():
        out[tier] = {"steps": recipe["steps"], "guidance": recipe["guidance"], "first_call_s": round(first[tier], 3),
                     "median_s": round(statistics.median(samples[tier]), 4),
                     "samples_s": [round(s, 4) for s in samples[tier]]}  # fmt: skip
    for tier in tiers:  # what the first call cost beyond a normal one: compilation (and warm-up)
        out[tier]["compile_s"] = round(out[tier]["first_call_s"] - out[tier]["median_s"], 2)
    if "student" not in out or "teacher" not in out:
        del pipe
        return out
    s, t = out["student"], out["teacher"]
    out["speedup"] = round(t["median_s"] / s["median_s"], 2)
    if "student_lora_unfused" in out:
        out["fusion"] = time_fusion(pipe, emb, RECIPES["student"], size, device, repeats)
        decode = out["vae_decode_s"]
        unfused = out["student_lora_unfused"]["median_s"]
        out["speedup_unfused_lora"] = round(t["median_s"] / unfused, 2)
        # Per-step cost of unfused LoRA layers, with the VAE decode (paid once per image) set aside.
        out["unfused_lora_step_cost"] = round((unfused - decode) / (s["median_s"] - decode), 3)
    # The ideal ratio counts UNet evaluations: the teacher's CFG runs two per step (as one doubled batch).
    out["unet_eval_ratio"] = (t["steps"] * 2) / s["steps"]
    if device.startswith("cuda"):
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del pipe
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def run(families=("sd15", "sdxl"), modes=("eager", "compiled"), device: str = "cuda", tiny: bool = False,
        repeats: int = 3, out_json: str | None = None, log=print, lora_rank: int = 0,
        tiers: tuple[str, ...] = ("student", "teacher"), channels_last: bool = True) -> dict:  # fmt: skip
    """Benchmark each family in each mode; the report is rewritten after every run, so a time limit that
    cuts the last (slowest: compiled SDXL) run short still leaves the finished ones on disk."""
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    report = {"benchmark": "random-weights-student-vs-teacher", "random_weights": True, "device": device,
              "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__, "runs": []}  # fmt: skip
    if device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cuda.matmul.allow_tf32 = True
    import diffusers

    report["diffusers"] = diffusers.__version__
    sizes = {"sd15": 64 if tiny else 512, "sdxl": 64 if tiny else 1024}
    if any(m in ("regional", "full") for m in modes) and device.startswith("cuda"):
        import os

        report["compile_cache"] = os.environ.get("TORCHINDUCTOR_CACHE_DIR")  # warm when gpu.sh ran it before
    for mode in modes:
        compile_unet = {"eager": False, "compiled": True}.get(mode, mode)
        for family in families:
            started = time.perf_counter()
            result = bench_family(family, sizes[family], tiny, device, dtype, compile_unet, repeats, lora_rank, tiers,
                                  channels_last)  # fmt: skip
            result["wall_s"] = round(time.perf_counter() - started, 1)
            report["runs"].append(result)
            log(json.dumps(result))
            if out_json:
                with open(out_json, "w") as f:
                    json.dump(report, f, indent=2)
                from ..bench_tables import write_markdown  # plain Python: works from a bare checkout too

                write_markdown(report, Path(out_json).with_suffix(".md"))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description="Student vs teacher latency with random full-size weights.")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small architectures (a smoke run on CPU)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--families", default="sd15,sdxl", help="comma-separated: sd15, sdxl")
    parser.add_argument("--modes", default="eager,compiled",
                        help="comma-separated: eager, compiled (torch.compile around the UNet), regional / full (the "
                             "engine's compile modes, VAE decoder included)")  # fmt: skip
    parser.add_argument("--tiers", default="student,teacher", help="comma-separated: student, teacher")
    parser.add_argument("--contiguous", action="store_true", help="NCHW weights instead of channels-last")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lora-rank", type=int, default=0,
                        help="eager runs also time the student with an unfused random LoRA of this rank (e.g. 64)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if not (args.no_compile and m != "eager")]
    run(args.families.split(","), modes, args.device, args.tiny, args.repeats, args.json, tiers=tuple(args.tiers.split(",")),
        channels_last=not args.contiguous,
        log=lambda line: print(line, flush=True), lora_rank=args.lora_rank)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
