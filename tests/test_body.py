"""Body preprocessing on real photos: MediaPipe pose (stills and video), person mask, OpenPose render, clothing
regions."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest
from conftest import fixture

from studio.errors import InputError, NoPersonFound
from studio.imaging import load_image
from studio.preprocess.clothing import CLOTHING_CATEGORIES, clothing_region
from studio.preprocess.pose import OPENPOSE18, POSE_LANDMARKS, BodyAnalyzer, BodyPose, render_openpose

FRONT = [
    "people/person_man_arms_crossed_fullbody_01.jpg",
    "people/person_man_light_fullbody_front_01.png",
    "people/person_woman_dark_skin_afro_front_01.jpg",
    "people/person_woman_dark_skin_front_tee_01.jpg",
    "people/person_woman_light_front_ruffle_top_01.jpg",
    "people/person_woman_light_front_sleeveless_01.jpg",
]
SIDE = "people/person_woman_side_view_upperbody_01.jpg"
PEOPLE = FRONT + [SIDE]
NO_PERSON = "faces/noface_rocket_launchpad_night_01.jpg"


class Analysis:
    def __init__(self, rgb, pose, mask):
        self.rgb, self.pose, self.mask = rgb, pose, mask


@pytest.fixture(scope="module")
def analyses(preprocessing) -> dict[str, Analysis]:
    """Pose and person mask of every people photo, computed once through the shared (cached) service."""
    out = {}
    for rel in PEOPLE:
        rgb = load_image(fixture(rel))
        out[rel] = Analysis(rgb, preprocessing.pose(rgb), preprocessing.person_mask(rgb))
    return out


def torso_quad(pose: BodyPose) -> np.ndarray:
    """uint8 mask of the shoulder-hip quadrilateral (clipped to the image)."""
    h, w = pose.image_size
    quad = np.zeros((h, w), np.uint8)
    pts = [pose.point(n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
    cv2.fillPoly(quad, [np.round(pts).astype(np.int32)], 255)
    return quad


# ------------------------------------------------------------------------------------------ pose


def test_landmark_names_match_mediapipe():
    import mediapipe as mp

    assert POSE_LANDMARKS == tuple(lm.name.lower() for lm in mp.solutions.pose.PoseLandmark)


@pytest.mark.parametrize("rel", PEOPLE)
def test_pose_found_on_every_person_photo(analyses, rel):
    a = analyses[rel]
    assert a.pose is not None, f"no pose on {rel}"
    assert a.pose.keypoints.shape == (33, 4) and a.pose.keypoints.dtype == np.float32
    assert a.pose.image_size == a.rgb.shape[:2]
    assert np.all((a.pose.keypoints[:, 3] >= 0) & (a.pose.keypoints[:, 3] <= 1))


@pytest.mark.parametrize("rel", FRONT)
def test_front_facing_pose_is_anatomically_placed(analyses, rel):
    pose = analyses[rel].pose
    for part in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose"):
        assert pose.visible(part), f"{part} not visible on {rel}"
    # Subject's left is on the image's right in an unmirrored photo of someone facing the camera.
    assert pose.point("left_shoulder")[0] > pose.point("right_shoulder")[0]
    assert pose.point("left_hip")[0] > pose.point("right_hip")[0]
    shoulders_y = (pose.point("left_shoulder")[1] + pose.point("right_shoulder")[1]) / 2
    hips_y = (pose.point("left_hip")[1] + pose.point("right_hip")[1]) / 2
    assert pose.point("nose")[1] < shoulders_y < hips_y


def test_point_lookup_and_visibility(analyses):
    pose = analyses[FRONT[1]].pose
    assert np.array_equal(pose.point("left_shoulder"), pose.point(11))
    assert np.array_equal(pose.point("LEFT_SHOULDER"), pose.keypoints[11, :2])
    with pytest.raises(KeyError, match="left_shoulder"):
        pose.point("left_shoulders")
    with pytest.raises(KeyError):
        pose.point(33)
    # Off-frame points are never "visible", however confident the model is.
    off = BodyPose(pose.keypoints.copy(), pose.image_size)
    off.keypoints[0, :2] = (-10, -10)
    off.keypoints[0, 3] = 1.0
    assert not off.visible("nose")


def test_openpose18_order_and_neck(analyses):
    pose = analyses[FRONT[2]].pose
    op = pose.openpose18()
    assert op.shape == (18, 3) and len(OPENPOSE18) == 18
    assert np.allclose(op[0, :2], pose.point("nose"))
    assert np.allclose(op[1, :2], (pose.point("left_shoulder") + pose.point("right_shoulder")) / 2)
    assert np.allclose(op[OPENPOSE18.index("r_shoulder"), :2], pose.point("right_shoulder"))
    assert np.allclose(op[OPENPOSE18.index("l_hip"), :2], pose.point("left_hip"))
    assert np.allclose(op[OPENPOSE18.index("r_ear"), :2], pose.point("right_ear"))
    # Knees of a head-to-thigh crop are predicted below the frame: OpenPose would not report them.
    assert op[OPENPOSE18.index("l_knee"), 2] == 0.0


def test_to_dict_is_json_with_named_keypoints(analyses):
    pose = analyses[FRONT[0]].pose
    d = json.loads(json.dumps(pose.to_dict()))
    assert d["image_size"] == {"height": pose.image_size[0], "width": pose.image_size[1]}
    assert list(d["keypoints"]) == list(POSE_LANDMARKS)
    ls = d["keypoints"]["left_shoulder"]
    assert abs(ls["x"] - pose.point("left_shoulder")[0]) < 0.01
    assert set(ls) == {"x", "y", "z", "visibility"}


def test_no_person_on_a_rocket(preprocessing):
    rgb = load_image(fixture(NO_PERSON))
    assert preprocessing.pose(rgb) is None
    with pytest.raises(NoPersonFound, match="No person found"):
        preprocessing.require_pose(rgb, what="the rocket photo")
    with pytest.raises(NoPersonFound):
        preprocessing.clothing_region(rgb, "upper")


def test_pose_is_cached_per_image(preprocessing, analyses):
    a = analyses[FRONT[3]]
    assert preprocessing.pose(a.rgb) is a.pose
    assert preprocessing.person_mask(a.rgb) is a.mask


def test_analyzer_rejects_non_rgb_arrays():
    analyzer = BodyAnalyzer()
    with pytest.raises(InputError, match="load_image"):
        analyzer.pose(np.zeros((64, 64), np.uint8))
    with pytest.raises(InputError, match="RGB uint8"):
        analyzer.person_mask(np.zeros((64, 64, 3), np.float32))


def test_analyzer_is_safe_across_threads(analyses):
    """Two threads sharing one analyzer get the same answers as a sequential run."""
    analyzer = BodyAnalyzer()
    images = [analyses[FRONT[1]].rgb, analyses[FRONT[4]].rgb]
    expected = [analyzer.pose(im).keypoints for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i):
        for _ in range(3):
            results[i] = analyzer.pose(images[i]).keypoints

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert np.allclose(results[i], expected[i], atol=1e-3)
    analyzer.close()


def test_video_mode_tracks_one_graph_across_frames_with_its_own_mask(analyses):
    """A webcam stream: one tracking graph reused frame to frame, pose and mask from one pass each."""
    a = analyses[FRONT[1]]
    still = BodyAnalyzer()
    pose, mask = still.pose_and_mask(a.rgb)
    assert np.allclose(pose.keypoints, a.pose.keypoints, atol=1e-3) and np.allclose(mask, a.mask, atol=1e-4)
    assert still.pose_and_mask(load_image(fixture(NO_PERSON))) == (None, None)
    still.close()

    video = BodyAnalyzer(video=True)
    h, w = a.rgb.shape[:2]
    graphs = set()
    for dx in (0, 4, 8, 12):  # the person drifts right a few pixels per frame
        frame = np.ascontiguousarray(np.roll(a.rgb, dx, axis=1))
        pose, mask = video.pose_and_mask(frame)
        graphs.add(id(video._pose_graph))
        assert pose is not None and pose.image_size == (h, w)
        assert mask.shape == (h, w) and mask.dtype == np.float32 and 0.0 <= mask.min() and mask.max() <= 1.0
        # Tracked, not lost: the shoulders follow the shift, and the mask covers the torso like the still one does.
        shoulder = a.pose.point("left_shoulder") + (dx, 0)
        assert np.hypot(*(pose.point("left_shoulder") - shoulder)) < 0.1 * w
        centre = ((pose.point("left_shoulder") + pose.point("right_hip")) / 2).round().astype(int)
        assert mask[centre[1], centre[0]] > 0.5
    assert len(graphs) == 1, "video mode must reuse one tracking graph, not rebuild it per frame"
    assert video.pose(a.rgb) is not None  # the plain pose call works on the same stream
    video.close()
    assert video._pose_graph is None


# ------------------------------------------------------------------------------------------ person mask


@pytest.mark.parametrize("rel", PEOPLE)
def test_person_mask_covers_the_person_not_the_background(analyses, rel):
    a = analyses[rel]
    m = a.mask
    assert m.shape == a.rgb.shape[:2] and m.dtype == np.float32
    assert 0.0 <= m.min() and m.max() <= 1.0
    # A slim side-on figure in a landscape frame covers less of the picture than a frontal one.
    assert (m > 0.5).mean() > (0.10 if rel == SIDE else 0.15)
    # Torso centre: a third of the way from mid-shoulders to mid-hips (the side view's hips are off-frame).
    shoulders = (a.pose.point("left_shoulder") + a.pose.point("right_shoulder")) / 2
    hips = (a.pose.point("left_hip") + a.pose.point("right_hip")) / 2
    centre = np.round(shoulders + (hips - shoulders) / 3).astype(int)
    assert m[centre[1], centre[0]] > 0.5, "torso centre outside the person mask"
    h, w = m.shape
    k = max(4, min(h, w) // 20)
    assert m[:k, :k].mean() < 0.1 and m[:k, -k:].mean() < 0.1, "top corners marked as person"


# ------------------------------------------------------------------------------------------ OpenPose render


@pytest.mark.parametrize("rel", [FRONT[1], FRONT[5], SIDE])
def test_openpose_render_has_size_and_skeleton(analyses, rel):
    pose = analyses[rel].pose
    img = render_openpose(pose)
    h, w = pose.image_size
    assert img.shape == (h, w, 3) and img.dtype == np.uint8
    neck = pose.openpose18()[1, :2].round().astype(int)
    assert img[neck[1], neck[0]].max() > 0, "nothing drawn at the neck"
    assert (img.max(axis=2) == 0).mean() > 0.8, "canvas should stay mostly black"


def test_openpose_render_follows_the_colour_convention(analyses):
    pose = analyses[FRONT[5]].pose
    img = render_openpose(pose)
    op = pose.openpose18()
    # Limb 0 (neck → right shoulder) is red at 60 %, limb 12 (neck → nose) blue at 60 %.
    mid = ((op[1, :2] + op[2, :2]) / 2).round().astype(int)
    r, g, b = img[mid[1], mid[0]].astype(int)
    assert r > 120 and g < 40 and b < 40
    mid = ((op[1, :2] + op[0, :2]) / 2).round().astype(int)
    r, g, b = img[mid[1], mid[0]].astype(int)
    assert b > 120 and r < 40 and g < 40


def test_openpose_render_rescales_to_another_size(analyses):
    pose = analyses[FRONT[2]].pose
    img = render_openpose(pose, size=(512, 384))
    assert img.shape == (512, 384, 3)
    neck = pose.openpose18()[1, :2] * np.array([384 / pose.image_size[1], 512 / pose.image_size[0]])
    x, y = neck.round().astype(int)
    assert img[y, x].max() > 0
    with pytest.raises(InputError):
        render_openpose(pose, size=(0, 10))


# ------------------------------------------------------------------------------------------ clothing regions


@pytest.mark.parametrize("rel", FRONT)
def test_upper_region_sits_on_the_torso(analyses, rel):
    a = analyses[rel]
    region = clothing_region(a.pose, a.mask, "upper")
    assert region.shape == a.rgb.shape[:2] and region.dtype == np.uint8
    assert set(np.unique(region)) <= {0, 255}
    on = region > 0
    assert not (on & (a.mask <= 0.5)).any(), "region leaks outside the person mask"
    quad = torso_quad(a.pose) > 0
    assert (on & quad).sum() > 0.6 * quad.sum(), "region misses most of the torso"
    nose = a.pose.point("nose").round().astype(int)
    assert not on[nose[1], nose[0]], "the face is part of the clothing region"
    # Nothing above the eyes: the head is excluded.
    eyes_y = int(min(a.pose.point("left_eye")[1], a.pose.point("right_eye")[1]))
    assert not on[:eyes_y].any()


@pytest.mark.parametrize("rel", FRONT[1:])
def test_lower_and_dress_regions(analyses, rel):
    a = analyses[rel]
    pose = a.pose
    lower = clothing_region(pose, a.mask, "lower") > 0
    dress = clothing_region(pose, a.mask, "dress") > 0
    hips = (pose.point("left_hip") + pose.point("right_hip")) / 2
    shoulders = (pose.point("left_shoulder") + pose.point("right_shoulder")) / 2
    below_hips = (hips + (hips - shoulders) * 0.15).round().astype(int)
    assert lower[below_hips[1], below_hips[0]], "lower region misses the crotch/thigh area"
    assert dress[below_hips[1], below_hips[0]]
    assert not lower[: int(shoulders[1])].any(), "lower region reaches above the shoulders"
    chest = (shoulders * 0.7 + hips * 0.3).round().astype(int)
    assert dress[chest[1], chest[0]] and not lower[chest[1], chest[0]]


def test_clothing_region_errors_teach(analyses):
    a = analyses[FRONT[1]]
    with pytest.raises(InputError) as err:
        clothing_region(a.pose, a.mask, "hat")
    for cat in CLOTHING_CATEGORIES:
        assert cat in str(err.value)
    with pytest.raises(InputError, match="same image"):
        clothing_region(a.pose, a.mask[:-1], "upper")
    hidden = BodyPose(a.pose.keypoints.copy(), a.pose.image_size)
    hidden.keypoints[[11, 12], 3] = 0.05
    with pytest.raises(InputError, match="shoulders"):
        clothing_region(hidden, a.mask, "upper")


def test_upper_region_extrapolates_unseen_hips(analyses):
    a = analyses[FRONT[5]]
    unsure = BodyPose(a.pose.keypoints.copy(), a.pose.image_size)
    unsure.keypoints[23:33, 3] = 0.01  # the model is unsure about everything from the hips down
    region = clothing_region(unsure, a.mask, "upper") > 0
    quad = torso_quad(a.pose) > 0
    assert (region & quad).sum() > 0.5 * quad.sum()
    with pytest.raises(InputError, match="hips"):
        clothing_region(unsure, a.mask, "lower")


def test_side_view_gives_a_sensible_result(analyses, preprocessing):
    a = analyses[SIDE]
    pose = a.pose
    assert pose.visible("nose") and pose.visible("left_shoulder") and pose.visible("right_shoulder")
    shoulders = (pose.point("left_shoulder") + pose.point("right_shoulder")) / 2
    assert pose.point("nose")[1] < shoulders[1]
    upper = preprocessing.clothing_region(a.rgb, "upper") > 0
    assert upper.any() and not (upper & (a.mask <= 0.5)).any()
    # The region starts near the shoulders and runs down the body, not into the face or sky.
    ys = np.flatnonzero(upper.any(axis=1))
    assert ys.min() > pose.point("nose")[1] and ys.max() > shoulders[1]
    # The hips are below the frame: a lower-body garment has nowhere to go, and the error says so.
    with pytest.raises(InputError, match="outside the photo"):
        preprocessing.clothing_region(a.rgb, "lower")
