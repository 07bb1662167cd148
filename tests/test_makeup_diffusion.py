"""Makeup transfer, diffusion tiers, end to end on real photos with the tiny hub (random weights, real code).

The images the tiny models make are noise: these tests check structure — what is pasted back where, which tier
ran and why, provenance, metrics, determinism — never how the makeup looks. The engine runs the real catalog
with two changes for speed on a CPU: the recipe's native resolution is 64 px (so face crops are 64 px and the
latents 8×8), and the teacher's default is 4 steps (a fallback teacher uses its own default; the engine's own
tests cover the real 30).
"""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from diffusers import LCMScheduler

from conftest import fixture

from studio.apps.makeup import diffusion
from studio.apps.makeup.presets import preset_look
from studio.apps.makeup.report import makeup_area
from studio.engine.engine import Engine
from studio.errors import ModelUnavailable
from studio.context import RunContext
from studio.preprocess.face_control import CONTROL_COLORS, IRIS_COLORS, control_image, crop_face
from studio.schema import Preview, Result
from studio.settings import Settings

SIZE = 64
FRECKLES = "faces/face_woman_nomakeup_freckles_01.png"
TWO_WOMEN = "faces/faces_multi_two_women_outdoor_01.jpg"
DEEP_RED = "makeup_refs/makeup_ref_deep_red_lips_east_asian_01.png"
REGIONS = ("lips", "eyeshadow", "eyeliner", "blush", "foundation", "brows")
LIPS_ONLY = {r: r == "lips" for r in REGIONS}
RECIPE = ("sd15-inpainting", "lcm-lora-sd15", "controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15", "taesd")


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("makeup")


def tiny_catalog():
    from studio.engine.specs import Catalog
    from studio.models import load_catalog

    catalog = load_catalog()
    specs = dict(catalog.specs)
    specs["sd15-inpainting"] = replace(specs["sd15-inpainting"], resolution=SIZE, steps=4)
    specs["lcm-lora-sd15"] = replace(specs["lcm-lora-sd15"], resolution=SIZE)
    return Catalog(specs, catalog.apps)


def context(settings, preprocessing) -> RunContext:
    return RunContext(settings=settings, preprocess=preprocessing).with_engine(Engine(settings, catalog=tiny_catalog()))


@pytest.fixture(scope="module")
def ctx(tiny_settings, preprocessing):
    return context(tiny_settings, preprocessing)


@pytest.fixture(scope="module")
def student(app, ctx):
    """One student run on a real face with a real reference (shared by the tests that only read it)."""
    items = list(app.stream(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="student", seed=7))
    return items


def settings_with(tmp_path, spec_ids, tiny_hub=None) -> Settings:
    """Settings whose HF cache holds only the repos of `spec_ids` (links into the tiny hub)."""
    from studio.models import load_catalog

    cache = tmp_path / "hub"
    cache.mkdir()
    for repo in {load_catalog().get(i).repo for i in spec_ids}:
        name = f"models--{repo.replace('/', '--')}"
        (cache / name).symlink_to(tiny_hub / name)
    return Settings(device="cpu", hf_cache_dir=cache, models_dir=tmp_path / "models", offline=True)


# ------------------------------------------------------------------------------------- the recipe's inputs
def test_control_image_is_the_mediapipe_face_render_of_our_mesh(preprocessing, load_rgb):
    rgb = load_rgb(FRECKLES)
    crop = preprocessing.faces(rgb)[0].aligned_crop(rgb, 512)
    control = control_image(crop.landmarks, 512)
    lm = np.floor(crop.landmarks).astype(int)
    # controlnet-aux's colours (RGB), 2 px lines at 512: lips, oval, each eye and brow, iris centre squares.
    for index, part in ((13, "lips"), (152, "oval"), (386, "left_eye"), (159, "right_eye"), (334, "left_brow"),
                        (105, "right_brow")):  # fmt: skip
        x, y = lm[index]
        patch = control[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3)
        assert any(tuple(c) == CONTROL_COLORS[part] for c in patch), part
    for index, color in IRIS_COLORS.items():
        x, y = lm[index]
        assert tuple(control[y, x]) == color
    colours = {tuple(c) for c in control.reshape(-1, 3)}
    assert colours == {(0, 0, 0), *CONTROL_COLORS.values(), *IRIS_COLORS.values()}
    assert np.count_nonzero(control.any(-1)) < 0.05 * 512 * 512, "thin lines on black"
    assert control_image(crop.landmarks / 8, 64).any(-1).sum() > 100, "drawn at any size (1 px lines)"


def test_masks_stay_inside_the_makeup_area_and_off_eyes_and_teeth(preprocessing, load_rgb):
    rgb = load_rgb("faces/face_man_elderly_light_smiling_01.jpg")  # open smile: teeth show
    face = preprocessing.faces(rgb)[0]
    crop = face.aligned_crop(rgb, 512)
    cface = crop_face(crop, face)
    inpaint, alpha = diffusion.crop_masks(crop, cface, face, {r: 1.0 for r in REGIONS}, rgb.shape)
    union = diffusion.region_union(cface, REGIONS) > 0
    protect = (cface.regions.full("eyes") | cface.regions.full("irises") | cface.regions.full("inner_mouth")) > 0
    assert np.all(inpaint[union & ~protect] == 255) and not inpaint[protect].any()
    assert alpha[protect].max() == 0.0 and alpha[union & ~protect].mean() > 0.8
    # A region's strength is its paste-back opacity (the inpaint mask cannot carry it: the pipeline binarises it).
    _, full = diffusion.crop_masks(crop, cface, face, {"lips": 1.0}, rgb.shape)
    _, half = diffusion.crop_masks(crop, cface, face, {"lips": 0.5, "foundation": 0.0}, rgb.shape)
    assert full.max() > 0.99 and np.allclose(half, 0.5 * full, atol=1e-6)
    # A crop of pure white pasted back changes pixels only inside the lite tier's makeup area.
    out = diffusion.paste(crop, np.full_like(crop.image, 255), rgb, alpha, grayscale=False)
    changed = np.any(out != rgb, axis=-1)
    assert changed.sum() > 10_000 and not changed[~makeup_area([face], REGIONS, rgb.shape)].any()
    inner = cv2.erode(((face.regions.full("eyes") | face.regions.full("inner_mouth")) > 0).astype(np.uint8),
                      np.ones((5, 5), np.uint8)) > 0  # fmt: skip
    assert inner.sum() > 500 and not changed[inner].any(), "eyes and teeth keep their own pixels"


def test_prompt_names_the_look_and_only_the_regions_switched_on():
    look = preset_look("classic_red")
    prompt = diffusion.prompt_for(look, {r: 1.0 for r in REGIONS})
    assert "bold classic red lipstick" in prompt and "black eyeliner" in prompt and "eyeshadow" in prompt
    lips = diffusion.prompt_for(look, {**{r: 0.0 for r in REGIONS}, "lips": 0.3})
    assert "sheer classic red lipstick" in lips and "eyeshadow" not in lips and "blush" not in lips
    assert diffusion.prompt_for(look, {"lips": 1.0}, grayscale=True).startswith("black and white")


# ------------------------------------------------------------------------------------- tiers end to end
def test_student_end_to_end_pastes_the_regions_back(ctx, student, load_rgb):
    previews, result = student[:-1], student[-1]
    assert isinstance(result, Result) and previews and all(isinstance(p, Preview) for p in previews)
    src = load_rgb(FRECKLES)
    assert all(p.image.shape == src.shape for p in previews), "previews are shown in the whole photo"
    faces = ctx.preprocess.faces(src)
    area = makeup_area(faces, REGIONS, src.shape)
    assert np.array_equal(result.image[~area], src[~area]), "hair, background and the rest stay bit-identical"
    lips = faces[0].regions.full("lips") > 0
    assert np.any(result.image[lips] != src[lips]), "the lips were re-rendered"
    assert result.info["changed_pixels_outside_makeup"] == 0 and result.metrics["ssim_outside"] == 1.0
    assert {"delta_e_lips", "delta_e_eyeshadow", "delta_e_cheeks", "ssim_outside"} <= set(result.metrics)
    assert "identity_drift_nme" in result.metrics or "no face was re-detected" in result.info["identity_drift"]

    p = result.provenance
    assert p.tier == "student" and p.fallback_reason is None and p.steps == 4 and p.guidance == 1.0 and p.seed == 7
    assert p.models[0].startswith("lcm-lora-sd15@") and any(m.startswith("sd15-inpainting@") for m in p.models)
    assert any(m.startswith("controlnet-mediapipe-face-sd15@") for m in p.models)
    assert any(m.startswith("ip-adapter-plus-face-sd15@") for m in p.models)
    engine_phases, app_phases = {"load", "denoise", "decode"}, {"read", "faces", "first_pass", "preprocess",
                                                                 "paste_back", "metrics"}  # fmt: skip
    assert engine_phases | app_phases <= set(p.timings_ms)
    d = result.info["diffusion"]
    assert d["crop_size"] == SIZE and "lipstick" in d["prompt"] and d["negative_prompt"]
    face = d["faces"][0]
    assert face["pipeline"] == "StableDiffusionControlNetInpaintPipeline" and face["scheduler"] == "LCMScheduler"
    assert face["strength"] == diffusion.DENOISE_STRENGTH and "reference" in face["ip_adapter_image"]
    assert "diffusion inputs (init · mask · control · IP-Adapter)" in result.extras


def test_same_seed_same_output_another_seed_another(app, ctx, student):
    again = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="student", seed=7)
    assert np.array_equal(again.image, student[-1].image)
    other = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="student", seed=8)
    assert not np.array_equal(other.image, student[-1].image)


def test_teacher_on_request(app, ctx):
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="teacher", steps=2, **LIPS_ONLY)
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "requested" and p.guidance == 7.5
    assert p.models[0].startswith("sd15-inpainting@") and not any("lcm-lora" in m for m in p.models)
    assert result.info["diffusion"]["faces"][0]["scheduler"] == "PNDMScheduler"
    assert result.info["regions_painted"] == ["lips"] and "eyeshadow" not in result.info["diffusion"]["prompt"]


def test_out_of_memory_in_the_student_falls_back_to_the_teacher(app, ctx, monkeypatch):
    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated in a test)")

    monkeypatch.setattr(LCMScheduler, "step", out_of_memory)
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="auto", **LIPS_ONLY)
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "oom"
    assert any("ran out of memory" in n for n in p.notes)
    assert result.info["diffusion"]["faces"][0]["fallback_reason"] == "oom"


def test_a_failing_quality_gate_falls_back_to_the_teacher(app, ctx):
    # Any lip colour fails: limit max(-1, lite error - 100) = -1.
    strict = diffusion.GateLimits(delta_e={**diffusion.GateLimits().delta_e, "lips": (-1.0, -100.0)})
    ctx = replace(ctx, gate_limits={"makeup": strict})
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="auto", **LIPS_ONLY)
    p = result.provenance
    assert p.tier == "teacher" and p.fallback_reason == "quality_gate"
    assert any("quality gate" in n and "lips colour error" in n for n in p.notes)
    gate = result.info["diffusion"]["faces"][0]["quality_gate"]
    assert "delta_e_lips" in gate["student"] and gate["limits"]["delta_e_lips"] == -1.0
    assert result.info["diffusion"]["faces"][0]["rejected_student"]["tier"] == "student"
    assert any(k.startswith("student (rejected by quality gate)") for k in result.extras)
    assert p.timings_ms["rejected_student"] > 0 and p.timings_ms["quality_gate"] > 0
    json.dumps(result.summary())  # what the CLI and the API return


def test_a_passing_quality_gate_keeps_the_student(app, ctx):
    lenient = diffusion.GateLimits(max_drift=float("inf"), max_identity_distance=float("inf"), delta_e={})
    ctx = replace(ctx, gate_limits={"makeup": lenient})
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="auto", **LIPS_ONLY)
    assert result.provenance.tier == "student" and result.provenance.fallback_reason is None
    gate = result.info["diffusion"]["faces"][0]["quality_gate"]
    assert gate["verdict"] == "pass" and "identity_drift_nme" in gate["student"]


def test_every_face_is_generated_and_pasted_back(app, ctx, load_rgb):
    src = load_rgb(TWO_WOMEN)
    result = app(ctx, source=src, preset="berry", tier="student")
    faces = ctx.preprocess.faces(src)
    assert len(faces) == 2 and len(result.info["diffusion"]["faces"]) == 2
    for face in faces:
        lips = face.regions.full("lips") > 0
        assert np.any(result.image[lips] != src[lips])
    area = makeup_area(faces, REGIONS, src.shape)
    assert np.array_equal(result.image[~area], src[~area])
    assert "lite tier" in result.info["diffusion"]["faces"][0]["ip_adapter_image"], "a preset has no reference photo"
    assert any("all 2 faces" in n for n in result.provenance.notes)


def test_black_and_white_source_stays_black_and_white(app, ctx, load_rgb):
    src = np.repeat(cv2.cvtColor(load_rgb(FRECKLES), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    out = app(ctx, source=src, reference=fixture(DEEP_RED), tier="student", **LIPS_ONLY).image.astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 1 and np.abs(out[..., 1] - out[..., 2]).max() <= 1


# ------------------------------------------------------------------------------------- missing weights
def test_auto_without_any_weights_runs_lite_and_names_the_fetch_command(app, preprocessing, tmp_path, tiny_hub):
    ctx = context(settings_with(tmp_path, [], tiny_hub), preprocessing)
    result = app(ctx, source=fixture(FRECKLES), preset="coral", tier="auto")
    p = result.provenance
    assert p.tier == "lite" and p.fallback_reason == "unavailable"
    assert any("Fetch them with: studio fetch makeup" in n for n in p.notes)


@pytest.mark.parametrize("tier", ["student", "teacher"])
def test_an_explicit_tier_without_weights_is_an_error_with_the_fetch_command(app, preprocessing, tmp_path, tiny_hub,
                                                                              tier):  # fmt: skip
    ctx = context(settings_with(tmp_path, [], tiny_hub), preprocessing)
    with pytest.raises(ModelUnavailable) as info:
        app(ctx, source=fixture(FRECKLES), preset="coral", tier=tier)
    assert info.value.fetch_command == "studio fetch makeup"
    assert "sd15-inpainting" in str(info.value) and "'lite' tier" in str(info.value)


def test_auto_with_only_the_teacher_runs_the_teacher_and_says_why(app, preprocessing, tmp_path, tiny_hub):
    teacher_only = [i for i in RECIPE if i != "lcm-lora-sd15"]
    ctx = context(settings_with(tmp_path, teacher_only, tiny_hub), preprocessing)
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="auto", **LIPS_ONLY)
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "unavailable"
    assert any("studio fetch makeup" in n for n in result.provenance.notes)
    with pytest.raises(ModelUnavailable, match="lcm-lora-sd15"):
        app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), tier="student")


def test_all_regions_off_generates_nothing(app, ctx, load_rgb):
    src = load_rgb(FRECKLES)
    result = app(ctx, source=src, reference=fixture(DEEP_RED), tier="student", **{r: False for r in REGIONS})
    assert np.array_equal(result.image, src) and result.provenance.tier == "lite"
    assert any("switched off" in n for n in result.provenance.notes)
