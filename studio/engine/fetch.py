"""`studio fetch <app|model-id>`: download what an app (or one model) needs into the Hugging Face cache.

    studio fetch makeup --dry-run          list files, sizes and licences; download nothing
    studio fetch lcm-lora-sd15             one model (plus the base pipeline a LoRA/UNet student runs on)
    studio fetch dmd2-sdxl-4step-lora --include-noncommercial   (a non-commercial model, opted into)

Downloads go through `huggingface_hub.hf_hub_download`, so `HF_TOKEN` (gated repos) and the cache location
(`HF_HUB_CACHE` / `HF_HOME`) work as everywhere else, each file shows a progress bar, and files already in
the cache are not downloaded again. With `HF_HUB_OFFLINE=1` only `--dry-run` and already-complete targets work.
Non-commercial models are refused unless `--include-noncommercial` is given.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError, ModelUnavailable, StudioError
from ..settings import Settings
from .resolver import Resolver
from .specs import AppModels, Catalog, FileSpec, ModelSpec


@dataclass
class PlannedFile:
    spec: ModelSpec
    file: FileSpec
    size_mb: float | None
    size_source: str  # "hub" (asked now), "catalog" (models/catalog.py), "config" (a small text file), "unknown"
    present: bool  # already resolvable locally (cache, models/ folder or explicit path)


@dataclass
class FetchPlan:
    target: str
    specs: list[ModelSpec]
    files: list[PlannedFile]
    notes: list[str]
    recipe: AppModels | None = None  # when the target is an app

    @property
    def missing(self) -> list[PlannedFile]:
        return [f for f in self.files if not f.present]

    def total_mb(self, only_missing: bool = False) -> tuple[float, bool]:
        """(sum of known sizes, True when every size is known)."""
        rows = self.missing if only_missing else self.files
        known = [f.size_mb for f in rows if f.size_mb is not None]
        return sum(known), len(known) == len(rows)


def targets(catalog: Catalog) -> list[str]:
    return [*catalog.apps, *catalog.specs]


def plan(target: str, catalog: Catalog, settings: Settings, include_noncommercial: bool = False,
         ask_hub: bool = True) -> FetchPlan:  # fmt: skip
    """The specs and files `target` (an app id or a catalog id) needs, and which are already here."""
    notes: list[str] = []
    recipe = None
    if target in catalog.apps:
        recipe = catalog.app(target)
        ids = list(recipe.default_ids())
        if recipe.gpu_extras:
            notes.append(f"{', '.join(recipe.gpu_extras)}: used on GPU only (fp16); harmless on CPU.")
        notes.append(f"Other students for '{target}': {', '.join(recipe.alternatives)} (fetch one by id).")
    elif target in catalog.specs:
        spec = catalog.get(target)
        ids = [spec.id] + ([spec.base] if spec.base and spec.kind in ("lora", "unet") else [])
    else:
        close = difflib.get_close_matches(target, targets(catalog), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InputError(
            f"'{target}' is neither an app ({', '.join(catalog.apps)}) nor a catalog model id.{hint} "
            "Model ids are listed in models/catalog.py."
        )
    specs = [catalog.get(i) for i in dict.fromkeys(ids)]
    allowed = include_noncommercial or settings.include_noncommercial
    refused = [s for s in specs if s.licence.noncommercial and not allowed]
    if refused:
        names = "; ".join(f"{s.id} ({s.licence.describe()})" for s in refused)
        raise InputError(
            f"{names}: non-commercial licence. Re-run with --include-noncommercial to fetch it anyway, "
            "and use the results for non-commercial work only."
        )
    for s in specs:
        if s.licence.use == "unverified":
            notes.append(f"{s.id}: licence unverified ({s.licence.name}); read the card at huggingface.co/{s.repo}.")
        if s.pickle:
            notes.append(f"{s.id}: weights are a torch pickle (.bin); the studio loads them with weights_only=True.")

    resolver = Resolver(settings)
    hub_sizes = _hub_sizes(specs, settings) if ask_hub and not settings.offline else {}
    if ask_hub and settings.offline:
        notes.append("HF_HUB_OFFLINE is set: sizes come from the catalog, not the Hub.")
    files: list[PlannedFile] = []
    for spec in specs:
        located = resolver.locate(spec)
        present_all = located.resolved is not None
        for f in spec.files:
            size = hub_sizes.get((spec.repo, f.path))
            small = f.path.endswith((".json", ".txt"))
            source = "hub" if size is not None else "catalog" if f.size_mb is not None else None
            source = source or ("config" if small else "unknown")
            size = size if size is not None else f.size_mb
            files.append(PlannedFile(spec, f, size, source, present_all or f.path not in located.missing))
    return FetchPlan(target, specs, files, notes, recipe)


def _hub_sizes(specs: list[ModelSpec], settings: Settings) -> dict[tuple[str, str], float]:
    """Real file sizes from the Hub (one request per repo); empty when the Hub cannot be asked."""
    from huggingface_hub import HfApi

    sizes: dict[tuple[str, str], float] = {}
    api = HfApi()
    for spec in specs:
        try:
            for info in api.get_paths_info(spec.repo, [f.path for f in spec.files], revision=spec.revision):
                if getattr(info, "size", None) is not None:
                    sizes[(spec.repo, info.path)] = info.size / 1e6
        except Exception as exc:  # network, gated repo, rate limit: the catalog sizes are good enough to plan
            print(f"note: could not ask the Hub about {spec.repo} ({type(exc).__name__}); using catalog sizes.",
                  file=sys.stderr)  # fmt: skip
    return sizes


def _fmt_size(size_mb: float | None, path: str) -> str:
    if size_mb is None:
        return "<0.1 MB" if path.endswith((".json", ".txt")) else "unknown"
    return f"{size_mb / 1000:.2f} GB" if size_mb >= 1000 else f"{size_mb:.1f} MB"


def describe_settings(spec: ModelSpec) -> list[str]:
    """The settings an entry brings to a call, then where each comes from (card or doc line), indented."""
    settings = spec.settings()
    if not settings:
        return []
    lines = ["  settings: " + "; ".join(f"{k} {v}" for k, v in settings.items())]
    lines += [f"    {name}: {spec.source_of(name)}" for name in spec.cited_settings()]
    return lines


def describe_checks(recipe: AppModels) -> list[str]:
    """What a card verifies of the recipe's default student on its pipeline kind, and what it does not."""
    checks = recipe.checks_for()
    lines = [f"\n{recipe.student} on '{recipe.pipeline}' (the {recipe.app} recipe):"]
    for verified, label in ((True, "verified by a card"), (False, "not verified (measure with real weights)")):
        picked = [c for c in checks if c.verified == verified]
        if picked:
            lines.append(f"  {label}:")
            lines += [f"    {c.setting}: {c.note}" for c in picked]
    return lines


def describe(p: FetchPlan) -> str:
    """The dry-run table: one line per file with size, licence and whether it is already here; each model's settings
    with their sources; for an app, what the cards verify of its recipe."""
    lines = [f"studio fetch {p.target}: {len(p.specs)} model(s), {len(p.files)} file(s)"]
    for spec in p.specs:
        lines.append(f"\n{spec.id} — {spec.title}")
        lines.append(f"  repo {spec.repo} @ {spec.revision}   licence {spec.licence.describe()}")
        lines += describe_settings(spec)
        for f in (f for f in p.files if f.spec is spec):
            state = "cached" if f.present else "to download"
            size = _fmt_size(f.size_mb, f.file.path)
            lines.append(f"  {f.file.path:<58} {size:>10} ({f.size_source})  {state}")
    total, exact = p.total_mb()
    remaining, remaining_exact = p.total_mb(only_missing=True)
    lines.append("")
    at_least = ("" if exact else "≥ ", "" if remaining_exact else "≥ ")
    lines.append(f"total {at_least[0]}{_fmt_size(total, 'x')}; "
                 f"to download {at_least[1]}{_fmt_size(remaining, 'x')} in {len(p.missing)} file(s)")  # fmt: skip
    if p.recipe is not None and p.recipe.checks_for():
        lines += describe_checks(p.recipe)
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)


def _hub_unreachable(repo: str, exc: Exception) -> StudioError:
    return StudioError(f"The Hugging Face Hub cannot be reached to fetch {repo} ({type(exc).__name__}). Check the "
                       "internet connection (or HTTPS_PROXY), then run the command again; on an offline machine, copy "
                       "the Hugging Face cache over from one that has the weights.")  # fmt: skip


def _pins(p: FetchPlan, files: list[PlannedFile], lock, update: bool, echo) -> dict[str, str]:
    """repo → the commit to download it at (the lock's, or the Hub's current one on first fetch or --update), after
    refusing pickles that have safetensors twins in the repo."""
    from huggingface_hub import HfApi

    from .lock import pickle_problem

    api, pins = HfApi(), {}
    for spec in dict.fromkeys(f.spec for f in files):
        try:
            info = api.model_info(spec.repo, revision=spec.revision, files_metadata=False)
        except Exception as exc:  # noqa: BLE001 -- requests/httpx errors differ by huggingface_hub version
            if type(exc).__name__ in ("GatedRepoError", "RepositoryNotFoundError", "RevisionNotFoundError"):
                raise
            raise _hub_unreachable(spec.repo, exc) from exc
        problem = pickle_problem(spec.id, [f.path for f in spec.files], [s.rfilename for s in info.siblings or []])
        if problem:
            raise StudioError(problem)
        pin = lock.pin(spec.repo, spec.revision, info.sha, update, p.target)
        if pin.note:
            echo(f"note: {pin.note}")
        pins[spec.repo] = pin.commit
    return pins


def _point_branch(local: str, repo_path: str, revision: str, commit: str) -> None:
    """Make the cache's `refs/<revision>` name the commit just downloaded, as `hf_hub_download(revision="main")`
    would: a download *at a commit* leaves refs/ alone, and the resolver (which looks files up at the catalog's
    revision, `try_to_load_from_cache`) would not find the files it fetched."""
    from .lock import _COMMIT

    if _COMMIT.fullmatch(revision) or revision == commit:
        return
    snapshot = Path(local)
    for _ in Path(repo_path).parts:
        snapshot = snapshot.parent
    if snapshot.name != commit or snapshot.parent.name != "snapshots":
        return  # not the standard cache layout (a local_dir download): nothing to point
    ref = snapshot.parent.parent / "refs" / revision
    try:
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file() or ref.read_text().strip() != commit:
            ref.write_text(commit)
    except OSError as exc:
        raise StudioError(f"Downloaded {repo_path}, but cannot write {ref} ({exc.strerror}): check the permissions "
                          "of the Hugging Face cache folder.") from exc  # fmt: skip


def download(p: FetchPlan, settings: Settings, echo: Callable[[str], None] = print, update: bool = False,
             on_file: Callable[[int, int, PlannedFile | None], None] | None = None) -> list[str]:
    """Download the missing files of a plan into the HF cache at the locked commits; returns the local paths.
    `on_file(i, n, file)` is called before each of the n files (a progress bar: the UI's Models page)."""
    if not p.missing and not update:
        echo(f"Everything '{p.target}' needs is already on this machine.")
        return []
    if settings.offline:
        raise ModelUnavailable(
            f"{len(p.missing)} file(s) for '{p.target}' are missing and HF_HUB_OFFLINE is set, so nothing can be "
            "downloaded. Unset HF_HUB_OFFLINE (or run on a machine with internet and copy the cache over).",
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)  # fmt: skip

    from .lock import WeightsLock

    lock = WeightsLock(settings.models_dir)
    todo = p.files if update else p.missing
    try:
        pins = _pins(p, todo, lock, update, echo)
    except GatedRepoError as exc:
        raise StudioError(f"A repo of '{p.target}' is gated: accept its terms on huggingface.co and set HF_TOKEN to a "
                          "token of that account, then run the command again.") from exc  # fmt: skip
    cache_dir = str(settings.hf_cache_dir) if settings.hf_cache_dir else None
    paths = []
    for i, f in enumerate(todo, start=1):
        commit = pins[f.spec.repo]
        echo(f"[{i}/{len(todo)}] {f.spec.repo}/{f.file.path} @ {commit[:10]} ({_fmt_size(f.size_mb, f.file.path)})")
        if on_file is not None:
            on_file(i - 1, len(todo), f)
        try:
            # token=None lets huggingface_hub read HF_TOKEN / the saved login itself.
            paths.append(hf_hub_download(f.spec.repo, f.file.path, revision=commit, cache_dir=cache_dir))
        except GatedRepoError as exc:
            raise StudioError(
                f"{f.spec.repo} is gated: accept its terms at https://huggingface.co/{f.spec.repo} and set HF_TOKEN "
                "to a token of that account, then run the command again."
            ) from exc
        except LocalEntryNotFoundError as exc:  # (a subclass of EntryNotFoundError: the network is down)
            raise _hub_unreachable(f.spec.repo, exc) from exc
        except (EntryNotFoundError, RepositoryNotFoundError) as exc:
            raise StudioError(
                f"{f.spec.repo} has no file {f.file.path} at revision {f.spec.revision}: the catalog entry "
                f"'{f.spec.id}' is out of date. Check the repo's file list and fix models/catalog.py."
            ) from exc
        except OSError as exc:  # connection reset, DNS failure mid-download
            raise _hub_unreachable(f.spec.repo, exc) from exc
        _point_branch(paths[-1], f.file.path, f.spec.revision, commit)
        lock.record(f.spec.repo, f.spec.revision, commit)
    if on_file is not None:
        on_file(len(todo), len(todo), None)
    echo(f"Done: {len(paths)} file(s) in {cache_dir or 'the default Hugging Face cache'}; commits locked in "
         f"{lock.path}.")  # fmt: skip
    return paths


def run_fetch(target: str, settings: Settings, dry_run: bool = False, include_noncommercial: bool = False,
              echo: Callable[[str], None] = print, update: bool = False) -> int:  # fmt: skip
    """What `studio fetch` does; returns the exit code."""
    from studio.models import load_catalog

    p = plan(target, load_catalog(), settings, include_noncommercial=include_noncommercial)
    if dry_run:
        echo(describe(p))
        return 0
    download(p, settings, echo=echo, update=update)
    return 0
