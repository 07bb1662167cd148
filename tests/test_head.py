"""Head stylization, lite tier, on real photos: the issue's bar (stylised, still the same person, the rest of the
photo untouched), the head/hair mask, the mesh-driven warp, every face, the style reference, and awkward inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import fixture

from studio.apps.head.geometry import handles
from studio.apps.head.presets import PRESETS
from studio.apps.head.report import outside_mask
from studio.errors import InputError, NoFaceFound
from studio.preprocess.face import face_height
from studio.preprocess.head import band_box, head_masks
from studio.warp import apply_in_box, mls_similarity, warp_maps

DARK_MAN = "faces/face_man_dark_skin_official_portrait_01.jpg"
TWO_WOMEN = "faces/faces_multi_two_women_outdoor_01.jpg"
PROFILE = "faces/face_profile_woman_facing_right_01.png"
ASTRONAUT = "faces/face_woman_light_astronaut_nomakeup_01.png"
AFRO = "people/person_woman_dark_skin_afro_front_01.jpg"
#: Adults of different ages and skin tones, two faces, big hair (the fixtures hold no child's photo).
BAR_PHOTOS = [DARK_MAN, "faces/face_man_east_asian_young_01.jpg", "faces/face_man_elderly_light_smiling_01.jpg",
              "faces/face_woman_elderly_red_lipstick_01.jpg", ASTRONAUT,
              "faces/face_woman_makeup_red_lips_smoky_eyes_01.png", "faces/face_woman_nomakeup_freckles_01.png",
              TWO_WOMEN, AFRO]  # fmt: skip
QUICK = [DARK_MAN, TWO_WOMEN, AFRO]


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("head")


def small(load_rgb, name: str, side: int = 640) -> np.ndarray:
    from studio.imaging import fit_within

    return fit_within(load_rgb(name), side)


def flat_share(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Share of the mask's pixels where the lightness barely changes (gradient under 2 grey levels per pixel)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=1)
    return float((np.hypot(gx, gy)[mask] < 2.0).mean())


def check_bar(app, ctx, rgb: np.ndarray, preset: str) -> list[str]:
    """The issue's bar for one photo and preset at the defaults; returns what failed."""
    result = app(ctx, source=rgb, preset=preset, tier="lite")
    failures = []
    for i, d in enumerate(result.info["identity_distance_per_face"]):
        if d > 0.55:
            failures.append(f"{preset}: face {i + 1} dlib distance {d:.3f} > 0.55")
    if result.metrics.get("ssim_outside_head", 1.0) < 0.97:
        failures.append(f"{preset}: SSIM outside the head {result.metrics['ssim_outside_head']}")
    faces = ctx.preprocess.faces(rgb)
    masks = head_masks(rgb, faces, ctx.preprocess.person_mask(rgb))
    outside = outside_mask(masks)
    if not np.array_equal(result.image[outside], rgb[outside]):
        failures.append(f"{preset}: pixels outside the generous head box changed")
    # Clearly stylised, not a filtered photo: the head is restyled (SSIM inside it well under 1), and the toon
    # presets flatten it (much more of it is flat than in the photo).
    if result.metrics["head_change"] < 0.12:
        failures.append(f"{preset}: head_change {result.metrics['head_change']} < 0.12")
    face = masks.face > 0.5
    if preset in ("cartoon", "anime") and flat_share(result.image, face) < flat_share(rgb, face) + 0.15:
        failures.append(f"{preset}: the face is not flatter than the photo's")
    return failures


# ------------------------------------------------------------------------------------- the bar
@pytest.mark.parametrize("name", QUICK)
def test_every_preset_is_stylised_recognisable_and_leaves_the_rest(app, ctx, load_rgb, name):
    rgb = small(load_rgb, name)
    failures = [f for preset in PRESETS for f in check_bar(app, ctx, rgb, preset)]
    assert not failures, f"{name}:\n" + "\n".join(failures)


@pytest.mark.heavy
@pytest.mark.parametrize("name", [n for n in BAR_PHOTOS if n not in QUICK])
def test_the_bar_on_the_other_fixture_faces(app, ctx, load_rgb, name):
    rgb = small(load_rgb, name)
    failures = [f for preset in PRESETS for f in check_bar(app, ctx, rgb, preset)]
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_profile_is_stylised_without_the_warp_and_says_so(app, ctx, load_rgb):
    """The stated limit: a face turned ~80° gets the look, not the caricature (the mesh guesses its far side)."""
    rgb = small(load_rgb, PROFILE)
    result = app(ctx, source=rgb, preset="cartoon", tier="lite")
    assert result.info["feature_scales"] == [{}]
    assert any("turned about" in n and "left out" in n for n in result.provenance.notes)
    assert result.metrics["ssim_outside_head"] >= 0.97 and result.info["identity_distance_per_face"][0] <= 0.55


# ------------------------------------------------------------------------------------- masks and warp
def test_head_mask_holds_face_and_hair_not_neck_or_background(ctx, load_rgb):
    rgb = small(load_rgb, AFRO, 800)
    face = ctx.preprocess.faces(rgb)[0]
    masks = head_masks(rgb, [face], ctx.preprocess.person_mask(rgb))
    lm, fh = face.landmarks[:, :2], face_height(face)
    head = masks.head
    chin, top = lm[152].astype(int), lm[10].astype(int)
    assert head[top[1] - int(0.3 * fh), top[0]] > 0.9, "hair above the forehead"
    assert head[int(chin[1] + 0.35 * fh), chin[0]] == 0, "the neck under the chin"
    assert head[int(chin[1] + 0.9 * fh):, :].max() == 0, "nothing of the body below"
    assert masks.face[int(lm[1, 1]), int(lm[1, 0])] == 1 and masks.hair[int(lm[1, 1]), int(lm[1, 0])] == 0
    assert head[5, 5] == 0 and head[5, -5] == 0, "background corners"


def test_mls_is_exact_at_handles_and_identity_without_moves():
    rng = np.random.default_rng(0)
    p = rng.random((30, 2)) * 100
    q = p + rng.normal(0, 2, p.shape)
    assert np.allclose(mls_similarity(p, q, p), q)
    v = rng.random((50, 2)) * 100
    assert np.allclose(mls_similarity(p, p, v), v)


def test_warp_moves_the_eyes_and_never_leaves_its_box(ctx, load_rgb):
    rgb = small(load_rgb, ASTRONAUT)
    face = ctx.preprocess.faces(rgb)[0]
    moved = handles(face, PRESETS["anime"].shape, 1.0)
    box = band_box(face, rgb.shape[:2])
    maps = warp_maps(moved.moves_from, moved.moves_to, box, pinned=moved.pinned, detail=moved.detail)
    out = apply_in_box(rgb, maps, box)
    outside = np.ones(rgb.shape[:2], bool)
    outside[box[1] : box[3], box[0] : box[2]] = False
    assert np.array_equal(out[outside], rgb[outside])
    x0, y0 = box[:2]
    # At an eye-ring target the backward map reads close to where that point came from (the grid is interpolated).
    target, source = moved.moves_to[0], moved.moves_from[0]
    read = np.array([maps[0][int(target[1]) - y0, int(target[0]) - x0], maps[1][int(target[1]) - y0, int(target[0]) - x0]])
    assert np.linalg.norm(read - source) < 0.5 * np.linalg.norm(target - source) + 1.0
    assert moved.scales["eyes"] > 1.5 and moved.scales["nose_width"] < 0.6
    assert np.abs(maps[0][0] - np.arange(box[0], box[2])).max() < 1e-3, "the box's border is pinned"


def test_caricature_zero_keeps_the_face_shape(app, ctx, load_rgb):
    rgb = small(load_rgb, ASTRONAUT)
    result = app(ctx, source=rgb, preset="anime", caricature=0.0, tier="lite")
    assert result.info["feature_scales"] == [{}]
    big = app(ctx, source=rgb, preset="anime", caricature=1.0, tier="lite")
    assert big.info["feature_scales"][0]["eyes"] > 1.5


# ------------------------------------------------------------------------------------- every face, style, result
def test_every_face_is_stylised(app, ctx, load_rgb):
    rgb = small(load_rgb, TWO_WOMEN)
    result = app(ctx, source=rgb, preset="comic", tier="lite")
    assert result.info["faces"] == 2 and len(result.info["identity_distance_per_face"]) == 2
    for face in ctx.preprocess.faces(rgb):
        oval = face.regions.full("face_oval") > 0
        assert np.abs(result.image[oval].astype(int) - rgb[oval]).mean() > 5, "each face restyled"


def test_style_reference_lends_its_palette_and_lines(app, ctx, load_rgb):
    rgb = small(load_rgb, ASTRONAUT)
    plain = app(ctx, source=rgb, preset="cartoon", tier="lite")
    styled = app(ctx, source=rgb, preset="cartoon", style=fixture("styles/style_hokusai_great_wave.jpg"), tier="lite")
    style = styled.info["style"]
    assert len(style["palette"]) == 6 and style["line_density"] > 0 and "style palette" in styled.extras
    assert not np.array_equal(plain.image, styled.image)
    assert styled.metrics["identity_distance"] <= 0.55 and styled.metrics["ssim_outside_head"] >= 0.97


def test_result_carries_metrics_extras_and_provenance(app, ctx, load_rgb):
    result = app(ctx, source=small(load_rgb, DARK_MAN), preset="painted", tier="lite")
    assert {"identity_distance", "ssim_outside_head", "head_change"} <= set(result.metrics)
    assert result.info["identity_embedder"] == "dlib-resnet-v1" and result.info["identity_same_person_below"] == 0.6
    assert {"before | after", "close-up", "caricature warp (before the look)"} <= set(result.extras)
    assert result.provenance.tier == "lite" and "mediapipe/selfie_segmentation" in result.provenance.models
    json.dumps(result.summary())


# ------------------------------------------------------------------------------------- awkward inputs
def test_no_face_is_a_clear_error(app, ctx):
    with pytest.raises(NoFaceFound, match="source photo"):
        app(ctx, source=fixture("faces/noface_rocket_launchpad_night_01.jpg"), tier="lite")


def test_bad_files_and_values_are_clear_errors(app, ctx, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"not a photo at all\n" * 20)
    with pytest.raises(InputError, match="not an image"):
        app(ctx, source=text, tier="lite")
    with pytest.raises(InputError, match="Style"):
        app(ctx, source=fixture(ASTRONAUT), preset="pixar", tier="lite")
    with pytest.raises(InputError, match="style reference"):
        app(ctx, source=fixture(ASTRONAUT), style=text, tier="lite")
    with pytest.raises(InputError, match="No LoRA file"):
        app(ctx, source=fixture(ASTRONAUT), lora="nope.safetensors", tier="lite")


def test_grey_and_16_bit_sources_work(app, ctx, load_rgb):
    rgb = small(load_rgb, ASTRONAUT, 400)
    grey16 = (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    result = app(ctx, source=grey16, preset="comic", tier="lite")
    assert result.image.shape == rgb.shape and result.metrics["identity_distance"] <= 0.55
