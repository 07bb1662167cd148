"""`studio batch <app>`: one app over folders of images, driven by its schema.

Any image input may name a folder (or a single file); the batch runs every combination of the folders' images —
every photo in one look, every person in every garment — writing `<stem>[__<stem>…]_<app>.png`, a
`summary.json` (per row: inputs, output, provenance and metrics, or the error) and `contact_sheet.png` (one
row per image of the first folder: the input, then its results). One bad file never stops the rest; a problem
with the inputs every row shares (an app's `check`, e.g. a faceless makeup reference) stops it before any work.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Callable

from .errors import StudioError
from .imaging import list_images, load_image


def iterated_inputs(app, values: dict) -> dict[str, list[Path]]:
    """Image inputs given as a folder (or a file), in the app's parameter order, each with its image files."""
    found = {}
    for name in app.image_params:
        value = values.get(name)
        if isinstance(value, (str, Path)) and (Path(value).is_dir() or name == app.primary_input):
            found[name] = list_images(value, name)
    return found


def run_batch(app, ctx, out_dir, values: dict, progress: Callable[[int, int, dict], None] | None = None) -> dict:
    """Run `app` over every combination of its folder inputs; write the images, summary and contact sheet to
    `out_dir` and return the summary. `progress(done, total, entry)` is called after each row."""
    from PIL import Image

    from .tiles import grid

    lists = iterated_inputs(app, values)
    names = list(lists)
    rows = list(itertools.product(*lists.values()))
    first = app.validate({**values, **dict(zip(names, rows[0]))})
    if app.check is not None:
        app.check(ctx, first)  # fail fast: the shared inputs would fail every row
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"app": app.id, "inputs": {n: str(values[n]) for n in names}, "results": []}
    results_by_first: dict[Path, list] = {path: [] for path in lists[names[0]]}  # contact sheet rows
    for i, row in enumerate(rows, start=1):
        entry: dict = {n: path.name for n, path in zip(names, row)}
        try:
            result = app(ctx, **{**values, **dict(zip(names, row))})
            output = "__".join(path.stem for path in row) + f"_{app.id}.png"
            Image.fromarray(result.image).save(out_dir / output)
            entry.update(output=output, **result.summary())
            results_by_first[row[0]].append(result.image)
        except StudioError as exc:
            entry["error"] = str(exc)
            results_by_first[row[0]].append(None)
        summary["results"].append(entry)
        if progress is not None:
            progress(i, len(rows), entry)
    summary["done"] = sum("error" not in e for e in summary["results"])
    sheet = grid([[_readable(path, names[0]), *images] for path, images in results_by_first.items()], height=320,
                 labels=[[path.name] + ["" if image is not None else "failed" for image in images]
                         for path, images in results_by_first.items()])  # fmt: skip
    Image.fromarray(sheet).save(out_dir / "contact_sheet.png")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _readable(path: Path, what: str):
    """The image at `path` for the contact sheet, or None (a grey tile) when it cannot be read."""
    try:
        return load_image(path, what=what)
    except StudioError:
        return None
