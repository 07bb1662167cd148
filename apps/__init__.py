"""The explicit list of apps the studio serves, in menu order.

Each entry maps a stable app id to the module that defines `APP`. Modules are imported on demand, so
listing the apps (`studio list`) costs nothing and one broken app cannot take the others down.
"""

from __future__ import annotations

import difflib
from importlib import import_module

from studio.errors import InputError

_APP_MODULES: dict[str, str] = {
    "makeup": "studio.apps.makeup.app",
    "tryon": "studio.apps.tryon.app",
    "head": "studio.apps.head.app",
    "avatar": "studio.apps.avatar.app",
    "style": "studio.apps.style.app",
    "preprocess": "studio.apps.preprocess_inspector.app",
}


def get_app(app_id: str):
    """The `App` registered under `app_id` (raises InputError naming the close matches)."""
    if app_id not in _APP_MODULES:
        close = difflib.get_close_matches(app_id, _APP_MODULES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"Unknown app '{app_id}'. Known apps: {', '.join(_APP_MODULES)}.{hint}")
    return import_module(_APP_MODULES[app_id]).APP


def all_apps() -> list:
    return [get_app(app_id) for app_id in _APP_MODULES]
