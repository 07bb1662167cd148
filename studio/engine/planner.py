"""The VRAM planner: a call's peak GPU memory, predicted before anything loads, and the cheapest way to fit it.

Out-of-memory is the most common complaint in every anchor project's tracker (IDM-VTON needs more than 18 GB,
PhotoMaker 15 GB), and nothing tells a user before the crash. The planner adds up, for one tier of one app:

  - **weights** from the catalog's file sizes, converted to the dtype the call runs in (a file's own dtype is read
    from its name, or told apart by its size against the architecture's parameter count);
  - **activations** at the call's resolution, per phase (prompt, reference image, VAE encode, one denoising step
    with CFG's doubled batch and the ControlNet, VAE decode), from per-latent-pixel figures measured once with
    `memtrace.py` on the full-size architectures;
  - the **fusion copy** of a merged LoRA student, which lives in host RAM (fusion.py), and the offloaded weights.

For each mode, cheapest first — everything on the GPU; the same with the VAE tiled; model offload (one model on the
GPU at a time, diffusers' `enable_model_cpu_offload`); the same tiled; sequential offload (layer by layer) — it
predicts the peak (weights resident in that mode plus the largest phase) and picks the first that fits the device
after a reserve for what torch's allocator does not see. The engine runs every call by its plan: a call that fits
no mode stops with the plan (`WontFit`) instead of an out-of-memory error halfway through, and the plan goes into
the result's provenance. `studio plan <app> --vram GB` prints the same plan for any GPU size.

Nothing here imports torch: planning is arithmetic on the catalog (`device_capacity` asks torch only when it
must look at a real device).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import InputError

GIB = 2**30
MB = 1e6

#: Cheapest (fastest) first.
MODES = ("gpu", "gpu+tiling", "model_offload", "model_offload+tiling", "sequential_offload")
#: What a CPU or an Apple GPU can apply: unified memory, nothing to offload to.
ON_DEVICE_MODES = ("gpu", "gpu+tiling")
MODE_WORDS = {
    "gpu": "everything on the GPU",
    "gpu+tiling": "everything on the GPU, VAE tiled",
    "model_offload": "model offload (one model on the GPU at a time)",
    "model_offload+tiling": "model offload with the VAE tiled",
    "sequential_offload": "sequential offload (layer by layer, VAE tiled; slow)",
}

#: Parameters (millions) of the full-size components (`python -m studio.engine.memtrace`: meta-device builds of the
#: published configs in architectures.py). They tell an fp32 file from an fp16 one where the file name does not.
PARAMS_M = {
    "unet-sd15": 859.52, "unet-sdxl": 2567.46, "controlnet-sd15": 361.28, "controlnet-sdxl": 1251.01,
    "controlnet-union-sdxl": 1255.96, "vae": 83.65, "taesd": 2.45, "text-clip-l": 123.06, "text-bigg": 694.66,
    "image-encoder-vit-h": 632.08, "image-encoder-vit-bigg": 1844.91,
}  # fmt: skip

#: Activation peaks (`memtrace.activation_table()`, fp16, attention as CUDA's fused SDPA kernels run it): bytes per
#: latent pixel per image in the batch. A ControlNet's figure is what it adds to the UNet's step (its residuals
#: are held while the UNet runs). Measured at a 64×64 latent; linear in pixels and batch (tests/test_planner.py).
PER_LATENT_PIXEL = {
    "unet-sd15": 16640.8, "unet-sdxl": 10081.4, "controlnet-sd15": 5020.9, "controlnet-sdxl": 4149.6,
    "controlnet-union-sdxl": 4149.6, "vae-decode": 98312.0, "vae-encode": 81920.0, "taesd-decode": 24584.0,
    "taesd-encode": 24960.0,
}  # fmt: skip
#: Resolution-free activation peaks (MB, fp16): 77-token prompts, 224² reference images.
FIXED_MB = {"text-clip-l": 3.1, "text-bigg": 8.3, "image-encoder-vit-h": 27.6, "image-encoder-vit-bigg": 51.2}

#: LoRA repos whose files are fp32 (catalog doc §10, mirrored by tinyhub.LORA_FORMAT); the others ship fp16.
LORA_FP32_REPOS = ("ByteDance/Hyper-SD",)
#: The largest single layer sequential offload moves at once: the CLIP token embedding (49408 × width).
TOKEN_EMBEDDING = {"sd15": 49408 * 768, "sdxl": 49408 * 1280}
#: VAE tile side (px) the engine sets when tiling. diffusers tiles at the VAE's sample_size (512 for SD1.5, 1024 for
#: SDXL), which would leave a 1024² SDXL image in one tile; 512 px tiles with diffusers' 25 % overlap.
TILE_PX = 512
#: What the device needs besides torch's allocations: the CUDA context and cuDNN/cuBLAS workspaces live outside
#: torch's allocator (0.3–0.6 GB on current drivers), and the caching allocator fragments a little (ours: 5 %).
CONTEXT_MB = 600.0
FRAGMENTATION = 0.05
#: Share of a UNet's weights a merged student LoRA changes, i.e. the host copy fusion.py keeps to give the teacher
#: its exact weights back: measured on an H200 with a rank-64 LoRA (SDXL 4.4 GB of 5.1 GB, SD1.5 0.53 of 1.72).
FUSED_SHARE = {"sdxl": 4.4 / 5.135, "sd15": 0.53 / 1.719}


class WontFit(InputError):
    """No memory mode fits the call on this device: raised before anything loads, with the plan."""

    def __init__(self, plan: "MemoryPlan"):
        self.plan = plan
        best = plan.modes[plan.mode]
        super().__init__(
            f"The {plan.tier} '{plan.model}' cannot fit in {plan.capacity_gb:g} GB ({plan.capacity_source}) at "
            f"{plan.width}×{plan.height}: even {MODE_WORDS[plan.mode]} peaks at {best['peak_mb'] / 1e3:.1f} GB, and "
            f"{plan.usable_mb / 1e3:.1f} GB are usable. Lower the resolution, leave out an adapter, or use a GPU with "
            f"more memory. Plan: {plan.describe()}"
        )


@dataclass
class Weight:
    name: str  # "sd15-inpainting: unet"
    group: str  # what model offload moves as one: text_encoder(_2), image_encoder, unet, controlnet, vae, …
    file_mb: float
    stored: str  # "float16" | "float32": the file's own dtype
    mb: float  # in the call's dtype


@dataclass
class MemoryPlan:
    tier: str
    model: str
    kind: str
    family: str
    width: int
    height: int
    dtype: str
    batch: int  # images per UNet call: 2 with classifier-free guidance
    device: str
    capacity_gb: float
    capacity_source: str
    usable_mb: float
    weights: list[Weight]
    activations_mb: dict[str, float]  # phase -> activation peak
    host_mb: dict[str, float]  # what sits in host RAM because of this plan (fusion copy, offloaded weights)
    modes: dict[str, dict]  # mode -> {"peak_mb", "phase", "fits"}
    mode: str  # the chosen (cheapest fitting) mode; the lightest mode when none fits
    fits: bool
    applied: str  # what this device applies of the mode (offload needs CUDA; a CPU's own plan is a forecast)
    enforced: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def peak_mb(self) -> float:
        return self.modes[self.mode]["peak_mb"]

    @property
    def offload(self) -> str | None:
        """"model" or "sequential" when the device applies an offload mode, else None."""
        return {"model_offload": "model", "model_offload+tiling": "model",
                "sequential_offload": "sequential"}.get(self.applied)  # fmt: skip

    @property
    def tiling(self) -> bool:
        return self.applied in ("gpu+tiling", "model_offload+tiling", "sequential_offload")

    @property
    def weights_mb(self) -> float:
        return sum(w.mb for w in self.weights)

    def describe(self) -> str:
        """One line for provenance: 'model offload: 6.1 GB predicted of 7.0 GB usable (all on the GPU: 13.9 GB)'."""
        gpu = self.modes["gpu"]["peak_mb"]
        text = (f"{MODE_WORDS[self.mode]}: {self.peak_mb / 1e3:.1f} GB predicted peak, {self.usable_mb / 1e3:.1f} "
                f"GB usable of {self.capacity_gb:g} GB ({self.capacity_source}) at {self.width}×{self.height}")
        if self.mode != "gpu":
            text += f"; everything on the GPU would peak at {gpu / 1e3:.1f} GB"
        if not self.enforced:
            text += f" (a forecast: the {self.device} runs the call as it is)"
        elif self.applied != self.mode:
            text += f"; this {self.device} applies {MODE_WORDS[self.applied]}"
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        out["weights"] = {w.name: round(w.mb, 1) for w in self.weights}
        out["weight_files"] = {w.name: {"file_mb": w.file_mb, "stored": w.stored} for w in self.weights}
        out["weights_mb"] = round(self.weights_mb, 1)
        out["peak_mb"] = round(self.peak_mb, 1)
        out["summary"] = self.describe()
        return out


# --------------------------------------------------------------------------------------------- weights
def _component(spec, path: str) -> tuple[str, str]:
    """(group, architecture key) of one weights file of a catalog entry."""
    family = spec.family
    if spec.kind == "pipeline":
        folder = path.split("/", 1)[0]
        if folder == "unet":
            return "unet", f"unet-{family}"
        if folder == "vae":
            return "vae", "vae"
        if folder == "text_encoder":
            return "text_encoder", "text-clip-l"
        if folder == "text_encoder_2":
            return "text_encoder_2", "text-bigg"
        return folder, ""
    if spec.kind == "ip_adapter" and spec.image_encoder and path.startswith(spec.image_encoder):
        return "image_encoder", "image-encoder-vit-h" if spec.image_encoder.startswith("models/") else (
            "image-encoder-vit-bigg")  # fmt: skip
    return {
        "lora": ("unet", ""), "ip_adapter": ("unet", ""),  # both live in the UNet's layers
        "unet": ("unet", f"unet-{family}"), "vae": ("vae", "vae"), "taesd": ("taesd", "taesd"),
        "controlnet": ("controlnet", f"controlnet-{'union-' if spec.union else ''}{family}"),
    }[spec.kind]  # fmt: skip


def _stored_bytes(spec, path: str, size_mb: float, arch: str) -> int:
    if ".fp16." in path or (spec.variant == "fp16" and spec.kind == "pipeline"):
        return 2
    if arch in PARAMS_M:  # 4 bytes a parameter or 2: whichever the size is closer to
        return 4 if size_mb / PARAMS_M[arch] > 3.0 else 2
    if spec.kind == "lora":
        return 4 if spec.repo in LORA_FP32_REPOS else 2
    return 2  # IP-Adapter projections and other small files ship fp16


def weights_of(spec, dtype_bytes: int, group: str | None = None, label: str | None = None) -> list[Weight]:
    """The weights one catalog entry brings to a call, per file, in the call's dtype."""
    out = []
    for f in spec.files:
        if f.size_mb is None or not f.path.endswith((".safetensors", ".bin")):
            continue
        own_group, arch = _component(spec, f.path)
        stored = _stored_bytes(spec, f.path, f.size_mb, arch)
        part = f.path.split("/", 1)[0] if spec.kind == "pipeline" else (
            "image encoder" if own_group == "image_encoder" else spec.kind)  # fmt: skip
        runtime = round(f.size_mb * dtype_bytes / stored, 1)
        out.append(Weight(f"{label or spec.id}: {part}", group or own_group, f.size_mb,
                          "float32" if stored == 4 else "float16", runtime))
    return out


# --------------------------------------------------------------------------------------------- one call
@dataclass
class Call:
    """What the planner needs of one tier's call: catalog entries (nothing resolved or loaded) and the sizes."""

    tier: str
    spec: object  # the student or teacher ModelSpec
    base: object  # the pipeline it runs on
    kind: str
    width: int
    height: int
    guidance: float
    dtype: str = "float16"
    controlnet: object | None = None
    ip_adapter: object | None = None
    preview: object | None = None  # TAESD for step previews
    vae_fix: object | None = None  # SDXL's fp16-fix VAE (replaces the base VAE, no fp32 upcast)
    decoder: str = "vae"  # "taesd": the live stream encodes and decodes with TAESD
    fused: bool = False  # a LoRA student merged into its base (fusion.py)
    extra: list[Weight] = field(default_factory=list)  # weights outside the catalog (the user's LoRAs)

    @property
    def dtype_bytes(self) -> int:
        return 2 if self.dtype in ("float16", "bfloat16") else 4

    @property
    def batch(self) -> int:
        embedded = getattr(self.spec, "guidance_embedding", False)
        return 2 if self.guidance > 1.0 and not embedded else 1

    @property
    def upcast(self) -> bool:
        """SDXL's own VAE overflows in fp16: diffusers decodes (and encodes) in fp32 unless the fp16 fix is used."""
        return (self.base.family == "sdxl" and self.dtype_bytes == 2 and self.vae_fix is None
                and self.decoder == "vae")  # fmt: skip


def call_weights(call: Call) -> list[Weight]:
    b = call.dtype_bytes
    weights = []
    for w in weights_of(call.base, b):
        if w.group == "vae" and call.vae_fix is not None:
            continue  # replaced by the fix below
        if w.group == "unet" and call.spec.kind == "unet":
            w.group, w.name = "idle", w.name + " (resident for the teacher, idle in this call)"
        weights.append(w)
    if call.vae_fix is not None:
        weights += weights_of(call.vae_fix, b, group="vae")
    if call.spec is not call.base:
        weights += weights_of(call.spec, b)
    for extra in (call.controlnet, call.ip_adapter):
        if extra is not None:
            weights += weights_of(extra, b)
    if call.preview is not None:
        weights += weights_of(call.preview, b, group="taesd")
    return weights + list(call.extra)


def call_activations(call: Call) -> dict[str, float]:
    """Activation peak (MB) of each phase of the call, in the order they run."""
    scale = call.dtype_bytes / 2  # the figures are fp16
    latent = (call.width // 8) * (call.height // 8)
    family = call.base.family
    vae_scale = scale * (2 if call.upcast else 1)
    acts = {"prompt": max(FIXED_MB["text-clip-l"], FIXED_MB["text-bigg"] if family == "sdxl" else 0.0) * scale}
    if call.ip_adapter is not None:
        big = not call.ip_adapter.image_encoder.startswith("models/")
        acts["reference"] = FIXED_MB["image-encoder-vit-bigg" if big else "image-encoder-vit-h"] * scale
    coder = "taesd" if call.decoder == "taesd" else "vae"
    if call.kind in ("img2img", "inpaint", "controlnet-img2img", "controlnet-inpaint"):
        acts["encode"] = PER_LATENT_PIXEL[f"{coder}-encode"] * latent * vae_scale / MB
    step = PER_LATENT_PIXEL[f"unet-{family}"]
    if call.controlnet is not None:
        step += PER_LATENT_PIXEL[f"controlnet-{'union-' if call.controlnet.union else ''}{family}"]
    # Held across the step: the control image for the batch and the latents (fp32 in the schedulers).
    held = (3 * call.width * call.height * call.batch * call.dtype_bytes if call.controlnet is not None else 0)
    held += 4 * latent * 4 * 4
    acts["denoise"] = (step * latent * call.batch * scale + held) / MB
    acts["decode"] = PER_LATENT_PIXEL[f"{coder}-decode"] * latent * vae_scale / MB
    if coder == "vae":
        tile = min(latent, (TILE_PX // 8) ** 2)
        output = 3 * call.width * call.height * 2 * call.dtype_bytes * (2 if call.upcast else 1)  # tiles + their join
        acts["decode, tiled"] = (PER_LATENT_PIXEL["vae-decode"] * tile * vae_scale + output) / MB
        if "encode" in acts:
            acts["encode, tiled"] = PER_LATENT_PIXEL["vae-encode"] * tile * vae_scale / MB
    return {k: round(v, 1) for k, v in acts.items()}


def _groups(weights: list[Weight]) -> dict[str, float]:
    out: dict[str, float] = {}
    for w in weights:
        out[w.group] = out.get(w.group, 0.0) + w.mb
    return out


def mode_peak(call: Call, mode: str, weights: list[Weight], acts: dict[str, float]) -> tuple[float, str]:
    """(predicted peak MB, the phase it happens in) of the call in one mode."""
    groups = _groups(weights)
    tiled = mode in ("gpu+tiling", "model_offload+tiling", "sequential_offload")
    phases = {k: v for k, v in acts.items() if not k.endswith(", tiled")}
    if tiled:
        for k in ("encode", "decode"):
            if f"{k}, tiled" in acts:
                phases[k] = acts[f"{k}, tiled"]
    vae_mb = groups.get("vae", 0.0)
    upcast_extra = vae_mb if call.upcast else 0.0  # the VAE converted to fp32 for encoding / decoding
    always = groups.get("taesd", 0.0)  # previews decode on the device in every mode
    if mode.startswith("gpu"):
        resident = sum(groups.values())
        on_gpu = {p: resident + (upcast_extra if p in ("encode", "decode") else 0.0) for p in phases}
    elif mode.startswith("model_offload"):
        # diffusers' chain text_encoder -> text_encoder_2 -> image_encoder -> unet -> vae moves each model in when it
        # runs and the one before it out; the ControlNet (called every step) joins the UNet and stays until the end,
        # and a VAE that encoded the init image stays through the denoising.
        text = max(groups.get("text_encoder", 0.0), groups.get("text_encoder_2", 0.0))
        on_gpu = {"prompt": text, "reference": groups.get("image_encoder", 0.0),
                  "encode": vae_mb + upcast_extra,
                  "denoise": groups.get("unet", 0.0) + groups.get("controlnet", 0.0) + (vae_mb if "encode" in phases
                                                                                        else 0.0),
                  "decode": vae_mb + upcast_extra + groups.get("controlnet", 0.0)}  # fmt: skip
        on_gpu = {p: on_gpu[p] + always for p in phases}
    else:
        leaf = TOKEN_EMBEDDING[call.base.family] * call.dtype_bytes / MB
        on_gpu = {p: leaf + always for p in phases}
    peaks = {p: on_gpu[p] + phases[p] for p in phases}
    phase = max(peaks, key=peaks.get)
    return round(peaks[phase], 1), phase


def plan_call(call: Call, capacity_mb: float, capacity_source: str, device: str, modes: tuple[str, ...] = MODES,
              floor: str | None = None, enforce: bool = True) -> MemoryPlan:  # fmt: skip
    """The memory plan of one call on a device of `capacity_mb`, choosing among `modes` (from `floor` on);
    `enforce=False`: a forecast that changes nothing (the CPU's own plans, see `enforced`)."""
    weights = call_weights(call)
    acts = call_activations(call)
    usable = capacity_mb * (1 - FRAGMENTATION) - CONTEXT_MB
    table = {}
    for mode in MODES:
        peak, phase = mode_peak(call, mode, weights, acts)
        table[mode] = {"peak_mb": peak, "phase": phase, "fits": peak <= usable}
    allowed = [m for m in MODES if (floor is None or MODES.index(m) >= MODES.index(floor))]
    chosen = next((m for m in allowed if table[m]["fits"]), allowed[-1])
    applicable = [m for m in allowed if m in modes] or ["gpu"]
    applied = chosen if chosen in modes else next((m for m in reversed(applicable) if
                                                   MODES.index(m) <= MODES.index(chosen)), applicable[0])  # fmt: skip
    if not enforce:
        applied = "gpu"
    notes = []
    if call.upcast:
        notes.append("SDXL's VAE runs in fp32 here (diffusers' upcast): the fp16-fix VAE (sdxl-vae-fp16-fix) would "
                     "halve the decode's memory.")  # fmt: skip
    if enforce and applied != chosen:
        notes.append(f"{MODE_WORDS[chosen].capitalize()} was chosen for {capacity_mb * MB / GIB:.3g} GB; the {device} "
                     f"cannot offload, so it applies {MODE_WORDS[applied]}.")  # fmt: skip
    host = {}
    unet_mb = sum(w.mb for w in weights if w.group in ("unet", "idle") and ": unet" in w.name)
    if call.fused and call.spec.kind == "lora":
        host["fusion copy"] = round(unet_mb * FUSED_SHARE[call.base.family], 1)
    if "offload" in chosen:
        host["offloaded weights"] = round(sum(w.mb for w in weights), 1)
    # An Apple GPU cannot offload: what it applies must fit itself. A CPU told a GPU size rehearses that GPU's choice.
    fits = table[chosen]["fits"] if device == "cpu" or not enforce else table[applied]["fits"]
    return MemoryPlan(call.tier, call.spec.id, call.kind, call.base.family, call.width, call.height, call.dtype,
                      call.batch, device, round(capacity_mb * MB / GIB, 2), capacity_source, round(usable, 1),
                      weights, acts, host, table, chosen, fits, applied, enforce, notes)  # fmt: skip


# --------------------------------------------------------------------------------------------- devices
def device_capacity(device: str, vram_gb: float | None = None) -> tuple[float, str]:
    """(MB, where the number comes from) of memory a call on `device` may use: `vram_gb` GiB when given (a GPU of
    that size is assumed), else the GPU's total memory, Apple's recommended working set, or the machine's RAM."""
    if vram_gb is not None:
        return vram_gb * GIB / MB, f"{vram_gb:g} GB set by STUDIO_VRAM_GB / --vram"
    if device.startswith("cuda"):
        import torch

        props = torch.cuda.get_device_properties(torch.device(device))
        return props.total_memory / MB, props.name
    if device == "mps":
        import torch

        return torch.mps.recommended_max_memory() / MB, "Apple GPU recommended working set"
    import psutil

    return psutil.virtual_memory().total / MB, "this machine's RAM"


def device_modes(device: str, vram_gb: float | None) -> tuple[str, ...]:
    """The modes a device can apply: offload needs CUDA. A CPU told to plan as a GPU (vram_gb) records the offload
    modes it would use but applies only tiling."""
    return MODES if device.startswith("cuda") else ON_DEVICE_MODES


def enforced(device: str, vram_gb: float | None) -> bool:
    """Whether the engine acts on plans on this device: on every GPU, and on a CPU only when told a size (the CPU's
    own plans are a forecast: tiny test models carry the catalog's real sizes, and the OS can swap)."""
    return device != "cpu" or vram_gb is not None


def inputs_size(request, kind: str, spec) -> tuple[int, int]:
    """The (width, height) a request generates at, as `request.call_kwargs` computes it (no image is converted)."""
    from .request import IMAGE_KINDS, image_size

    if kind in IMAGE_KINDS and request.image is not None:
        w, h = image_size(request.image)
        return w - w % 8, h - h % 8
    size = image_size(request.control_image) if request.control_image is not None else None
    width = request.width or (size[0] - size[0] % 8 if size else spec.resolution or 512)
    height = request.height or (size[1] - size[1] % 8 if size else spec.resolution or 512)
    return int(width), int(height)


def check_vram(value) -> float | None:
    if value is None:
        return None
    try:
        gb = float(value)
    except (TypeError, ValueError):
        gb = -1.0
    if not 0.5 <= gb <= 4096:
        raise InputError(f"--vram / STUDIO_VRAM_GB must be a GPU size in GB between 0.5 and 4096; got {value!r}.")
    return gb


# --------------------------------------------------------------------------------------------- whole apps
def app_calls(catalog, app: str, width: int | None = None, height: int | None = None, dtype: str = "float16",
              student: str | None = None, fused: bool = True, vae_fix: bool = True) -> dict[str, Call]:  # fmt: skip
    """The student's and the teacher's `Call` for an app's recipe (its pipeline kind, adapters and preview decoder,
    a reference image for its IP-Adapter), at `width`×`height` (default: the recipe's native resolution).
    `vae_fix`: whether SDXL's fp16-fix VAE is used (the engine uses it on GPUs when it is fetched)."""
    recipe = catalog.app(app)
    teacher = catalog.get(recipe.teacher)
    side = teacher.resolution or 512
    width, height = int(width or side), int(height or side)
    adapters = [catalog.get(a) for a in recipe.adapters]
    controlnet = next((a for a in adapters if a.kind == "controlnet"), None)
    ip_adapter = next((a for a in adapters if a.kind == "ip_adapter"), None)
    preview = catalog.get(recipe.preview) if recipe.preview else None
    fix = catalog.get("sdxl-vae-fp16-fix") if vae_fix and recipe.family == "sdxl" and dtype == "float16" else None
    calls = {}
    for tier, spec in (("student", catalog.get(student or recipe.student)), ("teacher", teacher)):
        base = spec if spec.kind == "pipeline" else teacher
        calls[tier] = Call(tier, spec, base, recipe.pipeline, width, height, float(spec.guidance), dtype,
                           controlnet if "controlnet" in recipe.pipeline else None, ip_adapter, preview, fix,
                           fused=fused and tier == "student")  # fmt: skip
    return calls


def plan_app(catalog, app: str, capacity_mb: float, capacity_source: str, device: str = "cuda",
             resolution: int | None = None, dtype: str = "float16", vae_fix: bool = True) -> dict:  # fmt: skip
    """`studio plan`: the student's and the teacher's plans for an app on a device of `capacity_mb`."""
    calls = app_calls(catalog, app, resolution, resolution, dtype, fused=device.startswith("cuda"), vae_fix=vae_fix)
    modes = device_modes(device, None)
    out = {"app": app, "device": device, "capacity_gb": round(capacity_mb * MB / GIB, 2),
           "capacity_source": capacity_source, "dtype": dtype}  # fmt: skip
    for tier, call in calls.items():
        out[tier] = plan_call(call, capacity_mb, capacity_source, device, modes, enforce=device != "cpu").to_dict()
    return out


def plan_for_cli(app: str, vram: list[float] | None = None, resolution: int | None = None,
                 device: str | None = None, settings=None) -> dict:  # fmt: skip
    """`studio plan APP [--vram GB ...] [--resolution N]`: the plans of the app's student and teacher as JSON.

    Without --vram the plan is for this machine's device (its GPU's memory; on a CPU its RAM, in fp32, as a
    forecast); with one or more sizes, for a CUDA GPU of each size in fp16, with the app's files as `studio fetch`
    installs them (a summary row per size)."""
    from ..settings import Settings
    from studio.models import load_catalog

    settings = settings or Settings.from_env()
    catalog = load_catalog()
    if app not in catalog.apps:
        raise InputError(f"No diffusion recipe for '{app}'. Apps with one: {', '.join(catalog.apps)}.")
    if resolution is not None and (resolution < 64 or resolution % 8 or resolution > 4096):
        raise InputError(f"--resolution must be a multiple of 8 between 64 and 4096; got {resolution}.")
    sizes = [check_vram(v) for v in vram or []]
    if not sizes:
        from ..devices import pick_device

        choice = pick_device(device or settings.device)
        capacity, source = device_capacity(choice.device, None)
        fix = _fix_fetched(settings, catalog)  # this machine: as its files are
        out = plan_app(catalog, app, capacity, source, choice.device, resolution, choice.dtype_name, fix)
        if choice.device == "cpu":
            out["note"] = ("No GPU here: this is the CPU's plan (fp32, in RAM). Add --vram GB to plan for a GPU of "
                           "that size.")  # fmt: skip
        return out
    # A GPU of each size with the app as `studio fetch <app>` installs it (SDXL apps get the fp16-fix VAE).
    plans = [plan_app(catalog, app, gb * GIB / MB, f"{gb:g} GB (--vram)", "cuda", resolution, "float16")
             for gb in sizes]  # fmt: skip
    if len(plans) == 1:
        return plans[0]
    summary = [{"vram_gb": gb, **{f"{tier}_mode": p[tier]["mode"] for tier in ("student", "teacher")},
                **{f"{tier}_peak_gb": round(p[tier]["peak_mb"] / 1e3, 2) for tier in ("student", "teacher")},
                "fits": p["student"]["fits"] and p["teacher"]["fits"]} for gb, p in zip(sizes, plans)]  # fmt: skip
    return {"app": app, "summary": summary, "plans": plans}


def _fix_fetched(settings, catalog) -> bool:
    """Whether SDXL's fp16-fix VAE is on this machine (the engine uses it on GPUs when it is): looked up, not loaded."""
    from .resolver import Resolver

    try:
        return Resolver(settings).locate(catalog.get("sdxl-vae-fp16-fix")).resolved is not None
    except Exception:  # an unreadable cache is not the planner's business: plan without it (the upcast is shown)
        return False
