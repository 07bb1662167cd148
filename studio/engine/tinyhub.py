"""A tiny local Hugging Face hub: every catalog repo under its real id and real file names, with tiny random
weights of the matching architecture.

Used by the test suite and by `studio bench <app> --tiny`. `build(cache_dir)` writes a standard HF cache (`models--owner--name/{blobs,snapshots/<commit>,refs/main}`), so
the real resolver (`try_to_load_from_cache`), loader (`from_pretrained` on the snapshot folder) and engine run
against it with `HF_HUB_OFFLINE=1`, exactly as they would against fetched weights. Only the files the catalog
lists are written: if the loader needed a file `studio fetch` would not download, the tests would fail.

What each entry holds (sizes are in channels, all seeded, 64 px images → 8×8 latents):
  - SD1.5-like pipelines: UNet (16, 32) with cross-attention 16, 4 (or 9 for inpainting) input channels; CLIP text
    encoder (hidden 16) with a byte-level tokenizer built here (catalog doc §8.1); a 4-level VAE (÷8, like the real
    one); the repo's real scheduler config. SDXL-like: UNet (16, 32) with text_time embedding, two text encoders.
  - LoRA files: kohya keys built from diffusers module names, `.lora_down`/`.lora_up`/`.alpha`, on the LCM target
    modules, rank 2, in each repo's dtype and metadata (catalog doc §10).
  - Full-UNet students: the base UNet architecture with other weights (DMD2 as a .bin pickle, as released).
  - ControlNets from the tiny UNet (`from_unet`), IP-Adapters in the original h94 key layout for that UNet, CLIP
    image encoders (32 px, patch 2: 257 tokens like ViT-H), TAESD (÷8), the SDXL fp16-fix VAE.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

SD15_SCHEDULER = {  # stable-diffusion-v1-5 scheduler/scheduler_config.json
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
}  # fmt: skip
SDXL_SCHEDULER = {  # stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    "use_karras_sigmas": False,
}  # fmt: skip
LCM_SCHEDULER = {"_class_name": "LCMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                 "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
                 "original_inference_steps": 50, "set_alpha_to_one": True, "steps_offset": 1}  # fmt: skip
TURBO_SCHEDULER = dict(SDXL_SCHEDULER, _class_name="EulerAncestralDiscreteScheduler", timestep_spacing="trailing")

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1",
                "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj"]  # fmt: skip
LORA_RANK = 2
# dtype and safetensors metadata of the real LoRA files, per repo (catalog doc §10).
LORA_FORMAT = {
    "ByteDance/SDXL-Lightning": (torch.float16, None),
    "ByteDance/Hyper-SD": (torch.float32, None),  # Hyper-SDXL files also carry {"format": "pt"}; see below
    "latent-consistency/lcm-lora-sdv1-5": (torch.float16, {"format": "pt"}),
    "latent-consistency/lcm-lora-sdxl": (torch.float16, {"format": "pt"}),
    "h1t/TCD-SD15-LoRA": (torch.float16, {"format": "pt"}),
    "h1t/TCD-SDXL-LoRA": (torch.float16, {"format": "pt"}),
    "tianweiy/DMD2": (torch.float16, None),
    "wangfuyun/PCM_Weights": (torch.float16, None),
}
VISION = {"models/image_encoder": dict(hidden_size=16, projection_dim=16),  # ViT-H-like
          "sdxl_models/image_encoder": dict(hidden_size=24, projection_dim=24)}  # ViT-bigG-like  # fmt: skip


# ----------------------------------------------------------------------------------------------- tiny modules
def _seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def tiny_unet(family: str, in_channels: int = 4, time_cond_proj_dim: int | None = None, seed: str = "unet"):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(_seed(seed))
    common = dict(block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=in_channels,
                  out_channels=4, norm_num_groups=8, time_cond_proj_dim=time_cond_proj_dim)  # fmt: skip
    if family == "sd15":
        return UNet2DConditionModel(**common, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                    attention_head_dim=8)  # fmt: skip
    return UNet2DConditionModel(**common, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
                                projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=48)  # fmt: skip


def tiny_vae(scaling_factor: float, force_upcast: bool = False, seed: str = "vae"):
    from diffusers import AutoencoderKL

    torch.manual_seed(_seed(seed))
    return AutoencoderKL(block_out_channels=(8, 8, 16, 16), layers_per_block=1, latent_channels=4, norm_num_groups=8,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         sample_size=64, scaling_factor=scaling_factor, force_upcast=force_upcast)  # fmt: skip


def tiny_taesd(seed: str = "taesd"):
    from diffusers import AutoencoderTiny

    torch.manual_seed(_seed(seed))
    return AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                           num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1))  # fmt: skip


def tiny_text_encoder(hidden: int, projection: bool, seed: str):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(_seed(seed))
    config = CLIPTextConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_attention_heads=2,
                            num_hidden_layers=2, vocab_size=514, bos_token_id=512, eos_token_id=513, pad_token_id=513,
                            max_position_embeddings=77, projection_dim=hidden)  # fmt: skip
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def tiny_image_encoder(hidden_size: int, projection_dim: int, seed: str):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(_seed(seed))
    # 32 px with patch 2 gives 256 patches + CLS = 257 tokens, the count IP-Adapter full-face expects of ViT-H.
    config = CLIPVisionConfig(hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_attention_heads=2,
                              num_hidden_layers=2, image_size=32, patch_size=2,
                              projection_dim=projection_dim)  # fmt: skip
    return CLIPVisionModelWithProjection(config)


@functools.lru_cache(maxsize=None)
def _shared(what: str, half: bool) -> tuple[bytes, bytes]:
    """Text encoders and VAEs are identical across the tiny pipelines: serialise each once per dtype."""
    makers = {
        "te1": lambda: tiny_text_encoder(16, False, "te1"),
        "te2": lambda: tiny_text_encoder(32, True, "te2"),
        "vae-sd15": lambda: tiny_vae(0.18215, force_upcast=False),
        "vae-sdxl": lambda: tiny_vae(0.13025, force_upcast=True),
    }
    return _saved(makers[what](), half)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-unicode table (removed from transformers 5, so inlined; catalog doc §8.1)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tokenizer_files(pad: str = "<|endoftext|>") -> dict[str, bytes]:
    """The four CLIP tokenizer files of an SD repo, with a byte-level vocab (514 tokens) and no merges."""
    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    start = {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    end = dict(start, content="<|endoftext|>")
    config = {"add_prefix_space": False, "bos_token": start, "do_lower_case": True, "eos_token": end,
              "errors": "replace", "model_max_length": 77, "pad_token": pad, "tokenizer_class": "CLIPTokenizer",
              "unk_token": end}  # fmt: skip
    return {
        "vocab.json": json.dumps(vocab).encode(),
        "merges.txt": b"#version: 0.2\n",
        "tokenizer_config.json": json.dumps(config, indent=2).encode(),
        "special_tokens_map.json": json.dumps({"bos_token": start, "eos_token": end, "pad_token": pad,
                                               "unk_token": end}, indent=2).encode(),  # fmt: skip
    }


# ----------------------------------------------------------------------------------------------- serialisation
def _saved(model, half: bool) -> tuple[bytes, bytes]:
    """(config.json, weights.safetensors) as save_pretrained writes them, cast to fp16 for `*.fp16.*` names."""
    from safetensors.torch import load_file, save_file

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        weights = next(p for p in Path(tmp).iterdir() if p.suffix == ".safetensors")
        tensors = load_file(weights)
        if half:
            tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
        out = Path(tmp) / "out.safetensors"
        save_file(tensors, out, metadata={"format": "pt"})
        return (Path(tmp) / "config.json").read_bytes(), out.read_bytes()


def _safetensors(tensors: dict, metadata: dict | None = None) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)


def _component(files: dict, folder: str, model, weights_name: str, variant: str | None) -> None:
    """Write `model` as `<folder>/config.json` + `<folder>/<weights name with variant>`; `model` may be a
    (config, weights) pair already serialised."""
    stem, ext = weights_name.rsplit(".", 1)
    name = f"{stem}.{variant}.{ext}" if variant else weights_name
    config, weights = model if isinstance(model, tuple) else _saved(model, half=variant == "fp16")
    prefix = f"{folder}/" if folder else ""
    files[f"{prefix}config.json"] = config
    files[f"{prefix}{name}"] = weights


# ----------------------------------------------------------------------------------------------- per-kind builders
def pipeline_files(spec) -> dict[str, bytes]:
    family, variant, files = spec.family, spec.variant, {}
    lcm_unet = spec.pipeline == "LatentConsistencyModelPipeline"
    unet = tiny_unet(family, 9 if spec.inpaint else 4, time_cond_proj_dim=32 if lcm_unet else None, seed=spec.id)
    _component(files, "unet", unet, "diffusion_pytorch_model.safetensors", variant)
    half = variant == "fp16"
    _component(files, "vae", _shared(f"vae-{family}", half), "diffusion_pytorch_model.safetensors", variant)
    _component(files, "text_encoder", _shared("te1", half), "model.safetensors", variant)
    files.update({f"tokenizer/{k}": v for k, v in tokenizer_files().items()})
    if family == "sdxl":
        _component(files, "text_encoder_2", _shared("te2", half), "model.safetensors", variant)
        files.update({f"tokenizer_2/{k}": v for k, v in tokenizer_files(pad="!").items()})
    scheduler = LCM_SCHEDULER if lcm_unet else TURBO_SCHEDULER if spec.id == "sdxl-turbo" else (
        SD15_SCHEDULER if family == "sd15" else SDXL_SCHEDULER)  # fmt: skip
    files["scheduler/scheduler_config.json"] = json.dumps(scheduler, indent=2).encode()
    index = {"_class_name": spec.pipeline, "_diffusers_version": "0.21.0",
             "scheduler": ["diffusers", scheduler["_class_name"]], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"]}  # fmt: skip
    if family == "sd15":  # the real SD1.5 model_index lists the safety checker, which the studio does not fetch
        index.update(feature_extractor=["transformers", "CLIPImageProcessor"], requires_safety_checker=True,
                     safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"])  # fmt: skip
    else:
        index.update(text_encoder_2=["transformers", "CLIPTextModelWithProjection"], force_zeros_for_empty_prompt=True,
                     tokenizer_2=["transformers", "CLIPTokenizer"])  # fmt: skip
        if spec.inpaint:
            index["requires_aesthetics_score"] = False
    files["model_index.json"] = json.dumps(index, indent=2).encode()
    return files


@functools.lru_cache(maxsize=None)
def _lora_shapes(family: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(PEFT key, shape) of a rank-2 LoRA on the LCM target modules of the family's tiny UNet (computed once)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    model = tiny_unet(family, seed=f"{family}-lora-base")
    model.add_adapter(LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, target_modules=LORA_TARGETS))
    return tuple((k, tuple(v.shape)) for k, v in get_peft_model_state_dict(model).items())


def kohya_lora(family: str, seed: str, dtype: torch.dtype, shapes=None, rank: int = LORA_RANK) -> dict:
    """A random LoRA for the family's UNet in the released files' layout (catalog doc §10 renaming rule):
    `lora_unet_<diffusers module path, dots as underscores>.lora_down/.lora_up.weight` plus a 0-dim `.alpha`.
    `shapes`: (PEFT key, shape) pairs of another UNet (fullhub.py: the full-size one at the real rank)."""
    generator = torch.Generator().manual_seed(_seed(seed))
    tensors = {}
    for key, shape in shapes or _lora_shapes(family):
        module, _, rest = key.rpartition(".lora_")  # "down_blocks.0...to_q", "A.weight"
        kohya = "lora_unet_" + module.replace(".", "_")
        down = rest.startswith("A")
        fan_in = int(torch.tensor(shape[1:]).prod())
        # Variance-preserving down, small up: the LoRA changes the image clearly and keeps it finite.
        std = fan_in**-0.5 if down else 0.5 * rank**-0.5
        weight = torch.randn(shape, generator=generator) * std
        tensors[f"{kohya}.{'lora_down' if down else 'lora_up'}.weight"] = weight.to(dtype)
        tensors[f"{kohya}.alpha"] = torch.tensor(float(rank), dtype=dtype)
    return tensors


def lora_files(spec) -> dict[str, bytes]:
    dtype, metadata = LORA_FORMAT[spec.repo]
    if spec.repo == "ByteDance/Hyper-SD" and spec.family == "sdxl":
        metadata = {"format": "pt"}
    return {spec.weights.path: _safetensors(kohya_lora(spec.family, spec.id, dtype), metadata)}


def unet_files(spec, base_unet_config) -> dict[str, bytes]:
    from diffusers import UNet2DConditionModel

    if any(f.path.endswith("config.json") for f in spec.files):  # lcm-sdxl: its own config, guidance embedding
        files: dict[str, bytes] = {}
        _component(files, spec.subfolder or "", tiny_unet(spec.family, 4, time_cond_proj_dim=32, seed=spec.id),
                   "diffusion_pytorch_model.safetensors", spec.variant)  # fmt: skip
        return files
    torch.manual_seed(_seed(spec.id))
    tensors = {k: v.half() for k, v in UNet2DConditionModel.from_config(base_unet_config).state_dict().items()}
    if spec.pickle:  # DMD2 ships torch.save()d fp16 state dicts
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        return {spec.weights.path: buffer.getvalue()}
    return {spec.weights.path: _safetensors(tensors)}


def controlnet_files(spec) -> dict[str, bytes]:
    from diffusers import ControlNetModel, ControlNetUnionModel

    unet = tiny_unet(spec.family, seed=f"{spec.id}-unet")
    torch.manual_seed(_seed(spec.id))
    cls = ControlNetUnionModel if spec.union else ControlNetModel
    model = cls.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8, 16), load_weights_from_unet=False)
    if spec.union:  # from_unet keeps the union transformer at its full-size width (320): shrink it to the UNet's
        torch.manual_seed(_seed(spec.id))
        config = {k: v for k, v in model.config.items() if not k.startswith("_")}  # drop _use_default_values
        model = cls(**dict(config, num_trans_channel=16, num_proj_channel=16, num_trans_head=2))
    files: dict[str, bytes] = {}
    weights = spec.weights.path.rsplit("/", 1)[-1]
    if spec.pickle:
        config, _ = _saved(model, half=False)
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        folder = f"{spec.subfolder}/" if spec.subfolder else ""
        files.update({f"{folder}config.json": config, f"{folder}{weights}": buffer.getvalue()})
        return files
    stem = weights.replace(".fp16", "") if spec.variant == "fp16" else weights
    _component(files, spec.subfolder or "", model, stem, spec.variant)
    return files


def ip_adapter_files(spec, unet) -> dict[str, bytes]:
    """IP-Adapter weights in h94's original layout (`image_proj.*`, `ip_adapter.<n>.to_k_ip/to_v_ip`)."""
    from diffusers.models.embeddings import ImageProjection, IPAdapterFullImageProjection, IPAdapterPlusImageProjection

    torch.manual_seed(_seed(spec.id))
    vision = VISION[spec.image_encoder]
    cross = unet.config.cross_attention_dim
    name = spec.weights.path.rsplit("/", 1)[-1]
    if "plus" in name:  # Resampler on the encoder's penultimate hidden states
        proj = IPAdapterPlusImageProjection(embed_dims=vision["hidden_size"], output_dims=cross, hidden_dims=16,
                                            depth=4, dim_head=64, heads=1, num_queries=4)  # fmt: skip
        image_proj = _plus_to_original(proj.state_dict())
    elif "full-face" in name:
        proj = IPAdapterFullImageProjection(image_embed_dim=vision["hidden_size"], cross_attention_dim=cross)
        image_proj = {k.replace("ff.net.0.proj", "proj.0").replace("ff.net.2", "proj.2").replace("norm", "proj.3"): v
                      for k, v in proj.state_dict().items()}  # fmt: skip
    else:
        proj = ImageProjection(cross_attention_dim=cross, image_embed_dim=vision["projection_dim"],
                               num_image_text_embeds=4)
        image_proj = {k.replace("image_embeds", "proj"): v for k, v in proj.state_dict().items()}
    tensors = {f"image_proj.{k}": v for k, v in image_proj.items()}
    key_id = 1
    for proc_name in unet.attn_processors:  # same walk as diffusers' _convert_ip_adapter_attn_to_diffusers
        if proc_name.endswith("attn1.processor"):
            continue
        block = proc_name.split(".")
        if block[0] == "mid_block":
            hidden = unet.config.block_out_channels[-1]
        elif block[0] == "up_blocks":
            hidden = list(reversed(unet.config.block_out_channels))[int(block[1])]
        else:
            hidden = unet.config.block_out_channels[int(block[1])]
        for kv in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{key_id}.{kv}.weight"] = torch.randn(hidden, cross) * 0.1
        key_id += 2
    return {spec.weights.path: _safetensors({k: v.half() for k, v in tensors.items()})}


def _plus_to_original(state: dict) -> dict:
    """Invert diffusers' Resampler key conversion (loaders/unet.py) back to the IP-Adapter repo's names."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] != "layers":
            out[key] = value
            continue
        i, rest = parts[1], ".".join(parts[2:])
        if rest.startswith("ln0"):
            out[f"layers.{i}.0.norm1{rest[3:]}"] = value
        elif rest.startswith("ln1"):
            out[f"layers.{i}.0.norm2{rest[3:]}"] = value
        elif rest == "attn.to_q.weight":
            out[f"layers.{i}.0.to_q.weight"] = value
        elif rest == "attn.to_k.weight":
            out[f"layers.{i}.0.to_kv.weight"] = torch.cat([value, state[f"layers.{i}.attn.to_v.weight"]])
        elif rest == "attn.to_out.0.weight":
            out[f"layers.{i}.0.to_out.weight"] = value
        elif rest.startswith("ff.0"):
            out[f"layers.{i}.1.0{rest[4:]}"] = value
        elif rest == "ff.1.net.0.proj.weight":
            out[f"layers.{i}.1.1.weight"] = value
        elif rest == "ff.1.net.2.weight":
            out[f"layers.{i}.1.3.weight"] = value
        elif rest != "attn.to_v.weight":
            raise KeyError(f"unexpected Resampler key {key}")
    return out


@functools.lru_cache(maxsize=None)
def encoder_files(folder: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    _component(files, folder, tiny_image_encoder(**VISION[folder], seed=folder), "model.safetensors", None)
    return files


def autoencoder_files(spec) -> dict[str, bytes]:
    model = tiny_taesd(spec.id) if spec.kind == "taesd" else tiny_vae(0.13025, force_upcast=False, seed=spec.id)
    files: dict[str, bytes] = {}
    _component(files, spec.subfolder or "", model, "diffusion_pytorch_model.safetensors", None)
    return files


# ----------------------------------------------------------------------------------------------- the hub
def repo_files(specs) -> dict[str, dict[str, bytes]]:
    """{repo: {path: bytes}} for the given specs, with exactly the files each spec lists."""
    bases = {fam: tiny_unet(fam, seed=f"{fam}-lora-base") for fam in ("sd15", "sdxl")}
    repos: dict[str, dict[str, bytes]] = {}
    for spec in specs:
        if spec.kind == "pipeline":
            made = pipeline_files(spec)
        elif spec.kind == "lora":
            made = lora_files(spec)
        elif spec.kind == "unet":
            made = unet_files(spec, bases[spec.family].config)
        elif spec.kind == "controlnet":
            made = controlnet_files(spec)
        elif spec.kind == "ip_adapter":
            made = {**ip_adapter_files(spec, bases[spec.family]), **encoder_files(spec.image_encoder)}
        else:
            made = autoencoder_files(spec)
        wanted = {f.path for f in spec.files}
        absent = wanted - set(made)
        if absent:
            raise RuntimeError(f"tinyhub could not build {sorted(absent)} for {spec.id}")
        repo = repos.setdefault(spec.repo, {})
        for path in wanted:
            repo.setdefault(path, made[path])
    return repos


def commit_for(repo: str) -> str:
    return hashlib.sha1(f"tinyhub:{repo}".encode()).hexdigest()


def write_cache(cache_dir: Path, repos: dict[str, dict[str, bytes]]) -> None:
    """Lay files out as huggingface_hub does: content-addressed blobs, symlinked snapshots, refs/main."""
    for repo, files in repos.items():
        root = Path(cache_dir) / f"models--{repo.replace('/', '--')}"
        commit = commit_for(repo)
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text(commit)
        for path, data in files.items():
            blob = root / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            if not blob.exists():
                blob.write_bytes(data)
            link = root / "snapshots" / commit / path
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            try:
                link.symlink_to(os.path.relpath(blob, link.parent))
            except OSError:  # filesystems without symlinks: huggingface_hub copies too
                shutil.copyfile(blob, link)


def build(cache_dir: Path, spec_ids: list[str] | None = None) -> Path:
    """Write the tiny hub for the whole catalog (or the given ids) into `cache_dir`; returns it."""
    import transformers
    from studio.models import load_catalog

    transformers.utils.logging.disable_progress_bar()  # no "Writing model shards" bar per tiny component
    catalog = load_catalog()
    specs = [catalog.get(i) for i in spec_ids] if spec_ids else list(catalog.specs.values())
    write_cache(Path(cache_dir), repo_files(specs))
    return Path(cache_dir)


def partial_copy(cache_dir: Path, target: Path, spec_ids: list[str]) -> Path:
    """A second cache holding only the repos of `spec_ids` (symlinked), to test missing weights."""
    from studio.models import load_catalog

    catalog = load_catalog()
    target.mkdir(parents=True, exist_ok=True)
    for repo in {catalog.get(i).repo for i in spec_ids}:
        name = f"models--{repo.replace('/', '--')}"
        if not (target / name).exists():
            (target / name).symlink_to(Path(cache_dir) / name)
    return target
