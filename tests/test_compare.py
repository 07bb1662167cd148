"""Student vs teacher comparison through a small app built on the real engine and the tiny hub."""

from __future__ import annotations

import numpy as np
import pytest

from studio.compare import Comparison, compare, compare_stream
from studio.engine.request import GenerationRequest
from studio.errors import InputError
from studio.context import RunContext
from studio.schema import App, ChoiceParam, Preview, Provenance, Result, SeedParam

MODES = {"student": "fast", "teacher": "quality"}


def _run(ctx, tier, seed):
    """A txt2img portrait on the head-stylization recipe's SD1.5 student and teacher (no adapters)."""
    before = np.full((64, 64, 3), 128, np.uint8)
    if tier == "lite":
        yield Result(before.copy(), Provenance(app="txt2img-test", tier="lite", timings_ms={"copy": 0.1}), before=before)
        return
    request = GenerationRequest(app="head", pipeline="txt2img", adapters=(), mode=MODES[tier], prompt="a portrait",
                                seed=seed, width=64, height=64)  # fmt: skip
    for item in ctx.engine.generate(request):
        if isinstance(item, Result):
            item.before = before
            item.metrics["mean level"] = float(item.image.mean())
        yield item


TEST_APP = App(
    id="txt2img-test",
    title="txt2img test",
    description="A student/teacher app on the tiny hub.",
    params=(ChoiceParam("tier", "Tier", default="student", choices=("student", "teacher", "lite")),
            SeedParam("seed", "Seed")),  # fmt: skip
    run=_run,
    capabilities=frozenset({"compare"}),
    recipe="head",
)


@pytest.fixture(scope="module")
def ctx(tiny_settings):
    from studio.preprocess import Preprocessing

    return RunContext(settings=tiny_settings, preprocess=Preprocessing(tiny_settings))


def test_student_arrives_first_then_teacher_then_the_table(ctx):
    order = []
    comparison = None
    for item in compare_stream(TEST_APP, ctx, {}, seed=3):
        if isinstance(item, Comparison):
            comparison = item
        else:
            tier, payload = item
            if isinstance(payload, Result):
                order.append(tier)
            else:
                assert isinstance(payload, Preview)
    assert order == ["student", "teacher"]
    assert comparison is not None and set(comparison.results) == {"student", "teacher"}
    student, teacher = comparison.results["student"], comparison.results["teacher"]
    assert student.provenance.tier == "student" and teacher.provenance.tier == "teacher"
    assert student.provenance.steps < teacher.provenance.steps
    rows = {row["tier"]: row for row in comparison.rows}
    assert rows["teacher"]["SSIM vs teacher"] is None
    assert -1.0 <= rows["student"]["SSIM vs teacher"] <= 1.0
    assert rows["student"]["PSNR vs teacher"] > 0
    assert rows["student"]["speed-up vs teacher"] > 0  # measured, never asserted (benchmarks report it)
    assert comparison.speedup == rows["student"]["speed-up vs teacher"]
    assert "mean level" in rows["student"]
    assert "| tier |" in comparison.markdown()
    assert comparison.summary()["provenance"]["student"]["seed"] == 3


def test_same_seed_same_images_and_optional_lite(ctx):
    a = compare(TEST_APP, ctx, {}, seed=5, include_lite=True)
    b = compare(TEST_APP, ctx, {}, seed=5)
    assert np.array_equal(a.results["student"].image, b.results["student"].image)
    assert np.array_equal(a.results["teacher"].image, b.results["teacher"].image)
    assert "lite" in a.results and [r["tier"] for r in a.rows] == ["student", "teacher", "lite"]


def test_app_without_tiers_is_refused(ctx):
    from studio.apps import get_app

    with pytest.raises(InputError, match="no student/teacher tiers"):
        compare(get_app("preprocess"), ctx, {})


def test_compare_endpoint_streams_student_then_teacher(ctx):
    """The page's Compare panel, called through gradio_client: the canvas shows the student, then the teacher."""
    from gradio_client import Client

    from studio.serve import launch
    from studio.ui.gradio_app import build_page

    page = build_page(TEST_APP, ctx)
    _, url, _ = launch(page, port=None, block=False)
    try:
        client = Client(url, verbose=False)
        job = client.submit("student", 2, api_name="/txt2img_test_compare")
        job.result(timeout=30 * 60)  # a hang guard only (a stuck queue), never a speed limit
        outputs = job.outputs()
        badges = [out[2] for out in outputs]
        first_student = next(i for i, b in enumerate(badges) if "student ready" in b)
        first_teacher = next(i for i, b in enumerate(badges) if "teacher ready" in b)
        assert first_student < first_teacher
        final = outputs[-1]
        assert len(final[1]) == 2 and "speed-up" in final[2] and "| tier |" in final[3]
        client.close()
    finally:
        page.close()
