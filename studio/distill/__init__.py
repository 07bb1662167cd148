"""`studio distill`: turn a teacher (catalog id, Hugging Face repo or local diffusers folder; SD1.5 or SDXL, text-to-
image or inpainting) into a few-step LoRA student by latent consistency distillation, the LCM-LoRA method.

    from studio.distill import DistillConfig, distill
    result = distill(DistillConfig(teacher="sd15", images=Path("photos"), out=Path("runs/mine"), max_steps=1000))
    result.student_id   # now a student every SD1.5 app can pick: studio run makeup --student mine

Modules: `teacher` (find and describe the teacher), `data` (images and captions), `lcm` (the method's arithmetic),
`train` (plan, loop, checkpoints, resume), `outputs` (the run folder: LoRA, student.json, model card, checkpoints).
The student's catalog entry is built from its student.json by `studio.engine.user_students`.
Nothing heavy is imported with this package: torch, diffusers and peft load when a run starts.
"""

from __future__ import annotations

from .train import DistillConfig, DistillResult, DistillStopped, distill, plan_run

__all__ = ["DistillConfig", "DistillResult", "DistillStopped", "distill", "plan_run"]
