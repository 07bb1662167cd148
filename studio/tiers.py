"""The tier policy every diffusion app shares (DESIGN §1): which tier runs, and one quality-gate contract.

* `lite` never touches the engine.
* `auto` runs the student, with the teacher as the engine's fallback for a named reason; with no diffusion
  weights at all it runs the lite tier and says so (fallback `unavailable`, naming `studio fetch <app>`).
* an explicit `student` or `teacher` without its weights is an error naming the files and the fetch command —
  asking for a tier and silently getting another would make every comparison and benchmark a lie.

The standard `tier`, `seed` and `steps` parameters live here too, so they mean the same in every app, and the
gate contract: a quality gate takes the student's image and returns `None` to pass or a sentence saying why
the teacher must run instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import ModelUnavailable
from .schema import ChoiceParam, Provenance, SeedParam, SliderParam

TIERS = ("auto", "student", "teacher", "lite")
#: App tier → engine mode (`auto`: student, teacher for a named reason; `fast`: student only; `quality`: teacher).
ENGINE_MODES = {"auto": "auto", "student": "fast", "teacher": "quality"}

#: The gate contract: the student's output image → None (pass) or the reason the teacher runs instead.
QualityGate = Callable[[np.ndarray], "str | None"]


# --------------------------------------------------------------------------------------------- parameters
def tier_param(default: str = "auto") -> ChoiceParam:
    return ChoiceParam("tier", "Tier", default=default, choices=TIERS,
                       help="auto = the student, its teacher on a named failure, lite without weights; "
                            "student/teacher need diffusion weights; lite runs offline on the CPU.")  # fmt: skip


def seed_param() -> SeedParam:
    return SeedParam("seed", "Seed", help="Diffusion tiers only (the lite tier is deterministic).", advanced=True)


def steps_param(maximum: int = 50) -> SliderParam:
    return SliderParam("steps", "Steps", default=0, minimum=0, maximum=maximum, step=1, integer=True, advanced=True,
                       help="Diffusion tiers only: denoising steps; 0 = the tier's own (the student's trained count, "
                            "the teacher's recipe count). A teacher running as the student's fallback always uses "
                            "its own.")  # fmt: skip


def tier_params() -> tuple:
    """The standard `tier`, `seed` and `steps` parameters, in that order."""
    return tier_param(), seed_param(), steps_param()


# --------------------------------------------------------------------------------------------- the choice
@dataclass
class TierChoice:
    """The tier a run takes: `mode` is the engine's (None when the lite tier runs)."""

    requested: str
    mode: str | None
    fallback_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def lite(self) -> bool:
        return self.mode is None

    def steps(self, steps: int) -> int | None:
        """The step count to ask the engine for: None (the tier's own) for 0."""
        return int(steps) or None

    def run_lite(self, note: str) -> "TierChoice":
        """This choice turned to the lite tier for an app-specific reason (e.g. nothing to generate)."""
        return TierChoice(self.requested, None, None, self.notes + [note])


def choose_tier(ctx, app_id: str, tier: str, what: str | None = None) -> TierChoice:
    """The tier to run for the requested one, from what the engine has on disk (checked without downloading).

    Call it before any work: an explicit tier whose weights are missing fails at once.
    """
    if tier == "lite":
        return TierChoice(tier, None)
    # A student chosen for this call (ctx.with_student) is the one whose weights count, on its own teacher if any.
    chosen = ctx.student_choice(app_id) if getattr(ctx, "students", None) else {}
    have = ctx.engine.availability(app_id, **chosen)
    fetch = have["fetch"]
    if tier == "auto":
        if have["student"]["available"] or have["teacher"]["available"]:
            return TierChoice(tier, "auto")  # a missing student alone is the engine's fallback (teacher, unavailable)
        note = f"No diffusion weights (student or teacher) are installed, so the lite tier ran. Fetch them with: {fetch}"
        return TierChoice(tier, None, "unavailable", [note])
    missing = have[tier]["missing"]
    if missing:
        listed = "; ".join(f"{sid} ({', '.join(files[:3])}{', …' if len(files) > 3 else ''})"
                           for sid, files in missing.items())  # fmt: skip
        raise ModelUnavailable(f"The {what or app_id} {tier} tier needs weights that are not on this machine: "
                               f"{listed}. Choose the 'lite' tier (offline, CPU) or 'auto' (lite until weights are "
                               "present), or download them.", fetch_command=fetch)  # fmt: skip
    return TierChoice(tier, ENGINE_MODES[tier])


def lite_provenance(app_id: str, choice: TierChoice, models: list[str], timings_ms: dict[str, float],
                    notes: list[str] = ()) -> Provenance:  # fmt: skip
    """Provenance of a lite-tier result, carrying the choice's fallback reason and notes."""
    return Provenance(app=app_id, tier="lite", models=list(models), device="cpu",
                      fallback_reason=choice.fallback_reason, notes=choice.notes + list(notes),
                      timings_ms={k: round(v, 2) for k, v in timings_ms.items()})  # fmt: skip
