"""Compatibility only: `studio.preprocess.body` was split into `studio.preprocess.pose` (33-point pose, its analyzer,
the OpenPose render) and `studio.preprocess.clothing` (clothing-region geometry).

Kept until the callers outside studio/ and tests/ import from the new modules (apps/tryon/{diffusion,bench,live,
lite,person}.py, apps/preprocess_inspector/app.py, studio/live.py, studio/bench/__init__.py, tests/test_tryon.py);
delete this file then. New code imports from `pose` or `clothing`.
"""

from .clothing import CLOTHING_CATEGORIES, _Skeleton, clothing_region  # noqa: F401
from .pose import *  # noqa: F401,F403
from .pose import _check_rgb  # noqa: F401
