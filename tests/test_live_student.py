"""The student live path (studio/live_student.py, studio/engine/stream.py) on the tiny hub, on the CPU.

Random tiny models make noise: these tests check the path — which student a stream picks, prepared once (TAESD,
cached embeddings, fixed seed: the same frame gives the same image), frames dropped while the device is busy and
never queued, shared state left as it was for the next still run, and the reasons a stream cannot run.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from studio.context import RunContext
from studio.engine.engine import Engine, device_worker
from studio.live_student import LIVE_STRENGTH, choose, evaluations, live_kind, stream_stats, student_frame

SIZE = 64
RNG = np.random.default_rng(0)
CROP = RNG.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
CONTROL = RNG.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
MASK = np.zeros((SIZE, SIZE), np.uint8)
MASK[16:48, 12:52] = 255
PROMPT = "portrait photo, professional makeup, classic red lipstick"


@pytest.fixture(scope="module")
def engine(tiny_settings):
    return Engine(tiny_settings)


def context(engine) -> RunContext:
    return RunContext(settings=engine.settings, preprocess=None).with_engine(engine)


def makeup_frame(ctx, image=CROP, **overrides):
    fields = dict(mask=MASK, control=CONTROL, prompt=PROMPT, seed=5, wait=True)
    return student_frame(ctx, "makeup", image, **{**fields, **overrides})


# ------------------------------------------------------------------------------------------------- the student
def test_each_app_streams_a_student_of_at_most_two_unet_evaluations(engine):
    expected = {"makeup": "lcm-lora-sd15", "head": "lcm-lora-sd15", "tryon": "lcm-lora-sdxl",
                "avatar": "lightning-sdxl-4step-unet", "style": "lightning-sdxl-4step-unet"}  # fmt: skip
    for app, student in expected.items():
        sid, steps, why = choose(engine, app)
        assert sid == student, (app, why)
        assert evaluations(engine.catalog, app, sid)[1] <= 2
    # The apps' own 8-step CFG students would cost 4 steps × 2 (CFG) at half strength.
    assert evaluations(engine.catalog, "head", "hyper-sd15-8step-cfg-lora") == (8, 8)
    assert evaluations(engine.catalog, "avatar", "lightning-sdxl-4step-unet") == (4, 2)  # the last 2 of its grid
    assert live_kind("controlnet") == "controlnet-img2img" and live_kind("controlnet-inpaint") == "controlnet-inpaint"


def test_a_stream_is_prepared_once_and_gives_the_same_image_for_the_same_frame(engine):
    ctx = context(engine)
    first = makeup_frame(ctx)
    assert first.status == "ok" and first.image.shape == (SIZE, SIZE, 3) and first.image.dtype == np.uint8
    stats = first.stats
    assert stats["student"] == "lcm-lora-sd15" and stats["steps"] == 2 and stats["strength"] == LIVE_STRENGTH
    assert stats["decoder"].startswith("TAESD") and stats["kind"] == "controlnet-inpaint" and not stats["cfg"]
    assert stats["prepare_ms"] > 0 and stats["seed"] == 5
    stream = ctx.shared("makeup.live_student", None).current
    again = makeup_frame(ctx)
    assert ctx.shared("makeup.live_student", None).current is stream, "same setup: same prepared stream"
    assert np.array_equal(again.image, first.image), "fixed seed and cached embeddings: a still frame stays still"
    moved = makeup_frame(ctx, np.roll(CROP, 8, axis=1))
    assert moved.fresh and not np.array_equal(moved.image, first.image)
    assert stream_stats(ctx, "makeup")["fresh"] == 3 and stream_stats(ctx, "makeup")["dropped"] == 0
    other = makeup_frame(ctx, prompt=PROMPT + ", soft pink blush")
    assert ctx.shared("makeup.live_student", None).current is not stream, "a new prompt prepares a new stream"
    assert other.fresh


def test_frames_are_dropped_while_the_device_is_busy_never_queued(engine):
    ctx = context(engine)
    first = makeup_frame(ctx)
    release = threading.Event()
    blocker = device_worker(engine.device.device).submit(release.wait, 30)  # another user's long run
    try:
        for _ in range(3):
            busy = makeup_frame(ctx, np.roll(CROP, 4, axis=0), wait=False)
            assert busy.status == "dropped" and busy.reason == "the device was busy"
            assert np.array_equal(busy.image, first.image), "the last result stands in for a dropped frame"
    finally:
        release.set()
        blocker.result()
    assert makeup_frame(ctx, wait=False).fresh
    assert stream_stats(ctx, "makeup")["dropped"] == 3


def test_a_stream_leaves_the_shared_models_as_a_still_run_needs_them(engine):
    from studio.engine.request import GenerationRequest

    request = GenerationRequest(app="makeup", pipeline="controlnet-inpaint", adapters=("controlnet-mediapipe-face-sd15",),
                                image=CROP, mask_image=MASK, control_image=CONTROL, prompt=PROMPT, seed=2, mode="fast",
                                previews=False)  # fmt: skip
    before = engine.run(request).image
    teacher = engine.run(replace(request, mode="quality", steps=2)).image
    ctx = context(engine)
    for shift in range(3):
        assert makeup_frame(ctx, np.roll(CROP, shift, axis=1)).fresh
    assert np.array_equal(engine.run(request).image, before), "LoRA state and scales restored around every frame"
    assert np.array_equal(engine.run(replace(request, mode="quality", steps=2)).image, teacher)


def test_an_sdxl_app_streams_img2img_with_its_controlnet_and_a_reference(engine):
    ctx = context(engine)
    frame = student_frame(ctx, "avatar", CROP, control=CONTROL, reference=CROP, prompt="a portrait", wait=True)
    assert frame.fresh and frame.stats["kind"] == "controlnet-img2img" and frame.stats["steps"] == 2
    assert frame.stats["student"] == "lightning-sdxl-4step-unet" and frame.stats["decoder"] == "TAESD (taesdxl)"


# ------------------------------------------------------------------------------------------------- cannot run
def test_missing_weights_make_the_stream_unavailable_with_the_fetch_command(tiny_hub, tmp_path):
    from studio.engine.tinyhub import partial_copy
    from studio.settings import Settings

    cache = partial_copy(tiny_hub, tmp_path / "teacher-only", ["sd15-inpainting", "controlnet-mediapipe-face-sd15"])
    settings = Settings(device="cpu", hf_cache_dir=cache, models_dir=tmp_path / "models", offline=True)
    frame = makeup_frame(context(Engine(settings)))
    assert frame.status == "unavailable" and frame.image is None and "studio fetch makeup" in frame.reason


def test_a_stream_that_would_need_offloading_is_unavailable_and_says_why(engine):
    small = Engine(replace(engine.settings, vram_gb=2))
    frame = makeup_frame(context(small))
    assert frame.status == "unavailable" and "without offloading" in frame.reason and "Plan:" in frame.reason
    assert small.residency.keys() == [], "refused before loading"


def test_a_bad_strength_is_an_input_error(engine):
    from studio.errors import InputError

    with pytest.raises(InputError, match="strength"):
        makeup_frame(context(engine), strength=0.0)


# ------------------------------------------------------------------------------------------------- the makeup app
FACE = "faces/face_woman_nomakeup_freckles_01.png"


def makeup_context(tiny_settings, preprocessing) -> RunContext:
    """The makeup recipe at the tiny models' 64 px (face crops of 64 px, as in test_makeup_diffusion.py)."""
    from studio.engine.specs import Catalog
    from studio.models import load_catalog

    catalog = load_catalog()
    specs = dict(catalog.specs)
    specs["sd15-inpainting"] = replace(specs["sd15-inpainting"], resolution=SIZE)
    engine = Engine(tiny_settings, catalog=Catalog(specs, catalog.apps))
    return RunContext(settings=tiny_settings, preprocess=preprocessing).with_engine(engine)


def _live_until_fresh(call, ctx, tries: int = 200):
    """Webcam frames until the stream has given a fresh result (the first ones show the lite tier while it
    prepares: a webcam never waits)."""
    import time

    for _ in range(tries):
        out = call()
        stats = stream_stats(ctx, "makeup")
        if stats and stats["fresh"]:
            return out if stats["frames"] > stats["fresh"] + stats["dropped"] else call()
        time.sleep(0.05)
    raise AssertionError(f"the live student never produced a frame: {stream_stats(ctx, 'makeup')}")


def test_the_makeup_webcam_hook_pastes_the_students_face_into_the_lite_frame(tiny_settings, preprocessing, load_rgb):
    from studio.apps import get_app

    app = get_app("makeup")
    ctx = makeup_context(tiny_settings, preprocessing)
    frame = load_rgb(FACE)
    values = app.validate({"source": frame, "preset": "classic_red", "tier": "student"})
    values.pop("source")
    lite = app.live(ctx, frame, **{**values, "tier": "lite"})
    out = _live_until_fresh(lambda: app.live(ctx, frame, **values), ctx)
    stats = stream_stats(ctx, "makeup")
    assert stats["student"] == "lcm-lora-sd15" and stats["kind"] == "controlnet-inpaint" and stats["fresh"] >= 1
    changed = np.any(out != lite, axis=2)
    assert changed.any(), "the student's crop was pasted back"
    ys, xs = np.nonzero(changed)
    face = ctx.preprocess.faces(frame)[0]
    x0, y0, x1, y1 = face.box
    assert x0 - 20 <= xs.min() and xs.max() <= x1 + 20 and y0 - 20 <= ys.min() and ys.max() <= y1 + 20, \
        "only inside the face's makeup regions"
    assert app.live(ctx, frame, **{**values, "tier": "auto"}).shape == frame.shape  # auto stays the lite path


def test_the_webcam_endpoint_runs_the_student_through_gradio_client(tiny_settings, preprocessing):
    from gradio_client import Client, handle_file

    from conftest import fixture
    from studio.serve import build_blocks, launch

    ctx = makeup_context(tiny_settings, preprocessing)
    blocks = build_blocks("makeup", ctx)
    _, url, _ = launch(blocks, port=None, block=False)
    client = Client(url, verbose=False)
    try:
        call = lambda: client.predict(frame=handle_file(str(fixture(FACE))), preset="classic_red", tier="student",
                                      api_name="/makeup_live")  # noqa: E731
        _live_until_fresh(call, ctx)
        assert stream_stats(ctx, "makeup")["fresh"] >= 1
    finally:
        client.close()
        blocks.close()
