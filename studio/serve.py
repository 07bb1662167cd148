"""Start the Gradio server for the studio or one app (used by launch.py and `studio serve`)."""

from __future__ import annotations

import sys

from .devices import check_device_name
from .errors import StudioError
from .preprocess import Preprocessing
from .schema import RunContext
from .settings import Settings


def make_context(device: str | None = None, **overrides) -> RunContext:
    """Settings from the environment plus flags, and the shared preprocessing service."""
    settings = Settings.from_env().with_overrides(device=check_device_name(device) if device else None, **overrides)
    return RunContext(settings=settings, preprocess=Preprocessing(settings))


def build_blocks(app_id: str | None, ctx: RunContext):
    from studio.apps import all_apps, get_app

    from .ui.gradio_app import build_page, build_studio

    if app_id:
        return build_page(get_app(app_id), ctx)
    return build_studio(all_apps(), ctx)


def serve(app_id: str | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          device: str | None = None, block: bool = True):  # fmt: skip
    try:
        ctx = make_context(device)
        blocks = build_blocks(app_id, ctx)
    except (KeyError, StudioError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    from .ui.gradio_app import CSS

    blocks.queue(default_concurrency_limit=2)
    blocks.launch(server_name=host, server_port=port, share=share, css=CSS, show_error=True,
                  prevent_thread_lock=not block, footer_links=["api", "gradio"])  # fmt: skip
    return blocks if not block else 0
