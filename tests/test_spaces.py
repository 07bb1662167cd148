"""`studio space <app> --out DIR`: the front matter, licences, GPU durations, the ZeroGPU fork decision, and the
exported Space served for real (`python DIR/app.py`, offline) and answering gradio_client on a real photo."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, fixture
from studio.cli import main


@pytest.fixture(scope="module")
def makeup_space(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("space") / "makeup"
    assert main(["space", "makeup", "--out", str(out)]) == 0
    return out


def test_front_matter_parses_and_lists_the_recipes_models(makeup_space):
    import gradio
    from huggingface_hub import SpaceCard

    from studio.models import load_catalog

    data = SpaceCard.load(makeup_space / "README.md").data  # offline: never validate(), it asks the Hub
    recipe = load_catalog().app("makeup")
    specs = [load_catalog().get(i) for i in recipe.default_ids()]
    assert data.sdk == "gradio" and data.sdk_version == gradio.__version__ and data.app_file == "app.py"
    assert data.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert data.license == "apache-2.0" and data.suggested_hardware == "t4-small"
    assert data.models == list(dict.fromkeys(s.repo for s in specs))
    preload = {line.split()[0]: line.split()[1].split(",") for line in data.preload_from_hub}
    for spec in specs:  # every file the engine resolves, so nothing downloads when the Space wakes up
        assert {f.path for f in spec.files} <= set(preload[spec.repo])
    assert len(data.short_description) <= 60
    assert (makeup_space / "studio" / "apps" / "makeup" / "app.py").is_file()
    assert (makeup_space / "studio" / "ui" / "static" / "widget.js").is_file()
    assert not list((makeup_space / "studio").rglob("*.safetensors")), "weights copied into the Space"
    requirements = (makeup_space / "requirements.txt").read_text().split()
    assert "spaces" in requirements and "mediapipe==0.10.21" in requirements
    assert not any(r.startswith("gradio") for r in requirements), "Gradio comes from sdk_version"
    app_py = (makeup_space / "app.py").read_text()
    assert "spaces.GPU(duration=gpu_seconds(APP, kind))" in app_py


def test_noncommercial_models_are_left_out_unless_asked(tmp_path, capsys):
    from huggingface_hub import SpaceCard

    assert main(["space", "tryon", "--out", str(tmp_path / "a"), "--model", "dmd2-sdxl-4step-lora"]) == 0
    assert "warning: dmd2-sdxl-4step-lora" in capsys.readouterr().err
    data = SpaceCard.load(tmp_path / "a" / "README.md").data
    assert "tianweiy/DMD2" not in data.models and not any("DMD2" in line for line in data.preload_from_hub)
    assert main(["space", "tryon", "--out", str(tmp_path / "b"), "--model", "dmd2-sdxl-4step-lora",
                 "--include-noncommercial"]) == 0  # fmt: skip
    assert "non-commercial work only" in capsys.readouterr().err
    data = SpaceCard.load(tmp_path / "b" / "README.md").data
    assert any("DMD2" in repo for repo in data.models) and "non-commercial" in data.tags
    assert main(["space", "makeup", "--out", str(tmp_path / "c"), "--model", "dmd2-sdxl-4step-lora"]) == 2  # sdxl


def test_gpu_durations_come_from_the_recipe():
    from studio.ui.spaces import gpu_seconds, tier_seconds

    student, teacher = tier_seconds("tryon", "student"), tier_seconds("tryon", "teacher")
    assert 0 < student <= teacher <= 300
    run = gpu_seconds("tryon", "run")
    assert run({"tier": "auto"}) == student and run({"tier": "teacher"}) == teacher
    assert gpu_seconds("tryon", "compare")({}) > teacher
    assert gpu_seconds("tryon", "batch")(["a", "b", "c"], {"tier": "student"}) > 2 * (student - 35)
    assert gpu_seconds("preprocess", "run")({}) == 60  # no recipe: never asked for


def test_spaces_gpu_is_a_no_op_off_zerogpu_and_lite_calls_never_take_a_gpu(settings, preprocessing):
    """The generated app.py's wrapper: the real `spaces` package returns the function itself off ZeroGPU, so the
    page runs as locally; and a wrapper that does move calls (as ZeroGPU does) is used only for diffusion tiers."""
    spaces = pytest.importorskip("spaces")
    from studio.context import RunContext
    from studio.ui.gradio_app import _on_gpu
    from studio.ui.session import needs_gpu
    from studio.apps import get_app

    def fn(params):
        yield params

    assert os.environ.get("SPACES_ZERO_GPU") is None
    assert _on_gpu(lambda f, kind: spaces.GPU(duration=10)(f), fn, "run") == (fn, False)
    ctx = RunContext(settings=settings, preprocess=preprocessing)
    makeup = get_app("makeup")
    assert not needs_gpu(makeup, ctx, {"tier": "lite"}) and not needs_gpu(makeup, ctx, {"tier": "auto"})  # no weights
    assert needs_gpu(makeup, ctx, {"tier": "teacher"}) and not needs_gpu(get_app("preprocess"), ctx, {})


def zerogpu_like(used: list):
    """A GPU wrapper that does what ZeroGPU does with a call: run it in a worker process forked from the server
    (a fresh one per call here), its outputs pickled back to the server's handler."""
    def gpu(fn, kind):
        def lent(*args):
            used.append(kind)
            fork = multiprocessing.get_context("fork")
            queue = fork.Queue()

            def worker():
                import torch

                torch.set_num_threads(1)  # the parent's OpenMP pool does not survive the fork either
                try:
                    for out in fn(*args):
                        queue.put(("out", out))
                    queue.put(("done", None))
                except BaseException as exc:  # noqa: BLE001 -- reported to the server's side
                    queue.put(("error", f"{type(exc).__name__}: {exc}"))

            child = fork.Process(target=worker, daemon=True)
            child.start()
            while True:
                what, value = queue.get(timeout=HANG_GUARD_S)
                if what == "out":
                    yield value
                elif what == "error":
                    raise RuntimeError(value)
                else:
                    break
            child.join(60)

        return lent

    return gpu


def test_diffusion_calls_run_whole_in_a_forked_gpu_worker(tiny_settings):
    """The ZeroGPU decision, end to end on the tiny hub: with weights present the run endpoint hands the call to
    the GPU wrapper, which runs the whole stream — engine and device thread included — in a forked worker, while
    the server's own device thread already exists; the answer reaches gradio_client. Lite calls stay home."""
    from gradio_client import Client
    from test_compare import TEST_APP

    from studio.context import RunContext
    from studio.engine.engine import device_worker
    from studio.preprocess import Preprocessing
    from studio.serve import launch
    from studio.ui.gradio_app import build_page

    device_worker("cpu").submit(lambda: None).result(timeout=60)  # the parent's device thread, which forks lose
    used: list = []
    page = build_page(TEST_APP, RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings)),
                      gpu=zerogpu_like(used))  # fmt: skip
    _, url, _ = launch(page, port=None, block=False)
    try:
        client = Client(url, verbose=False)
        image, pair, badge, gallery, summary = client.submit("student", 1, api_name="/txt2img_test").result(
            timeout=HANG_GUARD_S)  # fmt: skip
        assert used == ["run"] and summary["provenance"]["tier"] == "student" and Path(image).stat().st_size
        client.close()
    finally:
        page.close()


def _submit_after_fork(queue):
    from studio.engine.engine import device_worker

    queue.put(device_worker("cpu").submit(lambda: os.getpid()).result(timeout=20))


def test_a_forked_worker_gets_its_own_device_thread():
    """ZeroGPU forks a worker per GPU call: the engine's device thread must work there (not wait forever for the
    parent's thread, which a fork does not copy)."""
    from studio.engine.engine import device_worker

    assert device_worker("cpu").submit(lambda: 1).result(timeout=20) == 1  # the parent's thread exists
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_submit_after_fork, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and queue.get(timeout=5) == child.pid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_exported_space_serves_and_answers_on_a_real_photo(makeup_space, tmp_path):
    """`python D/app.py` with HF_HUB_OFFLINE=1, from another folder, answers gradio_client like the studio."""
    from gradio_client import Client, handle_file

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}  # fmt: skip
    env.pop("PYTHONPATH", None)
    log = (tmp_path / "space.log").open("w")
    proc = subprocess.Popen([sys.executable, str(makeup_space / "app.py")], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + HANG_GUARD_S
        client = None
        while client is None and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "space.log").read_text()[-3000:]
            try:
                client = Client(url, verbose=False)
            except Exception:  # noqa: BLE001 -- not up yet
                time.sleep(1)
        photo = handle_file(str(fixture("faces/face_woman_nomakeup_freckles_01.png")))
        job = client.submit(source=photo, preset="classic_red", api_name="/makeup")
        image, pair, badge, gallery, summary = job.result(timeout=HANG_GUARD_S)
        assert summary["provenance"]["app"] == "makeup" and summary["provenance"]["tier"] == "lite"
        assert "fallback: unavailable" in badge and Path(image).stat().st_size > 10_000
        named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert {"/makeup", "/makeup_compare", "/makeup_live", "/makeup_batch"} <= set(named)
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    assert "Traceback" not in (tmp_path / "space.log").read_text()
