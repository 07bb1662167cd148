"""One contract for every registered app and every front-end (DESIGN §5: the front-ends are generated from the
same schema): the same inputs through Python (`app(ctx, **values)`), the `studio run` command and
`gradio_client` against a real server give an image of the same size, with the same provenance tier — and
the same pixels, once the image has made the trip each front-end gives it (PNG files from both: lossless).

The inputs are each app's first example (`App.examples(settings)`, built from photos that ship with installed
packages) at the lite tier, so the test needs no fixture photos and no weights, and covers a new app as soon as
it is registered. One run per app per front-end; one server, started once, serves every app.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import HANG_GUARD_S, REPO

from studio.apps import all_apps

APPS = {app.id: app for app in all_apps()}


def inputs(app, settings) -> dict:
    """The app's first example, at the lite tier when the app has tiers."""
    examples = app.examples(settings)
    assert examples, f"app '{app.id}' has no examples: every app ships one (it is also the page's first example)"
    values = dict(examples[0])
    if any(p.name == "tier" for p in app.params):
        values["tier"] = "lite"
    return values


def studio_command() -> list[str]:
    """The installed `studio` console script next to this Python (the venv's), else the module."""
    script = Path(sys.executable).with_name("studio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "studio.cli"]


def cli_flags(app, values: dict) -> list[str]:
    flags = []
    for name, value in values.items():
        flag = f"--{name.replace('_', '-')}"
        if app.param(name).kind == "toggle":
            flags.append(flag if value else f"--no-{flag[2:]}")
        else:
            flags += [flag, str(value)]
    return flags


@pytest.fixture(scope="module")
def server():
    """Every app in one Gradio server, as `python launch.py` serves them, and a client for it."""
    from gradio_client import Client

    from studio.serve import build_blocks, launch, make_context

    blocks = build_blocks(None, make_context())
    _, local_url, _ = launch(blocks, port=None, block=False)
    client = Client(local_url, verbose=False)
    yield client, client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    client.close()
    blocks.close()


def run_python(app, ctx, values: dict) -> tuple[np.ndarray, str]:
    result = app(ctx, **values)
    assert result.image is not None, f"{app.id}: the Python call returned no image"
    return result.image, result.provenance.tier


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def as_delivered(image: np.ndarray, path: str) -> np.ndarray:
    """`image` after the trip a front-end's file format gives it: Gradio sends numpy results as (lossy) WebP
    encoded with PIL's defaults; PNG is lossless."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=suffix.lstrip("."))
    buffer.seek(0)
    return read(buffer)


def run_cli(app, values: dict, tmp_path: Path) -> tuple[np.ndarray, str, str]:
    out = tmp_path / "cli.png"
    command = [*studio_command(), "run", app.id, *cli_flags(app, values), "--out", str(out)]
    # The timeout only stops a command that hangs, never a slow run.
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=HANG_GUARD_S)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr}"
    summary = json.loads(done.stdout)
    return read(out), summary["provenance"]["tier"], str(out)


def run_gradio(app, values: dict, server) -> tuple[np.ndarray, str, str]:
    from gradio_client import handle_file

    from studio.ui.gradio_app import api_name

    client, endpoints = server
    endpoint = f"/{api_name(app)}"
    assert endpoint in endpoints, f"the server has no {endpoint} endpoint; it has {', '.join(endpoints)}"
    kinds = [r["component"] for r in endpoints[endpoint]["returns"]]
    image_at, summary_at = kinds.index("Image"), kinds.index("Json")
    payload = {k: handle_file(v) if app.param(k).kind == "image" else v for k, v in values.items()}
    final = client.submit(**payload, api_name=endpoint).result(timeout=HANG_GUARD_S)  # a hang guard only
    return read(final[image_at]), final[summary_at]["provenance"]["tier"], final[image_at]


@pytest.mark.parametrize("app_id", sorted(APPS))
def test_every_front_end_gives_the_same_result(app_id, settings, ctx, server, tmp_path):
    app = APPS[app_id]
    values = inputs(app, settings)
    image, tier = run_python(app, ctx, values)
    results = {"python": (image, tier, "result.png"), "cli": run_cli(app, values, tmp_path),
               "gradio_client": run_gradio(app, values, server)}  # fmt: skip
    sizes = {name: got.shape[:2] for name, (got, _, _) in results.items()}
    tiers = {name: got for name, (_, got, _) in results.items()}
    assert len(set(sizes.values())) == 1, f"{app_id} with {values}: image sizes differ between front-ends: {sizes}"
    assert len(set(tiers.values())) == 1, f"{app_id} with {values}: provenance tiers differ: {tiers}"
    if "tier" in values:
        assert tier == "lite", f"{app_id}: asked for the lite tier, got {tiers}"
    # The same inputs reached the app: a front-end that dropped or changed a parameter gives other pixels.
    for name, (got, _, path) in results.items():
        differ = np.count_nonzero(np.any(got != as_delivered(image, path), axis=-1))
        assert differ == 0, f"{app_id} with {values}: {name}'s image differs from Python's in {differ} pixels"
