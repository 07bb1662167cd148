"""Running one diffusion request for an app: step previews pasted back into the full frame, timings merged.

Every diffusion app generates on a crop (an aligned face, a box around the body) and pastes the result back into
the photo. `run_on_engine` is that loop, written once: it hands the request to the engine, turns each step
preview into a full-frame preview through the app's `paste`, and returns the engine's `Result`. `merge_timings`
puts the app's own phases beside the engine's in the provenance.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Callable

import numpy as np

from .schema import Preview, Provenance, Result

#: Crop side when a recipe's teacher declares no native resolution (SD1.5 is trained at 512).
DEFAULT_RESOLUTION = 512


def native_resolution(engine, app_id: str) -> int:
    """The side the app's recipe generates at (its teacher's, which a LoRA student shares), a multiple of 8."""
    recipe = engine.catalog.app(app_id)
    size = engine.catalog.get(recipe.teacher).resolution or DEFAULT_RESOLUTION
    return max(64, int(size) - int(size) % 8)  # the VAE works on 8×8 blocks


def run_on_engine(ctx, request, paste: Callable[[np.ndarray], np.ndarray],
                  label: str = "") -> Generator[Preview, None, Result]:  # fmt: skip
    """Yield the engine's step previews pasted into the full frame (`paste(crop_image) -> frame`), labelled with
    `label` when given (e.g. "face 2 of 3"); return the engine's `Result` (its image still the crop).

    The request's cancel flag is the call's own (`ctx.cancel`), so a cancelled call stops between steps. A student
    chosen for the app on this call (`ctx.with_student`) replaces the recipe's, with its own teacher if it has one.
    """
    from dataclasses import replace

    if getattr(ctx, "students", None) and request.student is None:
        choice = ctx.student_choice(request.app)
        request = replace(request, **{k: v for k, v in choice.items() if v and getattr(request, k) is None})
    if request.cancel is None:  # (a GenerationRequest is frozen: a copy carries the flag)
        request = replace(request, cancel=ctx.cancel)
    result = None
    for item in ctx.engine.generate(request):
        if isinstance(item, Preview):
            # Not timed: previews are pasted while the engine's device thread keeps denoising.
            text = f"{label} · {item.label}" if label else item.label
            yield Preview(paste(item.image), item.step, item.total, text)
        else:
            result = item
    ctx.check_cancelled()
    return result


def merge_timings(provenance: Provenance, app_timings_ms: dict[str, float]) -> Provenance:
    """The app's own phases first, then the engine's (which keep their names: load, prepare, denoise, …)."""
    provenance.timings_ms = {**{k: round(v, 2) for k, v in app_timings_ms.items()}, **provenance.timings_ms}
    return provenance
