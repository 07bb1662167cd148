"""Head stylization through the kit's other surfaces: the webcam path, `studio bench`, `studio batch`, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import fixture

from studio.batch import run_batch
from studio.bench import close_up_frame, moving_frames, sample_frame
from studio.bench.lite import bench_lite
from studio.cli import main
from studio.errors import InputError

ASTRONAUT = "faces/face_woman_light_astronaut_nomakeup_01.png"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("head")


def test_app_declares_its_params_live_mode_and_bench(app):
    assert {"compare", "live", "batch", "bench"} <= app.capabilities and app.recipe == "head"
    assert app.live_param == "source" and app.primary_input == "source"
    assert app.param("preset").choices == ("cartoon", "comic", "anime", "painted")
    assert app.param("caricature").default == 0.5 and app.param("lora").validate(" none ") == ""


def test_live_stylises_the_head_only_and_skips_still_frames(app, ctx):
    frame = close_up_frame()
    first = app.live(ctx, frame, preset="comic")
    assert first.shape == frame.shape and np.any(first != frame)
    changed = np.any(first != frame, axis=-1)
    assert not changed[-40:].any(), "the bottom of the frame (neck, clothes) is untouched"
    tracker = ctx.shared("head.tracker", lambda: None)
    before = tracker.analysed
    again = app.live(ctx, frame, preset="comic")
    assert tracker.analysed == before and tracker.skipped >= 1, "a still frame reuses the analysis"
    assert np.array_equal(again, first)
    moved = moving_frames(frame)
    next(moved)
    assert app.live(ctx, next(moved), preset="comic").shape == frame.shape


def test_live_frame_without_a_face_comes_back_unchanged(app, ctx, load_rgb):
    rocket = load_rgb("faces/noface_rocket_launchpad_night_01.jpg")
    assert np.array_equal(app.live(ctx, rocket), rocket)


def test_bench_writes_json_with_fps_and_parts(app, tmp_path):
    report = bench_lite(app, tier="lite", frames=3, out_json=tmp_path / "head.json")
    saved = json.loads((tmp_path / "head.json").read_text())
    assert saved["fps"] > 0 and saved["fps"] == report["fps"] and saved["fps_close_up"] > 0
    assert {"live_frame", "tracking_and_selfie_mask", "stylise_at_live_size", "photo_run_with_metrics"} <= set(
        saved["results"])  # fmt: skip


def test_bench_frame_has_a_face():
    from studio.apps.head.app import bench_workload

    workload = bench_workload(sample_frame())
    assert workload.target_fps == 20 and workload.info["faces"] == 1


def test_batch_over_a_folder(app, ctx, tmp_path):
    sources = tmp_path / "in"
    sources.mkdir()
    for name in ("face_woman_nomakeup_freckles_01.png", "faces_multi_two_women_outdoor_01.jpg",
                 "noface_rocket_launchpad_night_01.jpg"):  # fmt: skip
        (sources / name).symlink_to(fixture(f"faces/{name}"))  # links, not copies
    summary = run_batch(app, ctx, tmp_path / "out", {"source": sources, "preset": "painted", "tier": "lite"})
    assert summary["done"] == 2
    by_name = {e["source"]: e for e in summary["results"]}
    assert "No face found" in by_name["noface_rocket_launchpad_night_01.jpg"]["error"]
    assert by_name["faces_multi_two_women_outdoor_01.jpg"]["info"]["faces"] == 2
    assert (tmp_path / "out" / "contact_sheet.png").stat().st_size > 0


def test_batch_stops_early_on_a_bad_style_reference(app, ctx, tmp_path):
    (tmp_path / "a.png").symlink_to(fixture(ASTRONAUT))
    text = tmp_path / "style.jpg"
    text.write_text("not an image")
    with pytest.raises(InputError, match="style reference"):
        run_batch(app, ctx, tmp_path / "out", {"source": tmp_path / "a.png", "style": text})


def test_cli_run_writes_the_image_and_prints_metrics(tmp_path, capsys):
    out = tmp_path / "h.png"
    code = main(["run", "head", "--source", str(fixture(ASTRONAUT)), "--preset", "cartoon", "--tier", "lite",
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and out.exists()
    summary = json.loads(capsys.readouterr().out)
    assert summary["provenance"]["tier"] == "lite" and summary["metrics"]["identity_distance"] <= 0.55


def test_cli_no_face_exits_nonzero_with_the_reason(tmp_path, capsys):
    code = main(["run", "head", "--source", str(fixture("faces/noface_rocket_launchpad_night_01.jpg")), "--tier",
                 "lite", "--out", str(tmp_path / "x.png")])  # fmt: skip
    assert code == 2 and "No face found" in capsys.readouterr().err
