"""The student live path: webcam frames through a 1–2 step student, prepared once, frames dropped while busy.

An app's live hook calls `student_frame(ctx, app_id, crop, ...)` with its crop of the frame (and the mask and control
image its lite preprocessing made), and pastes the result back; while the student is not ready (weights missing,
preparing, the device busy) it shows its lite result, which stays the CPU path and the fallback:

    live = student_frame(ctx, "makeup", crop.image, mask=inpaint, control=mesh, prompt=prompt, seed=seed)
    out = lite_out if live.image is None else paste(crop, live.image, lite_out, alpha)

What happens (StreamDiffusion-style, see studio/engine/stream.py): the first call with a new setup (prompt,
reference, seed, strength, crop size) prepares a `StudentStream` on the device thread — plan, load, LoRA merge,
TAESD as the autoencoder, prompt and IP-Adapter embeddings — without making the webcam wait: frames meanwhile come
back as "preparing". Then every frame is one image-to-image call of `LIVE_STEPS` denoising steps at
`LIVE_STRENGTH` on the app's crop, with the same seed. A frame that arrives while the device is busy (the previous
frame, or another user's still run) is dropped, never queued: the caller gets the last result again, and the
`dropped` counter says so.

The live student is the app's own when it runs in ≤ 2 UNet evaluations at the live strength (LCM-LoRA at 2 steps;
Lightning 4-step keeps its grid and runs its last 2), else the first alternative of the recipe that does (`choose`):
an 8-step CFG student would cost 8 evaluations a frame.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, StudioError

#: Denoising steps a frame runs (StreamDiffusion runs 1–4; two keep a student's image clean at half strength).
LIVE_STEPS = 2
#: How much of each frame is re-noised: the crop keeps its layout and the student re-renders its look.
LIVE_STRENGTH = 0.5
#: At most this many UNet evaluations a frame (CFG doubles each step's).
MAX_EVALUATIONS = 2
#: Text-to-image kinds become their image-to-image twins: a live frame always starts from the webcam's crop.
LIVE_KINDS = {"txt2img": "img2img", "controlnet": "controlnet-img2img"}


@dataclass(frozen=True)
class LiveFrame:
    """What `student_frame` gives back for one webcam frame."""

    image: np.ndarray | None  # the student's crop: this frame's, or the last one's when this frame was dropped
    status: str  # "ok" | "dropped" (device busy) | "preparing" | "unavailable"
    reason: str | None = None  # why there is no fresh image (preparing, missing weights, too big for the device…)
    stats: dict = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return self.status == "ok"


# --------------------------------------------------------------------------------------------- which student
def evaluations(catalog, app_id: str, student_id: str, strength: float = LIVE_STRENGTH,
                steps: int = LIVE_STEPS) -> tuple[int, int]:  # fmt: skip
    """(steps to ask for, UNet evaluations a live frame costs) for one student of an app."""
    from .engine.request import GenerationRequest, schedule

    recipe = catalog.app(app_id)
    spec, teacher = catalog.get(student_id), catalog.get(recipe.teacher)
    base = spec if spec.kind == "pipeline" else teacher
    if spec.step_range is not None:  # step-flexible: the live count, within its card's range
        steps = min(max(steps, spec.step_range[0]), spec.step_range[1])
    else:  # step-locked: its trained count (image-to-image keeps the grid and skips the first steps)
        steps = int(spec.steps)
    kind = live_kind(recipe.pipeline)
    request = GenerationRequest(app=app_id, pipeline=kind, strength=strength, steps=steps)
    try:
        runs = schedule(request, kind, spec, base, "student", steps).runs
    except InputError:  # no step left at this strength
        return steps, 10**6
    cfg = (spec.guidance or 0.0) > 1.0 and not spec.guidance_embedding
    return steps, runs * (2 if cfg else 1)


def live_kind(kind: str) -> str:
    return LIVE_KINDS.get(kind, kind)


def choose(engine, app_id: str, strength: float = LIVE_STRENGTH) -> tuple[str, int, str]:
    """(student id, steps, why) for an app's live stream: the recipe's student when a frame costs it at most
    MAX_EVALUATIONS UNet evaluations, else the first such alternative whose weights are here (commercial ones unless
    non-commercial models are allowed), else the recipe's student anyway (said in `why`)."""
    catalog = engine.catalog
    recipe = catalog.app(app_id)
    default_steps, default_cost = evaluations(catalog, app_id, recipe.student, strength)
    if default_cost <= MAX_EVALUATIONS:
        return recipe.student, default_steps, f"the app's student runs {default_cost} UNet evaluation(s) a frame"
    for sid in recipe.alternatives:
        spec = catalog.get(sid)
        if not (spec.licence.commercial or (spec.licence.noncommercial and engine.settings.include_noncommercial)):
            continue  # never an unverified licence, non-commercial only when the user allowed it
        steps, cost = evaluations(catalog, app_id, sid, strength)
        if cost <= MAX_EVALUATIONS and engine.resolver.locate(spec).resolved is not None:
            return sid, steps, (f"'{recipe.student}' would run {default_cost} UNet evaluations a frame; '{sid}' runs "
                                f"{cost}")  # fmt: skip
    return recipe.student, default_steps, (f"no alternative of '{recipe.student}' runs in {MAX_EVALUATIONS} UNet "
                                           f"evaluations here, so it runs {default_cost} a frame")  # fmt: skip


# --------------------------------------------------------------------------------------------- one stream
class LiveStudent:
    """One prepared stream: frames in, the student's crops out, dropped while the device is busy."""

    def __init__(self, engine, request):
        from .engine.stream import StudentStream

        self.engine = engine
        self.stream = StudentStream(engine, request)
        self.frames = self.fresh = self.dropped = 0
        self.last: np.ndarray | None = None
        self.last_ms: list[float] = []
        self.error: str | None = None
        self.info: dict = {}
        self._lock = threading.Lock()  # one frame in flight per stream
        self._count = threading.Lock()  # the counters, bumped from the webcam's handler threads
        self._prepared = threading.Event()
        self._started = False

    def start(self, wait: bool = False) -> None:
        """Prepare on the device thread (once); `wait` blocks until it is done (tests, benchmarks)."""
        from .engine.engine import device_worker

        with self._lock:
            if not self._started:
                self._started = True
                future = device_worker(self.engine.device.device).submit(self._prepare)
            else:
                future = None
        if wait:
            if future is not None:
                future.result()
            self._prepared.wait()

    def _prepare(self) -> None:
        try:
            self.info = {**self.info, **self.stream.prepare()}
        except StudioError as exc:  # missing weights, too big for the device, a bad setting: said on every frame
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the webcam keeps its lite tier; the reason is shown
            self.error = f"The live student failed to prepare: {type(exc).__name__}: {exc}"
        finally:
            self._prepared.set()

    def frame(self, image, mask=None, control=None) -> LiveFrame:
        """This frame through the student, or the last result if the device is busy (never queued)."""
        from .engine.engine import device_worker

        self._bump("frames")
        if not self._started:
            self.start()
        if not self._prepared.is_set():
            return LiveFrame(self.last, "preparing", "the live student is loading", self.stats())
        if self.error is not None:
            return LiveFrame(None, "unavailable", self.error, self.stats())
        worker = device_worker(self.engine.device.device)
        if worker.busy or not self._lock.acquire(blocking=False):
            self._bump("dropped")
            return LiveFrame(self.last, "dropped", "the device was busy", self.stats())
        try:
            if worker.busy:  # another caller took the device between the check and the lock
                self._bump("dropped")
                return LiveFrame(self.last, "dropped", "the device was busy", self.stats())
            image_out, ms = worker.submit(self.stream.frame, image, mask, control).result()
        except StudioError as exc:
            self.error = str(exc)
            return LiveFrame(None, "unavailable", self.error, self.stats())
        finally:
            self._lock.release()
        self._bump("fresh")
        self.last = image_out
        self.last_ms = (self.last_ms + [ms])[-50:]
        return LiveFrame(image_out, "ok", None, self.stats())

    def _bump(self, counter: str) -> None:
        with self._count:
            setattr(self, counter, getattr(self, counter) + 1)

    def stats(self) -> dict:
        ms = sorted(self.last_ms)
        return {"frames": self.frames, "fresh": self.fresh, "dropped": self.dropped,
                "median_ms": round(ms[len(ms) // 2], 2) if ms else None, **self.info}  # fmt: skip


class _Streams:
    """The live streams of one app in one run context: the current setup's stream (one at a time)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.key = None
        self.current: LiveStudent | None = None

    def get(self, key, make) -> LiveStudent:
        with self._lock:
            if self.key != key or self.current is None:
                self.key, self.current = key, make()
            return self.current


def _digest(image) -> str | None:
    if image is None:
        return None
    from .imaging import image_digest

    return image_digest(np.asarray(image))


def student_frame(ctx, app_id: str, image: np.ndarray, *, mask: np.ndarray | None = None,
                  control: np.ndarray | None = None, control_mode: int | None = None, prompt: str = "",
                  negative_prompt: str = "", reference: np.ndarray | None = None, seed: int = 0,
                  strength: float = LIVE_STRENGTH, wait: bool = False) -> LiveFrame:  # fmt: skip
    """One webcam crop through the app's live student (see the module docstring). `image` is the crop (its size is
    the call's: the app's native resolution keeps the model at its trained scale), `mask` and `control` what the
    app's kind needs, `reference` the IP-Adapter image (None: no IP-Adapter). `wait`: block until the stream is
    prepared (tests and benchmarks; a webcam never waits)."""
    if not 0.0 < strength <= 1.0:
        raise InputError(f"strength must be in (0, 1]; got {strength}.")
    engine = ctx.engine
    recipe = engine.catalog.app(app_id)
    h, w = np.asarray(image).shape[:2]
    key = (prompt, negative_prompt, _digest(reference), int(seed), float(strength), (h, w), control_mode)

    def make() -> LiveStudent:
        from .engine.request import GenerationRequest

        student, steps, why = choose(engine, app_id, strength)
        adapters = tuple(a for a in recipe.adapters
                         if reference is not None or engine.catalog.get(a).kind != "ip_adapter")  # fmt: skip
        request = GenerationRequest(app=app_id, prompt=prompt, negative_prompt=negative_prompt,
                                    pipeline=live_kind(recipe.pipeline), image=image, mask_image=mask,
                                    control_image=control, control_mode=control_mode, ip_adapter_image=reference,
                                    strength=strength, steps=steps, seed=int(seed), student=student,
                                    adapters=adapters)  # fmt: skip
        live = LiveStudent(engine, request)
        live.info = {"why": why}
        return live

    live = ctx.shared(f"{app_id}.live_student", _Streams).get(key, make)
    if wait:
        live.start(wait=True)
    return live.frame(image, mask, control)


def stream_stats(ctx, app_id: str) -> dict | None:
    """The current live stream's counters for an app in this context (None: no stream yet)."""
    streams = ctx.shared(f"{app_id}.live_student", _Streams)
    return streams.current.stats() if streams.current is not None else None


def wait_until_idle(ctx, app_id: str, timeout: float = 60.0) -> None:
    """Block until the app's stream has prepared (benchmarks start timing after it)."""
    streams = ctx.shared(f"{app_id}.live_student", _Streams)
    if streams.current is not None:
        deadline = time.monotonic() + timeout
        while not streams.current._prepared.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)


__all__ = ["LiveFrame", "LiveStudent", "student_frame", "choose", "stream_stats", "LIVE_STEPS", "LIVE_STRENGTH"]
