"""What a model *is*, as data: repo, files, scheduler, defaults, licence. A spec never holds weights.

The catalog (`studio.models.catalog`) is a list of these; the resolver finds their files, the loader turns
them into diffusers objects, and `studio fetch` downloads them. Everything is validated when the catalog is
loaded, so a typo in a scheduler name or an empty file list fails at start-up with the entry's id, not in
the middle of a generation. Nothing here imports torch or diffusers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Families the engine can run end to end (UNet pipelines with the SD/SDXL adapter ecosystem).
FAMILIES = ("sd15", "sdxl")

KINDS = (
    "pipeline",  # a diffusers pipeline folder (model_index.json + component folders): a teacher or whole student
    "lora",  # a LoRA file applied to a base pipeline's UNet (students, style LoRAs)
    "unet",  # a full UNet that replaces the base pipeline's UNet (Lightning/Hyper/DMD2 UNet students)
    "controlnet",
    "ip_adapter",
    "vae",  # a replacement VAE (the SDXL fp16 fix)
    "taesd",  # a tiny autoencoder used for step previews
)

ROLES = ("teacher", "student", "adapter", "preview", "component")

#: Licence use classes. "unverified" means nobody here has read the licence text: never a default.
LICENCE_USES = ("commercial", "non-commercial", "unverified")

#: Scheduler classes a spec may name. Kept as data so the catalog validates without importing diffusers;
#: `tests/test_catalog.py` checks every name exists in the installed diffusers.
SCHEDULERS = (
    "DDIMScheduler",
    "DPMSolverMultistepScheduler",
    "EulerAncestralDiscreteScheduler",
    "EulerDiscreteScheduler",
    "LCMScheduler",
    "PNDMScheduler",
    "TCDScheduler",
)

#: Pipeline kinds a request may ask for. ControlNet kinds need a ControlNet adapter; inpaint kinds a mask.
PIPELINE_KINDS = ("txt2img", "img2img", "inpaint", "controlnet", "controlnet-img2img", "controlnet-inpaint")
#: Kinds that start from an init image (a strength applies).
IMAGE_KINDS = ("img2img", "inpaint", "controlnet-img2img", "controlnet-inpaint")

#: Settings an entry cites a source for (`ModelSpec.sources`).
SETTINGS = ("scheduler", "steps", "step_range", "guidance", "guidance_embedding", "eta", "timesteps",
            "inpaint_strength", "inpaint_steps", "scale", "control_render")  # fmt: skip

#: Skeleton drawings pose ControlNets were trained on (kept equal to studio.preprocess.pose.OPENPOSE_STYLES;
#: tests/test_recipes.py checks it).
CONTROL_RENDERS = ("openpose", "xinsir")

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def cite(**sources: str) -> tuple[tuple[str, str], ...]:
    """`sources=` for a ModelSpec: `cite(steps="card: '…'", guidance="doc §1.3: '…'")`."""
    return tuple(sorted(sources.items()))


class CatalogError(ValueError):
    """A catalog entry is malformed. The message names the entry and the field."""


@dataclass(frozen=True)
class Licence:
    name: str  # the licence tag as the model card gives it, e.g. "openrail++", "cc-by-nc-sa-4.0"
    use: str  # one of LICENCE_USES
    source: str = ""  # where the licence was read (card, LICENSE file, catalog doc section)

    @property
    def commercial(self) -> bool:
        return self.use == "commercial"

    @property
    def noncommercial(self) -> bool:
        return self.use == "non-commercial"

    def describe(self) -> str:
        return f"{self.name} ({self.use})"


@dataclass(frozen=True)
class SchedulerSpec:
    """A diffusers scheduler class plus the config keys a recipe overrides.

    The scheduler is always built with `cls.from_config(base_config, **overrides)`, so beta schedules and
    other training constants come from the base model's own `scheduler_config.json`.
    """

    cls: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.overrides)

    def describe(self) -> str:
        if not self.overrides:
            return self.cls
        return f"{self.cls}({', '.join(f'{k}={v}' for k, v in self.overrides)})"


def scheduler(cls: str, **overrides: Any) -> SchedulerSpec:
    return SchedulerSpec(cls, tuple(sorted(overrides.items())))


@dataclass(frozen=True)
class FileSpec:
    path: str  # path inside the repo, subfolder included, exactly as it appears on the Hub
    size_mb: float | None = None  # expected size (MB = 10^6 bytes) from the catalog doc or card; None = unknown


@dataclass(frozen=True)
class ModelSpec:
    id: str  # stable kebab-case id: `studio fetch <id>`, provenance, request overrides
    title: str
    kind: str  # one of KINDS
    role: str  # one of ROLES
    family: str  # one of FAMILIES: which latent space, which adapters fit
    repo: str  # Hugging Face repo id ("owner/name")
    files: tuple[FileSpec, ...]  # every file the entry needs; nothing else is fetched or required
    licence: Licence
    revision: str = "main"  # branch, tag or full commit hash
    variant: str | None = None  # "fp16": component weights are the `*.fp16.*` files
    subfolder: str | None = None  # folder of a component inside the repo (ControlNet, IP-Adapter weights)
    pipeline: str | None = None  # diffusers class of a `pipeline` entry, as in its model_index.json
    inpaint: bool = False  # `pipeline`: a 9-channel inpainting UNet (only inpaint kinds can use it)
    base: str | None = None  # student/adapter: id of the pipeline it runs on when no app chooses one
    scheduler: SchedulerSpec | None = None  # None: the pipeline's own scheduler_config.json
    steps: int | None = None  # default denoising steps
    guidance: float | None = None  # default guidance_scale; <= 1 means CFG off (one UNet pass per step)
    eta: float | None = None  # passed to scheduler.step (TCD's gamma); pipelines default it to 0.0
    timesteps: tuple[int, ...] | None = None  # fixed timesteps (DMD2, Hyper 1-step UNet)
    resolution: int | None = None  # native square resolution
    # Strength for inpaint kinds when the request gives none. A student and its base both have one; the engine uses
    # the lower (TCD: 0.99; SDXL inpainting: 0.99, its card says strength 1 degrades quality).
    inpaint_strength: float = 1.0
    inpaint_steps: int | None = None  # default steps for inpaint kinds when its card gives another count (TCD: 8)
    # Students: the step counts its card says work, (low, high). None = step-locked: distilled for exactly `steps`
    # on a fixed grid (Lightning, Hyper N-step, PCM: "always use the correct checkpoint for the corresponding
    # inference steps"); the engine then keeps that grid in image-to-image and skips its first steps.
    step_range: tuple[int, int] | None = None
    guidance_embedding: bool = False  # the UNet takes guidance as an embedding (time_cond_proj_dim), not as CFG
    scale: float = 1.0  # LoRA weight, IP-Adapter scale or ControlNet conditioning scale
    image_encoder: str | None = None  # ip_adapter: folder of its CLIP image encoder, relative to the repo root
    union: bool = False  # controlnet: a ControlNetUnionModel (xinsir union)
    control_render: str | None = None  # pose controlnet: the skeleton drawing its labels used (pose.OPENPOSE_STYLES)
    pickle: bool = False  # weights are a torch pickle (.bin): loaded with weights_only=True and a warning
    notes: str = ""
    source: str = ""  # where the entry as a whole comes from (repo, files)
    # Where each setting comes from, (setting, source) pairs: the card or doc and the line quoted, or why it is a
    # choice of ours. `validate_spec` requires one for every setting the entry uses (see `cited_settings`).
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        validate_spec(self)

    @property
    def step_locked(self) -> bool:
        """A student distilled for exactly `steps` (fixed timesteps included); other counts leave its grid."""
        return self.role == "student" and self.step_range is None

    @property
    def step_options(self) -> tuple[int, ...]:
        """The step counts a Steps control should offer for this model: its trained count when step-locked, its
        card's range when step-flexible, 1–100 for a teacher."""
        if self.role != "student":
            return tuple(range(1, 101))
        if self.step_range is None:
            return (int(self.steps),)
        low, high = self.step_range
        return tuple(range(low, high + 1))

    def source_of(self, setting: str) -> str:
        return dict(self.sources).get(setting, "")

    def cited_settings(self) -> tuple[str, ...]:
        """The settings this entry uses, each of which must carry a source."""
        names: list[str] = []
        if self.role in ("teacher", "student"):
            names += ["steps", "guidance"]
            if self.scheduler is not None:
                names.append("scheduler")
            if self.role == "student":
                names.append("step_range")  # flexible range, or why the student is step-locked
        for name, used in (("eta", self.eta is not None), ("timesteps", self.timesteps is not None),
                           ("inpaint_strength", self.inpaint_strength != 1.0),
                           ("inpaint_steps", self.inpaint_steps is not None),
                           ("guidance_embedding", self.guidance_embedding),
                           ("scale", self.kind in ("controlnet", "ip_adapter")),
                           ("control_render", self.control_render is not None)):  # fmt: skip
            if used:
                names.append(name)
        return tuple(names)

    def settings(self) -> dict[str, str]:
        """The settings this entry brings to a call, formatted for people (`studio fetch --dry-run`)."""
        out: dict[str, str] = {}
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler.describe()
        if self.steps is not None:
            if self.role == "student" and self.step_range is None:
                out["steps"] = f"{self.steps} (step-locked: trained for {self.steps} only)"
            elif self.step_range is not None:
                out["steps"] = f"{self.steps} (works {self.step_range[0]}–{self.step_range[1]})"
            else:
                out["steps"] = str(self.steps)
        if self.guidance is not None:
            embedded = " as an embedding" if self.guidance_embedding else ""
            out["guidance"] = f"{self.guidance:g}{embedded} (CFG {'on' if self.cfg else 'off'})"
        if self.eta is not None:
            out["eta"] = f"{self.eta:g}"
        if self.timesteps is not None:
            out["timesteps"] = str(list(self.timesteps))
        if self.inpaint_strength != 1.0:
            out["inpaint strength"] = f"{self.inpaint_strength:g}"
        if self.inpaint_steps is not None:
            out["inpaint steps"] = str(self.inpaint_steps)
        if self.kind in ("controlnet", "ip_adapter"):
            out["scale"] = f"{self.scale:g}"
        if self.control_render is not None:
            out["skeleton drawing"] = self.control_render
        if self.resolution is not None:
            out["resolution"] = str(self.resolution)
        return out

    @property
    def weights(self) -> FileSpec:
        """The single weights file of a lora/unet/ip_adapter entry (the first file listed)."""
        return self.files[0]

    @property
    def size_mb(self) -> float | None:
        sizes = [f.size_mb for f in self.files]
        return None if any(s is None for s in sizes) else round(sum(sizes), 1)

    @property
    def cfg(self) -> bool:
        return (self.guidance or 0.0) > 1.0


def _fail(spec_id: str, message: str) -> CatalogError:
    return CatalogError(f"Catalog entry '{spec_id}': {message}")


def validate_spec(spec: ModelSpec) -> None:
    """Field-level checks; cross-entry checks (bases exist, ids unique) live in `validate_catalog`."""
    sid = spec.id
    if not isinstance(sid, str) or not _ID.match(sid):
        raise _fail(str(sid), "the id must be kebab-case (lowercase letters, digits and single dashes).")
    if spec.kind not in KINDS:
        raise _fail(sid, f"unknown kind '{spec.kind}'; known kinds: {', '.join(KINDS)}.")
    if spec.role not in ROLES:
        raise _fail(sid, f"unknown role '{spec.role}'; known roles: {', '.join(ROLES)}.")
    if spec.family not in FAMILIES:
        raise _fail(sid, f"unknown family '{spec.family}'; the engine runs {', '.join(FAMILIES)}.")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", spec.repo or ""):
        raise _fail(sid, f"repo '{spec.repo}' is not a Hugging Face repo id of the form owner/name.")
    if not spec.files:
        raise _fail(sid, "no file names: list every file the entry needs (the resolver checks exactly these).")
    for f in spec.files:
        if not f.path or f.path.startswith("/") or f.path.endswith("/") or "\\" in f.path:
            raise _fail(sid, f"bad file name {f.path!r}: use a path relative to the repo root, with '/'.")
        if f.size_mb is not None and f.size_mb <= 0:
            raise _fail(sid, f"file {f.path} has a non-positive size {f.size_mb}.")
    if len({f.path for f in spec.files}) != len(spec.files):
        raise _fail(sid, "a file is listed twice.")
    if spec.licence.use not in LICENCE_USES:
        raise _fail(sid, f"licence use '{spec.licence.use}' must be one of {', '.join(LICENCE_USES)}.")
    if spec.scheduler is not None and spec.scheduler.cls not in SCHEDULERS:
        raise _fail(sid, f"unknown scheduler '{spec.scheduler.cls}'; known: {', '.join(SCHEDULERS)}.")
    if spec.steps is not None and spec.steps < 1:
        raise _fail(sid, f"steps must be at least 1; got {spec.steps}.")
    if spec.timesteps is not None and spec.steps is not None and len(spec.timesteps) != spec.steps:
        raise _fail(sid, f"{len(spec.timesteps)} fixed timesteps but steps={spec.steps}.")
    if spec.role in ("teacher", "student") and (spec.steps is None or spec.guidance is None):
        raise _fail(sid, "teachers and students need default steps and guidance.")
    if spec.role == "student" and spec.kind in ("lora", "unet") and spec.scheduler is None:
        raise _fail(sid, "a LoRA or UNet student needs the scheduler it was distilled for.")
    names = {f.path for f in spec.files}
    if spec.kind == "pipeline":
        if "model_index.json" not in names:
            raise _fail(sid, "a pipeline entry must list model_index.json.")
        if not spec.pipeline:
            raise _fail(sid, "a pipeline entry must name its diffusers class (pipeline=...).")
    if spec.kind in ("lora", "unet", "ip_adapter") and not spec.weights.path.endswith((".safetensors", ".bin")):
        raise _fail(sid, f"the first file must be the weights file; got {spec.weights.path}.")
    if spec.kind in ("lora", "unet") and spec.base is None:
        raise _fail(sid, "a LoRA or UNet entry must name the base pipeline it runs on (base=...).")
    if spec.kind == "ip_adapter":
        if not spec.image_encoder:
            raise _fail(sid, "an IP-Adapter entry must name its image encoder folder (image_encoder=...).")
        for needed in (f"{spec.image_encoder}/config.json", f"{spec.image_encoder}/model.safetensors"):
            if needed not in names:
                raise _fail(sid, f"the image encoder file {needed} is not listed.")
    if spec.kind in ("controlnet", "vae", "taesd"):
        folder = f"{spec.subfolder}/" if spec.subfolder else ""
        if f"{folder}config.json" not in names:
            raise _fail(sid, f"a {spec.kind} entry must list {folder}config.json.")
    if spec.pickle and not any(f.path.endswith(".bin") for f in spec.files):
        raise _fail(sid, "pickle=True but no .bin file is listed.")
    if spec.step_range is not None:
        low, high = spec.step_range
        if not (1 <= low <= (spec.steps or low) <= high):
            raise _fail(sid, f"step_range {spec.step_range} must contain the default steps={spec.steps}.")
        if spec.timesteps is not None:
            raise _fail(sid, "fixed timesteps make a student step-locked: leave step_range unset.")
    if not 0.0 < spec.inpaint_strength <= 1.0:
        raise _fail(sid, f"inpaint_strength must be in (0, 1]; got {spec.inpaint_strength}.")
    if spec.control_render is not None and spec.control_render not in CONTROL_RENDERS:
        raise _fail(sid, f"unknown control_render '{spec.control_render}'; known: {', '.join(CONTROL_RENDERS)}.")
    cited = dict(spec.sources)
    unknown = sorted(set(cited) - set(SETTINGS))
    if unknown:
        raise _fail(sid, f"sources for unknown settings {unknown}; settings: {', '.join(SETTINGS)}.")
    missing = [name for name in spec.cited_settings() if not cited.get(name, "").strip()]
    if missing:
        raise _fail(sid, f"no source for {', '.join(missing)}: cite the card or doc line each setting comes from "
                         "(sources=...), or say why it is our choice.")  # fmt: skip


@dataclass(frozen=True)
class SettingCheck:
    """Whether a card (or doc) verifies one setting of a student for one pipeline kind of an app.

    A card's recipe is usually written for text-to-image on its own base; inpainting, ControlNet img2img or another
    base is a different situation, and an app recipe says which settings carry over on a card's word and which are
    our extrapolation (`verified=False`), so the next reader knows what to measure once real weights are here.
    """

    student: str  # catalog id
    kind: str  # pipeline kind, one of PIPELINE_KINDS
    setting: str  # one of CHECKED_SETTINGS
    verified: bool
    note: str  # the card or doc line that verifies it, or what is known and why it is not verified


#: What every app recipe documents for its default student on its pipeline kind ("strength" for image kinds only).
CHECKED_SETTINGS = ("scheduler", "steps", "guidance", "strength", "base", "adapters")


def check(student: str, kind: str, verified: bool, **notes: str) -> tuple[SettingCheck, ...]:
    """SettingChecks sharing a student, kind and verdict: `check("lcm-lora-sd15", "inpaint", True, steps="…")`."""
    return tuple(SettingCheck(student, kind, name, verified, note) for name, note in notes.items())


@dataclass(frozen=True)
class AppModels:
    """The models one app uses by default (catalog doc §6), plus the students it may switch to."""

    app: str
    family: str
    pipeline: str  # default pipeline kind, one of PIPELINE_KINDS
    student: str  # default student id (commercially usable)
    teacher: str  # teacher id; LoRA students run on this pipeline, so one base stays resident
    adapters: tuple[str, ...] = ()  # ControlNet / IP-Adapter ids used by default
    alternatives: tuple[str, ...] = ()  # other students that fit (may be unverified or non-commercial)
    preview: str | None = None  # TAESD entry for step previews
    gpu_extras: tuple[str, ...] = ()  # fetched too, used on GPU only (the SDXL fp16 VAE fix)
    notes: str = ""
    checks: tuple[SettingCheck, ...] = ()  # what a card verifies of the default student on this app's kind

    def checks_for(self, student: str | None = None, kind: str | None = None) -> tuple[SettingCheck, ...]:
        student, kind = student or self.student, kind or self.pipeline
        return tuple(c for c in self.checks if c.student == student and c.kind == kind)

    def default_ids(self) -> tuple[str, ...]:
        ids = (self.student, self.teacher, *self.adapters)
        ids += (self.preview,) if self.preview else ()
        return ids + self.gpu_extras


@dataclass(frozen=True)
class Catalog:
    specs: dict[str, ModelSpec]
    apps: dict[str, AppModels] = field(default_factory=dict)

    def get(self, spec_id: str) -> ModelSpec:
        try:
            return self.specs[spec_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(spec_id, self.specs, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"No catalog entry '{spec_id}'.{hint} See models/catalog.py for the full list.") from None

    def app(self, app_id: str) -> AppModels:
        try:
            return self.apps[app_id]
        except KeyError:
            raise KeyError(
                f"No model recipe for app '{app_id}'. Apps with recipes: {', '.join(self.apps)}."
            ) from None

    def by_role(self, role: str) -> list[ModelSpec]:
        return [s for s in self.specs.values() if s.role == role]


def validate_catalog(specs: list[ModelSpec], apps: list[AppModels]) -> Catalog:
    """Cross-entry checks: unique ids, bases exist and match the family, app recipes are coherent."""
    by_id: dict[str, ModelSpec] = {}
    for spec in specs:
        if spec.id in by_id:
            raise _fail(spec.id, "the id is used twice.")
        by_id[spec.id] = spec
    for spec in specs:
        if spec.base is not None:
            base = by_id.get(spec.base)
            if base is None:
                raise _fail(spec.id, f"base '{spec.base}' is not in the catalog.")
            if base.kind != "pipeline" or base.family != spec.family:
                raise _fail(spec.id, f"base '{spec.base}' must be a {spec.family} pipeline entry.")
    recipes: dict[str, AppModels] = {}
    for recipe in apps:
        where = f"app recipe '{recipe.app}'"
        if recipe.pipeline not in PIPELINE_KINDS:
            raise CatalogError(f"{where}: unknown pipeline kind '{recipe.pipeline}'.")
        for ref in recipe.default_ids() + recipe.alternatives:
            if ref not in by_id:
                raise CatalogError(f"{where}: '{ref}' is not in the catalog.")
            if by_id[ref].family != recipe.family:
                raise CatalogError(f"{where}: '{ref}' is {by_id[ref].family}, the app is {recipe.family}.")
        student, teacher = by_id[recipe.student], by_id[recipe.teacher]
        if student.role != "student" or teacher.role != "teacher" or teacher.kind != "pipeline":
            raise CatalogError(f"{where}: student/teacher roles are swapped or the teacher is not a pipeline.")
        for ref in recipe.default_ids():
            if not by_id[ref].licence.commercial:
                raise CatalogError(
                    f"{where}: default '{ref}' is {by_id[ref].licence.describe()}; defaults must be commercially "
                    "usable. Move it to alternatives."
                )
        if teacher.inpaint and "inpaint" not in recipe.pipeline:
            raise CatalogError(f"{where}: the inpainting teacher only runs inpaint pipeline kinds.")
        for c in recipe.checks:
            if c.student not in by_id or c.kind not in PIPELINE_KINDS or c.setting not in CHECKED_SETTINGS:
                raise CatalogError(f"{where}: check {c.student}/{c.kind}/{c.setting} names an unknown id, kind or "
                                   f"setting (settings: {', '.join(CHECKED_SETTINGS)}).")  # fmt: skip
            if not c.note.strip():
                raise CatalogError(f"{where}: check {c.student}/{c.kind}/{c.setting} has no note.")
        needed = [n for n in CHECKED_SETTINGS if n != "strength" or recipe.pipeline in IMAGE_KINDS]
        have = {c.setting for c in recipe.checks_for()}
        missing = [n for n in needed if n not in have]
        if missing:
            raise CatalogError(f"{where}: say whether a card verifies {', '.join(missing)} of '{recipe.student}' "
                               f"for '{recipe.pipeline}' (checks=...).")  # fmt: skip
        recipes[recipe.app] = recipe
    return Catalog(by_id, recipes)
