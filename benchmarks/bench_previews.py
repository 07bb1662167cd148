"""What a step preview costs, as a share of one denoising step: latent->RGB projection and TAESD decode.

    .venv/bin/python benchmarks/bench_previews.py --json bench-out/previews.json          # tiny models (CPU)
    python benchmarks/bench_previews.py --full --device cuda --json previews-gpu.json      # full-size, random weights

Targets (issue 3): latent->RGB <= 1 % of a step, TAESD <= 10 %.

Tiny mode builds the test suite's tiny hub (studio/engine/tinyhub.py) and runs the real engine on it: the step time
is the engine's own "denoise" timing divided by the steps, and each previewer is timed on latents of that
run's shape. Every number is the fastest of its repeats (see `best_ms`). Tiny UNets are far cheaper than real
ones, so this is the hardest case for the ratio.
Full mode builds the real SD1.5 and SDXL UNet architectures and the real TAESD architecture from their configs
with random weights (speed is honest without real weights; quality is not) and times one UNet call at the
native resolution, batch 1 (a student, CFG off) and batch 2 (a teacher with CFG).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio.engine.previews import Latent2RGB, TinyVAEPreview  # noqa: E402

from studio.engine.architectures import SD15_UNET, SDXL_UNET  # noqa: E402


def best_ms(fn, repeats: int, warmup: int = 3, sync=lambda: None) -> float:
    """Fastest of `repeats` timed calls: on a machine shared with other jobs the minimum is the stable number
    (interference only ever adds time), and both sides of each ratio are measured the same way."""
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1000.0)
    return min(samples)


def preview_costs(family: str, latents: torch.Tensor, taesd, repeats: int, sync) -> dict:
    l2r, tiny = Latent2RGB(family), TinyVAEPreview(taesd)
    return {
        "latent2rgb_ms": best_ms(lambda: l2r(latents), repeats * 10, warmup=20, sync=sync),
        "taesd_ms": best_ms(lambda: tiny(latents), repeats, warmup=10, sync=sync),
        "taesd_preview_px": tiny(latents).shape[0],
    }


def with_ratios(row: dict) -> dict:
    row["latent2rgb_pct_of_step"] = round(100 * row["latent2rgb_ms"] / row["step_ms"], 3)
    row["taesd_pct_of_step"] = round(100 * row["taesd_ms"] / row["step_ms"], 3)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def bench_tiny(sizes: list[int], repeats: int) -> list[dict]:
    from studio.engine.tinyhub import build

    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest
    from studio.settings import Settings

    hub = build(Path(tempfile.mkdtemp(prefix="tinyhub-")))
    engine = Engine(Settings(device="cpu", hf_cache_dir=hub, models_dir=Path(tempfile.mkdtemp()), offline=True))
    rows = []
    for family, app in (("sd15", "head"), ("sdxl", "avatar")):
        for size in sizes:
            request = GenerationRequest(app=app, pipeline="txt2img", adapters=(), mode="fast", prompt="a portrait",
                                        width=size, height=size, previews=False)  # fmt: skip
            engine.run(request)  # load and warm up
            runs = [engine.run(request) for _ in range(repeats)]
            step_ms = min(r.provenance.timings_ms["denoise"] / r.provenance.steps for r in runs)
            taesd = engine.residency.peek(("taesd", "taesd" if family == "sd15" else "taesdxl"))
            if taesd is None:  # previews=False skipped it: load it the way the engine does
                engine.run(GenerationRequest(**{**request.__dict__, "previews": True}))
                taesd = engine.residency.peek(("taesd", "taesd" if family == "sd15" else "taesdxl"))
            latents = torch.randn(1, 4, size // 8, size // 8)
            costs = preview_costs(family, latents, taesd.value, repeats, lambda: None)
            row = {"family": family, "student": runs[0].info["student"], "size": size, "cfg": runs[0].info["cfg"],
                   "step_ms": step_ms, **costs}  # fmt: skip
            rows.append(with_ratios(row))
    return rows


def bench_full(device: str, repeats: int) -> list[dict]:
    from diffusers import AutoencoderTiny, UNet2DConditionModel

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    torch.manual_seed(0)
    taesd = AutoencoderTiny().to(device, dtype).eval()  # the default config is TAESD's architecture
    rows = []
    for family, config, size, text_dim in (("sd15", SD15_UNET, 512, 768), ("sdxl", SDXL_UNET, 1024, 2048)):
        with torch.device(device):
            unet = UNet2DConditionModel(**config).to(dtype).eval()
        latents = torch.randn(1, 4, size // 8, size // 8, device=device, dtype=dtype)
        costs = None
        for batch in (1, 2, 1):  # batch 1 twice: the first pass also brings the GPU out of its idle clocks
            sample = latents.repeat(batch, 1, 1, 1)
            text = torch.randn(batch, 77, text_dim, device=device, dtype=dtype)
            extra = {}
            if family == "sdxl":
                pooled = torch.randn(batch, 1280, device=device, dtype=dtype)
                time_ids = torch.randn(batch, 6, device=device, dtype=dtype)
                extra["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}

            def step(unet=unet, sample=sample, text=text, extra=extra):
                with torch.no_grad():
                    unet(sample, 500, text, **extra)

            step_ms = best_ms(step, repeats, sync=sync)
            costs = costs or preview_costs(family, latents, taesd, repeats, sync)  # measured right after a step
            if rows and rows[-1]["family"] == family and rows[-1]["unet_batch"] == batch:
                rows.pop()  # keep the warm second measurement of batch 1
            rows.append(with_ratios({"family": family, "size": size, "unet_batch": batch,
                                     "cfg": batch == 2, "step_ms": step_ms, **costs}))  # fmt: skip
        del unet
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full-size SD1.5/SDXL UNets with random weights")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="64,512", help="tiny mode: square sizes in pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = bench_full(args.device, args.repeats) if args.full else bench_tiny(
        [int(s) for s in args.sizes.split(",")], args.repeats)  # fmt: skip
    report = {
        "benchmark": "previews", "mode": "full-size random weights" if args.full else "tiny hub (studio/engine/tinyhub.py)",
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(), "targets_pct_of_step": {"latent2rgb": 1.0, "taesd": 10.0},
        "rows": rows,
    }  # fmt: skip
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
