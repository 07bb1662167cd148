"""Peak activation memory of a model call, traced on the meta device: no weights, no arithmetic, seconds.

The VRAM planner (planner.py) predicts a call's peak from the catalog's file sizes (weights) plus activations per
latent pixel. Those per-pixel figures come from here: each model of the full-size SD1.5 / SDXL architectures
(architectures.py) is built on the `meta` device and called once at a reference size, and every operator output
that owns new storage adds its bytes to a live count, which a weakref finalizer lowers when Python frees the
tensor. The highest count is the activation peak of an eager call, which is what `torch.cuda.max_memory_allocated`
sees on top of the weights (up to the caching allocator's rounding and cuDNN/cuBLAS workspaces, which this cannot
see: the GPU check in benchmarks/gpu_engine_check.py measures the difference).

Attention is counted as CUDA runs it: PyTorch's fused SDPA kernels (flash, memory-efficient) return the output and
never hold the N×N weights, while on `meta` SDPA falls back to the math path, which would. So SDPA is replaced by
a function that allocates its output only while tracing.

    python -m studio.engine.memtrace          # prints the planner's ACTIVATION table, re-measured
"""

from __future__ import annotations

import contextlib
import json
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .architectures import BIGG_TEXT, CLIP_L_TEXT, IMAGE_ENCODERS, SD15_UNET, SDXL_UNET, VAE

#: Latent side the per-pixel figures are measured at (512 px for SD1.5, a quarter of SDXL's area).
REFERENCE_LATENT = 64


class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of tensors created inside the mode and still alive; keeps the highest count."""

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0

    def _freed(self, nbytes: int) -> None:
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {id(t.untyped_storage()) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor) or tensor._base is not None:
                continue  # views share their base's storage
            storage = tensor.untyped_storage()
            if id(storage) in inputs:
                continue  # in-place ops hand back an input
            nbytes = storage.nbytes()
            self.live += nbytes
            self.peak = max(self.peak, self.live)
            weakref.finalize(tensor, self._freed, nbytes)
        return out


def _fused_sdpa(query, key, value, *args, **kwargs):
    """What flash / memory-efficient attention allocates: the output (its log-sum-exp is a few kB)."""
    return query.new_empty((*query.shape[:-1], value.shape[-1]))


@contextlib.contextmanager
def _fused_attention():
    original = torch.nn.functional.scaled_dot_product_attention
    torch.nn.functional.scaled_dot_product_attention = _fused_sdpa
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = original


def peak_bytes(call) -> int:
    """Activation peak of `call()` (inputs made before it are not counted; neither are parameters)."""
    tracker = _LiveBytes()
    with torch.no_grad(), _fused_attention(), tracker:
        result = call()
        del result
    return tracker.peak


# --------------------------------------------------------------------------------------------- the models
def _quiet_meta():
    """diffusers warns about fp16 casts of modules built without from_pretrained: expected here."""
    from diffusers.utils import logging as d_log

    return d_log


def unet(family: str, in_channels: int = 4, dtype=torch.float16):
    from diffusers import UNet2DConditionModel

    config = dict(SD15_UNET if family == "sd15" else SDXL_UNET, in_channels=in_channels)
    with torch.device("meta"):
        return UNet2DConditionModel(**config).to(dtype)


def controlnet(family: str, union: bool = False, dtype=torch.float16):
    from diffusers import ControlNetModel, ControlNetUnionModel

    base = unet(family, dtype=dtype)
    with torch.device("meta"):
        model = (ControlNetUnionModel if union else ControlNetModel).from_unet(base, load_weights_from_unet=False)
    return model.to(dtype)


def vae(dtype=torch.float16):
    from diffusers import AutoencoderKL

    with torch.device("meta"):
        return AutoencoderKL(**VAE).to(dtype)


def taesd(dtype=torch.float16):
    from diffusers import AutoencoderTiny

    with torch.device("meta"):
        return AutoencoderTiny().to(dtype)  # the defaults are TAESD's published config


def text_encoder(which: str, dtype=torch.float16):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(**(CLIP_L_TEXT if which == "clip-l" else BIGG_TEXT))
    with torch.device("meta"):
        model = (CLIPTextModel if which == "clip-l" else CLIPTextModelWithProjection)(config)
    return model.to(dtype)


def image_encoder(folder: str, dtype=torch.float16):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.device("meta"):
        return CLIPVisionModelWithProjection(CLIPVisionConfig(**IMAGE_ENCODERS[folder])).to(dtype)


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------- the calls
def _meta(*shape, dtype=torch.float16):
    return torch.empty(*shape, device="meta", dtype=dtype)


def _unet_inputs(model, family: str, batch: int, side: int, dtype) -> dict:
    cross = model.config.cross_attention_dim
    inputs = {"sample": _meta(batch, model.config.in_channels, side, side, dtype=dtype),
              "timestep": torch.full((batch,), 999, device="meta"),
              "encoder_hidden_states": _meta(batch, 77, cross, dtype=dtype)}  # fmt: skip
    if family == "sdxl":
        inputs["added_cond_kwargs"] = {"text_embeds": _meta(batch, 1280, dtype=dtype),
                                       "time_ids": _meta(batch, 6, dtype=dtype)}  # fmt: skip
    return inputs


def denoise_peak(family: str, side: int, batch: int = 1, in_channels: int = 4, with_controlnet: bool = False,
                 union: bool = False, dtype=torch.float16) -> int:  # fmt: skip
    """One denoising step at a `side`×`side` latent: the ControlNet (if any), then the UNet with its residuals."""
    model = unet(family, in_channels, dtype)
    inputs = _unet_inputs(model, family, batch, side, dtype)
    cn = controlnet(family, union, dtype) if with_controlnet else None

    def step():
        extra = {}
        if cn is not None:
            cn_inputs = dict(_unet_inputs(model, family, batch, side, dtype), sample=_meta(batch, 4, side, side))
            cond = _meta(batch, 3, side * 8, side * 8, dtype=dtype)
            if union:
                cn_inputs.update(controlnet_cond=[cond], control_type=torch.ones(batch, 6, device="meta"),
                                 control_type_idx=[3])  # fmt: skip
            else:
                cn_inputs["controlnet_cond"] = cond
            down, mid = cn(**cn_inputs, return_dict=False)
            extra = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
        return model(**inputs, **extra).sample

    return peak_bytes(step)


def vae_peak(side: int, what: str = "decode", tiny: bool = False, dtype=torch.float16) -> int:
    """Decoding a `side`×`side` latent, or encoding the `side`·8 image, with the SD VAE or TAESD."""
    model = taesd(dtype) if tiny else vae(dtype)
    if what == "decode":
        latents = _meta(1, 4, side, side, dtype=dtype)
        return peak_bytes(lambda: model.decode(latents).sample)
    image = _meta(1, 3, side * 8, side * 8, dtype=dtype)
    return peak_bytes(lambda: model.encode(image)[0])


def text_peak(which: str, dtype=torch.float16) -> int:
    model = text_encoder(which, dtype)
    ids = torch.zeros(1, 77, dtype=torch.long, device="meta")
    return peak_bytes(lambda: model(ids, output_hidden_states=True))


def image_encoder_peak(folder: str, dtype=torch.float16) -> int:
    model = image_encoder(folder, dtype)
    pixels = _meta(1, 3, 224, 224, dtype=dtype)
    return peak_bytes(lambda: model(pixels, output_hidden_states=True))


def activation_table(side: int = REFERENCE_LATENT) -> dict:
    """The planner's ACTIVATION table: bytes per latent pixel per batch item (fp16) for the resolution-bound calls,
    MB for the fixed ones (prompt and reference encoding). Takes about a minute on a laptop CPU."""
    pixels = side * side
    per_pixel = {}
    for family in ("sd15", "sdxl"):
        plain = denoise_peak(family, side)
        per_pixel[f"unet-{family}"] = plain / pixels
        per_pixel[f"controlnet-{family}"] = (denoise_peak(family, side, with_controlnet=True) - plain) / pixels
    per_pixel["controlnet-union-sdxl"] = (denoise_peak("sdxl", side, with_controlnet=True, union=True)
                                          - per_pixel["unet-sdxl"] * pixels) / pixels  # fmt: skip
    for what in ("decode", "encode"):
        per_pixel[f"vae-{what}"] = vae_peak(side, what) / pixels
        per_pixel[f"taesd-{what}"] = vae_peak(side, what, tiny=True) / pixels
    fixed_mb = {"text-clip-l": text_peak("clip-l") / 1e6, "text-bigg": text_peak("bigg") / 1e6,
                **{f"image-encoder-{k.split('/')[0]}": image_encoder_peak(k) / 1e6 for k in IMAGE_ENCODERS}}
    return {"per_latent_pixel": {k: round(v, 1) for k, v in per_pixel.items()},
            "fixed_mb": {k: round(v, 1) for k, v in fixed_mb.items()}}


def param_table() -> dict:
    """Parameter counts (millions) of the full-size components, for the planner's PARAMS_M."""
    out = {"unet-sd15": params(unet("sd15")), "unet-sd15-inpaint": params(unet("sd15", 9)),
           "unet-sdxl": params(unet("sdxl")), "unet-sdxl-inpaint": params(unet("sdxl", 9)),
           "controlnet-sd15": params(controlnet("sd15")), "controlnet-sdxl": params(controlnet("sdxl")),
           "controlnet-union-sdxl": params(controlnet("sdxl", union=True)), "vae": params(vae()),
           "taesd": params(taesd()), "text-clip-l": params(text_encoder("clip-l")),
           "text-bigg": params(text_encoder("bigg")),
           **{f"image-encoder-{k.split('/')[0]}": params(image_encoder(k)) for k in IMAGE_ENCODERS}}  # fmt: skip
    return {k: round(v / 1e6, 2) for k, v in out.items()}


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    _quiet_meta().set_verbosity_error()
    print(json.dumps({"activations": activation_table(), "params_m": param_table()}, indent=2))
