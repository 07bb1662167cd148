"""Full-size random weights as a local Hugging Face hub: the real engine path at real sizes on a GPU, no downloads.

The tiny hub (tinyhub.py) checks that everything connects; its models are far too small to time. This writes the
same repos and file names with the published architectures (architectures.py) and random weights, so a GPU machine
without internet can run the engine, the live student and the VRAM planner's prediction against a measured peak at
honest speed and memory. Quality means nothing here, and nothing claims it.

Models are initialised on the GPU (a 2.6 B-parameter random init on the CPU takes minutes), stored as the catalog
files are (fp16 where the name says so, else in the dtype the planner reads from their size), and laid out by
tinyhub.write_cache. Kinds: pipelines (SD1.5 and SDXL, inpainting included), LoRA students (the LCM target modules at
rank 64, in the released kohya layout), full-UNet students, ControlNets and TAESD; IP-Adapters are left to the tiny
hub (a live stream without a reference image does not load one).

    python -m studio.engine.fullhub OUT_DIR makeup          # the makeup recipe's student path (about 3 GB)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from .architectures import BIGG_TEXT, CLIP_L_TEXT, SD15_UNET, SDXL_UNET, VAE
from .tinyhub import (LORA_FORMAT, LORA_TARGETS, SD15_SCHEDULER, SDXL_SCHEDULER, _component, _safetensors,
                      kohya_lora, tokenizer_files, write_cache)  # fmt: skip

#: The released student LoRAs' rank (LCM-LoRA SD1.5: 134.6 MB of fp16 on these targets).
FULL_LORA_RANK = 64


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _serialised(model, half: bool) -> tuple[bytes, bytes]:
    """(config.json, safetensors) of a diffusers or transformers model, as save_pretrained would write them."""
    config = model.config.to_json_string() if hasattr(model.config, "to_json_string") else model.to_json_string()
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}  # fmt: skip
    return config.encode(), _safetensors(state, {"format": "pt"})


def full_unet(family: str, in_channels: int = 4):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    with torch.device(_device()):
        return UNet2DConditionModel(**dict(SD15_UNET if family == "sd15" else SDXL_UNET, in_channels=in_channels))


def full_vae(family: str):
    from diffusers import AutoencoderKL

    with torch.device(_device()):
        # SDXL's own VAE config says force_upcast (it overflows in fp16); the fp16 fix says not.
        return AutoencoderKL(**VAE, scaling_factor=0.18215 if family == "sd15" else 0.13025,
                             force_upcast=family == "sdxl")  # fmt: skip


def full_text_encoder(which: str):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(**(CLIP_L_TEXT if which == "clip-l" else BIGG_TEXT), bos_token_id=512, eos_token_id=513,
                            pad_token_id=513)  # the tiny hub's byte-level tokenizer ids  # fmt: skip
    with torch.device(_device()):
        return (CLIPTextModel if which == "clip-l" else CLIPTextModelWithProjection)(config)


def pipeline_files(spec) -> dict[str, bytes]:
    family, variant, half = spec.family, spec.variant, spec.variant == "fp16"
    files: dict[str, bytes] = {}
    unet = full_unet(family, 9 if spec.inpaint else 4)
    _component(files, "unet", _serialised(unet, half), "diffusion_pytorch_model.safetensors", variant)
    del unet
    _component(files, "vae", _serialised(full_vae(family), half), "diffusion_pytorch_model.safetensors", variant)
    _component(files, "text_encoder", _serialised(full_text_encoder("clip-l"), half), "model.safetensors", variant)
    files.update({f"tokenizer/{k}": v for k, v in tokenizer_files().items()})
    index = {"_class_name": spec.pipeline, "_diffusers_version": "0.21.0", "text_encoder": ["transformers",
             "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}  # fmt: skip
    scheduler = SD15_SCHEDULER if family == "sd15" else SDXL_SCHEDULER
    index["scheduler"] = ["diffusers", scheduler["_class_name"]]
    files["scheduler/scheduler_config.json"] = json.dumps(scheduler, indent=2).encode()
    if family == "sdxl":
        _component(files, "text_encoder_2", _serialised(full_text_encoder("bigg"), half), "model.safetensors",
                   variant)  # fmt: skip
        files.update({f"tokenizer_2/{k}": v for k, v in tokenizer_files(pad="!").items()})
        index.update(text_encoder_2=["transformers", "CLIPTextModelWithProjection"], force_zeros_for_empty_prompt=True,
                     tokenizer_2=["transformers", "CLIPTokenizer"])  # fmt: skip
        if spec.inpaint:
            index["requires_aesthetics_score"] = False
    else:
        index.update(feature_extractor=["transformers", "CLIPImageProcessor"], requires_safety_checker=True,
                     safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"])  # fmt: skip
    files["model_index.json"] = json.dumps(index, indent=2).encode()
    return files


def lora_files(spec) -> dict[str, bytes]:
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**(SD15_UNET if spec.family == "sd15" else SDXL_UNET))
    unet.add_adapter(LoraConfig(r=FULL_LORA_RANK, lora_alpha=FULL_LORA_RANK, target_modules=LORA_TARGETS))
    shapes = tuple((k, tuple(v.shape)) for k, v in get_peft_model_state_dict(unet).items())
    dtype, metadata = LORA_FORMAT[spec.repo]
    tensors = kohya_lora(spec.family, spec.id, dtype, shapes=shapes, rank=FULL_LORA_RANK)
    return {spec.weights.path: _safetensors(tensors, metadata)}


def unet_files(spec) -> dict[str, bytes]:
    unet = full_unet(spec.family)
    state = {k: v.half().cpu().contiguous() for k, v in unet.state_dict().items()}
    return {spec.weights.path: _safetensors(state)}


def controlnet_files(spec) -> dict[str, bytes]:
    from diffusers import ControlNetModel, ControlNetUnionModel

    with torch.device(_device()):
        cls = ControlNetUnionModel if spec.union else ControlNetModel
        model = cls.from_unet(full_unet(spec.family), load_weights_from_unet=False)
    files: dict[str, bytes] = {}
    weights = spec.weights.path.rsplit("/", 1)[-1]
    stem = weights.replace(".fp16", "") if spec.variant == "fp16" else weights
    # Stored as the catalog's size says: fp16 for the SDXL ones and the MediaPipe face variant, fp32 for ControlNet 1.1.
    half = spec.variant == "fp16" or spec.family == "sdxl"
    _component(files, spec.subfolder or "", _serialised(model, half), stem, spec.variant)
    return files


def autoencoder_files(spec) -> dict[str, bytes]:
    from diffusers import AutoencoderTiny

    with torch.device(_device()):
        model = AutoencoderTiny() if spec.kind == "taesd" else full_vae("sd15")
    if spec.kind == "vae":
        model.register_to_config(scaling_factor=0.13025, force_upcast=False)  # the SDXL fp16 fix
    files: dict[str, bytes] = {}
    _component(files, spec.subfolder or "", _serialised(model, False), "diffusion_pytorch_model.safetensors", None)
    return files


BUILDERS = {"pipeline": pipeline_files, "lora": lora_files, "unet": unet_files, "controlnet": controlnet_files,
            "taesd": autoencoder_files, "vae": autoencoder_files}  # fmt: skip


def build(cache_dir: Path, spec_ids: list[str], log=print) -> Path:
    """Write full-size random repos for `spec_ids` into `cache_dir` (a Hugging Face cache); returns it."""
    import time

    from studio.models import load_catalog

    catalog = load_catalog()
    for sid in spec_ids:
        spec = catalog.get(sid)
        if spec.kind not in BUILDERS:
            raise ValueError(f"fullhub builds {', '.join(BUILDERS)} entries, not {spec.kind} ('{sid}').")
        start = time.perf_counter()
        made = BUILDERS[spec.kind](spec)
        wanted = {f.path for f in spec.files}
        missing = wanted - set(made)
        if missing:
            raise RuntimeError(f"fullhub could not build {sorted(missing)} for {sid}")
        write_cache(Path(cache_dir), {spec.repo: {p: made[p] for p in wanted}})
        size = sum(len(made[p]) for p in wanted) / 1e6
        log(f"fullhub: {sid} {size:.0f} MB in {time.perf_counter() - start:.1f} s")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return Path(cache_dir)


#: The live makeup stream's files: the student path without a reference image (no IP-Adapter).
MAKEUP_LIVE = ["sd15-inpainting", "lcm-lora-sd15", "controlnet-mediapipe-face-sd15", "taesd"]

if __name__ == "__main__":
    build(Path(sys.argv[1]), MAKEUP_LIVE if sys.argv[2:] == ["makeup"] else sys.argv[2:])
