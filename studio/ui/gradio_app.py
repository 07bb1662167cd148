"""Gradio pages generated from an app's schema. The only module (with launch.py) that imports gradio.

`build_page(app, ctx)` renders the app's parameters as components, streams its previews into the output
image, and turns `InputError` (and every other `StudioError`) into a `gr.Error` with the same text the
CLI prints. Each page exposes one named API endpoint, `/<app id>`, for `gradio_client`.
"""

from __future__ import annotations

import base64
import contextlib
import html
import inspect
import traceback

import gradio as gr

from ..context import RunContext
from ..errors import StudioError
from ..schema import App, ChoiceParam, ImageParam, Preview, Result, SeedParam, SliderParam, ToggleParam
from .session import Call

CSS = """
.studio-badge {font-family: ui-monospace, monospace; font-size: 0.9em; padding: 4px 10px; border-radius: 12px;
               background: var(--color-accent-soft); display: inline-block;}
"""


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
    anything optional. `params` holds `Param`s or plain names (no default)."""
    def parameter(p):
        if isinstance(p, str):
            return inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        required = isinstance(p, ImageParam) and p.required
        default = inspect.Parameter.empty if required else p.default
        return inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)

    fn.__signature__ = inspect.Signature([parameter(p) for p in params])
    return fn


def api_name(app: App) -> str:
    return app.id.replace("-", "_")


def _component(param):
    common = {"label": param.label, "info": param.help or None}
    if isinstance(param, ImageParam):
        sources = ["upload", "webcam", "clipboard"] if param.webcam else ["upload", "clipboard"]
        image = gr.Image(label=param.label, sources=sources, type="filepath", height=320)
        image.preprocess = _path_passthrough
        return image
    if isinstance(param, SliderParam):
        return gr.Slider(param.minimum, param.maximum, value=param.default, step=param.step, **common)
    if isinstance(param, ChoiceParam):
        return gr.Radio(list(param.choices), value=param.default, **common)
    if isinstance(param, ToggleParam):
        return gr.Checkbox(value=param.default, **common)
    if isinstance(param, SeedParam):
        return gr.Number(value=param.default, precision=0, minimum=0, **common)
    return gr.Textbox(value=param.default, **common)


def _gallery(result: Result) -> list[tuple]:
    return [(image, name) for name, image in result.extras.items()]


def build_page(app: App, ctx: RunContext) -> gr.Blocks:
    """One app as a stand-alone Blocks page."""
    with gr.Blocks(title=f"{app.title} · Distill Studio") as page:
        _app_layout(app, ctx)
    return page


def _app_layout(app: App, ctx: RunContext) -> None:
    """An app's components and events, added to the Blocks (or Tab) being built: inputs on the left;
    result, before/after slider, badge, details and JSON on the right; a live webcam section if the app
    has a real-time path."""
    gr.Markdown(f"## {app.title}\n{app.description}")
    with gr.Row():
        with gr.Column(scale=2):
            inputs = [_component(p) for p in app.params]
            run_button = gr.Button("Run", variant="primary")
            examples = app.examples(ctx.settings)
            if examples:
                gr.Examples([[ex.get(p.name, p.default) for p in app.params] for ex in examples], inputs=inputs,
                            label="Examples (click one, then Run)")  # fmt: skip
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab("Result"):
                    output = gr.Image(label="Result", type="numpy", interactive=False, height=420)
                with gr.Tab("Before / after"):
                    slider = gr.ImageSlider(label="Before / after", type="numpy", max_height=420)
            badge = gr.HTML(elem_classes=["studio-badge-holder"])
            extras = gr.Gallery(label="Details", columns=4, height="auto", object_fit="contain")
            summary = gr.JSON(label="Provenance, metrics and details")

    names = [p.name for p in app.params]

    def handler(*values):
        with _friendly_errors():
            for update in Call(app, ctx, dict(zip(names, values))).updates():
                item = update.result
                if item is None:
                    yield update.image, gr.skip(), _badge(update.badge), gr.skip(), gr.skip()
                else:
                    pair = (item.before, item.image) if item.before is not None and item.image is not None else None
                    yield item.image, pair, _badge(update.badge), _gallery(item), item.summary()

    run_button.click(_named(handler, list(app.params)), inputs, [output, slider, badge, extras, summary], api_name=api_name(app),
                     concurrency_limit=2)  # fmt: skip
    if app.offers("live"):
        _live_section(app, ctx, inputs, names)
    if app.offers("compare"):
        _compare_section(app, ctx, inputs, names)


def _compare_section(app: App, ctx: RunContext, inputs: list, names: list[str]) -> None:
    """Student and teacher on the same inputs and seed: the student's image shows first and the teacher's
    replaces it in the same canvas; then a student/teacher slider and the measured table."""
    from ..compare import Comparison, compare_stream

    with gr.Accordion("Compare student vs teacher", open=False):
        compare_button = gr.Button("Compare (runs both diffusion tiers)")
        with gr.Row():
            canvas = gr.Image(label="Student first, then the teacher", type="numpy", interactive=False, height=360)
            pair = gr.ImageSlider(label="Student / teacher", type="numpy", max_height=360)
        status = gr.HTML()
        table = gr.Markdown()

    def on_compare(*values):
        params = dict(zip(names, values))
        seed = params.pop("seed")
        params.pop("tier")
        with _friendly_errors():
            for item in compare_stream(app, ctx.for_call(), params, seed=int(seed or 0)):
                if isinstance(item, Comparison):
                    s, t = item.results["student"], item.results["teacher"]
                    yield gr.skip(), (s.image, t.image), _badge(f"speed-up ×{item.speedup}"), item.markdown()
                    continue
                tier, payload = item
                if isinstance(payload, Preview):
                    yield payload.image, gr.skip(), _badge(f"{tier} · {payload.step}/{payload.total}"), gr.skip()
                else:
                    yield payload.image, gr.skip(), _badge(f"{tier} ready · {payload.provenance.badge()}"), gr.skip()

    compare_button.click(_named(on_compare, list(app.params)), inputs, [canvas, pair, status, table], api_name=f"{api_name(app)}_compare",
                         concurrency_limit=1)  # fmt: skip


def _live_section(app: App, ctx: RunContext, inputs: list, names: list[str]) -> None:
    """Webcam frames streamed through the app's real-time (lite) path, with the page's other settings."""
    with gr.Accordion("Live webcam (lite tier, on this computer's CPU)", open=False):
        with gr.Row():
            camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                              webcam_options=gr.WebcamOptions(mirror=True))  # fmt: skip
            live_out = gr.Image(label="Live result", streaming=True, type="numpy", interactive=False)
    others = [c for c, n in zip(inputs, names) if n != app.live_param]
    other_names = [n for n in names if n != app.live_param]

    def on_frame(frame, *values):
        if frame is None:
            return None
        with _friendly_errors():
            params = app.validate({**dict(zip(other_names, values)), app.live_param: frame})
            params.pop(app.live_param)
            return app.live(ctx, frame, **params)

    camera.stream(_named(on_frame, ["frame", *(p for p in app.params if p.name != app.live_param)]), [camera, *others], [live_out], stream_every=0.1, time_limit=60, concurrency_limit=4,
                  api_name=f"{api_name(app)}_live")  # fmt: skip


@contextlib.contextmanager
def _friendly_errors():
    """Turn studio errors into a `gr.Error` with the same text the CLI prints; anything else is a bug."""
    try:
        yield
    except StudioError as exc:
        raise gr.Error(str(exc), title=type(exc).__name__) from None
    except Exception as exc:  # noqa: BLE001 -- last-resort message; the traceback goes to the server log
        traceback.print_exc()
        raise gr.Error(
            f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the studio; the server log has the details.",
            title="Internal error",
        ) from None


def _badge(text: str) -> str:
    return f'<span class="studio-badge" data-testid="studio-badge">{html.escape(text)}</span>'


def build_studio(apps: list[App], ctx: RunContext) -> gr.Blocks:
    """Every app as a tab of one Blocks, sharing one preprocessing cache and one queue."""
    with gr.Blocks(title="Distill Studio") as studio:
        gr.Markdown("# Distill Studio\nDistilled few-step diffusion apps, their teachers, and an offline lite tier.")
        for app in apps:
            with gr.Tab(app.title, id=app.id):
                _app_layout(app, ctx)
    return studio
