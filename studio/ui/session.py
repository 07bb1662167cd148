"""The stream consumer every front-end shares: one call of an app turned into display updates, cancellable.

An app yields previews, then one `Result`. Each front-end (the Gradio page, the notebook widget, a Space, the
CLI) shows them its own way, but they all need the same things from the stream: the image to show now, a badge
line, the final result, and a way to stop *this* call — not every call the context is serving. `Call` does that:

    call = Call(app, ctx, values)
    for update in call.updates():      # stopping the loop early (a closed page) cancels the run too
        show(update.image, update.badge)
    call.result                        # the Result, once the stream is done

Cancelling sets the call's own flag; the app polls it between faces and passes and the engine between denoising
steps (`RunContext.for_call`). A front-end that can tell when its caller went away (a closed browser tab, a killed
API client) passes `cancel_when`, polled at the same points, so the work stops at the next step instead of running
to its end for nobody. `CompareCall` is the same for student vs teacher, and `needs_gpu` tells a front-end whose
GPU is lent per call (a ZeroGPU Space) whether a call will use one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..schema import Preview, Result

_active: set = set()
_active_lock = threading.Lock()


def active_calls() -> int:
    """How many calls (runs and comparisons) are running in this process now: a front-end's worker is idle at 0."""
    with _active_lock:
        return len(_active)


@dataclass
class Update:
    """What a front-end shows after one item of the stream."""

    image: np.ndarray | None
    badge: str
    preview: Preview | None = None
    result: Result | None = None
    tier: str | None = None  # CompareCall: the tier this update belongs to
    comparison: object | None = None  # CompareCall: the final `studio.compare.Comparison`

    @property
    def done(self) -> bool:
        return self.result is not None and self.tier is None or self.comparison is not None


class Cancellable:
    """A call's own cancel flag plus an optional probe of its caller (`cancel_when`); `for_call(ctx)` is the
    per-call context view whose cancel polls both."""

    def __init__(self, cancel_when: Callable[[], bool] | None):
        self._cancelled = threading.Event()
        self._cancel_when = cancel_when

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def for_call(self, ctx):
        return ctx.for_call(self._should_stop)

    def _should_stop(self) -> bool:
        """Polled by the app and the engine between steps: the call's own flag, or its caller went away."""
        if self._cancelled.is_set():
            return True
        if self._cancel_when is not None:
            try:
                gone = bool(self._cancel_when())
            except Exception:  # noqa: BLE001 -- a broken probe must never stop a healthy run
                gone = False
            if gone:
                self._cancelled.set()
                return True
        return False

    def track(self, items: Iterator) -> Iterator:
        """Registers the call as active while `items` runs. A consumer that stops early (GeneratorExit at a yield)
        cancels it; an error raised by the app itself is an error, not a cancel."""
        with _active_lock:
            _active.add(self)
        try:
            for item in items:
                try:
                    yield item
                except BaseException:
                    self.cancel()
                    raise
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # the app's own finally blocks run now (the engine stops its device work)
            with _active_lock:
                _active.discard(self)


class Call(Cancellable):
    """One run of `app` with `values` on a per-call view of `ctx` (shared caches and models, its own cancel)."""

    def __init__(self, app, ctx, values: dict, cancel_when: Callable[[], bool] | None = None):
        super().__init__(cancel_when)
        self.app, self.values = app, dict(values)
        self.ctx = ctx.for_call(self._should_stop)
        self.result: Result | None = None

    def updates(self) -> Iterator[Update]:
        """Previews as they come, then the result. A consumer that stops iterating (GeneratorExit: a client went
        away) cancels the run, so the engine stops at its next step instead of finishing for nobody."""
        yield from self.track(self._updates())

    def _updates(self) -> Iterator[Update]:
        for item in self.app.stream(self.ctx, **self.values):
            if isinstance(item, Preview):
                yield Update(item.image, preview_badge(item), preview=item)
            elif isinstance(item, Result):
                self.result = item
                yield Update(item.image, item.provenance.badge(), result=item)

    def run(self) -> Result:
        """Consume the whole stream; return the Result."""
        for _ in self.updates():
            pass
        if self.result is None:
            raise RuntimeError(f"App '{self.app.id}' finished without producing a Result.")
        return self.result


class CompareCall(Cancellable):
    """Student vs teacher on the same inputs and seed (`studio.compare.compare_stream`), cancellable like a Call.

    `values` are the app's parameters; `tier` is ignored (each tier runs in turn) and `seed` is shared.
    """

    def __init__(self, app, ctx, values: dict, cancel_when: Callable[[], bool] | None = None,
                 include_lite: bool = False):  # fmt: skip
        super().__init__(cancel_when)
        self.app = app
        self.values = {k: v for k, v in values.items() if k not in ("tier", "seed")}
        self.seed = int(values.get("seed") or 0)
        self.include_lite = include_lite
        self.ctx = ctx.for_call(self._should_stop)
        self.comparison = None

    def updates(self) -> Iterator[Update]:
        """(tier, preview) updates while a tier runs, (tier, result) when it is done, then the comparison."""
        yield from self.track(self._updates())

    def _updates(self) -> Iterator[Update]:
        from ..compare import Comparison, compare_stream

        for item in compare_stream(self.app, self.ctx, self.values, seed=self.seed, include_lite=self.include_lite):
            self.ctx.check_cancelled()
            if isinstance(item, Comparison):
                self.comparison = item
                yield Update(None, f"speed-up ×{item.speedup}", comparison=item)
                continue
            tier, payload = item
            if isinstance(payload, Preview):
                yield Update(payload.image, f"{tier} · {preview_badge(payload)}", preview=payload, tier=tier)
            else:
                yield Update(payload.image, f"{tier} ready · {payload.provenance.badge()}", result=payload, tier=tier)

    def run(self):
        for _ in self.updates():
            pass
        return self.comparison


def preview_badge(preview: Preview) -> str:
    return f"{preview.label} · {preview.step}/{preview.total}" if preview.label else f"{preview.step}/{preview.total}"


def needs_gpu(app, ctx, values: dict) -> bool:
    """Whether a run of `app` with `values` would use a diffusion tier (and so a GPU where one is lent per call).

    No recipe, or the lite tier, never does; `auto` does only when some diffusion weights are installed (without
    them it runs the lite tier). Checked from files on disk, without loading or downloading anything.
    """
    if app.recipe is None:
        return False
    tier = values.get("tier") or "auto"
    if tier == "lite":
        return False
    if tier != "auto":
        return True
    have = ctx.engine.availability(app.recipe)
    return bool(have["student"]["available"] or have["teacher"]["available"])
