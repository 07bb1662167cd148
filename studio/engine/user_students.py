"""Students the user distilled (`studio distill`), found on disk and turned into catalog entries next to the catalog's.

A user student is a folder holding `student.json` (what it is: teacher, recipe, licence, training record) and
`pytorch_lora_weights.safetensors` (a LoRA with the standard diffusers/PEFT keys `unet.<module>.lora_A.weight`).
`studio distill --out D` writes D and registers it as `<models dir>/students/<id>` (a link to D; a copy of the two
files where links are not allowed), so the studio finds it the way it finds every dropped-in model: the student's
catalog entry has repo `students/<id>`, which the resolver looks for under the models folder. A teacher that is not a
catalog entry gets one too: a Hub repo at the commit the student was distilled from (found in the HF cache), or a
local folder registered as `<models dir>/teachers/<teacher id>`.

How a user student runs: on the teacher it was distilled from (its LoRA was fitted to that UNet), so picking it for
an app also makes that teacher the app's teacher for the call: Compare then puts the student beside its own teacher.
Any app of the student's family can pick it (`RunContext.with_student`, `studio run/compare --student ID`);
`students_for(app_id, settings)` lists the catalog's students and the user's for a page's student picker.

Nothing here imports torch; scanning a students folder reads a few small JSON files.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from .specs import Catalog, CatalogError, FileSpec, Licence, ModelSpec, cite, scheduler, validate_catalog

log = logging.getLogger(__name__)

FORMAT = "distill-studio/student-v1"
MANIFEST = "student.json"
LORA_FILE = "pytorch_lora_weights.safetensors"
STUDENTS = "students"  # <models dir>/students/<id>
TEACHERS = "teachers"  # <models dir>/teachers/<teacher id> for local-folder teachers

#: A teacher's default recipe when it is not a catalog entry: its family's catalog teacher.
FAMILY_TEACHER = {"sd15": "sd15", "sdxl": "sdxl-base"}


@dataclass(frozen=True)
class UserStudent:
    id: str
    folder: Path  # the registered folder (a link to the run folder, or a copy)
    manifest: dict
    spec: ModelSpec
    teacher_spec: ModelSpec | None  # None when the teacher is a catalog entry

    @property
    def teacher_id(self) -> str:
        return self.spec.base


def students_dir(settings) -> Path:
    return Path(settings.models_dir) / STUDENTS


# --------------------------------------------------------------------------------------------- manifest → specs
def specs_from_manifest(manifest: dict, catalog: Catalog | None = None) -> tuple[ModelSpec, ModelSpec | None]:
    """The student's catalog entry, and its teacher's when the teacher is not in the catalog."""
    if manifest.get("format") != FORMAT:
        raise CatalogError(f"not a {FORMAT} manifest (format {manifest.get('format')!r})")
    sid, family, recipe, teacher = manifest["id"], manifest["family"], manifest["recipe"], manifest["teacher"]
    lic = manifest["licence"]
    licence = Licence(lic["name"], lic["use"], lic.get("source", ""))
    training = manifest.get("training", {})
    w = f"{training.get('w_min')}–{training.get('w_max')}"
    lcm = scheduler("LCMScheduler", **recipe.get("scheduler_overrides", {}))
    made = f"studio distill, {training.get('steps_done')} steps on {training.get('images')} images"
    student = ModelSpec(
        sid, manifest.get("title") or sid, "lora", "student", family, f"{STUDENTS}/{sid}",
        (FileSpec(manifest.get("weights", LORA_FILE), manifest.get("size_mb")),), licence,
        base=teacher["spec_id"], scheduler=lcm, steps=int(recipe["steps"]), guidance=float(recipe["guidance"]),
        step_range=tuple(recipe["step_range"]), resolution=int(recipe["resolution"]),
        notes=f"user-distilled ({made}); runs on its teacher '{teacher['spec_id']}'",
        source=f"user-distilled: {made}, from {teacher.get('repo') or teacher.get('folder')}",
        sources=cite(
            scheduler="studio distill: trained against LCMScheduler's boundary conditions and its "
                      f"{recipe.get('scheduler_overrides', {}).get('original_inference_steps', 50)}-timestep grid "
                      "(studio/distill/lcm.py; LCM-LoRA, arXiv 2311.05556)",
            steps="LCM-LoRA method, doc §1.3: '2–8 (4 typical)'",
            step_range="doc §1.3: LCM-LoRA works at 2–8 steps (the same distillation)",
            guidance=f"teacher guidance w ∈ [{w}] baked in during distillation; CFG off at inference as LCM-LoRA "
                     "(doc §1.3: '1.0 (off) up to 2.0')",
        ),
    )  # fmt: skip
    teacher_spec = None
    if teacher["source"] != "catalog":
        family_teacher = catalog.specs.get(FAMILY_TEACHER[family]) if catalog is not None else None
        steps = family_teacher.steps if family_teacher else 30
        guidance = family_teacher.guidance if family_teacher else (7.5 if family == "sd15" else 6.0)
        why = f"our choice: the {family} family's catalog teacher recipe ({FAMILY_TEACHER[family]})"
        # A Hub teacher is pinned to the commit the student was distilled from; a folder has no revisions.
        revision = (teacher.get("revision") or "main") if teacher["source"] == "hub" else "main"
        teacher_spec = ModelSpec(
            teacher["spec_id"], teacher.get("title") or teacher["spec_id"], "pipeline", "teacher", family,
            teacher["repo"] if teacher["source"] == "hub" else f"{TEACHERS}/{teacher['spec_id']}",
            tuple(FileSpec(f, teacher.get("sizes_mb", {}).get(f)) for f in teacher["files"]), licence,
            revision=revision, variant=teacher.get("variant"), pipeline=teacher["pipeline"],
            inpaint=bool(teacher.get("inpaint")), steps=steps, guidance=guidance, resolution=int(recipe["resolution"]),
            source=f"user teacher of '{sid}' ({teacher.get('repo') or teacher.get('folder')})",
            sources=cite(steps=why, guidance=why),
        )  # fmt: skip
    return student, teacher_spec


# --------------------------------------------------------------------------------------------- finding them
def scan(settings, catalog: Catalog | None = None) -> tuple[list[UserStudent], dict[str, str]]:
    """Every registered user student ({} when none), and the folders that could not be read (folder → why)."""
    root = students_dir(settings)
    found, problems = [], {}
    if not root.is_dir():
        return found, problems
    for folder in sorted(root.iterdir()):
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            if folder.is_symlink() and not folder.exists():
                problems[str(folder)] = "its run folder was moved or deleted (a dangling link)"
            continue
        try:
            manifest = json.loads(manifest_path.read_text())
            student, teacher = specs_from_manifest(manifest, catalog)
            if student.id != folder.name:
                raise CatalogError(f"the manifest's id '{student.id}' differs from the folder name")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:  # CatalogError is a ValueError
            problems[str(folder)] = f"unreadable {MANIFEST}: {exc}"
            continue
        found.append(UserStudent(student.id, folder, manifest, student, teacher))
    for folder, why in problems.items():
        log.warning("User student %s skipped: %s", folder, why)
    return found, problems


def extend(catalog: Catalog, settings) -> Catalog:
    """`catalog` plus the user's students (and their non-catalog teachers); each student also joins the alternatives
    of every app recipe of its family. Students whose catalog teacher is not in `catalog` are left out."""
    students, _ = scan(settings, catalog)
    specs, added = dict(catalog.specs), []
    for student in students:
        existing = catalog.specs.get(student.id)
        if existing is not None and not is_user_student(existing):
            log.warning("User student '%s' has a catalog entry's id; skipped.", student.id)
            continue
        if student.teacher_spec is not None:
            specs.setdefault(student.teacher_spec.id, student.teacher_spec)
        elif student.teacher_id not in specs:
            continue
        specs[student.id] = student.spec
        added.append(student.spec)
    if not added:
        return catalog
    apps = []
    for recipe in catalog.apps.values():
        mine = tuple(s.id for s in added if s.family == recipe.family and s.id not in recipe.alternatives)
        apps.append(replace(recipe, alternatives=recipe.alternatives + mine) if mine else recipe)
    return validate_catalog(list(specs.values()), apps)


def is_user_student(spec: ModelSpec) -> bool:
    return spec.kind == "lora" and spec.repo.startswith(f"{STUDENTS}/")


def choice(engine, student_id: str) -> dict:
    """{"student": id, "teacher": id or None} for running `student_id` on `engine`: a user student brings the
    teacher it was distilled from. A student distilled after the engine was made is picked up here."""
    if student_id not in engine.catalog.specs:
        engine.catalog = extend(engine.catalog, engine.settings)
    spec = engine.catalog.specs.get(student_id)
    if spec is None:
        raise InputError(unknown_student(student_id, engine.settings, engine.catalog))
    return {"student": student_id, "teacher": spec.base if is_user_student(spec) else None}


def unknown_student(student_id: str, settings, catalog: Catalog) -> str:
    import difflib

    students = [s.id for s in catalog.specs.values() if s.role == "student"]
    close = difflib.get_close_matches(student_id, students, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (f"No student '{student_id}' in the catalog or in {students_dir(settings)} (where `studio distill` "
            f"registers students).{hint} Tiny students (`studio distill --tiny`) are used with --tiny.")  # fmt: skip


def students_for(app_id: str, settings, catalog: Catalog | None = None) -> list[dict]:
    """The students an app page can offer: the recipe's default, its catalog alternatives, then the user's own of the
    app's family, each with its teacher, steps, guidance, licence and whether its weights (and teacher) are here.

    The list a page's "Student" dropdown shows: `[(row["label"], row["id"]) for row in students_for(app, settings)]`;
    the chosen id goes to `ctx.with_student(app_id, id)` for the call."""
    from studio.models import load_catalog

    from .resolver import Resolver

    catalog = extend(catalog or load_catalog(), settings)
    recipe = catalog.app(app_id)
    resolver = Resolver(settings)
    rows = []
    for sid in (recipe.student, *recipe.alternatives):
        spec = catalog.get(sid)
        user = is_user_student(spec)
        teacher = catalog.get(spec.base if user else recipe.teacher)
        needed = [spec, teacher] if spec.kind in ("lora", "unet") else [spec]
        missing = {loc.spec.id: loc.missing for loc in map(resolver.locate, needed) if loc.resolved is None}
        origin = "yours" if user else ("catalog, default" if sid == recipe.student else "catalog")
        rows.append({
            "id": sid, "title": spec.title, "origin": "user" if user else "catalog", "default": sid == recipe.student,
            "teacher": teacher.id, "steps": spec.steps, "guidance": spec.guidance,
            "licence": spec.licence.describe(), "available": not missing, "missing": missing,
            "label": f"{spec.title} ({origin}; {spec.steps} steps, teacher {teacher.id})"
                     + ("" if not missing else " — not downloaded"),
        })  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------- registering
def _link_or_copy(link: Path, target: Path, files: tuple[str, ...] | None) -> str:
    """Point `link` at `target` (a symlink); where links are not allowed, copy `files` (None: refuse)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.resolve() == target.resolve():
            return "linked"
        raise InputError(f"{link} already exists and is not {target}: choose another name (--name) or remove it.")
    try:
        link.symlink_to(target.resolve(), target_is_directory=True)
        return "linked"
    except OSError:
        if files is None:
            raise
        link.mkdir()
        for name in files:
            shutil.copy2(target / name, link / name)
        return "copied"


def register(folder: Path, settings) -> Path:
    """Register a finished student folder under `<models dir>/students/<id>` (and a local-folder teacher under
    `<models dir>/teachers/<id>`); returns the registered path. Re-registering the same folder is a no-op."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    sid = manifest["id"]
    target = students_dir(settings) / sid
    if folder.resolve() != target.resolve():
        _link_or_copy(target, folder, (MANIFEST, manifest.get("weights", LORA_FILE)))
    teacher = manifest["teacher"]
    if teacher["source"] == "folder":
        where = Path(settings.models_dir) / TEACHERS / teacher["spec_id"]
        try:
            _link_or_copy(where, Path(teacher["folder"]), None)
        except OSError:
            log.warning("Could not link the teacher folder %s as %s; set STUDIO_MODEL_PATHS=%s=%s so the studio "
                        "finds it.", teacher["folder"], where, teacher["spec_id"], teacher["folder"])  # fmt: skip
    return target


def taken(student_id: str, folder: Path, settings, catalog: Catalog) -> str | None:
    """Why `student_id` cannot name a student written to `folder` (None when it can)."""
    if student_id in catalog.specs:
        return f"'{student_id}' is a catalog entry's id"
    existing = students_dir(settings) / student_id
    if (existing.is_symlink() or existing.exists()) and existing.resolve() != Path(folder).resolve():
        return f"a student '{student_id}' is already registered at {existing} (from {existing.resolve()})"
    return None


def unregister(student_id: str, settings) -> bool:
    """Remove the registration (the link, or the copied files); the run folder itself is left alone."""
    path = students_dir(settings) / student_id
    if path.is_symlink():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False


__all__ = ["UserStudent", "scan", "extend", "choice", "students_for", "register", "unregister", "taken",
           "specs_from_manifest", "is_user_student", "students_dir", "MANIFEST", "LORA_FILE", "FORMAT"]
