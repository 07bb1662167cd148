"""The model catalog: every student, teacher, adapter and preview decoder the studio knows, as data.

Facts come from `../shared/docs/model-catalog.md` (cited as "doc §n"), which cites the model cards, repos
and diffusers source it read, and from the model cards themselves (cited as "card", with the line quoted).
Every setting an entry uses carries its source in `sources=cite(...)` (`studio fetch --dry-run` prints them);
the catalog refuses to load an entry with a setting nobody cited. Marks used:
  - "(unverified)": the doc marks the fact unverified, or it comes from memory; check the card before relying on it.
  - "our choice": no card gives the value; the reason is given instead.
  - "est.": a file size estimated as parameter count × bytes per parameter, not read from the Hub.
    `studio fetch --dry-run` asks the Hub for real sizes when it can and falls back to these.

Not catalogued, on purpose:
  - SD3.5 Large Turbo, FLUX.1-schnell, SANA-Sprint (doc §1.8–1.10): transformer (DiT) families with no SD/SDXL
    ControlNet or IP-Adapter ecosystem; the engine runs the sd15/sdxl UNet families only.
  - SD-Turbo and TCD-SD21 (SD 2.1 family), the SDXL refiner and SD2 inpainting: no app uses them.
  - InstantID, IP-Adapter FaceID, PhotoMaker, IDM-VTON (doc §3.3–3.6, §6.2): non-commercial through InsightFace or
    their licence, and they need community pipeline code or face embeddings the engine does not produce.
  Non-commercial models that the engine *can* run (DMD2, SDXL-Turbo) are listed and are opt-in
  (`studio fetch ... --include-noncommercial`); no app default uses them.
"""

from __future__ import annotations

from studio.engine.specs import FileSpec, Licence, ModelSpec, cite, scheduler

# ------------------------------------------------------------------------------------------------------------ licences
OPENRAIL_M = Licence("creativeml-openrail-m", "commercial", "doc §7 (OpenRAIL-M use restrictions apply)")
OPENRAIL_PP = Licence("openrail++", "commercial", "model card metadata, doc §1.1/§1.2/§7")
OPENRAIL_PP_UNVERIFIED = Licence("openrail++", "unverified", "card tag not read here")
APACHE = Licence("apache-2.0", "commercial", "model card, doc §3.1/§3.2/§7")
MIT = Licence("mit", "commercial", "doc §1.3/§3.7/§7")
CC_BY_NC_SA = Licence("cc-by-nc-sa-4.0", "non-commercial", "repo LICENSE, doc §1.5/G9")
SAI_NC = Licence("sai-nc-community", "non-commercial", "HF tree licence tag, doc §1.7")
UNVERIFIED = Licence("unknown", "unverified", "doc §9: licence not verified")

MB = 1.0
GB = 1000.0

# ---------------------------------------------------------------------------------------------------------- schedulers
# doc §1.1: Lightning uses Euler with trailing spacing; the 1-step x0 model predicts the sample directly.
EULER_TRAILING = scheduler("EulerDiscreteScheduler", timestep_spacing="trailing")
EULER_TRAILING_X0 = scheduler("EulerDiscreteScheduler", timestep_spacing="trailing", prediction_type="sample")
# doc §1.2: Hyper-SD N-step LoRAs use DDIM trailing (SD1.5 and CFG variants unverified); 1-step uses TCD.
DDIM_TRAILING = scheduler("DDIMScheduler", timestep_spacing="trailing")
# PCM card: "When using DDIM, set timestep_spacing="trailing", clip_sample = False and set_alpha_to_one = False."
DDIM_TRAILING_PCM = scheduler("DDIMScheduler", timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=False)
LCM = scheduler("LCMScheduler")
TCD = scheduler("TCDScheduler")

# ------------------------------------------------------------------------------------------------- quoted card lines
# SDXL-Lightning card (huggingface.co/ByteDance/SDXL-Lightning README; doc §1.1).
LIGHTNING_SRC = "doc §1.1 (README at huggingface.co/ByteDance/SDXL-Lightning, tree c9a24f48)"
LIGHTNING_CITES = cite(
    scheduler="Lightning card: 'EulerDiscreteScheduler.from_config(pipe.scheduler.config, "
              'timestep_spacing="trailing")\' ("Ensure sampler uses "trailing" timesteps")',
    steps='Lightning card: "Please always use the correct checkpoint for the corresponding inference steps."',
    step_range="step-locked: one checkpoint per step count (Lightning card, same line as steps)",
    guidance="Lightning card example: 'num_inference_steps=4, guidance_scale=0'",
)  # fmt: skip
# Hyper-SD card (huggingface.co/ByteDance/Hyper-SD README a08b9c3/ed14162/0d30c24; doc §1.2).
HYPER_SRC = "doc §1.2 (Hyper-SD README a08b9c3/ed14162/0d30c24)"
HYPER_NSTEP_CITES = cite(
    scheduler='Hyper-SD card, N-step LoRA example: "# Ensure ddim scheduler timestep spacing set as trailing" '
              "(the SD1.5 section is assumed to match the SDXL one: unverified, doc §1.2)",
    steps="Hyper-SD card: the N-step LoRAs (Hyper-SDXL-Nstep-lora) run N steps, 'num_inference_steps=2' for 2 steps",
    step_range="step-locked: one LoRA per step count (Hyper-SD card checkpoint list)",
    guidance="Hyper-SD card N-step example: 'guidance_scale=0'",
)  # fmt: skip
HYPER_CFG_CITES = cite(
    scheduler="DDIM trailing, as the N-step LoRAs (unverified for the CFG LoRAs, doc §1.2)",
    steps="Hyper-SD card: 'Our 8-Steps CFG-Preserved Hyper-SDXL-8steps-CFG-LoRA … we strongly recommend making the "
          "8-step CFGLora a standard configuration'",
    step_range="step-locked: one LoRA per step count (8 or 12)",
    guidance="Hyper-SD card: '(support 5~8 guidance scales)'; 5 = its low end, our choice for few-step stability",
)  # fmt: skip
HYPER_1STEP_CITES = cite(
    scheduler="Hyper-SD card (README diff 831b863): the unified 1-step LoRA runs TCDScheduler",
    steps="Hyper-SD card: 1-step LoRA",
    step_range="Hyper-SD card: 'ComfyUI workflows on 1-Step Unified LoRA with TCDScheduler to inference on different "
               "steps'; doc §1.2: '1 (also usable at more steps)'; the 8-step ceiling is our choice (unverified)",
    guidance="Hyper-SD card 1-step example: 'guidance_scale=0'",
    eta="Hyper-SD card: 'eta=1.0' with TCDScheduler ('lower eta results in more detail for multi-steps inference')",
)  # fmt: skip
# TCD (h1t cards, diffusers docs inference_with_tcd_lora.md; doc §1.4).
TCD_SRC = "doc §1.4 (inference_with_tcd_lora.md; scheduling_tcd.py) and §10"
# Both TCD repos are tagged "License: mit" on the Hub (TCD-SDXL-LoRA tree page; TCD-SD15-LoRA per the issue-12 review).
TCD_LICENCE = Licence("mit", "commercial", "Hub licence tag 'mit' on h1t/TCD-SDXL-LoRA and h1t/TCD-SD15-LoRA")
TCD_CITES = dict(
    scheduler="TCD card: 'pipe.scheduler = TCDScheduler.from_config(pipe.scheduler.config)'",
    steps="TCD card example: 'num_inference_steps=4'",
    guidance="TCD card example: 'guidance_scale=0'",
    eta="TCD card: 'A value of 0.3 often yields good results' (passed explicitly: pipelines default eta to 0, G4)",
    inpaint_strength="diffusers TCD docs, inpainting: 'strength=0.99' (not 1.0)",
    inpaint_steps="diffusers TCD docs, inpainting example: 'num_inference_steps=8' (4 is the text-to-image count)",
)
# DMD2 (tianweiy/DMD2 README, snapshot 8d8fa55; doc §1.5).
DMD2_SRC = "doc §1.5 (tianweiy/DMD2 README, snapshot 8d8fa55)"
# PCM card (huggingface.co/wangfuyun/PCM_Weights README, main).
PCM_SRC = "PCM card (wangfuyun/PCM_Weights README) and doc §1.6 (G-U-N/Phased-Consistency-Model, snapshot b127277)"
PCM_SCHEDULER = ('PCM card: "Use DDIM or Euler instead of LCM for sampling! When using DDIM, set '
                 'timestep_spacing="trailing", clip_sample = False and set_alpha_to_one = False."')
PCM_STEPS = 'PCM card: "The name of each LoRA weights indicates how many inference steps they should be applied."'
#: PCM normal-CFG guidance per step count. Card: "use CFG 2.5 - 3.5 with 4 four steps and use CFG 3 - 6 with 8 steps"
#: (the mid-points); 16 steps: the card gives only "CFG value 2-9" and "When using fewer steps, you should use smaller
#: CFGs", so 6 is our choice within that range.
PCM_NORMAL_CFG = {4: (3.0, "card: 'use CFG 2.5 - 3.5 with 4 four steps' (mid-point)"),
                  8: (4.5, "card: 'use CFG 3 - 6 with 8 steps' (mid-point)"),
                  16: (6.0, "our choice inside the card's 'CFG value 2-9': more steps tolerate more CFG (its rule)")}


# ---------------------------------------------------------------------------------------------------------- file lists
def _tokenizer(folder: str) -> tuple[FileSpec, ...]:
    # The CLIP BPE files every SD/SDXL repo ships (vocab.json ~1.06 MB, merges.txt ~0.52 MB).
    return (
        FileSpec(f"{folder}/merges.txt", 0.52),
        FileSpec(f"{folder}/special_tokens_map.json"),
        FileSpec(f"{folder}/tokenizer_config.json"),
        FileSpec(f"{folder}/vocab.json", 1.06),
    )


def _component(folder: str, weights: str, size_mb: float | None, variant: str | None) -> tuple[FileSpec, ...]:
    stem, ext = weights.rsplit(".", 1)
    name = f"{stem}.{variant}.{ext}" if variant else weights
    return (FileSpec(f"{folder}/config.json"), FileSpec(f"{folder}/{name}", size_mb))


def sd15_files(variant: str | None = "fp16", unet_mb: float = 1719, te_mb: float = 246, vae_mb: float = 167):
    """Files of an SD1.5-layout diffusers repo without the safety checker (the studio does not run it).

    Sizes est.: UNet 859.5 M params, CLIP-L text encoder 123 M, VAE 83.7 M, at 2 bytes (fp16).
    """
    return (
        FileSpec("model_index.json"),
        FileSpec("scheduler/scheduler_config.json"),
        *_component("text_encoder", "model.safetensors", te_mb, variant),
        *_tokenizer("tokenizer"),
        *_component("unet", "diffusion_pytorch_model.safetensors", unet_mb, variant),
        *_component("vae", "diffusion_pytorch_model.safetensors", vae_mb, variant),
    )


def sdxl_files(variant: str | None = "fp16"):
    """Files of an SDXL-layout diffusers repo. Sizes est.: UNet 2.57 B params, CLIP-L 123 M, OpenCLIP-bigG text
    695 M, VAE 83.7 M, at 2 bytes (fp16)."""
    return (
        FileSpec("model_index.json"),
        FileSpec("scheduler/scheduler_config.json"),
        *_component("text_encoder", "model.safetensors", 246, variant),
        *_component("text_encoder_2", "model.safetensors", 1389, variant),
        *_tokenizer("tokenizer"),
        *_tokenizer("tokenizer_2"),
        *_component("unet", "diffusion_pytorch_model.safetensors", 5135, variant),
        *_component("vae", "diffusion_pytorch_model.safetensors", 167, variant),
    )


# --------------------------------------------------------------------------------------------------- teachers (doc §2)
SD15_TEACHER = cite(steps="doc §2 SD 1.5 row: '25–50 steps' (30: our middle)", guidance="doc §2: 'CFG 7–7.5'")
TEACHERS = [
    ModelSpec(
        "sd15", "Stable Diffusion 1.5", "pipeline", "teacher", "sd15",
        "stable-diffusion-v1-5/stable-diffusion-v1-5", sd15_files(), OPENRAIL_M,
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        source="doc §2 (replaces the deleted runwayml repo, G1); 25–50 steps, CFG 7–7.5", sources=SD15_TEACHER,
    ),
    ModelSpec(
        "sd15-inpainting", "Stable Diffusion 1.5 inpainting", "pipeline", "teacher", "sd15",
        "stable-diffusion-v1-5/stable-diffusion-inpainting", sd15_files(), OPENRAIL_M,
        variant="fp16", pipeline="StableDiffusionInpaintPipeline", inpaint=True, steps=30, guidance=7.5,
        resolution=512, notes="9-channel UNet; fp16 variant files (unverified)",
        source="doc §2; LCM-LoRA SD1.5 works on it (doc §1.3)",
        sources=cite(steps="doc §2 SD 1.5 row (the inpainting row gives none): '25–50 steps'",
                     guidance="doc §2 SD 1.5 row: 'CFG 7–7.5'"),
    ),
    ModelSpec(
        "sdxl-base", "SDXL base 1.0", "pipeline", "teacher", "sdxl",
        "stabilityai/stable-diffusion-xl-base-1.0", sdxl_files(), OPENRAIL_PP,
        variant="fp16", pipeline="StableDiffusionXLPipeline", steps=30, guidance=6.0, resolution=1024,
        source="doc §2: 25–40 steps, CFG 5–7; teacher of Lightning, Hyper, DMD2, TCD and LCM",
        sources=cite(steps="doc §2 SDXL base row: '25–40 steps'", guidance="doc §2 SDXL base row: 'CFG 5–7'"),
    ),
    # Card (huggingface.co/diffusers/stable-diffusion-xl-1.0-inpainting-0.1), example call: 'guidance_scale=8.0,
    # num_inference_steps=20,  # steps between 15 and 30 work well for us', 'strength=0.99,  # make sure to use
    # `strength` below 1.0'; Limitations: "When the strength parameter is set to 1 (i.e. starting in-painting from a
    # fully masked image), the quality of the image is degraded."
    ModelSpec(
        "sdxl-inpainting", "SDXL 1.0 inpainting 0.1", "pipeline", "teacher", "sdxl",
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", sdxl_files(),
        Licence("openrail++", "commercial", "fine-tune of SDXL base; card tag openrail++ (not re-read here)"),
        variant="fp16", pipeline="StableDiffusionXLInpaintPipeline", inpaint=True, steps=30, guidance=8.0,
        resolution=1024, inpaint_strength=0.99,
        source="doc §2; TCD-SDXL-LoRA works on it (8 steps, eta 0.3, strength 0.99)",
        sources=cite(steps="card: 'num_inference_steps=20,  # steps between 15 and 30 work well for us'",
                     guidance="card example: 'guidance_scale=8.0'",
                     inpaint_strength="card: 'strength=0.99,  # make sure to use `strength` below 1.0'; Limitations: "
                                      "'When the strength parameter is set to 1 … the quality of the image is "
                                      "degraded'"),  # fmt: skip
    ),
    ModelSpec(
        "dreamshaper-7", "Dreamshaper 7", "pipeline", "teacher", "sd15", "Lykon/dreamshaper-7", sd15_files(),
        Licence("creativeml-openrail-m", "unverified", "not read here"),
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        notes="teacher of LCM Dreamshaper v7; fp16 variant files (unverified)", source="doc §2", sources=SD15_TEACHER,
    ),
    ModelSpec(
        "dreamshaper-8", "Dreamshaper 8", "pipeline", "teacher", "sd15", "Lykon/dreamshaper-8", sd15_files(),
        Licence("creativeml-openrail-m", "unverified", "not read here"),
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        notes="fp16 variant files (unverified)", source="doc §2", sources=SD15_TEACHER,
    ),
]  # fmt: skip


# --------------------------------------------------------------------------------------------------- students (doc §1)
def _lora_student(sid, title, family, repo, path, size_mb, licence, sched, steps, guidance, **kw) -> ModelSpec:
    base = "sd15" if family == "sd15" else "sdxl-base"
    resolution = 512 if family == "sd15" else 1024
    return ModelSpec(sid, title, "lora", "student", family, repo, (FileSpec(path, size_mb),), licence, base=base,
                     scheduler=sched, steps=steps, guidance=guidance, resolution=resolution, **kw)  # fmt: skip


LIGHTNING = "ByteDance/SDXL-Lightning"
HYPER = "ByteDance/Hyper-SD"

STUDENTS: list[ModelSpec] = []

# SDXL-Lightning LoRAs: steps must equal N, CFG off. 4-step size is exact (393,854,592 B, doc §10). The card: "The
# full UNet models have the best quality while the LoRA models can be applied to other base models", so on SDXL base
# the apps default to the UNet; the LoRA stays for lower memory (394 MB against 5.1 GB) and other SDXL bases.
for n in (2, 4, 8):
    STUDENTS.append(_lora_student(
        f"lightning-sdxl-{n}step-lora", f"SDXL-Lightning {n}-step LoRA", "sdxl", LIGHTNING,
        f"sdxl_lightning_{n}step_lora.safetensors", 393.85, OPENRAIL_PP, EULER_TRAILING, n, 0.0,
        notes="the card prefers the full UNet on SDXL base (best quality); the LoRA is for other SDXL bases",
        source=LIGHTNING_SRC, sources=LIGHTNING_CITES,
    ))  # fmt: skip
# SDXL-Lightning full UNets (5.14 GB): built from the base UNet config, weights loaded from safetensors (G5).
for n in (2, 4, 8):
    STUDENTS.append(ModelSpec(
        f"lightning-sdxl-{n}step-unet", f"SDXL-Lightning {n}-step UNet", "unet", "student", "sdxl", LIGHTNING,
        (FileSpec(f"sdxl_lightning_{n}step_unet.safetensors", 5140),), OPENRAIL_PP, base="sdxl-base",
        scheduler=EULER_TRAILING, steps=n, guidance=0.0, resolution=1024, source=LIGHTNING_SRC,
        sources=LIGHTNING_CITES,
    ))  # fmt: skip
STUDENTS.append(ModelSpec(
    "lightning-sdxl-1step-unet", "SDXL-Lightning 1-step UNet (x0, experimental)", "unet", "student", "sdxl",
    LIGHTNING, (FileSpec("sdxl_lightning_1step_unet_x0.safetensors", 5140),), OPENRAIL_PP, base="sdxl-base",
    scheduler=EULER_TRAILING_X0, steps=1, guidance=0.0, resolution=1024,
    notes="the card calls 1-step experimental and recommends 2-step", source=LIGHTNING_SRC,
    sources=cite(**{**dict(LIGHTNING_CITES), "scheduler": 'Lightning card, 1-step: \'timestep_spacing="trailing", '
                                                          'prediction_type="sample"\''}),
))  # fmt: skip

# Hyper-SD. Unified 1-step LoRAs use TCD with eta=1.0 (README diff 831b863); N-step LoRAs DDIM trailing.
# SD1.5 LoRA size: 269,127,064 B per a third-party table (doc §10); SDXL 8-step CFG exact 787,359,648 B.
STUDENTS.append(_lora_student(
    "hyper-sd15-1step-lora", "Hyper-SD15 1-step LoRA", "sd15", HYPER, "Hyper-SD15-1step-lora.safetensors",
    269.13, OPENRAIL_PP, TCD, 1, 0.0, eta=1.0, step_range=(1, 8), source=HYPER_SRC, sources=HYPER_1STEP_CITES,
))  # fmt: skip
STUDENTS.append(_lora_student(
    "hyper-sdxl-1step-lora", "Hyper-SDXL 1-step LoRA", "sdxl", HYPER, "Hyper-SDXL-1step-lora.safetensors",
    787.36, OPENRAIL_PP, TCD, 1, 0.0, eta=1.0, step_range=(1, 8), source=HYPER_SRC, sources=HYPER_1STEP_CITES,
))  # fmt: skip
for n in (2, 4, 8):
    STUDENTS.append(_lora_student(
        f"hyper-sd15-{n}step-lora", f"Hyper-SD15 {n}-step LoRA", "sd15", HYPER,
        f"Hyper-SD15-{n}steps-lora.safetensors", 269.13, OPENRAIL_PP, DDIM_TRAILING, n, 0.0,
        notes="SD1.5 scheduler assumed equal to the SDXL section's (unverified)", source=HYPER_SRC,
        sources=HYPER_NSTEP_CITES,
    ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"hyper-sdxl-{n}step-lora", f"Hyper-SDXL {n}-step LoRA", "sdxl", HYPER,
        f"Hyper-SDXL-{n}steps-lora.safetensors", 787.36, OPENRAIL_PP, DDIM_TRAILING, n, 0.0, source=HYPER_SRC,
        sources=HYPER_NSTEP_CITES,
    ))  # fmt: skip
# CFG-preserved LoRAs: guidance 5–8 and negative prompts work; the authors' recommended standard is 8-step CFG.
for n in (8, 12):
    STUDENTS.append(_lora_student(
        f"hyper-sd15-{n}step-cfg-lora", f"Hyper-SD15 {n}-step CFG LoRA", "sd15", HYPER,
        f"Hyper-SD15-{n}steps-CFG-lora.safetensors", 269.13, OPENRAIL_PP, DDIM_TRAILING, n, 5.0,
        notes="DDIM trailing for the CFG variants is unverified; guidance 5–8", source=HYPER_SRC,
        sources=HYPER_CFG_CITES,
    ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"hyper-sdxl-{n}step-cfg-lora", f"Hyper-SDXL {n}-step CFG LoRA", "sdxl", HYPER,
        f"Hyper-SDXL-{n}steps-CFG-lora.safetensors", 787.36, OPENRAIL_PP, DDIM_TRAILING, n, 5.0,
        notes="DDIM trailing for the CFG variants is unverified; guidance 5–8", source=HYPER_SRC,
        sources=HYPER_CFG_CITES,
    ))  # fmt: skip
STUDENTS.append(ModelSpec(
    "hyper-sdxl-1step-unet", "Hyper-SDXL 1-step UNet", "unet", "student", "sdxl", HYPER,
    (FileSpec("Hyper-SDXL-1step-Unet.safetensors", 10300),), OPENRAIL_PP, base="sdxl-base", scheduler=LCM,
    steps=1, guidance=0.0, timesteps=(800,), resolution=1024, notes="fp32 weights", source=HYPER_SRC,
    sources=cite(scheduler="Hyper-SD card: '# Use LCM scheduler instead of ddim scheduler to support specific "
                           "timestep number inputs'",
                 steps="Hyper-SD card: 1-step UNet, 'num_inference_steps=1'",
                 step_range="step-locked: one fixed timestep",
                 guidance="Hyper-SD card 1-step UNet example: 'guidance_scale=0'",
                 timesteps="Hyper-SD card: 'timesteps=[800]' (doc §1.2)"),
))  # fmt: skip

# LCM family (doc §1.3). LCM-LoRA sizes exact (134,621,556 and 393,854,624 B, doc §10). Guidance 1.0 = CFG off;
# the card says it is "very sensitive" above 2.
LCM_LORA_CITES = cite(
    scheduler="doc §1.3 (latent_consistency_models.md): 'LCMScheduler.from_config(cfg)'",
    steps="doc §1.3: '2–8 (4 typical)'",
    step_range="doc §1.3: LCM-LoRA works at 2–8 steps",
    guidance="doc §1.3: '1.0 (off) up to 2.0; it is \"very sensitive\" to high values'",
)  # fmt: skip
STUDENTS += [
    _lora_student(
        "lcm-lora-sd15", "LCM-LoRA SD1.5", "sd15", "latent-consistency/lcm-lora-sdv1-5",
        "pytorch_lora_weights.safetensors", 134.62, OPENRAIL_PP, LCM, 4, 1.0, step_range=(2, 8),
        source="doc §1.3 (latent_consistency_models.md; repo tree)", sources=LCM_LORA_CITES,
    ),
    _lora_student(
        "lcm-lora-sdxl", "LCM-LoRA SDXL", "sdxl", "latent-consistency/lcm-lora-sdxl",
        "pytorch_lora_weights.safetensors", 393.85,
        Licence("openrail++", "commercial", "doc §7 lists LCM-LoRA as commercially usable; SDXL card tag unverified"),
        LCM, 4, 1.0, step_range=(2, 8), source="doc §1.3", sources=LCM_LORA_CITES,
    ),
    # Guidance is an embedding (time_cond_proj_dim) that only pipelines with `get_guidance_scale_embedding` pass
    # (txt2img, inpaint, img2img, ControlNet txt2img); the ControlNet img2img/inpaint pipelines never do, so the
    # engine refuses those kinds rather than run real CFG at 8 on a UNet that was never trained for it.
    ModelSpec(
        "lcm-sdxl-unet", "LCM SDXL (full UNet)", "unet", "student", "sdxl", "latent-consistency/lcm-sdxl",
        (FileSpec("diffusion_pytorch_model.fp16.safetensors", 5135), FileSpec("config.json")), UNVERIFIED,
        variant="fp16", base="sdxl-base", scheduler=LCM, steps=4, guidance=8.0, resolution=1024,
        step_range=(2, 8), guidance_embedding=True,
        notes="guidance is an embedding (time_cond_proj_dim), never a doubled batch", source="doc §1.3",
        sources=cite(scheduler="doc §1.3: 'LCMScheduler'", steps="doc §1.3 LCM SDXL row: '4'",
                     step_range="doc §1.3: LCM works at 2–8 steps (the full-UNet row gives 4; range unverified)",
                     guidance="doc §1.3: '8.0 (guidance embedding; trained on 3–13)'",
                     guidance_embedding="doc §1.3: 'guidance embedding'; the UNet config has time_cond_proj_dim"),
    ),
    ModelSpec(
        "lcm-dreamshaper-7", "LCM Dreamshaper v7 (whole pipeline)", "pipeline", "student", "sd15",
        "SimianLuo/LCM_Dreamshaper_v7", sd15_files(variant=None, unet_mb=3440, te_mb=492, vae_mb=335), MIT,
        pipeline="LatentConsistencyModelPipeline", steps=4, guidance=8.0, resolution=512, step_range=(1, 8),
        guidance_embedding=True,
        notes="UNet only as fp32 (no fp16 variant); text encoder and VAE file names unverified",
        source="doc §1.3 (SimianLuo tree pages; pipeline_latent_consistency_text2img.py)",
        sources=cite(steps="doc §1.3: '1–8, default 4'", step_range="doc §1.3: '1–8'",
                     guidance="doc §1.3: '8.0–8.5 via w_embedding, never doubled'",
                     guidance_embedding="doc §1.3: 'via w_embedding, never doubled'"),
    ),
]  # fmt: skip

# TCD (doc §1.4): file name pytorch_lora_weights.safetensors (doc §10), eta 0.3 passed explicitly (G4). The docs
# inpaint at 8 steps and strength 0.99 (4 steps is the text-to-image example).
STUDENTS += [
    _lora_student("tcd-sd15", "TCD-SD15 LoRA", "sd15", "h1t/TCD-SD15-LoRA", "pytorch_lora_weights.safetensors",
                  134.62, TCD_LICENCE, TCD, 4, 0.0, eta=0.3, inpaint_strength=0.99, inpaint_steps=8,
                  step_range=(4, 8), source=TCD_SRC,
                  sources=cite(**TCD_CITES, step_range="doc §1.4 TCD-SD15 row: '4–8'")),
    _lora_student("tcd-sdxl", "TCD-SDXL LoRA", "sdxl", "h1t/TCD-SDXL-LoRA", "pytorch_lora_weights.safetensors",
                  393.85, TCD_LICENCE, TCD, 4, 0.0, eta=0.3, inpaint_strength=0.99, inpaint_steps=8,
                  step_range=(4, 50), source=TCD_SRC,
                  sources=cite(**TCD_CITES, step_range="diffusers TCD docs: 'Flexible Inference Steps: The inference "
                                                       "steps for TCD sampling can be freely adjusted'; doc §1.4: "
                                                       "'4–50'")),
]  # fmt: skip

# DMD2 (doc §1.5): non-commercial. The UNets are fp16 torch pickles, loaded with weights_only=True. Their timesteps
# are fixed: the engine sets them on the scheduler itself, so every pipeline kind (the ControlNet img2img/inpaint
# pipelines take no `timesteps`) runs them.
DMD2_4STEP = cite(scheduler="DMD2 README: 'LCMScheduler'", steps="DMD2 README: 'num_inference_steps=4'",
                  step_range="step-locked: fixed timesteps", guidance="DMD2 README: 'guidance_scale=0'",
                  timesteps="DMD2 README: 'timesteps=[999, 749, 499, 249]'")  # fmt: skip
STUDENTS += [
    ModelSpec(
        "dmd2-sdxl-4step-unet", "DMD2 SDXL 4-step UNet", "unet", "student", "sdxl", "tianweiy/DMD2",
        (FileSpec("dmd2_sdxl_4step_unet_fp16.bin", 5135),), CC_BY_NC_SA, base="sdxl-base", scheduler=LCM,
        steps=4, guidance=0.0, timesteps=(999, 749, 499, 249), resolution=1024, pickle=True, source=DMD2_SRC,
        sources=DMD2_4STEP,
    ),
    _lora_student("dmd2-sdxl-4step-lora", "DMD2 SDXL 4-step LoRA", "sdxl", "tianweiy/DMD2",
                  "dmd2_sdxl_4step_lora_fp16.safetensors", 393.85, CC_BY_NC_SA, LCM, 4, 0.0,
                  timesteps=(999, 749, 499, 249), source=DMD2_SRC, sources=DMD2_4STEP),
    ModelSpec(
        "dmd2-sdxl-1step-unet", "DMD2 SDXL 1-step UNet", "unet", "student", "sdxl", "tianweiy/DMD2",
        (FileSpec("dmd2_sdxl_1step_unet_fp16.bin", 5135),), CC_BY_NC_SA, base="sdxl-base", scheduler=LCM,
        steps=1, guidance=0.0, timesteps=(399,), resolution=1024, pickle=True, source=DMD2_SRC,
        sources=cite(**{**dict(DMD2_4STEP), "steps": "DMD2 README: 'num_inference_steps=1'",
                        "timesteps": "DMD2 README: 'timesteps=[399]'"}),
    ),
]  # fmt: skip

# PCM: one repo, sd15/ and sdxl/ subfolders; weights licence unverified. Sizes from the third-party classifier table
# in doc §10 (which PCM file it measured is not stated). The card's DDIM line replaces the TCD scheduler the demo app
# (doc §1.6) builds; each LoRA is step-locked (its name gives its step count).
for fam, m, size in (("sd15", "sd15", 134.62), ("sdxl", "sdxl", 393.85)):
    for n in (2, 4, 8, 16):
        STUDENTS.append(_lora_student(
            f"pcm-{m}-smallcfg-{n}step", f"PCM {m.upper()} small-CFG {n}-step LoRA", fam, "wangfuyun/PCM_Weights",
            f"{m}/pcm_{m}_smallcfg_{n}step_converted.safetensors", size, UNVERIFIED, DDIM_TRAILING_PCM, n, 0.0,
            source=PCM_SRC,
            sources=cite(scheduler=PCM_SCHEDULER, steps=PCM_STEPS, step_range="step-locked: " + PCM_STEPS,
                         guidance="card: 'SmallCFG means that the model equipped with the LoRA can use CFG value "
                                  "1-2'; 0 turns CFG off like 1 (G3)"),
        ))  # fmt: skip
    for n in (4, 8, 16):
        cfg, why = PCM_NORMAL_CFG[n]
        STUDENTS.append(_lora_student(
            f"pcm-{m}-normalcfg-{n}step", f"PCM {m.upper()} normal-CFG {n}-step LoRA", fam, "wangfuyun/PCM_Weights",
            f"{m}/pcm_{m}_normalcfg_{n}step_converted.safetensors", size, UNVERIFIED, DDIM_TRAILING_PCM, n, cfg,
            notes="card: 'The normalCFG LoRAs are more sensitive to the prompts'" + (
                "; 'Just find the normalCFG with 4-step is not working very well'" if n == 4 else ""),
            source=PCM_SRC,
            sources=cite(scheduler=PCM_SCHEDULER, steps=PCM_STEPS, step_range="step-locked: " + PCM_STEPS,
                         guidance=why),
        ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"pcm-{m}-lcmlike", f"PCM {m.upper()} LCM-like LoRA", fam, "wangfuyun/PCM_Weights",
        f"{m}/pcm_{m}_lcmlike_lora_converted.safetensors", size, UNVERIFIED, LCM, 4, 0.0, step_range=(2, 8),
        source=PCM_SRC,
        sources=cite(scheduler="doc §1.6: 'LCMScheduler()'", steps="doc §1.6 LCM-like row: '4'",
                     step_range="card: 'LCM-Like PCM LoRAs, which functions just like LCM but works better at "
                                "low-step regime'; LCM's 2–8 assumed (unverified)",
                     guidance="doc §1.6 LCM-like row: CFG '0'"),
    ))  # fmt: skip

# SDXL-Turbo (doc §1.7): non-commercial; the repo's own scheduler, guidance must be 0, 512×512.
STUDENTS.append(ModelSpec(
    "sdxl-turbo", "SDXL-Turbo (whole pipeline)", "pipeline", "student", "sdxl", "stabilityai/sdxl-turbo",
    sdxl_files(), SAI_NC, variant="fp16", pipeline="StableDiffusionXLPipeline", steps=1, guidance=0.0,
    resolution=512, step_range=(1, 4), notes="quality drops at 768 and 1024", source="doc §1.7 (sdxl_turbo.md)",
    sources=cite(steps="doc §1.7 (sdxl_turbo.md): 'guidance_scale=0.0, num_inference_steps=1'",
                 step_range="doc §1.7: '1–4'", guidance="doc §1.7: CFG 'must be 0.0'"),
))  # fmt: skip


# ---------------------------------------------------------------------------------------------- ControlNets (doc §3.1)
def _controlnet(sid, title, family, repo, licence, size_mb, subfolder=None, variant=None, union=False,
                weights="diffusion_pytorch_model.safetensors", **kw) -> ModelSpec:  # fmt: skip
    folder = f"{subfolder}/" if subfolder else ""
    stem, ext = weights.rsplit(".", 1)
    name = f"{stem}.{variant}.{ext}" if variant else weights
    files = (FileSpec(f"{folder}{name}", size_mb), FileSpec(f"{folder}config.json"))
    return ModelSpec(sid, title, "controlnet", "adapter", family, repo, files, licence, subfolder=subfolder,
                     variant=variant, union=union, **kw)  # fmt: skip


CN_V11 = Licence("openrail", "unverified", "ControlNet 1.1 card tag not read here")
CN_DEFAULT_SCALE = cite(scale="diffusers' default 'controlnet_conditioning_scale=1.0'; the card gives none that was "
                              "read here (unverified)")  # fmt: skip
# The ControlNet 1.1 OpenPose annotator (controlnet_aux OpenposeDetector → draw_bodypose) draws `stickwidth = 4` on its
# 512-px detect canvas: the "openpose" drawing of studio.preprocess.pose.
ANNOTATOR_POSE = ("ControlNet 1.1 annotator (controlnet_aux draw_bodypose: 'stickwidth = 4' on the 512-px detect "
                  "canvas)")
# SDXL ControlNet sizes est.: 1.25 B params × 2 bytes. SD1.5 ControlNet 1.1 sizes est.: 361 M params × 4 bytes.
CONTROLNETS = [
    _controlnet("controlnet-openpose-sd15", "ControlNet 1.1 OpenPose (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_openpose", CN_V11, 1445, control_render="openpose",
                sources=cite(**dict(CN_DEFAULT_SCALE), control_render=ANNOTATOR_POSE)),
    _controlnet("controlnet-canny-sd15", "ControlNet 1.1 Canny (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_canny", CN_V11, 1445, sources=CN_DEFAULT_SCALE),
    _controlnet("controlnet-depth-sd15", "ControlNet 1.1 Depth (SD1.5)", "sd15",
                "lllyasviel/control_v11f1p_sd15_depth", CN_V11, 1445, sources=CN_DEFAULT_SCALE),
    _controlnet("controlnet-softedge-sd15", "ControlNet 1.1 SoftEdge (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_softedge", CN_V11, 1445,
                notes="repo id from ControlNet 1.1 naming; diffusers-format files unverified (doc §9)",
                sources=CN_DEFAULT_SCALE),
    _controlnet("controlnet-inpaint-sd15", "ControlNet 1.1 Inpaint (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_inpaint", CN_V11, 1445, sources=CN_DEFAULT_SCALE),
    # doc §3.1: SD1.5 diffusers weights live in diffusion_sd15/ as fp16 safetensors only (723 MB); openrail.
    _controlnet("controlnet-mediapipe-face-sd15", "ControlNet MediaPipe face (SD1.5)", "sd15",
                "CrucibleAI/ControlNetMediaPipeFace", Licence("openrail", "commercial", "doc §3.1/§7"), 723,
                subfolder="diffusion_sd15", variant="fp16", sources=CN_DEFAULT_SCALE),
    # Card (diffusers/controlnet-canny-sdxl-1.0): 'controlnet_conditioning_scale = 0.5  # recommended for good
    # generalization'. The TCD docs run the canny and depth SDXL ControlNets at 0.5 too (doc §1.4).
    _controlnet("controlnet-canny-sdxl", "ControlNet Canny (SDXL)", "sdxl", "diffusers/controlnet-canny-sdxl-1.0",
                OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16", notes="fp16 variant file name unverified", scale=0.5,
                sources=cite(scale="card: 'controlnet_conditioning_scale = 0.5  # recommended for good "
                                   "generalization'; TCD docs: 0.5 with it")),
    _controlnet("controlnet-depth-sdxl", "ControlNet Depth (SDXL)", "sdxl", "diffusers/controlnet-depth-sdxl-1.0",
                OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16", notes="fp16 variant file name unverified", scale=0.5,
                sources=cite(scale="diffusers TCD docs with this ControlNet: 'controlnet_conditioning_scale = 0.5 "
                                   " # recommended for good generalization' (doc §1.4); the card's own line not "
                                   "re-read")),
    _controlnet("controlnet-zoe-depth-sdxl", "ControlNet Zoe depth (SDXL)", "sdxl",
                "diffusers/controlnet-zoe-depth-sdxl-1.0", OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16",
                notes="fp16 variant file name unverified", scale=0.5,
                sources=cite(scale="as its siblings from the same training run (canny, depth SDXL: 0.5 'recommended "
                                   "for good generalization'); the zoe card's own value not read (unverified)")),
    # doc §3.1: thibaud ships diffusers weights only as a 5 GB pickle; licence "other".
    _controlnet("controlnet-openpose-sdxl-thibaud", "ControlNet OpenPose (SDXL, thibaud)", "sdxl",
                "thibaud/controlnet-openpose-sdxl-1.0", Licence("other", "unverified", "doc §3.1"), 5000,
                weights="diffusion_pytorch_model.bin", pickle=True, control_render="openpose",
                sources=cite(**dict(CN_DEFAULT_SCALE), control_render=ANNOTATOR_POSE + "; the card says nothing of "
                                                                                       "line width (unverified)")),
    # xinsir card ("Replace the default draw pose function to get better result"): "When using the default pose line
    # the performance may be unstable, this is because the pose label use more thick line in training"; its example
    # runs 'controlnet_conditioning_scale = 1.0' at ~1024² ("need to resize the image resolution to 1024 * 1024").
    _controlnet("controlnet-openpose-sdxl-xinsir", "ControlNet OpenPose (SDXL, xinsir)", "sdxl",
                "xinsir/controlnet-openpose-sdxl-1.0", APACHE, 2502, control_render="xinsir",
                sources=cite(scale="card: 'controlnet_conditioning_scale = 1.0'",
                             control_render="card: 'the pose label use more thick line in training'; its "
                                            "draw_bodypose scales stickwidth 4 and the dot radius by 1–7 with the "
                                            "canvas size")),
    # Union: control_mode 0 openpose, 1 depth, 2 thick line, 3 thin line (canny/lineart), 4 normal, 5 segment.
    _controlnet("controlnet-union-sdxl-xinsir", "ControlNet Union (SDXL, xinsir)", "sdxl",
                "xinsir/controlnet-union-sdxl-1.0", APACHE, 2502, union=True, control_render="xinsir",
                notes="ControlNetUnionModel; pass control_mode (xinsir ControlNetPlus README)",
                sources=cite(scale="as the same author's openpose card ('controlnet_conditioning_scale = 1.0'; "
                                   "unverified for the union model)",
                             control_render="the same author's openpose labels (xinsir openpose card); unverified for "
                                            "the union model's openpose mode")),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------- IP-Adapters (doc §3.2)
# h94/IP-Adapter, apache-2.0. Image encoders est.: OpenCLIP ViT-H/14 vision 632 M params, ViT-bigG vision
# 1.84 B params, both stored fp32. Whether models/ holds .safetensors copies is unverified (doc §3.2).
VIT_H = "models/image_encoder"
VIT_BIGG = "sdxl_models/image_encoder"
_ENCODER_MB = {VIT_H: 2528, VIT_BIGG: 3689}


def _ip_adapter(sid, title, family, path, size_mb, encoder, scale=0.6) -> ModelSpec:
    files = (FileSpec(path, size_mb), FileSpec(f"{encoder}/config.json"),
             FileSpec(f"{encoder}/model.safetensors", _ENCODER_MB[encoder]))  # fmt: skip
    return ModelSpec(sid, title, "ip_adapter", "adapter", family, "h94/IP-Adapter", files, APACHE,
                     subfolder=path.rsplit("/", 1)[0], image_encoder=encoder, scale=scale,
                     source="doc §3.2 (ip_adapter.md; loaders/ip_adapter.py)",
                     sources=cite(scale="doc §3.2 (ip_adapter.md): 'pipe.set_ip_adapter_scale(0.6)'"))  # fmt: skip


IP_ADAPTERS = [
    _ip_adapter("ip-adapter-sd15", "IP-Adapter (SD1.5)", "sd15", "models/ip-adapter_sd15.safetensors", 44.6, VIT_H),
    _ip_adapter("ip-adapter-sd15-light", "IP-Adapter light (SD1.5)", "sd15",
                "models/ip-adapter_sd15_light.safetensors", 44.6, VIT_H),
    _ip_adapter("ip-adapter-plus-sd15", "IP-Adapter Plus (SD1.5)", "sd15",
                "models/ip-adapter-plus_sd15.safetensors", 98.2, VIT_H),
    _ip_adapter("ip-adapter-plus-face-sd15", "IP-Adapter Plus face (SD1.5)", "sd15",
                "models/ip-adapter-plus-face_sd15.safetensors", 98.2, VIT_H),
    _ip_adapter("ip-adapter-full-face-sd15", "IP-Adapter full face (SD1.5)", "sd15",
                "models/ip-adapter-full-face_sd15.safetensors", 43.6, VIT_H),
    _ip_adapter("ip-adapter-sd15-vit-g", "IP-Adapter ViT-G (SD1.5)", "sd15",
                "models/ip-adapter_sd15_vit-G.safetensors", 46.2, VIT_BIGG),
    _ip_adapter("ip-adapter-sdxl", "IP-Adapter (SDXL)", "sdxl", "sdxl_models/ip-adapter_sdxl.safetensors", 703,
                VIT_BIGG),
    _ip_adapter("ip-adapter-sdxl-vit-h", "IP-Adapter ViT-H (SDXL)", "sdxl",
                "sdxl_models/ip-adapter_sdxl_vit-h.safetensors", 698, VIT_H),
    _ip_adapter("ip-adapter-plus-sdxl-vit-h", "IP-Adapter Plus ViT-H (SDXL)", "sdxl",
                "sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors", 848, VIT_H),
    _ip_adapter("ip-adapter-plus-face-sdxl-vit-h", "IP-Adapter Plus face ViT-H (SDXL)", "sdxl",
                "sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors", 848, VIT_H),
]  # fmt: skip


# -------------------------------------------------------------------------------------------- previews and VAEs (§3.7)
# TAESD: ~1.22 M params per encoder/decoder (doc §3.7), so ~9.8 MB fp32 est.; MIT (GitHub repo).
PREVIEWS = [
    ModelSpec("taesd", "TAESD (SD1.x tiny autoencoder)", "taesd", "preview", "sd15", "madebyollin/taesd",
              (FileSpec("diffusion_pytorch_model.safetensors", 9.8), FileSpec("config.json")), MIT,
              source="doc §3.7 (autoencoder_tiny.md; taesd README)"),
    ModelSpec("taesdxl", "TAESDXL (SDXL tiny autoencoder)", "taesd", "preview", "sdxl", "madebyollin/taesdxl",
              (FileSpec("diffusion_pytorch_model.safetensors", 9.8), FileSpec("config.json")), MIT,
              source="doc §3.7"),
    # Full SDXL VAE that runs in fp16 without the fp32 upcast; used on GPU only. 83.7 M params × 4 bytes est.
    ModelSpec("sdxl-vae-fp16-fix", "SDXL VAE fp16 fix", "vae", "component", "sdxl", "madebyollin/sdxl-vae-fp16-fix",
              (FileSpec("diffusion_pytorch_model.safetensors", 335), FileSpec("config.json")),
              Licence("mit", "commercial", "card tag mit (not re-read here)"), source="doc §2/§3.7"),
]  # fmt: skip


ALL_SPECS: list[ModelSpec] = [*TEACHERS, *STUDENTS, *CONTROLNETS, *IP_ADAPTERS, *PREVIEWS]

__all__ = ["ALL_SPECS", "TEACHERS", "STUDENTS", "CONTROLNETS", "IP_ADAPTERS", "PREVIEWS"]
