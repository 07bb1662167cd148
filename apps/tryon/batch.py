"""The batch form of try-on: every person of one folder in every garment of another, with a contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

from studio.errors import StudioError
from studio.imaging import list_images, load_image

def run_batch(ctx, out_dir, person, garment, **params) -> dict:
    """`studio batch tryon --person DIR --garment DIR --out OUT`: dress every person of the folder (or file)
    `person` in every garment of `garment`. Writes `<person>__<garment>.png`,
    `summary.json` and `contact_sheet.png` (rows: people, columns: garments) to `out_dir` and returns the summary.
    A pair that fails (no person, sideways, busy garment backdrop, missing weights) is reported and skipped."""
    from PIL import Image

    from .app import APP
    from .report import contact_sheet

    people, garments = list_images(person, "people"), list_images(garment, "garments")
    APP.validate({**params, "person": people[0], "garment": garments[0]})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"people": str(person), "garments": str(garment), "results": []}
    grid = []
    for person_path in people:
        row = []
        for garment_path in garments:
            entry: dict = {"person": person_path.name, "garment": garment_path.name}
            try:
                result = APP(ctx, **{**params, "person": person_path, "garment": garment_path})
                name = f"{person_path.stem}__{garment_path.stem}.png"
                Image.fromarray(result.image).save(out_dir / name)
                entry.update(output=name, **result.summary())
                row.append(result.image)
            except StudioError as exc:
                entry["error"] = str(exc)
                row.append(None)
            summary["results"].append(entry)
        grid.append((load_image(person_path, what="person photo"), row))
    summary["done"] = sum("error" not in e for e in summary["results"])
    Image.fromarray(contact_sheet(grid)).save(out_dir / "contact_sheet.png")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
