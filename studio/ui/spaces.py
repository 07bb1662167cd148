"""`studio space <app> --out DIR`: a ready Hugging Face Space for one app, generated from its schema and recipe.

The folder holds:
* `README.md` — the Space's front matter (`sdk: gradio`, `sdk_version` = the installed Gradio, `python_version`,
  `app_file`, `license`, `models` and `preload_from_hub` from the app's recipe so the weights download when the
  Space is built, not when it wakes up, `suggested_hardware`), then what the Space runs and under which licences;
* `app.py` — the same page as `python launch.py <app>`, with the calls that run diffusion tiers wrapped in
  `@spaces.GPU` for a duration taken from the recipe (`gpu_seconds`); off ZeroGPU the decorator returns the
  function unchanged;
* `requirements.txt` — the studio's dependencies (Gradio itself comes from `sdk_version`) and `spaces`;
* `studio/` — the studio's code, copied (it is not on PyPI), with its apps and model catalog.

**The device thread under ZeroGPU (the decision).** The engine runs all torch work on one long-lived thread per
device. ZeroGPU runs each `@spaces.GPU` call in a worker process *forked* from the Space's main process, and keeps
that worker for the next call while it is idle on the same GPU. Threads do not survive a fork, so the studio runs
the whole call — the app's stream, its engine calls and their device thread — inside the GPU worker: the device
thread starts there on the worker's first generation and lives as long as ZeroGPU keeps the worker, models stay
resident in it between calls, and the engine forgets any thread inherited from the parent at fork
(`os.register_at_fork` in studio/engine/engine.py), so a worker never queues work for a thread that only exists in
its parent. The main process never touches CUDA: lite-tier calls, the webcam path and the weights check that
decides whether a call needs a GPU (`session.needs_gpu`) run there and take no GPU quota. The caller probe that
cancels a call whose client left lives in the main process; inside the worker, cancellation arrives as ZeroGPU
closing the call's generator.

**Licences.** The recipe's defaults are commercially usable. A non-commercial model (asked for with `--model`, or
in a recipe) is left out of the Space — not listed, not preloaded — with a warning, unless
`--include-noncommercial` is given; then it is included and the README says so.
"""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: Seconds one denoising step takes with CFG on an H200 at the family's native size (README "Measured speed": SD1.5
#: teacher 30 steps 0.87–1.02 s, SDXL 1.9–2.4 s); a step without CFG costs about half.
STEP_SECONDS = {"sd15": 0.035, "sdxl": 0.08}
#: Loading the recipe's weights from the Space's disk into a fresh GPU worker (estimate: SD1.5 ≈ 2.5 GB, SDXL
#: ≈ 8 GB of fp16 weights with their adapters).
LOAD_SECONDS = {"sd15": 15, "sdxl": 35}
#: Headroom: a slower GPU than an H200 (a ZeroGPU slice, an A10G), several faces or crops per photo, preprocessing.
MARGIN = 4
OVERHEAD_SECONDS = 10
MAX_SECONDS = 300
HARDWARE = {"sd15": "t4-small", "sdxl": "a10g-small", None: "cpu-basic"}


@dataclass
class SpacePlan:
    app_id: str
    title: str
    family: str | None
    specs: list = field(default_factory=list)  # the catalog entries the Space preloads
    left_out: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hardware: str = "cpu-basic"
    noncommercial: bool = False

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(s.repo for s in self.specs))

    @property
    def preload(self) -> list[str]:
        """`preload_from_hub` lines: "repo file1,file2" (plus the revision when pinned), one per repo."""
        files: dict[tuple[str, str], list[str]] = {}
        for s in self.specs:
            files.setdefault((s.repo, s.revision), [])
            files[(s.repo, s.revision)] += [f.path for f in s.files if f.path not in files[(s.repo, s.revision)]]
        return [f"{repo} {','.join(paths)}" + (f" {rev}" if rev != "main" else "")
                for (repo, rev), paths in files.items()]


def plan_space(app_id: str, include_noncommercial: bool = False, extra_models: tuple[str, ...] = (),
               hardware: str | None = None) -> SpacePlan:  # fmt: skip
    """What a Space for `app_id` preloads: the recipe's default models plus `extra_models`, licences checked."""
    from studio.apps import get_app
    from studio.models import load_catalog

    app = get_app(app_id)
    catalog = load_catalog()
    recipe = catalog.apps.get(app.recipe) if app.recipe else None
    if recipe is None and extra_models:
        raise InputError(f"The '{app_id}' app has no diffusion recipe, so it has no models to add.")
    plan = SpacePlan(app.id, app.title, recipe.family if recipe else None)
    ids = list(dict.fromkeys([*(recipe.default_ids() if recipe else ()), *extra_models]))
    for sid in ids:
        try:
            spec = catalog.get(sid)
        except KeyError as exc:
            raise InputError(str(exc).strip("'\"")) from None
        if spec.family != plan.family:
            raise InputError(f"'{sid}' is a {spec.family} model; the '{app_id}' app runs {plan.family}.")
        if spec.licence.noncommercial and not include_noncommercial:
            plan.left_out.append(spec)
            plan.warnings.append(f"{sid} ({spec.licence.describe()}) is left out of the Space: non-commercial "
                                 "licence. Add --include-noncommercial to include it.")  # fmt: skip
            continue
        if spec.licence.noncommercial:
            plan.noncommercial = True
            plan.warnings.append(f"{sid} ({spec.licence.describe()}) is included on request: the Space may be used "
                                 "for non-commercial work only.")  # fmt: skip
        elif spec.licence.use == "unverified":
            plan.warnings.append(f"{sid}: licence unverified ({spec.licence.name}); read huggingface.co/{spec.repo}.")
        plan.specs.append(spec)
    plan.hardware = hardware or HARDWARE[plan.family]
    return plan


# --------------------------------------------------------------------------------------------- GPU time
def tier_seconds(app_id: str, tier: str) -> int:
    """GPU seconds one call of `tier` ("student" | "teacher") needs, from the recipe's step counts and CFG."""
    from studio.apps import get_app
    from studio.models import load_catalog

    catalog = load_catalog()
    recipe = catalog.app(get_app(app_id).recipe)
    spec = catalog.get(recipe.student if tier == "student" else recipe.teacher)
    step = STEP_SECONDS[recipe.family] * (1.0 if spec.cfg else 0.5)
    seconds = LOAD_SECONDS[recipe.family] + MARGIN * spec.steps * step + OVERHEAD_SECONDS
    return min(MAX_SECONDS, 5 * math.ceil(seconds / 5))


def gpu_seconds(app_id: str, kind: str):
    """`duration=` for `spaces.GPU`: a function of the wrapped call's arguments (ZeroGPU passes them), so a
    student call asks for less GPU time than a teacher call, a comparison for both, a batch per image."""
    if _family(app_id) is None:  # no diffusion recipe: its calls never ask for a GPU (session.needs_gpu)
        return lambda *args, **kwargs: 60
    student, teacher = tier_seconds(app_id, "student"), tier_seconds(app_id, "teacher")
    load = LOAD_SECONDS.get(_family(app_id), 0)

    def duration(*args, **kwargs) -> int:
        if kind == "compare":
            return min(MAX_SECONDS, student + teacher - load)
        params = args[-1] if args and isinstance(args[-1], dict) else kwargs.get("params", {})
        one = teacher if params.get("tier") == "teacher" else student
        if kind == "batch":
            files = args[0] if args and isinstance(args[0], list) else []
            return min(MAX_SECONDS, load + max(1, len(files)) * (one - load))
        return one

    return duration


def _family(app_id: str) -> str | None:
    from studio.apps import get_app
    from studio.models import load_catalog

    app = get_app(app_id)
    recipe = load_catalog().apps.get(app.recipe) if app.recipe else None
    return recipe.family if recipe else None


# --------------------------------------------------------------------------------------------- the Space
def build_space(app_id: str, gpu=None):
    """The Space's page: `python launch.py <app>`'s page, GPU calls wrapped by `gpu(fn, kind)` (app.py's)."""
    from ..context import make_context
    from ..serve import ServerLimits, build_blocks

    ctx = make_context()
    demo = build_blocks(app_id, ctx, ServerLimits.from_env(), gpu=gpu)
    demo.studio_ctx = ctx  # launch_space warms its detectors up once the page is served
    return demo


def launch_space(demo) -> None:
    """Serve the Space: host and port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Spaces sets them)."""
    import threading

    from ..native_logs import filter_native_stderr
    from ..serve import launch

    filter_native_stderr()
    launch(demo, host=None, port=None, block=False)
    ctx_warm = getattr(demo, "studio_ctx", None)
    if ctx_warm is not None:
        threading.Thread(target=ctx_warm.preprocess.warm_up, name="warm-up", daemon=True).start()
    demo.block_thread()


def front_matter(plan: SpacePlan) -> dict:
    import gradio

    short = f"{plan.title}: distilled diffusion + offline lite tier"
    matter = {
        "title": f"Distill Studio · {plan.title}",
        "emoji": "🎨",
        "colorFrom": "yellow",
        "colorTo": "red",
        "sdk": "gradio",
        "sdk_version": gradio.__version__,
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "app_file": "app.py",
        "license": "apache-2.0",
        "short_description": short if len(short) <= 60 else short[:57] + "…",
        "suggested_hardware": plan.hardware,
        "tags": ["distillation", "diffusion", plan.app_id] + (["non-commercial"] if plan.noncommercial else []),
    }
    if plan.specs:
        matter["models"] = plan.models
        matter["preload_from_hub"] = plan.preload
    return matter


def _readme(plan: SpacePlan) -> str:
    import yaml

    lines = ["---", yaml.safe_dump(front_matter(plan), sort_keys=False, allow_unicode=True).strip(), "---", "",
             f"# Distill Studio · {plan.title}", "",
             f"Generated by `studio space {plan.app_id}`: the same page as `python launch.py {plan.app_id}`, from the "
             "app's schema. The lite tier runs on the CPU without any weights; the diffusion tiers use the models "
             "below, downloaded when the Space is built (`preload_from_hub`).", ""]  # fmt: skip
    if plan.specs:
        lines += ["| model | repo | licence |", "|---|---|---|"]
        lines += [f"| {s.id} | {s.repo} | {s.licence.describe()} |" for s in plan.specs]
        lines.append("")
        lines += [f"GPU time asked per call (`@spaces.GPU(duration=…)`, from the recipe's step counts): student "
                  f"{tier_seconds(plan.app_id, 'student')} s, teacher {tier_seconds(plan.app_id, 'teacher')} s.", ""]
    if plan.left_out:
        lines += ["Left out (non-commercial; `--include-noncommercial` adds them): "
                  + ", ".join(f"{s.id} ({s.licence.name})" for s in plan.left_out) + ".", ""]  # fmt: skip
    lines += ["On ZeroGPU each GPU call runs in a worker process forked from the Space; the studio runs the whole "
              "call there, its engine device thread included (see studio/ui/spaces.py). Elsewhere `@spaces.GPU` does "
              "nothing. Limits: `STUDIO_MAX_UPLOAD_MB`, `STUDIO_QUEUE_SIZE`, `STUDIO_DELETE_AFTER_MIN` (Space "
              "variables).", ""]  # fmt: skip
    return "\n".join(lines)


APP_PY = '''"""Distill Studio · {title}: a Hugging Face Space written by `studio space {app_id}` (see README.md).

The page is the studio's own, generated from the app's schema. Calls that run a diffusion tier are wrapped in
`@spaces.GPU`, for the seconds the {app_id} recipe needs (student {student} s, teacher {teacher} s); on hardware
other than ZeroGPU the decorator returns the function unchanged.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the studio's code, copied beside this file

try:
    import spaces  # installed on Spaces (requirements.txt lists it too)
except ImportError:
    spaces = None

from studio.ui.spaces import build_space, gpu_seconds, launch_space

APP = "{app_id}"


def on_gpu(fn, kind):
    """Run `fn` (a call that runs diffusion tiers: "run", "compare" or "batch") with a GPU lent for it."""
    if spaces is None:
        return fn
    return spaces.GPU(duration=gpu_seconds(APP, kind))(fn)


demo = build_space(APP, gpu=on_gpu)

if __name__ == "__main__":
    launch_space(demo)
'''


def requirements() -> list[str]:
    """The studio's own dependencies (no extras), without Gradio (the Space's `sdk_version` brings it): from the
    checkout's pyproject.toml when there is one (an editable install's metadata can be stale), else as installed."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, requires

    import studio

    pyproject = Path(studio.__file__).resolve().parents[1] / "pyproject.toml"
    declared = None
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "distill-studio":
            declared = list(project.get("dependencies", []))
    if declared is None:
        try:
            declared = [r for r in requires("distill-studio") or [] if "extra ==" not in r]
        except PackageNotFoundError:
            raise InputError("The studio's dependencies are unknown (no pyproject.toml beside it and not installed "
                             "as a package): pip install -e . first.") from None  # fmt: skip
    return [r for r in declared if not r.lower().startswith("gradio")] + ["spaces"]


def _copy_code(out: Path) -> None:
    """The studio package, its apps and its catalog under out/studio (code and package data only, no weights)."""
    import studio
    import studio.apps
    import studio.models

    keep = {".py", ".md", ".json", ".css", ".js"}
    target = out / "studio"
    if target.exists():
        shutil.rmtree(target)
    for package, dest in ((studio, target), (studio.apps, target / "apps"), (studio.models, target / "models")):
        src = Path(package.__file__).parent
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if path.is_file() and path.suffix in keep and "__pycache__" not in rel.parts and \
                    not (package is studio and rel.parts[0] in ("apps", "models")):  # fmt: skip
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest / rel)


def export_space(app_id: str, out, include_noncommercial: bool = False, extra_models: tuple[str, ...] = (),
                 hardware: str | None = None) -> SpacePlan:  # fmt: skip
    """Write the Space for `app_id` into `out`; return its plan (warnings included)."""
    plan = plan_space(app_id, include_noncommercial, extra_models, hardware)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(_readme(plan), encoding="utf-8")
    student = tier_seconds(app_id, "student") if plan.family else 0
    teacher = tier_seconds(app_id, "teacher") if plan.family else 0
    (out / "app.py").write_text(APP_PY.format(title=plan.title, app_id=plan.app_id, student=student, teacher=teacher),
                                encoding="utf-8")  # fmt: skip
    (out / "requirements.txt").write_text("\n".join(requirements()) + "\n", encoding="utf-8")
    _copy_code(out)
    return plan
