"""The lite try-on tier: classical warping and compositing on the CPU, fast enough for a webcam.

Layers, back to front: the person photo; the garment's body (thin-plate-spline warped, rounded over the torso and
with the shading of the person's own clothes); the arms, when they are in front of the body below the armpits,
with the shadow they cast on it; the sleeves (strips laid along the arms, see warp.py); the hands; the head and the
hair that falls over the shoulders. Only pixels under the garment change: face, hands, legs and background are
the input's own. The garment may reach a little past the person's outline (clothes are looser than bodies) but
no further than `SPILL_MARGIN`.

The person's own clothes are found first (`person.old_garment_mask`), so the new garment can hide them: a top is
lengthened (a little) to cover a longer one, a gap between the garment and the body or arm is closed by extending
the garment, straps or a wider cut beyond its outline are filled in from their surroundings, and what cannot be
hidden (long sleeves under short ones, clothes below the hem) stays and the result's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.errors import InputError
from studio.imaging import wide_blur
from studio.preprocess.clothing import clothing_region
from studio.preprocess.pose import BodyPose

from .garment import GarmentParse
from .person import (HEM_REACH, BodyFit, arm_occluders, arm_zone, fit_body, head_mask, old_garment_mask, shading,
                     skin_mask)  # fmt: skip
from .warp import GarmentParts, Warped, warp_garment

#: How far (torso lengths) the garment may extend beyond the person mask.
SPILL_MARGIN = 0.025
#: Strength of the carried-over shading (1 = the full ratio of the person's clothes' folds).
SHADING_STRENGTH = 0.8
#: Arms in front of the body darken the garment around them by up to this share, over this reach (torso lengths).
ARM_SHADOW, ARM_SHADOW_REACH = 0.35, 0.06
#: Old-garment pixels left showing are painted over when there are more than this many torso-lengths² of them
#: (fewer are a rim of a pixel or two, not worth a fill).
FILL_MIN = 0.002
#: Pieces of old garment smaller than this (torso lengths²) are specks of a frayed mask, not clothes: left alone.
SPECK = 0.0008
#: Old clothes showing within this distance (torso lengths) of the new garment, above its hem and off the arms,
#: are a gap in the garment's cut (a wider body, an armhole) and are closed by extending the garment.
EXTEND_REACH = 0.08
#: Above the armpits a garment with sleeves is carried on this far (torso lengths) over old clothes showing beside
#: it: a T-shirt's shoulders sit higher and wider than a polo's seams placed on the shoulder joints.
SHOULDER_REACH = 0.25


@dataclass
class Dressed:
    image: np.ndarray  # the dressed person
    garment_alpha: np.ndarray  # float32: how much of each pixel is garment in the result (after occluders)
    garment_under: np.ndarray  # float32: the garment's alpha before arms, hands and head were put back on top
    warped: Warped
    fit: BodyFit
    region: np.ndarray  # uint8 clothing region of the category (the person's own clothes' area)
    occluders: np.ndarray  # uint8: arms, hands, head kept in front
    on_top: np.ndarray  # uint8: the part of `occluders` in front of the sleeves too (hands, head and hair)
    old_garment: np.ndarray | None = None  # bool: the person's own clothes where the new garment goes (input)
    filled: np.ndarray | None = None  # bool: old-garment pixels the new garment missed, painted over (extended, filled)
    notes: list[str] = field(default_factory=list)

    def agnostic(self) -> np.ndarray:
        """uint8 mask of every pixel the try-on may repaint: the clothing region, the garment's footprint and what
        was filled in around it, minus what stays in front."""
        area = np.maximum(self.region, (self.warped.footprint() > 0.05).astype(np.uint8) * 255)
        if self.filled is not None:
            area[self.filled] = 255
        area[self.occluders > 0] = 0
        return area


def _soft(mask: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    return cv2.GaussianBlur((mask > 0).astype(np.float32), (0, 0), sigma)


def dress(rgb: np.ndarray, pose: BodyPose, person: np.ndarray, parse: GarmentParse, parts: GarmentParts,
          category: str = "upper", arms_in_front: bool = True, region: np.ndarray | None = None) -> Dressed:  # fmt: skip
    """Put the parsed garment on the person in `rgb` (RGB uint8), given its pose and soft person mask."""
    h, w = rgb.shape[:2]
    fit = fit_body(pose)
    t = fit.torso
    if region is None:
        region = clothing_region(pose, person, category)
    # The person's own clothes first: a top that covers them should not leave their hem showing below its own.
    arms_zone = arm_zone((h, w), fit) if category != "lower" else np.zeros((h, w), np.uint8)
    looked = np.maximum(np.maximum(region, arms_zone), _below(region, person, HEM_REACH * t))
    looked[person <= 0.5] = 0
    skin = skin_mask(rgb, pose, fit, looked)  # once, wherever clothes are looked at
    arms, hands = arm_occluders(rgb, pose, fit, person)
    # Above the armpits an arm is inside the garment's shoulder and sleeve, never in front of its body.
    pits = (fit.armpit("left") + fit.armpit("right")) / 2
    arms[~_below_line(pits, fit, (h, w), 0.05 * t)] = 0
    head = head_mask(rgb, pose, fit)
    old = old_garment_mask(rgb, pose, fit, person, region, skin, head) > 0
    cover_to = old_bottom(old & ~(hands > 0), fit) if category == "upper" else None
    warped = warp_garment(parse, parts, fit, (h, w), category, cover_to=cover_to)
    # Inside a sleeve an arm is never in front of the garment's body: if the sleeve falls short of the arm's
    # outline there, the garment's body shows, not a wedge of the arm.
    for outline in warped.sleeve_outlines.values():
        cv2.fillPoly(arms, [np.round(outline).astype(np.int32)], 0)
    notes = []
    if warped.lengthened > 0.02 * t:
        notes.append(f"The person's own top is longer than the garment: its hem was lowered by "
                     f"{warped.lengthened / t:.0%} of the torso length to cover it.")  # fmt: skip

    margin = max(1, round(SPILL_MARGIN * t))
    footprint = warped.footprint()
    allowed = np.zeros((h, w), np.float32)
    near = _box_of(footprint > 0.0, 2 * margin + 4)  # the person mask grown by the margin, where it matters
    if near is not None:
        inside = cv2.dilate((person[near] > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                            (2 * margin + 1, 2 * margin + 1)))  # fmt: skip
        allowed[near] = _soft(inside, 1.0)
    shade_region = np.maximum(region, (warped.torso_alpha > 0.5).astype(np.uint8) * 255)
    shade_region[(person <= 0.5) | (skin > 0)] = 0  # the neck's skin is not a fold of the clothes
    shade = 1.0 + SHADING_STRENGTH * (shading(rgb, shade_region, t) - 1.0)

    under = footprint * allowed
    # Composite only inside the box the garment touches: the rest of the frame is the input, unchanged.
    b = _box_of(under > 0.0, 2)
    if b is None:
        raise InputError("The garment ended up outside the photo: the body it was fitted to is out of frame. "
                         "Use a photo that shows the person's shoulders and torso.")  # fmt: skip
    base = rgb[b].astype(np.float32)
    out = base.copy()
    garment_box = np.zeros(base.shape[:2], np.float32)
    shade_b = shade[b]
    if arms_in_front and arms[b].any():
        # Arms in front of the body shade the garment just around them (ambient occlusion): crossed arms and hands
        # at the waist sit on the garment instead of floating over a flat patch.
        near_arms = wide_blur((arms[b] > 0).astype(np.float32), max(1.0, ARM_SHADOW_REACH * t), 2.0)
        shade_b = shade_b * (1.0 - ARM_SHADOW * np.clip(2.0 * near_arms, 0.0, 1.0))
    shade_b = shade_b[..., None]
    allowed_b = allowed[b]

    def lay(layer_rgb: np.ndarray, alpha: np.ndarray) -> None:
        nonlocal out, garment_box
        a = (alpha[b] * allowed_b)[..., None]
        out = out + (layer_rgb[b].astype(np.float32) * shade_b - out) * a
        garment_box = garment_box + (1.0 - garment_box) * a[..., 0]

    def keep(mask: np.ndarray) -> None:
        nonlocal out, garment_box
        a = _soft(mask[b], 1.0)
        out = out + (base - out) * a[..., None]
        garment_box = garment_box * (1.0 - a)

    lay(warped.torso_rgb, warped.torso_alpha)
    occluders = np.zeros((h, w), np.uint8)
    if arms_in_front:
        keep(arms)
        occluders |= arms
    for side in ("left", "right"):
        if side in warped.sleeves:
            lay(*warped.sleeves[side])
    on_top = head.copy()
    if arms_in_front:
        keep(hands)
        occluders |= hands
        on_top |= hands
    keep(head)
    occluders |= head
    image = rgb.copy()
    image[b] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    garment_a = np.zeros((h, w), np.float32)
    garment_a[b] = garment_box

    filled = np.zeros((h, w), bool)
    work = _box_of(old | (garment_a > 0.05), int(EXTEND_REACH * t) + 4)
    if work is not None:
        image[work], filled[work], more = _hide_old_garment(
            image[work], old[work], garment_a[work], warped, footprint[work], allowed[work], arms[work], hands[work],
            head[work], occluders[work], skin[work] > 0, shade[work], bool(parse.sleeves), fit, t,
            (work[1].start, work[0].start))  # fmt: skip
        notes += more
    return Dressed(image=image, garment_alpha=garment_a, garment_under=under, warped=warped, fit=fit, region=region,
                   occluders=occluders, on_top=on_top, old_garment=old, filled=filled, notes=notes)  # fmt: skip


def _hide_old_garment(image, old, garment_a, warped: Warped, footprint, allowed, arms, hands, head, occluders,
                      skin, shade, sleeves: bool, fit: BodyFit, t: float,
                      origin) -> tuple[np.ndarray, np.ndarray, list[str]]:  # fmt: skip
    """What still shows of the person's own clothes where the new garment goes, and what is done about it, in one
    box of the image (`origin`: its top-left corner; every array is that box). A gap beside the garment (a body
    wider than its cut, the armhole between body and sleeve) is closed by extending the garment into it; straps
    or a wider cut further out are filled in from what surrounds them; what hangs below the hem (beyond the
    lengthening) and long sleeves on the arms stay, and the result says so. Returns (image, filled, notes)."""
    notes: list[str] = []
    box = (slice(origin[1], origin[1] + image.shape[0]), slice(origin[0], origin[0] + image.shape[1]))
    showing = old & (garment_a < 0.5) & (hands == 0) & (head == 0)
    on_arms = showing & (cv2.dilate(arms, np.ones((5, 5), np.uint8)) > 0)  # a bare arm's outline, a sleeve's capsule
    below = np.zeros(old.shape, bool)
    if "hem_left" in warped.targets:
        hem = (warped.targets["hem_left"] + warped.targets["hem_right"]) / 2 - np.asarray(origin, np.float64)
        below = _below_line(hem, fit, old.shape, -0.02 * t)
    covered = (garment_a >= 0.5).astype(np.uint8)
    reach = EXTEND_REACH * t

    def within(mask):  # pixels within `reach` of a mask
        return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= reach

    near = within(covered > 0)
    # On an arm, only the wedge between the garment's body and a sleeve (under the armpit) is the garment's gap.
    torso_a = warped.torso_alpha[box] * allowed
    between = within(torso_a >= 0.5) & within((footprint * allowed - torso_a) >= 0.5)
    # (Closed first: along a bare arm the old garment's mask frays into short runs, which, extended one by one,
    # would dot the arm's edge with garment colour.)
    extend = showing & near & ~below & (~on_arms | between)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(1, round(0.015 * t)) + 1,) * 2)
    extend = _solid(cv2.morphologyEx(extend.astype(np.uint8), cv2.MORPH_CLOSE, k) > 0, t)
    extend &= near & ~below & (hands == 0) & (head == 0) & (garment_a < 0.5)
    bare = np.zeros(old.shape, bool)
    pits = (fit.armpit("left") + fit.armpit("right")) / 2 - np.asarray(origin, np.float64)
    if sleeves:
        # A garment with sleeves covers the shoulders: old clothes showing above the armpits within a shoulder's
        # reach of it (a looser or higher-cut top than the garment's) are more of the garment, not background.
        wide = cv2.distanceTransform((covered == 0).astype(np.uint8), cv2.DIST_L2, 3) <= SHOULDER_REACH * t
        shoulders = showing & wide & ~_below_line(pits, fit, old.shape, 0.0) & (hands == 0) & (head == 0)
        extend |= _solid(shoulders, t)
    else:
        # A sleeveless garment leaves the shoulders bare: old clothes above the armpits beside it (a T-shirt's
        # shoulders beside a halter's straps) become skin, not more garment.
        bare = ~_below_line(pits, fit, old.shape, -0.02 * t)
        extend &= ~bare
    on_arms &= ~extend
    fill = _solid(showing & (~near | bare) & ~extend & ~below & ~on_arms & (occluders == 0), t)
    filled = np.zeros(old.shape, bool)
    if extend.sum() > FILL_MIN * t * t:
        # The garment carried on: its own colours from a little inside its edge (the outermost pixels can hold the
        # product shot's background), smoothly; the body shading laid over the whole garment covers it too.
        inner = cv2.erode(covered, np.ones((5, 5), np.uint8)) > 0
        image = _blend(image, _carry_on(image, extend, inner, shade, t), extend)
        filled |= extend
    if fill.sum() > FILL_MIN * t * t:
        # Bare body where the old top was (straps, a wider cut): from the person's own skin, or, with none in
        # sight, from whatever surrounds it that is neither garment (old or new) nor the hands and arms.
        around = ~(fill | old | (garment_a > 0.05) | (occluders > 0))
        own_skin = skin & around  # the neck, the arms: never the background, whose colour is nobody's skin
        sources = own_skin if own_skin.sum() > FILL_MIN * t * t else around
        bare_body = _smooth_fill(image, fill, sources, t).astype(np.float32)
        bare_body[fill] *= shade[fill][:, None]  # the body's form and light, as the garment gets them
        image = _blend(image, np.clip(bare_body + 0.5, 0, 255).astype(np.uint8), fill)
        filled |= fill
        notes.append("Parts of the person's own top showed beyond the garment's outline (straps, a wider cut): the "
                     "lite tier filled them in from what surrounds them. The diffusion tiers redraw them.")  # fmt: skip
    if (showing & below & ~on_arms).sum() > FILL_MIN * t * t:
        notes.append("The person's own clothes show below the garment's hem (more than it could be lengthened to "
                     "cover): the lite tier leaves them. The diffusion tiers redraw them.")  # fmt: skip
    if on_arms.sum() > FILL_MIN * t * t:
        notes.append("The person's own sleeves show below the garment's shorter sleeves: the lite tier does not paint "
                     "bare arms. The diffusion tiers redraw the arms.")  # fmt: skip
    return image, filled, notes


def _solid(mask: np.ndarray, t: float) -> np.ndarray:
    """`mask` without its specks: opened, and without pieces smaller than `SPECK` torso lengths². The old garment's
    mask frays along skin of a similar colour; filling each stray pixel would dot the arms with garment colour."""
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= SPECK * t * t)
    return np.isin(labels, big[big > 0])


def _box_of(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    x, y, bw, bh = cv2.boundingRect(mask.astype(np.uint8))
    if bw == 0:
        return None
    h, w = mask.shape
    return slice(max(0, y - pad), min(h, y + bh + pad)), slice(max(0, x - pad), min(w, x + bw + pad))


def old_bottom(old: np.ndarray, fit: BodyFit) -> float | None:
    """How far down the torso axis (px from the shoulders' midpoint) the person's own top reaches in the middle of
    the body (its hem), or None when nothing of it was found there."""
    ys, xs = np.nonzero(old[::2, ::2])  # (every other pixel: a percentile needs no more)
    ys, xs = ys * 2, xs * 2
    if ys.size < 20:
        return None
    mid = (fit.shoulders["left"] + fit.shoulders["right"]) / 2
    rel = np.stack([xs - mid[0], ys - mid[1]], axis=1)
    central = np.abs(rel @ fit.side) < fit.chest_half
    if central.sum() < 20:
        return None
    return float(np.percentile(rel[central] @ fit.down, 98))


def _below_line(point: np.ndarray, fit: BodyFit, shape: tuple[int, int], offset: float) -> np.ndarray:
    """Bool mask of the pixels below the line through `point` (+ `offset` along the torso axis) across the body."""
    h, w = shape
    d = fit.down
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    return (xs - point[0]) * d[0] + (ys - point[1]) * d[1] > offset


def _below(region: np.ndarray, person: np.ndarray, reach: float) -> np.ndarray:
    """uint8: the person's pixels in the band of `reach` px under the clothing region (where a longer hem hangs)."""
    out = np.zeros(region.shape, np.uint8)
    rows = np.nonzero((region > 0).any(axis=1))[0]
    if rows.size:
        y0, y1 = int(rows.max()) + 1, min(region.shape[0], int(rows.max() + reach) + 1)
        out[y0:y1] = (person[y0:y1] > 0.5).astype(np.uint8) * 255
    return out


def _blend(base: np.ndarray, new: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`new` over `base` on `mask`, with a one-pixel soft rim (worked out in the mask's box only)."""
    box = _box_of(mask, 3)
    if box is None:
        return base
    a = cv2.GaussianBlur(cv2.dilate(mask[box].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32),
                         (0, 0), 0.8)[..., None]  # fmt: skip
    out = base.copy()
    b = base[box].astype(np.float32)
    out[box] = np.clip(b + (new[box].astype(np.float32) - b) * a + 0.5, 0, 255).astype(np.uint8)
    return out


def _carry_on(image: np.ndarray, hole: np.ndarray, sources: np.ndarray, shade: np.ndarray,
              torso: float) -> np.ndarray:  # fmt: skip
    """`image` with the garment (`sources`) carried on into `hole`: each hole pixel takes the nearest garment
    colour (so a colour-blocked garment keeps its blocks), smoothed across the hole so the edge's pixel-to-pixel
    variation does not run out as streaks; then `shade`, the body shading the rest of the garment got (its source
    colour already carries it near the edge, so only the difference to there is applied)."""
    box = _box_of(hole, int(0.35 * torso) + 4)
    if box is None or not sources[box].any():
        return image
    src, crop, gap = sources[box] & ~hole[box], image[box], hole[box]
    if not src.any():
        return image
    _, labels = cv2.distanceTransformWithLabels((~src).astype(np.uint8), cv2.DIST_L2, 3,
                                                labelType=cv2.DIST_LABEL_PIXEL)  # fmt: skip
    nearest = crop.astype(np.float32)
    nearest[gap] = crop[src][labels[gap] - 1]  # labels number the source pixels in scan order, from 1
    # Smoothed over the hole and the garment beside it only (not the background or the old clothes).
    m = (gap | src).astype(np.float32)
    sigma = max(1.0, 0.02 * torso)
    smooth = wide_blur(nearest * m[..., None], sigma, 2.0) / np.maximum(wide_blur(m, sigma, 2.0), 1e-3)[..., None]
    sh = shade[box].astype(np.float32)
    sh_src = sh.copy()
    sh_src[gap] = sh[src][labels[gap] - 1]
    smooth *= np.clip(sh / np.maximum(sh_src, 1e-3), 0.85, 1.15)[..., None]
    out = image.copy()
    out[box][gap] = np.clip(smooth[gap] + 0.5, 0, 255).astype(np.uint8)
    return out


def _smooth_fill(image: np.ndarray, hole: np.ndarray, sources: np.ndarray, torso: float) -> np.ndarray:
    """`image` with `hole` filled smoothly from the colours of `sources` (push-pull: weighted colour averages down
    an image pyramid until every hole pixel has support, then back up, each level keeping what it knew), so a hole
    takes the colours around it without the streaks of edge-following inpainting or copying the nearest pixel."""
    box = _box_of(hole, int(0.35 * torso) + 4)
    if box is None:
        return image
    crop = image[box].astype(np.float32)
    known = (sources[box] & ~hole[box]).astype(np.float32)
    if known.sum() < 1:
        return image
    levels = [(crop * known[..., None], known)]
    while min(levels[-1][1].shape) > 4 and (levels[-1][1] <= 1e-4).any():
        c, w = levels[-1]
        levels.append((cv2.pyrDown(c), cv2.pyrDown(w)))
    c, w = levels[-1]
    estimate = c / np.maximum(w, 1e-6)[..., None]
    if (w <= 1e-4).any():  # the coarsest level still has empty places: they take the sources' mean colour
        mean = (crop * known[..., None]).sum(axis=(0, 1)) / known.sum()
        estimate[w <= 1e-4] = mean
    for c, w in reversed(levels[:-1]):
        up = cv2.resize(estimate, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR)
        confident = np.clip(4.0 * w, 0.0, 1.0)[..., None]
        estimate = confident * (c / np.maximum(w, 1e-6)[..., None]) + (1.0 - confident) * up
    out = image.copy()
    region = hole[box]
    out[box][region] = np.clip(estimate[region] + 0.5, 0, 255).astype(np.uint8)
    return out

