"""The batch runner's rows, report and resume (studio/batch.py), on a small app made here so that each test takes
milliseconds: folders, several-valued choices, CSV and JSON-lines manifests, one JSON line per row as it finishes,
a failed row that never stops the rest, and a re-run that skips what is done. The real apps' batches are tested in
test_makeup_live.py / test_tryon_live.py, on Ray in test_ray.py."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from studio.batch import REPORT, plan_batch, previous_entries, read_manifest, run_batch
from studio.errors import InputError
from studio.imaging import load_image
from studio.schema import App, ChoiceParam, ImageParam, Provenance, Result, ToggleParam

TONES = {"plain": (0, 0, 0), "warm": (30, 0, -30), "cool": (-30, 0, 30)}


def _tint(ctx, image, tone: str, crash: bool):
    rgb = load_image(image, what="photo")
    if rgb.mean() < 5:
        raise InputError("The photo is black.")
    if crash:
        raise RuntimeError("kaboom")  # what a bug or a library failing on one file looks like
    out = np.clip(rgb.astype(int) + TONES[tone], 0, 255).astype(np.uint8)
    yield Result(out, Provenance(app="tint", tier="lite"), metrics={"mean": float(out.mean())})


TINT = App(id="tint", title="Tint", description="Shifts the colours.", run=_tint, capabilities=frozenset({"batch"}),
           params=(ImageParam("image", "Photo"), ChoiceParam("tone", "Tone", default="plain", choices=tuple(TONES)),
                   ToggleParam("crash", "Crash")))  # fmt: skip


def _photos(folder, names=("a.png", "b.png"), dark=("dark.png",)):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((24, 16, 3), 60 + 40 * i, np.uint8)).save(folder / name)
    for name in dark:
        Image.fromarray(np.zeros((24, 16, 3), np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _run(tmp_path, values, **kwargs):
    seen = []
    summary = run_batch(TINT, None, tmp_path / "out", values, lambda d, n, e: seen.append((d, n, e["row"])), **kwargs)
    return summary, seen


def test_a_folder_gives_one_row_per_image_and_a_report_line_per_row(tmp_path):
    summary, seen = _run(tmp_path, {"image": _photos(tmp_path / "in"), "tone": "warm"})
    assert (summary["rows"], summary["done"], summary["failed"], summary["skipped"]) == (3, 2, 1, 0)
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    by_row = {e["row"]: e for e in summary["results"]}
    assert by_row["dark"]["error"] == "The photo is black." and by_row["a"]["image"] == "a.png"
    out = tmp_path / "out"
    assert load_image(out / "a_tint.png")[0, 0].tolist() == [90, 60, 30]
    lines = [json.loads(line) for line in (out / REPORT).read_text().splitlines()]
    assert [line["row"] for line in lines] == ["a", "b", "dark"] and all(line["seconds"] >= 0 for line in lines)
    assert lines[0]["provenance"]["tier"] == "lite" and lines[0]["output"] == "a_tint.png"
    assert json.loads((out / "summary.json").read_text())["done"] == 2
    assert (out / "contact_sheet.png").stat().st_size > 0 and summary["rows_per_second"] > 0
    assert not list(out.glob(".*.part"))


def test_a_choice_given_several_values_runs_each(tmp_path):
    summary, _ = _run(tmp_path, {"image": _photos(tmp_path / "in", dark=()), "tone": ["warm", "cool"]})
    assert [e["row"] for e in summary["results"]] == ["a__warm", "a__cool", "b__warm", "b__cool"]
    assert summary["results"][1]["tone"] == "cool"
    assert load_image(tmp_path / "out" / "a__cool_tint.png")[0, 0].tolist() == [30, 60, 90]
    one, _ = _run(tmp_path / "one", {"image": tmp_path / "in", "tone": ["cool"]})  # one value: the plain names
    assert [e["row"] for e in one["results"]] == ["a", "b"]


def test_a_rerun_skips_what_is_done_and_runs_the_rest_again(tmp_path):
    folder = _photos(tmp_path / "in")
    _run(tmp_path, {"image": folder, "tone": "warm"})
    again, seen = _run(tmp_path, {"image": folder, "tone": "warm"})
    assert again["skipped"] == 2 and [s[2] for s in seen] == ["dark"]  # failed rows are tried again
    assert again["done"] == 2 and all(e.get("resumed") for e in again["results"] if "output" in e)
    (tmp_path / "out" / "b_tint.png").unlink()
    _, seen = _run(tmp_path, {"image": folder, "tone": "warm"})
    assert [s[2] for s in seen] == ["b", "dark"]  # an image that is gone is made again
    _, seen = _run(tmp_path, {"image": folder, "tone": "cool"})
    assert [s[2] for s in seen] == ["a", "b", "dark"]  # other parameters: the same names, run again
    assert load_image(tmp_path / "out" / "a_tint.png")[0, 0].tolist() == [30, 60, 90]
    _, seen = _run(tmp_path, {"image": folder, "tone": "cool"}, resume=False)
    assert len(seen) == 3 and len((tmp_path / "out" / REPORT).read_text().splitlines()) == 3


def test_a_report_cut_short_by_a_killed_job_still_resumes(tmp_path):
    folder = _photos(tmp_path / "in", dark=())
    _run(tmp_path, {"image": folder})
    report = tmp_path / "out" / REPORT
    report.write_text(report.read_text().splitlines()[0] + '\n{"row": "b", "outp')  # the job died mid-line
    assert list(previous_entries(report)) == ["a"]
    _, seen = _run(tmp_path, {"image": folder})
    assert [s[2] for s in seen] == ["b"]


def test_an_unexpected_exception_fails_its_row_only(tmp_path):
    folder = _photos(tmp_path / "in", dark=())
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text('{"image": "in/a.png", "crash": true}\n\n{"image": "in/b.png", "tone": "cool"}\n')
    summary, _ = _run(tmp_path, {"tone": "warm"}, manifest=manifest)
    first, second = summary["results"]
    assert first["error"] == "Unexpected RuntimeError: kaboom" and "_tint" in first["traceback"]
    assert load_image(tmp_path / "out" / f"{second['row']}_tint.png")[0, 0].tolist() == [70, 100, 130]
    assert summary["inputs"] == {"manifest": str(manifest)} and folder.is_dir()


def test_a_csv_manifest_names_rows_by_their_images_settings_or_id(tmp_path):
    _photos(tmp_path / "in", dark=())
    manifest = tmp_path / "rows.csv"
    manifest.write_text("image,tone,id\nin/a.png,,\nin/a.png,cool,\nin/b.png,warm,look-7\n")
    summary, _ = _run(tmp_path, {}, manifest=manifest)
    rows = [e["row"] for e in summary["results"]]
    assert rows[0] == "a" and rows[1].startswith("a__") and len(rows[1]) == len("a__") + 6 and rows[2] == "look-7"
    assert (tmp_path / "out" / "look-7_tint.png").exists() and summary["done"] == 3
    assert read_manifest(manifest)[0] == {"image": "in/a.png"}  # empty cells are left to the defaults


def test_a_manifest_row_can_share_a_flag_and_several_values(tmp_path):
    _photos(tmp_path / "in", dark=())
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text(json.dumps({"image": str(tmp_path / "in" / "a.png")}) + "\n")
    plan = plan_batch(TINT, {"tone": ["warm", "cool"]}, manifest)
    assert [r.id for r in plan.rows] == ["a__warm", "a__cool"] and plan.rows[1].values["tone"] == "cool"
    assert plan.checks  # the manifest sets only the main image: the app's check can run up front


@pytest.mark.parametrize("name, text, message", [
    ("rows.csv", "image,colour\nin/a.png,red\n", "not parameters of 'tint': colour"),
    ("rows.txt", "in/a.png\n", "must be a .csv file"),
    ("rows.jsonl", '{"image": "a.png"}\nnot json\n', "Line 2"),
    ("rows.jsonl", "\n\n", "has no rows"),
    ("rows.jsonl", '["in/a.png"]\n', "must be an object"),
    ("rows.csv", "tone\nwarm\n", "needs a 'image' column"),
])  # fmt: skip
def test_a_bad_manifest_is_refused_before_any_work(tmp_path, name, text, message):
    manifest = tmp_path / name
    manifest.write_text(text)
    with pytest.raises(InputError, match=message):
        run_batch(TINT, None, tmp_path / "out", {}, manifest=manifest)
    assert not (tmp_path / "out").exists()


def test_inputs_the_batch_cannot_use_say_what_to_give(tmp_path):
    with pytest.raises(InputError, match="Give a folder .* for --image, or a --manifest"):
        run_batch(TINT, None, tmp_path / "out", {"tone": "warm"})
    with pytest.raises(InputError, match="does not exist"):
        run_batch(TINT, None, tmp_path / "out", {}, manifest=tmp_path / "missing.csv")
    folder = _photos(tmp_path / "in")
    (tmp_path / "rows.csv").write_text("tone\nwarm\n")
    with pytest.raises(InputError, match="must be a single image shared by every row"):
        run_batch(TINT, None, tmp_path / "out", {"image": folder}, manifest=tmp_path / "rows.csv")


def test_two_files_with_one_stem_get_two_names(tmp_path):
    folder = _photos(tmp_path / "in", names=("a.png", "a.jpg"), dark=())
    summary, _ = _run(tmp_path, {"image": folder})
    assert [e["output"] for e in summary["results"]] == ["a_tint.png", "a_2_tint.png"]


def test_cli_ray_flags_without_ray_say_how_to_install(tmp_path, monkeypatch, capsys):
    from studio.cli import main

    folder = _photos(tmp_path / "in", dark=())
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    code = main(["batch", "makeup", "--source", str(folder), "--tier", "lite", "--out", str(tmp_path / "o"), "--ray"])
    assert code == 2 and "pip install -e '.[scale]'" in capsys.readouterr().err
    code = main(["batch", "makeup", "--source", str(folder), "--out", str(tmp_path / "o"), "--workers", "2"])
    assert code == 2 and "go with --ray" in capsys.readouterr().err
