"""An app's HTTP API, described from its schema: the endpoints the Gradio page registers and `studio api` prints.

The page (gradio_app.py) takes its endpoint names, parameter names and output order from here, so what
`studio api makeup` prints is what `gradio_client` finds (tests/test_api.py checks both against `view_api()`):

    /makeup           the app's parameters → result, before/after, badge, details, summary   (streams previews)
    /makeup_compare   the same parameters → student-then-teacher image, pair, badge, table, comparison JSON
    /makeup_live      one webcam frame + the other parameters → the frame through the lite tier
    /makeup_batch     several photos for the primary input + the other parameters → results, contact sheet, summary

Nothing here imports gradio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schema import App, ChoiceParam, ImageListParam, ImageParam, Param, SeedParam, SliderParam, ToggleParam


@dataclass(frozen=True)
class ApiParam:
    name: str
    kind: str  # "image", "images" (a list of files), "number", "choice", "bool"
    default: object = None
    required: bool = False
    help: str = ""
    choices: tuple = ()
    limits: tuple | None = None  # (minimum, maximum) of a number

    def describe(self) -> str:
        kind = {"image": "file", "images": "list of files"}.get(self.kind, self.kind)
        extra = ""
        if self.choices:
            extra = f" one of {', '.join(map(str, self.choices))}"
        elif self.limits:
            extra = f" {self.limits[0]:g}–{self.limits[1]:g}"
        default = "required" if self.required else f"default {self.default!r}"
        return f"{self.name} ({kind}{extra}; {default})" + (f": {self.help}" if self.help else "")


@dataclass(frozen=True)
class Endpoint:
    name: str  # "/makeup"
    summary: str
    params: tuple[ApiParam, ...]
    returns: tuple[str, ...]
    streams: bool = True  # earlier outputs are previews; the last is the final answer
    notes: tuple[str, ...] = field(default_factory=tuple)


def api_name(app: App) -> str:
    return app.id.replace("-", "_")


def api_param(p: Param) -> ApiParam:
    if isinstance(p, ImageParam):
        return ApiParam(p.name, "image", None, p.required, p.help)
    if isinstance(p, ImageListParam):
        return ApiParam(p.name, "images", None, False, p.help)
    if isinstance(p, SliderParam):
        return ApiParam(p.name, "number", p.default, False, p.help, limits=(p.minimum, p.maximum))
    if isinstance(p, ChoiceParam):
        return ApiParam(p.name, "choice", p.default, False, p.help, choices=tuple(p.choices))
    if isinstance(p, ToggleParam):
        return ApiParam(p.name, "bool", p.default, False, p.help)
    if isinstance(p, SeedParam):
        return ApiParam(p.name, "number", p.default, False, p.help, limits=(0, 2**32 - 1))
    return ApiParam(p.name, "text", p.default, False, p.help)


RUN_RETURNS = ("result image", "before/after pair", "badge (HTML)", "details gallery", "summary JSON")
COMPARE_RETURNS = ("student-then-teacher image", "student/teacher pair", "badge (HTML)", "table (Markdown)",
                   "comparison JSON")  # fmt: skip
LIVE_RETURNS = ("processed frame",)
BATCH_RETURNS = ("results gallery", "contact sheet image", "badge (HTML)", "summary JSON")


def live_params(app: App) -> list:
    """The live endpoint's inputs: the webcam frame, then every parameter but the one the frame replaces."""
    return [p for p in app.params if p.name != app.live_param]


def batch_params(app: App) -> list:
    """The batch endpoint's inputs: the files for the primary input, then every other parameter."""
    return [p for p in app.params if p.name != app.primary_input]


def endpoints(app: App) -> list[Endpoint]:
    """Every endpoint the app's page registers, in order."""
    name = api_name(app)
    params = tuple(api_param(p) for p in app.params)
    found = [Endpoint(f"/{name}", f"Run {app.title.lower()}.", params, RUN_RETURNS)]
    if app.offers("compare"):
        found.append(Endpoint(f"/{name}_compare", "Student and teacher on the same inputs and seed ('tier' is "
                              "ignored); the table measures speed and quality.", params, COMPARE_RETURNS))  # fmt: skip
    if app.offers("live"):
        frame = ApiParam("frame", "image", None, True, "one webcam frame (the lite tier, on the CPU)")
        found.append(Endpoint(f"/{name}_live", f"One webcam frame in place of '{app.live_param}'.",
                              (frame, *(api_param(p) for p in live_params(app))), LIVE_RETURNS, streams=False))
    if app.offers("batch"):
        files = ApiParam("files", "images", None, True, f"several images for '{app.primary_input}'")
        found.append(Endpoint(f"/{name}_batch", f"Run over several images for '{app.primary_input}'; one bad file "
                              "never stops the rest.", (files, *(api_param(p) for p in batch_params(app))),
                              BATCH_RETURNS))  # fmt: skip
    return found


def describe(app: App, url: str = "http://127.0.0.1:7860/") -> str:
    """`studio api <app>`: every endpoint with its parameters (names, kinds, defaults) and outputs, plus a call."""
    lines = [f"{app.title} ({app.id}) — endpoints for gradio_client at {url}", ""]
    for ep in endpoints(app):
        lines.append(f"{ep.name}  {ep.summary}")
        for p in ep.params:
            lines.append(f"    {p.describe()}")
        lines.append(f"  returns: {', '.join(ep.returns)}" + (" (streams: earlier outputs are previews; "
                                                               "job.outputs()[-1] is final)" if ep.streams else ""))
        lines.append("")
    first = endpoints(app)[0]
    args = ", ".join(f"{p.name}=handle_file('{p.name}.jpg')" for p in first.params if p.required)
    lines += ["Example:", "    from gradio_client import Client, handle_file",
              f"    client = Client('{url}')",
              f"    job = client.submit({args}, api_name='{first.name}')",
              "    *_, summary = job.result()"]  # fmt: skip
    return "\n".join(lines)
