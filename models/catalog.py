"""The model catalog: every student, teacher, adapter and preview decoder the studio knows, as data.

Facts come from `../shared/docs/model-catalog.md` (cited as "doc §n"), which cites the model cards, repos
and diffusers source it read. Marks used in comments:
  - "(unverified)": the doc marks the fact unverified, or it comes from memory; check the card before relying on it.
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

from studio.engine.specs import FileSpec, Licence, ModelSpec, scheduler

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
LCM = scheduler("LCMScheduler")
TCD = scheduler("TCDScheduler")
# doc §1.6: PCM builds TCDScheduler(..., timestep_spacing="trailing"); the betas equal the SD/SDXL config's.
TCD_TRAILING = scheduler("TCDScheduler", timestep_spacing="trailing")


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
TEACHERS = [
    ModelSpec(
        "sd15", "Stable Diffusion 1.5", "pipeline", "teacher", "sd15",
        "stable-diffusion-v1-5/stable-diffusion-v1-5", sd15_files(), OPENRAIL_M,
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        source="doc §2 (replaces the deleted runwayml repo, G1); 25–50 steps, CFG 7–7.5",
    ),
    ModelSpec(
        "sd15-inpainting", "Stable Diffusion 1.5 inpainting", "pipeline", "teacher", "sd15",
        "stable-diffusion-v1-5/stable-diffusion-inpainting", sd15_files(), OPENRAIL_M,
        variant="fp16", pipeline="StableDiffusionInpaintPipeline", inpaint=True, steps=30, guidance=7.5,
        resolution=512, notes="9-channel UNet; fp16 variant files (unverified)",
        source="doc §2; LCM-LoRA SD1.5 works on it (doc §1.3)",
    ),
    ModelSpec(
        "sdxl-base", "SDXL base 1.0", "pipeline", "teacher", "sdxl",
        "stabilityai/stable-diffusion-xl-base-1.0", sdxl_files(), OPENRAIL_PP,
        variant="fp16", pipeline="StableDiffusionXLPipeline", steps=30, guidance=6.0, resolution=1024,
        source="doc §2: 25–40 steps, CFG 5–7; teacher of Lightning, Hyper, DMD2, TCD and LCM",
    ),
    ModelSpec(
        "sdxl-inpainting", "SDXL 1.0 inpainting 0.1", "pipeline", "teacher", "sdxl",
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", sdxl_files(),
        Licence("openrail++", "commercial", "fine-tune of SDXL base; card tag openrail++ (not re-read here)"),
        variant="fp16", pipeline="StableDiffusionXLInpaintPipeline", inpaint=True, steps=30, guidance=6.0,
        resolution=1024, source="doc §2; TCD-SDXL-LoRA works on it (8 steps, eta 0.3, strength 0.99)",
    ),
    ModelSpec(
        "dreamshaper-7", "Dreamshaper 7", "pipeline", "teacher", "sd15", "Lykon/dreamshaper-7", sd15_files(),
        Licence("creativeml-openrail-m", "unverified", "not read here"),
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        notes="teacher of LCM Dreamshaper v7; fp16 variant files (unverified)", source="doc §2",
    ),
    ModelSpec(
        "dreamshaper-8", "Dreamshaper 8", "pipeline", "teacher", "sd15", "Lykon/dreamshaper-8", sd15_files(),
        Licence("creativeml-openrail-m", "unverified", "not read here"),
        variant="fp16", pipeline="StableDiffusionPipeline", steps=30, guidance=7.5, resolution=512,
        notes="fp16 variant files (unverified)", source="doc §2",
    ),
]


# --------------------------------------------------------------------------------------------------- students (doc §1)
def _lora_student(sid, title, family, repo, path, size_mb, licence, sched, steps, guidance, **kw) -> ModelSpec:
    base = "sd15" if family == "sd15" else "sdxl-base"
    resolution = 512 if family == "sd15" else 1024
    return ModelSpec(sid, title, "lora", "student", family, repo, (FileSpec(path, size_mb),), licence, base=base,
                     scheduler=sched, steps=steps, guidance=guidance, resolution=resolution, **kw)  # fmt: skip


LIGHTNING = "ByteDance/SDXL-Lightning"
HYPER = "ByteDance/Hyper-SD"
LIGHTNING_SRC = "doc §1.1 (README at huggingface.co/ByteDance/SDXL-Lightning, tree c9a24f48)"
HYPER_SRC = "doc §1.2 (Hyper-SD README a08b9c3/ed14162/0d30c24)"

STUDENTS: list[ModelSpec] = []

# SDXL-Lightning LoRAs: steps must equal N, CFG off. 4-step size is exact (393,854,592 B, doc §10).
for n in (2, 4, 8):
    STUDENTS.append(_lora_student(
        f"lightning-sdxl-{n}step-lora", f"SDXL-Lightning {n}-step LoRA", "sdxl", LIGHTNING,
        f"sdxl_lightning_{n}step_lora.safetensors", 393.85, OPENRAIL_PP, EULER_TRAILING, n, 0.0,
        source=LIGHTNING_SRC,
    ))  # fmt: skip
# SDXL-Lightning full UNets (5.14 GB): built from the base UNet config, weights loaded from safetensors (G5).
for n in (2, 4, 8):
    STUDENTS.append(ModelSpec(
        f"lightning-sdxl-{n}step-unet", f"SDXL-Lightning {n}-step UNet", "unet", "student", "sdxl", LIGHTNING,
        (FileSpec(f"sdxl_lightning_{n}step_unet.safetensors", 5140),), OPENRAIL_PP, base="sdxl-base",
        scheduler=EULER_TRAILING, steps=n, guidance=0.0, resolution=1024, source=LIGHTNING_SRC,
    ))  # fmt: skip
STUDENTS.append(ModelSpec(
    "lightning-sdxl-1step-unet", "SDXL-Lightning 1-step UNet (x0, experimental)", "unet", "student", "sdxl",
    LIGHTNING, (FileSpec("sdxl_lightning_1step_unet_x0.safetensors", 5140),), OPENRAIL_PP, base="sdxl-base",
    scheduler=EULER_TRAILING_X0, steps=1, guidance=0.0, resolution=1024,
    notes="the card calls 1-step experimental and recommends 2-step", source=LIGHTNING_SRC,
))  # fmt: skip

# Hyper-SD. Unified 1-step LoRAs use TCD with eta=1.0 (README diff 831b863); N-step LoRAs DDIM trailing.
# SD1.5 LoRA size: 269,127,064 B per a third-party table (doc §10); SDXL 8-step CFG exact 787,359,648 B.
STUDENTS.append(_lora_student(
    "hyper-sd15-1step-lora", "Hyper-SD15 1-step LoRA", "sd15", HYPER, "Hyper-SD15-1step-lora.safetensors",
    269.13, OPENRAIL_PP, TCD, 1, 0.0, eta=1.0, source=HYPER_SRC,
))  # fmt: skip
STUDENTS.append(_lora_student(
    "hyper-sdxl-1step-lora", "Hyper-SDXL 1-step LoRA", "sdxl", HYPER, "Hyper-SDXL-1step-lora.safetensors",
    787.36, OPENRAIL_PP, TCD, 1, 0.0, eta=1.0, source=HYPER_SRC,
))  # fmt: skip
for n in (2, 4, 8):
    STUDENTS.append(_lora_student(
        f"hyper-sd15-{n}step-lora", f"Hyper-SD15 {n}-step LoRA", "sd15", HYPER,
        f"Hyper-SD15-{n}steps-lora.safetensors", 269.13, OPENRAIL_PP, DDIM_TRAILING, n, 0.0,
        notes="SD1.5 scheduler assumed equal to the SDXL section's (unverified)", source=HYPER_SRC,
    ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"hyper-sdxl-{n}step-lora", f"Hyper-SDXL {n}-step LoRA", "sdxl", HYPER,
        f"Hyper-SDXL-{n}steps-lora.safetensors", 787.36, OPENRAIL_PP, DDIM_TRAILING, n, 0.0, source=HYPER_SRC,
    ))  # fmt: skip
# CFG-preserved LoRAs: guidance 5–8 and negative prompts work; the authors' recommended standard is 8-step CFG.
for n in (8, 12):
    STUDENTS.append(_lora_student(
        f"hyper-sd15-{n}step-cfg-lora", f"Hyper-SD15 {n}-step CFG LoRA", "sd15", HYPER,
        f"Hyper-SD15-{n}steps-CFG-lora.safetensors", 269.13, OPENRAIL_PP, DDIM_TRAILING, n, 5.0,
        notes="DDIM trailing for the CFG variants is unverified; guidance 5–8", source=HYPER_SRC,
    ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"hyper-sdxl-{n}step-cfg-lora", f"Hyper-SDXL {n}-step CFG LoRA", "sdxl", HYPER,
        f"Hyper-SDXL-{n}steps-CFG-lora.safetensors", 787.36, OPENRAIL_PP, DDIM_TRAILING, n, 5.0,
        notes="DDIM trailing for the CFG variants is unverified; guidance 5–8", source=HYPER_SRC,
    ))  # fmt: skip
STUDENTS.append(ModelSpec(
    "hyper-sdxl-1step-unet", "Hyper-SDXL 1-step UNet", "unet", "student", "sdxl", HYPER,
    (FileSpec("Hyper-SDXL-1step-Unet.safetensors", 10300),), OPENRAIL_PP, base="sdxl-base", scheduler=LCM,
    steps=1, guidance=0.0, timesteps=(800,), resolution=1024, notes="fp32 weights", source=HYPER_SRC,
))  # fmt: skip

# LCM family (doc §1.3). LCM-LoRA sizes exact (134,621,556 and 393,854,624 B, doc §10). Guidance 1.0 = CFG off;
# the card says it is "very sensitive" above 2.
STUDENTS += [
    _lora_student(
        "lcm-lora-sd15", "LCM-LoRA SD1.5", "sd15", "latent-consistency/lcm-lora-sdv1-5",
        "pytorch_lora_weights.safetensors", 134.62, OPENRAIL_PP, LCM, 4, 1.0,
        source="doc §1.3 (latent_consistency_models.md; repo tree)",
    ),
    _lora_student(
        "lcm-lora-sdxl", "LCM-LoRA SDXL", "sdxl", "latent-consistency/lcm-lora-sdxl",
        "pytorch_lora_weights.safetensors", 393.85,
        Licence("openrail++", "commercial", "doc §7 lists LCM-LoRA as commercially usable; SDXL card tag unverified"),
        LCM, 4, 1.0, source="doc §1.3",
    ),
    ModelSpec(
        "lcm-sdxl-unet", "LCM SDXL (full UNet)", "unet", "student", "sdxl", "latent-consistency/lcm-sdxl",
        (FileSpec("diffusion_pytorch_model.fp16.safetensors", 5135), FileSpec("config.json")), UNVERIFIED,
        variant="fp16", base="sdxl-base", scheduler=LCM, steps=4, guidance=8.0, resolution=1024,
        notes="guidance is an embedding (time_cond_proj_dim), never a doubled batch", source="doc §1.3",
    ),
    ModelSpec(
        "lcm-dreamshaper-7", "LCM Dreamshaper v7 (whole pipeline)", "pipeline", "student", "sd15",
        "SimianLuo/LCM_Dreamshaper_v7", sd15_files(variant=None, unet_mb=3440, te_mb=492, vae_mb=335), MIT,
        pipeline="LatentConsistencyModelPipeline", steps=4, guidance=8.0, resolution=512,
        notes="UNet only as fp32 (no fp16 variant); text encoder and VAE file names unverified",
        source="doc §1.3 (SimianLuo tree pages; pipeline_latent_consistency_text2img.py)",
    ),
]

# TCD (doc §1.4): file name pytorch_lora_weights.safetensors (doc §10), eta 0.3 passed explicitly (G4).
TCD_SRC = "doc §1.4 (inference_with_tcd_lora.md; scheduling_tcd.py) and §10"
STUDENTS += [
    _lora_student("tcd-sd15", "TCD-SD15 LoRA", "sd15", "h1t/TCD-SD15-LoRA", "pytorch_lora_weights.safetensors",
                  134.62, UNVERIFIED, TCD, 4, 0.0, eta=0.3, inpaint_strength=0.99, source=TCD_SRC),
    _lora_student("tcd-sdxl", "TCD-SDXL LoRA", "sdxl", "h1t/TCD-SDXL-LoRA", "pytorch_lora_weights.safetensors",
                  393.85, UNVERIFIED, TCD, 4, 0.0, eta=0.3, inpaint_strength=0.99, source=TCD_SRC),
]  # fmt: skip

# DMD2 (doc §1.5): non-commercial. The UNets are fp16 torch pickles, loaded with weights_only=True.
DMD2_SRC = "doc §1.5 (tianweiy/DMD2 README, snapshot 8d8fa55)"
STUDENTS += [
    ModelSpec(
        "dmd2-sdxl-4step-unet", "DMD2 SDXL 4-step UNet", "unet", "student", "sdxl", "tianweiy/DMD2",
        (FileSpec("dmd2_sdxl_4step_unet_fp16.bin", 5135),), CC_BY_NC_SA, base="sdxl-base", scheduler=LCM,
        steps=4, guidance=0.0, timesteps=(999, 749, 499, 249), resolution=1024, pickle=True, source=DMD2_SRC,
    ),
    _lora_student("dmd2-sdxl-4step-lora", "DMD2 SDXL 4-step LoRA", "sdxl", "tianweiy/DMD2",
                  "dmd2_sdxl_4step_lora_fp16.safetensors", 393.85, CC_BY_NC_SA, LCM, 4, 0.0,
                  timesteps=(999, 749, 499, 249), source=DMD2_SRC),
    ModelSpec(
        "dmd2-sdxl-1step-unet", "DMD2 SDXL 1-step UNet", "unet", "student", "sdxl", "tianweiy/DMD2",
        (FileSpec("dmd2_sdxl_1step_unet_fp16.bin", 5135),), CC_BY_NC_SA, base="sdxl-base", scheduler=LCM,
        steps=1, guidance=0.0, timesteps=(399,), resolution=1024, pickle=True, source=DMD2_SRC,
    ),
]  # fmt: skip

# PCM (doc §1.6): one repo, sd15/ and sdxl/ subfolders; weights licence unverified. Sizes from the third-party
# classifier table in doc §10 (which PCM file it measured is not stated).
PCM_SRC = "doc §1.6 (G-U-N/Phased-Consistency-Model demo/app.py, snapshot b127277)"
for fam, m, size in (("sd15", "sd15", 134.62), ("sdxl", "sdxl", 393.85)):
    for n in (2, 4, 8, 16):
        STUDENTS.append(_lora_student(
            f"pcm-{m}-smallcfg-{n}step", f"PCM {m.upper()} small-CFG {n}-step LoRA", fam, "wangfuyun/PCM_Weights",
            f"{m}/pcm_{m}_smallcfg_{n}step_converted.safetensors", size, UNVERIFIED, TCD_TRAILING, n, 0.0,
            source=PCM_SRC,
        ))  # fmt: skip
    for n in (4, 8, 16):
        STUDENTS.append(_lora_student(
            f"pcm-{m}-normalcfg-{n}step", f"PCM {m.upper()} normal-CFG {n}-step LoRA", fam, "wangfuyun/PCM_Weights",
            f"{m}/pcm_{m}_normalcfg_{n}step_converted.safetensors", size, UNVERIFIED, TCD_TRAILING, n, 7.5,
            source=PCM_SRC,
        ))  # fmt: skip
    STUDENTS.append(_lora_student(
        f"pcm-{m}-lcmlike", f"PCM {m.upper()} LCM-like LoRA", fam, "wangfuyun/PCM_Weights",
        f"{m}/pcm_{m}_lcmlike_lora_converted.safetensors", size, UNVERIFIED, LCM, 4, 0.0, source=PCM_SRC,
    ))  # fmt: skip

# SDXL-Turbo (doc §1.7): non-commercial; the repo's own scheduler, guidance must be 0, 512×512.
STUDENTS.append(ModelSpec(
    "sdxl-turbo", "SDXL-Turbo (whole pipeline)", "pipeline", "student", "sdxl", "stabilityai/sdxl-turbo",
    sdxl_files(), SAI_NC, variant="fp16", pipeline="StableDiffusionXLPipeline", steps=1, guidance=0.0,
    resolution=512, notes="quality drops at 768 and 1024", source="doc §1.7 (sdxl_turbo.md)",
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
# SD1.5 ControlNet 1.1 sizes est.: 361 M params × 4 bytes. SDXL full ControlNets est.: 1.25 B params × 2 bytes.
CONTROLNETS = [
    _controlnet("controlnet-openpose-sd15", "ControlNet 1.1 OpenPose (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_openpose", CN_V11, 1445),
    _controlnet("controlnet-canny-sd15", "ControlNet 1.1 Canny (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_canny", CN_V11, 1445),
    _controlnet("controlnet-depth-sd15", "ControlNet 1.1 Depth (SD1.5)", "sd15",
                "lllyasviel/control_v11f1p_sd15_depth", CN_V11, 1445),
    _controlnet("controlnet-softedge-sd15", "ControlNet 1.1 SoftEdge (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_softedge", CN_V11, 1445,
                notes="repo id from ControlNet 1.1 naming; diffusers-format files unverified (doc §9)"),
    _controlnet("controlnet-inpaint-sd15", "ControlNet 1.1 Inpaint (SD1.5)", "sd15",
                "lllyasviel/control_v11p_sd15_inpaint", CN_V11, 1445),
    # doc §3.1: SD1.5 diffusers weights live in diffusion_sd15/ as fp16 safetensors only (723 MB); openrail.
    _controlnet("controlnet-mediapipe-face-sd15", "ControlNet MediaPipe face (SD1.5)", "sd15",
                "CrucibleAI/ControlNetMediaPipeFace", Licence("openrail", "commercial", "doc §3.1/§7"), 723,
                subfolder="diffusion_sd15", variant="fp16"),
    _controlnet("controlnet-canny-sdxl", "ControlNet Canny (SDXL)", "sdxl", "diffusers/controlnet-canny-sdxl-1.0",
                OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16", notes="fp16 variant file name unverified"),
    _controlnet("controlnet-depth-sdxl", "ControlNet Depth (SDXL)", "sdxl", "diffusers/controlnet-depth-sdxl-1.0",
                OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16", notes="fp16 variant file name unverified"),
    _controlnet("controlnet-zoe-depth-sdxl", "ControlNet Zoe depth (SDXL)", "sdxl",
                "diffusers/controlnet-zoe-depth-sdxl-1.0", OPENRAIL_PP_UNVERIFIED, 2502, variant="fp16",
                notes="fp16 variant file name unverified"),
    # doc §3.1: thibaud ships diffusers weights only as a 5 GB pickle; licence "other".
    _controlnet("controlnet-openpose-sdxl-thibaud", "ControlNet OpenPose (SDXL, thibaud)", "sdxl",
                "thibaud/controlnet-openpose-sdxl-1.0", Licence("other", "unverified", "doc §3.1"), 5000,
                weights="diffusion_pytorch_model.bin", pickle=True),
    _controlnet("controlnet-openpose-sdxl-xinsir", "ControlNet OpenPose (SDXL, xinsir)", "sdxl",
                "xinsir/controlnet-openpose-sdxl-1.0", APACHE, 2502),
    # Union: control_mode 0 openpose, 1 depth, 2 thick line, 3 thin line (canny/lineart), 4 normal, 5 segment.
    _controlnet("controlnet-union-sdxl-xinsir", "ControlNet Union (SDXL, xinsir)", "sdxl",
                "xinsir/controlnet-union-sdxl-1.0", APACHE, 2502, union=True,
                notes="ControlNetUnionModel; pass control_mode (xinsir ControlNetPlus README)"),
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
                     source="doc §3.2 (ip_adapter.md; loaders/ip_adapter.py)")  # fmt: skip


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
