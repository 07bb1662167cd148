"""The Preprocess inspector app through its Python API (what notebooks and scripts call)."""

from __future__ import annotations

import pytest

from bad_inputs import BAD_INPUT_NAMES, make_inputs
from conftest import fixture
from studio.errors import InputError
from studio.schema import Preview, Result


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("preprocess")


def test_streams_previews_then_a_result(app, ctx):
    items = list(app.stream(ctx, image=str(fixture("people/person_woman_light_front_ruffle_top_01.jpg"))))
    assert all(isinstance(i, Preview) for i in items[:-1]) and len(items) >= 2
    result = items[-1]
    assert isinstance(result, Result)
    assert result.provenance.tier == "lite" and result.provenance.app == "preprocess"
    assert {"faces", "regions", "pose", "person_mask"} <= set(result.provenance.timings_ms)
    assert result.info["faces"] and result.info["pose"] is not None
    assert {"landmarks", "mask: lips", "pose skeleton", "person mask", "clothing: upper"} <= set(result.extras)
    assert result.info["controls"]["canny"] == "available"
    assert "STUDIO_ANNOTATORS_DIR" in result.info["controls"]["openpose"]
    assert result._repr_png_().startswith(b"\x89PNG")


def test_parameters_are_validated(app, ctx):
    photo = str(fixture("faces/face_man_east_asian_young_01.jpg"))
    with pytest.raises(InputError, match="Max faces"):
        app(ctx, image=photo, max_faces=99)
    with pytest.raises(InputError, match="Clothing region"):
        app(ctx, image=photo, clothing="hat")
    with pytest.raises(InputError, match="Unknown parameter"):
        app(ctx, image=photo, colour="red")
    with pytest.raises(InputError, match="required"):
        app(ctx)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", BAD_INPUT_NAMES)
def test_bad_and_awkward_inputs(app, ctx, bad_inputs, name):
    path, expected = bad_inputs[name]
    if expected is None:
        result = app(ctx, image=str(path), with_controls=False)
        assert abs(result.info["faces"][0]["roll_deg"]) < 20
    else:
        with pytest.raises(InputError, match=expected):
            app(ctx, image=str(path), with_controls=False)
