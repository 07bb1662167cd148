"""UI smoke test in real headless Chromium (Debian's, installed by tests/setup_browser.sh; driven by Playwright).

Opens the studio, uploads a real face photo on the Preprocess inspector page, runs it, and checks that the
overlay and the provenance badge appear; on every app page at 1400×1000, Run is in view and the result lands in
view without scrolling. Set STUDIO_SCREENSHOT=path.png to keep the inspector's screenshot, STUDIO_SCREENSHOT_DIR
to keep one of each app page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import fixture

pytestmark = pytest.mark.browser

#: Every wait for UI state (and Playwright's default for clicks, uploads, navigation). A correct run on a busy
#: 2-core machine may take minutes; only a page that never gets there should fail, so the wait is generous.
UI_WAIT_MS = 10 * 60 * 1000

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `bash tests/setup_browser.sh` (installs Debian's chromium).")
    return path


@pytest.fixture(scope="module")
def studio_url():
    from studio.serve import build_blocks, launch, make_context

    blocks = build_blocks(None, make_context())
    _, local_url, _ = launch(blocks, port=None, block=False)
    yield local_url
    blocks.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _new_page(browser, height: int = 1100):
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.set_default_timeout(UI_WAIT_MS)
    page.set_default_navigation_timeout(UI_WAIT_MS)
    return page


def _open_tab(browser, url: str, tab: str):
    page = _new_page(browser)
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name=tab).click()
    return page, page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Run")).last


def test_preprocess_page_shows_overlay_and_badge(browser, studio_url, tmp_path):
    page, panel = _open_tab(browser, studio_url, "Preprocess inspector")
    panel.locator("input[type=file]").first.set_input_files(str(fixture("faces/face_woman_nomakeup_freckles_01.png")))
    panel.get_by_role("button", name="Run").click()
    badge = panel.locator("[data-testid=studio-badge]").filter(has_text="ms")
    badge.first.wait_for(timeout=UI_WAIT_MS)
    assert "lite" in badge.first.inner_text()
    # The uploaded photo and the result overlay are both served back as images.
    assert panel.locator("img[src*='gradio_api/file']").count() >= 2
    # The details gallery holds the per-region masks.
    panel.get_by_text("mask: lips").first.wait_for(timeout=UI_WAIT_MS)
    shot = os.environ.get("STUDIO_SCREENSHOT") or str(tmp_path / "studio.png")
    page.screenshot(path=shot, full_page=True)
    page.close()


def test_bad_file_shows_a_clear_error(browser, studio_url, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is a text file, not a photo")
    page, panel = _open_tab(browser, studio_url, "Preprocess inspector")
    panel.locator("input[type=file]").first.set_input_files(str(bad))
    panel.get_by_role("button", name="Run").click()
    page.get_by_text("not an image this studio can read").first.wait_for(timeout=UI_WAIT_MS)
    page.close()


def test_compare_panel_shows_student_then_teacher(browser, tiny_settings):
    """The Compare panel on a page served with the tiny hub: the student's image comes first, the teacher's
    replaces it, then the slider and the table appear."""
    from test_compare import TEST_APP

    from studio.preprocess import Preprocessing
    from studio.context import RunContext
    from studio.serve import launch
    from studio.ui.gradio_app import build_page

    page_blocks = build_page(TEST_APP, RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings)))
    _, url, _ = launch(page_blocks, port=None, block=False)
    try:
        page = _new_page(browser, height=1000)
        page.goto(url, wait_until="load")
        page.get_by_text("Compare student vs teacher").click()
        # Record every status text the panel shows, in order, so a fast teacher cannot hide the student.
        page.evaluate("""() => { window.__seen = [];
            new MutationObserver(() => document.querySelectorAll('[data-testid=studio-badge]').forEach(b => {
                const t = b.textContent; if (window.__seen[window.__seen.length - 1] !== t) window.__seen.push(t); }))
            .observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        page.get_by_role("button", name="Compare (runs both diffusion tiers)").click()
        page.get_by_text("speed-up ×").first.wait_for(timeout=UI_WAIT_MS)
        seen = page.evaluate("window.__seen")
        student = next(i for i, t in enumerate(seen) if t.startswith("student ready"))
        teacher = next(i for i, t in enumerate(seen) if t.startswith("teacher ready"))
        assert student < teacher
        page.get_by_text("SSIM vs teacher").first.wait_for(timeout=UI_WAIT_MS)
        page.close()
    finally:
        page_blocks.close()


@pytest.mark.parametrize(
    "tab, photos",
    [
        ("Makeup transfer", ["faces/face_woman_nomakeup_freckles_01.png", "makeup_refs/makeup_ref_deep_red_lips_east_asian_01.png"]),
        ("Virtual try-on", ["people/person_woman_dark_skin_front_tee_01.jpg", "garments/garment_polo_shirt_colorblock_01.jpg"]),
    ],
)  # fmt: skip
def test_app_page_runs_two_uploads(browser, studio_url, tab, photos):
    """Upload the two photos an app needs, run it, see the result and the provenance badge."""
    page, panel = _open_tab(browser, studio_url, tab)
    uploads = panel.locator("input[type=file]")
    for i, photo in enumerate(photos):
        uploads.nth(i).set_input_files(str(fixture(photo)))
    panel.get_by_role("button", name="Run").click()
    badge = panel.locator("[data-testid=studio-badge]").filter(has_text="ms")
    badge.first.wait_for(timeout=UI_WAIT_MS)
    assert "lite" in badge.first.inner_text()
    assert panel.locator("img[src*='gradio_api/file']").count() >= 3  # two uploads and the result
    page.close()


#: The photos each app page needs (its main image inputs, in page order), different people on each page.
PAGE_PHOTOS = {
    "makeup": ["faces/face_woman_nomakeup_freckles_01.png", "makeup_refs/makeup_ref_deep_red_lips_east_asian_01.png"],
    "tryon": ["people/person_woman_dark_skin_front_tee_01.jpg", "garments/garment_polo_shirt_colorblock_01.jpg"],
    "avatar": ["faces/face_man_east_asian_young_01.jpg"],
    "style": ["faces/face_woman_elderly_red_lipstick_01.jpg", "styles/style_vangogh_starry_night.jpg"],
    "head": ["faces/face_man_dark_skin_official_portrait_01.jpg"],
    "preprocess": ["faces/faces_multi_two_women_outdoor_01.jpg"],
}  # fmt: skip


def _in_view(box, viewport) -> bool:
    return box is not None and box["y"] >= 0 and box["x"] >= 0 and box["y"] + box["height"] <= viewport["height"] \
        and box["x"] + box["width"] <= viewport["width"]


@pytest.mark.parametrize("app_id", sorted(PAGE_PHOTOS))
def test_run_is_at_the_top_and_the_result_lands_in_view(browser, studio_url, app_id, tmp_path):
    """Issue 20: at 1400×1000, on every app page, Run is visible without scrolling and, once clicked, the result
    image shows inside the viewport beside it — nothing scrolls."""
    from studio.apps import get_app

    app = get_app(app_id)
    main = [p.name for p in app.params if p.kind == "image" and not p.advanced]
    assert len(main) == len(PAGE_PHOTOS[app_id]), f"the {app_id} page's main image inputs changed: {main}"
    photos = [fixture(photo) for photo in PAGE_PHOTOS[app_id]]  # skips when the fixtures folder is missing
    page = _new_page(browser, height=1000)
    viewport = page.viewport_size
    try:
        page.goto(studio_url, wait_until="load")
        page.get_by_role("tab", name=app.title, exact=True).click()
        panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Run", exact=True)).last
        uploads = panel.locator("input[type=file]")
        for i, photo in enumerate(photos):  # the main image inputs come first on the page, in parameter order
            uploads.nth(i).set_input_files(str(photo))
        run = panel.get_by_role("button", name="Run", exact=True)
        assert _in_view(run.bounding_box(), viewport), f"Run is out of view: {run.bounding_box()}"
        run.click()
        panel.locator("[data-testid=studio-badge]").filter(has_text=" ms").first.wait_for(timeout=UI_WAIT_MS)
        result = panel.locator(".studio-result img").first
        result.wait_for(timeout=UI_WAIT_MS)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=result.element_handle())
        assert page.evaluate("window.scrollY") == 0, "the page scrolled"
        assert _in_view(result.bounding_box(), viewport), f"the result is out of view: {result.bounding_box()}"
    finally:
        shot = os.environ.get("STUDIO_SCREENSHOT_DIR")
        page.screenshot(path=str(Path(shot) / f"{app_id}.png") if shot else str(tmp_path / "page.png"))
        page.close()


def test_compare_panel_says_which_weights_are_missing_before_any_click(browser, studio_url):
    """Without weights (this machine has none), the Compare panel says so when opened and names the fetch command;
    clicking Compare repeats it in the panel, without error marks on the panel's empty images."""
    page, panel = _open_tab(browser, studio_url, "Makeup transfer")
    try:
        panel.get_by_text("Compare student vs teacher").click()
        note = panel.locator(".studio-weights").first
        note.get_by_text("studio fetch makeup").wait_for(timeout=UI_WAIT_MS)
        assert "Student weights: missing" in note.inner_text()
        panel.get_by_role("button", name="Compare (runs both diffusion tiers)").click()
        panel.locator("[data-testid=studio-badge]").filter(has_text="Fetch them with: studio fetch makeup").wait_for(
            timeout=UI_WAIT_MS)
        assert panel.get_by_text("Error", exact=True).count() == 0
        assert "needs weights that are not on this machine" not in panel.inner_text()  # no list of files
    finally:
        page.close()


# --------------------------------------------------------------------------------------------- the notebook widget
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab (the test extra installs it) serving a notebook that shows a makeup widget; no token, this
    machine only, its own settings folders."""
    import subprocess
    import sys
    import time
    import urllib.request

    nbformat = pytest.importorskip("nbformat")
    root = tmp_path_factory.mktemp("lab")
    face = fixture("faces/face_woman_nomakeup_freckles_01.png")
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"from studio import notebook\nw = notebook.widget('makeup', "
                                          f"source={str(face)!r}, preset='berry')\nw")]  # fmt: skip
    nbformat.write(nb, root / "widget.ipynb")
    port = _free_port()
    env = {**os.environ, **{k: str(root / k.lower()) for k in ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR",
                                                                 "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR")}}  # fmt: skip
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                             "--allow-root",
                             f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
                             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + UI_WAIT_MS / 1000
    while time.monotonic() < deadline:
        assert proc.poll() is None, (root / "lab.log").read_text()[-3000:]
        try:
            urllib.request.urlopen(f"{url}api/status", timeout=5)
            break
        except OSError:
            time.sleep(1)
    yield url
    proc.terminate()
    proc.wait(30)
    log.close()


def test_notebook_widget_in_jupyterlab_shows_the_preview_then_the_result(browser, jupyterlab, tmp_path):
    """Open the notebook in JupyterLab, run its cell, press the widget's Run: the canvas shows a step preview,
    then the result; the badge and metrics appear and the before/after view holds both images."""
    page = _new_page(browser, height=1200)
    shot = os.environ.get("STUDIO_NOTEBOOK_SCREENSHOT") or str(tmp_path / "notebook.png")
    try:
        _run_widget_in_lab(page, jupyterlab)
    finally:
        page.screenshot(path=shot, full_page=True)  # kept on failure too: what the page showed
        page.close()


def _run_widget_in_lab(page, jupyterlab):
    page.goto(f"{jupyterlab}lab/tree/widget.ipynb", wait_until="load")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # JupyterLab may still ask which kernel to start: accept its choice (the notebook names python3).
    settled = 0
    for _ in range(120):
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():
            dialog.first.click()
            settled = 0
        elif page.get_by_text("Python 3 (ipykernel) | Idle").count():
            settled += 1
            if settled >= 3:  # idle for 3 s with no dialog
                break
        page.wait_for_timeout(1000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    widget = page.locator(".studio-widget")
    widget.wait_for(timeout=5 * 60 * 1000)
    page.evaluate("""() => { window.__phases = [];
        const canvas = document.querySelector('.studio-canvas');
        new MutationObserver(() => window.__phases.push(canvas.dataset.phase))
            .observe(canvas, {attributes: true, attributeFilter: ['data-phase', 'data-previews']}); }""")
    widget.locator(".studio-run").click()
    widget.locator(".studio-canvas[data-phase=result]").wait_for(timeout=UI_WAIT_MS)
    phases = page.evaluate("window.__phases")
    assert "preview" in phases and phases.index("preview") < phases.index("result"), phases
    assert "lite" in widget.locator(".studio-badge").inner_text()
    assert widget.locator(".studio-metrics tr").count() > 3
    widget.get_by_role("button", name="Before / after").click()
    assert widget.locator(".studio-before").get_attribute("src").startswith("blob:")
