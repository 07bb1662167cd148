"""The makeup regions: one table of what each region is (its UI label and default strength, the face-mesh mask
it paints, how its edge is feathered, its colour in the detail image), and the geometry shared by reading a
look (look.py) and painting one (lite.py): which sides of a face were seen, the eyelid bands, the cheek zone.

lite.py, look.py, report.py, presets.py and diffusion.py all read the region facts from here, so the lite
tier, the diffusion tiers' paste-back and the metrics agree on where makeup may go.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio.preprocess.face import Face, face_height
from studio.preprocess.regions import LEFT_BROW_LOWER, LEFT_UPPER_LID, RIGHT_BROW_LOWER, RIGHT_UPPER_LID


@dataclass(frozen=True)
class Region:
    id: str
    label: str  # what the UI calls it
    default: float  # default strength, 0–1
    help: str  # what its strength does
    mask: str  # the face-mesh mask it paints (studio.preprocess.regions), per visible side when `paired`
    paired: bool
    #: Outward Gaussian feather σ as a fraction of the face height (crisp lipstick and liner, soft shadow); None:
    #: the region fades in from its own edge instead and never spills past it (large areas ending on bare skin).
    sigma: float | None
    overlay: tuple[int, int, int]  # RGB tint in the "makeup regions" detail image


#: Every region, in the order a makeup artist lists them (the app's controls follow it).
REGION_TABLE: dict[str, Region] = {r.id: r for r in (
    Region("lips", "Lipstick", 1.0, "1 = the reference's lip colour, keeping the lips' own texture and highlights",
           mask="lips", paired=False, sigma=0.006, overlay=(230, 30, 60)),
    Region("eyeshadow", "Eyeshadow", 0.8, "lid-to-crease gradient from the reference's eyelids",
           mask="eyeshadow", paired=True, sigma=0.0125, overlay=(170, 90, 230)),
    Region("eyeliner", "Eyeliner", 0.7, "darkens the upper lash line towards the reference's liner colour",
           mask="eyeliner", paired=True, sigma=0.004, overlay=(20, 20, 20)),
    Region("blush", "Blush", 0.7, "the colour the reference's blush adds to its cheeks",
           mask="cheek", paired=True, sigma=None, overlay=(255, 120, 150)),
    Region("foundation", "Foundation", 0.3, "evens the skin and shifts its tone (a limited way) towards the "
           "reference's", mask="skin", paired=False, sigma=None, overlay=(250, 220, 160)),
    Region("brows", "Brows", 0.5, "tints the brows towards the reference's brow colour",
           mask="brow", paired=True, sigma=0.008, overlay=(120, 80, 40)),
)}  # fmt: skip
#: The order regions are painted in (and listed in a look's intensities): foundation first, lips last.
REGIONS = ("foundation", "blush", "eyeshadow", "brows", "eyeliner", "lips")
#: Outward feather σ per region (fraction of the face height), for the regions feathered outwards.
SIGMA = {r.id: r.sigma for r in REGION_TABLE.values() if r.sigma is not None}
#: Every change fades out within this fraction of the face height from its region's mask (4 σ of the widest
#: Gaussian feather; blush and foundation feather inwards only). Metrics use the same distance.
FEATHER_REACH = 0.05
#: Regions without a σ (blush, foundation) fade in from their edge over this fraction of the face height.
INWARD_FEATHER = 0.03
#: Samples of the eyeshadow gradient, from the lash line (0) to the crease (last).
SHADOW_BANDS = 4
#: studio.preprocess.regions draws the eyeshadow from the lash line to 60 % of the way up to the brow; the
#: gradient uses the same construction so band 0 sits on the lid and the last band at the crease.
CREASE_FRACTION = 0.6
#: Lower lash lines (outer → inner corner), the lower halves of regions.LEFT_EYE / RIGHT_EYE. Eyeshadow and
#: liner feathers are cut below them so colour never smudges under the eye.
LOWER_LID = {"left": (263, 249, 390, 373, 374, 380, 381, 382, 362),
             "right": (33, 7, 163, 144, 145, 153, 154, 155, 133)}  # fmt: skip
UPPER_LID = {"left": LEFT_UPPER_LID, "right": RIGHT_UPPER_LID}
BROW_LOWER = {"left": LEFT_BROW_LOWER, "right": RIGHT_BROW_LOWER}


def mask_names(region: str, sides) -> tuple[str, ...]:
    """The face-mesh masks a region paints on the given subject sides ('left', 'right')."""
    r = REGION_TABLE[region]
    return tuple(f"{s}_{r.mask}" for s in sides) if r.paired else (r.mask,)


def visible_sides(face: Face) -> tuple[str, ...]:
    """Subject sides whose regions were seen, not guessed: both on a frontal face, the near one when turned.
    Positive yaw means the subject turned to their left, which hides their left side."""
    if face.is_frontal:
        return ("left", "right")
    return ("right",) if face.yaw_deg > 0 else ("left",)


# --------------------------------------------------------------------------------------------- geometry
def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """An open polyline resampled to `n` evenly spaced points."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, dist[-1], n)
    return np.stack([np.interp(targets, dist, points[:, k]) for k in range(2)], axis=1)


def _fill(shape, polygons: list[np.ndarray], values: list[int] | None = None) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for i, p in enumerate(polygons):
        cv2.fillPoly(m, [np.round(p * 16).astype(np.int32)], 255 if values is None else values[i], cv2.LINE_8, 4)
    return m


def lid_bands(face: Face, side: str, origin: np.ndarray, shape, n: int) -> np.ndarray:
    """uint8 map: 1…n for the n strips from the lash line (1) to the crease (n), 0 elsewhere."""
    lm = face.landmarks[:, :2] - origin
    lid = _resample(lm[list(UPPER_LID[side])], 12)
    crease = lid + CREASE_FRACTION * (_resample(lm[list(BROW_LOWER[side])], 12) - lid)
    strips = []
    for j in range(n):
        lo, hi = lid + (j / n) * (crease - lid), lid + ((j + 1) / n) * (crease - lid)
        strips.append(np.concatenate([lo, hi[::-1]]))
    return _fill(shape, strips, list(range(1, n + 1)))


def under_eye(face: Face, side: str, origin: np.ndarray, shape) -> np.ndarray:
    """The band just below the lower lash line, where eyeshadow and liner feathers must not reach."""
    lm = face.landmarks[:, :2] - origin
    lower = lm[list(LOWER_LID[side])]
    drop = np.array([0.0, 0.08 * face_height(face)], np.float32)
    return _fill(shape, [np.concatenate([lower, (lower + drop)[::-1]])])


def grown_box(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Bounding box of a mask's non-zero pixels grown by `pad` (clipped to the mask), or None if empty."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return None
    rows, cols = mask.shape
    return slice(max(0, y - pad), min(rows, y + h + pad)), slice(max(0, x - pad), min(cols, x + w + pad))


def cheek_zone(face: Face, cheek: np.ndarray, skin: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The cheek apple grown into the surrounding skin (within the feather reach), where blush is blended:
    (window, uint8 mask of that window), or None for an empty cheek."""
    k = max(1, int(0.9 * FEATHER_REACH * face_height(face)))
    box = grown_box(cheek, k + 1)
    if box is None:
        return None
    grown = cv2.dilate(cheek[box], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return box, grown & skin[box]
