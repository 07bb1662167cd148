"""What comes with every try-on result: the metrics (issue 5) and the detail images.

Metrics:
* `delta_e_garment`: CIEDE2000 between the mean colour of the dressed region (garment pixels of the result, edge
  ring excluded) and the garment in the product shot; ≤ 10 keeps the garment's colour recognisable.
* `torso_coverage`: share of the torso polygon (shoulder and hip joints) under the garment, arms crossing in
  front included (they are in front *of* the garment); `torso_coverage_visible` counts only what shows.
* `spill`: share of the visible garment that lies outside the person mask (garment painted on the background).
* `ssim_outside_clothing`: SSIM between input and result outside the agnostic region (clothing region + garment
  footprint) grown by the SSIM window; 1.0 means face, hands, legs and background are untouched.
  `ssim_outside_region` is the same outside the clothing region alone, so a garment reaching past it counts.
* `old_garment_visible`: share of the new garment's expected area (the category's clothing region on the body and
  the garment's own footprint on the arms, hands and head aside) where the person's own clothes still show
  unchanged in the result: a longer hem, straps, a wider cut, a gap between sleeve and body. `old_garment_filled`
  is the share the lite tier filled in instead of covering with the garment. Both need the old garment's mask
  (`person.old_garment_mask`), so they come with the lite tier. (Long sleeves below a short-sleeved garment are
  outside its area: the result's notes say they stay.)
* `pose_drift`: MediaPipe keypoints re-detected on the result vs the input (nose, shoulders, elbows, wrists,
  hips), mean distance over the torso length: the try-on must not change how the body reads. `pose_redetected`
  is 0 when the pose model no longer finds the body on the result at all.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio import tiles
from studio.metrics import region_delta_e, ssim

from .garment import GarmentParse, landmarks_overlay
from .lite import Dressed
from .person import arm_zone

#: skimage's SSIM window (σ 1.5, truncated at 3.5 σ) sees this far; pixels that close to a change are excluded.
SSIM_RADIUS_PX = 6
#: Keypoints compared for pose drift: nose, shoulders, elbows, wrists, hips.
DRIFT_POINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24)


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def dressed_region(dressed: Dressed) -> np.ndarray:
    """Bool mask of the result's fully garment pixels, minus a thin rim (where the garment blends into the photo)."""
    core = (dressed.garment_alpha > 0.95).astype(np.uint8)
    return cv2.erode(core, np.ones((5, 5), np.uint8)) > 0


def measure(ctx, person: np.ndarray, person_mask: np.ndarray, parse: GarmentParse, dressed: Dressed,
            drift: bool = True) -> dict[str, float]:  # fmt: skip
    out = dressed.image
    metrics: dict[str, float] = {}
    region = dressed_region(dressed)
    if region.sum() >= 20:
        metrics["delta_e_garment"] = round(region_delta_e(out, region, parse.rgb, parse.mean_rgb_mask()), 2)
    poly = np.zeros(person.shape[:2], np.uint8)
    cv2.fillPoly(poly, [np.round(dressed.fit.torso_polygon()).astype(np.int32)], 1)
    poly = poly > 0
    if poly.any():
        metrics["torso_coverage"] = round(float((dressed.garment_under[poly] > 0.5).mean()), 4)
        metrics["torso_coverage_visible"] = round(float((dressed.garment_alpha[poly] > 0.5).mean()), 4)
    visible = dressed.garment_alpha > 0.5
    if visible.any():
        metrics["spill"] = round(float((person_mask[visible] <= 0.5).mean()), 4)
    changed = _grow(dressed.agnostic() > 0, SSIM_RADIUS_PX) | _grow(dressed.garment_under > 0.02, SSIM_RADIUS_PX)
    if (~changed).any():
        metrics["ssim_outside_clothing"] = round(ssim(person, out, ~changed), 4)
    # Stricter: outside the body-preprocessing clothing region alone, so garment spilling past it counts.
    outside_region = ~_grow(dressed.region > 0, SSIM_RADIUS_PX)
    if outside_region.any():
        metrics["ssim_outside_region"] = round(ssim(person, out, outside_region), 4)
    metrics.update(old_garment_shares(person, out, dressed))
    if drift:
        metrics.update(pose_drift(ctx, person, out, dressed.fit.torso))
    return metrics


#: A pixel of the old garment "still shows" when no channel of the result differs from the input by more than this.
UNCHANGED = 6


def expected_area(dressed: Dressed) -> np.ndarray:
    """Bool mask of where the new garment is expected: its category's clothing region on the body, the arms as far
    as its own sleeves reach (its footprint), without the hands and head (which stay in front of any garment)."""
    arms = arm_zone(dressed.region.shape, dressed.fit) > 0
    area = ((dressed.region > 0) & ~arms) | (dressed.garment_under > 0.5)
    return area & ~(dressed.on_top > 0)


def old_garment_shares(person: np.ndarray, out: np.ndarray, dressed: Dressed) -> dict[str, float]:
    """`old_garment_visible` and `old_garment_filled` (see the module docstring); empty without the old
    garment's mask."""
    if dressed.old_garment is None:
        return {}
    area = expected_area(dressed)
    n = int(area.sum())
    if n == 0:
        return {}
    # Still showing: not under the new garment, and still the input's colour (not painted over).
    old = dressed.old_garment & area & (dressed.garment_alpha < 0.5)
    same = np.abs(out.astype(np.int16) - person.astype(np.int16)).max(axis=2) <= UNCHANGED
    shares = {"old_garment_visible": round(float((old & same).sum()) / n, 4)}
    if dressed.filled is not None:
        shares["old_garment_filled"] = round(float((dressed.filled & area).sum()) / n, 4)
    return shares


def pose_drift(ctx, person: np.ndarray, out: np.ndarray, torso: float) -> dict[str, float]:
    """`pose_redetected` (1 when the pose model still finds the body on `out`, 0 when the try-on made it
    unreadable) and `pose_drift` (mean keypoint distance over the torso length, when both poses exist)."""
    before, after = ctx.preprocess.pose(person), ctx.preprocess.pose(out)
    metrics = {"pose_redetected": float(after is not None)}
    if before is not None and after is not None:
        kb, ka = before.keypoints, after.keypoints
        seen = [i for i in DRIFT_POINTS if kb[i, 3] >= 0.5 and ka[i, 3] >= 0.5]
        if seen:
            metrics["pose_drift"] = round(float(np.hypot(*(kb[seen, :2] - ka[seen, :2]).T).mean() / torso), 4)
    return metrics


def extras(person: np.ndarray, parse: GarmentParse, dressed: Dressed) -> dict[str, np.ndarray]:
    mask_img = np.repeat((parse.alpha * 255).astype(np.uint8)[..., None], 3, axis=2)
    warped = dressed.warped
    canvas = np.full_like(person, 255)
    a = warped.torso_alpha[..., None]
    canvas = (canvas * (1 - a) + warped.torso_rgb * a).astype(np.uint8)
    for rgb, al in warped.sleeves.values():
        canvas = (canvas * (1 - al[..., None]) + rgb * al[..., None]).astype(np.uint8)
    # The region the garment replaces in red, then what stays in front of it (arms, hands, head) in blue.
    agnostic = tiles.overlay(person, [(dressed.agnostic() > 0, (255, 60, 60))], alpha=0.55)
    agnostic = tiles.overlay(agnostic, [(dressed.occluders > 0, (60, 160, 255))], alpha=0.45)
    out = {"garment mask": mask_img, "garment landmarks": landmarks_overlay(parse), "agnostic region": agnostic,
           "warped garment": canvas}  # fmt: skip
    if dressed.old_garment is not None:
        # The person's own clothes: covered by the new garment (green), filled in (blue), still showing (red).
        covered = dressed.old_garment & (dressed.garment_alpha >= 0.5)
        filled = dressed.old_garment & (dressed.filled if dressed.filled is not None else False)
        showing = dressed.old_garment & ~covered & ~filled
        out["old garment"] = tiles.overlay(dressed.image, [(covered, (60, 200, 90)), (filled, (60, 120, 255)),
                                                           (showing, (255, 40, 40))], alpha=0.5)  # fmt: skip
    return out
