"""Start the Gradio server for the studio or one app (used by launch.py, `studio serve` and the tests)."""

from __future__ import annotations

import sys
import threading

from .context import RunContext, make_context
from .errors import StudioError


def build_blocks(app_id: str | None, ctx: RunContext):
    """The whole studio (every app a tab) or a single app's page."""
    from studio.apps import all_apps, get_app

    from .ui.gradio_app import build_page, build_studio

    if app_id:
        return build_page(get_app(app_id), ctx)
    return build_studio(all_apps(), ctx)


def launch(blocks, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, block: bool = True):
    """Queue and launch `blocks`; with `block=False` return Gradio's (app, local_url, share_url)."""
    from .ui.gradio_app import CSS

    blocks.queue(default_concurrency_limit=2)
    return blocks.launch(server_name=host, server_port=port, share=share, css=CSS, show_error=True,
                         prevent_thread_lock=not block, footer_links=["api", "gradio", "settings"])  # fmt: skip


def serve(app_id: str | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          device: str | None = None) -> int:  # fmt: skip
    """Entry point of `python launch.py` and `studio serve`: returns a process exit code."""
    try:
        ctx = make_context(device)
        blocks = build_blocks(app_id, ctx)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    launch(blocks, host=host, port=port, share=share, block=False)
    # The page is up; load the detectors while the user picks a photo.
    threading.Thread(target=ctx.preprocess.warm_up, name="warm-up", daemon=True).start()
    blocks.block_thread()
    return 0
