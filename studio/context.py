"""What a run may use: settings, the shared preprocessing, the diffusion engine, caches, and its own cancel flag.

One `RunContext` is made per server, notebook or CLI process (`make_context`) and shared by every app it runs,
so they share the preprocessing cache, the resident models and the webcam trackers. Each call gets a *view* of
it (`ctx.for_call(cancel)`) that shares all of that but carries its own cancel flag: stopping one user's run
never stops another's.

Nothing here imports gradio, and the engine is only imported when a run first needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .cache import LRUCache


def _never() -> bool:
    return False


@dataclass
class _Shared:
    """What every call view of one context shares: named per-context objects and the lazily built engine."""

    objects: dict = field(default_factory=dict)
    lock: Any = field(default_factory=threading.RLock)
    engine: Any = None


@dataclass
class RunContext:
    settings: Any
    preprocess: Any
    #: Polled between steps (faces, tiles, denoising steps); True stops the run with `RunCancelled`.
    cancel: Callable[[], bool] = _never
    #: Quality-gate limits per app id, replacing the app's defaults (tests and experiments inject them here).
    gate_limits: dict[str, Any] = field(default_factory=dict)
    #: Students chosen per app id for this call (`with_student`), replacing the recipe's default student.
    students: dict[str, str] = field(default_factory=dict)
    _shared: _Shared = field(default_factory=_Shared)

    def for_call(self, cancel: Callable[[], bool] | None = None) -> "RunContext":
        """A view for one call: the same caches, engine and trackers, its own cancel flag."""
        return replace(self, cancel=cancel or _never)

    def with_student(self, app_id: str, student_id: str | None) -> "RunContext":
        """A view that runs `app_id` with another student: a catalog alternative or one `studio distill` made (None:
        the recipe's default). A user-distilled student brings the teacher it was distilled from."""
        students = {k: v for k, v in self.students.items() if k != app_id}
        return replace(self, students={**students, app_id: student_id} if student_id else students)

    def student_choice(self, app_id: str) -> dict:
        """{"student": id, "teacher": id or None} chosen for `app_id` ({} for the recipe's own): the overrides
        `run_on_engine` puts in each request and `choose_tier` checks availability with."""
        if not self.students.get(app_id):
            return {}
        from .engine.user_students import choice

        return choice(self.engine, self.students[app_id])

    def with_engine(self, engine) -> "RunContext":
        """Use `engine` (e.g. one on a test catalog) instead of building one from the settings."""
        self._shared.engine = engine
        return self

    def shared(self, name: str, factory: Callable[[], Any]) -> Any:
        """A per-context object created on first use (an app's webcam tracker, a cache), kept with the context."""
        with self._shared.lock:
            if name not in self._shared.objects:
                self._shared.objects[name] = factory()
            return self._shared.objects[name]

    def cache(self, name: str, max_items: int = 16) -> LRUCache:
        """A named LRU kept with the context, e.g. an app's parsed references (`ctx.cache("makeup.looks")`)."""
        return self.shared(f"cache:{name}", lambda: LRUCache(max_items))

    def limits(self, app_id: str, default: Any) -> Any:
        """The quality-gate limits for `app_id`: the injected ones, else `default`."""
        return self.gate_limits.get(app_id, default)

    def check_cancelled(self) -> None:
        """Raise `RunCancelled` when this call was cancelled (apps call it between faces, tiles, passes)."""
        if self.cancel():
            from .errors import RunCancelled

            raise RunCancelled()

    @property
    def engine(self):
        """The diffusion engine, created on first use (cheap: it loads no model until a run needs one)."""
        with self._shared.lock:
            if self._shared.engine is None:
                from .engine.engine import Engine

                self._shared.engine = Engine(self.settings)
            return self._shared.engine


def make_context(device: str | None = None, **overrides) -> RunContext:
    """Settings from the environment plus flags, and the shared preprocessing service."""
    from .devices import check_device_name
    from .preprocess import Preprocessing
    from .settings import Settings

    settings = Settings.from_env().with_overrides(device=check_device_name(device) if device else None, **overrides)
    return RunContext(settings=settings, preprocess=Preprocessing(settings))
