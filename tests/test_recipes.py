"""Issue 12: the recipes checked against the model cards, one test per defect (and the documentation it asked for).

The settings that reach diffusers are captured at the pipeline call itself (`calls`: every SD/SDXL pipeline class's
`__call__` records its keyword arguments), through the real engine on the tiny hub; the timesteps that ran come from
the step callback (`Result.info["timesteps"]`). Stroke widths are measured on a render of a real person's pose.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest
from conftest import fixture

from studio.engine.engine import Engine
from studio.engine.loader import VIEW_CLASSES
from studio.engine.request import GenerationRequest
from studio.errors import InputError
from studio.imaging import load_image
from studio.models import load_catalog
from studio.schema import Result

SIZE = 64
IMAGE = np.random.default_rng(12).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
MASK = np.zeros((SIZE, SIZE), np.uint8)
MASK[16:48, 12:52] = 255
PERSON = "people/person_man_light_fullbody_front_01.png"  # frontal, arms down: torso limbs cross nothing

LIGHTNING_4 = [999, 749, 499, 249]  # Euler trailing, 4 steps (catalog doc G6)
HYPER_8 = [999, 874, 749, 624, 499, 374, 249, 124]  # DDIM trailing, 8 steps


@pytest.fixture(scope="module")
def engine(tiny_settings):
    return Engine(replace(tiny_settings, include_noncommercial=True))  # DMD2 is opt-in (non-commercial)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, dict]]:
    """(pipeline class, keyword arguments) of every diffusers pipeline call made while the test runs."""
    import diffusers

    seen: list[tuple[str, dict]] = []
    names = {name for table in VIEW_CLASSES.values() for name in table.values()}
    for name in names:
        cls = getattr(diffusers, name)
        original = cls.__call__

        @functools.wraps(original)  # the engine reads the call's signature to drop arguments a class does not take
        def spy(self, *args, _original=original, **kwargs):
            seen.append((type(self).__name__, dict(kwargs)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", spy)
    return seen


def run(engine, **fields) -> Result:
    fields = {"prompt": "a person, photo", "seed": 3, "mode": "fast", "adapters": (), **fields}
    return engine.run(GenerationRequest(**fields))


def only_call(calls) -> dict:
    assert len(calls) == 1, [name for name, _ in calls]
    return calls[0][1]


# ----------------------------------------------------------------------------------- 1. xinsir OpenPose stroke width
def _width_across(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour) -> int:
    """Pixels of `colour` on the line through the limb's midpoint, perpendicular to it (the stroke's width)."""
    d = (b - a) / np.hypot(*(b - a))
    n = np.array([-d[1], d[0]])
    mid = (a + b) / 2
    hits = 0
    for t in np.arange(-80, 81):
        x, y = np.round(mid + t * n).astype(int)
        if 0 <= y < img.shape[0] and 0 <= x < img.shape[1]:
            hits += bool(np.all(np.abs(img[y, x].astype(int) - colour) <= 30))
    return hits


def _dot_radius(img: np.ndarray, centre: np.ndarray, colour) -> float:
    x, y = np.round(centre).astype(int)
    window = img[max(0, y - 60) : y + 61, max(0, x - 60) : x + 61].astype(int)
    area = np.all(np.abs(window - colour) <= 30, axis=-1).sum()
    return float(np.sqrt(area / np.pi))


@pytest.fixture(scope="module")
def pose(preprocessing):
    found = preprocessing.pose(load_image(fixture(PERSON)))
    assert found is not None
    return found


def test_xinsir_openpose_render_uses_the_cards_thick_lines(pose):
    from studio.preprocess.pose import OPENPOSE_COLORS, OPENPOSE_LIMBS, openpose_strokes, render_openpose

    h, w = 1024, 768  # a try-on work canvas
    xinsir = render_openpose(pose, size=(h, w), controlnet="controlnet-openpose-sdxl-xinsir")
    classic = render_openpose(pose, size=(h, w))  # the ControlNet 1.1 annotator's drawing (SD1.5 OpenPose)
    joints = pose.openpose18()
    joints[:, 0] *= w / pose.image_size[1]
    joints[:, 1] *= h / pose.image_size[0]
    # Limb 6: neck → right hip, the torso's side line. The card's draw_bodypose at a 1024-px long side: ratio 3, an
    # ellipse of minor semi-axis stickwidth × ratio = 12 px, so a 24-px stroke; dots of radius 4 × ratio = 12 px.
    i = 6
    a, b = OPENPOSE_LIMBS[i]
    colour = np.array([round(c * 0.6) for c in OPENPOSE_COLORS[i]])
    assert abs(_width_across(xinsir, joints[a, :2], joints[b, :2], colour) - 24) <= 3
    assert abs(_width_across(classic, joints[a, :2], joints[b, :2], colour) - 12) <= 3  # 4 px at 512 → 6 px semi-axis
    assert abs(_dot_radius(xinsir, joints[8, :2], OPENPOSE_COLORS[8]) - 12) <= 2  # right hip dot
    # The try-on crop helper passes the ControlNet id positionally (studio.preprocess.crops.pose_control).
    from studio.preprocess.crops import BoxCrop, pose_control

    ph, pw = pose.image_size
    crop = pose_control(pose, BoxCrop((0, 0, pw, ph), (w, h)), "controlnet-openpose-sdxl-xinsir")
    assert np.array_equal(crop, xinsir)
    # The card's bands of the long side: < 500 → 1, < 1000 → 2, < 2000 → 3, … capped at 7.
    assert [openpose_strokes("xinsir", s, s)[0] for s in (499, 500, 999, 1000, 2048, 4999, 5000, 9000)] == [
        4, 8, 8, 12, 16, 24, 28, 28]  # fmt: skip
    # The catalog names the drawing per ControlNet, with its source.
    catalog = load_catalog()
    xinsir_spec = catalog.get("controlnet-openpose-sdxl-xinsir")
    assert xinsir_spec.control_render == "xinsir" and "thick line" in xinsir_spec.source_of("control_render")
    assert catalog.get("controlnet-openpose-sd15").control_render == "openpose"


def test_openpose_styles_match_the_catalogs():
    from studio.engine.specs import CONTROL_RENDERS
    from studio.preprocess.pose import OPENPOSE_STYLES

    assert set(CONTROL_RENDERS) == set(OPENPOSE_STYLES)
    with pytest.raises(InputError, match="not a pose ControlNet"):
        from studio.preprocess.pose import BodyPose, render_openpose

        render_openpose(BodyPose(np.zeros((33, 4)), (64, 64)), controlnet="controlnet-canny-sdxl")


# ------------------------------------------------------------------------- 2. SDXL inpainting never at strength 1
def test_sdxl_inpainting_runs_below_strength_one_by_default(engine, calls):
    catalog = load_catalog()
    assert catalog.get("sdxl-inpainting").inpaint_strength == 0.99
    # The student (Hyper-SDXL, no inpaint strength of its own) takes its base's 0.99: the lower of the two.
    result = run(engine, app="tryon", pipeline="inpaint", image=IMAGE, mask_image=MASK)
    assert only_call(calls)["strength"] == 0.99 and result.info["strength"] == 0.99
    assert "card" in result.info["settings"]["sources"]["strength"]
    calls.clear()
    teacher = run(engine, app="tryon", pipeline="inpaint", image=IMAGE, mask_image=MASK, mode="quality", steps=3)
    assert only_call(calls)["strength"] == 0.99 and teacher.provenance.tier == "teacher"
    calls.clear()
    run(engine, app="tryon", pipeline="inpaint", image=IMAGE, mask_image=MASK, strength=0.7)  # a request still wins
    assert only_call(calls)["strength"] == 0.7
    calls.clear()
    run(engine, app="makeup", pipeline="inpaint", image=IMAGE, mask_image=MASK)  # SD1.5 inpainting: no card asks less
    assert only_call(calls)["strength"] == 1.0


# ------------------------------------------------------------- 3. fixed timesteps in ControlNet img2img / inpaint
def test_fixed_timesteps_reach_pipelines_without_a_timesteps_argument(engine, calls):
    result = run(engine, app="avatar", pipeline="controlnet-img2img", student="dmd2-sdxl-4step-lora", image=IMAGE,
                 control_image=IMAGE, strength=0.5, adapters=("controlnet-openpose-sdxl-xinsir",))  # fmt: skip
    name, kwargs = calls[0]
    assert name == "StableDiffusionXLControlNetImg2ImgPipeline" and "timesteps" not in kwargs
    # DMD2's own grid, its first half skipped for strength 0.5 — not LCM's default [999, 759, 499, 259] grid.
    assert result.info["timesteps"] == [499, 249] and kwargs["num_inference_steps"] == 4
    assert not any("takes no timesteps" in n for n in result.provenance.notes)
    calls.clear()
    full = run(engine, app="avatar", pipeline="controlnet-inpaint", student="dmd2-sdxl-4step-lora", image=IMAGE,
               mask_image=MASK, control_image=IMAGE, strength=1.0,
               adapters=("controlnet-openpose-sdxl-xinsir",))  # fmt: skip
    assert full.info["timesteps"] == [999, 749, 499, 249]


def test_fixed_timesteps_that_leave_no_step_are_refused(engine, calls):
    with pytest.raises(InputError, match=r"strength 0.5 leaves no denoising step.*hyper-sdxl-1step-unet"):
        run(engine, app="avatar", pipeline="controlnet-img2img", student="hyper-sdxl-1step-unet", image=IMAGE,
            control_image=IMAGE, strength=0.5, adapters=("controlnet-openpose-sdxl-xinsir",))  # fmt: skip
    with pytest.raises(InputError, match=r"fixed timesteps \[999, 749, 499, 249\].*steps=2"):
        run(engine, app="avatar", pipeline="txt2img", student="dmd2-sdxl-4step-lora", steps=2, width=SIZE, height=SIZE)
    assert calls == []  # refused before any pipeline ran


# ------------------------------------------------------------------ 4. guidance-embedding LCM UNets and real CFG
def test_guidance_embedding_unets_are_refused_where_the_embedding_is_never_passed(engine, calls):
    for student, app, kind, extra in (
        ("lcm-sdxl-unet", "avatar", "controlnet-img2img",
         dict(image=IMAGE, adapters=("controlnet-openpose-sdxl-xinsir",))),
        ("lcm-dreamshaper-7", "makeup", "controlnet-inpaint",
         dict(image=IMAGE, mask_image=MASK, adapters=("controlnet-mediapipe-face-sd15",))),
    ):  # fmt: skip
        with pytest.raises(InputError, match="guidance as an embedding"):
            run(engine, app=app, pipeline=kind, student=student, control_image=IMAGE, **extra)
    assert calls == []
    # Where the pipeline passes the embedding, the model runs with CFG off (one UNet pass) and guidance 8 embedded.
    ok = run(engine, app="avatar", pipeline="txt2img", student="lcm-sdxl-unet", width=SIZE, height=SIZE)
    assert ok.info["cfg"] is False and only_call(calls)["guidance_scale"] == 8.0


# ---------------------------------------------------------------------------------------- 5. PCM normal-CFG guidance
@pytest.mark.parametrize("student,low,high", [("pcm-sdxl-normalcfg-4step", 2.5, 3.5),
                                              ("pcm-sdxl-normalcfg-8step", 3.0, 6.0)])  # fmt: skip
def test_pcm_normal_cfg_runs_the_cards_guidance_and_ddim(engine, calls, student, low, high):
    result = run(engine, app="avatar", pipeline="txt2img", student=student, width=SIZE, height=SIZE)
    guidance = only_call(calls)["guidance_scale"]
    assert low <= guidance <= high and result.info["cfg"] is True
    # Card: 'When using DDIM, set timestep_spacing="trailing", clip_sample = False and set_alpha_to_one = False.'
    assert result.info["scheduler"] == "DDIMScheduler"
    config = result.info["scheduler_config"]
    assert config["timestep_spacing"] == "trailing"
    assert config["clip_sample"] is False and config["set_alpha_to_one"] is False
    n = load_catalog().get(student).steps
    assert len(result.info["timesteps"]) == n and result.info["timesteps"][0] == 999


# --------------------------------------------------------------------------- 6. SDXL Canny/depth ControlNet scales
@pytest.mark.parametrize("controlnet", ["controlnet-canny-sdxl", "controlnet-depth-sdxl", "controlnet-zoe-depth-sdxl"])
def test_diffusers_sdxl_controlnets_default_to_the_cards_scale(engine, calls, controlnet):
    result = run(engine, app="style", pipeline="controlnet", control_image=IMAGE, adapters=(controlnet,))
    assert only_call(calls)["controlnet_conditioning_scale"] == 0.5
    assert result.info["settings"]["controlnet_scale"] == 0.5
    assert load_catalog().get(controlnet).source_of("scale")


# ------------------------------------------------------------------ 7. step-locked students keep their trained grid
def test_step_locked_students_keep_their_grid_in_image_to_image(engine, calls):
    result = run(engine, app="avatar", pipeline="img2img", student="lightning-sdxl-4step-lora", image=IMAGE,
                 strength=0.5)  # fmt: skip
    assert only_call(calls)["num_inference_steps"] == 4
    assert result.info["timesteps"] == [499, 249] and set(result.info["timesteps"]) <= set(LIGHTNING_4)
    assert any("keeps its trained 4-step grid" in n for n in result.provenance.notes)
    calls.clear()
    tryon = run(engine, app="tryon", pipeline="inpaint", image=IMAGE, mask_image=MASK, strength=0.8)
    assert tryon.info["timesteps"] == HYPER_8[2:]  # int(8 × 0.8) = 6 steps of the 8-step grid
    calls.clear()
    # A step-flexible student (LCM) still gets a longer schedule, so its 4 steps run.
    lcm = run(engine, app="head", pipeline="img2img", student="lcm-lora-sd15", image=IMAGE, strength=0.5)
    assert len(lcm.info["timesteps"]) == 4 and only_call(calls)["num_inference_steps"] == 8


def test_steps_controls_offer_only_the_trained_counts_of_step_locked_students(engine):
    catalog = load_catalog()
    assert catalog.get("lightning-sdxl-4step-lora").step_options == (4,)
    assert catalog.get("hyper-sdxl-8step-cfg-lora").step_options == (8,)
    assert catalog.get("pcm-sdxl-smallcfg-2step").step_options == (2,)
    assert catalog.get("dmd2-sdxl-4step-unet").step_options == (4,)
    assert catalog.get("lcm-lora-sd15").step_options == tuple(range(2, 9))
    assert catalog.get("tcd-sdxl").step_options[0] == 4
    assert engine.step_options("tryon") == (8,)  # the app's default student
    assert engine.step_options("makeup") == tuple(range(2, 9))
    assert engine.step_options("tryon", student="tcd-sdxl") == catalog.get("tcd-sdxl").step_options
    # Asked anyway (an API call), a step-locked student runs off its grid and says so.
    off = run(engine, app="avatar", pipeline="txt2img", student="lightning-sdxl-4step-lora", steps=3, width=SIZE,
              height=SIZE)  # fmt: skip
    assert len(off.info["timesteps"]) == 3 and any("off its trained timesteps" in n for n in off.provenance.notes)


# --------------------------------------------------------------------------------- 8. TCD licence and inpaint steps
def test_tcd_is_mit_and_inpaints_at_eight_steps(engine, calls):
    catalog = load_catalog()
    for sid in ("tcd-sd15", "tcd-sdxl"):
        assert catalog.get(sid).licence.name == "mit" and catalog.get(sid).licence.commercial
    result = run(engine, app="tryon", pipeline="inpaint", student="tcd-sdxl", image=IMAGE, mask_image=MASK)
    kwargs = only_call(calls)
    assert kwargs["strength"] == 0.99 and kwargs["eta"] == 0.3
    assert len(result.info["timesteps"]) == 8  # the docs' inpainting count, not the text-to-image 4
    assert "num_inference_steps=8" in result.info["settings"]["sources"]["steps"]


def test_lightning_on_sdxl_base_defaults_to_its_full_unet():
    catalog = load_catalog()
    for app in ("avatar", "style"):
        recipe = catalog.app(app)
        assert recipe.student == "lightning-sdxl-4step-unet" and "lightning-sdxl-4step-lora" in recipe.alternatives


# ------------------------------------------------------------------------------- sources, recipes and the settings
def test_every_setting_in_the_catalog_cites_its_source():
    from studio.engine.specs import CatalogError, FileSpec, Licence, ModelSpec, scheduler

    for spec in load_catalog().specs.values():
        for name in spec.cited_settings():
            assert len(spec.source_of(name)) > 10, (spec.id, name)
    with pytest.raises(CatalogError, match=r"'x-lora': no source for steps, guidance, scheduler, step_range"):
        ModelSpec("x-lora", "X", "lora", "student", "sd15", "o/r", (FileSpec("w.safetensors"),),
                  Licence("mit", "commercial"), base="sd15", scheduler=scheduler("LCMScheduler"), steps=4,
                  guidance=1.0)  # fmt: skip


def test_every_app_recipe_says_what_a_card_verifies_for_its_pipeline_kind():
    from studio.engine.specs import CHECKED_SETTINGS, IMAGE_KINDS

    for recipe in load_catalog().apps.values():
        checks = recipe.checks_for()
        needed = {s for s in CHECKED_SETTINGS if s != "strength" or recipe.pipeline in IMAGE_KINDS}
        assert needed <= {c.setting for c in checks}, recipe.app
        assert any(not c.verified for c in checks), f"{recipe.app}: nothing unverified? say what was not checked"
        assert all(c.note for c in checks)


def test_results_carry_the_settings_they_ran_with(engine):
    result = run(engine, app="tryon", pipeline="inpaint", image=IMAGE, mask_image=MASK, strength=0.8)
    settings = result.info["settings"]
    assert settings["steps"] == 6 and settings["num_inference_steps"] == 8 and settings["guidance"] == 5.0
    assert settings["strength"] == 0.8 and settings["lora_scale"] == 1.0 and settings["cfg"] is True
    assert settings["sources"]["strength"] == "request" and "Hyper-SD card" in settings["sources"]["steps"]
    line = next(n for n in result.provenance.notes if n.startswith("settings: "))
    assert "6 step(s) of a 8-step schedule" in line and "strength 0.8" in line
    result.summary()  # JSON-ready
