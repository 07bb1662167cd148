"""`studio fetch`: dry runs list files, sizes and licences offline; licences gate; nothing downloads offline."""

from __future__ import annotations

import re

import pytest

from studio.cli import main
from studio.models import load_catalog


@pytest.fixture
def offline_empty(monkeypatch, tmp_path):
    """An offline machine with an empty HF cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("STUDIO_INCLUDE_NONCOMMERCIAL", raising=False)


def test_dry_run_lists_every_file_with_size_and_licence_offline(offline_empty, capsys):
    assert main(["fetch", "makeup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    recipe = load_catalog().app("makeup")
    for spec_id in recipe.default_ids():
        spec = load_catalog().get(spec_id)
        assert spec.id in out and spec.repo in out and spec.licence.describe() in out
        for f in spec.files:
            line = next(line for line in out.splitlines() if line.strip().startswith(f.path + " "))
            assert "to download" in line
            if f.size_mb is not None:
                assert "(catalog)" in line and re.search(r"\d+(\.\d+)? (MB|GB)", line)
    assert "HF_HUB_OFFLINE is set: sizes come from the catalog" in out
    assert re.search(r"total ≥ \d+\.\d+ GB", out)  # config files have no catalog size, so the total is a bound


def test_dry_run_marks_cached_files(tiny_env, capsys):
    assert main(["fetch", "lcm-lora-sd15", "--dry-run"]) == 0
    out = capsys.readouterr().out
    file_lines = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("   ")
                  and not line.strip().startswith(("repo ", "settings:"))]  # fmt: skip
    assert file_lines and all(line.endswith("cached") for line in file_lines)
    assert "to download 0.0 MB in 0 file(s)" in out
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in out  # a LoRA student brings the base it runs on


def test_noncommercial_models_are_opt_in(offline_empty, capsys):
    assert main(["fetch", "dmd2-sdxl-4step-lora", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "non-commercial" in err and "--include-noncommercial" in err
    assert main(["fetch", "dmd2-sdxl-4step-lora", "--dry-run", "--include-noncommercial"]) == 0
    assert "cc-by-nc-sa-4.0 (non-commercial)" in capsys.readouterr().out


def test_unknown_target_suggests_close_names(offline_empty, capsys):
    assert main(["fetch", "makup", "--dry-run"]) == 2
    assert "Did you mean makeup" in capsys.readouterr().err


def test_offline_download_refuses_with_a_teaching_error(offline_empty, capsys):
    assert main(["fetch", "taesd"]) == 3
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE is set" in err and "Unset HF_HUB_OFFLINE" in err


def test_complete_targets_need_no_network(tiny_env, capsys):
    assert main(["fetch", "makeup"]) == 0
    assert "Everything 'makeup' needs is already on this machine." in capsys.readouterr().out


def test_dry_run_shows_each_models_settings_with_their_sources(offline_empty, capsys):
    assert main(["fetch", "tryon", "--dry-run"]) == 0
    out = capsys.readouterr().out
    catalog = load_catalog()
    recipe = catalog.app("tryon")
    student = catalog.get(recipe.student)
    lines = out.splitlines()
    block = lines[lines.index(f"{student.id} — {student.title}"):]
    settings = next(line for line in block if line.startswith("  settings: "))
    assert "steps 8 (step-locked: trained for 8 only)" in settings and "guidance 5 (CFG on)" in settings
    assert f"    guidance: {student.source_of('guidance')}" in out
    assert "settings: steps 30; guidance 8 (CFG on); inpaint strength 0.99" in out  # SDXL inpainting, card values
    assert "skeleton drawing xinsir" in out and "thick line" in out  # the xinsir ControlNet's pose drawing
    # What the cards verify of the recipe on its pipeline kind, and what they do not.
    assert f"{recipe.student} on 'controlnet-inpaint' (the tryon recipe):" in out
    assert "  verified by a card:" in out and "  not verified (measure with real weights):" in out
