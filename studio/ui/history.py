"""Results kept by the local UI, and the History tab that reopens them.

`keep_results(ctx, folder)` tells the page's handlers where to keep results (None: nowhere; `studio.serve` decides
from STUDIO_OUTPUTS and whether the server is shared, see studio/outputs.py); `keep(ctx, app, params, result, role)`
is what a handler calls with each final result. The History tab lists the outputs folder newest first; picking a
result shows its image, its settings and provenance, and "Reopen settings" puts its settings back on its app's page
(image inputs are not kept, only their file names: choose the photos again).
"""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr

from ..outputs import describe, list_results, read_info, save_result
from ..schema import App, ImageListParam, ImageParam

#: How many past results the gallery shows (newest first).
SHOWN = 60
_KEY = "ui.outputs"


class _Keeper:
    folder: Path | None = None


def keep_results(ctx, folder: Path | None) -> None:
    """Keep the final results of pages built on `ctx` in `folder` (None: keep nothing)."""
    ctx.shared(_KEY, _Keeper).folder = Path(folder) if folder is not None else None


def results_folder(ctx) -> Path | None:
    return ctx.shared(_KEY, _Keeper).folder


def keep(ctx, app: App, params: dict, result, role: str = "run") -> Path | None:
    """Save one final result in the outputs folder, if results are kept; a disk problem is reported, never fatal."""
    folder = results_folder(ctx)
    if folder is None or result is None or getattr(result, "image", None) is None:
        return None
    try:
        images = tuple(p.name for p in app.params if isinstance(p, (ImageParam, ImageListParam)))
        return save_result(folder, app.id, params, result, role, image_params=images)
    except OSError as exc:
        print(f"warning: could not keep the {app.id} result in {folder}: {exc}", file=sys.stderr)
        return None


# --------------------------------------------------------------------------------------------- reopening
def _walk(block):
    for child in getattr(block, "children", []) or []:
        yield child
        yield from _walk(child)


def page_inputs(app: App, page) -> dict[str, object]:
    """The components of `app`'s settings inside `page` (the Tab its page was built in), found by their labels:
    {param name: component}, for the settings History can put back (not images)."""
    found: dict[str, object] = {}
    components = list(_walk(page))
    for p in app.params:
        if isinstance(p, (ImageParam, ImageListParam)):
            continue
        match = next((c for c in components if getattr(c, "label", None) == p.label
                      and isinstance(c, (gr.Slider, gr.Radio, gr.Checkbox, gr.Number, gr.Textbox, gr.Dropdown))),
                     None)  # fmt: skip
        if match is not None:
            found[p.name] = match
    return found


# --------------------------------------------------------------------------------------------- the tab
def _thumbnail(path: Path, side: int = 256):
    from PIL import Image

    with Image.open(path) as image:
        image.thumbnail((side, side))
        return image.convert("RGB")


def history_tab(folder: Path, apps: list[App], inputs: dict[str, dict[str, object]], tabs, tab=None):
    """The History tab's components and events (call inside `tab`, a Tab of `tabs`); `inputs`: per app id, its
    `page_inputs`. Returns the handlers (load, show, reopen_settings) for tests."""
    by_id = {app.id: app for app in apps}
    gr.Markdown(f"Every result of this studio is kept in `{folder}` as a PNG that carries its settings and "
                "provenance (`studio info FILE` prints them). Newest first; pick one to see it.")  # fmt: skip
    refresh = gr.Button("Refresh", size="sm")
    paths = gr.State([])
    gallery = gr.Gallery(label="Past results", columns=6, height=360, object_fit="contain", allow_preview=False,
                         elem_id="studio-history")  # fmt: skip
    with gr.Row():
        picked = gr.Image(label="Result", type="pil", interactive=False, height=360)
        with gr.Column():
            text = gr.Textbox(label="Settings and provenance", lines=14, max_lines=30, interactive=False)
            reopen = gr.Button("Reopen settings in its app", variant="primary", interactive=False)
    record = gr.JSON(label="Record (studio info --json)")

    def load():
        entries = list_results(folder, SHOWN)
        return [(_thumbnail(e.path), e.caption) for e in entries], [str(e.path) for e in entries]

    def pick(shown: list[str], evt: gr.SelectData):
        if evt is None or evt.index is None or not shown or evt.index >= len(shown):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return show(shown[evt.index])

    def show(path: str):
        from PIL import Image

        try:
            data = read_info(path)
        except Exception as exc:  # noqa: BLE001 -- a deleted or foreign file: say so in the panel
            return None, str(exc), None, gr.update(interactive=False)
        with Image.open(path) as image:
            image.load()
            picture = image.convert("RGB")
        can_reopen = data.get("app") in inputs and bool(inputs[data["app"]])
        return picture, describe(data, path), data, gr.update(interactive=can_reopen)

    targets = [(app_id, name, comp) for app_id, comps in inputs.items() for name, comp in comps.items()]

    def reopen_settings(data: dict | None):
        """Switch to the result's app and put its settings back (images: choose them again)."""
        if not data or data.get("app") not in by_id:
            raise gr.Error("Pick a result of one of this studio's apps first.")
        app, settings = by_id[data["app"]], data.get("settings") or {}
        values = []
        for app_id, name, _ in targets:
            if app_id != app.id or name not in settings:
                values.append(gr.skip())
                continue
            try:
                values.append(app.param(name).validate(settings[name]))
            except Exception:  # noqa: BLE001 -- a setting from an older studio: leave the page's value
                values.append(gr.skip())
        gr.Info(f"Settings of this {app.title} result are back on its page; choose the input photos again.")
        return [gr.Tabs(selected=app.id), *values]

    refresh.click(load, None, [gallery, paths], api_visibility="private", queue=False)
    if tab is not None:
        tab.select(load, None, [gallery, paths], api_visibility="private", queue=False)
    gallery.select(pick, [paths], [picked, text, record, reopen], api_visibility="private")
    reopen.click(reopen_settings, [record], [tabs, *[c for _, _, c in targets]], api_visibility="private")
    return load, show, reopen_settings
