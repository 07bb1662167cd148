"""The diffusion engine: a few-step student, its teacher, and a fallback only for a named reason.

Apps call one method:

    engine = Engine(settings)
    for item in engine.generate(GenerationRequest(app="makeup", mode="auto", pipeline="controlnet-inpaint",
                                                  image=face, mask_image=mask, control_image=mesh,
                                                  ip_adapter_image=reference, prompt="...", seed=7)):
        if isinstance(item, Preview): show(item.image)      # step previews, streamed while the run goes on
        else: result = item                                  # a studio.schema.Result, always last

Modes: `fast` runs the student only (no gate, no fallback); `quality` runs the teacher
(`fallback_reason="requested"`); `auto` runs the student and falls back to the teacher only when the student's
weights are missing (`unavailable`), it runs out of memory (`oom`), or `request.quality_gate(image)` rejects its
image (`quality_gate`: the gate returns False or a string saying why; True/None pass; the rejected image is kept
in `Result.extras`). Any other error propagates as `GenerationError` chained to the original; missing weights
raise `ModelUnavailable` with the exact `studio fetch ...` command; a cancelled run raises `GenerationCancelled`.
`Engine.availability(app)` tells an app which tiers can run (to pick its lite tier) without loading anything.

Request fields (see `studio.engine.request.GenerationRequest`): app, prompt, negative_prompt, mode, pipeline
(txt2img | img2img | inpaint | controlnet | controlnet-img2img | controlnet-inpaint; None = the app's default),
image, mask_image, control_image, control_mode (union ControlNet), ip_adapter_image, strength, steps, guidance,
seed, width, height, student / teacher / adapters (catalog ids overriding the app recipe), controlnet_scale,
ip_adapter_scale (float or InstantStyle block dict), quality_gate, cancel, previews.

Every `Result.provenance` records tier, model ids with revisions, steps, guidance, seed, device, timings per
phase (resolve, load, prepare, denoise, previews, decode), peak memory and the fallback reason; `Result.info`
records the scheduler (class and config), timesteps, CFG on/off, pipeline class, sizes and preview count, and
`info["settings"]`: the settings the call ran with (steps that ran and the schedule they came from, timesteps,
guidance, strength, eta, LoRA / ControlNet / IP-Adapter scales) with where each came from (request, or the catalog
entry's cited card line); a "settings: …" provenance note says the same in one line.

Recipes follow the cards (models/catalog.py cites each setting; request.schedule has the rules): a step-locked
student keeps its trained grid in image-to-image (its first steps are skipped, never stretched), fixed timesteps are
set on the scheduler so every pipeline kind runs them, inpainting defaults to the lower inpaint strength of student
and base (SDXL inpainting: 0.99), and combinations that cannot run as their card means (no step left, a
guidance-embedding UNet in a pipeline that never passes the embedding) raise InputError before anything loads.

Memory: before anything loads, every call gets a VRAM plan (planner.py: weights from the catalog's sizes, activations
at the call's resolution) and runs in the cheapest memory mode that fits the device — everything on the GPU, the VAE
tiled, model offload, sequential offload (placement.py carries it out). A call that fits none raises `WontFit` with
the plan instead of running out of memory halfway; `Result.info["memory_plan"]` holds the plan beside the measured
peak. On a CPU the plan is a forecast unless `Settings.vram_gb` says to plan as a GPU of that size. Speed:
`Settings.compile` compiles the denoisers and VAE decoders when they load (speed.py); `studio.live_student` streams
webcam frames through a prepared student (stream.py).

Guarantees: a CPU `torch.Generator` seeded from the request (same seed, same image on any device); one
long-lived thread per device runs every call on it (from every engine), one at a time, in order; a call never
leaves a shared component changed: the scheduler is a fresh copy per call, and LoRA activation and scales,
IP-Adapter scales, module dtypes and hooks are restored in `finally`. What stays loaded (a LoRA in its base,
an attached IP-Adapter, a LoRA merged into its base on GPUs: see fusion.py) changes only when a request needs
different weights, within an LRU under `Settings.memory_budget_mb`; a teacher after a merged student gets its
base's exact original weights back.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterator, TypeVar

from ..devices import is_oom, pick_device
from ..errors import InputError, ModelUnavailable, StudioError
from ..schema import Preview, Result
from ..settings import Settings
from .request import GenerationRequest, Schedule, check_request, schedule
from .resolver import Resolved, Resolver, fetch_command, unavailable
from .specs import AppModels, Catalog, ModelSpec

T = TypeVar("T")


class GenerationError(StudioError):
    """A diffusion call failed for a reason that is not a fallback reason; the original is the __cause__."""


class GenerationCancelled(StudioError):
    """The request's cancel callable returned True, or the consumer stopped iterating."""


@dataclass
class Plan:
    """Everything one tier's call needs, resolved to local files (nothing loaded yet)."""

    tier: str  # "student" | "teacher"
    spec: ModelSpec  # the student or the teacher
    base: Resolved  # the pipeline the call runs on
    own: Resolved | None  # the student's own weights (LoRA or UNet); None when spec is the base itself
    kind: str  # pipeline kind
    controlnet: Resolved | None = None
    ip_adapter: Resolved | None = None
    preview: Resolved | None = None
    vae_fix: Resolved | None = None
    steps: int = 0  # the step count asked for (request or catalog); `schedule` says how many run
    guidance: float = 0.0
    schedule: Schedule | None = None
    controlnet_scale: float | None = None
    sources: dict[str, str] = field(default_factory=dict)  # setting -> where the value this call uses comes from
    loras: list = field(default_factory=list)  # (Resolved, weight) of the request's user LoRAs
    memory: Any = None  # planner.MemoryPlan: the call's predicted peak and the memory mode it runs in
    resolve_ms: float = 0.0
    notes: list[str] = field(default_factory=list)


class Engine:
    def __init__(self, settings: Settings, catalog: Catalog | None = None):
        if catalog is None:
            from studio.models import load_catalog

            catalog = load_catalog()
        self.settings = settings
        self.catalog = catalog
        self.resolver = Resolver(settings)
        self._device = None
        self._residency = None
        self._capacity = None  # (vram_gb setting, (MB, source)) of the device, read once

    # ------------------------------------------------------------------------------------------ public API
    def generate(self, request: GenerationRequest) -> Iterator[Preview | Result]:
        """Yield step previews, then one `Result` (see the module docstring for modes and errors)."""
        recipe = self._recipe(request.app)
        kind = request.pipeline or recipe.pipeline
        check_request(request, kind)
        if request.mode == "quality":
            plan = self.plan(request, "teacher")
            yield (yield from self._execute(request, plan, "requested", []))
            return
        fallback, notes, rejected = None, [], None
        try:
            student = self.plan(request, "student")
        except _StudentMissing as missing:
            if request.mode == "fast":
                raise missing.error from None
            fallback, student = "unavailable", None
            notes.append(f"Student weights missing, so the teacher ran: {missing.error}")
        if student is not None:
            oom = None
            try:
                result = yield from self._execute(request, student, None, [])
            except GenerationError as exc:
                if request.mode == "auto" and exc.__cause__ is not None and is_oom(exc.__cause__):
                    oom = exc.__cause__
                else:
                    raise
            if oom is not None:
                # Fall back *outside* the except block, so the student's frames and tensors are released first
                # (ComfyUI comfy/sd.py does the same for its tiled VAE retry).
                from .residency import free_memory

                free_memory(self.device.device)
                fallback = "oom"
                first_line = str(oom).splitlines()[0][:160] if str(oom) else type(oom).__name__
                notes.append(f"The student ran out of memory ({first_line}); the teacher ran instead.")
            else:
                verdict = self._gate(request, result) if request.mode == "auto" else None
                if verdict is None:
                    yield result
                    return
                fallback, rejected = "quality_gate", result
                notes.append(f"The student's image failed the app's quality gate: {verdict}")
        teacher = self.plan(request, "teacher")
        result = yield from self._execute(request, teacher, fallback, notes)
        if rejected is not None:
            result.extras["student (rejected by quality gate)"] = rejected.image
            result.info["rejected_student"] = rejected.summary()
        yield result

    def run(self, request: GenerationRequest) -> Result:
        """Drain `generate` and return the Result (scripts, notebooks, tests)."""
        result = None
        for item in self.generate(request):
            result = item if isinstance(item, Result) else result
        return result

    def availability(self, app: str, student: str | None = None, adapters: tuple[str, ...] | None = None,
                     teacher: str | None = None) -> dict:  # fmt: skip
        """Which tiers of `app` have their weights here (checked without downloading or loading).

        Returns {"student": {"available": bool, "missing": {id: [files]}}, "teacher": {...}, "fetch": command};
        `student`, `teacher` and `adapters` as in GenerationRequest (None = the app's defaults).
        """
        recipe = self._recipe(app)
        report = {}
        adapter_ids = recipe.adapters if adapters is None else adapters
        teacher = teacher or recipe.teacher
        for tier, sid in (("student", student or recipe.student), ("teacher", teacher)):
            spec = self.catalog.get(sid)
            needed = [spec, *[self.catalog.get(a) for a in adapter_ids]]
            if tier == "student" and spec.kind in ("lora", "unet"):
                needed.append(self.catalog.get(teacher))
            located = [self.resolver.locate(s) for s in needed]
            missing = {loc.spec.id: loc.missing for loc in located if loc.resolved is None}
            report[tier] = {"available": not missing, "missing": missing}
        report["fetch"] = fetch_command(app)
        return report

    def step_options(self, app: str, student: str | None = None) -> tuple[int, ...]:
        """The step counts a Steps control should offer for `app`'s student (or `student`): the trained count of a
        step-locked student (Lightning, Hyper N-step, PCM, DMD2), the card's range of a step-flexible one."""
        recipe = self._recipe(app)
        return self._spec(student or recipe.student, recipe, "student").step_options

    @property
    def device(self):
        if self._device is None:
            self._device = pick_device(self.settings.device)
        return self._device

    @property
    def fuses_lora(self) -> bool:
        """Whether LoRA students are merged into their base between calls (Settings.fuse_lora; fusion.py)."""
        mode = self.settings.fuse_lora
        if mode not in ("auto", "on", "off"):
            raise InputError(f"fuse_lora (STUDIO_FUSE_LORA) must be auto, on or off; got {mode!r}.")
        if mode == "off" or (self.settings.cpu_offload and self.device.device.startswith("cuda")):
            return False  # offloaded weights move between devices each call: nothing stays merged
        return mode == "on" or self.device.device != "cpu"

    @property
    def residency(self):
        if self._residency is None:
            from .residency import Residency

            self._residency = Residency(self.settings.memory_budget_mb, self.device.device)
        return self._residency

    def resident_bytes(self) -> int:
        """Bytes held by every loaded model, shared storages counted once."""
        return self.residency.resident_bytes() if self._residency is not None else 0

    def release(self) -> None:
        """Drop every loaded model (the next call loads again)."""
        if self._residency is not None:
            self._residency.clear()

    def memory_plan(self, request: GenerationRequest, plan: Plan, decoder: str = "vae"):
        """The VRAM plan of one tier's call (planner.py): its predicted peak on this device and the cheapest memory
        mode that fits, from the catalog's sizes and the request's resolution (nothing loads). `decoder="taesd"`:
        a live stream's call, which encodes and decodes with TAESD (live_student.py)."""
        from .planner import Call, Weight, device_capacity, device_modes, enforced, inputs_size, plan_call

        dev, vram = self.device.device, self.settings.vram_gb
        if self._capacity is None or self._capacity[0] != vram:
            self._capacity = (vram, device_capacity(dev, vram))
        capacity_mb, source = self._capacity[1]
        width, height = inputs_size(request, plan.kind, plan.spec)
        spec_of = lambda resolved: resolved.spec if resolved is not None else None  # noqa: E731
        user = [Weight(f"{r.spec.id}: user LoRA", "unet", mb, "float16", mb)
                for r, _ in plan.loras for mb in [_file_mb(r.file(r.spec.weights.path))]]  # fmt: skip
        call = Call(plan.tier, plan.spec, plan.base.spec, plan.kind, width, height, plan.guidance,
                    self.device.dtype_name, spec_of(plan.controlnet), spec_of(plan.ip_adapter), spec_of(plan.preview),
                    spec_of(plan.vae_fix), decoder, fused=self.fuses_lora and not plan.loras, extra=user)  # fmt: skip
        floor = "model_offload" if self.settings.cpu_offload and dev.startswith("cuda") else None
        return plan_call(call, capacity_mb, source, dev, device_modes(dev, vram), floor, enforced(dev, vram))

    # ------------------------------------------------------------------------------------------ planning
    def _recipe(self, app: str) -> AppModels:
        try:
            return self.catalog.app(app)
        except KeyError as exc:
            raise InputError(str(exc).strip("'\"")) from None

    def _spec(self, spec_id: str, recipe: AppModels, what: str) -> ModelSpec:
        try:
            spec = self.catalog.get(spec_id)
        except KeyError as exc:
            raise InputError(f"{what}: {str(exc).strip(chr(34))}") from None
        if spec.family != recipe.family:
            raise InputError(
                f"{what} '{spec_id}' is a {spec.family} model; the '{recipe.app}' app runs {recipe.family}."
            )
        if spec.licence.noncommercial and not self.settings.include_noncommercial:
            raise InputError(
                f"'{spec_id}' is licensed {spec.licence.name} (non-commercial). To use it for non-commercial work, "
                "set STUDIO_INCLUDE_NONCOMMERCIAL=1 (Settings.include_noncommercial=True)."
            )
        return spec

    def _resolve(self, spec: ModelSpec, recipe: AppModels) -> Resolved:
        target = recipe.app if spec.id in recipe.default_ids() else spec.id
        return self.resolver.resolve(spec, fetch_target=target)

    def plan(self, request: GenerationRequest, tier: str) -> Plan:
        """Resolve every file one tier needs; raises ModelUnavailable (or _StudentMissing for the student's own)."""
        start = time.perf_counter()
        recipe = self._recipe(request.app)
        kind = request.pipeline or recipe.pipeline
        teacher = self._spec(request.teacher or recipe.teacher, recipe, "teacher")
        if teacher.kind != "pipeline" or teacher.role != "teacher":
            raise InputError(f"teacher '{teacher.id}' is not a teacher pipeline entry.")
        spec = teacher if tier == "teacher" else self._spec(request.student or recipe.student, recipe, "student")
        if tier == "student" and spec.role != "student":
            raise InputError(f"student '{spec.id}' is a {spec.role} entry, not a student.")
        base_spec = spec if spec.kind == "pipeline" else teacher
        if base_spec.inpaint and "inpaint" not in kind:
            raise InputError(f"'{base_spec.id}' is an inpainting model: use an inpaint pipeline kind, not '{kind}'.")
        adapter_ids = recipe.adapters if request.adapters is None else request.adapters
        adapters = [self._spec(a, recipe, "adapter") for a in adapter_ids]
        controlnets = [a for a in adapters if a.kind == "controlnet"]
        ip_adapters = [a for a in adapters if a.kind == "ip_adapter"]
        if len(controlnets) > 1 or len(ip_adapters) > 1:
            raise InputError("The engine runs one ControlNet and one IP-Adapter per call; pass at most one of each.")
        if kind.startswith("controlnet") and not controlnets:
            raise InputError(f"The '{kind}' pipeline needs a ControlNet adapter; none is in adapters={adapter_ids}.")
        if request.ip_adapter_image is not None and not ip_adapters:
            raise InputError(f"ip_adapter_image was given but no IP-Adapter is in adapters={adapter_ids}.")

        base = self._resolve(base_spec, recipe)  # the teacher: a missing teacher stops both tiers
        plan = Plan(tier, spec, base, None, kind)
        if kind.startswith("controlnet"):
            plan.controlnet = self._resolve(controlnets[0], recipe)
        if request.ip_adapter_image is not None:
            plan.ip_adapter = self._resolve(ip_adapters[0], recipe)
        if request.loras:
            from .user_loras import resolve as resolve_user_lora

            if spec.kind == "unet":
                raise InputError(f"User LoRAs apply to {base_spec.id}'s UNet, which the student '{spec.id}' replaces "
                                 "with its own: choose a LoRA student, or the teacher.")  # fmt: skip
            plan.loras = [(resolve_user_lora(lora, base, base_spec.family), float(w)) for lora, w in request.loras]
            plan.sources["loras"] = "request"
        if spec.kind in ("lora", "unet"):
            located = self.resolver.locate(spec)
            if located.resolved is None:
                target = recipe.app if spec.id in recipe.default_ids() else spec.id
                raise _StudentMissing(unavailable(located, target))
            plan.own = located.resolved
        if request.previews and recipe.preview:
            located = self.resolver.locate(self.catalog.get(recipe.preview))
            plan.preview = located.resolved  # optional: latent->RGB previews when TAESD is not cached
        if spec.family == "sdxl" and self.device.dtype_name == "float16":
            plan.vae_fix = self.resolver.locate(self.catalog.get("sdxl-vae-fp16-fix")).resolved
        self._settle(plan, request, base_spec)
        plan.resolve_ms = (time.perf_counter() - start) * 1000.0
        return plan

    def _settle(self, plan: Plan, request: GenerationRequest, base_spec: ModelSpec) -> None:
        """Steps, guidance, strength and scales for the plan's tier, each with where it comes from."""
        spec, kind, tier = plan.spec, plan.kind, plan.tier
        overrides = self._tier_is_requested(request, tier)  # a fallback teacher keeps its own defaults
        src = plan.sources
        if overrides and request.steps is not None:
            plan.steps, src["steps"] = int(request.steps), "request"
        elif "inpaint" in kind and spec.inpaint_steps is not None:
            plan.steps, src["steps"] = int(spec.inpaint_steps), f"{spec.id}: {spec.source_of('inpaint_steps')}"
        else:
            plan.steps, src["steps"] = int(spec.steps), f"{spec.id}: {spec.source_of('steps')}"
        if overrides and request.guidance is not None:
            plan.guidance, src["guidance"] = float(request.guidance), "request"
        else:
            plan.guidance, src["guidance"] = float(spec.guidance), f"{spec.id}: {spec.source_of('guidance')}"
        if tier == "student" and spec.scheduler is not None:
            src["scheduler"] = f"{spec.id}: {spec.source_of('scheduler')}"
        if spec.guidance_embedding:
            self._check_guidance_embedding(plan)
        plan.schedule = schedule(request, kind, spec, base_spec, tier, plan.steps)
        src.update(plan.schedule.sources)
        if plan.schedule.timesteps is not None:
            src["timesteps"] = f"{spec.id}: {spec.source_of('timesteps')}"
        if spec.eta is not None:
            src["eta"] = f"{spec.id}: {spec.source_of('eta')}"
        plan.notes += plan.schedule.notes
        if plan.controlnet is not None:
            cn = plan.controlnet.spec
            if request.controlnet_scale is not None:
                plan.controlnet_scale, src["controlnet_scale"] = float(request.controlnet_scale), "request"
            else:
                plan.controlnet_scale, src["controlnet_scale"] = cn.scale, f"{cn.id}: {cn.source_of('scale')}"
        if plan.ip_adapter is not None:
            ip = plan.ip_adapter.spec
            src["ip_adapter_scale"] = ("request" if request.ip_adapter_scale is not None
                                       else f"{ip.id}: {ip.source_of('scale')}")  # fmt: skip

    @staticmethod
    def _check_guidance_embedding(plan: Plan) -> None:
        """Refuse a guidance-embedding UNet (LCM's w-embedding) in a pipeline that never passes the embedding.

        Those pipelines (the ControlNet img2img/inpaint ones) would run real CFG at the model's guidance (8 for LCM)
        on a UNet distilled to take guidance as an input, and the embedding would be missing: garbage, not a
        slower image. Pipelines that pass it define `get_guidance_scale_embedding`."""
        from .loader import view_class

        union = plan.controlnet is not None and plan.controlnet.spec.union
        cls = view_class(plan.spec.family, plan.kind, union=union)
        if not hasattr(cls, "get_guidance_scale_embedding"):
            raise InputError(
                f"'{plan.spec.id}' takes guidance as an embedding ({plan.spec.source_of('guidance_embedding')}), "
                f"which {cls.__name__} (the '{plan.kind}' pipeline) never passes: it would run real CFG at "
                f"{plan.guidance:g} on a model distilled without it. Use another pipeline kind (txt2img, img2img, "
                "inpaint, controlnet) or a LoRA student (lcm-lora-sd15, lcm-lora-sdxl)."
            )

    @staticmethod
    def _tier_is_requested(request: GenerationRequest, tier: str) -> bool:
        return (tier == "teacher") == (request.mode == "quality")

    @staticmethod
    def _gate(request: GenerationRequest, result: Result) -> str | None:
        """None when the student's image passes (or there is no gate), else the reason it failed."""
        if request.quality_gate is None:
            return None
        verdict = request.quality_gate(result.image)
        if verdict is None or verdict is True:
            return None
        return verdict if isinstance(verdict, str) and verdict else "the gate returned False"

    # ------------------------------------------------------------------------------------------ running
    def call_on_device(self, fn: Callable[..., T], *args) -> T:
        """Run `fn(*args)` on the device thread, after any queued generation, and return its result.

        Benchmarks use it to time a bare diffusers call under the same conditions as the engine's own calls.
        Never call it from the device thread itself (from inside a generation): it would wait for itself.
        """
        return device_worker(self.device.device).submit(fn, *args).result()

    def _execute(self, request: GenerationRequest, plan: Plan, fallback: str | None,
                 notes: list[str]) -> Generator[Preview, None, Result]:  # fmt: skip
        """Run one tier on a worker thread, yielding its previews as they come; returns its Result."""
        from .planner import WontFit
        from .runner import run_plan

        plan.memory = self.memory_plan(request, plan)  # before anything loads: a call that cannot fit stops here
        if not plan.memory.fits and plan.memory.enforced:
            raise WontFit(plan.memory)
        cancel = request.cancel or (lambda: False)
        events: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work():
            try:
                result = run_plan(self, request, plan, emit=lambda p: events.put(("preview", p)),
                                  cancelled=lambda: stop.is_set() or bool(cancel()))  # fmt: skip
                events.put(("result", result))
            except BaseException as exc:  # handed to the consumer's thread, which re-raises it
                events.put(("error", exc))

        job = device_worker(self.device.device).submit(work)
        try:
            while True:
                what, value = events.get()
                if what == "preview":
                    yield value
                elif what == "error":
                    raise self._teach(value, plan)
                else:
                    result: Result = value
                    break
        finally:
            stop.set()  # the consumer stopped iterating: the callback stops the run at the next step
            if not job.cancel():  # still queued behind another call: it never starts; else wait for its end
                job.result()
        result.provenance.fallback_reason = fallback
        result.provenance.notes[:0] = notes
        return result

    def _teach(self, exc: BaseException, plan: Plan) -> BaseException:
        from .previews import Cancelled

        if isinstance(exc, Cancelled):
            return GenerationCancelled(f"Generation cancelled ({plan.tier} '{plan.spec.id}'); nothing was returned.")
        if isinstance(exc, StudioError):
            return exc
        if is_oom(exc):
            error = GenerationError(
                f"The {plan.tier} '{plan.spec.id}' ran out of memory on {self.device.device}. Lower the resolution, "
                "close other GPU programs, set STUDIO_CPU_OFFLOAD=1, or lower STUDIO_MEMORY_BUDGET_MB so fewer "
                "models stay resident."
            )
        else:
            error = GenerationError(
                f"The {plan.tier} '{plan.spec.id}' failed: {type(exc).__name__}: {exc}. This is not one of the "
                "fallback reasons (missing weights, out of memory, quality gate), so the studio did not switch "
                "tiers. Check the inputs (image, mask and control image should have the same size, a multiple of "
                "8), or run with mode='quality' to try the teacher; the chained traceback shows where it failed."
            )
        error.__cause__ = exc
        return error


class DeviceWorker:
    """One daemon thread that runs submitted calls in order, each resolving a `concurrent.futures.Future`.

    A daemon, unlike a ThreadPoolExecutor's worker: quitting the studio (Ctrl+C) never waits minutes for a
    teacher run on a CPU to finish. A future cancelled before its turn never runs.
    """

    def __init__(self, name: str):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting = 0  # submitted and not finished (running or queued)
        self._count_lock = threading.Lock()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    @property
    def busy(self) -> bool:
        """Whether a call is running or queued: a live stream drops its frame then instead of queueing it."""
        return self._waiting > 0

    def submit(self, fn: Callable[..., T], *args) -> "Future[T]":
        future: Future = Future()
        with self._count_lock:
            self._waiting += 1
        self._jobs.put((future, fn, args))
        return future

    def _loop(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                self._done()
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # the submitter re-raises it from future.result()
                self._done()  # before waking the submitter: its next call finds the device free
                future.set_exception(exc)
            else:
                self._done()
                future.set_result(result)

    def _done(self) -> None:
        with self._count_lock:
            self._waiting -= 1


_workers: dict[str, DeviceWorker] = {}
_workers_guard = threading.Lock()


def _forget_workers_in_child() -> None:
    """A forked child (ZeroGPU runs each GPU call in a forked worker process) inherits the registry but not the
    parent's device threads: start fresh ones there rather than queue work for a thread that never runs it."""
    global _workers_guard
    _workers.clear()
    _workers_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_in_child)


def device_worker(device: str) -> DeviceWorker:
    """The one thread that runs the process's torch work on `device`, for every engine.

    Why one long-lived thread rather than a thread per call: each new thread that runs torch builds its own
    OpenMP worker pool, and on a small CPU the previous pool's workers still spin on the cores for a while.
    A fresh thread per call cost ~9 ms of a 50 ms call on a 2-core laptop (tiny models), and two threads running
    torch in turn slow each other ~2.5×. One thread per device also keeps calls on it one at a time, in order,
    without a separate lock.
    """
    with _workers_guard:
        if device not in _workers:
            _workers[device] = DeviceWorker(f"studio-{device}")
        return _workers[device]


def _file_mb(path) -> float:
    try:
        return round(os.path.getsize(path) / 1e6, 1)
    except OSError:
        return 0.0


class _StudentMissing(Exception):
    """The student's own weights are missing (the teacher may still run): carries the ModelUnavailable."""

    def __init__(self, error: ModelUnavailable):
        super().__init__(str(error))
        self.error = error


__all__ = ["Engine", "GenerationRequest", "GenerationError", "GenerationCancelled", "Plan"]
