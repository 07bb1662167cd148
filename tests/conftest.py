"""Shared test setup: offline Hugging Face, a private Gradio temp dir, and the real fixture photos.

Fixture photos live in ../shared/fixtures (read-only, research-use images): they are read from there and
never copied into the repository.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STUDIO_FIXTURES", REPO.parent / "shared" / "fixtures"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# One private upload folder for the whole session: Gradio checks uploads against it when a request arrives,
# so it must not change between the server's start and a test's request.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="studio-gradio-")
os.environ.setdefault("STUDIO_CACHE_DIR", tempfile.mkdtemp(prefix="studio-cache-"))


def fixture(relpath: str) -> Path:
    path = FIXTURES / relpath
    if not path.exists():
        pytest.fail(f"Missing test photo {path}. The suite reads real photos from ../shared/fixtures.")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"Fixture folder {FIXTURES} not found; set STUDIO_FIXTURES or check out ../shared.")
    return FIXTURES


@pytest.fixture(scope="session")
def settings():
    from studio.settings import Settings

    return Settings.from_env()


@pytest.fixture(scope="session")
def preprocessing(settings):
    from studio.preprocess import Preprocessing

    return Preprocessing(settings)


#: Single-person, roughly frontal fixture portraits of seven different people.
FRONTAL_FACES = (
    "faces/face_man_dark_skin_official_portrait_01.jpg",
    "faces/face_man_east_asian_young_01.jpg",
    "faces/face_man_elderly_light_smiling_01.jpg",
    "faces/face_woman_elderly_red_lipstick_01.jpg",
    "faces/face_woman_light_astronaut_nomakeup_01.png",
    "faces/face_woman_makeup_red_lips_smoky_eyes_01.png",
    "faces/face_woman_nomakeup_freckles_01.png",
)


@pytest.fixture
def ctx(settings, preprocessing):
    """A fresh run context per test (apps keep per-context state such as webcam trackers) that shares the
    session's preprocessing cache."""
    from studio.schema import RunContext

    return RunContext(settings=settings, preprocess=preprocessing)


@pytest.fixture
def load_rgb():
    from studio.imaging import load_image

    return lambda relpath: load_image(fixture(relpath))


def synthetic_rgb(h: int = 64, w: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------- tiny hub
@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory) -> Path:
    """A Hugging Face cache holding every catalog repo with tiny random weights (studio/engine/tinyhub.py), built once."""
    from studio.engine.tinyhub import build

    return build(tmp_path_factory.mktemp("tinyhub"))


@pytest.fixture
def tiny_env(tiny_hub, monkeypatch, tmp_path):
    """Environment of an offline machine whose HF cache is the tiny hub (what `Settings.from_env()` reads)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tiny_hub))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    return tiny_hub


@pytest.fixture(scope="session")
def tiny_settings(tiny_hub, tmp_path_factory):
    """Settings resolving weights from the tiny hub only (an empty models/ folder), on the CPU, offline."""
    from studio.settings import Settings

    return Settings(device="cpu", hf_cache_dir=tiny_hub, models_dir=tmp_path_factory.mktemp("models"), offline=True)
