"""Faster calls (studio/engine/speed.py): the compile setting, the compile cache kept between runs, channels-last on
CUDA only, the device thread's busy flag the live path drops frames on, and — minutes of CPU, so RUN_SLOW=1 — regional
and whole-model compilation giving the eager image on the tiny hub."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from studio.engine import speed
from studio.errors import InputError
from studio.settings import Settings


def test_the_compile_setting_is_checked():
    assert Settings.from_env({"STUDIO_COMPILE": "regional"}).compile == "regional"
    assert Settings.from_env({}).compile == "off"
    with pytest.raises(InputError, match="STUDIO_COMPILE"):
        Settings.from_env({"STUDIO_COMPILE": "fast"})
    with pytest.raises(InputError, match="compile"):
        speed.check_mode("sometimes")
    assert Settings.from_env({"STUDIO_VRAM_GB": "12"}).vram_gb == 12.0
    with pytest.raises(InputError, match="STUDIO_VRAM_GB"):
        Settings.from_env({"STUDIO_VRAM_GB": "lots"})


def test_the_compile_cache_is_kept_in_the_studios_folder_unless_the_user_chose_one(tmp_path, monkeypatch):
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())  # what importing torch's compiler sets
    ours = tmp_path / "torch-compile"
    assert speed.use_compile_cache(ours) == ours and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(ours.resolve())
    assert ours.is_dir()
    other = tmp_path / "other-settings"  # another context's settings: the studio's own choice, so it may change
    assert speed.use_compile_cache(other) == other and speed.use_compile_cache(ours) == ours
    mine = tmp_path / "my-cache"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(mine))
    assert speed.use_compile_cache(ours) == mine and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(mine)
    settings = Settings(cache_dir=tmp_path)
    assert speed.compile_cache(settings) == tmp_path / "torch-compile"
    assert speed.compile_cache(replace(settings, compile_cache_dir=Path("/x"))) == Path("/x")


def test_channels_last_is_for_cuda_convolutions_only():
    import torch

    conv = torch.nn.Conv2d(4, 8, 3)
    assert speed.channels_last(conv, "cpu") is False and conv.weight.is_contiguous()
    assert speed.channels_last(conv, "mps") is False
    assert speed.attention_kind(conv) == "none"


def test_the_device_thread_says_when_it_is_busy():
    from studio.engine.engine import DeviceWorker

    worker = DeviceWorker("test-busy")
    assert not worker.busy
    started, release = threading.Event(), threading.Event()
    job = worker.submit(lambda: (started.set(), release.wait(10)))
    started.wait(10)
    assert worker.busy
    release.set()
    job.result()
    assert not worker.busy, "free again by the time its caller wakes up: the next live frame is not dropped"
    assert worker.submit(lambda: 1 / 0).exception() is not None and not worker.busy


# ------------------------------------------------------------------------------------------------- compiled calls
@pytest.mark.heavy
@pytest.mark.parametrize("mode", ["regional", "full"])
def test_compiled_calls_give_the_eager_image_and_compile_once(tiny_settings, tmp_path, mode):
    import numpy as np
    import torch._dynamo.utils as dynamo_utils

    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest

    request = GenerationRequest(app="head", pipeline="txt2img", student="lcm-lora-sd15", adapters=(), seed=3,
                                prompt="a portrait", mode="fast", width=64, height=64, steps=2, previews=False)
    eager = Engine(tiny_settings).run(request).image
    engine = Engine(replace(tiny_settings, compile=mode, cache_dir=tmp_path))
    first = engine.run(request)
    graphs = dynamo_utils.counters["stats"]["unique_graphs"]
    second = engine.run(request)
    assert dynamo_utils.counters["stats"]["unique_graphs"] == graphs, "the second call reuses the compiled code"
    assert int(np.abs(first.image.astype(int) - eager).max()) <= 2 and np.array_equal(first.image, second.image)
    assert first.info["speed"]["unet"].startswith(mode) and first.info["speed"]["vae"] == "decoder"
    assert any((tmp_path / "torch-compile").iterdir()), "compiled code kept on disk for the next run"


def test_a_compiler_failure_falls_back_to_eager_and_says_so():
    from torch._inductor.exc import InductorError

    calls, state, notes = [], {}, []

    def call():
        calls.append(1)
        if len(calls) == 1:
            raise InductorError(ImportError("cache/abc.main.so: file too short"), "")
        return "image"

    assert speed.guarded(call, True, state, notes, Path("/c")) == "image" and len(calls) == 2
    assert "compile_failed" in state and "ran eagerly" in notes[0] and "/c" in notes[0]
    assert speed.guarded(lambda: "again", True, state, []) == "again"
    with pytest.raises(ValueError):  # anything else is the caller's to see
        speed.guarded(lambda: (_ for _ in ()).throw(ValueError("bad input")), True, {}, [])
