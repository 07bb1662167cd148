"""The Models tab (issue 20 item 5): per app, the recipe's models with size, licence and presence; Download fetches
what is missing through `studio fetch`'s code with a progress bar, non-commercial models only when opted into, and
the app pages run the downloaded tier without a restart.

The Hub is a local mirror over HTTP (tests/hub_mirror.py) serving the tiny hub's makeup repos, set as the Hub's
endpoint the usual way (HF_ENDPOINT); the HF cache starts empty."""

from __future__ import annotations

import json
from dataclasses import replace

import gradio as gr
import pytest
from gradio_client import Client, handle_file

from conftest import HANG_GUARD_S
from hub_mirror import Mirror, point_hub_at
from studio.models import load_catalog

SIZE = 64


class Progress:
    """Stands in for gr.Progress: records what the handler reports."""

    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, total=None, unit="steps"):
        self.calls.append((value, desc, unit))


@pytest.fixture(scope="module")
def makeup_hub(tmp_path_factory):
    """A tiny hub holding only what the makeup recipe needs (seconds to build, unlike the whole catalog)."""
    from studio.engine.tinyhub import build

    return build(tmp_path_factory.mktemp("makeup-hub"), list(load_catalog().app("makeup").default_ids()))


@pytest.fixture
def mirror(makeup_hub, monkeypatch):
    served = Mirror(makeup_hub)
    point_hub_at(served.start(), monkeypatch)
    yield served
    served.stop()


@pytest.fixture
def studio(mirror, tmp_path, preprocessing):
    """The studio (makeup page, Models, History) on an online machine whose HF cache is empty, served for real."""
    from studio.apps import get_app
    from studio.context import RunContext
    from studio.engine.engine import Engine
    from studio.engine.specs import Catalog
    from studio.serve import launch
    from studio.settings import Settings
    from studio.ui.gradio_app import build_studio

    settings = Settings(device="cpu", hf_cache_dir=tmp_path / "hub", models_dir=tmp_path / "models", offline=False)
    catalog = load_catalog()
    specs = {k: replace(s, resolution=SIZE) if s.resolution else s for k, s in catalog.specs.items()}
    specs["sd15-inpainting"] = replace(specs["sd15-inpainting"], steps=4)
    engine = Engine(settings, catalog=Catalog(specs, catalog.apps))  # the tiny models' native 64 px
    ctx = RunContext(settings=settings, preprocess=preprocessing).with_engine(engine)
    app = get_app("makeup")
    blocks = build_studio([app], ctx, outputs=tmp_path / "outputs")
    _, url, _ = launch(blocks, port=None, block=False)
    client = Client(url, verbose=False)
    yield blocks, client, app, ctx, tmp_path
    client.close()
    blocks.close()


def _run(client, app, ctx, **overrides):
    values = dict(app.examples(ctx.settings)[0])
    values = {k: handle_file(v) if k in app.image_params and v else v for k, v in values.items()}
    return client.submit(**{**values, **overrides}, api_name="/makeup").result(timeout=HANG_GUARD_S)


def test_models_page_downloads_a_missing_recipe_and_the_page_runs_its_student_without_a_restart(studio, mirror):
    blocks, client, app, ctx, tmp_path = studio
    rows, on_download = blocks.studio_models
    recipe = load_catalog().app("makeup")
    table = {(r[0], r[2]): r for r in rows()}
    for role, spec_id in (("student", recipe.student), ("teacher", recipe.teacher), ("adapter", recipe.adapters[0])):
        row = table[("makeup", spec_id)]
        spec = load_catalog().get(spec_id)
        assert row[1] == role and row[3] == spec.repo and row[5].startswith(spec.licence.describe())
        assert row[6] == "missing" and ("MB" in row[4] or "GB" in row[4])
    assert {r[2] for r in rows() if r[1] == "other student"} == set(recipe.alternatives)

    # Before: the student tier is missing, and the page says how to fetch it.
    with pytest.raises(Exception, match="studio fetch makeup"):
        _run(client, app, ctx, tier="student", seed=3)

    # Non-commercial models are refused without the opt-in; nothing is requested from the Hub.
    with pytest.raises(gr.Error, match="non-commercial"):
        on_download("dmd2-sdxl-4step-lora", False, progress=Progress())
    assert not mirror.requests

    progress = Progress()
    status, after = on_download("makeup", False, progress=progress)
    files = [f for sid in recipe.default_ids() for f in load_catalog().get(sid).files]
    assert len(mirror.downloads()) == len(files), "each missing file downloaded once, over HTTP from the mirror"
    steps = [value for value, _, unit in progress.calls]
    assert steps[0] == (0, len(files)) and steps[-1] == (len(files), len(files)) and len(steps) == len(files) + 2
    assert all(unit == "files" for _, _, unit in progress.calls)
    assert any(recipe.student in (desc or "") for _, desc, _ in progress.calls)
    assert "Downloaded" in status and "no restart" in status
    assert all(r[6] == "present (hf-cache)" for r in after if r[0] == "makeup" and r[1] != "other student")
    lock = json.loads((tmp_path / "models" / "catalog.lock.json").read_text())
    assert {load_catalog().get(s).repo for s in recipe.default_ids()} <= set(lock)

    # After: the same server runs the student tier, and keeps the result with its provenance.
    final = _run(client, app, ctx, tier="student", seed=3)
    provenance = final[4]["provenance"]
    assert provenance["tier"] == "student" and provenance["fallback_reason"] is None
    assert any(m.startswith(recipe.student) for m in provenance["models"])
    from studio.outputs import list_results

    kept = list_results(tmp_path / "outputs")
    assert kept and kept[0].data["provenance"]["tier"] == "student"
    assert kept[0].path.name.endswith("_makeup_student_seed3.png")

    # Compare (student, then teacher, on one seed) keeps both results, labelled with their role.
    example = app.examples(ctx.settings)[0]
    values = {k: handle_file(v) if k in app.image_params and v else v for k, v in example.items()}
    client.submit(**{**values, "seed": 5}, api_name="/makeup_compare").result(timeout=HANG_GUARD_S)
    roles = {e.data["role"]: e for e in list_results(tmp_path / "outputs") if e.data["provenance"]["seed"] == 5}
    assert set(roles) == {"student", "teacher"} and roles["teacher"].path.name.endswith("_makeup_teacher_seed5.png")
    assert roles["teacher"].data["provenance"]["tier"] == "teacher"

    # A second Download has nothing left to do.
    mirror.requests.clear()
    status, _ = on_download("makeup", False, progress=Progress())
    assert "already on this machine" in status and not mirror.downloads()


def test_a_shared_server_lists_models_but_does_not_download(settings, preprocessing):
    from studio.apps import get_app
    from studio.context import RunContext
    from studio.ui.gradio_app import build_studio

    blocks = build_studio([get_app("makeup")], RunContext(settings=settings, preprocess=preprocessing),
                          downloads=False)  # fmt: skip
    rows, on_download = blocks.studio_models
    assert rows() and not hasattr(blocks, "studio_history")  # no outputs folder: no History tab
    from studio.ui.models_page import model_rows

    dmd2 = next(r for r in model_rows(settings, load_catalog(), ["avatar"]) if r[2] == "dmd2-sdxl-4step-lora")
    assert dmd2[1] == "other student" and "non-commercial" in dmd2[5] and "opt-in" in dmd2[5]
    with pytest.raises(gr.Error, match="shared"):
        on_download("makeup", False, progress=Progress())


def test_studio_fetch_leaves_the_weights_where_the_engine_finds_them(mirror, tmp_path, monkeypatch, capsys):
    """`studio fetch` downloads at the locked commit; the cache's branch ref must then name that commit, or the
    resolver (which looks files up at the catalog's revision) would not find what was just fetched."""
    from studio.cli import main
    from studio.engine.resolver import Resolver
    from studio.settings import Settings

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    spec = load_catalog().get("taesd")
    assert not Resolver(Settings.from_env()).is_available(spec)
    assert main(["fetch", "taesd"]) == 0
    assert "commits locked" in capsys.readouterr().out
    assert Resolver(Settings.from_env()).locate(spec).resolved.source == "hf-cache"
