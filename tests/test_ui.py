"""The studio served for real and called through gradio_client, the way API users call it."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file

from bad_inputs import BAD_INPUT_NAMES, make_inputs
from conftest import HANG_GUARD_S, fixture


@pytest.fixture(scope="module")
def studio_client():
    from studio.serve import build_blocks, launch, make_context

    blocks = build_blocks(None, make_context())
    _, local_url, _ = launch(blocks, port=None, block=False)
    client = Client(local_url, verbose=False)
    yield client
    client.close()
    blocks.close()


def test_api_lists_the_inspector_endpoint(studio_client):
    info = studio_client.view_api(return_format="dict", print_info=False)
    assert "/preprocess" in info["named_endpoints"]


def test_inspector_round_trip_on_a_real_photo(studio_client):
    job = studio_client.submit(handle_file(str(fixture("faces/faces_multi_two_women_outdoor_01.jpg"))), 4, "upper",
                               True, api_name="/preprocess")  # fmt: skip
    final = job.result(timeout=HANG_GUARD_S)  # a hang guard: a stuck queue would otherwise block forever
    streamed = job.outputs()
    image, before_after, badge, gallery, summary = final
    assert image and "lite" in badge
    assert len(before_after) == 2  # (photo, overlay) for the before/after slider
    captions = [item["caption"] for item in gallery]
    assert "landmarks" in captions and "mask: lips" in captions and "control: canny" in captions
    assert len(summary["info"]["faces"]) == 2
    assert summary["provenance"]["timings_ms"]["faces"] > 0  # measured, not a placeholder
    # Previews stream to the client before the result, and result() is the final yield (the Result).
    assert len(streamed) >= 2 and streamed[-1] == final


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", sorted(BAD_INPUT_NAMES))
def test_bad_and_awkward_uploads(studio_client, bad_inputs, name):
    path, expected = bad_inputs[name]
    if expected is None:
        job = studio_client.submit(handle_file(str(path)), 4, "upper", False, api_name="/preprocess")
        *_, summary = job.result(timeout=HANG_GUARD_S)  # a hang guard, not a speed limit
        assert abs(summary["info"]["faces"][0]["roll_deg"]) < 20
    else:
        with pytest.raises(Exception) as info:
            studio_client.predict(handle_file(str(path)), 4, "upper", False, api_name="/preprocess")
        assert expected in str(info.value)


def test_photo_without_face_or_person_is_explained(studio_client):
    with pytest.raises(Exception, match="No face and no person"):
        studio_client.predict(handle_file(str(fixture("faces/noface_rocket_launchpad_night_01.jpg"))), 4, "upper",
                              False, api_name="/preprocess")  # fmt: skip


def test_endpoints_take_the_apps_parameter_names_and_defaults(studio_client, settings):
    """API users call with keywords named after the app's parameters and may leave optional ones out."""
    from studio.examples import sample_image

    info = studio_client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = [p["parameter_name"] for p in info["/makeup"]["parameters"]]
    assert names[:3] == ["source", "reference", "preset"] and "tier" in names
    face = sample_image("astronaut", settings.cache_dir)  # ships with scikit-image: runs without the fixtures
    job = studio_client.submit(source=handle_file(str(face)), preset="berry", api_name="/makeup")
    *_, summary = job.result(timeout=HANG_GUARD_S)  # a hang guard, not a speed limit
    assert summary["provenance"]["app"] == "makeup"


def test_results_come_back_as_png(studio_client, settings):
    """The result (and the after side of the before/after pair) reaches an API caller as a lossless PNG, not WebP."""
    from studio.examples import sample_image

    face = sample_image("astronaut", settings.cache_dir)  # ships with scikit-image: runs without the fixtures
    job = studio_client.submit(handle_file(str(face)), 1, "upper", False, api_name="/preprocess")
    image, (_, after), *_ = job.result(timeout=HANG_GUARD_S)  # a hang guard, not a speed limit
    for path in (image, after):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
