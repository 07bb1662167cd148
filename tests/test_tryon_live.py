"""Try-on around the lite tier: garment parsing on its own, the webcam path, the benchmark, the batch form over
person × garment folders, and the CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, fixture

from studio.batch import run_batch
from studio.bench.lite import bench_lite
from studio.apps.tryon.garment import parse_garment
from studio.apps.tryon.samples import GARMENTS, draw_garment
from studio.cli import main
from studio.errors import InputError

TEE = "garments/garment_tshirt_blue_lace_sleeves_01.jpg"
TEE_WOMAN = "people/person_woman_dark_skin_front_tee_01.jpg"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("tryon")


def webcam_frame(load_rgb, name=TEE_WOMAN) -> np.ndarray:
    """A fixture photo letterboxed into a 640×480 frame, as a laptop webcam would send it."""
    rgb = load_rgb(name)
    scale = min(480 / rgb.shape[0], 640 / rgb.shape[1])
    small = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 200, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


# ----------------------------------------------------------------------------------------------- garment parsing
@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "garments").iterdir()))
def test_every_fixture_garment_parses_with_ordered_landmarks(load_rgb, name):
    parse = parse_garment(load_rgb(f"garments/{name}"))
    lm = parse.landmarks
    h, w = parse.mask.shape
    assert 0.1 < parse.mask.mean() < 0.8
    # Anatomy reads top to bottom and left to right, whatever the garment.
    assert lm.neck[1] < min(lm.armpit_left[1], lm.armpit_right[1]) < max(lm.hem_left[1], lm.hem_right[1])
    assert lm.armpit_left[0] < lm.neck[0] < lm.armpit_right[0] and lm.hem_left[0] < lm.hem_right[0]
    for p in lm.named().values():
        assert 0 <= p[0] < w and 0 <= p[1] < h
    if "tshirt" in name or "polo" in name or "wrap" in name or "blouse" in name:
        assert parse.sleeves and lm.sleeve_left is not None and lm.sleeve_right is not None
        assert lm.sleeve_left[0] < lm.armpit_left[0] and lm.sleeve_right[0] > lm.armpit_right[0]
    if "halter" in name:
        assert parse.looks_like_dress and not parse.sleeves


@pytest.mark.parametrize("name", list(GARMENTS))
def test_drawn_example_garments_parse(name):
    parse = parse_garment(draw_garment(name))
    assert parse.sleeves == (GARMENTS[name][1] != "none")


def test_plain_backdrop_without_garment_is_a_clear_error():
    with pytest.raises(InputError, match="No garment found"):
        parse_garment(np.full((600, 450, 3), 240, np.uint8))


# ----------------------------------------------------------------------------------------------- live
def test_live_frame_is_dressed_and_tracked(app, ctx, load_rgb):
    from studio.live import body_tracker

    frame = webcam_frame(load_rgb)
    garment = str(fixture(TEE))
    values = {k: v for k, v in app.validate({"person": frame, "garment": garment}).items() if k != "person"}
    out = app.live(ctx, frame, **values)
    assert out.shape == frame.shape and (np.abs(out.astype(int) - frame).max(axis=2) > 20).mean() > 0.05
    again = app.live(ctx, frame, **values)  # a still scene reuses the tracked pose
    assert np.array_equal(out, again) and body_tracker(ctx, "tryon").skipped >= 1
    empty = webcam_frame(load_rgb, "faces/noface_rocket_launchpad_night_01.jpg")
    assert np.array_equal(app.live(ctx, empty, **values), empty)  # nobody in frame: the camera as it is
    with pytest.raises(InputError, match="garment"):
        app.live(ctx, frame, **{**values, "garment": None})


# ----------------------------------------------------------------------------------------------- bench
def test_bench_writes_json_with_fps_and_a_plot(app, tmp_path):
    report = bench_lite(app, tier="lite", frames=3, out_json=tmp_path / "tryon.json")
    saved = json.loads((tmp_path / "tryon.json").read_text())
    assert saved["fps"] == report["fps"] > 0
    assert {"live_frame", "tryon_only", "body_tracking", "photo_run_with_metrics"} <= set(saved["results"])
    assert (tmp_path / "tryon.png").stat().st_size > 1000
    with pytest.raises(InputError, match="studio bench tryon --tiny"):
        bench_lite(app, tier="teacher", frames=3)


# ----------------------------------------------------------------------------------------------- batch + CLI
def test_batch_over_people_and_garment_folders(app, ctx, tmp_path):
    people, garments = tmp_path / "people", tmp_path / "garments"
    people.mkdir()
    garments.mkdir()
    # Links, not copies: the fixtures stay where they are.
    for name in ("people/person_woman_dark_skin_front_tee_01.jpg", "faces/noface_rocket_launchpad_night_01.jpg"):
        (people / name.split("/")[1]).symlink_to(fixture(name))
    (garments / "tee.jpg").symlink_to(fixture(TEE))
    (garments / "readme.txt").write_text("not an image, ignored")
    summary = run_batch(app, ctx, tmp_path / "out", {"person": people, "garment": garments, "tier": "lite"})
    assert summary["done"] == 1 and len(summary["results"]) == 2
    by_person = {e["person"]: e for e in summary["results"]}
    assert "No person found" in by_person["noface_rocket_launchpad_night_01.jpg"]["error"]
    assert (tmp_path / "out" / "person_woman_dark_skin_front_tee_01__tee_tryon.png").exists()
    assert (tmp_path / "out" / "contact_sheet.png").exists()
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["done"] == 1
    with pytest.raises(InputError, match="does not exist"):
        run_batch(app, ctx, tmp_path / "out", {"person": tmp_path / "missing", "garment": garments})


def test_cli_run_writes_the_image_and_prints_metrics(tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["run", "tryon", "--person", str(fixture(TEE_WOMAN)), "--garment", str(fixture(TEE)),
                 "--category", "upper", "--tier", "lite", "--no-arms-in-front", "--out", str(out)])  # fmt: skip
    assert code == 0 and out.exists()
    summary = json.loads(capsys.readouterr().out)
    assert summary["provenance"]["tier"] == "lite" and summary["metrics"]["delta_e_garment"] < 10
    assert summary["info"]["arms_in_front"] is False


def test_cli_bad_garment_exits_nonzero_with_the_reason(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 300, 3), 240, np.uint8))
    assert main(["run", "tryon", "--person", str(fixture(TEE_WOMAN)), "--garment", str(blank),
                 "--out", str(tmp_path / "x.png")]) == 2  # fmt: skip
    assert "No garment found" in capsys.readouterr().err
