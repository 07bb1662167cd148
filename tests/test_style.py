"""Style transfer, lite tier and metrics: the building blocks on synthetic images with known answers, the whole
app on real fixture photos and paintings (at reduced size, so the suite stays fast), live frames, batch, CLI and
bad inputs. The full Done-when matrix (7 paintings × 3 photos at full size) is the `heavy` test at the end.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import fixture

from studio.apps.style import lite, metrics, palette
from studio.apps.style.kuwahara import kuwahara
from studio.apps.style.samples import draw_style
from studio.errors import InputError
from studio.imaging import load_image
from studio.schema import Preview, Result

PORTRAIT = "faces/face_man_dark_skin_official_portrait_01.jpg"
ASTRONAUT = "faces/face_woman_light_astronaut_nomakeup_01.png"
FULL_BODY = "people/person_man_light_fullbody_front_01.png"
ROCKET = "faces/noface_rocket_launchpad_night_01.jpg"
STYLES = ("style_vangogh_starry_night.jpg", "style_hokusai_great_wave.jpg", "style_turner_shipwreck_of_minotaur.jpg",
          "style_matisse_woman_with_hat_fauvism.jpg", "style_leger_contrast_of_forms_cubism.jpg",
          "style_chinese_ink_landscape_02.jpg", "style_animated_film_sintel_frame.png")  # fmt: skip


@pytest.fixture(scope="module")
def app():
    from studio.apps import get_app

    return get_app("style")


@pytest.fixture(scope="module")
def mctx(settings, preprocessing):
    """One context for the module: styles, palettes and banks are cached in it, as in a session."""
    from studio.context import RunContext

    return RunContext(settings=settings, preprocess=preprocessing)


def small(relpath: str, side: int = 384) -> np.ndarray:
    rgb = load_image(fixture(relpath))
    scale = side / max(rgb.shape[:2])
    return cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)


def gradient(h: int = 96, w: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 255 // w, y * 255 // h, np.full((h, w), 128)]).astype(np.uint8)


# ------------------------------------------------------------------------------------------ metrics
def test_metrics_are_zero_on_identity_and_see_the_difference():
    rgb = small(ROCKET, 256)
    assert metrics.colour_distance(rgb, rgb) == 0.0 and metrics.texture_distance(rgb, rgb) == 0.0
    assert metrics.edge_fscore(rgb, rgb)["f"] == 1.0
    warmer = np.clip(rgb.astype(int) + [40, 10, -30], 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(rgb, (0, 0), 3)
    assert metrics.colour_distance(rgb, warmer) > 10.0 > 3 * metrics.colour_distance(rgb, blurred)
    assert metrics.texture_distance(rgb, blurred) > 1.0, "the texture distance sees the strokes a blur removes"
    shifted = np.roll(rgb, 12, axis=1)  # 12 px at 640 ≈ 10 px at the metric's 512: far outside 2 px
    assert metrics.edge_fscore(rgb, shifted)["f"] < 0.5
    assert metrics.edge_fscore(rgb, np.roll(rgb, 1, axis=1))["f"] > 0.9  # 1 px is within the tolerance


def test_sliced_wasserstein_is_a_distance_between_clouds():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (4000, 3)).astype(np.float32)
    assert metrics.sliced_wasserstein(a, a + [3, 0, 0]) == pytest.approx(3 * np.sqrt(np.mean(metrics._directions(3)[0]
                                                                                            ** 2)), rel=0.02)
    assert metrics.sliced_wasserstein(a, rng.normal(0, 1, (9000, 3)).astype(np.float32)) < 0.1


# ------------------------------------------------------------------------------------------ palette
def test_lut_is_exact_at_its_nodes_and_close_between():
    rng = np.random.default_rng(1)
    source, target = rng.uniform([20, -20, -20], [80, 20, 20], (3000, 3)), rng.normal([50, 30, -40], 8, (3000, 3))
    flow = palette.fit_flow(source.astype(np.float32), palette.target_quantiles(target.astype(np.float32)))
    lut = palette.bake(flow, nodes=16)
    nodes = np.arange(0, 256, 17, dtype=np.uint8)  # 0, 17, …, 255: exactly on the 16 nodes
    grid = np.stack(np.meshgrid(nodes, nodes, nodes, indexing="ij"), -1).reshape(1, -1, 3)
    assert np.allclose(lut(grid), flow.apply(palette.lab_of(grid).reshape(-1, 3)).reshape(grid.shape), atol=0.05)
    rgb = gradient()
    direct = flow.apply(palette.lab_of(rgb).reshape(-1, 3)).reshape(rgb.shape)
    assert np.median(np.abs(lut(rgb) - direct)) < 1.0


def test_idt_takes_the_photo_to_the_style_palette():
    photo, style = small(ROCKET, 256), small("styles/" + STYLES[1], 256)
    fitted = palette.fit_palette(photo, palette.target_quantiles(palette.sample_pixels(style)))
    moved = palette.rgb_of(fitted.lut(photo))
    assert metrics.colour_distance(moved, style) < 0.25 * metrics.colour_distance(photo, style)
    light = fitted.lightness(np.linspace(0, 100, 50).astype(np.float32))
    assert np.all(np.diff(light) >= 0), "the lightness map is monotone: the photo's shading order is kept"


# ------------------------------------------------------------------------------------------ brushwork
def test_kuwahara_smooths_flat_areas_and_keeps_edges_sharp():
    rng = np.random.default_rng(2)
    step = np.zeros((64, 64, 3), np.float32)
    step[:, 32:] = 60.0
    noisy = step + rng.normal(0, 4, step.shape).astype(np.float32)
    out = kuwahara(noisy, 4.0, rings=3)
    assert out[:, 4:26].std() < 0.5 * noisy[:, 4:26].std() and out[:, 38:60].std() < 0.5 * noisy[:, 38:60].std()
    profile = out[:, :, 0].mean(axis=0)
    assert profile[29] < 10 and profile[34] > 50, "the step stays within a couple of pixels"
    assert np.allclose(kuwahara(np.full((32, 32, 3), 7.0, np.float32), 3.0), 7.0, atol=1e-3)


def test_style_analysis_reads_stroke_size_and_ink():
    starry, sintel = (lite.fit_style(load_image(fixture("styles/" + s))) for s in (STYLES[0], STYLES[6]))
    assert starry.stroke < sintel.stroke, "Van Gogh's strokes are busier than a smooth film frame"
    assert starry.lines > sintel.lines
    ink = lite.fit_style(draw_style("ink_wash"))
    assert ink.grey and not starry.grey


# ------------------------------------------------------------------------------------------ the app
@pytest.fixture(scope="module")
def portrait_run(app, mctx):
    items = list(app.stream(mctx, content=small(PORTRAIT), style=fixture("styles/" + STYLES[0]), tier="lite"))
    return items


def test_lite_portrait_meets_the_bars(portrait_run):
    previews, result = portrait_run[:-1], portrait_run[-1]
    assert isinstance(result, Result) and previews and all(isinstance(p, Preview) for p in previews)
    assert all(p.image.shape == result.image.shape for p in previews)
    m = result.metrics
    assert m["colour_ratio"] <= 0.5 and m["texture_ratio"] <= 0.75 and m["edge_f"] >= 0.45, m
    assert m["identity_distance"] < 0.6, "still the same person to dlib"
    p = result.provenance
    assert p.tier == "lite" and p.fallback_reason is None and "mediapipe/face_mesh(refined, 478)" in p.models
    assert {"read", "style", "faces", "palette", "brushwork", "metrics"} <= set(p.timings_ms)
    assert result.info["lite"]["work_size"] == [307, 384] and "grain" in result.info["lite"]  # the photo: ≤ 768
    assert result.info["identity_embedder"].startswith("dlib")
    json.dumps(result.summary())


def test_skin_keeps_its_tone_with_face_protection(app, mctx, portrait_run):
    photo = small(PORTRAIT)
    face = mctx.preprocess.faces(photo)[0]
    cheeks = face.regions.full("cheeks") > 0
    unprotected = app(mctx, content=photo, style=fixture("styles/" + STYLES[0]), tier="lite", preserve_faces=False)

    def hue_shift(image):
        a = palette.lab_of(photo)[cheeks][:, 1:].mean(0)
        b = palette.lab_of(image)[cheeks][:, 1:].mean(0)
        return float(np.linalg.norm(a - b))

    assert hue_shift(portrait_run[-1].image) < 0.6 * hue_shift(unprotected.image)
    assert any("protection is off" in n for n in unprotected.provenance.notes)


def test_strength_zero_is_the_photo_and_strength_scales_the_change(app, mctx):
    photo = small(ROCKET, 256)
    style = fixture("styles/" + STYLES[1])
    assert np.array_equal(app(mctx, content=photo, style=style, tier="lite", strength=0.0).image, photo)
    half = app(mctx, content=photo, style=style, tier="lite", strength=0.4).metrics["colour_distance"]
    full = app(mctx, content=photo, style=style, tier="lite", strength=1.0).metrics["colour_distance"]
    assert full < half


def test_high_quality_rebuilds_from_style_patches(app, mctx):
    photo = small(ROCKET, 256)
    items = list(app.stream(mctx, content=photo, style=fixture("styles/" + STYLES[2]), tier="lite", quality="high"))
    labels = [i.label for i in items[:-1]]
    assert any(label.startswith("patch synthesis") for label in labels)
    result = items[-1]
    assert result.info["quality"] == "high" and result.metrics["colour_ratio"] < 0.5 and result.metrics["edge_f"] > 0.4


# ------------------------------------------------------------------------------------------ bad inputs
def test_no_style_tiny_style_and_non_images_are_clear_errors(app, mctx, tmp_path):
    photo = small(ROCKET, 128)
    with pytest.raises(InputError, match="Style image"):
        app(mctx, content=photo, tier="lite")
    with pytest.raises(InputError, match="too small"):
        app(mctx, content=photo, style=np.zeros((20, 20, 3), np.uint8), tier="lite")
    text = tmp_path / "painting.jpg"
    text.write_text("not a painting")
    with pytest.raises(InputError, match="style image.*not an image"):
        app(mctx, content=photo, style=text, tier="lite")
    with pytest.raises(InputError, match="Strength"):
        app(mctx, content=photo, style=draw_style("swirls"), tier="lite", strength=1.5)


def test_grey_16_bit_and_cmyk_styles_give_sensible_results(app, mctx, tmp_path):
    photo = small(ROCKET, 192)
    painting = Image.open(fixture("styles/" + STYLES[0])).convert("RGB").resize((320, 253))
    grey16 = tmp_path / "grey16.png"
    Image.fromarray(np.asarray(painting.convert("L")).astype(np.uint16) * 257, mode="I;16").save(grey16)
    rgb16 = tmp_path / "rgb16.png"
    cv2.imwrite(str(rgb16), np.asarray(painting)[..., ::-1].astype(np.uint16) * 257)  # 48-bit PNG
    cmyk = tmp_path / "cmyk.jpg"
    painting.convert("CMYK").save(cmyk, quality=92)
    grey = app(mctx, content=photo, style=grey16, tier="lite")
    assert any("no colour" in n for n in grey.provenance.notes)
    chroma = np.hypot(*palette.lab_of(grey.image)[..., 1:].transpose(2, 0, 1))
    assert np.percentile(chroma, 90) < 8, "a grey style gives a (nearly) grey painting"
    for path in (rgb16, cmyk):
        result = app(mctx, content=photo, style=path, tier="lite")
        assert result.metrics["colour_ratio"] < 0.5 and not result.provenance.notes


# ------------------------------------------------------------------------------------------ live, batch, CLI
def test_live_frames_are_styled_at_their_size_and_the_fit_is_kept(app, mctx):
    from studio.bench import sample_frame

    frame = sample_frame()
    style = draw_style("swirls")
    out = app.live(mctx, frame, style=style)
    assert out.shape == frame.shape and not np.array_equal(out, frame)
    state = mctx.shared("style.live", dict)
    assert len(state) == 1
    again = app.live(mctx, np.roll(frame, 8, axis=1), style=style)
    assert again.shape == frame.shape and len(state) == 1 and next(iter(state.values()))["frames"] == 1
    with pytest.raises(InputError, match="style image"):
        app.live(mctx, frame)


def test_batch_over_photos_and_styles_writes_a_grid(app, mctx, tmp_path):
    from studio.batch import run_batch

    photos, styles = tmp_path / "photos", tmp_path / "styles"
    photos.mkdir(), styles.mkdir()
    Image.fromarray(small(ROCKET, 160)).save(photos / "rocket.png")
    Image.fromarray(small(ASTRONAUT, 160)).save(photos / "astronaut.png")
    for name in ("swirls", "ink_wash"):
        Image.fromarray(draw_style(name, (200, 150))).save(styles / f"{name}.png")
    summary = run_batch(app, mctx, tmp_path / "out", {"content": photos, "style": styles, "tier": "lite"})
    assert summary["done"] == 4 and len(summary["results"]) == 4
    assert (tmp_path / "out" / "contact_sheet.png").exists()
    assert all(e["output"].endswith("_style.png") for e in summary["results"])


def test_cli_run_writes_the_result(tmp_path, capsys):
    from studio.cli import main

    photo, style = tmp_path / "photo.png", tmp_path / "style.png"
    Image.fromarray(small(ROCKET, 160)).save(photo)
    Image.fromarray(draw_style("swirls", (200, 150))).save(style)
    out = tmp_path / "o.png"
    assert main(["run", "style", "--content", str(photo), "--style", str(style), "--tier", "lite",
                 "--out", str(out)]) == 0  # fmt: skip
    assert Image.open(out).size == (160, 107)
    assert json.loads(capsys.readouterr().out)["provenance"]["tier"] == "lite"
    assert main(["run", "style", "--content", str(photo), "--tier", "lite"]) == 2  # no style: a clear error


def test_examples_are_drawn_by_the_studio(app, settings, tmp_path):
    from dataclasses import replace

    examples = app.examples(replace(settings, cache_dir=tmp_path))
    assert len(examples) == 2 and all(load_image(e["style"]).shape == (480, 640, 3) for e in examples)


# ------------------------------------------------------------------------------------------ the Done-when matrix
@pytest.mark.heavy
@pytest.mark.parametrize("content", [PORTRAIT, FULL_BODY, ROCKET])
def test_every_fixture_style_on_portrait_full_body_and_scene(app, mctx, content):
    failures = []
    for name in STYLES:
        m = app(mctx, content=fixture(content), style=fixture("styles/" + name), tier="lite").metrics
        if not (m["colour_ratio"] <= 0.5 and m["texture_ratio"] <= 0.75 and m["edge_f"] >= 0.45
                and m.get("identity_distance", 0.0) < 0.6):  # fmt: skip
            failures.append((name, m))
    assert not failures, failures
