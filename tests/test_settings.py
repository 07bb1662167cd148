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
