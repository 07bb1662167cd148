"""The studio's model catalog (installed as `studio.models`).

`load_catalog()` builds and validates every entry of `catalog.py` and every app recipe of `apps.py` the
first time it is called; a malformed entry raises `CatalogError` naming it. Local weights may also be
dropped into this folder: see README.md here.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def load_catalog():
    from studio.engine.specs import validate_catalog

    from .apps import APPS
    from .catalog import ALL_SPECS

    return validate_catalog(ALL_SPECS, APPS)
