"""Lite makeup transfer: painting a `Look` region by region in CIELAB on the shared face mesh, real time on a
laptop CPU. (Reading a look from a photo is look.py; what each region is, regions.py.)

`apply_look` paints a look onto every face:

* lips: the mean colour moves to the lipstick's while the source's own lightness variation (lines,
  highlights, shading) is kept, so it reads as lipstick on this person's lips, not flat paint;
* eyeshadow and blush: applied as the *change* the makeup made to its wearer's bare skin, so an orange
  blush becomes a warm flush on any skin tone rather than a patch of someone else's complexion;
* eyeliner only darkens; brows are tinted; foundation moves the skin tone a limited way towards the look's.

All work happens inside each face's box. Every region's change fades out within `FEATHER_REACH` of its mask,
so pixels farther away come back bit-identical; the eyes and the inner mouth are never changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.color import lab_to_rgb, rgb_to_lab
from studio.preprocess.face import Face, face_height

from .look import Look, is_grayscale, lip_likeness, skin_tone
from .regions import (FEATHER_REACH, INWARD_FEATHER, REGIONS, SHADOW_BANDS, SIGMA, cheek_zone, grown_box, lid_bands,
                      mask_names, under_eye, visible_sides)  # fmt: skip

# Below this face height (forehead to chin, pixels) regions are a few pixels wide and the result says so.
TINY_FACE_PX = 64
# Foundation evens and tints; it does not change someone's complexion by shades. Caps on its shift (Lab units
# at full strength): the lightness cap stops a pale reference from "whitening" a darker source.
FOUNDATION_MAX_DL, FOUNDATION_MAX_DAB = 8.0, 10.0
# Brow products darken or tint; lightening brows by more than a touch reads as bleached.
BROW_MAX_LIGHTEN = 3.0
# A mouth whose opening is larger than this fraction of the lips' area can show teeth and gums, not just a parting
# line.
OPEN_MOUTH_RATIO = 0.45
# How much of the source lips' own chroma variation survives (lightness variation is always kept whole).
LIP_CHROMA_KEEP = 0.5


# --------------------------------------------------------------------------------------------- feathering
def _soft(mask: np.ndarray, sigma: float):
    """Gaussian-feathered copy of a binary mask, computed only around the mask.
    Returns (rows slice, cols slice, float32 alpha of that window) or None for an empty mask."""
    box = grown_box(mask, int(np.ceil(4 * sigma)) + 1)
    if box is None:
        return None
    alpha = mask[box].astype(np.float32) * np.float32(1 / 255)
    if sigma > 0.3:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)
    return box[0], box[1], alpha


def _inward(mask: np.ndarray, width_px: float) -> np.ndarray:
    """Alpha that is 0 on the mask's edge and rises smoothly to 1 at `width_px` inside: no spill outside."""
    dist = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3)
    t = np.clip(dist / max(width_px, 1.0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _blush_alpha(zone: np.ndarray, scale: float = 0.25) -> np.ndarray:
    """Strongest on the apple and fading all the way out to the zone's edge (a peak, not a plateau, which would
    read as a painted disc). Computed at quarter resolution: the falloff is far smoother than a pixel."""
    h, w = zone.shape
    small = cv2.resize(zone, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    dist = cv2.distanceTransform((small >= 128).astype(np.uint8), cv2.DIST_L2, 3)
    t = dist / max(float(dist.max()), 1.0)
    alpha = cv2.resize(t * t * (3.0 - 2.0 * t), (w, h), interpolation=cv2.INTER_LINEAR)
    return alpha * (zone > 0)  # never outside the zone, whatever the upsampling did


def _edge_blur_px(lightness: np.ndarray) -> float:
    """How soft the photo's own edges are (Gaussian σ in pixels), so painted edges can be made no crisper.

    Gradient energy of an edge blurred by σ falls as 1/σ; re-blurring by a known σ_b and comparing energies
    gives σ = σ_b·R/√(1−R²) with R the energy ratio. Texture and noise bias it low, which errs on crisp.
    """
    if min(lightness.shape) < 8:
        return 1.0

    def energy(x):
        gx, gy = cv2.Sobel(x, cv2.CV_32F, 1, 0), cv2.Sobel(x, cv2.CV_32F, 0, 1)
        return float((gx * gx + gy * gy).mean()) + 1e-6

    sigma_b = 1.5
    ratio = min(energy(cv2.GaussianBlur(lightness, (0, 0), sigma_b)) / energy(lightness), 0.99)
    return sigma_b * ratio / float(np.sqrt(1.0 - ratio * ratio))


# --------------------------------------------------------------------------------------------- painting a look
def apply_look(rgb: np.ndarray, faces: list[Face], look: Look, strengths: dict[str, float],
               grayscale: bool | None = None) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Paint `look` onto every face. `strengths` maps region → 0…1 (0 or missing: off).

    Returns the new image (a copy; untouched pixels are bit-identical) and notes for the provenance.
    """
    if grayscale is None:
        grayscale = all(is_grayscale(rgb, face) for face in faces) if faces else is_grayscale(rgb)
    out = rgb.copy()
    notes: list[str] = []
    active = {k: float(strengths.get(k, 0.0)) * look.intensity.get(k, 1.0) for k in REGIONS}
    active = {k: v for k, v in active.items() if v > 0 and look.has(k)}
    if grayscale and active:
        notes.append("The source is black-and-white, so the look is applied as tones only (no colour).")
    for i, face in enumerate(faces):
        sides = visible_sides(face)
        if face_height(face) < TINY_FACE_PX:
            notes.append(f"Face {i + 1} is only about {face_height(face):.0f} px tall: makeup is barely visible at "
                         "that size; a closer photo gives better results.")  # fmt: skip
        if len(sides) == 1:
            notes.append(f"Face {i + 1} is turned ({face.yaw_deg:+.0f}° yaw): eye makeup, brows and blush were "
                         f"applied to its visible ({sides[0]}) side only.")  # fmt: skip
        _paint_face(out, face, look, active, sides, grayscale)
    return out, notes


def _paint_face(out: np.ndarray, face: Face, look: Look, active: dict[str, float], sides, grayscale: bool) -> None:
    r = face.regions
    fh = max(face_height(face), 1.0)
    names = {region: mask_names(region, sides) for region in REGIONS}
    # Work only in the box around the regions in use, grown by the feather reach.
    pad = int(np.ceil(FEATHER_REACH * fh)) + 2
    boxes = [b for b in (grown_box(r.local(n), pad) for region in active for n in names[region]) if b is not None]
    if not boxes:
        return
    crop = (slice(min(b[0].start for b in boxes), max(b[0].stop for b in boxes)),
            slice(min(b[1].start for b in boxes), max(b[1].stop for b in boxes)))  # fmt: skip
    x0, y0 = r.roi[0] + crop[1].start, r.roi[1] + crop[0].start
    origin = np.array([x0, y0], np.float32)
    src = out[y0 : y0 + crop[0].stop - crop[0].start, x0 : x0 + crop[1].stop - crop[1].start]
    lab = rgb_to_lab(src, fast=True)
    delta = np.zeros_like(lab)
    mask = {n: r.local(n)[crop] for region in active for n in names[region]}
    needs_skin = any(k in active for k in ("foundation", "blush", "eyeshadow", "brows"))
    src_skin = skin_tone(face, lab, crop) if needs_skin else None
    if src_skin is None:
        src_skin = look.skin
    # Painted edges are never crisper than the photo's own (soft webcams, upscaled or JPEG-blurred photos):
    # the sharpness is measured between the eyes and the mouth.
    feature_pts = face.landmarks[[33, 263, 61, 291, 13, 14], :2] - origin
    (fx0, fy0), (fx1, fy1) = np.clip(feature_pts.min(0), 0, None).astype(int), feature_pts.max(0).astype(int)
    photo_blur = _edge_blur_px(lab[fy0:fy1, fx0:fx1, 0])

    def sigma(region: str) -> float:
        return min(max(SIGMA[region] * fh, 1.2 * photo_blur), FEATHER_REACH * fh / 4)

    # Makeup darkens roughly in proportion to the skin under it (a multiply), so lightness changes measured on
    # the look's skin are rescaled to this face's skin.
    l_ratio = float(np.clip(src_skin[0] / max(look.skin[0], 1.0), 0.3, 2.0))
    # Likewise a sheer pigment shifts an already saturated (olive, tan) skin's colour less than a pale one's:
    # the colour part of the change shrinks with the ratio of skin chromas, by at most 40 %.
    ab_ratio = float(np.clip(np.hypot(*look.skin[1:]) / max(np.hypot(*src_skin[1:]), 1.0), 0.6, 1.0))

    if "foundation" in active:
        _paint_foundation(lab, delta, mask["skin"], look, src_skin, active["foundation"], fh)

    if "blush" in active and look.blush is not None:
        d = look.blush.astype(np.float32).copy()
        d[0] *= l_ratio
        d[1:] *= ab_ratio
        skin = r.local("skin")[crop]
        for n in names["blush"]:
            zone = cheek_zone(face, mask[n], skin)
            if zone is not None:
                (rs, cs), zmask = zone
                delta[rs, cs] += (_blush_alpha(zmask) * active["blush"])[..., None] * d

    below_eyes = np.zeros(lab.shape[:2], np.uint8)
    for side in sides:
        below_eyes |= under_eye(face, side, origin, lab.shape[:2])
    eyes = r.local("eyes")[crop]

    if "eyeshadow" in active and look.eyeshadow is not None:
        n_bands = 16
        centres = (np.arange(SHADOW_BANDS) + 0.5) / SHADOW_BANDS
        for side in sides:
            shadow = mask[f"{side}_eyeshadow"]
            soft = _soft(np.maximum(shadow, r.local(f"{side}_eye")[crop]), sigma("eyeshadow"))
            if soft is None or not shadow.any():
                continue
            rs, cs, alpha = soft
            alpha = alpha * (below_eyes[rs, cs] == 0) * active["eyeshadow"]
            bands = lid_bands(face, side, origin, lab.shape[:2], n_bands)[rs, cs]
            # Feather pixels beyond the strips take the nearest strip's position on the lid → crease axis.
            bands = np.where(bands > 0, bands, cv2.dilate(bands, np.ones((9, 9), np.uint8), iterations=3))
            t = np.where(bands > 0, (bands.astype(np.float32) - 0.5) / n_bands, 0.0)
            d = np.stack([np.interp(t, centres, look.eyeshadow[:, c]) for c in range(3)], axis=-1).astype(np.float32)
            d[..., 0] *= l_ratio
            d[..., 1:] *= ab_ratio
            delta[rs, cs] += alpha[..., None] * d

    if "brows" in active and look.brows is not None:
        for side in sides:
            brow = mask[f"{side}_brow"]
            soft = _soft(brow, sigma("brows"))
            if soft is None:
                continue
            rs, cs, alpha = soft
            brow_mean = lab[brow > 0].mean(axis=0)
            d = look.brows - brow_mean
            d[0] = min(d[0], BROW_MAX_LIGHTEN)
            # Tint the hairs more than the skin between them, so the brow keeps its texture instead of
            # turning into a filled-in block the shape of the mesh's brow polygon.
            hair = np.clip((src_skin[0] - lab[rs, cs, 0]) / max(src_skin[0] - brow_mean[0], 5.0), 0.0, 1.0)
            alpha = alpha * (0.35 + 0.65 * hair) * active["brows"]
            delta[rs, cs] += alpha[..., None] * d.astype(np.float32)

    if "eyeliner" in active and look.eyeliner is not None:
        liner = look.eyeliner.astype(np.float32)
        for side in sides:
            soft = _soft(np.maximum(mask[f"{side}_eyeliner"], r.local(f"{side}_eye")[crop]), sigma("eyeliner"))
            if soft is None or not mask[f"{side}_eyeliner"].any():
                continue
            rs, cs, alpha = soft
            alpha = alpha * (below_eyes[rs, cs] == 0) * active["eyeliner"]
            cur = lab[rs, cs] + delta[rs, cs]
            target = np.empty_like(cur)
            target[..., 0] = np.minimum(cur[..., 0], liner[0])  # liner never lightens the lash line
            target[..., 1:] = liner[1:]
            delta[rs, cs] += alpha[..., None] * (target - cur)

    inner_mouth = r.local("inner_mouth")[crop]
    lip_rim = np.zeros(inner_mouth.shape, bool)
    if "lips" in active and look.lips is not None:
        lip_rim = _paint_lips(lab, delta, mask["lips"], inner_mouth, look.lips, active["lips"], fh, sigma("lips"),
                              face.is_frontal)

    # The eyes (whites and irises) and the inner mouth (teeth, tongue) are never changed; only lip-coloured
    # pixels on the inner mouth's rim (lip the mesh's inner line cut off) may take the lipstick.
    delta[(eyes > 0) | ((inner_mouth > 0) & ~lip_rim)] = 0.0
    # Summed over channels by OpenCV: numpy's reduction along the last axis is several times slower here.
    changed = cv2.transform(np.abs(delta), np.ones((1, 3), np.float32)) > 1e-3
    if not changed.any():
        return
    new = lab + delta
    if grayscale:
        new[..., 1:] = 0.0
    cv2.copyTo(lab_to_rgb(new), changed.astype(np.uint8), src)  # `src` is a view into `out`: written in place


def _paint_foundation(lab, delta, skin, look: Look, src_skin, strength: float, fh: float) -> None:
    """Foundation: a capped tone shift towards the look's skin (references only) and an evening of blotchy
    redness towards the skin's smooth local chroma, leaving lightness (pores, freckles' shading) alone.

    Both change slowly across the face, so they are computed at half resolution and upsampled — the face's
    largest region would otherwise cost more than all the others together at webcam rates.
    """
    h, w = skin.shape
    half = (max(1, w // 2), max(1, h // 2))
    ab = cv2.resize(lab, half, interpolation=cv2.INTER_AREA)[..., 1:]  # (resizing a channel slice copies it first)
    inside = (cv2.resize(skin, half, interpolation=cv2.INTER_AREA) >= 128).astype(np.uint8)
    alpha = _inward(inside, INWARD_FEATHER / 2 * fh) * strength  # (at half resolution: half the pixels)
    sig = max(0.005 * fh, 1.0)
    m = inside.astype(np.float32)
    smooth = cv2.GaussianBlur(ab * m[..., None], (0, 0), sig) / (cv2.GaussianBlur(m, (0, 0), sig)[..., None] + 1e-4)
    change = np.zeros((half[1], half[0], 3), np.float32)
    change[..., 1:] = (alpha * 0.5)[..., None] * (smooth - ab)
    if look.shift_tone:
        d = look.skin - src_skin
        d[0] = np.clip(d[0], -FOUNDATION_MAX_DL, FOUNDATION_MAX_DL)
        d[1:] *= min(1.0, FOUNDATION_MAX_DAB / max(float(np.hypot(d[1], d[2])), 1e-6))
        change += alpha[..., None] * d.astype(np.float32)
    # Upsampling can bleed a pixel past the mask's edge, where the alpha is already ~0; the reach holds.
    delta += cv2.resize(change, (w, h), interpolation=cv2.INTER_LINEAR)


def _paint_lips(lab, delta, lips, inner_mouth, lipstick, strength: float, fh: float, sigma: float,
                frontal: bool) -> np.ndarray:  # fmt: skip
    """Lipstick: move the lips' mean colour to the lipstick's, keep the source's lightness variation.
    Returns the inner-mouth pixels it may have painted (the rim where the mesh's inner lip line ran short)."""
    # The mesh's inner lip line often sits a little inside the lips (and on a closed mouth the "inner mouth" is
    # just the parting line): inner-mouth pixels within this rim are painted when they look like lip.
    rim = (inner_mouth > 0) & (cv2.distanceTransform(inner_mouth, cv2.DIST_L2, 3) <= max(1.5, 0.02 * fh))
    if np.count_nonzero(inner_mouth) > OPEN_MOUTH_RATIO * np.count_nonzero(lips) and rim.any():
        # An open mouth's rim also holds gums, as pink as lips: leave out pixels with teeth on both sides.
        ys, xs = np.nonzero(rim | (inner_mouth > 0))
        box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        local = lab[box] + delta[box]
        lips_px = local[lips[box] > 0] if np.count_nonzero(lips[box]) >= 6 else local.reshape(-1, 3)
        teeth = ((local[..., 0] > np.median(lips_px[:, 0]) + 6.0)
                 & (np.hypot(local[..., 1], local[..., 2]) < 0.75 * np.median(np.hypot(lips_px[:, 1], lips_px[:, 2]))))
        teeth = (teeth & (inner_mouth[box] > 0)).astype(np.uint8)
        k = max(3, int(round(0.04 * fh)))
        left = cv2.dilate(teeth, np.ones((1, k), np.uint8), anchor=(k - 1, 0))
        right = cv2.dilate(teeth, np.ones((1, k), np.uint8), anchor=(0, 0))
        rim[box] &= ~((left > 0) & (right > 0))
    area = np.maximum(lips, rim.astype(np.uint8) * 255)
    soft = _soft(area, sigma)
    if soft is None or np.count_nonzero(lips) < 6:
        return np.zeros_like(rim)
    rs, cs, alpha = soft
    cur = lab[rs, cs] + delta[rs, cs]
    inside = lips[rs, cs] > 0
    like = lip_likeness(cur, inside)
    # On a frontal face the outer lip line is trusted; on a turned face it can overshoot onto the background,
    # so there every pixel must also look like lip.
    weight = np.where(rim[rs, cs] | (not frontal), like, 1.0)
    core = inside & (weight > 0.5)
    mean = cur[core if np.count_nonzero(core) >= 6 else inside].mean(axis=0)
    target = np.empty_like(cur)
    # Keep the source's lightness variation whole (texture, highlights) and half its chroma variation.
    target[..., 0] = cur[..., 0] - mean[0] + lipstick[0]
    target[..., 1:] = (cur[..., 1:] - mean[1:]) * LIP_CHROMA_KEEP + lipstick[1:].astype(np.float32)
    # Teeth and mouth-corner guard: next to the inner lip line, pixels much lighter and greyer than the lips
    # (teeth the mesh's inner contour missed in a wide smile) or far darker (the mouth's shadowed corners)
    # keep their colour.
    near = cv2.dilate(inner_mouth, np.ones((3, 3), np.uint8), iterations=max(1, int(round(0.02 * fh))))[rs, cs] > 0
    chroma = np.hypot(cur[..., 1], cur[..., 2])
    lip_l, lip_c = np.median(cur[inside, 0]), np.median(chroma[inside])
    teeth = np.clip((cur[..., 0] - lip_l - 6.0) / 10.0, 0, 1)
    teeth *= np.clip((0.75 * lip_c - chroma) / (0.25 * lip_c + 1.0), 0, 1)
    cavity = np.clip((lip_l - 22.0 - cur[..., 0]) / 10.0, 0, 1)
    alpha = alpha * weight * (1.0 - np.maximum(teeth, cavity) * near) * strength
    delta[rs, cs] += alpha[..., None] * (target - cur)
    return rim

