"""The Jupyter widget: any registered app in a notebook cell, generated from its schema (anywidget).

    from studio import notebook
    w = notebook.widget("makeup", source="me.jpg", preset="berry")
    w                      # the app's inputs, Run / Compare / Cancel, the canvas, before/after, badge, metrics
    result = w.run()       # run from code: the same stream, shown in the widget; returns the Result (also w.result)
    cmp = w.compare()      # student vs teacher the same way; returns the Comparison (also w.comparison)

Runs go through the session layer (`studio.ui.session.Call` / `CompareCall`), like every front-end. Images travel
as binary traits and messages, never base64: the inputs and the result are synced traits (so a saved notebook keeps
them; the result is capped at `DISPLAY_SIDE` pixels for the page, `w.result` keeps full resolution), step previews
are custom messages with one JPEG buffer each (streamed, not stored). The JavaScript is one self-contained file
(static/widget.js): no CDN, works offline.

Cancel: the widget's Cancel button stops a run its Run button started (that run works on a background thread, so
the kernel stays free to hear the click); `w.cancel()` does the same from code; interrupting the kernel stops a
`w.run()` / `w.compare()` in progress. The cell stays quiet: MediaPipe's native start-up lines and library warnings
are kept out of its output while a run works (`quiet()`).
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from ..errors import InputError, StudioError
from ..schema import ChoiceParam, ImageParam, Result, SeedParam, SliderParam, ToggleParam
from .session import Call, CompareCall

STATIC = Path(__file__).parent / "static"
#: Longest side of the images synced to the page (inputs are shown as thumbnails of INPUT_SIDE).
DISPLAY_SIDE = 1600
INPUT_SIDE = 480

_context = None
_context_lock = threading.Lock()


def shared_context():
    """One RunContext per kernel, shared by every widget: one preprocessing cache, one engine."""
    global _context
    with _context_lock:
        if _context is None:
            from ..context import make_context

            _context = make_context()
        return _context


def encode(rgb: np.ndarray | None, fmt: str = "PNG", side: int | None = None) -> bytes:
    """RGB array → image bytes (PNG or JPEG), shrunk to `side` on its longest edge when given."""
    if rgb is None:
        return b""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(rgb))
    if side and max(image.size) > side:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if fmt == "PNG":
        image.save(buf, format="PNG", compress_level=3)
    else:
        image.convert("RGB").save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def param_schema(param) -> dict:
    """One parameter as the page's form needs it."""
    entry = {"name": param.name, "label": param.label, "help": param.help, "kind": "text", "default": param.default}
    if isinstance(param, ImageParam):
        entry.update(kind="image", required=param.required, default=None)
    elif isinstance(param, SliderParam):
        entry.update(kind="slider", minimum=param.minimum, maximum=param.maximum, step=param.step,
                     integer=param.integer)  # fmt: skip
    elif isinstance(param, ChoiceParam):
        entry.update(kind="choice", choices=list(param.choices))
    elif isinstance(param, ToggleParam):
        entry.update(kind="toggle")
    elif isinstance(param, SeedParam):
        entry.update(kind="seed")
    return entry


@contextlib.contextmanager
def quiet():
    """Keep a run's library chatter out of the cell: Python warnings, and MediaPipe/TFLite's native start-up lines
    (written straight to file descriptor 2, which Jupyter kernels forward to the cell)."""
    from ..native_logs import filter_native_stderr

    saved = sys.stderr
    filter_native_stderr()  # idempotent; replaces fd 2 with a filtered pipe
    sys.stderr = saved  # the kernel's own stream stays as it was (our messages, real errors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class StudioWidget(anywidget.AnyWidget):
    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    app_id = t.Unicode().tag(sync=True)
    title = t.Unicode().tag(sync=True)
    description = t.Unicode().tag(sync=True)
    schema = t.List().tag(sync=True)
    offers = t.List().tag(sync=True)
    values = t.Dict().tag(sync=True)  # the non-image parameters
    inputs = t.Dict().tag(sync=True)  # image parameter → JPEG thumbnail bytes (binary)
    status = t.Unicode("idle").tag(sync=True)  # idle | running | done | error | cancelled
    badge = t.Unicode().tag(sync=True)
    error = t.Unicode().tag(sync=True)
    result_png = t.Bytes(b"").tag(sync=True)  # the result (or the teacher's image), PNG
    before = t.Bytes(b"").tag(sync=True)  # the input (or the student's image), JPEG
    before_label = t.Unicode("before").tag(sync=True)
    after_label = t.Unicode("after").tag(sync=True)
    metrics = t.Dict().tag(sync=True)
    table = t.List().tag(sync=True)  # a comparison's rows
    notes = t.List().tag(sync=True)
    previews = t.Int(0).tag(sync=True)  # previews streamed during the last run

    def __init__(self, app, ctx=None, **values):
        from studio.apps import get_app

        app = get_app(app) if isinstance(app, str) else app
        self.app, self.ctx = app, ctx or shared_context()
        self._sources: dict[str, Any] = {}
        self._call: Call | CompareCall | None = None
        self._lock = threading.Lock()
        self.result: Result | None = None
        self.comparison = None
        super().__init__(app_id=app.id, title=app.title, description=app.description,
                         schema=[param_schema(p) for p in app.params],
                         offers=sorted(c for c in app.capabilities if c == "compare"),
                         values={p.name: p.default for p in app.params if not isinstance(p, ImageParam)})  # fmt: skip
        self.on_msg(self._on_message)
        self.set(**values)

    # ------------------------------------------------------------------------------------------ inputs
    def set(self, **values) -> "StudioWidget":
        """Set parameters by name (images as paths, arrays, PIL images or bytes); unknown names are an error."""
        known = {p.name: p for p in self.app.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InputError(f"Unknown parameter(s) for '{self.app.id}': {', '.join(unknown)}. "
                             f"Known: {', '.join(known)}.")  # fmt: skip
        plain = {}
        for name, value in values.items():
            if isinstance(known[name], ImageParam):
                self._set_image(name, value)
            else:
                plain[name] = known[name].validate(value)
        if plain:
            self.values = {**self.values, **plain}
        return self

    def _set_image(self, name: str, value) -> None:
        if value is None:
            self._sources.pop(name, None)
            self.inputs = {k: v for k, v in self.inputs.items() if k != name}
            return
        from ..imaging import load_image

        rgb = load_image(value, what=self.app.param(name).label, max_pixels=self.ctx.settings.max_pixels)
        self._sources[name] = value if not isinstance(value, (str, Path)) else str(value)
        self.inputs = {**self.inputs, name: encode(rgb, "JPEG", INPUT_SIDE)}

    def _params(self) -> dict:
        return {**self.values, **self._sources}

    # ------------------------------------------------------------------------------------------ running
    def run(self, **values) -> Result:
        """Run the app with the widget's parameters (and `values`), showing previews and the result; returns the
        `Result`. Errors are shown in the widget and raised."""
        self.set(**values)
        self._run(self._begin(Call(self.app, self.ctx, self._params())))
        return self.result

    def compare(self, **values):
        """Student then teacher on the same inputs and seed, shown the same way; returns the `Comparison`."""
        if not self.app.offers("compare"):
            raise InputError(f"The '{self.app.id}' app has no student/teacher tiers to compare.")
        self.set(**values)
        self._run(self._begin(CompareCall(self.app, self.ctx, self._params())))
        return self.comparison

    def cancel(self) -> None:
        """Stop the run in progress (it stops at its next step; nothing is returned)."""
        call = self._call
        if call is not None:
            call.cancel()

    def _begin(self, call):
        with self._lock:
            if self._call is not None:
                raise InputError("This widget is already running; wait for it or cancel it (w.cancel()).")
            self._call = call
        self.status, self.error, self.previews, self.badge = "running", "", 0, "starting…"
        return call

    def _run(self, call, raise_errors: bool = True) -> None:
        try:
            with quiet():
                for update in call.updates():
                    self._show(update)
            self.status = "done"
        except KeyboardInterrupt:  # the kernel was interrupted
            call.cancel()
            self.status = "cancelled"
            raise
        except StudioError as exc:
            self.status, self.error = ("cancelled", "") if call.cancelled else ("error", str(exc))
            if raise_errors and not call.cancelled:
                raise
        except Exception as exc:  # noqa: BLE001 -- shown in the widget; the traceback goes to the kernel log
            self.status = "error"
            self.error = f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the studio."
            if raise_errors:
                raise
            traceback.print_exc(file=sys.__stderr__)
        finally:
            self._call = None

    def _show(self, update) -> None:
        if update.comparison is not None:
            cmp = update.comparison
            self.comparison = cmp
            s, t_ = cmp.results["student"], cmp.results["teacher"]
            self._show_final(t_.image, s.image, "student", "teacher", {}, cmp.rows, s.provenance.notes)
            self.badge = update.badge
            return
        if update.result is not None and update.tier is None:  # a run's Result
            r = update.result
            self.result = r
            self._show_final(r.image, r.before, "before", "after", r.metrics, [], r.provenance.notes)
            self.badge = update.badge
            return
        # a preview, or a comparison tier's result (the student's image shows until the teacher's replaces it)
        if update.image is not None:
            self.previews += 1
            self.send({"type": "preview", "badge": update.badge}, buffers=[encode(update.image, "JPEG", DISPLAY_SIDE)])
        self.badge = update.badge

    def _show_final(self, image, before, before_label, after_label, metrics, table, notes) -> None:
        self.before_label, self.after_label = before_label, after_label
        self.before = encode(before, "JPEG", DISPLAY_SIDE)
        self.metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
        self.table, self.notes = _jsonable(table), list(notes)
        self.result_png = encode(image, "PNG", DISPLAY_SIDE)

    def _on_message(self, _widget, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "cancel":
            self.cancel()
        elif kind == "upload" and buffers:
            try:
                self.set(**{content["name"]: bytes(buffers[0])})
            except StudioError as exc:
                self.status, self.error = "error", str(exc)
        elif kind in ("run", "compare"):
            try:
                call = self._begin(Call(self.app, self.ctx, self._params()) if kind == "run" else
                                   CompareCall(self.app, self.ctx, self._params()))  # fmt: skip
            except StudioError as exc:
                self.error = str(exc)
                return
            # On its own thread, so the kernel stays free to hear Cancel.
            threading.Thread(target=self._run, args=(call, False), name=f"studio-{self.app.id}", daemon=True).start()


def _jsonable(rows: list[dict]) -> list[dict]:
    return [{k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in row.items()}
            for row in rows]  # fmt: skip


def widget(app, ctx=None, **values) -> StudioWidget:
    """A widget for `app` (an id such as "makeup", or an App) with `values` preset (images as paths or arrays)."""
    return StudioWidget(app, ctx, **values)
