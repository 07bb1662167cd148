"""Settings from the environment: junk values are one clear error naming the setting, never a traceback."""

from __future__ import annotations

import os

import pytest

from studio.cli import main
from studio.errors import InputError
from studio.settings import Settings


@pytest.mark.parametrize("name, value", [
    ("STUDIO_MAX_PIXELS", "abc"), ("STUDIO_MAX_PIXELS", "-5"), ("STUDIO_MEMORY_BUDGET_MB", "lots"),
    ("STUDIO_PREPROCESS_CACHE", "0"), ("STUDIO_DEVICE", "tpu"), ("STUDIO_FUSE_LORA", "maybe"),
    ("STUDIO_CPU_OFFLOAD", "perhaps"), ("STUDIO_MODEL_PATHS", "no-equals-sign"),
])  # fmt: skip
def test_a_junk_setting_is_an_error_naming_it(name, value):
    with pytest.raises(InputError, match=name):
        Settings.from_env({name: value})


def test_a_cache_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(InputError, match="STUDIO_CACHE_DIR"):
        Settings.from_env({"STUDIO_CACHE_DIR": str(tmp_path / "a-file" / "cache")})


def test_a_read_only_cache_dir_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root): permissions cannot be tested")
        with pytest.raises(InputError, match="STUDIO_CACHE_DIR"):
            Settings.from_env({"STUDIO_CACHE_DIR": str(locked / "cache")})
    finally:
        locked.chmod(0o700)


def test_good_values_are_read():
    s = Settings.from_env({"STUDIO_MAX_PIXELS": "1000000", "STUDIO_DEVICE": "CPU", "STUDIO_FUSE_LORA": "On",
                           "STUDIO_MEMORY_BUDGET_MB": "2048.5", "STUDIO_CPU_OFFLOAD": "yes"})  # fmt: skip
    assert (s.max_pixels, s.device, s.fuse_lora, s.memory_budget_mb, s.cpu_offload) == (1000000, "cpu", "on", 2048.5,
                                                                                       True)  # fmt: skip


def test_the_cli_prints_one_error_line_and_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("STUDIO_MAX_PIXELS", "abc")
    code = main(["run", "makeup", "--source", str(tmp_path / "x.png"), "--preset", "berry"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: STUDIO_MAX_PIXELS")


def test_compare_without_weights_is_one_error_with_exit_3(monkeypatch, capsys, tmp_path):
    """Missing weights fail every photo alike: one line naming the fetch command, exit 3 (as the README says)."""
    from conftest import fixture

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("face_woman_nomakeup_freckles_01.png", "face_man_east_asian_young_01.jpg"):
        (photos / name).symlink_to(fixture(f"faces/{name}"))
    code = main(["compare", "makeup", "--inputs", str(photos), "--preset", "berry", "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 3 and captured.err.count("studio fetch makeup") == 1 and captured.err.startswith("error:")


def test_the_preprocessing_cache_is_bounded_in_bytes_as_entries_grow():
    """A cached analysis grows after it is stored (region masks computed on first use): the bound sees that."""
    import numpy as np

    from studio.cache import LRUCache

    cache = LRUCache(max_items=100, max_bytes=3_000_000)
    holders = []
    for i in range(5):
        holder = {"masks": []}
        cache.get_or_compute(i, lambda h=holder: h)
        holder["masks"].append(np.zeros(1_000_000, np.uint8))  # grows after insertion, like Face.regions
        holders.append(holder)
    cache.get_or_compute("next photo", lambda: {})  # the bound is checked as each new photo arrives
    from studio.cache import deep_nbytes

    assert sum(deep_nbytes(cache.get_or_compute(k, lambda: None)) for k in (2, 3, 4)) == 3_000_000
    assert len(cache) == 4 and cache.get_or_compute(4, lambda: None) is holders[4]
    big = LRUCache(max_items=10, max_bytes=10)
    big.get_or_compute("huge", lambda: np.zeros(1000, np.uint8))
    assert len(big) == 1, "the newest entry stays whatever its size"
