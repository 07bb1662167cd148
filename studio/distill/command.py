"""The `studio distill` subcommand: flags, a progress bar, and what to run next.

    studio distill --teacher sd15 --images photos/ --max-steps 1000 --out runs/mine
    studio distill --teacher runs/my-finetune --images photos/ --captions photos/metadata.jsonl --out runs/brand
    studio distill --tiny --images photos/ --max-steps 4 --out /tmp/tiny-student     # the tiny hub, on the CPU
    studio distill --out runs/mine --resume --max-steps 2000                         # continue a run
    studio distill --list                                                            # your registered students

This module imports nothing heavy: the run itself (torch, diffusers, peft, accelerate) starts in `train.distill`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .train import DistillConfig


def add_parser(sub) -> argparse.ArgumentParser:
    d = DistillConfig("", Path(), Path())  # the defaults, for the help texts
    p = sub.add_parser("distill", help="distil a teacher (catalog id, HF repo or folder) into a few-step LoRA student",
                       description="Latent consistency distillation (LCM-LoRA) of a teacher into a LoRA student that "
                                   "every app of its family can pick (--student) and Compare puts beside its teacher.")
    p.add_argument("--teacher", default=None,
                   help="catalog id (sd15, sdxl-base, sd15-inpainting, …), Hugging Face repo id (owner/name) or a "
                        "diffusers pipeline folder; default with --tiny: sd15")
    p.add_argument("--images", type=Path, default=None, help="folder of training images (or one image)")
    p.add_argument("--captions", type=Path, default=None,
                   help="metadata.jsonl (file_name, text) or CSV; default: metadata.jsonl in the folder, .txt "
                        "sidecars, --caption, then the file names' words")
    p.add_argument("--caption", default=None, help="caption for every image that has none")
    p.add_argument("--out", type=Path, default=None, help="run folder: LoRA, student.json, checkpoints (required)")
    p.add_argument("--name", default=None, help="the student's id (kebab-case; default: the --out folder's name)")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help=f"optimizer steps (default {d.max_steps})")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--tiny", action="store_true",
                   help="run on the tiny hub's random-weight teacher (CPU, seconds): tests the whole path")
    train = p.add_argument_group("training (defaults: the diffusers LCM-LoRA scripts')")
    train.add_argument("--resolution", type=int, default=None, help="training side in px (default: the teacher's)")
    train.add_argument("--batch-size", type=int, default=d.batch_size,
                       help=f"images per step (default {d.batch_size})")  # fmt: skip
    train.add_argument("--grad-accum", type=int, default=d.grad_accum, help="gradient accumulation steps")
    train.add_argument("--lr", type=float, default=d.learning_rate, dest="learning_rate",
                       help=f"learning rate (default {d.learning_rate:g})")  # fmt: skip
    train.add_argument("--lr-warmup-steps", type=int, default=d.lr_warmup_steps,
                       help=f"steps of linear learning-rate warm-up (default {d.lr_warmup_steps})")  # fmt: skip
    train.add_argument("--rank", type=int, default=d.rank, help=f"LoRA rank (default {d.rank}; alpha = rank)")
    train.add_argument("--loss", choices=("huber", "l2"), default=d.loss,
                       help=f"consistency loss: pseudo-Huber or squared error (default {d.loss})")  # fmt: skip
    train.add_argument("--huber-c", type=float, default=d.huber_c,
                       help=f"the pseudo-Huber loss's c (default {d.huber_c:g})")  # fmt: skip
    train.add_argument("--num-ddim-timesteps", type=int, default=d.num_ddim_timesteps,
                       help=f"DDIM solver steps the teacher's schedule is cut into "
                            f"(default {d.num_ddim_timesteps})")  # fmt: skip
    train.add_argument("--w-min", type=float, default=None, help="teacher guidance range low (SDXL 3, SD1.5 5)")
    train.add_argument("--w-max", type=float, default=None, help="teacher guidance range high (15)")
    train.add_argument("--seed", type=int, default=d.seed, help=f"random seed of the run (default {d.seed})")
    train.add_argument("--center-crop", action="store_true", help="centre crops (default: random crops)")
    train.add_argument("--flip", action="store_true", help="random horizontal flips")
    train.add_argument("--mixed-precision", choices=("auto", "no", "fp16", "bf16"), default=d.mixed_precision,
                       help="autocast precision (default auto: fp16 on CUDA, none elsewhere)")  # fmt: skip
    train.add_argument("--gradient-checkpointing", action="store_true", help="less GPU memory, slower steps")
    train.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                       help=f"save a resumable checkpoint every this many steps "
                            f"(default {d.checkpoint_every})")  # fmt: skip
    train.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints,
                       help=f"checkpoints kept, the newest (default {d.keep_checkpoints}; 0 saves none)")  # fmt: skip
    train.add_argument("--samples", type=int, default=None,
                       help="teacher-vs-student sample rows in samples.png (default: 2 on a GPU or --tiny, else 0)")
    train.add_argument("--save-dtype", choices=("fp16", "bf16", "fp32"), default=d.save_dtype,
                       help=f"dtype of the saved LoRA (default {d.save_dtype})")  # fmt: skip
    lic = p.add_argument_group("licence (inherited from the teacher)")
    lic.add_argument("--licence", default=None, help="the teacher's licence tag when its model card has none")
    lic.add_argument("--licence-use", choices=("commercial", "non-commercial", "unverified"), default=None,
                     help="the use that licence allows, as you have read it")
    p.add_argument("--no-register", action="store_true",
                   help="do not link the student into <models>/students (apps will not list it)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: STUDIO_DEVICE, else auto)")
    p.add_argument("--list", action="store_true", help="list your registered students and exit")
    p.set_defaults(func=run)
    return p


def _progress_bar():
    from tqdm.auto import tqdm

    bar = {"bar": None}

    def progress(event: dict) -> None:
        phase = event.get("phase")
        if phase == "start":
            bar["bar"] = tqdm(total=event["total"], initial=event["step"], desc="distilling", unit="step",
                              file=sys.stderr, dynamic_ncols=True)  # fmt: skip
        elif phase == "train" and bar["bar"] is not None:
            bar["bar"].update(1)
            bar["bar"].set_postfix(loss=f"{event['loss']:.4f}", lr=f"{event['lr']:.1e}",
                                   s_per_step=f"{event['seconds_per_step']:.2f}")  # fmt: skip
        elif event.get("message"):
            (bar["bar"].write if bar["bar"] is not None else lambda m: print(m, file=sys.stderr))(event["message"])
        if phase == "done" and bar["bar"] is not None:
            bar["bar"].close()

    return progress


def run(args) -> int:
    from ..settings import Settings
    from .train import distill

    settings = Settings.from_env()
    if args.device:
        from ..devices import check_device_name

        settings = settings.with_overrides(device=check_device_name(args.device))
    if args.list:
        return _list(settings, args.tiny)
    if args.out is None:
        raise SystemExit("studio distill: error: --out is required (the run folder)")
    if args.images is None and not args.resume:
        raise SystemExit("studio distill: error: --images is required (a folder of training images)")
    teacher = args.teacher or ("sd15" if args.tiny else None)
    images, captions = args.images, args.captions
    if args.resume and (teacher is None or images is None):  # a resumed run may take the rest from its checkpoint
        teacher, images, captions = _from_run(args.out, teacher, images, captions)
    if teacher is None:
        raise SystemExit("studio distill: error: --teacher is required (a catalog id, owner/name or a folder)")
    config = DistillConfig(
        teacher=teacher, images=images, out=args.out, max_steps=args.max_steps, captions=captions,
        caption=args.caption, name=args.name, resolution=args.resolution, batch_size=args.batch_size,
        grad_accum=args.grad_accum, learning_rate=args.learning_rate, lr_warmup_steps=args.lr_warmup_steps,
        rank=args.rank, loss=args.loss, huber_c=args.huber_c, num_ddim_timesteps=args.num_ddim_timesteps,
        w_min=args.w_min, w_max=args.w_max, seed=args.seed, center_crop=args.center_crop, flip=args.flip,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints, resume=args.resume,
        mixed_precision=args.mixed_precision, gradient_checkpointing=args.gradient_checkpointing,
        samples=args.samples, save_dtype=args.save_dtype, licence=args.licence, licence_use=args.licence_use,
        tiny=args.tiny, register=not args.no_register,
    )  # fmt: skip
    result = distill(config, settings, progress=_progress_bar())
    summary = result.summary()
    print(json.dumps(summary, indent=2))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    sid, tiny = result.student_id, " --tiny" if args.tiny else ""
    apps = ", ".join(_apps_for(result.manifest["family"])) or "none yet"
    print(f"Student '{sid}' ({result.steps_done} steps, {result.seconds_per_step:.2f} s/step) is in {result.folder}"
          + (f" and registered as {result.registered}." if result.registered else ".") +
          f"\nApps of its family ({result.manifest['family']}): {apps}. Try it:\n"
          f"  studio compare <app>{tiny} --student {sid} --inputs <photos> --out <folder>\n"
          f"  studio run <app>{tiny} --student {sid} ...", file=sys.stderr)  # fmt: skip
    return 0


def _from_run(out: Path, teacher, images, captions):
    """--teacher / --images / --captions of the run in `out`, read from its last checkpoint's record."""
    from .outputs import checkpoint_dirs

    done = checkpoint_dirs(Path(out).expanduser())
    if not done:
        raise SystemExit(f"studio distill: error: nothing to resume in {out} (no checkpoints)")
    record = json.loads((done[-1][1] / "state.json").read_text()).get("run", {})
    return (teacher or record.get("teacher"), images or (Path(record["images"]) if record.get("images") else None),
            captions or (Path(record["captions"]) if record.get("captions") else None))  # fmt: skip


def _apps_for(family: str) -> list[str]:
    from studio.models import load_catalog

    return [a.app for a in load_catalog().apps.values() if a.family == family]


def _list(settings, tiny: bool) -> int:
    from ..engine.user_students import scan

    if tiny:
        from ..engine.tiny import tiny_settings

        settings = tiny_settings(settings)
    students, problems = scan(settings)
    rows = [{"id": s.id, "family": s.spec.family, "teacher": s.teacher_id,
             "steps": s.manifest["training"]["steps_done"], "licence": s.spec.licence.describe(),
             "folder": str(s.folder.resolve())} for s in students]  # fmt: skip
    print(json.dumps({"students": rows, "problems": problems}, indent=2))
    return 0
