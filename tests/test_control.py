"""ControlNet conditioning images: weight-free kinds on real photos, clear errors for the rest."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture

from studio.errors import InputError, NoFaceFound, PreprocessorUnavailable
from studio.imaging import load_image
from studio.preprocess.control import KINDS, WEIGHT_FREE_KINDS, ControlImages

PERSON = "people/person_woman_dark_skin_afro_front_01.jpg"
LANDSCAPE = "people/person_woman_side_view_upperbody_01.jpg"  # 852×480: short side not a multiple of 64
FACE = "faces/face_woman_light_astronaut_nomakeup_01.png"
NO_FACE = "faces/noface_rocket_launchpad_night_01.jpg"

WEIGHTED = {
    "openpose": ["body_pose_model.pth", "hand_pose_model.pth", "facenet.pth"],
    "hed": ["ControlNetHED.pth"],
    "depth": ["dpt_hybrid-midas-501f0c75.pt"],
    "lineart": ["sk_model.pth", "sk_model2.pth"],
}


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return {rel: load_image(fixture(rel)) for rel in (PERSON, LANDSCAPE, FACE, NO_FACE)}


@pytest.fixture(scope="module")
def offline_controls() -> ControlImages:
    """No annotators folder, whatever STUDIO_ANNOTATORS_DIR says on this machine."""
    return ControlImages(None)


def test_kinds_listed():
    assert set(WEIGHT_FREE_KINDS) == {"canny", "mediapipe_face", "lineart_standard"}
    assert set(KINDS) == set(WEIGHT_FREE_KINDS) | set(WEIGHTED)
    assert ControlImages(None).available_kinds() == list(WEIGHT_FREE_KINDS)


@pytest.mark.parametrize("rel", [PERSON, LANDSCAPE])
def test_canny_edges_at_input_size(preprocessing, images, rel):
    rgb = images[rel]
    edges = preprocessing.control(rgb, "canny")
    assert edges.shape == rgb.shape and edges.dtype == np.uint8
    on = edges.max(axis=2) > 0
    assert 0.01 < on.mean() < 0.4, f"edge density {on.mean():.3f} is implausible"
    # Cached: the same image and kind returns the stored render, not a new one.
    assert preprocessing.control(rgb, "canny") is edges


def test_canny_edges_follow_the_person(images, offline_controls):
    rgb = images[PERSON]
    on = offline_controls.render(rgb, "canny").max(axis=2) > 0
    h, w = on.shape
    # Plain studio background: the outer tenth on either side holds far fewer edges than the centre.
    sides = np.concatenate([on[:, : w // 10], on[:, -w // 10 :]], axis=1).mean()
    centre = on[:, w // 3 : 2 * w // 3].mean()
    assert centre > 3 * sides


def test_mediapipe_face_draws_the_face(images, preprocessing):
    rgb = images[FACE]
    out = preprocessing.control(rgb, "mediapipe_face")
    assert out.shape == rgb.shape and out.dtype == np.uint8
    ys, xs = np.nonzero(out.max(axis=2))
    assert len(ys) > 200, "hardly anything drawn"
    h, w = rgb.shape[:2]
    # The astronaut portrait's face is in the upper-middle of the picture.
    assert w * 0.2 < xs.mean() < w * 0.8 and ys.mean() < h * 0.6


def test_mediapipe_face_without_a_face_raises(images, offline_controls):
    with pytest.raises(NoFaceFound, match="MediaPipe face"):
        offline_controls.render(images[NO_FACE], "mediapipe_face")


def test_lineart_standard(images, offline_controls):
    rgb = images[LANDSCAPE]
    out = offline_controls.render(rgb, "lineart_standard")
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert (out.max(axis=2) > 32).mean() > 0.005


@pytest.mark.parametrize("kind", sorted(WEIGHTED))
def test_weight_needing_kinds_without_folder_explain_what_to_fetch(images, offline_controls, kind):
    with pytest.raises(PreprocessorUnavailable) as err:
        offline_controls.render(images[PERSON], kind)
    msg = str(err.value)
    assert f"'{kind}'" in msg and "STUDIO_ANNOTATORS_DIR" in msg and "lllyasviel/Annotators" in msg
    for name in WEIGHTED[kind]:
        assert name in msg
        assert name in err.value.fetch_command
    assert not offline_controls.available(kind)


@pytest.mark.parametrize("kind", sorted(WEIGHTED))
def test_weight_needing_kinds_with_empty_folder_name_it(images, tmp_path, kind):
    controls = ControlImages(tmp_path)
    with pytest.raises(PreprocessorUnavailable) as err:
        controls.render(images[PERSON], kind)
    assert str(tmp_path) in str(err.value)
    assert controls.missing_files(kind) == WEIGHTED[kind]


def test_partial_folder_names_only_the_missing_file(images, tmp_path):
    (tmp_path / "sk_model.pth").write_bytes(b"x")
    controls = ControlImages(tmp_path)
    assert controls.missing_files("lineart") == ["sk_model2.pth"]
    with pytest.raises(PreprocessorUnavailable, match="sk_model2.pth is missing from"):
        controls.render(images[PERSON], "lineart")


def test_corrupt_weights_are_reported_not_crashed_on(images, tmp_path):
    (tmp_path / "ControlNetHED.pth").write_bytes(b"this is not a checkpoint")
    controls = ControlImages(tmp_path)
    assert controls.available("hed")
    with pytest.raises(PreprocessorUnavailable, match="could not be loaded"):
        controls.render(images[PERSON], "hed")


def test_unknown_kind_and_bad_input(images, offline_controls):
    with pytest.raises(InputError) as err:
        offline_controls.render(images[PERSON], "sketchy")
    for kind in KINDS:
        assert kind in str(err.value)
    with pytest.raises(InputError, match="RGB uint8"):
        offline_controls.render(images[PERSON].astype(np.float32), "canny")
