"""Gradio pages generated from an app's schema. The only module (with launch.py and spaces.py) that imports gradio.

`build_page(app, ctx)` renders the app's parameters as components, streams its previews into the output image,
and turns `InputError` (and every other `StudioError`) into a `gr.Error` with the same text the CLI prints. The
endpoints it registers (`/<app>`, `/<app>_compare`, `/<app>_live`, `/<app>_batch`) and their parameter names come
from `studio.ui.api`, which `studio api <app>` prints.

Three things every handler does:
* **Each answer gets its own files.** Gradio names the files of returned arrays by their content, so two users
  with the same photo and settings would share one file that the second rewrites while the first downloads it
  (a truncated image). Handlers write every image to a fresh name inside Gradio's cache (`_Outbox`) and return
  the path; Gradio serves it as it is and deletes it with the rest of its cache (`delete_cache`).
* **A caller that goes away stops the work.** A closed tab, a killed API client or `job.cancel()` marks the
  Gradio event dead; `_caller_gone()` turns that into the session layer's `cancel_when`, which the app and the
  engine poll between steps, so the worker is free again within a step instead of finishing for nobody.
* **GPU work can be lent per call.** `gpu(fn, kind)` wraps the functions that run diffusion tiers (a Space passes
  `spaces.GPU`); lite-tier calls never take a GPU.
"""

from __future__ import annotations

import base64
import contextlib
import html
import inspect
import os
import queue
import shutil
import threading
import traceback
import uuid
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np

from ..context import RunContext
from ..errors import StudioError
from ..schema import App, ChoiceParam, ImageListParam, ImageParam, SeedParam, SliderParam, ToggleParam
from .api import api_name, batch_params, live_params
from .history import keep, keep_results
from .session import Call, Cancellable, CompareCall, needs_gpu

CSS = """
.studio-badge {font-family: ui-monospace, monospace; font-size: 0.9em; padding: 4px 10px; border-radius: 12px;
               background: var(--color-accent-soft); display: inline-block;}
/* The result column stays in view while the inputs scroll past it (and scrolls on its own when taller). */
.studio-app-row {align-items: flex-start !important; overflow: visible !important;}
/* Gradio's container hides its overflow, which makes it the sticky column's scroller (it never scrolls): clip
   instead, which cuts the same overflow without becoming a scroller. */
.gradio-container {overflow: clip !important;}
.studio-result-col {position: sticky; top: 8px; align-self: flex-start; max-height: calc(100vh - 16px);
                    overflow-y: auto; overflow-x: hidden; flex-wrap: nowrap !important;}
.studio-result-col > * {flex-shrink: 0;}
.studio-weights {font-size: 0.95em;}
"""

#: gpu(fn, kind) -> fn: wraps a generator function that runs diffusion tiers ("run", "compare", "batch").
GpuWrapper = Callable[[Callable, str], Callable]


# --------------------------------------------------------------------------------------------- plumbing
def _path_passthrough(payload):
    """Preprocess for image inputs: hand the handler the uploaded file's path (or inline bytes) untouched.

    Stock `gr.Image` decodes uploads with PIL before our handler runs, so a corrupt file or a text file named
    .jpg fails inside Gradio with a bare "Error"; the studio's own loader gives the real reason instead.
    (Set per instance: subclassing a Gradio component makes Gradio write a .pyi file next to our source.)
    """
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):  # webcam snapshots may arrive inline
        return base64.b64decode(payload.url.split(",", 1)[1])
    return payload.path


def _named(fn, params: list):
    """Give a `*values` handler a signature naming its inputs after the app's parameters, with their defaults,
    so the API and `gradio_client` take `source=…, preset=…` instead of param_0, param_1, … and may omit
    anything optional. `params` holds `Param`s or plain names (required, no default)."""
    def parameter(p):
        if isinstance(p, str):
            return inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        required = isinstance(p, ImageParam) and p.required
        default = inspect.Parameter.empty if required else p.default
        return inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)

    fn.__signature__ = inspect.Signature([parameter(p) for p in params])
    return fn


class _Outbox:
    """Writes each image a handler returns to its own new file inside Gradio's cache folder (so Gradio serves it
    without copying it to a content-named file, and `delete_cache` removes it on schedule). The folder is private
    to this user (0700)."""

    def __init__(self):
        from gradio.utils import get_upload_folder

        self.root = Path(get_upload_folder()) / "studio-results"

    def _new(self, suffix: str) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.root / f"{uuid.uuid4().hex}{suffix}"

    def image(self, rgb: np.ndarray | None, lossless: bool = False) -> str | None:
        """PNG for results (what a user downloads), JPEG for previews, before images and details (fast)."""
        if rgb is None:
            return None
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(rgb))
        path = self._new(".png" if lossless else ".jpg")
        tmp = path.with_suffix(path.suffix + ".part")
        if lossless:
            image.save(tmp, format="PNG", compress_level=3)
        else:
            image.convert("RGB").save(tmp, format="JPEG", quality=90)
        os.replace(tmp, path)  # never a half-written file under the served name
        return str(path)

    def folder(self) -> Path:
        path = self._new("")
        path.mkdir(mode=0o700)
        return path


def _caller_gone() -> Callable[[], bool]:
    """A probe, made inside a Gradio handler, that turns true once the client that started this event is gone.

    Gradio marks an event dead when its client disconnects (`Event.alive`) and takes it out of the session's
    pending events when `job.cancel()` (or the page's Stop) ends it; until the handler's next yield Gradio cannot
    stop the work itself. Any surprise in Gradio's internals makes the probe answer False (never a false cancel).
    """
    try:
        from gradio.context import LocalContext

        blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
        queue_ = getattr(blocks, "_queue", None)
        event = next((e for job in queue_.active_jobs if job for e in job if e._id == event_id), None)
    except Exception:  # noqa: BLE001
        return lambda: False
    if event is None:
        return lambda: False
    session = event.session_hash

    def gone() -> bool:
        if not event.alive:
            return True
        pending = queue_.pending_event_ids_session.get(session)
        return pending is not None and event_id not in pending

    return gone


@contextlib.contextmanager
def _friendly_errors():
    """Turn studio errors into a `gr.Error` with the same text the CLI prints (no server traceback: a photo
    without a face is not a server fault); anything else is a bug, logged with its traceback."""
    try:
        yield
    except StudioError as exc:
        raise gr.Error(str(exc), title=type(exc).__name__, print_exception=False) from None
    except Exception as exc:  # noqa: BLE001 -- last-resort message; the traceback goes to the server log
        traceback.print_exc()
        raise gr.Error(
            f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the studio; the server log has the details.",
            title="Internal error",
        ) from None


def _badge(text: str) -> str:
    return f'<span class="studio-badge" data-testid="studio-badge">{html.escape(text)}</span>'


def _on_gpu(gpu: GpuWrapper | None, fn: Callable, kind: str):
    """(wrapped fn, whether it runs in another process): a ZeroGPU wrapper runs `fn` in its GPU worker, where this
    process's Gradio state (the caller probe) does not exist; a no-op wrapper returns `fn` itself."""
    if gpu is None:
        return fn, False
    wrapped = gpu(fn, kind)
    return wrapped, wrapped is not fn


# --------------------------------------------------------------------------------------------- the page
def _component(param, image_height: int = 320):
    common = {"label": param.label, "info": param.help or None}
    if isinstance(param, ImageParam):
        sources = ["upload", "webcam", "clipboard"] if param.webcam else ["upload", "clipboard"]
        image = gr.Image(label=param.label, sources=sources, type="filepath", height=image_height)
        image.preprocess = _path_passthrough
        return image
    if isinstance(param, ImageListParam):  # several photos of one subject: a list of file paths
        return gr.File(label=param.label, file_count="multiple", file_types=["image"], type="filepath", height=120)
    if isinstance(param, SliderParam):
        return gr.Slider(param.minimum, param.maximum, value=param.default, step=param.step, **common)
    if isinstance(param, ChoiceParam):
        return gr.Radio(list(param.choices), value=param.default, **common)
    if isinstance(param, ToggleParam):
        return gr.Checkbox(value=param.default, **common)
    if isinstance(param, SeedParam):
        return gr.Number(value=param.default, precision=0, minimum=0, **common)
    return gr.Textbox(value=param.default, **common)


def build_page(app: App, ctx: RunContext, gpu: GpuWrapper | None = None, outputs: Path | None = None,
               **blocks_kwargs) -> gr.Blocks:  # fmt: skip
    """One app as a stand-alone Blocks page (`blocks_kwargs` go to `gr.Blocks`, e.g. `delete_cache`); final results
    are kept in `outputs` (None: not kept; studio/outputs.py)."""
    keep_results(ctx, outputs)
    with gr.Blocks(title=f"{app.title} · Distill Studio", **blocks_kwargs) as page:
        _app_layout(app, ctx, gpu)
    return page


def build_studio(apps: list[App], ctx: RunContext, gpu: GpuWrapper | None = None, outputs: Path | None = None,
                 history: bool = True, downloads: bool = True, **blocks_kwargs) -> gr.Blocks:  # fmt: skip
    """Every app as a tab of one Blocks, sharing one preprocessing cache and one queue; then the Models tab (what
    `studio fetch` does; `downloads=False` lists only) and, when results are kept in `outputs`, the History tab
    (`history=False` leaves it out: on a shared server it would show every visitor's results to everyone)."""
    from .history import history_tab, page_inputs
    from .models_page import models_tab

    keep_results(ctx, outputs)
    with gr.Blocks(title="Distill Studio", **blocks_kwargs) as studio:
        gr.Markdown("# Distill Studio\nDistilled few-step diffusion apps, their teachers, and an offline lite tier.")
        inputs = {}
        with gr.Tabs() as tabs:
            for app in apps:
                with gr.Tab(app.title, id=app.id) as page:
                    _app_layout(app, ctx, gpu)
                inputs[app.id] = page_inputs(app, page)
            with gr.Tab("Models", id="models") as tab:
                studio.studio_models = models_tab(ctx, [app.recipe for app in apps if app.recipe], downloads, tab)
            if outputs is not None and history:
                with gr.Tab("History", id="history") as tab:
                    studio.studio_history = history_tab(Path(outputs), apps, inputs, tabs, tab)
    return studio


def _app_layout(app: App, ctx: RunContext, gpu: GpuWrapper | None) -> None:
    """An app's components and events, added to the Blocks (or Tab) being built.

    Two columns: on the left the app's main image inputs, then Run, then its other main settings, the advanced
    ones folded (`Param.advanced`) and the examples; on the right, staying in view while the left one scrolls
    (CSS `studio-result-col`), the result with its step previews, the before/after slider, the badge, the
    details and the JSON. Then the live, compare and batch sections the app declares. Components are created in
    that visual order, but the handlers take them in `app.params` order (the API's parameter order)."""
    gr.Markdown(f"## {app.title}\n{app.description}")
    main = [p for p in app.params if not p.advanced]
    pictures = [p for p in main if isinstance(p, ImageParam)]
    made: dict[str, gr.components.Component] = {}
    with gr.Row(equal_height=False, elem_classes=["studio-app-row"]):
        with gr.Column(scale=2, min_width=360, elem_classes=["studio-inputs-col"]):
            with gr.Row():  # the main photos side by side, so Run stays near the top
                for p in pictures:
                    made[p.name] = _component(p, image_height=300 if len(pictures) == 1 else 240)
            run_button = gr.Button("Run", variant="primary", elem_classes=["studio-run"])
            for p in main:
                if p.name not in made:
                    made[p.name] = _component(p)
            advanced = [p for p in app.params if p.advanced]
            if advanced:
                with gr.Accordion("Advanced settings", open=False):
                    for p in advanced:
                        made[p.name] = _component(p)
            inputs = [made[p.name] for p in app.params]
            examples = app.examples(ctx.settings)
            if examples:  # only the columns the examples set (a click leaves the other settings as they are)
                shown = [p for p in app.params if any(p.name in ex for ex in examples)]
                gr.Examples([[ex.get(p.name, p.default) for p in shown] for ex in examples],
                            inputs=[made[p.name] for p in shown], label="Examples (click one, then Run)",
                            examples_per_page=6)  # fmt: skip
        with gr.Column(scale=3, min_width=420, elem_classes=["studio-result-col"]):
            with gr.Tabs():
                with gr.Tab("Result"):
                    output = gr.Image(label="Result", type="numpy", format="png", interactive=False, height=440,
                                      elem_classes=["studio-result"])  # fmt: skip
                with gr.Tab("Before / after"):
                    slider = gr.ImageSlider(label="Before / after", type="numpy", format="png", max_height=440)
            badge = gr.HTML(elem_classes=["studio-badge-holder"])
            extras = gr.Gallery(label="Details", columns=4, height="auto", object_fit="contain")
            summary = gr.JSON(label="Provenance, metrics and details", open=False)

    names = [p.name for p in app.params]
    outbox = _Outbox()

    def run_stream(params: dict, probe=None):
        with _friendly_errors():
            for update in Call(app, ctx, params, cancel_when=probe).updates():
                item = update.result
                if item is None:
                    yield outbox.image(update.image), gr.skip(), _badge(update.badge), gr.skip(), gr.skip()
                    continue
                image = outbox.image(item.image, lossless=True)
                pair = (outbox.image(item.before), image) if item.before is not None and image else None
                gallery = [(outbox.image(img), name) for name, img in item.extras.items()]
                keep(ctx, app, params, item)  # the outputs folder, when this server keeps results
                yield image, pair, _badge(update.badge), gallery, item.summary()

    on_gpu, elsewhere = _on_gpu(gpu, run_stream, "run")

    def handler(*values):
        params = dict(zip(names, values))
        if on_gpu is not run_stream and needs_gpu(app, ctx, params):
            yield from on_gpu(params) if elsewhere else on_gpu(params, _caller_gone())
        else:
            yield from run_stream(params, _caller_gone())

    run_button.click(_named(handler, list(app.params)), inputs, [output, slider, badge, extras, summary], api_name=api_name(app),
                     concurrency_limit=2)  # fmt: skip
    if app.offers("live"):
        _live_section(app, ctx, inputs, names, outbox)
    if app.offers("compare"):
        _compare_section(app, ctx, inputs, names, outbox, gpu)
    if app.offers("batch"):
        _batch_section(app, ctx, inputs, names, outbox, gpu)


def _compare_section(app: App, ctx: RunContext, inputs: list, names: list[str], outbox: _Outbox,
                     gpu: GpuWrapper | None) -> None:  # fmt: skip
    """Student and teacher on the same inputs and seed: the student's image shows first and the teacher's
    replaces it in the same canvas; then a student/teacher slider and the measured table."""
    with gr.Accordion("Compare student vs teacher", open=False):
        # Said on every page load (weights fetched while the studio runs count at once), before any click.
        weights = gr.Markdown(elem_classes=["studio-weights"])
        gr.on(None, lambda: _weights_note(app, ctx), None, weights, api_visibility="private", show_progress="hidden",
              queue=False)  # fmt: skip
        compare_button = gr.Button("Compare (runs both diffusion tiers)")
        with gr.Row():
            canvas = gr.Image(label="Student first, then the teacher", type="numpy", format="png", interactive=False,
                              height=360)  # fmt: skip
            pair = gr.ImageSlider(label="Student / teacher", type="numpy", format="png", max_height=360)
        status = gr.HTML()
        table = gr.Markdown()
        report = gr.JSON(label="Comparison", visible=False)

    def compare_stream(params: dict, probe=None):
        with _friendly_errors():
            for update in CompareCall(app, ctx, params, cancel_when=probe).updates():
                if update.comparison is not None:
                    s, t = (update.comparison.results[k] for k in ("student", "teacher"))
                    keep(ctx, app, params, s, "student")  # both kept, when this server keeps results
                    keep(ctx, app, params, t, "teacher")
                    pair_ = (outbox.image(s.image), outbox.image(t.image, lossless=True))
                    yield gr.skip(), pair_, _badge(update.badge), update.comparison.markdown(), \
                        update.comparison.summary()
                else:
                    yield outbox.image(update.image), gr.skip(), _badge(update.badge), gr.skip(), gr.skip()

    on_gpu, elsewhere = _on_gpu(gpu, compare_stream, "compare")

    def on_compare(*values):
        params = dict(zip(names, values))
        with _friendly_errors():
            _require_both_tiers(app, ctx)  # a short answer naming the fetch command, not the list of missing files
        if on_gpu is not compare_stream and needs_gpu(app, ctx, {**params, "tier": "student"}):
            yield from on_gpu(params) if elsewhere else on_gpu(params, _caller_gone())
        else:
            yield from compare_stream(params, _caller_gone())

    def on_page_compare(*values):
        """The page's button: without the weights, a short note in the panel and a warning, not an error that
        marks every empty image of the panel (API callers get the error: `/<app>_compare` below)."""
        from ..errors import ModelUnavailable

        try:
            _require_both_tiers(app, ctx)
        except ModelUnavailable as exc:
            gr.Warning(str(exc), title="Weights missing")
            yield gr.skip(), gr.skip(), _badge(str(exc)), gr.skip(), gr.skip()
            return
        yield from on_compare(*values)

    outputs = [canvas, pair, status, table, report]
    compare_button.click(on_page_compare, inputs, outputs, api_visibility="private", concurrency_limit=1,
                         concurrency_id=f"{app.id}-compare")  # fmt: skip
    gr.Button(visible=False).click(_named(on_compare, list(app.params)), inputs, outputs,
                                   api_name=f"{api_name(app)}_compare", concurrency_limit=1,
                                   concurrency_id=f"{app.id}-compare")  # fmt: skip


def _availability(app: App, ctx: RunContext) -> dict:
    """`Engine.availability` for the app's recipe (and a student chosen for this context), from files on disk."""
    chosen = ctx.student_choice(app.id)
    return ctx.engine.availability(app.recipe, **chosen)


def _weights_note(app: App, ctx: RunContext) -> str:
    """One or two lines for the Compare panel: which diffusion tiers have their weights here, and the command
    that downloads the missing ones."""
    try:
        have = _availability(app, ctx)
    except Exception as exc:  # noqa: BLE001 -- the panel still opens; Compare itself says what is wrong
        return f"Could not check this app's weights ({type(exc).__name__}: {exc})."
    state = {tier: "present" if have[tier]["available"] else "missing" for tier in ("student", "teacher")}
    line = f"Student weights: **{state['student']}** · teacher weights: **{state['teacher']}**."
    if "missing" in state.values():
        return (f"{line} Compare needs both. Download them with `{have['fetch']}` "
                "(the app runs its offline lite tier meanwhile).")  # fmt: skip
    return f"{line} Compare runs both on the same inputs and seed."


def _require_both_tiers(app: App, ctx: RunContext) -> None:
    """Raise a short `ModelUnavailable` when the student or the teacher lacks weights on this machine."""
    from ..errors import ModelUnavailable

    have = _availability(app, ctx)
    missing = [tier for tier in ("student", "teacher") if not have[tier]["available"]]
    if missing:
        raise ModelUnavailable(f"Compare needs the {app.title.lower()} student and teacher weights; the "
                               f"{' and the '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on this "
                               "machine.", fetch_command=have["fetch"])  # fmt: skip


def _live_section(app: App, ctx: RunContext, inputs: list, names: list[str], outbox: _Outbox) -> None:
    """Webcam frames streamed through the app's real-time (lite) path, with the page's other settings.

    The output is a plain image, not a streaming one: a streaming output makes Gradio send `process_streaming`
    messages, which `gradio_client` does not know (KeyError), and each frame replaces the last one anyway."""
    with gr.Accordion("Live webcam (lite tier, on this computer's CPU)", open=False):
        with gr.Row():
            camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                              webcam_options=gr.WebcamOptions(mirror=True))  # fmt: skip
            live_out = gr.Image(label="Live result", type="numpy", interactive=False)
    others = [c for c, n in zip(inputs, names) if n != app.live_param]
    other_names = [p.name for p in live_params(app)]

    def on_frame(frame, *values):
        if frame is None:
            return None
        if not isinstance(frame, np.ndarray):  # an API client's file (a path) or inline bytes
            from ..imaging import load_image

            with _friendly_errors():
                frame = load_image(frame, what="webcam frame", max_pixels=ctx.settings.max_pixels)
        with _friendly_errors():
            params = app.validate({**dict(zip(other_names, values)), app.live_param: frame})
            params.pop(app.live_param)
            return outbox.image(app.live(ctx, frame, **params))

    # The page streams the webcam; API clients call `/<app>_live` with one frame per request (a `.stream()` event
    # answers with `process_streaming` messages, which gradio_client cannot read: KeyError).
    camera.stream(on_frame, [camera, *others], [live_out], stream_every=0.1, time_limit=60, concurrency_limit=4,
                  concurrency_id=f"{app.id}-live", api_name=f"{api_name(app)}_live_stream", api_visibility="private")  # fmt: skip
    api_frame = gr.Image(type="filepath", visible=False)
    api_frame.preprocess = _path_passthrough
    api_out = gr.Image(type="numpy", visible=False)
    gr.Button(visible=False).click(_named(on_frame, ["frame", *live_params(app)]), [api_frame, *others], [api_out],
                                   api_name=f"{api_name(app)}_live", concurrency_id=f"{app.id}-live")  # fmt: skip


def _batch_section(app: App, ctx: RunContext, inputs: list, names: list[str], outbox: _Outbox,
                   gpu: GpuWrapper | None) -> None:  # fmt: skip
    """Several images for the app's primary input with the page's other settings, through the one batch runner
    (`studio.batch.run_batch`, as `studio batch`): a gallery of results, the contact sheet and the summary."""
    primary = app.param(app.primary_input)
    with gr.Accordion(f"Batch: many images for '{primary.label}'", open=False):
        files = gr.File(label=f"{primary.label}: several images", file_count="multiple", type="filepath",
                        file_types=["image"])  # fmt: skip
        batch_button = gr.Button("Run batch")
        status = gr.HTML()
        gallery = gr.Gallery(label="Results", columns=4, height="auto", object_fit="contain")
        sheet = gr.Image(label="Contact sheet", type="numpy", interactive=False)
        report = gr.JSON(label="Batch summary")
    others = [c for c, n in zip(inputs, names) if n != app.primary_input]
    other_names = [p.name for p in batch_params(app)]

    def batch_stream(paths: list, params: dict, probe=None):
        from ..batch import run_batch

        with _friendly_errors():
            if not paths:
                raise StudioError(f"Choose one or more images for '{primary.label}'.")
            folder, out = outbox.folder(), outbox.folder()
            for i, path in enumerate(paths):  # one folder of this call's uploads, their names kept
                name = Path(path).name
                target = folder / name
                if target.exists():  # two uploads with one name
                    target = folder / f"{Path(name).stem}_{i}{Path(name).suffix}"
                shutil.copyfile(path, target)
            call = Cancellable(probe)  # this batch's own cancel flag, and its caller probe
            call_ctx = call.for_call(ctx)
            events: queue.Queue = queue.Queue()

            def progress(done, total, entry):
                events.put(("row", (done, total, entry)))
                call_ctx.check_cancelled()  # a cancelled batch stops between rows

            def work():
                try:
                    events.put(("done", run_batch(app, call_ctx, out, {**params, app.primary_input: folder},
                                                  progress)))  # fmt: skip
                except BaseException as exc:  # noqa: BLE001 -- re-raised in the handler's thread
                    events.put(("error", exc))

            def outputs():
                threading.Thread(target=work, name=f"batch-{app.id}", daemon=True).start()
                shown: list = []
                while True:
                    what, value = events.get()
                    if what == "error":
                        raise value
                    if what == "done":
                        break
                    done, total, entry = value
                    if "output" in entry:
                        shown.append((str(out / entry["output"]), entry["output"]))
                    text = f"{done}/{total} · {entry.get('error') or entry.get('output')}"
                    yield shown[:], gr.skip(), _badge(text), gr.skip()
                value["inputs"] = {app.primary_input: [Path(p).name for p in paths]}  # not the server's folders
                text = f"batch done · {value['done']} of {len(value['results'])} images"
                yield shown, str(out / "contact_sheet.png"), _badge(text), value

            yield from call.track(outputs())  # a consumer that goes away cancels the batch between rows

    on_gpu, elsewhere = _on_gpu(gpu, batch_stream, "batch")

    def on_batch(paths, *values):
        params = dict(zip(other_names, values))
        if on_gpu is not batch_stream and needs_gpu(app, ctx, params):
            yield from on_gpu(paths, params) if elsewhere else on_gpu(paths, params, _caller_gone())
        else:
            yield from batch_stream(paths, params, _caller_gone())

    batch_button.click(_named(on_batch, ["files", *batch_params(app)]), [files, *others], [gallery, sheet, status, report],
                       api_name=f"{api_name(app)}_batch", concurrency_limit=1)  # fmt: skip


# --------------------------------------------------------------------------------------------- aborted uploads
def sweep_aborted_uploads(folder: Path, stale_s: float) -> list[Path]:
    """Delete the partial files of uploads that stopped arriving `stale_s` seconds ago; return them.

    Gradio receives an upload into a top-level `tmp*` file of its upload folder and moves it into place when it is
    complete; a client that goes away mid-upload leaves that file behind for good."""
    import time

    now, removed = time.time(), []
    for path in Path(folder).glob("tmp*"):
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > stale_s:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # finished (moved into place) or removed meanwhile
    return removed


def start_upload_sweeper(blocks, stale_s: float) -> None:
    """A daemon thread sweeping aborted uploads while `blocks` is served (it ends when the server closes)."""
    import time

    from gradio.utils import get_upload_folder

    def sweep():
        period, served = max(1.0, min(60.0, stale_s / 2)), False
        while True:
            time.sleep(period)
            running = getattr(blocks, "is_running", False)
            if served and not running:
                return  # the server was closed
            served = served or running
            sweep_aborted_uploads(Path(get_upload_folder()), stale_s)

    threading.Thread(target=sweep, name="upload-sweeper", daemon=True).start()
