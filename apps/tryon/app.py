"""Virtual try-on: dress the person in a photo (or the webcam) in the garment from a product shot.

The lite tier runs here: the garment is cut out of its plain backdrop and read for landmarks (garment.py), warped
onto the body from the shared pose (warp.py), and composited under arms, hands and hair with the shading of the
person's own clothes (lite.py). The diffusion tiers (student / teacher) need weights; until they are installed,
`auto`, `student` and `teacher` run the lite tier and the provenance says so (DESIGN §1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from studio.cache import LRUCache
from studio.errors import InputError, StudioError
from studio.imaging import image_digest, load_image
from studio.schema import (
    App,
    ChoiceParam,
    ImageParam,
    Preview,
    Provenance,
    Result,
    SeedParam,
    SliderParam,
    Stopwatch,
    ToggleParam,
)

from . import report
from .garment import GarmentParse, parse_garment
from .lite import dress
from .live import tracker_for
from .person import fit_body
from .warp import GarmentParts, split_parts

CATEGORIES = ("upper", "lower", "dress")
TIERS = ("auto", "student", "teacher", "lite")
FETCH_COMMAND = "studio fetch tryon"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
_garments = LRUCache(16)  # garment digest → (parse, parts): a new person photo never re-parses the garment


def garment_for(rgb: np.ndarray) -> tuple[GarmentParse, GarmentParts]:
    """The parsed garment and its warp pieces, cached by the product shot's digest."""
    def compute():
        parse = parse_garment(rgb)
        return parse, split_parts(parse)

    return _garments.get_or_compute(image_digest(rgb), compute)


def tier_notes(tier: str) -> tuple[str | None, list[str]]:
    """Fallback reason and notes for the requested tier. Only lite is installed with the studio itself."""
    if tier == "lite":
        return None, []
    what = "No diffusion weights (student or teacher) are" if tier == "auto" else f"The {tier} tier's weights are not"
    return "unavailable", [f"{what} installed, so the lite tier ran. Fetch them with: {FETCH_COMMAND}"]


def garment_notes(parse: GarmentParse, category: str) -> list[str]:
    notes = []
    ratio = parse.length / parse.chest_width
    if category == "upper" and parse.looks_like_dress:
        notes.append(f"The garment looks like a dress (its length is {ratio:.1f}× its chest width; tops measure "
                     "under 1.9×). It was dressed from the shoulders down at its own length; choose the 'dress' "
                     "category to fit the skirt to the legs.")  # fmt: skip
    if category == "lower" and parse.sleeves:
        notes.append("The garment has sleeves, so it looks like a top; the 'lower' category fits its top edge to "
                     "the waist. Choose 'upper' for tops.")  # fmt: skip
    return notes


def run(ctx, person, garment, category: str, tier: str, seed: int, steps: int, arms_in_front: bool):
    watch = Stopwatch()
    with watch("load"):
        rgb = load_image(person, what="person photo", max_pixels=ctx.settings.max_pixels)
        product = load_image(garment, what="garment photo", max_pixels=ctx.settings.max_pixels)
    with watch("garment"):
        parse, parts = garment_for(product)
    with watch("pose"):
        pose = ctx.preprocess.require_pose(rgb, what="the person photo")
        fit_body(pose, what="the person photo")  # a sideways person fails here, before any other work
        mask = ctx.preprocess.person_mask(rgb)
        region = ctx.preprocess.clothing_region(rgb, category)
    fallback, notes = tier_notes(tier)
    with watch("dress"):
        dressed = dress(rgb, pose, mask, parse, parts, category, arms_in_front, region)
    yield Preview(dressed.image, 1, 2, "lite try-on composited; measuring")
    with watch("metrics"):
        metrics = report.measure(ctx, rgb, mask, parse, dressed)
    extras = report.extras(rgb, parse, dressed)
    notes += garment_notes(parse, category) + dressed.notes
    if not arms_in_front:
        notes.append("Arms in front is off: the garment covers the arms where they cross the body.")
    provenance = Provenance(app="tryon", tier="lite", models=["mediapipe/pose_landmark_full",
                            "mediapipe/selfie_segmentation"], device="cpu", fallback_reason=fallback, notes=notes,
                            timings_ms={k: round(v, 2) for k, v in watch.timings_ms.items()})  # fmt: skip
    info = {"requested_tier": tier, "category": category, "arms_in_front": arms_in_front,
            "garment": {"landmarks": parse.landmarks.to_dict(), "sleeves": parse.sleeves,
                        "length_to_chest": round(parse.length / parse.chest_width, 3),
                        "looks_like_dress": parse.looks_like_dress},
            "body_targets": {k: [round(float(v[0]), 1), round(float(v[1]), 1)] for k, v in
                             dressed.warped.targets.items()}}  # fmt: skip
    yield Result(image=dressed.image, provenance=provenance, before=rgb, extras=extras, metrics=metrics, info=info)


def live(ctx, frame, person=None, garment=None, category="upper", tier="lite", seed=0, steps=4, arms_in_front=True):
    """One webcam frame through the lite tier (the body tracked across frames). A frame with nobody in it, or a
    person turned sideways, comes back unchanged; a missing or unusable garment raises as in a still run."""
    rgb = load_image(frame if frame is not None else person, what="webcam frame")
    tracker = tracker_for(ctx)
    if garment is None:
        raise InputError("Upload a garment photo to try on.")
    parse, parts = tracker.remember(("garment", _input_key(garment)),
                                    lambda: garment_for(load_image(garment, what="garment photo")))  # fmt: skip
    pose, mask = tracker.body(rgb)
    if pose is None:
        return rgb
    try:
        return dress(rgb, pose, mask, parse, parts, category, arms_in_front).image
    except InputError:
        return rgb  # turned away or half out of frame: show the camera as it is until the body is usable


def _input_key(image):
    """A cheap identity for an image input: path + size + mtime for files, a digest for arrays; others never repeat."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        stat = path.stat() if path.is_file() else None
        return (str(path), stat and stat.st_size, stat and stat.st_mtime_ns)
    if isinstance(image, np.ndarray):
        return image_digest(image)
    return object()


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
    A pair that fails (no person, sideways, busy garment backdrop) is reported and skipped."""
    from PIL import Image

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


def examples(settings) -> list[dict]:
    from studio.examples import sample_image

    from .samples import GARMENTS, sample_garment

    person = str(sample_image("astronaut", settings.cache_dir))
    return [{"person": person, "garment": str(sample_garment(name, settings.cache_dir)), "category": "upper",
             "tier": "lite"} for name in GARMENTS]


def bench(**kwargs) -> dict:
    from .bench import bench_tryon

    return bench_tryon(**kwargs)


APP = App(
    id="tryon",
    title="Virtual try-on",
    description=(
        "Dress the person in your photo — or on your webcam — in the garment from a product shot. The garment is "
        "cut out of its plain backdrop, fitted to the shoulders, chest, arms and hips, and slips under crossed "
        "arms and long hair while keeping the folds and light of the photo. The lite tier runs offline on the CPU "
        "at webcam rates; the diffusion tiers need downloaded weights."
    ),
    params=(
        ImageParam("person", "Person photo", help="A front-facing photo showing at least head to hips (JPEG, PNG).",
                   webcam=True),
        ImageParam("garment", "Garment photo", help="A product shot of one garment on a plain white or grey backdrop."),
        ChoiceParam("category", "Category", help="upper = tops, lower = trousers and skirts, dress = dresses.",
                    default="upper", choices=CATEGORIES),
        ChoiceParam("tier", "Tier", help="lite runs offline on the CPU; student/teacher need diffusion weights.",
                    default="auto", choices=TIERS),
        SeedParam("seed", "Seed", help="Diffusion tiers only (the lite tier is deterministic)."),
        SliderParam("steps", "Steps", help="Diffusion tiers only: denoising steps.", default=8, minimum=1,
                    maximum=50, step=1, integer=True),
        ToggleParam("arms_in_front", "Arms in front", default=True,
                    help="Keep arms and hands that cross the body in front of the garment. Turn off when the arms "
                         "are behind the back, so the garment covers where the pose guessed them."),
    ),
    run=run,
    examples=examples,
    live=live,
    live_param="person",
    bench=bench,
)
