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
        info["passport"] = {"lines_px": check.lines, "rules": {"head_height_ratio": list(PASSPORT_HEAD),
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


def extras(selfies, image: np.ndarray, matte_photo: np.ndarray | None, preset, driver=None, info=None) -> dict:
    main = selfies[0]
    out = {"before | after": grid([[main.rgb, image]], height=384)}
    if matte_photo is not None:
        out["person matte (guided filter)"] = overlay(main.rgb, [(matte_photo, (40, 200, 90))], alpha=0.5)
    if len(selfies) > 1:
        out["selfies"] = grid([[s.face.aligned_crop(s.rgb, 256).image for s in selfies]], height=192,
                              labels=[[s.name for s in selfies]])  # fmt: skip
    if driver is not None:
        out["driver | moved"] = grid([[driver, image]], height=384)
    if preset.id == "passport" and info and "passport" in info:
        out["passport guides"] = passport_guides(image, info["passport"]["lines_px"])
    return out


def passport_guides(image: np.ndarray, lines: dict) -> np.ndarray:
    """The passport photo with the rule drawn on it: the eye band (blue), the measured crown and chin (lines), and
    where the chin may sit for this crown (green: the head 50–69 % of the height)."""
    h, w = image.shape[:2]
    eyes = np.zeros((h, w), bool)
    eyes[round(h * (1 - PASSPORT_EYES_FROM_BOTTOM[1])) : round(h * (1 - PASSPORT_EYES_FROM_BOTTOM[0]))] = True
    chin = np.zeros((h, w), bool)
    crown = lines["crown_y"]
    chin[max(0, round(crown + PASSPORT_HEAD[0] * h)) : max(0, round(crown + PASSPORT_HEAD[1] * h))] = True
    out = overlay(image, [(eyes, (80, 160, 255)), (chin, (90, 200, 90))], alpha=0.22)
    for key, colour in (("crown_y", (40, 80, 220)), ("chin_y", (230, 110, 0)), ("eyes_y", (40, 80, 220))):
        y = round(lines[key])
        cv2.line(out, (0, y), (w - 1, y), colour, 1, cv2.LINE_AA)
        cv2.putText(out, key[:-2], (6, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out
