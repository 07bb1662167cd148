"""Shared test setup: offline Hugging Face, a private Gradio temp dir, the real fixture photos, and markers.

Fixture photos live in ../shared/fixtures (read-only, research-use images), or wherever STUDIO_FIXTURES points:
they are read from there and never copied into the repository. On a fresh clone without them, the tests that
need a photo skip (saying how to get them) and the rest of the suite runs on the sample photos that ship with
installed packages (studio/examples.py).

Markers (pyproject.toml): `slow` (real weights or a GPU) and `heavy` (minutes of CPU) are skipped unless
RUN_SLOW=1.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


class _MissingFixtures(type(Path())):
    """The fixtures path when the folder is missing. Test modules list it at import time to build parametrize
    lists (`(FIXTURES / "faces").iterdir()`): listing it skips the module, with the line saying how to get the
    photos, instead of failing the collection of the whole suite. Everything else behaves as a Path."""

    def iterdir(self):
        pytest.skip(MISSING_FIXTURES, allow_module_level=True)

    def glob(self, *args, **kwargs):
        pytest.skip(MISSING_FIXTURES, allow_module_level=True)

    def rglob(self, *args, **kwargs):
        pytest.skip(MISSING_FIXTURES, allow_module_level=True)


FIXTURES = Path(os.environ.get("STUDIO_FIXTURES", REPO.parent / "shared" / "fixtures"))
if not FIXTURES.is_dir():
    FIXTURES = _MissingFixtures(FIXTURES)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# One private upload folder for the whole session: Gradio checks uploads against it when a request arrives,
# so it must not change between the server's start and a test's request.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="studio-gradio-")
os.environ.setdefault("STUDIO_CACHE_DIR", tempfile.mkdtemp(prefix="studio-cache-"))


#: A test that can only fail by hanging (a subprocess or server call that never returns) gets this long before
#: it is stopped. It is a hang guard, not a speed limit: a correct run on a busy 2-core machine is far shorter.
HANG_GUARD_S = 30 * 60

MISSING_FIXTURES = (f"test photos not found at {FIXTURES}: set STUDIO_FIXTURES to the fixtures folder, or "
                    f"check out the shared folder beside the repository ({REPO.parent / 'shared'})")  # fmt: skip


def fixture(relpath: str) -> Path:
    """A real photo from the fixtures folder; the calling test skips when the folder is missing."""
    path = FIXTURES / relpath
    if not FIXTURES.is_dir():
        pytest.skip(MISSING_FIXTURES, allow_module_level=True)  # also when called while a module is imported
    if not path.exists():  # the folder is there but the photo is not: a real error in the test or the checkout
        pytest.fail(f"Missing test photo {path} (the fixtures folder {FIXTURES} exists but lacks it).")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(MISSING_FIXTURES)
    return FIXTURES


def pytest_collection_modifyitems(config, items):
    """`slow` (real weights or a GPU) and `heavy` (minutes of CPU) tests run only with RUN_SLOW=1."""
    if os.environ.get("RUN_SLOW") == "1":
        return
    reasons = {"slow": "needs real weights or a GPU: set RUN_SLOW=1 to run it",
               "heavy": "minutes of CPU time: set RUN_SLOW=1 to run it"}  # fmt: skip
    for item in items:
        for name, reason in reasons.items():
            if item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
                break


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
    from studio.context import RunContext

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
