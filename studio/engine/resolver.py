"""Find a catalog entry's files on this machine, without downloading anything.

Search order, first complete match wins:
  1. an explicit path for the id (`Settings.model_paths`, env STUDIO_MODEL_PATHS): a folder laid out like the
     repo, or, for single-file entries (LoRA, UNet), the file itself;
  2. the models folder, mirroring the repo: `models/<owner>/<name>/<file path>`;
     single-file LoRAs may also sit flat in `models/loras/<file name>` (the ComfyUI / A1111 convention);
  3. the Hugging Face cache (`Settings.hf_cache_dir`), at the spec's revision, all files in one snapshot.

A spec whose files are incomplete everywhere raises `ModelUnavailable` naming the missing files and the
exact `studio fetch ...` command. Nothing here imports torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelUnavailable
from ..settings import Settings
from .specs import ModelSpec


@dataclass(frozen=True)
class Resolved:
    spec: ModelSpec
    root: Path  # folder laid out like the repo (for single-file drops: the file's folder)
    files: dict[str, Path]  # repo path -> local file
    source: str  # "path" | "models" | "hf-cache"
    revision: str  # the snapshot's commit hash for the HF cache, else "local"

    def file(self, repo_path: str) -> Path:
        return self.files[repo_path]

    @property
    def label(self) -> str:
        """`id@revision` for provenance (short commit hash from the cache)."""
        rev = self.revision[:10] if self.source == "hf-cache" else self.source
        return f"{self.spec.id}@{rev}"


@dataclass
class Located:
    """What was found for one spec: either `resolved`, or the files missing from the best candidate."""

    spec: ModelSpec
    resolved: Resolved | None
    missing: list[str] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)


def fetch_command(target: str, noncommercial: bool = False) -> str:
    return f"studio fetch {target}" + (" --include-noncommercial" if noncommercial else "")


class Resolver:
    def __init__(self, settings: Settings):
        self.settings = settings
        # Every generation resolves 3-5 entries; searching costs ~0.3 ms each (cache lookups, path parsing).
        # A found location is kept while all its files still exist; misses are never kept, so weights fetched
        # while the studio runs are found on the next call.
        self._found: dict[str, Resolved] = {}

    # ------------------------------------------------------------------------------------------ search
    def locate(self, spec: ModelSpec) -> Located:
        """Look everywhere; never raises for missing files."""
        known = self._found.get(spec.id)
        if known is not None and known.spec == spec and all(os.path.isfile(f) for f in known.files.values()):
            return Located(spec, known)
        located = self._search(spec)
        if located.resolved is not None:
            self._found[spec.id] = located.resolved
        return located

    def _search(self, spec: ModelSpec) -> Located:
        located = Located(spec, None)
        best_missing: list[str] | None = None
        for source, candidate in self._candidates(spec):
            located.searched.append(str(candidate) if not isinstance(candidate, str) else candidate)
            found, missing = self._match(spec, source, candidate)
            if found is not None:
                located.resolved = found
                located.missing = []
                return located
            if best_missing is None or len(missing) < len(best_missing):
                best_missing = missing
        located.missing = best_missing if best_missing is not None else [f.path for f in spec.files]
        return located

    def resolve(self, spec: ModelSpec, fetch_target: str | None = None) -> Resolved:
        """The spec's local files, or `ModelUnavailable` with the fetch command (`fetch_target` defaults to the id)."""
        located = self.locate(spec)
        if located.resolved is not None:
            return located.resolved
        raise unavailable(located, fetch_target or spec.id)

    def is_available(self, spec: ModelSpec) -> bool:
        return self.locate(spec).resolved is not None

    # ------------------------------------------------------------------------------------------ sources
    def _candidates(self, spec: ModelSpec):
        for key, path in self.settings.model_paths:
            if key == spec.id:
                yield "path", Path(path).expanduser()
        models = Path(self.settings.models_dir)
        yield "models", models / spec.repo
        if spec.kind == "lora":
            yield "models-flat", models / "loras"
        cache = self.settings.hf_cache_dir
        yield "hf-cache", "the Hugging Face cache" + (f" at {cache}" if cache else "")

    def _match(self, spec: ModelSpec, source: str, candidate) -> tuple[Resolved | None, list[str]]:
        if source == "hf-cache":
            return self._match_cache(spec)
        root = Path(candidate)
        single = len(spec.files) == 1
        if source == "path" and root.is_file():
            if not single:
                return None, [f.path for f in spec.files]
            return Resolved(spec, root.parent, {spec.weights.path: root}, "path", "local"), []
        if source == "models-flat":
            flat = root / Path(spec.weights.path).name
            if flat.is_file():
                return Resolved(spec, root, {spec.weights.path: flat}, "models", "local"), []
            return None, [spec.weights.path]
        files = {f.path: root / f.path for f in spec.files}
        missing = [p for p, local in files.items() if not local.is_file()]
        if missing:
            return None, missing
        return Resolved(spec, root, files, "path" if source == "path" else "models", "local"), []

    def _match_cache(self, spec: ModelSpec) -> tuple[Resolved | None, list[str]]:
        from huggingface_hub import try_to_load_from_cache

        cache_dir = str(self.settings.hf_cache_dir) if self.settings.hf_cache_dir else None
        files: dict[str, Path] = {}
        missing: list[str] = []
        for f in spec.files:
            hit = try_to_load_from_cache(spec.repo, f.path, cache_dir=cache_dir, revision=spec.revision)
            # A str is a cached file; None or the _CACHED_NO_EXIST sentinel means not here.
            if isinstance(hit, str) and Path(hit).is_file():
                files[f.path] = Path(hit)
            else:
                missing.append(f.path)
        if missing:
            return None, missing
        # Every file sits in snapshots/<commit>/<repo path>; loaders need one folder holding all of them.
        roots = {_strip(files[p], p) for p in files}
        if len(roots) != 1:
            return None, [f"{spec.files[0].path} (files come from different snapshots; fetch again)"]
        root = roots.pop()
        return Resolved(spec, root, files, "hf-cache", root.name), []


def _strip(local: Path, repo_path: str) -> Path:
    """snapshots/<commit>/unet/x.safetensors minus 'unet/x.safetensors' -> snapshots/<commit>."""
    root = local
    for _ in Path(repo_path).parts:
        root = root.parent
    return root


def unavailable(located: Located, fetch_target: str) -> ModelUnavailable:
    spec = located.spec
    more = len(located.missing) - 4
    shown = ", ".join(located.missing[:4]) + (f" and {more} more" if more > 0 else "")
    where = "; ".join(located.searched)
    return ModelUnavailable(
        f"{spec.title} ('{spec.id}', {spec.repo}) is not on this machine: missing {shown}. Searched: {where}.",
        fetch_command=fetch_command(fetch_target, spec.licence.noncommercial),
    )
