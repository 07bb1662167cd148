"""The front-ends' shared layer: per-call contexts and cancellation, the stream consumer, the tier policy."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.context import RunContext
from studio.errors import ModelUnavailable, RunCancelled
from studio.schema import App, ImageParam, Preview, Result
from studio.tiers import TIERS, choose_tier, tier_params
from studio.ui.session import Call


def counting_app(started: threading.Event | None = None) -> App:
    """A real App whose run yields a preview per step and checks its call's cancel flag between steps."""
    def run(ctx, image, tier, seed, steps):
        from studio.schema import Provenance

        frame = np.zeros((8, 8, 3), np.uint8)
        for step in range(1, (steps or 5) + 1):
            ctx.check_cancelled()
            if started is not None:
                started.set()
            yield Preview(frame + step, step, steps or 5, "counting")
        yield Result(frame, Provenance(app="count", tier="lite"))

    return App(id="count", title="Count", description="", params=(ImageParam("image", "Image"), *tier_params()),
               run=run)  # fmt: skip


@pytest.fixture
def base(settings, preprocessing) -> RunContext:
    return RunContext(settings=settings, preprocess=preprocessing)


def test_a_call_streams_previews_then_its_result(base):
    call = Call(counting_app(), base, {"image": "unused", "steps": 3})
    updates = list(call.updates())
    assert [u.done for u in updates] == [False, False, False, True]
    assert updates[0].badge == "counting · 1/3" and updates[-1].badge.startswith("lite")
    assert call.result is updates[-1].result and not call.cancelled


def test_cancelling_one_call_leaves_the_others_running(base):
    app = counting_app()
    first, second = Call(app, base, {"image": "x"}), Call(app, base, {"image": "x"})
    stream = first.updates()
    next(stream)
    first.cancel()
    with pytest.raises(RunCancelled):
        list(stream)
    assert second.run().image is not None  # same context, its own flag
    assert first.ctx.shared("x", dict) is second.ctx.shared("x", dict), "calls share the context's objects"


def test_a_consumer_that_goes_away_cancels_the_run(base):
    call = Call(counting_app(), base, {"image": "x"})
    stream = call.updates()
    next(stream)
    stream.close()  # what a front-end's generator sees when the browser tab closes
    assert call.cancelled


def test_a_call_view_shares_the_engine_and_caches(base):
    view = base.for_call(lambda: True)
    assert view.cancel() and not base.cancel()
    assert view.cache("looks") is base.cache("looks")
    assert view.engine is base.engine


def test_explicit_tiers_without_weights_name_the_fetch_command(base):
    assert choose_tier(base, "makeup", "lite").lite
    auto = choose_tier(base, "makeup", "auto")
    assert auto.lite and auto.fallback_reason == "unavailable" and "studio fetch makeup" in auto.notes[0]
    for tier in ("student", "teacher"):
        with pytest.raises(ModelUnavailable, match="studio fetch makeup") as info:
            choose_tier(base, "makeup", tier)
        assert "'lite' tier" in str(info.value)
    assert TIERS == ("auto", "student", "teacher", "lite")


def test_capabilities_are_declared_and_checked():
    app = counting_app()
    assert not app.offers("compare") and app.primary_input == "image"
    with pytest.raises(ValueError, match="recipe"):
        App(id="x", title="X", description="", params=app.params, run=app.run, capabilities=frozenset({"compare"}))
    with pytest.raises(ValueError, match="unknown capabilities"):
        App(id="x", title="X", description="", params=app.params, run=app.run, capabilities=frozenset({"fly"}))
