"""Reliability through the real server (issue 11): many different clients at once, and a long run of requests.

The makeup app's lite tier (real MediaPipe on the fixture faces) behind a real Gradio server, called through
`gradio_client`, as a crowd would: 20 clients with different photos and looks at the same moment, and 100 requests
one after another. Every answer must be whole and its own, and the server's memory must level off. (The bad-input
matrix is in test_contract.py; identical clients, dropped clients, the full queue and upload limits are in
test_api.py; `benchmarks/reliability.py` prints the figures: latency percentiles, peak RSS, disconnect-to-idle.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from conftest import HANG_GUARD_S, fixture

FACES = ["face_man_dark_skin_official_portrait_01.jpg", "face_man_east_asian_young_01.jpg",
         "face_man_elderly_light_smiling_01.jpg", "face_woman_elderly_red_lipstick_01.jpg",
         "face_woman_light_astronaut_nomakeup_01.png", "face_woman_nomakeup_freckles_01.png",
         "faces_multi_two_women_outdoor_01.jpg"]  # fmt: skip
PRESETS = ["natural", "classic_red", "smoky", "coral", "berry", "nude"]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module")
def makeup_server(tmp_path_factory):
    """The makeup page on its own server, and 7 fixture faces made small (the crowd is about the server, not the
    megapixels: every photo at ~400 px keeps 20 concurrent lite runs to seconds on 2 cores)."""
    from studio.apps import get_app
    from studio.serve import launch, make_context
    from studio.ui.gradio_app import build_page

    folder = tmp_path_factory.mktemp("crowd")
    photos = []
    for name in FACES:
        image = Image.open(fixture(f"faces/{name}")).convert("RGB")
        image.thumbnail((400, 400))
        path = folder / f"{Path(name).stem}.png"
        image.save(path)
        photos.append(path)
    page = build_page(get_app("makeup"), make_context())
    _, url, _ = launch(page, port=None, block=False)
    yield url, photos
    page.close()


def _answer(final, photo: Path, preset: str) -> None:
    """A whole image of the photo's own size, mostly the photo itself (makeup changes a face, not the frame), and
    a summary naming the look that was asked for."""
    image_path, summary = final[0], next(x for x in final if isinstance(x, dict) and "info" in x)
    with Image.open(image_path) as im:
        im.load()
        out = np.asarray(im.convert("RGB"), np.int16)
    src = np.asarray(Image.open(photo).convert("RGB"), np.int16)
    assert out.shape == src.shape, f"{photo.name}/{preset}: an answer of another size came back"
    unchanged = (np.abs(out - src).max(axis=2) <= 2).mean()
    assert unchanged > 0.8, f"{photo.name}/{preset}: only {unchanged:.0%} of the frame is the client's own photo"
    assert summary["info"]["look"]["name"] == preset, f"{photo.name}: the answer carries another look"


def test_twenty_different_clients_at_once_each_get_their_own_whole_answer(makeup_server):
    url, photos = makeup_server
    requests = [(photos[i % len(photos)], PRESETS[i % len(PRESETS)]) for i in range(20)]
    assert len(set(requests)) == 20

    def one(request):
        photo, preset = request
        client = Client(url, verbose=False)
        try:
            job = client.submit(source=handle_file(str(photo)), preset=preset, tier="lite", api_name="/makeup")
            return job.result(timeout=HANG_GUARD_S)  # a hang guard only, never a speed limit
        finally:
            client.close()

    with ThreadPoolExecutor(20) as pool:
        finals = list(pool.map(one, requests))
    for final, (photo, preset) in zip(finals, requests):
        _answer(final, photo, preset)
    assert len({Path(final[0]).name for final in finals}) == 20, "two clients were given one result file"


def test_a_hundred_requests_in_a_row_keep_memory_level(makeup_server):
    """After a warm-up (detectors loaded, caches filled to their bound), 90 more requests with changing inputs may
    not grow the process by more than a few photos' worth: nothing per request is kept."""
    url, photos = makeup_server
    client = Client(url, verbose=False)

    def request(i):
        photo, preset = photos[i % len(photos)], PRESETS[i % len(PRESETS)]
        final = client.predict(source=handle_file(str(photo)), preset=preset, tier="lite", api_name="/makeup")
        if i % 10 == 0:
            _answer(final, photo, preset)

    for i in range(10):
        request(i)
    warm = _rss_mb()
    samples = []
    for i in range(10, 100):
        request(i)
        samples.append(_rss_mb())
    client.close()
    grown = max(samples) - warm
    late = max(samples[-30:]) - max(samples[:30])
    assert grown < 250, f"RSS grew {grown:.0f} MB over 90 requests after warm-up ({warm:.0f} MB)"
    assert late < 80, f"RSS still climbing: the last 30 requests peaked {late:.0f} MB above the first 30"
