"""Avatar diffusion tiers end to end on the tiny hub: real fixture selfies through our analysis, the real resolver →
loader → engine (SDXL + Lightning UNet student / SDXL base teacher, xinsir OpenPose ControlNet, IP-Adapter Plus face,
tiny random weights) and back, and the identity quality gate.

Tiny random weights draw noise, so these tests check structure — which tier ran and why, the conditioning, the
averaged selfie embeddings, provenance and metrics — never how the portrait looks. The recipe's resolution comes from
the engine's catalog, here with the teacher's native side set to 64 px and its default steps to 4.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from diffusers import EulerDiscreteScheduler

from conftest import fixture

from studio.apps.avatar import diffusion
from studio.context import RunContext
from studio.engine.engine import Engine
from studio.engine.specs import Catalog
from studio.errors import ModelUnavailable
from studio.models import load_catalog
from studio.preprocess import Preprocessing
from studio.schema import Preview, Result

SIZE = 64
ASTRONAUT = "faces/face_woman_light_astronaut_nomakeup_01.png"
SMILE = "faces/face_man_elderly_light_smiling_01.jpg"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("avatar")


@pytest.fixture(scope="module")
def ctx(tiny_settings):
    catalog = load_catalog()
    recipe = catalog.app("avatar")
    teacher = catalog.get(recipe.teacher)
    specs = {**catalog.specs, teacher.id: replace(teacher, resolution=SIZE, steps=4)}
    student = catalog.get(recipe.student)
    specs[student.id] = replace(student, resolution=SIZE)
    return RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings)).with_engine(
        Engine(tiny_settings, catalog=Catalog(specs, catalog.apps)))


def run(app, ctx, **params) -> tuple[list[Preview], Result]:
    items = list(app.stream(ctx, source=fixture(ASTRONAUT), **params))
    assert isinstance(items[-1], Result) and all(isinstance(i, Preview) for i in items[:-1])
    return items[:-1], items[-1]


@pytest.fixture(scope="module")
def student(app, ctx):
    return run(app, ctx, preset="linkedin", tier="student", seed=3)


def test_student_end_to_end(student):
    _, result = student
    prov = result.provenance
    assert prov.tier == "student" and prov.fallback_reason is None and prov.steps == 4
    assert prov.models[0].startswith("lightning-sdxl-4step-unet@")
    assert any(m.startswith("controlnet-openpose-sdxl-xinsir@") for m in prov.models)
    assert any(m.startswith("ip-adapter-plus-face-sdxl-vit-h@") for m in prov.models)
    assert {"selfies", "conditioning", "finish", "metrics"} <= set(prov.timings_ms)  # the app's phases …
    assert {"load", "denoise", "decode"} <= set(prov.timings_ms)  # … merged with the engine's
    info = result.info["diffusion"]
    assert info["canvas"] == [64, 64]  # linkedin is square: the 1:1 bucket at the (tiny) native side
    assert info["engine"]["pipeline"] == "StableDiffusionXLControlNetPipeline"
    assert info["pose_from"] == "MediaPipe Pose" and info["ip_adapter_images"] == 1
    assert "linkedin" in info["prompt"] and info["negative_prompt"]
    assert result.image.shape == (800, 800, 3)  # finished to the preset's frame (no face in noise to frame)
    control = result.extras["pose control"]
    assert control.shape == (64, 64, 3) and control.max() > 100  # a drawn skeleton
    assert any("No face was found in the generated portrait" in n for n in prov.notes)
    json.dumps(result.summary())


def test_teacher_runs_its_own_steps(app, ctx):
    previews, result = run(app, ctx, preset="headshot", tier="teacher", seed=3)
    prov = result.provenance
    assert prov.tier == "teacher" and prov.fallback_reason == "requested" and prov.steps == 4
    assert prov.models[0].startswith("sdxl-base@") and prov.guidance > 1
    assert result.info["diffusion"]["canvas"] == [64, 88]  # 4:5 → the 3:4 bucket (grown to the 64 px minimum)
    assert previews and all("teacher" in p.label for p in previews)


def test_several_selfies_average_their_embeddings(app, ctx, monkeypatch):
    from studio.engine import runner

    seen = []
    original = runner.average_ip_embeds

    def spy(view, images, guidance):
        out = original(view, images, guidance)
        seen.append((len(images), [tuple(e.shape) for e in out]))
        return out

    monkeypatch.setattr(runner, "average_ip_embeds", spy)
    more = [fixture(ASTRONAUT), fixture(ASTRONAUT)]
    _, result = run(app, ctx, selfies=more, preset="social", tier="student", seed=3)
    assert result.info["diffusion"]["ip_adapter_embeddings"] == "averaged"
    assert seen and seen[0][0] == 3 and seen[0][1][0][1] == 1  # three selfies in, one embedding out
    assert result.extras["IP-Adapter selfies"].shape[1] == 3 * 256
    assert {"identity_distance_selfie_1", "identity_distance_selfie_3"} <= set(result.metrics) or (
        "identity" in " ".join(result.provenance.notes))  # noise has no face to measure


def test_driver_sets_the_pose(app, ctx):
    _, result = run(app, ctx, driver=fixture(SMILE), preset="headshot", tier="student", seed=3)
    assert result.info["diffusion"]["pose_from"] == "MediaPipe Pose"
    assert result.provenance.tier == "student"


def test_oom_in_the_student_falls_back_to_the_teacher(app, ctx, monkeypatch):
    calls = []

    def out_of_memory(self, *args, **kwargs):  # the student's Euler (trailing) fails; the teacher's runs
        if self.config.timestep_spacing == "trailing":
            raise torch.OutOfMemoryError("CUDA out of memory (simulated in a test)")
        calls.append(1)
        return original(self, *args, **kwargs)

    original = EulerDiscreteScheduler.step
    monkeypatch.setattr(EulerDiscreteScheduler, "step", out_of_memory)
    _, result = run(app, ctx, preset="headshot", tier="auto", seed=3)
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "oom"


def test_identity_gate_sends_a_drifting_student_to_the_teacher(app, ctx):
    # Tiny random weights draw no face at all: the gate says so and the teacher runs.
    _, failed = run(app, ctx, preset="headshot", tier="auto", seed=3)
    assert failed.provenance.tier == "teacher" and failed.provenance.fallback_reason == "quality_gate"
    gate = failed.info["diffusion"]["quality_gate"]
    assert gate["passed"] is False and gate["face_found"] is False
    assert any("no face was found in the student's portrait" in n for n in failed.provenance.notes)


def test_identity_gate_passes_the_selfie_itself_and_fails_a_stranger(ctx, load_rgb):
    from studio.apps.avatar.selfies import read_selfies

    people = read_selfies(ctx, fixture(ASTRONAUT), [])
    gate = diffusion.QualityGate(ctx, people)
    assert gate(load_rgb(ASTRONAUT)) is None and gate.record["identity_distance_mean"] < 0.1
    reason = gate(load_rgb(SMILE))
    assert "identity drift" in reason and gate.record["passed"] is False
    assert gate.record["embedder"] == "dlib-resnet-v1"


def test_canvas_follows_the_preset_frame(ctx):
    from studio.apps.avatar.presets import PRESETS

    assert diffusion.canvas_size(ctx.engine, PRESETS["headshot"]) == (64, 88)
    assert diffusion.canvas_size(ctx.engine, PRESETS["passport"]) == (64, 64)


def test_face_only_photo_gets_head_joints_from_the_mesh(ctx, load_rgb):
    from studio.apps.avatar.presets import PRESETS

    rgb = load_rgb("faces/face_woman_nomakeup_freckles_01.png")
    face = ctx.preprocess.faces(rgb)[0]
    pose = diffusion.face_pose(face, rgb.shape[:2])
    assert pose.visible("nose") and pose.visible("left_eye") and not pose.visible("left_shoulder")
    control, _ = diffusion.pose_image(ctx, rgb, face, PRESETS["headshot"], (768, 1024))
    assert control.shape == (1024, 768, 3) and control.max() > 100


@pytest.fixture
def bare_ctx(tmp_path):
    from studio.settings import Settings

    (tmp_path / "hub").mkdir()
    bare = Settings(device="cpu", hf_cache_dir=tmp_path / "hub", models_dir=tmp_path / "models", offline=True)
    return RunContext(settings=bare, preprocess=Preprocessing(bare))


def test_auto_without_weights_runs_lite_and_names_the_fetch_command(app, bare_ctx):
    _, result = run(app, bare_ctx, preset="headshot", tier="auto")
    assert result.provenance.tier == "lite" and result.provenance.fallback_reason == "unavailable"
    assert any("Fetch them with: studio fetch avatar" in n for n in result.provenance.notes)


@pytest.mark.parametrize("tier,model", [("student", "lightning-sdxl-4step-unet"), ("teacher", "sdxl-base")])
def test_explicit_tier_without_weights_raises_with_the_fetch_command(app, bare_ctx, tier, model):
    with pytest.raises(ModelUnavailable) as info:
        run(app, bare_ctx, tier=tier)
    assert info.value.fetch_command == "studio fetch avatar" and model in str(info.value)
