"""Makeup transfer, lite tier, on real photos: the issue's quality bar on every fixture face × reference, what
each region does, and the awkward inputs (no face, two faces, a profile, a tiny face, black-and-white)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, fixture

from studio.apps.makeup.lite import FOUNDATION_MAX_DL
from studio.apps.makeup.look import extract_look
from studio.apps.makeup.presets import preset_look
from studio.apps.makeup.report import drift_normalizer, edge_widths, lids_measured, lips_measured, makeup_area
from studio.color import ciede2000, mean_lab, rgb_to_lab
from studio.errors import InputError, NoFaceFound
from studio.metrics import landmark_nme, region_delta_e, ssim
from studio.preprocess.face import face_height

SOURCES = sorted(p.name for p in (FIXTURES / "faces").iterdir() if not p.name.startswith("noface"))
REFERENCES = sorted(p.name for p in (FIXTURES / "makeup_refs").iterdir())
DEEP_RED = "makeup_refs/makeup_ref_deep_red_lips_east_asian_01.png"
ORANGE_BLUSH = "makeup_refs/makeup_ref_orange_lips_blush_east_asian_01.png"
SMOKY = "makeup_refs/makeup_ref_red_lips_brown_smoky_eyes_01.png"
FRECKLES = "faces/face_woman_nomakeup_freckles_01.png"
ASTRONAUT = "faces/face_woman_light_astronaut_nomakeup_01.png"
OPEN_MOUTHS = ["faces/face_man_dark_skin_official_portrait_01.jpg", "faces/face_man_elderly_light_smiling_01.jpg",
               ASTRONAUT, "faces/faces_multi_two_women_outdoor_01.jpg"]  # fmt: skip
ALL_OFF = {r: False for r in ("lips", "eyeshadow", "eyeliner", "blush", "foundation", "brows")}


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("makeup")


def gray_copy(rgb: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


# ------------------------------------------------------------------------------------- the bar
@pytest.mark.parametrize("source", SOURCES)
def test_lite_meets_the_bar_against_every_reference(app, ctx, load_rgb, source):
    """Lips within ΔE2000 8 of the reference, eyelids closer to the reference's than the bare lids were (issue
    20: eye makeup moved lids away from the reference), the lipstick's border at least 0.6 as wide as the bare
    lip line (issue 20: hard-edged stickers measured 0.44), nothing outside the grown makeup regions changed
    (SSIM ≥ 0.98 and not one pixel), landmarks re-detected on the result within 2 % — measured here, not read
    back."""
    src = load_rgb(f"faces/{source}")
    faces = ctx.preprocess.faces(src)
    failures = []
    for name in REFERENCES:
        ref = load_rgb(f"makeup_refs/{name}")
        ref_face = ctx.preprocess.faces(ref)[0]
        out = app(ctx, source=src, reference=ref, tier="lite").image
        # Mean Lab over the lips of the result vs the reference's lips. On a turned face the mesh's lip outline
        # overshoots onto the background (which must stay unpainted), so only lip-coloured pixels count there.
        for face in faces:
            de = region_delta_e(out, lips_measured(face, src), ref, lips_measured(ref_face, ref))
            if de > 8:
                failures.append(f"{name}: lips ΔE {de:.1f}")
        lids, ref_lids = lids_measured(faces[0]), lids_measured(ref_face)
        lid_before, lid_after = region_delta_e(src, lids, ref, ref_lids), region_delta_e(out, lids, ref, ref_lids)
        if lid_after > lid_before + 0.05:  # (the profile face's one visible lid barely changes: equal is fine)
            failures.append(f"{name}: eyelids ΔE to the reference {lid_before:.1f} → {lid_after:.1f}")
        edges = edge_widths(src, out, faces[0], faces[0].regions.full("lips") > 0)
        if edges is not None and edges[0] < 0.6 * edges[1]:
            failures.append(f"{name}: lipstick border {edges[0]:.1f} px, bare lip line {edges[1]:.1f} px")
        area = makeup_area(faces, ("lips", "eyeshadow", "eyeliner", "blush", "foundation", "brows"), src.shape)
        if np.any(src[~area] != out[~area]):
            failures.append(f"{name}: {np.count_nonzero(np.any(src != out, -1) & ~area)} px changed outside")
        x0, y0, x1, y1 = faces[0].regions.roi
        window = ~cv2.dilate(area.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)[y0:y1, x0:x1]
        s = ssim(src[y0:y1, x0:x1], out[y0:y1, x0:x1], mask=window)
        if s < 0.98:
            failures.append(f"{name}: SSIM outside {s:.3f}")
        again = ctx.preprocess.faces(out)
        for face in faces:
            match = min(again, key=lambda g: np.abs(g.box - face.box).sum())
            drift = landmark_nme(match.landmarks, face.landmarks, drift_normalizer(face))
            if drift > 0.02:
                failures.append(f"{name}: landmark drift {drift:.3f}")
    assert not failures, "; ".join(failures)


def test_lipstick_keeps_the_lips_texture(app, ctx, load_rgb):
    src = load_rgb(FRECKLES)
    out = app(ctx, source=src, reference=fixture(SMOKY), tier="lite", **{**ALL_OFF, "lips": True}).image
    lips = ctx.preprocess.faces(src)[0].regions.full("lips") > 0
    before, after = rgb_to_lab(src[lips][None])[0][:, 0], rgb_to_lab(out[lips][None])[0][:, 0]
    assert abs(after.std() / before.std() - 1.0) < 0.35, "lightness variation (texture) must survive, not flat paint"
    assert np.corrcoef(before, after)[0, 1] > 0.85, "highlights and lines stay where they were"
    ref = load_rgb(SMOKY)
    assert region_delta_e(out, lips, ref, ctx.preprocess.faces(ref)[0].regions.full("lips")) < 5


@pytest.mark.parametrize("source", OPEN_MOUTHS)
def test_teeth_eye_whites_and_irises_untouched(app, ctx, load_rgb, source):
    src = load_rgb(source)
    out = app(ctx, source=src, reference=fixture(SMOKY), tier="lite").image
    lab = rgb_to_lab(src)
    for face in ctx.preprocess.faces(src):
        r = face.regions
        eyes = (r.full("eyes") | r.full("irises")) > 0
        assert np.array_equal(src[eyes], out[eyes]), "eye whites and irises must not change"
        # Teeth: open-mouth pixels clearly lighter (15 L*) than this face's lips and nearly grey, sunlit or in shade.
        lips_l = np.median(lab[r.full("lips") > 0, 0])
        teeth = (r.full("inner_mouth") > 0) & (lab[..., 0] > lips_l + 15) & (np.hypot(lab[..., 1], lab[..., 2]) < 18)
        assert teeth.sum() > 20, "these photos show teeth"
        assert np.array_equal(src[teeth], out[teeth]), "teeth must not take the lipstick"


def test_every_face_in_the_photo_gets_the_look(app, ctx, load_rgb):
    src, ref = load_rgb("faces/faces_multi_two_women_outdoor_01.jpg"), load_rgb(DEEP_RED)
    result = app(ctx, source=src, reference=ref, tier="lite")
    faces = ctx.preprocess.faces(src)
    assert len(faces) == 2 and result.info["faces"] == 2
    ref_lips = ctx.preprocess.faces(ref)[0].regions.full("lips")
    for face in faces:
        lips = face.regions.full("lips")
        assert region_delta_e(result.image, lips, ref, ref_lips) < region_delta_e(src, lips, ref, ref_lips) - 10
    assert len(result.info["delta_e_lips_per_face"]) == 2
    assert any("all 2 faces" in n for n in result.provenance.notes)


# ------------------------------------------------------------------------------------- what each region does
def test_eyeshadow_follows_the_reference_gradient(app, ctx, load_rgb):
    ref = load_rgb(SMOKY)
    look = extract_look(ref, ctx.preprocess.faces(ref)[0])
    lightness = look.eyeshadow[:, 0]
    assert lightness[0] < lightness[-1] < 0, "smoky: darkest at the lash line, lighter towards the crease"
    src = load_rgb(FRECKLES)
    out = app(ctx, source=src, reference=ref, tier="lite", **{**ALL_OFF, "eyeshadow": True}).image
    face = ctx.preprocess.faces(src)[0]
    shadow = face.regions.full("eyeshadow") > 0
    lid = shadow & (np.arange(src.shape[0])[:, None] > face.landmarks[[159, 386], 1].mean() - 0.03 * face_height(face))
    crease = shadow & ~lid
    drop = lambda m: mean_lab(src, m)[0] - mean_lab(out, m)[0]  # noqa: E731
    assert drop(lid) > drop(crease) > 2, "the lid darkens more than the crease, and both darken"


@pytest.mark.parametrize("source", ["faces/face_man_east_asian_young_01.jpg", FRECKLES,
                                    "faces/face_woman_elderly_red_lipstick_01.jpg"])  # fmt: skip
def test_closed_mouth_parting_line_takes_the_lipstick(app, ctx, load_rgb, source):
    """Issue 20: on a closed mouth the line between the lips stayed the bare lip's colour, a dark crack through a
    pink lipstick. It now takes a (deeper) shade of the lipstick's hue."""
    src, ref = load_rgb(source), load_rgb("makeup_refs/makeup_ref_pink_glossy_lips_east_asian_01.png")
    out = app(ctx, source=src, reference=ref, tier="lite", **{**ALL_OFF, "lips": True}).image
    face = ctx.preprocess.faces(src)[0]
    line = face.regions.full("inner_mouth") > 0
    lipstick = mean_lab(ref, lips_measured(ctx.preprocess.faces(ref)[0], ref))
    hue = lambda lab: np.arctan2(lab[2], lab[1])  # noqa: E731
    before, after = mean_lab(src, line), mean_lab(out, line)
    assert abs(hue(after) - hue(lipstick)) < abs(hue(before) - hue(lipstick)) - 0.2
    assert after[0] < lipstick[0], "a crease, so darker than the lipstick"


def test_a_dark_shadow_never_turns_a_lid_blue():
    """Issue 20: black winged liner read as eyeshadow came out as vivid blue shadow (the old additive change took
    a light lid to L* 1, b* −9). The lid now moves towards the shadow's own colour and stops there."""
    from studio.apps.makeup.lite import _shadow_shift
    from studio.apps.makeup.look import Look

    skin = np.array([78.0, 12.0, 16.0])
    black = np.array([[14.0, 1.0, -3.0]] * 4)  # near-black liner-like shadow, slightly cool
    look = Look("liner", skin=skin, eyeshadow=black - skin)
    for lid in (np.array([[70.0, 10.0, 12.0]] * 4), np.array([[40.0, 14.0, 20.0]] * 4),
                np.array([[20.0, 8.0, 10.0]] * 4)):  # fmt: skip
        new = lid + _shadow_shift(look, lid, l_ratio=1.3, ab_ratio=1.0)
        assert (new[:, 0] >= black[:, 0] - 1e-6).all(), "never darker than the shadow itself"
        assert (new[:, 2] >= black[:, 2] - 3.0 - 1e-6).all(), "never more than a just-noticeable step bluer"
        assert (np.abs(new[:, 1:] - black[:, 1:]) <= np.abs(lid[:, 1:] - black[:, 1:]) + 3.0 + 1e-6).all()


def test_blush_comes_from_the_reference_cheeks(app, ctx, load_rgb):
    looks = {}
    for name in (ORANGE_BLUSH, DEEP_RED):
        looks[name] = extract_look(load_rgb(name), ctx.preprocess.faces(load_rgb(name))[0])
    assert looks[ORANGE_BLUSH].blush[1] > 10 > looks[DEEP_RED].blush[1], "the strong blush reads as strong"
    src = load_rgb(FRECKLES)
    out = app(ctx, source=src, reference=fixture(ORANGE_BLUSH), tier="lite", **{**ALL_OFF, "blush": True}).image
    cheeks = ctx.preprocess.faces(src)[0].regions.full("cheeks") > 0
    assert mean_lab(out, cheeks)[1] - mean_lab(src, cheeks)[1] > 5, "cheeks get redder"


def test_foundation_moves_the_tone_a_limited_way(app, ctx, load_rgb):
    src = load_rgb("faces/face_man_dark_skin_official_portrait_01.jpg")
    ref = load_rgb("makeup_refs/makeup_ref_pink_glossy_lips_east_asian_01.png")
    out = app(ctx, source=src, reference=ref, tier="lite", **{**ALL_OFF, "foundation": True},
              foundation_strength=1.0).image  # fmt: skip
    skin = ctx.preprocess.faces(src)[0].regions.full("skin") > 0
    target = mean_lab(ref, ctx.preprocess.faces(ref)[0].regions.full("skin"))
    before, after = mean_lab(src, skin), mean_lab(out, skin)
    assert 1.0 < after[0] - before[0] <= FOUNDATION_MAX_DL + 0.5, "lighter towards a much paler reference, but capped"
    assert np.linalg.norm(after - target) < np.linalg.norm(before - target)


def test_brows_are_tinted_towards_the_reference(app, ctx, load_rgb):
    src, ref = load_rgb(ASTRONAUT), load_rgb(SMOKY)
    out = app(ctx, source=src, reference=ref, tier="lite", **{**ALL_OFF, "brows": True}, brows_strength=1.0).image
    brows = ctx.preprocess.faces(src)[0].regions.full("brows")
    ref_brows = ctx.preprocess.faces(ref)[0].regions.full("brows")
    assert region_delta_e(out, brows, ref, ref_brows) < region_delta_e(src, brows, ref, ref_brows) - 3


def test_regions_switched_off_change_nothing_and_strength_scales(app, ctx, load_rgb):
    src = load_rgb(FRECKLES)
    assert np.array_equal(app(ctx, source=src, reference=fixture(DEEP_RED), **ALL_OFF).image, src)
    lips = ctx.preprocess.faces(src)[0].regions.full("lips")
    ref = load_rgb(DEEP_RED)
    ref_lips = ctx.preprocess.faces(ref)[0].regions.full("lips")
    errors = [region_delta_e(app(ctx, source=src, reference=ref, **{**ALL_OFF, "lips": True}, lips_strength=s).image,
                             lips, ref, ref_lips) for s in (0.0, 0.5, 1.0)]  # fmt: skip
    assert errors[0] > errors[1] > errors[2]


# ------------------------------------------------------------------------------------- inputs, presets, tiers
def test_result_carries_metrics_extras_and_provenance(app, ctx, load_rgb):
    src = load_rgb(FRECKLES)
    result = app(ctx, source=src, reference=fixture(ORANGE_BLUSH), tier="lite")
    assert np.array_equal(result.before, src) and result.image.shape == src.shape
    assert set(result.metrics) == {"delta_e_lips", "delta_e_lips_before", "delta_e_eyeshadow",
                                   "delta_e_eyeshadow_before", "delta_e_cheeks", "edge_softness_lips",
                                   "identity_drift_nme", "identity_distance", "ssim_outside"}  # fmt: skip
    m = result.metrics
    assert m["delta_e_lips"] < m["delta_e_lips_before"] and m["delta_e_eyeshadow"] < m["delta_e_eyeshadow_before"]
    assert 0.6 < m["edge_softness_lips"] < 2.0 and set(result.info["lips_edge_width_px"]) == {"made up", "bare"}
    assert {"before | after", "close-up", "makeup regions", "look"} <= set(result.extras)
    p = result.provenance
    assert p.tier == "lite" and p.fallback_reason is None and {"faces", "makeup", "metrics"} <= set(p.timings_ms)
    assert result.info["changed_pixels_outside_makeup"] == 0
    assert result.info["look"]["lips"].startswith("#")


@pytest.mark.parametrize("preset", ["natural", "classic_red", "smoky", "coral", "berry", "nude"])
def test_presets_work_without_a_reference(app, ctx, load_rgb, preset):
    src = load_rgb(FRECKLES)
    result = app(ctx, source=src, preset=preset)
    lips = ctx.preprocess.faces(src)[0].regions.full("lips")
    target = preset_look(preset).lips
    assert ciede2000(mean_lab(result.image, lips), target) < ciede2000(mean_lab(src, lips), target)
    # The reported ΔE is the one measured here: the result's lips against the preset's colour.
    measured = ciede2000(mean_lab(result.image, lips_measured(ctx.preprocess.faces(src)[0], src)), target)
    assert result.metrics["delta_e_lips"] == pytest.approx(measured, abs=2e-3)
    assert result.info["look"]["name"] == preset


def test_a_preset_wins_over_a_reference_and_says_so(app, ctx):
    result = app(ctx, source=fixture(FRECKLES), reference=fixture(DEEP_RED), preset="berry")
    assert result.info["look"]["name"] == "berry"
    assert any("reference photo was not" in n for n in result.provenance.notes)


def test_no_face_in_the_source_names_the_source(app, ctx):
    with pytest.raises(NoFaceFound, match="source photo"):
        app(ctx, source=fixture("faces/noface_rocket_launchpad_night_01.jpg"), reference=fixture(DEEP_RED))


def test_no_face_in_the_reference_names_it_and_suggests_a_preset(app, ctx):
    with pytest.raises(NoFaceFound, match="makeup reference photo.*preset"):
        app(ctx, source=fixture(FRECKLES), reference=fixture("faces/noface_rocket_launchpad_night_01.jpg"))


def test_neither_reference_nor_preset_is_an_input_error(app, ctx):
    with pytest.raises(InputError, match="reference photo, or choose a preset"):
        app(ctx, source=fixture(FRECKLES))


def test_black_and_white_reference_is_refused_with_a_way_out(app, ctx, load_rgb):
    with pytest.raises(InputError, match="black-and-white.*preset"):
        app(ctx, source=fixture(FRECKLES), reference=gray_copy(load_rgb(DEEP_RED)))


def test_black_and_white_source_stays_black_and_white(app, ctx, load_rgb):
    src = gray_copy(load_rgb(FRECKLES))
    result = app(ctx, source=src, reference=fixture(DEEP_RED), tier="lite")
    out = result.image.astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 1 and np.abs(out[..., 1] - out[..., 2]).max() <= 1
    lips = ctx.preprocess.faces(src)[0].regions.full("lips") > 0
    assert out[lips].mean() < src[lips].mean() - 5, "the deep red still reads as a darker lip"
    assert any("black-and-white" in n for n in result.provenance.notes)


def test_profile_source_gets_its_visible_side_and_no_halo(app, ctx, load_rgb):
    src = load_rgb("faces/face_profile_woman_facing_right_01.png")
    result = app(ctx, source=src, reference=fixture(SMOKY), tier="lite")
    assert any("turned" in n and "visible" in n for n in result.provenance.notes)
    face = ctx.preprocess.faces(src)[0]
    # Background inside the mesh's lip outline is not painted: beyond the lips' anti-aliased edge (2 px), none.
    lip_px = lips_measured(face, src).astype(np.uint8)
    background = (face.regions.full("lips") > 0) & (cv2.dilate(lip_px, np.ones((5, 5), np.uint8)) == 0)
    assert background.sum() > 20
    assert np.array_equal(result.image[background], src[background])


def test_profile_or_two_face_reference_reads_the_look_and_says_how(app, ctx):
    profile = app(ctx, source=fixture(FRECKLES), reference=fixture("faces/face_profile_woman_facing_right_01.png"))
    assert any("read from its right side only" in n for n in profile.provenance.notes)
    two = app(ctx, source=fixture(FRECKLES), reference=fixture("faces/faces_multi_two_women_outdoor_01.jpg"))
    assert any("2 faces" in n and "largest" in n for n in two.provenance.notes)


def test_tiny_face_is_made_up_and_flagged(app, ctx, load_rgb):
    small = cv2.resize(load_rgb(ASTRONAUT), (180, 180), interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 90, np.uint8)
    canvas[700:880, 1100:1280] = small
    result = app(ctx, source=canvas, reference=fixture(DEEP_RED), tier="lite")
    assert any("px tall" in n for n in result.provenance.notes)
    assert not any("black-and-white" in n for n in result.provenance.notes), "a colour face on a grey canvas"
    changed = np.any(result.image != canvas, axis=-1)
    assert changed.any() and not changed[:690].any() and not changed[:, :1090].any()


def test_a_large_photo_is_made_up_at_working_size_with_its_own_texture(app, ctx, load_rgb):
    """Issue 11: makeup grew faster than the pixels (8.7 s at 12 MP). Above `LITE_WORK_PIXELS` the look is worked out
    on a scaled copy and its colour change added to the full photo: full size out, pixel for pixel the input away
    from the face, the lips' fine texture the photo's own (a scaled-up result would have lost it), and a note."""
    from apps.makeup.app import LITE_WORK_PIXELS

    rgb = load_rgb(FRECKLES)
    f = (1.5 * LITE_WORK_PIXELS / (rgb.shape[0] * rgb.shape[1])) ** 0.5
    big = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)), interpolation=cv2.INTER_CUBIC)
    result = app(ctx, source=big, preset="classic_red", tier="lite")
    assert result.image.shape == big.shape and result.before.shape == big.shape
    assert any("made up at" in n and "full-size photo" in n for n in result.provenance.notes)
    changed = np.abs(result.image.astype(np.int16) - big).max(axis=2) > 0
    assert 0.01 < changed.mean() < 0.6, "the face changed, not the whole frame"
    assert not changed[: big.shape[0] // 20].any(), "the top of the frame (hair, background) is the input's pixels"

    def detail(img):  # high-pass energy of the lips' lightness
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 3.0))

    lips = cv2.resize(ctx.preprocess.faces(rgb)[0].regions.full("lips"), (big.shape[1], big.shape[0])) > 0
    assert detail(result.image)[lips].mean() > 0.7 * detail(big)[lips].mean()
