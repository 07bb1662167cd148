"""Per-app model recipes (doc §6 of ../shared/docs/model-catalog.md): the default student, its teacher, the
adapters each app conditions on, and the students it may switch to.

Defaults are commercially usable (DESIGN.md §2); unverified or non-commercial students are alternatives the
user opts into by id. A LoRA student runs on the app's teacher pipeline, so one base stays resident.

Every recipe says, in `checks`, which of its default student's settings a card verifies *for the app's pipeline
kind* and which are ours: the cards write their recipes for text-to-image on their own base, while the apps inpaint,
condition on ControlNets and IP-Adapters and start from an init image. An unverified setting is the first thing to
measure once real weights are here (`studio fetch --dry-run` prints each setting's source).
"""

from __future__ import annotations

from studio.engine.specs import AppModels, check

SD15_STUDENTS = ("lcm-lora-sd15", "hyper-sd15-8step-cfg-lora", "hyper-sd15-4step-lora", "hyper-sd15-1step-lora",
                 "tcd-sd15", "pcm-sd15-smallcfg-4step")  # fmt: skip
# Lightning's card: "The full UNet models have the best quality while the LoRA models can be applied to other base
# models". The apps run SDXL base, so the UNet is the default; the LoRA is the lower-memory alternative.
SDXL_STUDENTS = ("lightning-sdxl-4step-unet", "lightning-sdxl-4step-lora", "lightning-sdxl-2step-lora",
                 "lightning-sdxl-8step-lora", "hyper-sdxl-8step-cfg-lora", "hyper-sdxl-4step-lora", "lcm-lora-sdxl",
                 "tcd-sdxl", "dmd2-sdxl-4step-lora", "pcm-sdxl-smallcfg-4step")  # fmt: skip

#: The engine's image-to-image rule, the same for every app: a step-locked student keeps its trained grid and skips
#: its first steps (int(steps × strength) of them run, as diffusers computes); a step-flexible one (LCM, TCD) gets a
#: longer schedule so its step count runs. No card documents either for its student.
STRENGTH_RULE = ("engine rule (ours): step-locked students keep their trained grid and run int(steps × strength) "
                 "of it; step-flexible ones get a longer schedule")  # fmt: skip


def _others(pool: tuple[str, ...], default: str) -> tuple[str, ...]:
    return tuple(s for s in pool if s != default)


LIGHTNING_TXT2IMG_BASE = check(
    "lightning-sdxl-4step-unet", "controlnet", True,
    scheduler="Lightning card: Euler, 'timestep_spacing=\"trailing\"'",
    steps="Lightning card: 'Please always use the correct checkpoint for the corresponding inference steps' (4)",
    guidance="Lightning card: 'guidance_scale=0'",
    base="Lightning card: distilled from SDXL base; 'The full UNet models have the best quality'",
)

APPS = [
    # §6.1 Makeup transfer: LCM-LoRA on the SD1.5 inpainting model, face geometry locked by the MediaPipe-face
    # ControlNet, the reference makeup through IP-Adapter Plus face.
    AppModels(
        app="makeup", family="sd15", pipeline="controlnet-inpaint",
        student="lcm-lora-sd15", teacher="sd15-inpainting",
        adapters=("controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15"),
        alternatives=_others(SD15_STUDENTS, "lcm-lora-sd15"), preview="taesd",
        notes="LCM-LoRA on the inpainting model: 4 steps, guidance 1–4 (doc §1.3)",
        checks=(
            *check("lcm-lora-sd15", "controlnet-inpaint", True,
                   scheduler="doc §1.3 (LCM docs): LCMScheduler, whatever the pipeline",
                   steps="doc §1.3: 'Use LCM-LoRA on stable-diffusion-v1-5/stable-diffusion-inpainting with 4 steps'",
                   base="doc §1.3: LCM-LoRA SD1.5 on stable-diffusion-v1-5/stable-diffusion-inpainting"),
            *check("lcm-lora-sd15", "controlnet-inpaint", False,
                   guidance="1.0 (CFG off) is the card's text-to-image range ('very sensitive' above 2); the docs' "
                            "inpainting example uses guidance 4: not measured for this recipe",
                   strength="the app's 0.7 (apps/makeup DENOISE_STRENGTH); " + STRENGTH_RULE,
                   adapters="doc §1.3 pairs LCM-LoRA with a Canny ControlNet (text-to-image, scale 0.8); the "
                            "MediaPipe face ControlNet and IP-Adapter Plus face with it on inpainting: no card"),
        ),
    ),
    # §6.2 Virtual try-on: Hyper-SDXL CFG LoRA on SDXL inpainting (Lightning with inpainting is unverified), the
    # garment through IP-Adapter Plus ViT-H, the body through the xinsir OpenPose ControlNet (its skeleton drawn with
    # the card's thick lines: catalog control_render "xinsir").
    AppModels(
        app="tryon", family="sdxl", pipeline="controlnet-inpaint",
        student="hyper-sdxl-8step-cfg-lora", teacher="sdxl-inpainting",
        adapters=("controlnet-openpose-sdxl-xinsir", "ip-adapter-plus-sdxl-vit-h"),
        alternatives=("tcd-sdxl", "lcm-lora-sdxl", "hyper-sdxl-4step-lora"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
        checks=(
            *check("hyper-sdxl-8step-cfg-lora", "controlnet-inpaint", True,
                   steps="Hyper-SD card: the 8-step CFG LoRA, 'a standard configuration' (its grid is kept; see "
                         "strength)"),
            *check("hyper-sdxl-8step-cfg-lora", "controlnet-inpaint", False,
                   scheduler="DDIM trailing is the N-step LoRAs' card line; for the CFG LoRAs unverified (doc §1.2)",
                   guidance="5, the low end of the card's '5~8' (text-to-image on SDXL base); on the inpainting "
                            "model: no card",
                   strength="the app's lite-init 0.8 (apps/tryon LITE_INIT_STRENGTH; without it min(student 1.0, "
                            "SDXL inpainting card 0.99)); " + STRENGTH_RULE,
                   base="Hyper-SD card: 'highly compatible and work well with different base models and "
                        "controlnets'; SDXL inpainting itself is not named",
                   adapters="xinsir OpenPose ControlNet (card scale 1.0, thick skeleton) and IP-Adapter Plus with "
                            "Hyper-SD: no card combines them"),
            # The alternative a card does verify on this base: TCD-SDXL on SDXL inpainting (diffusers TCD docs).
            *check("tcd-sdxl", "controlnet-inpaint", True,
                   scheduler="TCD card: TCDScheduler, eta 0.3",
                   steps="diffusers TCD docs, inpainting: 'num_inference_steps=8' (catalog inpaint_steps)",
                   guidance="TCD docs: 'guidance_scale=0'",
                   strength="TCD docs, inpainting: 'strength=0.99'",
                   base="TCD card: works on 'SDXL Inpainting' (diffusers/stable-diffusion-xl-1.0-inpainting-0.1)"),
            *check("tcd-sdxl", "controlnet-inpaint", False,
                   adapters="TCD docs pair it with the depth/canny SDXL ControlNets at 0.5 and with IP-Adapter "
                            "(text-to-image); the xinsir OpenPose ControlNet on inpainting: no card"),
        ),
    ),
    # §6.3 Avatar, option C (no InsightFace): Lightning 4-step (the full UNet, the card's best quality on SDXL base),
    # IP-Adapter Plus face ViT-H and OpenPose.
    AppModels(
        app="avatar", family="sdxl", pipeline="controlnet",
        student="lightning-sdxl-4step-unet", teacher="sdxl-base",
        adapters=("controlnet-openpose-sdxl-xinsir", "ip-adapter-plus-face-sdxl-vit-h"),
        alternatives=_others(SDXL_STUDENTS, "lightning-sdxl-4step-unet"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
        checks=(
            *LIGHTNING_TXT2IMG_BASE,
            *check("lightning-sdxl-4step-unet", "controlnet", False,
                   adapters="xinsir OpenPose ControlNet (its card runs a 30-step Euler-ancestral base) and IP-Adapter "
                            "Plus face with Lightning: no card combines them"),
        ),
    ),
    # §6.4 Style transfer: InstantStyle (ip-adapter_sdxl with style-only block scales) plus structure from the
    # xinsir union ControlNet in thin-line mode (apache-2.0; the diffusers Canny SDXL licence is unverified).
    AppModels(
        app="style", family="sdxl", pipeline="controlnet",
        student="lightning-sdxl-4step-unet", teacher="sdxl-base",
        adapters=("controlnet-union-sdxl-xinsir", "ip-adapter-sdxl"),
        alternatives=_others(SDXL_STUDENTS, "lightning-sdxl-4step-unet"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
        checks=(
            *LIGHTNING_TXT2IMG_BASE,
            *check("lightning-sdxl-4step-unet", "controlnet", False,
                   adapters="xinsir union ControlNet and InstantStyle block scales with Lightning: no card"),
        ),
    ),
    # §6.5 Head stylization (SD1.5): Hyper-SD15 8-step CFG, MediaPipe-face ControlNet, IP-Adapter Plus face.
    AppModels(
        app="head", family="sd15", pipeline="controlnet",
        student="hyper-sd15-8step-cfg-lora", teacher="sd15",
        adapters=("controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15"),
        alternatives=_others(SD15_STUDENTS, "hyper-sd15-8step-cfg-lora"), preview="taesd",
        checks=(
            *check("hyper-sd15-8step-cfg-lora", "controlnet", True,
                   steps="Hyper-SD card: 'Hyper-SD15-8steps-CFG-LoRA' runs 8 steps",
                   guidance="Hyper-SD card: '(support 5~8 guidance scales)' (5: its low end)",
                   base="Hyper-SD card: distilled from Stable-Diffusion v1-5"),
            *check("hyper-sd15-8step-cfg-lora", "controlnet", False,
                   scheduler="DDIM trailing: the SDXL N-step line, assumed for SD1.5 and the CFG LoRAs (doc §1.2)",
                   adapters="Hyper-SD card: 'work well with different base models and controlnets' (its example is a "
                            "Canny ControlNet); MediaPipe face ControlNet and IP-Adapter Plus face: no card"),
        ),
    ),
]  # fmt: skip
