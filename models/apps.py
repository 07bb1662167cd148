"""Per-app model recipes (doc §6 of ../shared/docs/model-catalog.md): the default student, its teacher, the
adapters each app conditions on, and the students it may switch to.

Defaults are commercially usable (DESIGN.md §2); unverified or non-commercial students are alternatives the
user opts into by id. A LoRA student runs on the app's teacher pipeline, so one base stays resident.
"""

from __future__ import annotations

from studio.engine.specs import AppModels

SD15_STUDENTS = ("lcm-lora-sd15", "hyper-sd15-8step-cfg-lora", "hyper-sd15-4step-lora", "hyper-sd15-1step-lora",
                 "tcd-sd15", "pcm-sd15-smallcfg-4step")  # fmt: skip
SDXL_STUDENTS = ("lightning-sdxl-4step-lora", "lightning-sdxl-2step-lora", "lightning-sdxl-8step-lora",
                 "hyper-sdxl-8step-cfg-lora", "hyper-sdxl-4step-lora", "lcm-lora-sdxl", "tcd-sdxl",
                 "lightning-sdxl-4step-unet", "dmd2-sdxl-4step-lora", "pcm-sdxl-smallcfg-4step")  # fmt: skip


def _others(pool: tuple[str, ...], default: str) -> tuple[str, ...]:
    return tuple(s for s in pool if s != default)


APPS = [
    # §6.1 Makeup transfer: LCM-LoRA on the SD1.5 inpainting model, face geometry locked by the MediaPipe-face
    # ControlNet, the reference makeup through IP-Adapter Plus face.
    AppModels(
        app="makeup", family="sd15", pipeline="controlnet-inpaint",
        student="lcm-lora-sd15", teacher="sd15-inpainting",
        adapters=("controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15"),
        alternatives=_others(SD15_STUDENTS, "lcm-lora-sd15"), preview="taesd",
        notes="LCM-LoRA on the inpainting model: 4 steps, guidance 1–4 (doc §1.3)",
    ),
    # §6.2 Virtual try-on: Hyper-SDXL CFG LoRA on SDXL inpainting (Lightning with inpainting is unverified), the
    # garment through IP-Adapter Plus ViT-H, the body through the xinsir OpenPose ControlNet.
    AppModels(
        app="tryon", family="sdxl", pipeline="controlnet-inpaint",
        student="hyper-sdxl-8step-cfg-lora", teacher="sdxl-inpainting",
        adapters=("controlnet-openpose-sdxl-xinsir", "ip-adapter-plus-sdxl-vit-h"),
        alternatives=("tcd-sdxl", "lcm-lora-sdxl", "hyper-sdxl-4step-lora"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
    ),
    # §6.3 Avatar, option C (no InsightFace): Lightning 4-step, IP-Adapter Plus face ViT-H and OpenPose.
    AppModels(
        app="avatar", family="sdxl", pipeline="controlnet",
        student="lightning-sdxl-4step-lora", teacher="sdxl-base",
        adapters=("controlnet-openpose-sdxl-xinsir", "ip-adapter-plus-face-sdxl-vit-h"),
        alternatives=_others(SDXL_STUDENTS, "lightning-sdxl-4step-lora"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
    ),
    # §6.4 Style transfer: InstantStyle (ip-adapter_sdxl with style-only block scales) plus structure from the
    # xinsir union ControlNet in thin-line mode (apache-2.0; the diffusers Canny SDXL licence is unverified).
    AppModels(
        app="style", family="sdxl", pipeline="controlnet",
        student="lightning-sdxl-4step-lora", teacher="sdxl-base",
        adapters=("controlnet-union-sdxl-xinsir", "ip-adapter-sdxl"),
        alternatives=_others(SDXL_STUDENTS, "lightning-sdxl-4step-lora"), preview="taesdxl",
        gpu_extras=("sdxl-vae-fp16-fix",),
    ),
    # §6.5 Head stylization (SD1.5): Hyper-SD15 8-step CFG, MediaPipe-face ControlNet, IP-Adapter Plus face.
    AppModels(
        app="head", family="sd15", pipeline="controlnet",
        student="hyper-sd15-8step-cfg-lora", teacher="sd15",
        adapters=("controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15"),
        alternatives=_others(SD15_STUDENTS, "hyper-sd15-8step-cfg-lora"), preview="taesd",
    ),
]
