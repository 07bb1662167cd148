"""The Jupyter widget: generated from the schema, run from code and from its own buttons, cancellable, quiet, and
executed for real in a headless kernel (nbclient), whose saved widget state must hold the result image."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest

from conftest import HANG_GUARD_S, fixture
from studio.errors import InputError, NoFaceFound
from studio.schema import App, ImageParam, Preview, Provenance, Result
from studio.tiers import tier_params

pytest.importorskip("anywidget")


def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


@pytest.fixture
def widget_for(ctx):
    from studio.ui.notebook import widget

    return lambda app, **values: widget(app, ctx, **values)


def test_every_app_gets_a_widget_from_its_schema(widget_for):
    from studio.apps import all_apps

    for app in all_apps():
        w = widget_for(app.id)
        assert [p["name"] for p in w.schema] == [p.name for p in app.params]
        assert set(w.values) == {p.name for p in app.params if p.name not in app.image_params}
        assert ("compare" in w.offers) == app.offers("compare")
    assert "export default" in (w._esm if isinstance(w._esm, str) else str(w._esm))


def test_run_from_code_shows_previews_then_the_result(widget_for, settings):
    from studio.examples import sample_image

    w = widget_for("makeup", source=sample_image("astronaut", settings.cache_dir), preset="berry")
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))  # what the page would receive
    result = w.run()
    assert result is w.result and result.provenance.app == "makeup" and w.status == "done"
    assert sent and sent[0][0]["type"] == "preview" and isinstance(sent[0][1][0], bytes)  # binary, not base64
    assert w.previews == len(sent) and "lite" in w.badge
    state = w.get_state()
    assert isinstance(state["result_png"], (bytes, memoryview)) and isinstance(state["inputs"]["source"], bytes)
    shown = _png(w.result_png)
    assert shown.shape == result.image.shape  # 512 px: under the display cap, so full size
    assert w.metrics and set(w.metrics) == set(result.metrics)  # shown beside the result
    assert w.before_label == "before" and _png(w.before).shape == result.before.shape


def test_bad_input_is_shown_and_raised(widget_for):
    w = widget_for("makeup", source=fixture("faces/noface_rocket_launchpad_night_01.jpg"), preset="berry")
    with pytest.raises(NoFaceFound):
        w.run()
    assert w.status == "error" and "No face found" in w.error
    with pytest.raises(InputError, match="Unknown parameter"):
        w.set(colour="red")
    with pytest.raises(InputError, match="between"):
        w.set(lips_strength=7)


class Slow:
    def __init__(self):
        self.steps = 0
        self.app = App(id="slow", title="Slow", description="", params=(ImageParam("image", "Image"), *tier_params()),
                       run=self.run)  # fmt: skip

    def run(self, ctx, image, tier, seed, steps):
        frame = np.full((16, 16, 3), 50, np.uint8)
        for step in range(1, 201):
            ctx.check_cancelled()
            self.steps = step
            time.sleep(0.05)
            yield Preview(frame, step, 200, "slow")
        yield Result(frame, Provenance(app="slow", tier="lite"))


def test_the_buttons_run_on_a_thread_and_cancel_stops_it(widget_for):
    """The page's Run button (a custom message) starts a background run, so the kernel hears Cancel."""
    slow = Slow()
    w = widget_for(slow.app, image=np.zeros((16, 16, 3), np.uint8))
    w.send = lambda content, buffers=None: None
    w._on_message(w, {"type": "run"}, [])
    deadline = time.monotonic() + 60
    while slow.steps < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w.status == "running"
    with pytest.raises(InputError, match="already running"):
        w.run()
    w._on_message(w, {"type": "cancel"}, [])
    while w.status == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w.status == "cancelled" and slow.steps < 200 and w.error == ""


def test_an_upload_from_the_page_becomes_the_input(widget_for, settings):
    from studio.examples import sample_image

    w = widget_for("preprocess")
    w._on_message(w, {"type": "upload", "name": "image"}, [memoryview(sample_image("astronaut",
                                                                                    settings.cache_dir).read_bytes())])
    assert "image" in w.inputs and w.run().info["faces"]
    w._on_message(w, {"type": "upload", "name": "image"}, [memoryview(b"not an image")])
    assert w.status == "error" and "not an image" in w.error


def test_compare_shows_student_then_teacher(tiny_settings):
    from test_compare import TEST_APP

    from studio.context import RunContext
    from studio.preprocess import Preprocessing
    from studio.ui.notebook import widget

    w = widget(TEST_APP, RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings)), seed=3)
    badges = []
    w.send = lambda content, buffers=None: badges.append(content["badge"])
    comparison = w.compare()
    assert comparison is w.comparison and set(comparison.results) == {"student", "teacher"}
    assert any(b.startswith("student ready") for b in badges) and "speed-up" in w.badge
    assert (w.before_label, w.after_label) == ("student", "teacher")
    assert [row["tier"] for row in w.table] == ["student", "teacher"]
    assert _png(w.result_png).shape == comparison.results["teacher"].image.shape


# --------------------------------------------------------------------------------------------- a real kernel
NOTEBOOK = [
    "from studio import notebook\nfrom studio.examples import sample_image\n"
    "from studio.apps.tryon.samples import sample_garment\n"
    "cache = notebook.shared_context().settings.cache_dir\nface = sample_image('astronaut', cache)",
    "m = notebook.widget('makeup', source=face, preset='berry')\nm",
    "r = m.run()\nprint(r.provenance.app, m.status, r.image.shape)",
    "t = notebook.widget('tryon', person=face, garment=sample_garment('tee_red', cache))\nt",
    "r = t.run()\nprint(r.provenance.app, t.status, r.image.shape)",
]


def test_a_notebook_runs_headless_and_saves_the_result_in_its_widget_state():
    """makeup and try-on widgets executed in a real kernel by nbclient: no noise in the cells (no MediaPipe native
    lines, no warnings), and the notebook's saved widget state holds each result image (binary buffers)."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK]
    NotebookClient(nb, timeout=HANG_GUARD_S, kernel_name="python3").execute()  # a hang guard, not a speed limit
    streams = [o for c in nb.cells for o in c.outputs if o.output_type == "stream"]
    assert [o.name for o in streams] == ["stdout", "stdout"], [o.text for o in streams]  # only our prints
    assert streams[0].text.startswith("makeup done") and streams[1].text.startswith("tryon done")
    views = [o for c in nb.cells for o in c.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    for view, app_id in zip(views, ("makeup", "tryon")):
        model = state[view.data["application/vnd.jupyter.widget-view+json"]["model_id"]]
        assert model["state"]["app_id"] == app_id and model["state"]["status"] == "done"
        buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in model["buffers"]}
        result = _png(buffers[("result_png",)])
        assert result.ndim == 3 and result.shape[0] > 100
        assert ("inputs", app_id == "makeup" and "source" or "person") in buffers
