"""`studio batch <app>`: one app over folders of images or a manifest of rows, driven by its schema.

Rows. Any image input may name a folder (or a single file); the batch runs every combination of the folders' images —
every photo in one look, every person in every garment. A manifest (a CSV file with a header row, or JSON lines) lists
the rows instead, one set of the app's parameters each (image paths relative to the manifest); the values given
beside it (the command line's flags) fill in what a row leaves out.

Outputs, in `out_dir`: `<id>_<app>.png` per row (the id joins the input stems, `person__garment`), `report.jsonl`
with one JSON line per row as it finishes (its inputs, output, provenance and metrics, or the error), then
`summary.json` and `contact_sheet.png`. One bad row never stops the rest; a problem with the inputs every row shares
(an app's `check`, e.g. a faceless makeup reference) stops the batch before any work. Running it again into the same
folder skips the rows the report already lists as done with the same parameters; failed rows run again.

`run_row` is the one function that runs a row. `run_batch` drives it in this process; `studio.scale.ray_batch`
hands the same rows to `run_row` on Ray actors through `run_batch(..., execute=...)`, so both write the same files
and the same report.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import InputError, RunCancelled, StudioError
from .imaging import list_images, load_image

REPORT = "report.jsonl"
#: The contact sheet shows the first this many images of the primary input, each with up to `SHEET_COLUMNS` results.
SHEET_ROWS, SHEET_COLUMNS = 24, 12
#: Above this many rows, summary.json lists only the failed rows (report.jsonl has them all).
SUMMARY_ALL_ROWS = 10_000
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Row:
    """One unit of work: the app's parameters for it and where its result goes."""

    index: int  # 1-based position in the batch
    id: str  # unique in the batch; the output is `<id>_<app>.png`
    output: str
    values: dict  # the app's parameters (images as path strings)
    inputs: dict  # image parameter -> file name, as the report shows it
    key: str  # digest of the parameters: a resumed batch runs a row again when they changed

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Row":
        return cls(**json.loads(text))


@dataclass
class BatchPlan:
    app_id: str
    rows: list[Row]
    inputs: dict  # what the summary says the batch ran over: {param: folder or file} or {"manifest": path}
    checks: list[dict]  # values for the app's up-front check (one per variant); none when rows differ in what it reads


# ------------------------------------------------------------------------------------------------------ rows
def iterated_inputs(app, values: dict) -> dict[str, list[Path]]:
    """Image inputs given as a folder (or a file), in the app's parameter order, each with its image files."""
    found = {}
    for name in app.image_params:
        value = values.get(name)
        if isinstance(value, (str, Path)) and (Path(value).is_dir() or name == app.primary_input):
            found[name] = list_images(value, name)
    return found


def plan_batch(app, values: dict, manifest=None) -> BatchPlan:
    """The batch's rows: every combination of the folder inputs, or one per manifest row (`values` fill in) — each
    once per value of a choice given several values (`--preset berry nude`: every photo in both looks)."""
    values = {k: _absolute(app, k, v) for k, v in values.items() if v is not None}
    variants = _variants(app, values)
    if manifest is not None:
        return _plan_manifest(app, values, Path(manifest).expanduser().absolute(), variants)
    lists = iterated_inputs(app, values)
    if app.primary_input not in lists:
        flag = app.primary_input.replace("_", "-")
        raise InputError(f"Give a folder (or an image) for --{flag}, or a --manifest listing the rows.")
    names = list(lists)
    rows = []
    for combo in itertools.product(*lists.values()):
        for label, choice in variants:
            row_values = {**values, **choice, **{n: str(path.absolute()) for n, path in zip(names, combo)}}
            stem = "__".join([*(_safe(path.stem) for path in combo), *([label] if label else [])])
            rows.append((stem, row_values, {**{n: path.name for n, path in zip(names, combo)}, **_shown(choice)}))
    checks = [row_values for _, row_values, _ in rows[: len(variants)]]  # the first image in each variant
    return BatchPlan(app.id, _rows(app, rows), {n: str(values[n]) for n in names}, checks)


def _absolute(app, name: str, value):
    """Image paths made absolute: a Ray actor's working folder is not the driver's."""
    from .schema import ImageListParam

    if name in app.image_params and isinstance(value, (str, Path)):
        return str(Path(value).expanduser().absolute())
    if isinstance(app.param(name), ImageListParam) and isinstance(value, (list, tuple)):
        return [str(Path(v).expanduser().absolute()) if isinstance(v, (str, Path)) else v for v in value]
    return value


def _variants(app, values: dict) -> list[tuple[str, dict]]:
    """(label, {choice: value}) for each combination of the choices given several values; [("", {})] for none.
    A choice given one value in a list is that value."""
    from .schema import ChoiceParam

    several = {}
    for p in app.params:
        value = values.get(p.name)
        if isinstance(p, ChoiceParam) and isinstance(value, (list, tuple)):
            unique = list(dict.fromkeys(value))
            if len(unique) == 1:
                values[p.name] = unique[0]
            elif unique:
                several[p.name] = unique
            else:
                values.pop(p.name)
    for name in several:
        values.pop(name)
    return [("_".join(_safe(str(v)) for v in combo), dict(zip(several, combo)))
            for combo in itertools.product(*several.values())]  # fmt: skip


def _shown(choice: dict) -> dict:
    return {name: str(value) for name, value in choice.items()}


def read_manifest(path: Path) -> list[dict]:
    """A manifest's rows as dicts: CSV with a header (empty cells left out), or one JSON object per line."""
    if path.suffix.lower() not in MANIFEST_SUFFIXES:
        raise InputError(f"The manifest '{path.name}' must be a .csv file with a header row or a .jsonl file with "
                         "one JSON object per line.")  # fmt: skip
    if not path.is_file():
        raise InputError(f"The manifest file '{path}' does not exist.")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or any(name is None or not name.strip() for name in reader.fieldnames):
            raise InputError(f"The manifest '{path.name}' needs a header row naming a parameter per column.")
        rows = [{k.strip(): v.strip() for k, v in r.items() if v is not None and v.strip() != ""} for r in reader]
    elif text.lstrip().startswith("["):  # a .json file holding one array of objects
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"The manifest '{path.name}' is not valid JSON: {exc}.") from None
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"Line {number} of the manifest '{path.name}' is not JSON: {exc}.") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"Every row of the manifest '{path.name}' must be an object of parameter names and values.")
    rows = [r for r in rows if r]
    if not rows:
        raise InputError(f"The manifest '{path.name}' has no rows.")
    return rows


def _plan_manifest(app, values: dict, path: Path, variants: list) -> BatchPlan:
    known = {p.name for p in app.params}
    images = set(app.image_params)
    for name in images & set(values):
        if isinstance(values[name], (str, Path)) and Path(values[name]).is_dir():
            raise InputError(f"With a manifest, '{name}' must be a single image shared by every row, or a column of "
                             "the manifest; it names a folder.")  # fmt: skip
    raw = read_manifest(path)
    columns = {k.replace("-", "_") for r in raw for k in r} - {"id"}
    unknown = columns - known
    if unknown:
        raise InputError(f"The manifest '{path.name}' has columns that are not parameters of '{app.id}': "
                         f"{', '.join(sorted(unknown))}. Known: {', '.join(sorted(known))} (and 'id').")  # fmt: skip
    if app.primary_input not in columns and app.primary_input not in values:
        raise InputError(f"The manifest '{path.name}' needs a '{app.primary_input}' column (the app's main image).")
    image_columns = [n for n in app.image_params if n in columns]
    rows = []
    for number, record in enumerate(raw, start=1):
        own = {k.replace("-", "_"): v for k, v in record.items() if k != "id"}
        for name in images & set(own):  # images relative to the manifest, as a spreadsheet user expects
            image = Path(str(own[name])).expanduser()
            own[name] = str(image if image.is_absolute() else path.parent / image)
        stem = "__".join(_safe(Path(own[n]).stem) for n in image_columns if n in own) or f"row{number:05d}"
        settings = {k: v for k, v in own.items() if k not in images}
        if settings:  # the same photo in two looks gets two names, tied to the row's settings rather than its place
            stem += "__" + hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:6]
        if record.get("id") not in (None, ""):
            stem = _safe(str(record["id"]))
        shown = {n: Path(own[n]).name for n in image_columns if n in own}
        for label, choice in variants:
            row_id = f"{stem}__{label}" if label else stem
            rows.append((row_id, {**values, **choice, **own}, {**shown, **_shown(choice)}))
    # The up-front check only when it reads values every row shares (the manifest sets no more than the main image).
    checks = [row_values for _, row_values, _ in rows[: len(variants)]] if columns <= {app.primary_input} else []
    return BatchPlan(app.id, _rows(app, rows), {"manifest": str(path)}, checks)


def _rows(app, specs: list[tuple[str, dict, dict]]) -> list[Row]:
    seen: dict[str, int] = {}
    rows = []
    for index, (stem, values, shown) in enumerate(specs, start=1):
        seen[stem] = seen.get(stem, 0) + 1
        row_id = stem if seen[stem] == 1 else f"{stem}_{seen[stem]}"  # a.jpg and a.png in one folder
        rows.append(Row(index, row_id, f"{row_id}_{app.id}.png", values, shown, _key(app, values)))
    return rows


def _key(app, values: dict) -> str:
    """A digest of the row's parameters as the app will see them (defaults filled in, images as absolute paths)."""
    try:
        seen = app.validate(values)
    except StudioError:  # a bad value in one manifest row: that row fails when it runs; its key is the raw values
        seen = dict(values)
    for name in app.image_params:
        if isinstance(seen.get(name), (str, Path)):
            seen[name] = str(Path(seen[name]).expanduser().resolve())
    return hashlib.sha1(json.dumps(seen, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    """A file-name-safe version of a stem or id (no separators, no leading dots)."""
    return re.sub(r"[^\w.\-]+", "_", name).lstrip(".") or "row"


# ------------------------------------------------------------------------------------------------ one row
def run_row(app, ctx, row: Row, out_dir) -> dict:
    """Run one row and write its image; return its report entry. Any failure of the row is recorded in the entry,
    never raised (a cancel is): one odd file must not stop twenty thousand others."""
    import cv2
    from PIL import Image

    entry: dict = {**row.inputs, "row": row.id, "key": row.key}
    start = time.perf_counter()
    # OpenCV's random generator is one per thread, shared by every call (GrabCut and k-means++ draw from it): seeded
    # per row, a row's result never depends on which rows its process ran before, so a Ray worker that gets the rows
    # in another order writes the same images as a local batch.
    cv2.setRNGSeed(0)
    try:
        result = app(ctx, **row.values)
        if result.image is None:
            raise StudioError(f"The '{app.id}' app returned no image for this row.")
        out = Path(out_dir) / row.output
        part = out.with_name(f".{out.name}.part")  # written whole, then renamed: a killed run leaves no half image
        Image.fromarray(result.image).save(part, format="PNG")
        os.replace(part, out)
        entry.update(output=row.output, **result.summary())
    except RunCancelled:
        raise
    except StudioError as exc:
        entry["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 -- a bug or a library failing on one input: recorded, with where
        entry["error"] = f"Unexpected {type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc(limit=-4)
    entry["seconds"] = round(time.perf_counter() - start, 3)
    return entry


# ------------------------------------------------------------------------------------------------ the batch
def run_batch(app, ctx, out_dir, values: dict, progress: Callable[[int, int, dict], None] | None = None, *,
              manifest=None, resume: bool = True,
              execute: Callable[[list[Row]], Iterable[dict]] | None = None) -> dict:  # fmt: skip
    """Run `app` over every row of the batch (see the module docstring); write the images, report, summary and
    contact sheet to `out_dir` and return the summary. `progress(done, total, entry)` is called after each row run
    here. `execute(rows)` runs the rows and yields their entries as they finish (default: `run_row` one after
    another in this process, on `ctx`)."""
    plan = plan_batch(app, values, manifest)
    for shared in plan.checks if app.check is not None else ():
        app.check(ctx, app.validate(shared))  # fail fast: the shared inputs would fail every row
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / REPORT
    earlier = previous_entries(report) if resume else {}
    entries: dict[str, dict] = {}
    todo = []
    for row in plan.rows:
        before = earlier.get(row.id)
        if before and "error" not in before and before.get("key") == row.key and (out_dir / row.output).exists():
            entries[row.id] = {**before, "resumed": True}
        else:
            todo.append(row)
    run = execute or (lambda rows: (run_row(app, ctx, row, out_dir) for row in rows))
    total, done, start = len(plan.rows), len(entries), time.perf_counter()
    with open(report, "a" if resume else "w", encoding="utf-8") as log:
        for entry in run(todo):
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()  # a report a user can tail, and a resume point if the job is killed
            entries[entry["row"]] = entry
            done += 1
            if progress is not None:
                progress(done, total, entry)
    seconds = time.perf_counter() - start  # the rows' wall time: what rows per second is measured on
    timing = {"seconds": round(seconds, 2), "rows_per_second": round(len(todo) / seconds, 3) if todo else None}
    return finish_batch(app, plan, out_dir, entries, skipped=total - len(todo), timing=timing)


def previous_entries(report: Path) -> dict[str, dict]:
    """Row id → its latest entry in an earlier run's report (a line cut short by a killed job is ignored)."""
    found: dict[str, dict] = {}
    if report.is_file():
        for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "row" in entry:
                found[entry["row"]] = entry
    return found


def finish_batch(app, plan: BatchPlan, out_dir: Path, entries: dict[str, dict], skipped: int = 0,
                 timing: dict | None = None) -> dict:  # fmt: skip
    """summary.json and contact_sheet.png from every row's entry (a row with none is listed as lost)."""
    from PIL import Image

    results = []
    for row in plan.rows:
        entry = entries.get(row.id)
        if entry is None:  # e.g. a Ray worker that died on it: say so rather than leave a silent gap
            lost = "No result came back for this row (its worker stopped); run the batch again."
            entry = {**row.inputs, "row": row.id, "key": row.key, "error": lost}
        results.append(entry)
    failed = [e for e in results if "error" in e]
    summary: dict = {"app": app.id, "inputs": plan.inputs, "rows": len(results), "done": len(results) - len(failed),
                     "failed": len(failed), "skipped": skipped, **(timing or {}), "report": REPORT,
                     "results": results}  # fmt: skip
    sheet = contact_sheet(app, plan, out_dir, results)
    if sheet is not None:
        Image.fromarray(sheet).save(out_dir / "contact_sheet.png")
    written = summary
    if len(results) > SUMMARY_ALL_ROWS:
        written = {**summary, "results": failed, "note": f"Only the failed rows are listed; {REPORT} has every row."}
    (out_dir / "summary.json").write_text(json.dumps(written, indent=2, default=str))
    return summary


def contact_sheet(app, plan: BatchPlan, out_dir: Path, results: list[dict]):
    """One row per image of the primary input (the first `SHEET_ROWS`): the input, then its results read back from
    `out_dir` (a grey tile where a row failed)."""
    from .tiles import grid

    groups: dict[str, list] = {}
    for row, entry in zip(plan.rows, results):
        source = str(row.values.get(app.primary_input))
        if source not in groups and len(groups) == SHEET_ROWS:
            continue
        groups.setdefault(source, [])
        if len(groups[source]) < SHEET_COLUMNS:
            groups[source].append(entry)
    if not groups:
        return None
    rows, labels = [], []
    for source, group in groups.items():
        images = [_readable(out_dir / e["output"], "result") if "output" in e else None for e in group]
        rows.append([_readable(Path(source), app.primary_input), *images])
        labels.append([Path(source).name] + [_cell_label(app, e) for e in group])
    return grid(rows, height=320, labels=labels, gap=4)


def _cell_label(app, entry: dict) -> str:
    """What sets a result apart from the others of its photo: the other inputs and the varied choices."""
    rest = [str(v) for k, v in entry.items() if k in app.image_params and k != app.primary_input]
    rest += [str(entry[p.name]) for p in app.params if p.name not in app.image_params and p.name in entry]
    text = " · ".join(rest)
    return text if "output" in entry else f"failed{': ' + text if text else ''}"


def _readable(path: Path, what: str):
    """The image at `path` for the contact sheet, or None (a grey tile) when it cannot be read."""
    try:
        return load_image(path, what=what)
    except StudioError:
        return None
