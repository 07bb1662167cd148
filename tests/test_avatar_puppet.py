"""The live puppet: a still selfie moved by a driver face's expression and head pose through one dense,
mesh-driven piecewise-affine remap (studio/mesh_warp.py), the inner mouth filled when the driver opens its mouth.

Done-when check: a smiling, open-mouthed driver opens a closed-mouth source's mouth about as much as its own
(mouth-opening ratio within a third of the driver's) and the source stays itself (dlib distance under 0.6).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import fixture

from studio.apps.avatar import puppet
from studio.mesh_warp import MeshWarp

SMILE = "faces/face_man_elderly_light_smiling_01.jpg"  # a broad, open-mouthed smile
CLOSED = ("faces/face_woman_nomakeup_freckles_01.png", "faces/face_woman_elderly_red_lipstick_01.jpg",
          "faces/face_man_east_asian_young_01.jpg")  # fmt: skip
OBAMA = "faces/face_man_dark_skin_official_portrait_01.jpg"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("avatar")


@pytest.mark.parametrize("source", CLOSED)
def test_open_mouthed_driver_opens_a_closed_mouth(app, ctx, source):
    result = app(ctx, source=fixture(source), driver=fixture(SMILE), preset="original", tier="lite")
    m = result.metrics
    assert m["mouth_opening_source"] < 0.02 and m["mouth_opening_driver"] > 0.15
    assert abs(m["mouth_opening_result"] - m["mouth_opening_driver"]) <= m["mouth_opening_driver"] / 3, m
    assert m["identity_distance_selfie_1"] < 0.6, m  # still the source's person
    assert m["ssim_background"] > 0.999  # beyond the still ring nothing moved
    assert "driver | moved" in result.extras and result.info["driver"]["head_turn_deg"]


def test_the_open_mouth_is_filled_with_the_drivers_mouth(ctx, load_rgb):
    rgb, drv = load_rgb(CLOSED[0]), load_rgb(SMILE)
    face, dface = ctx.preprocess.faces(rgb)[0], ctx.preprocess.faces(drv)[0]
    rig = puppet.build_rig(rgb, face)
    drive = puppet.still_drive(rig, drv, dface)
    filled, mesh = puppet.render(rig, drive)
    stretched, _ = puppet.render(rig, puppet.Drive(drive.offsets, drive.rotation))
    polygon = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(polygon, [np.round(mesh[list(puppet.LIPS_INNER), :2]).astype(np.int32)], 1)
    inner = cv2.erode(polygon, np.ones((3, 3), np.uint8)) > 0
    assert inner.sum() > 200  # the lips are open

    def teeth(image):  # light and colourless: tooth enamel, not lip or skin
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(float)
        chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
        return ((lab[..., 0] > 150) & (chroma < 18))[inner].mean()

    # The driver's teeth where the warp alone would show smeared lip.
    assert np.abs(filled.astype(int) - stretched)[inner].mean() > 20
    assert teeth(filled) > 0.2 and teeth(stretched) < 0.05, (teeth(filled), teeth(stretched))
    outside = ~cv2.dilate(polygon, np.ones((11, 11), np.uint8)).astype(bool)
    assert np.array_equal(filled[outside], stretched[outside])  # the fill stays inside the lips (its soft edge aside)


def test_head_roll_follows_the_driver(ctx, load_rgb):
    rgb = load_rgb(OBAMA)
    face = ctx.preprocess.faces(rgb)[0]
    h, w = rgb.shape[:2]
    tilted = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 3), 12.0, 1.0), (w, h),
                            borderMode=cv2.BORDER_REFLECT)  # fmt: skip
    dface = ctx.preprocess.faces(tilted)[0]
    rig = puppet.build_rig(rgb, face)
    drive = puppet.still_drive(rig, tilted, dface)
    assert abs(puppet.angles_deg(drive.rotation)["roll"] + 12.0) < 3.0  # cv2's positive angle turns anticlockwise
    moved, _ = puppet.render(rig, drive)
    redetected = ctx.preprocess.faces(moved)[0]
    assert abs((redetected.roll_deg - face.roll_deg) - (dface.roll_deg - face.roll_deg)) < 3.0


def test_turns_beyond_what_a_warp_can_show_are_limited():
    from scipy.spatial.transform import Rotation

    big = Rotation.from_euler("Y", 60, degrees=True).as_matrix()
    limited, clamped = puppet.clamp_rotation(big)
    assert clamped and abs(np.degrees(np.linalg.norm(Rotation.from_matrix(limited).as_rotvec())) - 20.0) < 1e-6
    small = Rotation.from_euler("Y", 10, degrees=True).as_matrix()
    assert puppet.clamp_rotation(small) == (small, False)


def test_the_source_as_its_own_driver_changes_nothing(ctx, load_rgb):
    rgb = load_rgb(CLOSED[1])
    face = ctx.preprocess.faces(rgb)[0]
    rig = puppet.build_rig(rgb, face)
    drive = puppet.still_drive(rig, rgb, face)
    assert np.abs(drive.offsets[list(puppet.LIPS_ALL)]).max() < 0.01  # its own mouth, exactly
    assert all(abs(v) < 0.1 for v in puppet.angles_deg(drive.rotation).values())
    moved, _ = puppet.render(rig, drive)
    # Only eyes narrower than a relaxed eye at rest (this woman's left one, 0.26) may close a little.
    assert np.abs(moved.astype(int) - rgb).mean() < 0.5


def test_webcam_stream_drives_from_its_neutral_frames(app, ctx, load_rgb):
    """Relaxed first frames set the neutral; a later open-mouthed frame opens the selfie's mouth by as much."""
    source = fixture(CLOSED[1])
    rgb, drv = load_rgb(CLOSED[1]), load_rgb(SMILE)
    face, dface = ctx.preprocess.faces(rgb)[0], ctx.preprocess.faces(drv)[0]
    rig = puppet.build_rig(rgb, face)
    opened, _ = puppet.render(rig, puppet.still_drive(rig, drv, dface))  # the same person, mouth open
    values = dict(source=source, preset="original", tier="lite")
    first = [app.live(ctx, rgb, **values) for _ in range(puppet.NEUTRAL_FRAMES)]
    assert all(f.shape == rgb.shape for f in first)
    assert np.abs(first[-1].astype(int) - rgb).mean() < 1.0  # neutral drives nothing
    for _ in range(6):  # the One Euro filter settles within a few frames of a held expression
        out = app.live(ctx, opened, **values)
    want = puppet.mouth_opening(ctx.preprocess.faces(opened)[0].landmarks)
    got = puppet.mouth_opening(ctx.preprocess.faces(out)[0].landmarks)
    assert abs(got - want) <= want / 3, (got, want)
    empty = np.zeros_like(rgb)
    assert np.array_equal(app.live(ctx, empty, **values), rgb)  # nobody in view: the selfie rests


def test_live_needs_a_selfie(app, ctx, load_rgb):
    from studio.errors import InputError

    with pytest.raises(InputError, match="Upload your selfie"):
        app.live(ctx, load_rgb(SMILE), source=None)


def test_one_euro_filter_smooths_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    f = puppet.OneEuro()
    still = [f(np.array([rng.normal(0, 1.0)]), t / 30) for t in range(60)]
    assert np.std(still[20:]) < 0.5  # jitter of σ 1 px shrinks
    g = puppet.OneEuro()
    moving = [g(np.array([t * 3.0]), t / 30)[0] for t in range(60)]
    assert abs(moving[-1] - 177.0) < 12.0  # a steady motion is followed, with a small lag


def test_bench_workload_declares_the_puppet_and_every_preset(app):
    from studio.apps.avatar.presets import PRESETS
    from studio.bench import sample_frame

    workload = app.bench_workload(sample_frame())
    assert workload.target_fps == 25 and set(workload.stills) == {f"preset_{p}" for p in PRESETS}
    assert {"face_tracking", "tracking_and_warp"} <= set(workload.parts)


# ----------------------------------------------------------------------------------------------- mesh_warp
def _grid_points(h, w, n=6):
    xs, ys = np.meshgrid(np.linspace(0, w - 1, n), np.linspace(0, h - 1, n))
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)


def test_mesh_warp_identity_and_translation():
    rng = np.random.default_rng(1)
    image = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    points = _grid_points(90, 120)
    warp = MeshWarp(points, (90, 120))
    assert np.array_equal(warp.warp(image, points), image) and warp.field(points) is None
    inner = (points[:, 0] > 0) & (points[:, 0] < 119) & (points[:, 1] > 0) & (points[:, 1] < 89)
    moved = points.copy()
    moved[inner] += [3.0, 0.0]  # the inner points move right, the border stays
    out = warp.warp(image, moved, scale=1.0)
    centre = slice(40, 50), slice(50, 60)
    assert np.abs(out[centre].astype(int) - image[40:50, 47:57]).mean() < 2.0  # sampled 3 px to the left


def test_mesh_warp_draws_nearer_triangles_over_farther_ones_and_fills_folds():
    points = np.array([[0, 0], [99, 0], [0, 99], [99, 99], [50, 50]], np.float32)
    warp = MeshWarp(points, (100, 100))
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, 50:] = 255
    fold = points.copy()
    fold[4] = [95, 50]  # the centre pushed over: triangles on the right turn over and hide
    depth = np.array([0, 0, 0, 0, 0], float)
    out = warp.warp(image, fold, scale=1.0, depth=depth)
    f = warp.field(fold, 1.0, depth=depth)
    assert np.isfinite(f.map_x).all() and out.shape == image.shape
    # No pixel keeps an undefined (identity-by-accident) map inside the fold: the gap takes its neighbour's.
    assert out[50, 97].tolist() in ([0, 0, 0], [255, 255, 255])
