"""The `studio` command and `python launch.py`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bad_inputs import BAD_INPUT_NAMES, make_inputs
from conftest import HANG_GUARD_S, REPO, fixture

STUDIO = [sys.executable, "-m", "studio.cli"]


def studio(*args) -> subprocess.CompletedProcess:
    # The timeout only stops a command that hangs (e.g. a thread that keeps the process alive), never a slow run.
    return subprocess.run([*STUDIO, *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=HANG_GUARD_S)


def test_list_names_the_apps():
    out = studio("list")
    assert out.returncode == 0
    assert "preprocess" in out.stdout


def test_preprocess_writes_overlays_masks_and_summary(tmp_path):
    out = studio("preprocess", fixture("people/person_woman_dark_skin_front_tee_01.jpg"), "--out", tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert json.loads(out.stdout) == summary
    face = summary["info"]["faces"][0]
    assert face["landmarks"] == 478 and len(face["box"]) == 4
    assert summary["info"]["pose"]["keypoints"]["left_shoulder"]["visibility"] > 0.5
    assert "faces" in summary["provenance"]["timings_ms"]
    for name in ("overlay", "landmarks", "mask_lips", "mask_skin", "pose_skeleton", "person_mask",
                 "clothing_upper", "control_canny", "control_mediapipe_face"):  # fmt: skip
        assert (tmp_path / f"{name}.png").stat().st_size > 0, name


def test_no_face_no_person_exits_nonzero_with_reason(tmp_path):
    out = studio("preprocess", fixture("faces/noface_rocket_launchpad_night_01.jpg"), "--out", tmp_path, "--no-controls")
    assert out.returncode == 2
    assert out.stderr.startswith("error: No face and no person found")


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, tuple[Path, str | None]]:
    return make_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", BAD_INPUT_NAMES)
def test_bad_and_awkward_inputs(bad_inputs, tmp_path, name):
    path, expected = bad_inputs[name]
    out = studio("preprocess", path, "--out", tmp_path, "--no-controls")
    if expected is None:
        assert out.returncode == 0, out.stderr
        face = json.loads(out.stdout)["info"]["faces"][0]
        assert abs(face["roll_deg"]) < 20, "the face must come out upright (EXIF orientation applied)"
    else:
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("error: ") and expected in out.stderr
        assert "Traceback" not in out.stderr


def test_run_generated_flags_and_missing_required_image(tmp_path):
    help_text = studio("run", "preprocess", "--help").stdout
    assert "--image" in help_text and "--max-faces" in help_text and "--no-with-controls" in help_text
    missing = studio("run", "preprocess", "--out", tmp_path / "x.png")
    assert missing.returncode == 2 and "'Photo' is required" in missing.stderr
    ok = studio("run", "preprocess", "--image", fixture("faces/face_man_east_asian_young_01.jpg"),
                "--out", tmp_path / "x.png", "--no-with-controls")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "x.png").stat().st_size > 0


def test_unknown_app_and_bad_device():
    out = studio("run", "makeupp")
    assert out.returncode == 2 and "Unknown app 'makeupp'" in out.stderr
    # A hang guard only: a bad device must exit at once, but a bug could start the server and block instead.
    launch = subprocess.run([sys.executable, "launch.py", "--device", "tpu"], capture_output=True, text=True,
                            timeout=HANG_GUARD_S, cwd=REPO)  # fmt: skip
    assert launch.returncode == 2 and "Unknown device 'tpu'" in launch.stderr


def test_bench_preprocess_writes_json_and_plot(tmp_path):
    out = studio("bench", "preprocess", "--frames", 10, "--json", tmp_path / "b.json")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "b.json").read_text())
    result = report["results"]["face_analysis_with_masks"]
    assert result["median_ms"] > 0 and result["fps"] > 0
    assert report["frame"] == {"width": 640, "height": 480, "source": "skimage astronaut"}
    assert (tmp_path / "b.png").stat().st_size > 0


@pytest.mark.heavy  # minutes on 2 cores
def test_bench_lite_tier_from_the_command_line_writes_json_and_plot(tmp_path):
    out = studio("bench", "makeup", "--tier", "lite", "--frames", 3, "--json", tmp_path / "lite.json")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "lite.json").read_text())
    assert report["fps"] > 0 and (tmp_path / "lite.png").stat().st_size > 0
    table = (tmp_path / "lite.md").read_text()
    assert "| live_frame |" in table and "cores" in table


@pytest.mark.heavy  # minutes on 2 cores
def test_bench_tiny_runs_the_engine_on_tiny_models_and_writes_json_and_plot(tmp_path):
    """`studio bench makeup --tiny`: student vs teacher through the real engine and a bare diffusers call."""
    out = studio("bench", "makeup", "--tiny", "--repeats", 1, "--json", tmp_path / "t.json")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "t.json").read_text())
    student, teacher = report["tiers"]["student"], report["tiers"]["teacher"]
    assert (student["model"], student["steps"], teacher["model"]) == ("lcm-lora-sd15", 4, "sd15-inpainting")
    assert report["step_ratio"] == teacher["steps"] / 4
    for row in (student, teacher):
        assert row["studio_ms"] > 0 and row["bare_diffusers_ms"] > 0 and set(row["phases_ms"]) >= {"denoise", "decode"}
        assert row["preview"]["decoder"] == "taesd" and row["preview"]["previews"] > 0 and row["peak_memory_mb"] > 0
    assert set(report["overhead_pct"]) == {"student", "student_fused", "teacher"}  # measured, never asserted
    assert (student["lora"], report["tiers"]["student_fused"]["lora"]) == ("unfused", "fused")
    assert report["student_fused"]["step_ratio"] == report["step_ratio"]
    assert (tmp_path / "t.png").stat().st_size > 0
    table = (tmp_path / "t.md").read_text()
    assert "| student | lcm-lora-sd15 | unfused | 4 | off |" in table and "| teacher | sd15-inpainting |" in table


def test_random_weight_bench_writes_json_and_markdown_on_cpu(tmp_path):
    """The GPU script's own smoke run: small stand-in architectures on the CPU, with the unfused-LoRA tier."""
    args = ["--tiny", "--device", "cpu", "--modes", "eager", "--families", "sd15", "--lora-rank", "4", "--repeats", "1",
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "studio.engine.bench_random", *args], capture_output=True, text=True,
                         timeout=HANG_GUARD_S, cwd=REPO)  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    assert run["fusion"]["restored_bit_exact"] is True and run["student_lora_unfused"]["median_s"] > 0
    assert "| sd15 | 64² | eager |" in (tmp_path / "r.md").read_text()


def test_batch_makeup_over_a_folder(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    for rel in ("faces/face_man_east_asian_young_01.jpg", "faces/noface_rocket_launchpad_night_01.jpg"):
        (sources / fixture(rel).name).symlink_to(fixture(rel))
    out = studio("batch", "makeup", "--source", sources, "--preset", "berry", "--tier", "lite", "--out", tmp_path / "out")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["done"] == 1
    errors = [r["error"] for r in summary["results"] if "error" in r]
    assert len(errors) == 1 and "No face found" in errors[0]
    assert (tmp_path / "out" / "face_man_east_asian_young_01_makeup.png").exists()


def _actions_without_help(parser, path: str):
    """(command, flag) for every action of `parser` and its subcommands, the subcommands themselves included,
    whose help is missing or blank (argparse's own --help excepted)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # the line each subcommand gets in `studio --help`
                if not (choice.help or "").strip():
                    yield path, choice.dest
            for name, subparser in action.choices.items():
                yield from _actions_without_help(subparser, f"{path} {name}")
            continue
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            yield path, "/".join(action.option_strings) or action.dest


def test_every_flag_of_every_command_has_help_text():
    """`studio … --help` explains every flag: the fixed ones and those generated from each app's parameters."""
    from studio.apps import all_apps
    from studio.cli import build_parser

    argvs = [[]] + [[command, app.id] for command in ("run", "batch", "compare") for app in all_apps()]
    missing = {hit for argv in argvs for hit in _actions_without_help(build_parser(argv)[0], "studio")}
    assert not missing, sorted(missing)
