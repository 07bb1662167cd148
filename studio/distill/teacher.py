"""Which teacher to distil: a catalog id, a Hugging Face repo id, or a local diffusers folder — found, checked and
described before any training starts.

  - catalog id (`sd15`, `sdxl-base`, `sd15-inpainting`, …): resolved like every model the studio runs (explicit path,
    models/ folder, HF cache); missing weights are `ModelUnavailable` naming `studio fetch <id>` (exit 3).
  - `owner/name`: a Hub repo, taken from the HF cache, or downloaded with a progress bar when the machine is online
    (only the pipeline's configs, tokenizers and safetensors weights: the fp16 files when every component has them).
    A repo that only ships pickles (.bin/.ckpt) is refused. The commit it came from is recorded with the student.
  - a folder holding `model_index.json` (a fine-tune saved with `save_pretrained`).

Only SD1.x-layout and SDXL UNet pipelines are accepted (text-to-image or 9-channel inpainting): the families the
engine, its ControlNets and IP-Adapters run. The teacher's licence is carried over to the student: the catalog's for
catalog ids, the model card's `license:` tag for the rest (use "unverified" unless the user says otherwise).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.specs import Licence, ModelSpec
from ..errors import InputError, ModelUnavailable
from ..settings import Settings

#: model_index.json classes a teacher may have, and the family each belongs to.
PIPELINES = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionImg2ImgPipeline": "sd15",
    "StableDiffusionInpaintPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
}
#: Pipelines that are already few-step students: distilling them again makes no sense.
STUDENT_PIPELINES = ("LatentConsistencyModelPipeline",)
#: Components the training loop loads, per family (the tokenizer folders are taken whole).
COMPONENTS = {"sd15": ("unet", "vae", "text_encoder"), "sdxl": ("unet", "vae", "text_encoder", "text_encoder_2")}
TOKENIZERS = {"sd15": ("tokenizer",), "sdxl": ("tokenizer", "tokenizer_2")}
#: Licence tags that forbid commercial use (Hub card tags).
NONCOMMERCIAL_TAGS = ("cc-by-nc", "nc-sa", "non-commercial", "noncommercial", "sai-nc-community", "research-only")


@dataclass
class Teacher:
    """A teacher found on this machine, with what the student's catalog entry needs to find it again."""

    name: str  # what the user asked for
    source: str  # "catalog" | "hub" | "folder"
    root: Path  # local folder laid out like the diffusers repo
    family: str  # "sd15" | "sdxl"
    pipeline: str  # model_index.json _class_name
    variant: str | None  # "fp16": the *.fp16.* weight files
    files: list[str]  # repo-relative paths the training (and the engine) load
    licence: Licence
    title: str
    inpaint: bool = False  # a 9-channel inpainting UNet
    catalog_id: str | None = None
    repo: str | None = None  # Hub repo id (catalog and hub sources)
    revision: str = "local"  # snapshot commit for the HF cache, "local" for folders
    resolution: int = 512  # the UNet's native side (sample_size × 8)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source, "catalog_id": self.catalog_id, "repo": self.repo,
                "revision": self.revision, "folder": str(self.root), "family": self.family, "pipeline": self.pipeline,
                "variant": self.variant, "inpaint": self.inpaint, "resolution": self.resolution,
                "licence": {"name": self.licence.name, "use": self.licence.use, "source": self.licence.source},
                "files": self.files, "title": self.title,
                # Exact sizes (MB, unrounded so a tiny config stays above 0): the engine's memory planner reads them.
                "sizes_mb": {f: (self.root / f).stat().st_size / 1e6 for f in self.files
                             if (self.root / f).is_file() and (self.root / f).stat().st_size}}  # fmt: skip


def slug(text: str) -> str:
    """A kebab-case id fragment: lowercase letters and digits joined by single dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-") or "model"


def licence_from_card(card: Path | None, override: str | None = None, use: str | None = None) -> Licence:
    """The `license:` tag of a model card's YAML front matter (or `override`), with its use class.

    The studio has not read a user's licence text, so a tag alone gives "unverified" (or "non-commercial" for NC tags)
    unless the user states the use (`--licence-use`)."""
    tag, where = override, "given with --licence"
    if tag is None and card is not None and card.is_file():
        text = card.read_text(encoding="utf-8", errors="replace")
        front = text.split("---", 2)[1] if text.startswith("---") and text.count("---") >= 2 else ""
        match = re.search(r"^licen[cs]e:\s*['\"]?([^'\"\n]+)", front, flags=re.MULTILINE)
        if match:
            tag, where = match.group(1).strip(), f"model card tag in {card.name}"
    if tag is None:
        return Licence("unknown", use or "unverified", "no model card licence tag found; pass --licence")
    lowered = tag.lower()
    derived = "non-commercial" if any(t in lowered for t in NONCOMMERCIAL_TAGS) else "unverified"
    note = " (use as stated with --licence-use)" if use else " (the studio has not read the licence text)"
    return Licence(tag, use or derived, where + note)


# --------------------------------------------------------------------------------------------- inspection
def _weights(root: Path, component: str) -> dict[str | None, list[str]]:
    """The component's safetensors files per variant ("fp16" or None), index files included."""
    folder = root / component
    found: dict[str | None, list[str]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        name = path.name
        if not (name.endswith(".safetensors") or name.endswith(".safetensors.index.json")
                or name.endswith(".safetensors.index.fp16.json")):  # fmt: skip
            continue
        variant = "fp16" if ".fp16." in name or name.endswith(".index.fp16.json") else None
        found.setdefault(variant, []).append(f"{component}/{name}")
    return found


def _pickles(root: Path, component: str) -> list[str]:
    folder = root / component
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if p.suffix in (".bin", ".ckpt", ".pt", ".pth")]


def inspect_folder(root: Path, what: str) -> dict:
    """Family, pipeline class, variant, inpainting and the file list of a diffusers pipeline folder."""
    index_path = root / "model_index.json"
    if not index_path.is_file():
        single = [p.name for p in root.glob("*.safetensors")] if root.is_dir() else []
        hint = (f" It holds {single[0]}: a single-file checkpoint. Save it as a diffusers folder first "
                "(diffusers' `from_single_file(...).save_pretrained(folder)`)." if single else "")  # fmt: skip
        raise InputError(f"{what} is not a diffusers pipeline folder: {index_path} is missing.{hint}")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: {index_path} is not valid JSON ({exc.msg}).") from None
    cls = index.get("_class_name", "")
    if cls in STUDENT_PIPELINES:
        raise InputError(f"{what} is a {cls}: already a few-step student. Distil from the model it was made from.")
    if cls not in PIPELINES:
        raise InputError(f"{what} is a {cls or 'pipeline of unknown class'}; `studio distill` takes Stable Diffusion "
                         f"1.x and SDXL UNet pipelines ({', '.join(sorted(PIPELINES))}).")  # fmt: skip
    family = PIPELINES[cls]
    unet_config = root / "unet" / "config.json"
    if not unet_config.is_file():
        raise InputError(f"{what}: unet/config.json is missing; the folder is incomplete.")
    unet = json.loads(unet_config.read_text())
    if family == "sd15" and unet.get("cross_attention_dim") == 1024:
        raise InputError(f"{what} is a Stable Diffusion 2.x model (1024-wide text conditioning); the studio's SD1.5 "
                         "adapters do not fit it, so it cannot serve as a teacher here.")  # fmt: skip
    weights = {c: _weights(root, c) for c in COMPONENTS[family]}
    absent = [c for c, w in weights.items() if not w]
    if absent:
        pickles = {c: _pickles(root, c) for c in absent}
        if any(pickles.values()):
            names = ", ".join(sum(pickles.values(), []))
            raise InputError(f"{what}: {', '.join(absent)} only has pickle weights ({names}); the studio loads "
                             "safetensors only. Convert them (diffusers `save_pretrained(safe_serialization=True)`) "
                             "and try again.")  # fmt: skip
        raise InputError(f"{what}: no weights for {', '.join(absent)}.")
    variant = "fp16" if all("fp16" in w for w in weights.values()) else None
    if variant is None and not all(None in w for w in weights.values()):
        raise InputError(f"{what}: the components do not share one weights variant (some have only .fp16 files, "
                         "some only full ones); save the pipeline again with one of them.")  # fmt: skip
    files = ["model_index.json", "scheduler/scheduler_config.json"]
    if not (root / files[1]).is_file():
        raise InputError(f"{what}: scheduler/scheduler_config.json is missing; the folder is incomplete.")
    for component, found in weights.items():
        if not (root / component / "config.json").is_file():
            raise InputError(f"{what}: {component}/config.json is missing; the folder is incomplete.")
        files += [f"{component}/config.json", *found[variant]]
    for tokenizer in TOKENIZERS[family]:
        folder = root / tokenizer
        if not folder.is_dir() or not any(folder.iterdir()):
            raise InputError(f"{what}: the {tokenizer}/ folder is missing; the folder is incomplete.")
        files += sorted(f"{tokenizer}/{p.name}" for p in folder.iterdir() if p.is_file())
    sample = int(unet.get("sample_size") or 64)
    return {"family": family, "pipeline": cls, "variant": variant, "files": files,
            "inpaint": int(unet.get("in_channels", 4)) == 9, "resolution": sample * 8}  # fmt: skip


# --------------------------------------------------------------------------------------------- finding it
def resolve_teacher(name: str, settings: Settings, catalog=None, licence: str | None = None,
                    licence_use: str | None = None) -> Teacher:  # fmt: skip
    """The teacher `name` names (catalog id, `owner/name` Hub repo, or local folder), found on this machine."""
    if catalog is None:
        from studio.models import load_catalog

        catalog = load_catalog()
    name = (name or "").strip()
    if not name:
        raise InputError("Name a teacher with --teacher: a catalog id (e.g. sd15, sdxl-base), a Hugging Face repo "
                         "id (owner/name) or a folder with a diffusers pipeline.")  # fmt: skip
    if name in catalog.specs:
        return _catalog_teacher(catalog.specs[name], settings, licence, licence_use)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"--teacher {name} is a file; give the folder of a diffusers pipeline (with "
                             "model_index.json), a catalog id or a Hugging Face repo id.")  # fmt: skip
        return _folder_teacher(path.resolve(), name, licence, licence_use)
    for spec in catalog.specs.values():  # a catalog teacher's repo id means that catalog entry
        if spec.repo == name and spec.role == "teacher" and spec.kind == "pipeline":
            return _catalog_teacher(spec, settings, licence, licence_use)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not name.startswith((".", "/")):
        return _hub_teacher(name, settings, licence, licence_use)
    import difflib

    teachers = [s.id for s in catalog.specs.values() if s.role == "teacher"]
    close = difflib.get_close_matches(name, list(catalog.specs), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise InputError(f"No teacher '{name}': it is not a catalog id, not a folder here and not a Hugging Face repo id "
                     f"(owner/name).{hint} Catalog teachers: {', '.join(teachers)}.")  # fmt: skip


def _catalog_teacher(spec: ModelSpec, settings: Settings, licence, licence_use) -> Teacher:
    if spec.role != "teacher" or spec.kind != "pipeline":
        raise InputError(f"'{spec.id}' is a catalog {spec.role} ({spec.kind}), not a teacher pipeline: distil from "
                         f"the model a student runs on (e.g. {spec.base or 'sd15'}).")  # fmt: skip
    from ..engine.resolver import Resolver

    resolved = Resolver(settings).resolve(spec)  # ModelUnavailable with `studio fetch <id>` when missing
    found = inspect_folder(resolved.root, f"The teacher '{spec.id}' ({resolved.root})")
    lic = spec.licence
    if licence or licence_use:
        lic = Licence(licence or lic.name, licence_use or lic.use, "given on the command line")
    return Teacher(spec.id, "catalog", resolved.root, spec.family, found["pipeline"], spec.variant,
                   [f.path for f in spec.files], lic, spec.title, inpaint=spec.inpaint, catalog_id=spec.id,
                   repo=spec.repo, revision=resolved.revision, resolution=found["resolution"])  # fmt: skip


def _folder_teacher(root: Path, name: str, licence, licence_use) -> Teacher:
    found = inspect_folder(root, f"The teacher folder {root}")
    return Teacher(name, "folder", root, found["family"], found["pipeline"], found["variant"], found["files"],
                   licence_from_card(root / "README.md", licence, licence_use), root.name, inpaint=found["inpaint"],
                   resolution=found["resolution"])  # fmt: skip


def _hub_teacher(repo: str, settings: Settings, licence, licence_use) -> Teacher:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)  # fmt: skip

    cache_dir = str(settings.hf_cache_dir) if settings.hf_cache_dir else None
    try:
        if settings.offline:
            root = Path(snapshot_download(repo, cache_dir=cache_dir, local_files_only=True))
        else:
            root = _download_teacher(repo, cache_dir)
    except LocalEntryNotFoundError:
        how = ("HF_HUB_OFFLINE is set, so it cannot be downloaded: unset it" if settings.offline
               else "the Hub cannot be reached: check the connection")  # fmt: skip
        raise ModelUnavailable(f"The teacher {repo} is not in the Hugging Face cache and {how}, or copy the cache "
                               "over from a machine that has it.") from None  # fmt: skip
    except GatedRepoError:
        raise ModelUnavailable(f"{repo} is gated: accept its terms at https://huggingface.co/{repo} and set HF_TOKEN "
                               "to a token of that account.") from None  # fmt: skip
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise InputError(f"No Hugging Face repo '{repo}' (or it is private: set HF_TOKEN to a token that can read "
                         "it).") from None  # fmt: skip
    found = inspect_folder(root, f"The teacher {repo} ({root})")
    missing = [f for f in found["files"] if not (root / f).is_file()]
    if missing:
        raise ModelUnavailable(f"The cached copy of {repo} lacks {', '.join(missing[:3])}; unset HF_HUB_OFFLINE so "
                               "`studio distill` can download it.")  # fmt: skip
    return Teacher(repo, "hub", root, found["family"], found["pipeline"], found["variant"], found["files"],
                   licence_from_card(root / "README.md", licence, licence_use), repo, inpaint=found["inpaint"],
                   repo=repo, revision=root.name, resolution=found["resolution"])  # fmt: skip


def _download_teacher(repo: str, cache_dir: str | None) -> Path:
    """Download the configs and tokenizers, then exactly the safetensors weights `inspect_folder` will pick."""
    from huggingface_hub import snapshot_download

    small = ["model_index.json", "README.md", "scheduler/*", "*/config.json", "tokenizer/*", "tokenizer_2/*",
             "*/*.safetensors.index*.json"]  # fmt: skip
    listing = snapshot_download(repo, cache_dir=cache_dir, dry_run=True)
    commit = listing[0].commit_hash if listing else None
    root = Path(snapshot_download(repo, cache_dir=cache_dir, revision=commit, allow_patterns=small))
    names = [f.filename for f in listing]
    pickles_only = not any(n.endswith(".safetensors") for n in names)
    if pickles_only:
        shipped = ", ".join(n for n in names if "." in n)[:200]
        raise InputError(f"{repo} ships no safetensors weights (only {shipped}); the studio loads safetensors only.")
    index = json.loads((root / "model_index.json").read_text()) if (root / "model_index.json").is_file() else {}
    family = PIPELINES.get(index.get("_class_name", ""), "sd15")
    comps = COMPONENTS[family]
    fp16 = all(any(n.startswith(f"{c}/") and ".fp16." in n and n.endswith(".safetensors") for n in names)
               for c in comps)  # fmt: skip
    wanted = [n for n in names if n.split("/")[0] in comps and n.endswith(".safetensors")
              and ((".fp16." in n) == fp16)]  # fmt: skip
    print(f"Downloading the teacher {repo} @ {(commit or 'main')[:10]}: {len(wanted)} weight files"
          f"{' (fp16)' if fp16 else ''}.", file=sys.stderr, flush=True)  # fmt: skip
    return Path(snapshot_download(repo, cache_dir=cache_dir, revision=commit, allow_patterns=wanted + small))


def teacher_spec_id(teacher: Teacher) -> str:
    """The catalog id a non-catalog teacher gets beside its students: `hub-<repo>` or `local-<folder>-<hash>`."""
    if teacher.catalog_id:
        return teacher.catalog_id
    if teacher.source == "hub":
        return f"hub-{slug(teacher.repo or teacher.name)}"
    digest = hashlib.sha1(str(teacher.root).encode()).hexdigest()[:6]
    return f"local-{slug(teacher.root.name)}-{digest}"


def check_noncommercial(teacher: Teacher, settings: Settings) -> None:
    """The engine's rule, applied before hours of training: non-commercial teachers are opt-in."""
    if teacher.licence.noncommercial and not settings.include_noncommercial:
        raise InputError(f"The teacher '{teacher.name}' is licensed {teacher.licence.name} (non-commercial), and the "
                         "student inherits it. To distil it for non-commercial work, set "
                         "STUDIO_INCLUDE_NONCOMMERCIAL=1.")  # fmt: skip


__all__ = ["Teacher", "resolve_teacher", "inspect_folder", "licence_from_card", "teacher_spec_id", "slug",
           "check_noncommercial"]  # fmt: skip
