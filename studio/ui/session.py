"""The stream consumer every front-end shares: one call of an app turned into display updates, cancellable.

An app yields previews, then one `Result`. Each front-end (the Gradio page, the notebook widget, a Space, the
CLI) shows them its own way, but they all need the same things from the stream: the image to show now, a badge
line, the final result, and a way to stop *this* call — not every call the context is serving. `Call` does that:

    call = Call(app, ctx, values)
    for update in call.updates():      # stopping the loop early (a closed page) cancels the run too
        show(update.image, update.badge)
    call.result                        # the Result, once the stream is done

Cancelling sets the call's own flag; the app polls it between faces and passes and the engine between denoising
steps (`RunContext.for_call`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..schema import Preview, Result


@dataclass
class Update:
    """What a front-end shows after one item of the stream."""

    image: np.ndarray | None
    badge: str
    preview: Preview | None = None
    result: Result | None = None

    @property
    def done(self) -> bool:
        return self.result is not None


class Call:
    """One run of `app` with `values` on a per-call view of `ctx` (shared caches and models, its own cancel)."""

    def __init__(self, app, ctx, values: dict):
        self.app, self.values = app, dict(values)
        self._cancelled = threading.Event()
        self.ctx = ctx.for_call(self._cancelled.is_set)
        self.result: Result | None = None

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def updates(self) -> Iterator[Update]:
        """Previews as they come, then the result. A consumer that stops iterating (GeneratorExit: a client went
        away) cancels the run, so the engine stops at its next step instead of finishing for nobody."""
        finished = False
        try:
            for item in self.app.stream(self.ctx, **self.values):
                if isinstance(item, Preview):
                    yield Update(item.image, preview_badge(item), preview=item)
                elif isinstance(item, Result):
                    self.result = item
                    yield Update(item.image, item.provenance.badge(), result=item)
            finished = True
        finally:
            if not finished:
                self.cancel()

    def run(self) -> Result:
        """Consume the whole stream; return the Result."""
        for _ in self.updates():
            pass
        if self.result is None:
            raise RuntimeError(f"App '{self.app.id}' finished without producing a Result.")
        return self.result


def preview_badge(preview: Preview) -> str:
    return f"{preview.label} · {preview.step}/{preview.total}" if preview.label else f"{preview.step}/{preview.total}"
