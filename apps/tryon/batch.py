"""The batch form of try-on: every person of one folder in every garment of another, with a contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

from studio.errors import InputError, StudioError
from studio.imaging import load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def _images(folder, what: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"The {what} folder '{folder}' does not exist or is not a folder.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"No images (JPEG, PNG, WebP, BMP, TIFF) in the {what} folder '{folder}'.")
    return files


def run_batch(ctx, people_dir, garments_dir, out_dir, **params) -> dict:
    """Dress every person in `people_dir` in every garment of `garments_dir`. Writes `<person>__<garment>.png`,
    `summary.json` and `contact_sheet.png` (rows: people, columns: garments) to `out_dir` and returns the summary.
    A pair that fails (no person, sideways, busy garment backdrop, missing weights) is reported and skipped."""
    from PIL import Image

    from .app import APP
    from .report import contact_sheet

    people, garments = _images(people_dir, "people"), _images(garments_dir, "garments")
    APP.validate({**params, "person": people[0], "garment": garments[0]})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"people": str(people_dir), "garments": str(garments_dir), "results": []}
    grid = []
    for person in people:
        row = []
        for garment in garments:
            entry: dict = {"person": person.name, "garment": garment.name}
            try:
                result = APP(ctx, **{**params, "person": person, "garment": garment})
                name = f"{person.stem}__{garment.stem}.png"
                Image.fromarray(result.image).save(out_dir / name)
                entry.update(output=name, **result.summary())
                row.append(result.image)
            except StudioError as exc:
                entry["error"] = str(exc)
                row.append(None)
            summary["results"].append(entry)
        grid.append((load_image(person, what="person photo"), row))
    summary["done"] = sum("error" not in e for e in summary["results"])
    Image.fromarray(contact_sheet(grid)).save(out_dir / "contact_sheet.png")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
