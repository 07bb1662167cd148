"""The App schema: typed parameters, the run generator's outputs (previews, then a Result), provenance.

An app is data plus one generator function. Every front-end (Gradio page, CLI flags, notebook, Spaces)
is generated from the same `App.params`, so a parameter's limits and help text live in one place.
Nothing here imports a UI toolkit or torch.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from .errors import InputError


# --------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    name: str  # keyword the run generator receives; also the CLI flag (--name) and API field
    label: str
    help: str = ""
    default: Any = None
    #: The Gradio page folds it under "Advanced settings" (closed); the CLI and the API are unaffected.
    advanced: bool = field(default=False, kw_only=True)

    kind = "param"

    def validate(self, value: Any) -> Any:
        return self.default if value is None else value


@dataclass(frozen=True)
class ImageParam(Param):
    required: bool = True
    webcam: bool = False  # the Gradio page offers a webcam source as well as upload
    kind = "image"

    def validate(self, value: Any) -> Any:
        if value is None and self.required:
            raise InputError(f"'{self.label}' is required: upload an image.")
        return value


@dataclass(frozen=True)
class ImageListParam(Param):
    """Several images for one input (more photos of the same person): optional, at most `max_items`. Validates to a
    tuple (empty when none were given); each item is anything `load_image` takes. Not an `ImageParam`: batch and
    compare never iterate it, every row gets the same list."""

    max_items: int = 4
    kind = "images"

    def validate(self, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return ()
        if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__iter__"):
            value = [value]  # one image given where a list was expected
        items = tuple(v for v in value if v is not None)
        if len(items) > self.max_items:
            raise InputError(f"'{self.label}' takes at most {self.max_items} images; got {len(items)}.")
        return items


@dataclass(frozen=True)
class SliderParam(Param):
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.01
    integer: bool = False
    kind = "slider"

    def validate(self, value: Any) -> Any:
        value = self.default if value is None else value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"'{self.label}' must be a number; got {value!r}.") from None
        if not (self.minimum <= number <= self.maximum):
            raise InputError(f"'{self.label}' must be between {self.minimum:g} and {self.maximum:g}; got {number:g}.")
        return int(round(number)) if self.integer else number


@dataclass(frozen=True)
class ChoiceParam(Param):
    choices: tuple[str, ...] = ()
    kind = "choice"

    def validate(self, value: Any) -> Any:
        value = self.default if value is None else value
        if value not in self.choices:
            raise InputError(f"'{self.label}' must be one of {', '.join(self.choices)}; got {value!r}.")
        return value


@dataclass(frozen=True)
class ToggleParam(Param):
    default: bool = False
    kind = "toggle"

    def validate(self, value: Any) -> Any:
        if value is None:
            return self.default
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)


@dataclass(frozen=True)
class SeedParam(Param):
    default: int = 0
    kind = "seed"

    def validate(self, value: Any) -> Any:
        value = self.default if value is None else value
        try:
            seed = int(value)
        except (TypeError, ValueError):
            raise InputError(f"'{self.label}' must be a whole number; got {value!r}.") from None
        if not (0 <= seed < 2**32):
            raise InputError(f"'{self.label}' must be between 0 and 4294967295; got {seed}.")
        return seed


#: What an app may declare it offers (see `App.capabilities`).
CAPABILITIES = frozenset({"compare", "live", "batch", "bench"})


# --------------------------------------------------------------------------------------------- outputs
@dataclass
class Provenance:
    """Where a result came from. Shown as a badge in the UI, returned as JSON by the API and the CLI."""

    app: str
    tier: str  # "student" | "teacher" | "lite" | "preprocess"
    models: list[str] = field(default_factory=list)  # model ids (with revisions where known)
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    device: str = "cpu"
    timings_ms: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float | None = None
    fallback_reason: str | None = None  # "unavailable" | "oom" | "quality_gate" | "requested" | None
    notes: list[str] = field(default_factory=list)

    def badge(self) -> str:
        """One line for humans: 'lite · cpu · 23 ms' or 'teacher · 30 steps · … (fallback: oom)'; a lite result
        that ran for lack of weights names the fetch command."""
        parts = [self.tier]
        if self.steps:
            parts.append(f"{self.steps} steps")
        parts.append(self.device)
        total = sum(self.timings_ms.values())
        if total:
            parts.append(f"{total:.0f} ms")
        text = " · ".join(parts)
        if self.fallback_reason:
            text += f" (fallback: {self.fallback_reason})"
        if self.fallback_reason == "unavailable" and self.tier == "lite":
            text += f" · get the diffusion tiers with: {self.fetch_hint()}"
        return text

    def fetch_hint(self) -> str:
        """The command that downloads this app's weights: the one named in the notes, else `studio fetch <app>`."""
        for note in self.notes:
            if "studio fetch " in note:
                return "studio fetch " + note.split("studio fetch ", 1)[1].strip().rstrip(".")
        return f"studio fetch {self.app}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Preview:
    """An intermediate image while a run is in progress (a denoising step, or a cheap first pass)."""

    image: np.ndarray
    step: int
    total: int
    label: str = ""


@dataclass
class Result:
    """The final output of a run: the main image, named extra images, metrics and provenance."""

    image: np.ndarray | None
    provenance: Provenance
    before: np.ndarray | None = None  # the input the result should be compared with (before/after slider)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable details (boxes, counts, …)

    def summary(self) -> dict:
        """JSON-serialisable summary: provenance, metrics and info, without pixel data."""
        return {"provenance": self.provenance.to_dict(), "metrics": self.metrics, "info": self.info}

    def _repr_png_(self) -> bytes | None:  # inline display in Jupyter
        if self.image is None:
            return None
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.image).save(buf, format="PNG")
        return buf.getvalue()


# --------------------------------------------------------------------------------------------- the app
@dataclass(frozen=True)
class App:
    id: str  # stable kebab-case id: CLI name, URL path, API name
    title: str
    description: str
    params: tuple[Param, ...]
    run: Callable[..., Iterator[Preview | Result]]  # run(ctx, **validated_params)
    #: What the app offers, declared rather than guessed from parameter names: "compare" (student vs teacher:
    #: needs a recipe and the standard tier/seed parameters), "live" (a webcam path), "batch" (`studio batch`
    #: iterates its image inputs over folders), "bench" (a declared lite workload for `studio bench`).
    capabilities: frozenset[str] = frozenset()
    #: Its entry in `models/apps.py` (the diffusion recipe), or None for an app without diffusion tiers.
    recipe: str | None = None
    #: The image input Compare and batch iterate over (default: the first image parameter).
    primary_input: str | None = None
    #: examples(settings) -> list of {param name: value}; built when a page is built, since they may write files.
    examples: Callable[[Any], list[dict]] = lambda settings: []
    #: Optional real-time path for webcam frames: live(ctx, frame_rgb, **validated_params) -> RGB frame.
    #: Front-ends stream webcam frames through it (the lite tier); image params other than the frame come
    #: from the page as usual.
    live: Callable[..., np.ndarray] | None = None
    #: Name of the image param the webcam frame replaces in live mode (e.g. "source").
    live_param: str | None = None
    #: The lite benchmark's workload: bench_workload(frame_rgb) -> `studio.bench.Workload` (`studio bench <id>`).
    bench_workload: Callable[[np.ndarray], Any] | None = None
    #: Optional check of a batch's shared inputs before any row runs: check(ctx, values) raises on a problem that
    #: would fail every row (e.g. a faceless makeup reference).
    check: Callable[..., None] | None = None

    def __post_init__(self):
        unknown = set(self.capabilities) - CAPABILITIES
        if unknown:
            raise ValueError(f"App '{self.id}': unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}.")
        names = {p.name for p in self.params}
        if "compare" in self.capabilities and (self.recipe is None or not {"tier", "seed"} <= names):
            raise ValueError(f"App '{self.id}': 'compare' needs a recipe and the standard tier and seed parameters.")
        if "live" in self.capabilities and (self.live is None or self.live_param not in names):
            raise ValueError(f"App '{self.id}': 'live' needs a live function and live_param naming an image input.")
        if "bench" in self.capabilities and self.bench_workload is None:
            raise ValueError(f"App '{self.id}': 'bench' needs a bench_workload.")
        images = [p.name for p in self.params if isinstance(p, ImageParam)]
        if self.primary_input is None and images:
            object.__setattr__(self, "primary_input", images[0])
        elif self.primary_input is not None and self.primary_input not in images:
            raise ValueError(f"App '{self.id}': primary_input '{self.primary_input}' is not an image parameter.")

    def offers(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def image_params(self) -> list[str]:
        return [p.name for p in self.params if isinstance(p, ImageParam)]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"App '{self.id}' has no parameter '{name}'. Known: {', '.join(p.name for p in self.params)}")

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - {p.name for p in self.params}
        if unknown:
            raise InputError(
                f"Unknown parameter(s) for '{self.id}': {', '.join(sorted(unknown))}. "
                f"Known: {', '.join(p.name for p in self.params)}."
            )
        return {p.name: p.validate(values.get(p.name)) for p in self.params}

    def stream(self, ctx, **values) -> Iterator[Preview | Result]:
        """Validate the inputs, then yield the app's previews and finally its `Result`."""
        yield from self.run(ctx, **self.validate(values))

    def __call__(self, ctx, **values) -> Result:
        """Run to completion and return the `Result` (for scripts and notebooks)."""
        result = None
        for item in self.stream(ctx, **values):
            if isinstance(item, Result):
                result = item
        if result is None:
            raise RuntimeError(f"App '{self.id}' finished without producing a Result.")
        return result


class Stopwatch:
    """Collects named phase timings in milliseconds: `with watch("detect"): ...`."""

    def __init__(self):
        self.timings_ms: dict[str, float] = {}

    def __call__(self, name: str):
        return _Phase(self, name)


class _Phase:
    def __init__(self, watch: Stopwatch, name: str):
        self.watch, self.name = watch, name

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = (time.perf_counter() - self.start) * 1000.0
        self.watch.timings_ms[self.name] = self.watch.timings_ms.get(self.name, 0.0) + elapsed
        return False
