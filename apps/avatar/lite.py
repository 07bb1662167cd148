"""The lite tier's portrait: matte, relight, framing, background and look for one preset, on the CPU.

The order matters: the light is modelled on the photo's own mesh before framing (the mesh lives in photo
pixels), the framing warps photo and matte together, the backdrop goes behind the framed person, and the classical
looks come last, on the finished composite, as a painter would work from the posed sitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.imaging import image_digest
from studio.preprocess.face import Face, face_height

from . import looks
from .framing import Head, frame_transform, measure_head, place, upscale_of
from .matte import background_blur, composite, cover, flat_backdrop, person_matte, studio_backdrop
from .presets import Preset

#: Output upscaled beyond this (the face small in the photo) gets a note: print quality needs a closer photo.
UPSCALE_NOTE = 1.6


@dataclass
class Portrait:
    image: np.ndarray
    matte: np.ndarray  # the person in the output frame, 0–1
    transform: np.ndarray | None  # photo → output (2×3), None when the photo's own frame is kept
    head: Head | None
    notes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def matte_for(ctx, rgb: np.ndarray, face: Face, others: list[Face]) -> np.ndarray:
    """The chosen person's refined matte (cached per photo and face: a preset change never re-mattes)."""
    key = (image_digest(rgb), tuple(np.round(face.box).astype(int)), len(others))
    return ctx.cache("avatar.mattes", 8).get_or_compute(
        key, lambda: person_matte(rgb, ctx.preprocess.person_mask(rgb), face, others))


def portrait(ctx, rgb: np.ndarray, face: Face, preset: Preset, background: np.ndarray | None = None,
             others: list[Face] = ()) -> Portrait:  # fmt: skip
    notes: list[str] = []
    matte = matte_for(ctx, rgb, face, list(others))
    lit = looks.relight(rgb, face, matte, preset.relight)
    if background is not None and not preset.uses_user_background:
        notes.append(f"The '{preset.id}' preset has its own background, so yours was not used.")
    if preset.size is None:  # "original": the photo's frame, its background unless the user gave one
        image = lit if background is None else composite(lit, matte, cover(background, rgb.shape[1::-1]))
        return Portrait(image, matte, None, None, notes, {"background": "yours" if background is not None else
                                                            "the photo's own"})  # fmt: skip
    size = preset.size
    head = measure_head(face, matte)
    m, framed, alpha, covered, padded = _fit(lit, matte, head, preset, face_height(face))
    back, what = _backdrop(preset, size, framed, alpha * covered + (1.0 - covered), background)
    if preset.look == "duotone":  # toned before the backdrop goes behind, so no edge pixel carries the old colour
        framed = looks.duotone(framed, alpha)
    image = composite(framed, alpha, back, spill=0.0 if preset.look == "duotone" else 0.35)
    face_px = face_height(face) * upscale_of(m)
    if preset.look == "painted":
        keep = cv2.warpAffine(_features(face), m, size, flags=cv2.INTER_LINEAR)
        image = looks.painted(image, face_px, keep)
    contrast, warmth, saturation = preset.grade
    if contrast or warmth or saturation != 1.0:
        image = looks.grade(image, contrast, warmth, saturation)
    scale = upscale_of(m)
    if scale > UPSCALE_NOTE:
        notes.append(f"The face is small in this photo, so the {size[0]}×{size[1]} frame is enlarged ×{scale:.1f} "
                     "from it and looks soft; a closer or larger photo gives a sharper portrait.")  # fmt: skip
    if padded > 0.02:
        notes.append(f"The photo does not reach every edge of this framing ({padded:.0%} of the frame); the person "
                     "fades into the backdrop there.")  # fmt: skip
    if not head.crown_in_photo:
        notes.append("The top of the head is cut off in the photo, so the framing estimates where the hair ends.")
    info = {"frame": {"width": size[0], "height": size[1]}, "background": what, "scale": round(scale, 3),
            "frame_not_in_photo": round(padded, 4), "roll_straightened_deg": round(preset.level * head.roll_deg, 2)}
    return Portrait(image, alpha, m, head, notes, info)


def _fit(rgb, matte, head: Head, preset: Preset, fh: float):
    """(transform, framed photo, framed matte, where the photo covers the frame, the share it does not). A tight crop
    cannot fill a head-and-shoulders frame: the head is allowed to grow (to the passport rule's top for passports, to
    a close-up otherwise) until the photo covers the frame, so as little as possible has to fade into the backdrop.
    Candidates are judged on a coarse grid; only the chosen framing is rendered."""
    # A passport frame keeps to the rule unless the photo is a tight crop that cannot fill it: then the head grows past
    # the rule (the check says so) rather than the frame filling with mirrored edges.
    top = 0.8
    w, h = preset.size
    gx, gy = np.meshgrid(np.linspace(0, w - 1, 40), np.linspace(0, h - 1, 50))
    grid = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    ph, pw = rgb.shape[:2]
    best = None
    shares = np.linspace(preset.head_share, top, 9)
    if preset.id == "passport":  # within the rule first
        shares = sorted(shares, key=lambda x: (x > 0.66, x))
    for share in shares:
        m = frame_transform(head, preset.size, float(share), preset.eyes_from_top, preset.level)
        edge = float((m @ np.array([head.centre_x, 0.0, 1.0]))[1])  # the photo's top edge, in the frame
        if not head.crown_in_photo and edge > 0:
            # The hair runs off the photo's top: let it run off the frame's top too (a tight headshot), rather than
            # fade into the backdrop, raising the eyes at most to a fifth of the way down.
            m[1, 2] -= min(edge, (preset.eyes_from_top - 0.2) * h)
        sx, sy = cv2.invertAffineTransform(m) @ grid
        padded = float(((sx < 0) | (sx > pw - 1) | (sy < 0) | (sy > ph - 1)).mean())
        if best is None or padded < best[1] - 0.01:
            best = (m, padded)
        if padded <= (0.1 if preset.id == "passport" and share <= 0.66 else 0.03):
            break
    m = best[0]
    framed, alpha, covered = place(rgb, matte, m, preset.size, fade=0.25 * fh)
    return m, framed, alpha, covered, 1.0 - float(covered.mean())


def _backdrop(preset: Preset, size, framed, hide, background) -> tuple[np.ndarray, str]:
    """The backdrop and what it is; `hide` (0–1) marks what a blurred background must not come from (the person,
    and the frame past the photo, which holds only mirrored photo)."""
    if background is not None and preset.uses_user_background:
        return cover(background, size), "yours"
    if preset.background == "user_or_blur":
        return background_blur(framed, hide, 0.025 * size[0]), "the photo's own, blurred"
    if preset.background == "flat":
        return flat_backdrop(size, preset.backdrop), "plain"
    return studio_backdrop(size, preset.backdrop, (0.5, preset.eyes_from_top)), "studio"


def _features(face: Face) -> np.ndarray:
    """Eyes, brows and lips, softened: where a painted look keeps the photo's fine detail."""
    r = face.regions
    parts = np.maximum.reduce([r.full("eyes"), r.full("brows"), r.full("irises"), r.full("lips")])
    grow = max(3, int(0.04 * face_height(face))) | 1
    parts = cv2.dilate(parts, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return cv2.GaussianBlur(parts.astype(np.float32) / 255.0, (0, 0), grow / 2.0)
