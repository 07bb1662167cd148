"""Style transfer, diffusion tiers, end to end on the tiny hub: a real fixture photo and painting through the real
resolver → loader → engine (SDXL with the Lightning 4-step UNet student / SDXL base teacher, the xinsir union
ControlNet in thin-line mode, IP-Adapter SDXL with InstantStyle block scales; tiny random weights) and back.

Tiny random weights draw noise, so these tests check structure — which tier ran and why, the pipeline and its
conditioning, that the per-block IP-Adapter scale reached the attention processors, provenance and metrics — never
how the painting looks. The teacher's native side is 64 px and its default steps 4 here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import fixture

from studio.apps.style import diffusion
from studio.context import RunContext
from studio.engine.engine import Engine
from studio.engine.specs import Catalog
from studio.errors import ModelUnavailable
from studio.models import load_catalog
from studio.preprocess import Preprocessing
from studio.schema import Preview, Result
from studio.settings import Settings

SIZE = 64
PORTRAIT = "faces/face_woman_light_astronaut_nomakeup_01.png"
ROCKET = "faces/noface_rocket_launchpad_night_01.jpg"
WAVE = "styles/style_hokusai_great_wave.jpg"
RECIPE = ("sdxl-base", "lightning-sdxl-4step-unet", "controlnet-union-sdxl-xinsir", "ip-adapter-sdxl", "taesdxl")
SDXL_UNET = {"down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 2}


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("style")


def tiny_catalog() -> Catalog:
    catalog = load_catalog()
    recipe = catalog.app("style")
    teacher, student = catalog.get(recipe.teacher), catalog.get(recipe.student)
    specs = {**catalog.specs, teacher.id: replace(teacher, resolution=SIZE, steps=4),
             student.id: replace(student, resolution=SIZE)}  # fmt: skip
    return Catalog(specs, catalog.apps)


def context(settings) -> RunContext:
    return RunContext(settings=settings, preprocess=Preprocessing(settings)).with_engine(
        Engine(settings, catalog=tiny_catalog()))


@pytest.fixture(scope="module")
def ctx(tiny_settings):
    return context(tiny_settings)


@pytest.fixture(scope="module")
def rocket(load_rgb_module):
    return load_rgb_module(ROCKET)


@pytest.fixture(scope="module")
def load_rgb_module():
    import cv2

    from studio.imaging import load_image

    # A 160 px copy: the tiny models work at 64 px anyway, and the metrics run on the photo's size.
    return lambda rel: cv2.resize(load_image(fixture(rel)), None, fx=160 / 640, fy=160 / 640,
                                  interpolation=cv2.INTER_AREA)  # fmt: skip


def stream(app, ctx, **params) -> tuple[list[Preview], Result]:
    items = list(app.stream(ctx, **params))
    assert isinstance(items[-1], Result) and all(isinstance(i, Preview) for i in items[:-1])
    return items[:-1], items[-1]


@pytest.fixture(scope="module")
def student(app, ctx, rocket):
    return stream(app, ctx, content=rocket, style=fixture(WAVE), tier="student", seed=5)


# ------------------------------------------------------------------------------------------ InstantStyle scales
def test_instantstyle_scale_addresses_sdxl_style_and_layout_blocks():
    # InstantStyle / diffusers docstring: style = up_blocks.0.attentions.1, layout = down_blocks.2.attentions.1.
    assert diffusion.instantstyle_scale(SDXL_UNET, 1.0, layout=0.0) == {"up": {"block_0": [0.0, 1.0, 0.0]}}
    assert diffusion.instantstyle_scale(SDXL_UNET, 0.8, layout=1.0) == {"up": {"block_0": [0.0, 0.8, 0.0]},
                                                                        "down": {"block_2": [0.0, 1.0]}}
    # The tiny test UNet: one cross-attention block each way, one attention per down block.
    tiny = {"down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1}
    assert diffusion.instantstyle_scale(tiny, 0.5, layout=1.0) == {"up": {"block_0": [0.0, 0.5]},
                                                                   "down": {"block_1": [1.0]}}


def test_the_block_scales_reach_the_attention_processors(app, ctx, rocket, monkeypatch):
    """Through the real engine, diffusers' set_ip_adapter_scale receives the dict and only the style attention
    gets a non-zero image scale."""
    from diffusers import StableDiffusionXLControlNetUnionPipeline

    seen = {}
    original = StableDiffusionXLControlNetUnionPipeline.set_ip_adapter_scale

    def spy(self, scale):
        original(self, scale)
        seen["dict"] = scale
        seen["scales"] = {name: list(p.scale) for name, p in self.unet.attn_processors.items()
                          if hasattr(p, "scale") and isinstance(p.scale, list)}  # fmt: skip

    monkeypatch.setattr(StableDiffusionXLControlNetUnionPipeline, "set_ip_adapter_scale", spy)
    result = app(ctx, content=rocket, style=fixture(WAVE), tier="student", strength=1.0)
    style = 0.4 + 0.6 * 1.0
    assert seen["dict"] == {"up": {"block_0": [0.0, style]}} == result.info["diffusion"]["ip_adapter_scale"]
    on = {name for name, s in seen["scales"].items() if any(v != 0 for v in s)}
    assert on and all(name.startswith("up_blocks.0.attentions.1.") for name in on)
    assert all(s == [0.0] for name, s in seen["scales"].items() if name not in on)
    assert result.info["diffusion"]["engine"]["settings"]["ip_adapter_scale"] == seen["dict"]


# ------------------------------------------------------------------------------------------ tiers end to end
def test_student_end_to_end(student, rocket, ctx):
    previews, result = student
    assert previews and all(p.image.shape == rocket.shape for p in previews), "previews at the photo's size"
    assert result.image.shape == rocket.shape
    p = result.provenance
    # Lightning keeps its 4-step grid; img2img at 0.9 skips its first step (engine rule, request.schedule).
    assert p.tier == "student" and p.fallback_reason is None and p.steps == 3 and p.guidance == 0.0 and p.seed == 5
    assert p.models[0].startswith("lightning-sdxl-4step-unet@") and any(m.startswith("sdxl-base@") for m in p.models)
    assert any(m.startswith("controlnet-union-sdxl-xinsir@") for m in p.models)
    assert any(m.startswith("ip-adapter-sdxl@") for m in p.models)
    assert {"read", "style", "preprocess", "load", "denoise", "decode", "metrics"} <= set(p.timings_ms)
    d = result.info["diffusion"]
    assert d["engine"]["pipeline"] == "StableDiffusionXLControlNetUnionImg2ImgPipeline"  # strength 0.8: img2img
    assert d["pipeline"] == "controlnet-img2img" and d["img2img_strength"] == pytest.approx(0.9)
    assert d["control_mode"] == 3 and d["canvas"] == list(diffusion.canvas_size(ctx.engine, rocket.shape[:2]))
    assert {"colour_distance", "texture_distance", "edge_f", "colour_ratio", "texture_ratio"} <= set(result.metrics)
    assert "identity_distance" not in result.metrics  # no face in the rocket photo
    assert "diffusion inputs (photo · canny control · style)" in result.extras


def test_full_strength_generates_from_noise_and_same_seed_repeats(app, ctx, rocket):
    a = app(ctx, content=rocket, style=fixture(WAVE), tier="student", strength=1.0, seed=9)
    b = app(ctx, content=rocket, style=fixture(WAVE), tier="student", strength=1.0, seed=9)
    assert a.info["diffusion"]["engine"]["pipeline"] == "StableDiffusionXLControlNetUnionPipeline"
    assert a.info["diffusion"]["img2img_strength"] is None and np.array_equal(a.image, b.image)


def test_teacher_on_request(app, ctx, rocket):
    result = app(ctx, content=rocket, style=fixture(WAVE), tier="teacher", steps=2)
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "requested" and p.guidance > 1.0
    assert p.models[0].startswith("sdxl-base@") and not any("lightning" in m for m in p.models)


def test_structure_gate_sends_auto_to_the_teacher(app, ctx, rocket):
    strict = replace(ctx, gate_limits={"style": diffusion.GateLimits(min_edge_f=1.01)})  # nothing can pass
    result = app(strict, content=rocket, style=fixture(WAVE), tier="auto")
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "quality_gate"
    assert any("structure lost" in n for n in p.notes)
    gate = result.info["diffusion"]["quality_gate"]
    assert gate["verdict"] == "structure lost" and 0.0 <= gate["edge_f"] <= 1.0
    assert any(k.startswith("student (rejected by quality gate)") for k in result.extras)


def test_a_passing_gate_keeps_the_student(app, ctx, rocket):
    lenient = replace(ctx, gate_limits={"style": diffusion.GateLimits(min_edge_f=0.0)})
    result = app(lenient, content=rocket, style=fixture(WAVE), tier="auto")
    assert result.provenance.tier == "student" and result.info["diffusion"]["quality_gate"]["verdict"] == "pass"


def test_portrait_faces_are_blended_back_and_measured(app, ctx, load_rgb_module):
    photo = load_rgb_module(PORTRAIT)
    result = app(ctx, content=photo, style=fixture(WAVE), tier="student")
    assert "identity_distance" in result.metrics
    assert any("Face protection" in n for n in result.provenance.notes)
    assert "portrait" in result.info["diffusion"]["prompt"]


# ------------------------------------------------------------------------------------------ missing weights
def settings_with(tmp_path, spec_ids, tiny_hub) -> Settings:
    cache = tmp_path / "hub"
    cache.mkdir()
    for repo in {load_catalog().get(i).repo for i in spec_ids}:
        name = f"models--{repo.replace('/', '--')}"
        (cache / name).symlink_to(tiny_hub / name)
    return Settings(device="cpu", hf_cache_dir=cache, models_dir=tmp_path / "models", offline=True)


def test_without_weights_auto_runs_lite_and_student_names_the_fetch_command(app, tmp_path, tiny_hub, rocket):
    bare = context(settings_with(tmp_path, [], tiny_hub))
    result = app(bare, content=rocket, style=fixture(WAVE), tier="auto")
    assert result.provenance.tier == "lite" and result.provenance.fallback_reason == "unavailable"
    assert any("studio fetch style" in n for n in result.provenance.notes)
    with pytest.raises(ModelUnavailable) as info:
        app(bare, content=rocket, style=fixture(WAVE), tier="student")
    assert info.value.fetch_command == "studio fetch style"
