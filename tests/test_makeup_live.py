"""Makeup transfer beyond one photo: the webcam path (tracking, frame skipping), the benchmark, the batch form
and the command line — all on real photos."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import fixture

from studio.batch import run_batch
from studio.bench.lite import bench_lite
from studio.live import MAX_REUSED, face_tracker
from studio.cli import main
from studio.errors import InputError, NoFaceFound

FRECKLES = "faces/face_woman_nomakeup_freckles_01.png"
DEEP_RED = "makeup_refs/makeup_ref_deep_red_lips_east_asian_01.png"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("makeup")


def webcam_frame(load_rgb, shift: int = 0) -> np.ndarray:
    """A 640×480 frame with the face moved `shift` pixels to the right."""
    face = cv2.resize(load_rgb(FRECKLES), (400, 400), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 40, np.uint8)
    frame[40:440, 100 + shift : 500 + shift] = face
    return frame


def test_app_declares_its_params_live_mode_and_bench(app):
    names = [p.name for p in app.params]
    assert names[:3] == ["source", "reference", "preset"] and names[-3:] == ["tier", "seed", "steps"]
    for region in ("lips", "eyeshadow", "eyeliner", "blush", "foundation", "brows"):
        assert region in names and f"{region}_strength" in names
    assert app.param("tier").choices == ("auto", "student", "teacher", "lite")
    assert app.param("reference").required is False
    assert app.live is not None and app.live_param == "source" and app.bench_workload is not None
    assert app.capabilities == {"compare", "live", "batch", "bench"} and app.recipe == "makeup"


def test_live_paints_frames_and_skips_analysis_when_the_scene_is_still(app, ctx, load_rgb):
    values = app.validate({"source": "webcam", "reference": fixture(DEEP_RED)})
    frame = webcam_frame(load_rgb)
    out = app.live(ctx, frame, **values)
    assert out.shape == frame.shape and np.any(out != frame)
    tracker = face_tracker(ctx, "makeup")
    assert (tracker.analysed, tracker.skipped) == (1, 0)
    again = app.live(ctx, frame.copy(), **values)
    assert tracker.skipped == 1 and np.array_equal(again, out), "a still scene reuses the landmarks"
    app.live(ctx, webcam_frame(load_rgb, shift=40), **values)
    assert tracker.analysed == 2, "a moved face is tracked again"
    for _ in range(MAX_REUSED + 1):
        app.live(ctx, webcam_frame(load_rgb, shift=40), **values)
    assert tracker.analysed == 3, "landmarks are refreshed after MAX_REUSED reused frames"


def test_live_frame_without_a_face_comes_back_unchanged(app, ctx, load_rgb):
    values = app.validate({"source": "webcam", "preset": "coral"})
    empty = np.full((480, 640, 3), 40, np.uint8)
    assert np.array_equal(app.live(ctx, empty, **values), empty)


def test_live_without_a_look_says_what_to_do(app, ctx, load_rgb):
    values = app.validate({"source": "webcam"})
    with pytest.raises(InputError, match="preset"):
        app.live(ctx, webcam_frame(load_rgb), **values)


def test_bench_writes_json_with_fps_and_a_plot(app, tmp_path):
    report = bench_lite(app, tier="lite", frames=3, out_json=tmp_path / "makeup.json")
    saved = json.loads((tmp_path / "makeup.json").read_text())
    assert saved["fps"] > 0 and saved["fps"] == report["fps"]
    assert {"live_frame", "face_tracking_with_masks", "makeup_only", "photo_run_with_metrics"} <= set(saved["results"])
    assert (tmp_path / "makeup.png").stat().st_size > 1000


def test_bench_of_a_diffusion_tier_points_to_the_engine_benchmarks(app):
    with pytest.raises(InputError, match="studio bench makeup --tiny"):
        bench_lite(app, tier="student", frames=3)


def test_batch_over_a_folder(app, ctx, tmp_path):
    sources = tmp_path / "in"
    sources.mkdir()
    # Links, not copies: the fixtures stay where they are.
    for name in ("face_woman_nomakeup_freckles_01.png", "faces_multi_two_women_outdoor_01.jpg",
                 "noface_rocket_launchpad_night_01.jpg"):  # fmt: skip
        (sources / name).symlink_to(fixture(f"faces/{name}"))
    (sources / "notes.txt").write_text("not an image, ignored")
    summary = run_batch(app, ctx, tmp_path / "out", {"source": sources, "preset": "berry", "tier": "lite"})
    assert summary["done"] == 2
    by_name = {e["source"]: e for e in summary["results"]}
    assert "No face found" in by_name["noface_rocket_launchpad_night_01.jpg"]["error"]
    assert (tmp_path / "out" / "face_woman_nomakeup_freckles_01_makeup.png").exists()
    assert (tmp_path / "out" / "contact_sheet.png").stat().st_size > 0
    assert by_name["faces_multi_two_women_outdoor_01.jpg"]["info"]["faces"] == 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["done"] == 2


def test_batch_stops_early_on_a_bad_look(app, ctx, tmp_path):
    (tmp_path / "a.png").symlink_to(fixture(FRECKLES))
    with pytest.raises(NoFaceFound, match="makeup reference photo"):
        run_batch(app, ctx, tmp_path / "out",
                  {"source": tmp_path, "reference": fixture("faces/noface_rocket_launchpad_night_01.jpg")})
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="does not exist"):
        run_batch(app, ctx, tmp_path / "out", {"source": tmp_path / "missing", "preset": "nude"})


def test_cli_run_prints_provenance_and_metrics(tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["run", "makeup", "--source", str(fixture(FRECKLES)), "--reference", str(fixture(DEEP_RED)),
                 "--tier", "lite", "--no-foundation", "--lips-strength", "0.9", "--out", str(out)])  # fmt: skip
    assert code == 0 and out.exists()
    summary = json.loads(capsys.readouterr().out)
    assert summary["provenance"]["tier"] == "lite" and summary["metrics"]["delta_e_lips"] < 8
    assert "foundation" not in summary["info"]["regions_painted"]


def test_cli_bad_input_exits_nonzero_with_the_reason(tmp_path, capsys):
    assert main(["run", "makeup", "--source", str(fixture(FRECKLES)), "--out", str(tmp_path / "x.png")]) == 2
    assert "choose a preset" in capsys.readouterr().err
