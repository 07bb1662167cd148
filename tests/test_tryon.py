"""Virtual try-on, lite tier, on real photos: the issue's bar on every front-facing fixture person × upper-body
garment, measured here from the images (not read back from the app's own metrics), and the awkward inputs (no
person, a side view, crossed arms, a busy garment backdrop, a dress on the upper-body category)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, fixture

from studio.errors import InputError, NoPersonFound
from studio.color import rgb_to_lab
from studio.metrics import region_delta_e, ssim
from studio.schema import Preview, Result

PEOPLE = sorted(p.name for p in (FIXTURES / "people").iterdir() if "side_view" not in p.name)
TOPS = sorted(p.name for p in (FIXTURES / "garments").iterdir() if "dress" not in p.name)
DRESSES = sorted(p.name for p in (FIXTURES / "garments").iterdir() if "dress" in p.name)
ARMS_CROSSED = "people/person_man_arms_crossed_fullbody_01.jpg"
SIDE_VIEW = "people/person_woman_side_view_upperbody_01.jpg"
TEE = "garments/garment_tshirt_blue_lace_sleeves_01.jpg"


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("tryon")


def _grow(mask, r):
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


@pytest.mark.parametrize("person", PEOPLE)
def test_lite_meets_the_bar_on_every_top(app, ctx, load_rgb, person):
    """Coverage ≥ 70 % of the shoulder–hip polygon, ≤ 10 % spill off the person, SSIM ≥ 0.98 outside the clothing
    region (and the face pixel-identical), garment colour within ΔE2000 10 of the product shot."""
    from studio.apps.tryon.app import garment_for
    from studio.apps.tryon.person import fit_body
    from studio.apps.tryon.report import dressed_region

    rgb = load_rgb(f"people/{person}")
    pose = ctx.preprocess.pose(rgb)
    fit = fit_body(pose)
    torso = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(torso, [np.round(fit.torso_polygon()).astype(np.int32)], 1)
    torso = torso > 0
    person_mask = ctx.preprocess.person_mask(rgb) > 0.5
    region = ctx.preprocess.clothing_region(rgb, "upper") > 0
    face = ctx.preprocess.faces(rgb)[0].regions.full("face_oval") > 0
    failures = []
    for name in TOPS:
        product = load_rgb(f"garments/{name}")
        result = app(ctx, person=rgb, garment=product, category="upper", tier="lite")
        out = result.image
        changed = np.abs(out.astype(int) - rgb).max(axis=2) > 2
        painted = (changed & ~region)
        # Under crossed arms the garment is hidden but present: coverage counts what the garment lies on.
        under = result.extras["warped garment"].astype(int).sum(axis=2) < 3 * 250
        # (Detail images of a photo above LITE_WORK_PIXELS are at the working size the garment was fitted at.)
        under = cv2.resize(under.astype(np.uint8), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        coverage = float((under & torso).sum() / torso.sum())
        spill = float((changed & ~person_mask).sum() / max(changed.sum(), 1))
        outside = ~_grow(region | changed, 6)
        s = ssim(rgb, out, outside)
        parse, _ = garment_for(ctx, product)
        with np.errstate(all="ignore"):
            de = region_delta_e(out, dressed_region_of(result, dressed_region), parse.rgb, parse.mean_rgb_mask())
        if coverage < 0.7 or spill > 0.10 or s < 0.98 or de > 10 or changed[face].mean() > 0.01:
            failures.append(f"{name}: coverage {coverage:.2f}, spill {spill:.3f}, ssim {s:.4f}, ΔE {de:.1f}, "
                            f"face changed {changed[face].mean():.3f}, painted outside region {painted.mean():.3f}")
        assert result.provenance.tier == "lite" and result.provenance.fallback_reason is None
        assert set(result.extras) == {"garment mask", "garment landmarks", "agnostic region", "warped garment",
                                      "old garment"}
        for key in ("delta_e_garment", "torso_coverage", "spill", "ssim_outside_clothing", "pose_redetected"):
            assert key in result.metrics, key
        assert ("pose_drift" in result.metrics) == (result.metrics["pose_redetected"] == 1.0)
    assert not failures, "\n".join(failures)


def dressed_region_of(result, dressed_region):
    """The fully-garment pixels of a result, recomputed from its images: changed pixels away from the edges."""
    changed = np.abs(result.image.astype(int) - result.before).max(axis=2) > 6
    return cv2.erode(changed.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0


def test_crossed_arms_stay_in_front(app, ctx, load_rgb):
    """The forearms folded across the chest keep their own pixels; with the toggle off the garment covers them."""
    from studio.preprocess.pose import L_ELBOW, L_WRIST, R_ELBOW, R_WRIST

    rgb = load_rgb(ARMS_CROSSED)
    pose = ctx.preprocess.pose(rgb)
    kp = pose.keypoints
    core = np.zeros(rgb.shape[:2], np.uint8)
    for a, b in ((L_ELBOW, L_WRIST), (R_ELBOW, R_WRIST)):
        cv2.line(core, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]), 1, 12)
    # Only the stretch that lies over the chest (between the shoulders), where the garment would otherwise go.
    xs = sorted([kp[11, 0], kp[12, 0]])
    core[:, : int(xs[0])] = 0
    core[:, int(xs[1]) :] = 0
    core = core > 0
    product = load_rgb(TEE)
    front = app(ctx, person=rgb, garment=product, arms_in_front=True, tier="lite").image
    behind = app(ctx, person=rgb, garment=product, arms_in_front=False, tier="lite").image
    kept = (np.abs(front.astype(int) - rgb).max(axis=2) <= 2)[core].mean()
    covered = (np.abs(behind.astype(int) - rgb).max(axis=2) > 20)[core].mean()
    assert kept > 0.9, f"only {kept:.0%} of the crossed forearms survived in front of the garment"
    assert covered > 0.5, f"with arms_in_front off only {covered:.0%} of the forearms were covered"


def test_no_person_names_the_person_photo(app, ctx):
    with pytest.raises(NoPersonFound, match="person photo"):
        app(ctx, person=fixture("faces/noface_rocket_launchpad_night_01.jpg"), garment=fixture(TEE))


def test_side_view_asks_for_a_front_facing_photo(app, ctx):
    """Measured: the side view's shoulder width is ~0.2 of its torso length (front-facing fixtures 0.58–0.68); a
    front garment cannot be fitted to it, so the app says what photo it needs."""
    with pytest.raises(InputError, match="front-facing|faces the camera"):
        app(ctx, person=fixture(SIDE_VIEW), garment=fixture(TEE))


def test_busy_garment_backdrop_is_a_clear_error(app, ctx, load_rgb):
    """A product shot pasted onto a painting: the backdrop check refuses it before any segmentation."""
    from studio.apps.tryon.garment import garment_mask

    product = load_rgb(TEE)
    painting = cv2.resize(load_rgb("styles/style_vangogh_starry_night.jpg"), (product.shape[1], product.shape[0]))
    small = cv2.resize(product, (product.shape[1] // 4, product.shape[0] // 4))
    cut = garment_mask(small)
    cut = cv2.resize(cut.astype(np.uint8), (product.shape[1], product.shape[0])) > 0
    busy = np.where(cut[..., None], product, painting)
    with pytest.raises(InputError, match="background is not plain"):
        app(ctx, person=fixture("people/person_woman_dark_skin_front_tee_01.jpg"), garment=busy)


@pytest.mark.parametrize("dress", DRESSES)
def test_dress_on_upper_category_is_handled(app, ctx, load_rgb, dress):
    """No crash; the result is still a dressed torso, and a dress the mask's proportions recognise is named."""
    result = app(ctx, person=fixture("people/person_woman_light_front_sleeveless_01.jpg"),
                 garment=fixture(f"garments/{dress}"), category="upper", tier="lite")  # fmt: skip
    assert result.metrics["torso_coverage"] > 0.7
    if result.info["garment"]["looks_like_dress"]:
        assert any("looks like a dress" in n for n in result.provenance.notes)


def test_previews_then_result_and_tier_notes(app, ctx):
    items = list(app.stream(ctx, person=fixture("people/person_woman_dark_skin_front_tee_01.jpg"),
                            garment=fixture(TEE), tier="auto"))  # fmt: skip
    assert isinstance(items[0], Preview) and isinstance(items[-1], Result)
    prov = items[-1].provenance
    assert prov.tier == "lite" and prov.fallback_reason == "unavailable"
    assert any("studio fetch tryon" in n for n in prov.notes)
    lite = app(ctx, person=fixture("people/person_woman_dark_skin_front_tee_01.jpg"), garment=fixture(TEE),
               tier="lite")  # fmt: skip
    assert lite.provenance.fallback_reason is None and lite.provenance.timings_ms["dress"] > 0


@pytest.mark.parametrize("top", ["garment_blouse_peach_high_neck_01.jpg", "garment_polo_shirt_colorblock_01.jpg",
                                 "garment_top_teal_velvet_wrap_01.jpg", "garment_tshirt_blue_lace_sleeves_01.jpg"])  # fmt: skip
def test_tops_are_not_taken_for_dresses(load_rgb, top):
    from studio.apps.tryon.garment import parse_garment

    assert not parse_garment(load_rgb(f"garments/{top}")).looks_like_dress


def test_halter_dress_is_recognised(load_rgb):
    from studio.apps.tryon.garment import parse_garment

    assert parse_garment(load_rgb("garments/garment_dress_floral_halter_01.jpg")).looks_like_dress


# ------------------------------------------------------------------------------------- issue 20: first impression
@pytest.mark.parametrize("person", [p for p in PEOPLE if "arms_crossed" not in p])
def test_the_old_garment_no_longer_shows_where_the_new_top_goes(app, ctx, load_rgb, person):
    """Issue 20: the old garment (a longer pink hem, tank-top straps, a wider orange top, the gap under the arms)
    showed around the new one. `old_garment_visible` (share of the new top's expected area still showing the
    person's own clothes) measured 0.03–0.18 on these photos before; each top now stays under 0.05 (the remainder
    is a long sleeve's edge next to a short one), and a top that had to be lengthened says so."""
    rgb = load_rgb(f"people/{person}")
    for name in TOPS:
        result = app(ctx, person=rgb, garment=fixture(f"garments/{name}"), category="upper", tier="lite")
        assert result.metrics["old_garment_visible"] < 0.05, name
        assert 0.0 <= result.metrics["old_garment_filled"] < 0.2, name
        lowered = [n for n in result.provenance.notes if "hem was lowered" in n]
        assert ("sleeveless" not in person) or lowered or "blouse" in name, "the pink shirt is longer than the tops"


def test_sleeves_follow_the_arms(ctx, load_rgb):
    """Issue 20: sleeves hung apart from the arms with skin-coloured gaps. The arm's bone, from the shoulder down
    to where the sleeve ends (80 % of its length, or the wrist), now lies under the garment on every person and
    sleeved top, crossed arms included."""
    from studio.apps.tryon.app import garment_for
    from studio.apps.tryon.lite import dress

    failures = []
    for person in PEOPLE:
        rgb = load_rgb(f"people/{person}")
        pose, mask = ctx.preprocess.pose(rgb), ctx.preprocess.person_mask(rgb)
        for name in TOPS:
            parse, parts = garment_for(ctx, load_rgb(f"garments/{name}"))
            dressed = dress(rgb, pose, mask, parse, parts)
            fit = dressed.fit
            s = 2 * fit.chest_half / parse.chest_width
            for side in dressed.warped.sleeves:
                chain = fit.arms[side].points
                seam = (dressed.warped.targets[f"shoulder_{side}"] + dressed.warped.targets[f"armpit_{side}"]) / 2
                seg = np.linalg.norm(np.diff(chain, axis=0), axis=1)
                reach = np.linalg.norm(seam - chain[0]) + 0.8 * parts.frames[side][2] * s  # the sleeve, on the arm
                dist = np.linspace(0.1 * seg[0], min(reach, seg.sum()), 12)
                pts = np.stack([np.interp(dist, [0, seg[0], seg.sum()], chain[:, k]) for k in range(2)], axis=1)
                ys = np.clip(np.round(pts[:, 1]).astype(int), 0, rgb.shape[0] - 1)
                xs = np.clip(np.round(pts[:, 0]).astype(int), 0, rgb.shape[1] - 1)
                covered = (dressed.garment_under[ys, xs] > 0.5).mean()
                if covered < 0.9:
                    failures.append(f"{person} × {name} ({side} sleeve): {covered:.0%} of the arm under it")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("top", ["garment_polo_shirt_colorblock_01.jpg", "garment_tshirt_blue_lace_sleeves_01.jpg"])
def test_every_garment_is_shaded_over_the_body(app, ctx, load_rgb, top):
    """Issue 20: some garments came out with no body shading (a flat cut-out, a "red slab" on dark clothes). A
    plain top is now darker towards the body's sides than down its middle, even on a person in black."""
    from studio.apps.tryon.person import fit_body

    rgb = load_rgb("people/person_woman_dark_skin_front_tee_01.jpg")  # a black T-shirt: no folds to carry over
    out = app(ctx, person=rgb, garment=fixture(f"garments/{top}"), tier="lite").image
    fit = fit_body(ctx.preprocess.pose(rgb))
    lab = rgb_to_lab(out)
    mid = (fit.shoulders["left"] + fit.shoulders["right"]) / 2
    rows = [mid + fit.down * f * fit.torso for f in (0.55, 0.65, 0.75)]  # the lower chest, below the colour block
    centre, sides = [], []
    for r in rows:
        for across, bucket in ((0.0, centre), (-0.85, sides), (0.85, sides)):
            x, y = np.round(r + fit.side * across * fit.chest_half).astype(int)
            bucket.append(lab[y - 2 : y + 3, x - 2 : x + 3, 0].mean())
    assert np.mean(sides) < np.mean(centre) - 2.0, f"sides L* {np.mean(sides):.1f}, middle {np.mean(centre):.1f}"


def test_a_large_photo_is_dressed_at_working_size_and_keeps_its_full_resolution(app, ctx, load_rgb):
    """Issue 11: a 49-megapixel person photo peaked at 6.4 GB in the server. Above `LITE_WORK_PIXELS` the lite tier
    dresses a scaled copy and lays the garment into the full photo: the result is full size, pixel for pixel the
    input away from the garment, and the note says so. (Peak memory: benchmarks/reliability.py.)"""
    from apps.tryon.app import LITE_WORK_PIXELS

    rgb = load_rgb("people/person_woman_dark_skin_front_tee_01.jpg")
    f = (1.5 * LITE_WORK_PIXELS / (rgb.shape[0] * rgb.shape[1])) ** 0.5
    big = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)), interpolation=cv2.INTER_CUBIC)
    result = app(ctx, person=big, garment=fixture(TEE), tier="lite")
    assert result.image.shape == big.shape and result.before.shape == big.shape
    assert any("dressed at" in n and "full-size photo" in n for n in result.provenance.notes)
    changed = np.abs(result.image.astype(np.int16) - big).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert changed.any() and xs.min() > 0.1 * big.shape[1] and xs.max() < 0.9 * big.shape[1]  # the torso, not the frame
    assert ys.min() > 0.15 * big.shape[0], "the head and the background above the shoulders are the input's pixels"
    small = app(ctx, person=rgb, garment=fixture(TEE), tier="lite")
    assert abs(result.metrics["torso_coverage"] - small.metrics["torso_coverage"]) < 0.05
