"""Scale-out on a local Ray instance (studio/scale): `studio batch --ray` writes the same images as a local batch
and the same report, resumes, and lists a photo without a face as a failed row; `studio serve-ray`'s deployment
answers like the Gradio endpoint, with requests batched. One 2-CPU Ray instance for the whole module (it takes
seconds to start on a busy 2-core machine); small real photos."""

from __future__ import annotations

import base64
import io
import json
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import fixture

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[scale]'): the Ray tests skip")

from studio.apps import get_app  # noqa: E402
from studio.batch import REPORT, run_batch  # noqa: E402
from studio.cli import main  # noqa: E402
from studio.imaging import load_image  # noqa: E402
from studio.scale.ray_batch import run_ray_batch  # noqa: E402

FACES = ("faces/face_woman_nomakeup_freckles_01.png", "faces/faces_multi_two_women_outdoor_01.jpg",
         "faces/noface_rocket_launchpad_night_01.jpg")  # fmt: skip


@pytest.fixture(scope="module")
def ray_instance():
    from studio.scale import ray_session

    with ray_session(num_cpus=2) as ray:
        yield ray


def _linked(folder, relpaths):
    folder.mkdir(parents=True)
    for rel in relpaths:  # links, not copies: the fixtures stay where they are
        (folder / fixture(rel).name).symlink_to(fixture(rel))
    return folder


def _same_images(local_dir, ray_dir, summary):
    outputs = [e["output"] for e in summary["results"] if "output" in e]
    assert outputs
    for name in outputs:
        assert np.array_equal(load_image(local_dir / name), load_image(ray_dir / name)), name


def test_makeup_batch_on_ray_matches_the_local_batch_and_resumes(ray_instance, ctx, tmp_path):
    app = get_app("makeup")
    values = {"source": _linked(tmp_path / "faces", FACES), "preset": "berry", "tier": "lite"}
    local = run_batch(app, ctx, tmp_path / "local", values)
    seen = []
    remote = run_ray_batch(app, tmp_path / "ray", values, lambda d, n, e: seen.append(e), workers=2)
    assert (remote["rows"], remote["done"], remote["failed"]) == (3, 2, 1) and len(seen) == 3
    failed = [e for e in remote["results"] if "error" in e]
    assert failed[0]["source"] == "noface_rocket_launchpad_night_01.jpg" and "No face found" in failed[0]["error"]
    _same_images(tmp_path / "local", tmp_path / "ray", local)
    lines = [json.loads(line) for line in (tmp_path / "ray" / REPORT).read_text().splitlines()]
    assert len(lines) == 3 and all(line["worker"] for line in lines)
    assert next(e for e in remote["results"] if e["row"].startswith("faces_multi"))["info"]["faces"] == 2
    faces = _linked(tmp_path / "with_faces", FACES[:2])  # the same photos: their rows are done
    again = run_ray_batch(app, tmp_path / "ray", {**values, "source": faces}, lambda d, n, e: seen.append(e))
    assert (again["skipped"], again["done"], len(seen)) == (2, 2, 3)  # nothing ran, no actor started


def test_tryon_people_by_garments_on_ray_through_the_cli(ray_instance, ctx, tmp_path, capsys):
    app = get_app("tryon")
    people = _linked(tmp_path / "people", ("people/person_woman_dark_skin_front_tee_01.jpg",
                                           "faces/noface_rocket_launchpad_night_01.jpg"))  # fmt: skip
    garments = _linked(tmp_path / "garments", ("garments/garment_tshirt_blue_lace_sleeves_01.jpg",
                                               "garments/garment_polo_shirt_colorblock_01.jpg"))  # fmt: skip
    code = main(["batch", "tryon", "--person", str(people), "--garment", str(garments), "--tier", "lite",
                 "--out", str(tmp_path / "ray"), "--ray"])  # fmt: skip
    assert code == 0
    remote = json.loads(capsys.readouterr().out)
    assert (remote["rows"], remote["done"]) == (4, 2)
    assert "No person found" in next(e["error"] for e in remote["results"] if "error" in e)
    local = run_batch(app, ctx, tmp_path / "local", {"person": people, "garment": garments, "tier": "lite"})
    _same_images(tmp_path / "local", tmp_path / "ray", local)
    assert (tmp_path / "ray" / "person_woman_dark_skin_front_tee_01__garment_tshirt_blue_lace_sleeves_01_tryon.png"
            ).exists()  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_ray_answers_like_the_endpoint_with_batched_requests(ray_instance):
    from ray import serve

    from studio.scale.serve import build

    app, port = get_app("makeup"), _free_port()
    face = base64.b64encode(fixture(FACES[0]).read_bytes()).decode()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        handle = serve.run(build(app, max_batch_size=4, batch_wait_s=0.5), name="makeup", route_prefix="/makeup")
        url = f"http://127.0.0.1:{port}/makeup"
        with urllib.request.urlopen(url, timeout=60) as response:
            described = json.loads(response.read())
        assert described["app"] == "makeup" and "preset" in [p["name"] for p in described["params"]]
        with ThreadPoolExecutor(4) as pool:  # four requests at once: one replica runs them as a batch
            answers = list(pool.map(lambda preset: _post(url, {"source": face, "preset": preset, "tier": "lite"}),
                                    ("berry", "nude", "berry", "classic_red")))  # fmt: skip
        assert [status for status, _ in answers] == [200] * 4
        status, body = answers[0]
        image = load_image(io.BytesIO(base64.b64decode(body["image"])))
        assert image.shape == load_image(fixture(FACES[0])).shape and body["summary"]["provenance"]["tier"] == "lite"
        assert np.array_equal(image, load_image(io.BytesIO(base64.b64decode(answers[2][1]["image"]))))
        rocket = base64.b64encode(fixture(FACES[2]).read_bytes()).decode()
        status, body = _post(url, {"source": rocket, "preset": "berry"})
        assert status == 400 and "No face found" in body["error"]
        status, body = _post(url, {"source": "not base64!", "preset": "berry"})
        assert status == 400 and "base64" in body["error"]
        status, body = handle.run_batch.remote({"source": fixture(FACES[0]).read_bytes(), "preset": "plum"}).result()
        assert status == 400 and "'Look' must be one of" in body["error"]
    finally:
        serve.shutdown()
