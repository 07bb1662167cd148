"""Student vs teacher on the same inputs and seed, with measured speed and quality.

`compare_stream(app, ctx, values, seed)` runs the app's `student` tier, then its `teacher` tier (and `lite`
when asked) with identical parameters. Preprocessing is cached by image digest, so every tier sees the same
detected faces, masks and poses. It yields each tier's `Result` as soon as it is ready — a front-end shows the
student's image first and replaces it with the teacher's — and finally a `Comparison` with the table.

Quality numbers compare the student *to the teacher* (SSIM, PSNR: how much of the teacher's image the
distilled student reproduces) and each output *to the input* (identity similarity, labelled with the embedder
that produced it). Speed is the wall time the app reported per phase; the speed-up is teacher / student.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .errors import InputError, ModelUnavailable, StudioError
from .metrics import psnr, ssim
from .context import RunContext
from .schema import App, Preview, Result

TIERS = ("student", "teacher")


@dataclass
class Comparison:
    app: str
    seed: int
    results: dict[str, Result]  # tier → its Result
    rows: list[dict] = field(default_factory=list)  # one row per tier: the comparison table

    @property
    def speedup(self) -> float | None:
        s, t = (self.results.get(k) for k in TIERS)
        if s is None or t is None:
            return None
        s_ms, t_ms = total_ms(s), total_ms(t)
        return round(t_ms / s_ms, 2) if s_ms > 0 else None

    def summary(self) -> dict:
        return {"app": self.app, "seed": self.seed, "speedup": self.speedup, "rows": self.rows,
                "provenance": {tier: r.provenance.to_dict() for tier, r in self.results.items()}}  # fmt: skip

    def markdown(self) -> str:
        """The table as Markdown, for the UI and `studio compare` reports."""
        if not self.rows:
            return ""
        keys = list(self.rows[0])
        for row in self.rows[1:]:
            keys += [k for k in row if k not in keys]
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
        return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def total_ms(result: Result) -> float:
    return float(sum(result.provenance.timings_ms.values()))


def compare_stream(app: App, ctx: RunContext, values: dict, seed: int = 0,
                   include_lite: bool = False) -> Iterator[tuple[str, Preview | Result] | Comparison]:  # fmt: skip
    """Yield (tier, Preview) while a tier runs, (tier, Result) when it is done, then the `Comparison`."""
    if not app.offers("compare"):
        raise InputError(f"The '{app.id}' app has no student/teacher tiers to compare.")
    tiers = TIERS + (("lite",) if include_lite else ())
    results: dict[str, Result] = {}
    for tier in tiers:
        result = None
        for item in app.stream(ctx, **{**values, "tier": tier, "seed": seed}):
            if isinstance(item, Result):
                result = item
            yield tier, item
        if result is None:
            raise StudioError(f"The '{app.id}' app's {tier} tier finished without a result.")
        results[tier] = result
    yield Comparison(app.id, seed, results, rows=_rows(ctx, results))


def compare(app: App, ctx: RunContext, values: dict, seed: int = 0, include_lite: bool = False) -> Comparison:
    """Run `compare_stream` to the end and return the `Comparison` (scripts, notebooks, the CLI)."""
    comparison = None
    for item in compare_stream(app, ctx, values, seed, include_lite):
        if isinstance(item, Comparison):
            comparison = item
    return comparison


def _rows(ctx: RunContext, results: dict[str, Result]) -> list[dict]:
    teacher = results.get("teacher")
    rows = []
    for tier, result in results.items():
        p = result.provenance
        row = {
            "tier": tier,
            "ran as": p.tier + (f" (fallback: {p.fallback_reason})" if p.fallback_reason else ""),
            "latency ms": round(total_ms(result), 1),
            "steps": p.steps,
            "speed-up vs teacher": None,
            "peak MB": p.peak_memory_mb,
            "SSIM vs teacher": None,
            "PSNR vs teacher": None,
        }
        if teacher is not None:
            row["speed-up vs teacher"] = round(total_ms(teacher) / max(total_ms(result), 1e-6), 2)
        if teacher is not None and result is not teacher and _comparable(result, teacher):
            row["SSIM vs teacher"] = round(ssim(result.image, teacher.image), 4)
            row["PSNR vs teacher"] = round(psnr(result.image, teacher.image), 2)
        row.update(_identity(ctx, result))
        row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in result.metrics.items()})
        # The settings the engine ran with (steps, guidance, strength, scales, each with its source), per face.
        row["settings"] = "; ".join(n.split("settings: ", 1)[1] for n in p.notes if "settings: " in n) or None
        rows.append(row)
    return rows


def _comparable(a: Result, b: Result) -> bool:
    return a.image is not None and b.image is not None and a.image.shape == b.image.shape


def _identity(ctx: RunContext, result: Result) -> dict:
    """How well the output's main face keeps the input's identity, labelled with the embedder that measured it.

    Always the cosine similarity; with an embedder that has a calibrated verdict (dlib: the same person
    below a Euclidean distance of 0.6) also that distance, the threshold and the verdict, so a reader sees
    the real dlib distance rather than a number in an unknown scale.
    """
    if result.before is None or result.image is None:
        return {}
    try:
        before_faces = ctx.preprocess.faces(result.before, max_faces=1)
        after_faces = ctx.preprocess.faces(result.image, max_faces=1)
    except StudioError:
        return {}
    if not before_faces:
        return {}
    if not after_faces:
        return {"identity similarity": None, "identity note": "no face found in the output"}
    try:
        a = ctx.preprocess.identity(result.before, before_faces[0])
        b = ctx.preprocess.identity(result.image, after_faces[0])
    except StudioError as exc:  # e.g. an embedder's model files went missing: the rest of the table still stands
        return {"identity similarity": None, "identity note": str(exc)}
    row = {"identity embedder": a.embedder, "identity similarity": round(a.similarity(b), 4)}
    if a.same_person_below is not None:
        row["identity distance"] = round(a.distance(b), 4)
        row["identity same person"] = bool(a.same_person(b))
        row["identity threshold"] = a.same_person_below
    return row


def compare_folder(app: App, ctx: RunContext, inputs_dir, out_dir, values: dict, seed: int = 0,
                   include_lite: bool = False) -> dict:  # fmt: skip
    """`studio compare`: compare the tiers on every image of a folder (fed to the app's first image parameter).

    Writes one grid image (a row per input: input, then each tier) and `report.json` with every comparison's
    table and the median speed-up. Inputs that fail are recorded with their error and skipped.
    """
    import json
    import statistics
    from pathlib import Path

    from .imaging import list_images, load_image

    image_param = app.primary_input
    if image_param is None:
        raise InputError(f"The '{app.id}' app takes no image to iterate over.")
    files, out_dir = list_images(inputs_dir, "--inputs"), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"app": app.id, "seed": seed, "inputs": {}, "errors": {}}
    grid_rows = []
    for path in files:
        try:
            comparison = compare(app, ctx, {**values, image_param: str(path)}, seed, include_lite)
        except ModelUnavailable:
            raise  # missing weights fail every input alike: one error (exit 3), not one per photo
        except StudioError as exc:
            report["errors"][path.name] = str(exc)
            continue
        report["inputs"][path.name] = comparison.summary()
        row = [load_image(path)] + [r.image for r in comparison.results.values()]
        grid_rows.append((path.name, list(comparison.results), row))
    speedups = [s["speedup"] for s in report["inputs"].values() if s["speedup"]]
    report["median_speedup"] = statistics.median(speedups) if speedups else None
    if grid_rows:
        report["grid"] = str(out_dir / "grid.png")
        _write_grid(grid_rows, out_dir / "grid.png")
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _write_grid(rows, path, cell: int = 256) -> None:
    """One contact sheet row per input: the input, then each tier's result, `cell` px tall and labelled."""
    from PIL import Image

    from .tiles import grid

    sheet = grid([images for _, _, images in rows], cell, labels=[[name, *tiers] for name, tiers, _ in rows], gap=4)
    Image.fromarray(sheet).save(path)
