"""The Jupyter widget for any app: `from studio import notebook; w = notebook.widget("makeup", source="me.jpg")`.

The widget lives in `studio.ui.notebook` (a front-end, like the Gradio page); this name is the short way in.
Needs the `notebook` extra: `pip install -e '.[notebook]'` (anywidget).
"""

from __future__ import annotations

try:
    from .ui.notebook import StudioWidget, quiet, shared_context, widget
except ImportError as exc:  # anywidget missing
    raise ImportError(f"The notebook widget needs anywidget ({exc}): pip install -e '.[notebook]'") from exc

__all__ = ["StudioWidget", "quiet", "shared_context", "widget"]
