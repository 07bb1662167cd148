"""The distillation run: plan (every check before anything loads), train (the loop), finish (the student's files).

One optimizer step, for a batch of training images with their captions (LCM Algorithm 1, LCM-LoRA; see lcm.py):
  1. encode the images with the teacher's VAE and the captions with its text encoder(s);
  2. pick t_{n+k} on the 50-point DDIM grid, noise the latents to it, draw a guidance w per image;
  3. teacher (the UNet with the LoRA switched off, no grad): conditional and unconditional predictions in one batch,
     guided with w, one DDIM step to t_n;
  4. target (the UNet with the LoRA on, no grad): the consistency function at (z_{t_n}, t_n);
  5. student (LoRA on, with grad): the consistency function at (z_{t_{n+k}}, t_{n+k}); pseudo-Huber loss to the
     target; backward through the LoRA only; clip, AdamW, learning-rate schedule.
An inpainting teacher (9-channel UNet) sees the same thing plus a random mask (a box, or everything) and the masked
image's latents on every pass, so its student inpaints.

Every random draw of step s (images and their order, crops, flips, timesteps, noise, w, masks) comes from generators
seeded by (seed, s), so a run resumed from a checkpoint takes exactly the steps the uninterrupted run would have.
Training runs on the device's one torch thread (studio.engine.engine.device_worker); Ctrl+C (or `cancel`) stops it
after the current step with a checkpoint to resume from.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, RunCancelled
from ..settings import Settings
from . import data, outputs
from .teacher import Teacher, check_noncommercial, resolve_teacher, slug, teacher_spec_id

#: LoRA target modules: diffusers train_lcm_distill_lora_sdxl.py's default `--lora_target_modules` (../shared/docs/
#: round2.md §F), the modules of the released LCM-LoRAs (every attention projection, feed-forward, resnet conv and the
#: time embedding projection of each resnet).
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1",
                "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj"]  # fmt: skip
#: Teacher guidance range per family: the diffusers scripts' defaults (round2.md §F table: SDXL 3/15, SD1.5 5/15).
W_RANGE = {"sdxl": (3.0, 15.0), "sd15": (5.0, 15.0)}
#: What the student runs with (LCM-LoRA's recipe, doc §1.3): 4 steps typical, 2–8 work, CFG off.
STUDENT_STEPS, STUDENT_STEP_RANGE, STUDENT_GUIDANCE = 4, (2, 8), 1.0
#: Teacher steps for the samples sheet (our choice: the catalog teachers' 25–50-step range, low end for speed).
SAMPLE_TEACHER_STEPS = 25


@dataclass
class DistillConfig:
    """Everything `studio distill` takes. Defaults are the diffusers LCM-LoRA scripts' (round2.md §F) unless marked."""

    teacher: str
    images: Path
    out: Path
    max_steps: int = 1000  # the scripts' READMEs train 1000–3000 steps
    captions: Path | None = None
    caption: str | None = None
    name: str | None = None  # the student's id; default: the --out folder's name
    resolution: int | None = None  # default: the teacher's native side (UNet sample_size × 8)
    batch_size: int = 4  # ours: the READMEs use 12–24 on 80 GB GPUs; 4 fits smaller cards (raise it where it fits)
    grad_accum: int = 1
    learning_rate: float = 1e-4  # the LoRA READMEs' value (the full-model scripts use 1e-6)
    lr_warmup_steps: int = 0  # ours: the scripts default to 500 with a constant schedule
    rank: int = 64
    alpha: float | None = None  # default = rank (scale 1), as the scripts
    loss: str = "huber"  # the READMEs' choice (the scripts' flag defaults to l2)
    huber_c: float = 0.001
    num_ddim_timesteps: int = 50
    w_min: float | None = None  # default per family (W_RANGE)
    w_max: float | None = None
    timestep_scaling: float = 10.0
    max_grad_norm: float = 1.0
    adam_weight_decay: float = 1e-2
    seed: int = 0
    center_crop: bool = False
    flip: bool = False
    checkpoint_every: int = 250  # ours (the scripts: 500)
    keep_checkpoints: int = 2
    resume: bool = False
    mixed_precision: str = "auto"  # auto: fp16 on CUDA, none elsewhere
    gradient_checkpointing: bool = False
    samples: int | None = None  # teacher-vs-student sample rows; None: 2 on a GPU or a tiny teacher, else 0
    save_dtype: str = "fp16"  # the released LCM-LoRAs are fp16 (tinyhub.LORA_FORMAT)
    licence: str | None = None
    licence_use: str | None = None
    tiny: bool = False
    register: bool = True  # link the student into <models dir>/students so every app finds it

    def fingerprint(self, teacher: Teacher, image_set: data.ImageSet, resolution: int) -> dict:
        """What must not change between a checkpoint and a resumed run (max_steps may grow; devices may change)."""
        digest = hashlib.sha1(json.dumps([(s.path.name, s.caption) for s in image_set.samples]).encode()).hexdigest()
        w_min, w_max = self.w_range(teacher.family)
        return {"teacher": teacher.name, "teacher_revision": teacher.revision, "family": teacher.family,
                "resolution": resolution, "images": digest, "rank": self.rank, "alpha": self.alpha or self.rank,
                "loss": self.loss, "huber_c": self.huber_c, "num_ddim_timesteps": self.num_ddim_timesteps,
                "w_min": w_min, "w_max": w_max, "timestep_scaling": self.timestep_scaling,
                "batch_size": self.batch_size, "grad_accum": self.grad_accum, "learning_rate": self.learning_rate,
                "lr_warmup_steps": self.lr_warmup_steps, "seed": self.seed, "center_crop": self.center_crop,
                "flip": self.flip}  # fmt: skip

    def w_range(self, family: str) -> tuple[float, float]:
        low, high = W_RANGE[family]
        return (low if self.w_min is None else self.w_min), (high if self.w_max is None else self.w_max)


@dataclass
class Plan:
    config: DistillConfig
    settings: Settings
    teacher: Teacher
    images: data.ImageSet
    student_id: str
    resolution: int
    fingerprint: dict
    resume_from: tuple[int, Path] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class DistillResult:
    student_id: str
    folder: Path
    registered: Path | None
    steps_done: int
    seconds_per_step: float
    manifest: dict
    notes: list[str]
    resumed_from: int | None = None

    def summary(self) -> dict:
        return {"student": self.student_id, "folder": str(self.folder),
                "registered": str(self.registered) if self.registered else None, "steps": self.steps_done,
                "resumed_from": self.resumed_from, "seconds_per_step": round(self.seconds_per_step, 4),
                "teacher": self.manifest["teacher"]["spec_id"], "licence": self.manifest["licence"],
                "recipe": self.manifest["recipe"], "notes": self.notes}  # fmt: skip


class DistillStopped(RunCancelled):
    """Training was stopped (Ctrl+C or `cancel`) after a checkpoint was written."""

    exit_code = 130  # the shell's code for Ctrl+C


# --------------------------------------------------------------------------------------------- planning
def plan_run(config: DistillConfig, settings: Settings, catalog=None) -> Plan:
    """Every check that needs no model loaded: teacher, id, images, output folder, resume point."""
    from ..engine import user_students

    if catalog is None:
        from studio.models import load_catalog

        catalog = load_catalog()
    _check_numbers(config)
    teacher = resolve_teacher(config.teacher, settings, catalog, config.licence, config.licence_use)
    check_noncommercial(teacher, settings)
    resolution = config.resolution or teacher.resolution
    factor = _size_factor(teacher)
    if resolution % factor or resolution < factor:
        raise InputError(f"--resolution {resolution} must be a multiple of {factor} for this teacher's UNet "
                         f"(its native side is {teacher.resolution}).")  # fmt: skip
    out = Path(config.out).expanduser().resolve()
    student_id = config.name or slug(out.name)
    if student_id != slug(student_id):
        raise InputError(f"--name {student_id!r} must be kebab-case (lowercase letters, digits, single dashes), e.g. "
                         f"{slug(student_id)!r}.")  # fmt: skip
    problem = user_students.taken(student_id, out, settings, catalog) if config.register else None
    if problem:
        raise InputError(f"The student cannot be called '{student_id}': {problem}. Choose another with --name.")
    image_set = data.load_checked(data.scan(config.images, config.captions, config.caption), resolution,
                                  settings.max_pixels)  # fmt: skip
    fingerprint = config.fingerprint(teacher, image_set, resolution)
    plan = Plan(config, settings, teacher, image_set, student_id, resolution, fingerprint, notes=list(image_set.notes))
    done = outputs.checkpoint_dirs(out)
    if config.resume:
        if not done:
            raise InputError(f"Nothing to resume in {out}: it has no checkpoints (a run writes one every "
                             f"--checkpoint-every steps and at its end).")  # fmt: skip
        step, folder = done[-1]
        saved = json.loads((folder / "state.json").read_text())
        differ = outputs.compatible(saved.get("fingerprint", {}), fingerprint)
        if differ:
            raise InputError(f"The checkpoint at step {step} was trained with other settings, so resuming would "
                             f"mix two runs: {'; '.join(differ)}. Use the same settings, or another "
                             "--out.")  # fmt: skip
        if step >= config.max_steps:
            raise InputError(f"{out} is already at step {step}; raise --max-steps above it to train further.")
        plan.resume_from = (step, folder)
    elif done or (out / user_students.MANIFEST).is_file():
        at = f" at step {done[-1][0]}" if done else ""
        raise InputError(f"{out} already holds a distillation run{at}. Pass --resume to continue it (with a higher "
                         "--max-steps to train longer), or choose another --out.")  # fmt: skip
    return plan


def _check_numbers(c: DistillConfig) -> None:
    checks = [(c.max_steps >= 1, f"--max-steps must be at least 1; got {c.max_steps}"),
              (c.batch_size >= 1, f"--batch-size must be at least 1; got {c.batch_size}"),
              (c.grad_accum >= 1, f"--grad-accum must be at least 1; got {c.grad_accum}"),
              (c.rank >= 1, f"--rank must be at least 1; got {c.rank}"),
              (c.learning_rate > 0, f"--lr must be positive; got {c.learning_rate}"),
              (c.loss in ("huber", "l2"), f"--loss must be huber or l2; got {c.loss!r}"),
              (c.huber_c > 0, f"--huber-c must be positive; got {c.huber_c}"),
              (1 <= c.num_ddim_timesteps <= 1000, f"--num-ddim-timesteps must be 1–1000; got {c.num_ddim_timesteps}"),
              (c.checkpoint_every >= 1, f"--checkpoint-every must be at least 1; got {c.checkpoint_every}"),
              (c.keep_checkpoints >= 0, f"--keep-checkpoints must be 0 or more; got {c.keep_checkpoints}"),
              (c.save_dtype in ("fp16", "bf16", "fp32"), f"--save-dtype must be fp16, bf16 or fp32; got "
                                                         f"{c.save_dtype}"),
              (c.mixed_precision in ("auto", "no", "fp16", "bf16"),
               f"--mixed-precision must be auto, no, fp16 or bf16; got {c.mixed_precision!r}")]  # fmt: skip
    for w in (c.w_min, c.w_max):
        checks.append((w is None or 0 <= w <= 30, f"--w-min/--w-max must be in [0, 30]; got {w}"))
    if c.w_min is not None and c.w_max is not None:
        checks.append((c.w_min <= c.w_max, f"--w-min {c.w_min} is above --w-max {c.w_max}"))
    for ok, message in checks:
        if not ok:
            raise InputError(message + ".")


def _size_factor(teacher: Teacher) -> int:
    """Pixels per latent cell × the UNet's downsampling: a training side must be a multiple of it."""
    unet = json.loads((teacher.root / "unet" / "config.json").read_text())
    return 8 * 2 ** (len(unet.get("block_out_channels", (0, 0, 0, 0))) - 1)


# --------------------------------------------------------------------------------------------- the public call
def distill(config: DistillConfig, settings: Settings | None = None, progress: Callable[[dict], None] | None = None,
            cancel: Callable[[], bool] | None = None, catalog=None) -> DistillResult:  # fmt: skip
    """Plan, train and write the student. `progress(event)` gets {"phase", "step", "total", "loss", "lr",
    "seconds_per_step", ...}; `cancel()` returning True (or Ctrl+C) stops after the current step with a checkpoint
    (raising `DistillStopped`)."""
    from ..devices import pick_device
    from ..engine.engine import device_worker

    settings = settings or Settings.from_env()
    if config.tiny:
        from ..engine.tiny import ensure_hub, tiny_settings

        settings = tiny_settings(settings)
        ensure_hub(settings, echo=(lambda m: progress({"phase": "setup", "message": m})) if progress else None)
    plan = plan_run(config, settings, catalog)
    device = pick_device(settings.device)
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or bool(cancel and cancel())

    # The device's one torch thread (engine.device_worker): a second thread running torch beside it slows both.
    job = device_worker(device.device).submit(_train, plan, device, progress or (lambda event: None), stopped)
    try:
        return job.result()
    except KeyboardInterrupt:
        stop.set()
        return job.result()  # the loop checkpoints and raises DistillStopped


# --------------------------------------------------------------------------------------------- loading
@dataclass
class Models:
    unet: object
    vae: object
    text_encoders: list
    tokenizers: list
    noise: object  # DDPMScheduler with the teacher's betas (for alphas_cumprod and prediction_type)
    scheduler_config: dict  # the teacher's own scheduler config (for the samples)
    force_zeros: bool  # SDXL: the unconditional embedding is zeros (model_index force_zeros_for_empty_prompt)


def load_models(teacher: Teacher, weight_dtype) -> Models:
    import torch
    import transformers
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from ..engine.loader import quiet

    root = str(teacher.root)
    common = dict(variant=teacher.variant, local_files_only=True, use_safetensors=True)
    index = json.loads((teacher.root / "model_index.json").read_text())
    with quiet():
        unet = UNet2DConditionModel.from_pretrained(root, subfolder="unet", dtype=weight_dtype, **common)
        # The VAE stays fp32: SDXL's VAE overflows in fp16 (its config's force_upcast), and it only encodes here.
        vae = AutoencoderKL.from_pretrained(root, subfolder="vae", dtype=torch.float32, **common)
        encoders, tokenizers = [], []
        pairs = (("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2"))
        for name, tok in pairs[: 2 if teacher.family == "sdxl" else 1]:
            cls_name = index.get(name, [None, "CLIPTextModel"])[1]
            if cls_name not in ("CLIPTextModel", "CLIPTextModelWithProjection"):
                raise InputError(f"The teacher's {name} is a {cls_name}; SD1.5/SDXL teachers use CLIP text encoders.")
            encoders.append(getattr(transformers, cls_name).from_pretrained(root, subfolder=name, dtype=weight_dtype,
                                                                            **common))  # fmt: skip
            tokenizers.append(CLIPTokenizer.from_pretrained(root, subfolder=tok))
        noise = DDPMScheduler.from_pretrained(root, subfolder="scheduler")
    scheduler_config = json.loads((teacher.root / "scheduler" / "scheduler_config.json").read_text())
    for module in (unet, vae, *encoders):
        module.requires_grad_(False)
        module.eval()
    force_zeros = bool(index.get("force_zeros_for_empty_prompt", teacher.family == "sdxl"))
    return Models(unet, vae, encoders, tokenizers, noise, scheduler_config, force_zeros)


class Conditioning:
    """Caption embeddings (and SDXL's pooled embedding and size ids) the UNet takes, cond and uncond."""

    def __init__(self, models: Models, family: str, device, resolution: int):
        import torch

        self.models, self.family, self.device, self.resolution = models, family, device, resolution
        with torch.no_grad():
            embeds, pooled = self.encode([""])
        if family == "sdxl" and models.force_zeros:  # SDXL's unconditional branch is zeros (its pipeline's rule)
            embeds, pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
        self.uncond = (embeds, pooled)
        if family == "sdxl":
            unet = models.unet.config
            # The UNet's added embedding is the pooled text (its projection width) plus N size ids of
            # addition_time_embed_dim each: 6 for SDXL base (orig, crop, target), 5 with an aesthetic score.
            text_width = models.text_encoders[-1].config.projection_dim
            self.n_ids = (unet.projection_class_embeddings_input_dim - text_width) // unet.addition_time_embed_dim

    def encode(self, captions: list[str]):
        import torch

        hidden, pooled = [], None
        for tokenizer, encoder in zip(self.models.tokenizers, self.models.text_encoders):
            ids = tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                            return_tensors="pt").input_ids.to(self.device)  # fmt: skip
            if self.family == "sd15":
                return encoder(ids)[0], None
            out = encoder(ids, output_hidden_states=True)
            hidden.append(out.hidden_states[-2])  # SDXL conditions on the penultimate layer of both encoders
            pooled = out[0]  # the second encoder's projected pooled embedding
        return torch.cat(hidden, dim=-1), pooled

    def time_ids(self, prepared: list[data.Prepared], dtype):
        import torch

        rows = []
        for p in prepared:
            target = (self.resolution, self.resolution)
            ids = (*p.original_size, *p.crop_top_left, *target) if self.n_ids == 6 else (
                *p.original_size, *p.crop_top_left, 6.0)  # diffusers' default aesthetic_score  # fmt: skip
            rows.append(ids)
        return torch.tensor(rows, dtype=dtype, device=self.device)


# --------------------------------------------------------------------------------------------- training
def _seed_for(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little") >> 1


def _sample_index(seed: int, n_images: int, i: int) -> int:
    """The image at global draw `i`: each epoch is a fresh permutation of the images (seeded by the epoch)."""
    epoch, pos = divmod(i, n_images)
    return int(np.random.default_rng([seed, epoch, 7]).permutation(n_images)[pos])


def _random_masks(batch: int, size: int, generator):
    """Inpainting masks (1 = repaint): a quarter cover everything (text-to-image), the rest one box of 25–75 % sides.
    Our choice, as inpainting fine-tunes do: the student must inpaint both small regions and whole frames."""
    import torch

    masks = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        if torch.rand(1, generator=generator).item() < 0.25:
            masks[b] = 1
            continue
        h, w = (int(size * (0.25 + 0.5 * torch.rand(1, generator=generator).item())) for _ in range(2))
        top = int(torch.randint(0, size - h + 1, (1,), generator=generator))
        left = int(torch.randint(0, size - w + 1, (1,), generator=generator))
        masks[b, :, top : top + h, left : left + w] = 1
    return masks


def _train(plan: Plan, device, progress: Callable[[dict], None], stopped: Callable[[], bool]) -> DistillResult:
    import torch
    from accelerate import Accelerator
    from diffusers.optimization import get_scheduler
    from diffusers.utils.torch_utils import randn_tensor
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

    from . import lcm

    config, teacher = plan.config, plan.teacher
    out = Path(config.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    mixed = config.mixed_precision
    if mixed == "auto":
        mixed = "fp16" if device.device.startswith("cuda") else "no"
    if device.device.startswith("cuda:"):
        torch.cuda.set_device(int(device.device.split(":")[1]))
    accelerator = Accelerator(mixed_precision=mixed, gradient_accumulation_steps=config.grad_accum,
                              cpu=device.device == "cpu")  # fmt: skip
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mixed, torch.float32)
    progress({"phase": "load", "message": f"Loading the teacher {teacher.name} ({teacher.family}, {teacher.root})"})
    models = load_models(teacher, weight_dtype)
    unet = models.unet
    alpha = config.alpha or config.rank
    torch.manual_seed(_seed_for(config.seed, "lora-init"))  # PEFT draws lora_A from torch's global generator
    unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=alpha, target_modules=LORA_TARGETS))
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:  # LoRA weights train in fp32 under mixed precision (the scripts' cast_training_params)
        p.data = p.data.float()
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, betas=(0.9, 0.999),
                                  weight_decay=config.adam_weight_decay, eps=1e-8)  # fmt: skip
    lr_scheduler = get_scheduler("constant_with_warmup" if config.lr_warmup_steps else "constant", optimizer,
                                 num_warmup_steps=config.lr_warmup_steps,
                                 num_training_steps=config.max_steps)  # fmt: skip
    start, scaler_state, started_at = 0, None, outputs._now()
    if plan.resume_from is not None:
        start, folder = plan.resume_from
        lora, optimizer_state, state = outputs.load_checkpoint(folder)
        result = set_peft_model_state_dict(unet, lora)
        if getattr(result, "unexpected_keys", None):
            raise InputError(f"The checkpoint {folder} does not fit this teacher's UNet (e.g. "
                             f"{result.unexpected_keys[0]}).")  # fmt: skip
        optimizer.load_state_dict(optimizer_state)
        lr_scheduler.load_state_dict(state["lr_scheduler"])
        scaler_state = state.get("scaler")
        started_at = state.get("started", started_at)
        outputs.trim_log(out, start)
        progress({"phase": "resume", "step": start, "message": f"Resuming from {folder.name}"})
    unet.to(accelerator.device)
    models.vae.to(accelerator.device)
    for encoder in models.text_encoders:
        encoder.to(accelerator.device)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    if scaler_state and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(scaler_state)
    bare = accelerator.unwrap_model(unet)
    cond = Conditioning(models, teacher.family, accelerator.device, plan.resolution)
    grid = lcm.OdeGrid.build(models.noise.alphas_cumprod, config.num_ddim_timesteps).to(accelerator.device)
    prediction = models.noise.config.prediction_type
    w_min, w_max = config.w_range(teacher.family)
    scaling = config.timestep_scaling
    vae_scale = models.vae.config.scaling_factor
    n_images = len(plan.images)
    resized = data.ResizedCache()

    def micro_step(micro: int) -> torch.Tensor:
        """One micro-batch: returns the loss (backward already done)."""
        gen = torch.Generator().manual_seed(_seed_for(config.seed, "step", micro))
        first = (micro * accelerator.num_processes + accelerator.process_index) * config.batch_size
        draws = [first + j for j in range(config.batch_size)]
        samples = [plan.images.samples[_sample_index(config.seed, n_images, i)] for i in draws]
        prepared = [data.prepare(s.path, plan.resolution, np.random.default_rng([config.seed, i]), config.center_crop,
                                 config.flip, plan.settings.max_pixels, resized)
                    for s, i in zip(samples, draws)]  # fmt: skip
        pixels = torch.from_numpy(np.stack([p.pixels for p in prepared])).to(accelerator.device)
        bsz = pixels.shape[0]
        with torch.no_grad():
            latents = models.vae.encode(pixels).latent_dist.sample(generator=gen) * vae_scale
            embeds, pooled = cond.encode([s.caption for s in samples])
            extra = None
            if teacher.inpaint:
                mask = _random_masks(bsz, plan.resolution, gen).to(accelerator.device)
                masked = models.vae.encode(pixels * (mask < 0.5)).latent_dist.mode() * vae_scale
                small = torch.nn.functional.interpolate(mask, size=latents.shape[-2:])
                extra = torch.cat([small, masked], dim=1).to(weight_dtype)
        latents = latents.to(weight_dtype)
        embeds = embeds.to(weight_dtype)
        index, t_start, t_prev = grid.sample(bsz, gen)
        noise = randn_tensor(latents.shape, generator=gen, device=accelerator.device, dtype=latents.dtype)
        noisy = models.noise.add_noise(latents, noise, t_start)
        w = lcm.sample_guidance(bsz, w_min, w_max, gen).to(accelerator.device, latents.dtype).reshape(-1, 1, 1, 1)

        def unet_in(x):  # an inpainting UNet also takes the mask and the masked image's latents (repeated for CFG)
            if extra is None:
                return x
            return torch.cat([x, extra.to(x.dtype).repeat(x.shape[0] // extra.shape[0], 1, 1, 1)], dim=1)

        def added(pooled_embeds, n):
            if teacher.family != "sdxl":
                return None
            return {"text_embeds": pooled_embeds.to(weight_dtype), "time_ids": cond.time_ids(prepared, weight_dtype)
                    .repeat(n, 1)}  # fmt: skip

        def run(x, t, hidden, add):
            return unet(unet_in(x), t, encoder_hidden_states=hidden, added_cond_kwargs=add).sample

        with torch.no_grad(), accelerator.autocast():
            # Teacher: the same UNet with the LoRA off; conditional and unconditional in one doubled batch (like CFG).
            bare.disable_adapters()
            try:
                u_embeds, u_pooled = cond.uncond
                both_hidden = torch.cat([embeds, u_embeds.to(weight_dtype).expand_as(embeds)])
                both_pooled = torch.cat([pooled, u_pooled.expand_as(pooled)]) if pooled is not None else None
                out = run(torch.cat([noisy, noisy]), torch.cat([t_start, t_start]), both_hidden,
                          added(both_pooled, 2) if pooled is not None else None)  # fmt: skip
            finally:
                bare.enable_adapters()
            c_out, u_out = out.chunk(2)
            x0 = lcm.guided(lcm.predicted_x0(c_out, t_start, noisy, prediction, grid),
                            lcm.predicted_x0(u_out, t_start, noisy, prediction, grid), w)  # fmt: skip
            eps = lcm.guided(lcm.predicted_eps(c_out, t_start, noisy, prediction, grid),
                             lcm.predicted_eps(u_out, t_start, noisy, prediction, grid), w)  # fmt: skip
            x_prev = grid.ddim_step(x0, eps, t_prev).to(weight_dtype)
            # Target: the student's own consistency function one grid step later (LCM-LoRA keeps no EMA copy).
            target_out = run(x_prev, t_prev, embeds, added(pooled, 1))
            target = lcm.consistency(x_prev, lcm.predicted_x0(target_out, t_prev, x_prev, prediction, grid), t_prev,
                                     scaling)  # fmt: skip
        with accelerator.autocast():
            student_out = run(noisy, t_start, embeds, added(pooled, 1))
            pred = lcm.consistency(noisy, lcm.predicted_x0(student_out, t_start, noisy, prediction, grid), t_start,
                                   scaling)  # fmt: skip
            loss = lcm.distillation_loss(pred, target, config.loss, config.huber_c)
        accelerator.backward(loss)
        return loss.detach()

    def checkpoint(step: int) -> None:
        if config.keep_checkpoints == 0:
            return
        state = {"fingerprint": plan.fingerprint, "lr_scheduler": lr_scheduler.state_dict(), "started": started_at,
                 # What `studio distill --out D --resume` needs to continue without repeating the other flags.
                 "run": {"teacher": config.teacher, "images": str(Path(config.images).expanduser().resolve()),
                         "captions": str(Path(config.captions).expanduser().resolve()) if config.captions else None},
                 "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None}  # fmt: skip
        outputs.save_checkpoint(out, step, get_peft_model_state_dict(bare), optimizer.state_dict(), state,
                                config.keep_checkpoints)  # fmt: skip
        progress({"phase": "checkpoint", "step": step, "total": config.max_steps})

    unet.train()
    progress({"phase": "start", "step": start, "total": config.max_steps})
    times, cpu_times, last_loss, saved_at = [], [], None, start
    started = time.perf_counter()
    for step in range(start, config.max_steps):
        tick, cpu_tick = time.perf_counter(), time.process_time()
        losses = []
        for a in range(config.grad_accum):
            with accelerator.accumulate(unet):
                losses.append(micro_step(step * config.grad_accum + a))
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        lr_scheduler.step()
        last_loss = float(torch.stack(losses).mean())
        if not np.isfinite(last_loss):
            raise InputError(f"The loss became {last_loss} at step {step + 1}: lower --lr, or use --mixed-precision "
                             "no (or bf16) if fp16 overflowed.")  # fmt: skip
        times.append(time.perf_counter() - tick)
        # CPU seconds too: on a shared machine the wall time says as much about the neighbours as about the step.
        cpu_times.append(time.process_time() - cpu_tick)
        done = step + 1
        lr = lr_scheduler.get_last_lr()[0]
        outputs.append_log(out, {"step": done, "loss": round(last_loss, 6), "lr": lr, "seconds": round(times[-1], 4),
                                 "cpu_seconds": round(cpu_times[-1], 4)})  # fmt: skip
        progress({"phase": "train", "step": done, "total": config.max_steps, "loss": last_loss, "lr": lr,
                  "seconds_per_step": times[-1]})  # fmt: skip
        if done % config.checkpoint_every == 0 or done == config.max_steps:
            checkpoint(done)
            saved_at = done
        if stopped() and done < config.max_steps:
            if saved_at != done:
                checkpoint(done)
            raise DistillStopped(f"Distillation stopped at step {done} of {config.max_steps}; the checkpoint is in "
                                 f"{out / outputs.CHECKPOINTS}. Continue with the same command and "
                                 "--resume.")  # fmt: skip
    # The first step pays for allocations and warm-up: the median of the rest is the honest per-step cost.
    per_step = statistics.median(times[1:] if len(times) > 1 else times)
    cpu_per_step = statistics.median(cpu_times[1:] if len(cpu_times) > 1 else cpu_times)
    lora = get_peft_model_state_dict(bare)
    outputs.write_lora(out, lora, teacher.family, config.rank, alpha, LORA_TARGETS, config.save_dtype)
    notes = list(plan.notes)
    n_samples = config.samples if config.samples is not None else (
        2 if device.device != "cpu" or plan.resolution <= 128 else 0)  # fmt: skip
    if n_samples and teacher.inpaint:
        notes.append("No samples sheet: the teacher is an inpainting model (compare it in an app instead).")
    elif n_samples:
        progress({"phase": "samples", "message": f"Sampling teacher vs student on {n_samples} captions"})
        _samples(plan, models, bare, accelerator, n_samples, out / outputs.SAMPLES)
    elif config.samples is None:
        notes.append("No samples sheet on the CPU (minutes per teacher image); --samples 2 makes one.")
    manifest = _manifest(plan, out, per_step, done_steps=config.max_steps, final_loss=last_loss,
                         device=device.device, mixed=mixed, wall=time.perf_counter() - started,
                         started_at=started_at, cpu_per_step=cpu_per_step)  # fmt: skip
    (out / "student.json").write_text(json.dumps(manifest, indent=2))
    (out / "README.md").write_text(outputs.model_card(manifest))
    registered = None
    if config.register:
        from ..engine.user_students import register

        registered = register(out, plan.settings)
    progress({"phase": "done", "step": config.max_steps, "total": config.max_steps})
    accelerator.end_training()
    return DistillResult(plan.student_id, out, registered, config.max_steps, per_step, manifest, notes,
                         resumed_from=plan.resume_from[0] if plan.resume_from else None)  # fmt: skip


def _scheduler_overrides(config: DistillConfig) -> dict:
    """LCMScheduler settings that must match the training grid, where they differ from its defaults (50 original
    inference steps, timestep scaling 10)."""
    overrides = {}
    if config.num_ddim_timesteps != 50:
        overrides["original_inference_steps"] = config.num_ddim_timesteps
    if config.timestep_scaling != 10.0:
        overrides["timestep_scaling"] = config.timestep_scaling
    return overrides


def _manifest(plan: Plan, out: Path, per_step: float, done_steps: int, final_loss, device: str, mixed: str,
              wall: float, started_at: str, cpu_per_step: float) -> dict:  # fmt: skip
    from ..engine.user_students import FORMAT, LORA_FILE

    config, teacher = plan.config, plan.teacher
    w_min, w_max = config.w_range(teacher.family)
    overrides = _scheduler_overrides(config)
    lic = teacher.licence
    title = f"{plan.student_id} (LCM-LoRA of {teacher.title})"
    return {
        "format": FORMAT, "id": plan.student_id, "title": title, "kind": "lora", "family": teacher.family,
        "weights": LORA_FILE, "size_mb": round((out / LORA_FILE).stat().st_size / 1e6, 3),
        "teacher": {**teacher.describe(), "spec_id": teacher_spec_id(teacher)},
        "recipe": {"scheduler": "LCMScheduler", "scheduler_overrides": overrides, "steps": STUDENT_STEPS,
                   "step_range": list(STUDENT_STEP_RANGE), "guidance": STUDENT_GUIDANCE,
                   "resolution": plan.resolution},
        "licence": {"name": lic.name, "use": lic.use,
                    "source": f"inherited from the teacher {teacher.name} ({lic.source})"},
        "training": {"steps_done": done_steps, "resumed_from": plan.resume_from[0] if plan.resume_from else None,
                     "images": len(plan.images), "caption_sources": plan.images.describe()["caption_sources"],
                     "seconds_per_step": round(per_step, 4), "cpu_seconds_per_step": round(cpu_per_step, 4),
                     "wall_seconds": round(wall, 1), "device": device,
                     "mixed_precision": mixed, "final_loss": final_loss,
                     "started": started_at, "finished": outputs._now(),
                     **{k: v for k, v in asdict(config).items() if k in (
                         "batch_size", "grad_accum", "learning_rate", "lr_warmup_steps", "rank", "loss", "huber_c",
                         "num_ddim_timesteps", "timestep_scaling", "seed", "center_crop", "flip")},
                     "alpha": config.alpha or config.rank, "w_min": w_min, "w_max": w_max,
                     "lora_targets": LORA_TARGETS},
        "tiny": bool(config.tiny),
    }  # fmt: skip


def _samples(plan: Plan, models: Models, unet, accelerator, count: int, path: Path) -> None:
    """samples.png: per caption, the teacher (its own scheduler, SAMPLE_TEACHER_STEPS, real CFG) and the student
    (LCMScheduler, STUDENT_STEPS, CFG off) from the same seed."""
    import torch
    from diffusers import LCMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from PIL import Image

    from ..engine.loader import diffusers_class, quiet
    from ..tiles import grid

    teacher = plan.teacher
    captions = list(dict.fromkeys(s.caption for s in plan.images.samples))[:count]
    guidance = 7.5 if teacher.family == "sd15" else 6.0  # the catalog teachers' recipes (sd15, sdxl-base)
    base = {k: v for k, v in models.scheduler_config.items() if not k.startswith("_")}
    overrides = _scheduler_overrides(plan.config)
    with quiet():  # ("config attributes … will be ignored": the teacher's scheduler keys LCMScheduler lacks)
        teacher_sched = diffusers_class(models.scheduler_config["_class_name"]).from_config(base)
        student_sched = LCMScheduler.from_config(base, **overrides)
        parts = dict(vae=models.vae, unet=unet, scheduler=teacher_sched, text_encoder=models.text_encoders[0],
                     tokenizer=models.tokenizers[0])  # fmt: skip
        if teacher.family == "sdxl":
            pipe = StableDiffusionXLPipeline(**parts, text_encoder_2=models.text_encoders[1],
                                             tokenizer_2=models.tokenizers[1],
                                             force_zeros_for_empty_prompt=models.force_zeros)  # fmt: skip
        else:
            pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                           requires_safety_checker=False)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    rows, labels = [], []
    unet.eval()
    for i, caption in enumerate(captions):
        row = []
        for who, sched, steps, cfg in (("teacher", teacher_sched, SAMPLE_TEACHER_STEPS, guidance),
                                       ("student", student_sched, STUDENT_STEPS, STUDENT_GUIDANCE)):  # fmt: skip
            pipe.scheduler = sched
            (unet.disable_adapters if who == "teacher" else unet.enable_adapters)()
            try:
                with torch.no_grad(), accelerator.autocast():
                    latents = pipe(caption, num_inference_steps=steps, guidance_scale=cfg, height=plan.resolution,
                                   width=plan.resolution, output_type="latent",
                                   generator=torch.Generator().manual_seed(plan.config.seed + i)).images
                    image = models.vae.decode(latents.float() / models.vae.config.scaling_factor).sample
            finally:
                unet.enable_adapters()
            row.append(((image[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy())
        rows.append(row)
        # ASCII only: the label font has no other glyphs.
        labels.append([f"teacher {SAMPLE_TEACHER_STEPS} steps, CFG {guidance:g}",
                       f"student {STUDENT_STEPS} steps: {caption}"])
    Image.fromarray(grid(rows, 256, labels=labels, gap=4)).save(path)
