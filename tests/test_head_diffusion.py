"""Head stylization, diffusion tiers, end to end on real photos with the tiny hub (random weights, real code).

The tiny models draw noise: these tests check structure — what is pasted back where, which tier ran and why, the
user LoRA from models/loras/ reaching both tiers, the quality gate, provenance — never how the head looks. The
engine runs the real catalog with two changes for speed on a CPU: the recipe's native resolution is 64 px and the
teacher's default is 4 steps (a fallback teacher uses its own default; the engine's own tests cover the real 30).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import fixture

from studio.apps.head import diffusion
from studio.apps.head.report import outside_mask
from studio.context import RunContext
from studio.engine.engine import Engine
from studio.engine.tinyhub import _safetensors, kohya_lora
from studio.errors import InputError, ModelUnavailable
from studio.preprocess.head import head_masks
from studio.schema import Preview, Result
from studio.settings import Settings

SIZE = 64
FRECKLES = "faces/face_woman_nomakeup_freckles_01.png"
TWO_WOMEN = "faces/faces_multi_two_women_outdoor_01.jpg"
RECIPE = ("sd15", "hyper-sd15-8step-cfg-lora", "controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15", "taesd")


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("head")


def tiny_catalog():
    from studio.engine.specs import Catalog
    from studio.models import load_catalog

    catalog = load_catalog()
    specs = dict(catalog.specs)
    specs["sd15"] = replace(specs["sd15"], resolution=SIZE, steps=4)
    return Catalog(specs, catalog.apps)


def settings_with(tmp_path, spec_ids, tiny_hub) -> Settings:
    """Settings whose HF cache holds only the repos of `spec_ids` (links into the tiny hub)."""
    from studio.models import load_catalog

    cache = tmp_path / "hub"
    cache.mkdir()
    for repo in {load_catalog().get(i).repo for i in spec_ids}:
        name = f"models--{repo.replace('/', '--')}"
        (cache / name).symlink_to(tiny_hub / name)
    return Settings(device="cpu", hf_cache_dir=cache, models_dir=tmp_path / "models", offline=True)


def context(settings, preprocessing) -> RunContext:
    return RunContext(settings=settings, preprocess=preprocessing).with_engine(Engine(settings, catalog=tiny_catalog()))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models/ folder with two user LoRAs: an SD1.5 style (licence stated beside it) and an SDXL one."""
    folder = tmp_path_factory.mktemp("models")
    (folder / "loras").mkdir()
    (folder / "loras" / "ink_style.safetensors").write_bytes(_safetensors(kohya_lora("sd15", "ink", torch.float16)))
    (folder / "loras" / "ink_style.license.txt").write_text("CC-BY-4.0\n")
    (folder / "loras" / "xl_style.safetensors").write_bytes(_safetensors(kohya_lora("sdxl", "xl", torch.float16),
                                                                         {"modelspec.license": "openrail++"}))
    return folder


@pytest.fixture(scope="module")
def ctx(tiny_hub, models_dir, preprocessing):
    settings = Settings(device="cpu", hf_cache_dir=tiny_hub, models_dir=models_dir, offline=True)
    return context(settings, preprocessing)


@pytest.fixture(scope="module")
def student(app, ctx):
    return list(app.stream(ctx, source=fixture(FRECKLES), preset="anime", tier="student", seed=7))


def outside_heads(ctx, rgb):
    faces = ctx.preprocess.faces(rgb)
    return outside_mask(head_masks(rgb, faces, ctx.preprocess.person_mask(rgb)))


# ------------------------------------------------------------------------------------- tiers end to end
def test_student_end_to_end_pastes_the_head_back(ctx, student, load_rgb):
    previews, result = student[:-1], student[-1]
    assert isinstance(result, Result) and previews and all(isinstance(p, Preview) for p in previews)
    src = load_rgb(FRECKLES)
    assert all(p.image.shape == src.shape for p in previews), "previews are shown in the whole photo"
    outside = outside_heads(ctx, src)
    assert np.array_equal(result.image[outside], src[outside]) and result.metrics["ssim_outside_head"] == 1.0
    p = result.provenance
    assert p.tier == "student" and p.fallback_reason is None and p.seed == 7 and p.guidance == 5.0
    assert p.models[0].startswith("hyper-sd15-8step-cfg-lora@") and any(m.startswith("sd15@") for m in p.models)
    assert any(m.startswith("controlnet-mediapipe-face-sd15@") for m in p.models)
    assert any(m.startswith("ip-adapter-plus-face-sd15@") for m in p.models)
    assert {"load", "denoise", "lite", "preprocess", "paste_back", "metrics"} <= set(p.timings_ms)
    d = result.info["diffusion"]
    face = d["faces"][0]
    assert d["crop_size"] == SIZE and "anime" in d["prompt"] and "photo" in d["negative_prompt"]
    assert face["pipeline"] == "StableDiffusionControlNetImg2ImgPipeline" and face["strength"] == 0.6
    assert "diffusion inputs (init · control · IP-Adapter · paste mask)" in result.extras
    assert "identity_distance" in result.metrics


def test_same_seed_same_output(app, ctx, student):
    again = app(ctx, source=fixture(FRECKLES), preset="anime", tier="student", seed=7)
    assert np.array_equal(again.image, student[-1].image)


def test_teacher_on_request(app, ctx):
    result = app(ctx, source=fixture(FRECKLES), preset="comic", tier="teacher", steps=2)
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "requested" and p.guidance == 7.5
    assert p.models[0].startswith("sd15@") and not any("hyper" in m for m in p.models)


def test_user_lora_from_the_models_folder_runs_on_both_tiers(app, ctx, student):
    result = app(ctx, source=fixture(FRECKLES), preset="anime", tier="student", seed=7, lora="ink_style",
                 lora_weight=1.0)  # fmt: skip
    p = result.provenance
    assert any("ink_style.safetensors" in m and "CC-BY-4.0" in m for m in p.models)
    settings = result.info["diffusion"]["faces"][0]["settings"]
    assert settings["loras"] == {"ink_style.safetensors": 1.0} and settings["sources"]["loras"] == "request"
    assert not np.array_equal(result.image, student[-1].image), "the LoRA changed the image"
    assert result.info["lora"][0]["licence"] == "CC-BY-4.0"
    listed = {u["file"]: u["licence"] for u in result.info["user_loras_available"]}
    assert listed == {"ink_style.safetensors": "CC-BY-4.0", "xl_style.safetensors": "openrail++"}
    teacher = app(ctx, source=fixture(FRECKLES), preset="anime", tier="teacher", steps=2, lora="ink_style")
    assert any("ink_style.safetensors" in m for m in teacher.provenance.models)
    # The next call without it runs without it: the base's LoRA state is restored after every call.
    plain = app(ctx, source=fixture(FRECKLES), preset="anime", tier="student", seed=7)
    assert np.array_equal(plain.image, student[-1].image)


def test_a_lora_for_another_base_or_a_missing_one_is_a_clear_error(app, ctx):
    # (The tiny models' widths are 16 and 48; real ones 768 and 2048, named SD1.5 and SDXL in the message.)
    with pytest.raises(InputError, match="xl_style.safetensors was trained for .*this app runs SD1.5"):
        app(ctx, source=fixture(FRECKLES), tier="student", lora="xl_style.safetensors")
    with pytest.raises(InputError, match="ink_style.safetensors.*CC-BY-4.0"):
        app(ctx, source=fixture(FRECKLES), tier="student", lora="missing")


def test_a_failing_quality_gate_falls_back_to_the_teacher(app, ctx):
    strict = diffusion.GateLimits(max_identity_distance=-1.0)
    result = app(replace(ctx, gate_limits={"head": strict}), source=fixture(FRECKLES), tier="auto")
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "quality_gate"
    assert any("quality gate" in n and "identity distance" in n for n in p.notes)
    face = result.info["diffusion"]["faces"][0]
    assert face["quality_gate"]["verdict"].startswith("identity distance") and face["rejected_student"]
    assert p.timings_ms["rejected_student"] > 0 and p.timings_ms["quality_gate"] > 0


def test_a_passing_quality_gate_keeps_the_student(app, ctx):
    lenient = diffusion.GateLimits(max_identity_distance=float("inf"), min_ssim_outside=-1.0)
    result = app(replace(ctx, gate_limits={"head": lenient}), source=fixture(FRECKLES), tier="auto")
    assert result.provenance.tier == "student" and result.provenance.fallback_reason is None
    gate = result.info["diffusion"]["faces"][0]["quality_gate"]
    assert gate["verdict"] == "pass" and gate["ssim_outside_head"] == 1.0


def test_every_face_is_generated(app, ctx, load_rgb):
    src = load_rgb(TWO_WOMEN)
    result = app(ctx, source=src, preset="cartoon", tier="student")
    assert len(result.info["diffusion"]["faces"]) == 2
    outside = outside_heads(ctx, src)
    assert np.array_equal(result.image[outside], src[outside])


def test_compare_runs_student_then_teacher_on_the_same_inputs(app, ctx):
    from studio.compare import compare

    comparison = compare(app, ctx, {"source": fixture(FRECKLES), "preset": "painted", "steps": 2}, seed=3)
    student, teacher = comparison.results["student"], comparison.results["teacher"]
    assert student.provenance.tier == "student" and teacher.provenance.tier == "teacher"
    assert student.provenance.seed == teacher.provenance.seed == 3 and len(comparison.rows) == 2


# ------------------------------------------------------------------------------------- missing weights
def test_auto_without_any_weights_runs_lite_and_names_the_fetch_command(app, preprocessing, tmp_path, tiny_hub):
    ctx = context(settings_with(tmp_path, [], tiny_hub), preprocessing)
    result = app(ctx, source=fixture(FRECKLES), tier="auto")
    assert result.provenance.tier == "lite" and result.provenance.fallback_reason == "unavailable"
    assert any("Fetch them with: studio fetch head" in n for n in result.provenance.notes)


def test_an_explicit_tier_without_weights_names_the_fetch_command(app, preprocessing, tmp_path, tiny_hub):
    ctx = context(settings_with(tmp_path, [i for i in RECIPE if i != "hyper-sd15-8step-cfg-lora"], tiny_hub),
                  preprocessing)  # fmt: skip
    with pytest.raises(ModelUnavailable, match="hyper-sd15-8step-cfg-lora") as info:
        app(ctx, source=fixture(FRECKLES), tier="student")
    assert info.value.fetch_command == "studio fetch head"
    result = app(ctx, source=fixture(FRECKLES), tier="auto")  # the teacher is here: auto runs it and says why
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "unavailable"
