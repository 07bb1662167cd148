"""Face analysis on real photos: detection, the 478-point mesh, region masks, aligned crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import FRONTAL_FACES
from studio.errors import NoFaceFound
from studio.preprocess.regions import REGION_NAMES


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    assert len(xs), "empty mask"
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("relpath", FRONTAL_FACES)
def test_frontal_faces_are_found_with_full_mesh(preprocessing, load_rgb, relpath):
    rgb = load_rgb(relpath)
    faces = preprocessing.faces(rgb)
    assert len(faces) >= 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3)
    assert face.is_frontal, f"yaw {face.yaw_deg:.0f}° on a frontal photo"
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= rgb.shape[1] and 0 <= y0 < y1 <= rgb.shape[0]


@pytest.mark.parametrize("relpath", FRONTAL_FACES)
def test_regions_lie_on_the_right_features(preprocessing, load_rgb, relpath):
    face = preprocessing.faces(load_rgb(relpath))[0]
    r = face.regions
    for name in REGION_NAMES:
        assert r.area(name) > 0, f"region {name} is empty"
    # Subject-left features appear on the image's right in an unmirrored photo.
    assert centroid(r.local("left_eye"))[0] > centroid(r.local("right_eye"))[0]
    assert centroid(r.local("left_cheek"))[0] > centroid(r.local("right_cheek"))[0]
    for side in ("left", "right"):
        eye, brow = centroid(r.local(f"{side}_eye")), centroid(r.local(f"{side}_brow"))
        shadow = centroid(r.local(f"{side}_eyeshadow"))
        assert brow[1] < shadow[1] < eye[1] + 1, "eyeshadow must sit between the brow and the eye"
        assert centroid(r.local(f"{side}_cheek"))[1] > eye[1], "cheek below the eye"
        iris = r.local(f"{side}_iris") > 0
        assert not np.any(iris & (r.local(f"{side}_eye") == 0)), "iris must stay inside the eye opening"
        liner = centroid(r.local(f"{side}_eyeliner"))
        assert liner[1] < eye[1], "eyeliner follows the upper lash line"
    lips, mouth = centroid(r.local("lips")), centroid(r.local("inner_mouth"))
    assert lips[1] > centroid(r.local("eyes"))[1]
    assert abs(lips[0] - mouth[0]) < 0.1 * (face.box[2] - face.box[0])
    # Lips are the ring between the outer and inner contours: they never cover the mouth opening.
    assert not np.any((r.local("lips") > 0) & (r.local("inner_mouth") > 0))
    skin = r.local("skin") > 0
    for feature in ("lips", "inner_mouth", "eyes", "brows"):
        assert not np.any(skin & (r.local(feature) > 0)), f"skin overlaps {feature}"
    assert np.all(r.local("head")[r.local("face_oval") > 0] > 0), "head contains the face"


def test_red_lipstick_is_redder_than_skin(preprocessing, load_rgb):
    rgb = load_rgb("faces/face_woman_makeup_red_lips_smoky_eyes_01.png")
    face = preprocessing.faces(rgb)[0]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    a_lips = lab[..., 1][face.regions.full("lips") > 0].mean()
    a_skin = lab[..., 1][face.regions.full("skin") > 0].mean()
    assert a_lips > a_skin + 10, (a_lips, a_skin)


def test_two_faces_largest_first(preprocessing, load_rgb):
    faces = preprocessing.faces(load_rgb("faces/faces_multi_two_women_outdoor_01.jpg"))
    assert len(faces) == 2
    assert faces[0].area >= faces[1].area
    # The two faces are side by side, not the same face twice.
    assert abs(faces[0].box[0] - faces[1].box[0]) > 50
    assert len(preprocessing.faces(load_rgb("faces/faces_multi_two_women_outdoor_01.jpg"), max_faces=1)) == 1


def test_no_face_gives_clear_error(preprocessing, load_rgb):
    rgb = load_rgb("faces/noface_rocket_launchpad_night_01.jpg")
    assert preprocessing.faces(rgb) == []
    with pytest.raises(NoFaceFound, match="No face found in the source photo"):
        preprocessing.require_faces(rgb, what="the source photo")


def test_profile_is_found_but_flagged(preprocessing, load_rgb):
    faces = preprocessing.faces(load_rgb("faces/face_profile_woman_facing_right_01.png"))
    assert len(faces) == 1
    face = faces[0]
    assert not face.is_frontal and abs(face.yaw_deg) > 45
    assert any("turned" in note for note in face.notes)


def test_small_face_in_large_photo(preprocessing, load_rgb):
    # A 60-px-wide face in a 1600×1200 frame: too small for the mesh's short-range detector.
    face_rgb = load_rgb("faces/face_woman_light_astronaut_nomakeup_01.png")
    small = cv2.resize(face_rgb, (130, 130), interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 90, np.uint8)
    canvas[700:830, 1100:1230] = small
    faces = preprocessing.faces(canvas)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 1100 <= x0 and x1 <= 1230 and 700 <= y0 and y1 <= 830


def test_grayscale_photo(preprocessing, load_rgb):
    rgb = load_rgb("faces/face_man_elderly_light_smiling_01.jpg")
    gray = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    assert len(preprocessing.faces(gray)) == 1


def test_results_are_cached_by_digest(preprocessing, load_rgb):
    rgb = load_rgb("faces/face_man_east_asian_young_01.jpg")
    first = preprocessing.faces(rgb)
    hits = preprocessing._cache.hits
    again = preprocessing.faces(rgb.copy())  # same pixels, different array: same digest
    assert again is first and preprocessing._cache.hits == hits + 1


def test_aligned_crop_levels_eyes_and_pastes_back(preprocessing, load_rgb):
    rgb = load_rgb("faces/face_man_east_asian_young_01.jpg")  # head tilted a little
    face = preprocessing.faces(rgb)[0]
    crop = face.aligned_crop(rgb, size=256)
    assert crop.image.shape == (256, 256, 3)
    right_eye = crop.landmarks[[33, 133, 159, 145]].mean(axis=0)
    left_eye = crop.landmarks[[263, 362, 386, 374]].mean(axis=0)
    assert abs(right_eye[1] - left_eye[1]) < 3, "eyes level after alignment"
    assert left_eye[0] > right_eye[0]
    # Pasting the unedited crop back changes nothing visible and nothing outside the face area.
    back = crop.paste_back(crop.image, rgb)
    inside = face.regions.full("face_oval") > 0
    diff = np.abs(back.astype(int) - rgb.astype(int))
    assert diff[inside].mean() < 4
    assert np.array_equal(back[:10, :10], rgb[:10, :10])
    # An edited crop (painted red) shows up in the face and not in the corners.
    edited = np.zeros_like(crop.image)
    edited[..., 0] = 255
    red = crop.paste_back(edited, rgb)
    assert red[inside][:, 0].mean() > 200
    assert np.array_equal(red[:10, :10], rgb[:10, :10])
