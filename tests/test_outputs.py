"""Results kept the way A1111 / ComfyUI / Fooocus users expect (issue 20 item 4): the local UI keeps every final
result as a PNG carrying its settings and provenance, `studio info` reads it back, and the History tab lists and
reopens it. Where results are kept: STUDIO_OUTPUTS, on for a server on this computer, off when shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from conftest import HANG_GUARD_S
from studio.cli import main
from studio.errors import InputError
from studio.outputs import DEFAULT_FOLDER, is_shared, list_results, outputs_folder, read_info, save_result
from studio.schema import Provenance, Result
from studio.settings import Settings


# --------------------------------------------------------------------------------------------- where
def test_outputs_setting_is_validated(tmp_path):
    assert Settings.from_env({}).outputs == "auto"
    assert Settings.from_env({"STUDIO_OUTPUTS": "off"}).outputs == "off"
    assert Settings.from_env({"STUDIO_OUTPUTS": str(tmp_path / "kept")}).outputs == str(tmp_path / "kept")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="STUDIO_OUTPUTS=.*cannot be written"):
        Settings.from_env({"STUDIO_OUTPUTS": str(tmp_path / "file")})


def test_results_are_kept_locally_and_not_on_shared_servers(tmp_path):
    auto, off, folder = Settings(), Settings(outputs="off"), Settings(outputs=str(tmp_path))
    assert not is_shared("127.0.0.1") and not is_shared("localhost")
    assert is_shared("0.0.0.0") and is_shared("127.0.0.1", share=True)
    assert outputs_folder(auto, shared=False) == DEFAULT_FOLDER
    assert outputs_folder(auto, shared=True) is None  # every visitor's photos would pile up on the host
    assert outputs_folder(off, shared=False) is None
    assert outputs_folder(folder, shared=True) == tmp_path  # the operator asked for it


def test_a_saved_png_carries_its_record_and_names_date_app_and_seed(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8)
    result = Result(image, Provenance(app="makeup", tier="student", models=["lcm-lora-sd15@abc"], steps=4, seed=7),
                    metrics={"lips_de": 3.5})  # fmt: skip
    params = {"source": "/tmp/gradio/abc/me.jpg", "tier": "student", "seed": 7, "strength": 0.5}
    first = save_result(tmp_path, "makeup", params, result, when=1_700_000_000, image_params=("source",))
    second = save_result(tmp_path, "makeup", params, result, when=1_700_000_000)  # same second: never overwritten
    assert first != second and first.parent == second.parent
    assert first.parent.parent == tmp_path and first.parent.name.count("-") == 2  # outputs/<YYYY-MM-DD>/
    assert first.name.endswith("_makeup_student_seed7.png") and first.name[:10] == first.parent.name
    assert np.array_equal(np.asarray(__import__("PIL.Image").Image.open(first)), image)  # lossless
    data = read_info(first)
    assert data["app"] == "makeup" and data["role"] == "run" and data["provenance"]["seed"] == 7
    assert data["settings"]["source"] == "me.jpg"  # the file's name, never the server's temp path
    assert data["metrics"] == {"lips_de": 3.5} and [e.path for e in list_results(tmp_path)][0] in (first, second)


def test_studio_info_refuses_files_without_provenance(tmp_path, capsys):
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert main(["info", str(plain)]) == 2
    assert "carries no Distill Studio provenance" in capsys.readouterr().err
    assert main(["info", str(text)]) == 2
    assert "is not an image" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "gone.png")]) == 2
    assert "no such file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- the UI path
@pytest.fixture(scope="module")
def studio_server(tmp_path_factory):
    """The studio (makeup page, Models, History) on a real Gradio server, keeping results in a temp folder."""
    from studio.apps import get_app
    from studio.serve import launch, make_context
    from studio.ui.gradio_app import build_studio

    folder = tmp_path_factory.mktemp("outputs")
    ctx = make_context()
    app = get_app("makeup")
    blocks = build_studio([app], ctx, outputs=folder)
    _, url, _ = launch(blocks, port=None, block=False)
    client = Client(url, verbose=False)
    yield client, blocks, folder, app, ctx
    client.close()
    blocks.close()


def test_a_result_run_in_the_ui_is_kept_with_provenance_and_studio_info_prints_it(studio_server, capsys):
    client, blocks, folder, app, ctx = studio_server
    example = dict(app.examples(ctx.settings)[0])
    values = {k: handle_file(v) if k in app.image_params and v else v for k, v in example.items()}
    values.update(tier="lite", seed=1234)
    job = client.submit(**values, api_name="/makeup")
    final = job.result(timeout=HANG_GUARD_S)
    kept = list_results(folder)
    assert len(kept) == 1, "one Run keeps one result"
    path = kept[0].path
    assert path.name.endswith("_makeup_lite_seed1234.png")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(Image.open(final[0]).convert("RGB")))

    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "app       makeup (run)" in out and "tier      lite · cpu" in out and "models    mediapipe" in out
    assert "\nsettings\n" in out and f"\n  {'seed':<24} 1234\n" in out and f"\n  {'tier':<24} lite\n" in out
    assert main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["provenance"]["tier"] == "lite" and data["settings"]["tier"] == "lite"
    assert data["settings"][app.primary_input] == Path(example[app.primary_input]).name
    assert data["provenance"] == final[4]["provenance"]  # what the page's JSON showed

    # The History tab lists it newest first and reopens its settings on the makeup page.
    load, show, reopen = blocks.studio_history
    gallery, paths = load()
    assert paths[0] == str(path) and "makeup" in gallery[0][1] and "seed 1234" in gallery[0][1]
    picture, text, record, button = show(paths[0])
    assert picture.size == Image.open(path).size and "tier      lite" in text and record == data
    assert button["interactive"] is True
    tabs, *values_back = reopen(record)
    assert tabs.selected == "makeup"
    assert 1234 in values_back and "lite" in values_back  # the seed and tier go back on the page


def test_pages_built_without_an_outputs_folder_keep_nothing(settings, preprocessing, tmp_path, monkeypatch):
    from studio.context import RunContext
    from studio.ui.gradio_app import build_page
    from studio.ui.history import keep, results_folder

    monkeypatch.chdir(tmp_path)
    ctx = RunContext(settings=settings, preprocess=preprocessing)
    from studio.apps import get_app

    app = get_app("preprocess")
    build_page(app, ctx)  # as Spaces and the tests build pages: no folder given
    assert results_folder(ctx) is None
    image = np.zeros((8, 8, 3), np.uint8)
    assert keep(ctx, app, {}, Result(image, Provenance(app="preprocess", tier="lite"))) is None
    assert not (tmp_path / "outputs").exists()
