"""What every avatar result carries: identity distance to each selfie (labelled with its embedder), the passport
figures and rules, the puppet's mouth opening, background SSIM where the photo should be untouched, and the detail
images (before | after, the matte, the selfies, passport guides)."""

from __future__ import annotations

import cv2
import numpy as np

from studio.metrics import ssim
from studio.tiles import grid, overlay

from .framing import PASSPORT_EYES_FROM_BOTTOM, PASSPORT_HEAD, passport_check
from .puppet import mouth_opening


def output_face(ctx, image: np.ndarray, expected: np.ndarray | None):
    """The portrait's face: the one nearest where the selfie's face was placed (a friend beside it may be larger)."""
    faces = ctx.preprocess.faces(image)
    if not faces or expected is None:
        return faces[0] if faces else None
    return min(faces, key=lambda f: float(np.linalg.norm(f.landmarks[:, :2].mean(0) - expected)))


def measure(ctx, selfies, image: np.ndarray, expected, preset, matte=None, head=None, puppet=None):
    """(metrics, info, notes) of a finished portrait."""
    metrics: dict[str, float] = {}
    info: dict = {}
    notes: list[str] = []
    face = output_face(ctx, image, expected)
    if face is None:
        notes.append("No face was found in the result, so identity could not be measured.")
        return metrics, info, notes
    mine = ctx.preprocess.identity(image, face)
    distances = [s.identity.distance(mine) for s in selfies]
    for i, d in enumerate(distances, start=1):
        metrics[f"identity_distance_selfie_{i}"] = round(float(d), 4)
    metrics["identity_distance_mean"] = round(float(np.mean(distances)), 4)
    info["identity_embedder"] = mine.embedder
    info["identity_same_person_below"] = mine.same_person_below
    if mine.same_person_below is not None and max(distances) >= mine.same_person_below:
        notes.append(f"The result drifted from your likeness: identity distance {max(distances):.2f} ≥ "
                     f"{mine.same_person_below} to one of the selfies ({mine.embedder}).")  # fmt: skip
    if preset.id == "passport" and matte is not None:
        check = passport_check(face, matte, image.shape[1::-1], selfies[0].face, head)
        metrics.update(check.figures)
        info["passport"] = {"rules": {"head_height_ratio": list(PASSPORT_HEAD),
                                      "eye_height_ratio": list(PASSPORT_EYES_FROM_BOTTOM)},
                            "passed": check.passed, "source": "US Department of State digital photo rules "
                            "(second-hand, docs/round2.md A3)",
                            "out_of_scope": ["glasses glare", "shadows on the face", "head covering", "photo age"]}
        if check.problems:
            notes.append("This photo cannot make a compliant passport photo: " + "; ".join(check.problems) + ".")
        notes.append("Passport checks cover framing, eye line, head turn, expression and open eyes; glasses glare, "
                     "shadows on the face and head coverings are not checked.")  # fmt: skip
    if puppet is not None:
        metrics["mouth_opening_driver"] = round(puppet["driver_mouth"], 4)
        metrics["mouth_opening_source"] = round(puppet["source_mouth"], 4)
        metrics["mouth_opening_result"] = round(mouth_opening(face.landmarks), 4)
        if preset.size is None and puppet.get("still") is not None:
            before = selfies[0].rgb
            if before.shape == image.shape:
                metrics["ssim_background"] = round(ssim(before, image, puppet["still"]), 4)
    return metrics, info, notes


def extras(selfies, image: np.ndarray, matte_photo: np.ndarray | None, preset, driver=None) -> dict:
    main = selfies[0]
    out = {"before | after": grid([[main.rgb, image]], height=384)}
    if matte_photo is not None:
        out["person matte (guided filter)"] = overlay(main.rgb, [(matte_photo, (40, 200, 90))], alpha=0.5)
    if len(selfies) > 1:
        out["selfies"] = grid([[s.face.aligned_crop(s.rgb, 256).image for s in selfies]], height=192,
                              labels=[[s.name for s in selfies]])  # fmt: skip
    if driver is not None:
        out["driver | moved"] = grid([[driver, image]], height=384)
    if preset.id == "passport":
        out["passport guides"] = passport_guides(image)
    return out


def passport_guides(image: np.ndarray) -> np.ndarray:
    """The passport photo with the rule's zones: where the chin and crown may sit, and the eye band."""
    h, w = image.shape[:2]
    out = image.copy()
    band = np.zeros((h, w), np.uint8)
    y0, y1 = round(h * (1 - PASSPORT_EYES_FROM_BOTTOM[1])), round(h * (1 - PASSPORT_EYES_FROM_BOTTOM[0]))
    band[y0:y1] = 1
    out = overlay(out, [(band > 0, (80, 160, 255))], alpha=0.25)
    for share, colour in ((PASSPORT_HEAD[0], (255, 120, 0)), (PASSPORT_HEAD[1], (220, 0, 0))):
        cv2.line(out, (0, round(h * share)), (w - 1, round(h * share)), colour, 1, cv2.LINE_AA)
    cv2.putText(out, "eyes", (6, y1 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 80, 200), 1, cv2.LINE_AA)
    return out
