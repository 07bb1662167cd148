"""Try-on diffusion tiers end to end on the tiny hub: a real fixture person and garment through our parsing, the
real resolver → loader → engine (SDXL inpainting + ControlNet + IP-Adapter, tiny random weights) and back.

Tiny random weights draw noise, so these tests check structure — the mask, the paste-back, the tiers, the fallback
reasons, the metrics and provenance — never how the garment looks. The recipe's resolution comes from the engine's
catalog, here with the teacher's native side set to 64 px so every call stays small.
"""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from conftest import fixture

from studio.apps.tryon import diffusion
from studio.engine.engine import Engine
from studio.engine.specs import Catalog
from studio.errors import ModelUnavailable
from studio.imaging import load_image
from studio.models import load_catalog
from studio.preprocess import Preprocessing
from studio.context import RunContext
from studio.schema import Preview, Result

SIZE = 64
PERSON = "people/person_woman_dark_skin_front_tee_01.jpg"
GARMENT = "garments/garment_tshirt_blue_lace_sleeves_01.jpg"
ARMS_CROSSED = "people/person_man_arms_crossed_fullbody_01.jpg"
METRICS = ("delta_e_garment", "torso_coverage", "torso_coverage_visible", "spill", "ssim_outside_clothing",
           "ssim_outside_region", "changed_outside_mask", "pose_redetected")  # fmt: skip


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("tryon")


@pytest.fixture(scope="module")
def ctx(tiny_settings):
    catalog = load_catalog()
    teacher = catalog.get(catalog.app("tryon").teacher)
    small = Catalog({**catalog.specs, teacher.id: replace(teacher, resolution=SIZE)}, catalog.apps)
    return RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings)).with_engine(
        Engine(tiny_settings, catalog=small))


@pytest.fixture(scope="module")
def rgb():
    return load_image(fixture(PERSON))


def tryon(app, ctx, **params) -> tuple[list[Preview], Result]:
    items = list(app.stream(ctx, person=fixture(PERSON), garment=fixture(GARMENT), **params))
    assert isinstance(items[-1], Result) and all(isinstance(i, Preview) for i in items[:-1])
    return items[:-1], items[-1]


def repaint_of(result) -> np.ndarray:
    return result.extras["repaint mask"][..., 0] > 0


def assert_pasted_back(result, rgb):
    """Every pixel outside the repaint mask is the input's; inside it the diffusion changed the picture."""
    repaint = repaint_of(result)
    assert result.image.shape == rgb.shape and 0.02 < repaint.mean() < 0.6
    assert np.array_equal(result.image[~repaint], rgb[~repaint])
    assert (np.abs(result.image.astype(int) - rgb).max(axis=2) > 10)[repaint].mean() > 0.3
    assert result.metrics["changed_outside_mask"] == 0.0 and result.metrics["ssim_outside_clothing"] == 1.0


@pytest.fixture(scope="module")
def student(app, ctx):
    return tryon(app, ctx, tier="student", steps=2, seed=5)


def test_student_end_to_end(student, ctx, rgb):
    previews, result = student
    assert previews[0].image.shape == rgb.shape and "lite" in previews[0].label
    assert_pasted_back(result, rgb)
    # The mask is our parsing's: the face (and hair) never enter it.
    face = ctx.preprocess.faces(rgb)[0].regions.full("face_oval") > 0
    assert (repaint_of(result) & face).sum() < 0.01 * face.sum()
    for key in METRICS:
        assert key in result.metrics, key
    prov = result.provenance
    assert prov.tier == "student" and prov.fallback_reason is None and prov.steps == 2
    assert prov.models[0].startswith("hyper-sdxl-8step-cfg-lora@")
    assert any(m.startswith("controlnet-openpose-sdxl-xinsir@") for m in prov.models)
    assert any(m.startswith("ip-adapter-plus-sdxl-vit-h@") for m in prov.models)
    assert "mediapipe/pose_landmark_full" in prov.models
    assert {"dress", "crop", "paste", "metrics"} <= set(prov.timings_ms)  # the app's phases …
    assert {"load", "denoise", "decode"} <= set(prov.timings_ms)  # … merged with the engine's
    info = result.info["diffusion"]
    assert tuple(info["work_size"]) in {(48, 64), (64, 64), (64, 48)}
    assert info["engine"]["pipeline"] == "StableDiffusionXLControlNetInpaintPipeline"
    assert info["engine"]["strength"] == diffusion.LITE_INIT_STRENGTH and info["init"] == "lite"
    assert "blue top" in info["prompt"] and info["negative_prompt"]
    control = result.extras["pose control (crop)"]
    assert control.shape[:2] == tuple(info["work_size"][::-1]) and control.max() > 100  # a drawn skeleton
    assert result.info["requested_tier"] == "student" and "garment" in result.info
    json.dumps(result.summary())  # what the CLI and the API print: provenance, metrics and info are plain JSON


def test_same_seed_same_output(student, app, ctx):
    _, first = student
    _, again = tryon(app, ctx, tier="student", steps=2, seed=5)
    _, other = tryon(app, ctx, tier="student", steps=2, seed=6)
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


def test_teacher_runs_its_own_steps_and_forwards_previews(app, ctx, rgb):
    previews, result = tryon(app, ctx, tier="teacher", steps=0, seed=5)  # 0 = the tier's own
    assert_pasted_back(result, rgb)
    prov = result.provenance
    assert prov.tier == "teacher" and prov.fallback_reason == "requested"
    assert prov.models[0].startswith("sdxl-inpainting@") and prov.steps > 2
    steps = previews[1:]
    assert steps and all(p.image.shape == rgb.shape and "teacher" in p.label for p in steps)


def test_oom_in_the_student_falls_back_to_the_teacher(app, ctx, rgb, monkeypatch):
    def out_of_memory(self, *args, **kwargs):  # the student's DDIM (trailing) only; the teacher runs Euler
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated in a test)")

    monkeypatch.setattr(DDIMScheduler, "step", out_of_memory)
    _, result = tryon(app, ctx, tier="auto", steps=2, seed=5)
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "oom"
    assert any("ran out of memory" in n for n in result.provenance.notes)
    assert_pasted_back(result, rgb)


def test_quality_gate_rejects_or_passes_the_student(app, ctx, rgb):
    strict = replace(ctx, gate_limits={"tryon": diffusion.GateLimits(max_delta_e=-1.0)})  # no colour can pass
    _, result = tryon(app, strict, tier="auto", steps=2, seed=5)
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "quality_gate"
    assert any("garment's colour is off" in n for n in result.provenance.notes)
    gate = result.info["diffusion"]["quality_gate"]
    assert gate["passed"] is False and gate["delta_e_garment"] > 0 and "pose" in gate
    assert result.extras["student (rejected by quality gate)"].shape == rgb.shape
    assert_pasted_back(result, rgb)

    lenient = replace(ctx, gate_limits={"tryon": diffusion.GateLimits(max_delta_e=float("inf"),
                                                                       max_pose_drift=float("inf"))})  # fmt: skip
    _, passed = tryon(app, lenient, tier="auto", steps=2, seed=5)
    assert passed.provenance.tier == "student" and passed.provenance.fallback_reason is None
    assert passed.info["diffusion"]["quality_gate"]["passed"] is True
    assert "quality_gate" in passed.provenance.timings_ms


@pytest.fixture
def bare_ctx(tmp_path, settings):
    """A machine with no diffusion weights at all (an empty Hugging Face cache)."""
    from studio.settings import Settings

    (tmp_path / "hub").mkdir()
    bare = Settings(device="cpu", hf_cache_dir=tmp_path / "hub", models_dir=tmp_path / "models", offline=True)
    return RunContext(settings=bare, preprocess=Preprocessing(bare))


def test_auto_without_weights_runs_lite_and_names_the_fetch_command(app, bare_ctx):
    _, result = tryon(app, bare_ctx, tier="auto")
    assert result.provenance.tier == "lite" and result.provenance.fallback_reason == "unavailable"
    assert any("Fetch them with: studio fetch tryon" in n for n in result.provenance.notes)


@pytest.mark.parametrize("tier,model", [("student", "hyper-sdxl-8step-cfg-lora"), ("teacher", "sdxl-inpainting")])
def test_explicit_tier_without_weights_raises_with_the_fetch_command(app, bare_ctx, tier, model):
    with pytest.raises(ModelUnavailable) as info:
        tryon(app, bare_ctx, tier=tier)
    assert info.value.fetch_command == "studio fetch tryon"
    assert model in str(info.value) and "'lite' tier" in str(info.value)


def test_crossed_arms_are_kept_out_of_the_repaint_mask(settings, preprocessing, load_rgb):
    """Forearms folded over the chest keep their pixels in the diffusion tiers too (no engine needed)."""
    from studio.apps.tryon.app import garment_for
    from studio.apps.tryon.lite import dress

    ctx = RunContext(settings=settings, preprocess=preprocessing)
    rgb = load_rgb(ARMS_CROSSED)
    pose = preprocessing.pose(rgb)
    parse, parts = garment_for(ctx, load_rgb(GARMENT))
    dressed = dress(rgb, pose, preprocessing.person_mask(rgb), parse, parts, "upper", True)
    repaint = diffusion.repaint_mask(dressed)
    kp = pose.keypoints
    forearms = np.zeros(rgb.shape[:2], np.uint8)
    for a, b in ((13, 15), (14, 16)):  # elbow → wrist, each side
        cv2.line(forearms, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]), 1, 12)
    xs = sorted([kp[11, 0], kp[12, 0]])
    forearms[:, : int(xs[0])] = 0  # only where they cross the chest, between the shoulders
    forearms[:, int(xs[1]) :] = 0
    assert repaint[forearms > 0].mean() < 0.1
    assert repaint[dressed.region > 0].mean() > 0.5


def test_colour_coverage_agrees_with_the_lite_alpha(settings, preprocessing, load_rgb):
    """On the lite result, whose garment alpha is known, the colour-based coverage and spill the diffusion tiers
    report agree with the alpha-based ones (no engine needed: the engine object only supplies the resolution)."""
    from studio.apps.tryon import report
    from studio.apps.tryon.app import garment_for
    from studio.apps.tryon.lite import dress

    ctx = RunContext(settings=settings, preprocess=preprocessing)
    rgb = load_rgb(PERSON)
    pose, mask = preprocessing.pose(rgb), preprocessing.person_mask(rgb)
    parse, parts = garment_for(ctx, load_rgb(GARMENT))
    dressed = dress(rgb, pose, mask, parse, parts, "upper", True)
    job = diffusion.prepare(ctx.engine, rgb, pose, mask, parse, dressed, "upper")
    assert job.crop.size in {(768, 1024), (1024, 1024), (1024, 768)}  # SDXL's native buckets from the real catalog
    ours, lite = diffusion.measure(ctx, job, dressed.image), report.measure(ctx, rgb, mask, parse, dressed)
    for key in ("torso_coverage", "torso_coverage_visible"):
        assert abs(ours[key] - lite[key]) < 0.08, (key, ours[key], lite[key])
    assert abs(ours["spill"] - lite["spill"]) < 0.03
    assert ours["delta_e_garment"] < 3
