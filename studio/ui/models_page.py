"""The Models tab: what `studio fetch` does, from the UI (DESIGN §2).

Per app it lists the recipe's student, teacher, adapters and preview decoder — then the other students that fit —
with their size, licence and whether their files are on this machine (checked on disk, as the engine does: nothing
is downloaded or loaded to list them). "Download" fetches what the chosen app (or one model) is missing through the
same code as `studio fetch` (`studio.engine.fetch`: the Hugging Face cache, HF_TOKEN, HF_ENDPOINT, the commit lock
in models/catalog.lock.json), with a progress bar. Non-commercial models are refused unless the opt-in box is ticked.

The engine looks weights up on every call and never remembers a miss (studio/engine/resolver.py), so app pages run
the downloaded tiers on their next Run: no restart. On a shared server the tab lists but does not download (run
`studio fetch` on the host).
"""

from __future__ import annotations

import gradio as gr

from ..engine.fetch import _fmt_size, download, plan
from ..engine.resolver import Resolver
from ..errors import StudioError

HEADERS = ["app", "role", "model", "repo", "size", "licence", "on this machine"]


def _roles(recipe) -> list[tuple[str, str]]:
    rows = [("student", recipe.student), ("teacher", recipe.teacher)]
    rows += [("adapter", a) for a in recipe.adapters]
    rows += [("preview decoder", recipe.preview)] if recipe.preview else []
    rows += [("GPU extra", g) for g in recipe.gpu_extras]
    rows += [("other student", a) for a in recipe.alternatives]
    return rows


def _status(resolver: Resolver, spec) -> str:
    located = resolver.locate(spec)
    if located.resolved is not None:
        return f"present ({located.resolved.source})"
    if len(located.missing) == len(spec.files):
        return "missing"
    return f"missing {len(located.missing)} of {len(spec.files)} files"


def model_rows(settings, catalog, app_ids: list[str]) -> list[list[str]]:
    """One row per (app, model) for the apps with a recipe: role, id, repo, size, licence, presence."""
    resolver = Resolver(settings)
    rows = []
    for app_id in app_ids:
        if app_id not in catalog.apps:
            continue
        for role, spec_id in _roles(catalog.app(app_id)):
            spec = catalog.get(spec_id)
            sizes = [f.size_mb for f in spec.files]
            known = sum(s for s in sizes if s is not None)
            size = _fmt_size(known, "x") if known else "unknown"
            if any(s is None for s in sizes) and known:
                size = f"≥ {size}"
            licence = spec.licence.describe() + (" · opt-in" if spec.licence.noncommercial else "")
            rows.append([app_id, role, spec.id, spec.repo, size, licence, _status(resolver, spec)])
    return rows


def fetch_with_progress(target: str, settings, catalog, include_noncommercial: bool, progress) -> str:
    """Download what `target` (an app id or a catalog id) is missing, reporting each file to `progress((i, n),
    desc=…)`; returns the log as Markdown. Raises StudioError (non-commercial without the opt-in, offline, the Hub's
    errors)."""
    lines: list[str] = []
    p = plan(target, catalog, settings, include_noncommercial=include_noncommercial, ask_hub=not settings.offline)
    if not p.missing:
        return f"Everything **{target}** needs is already on this machine."
    total, exact = p.total_mb(only_missing=True)
    progress((0, len(p.missing)), desc=f"{target}: {len(p.missing)} file(s), {'' if exact else '≥ '}"
                                       f"{_fmt_size(total, 'x')}", unit="files")  # fmt: skip

    def on_file(i: int, n: int, f) -> None:
        if f is not None:
            progress((i, n), desc=f"{f.spec.id}: {f.file.path} ({_fmt_size(f.size_mb, f.file.path)})", unit="files")
        else:
            progress((n, n), desc="done", unit="files")

    download(p, settings, echo=lines.append, on_file=on_file)
    return "\n".join(["**Downloaded.** The app pages use these models on their next Run (no restart).", "",
                      "```", *lines, "```"])  # fmt: skip


def models_tab(ctx, app_ids: list[str], downloads: bool = True, tab=None):
    """The Models tab's components and events (call inside `tab`; opening it checks the disk again). Returns
    (rows, on_download) for tests."""
    from studio.models import load_catalog

    catalog = load_catalog()
    with_recipe = [a for a in app_ids if a in catalog.apps]
    gr.Markdown("What each app's diffusion tiers use, and whether it is on this machine. Sizes are the catalog's; "
                "downloads go to the Hugging Face cache (`HF_HUB_CACHE`), at the commits locked in "
                "`models/catalog.lock.json`, exactly as `studio fetch` does.")  # fmt: skip
    table = gr.Dataframe(value=model_rows(ctx.settings, catalog, with_recipe), headers=HEADERS, interactive=False,
                         wrap=True, label="Models per app")  # fmt: skip
    refresh = gr.Button("Check again", size="sm")
    choices = [*with_recipe, *[s for s in catalog.specs if s not in with_recipe]]
    with gr.Row(equal_height=True):
        target = gr.Dropdown(choices, value=with_recipe[0] if with_recipe else None, label="Download for",
                             info="an app (its recipe's models) or one model id", scale=2)  # fmt: skip
        opt_in = gr.Checkbox(False, label="Include non-commercial models",
                             info="DMD2, SDXL-Turbo, InstantID, … : I will use their results for non-commercial "
                                  "work only", scale=2)  # fmt: skip
        button = gr.Button("Download missing models", variant="primary", interactive=downloads, scale=1)
    status = gr.Markdown("" if downloads else "This server is shared, so it does not download: run "
                         "`studio fetch APP` on the host.")  # fmt: skip

    def rows():
        return model_rows(ctx.settings, catalog, with_recipe)

    def on_download(what: str, include_noncommercial: bool, progress=gr.Progress()):
        if not downloads:
            raise gr.Error("This server is shared, so it does not download: run `studio fetch` on the host.")
        if not what:
            raise gr.Error("Choose an app or a model to download.")
        try:
            text = fetch_with_progress(what, ctx.settings, catalog, bool(include_noncommercial), progress)
        except StudioError as exc:
            raise gr.Error(str(exc), title=type(exc).__name__, print_exception=False) from None
        return text, rows()

    refresh.click(rows, None, [table], api_visibility="private", queue=False)
    if tab is not None:
        tab.select(rows, None, [table], api_visibility="private", queue=False)
    button.click(on_download, [target, opt_in], [status, table], api_visibility="private", concurrency_limit=1,
                 concurrency_id="models-download")  # fmt: skip
    return rows, on_download
