"""What a distillation run writes into its `--out` folder, and how it reads it back to resume.

    D/
      pytorch_lora_weights.safetensors   the student: standard diffusers/PEFT keys (`unet.<module>.lora_A.weight`),
                                         loadable by `pipe.load_lora_weights(D)` as is
      student.json                       its catalog entry and training record (studio.engine.user_students)
      README.md                          a model card: teacher, licence (inherited), recipe, how to load it
      samples.png                        teacher vs student on the first captions (when samples were made)
      train_log.jsonl                    one line per optimizer step: step, loss, lr, seconds
      checkpoints/step-000250/           lora.safetensors (fp32), optimizer.pt, state.json — the last few kept

A checkpoint is written to a temporary folder and renamed when complete, so an interrupted write never leaves a
checkpoint that looks whole. The optimizer state is a torch file read back with `weights_only=True` (tensors and
numbers only; no code runs); everything else is safetensors or JSON.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..errors import InputError

CHECKPOINTS = "checkpoints"
LOG = "train_log.jsonl"
SAMPLES = "samples.png"


def checkpoint_dirs(out: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.name.startswith("step-") and folder.name[5:].isdigit() and (folder / "state.json").is_file():
            found.append((int(folder.name[5:]), folder))
    return sorted(found)


def save_checkpoint(out: Path, step: int, lora: dict, optimizer_state: dict, state: dict, keep: int) -> Path:
    """Write checkpoint `step` atomically and keep only the newest `keep` ones."""
    import torch
    from safetensors.torch import save_file

    root = Path(out) / CHECKPOINTS
    final = root / f"step-{step:06d}"
    tmp = root / f".step-{step:06d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().float().contiguous().cpu() for k, v in lora.items()}, tmp / "lora.safetensors")
    torch.save(optimizer_state, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step, "saved": _now()}, indent=2))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for _, old in checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: Path) -> tuple[dict, dict, dict]:
    """(LoRA tensors, optimizer state, state.json) of a checkpoint folder."""
    import torch
    from safetensors.torch import load_file

    try:
        lora = load_file(folder / "lora.safetensors")
        optimizer = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"The checkpoint {folder} cannot be read ({type(exc).__name__}: {exc}); delete it to resume "
                         "from the one before.") from None  # fmt: skip
    return lora, optimizer, state


def compatible(saved: dict, now: dict) -> list[str]:
    """The training settings that differ between a checkpoint and this run (resuming needs none)."""
    return [f"{key}: {saved.get(key)!r} then, {now.get(key)!r} now" for key in now if saved.get(key) != now.get(key)]


def append_log(out: Path, row: dict) -> None:
    with (Path(out) / LOG).open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def trim_log(out: Path, step: int) -> None:
    """Drop log lines after `step` (a resumed run replays them)."""
    path = Path(out) / LOG
    if not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(r + "\n" for r in rows))


def write_lora(out: Path, lora: dict, family: str, rank: int, alpha: float, targets: list[str], dtype: str) -> Path:
    """The student's LoRA through diffusers' own `save_lora_weights`: keys `unet.<module>.lora_A/B.weight` (the PEFT
    layout `load_lora_weights` reads as is), the adapter config in the file's metadata."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    cast = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    tensors = {k: v.detach().to("cpu", cast).contiguous() for k, v in lora.items()}
    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    metadata = {"r": rank, "lora_alpha": alpha, "target_modules": sorted(targets)}
    cls.save_lora_weights(str(out), unet_lora_layers=tensors, safe_serialization=True,
                          unet_lora_adapter_metadata=metadata)  # fmt: skip
    return Path(out) / "pytorch_lora_weights.safetensors"


def model_card(manifest: dict) -> str:
    """README.md for the student folder (Hub model-card front matter, then what it is and how to use it)."""
    t, r, lic, tr = manifest["teacher"], manifest["recipe"], manifest["licence"], manifest["training"]
    base = t.get("repo") or t.get("folder")
    lines = [
        "---",
        f"license: {lic['name']}",
        *([f"base_model: {base}"] if t.get("repo") else []),
        "library_name: diffusers",
        "tags: [lora, latent-consistency, distill-studio]",
        "---",
        f"# {manifest['title']}",
        "",
        f"A few-step LoRA student distilled from **{t.get('title') or base}** (`{t['spec_id']}`, {t['source']}"
        f"{', revision ' + t['revision'][:10] if t.get('revision') not in (None, 'local') else ''}) with latent "
        f"consistency distillation (`studio distill`, LCM-LoRA method: arXiv 2310.04378, 2311.05556).",
        "",
        f"- **Licence:** {lic['name']} ({lic['use']}): {lic.get('source', 'inherited from the teacher')}.",
        f"- **Run it:** LCMScheduler, {r['steps']} steps (works {r['step_range'][0]}–{r['step_range'][1]}), guidance "
        f"{r['guidance']:g} (CFG off), {r['resolution']} px, on its teacher.",
        f"- **Trained:** {tr['steps_done']} steps, batch {tr['batch_size']}, lr {tr['learning_rate']:g}, rank "
        f"{tr['rank']}, {tr['loss']} loss (c={tr['huber_c']:g}), {tr['num_ddim_timesteps']} DDIM timesteps, teacher "
        f"guidance w ∈ [{tr['w_min']:g}, {tr['w_max']:g}], on {tr['images']} images at {r['resolution']} px; "
        f"{tr['seconds_per_step']:.2f} s/step on {tr['device']}.",
        "",
        "```python",
        "from diffusers import DiffusionPipeline, LCMScheduler",
        f"pipe = DiffusionPipeline.from_pretrained({base!r})",
        "pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)",
        "pipe.load_lora_weights(\"path/to/this/folder\")",
        f"image = pipe(\"your prompt\", num_inference_steps={r['steps']}, guidance_scale={r['guidance']:g}).images[0]",
        "```",
        "",
        f"In Distill Studio: `studio run <app> --student {manifest['id']}` or `studio compare <app> --student "
        f"{manifest['id']} --inputs photos/ --out cmp/`.",
    ]
    if manifest.get("tiny"):
        lines += ["", "**Tiny:** distilled from the tiny hub's random-weight teacher to test the pipeline; its images "
                      "are noise."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
