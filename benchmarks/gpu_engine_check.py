"""The real engine on a CUDA GPU with the tiny hub: what the CPU tests cannot see.

Checks, for the makeup (SD1.5 + LCM-LoRA) and try-on (SDXL + Hyper-SD LoRA) recipes in fp16:
  - the student's LoRA is merged into the base by default on a GPU (pinned host copy of the originals);
  - the teacher after it runs on the base's exact original weights (bit for bit) and gives the same image as
    an engine that never merged;
  - merged and unmerged students agree (fp16 rounding apart).
Prints one JSON line per app and exits non-zero on a failed check. Needs torch, diffusers, peft, transformers.

    python3 benchmarks/gpu_engine_check.py            # on a GPU machine
    python3 benchmarks/gpu_engine_check.py cpu        # a smoke run of this script (merging forced on)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
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
from studio.engine.engine import Engine  # noqa: E402
from studio.engine.loader import lora_layers  # noqa: E402
from studio.engine.tinyhub import build  # noqa: E402
from studio.settings import Settings  # noqa: E402


def base_weights(engine: Engine) -> dict[str, torch.Tensor]:
    key = next(k for k in engine.residency.keys() if k[0] == "pipeline")
    unet = engine.residency.peek(key).value.unet
    return {n.replace(".base_layer", ""): p.detach().clone() for n, p in unet.named_parameters() if "lora_" not in n}


def check(app: str, hub: Path, device: str) -> dict:
    settings = Settings(device=device, hf_cache_dir=hub, models_dir=Path(tempfile.mkdtemp()), offline=True,
                        fuse_lora="on" if device == "cpu" else "auto")  # fmt: skip
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
        "app": app, "fuses_by_default": merged.fuses_lora, "student_lora": s.info["lora"], "dtype": s.info["dtype"],
        "teacher_same_as_never_merged": bool(np.array_equal(t.image, plain_teacher) and np.array_equal(first.image, plain_teacher)),
        "base_bit_exact_after_switches": all(torch.equal(after[n], original[n]) for n in original),
        "merged_vs_unmerged_student_max_diff": int(np.abs(s.image.astype(int) - plain_student).max()),
        "lora_layers": len(lora_layers(merged.residency.peek(next(k for k in merged.residency.keys() if k[0] == "pipeline")).value.unet)),
        "student_then_teacher_s": timings,
        "notes": [n for n in s.provenance.notes + t.provenance.notes if "LoRA" in n or "restored" in n],
    }  # fmt: skip
    report["ok"] = (report["fuses_by_default"] and report["student_lora"] == "fused"
                    and report["teacher_same_as_never_merged"] and report["base_bit_exact_after_switches"])  # fmt: skip
    return report


def main() -> int:
    device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
    hub = build(Path(tempfile.mkdtemp(prefix="studio-tinyhub-")))
    ok = True
    for app in ("makeup", "tryon"):
        report = check(app, hub, device)
        print(json.dumps(report), flush=True)
        ok = ok and report["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
