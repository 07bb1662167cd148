"""Lite makeup transfer: painting a `Look` region by region in CIELAB on the shared face mesh, real time on a
laptop CPU. (Reading a look from a photo is look.py; what each region is, regions.py.)

`apply_look` paints a look onto every face:

* lips: lipstick under this photo's light: the lips' shading and highlights carried onto the lipstick's colour,
  their mean landing on it, and the border as soft as the lips' own in the photo (it follows the lip line by
  colour where lips and skin differ, the mesh's line otherwise); a closed mouth's parting line takes a deep shade
  of the lipstick rather than staying a crack of bare lip;
* eyeshadow: the lid moves towards the shadow as it looked on its wearer (a strong one covers, a sheer one
  tints), never past it: a smoky shadow does not darken an already deep lid further, nor turn it blue;
* blush: applied as the *change* the makeup made to its wearer's bare skin, so an orange blush becomes a warm
  flush on any skin tone rather than a patch of someone else's complexion;
* eyeliner only darkens; brows are tinted; foundation moves the skin tone a limited way towards the look's.

All work happens inside each face's box. Every region's change fades out within `FEATHER_REACH` of its mask,
so pixels farther away come back bit-identical; the eyes and an open mouth's teeth are never changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.color import lab_to_rgb, rgb_to_lab
from studio.imaging import wide_blur
from studio.preprocess.face import Face, face_height

from .look import (LIP_LINE_MIN_STEP, Look, band_colours, is_grayscale, lip_likeness, lip_line_normals, lip_line_rise,
                   skin_tone)  # fmt: skip
from .regions import (FEATHER_REACH, INWARD_FEATHER, REGIONS, SHADOW_BANDS, SIGMA, cheek_zone, grown_box, lid_bands,
                      mask_names, under_eye, visible_sides)  # fmt: skip

# Below this face height (forehead to chin, pixels) regions are a few pixels wide and the result says so.
TINY_FACE_PX = 64
# Foundation evens and tints; it does not change someone's complexion by shades. Caps on its shift (Lab units
# at full strength): the lightness cap stops a pale reference from "whitening" a darker source.
FOUNDATION_MAX_DL, FOUNDATION_MAX_DAB = 8.0, 10.0
# Brow products darken or tint; lightening brows by more than a touch reads as bleached.
BROW_MAX_LIGHTEN = 3.0
# Lips whose inner midpoints (mesh points 13 and 14) are closer than this fraction of the face height touch: the
# mouth is closed and its "inner mouth" is only the parting line. Measured: closed 0.0002–0.0006, parted with
# teeth showing 0.039–0.089.
CLOSED_MOUTH_GAP = 0.01
# How much of the source lips' own chroma variation (relative to their mean) survives under the lipstick.
LIP_CHROMA_KEEP = 0.3
# Lip pixels brighter than this many times the lips' mean luminance are a highlight: kept, not tinted.
LIP_SPECULAR = 1.5
# The lipstick's border is placed by colour within the bare lip line's own width of the mesh's line, kept within
# these fractions of the face height (measured lip lines: 0.02–0.04).
LIP_EDGE_BAND = (0.012, 0.04)
# At most this much (ΔE76) is added to the lipstick's colour inside the lips to make up for what the soft border
# and the teeth guards leave uncovered.
LIP_MAX_TOP_UP = 8.0
# Lip-to-skin colour steps (ΔE76) from which the border follows colour (first) fully (second); below: the mesh.
LIP_EDGE_CONTRAST = (4.0, 12.0)


#: Eyeshadow is pigment laid over the lid: a strongly coloured one covers the lid's own colour (the lid moves to the
#: shadow's colour), a sheer one only tints it (the lid moves by the change the shadow made on its wearer). The
#: covering share grows with how much the shadow changed its wearer's skin (ΔE76), between these bounds.
SHADOW_COVER = (0.3, 0.85)
SHADOW_COVER_AT = 30.0
#: A shadow may lighten a lid darker than its own colour only this much (L*): pale pigment on a deep lid turns
#: ashy, and lightening is not what eye makeup is worn for.
SHADOW_MAX_LIGHTEN = 3.0
#: How far (a*, b* units) a shadow's colour may carry a lid past the shadow's own colour.
SHADOW_TINT_SLACK = 3.0


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
            cur = lab[rs, cs] + delta[rs, cs]
            bands = lid_bands(face, side, origin, lab.shape[:2], n_bands)[rs, cs]
            # This lid's own colour per band (lash line → crease), read like the reference's (look.py); the
            # SHADOW_BANDS strips are runs of n_bands // SHADOW_BANDS of the fine ones.
            lid = (bands.astype(np.int32) + n_bands // SHADOW_BANDS - 1) // (n_bands // SHADOW_BANDS)
            lid[(shadow[rs, cs] == 0) | (r.local(f"{side}_eyeliner")[crop][rs, cs] > 0) | (eyes[rs, cs] > 0)] = 0
            shift = _shadow_shift(look, band_colours(cur, lid, SHADOW_BANDS), l_ratio, ab_ratio)
            # Feather pixels beyond the strips take the nearest strip's position on the lid → crease axis.
            bands = np.where(bands > 0, bands, cv2.dilate(bands, np.ones((9, 9), np.uint8), iterations=3))
            t = np.where(bands > 0, (bands.astype(np.float32) - 0.5) / n_bands, 0.0)
            d = np.stack([np.interp(t, centres, shift[:, c]) for c in range(3)], axis=-1).astype(np.float32)
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
        closed = np.linalg.norm(face.landmarks[13, :2] - face.landmarks[14, :2]) < CLOSED_MOUTH_GAP * fh
        lip_rim = _paint_lips(lab, delta, mask["lips"], inner_mouth, look.lips, active["lips"], fh, sigma("lips"),
                              face.is_frontal, closed)  # fmt: skip

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


def _shadow_shift(look: Look, lid: np.ndarray, l_ratio: float, ab_ratio: float) -> np.ndarray:
    """(SHADOW_BANDS, 3) Lab change per band that moves this lid (`lid`: its band colours, NaN where unread)
    towards the look's eyeshadow as it appeared on its wearer, never past it.

    Two readings of the look are blended: the shadow's own colour (`look.skin + look.eyeshadow`, which a covering
    pigment brings any lid to) and its change over its wearer's bare skin (what a sheer one adds to any lid).
    The stronger the shadow, the more it covers. Lightness only moves towards the shadow's and stops at it, so a
    smoky reference never makes an already deep lid darker than the reference's own lid, and a pale one never
    bleaches a deep lid; colour stops within `SHADOW_TINT_SLACK` of the shadow's. This also keeps every colour in
    gamut: adding a black liner's change to a lid already darker than the liner's wearer drove it below black,
    where its cool tint came out as vivid blue.
    """
    change = look.eyeshadow.astype(np.float64)
    colour = look.skin[None] + change
    lid = np.where(np.isnan(lid), colour, lid)  # an unread band: the covering reading moves it by nothing
    strength = np.linalg.norm(change, axis=1)
    lo, hi = SHADOW_COVER
    cover = np.clip(strength / SHADOW_COVER_AT, lo, hi)[:, None]
    rel = change.copy()
    rel[:, 0] *= l_ratio
    rel[:, 1:] *= ab_ratio
    shift = cover * (colour - lid) + (1.0 - cover) * rel
    to_target = colour - lid
    shift[:, 0] = np.clip(shift[:, 0], np.minimum(to_target[:, 0], 0.0), np.clip(to_target[:, 0], 0.0,
                                                                               SHADOW_MAX_LIGHTEN))  # fmt: skip
    # Colour (a*, b*) may pass the shadow's by a just-noticeable step at most (a sheer tint on a lid that is
    # already of the shadow's colour), never on into blue or green.
    shift[:, 1:] = np.clip(shift[:, 1:], np.minimum(to_target[:, 1:], 0.0) - SHADOW_TINT_SLACK,
                           np.maximum(to_target[:, 1:], 0.0) + SHADOW_TINT_SLACK)  # fmt: skip
    return shift


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


def _paint_lips(lab, delta, lips, inner_mouth, lipstick, strength: float, fh: float, sigma: float, frontal: bool,
                closed: bool) -> np.ndarray:  # fmt: skip
    """Lipstick, painted as pigment under this photo's light: the lips' shading and highlights carried onto the
    lipstick's colour (`_lipstick_colours`), their mean landing on the lipstick's, and the border following the
    lips' own edge in the photo (`_lip_alpha`) rather than the mesh's polygon. A closed mouth's parting line takes a
    dark shade of the lipstick instead of staying a crack of the bare lip colour.
    Returns the inner-mouth pixels it may have painted."""
    if np.count_nonzero(lips) < 6:
        return np.zeros(inner_mouth.shape, bool)
    open_mouth = not closed
    if open_mouth:
        # The mesh's inner lip line often sits a little inside the lips: inner-mouth pixels within this rim are
        # painted when they look like lip, except gum pixels with teeth on both sides.
        rim = (inner_mouth > 0) & (cv2.distanceTransform(inner_mouth, cv2.DIST_L2, 3) <= max(1.5, 0.02 * fh))
        if rim.any():
            ys, xs = np.nonzero(rim | (inner_mouth > 0))
            box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
            local = lab[box] + delta[box]
            lips_px = local[lips[box] > 0] if np.count_nonzero(lips[box]) >= 6 else local.reshape(-1, 3)
            teeth = ((local[..., 0] > np.median(lips_px[:, 0]) + 6.0)
                     & (np.hypot(local[..., 1], local[..., 2]) < 0.75 * np.median(np.hypot(lips_px[:, 1],
                                                                                          lips_px[:, 2]))))  # fmt: skip
            teeth = (teeth & (inner_mouth[box] > 0)).astype(np.uint8)
            k = max(3, int(round(0.04 * fh)))
            left = cv2.dilate(teeth, np.ones((1, k), np.uint8), anchor=(k - 1, 0))
            right = cv2.dilate(teeth, np.ones((1, k), np.uint8), anchor=(0, 0))
            rim[box] &= ~((left > 0) & (right > 0))
    else:
        rim = inner_mouth > 0  # a closed mouth's "inner mouth" is the parting line between the lips
    area = np.maximum(lips, rim.astype(np.uint8) * 255)
    box = grown_box(area, int(np.ceil(2.5 * LIP_EDGE_BAND[1] * fh)) + 4)
    rs, cs = box
    cur = lab[rs, cs] + delta[rs, cs]
    inside = lips[rs, cs] > 0
    band = _lip_line_band(cur, inside, fh)
    painted = area[rs, cs] > 0
    depth = cv2.distanceTransform(painted.astype(np.uint8), cv2.DIST_L2, 3)  # (shared by the steps below)
    # Inwards the border never takes more than a quarter of the lips' thickness, or thin lips would be all border.
    band_in = min(band, max(1.5, 0.5 * float(depth.max())))
    alpha, lip_here = _lip_alpha(cur, painted, depth, inside, band, band_in, sigma)
    # On a frontal face the outer lip line is trusted; on a turned face it can overshoot onto the background,
    # so there every pixel must also look like lip. On an open mouth's rim, too.
    tested = (rim[rs, cs] & open_mouth) | (not frontal)
    weight = np.ones(inside.shape, np.float32)
    if np.any(tested):
        weight = np.where(tested, lip_likeness(cur, inside), 1.0).astype(np.float32)
        weight = cv2.GaussianBlur(weight, (0, 0), 0.8)  # a per-pixel colour test would leave a pixel-stepped border
    core = inside & (weight > 0.5)
    core = core if np.count_nonzero(core) >= 6 else inside
    target = _lipstick_colours(cur, core, depth, lipstick, band)
    if open_mouth:
        # Teeth and mouth-corner guard: next to the inner lip line, pixels much lighter and greyer than the lips
        # (teeth the mesh's inner contour missed in a wide smile) or far darker (the mouth's shadowed corners)
        # keep their colour.
        near = cv2.dilate(inner_mouth, np.ones((3, 3), np.uint8), iterations=max(1, int(round(0.02 * fh))))[rs, cs]
        chroma = np.hypot(cur[..., 1], cur[..., 2])
        lip_l, lip_c = np.median(cur[inside, 0]), np.median(chroma[inside])
        teeth = np.clip((cur[..., 0] - lip_l - 6.0) / 10.0, 0, 1)
        teeth *= np.clip((0.75 * lip_c - chroma) / (0.25 * lip_c + 1.0), 0, 1)
        cavity = np.clip((lip_l - 22.0 - cur[..., 0]) / 10.0, 0, 1)
        weight = weight * (1.0 - np.maximum(teeth, cavity) * (near > 0))
    cover = alpha * weight * strength
    # The lips' mean colour lands where the strength says (1: the lipstick's), whatever the soft border and the
    # guards left uncovered (a shortfall spread over the covered pixels, within reason).
    interior = core
    if np.count_nonzero(interior) >= 6:
        c_int = cur[interior]
        want = c_int.mean(axis=0) + strength * (lipstick - c_int.mean(axis=0))
        got = (c_int + cover[interior][:, None] * (target[interior] - c_int)).mean(axis=0)
        shortfall = (want - got) / max(float(cover[interior].mean()), 0.3)
        target = _land(target, interior, shortfall * min(1.0, LIP_MAX_TOP_UP / max(float(np.linalg.norm(shortfall)),
                                                                                      1e-6)))  # fmt: skip
    # Where a pixel is part lip, part skin (the lip line), a lipstick lighter than the lips replaces its lip part
    # only: painted over whole, the pixel's share of the darker bare lip would stay as a dark ring round it. (A
    # darker lipstick over the whole pixel just grades into the skin, as its own edge does.)
    mixed = (1.0 - np.clip((depth - 1.0) / 2.0, 0.0, 1.0)) * np.clip((target[..., 0] - lip_here[..., 0]) / 15.0, 0, 0.7)
    delta[rs, cs] += cover[..., None] * (target - (cur + mixed[..., None] * (lip_here - cur)))
    return rim


def _lip_line_band(cur: np.ndarray, inside: np.ndarray, fh: float) -> float:
    """Half-width (px) of the zone around the mesh's lip line where the lipstick's border follows the photo: the
    bare lip line's own 10–90 % width, between `LIP_EDGE_BAND` face heights (a soft, upscaled or small face has a
    wide line; a sharp close-up a narrow one)."""
    lo, hi = LIP_EDGE_BAND[0] * fh, LIP_EDGE_BAND[1] * fh
    normals = lip_line_normals(inside, fh)
    if normals is None:
        return max(lo, 1.5)
    width, step = lip_line_rise(cur, normals)
    seen = width[step >= LIP_LINE_MIN_STEP]
    return max(float(np.clip(np.median(seen), lo, hi)) if len(seen) >= 8 else lo, 1.5)


def _lip_alpha(cur: np.ndarray, area: np.ndarray, depth: np.ndarray, inside: np.ndarray, band: float,
               band_in: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(0…1 coverage of the lipstick, the bare lips' local colour). The coverage is 1 inside the lips, and across
    the lip line as much as each pixel looks like lip rather than the skin beside it, so the painted border is as
    soft as the lips' own border in this photo and sits where the lips really end (up to `band` px outside the
    mesh's line, `band_in` inside). Where lips and skin are too alike in colour to tell apart (pale lips, some
    deep skin tones), the mesh's line softened to the same width stands in (at least `sigma` px)."""
    d = depth - cv2.distanceTransform((~area).astype(np.uint8), cv2.DIST_L2, 3)  # signed: positive inside
    # The mesh's line, softened: half covered on the line, fully within `band_in` inside, fading out over `band`
    # outside (a soft tail onto the skin, as a real lip line has, without thinning thin lips).
    def smooth(x):
        x = np.clip(x, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)

    geo = np.where(d >= 0, 0.5 + 0.5 * smooth(d / max(band_in, sigma)), 0.5 - 0.5 * smooth(-d / max(band, sigma)))
    # Skin and lip colour next to each part of the line (the upper lip is often in shade, the lower one lit).
    reach = 3.0 * band

    def local_mean(m):
        w = wide_blur(m.astype(np.float32), reach)
        return wide_blur(cur * m[..., None], reach) / np.maximum(w, 1e-3)[..., None], w

    skin, w_skin = local_mean((d < -band) & (d >= -2.5 * band))
    lip, w_lip = local_mean(inside & (d > 0.5 * band_in))
    axis = lip - skin
    norm2 = (axis * axis).sum(axis=2)
    proj = ((cur - skin) * axis).sum(axis=2) / np.maximum(norm2, 1e-3)
    proj = cv2.GaussianBlur(np.clip(proj, 0.0, 1.0).astype(np.float32), (0, 0), max(0.7, 0.4 * band))
    # Confidence: a clear colour step between lip and skin here (ΔE76 4 → 0, 12 → full), with samples of both.
    conf = np.clip((np.sqrt(norm2) - LIP_EDGE_CONTRAST[0]) / (LIP_EDGE_CONTRAST[1] - LIP_EDGE_CONTRAST[0]), 0, 1)
    conf *= (w_skin > 0.05) & (w_lip > 0.05)
    # Inside the mesh's line the colour may only add (a highlight near the edge is still lip); outside it may
    # claim lip the mesh missed, up to `band` px out.
    # (Outside, never more than a fade from the line: skin flushed like lip must not take a plateau of colour.)
    col = np.where(d >= 0, np.maximum(proj, smooth(d / band_in)), proj * (1.0 - smooth(-d / (1.5 * band))))
    return (conf * col + (1.0 - conf) * geo).astype(np.float32), lip.astype(np.float32)


def _lipstick_colours(cur: np.ndarray, core: np.ndarray, depth: np.ndarray, lipstick: np.ndarray,
                      band: float) -> np.ndarray:  # fmt: skip
    """Lab of the lipstick under the light each lip pixel shows: the lips' shading (luminance over their mean,
    a factor in linear light) carried onto the lipstick, so a shadowed corner becomes a deep shade of it rather
    than a flat patch; highlights (light above `LIP_SPECULAR` × the lips' local luminance) added back whitish,
    not tinted; and the whole shifted so the lips' mean is the lipstick's colour. `core`: the lip pixels the mean
    is read on; `depth`: each pixel's distance inside all that is painted (a closed mouth's parting line keeps its
    own shade, a deep one of the lipstick). Pixels on the painted outline take the shading of the lip beside
    them: they are part skin, and their brightness is not the lips' light."""
    y = _y_of(cur[..., 0]).astype(np.float32)
    y_mean = float(np.mean(y[core]))
    # The lips' own light is read away from their outline: the outermost pixels are part skin. They take the
    # shading of the lip beside them instead, blending in over a couple of pixels so no mask step shows.
    edge_px = 2.0
    interior = core & (depth > edge_px)
    interior = interior if np.count_nonzero(interior) >= 6 else core
    m = interior.astype(np.float32)

    def near(values, sigma, far):  # `values` over the interior, spread to the pixels around it (`far`: none near)
        w = wide_blur(m, sigma)
        return np.where(w > 0.02, wide_blur(values * m, sigma) / np.maximum(w, 1e-4), far)

    highlight = np.where(interior, np.maximum(y - LIP_SPECULAR * near(y, 2.0 * band, y_mean), 0.0), 0.0)
    own = np.clip((y - highlight) / max(y_mean, 1e-4), 0.15, 1.6)
    w_own = np.clip((depth - 0.5 * edge_px) / edge_px, 0.0, 1.0)
    shade = w_own * own + (1.0 - w_own) * near(own, max(edge_px, 0.5 * band), 1.0)
    y_lip = float(_y_of(float(lipstick[0])))
    y_t = y_lip * shade + highlight
    target = np.empty_like(cur)
    target[..., 0] = 116.0 * np.cbrt(y_t) - 16.0
    # Chroma falls with the shade (a shadowed red is a darker, less saturated red) and with the share of the
    # pixel that is highlight; the lips' own hue variation is kept in part.
    chroma = np.clip(target[..., 0] / max(float(lipstick[0]), 1.0), 0.3, 1.0) * (y_lip * shade / np.maximum(y_t, 1e-6))
    mean_ab = cur[core, 1:].mean(axis=0)
    # The lips' own hue variation, scaled like the chroma: a dark corner's grey must not turn the lipstick grey.
    target[..., 1:] = (lipstick[1:].astype(np.float32) + (cur[..., 1:] - mean_ab) * LIP_CHROMA_KEEP) * chroma[..., None]
    # The mean over the lips lands on the lipstick (the strength slider's 1 means "the reference's colour").
    return _land(target, core, lipstick - target[core].mean(axis=0))


def _y_of(l):
    """Relative luminance from L* (the cube law, above L* 8)."""
    return ((np.maximum(l, 0.0) + 16.0) / 116.0) ** 3


def _land(target: np.ndarray, core: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`target` moved so its mean over `core` moves by `shift` (Lab): a* b* added, lightness scaled in linear light
    (added, it would push a deep shadow below black and a highlight past white)."""
    out = target.copy()
    out[..., 1:] += shift[1:].astype(np.float32)
    mean_l = float(target[core, 0].mean())
    k = float(_y_of(mean_l + float(shift[0])) / max(float(_y_of(mean_l)), 1e-6))
    out[..., 0] = 116.0 * np.cbrt(_y_of(target[..., 0]) * k) - 16.0
    return out
