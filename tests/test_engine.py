"""Resolver → loader → engine on the tiny hub, for every default student family (Lightning, Hyper-SD, LCM, TCD).

Each case runs the student through `Engine.generate` and checks it against the catalog: scheduler class and
config, timesteps, CFG on/off, the LoRA really applied (the engine's image equals plain diffusers with the
LoRA loaded and differs from the same pipeline without it, same scheduler, steps and seed), determinism,
the number of previews and the provenance fields.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.engine.engine import Engine
from studio.engine.previews import preview_steps
from studio.engine.request import GenerationRequest
from studio.engine.resolver import Resolver
from studio.models import load_catalog
from studio.schema import Preview, Result

SIZE = 64
RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
MASK = np.zeros((SIZE, SIZE), np.uint8)
MASK[16:48, 12:52] = 255

# (case, app, pipeline kind, student override, expected timesteps). Students: the LoRA app defaults, the Lightning
# LoRA (the avatar default is its full UNet, below) and the TCD alternatives. Timesteps: catalog doc G6 (trailing
# Euler/DDIM vs the LCM/TCD 50-step grid). SDXL inpainting defaults to strength 0.99 (its card): the step-locked
# Hyper-SDXL student keeps its 8-step grid and skips the first step; SD1.5 inpainting runs at 1.0.
CASES = [
    ("lightning-lora", "avatar", "txt2img", "lightning-sdxl-4step-lora", [999, 749, 499, 249]),
    ("hyper-sd15-cfg", "head", "txt2img", None, [999, 874, 749, 624, 499, 374, 249, 124]),
    ("hyper-sdxl-cfg-inpaint", "tryon", "inpaint", None, [874, 749, 624, 499, 374, 249, 124]),
    ("lcm-lora-inpaint", "makeup", "inpaint", None, [999, 759, 499, 259]),
    ("tcd-sd15", "head", "txt2img", "tcd-sd15", [999, 759, 499, 259]),
    ("tcd-sdxl", "avatar", "txt2img", "tcd-sdxl", [999, 759, 499, 259]),
]


@pytest.fixture(scope="module")
def engine(tiny_settings):
    return Engine(tiny_settings)


def request_for(app, kind, student=None, **overrides) -> GenerationRequest:
    images = {"image": IMAGE, "mask_image": MASK} if kind == "inpaint" else {}
    size = {} if images else {"width": SIZE, "height": SIZE}
    fields = dict(app=app, pipeline=kind, student=student, adapters=(), prompt="a portrait, studio light", seed=7,
                  mode="fast", **images, **size)  # fmt: skip
    fields.update(overrides)
    return GenerationRequest(**fields)


def collect(engine, request) -> tuple[list[Preview], Result]:
    items = list(engine.generate(request))
    assert isinstance(items[-1], Result) and all(isinstance(i, Preview) for i in items[:-1])
    return items[:-1], items[-1]


def reference_image(settings, student_id, teacher_id, kind, request, with_lora: bool,
                    strength: float = 1.0) -> np.ndarray:  # fmt: skip
    """The same call through plain diffusers: base pipeline from the tiny hub, the catalog scheduler, ± the LoRA."""
    import diffusers

    catalog = load_catalog()
    student, teacher = catalog.get(student_id), catalog.get(teacher_id)
    resolver = Resolver(settings)
    family = "XL" if teacher.family == "sdxl" else ""
    cls = getattr(diffusers, f"StableDiffusion{family}{'Inpaint' if kind == 'inpaint' else ''}Pipeline")
    extra = {} if teacher.family == "sdxl" else {"safety_checker": None, "feature_extractor": None}
    pipe = cls.from_pretrained(str(resolver.resolve(teacher).root), variant="fp16", dtype=torch.float32, **extra)
    pipe.scheduler = getattr(diffusers, student.scheduler.cls).from_config(pipe.scheduler.config,
                                                                          **student.scheduler.kwargs)  # fmt: skip
    if with_lora:
        weights = resolver.resolve(student).file(student.weights.path)
        pipe.load_lora_weights(str(weights.parent), weight_name=weights.name)
    kwargs = dict(prompt=request.prompt, guidance_scale=student.guidance, num_inference_steps=student.steps,
                  generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np")  # fmt: skip
    if student.eta is not None:
        kwargs["eta"] = student.eta
    if kind == "inpaint":
        from PIL import Image

        kwargs.update(image=Image.fromarray(IMAGE), mask_image=Image.fromarray(MASK), strength=strength, width=SIZE,
                      height=SIZE)  # fmt: skip
    else:
        kwargs.update(width=SIZE, height=SIZE)
    image = pipe(**kwargs).images[0]
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("case,app,kind,student_id,timesteps", CASES, ids=[c[0] for c in CASES])
def test_student_follows_its_catalog_recipe(engine, tiny_settings, case, app, kind, student_id, timesteps):
    catalog = load_catalog()
    recipe = catalog.app(app)
    spec = catalog.get(student_id or recipe.student)
    request = request_for(app, kind, student_id)

    previews, result = collect(engine, request)
    info, prov = result.info, result.provenance

    # Scheduler: the catalog's class, with its overrides applied on the base model's config.
    assert info["scheduler"] == spec.scheduler.cls
    for key, value in spec.scheduler.kwargs.items():
        assert info["scheduler_config"][key] == value
    assert info["timesteps"] == timesteps
    if spec.eta is not None:
        assert info["eta"] == spec.eta  # passed explicitly: pipelines would use 0.0 (catalog G4)

    # CFG off exactly where the catalog's guidance is <= 1, seen in the UNet's batch size.
    assert info["cfg"] is spec.cfg
    unet = engine.residency.peek(("pipeline", recipe.teacher)).value.unet
    batches: list[int] = []
    hook = unet.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    try:
        _, again = collect(engine, request)
    finally:
        hook.remove()
    assert set(batches) == {2 if spec.cfg else 1}

    # Same seed, same image.
    assert np.array_equal(again.image, result.image)
    assert again.image.shape == (SIZE, SIZE, 3) and again.image.dtype == np.uint8

    # The LoRA is really applied: plain diffusers with the LoRA gives the engine's image; without it, another one.
    strength = info.get("strength", 1.0)  # inpaint: the lower of the student's and its base's (SDXL: 0.99)
    with_lora = reference_image(tiny_settings, spec.id, recipe.teacher, kind, request, True, strength)
    without = reference_image(tiny_settings, spec.id, recipe.teacher, kind, request, False, strength)
    assert np.abs(with_lora.astype(int) - result.image.astype(int)).max() <= 1
    assert np.abs(without.astype(int) - result.image.astype(int)).mean() > 2.0

    # Previews: step-aware count, in order, decoded by TAESD (it is in the tiny hub).
    assert len(previews) == len(preview_steps(len(timesteps))) == info["previews"]
    assert [p.step for p in previews] == list(preview_steps(len(timesteps)))
    assert all(p.image.dtype == np.uint8 and p.image.shape == (SIZE, SIZE, 3) for p in previews)
    assert info["preview_decoder"] == "taesd"

    # Provenance.
    assert prov.app == app and prov.tier == "student" and prov.fallback_reason is None
    assert prov.models[0].startswith(f"{spec.id}@") and any(m.startswith(f"{recipe.teacher}@") for m in prov.models)
    assert prov.steps == len(timesteps) and prov.guidance == spec.guidance and prov.seed == 7 and prov.device == "cpu"
    assert set(prov.timings_ms) == {"resolve", "load", "prepare", "denoise", "previews", "decode"}
    assert prov.peak_memory_mb and prov.peak_memory_mb > 0
    assert prov.notes[0].startswith(f"scheduler {spec.scheduler.cls}")
    assert result.summary()["provenance"]["tier"] == "student"  # JSON-serialisable


def test_teacher_runs_its_own_scheduler_with_real_cfg(engine):
    catalog = load_catalog()
    _, result = collect(engine, request_for("head", "txt2img", mode="quality", steps=6))
    teacher = catalog.get("sd15")
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "requested"
    assert result.info["scheduler"] == "PNDMScheduler"  # the repo's scheduler_config.json, untouched
    assert result.info["cfg"] is True and result.provenance.guidance == teacher.guidance
    assert result.info["num_inference_steps"] == 6


@pytest.mark.parametrize("app,kind", [("makeup", "inpaint"), ("tryon", "inpaint"), ("avatar", "txt2img"),
                                      ("head", "txt2img")])  # fmt: skip
def test_every_default_teacher_runs_with_its_repo_scheduler(engine, app, kind):
    teacher = load_catalog().get(load_catalog().app(app).teacher)
    _, result = collect(engine, request_for(app, kind, mode="quality", steps=3))
    expected = "PNDMScheduler" if teacher.family == "sd15" else "EulerDiscreteScheduler"  # their scheduler_config
    assert result.info["scheduler"] == expected
    assert result.info["scheduler_config"].get("timestep_spacing") != "trailing"  # not a student's override
    assert result.provenance.models[0].startswith(f"{teacher.id}@") and result.info["cfg"] is True
    assert result.provenance.tier == "teacher" and result.image.shape == (SIZE, SIZE, 3)


def test_whole_unet_student_shares_vae_and_text_encoders(engine):
    _, result = collect(engine, request_for("avatar", "txt2img", "lightning-sdxl-4step-unet"))
    assert result.info["timesteps"] == [999, 749, 499, 249]
    assert result.provenance.models[0].startswith("lightning-sdxl-4step-unet@")
    base = engine.residency.peek(("pipeline", "sdxl-base")).value
    student_unet = engine.residency.peek(("unet", "lightning-sdxl-4step-unet")).value
    assert student_unet is not base.unet
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in student_unet.parameters())


def test_img2img_keeps_the_students_step_count(engine):
    # strength 0.5 would halve a 4-step schedule (catalog G7); the engine lengthens it instead.
    _, result = collect(engine, request_for("head", "img2img", "lcm-lora-sd15", image=IMAGE, strength=0.5))
    assert len(result.info["timesteps"]) == 4 and result.info["num_inference_steps"] == 8
    assert result.info["strength"] == 0.5


def test_controlnet_inpaint_with_ip_adapter_runs_the_makeup_recipe(engine):
    request = GenerationRequest(app="makeup", mode="fast", image=IMAGE, mask_image=MASK, control_image=IMAGE,
                                ip_adapter_image=IMAGE, prompt="red lipstick", seed=3)  # fmt: skip
    previews, result = collect(engine, request)
    assert result.info["pipeline"] == "StableDiffusionControlNetInpaintPipeline"
    labels = " ".join(result.provenance.models)
    assert "controlnet-mediapipe-face-sd15@" in labels and "ip-adapter-plus-face-sd15@" in labels
    # A different IP-Adapter scale changes the image: the reference image really conditions the result.
    _, weaker = collect(engine, GenerationRequest(**{**request.__dict__, "ip_adapter_scale": 0.0}))
    assert not np.array_equal(weaker.image, result.image)


def test_union_controlnet_needs_a_mode(engine):
    from studio.errors import InputError

    request = GenerationRequest(app="style", mode="fast", control_image=IMAGE, prompt="ink drawing", width=SIZE,
                                height=SIZE, adapters=("controlnet-union-sdxl-xinsir",))  # fmt: skip
    with pytest.raises(Exception) as info:
        list(engine.generate(request))
    assert isinstance(info.value, InputError) and "control_mode" in str(info.value)
    _, result = collect(engine, GenerationRequest(**{**request.__dict__, "control_mode": 3}))
    assert result.info["pipeline"] == "StableDiffusionXLControlNetUnionPipeline"


def test_noncommercial_students_are_refused_unless_enabled(tiny_settings):
    from studio.errors import InputError

    with pytest.raises(InputError, match="non-commercial.*STUDIO_INCLUDE_NONCOMMERCIAL"):
        list(Engine(tiny_settings).generate(request_for("avatar", "txt2img", "dmd2-sdxl-4step-lora")))


def test_bad_requests_teach(engine):
    from studio.errors import InputError

    with pytest.raises(InputError, match="needs mask_image"):
        list(engine.generate(request_for("makeup", "inpaint", mask_image=None)))
    with pytest.raises(InputError, match="inpainting model"):
        list(engine.generate(request_for("makeup", "txt2img")))
    with pytest.raises(InputError, match="multiple of 8"):
        list(engine.generate(request_for("head", "txt2img", width=70)))
    with pytest.raises(InputError, match="sd15 model; the 'avatar' app runs sdxl"):
        list(engine.generate(request_for("avatar", "txt2img", "lcm-lora-sd15")))
    with pytest.raises(InputError, match="Unknown|No model recipe"):
        list(engine.generate(request_for("nope", "txt2img")))


@pytest.mark.parametrize("name", ["LCMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler"])
def test_each_call_gets_its_own_scheduler_state(name):
    """The engine copies a pristine scheduler per call: running one copy leaves the prototype untouched."""
    import diffusers

    from studio.engine.loader import fresh_scheduler

    prototype = getattr(diffusers, name)()
    before = {k: (v.clone() if isinstance(v, torch.Tensor) else repr(v)) for k, v in vars(prototype).items()}
    copy = fresh_scheduler(prototype)
    copy.set_timesteps(4)
    sample = torch.zeros(1, 4, 8, 8)
    for t in copy.timesteps:
        sample = copy.step(torch.randn_like(sample), t, sample).prev_sample
    assert type(copy) is type(prototype) and copy.config == prototype.config
    for key, value in vars(prototype).items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key
        else:
            assert repr(value) == before[key], key
