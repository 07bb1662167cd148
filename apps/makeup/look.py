"""Reading a makeup look: the `Look` a reference photo's face wears, measured in CIELAB on the shared face mesh.

A `Look` is a handful of colours: the lipstick, the eyeshadow as a lash-line → crease gradient, the liner,
the blush, the brow colour and the bare-skin tone the look was worn on. `extract_look` reads one from a
reference photo; `presets.py` defines named ones as data; lite.py paints one onto a face. Eyeshadow and blush
are stored as the *change* they made to their wearer's bare skin, so they can be re-applied to any skin tone.

Lab is studio.color's convention, through its fast path (the one the lite tier paints with).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.color import lab_to_hex, rgb_to_lab
from studio.preprocess.face import Face, face_height
from studio.preprocess.regions import LEFT_BROW_LOWER, RIGHT_BROW_LOWER

from .regions import REGIONS, SHADOW_BANDS, cheek_zone, lid_bands, visible_sides

# Blush reads as colour; a reference's cheeks darker than its skin are mostly contour or shadow.
BLUSH_MAX_DARKEN = 8.0


@dataclass(frozen=True)
class Look:
    """A makeup look in Lab (studio.color's convention), independent of whose face it came from.

    `None` means the look has nothing for that region (a preset without liner, a region the reference
    photo does not show). `intensity` scales each region (1.0 for looks measured from a photo).
    """

    name: str
    skin: np.ndarray  # bare-skin tone the look was worn on; the base of the eyeshadow/blush changes
    lips: np.ndarray | None = None  # lipstick colour (absolute: lipstick is opaque)
    eyeshadow: np.ndarray | None = None  # (SHADOW_BANDS, 3) change over bare skin, lash line → crease
    eyeliner: np.ndarray | None = None  # liner colour (applied darken-only)
    blush: np.ndarray | None = None  # change over bare skin on the cheek apples
    brows: np.ndarray | None = None  # brow colour
    shift_tone: bool = True  # foundation moves the tone towards `skin`; False (presets): it only evens it out
    intensity: dict[str, float] = field(default_factory=dict)
    #: Colours the metrics compare the result with (lips / eyeshadow / cheeks as they look on the reference).
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def has(self, region: str) -> bool:
        return True if region == "foundation" else getattr(self, region) is not None

    def to_dict(self) -> dict:
        """JSON-friendly summary, each colour as the sRGB hex a designer would recognise."""
        out: dict = {"name": self.name, "skin": lab_to_hex(self.skin)}
        for region in ("lips", "eyeliner", "brows"):
            value = getattr(self, region)
            out[region] = None if value is None else lab_to_hex(value)
        if self.eyeshadow is not None:
            out["eyeshadow_lid_to_crease"] = [lab_to_hex(self.skin + d) for d in self.eyeshadow]
        out["blush"] = None if self.blush is None else lab_to_hex(self.skin + self.blush)
        out["intensity"] = {k: round(v, 2) for k, v in self.intensity.items()}
        return out


def is_grayscale(rgb: np.ndarray, face: Face | None = None) -> bool:
    """True for black-and-white photos (also JPEG-noisy ones stored as RGB), judged on the face's box when given
    (a small face in a large grey frame is still a colour face)."""
    if face is not None:
        x0, y0, x1, y1 = face.regions.roi
        rgb = rgb[y0:y1, x0:x1]
    small = rgb[:: max(1, rgb.shape[0] // 96), :: max(1, rgb.shape[1] // 96)].astype(np.int16)
    spread = small.max(axis=-1) - small.min(axis=-1)
    return float(np.mean(spread > 6)) < 0.01


def lip_likeness(cur: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """0…1 per pixel: how much a pixel's colour looks like the lips' (hue/chroma close to the lips' median and
    not far darker, which is the mouth's interior). Lightness is otherwise free, so highlights still count.
    `cur` is Lab (H×W×3), `inside` the lips mask. Reading a look, painting lipstick and measuring lips all use it."""
    centre = np.median(cur[inside][:, 1:], axis=0)
    dist = np.hypot(cur[..., 1] - centre[0], cur[..., 2] - centre[1])
    # Tolerance from the closest quarter of the lip pixels: on a turned face half the "lips" can be background.
    tol = max(6.0, 2.0 * float(np.percentile(dist[inside], 25)))
    like = np.clip(1.0 - (dist - tol) / (0.5 * tol), 0.0, 1.0)
    lip_l = float(np.median(cur[inside, 0]))
    return like * np.clip(1.0 - (lip_l - 22.0 - cur[..., 0]) / 10.0, 0.0, 1.0)


#: Profiles across the outer lip line reach this far out onto the skin and in onto the lips (face heights).
LIP_LINE_OUT, LIP_LINE_IN = 0.04, 0.02
#: A profile shows a lip line when its colour steps by at least this much (ΔE76) from its skin end to its lip end.
LIP_LINE_MIN_STEP = 5.0


def lip_line_normals(lips: np.ndarray, fh: float, n: int = 80) -> tuple[np.ndarray, np.ndarray] | None:
    """Sample positions (map_x, map_y: profiles × samples, float32, in `lips`' pixels) along about `n` normals
    of the lips mask's outer contour, each running from the skin (`LIP_LINE_OUT` face heights out) across the
    lip line onto the lip (`LIP_LINE_IN` in), every half pixel. None for a mask too small to have a line."""
    mask = (lips > 0).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours or max(len(c) for c in contours) < 12:
        return None
    c = max(contours, key=len)[:, 0, :].astype(np.float32)
    idx = np.arange(0, len(c), max(2, len(c) // n))
    tangent = c[(idx + 2) % len(c)] - c[(idx - 2) % len(c)]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-6
    pts = c[idx]
    probe = np.round(pts + 2 * normal).astype(int)  # orient every normal outwards (towards the skin)
    probe[:, 0] = probe[:, 0].clip(0, mask.shape[1] - 1)
    probe[:, 1] = probe[:, 1].clip(0, mask.shape[0] - 1)
    normal[mask[probe[:, 1], probe[:, 0]] > 0] *= -1
    r_out, r_in = max(4.0, LIP_LINE_OUT * fh), max(3.0, LIP_LINE_IN * fh)
    s = np.arange(r_out, -r_in - 0.25, -0.5, dtype=np.float32)
    return ((pts[:, None, 0] + normal[:, None, 0] * s[None]).astype(np.float32),
            (pts[:, None, 1] + normal[:, None, 1] * s[None]).astype(np.float32))  # fmt: skip


def lip_line_rise(lab: np.ndarray, normals: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per profile of `lip_line_normals`: the 10–90 % rise width (px) of the colour from the profile's skin end to
    its lip end, and the size of that step (ΔE76). A Gaussian-blurred edge of σ px measures 2.56 σ."""
    map_x, map_y = normals
    prof = np.stack([cv2.remap(np.ascontiguousarray(lab[..., ch]), map_x, map_y, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE) for ch in range(3)], axis=-1)  # fmt: skip
    skin, lip = prof[:, :3].mean(axis=1), prof[:, -3:].mean(axis=1)
    axis = lip - skin
    step = np.linalg.norm(axis, axis=1)
    t = ((prof - skin[:, None]) * axis[:, None]).sum(axis=2) / np.maximum(step, 1e-6)[:, None] ** 2
    t = np.maximum.accumulate(np.clip(t, 0.0, 1.0), axis=1)  # each level's first crossing, from the skin
    return ((t < 0.9).sum(axis=1) - (t < 0.1).sum(axis=1)) * 0.5, step


def _robust_tone(lab_pixels: np.ndarray) -> np.ndarray | None:
    """Median Lab of skin pixels after dropping the darkest and brightest (shadows, nostrils, highlights) and
    the reddest (blush or flush that spread beyond the cheeks): what the bare complexion looks like."""
    if len(lab_pixels) < 12:
        return None
    lo, hi = np.percentile(lab_pixels[:, 0], [15, 85])
    keep = lab_pixels[(lab_pixels[:, 0] >= lo) & (lab_pixels[:, 0] <= hi)]
    if len(keep) >= 12:
        keep = keep[keep[:, 1] <= np.percentile(keep[:, 1], 60)]
    return np.median(keep if len(keep) >= 6 else lab_pixels, axis=0).astype(np.float64)


def skin_tone(face: Face, lab: np.ndarray, crop) -> np.ndarray | None:
    """Bare-skin tone: skin below the brows (the forehead is often under a fringe), away from cheeks and lids."""
    r = face.regions
    # A median needs a few thousand pixels, not all of them: sample a grid about 100 px across the face.
    step = max(1, int(face_height(face) / 100))
    sub = (slice(crop[0].start, crop[0].stop, step), slice(crop[1].start, crop[1].stop, step))
    lab_s = lab[::step, ::step]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    skin = r.local("skin")[sub].copy()
    skin[cv2.dilate(r.local("cheeks")[sub], k) > 0] = 0
    skin[cv2.dilate(r.local("eyeshadow")[sub], k) > 0] = 0
    brow_y = face.landmarks[list(LEFT_BROW_LOWER + RIGHT_BROW_LOWER), 1].max() - r.roi[1] - crop[0].start
    skin[: max(0, int(np.ceil(brow_y / step)))] = 0
    tone = _robust_tone(lab_s[skin > 0])
    return tone if tone is not None else _robust_tone(lab_s[r.local("skin")[sub] > 0])


def band_colours(lab: np.ndarray, bands: np.ndarray, n: int) -> np.ndarray:
    """(n, 3) Lab colour of each eyelid band (`bands`: 1…n, 0 elsewhere; lash line first), NaN for a band with
    too few pixels: the median of its lighter 60 %, so lashes and liner (the darkest pixels along the lash line)
    do not pass for eyeshadow. Reading a reference's shadow and the lid it is painted on use the same rule."""
    out = np.full((n, 3), np.nan)
    step = 2 if np.count_nonzero(bands) > 4000 else 1  # (a median needs no more than every other pixel)
    lab, bands = lab[::step, ::step], bands[::step, ::step]
    for j in range(n):
        px = lab[bands == j + 1]
        if len(px) >= 4:
            out[j] = np.median(px[px[:, 0] >= np.percentile(px[:, 0], 40)], axis=0)
    return out


# --------------------------------------------------------------------------------------------- reading a look
def extract_look(rgb: np.ndarray, face: Face, name: str = "reference") -> Look:
    """Measure the makeup on one face of a reference photo. Paired regions are read from the sides that
    were actually seen (the near side of a turned face)."""
    r = face.regions
    x0, y0, x1, y1 = r.roi
    crop = (slice(0, y1 - y0), slice(0, x1 - x0))
    lab = rgb_to_lab(rgb[y0:y1, x0:x1], fast=True)
    notes: list[str] = []
    sides = visible_sides(face)
    if len(sides) == 1:
        notes.append(f"The reference face is turned ({face.yaw_deg:+.0f}° yaw): eyes, brows and cheek colours "
                     f"were read from its {sides[0]} side only.")  # fmt: skip
    skin = skin_tone(face, lab, crop)
    if skin is None:
        skin = np.array([70.0, 12.0, 16.0])
        notes.append("The reference face is too small to read its skin tone; a medium tone was assumed.")

    def mean_of(mask) -> np.ndarray | None:
        px = lab[mask > 0]
        return px.mean(axis=0).astype(np.float64) if len(px) >= 6 else None

    def union(kind: str) -> np.ndarray:
        return np.maximum.reduce([r.local(f"{s}_{kind}") for s in sides])

    lip_mask = r.local("lips") > 0
    if not face.is_frontal and lip_mask.any():  # a turned face's lip outline can overshoot onto the background
        like = lip_mask & (lip_likeness(lab, lip_mask) > 0.5)
        lip_mask = like if np.count_nonzero(like) >= 6 else lip_mask
    lips = mean_of(lip_mask)
    brows = mean_of(union("brow"))
    cheeks = mean_of(union("cheek"))
    # Blush is rarely centred on the mesh's cheek apple: read it over the cheeks grown into the surrounding skin,
    # from the reddest 30 % of pixels (where it was laid on), as a change from the bare skin.
    zone = cheek_zone(face, union("cheek"), r.local("skin"))
    zone_px = lab[zone[0]][zone[1] > 0] if zone is not None else np.zeros((0, 3), np.float32)
    blush = None
    if len(zone_px) >= 12:
        top = zone_px[zone_px[:, 1] >= np.percentile(zone_px[:, 1], 70)]
        blush = top.mean(axis=0).astype(np.float64) - skin
        blush[0] = np.clip(blush[0], -BLUSH_MAX_DARKEN, 2.0)  # darker pixels there are contour and shade
        blush[1] = max(blush[1], 0.0)  # blush adds warmth; a cheek less red than the skin is shading, not blush
    # Eyeshadow: per band, lash line first, the median of the lighter 60 % of the lid pixels outside the liner
    # band, so lashes and liner (the darkest pixels along the lash line) do not pass for eyeshadow.
    bands = np.zeros(lab.shape[:2], np.uint8)
    origin = np.array([x0, y0], np.float32)
    for side in sides:
        side_bands = lid_bands(face, side, origin, lab.shape[:2], SHADOW_BANDS)
        side_bands[(r.local(f"{side}_eyeshadow") == 0) | (r.local(f"{side}_eyeliner") > 0)] = 0
        bands = np.maximum(bands, side_bands)
    profile = band_colours(lab, bands, SHADOW_BANDS)
    eyeshadow = None
    if not np.isnan(profile).any():
        eyeshadow = profile - skin
    # Liner: the darkest third of the lash-line band (the band also holds lid skin between the lashes).
    liner_px = lab[union("eyeliner") > 0]
    eyeliner = None
    if len(liner_px) >= 6:
        dark = liner_px[liner_px[:, 0] <= np.percentile(liner_px[:, 0], 33)]
        eyeliner = dark.mean(axis=0).astype(np.float64)
    for region, value in (("lips", lips), ("eyeshadow", eyeshadow), ("eyeliner", eyeliner), ("blush", blush),
                          ("brows", brows)):  # fmt: skip
        if value is None:
            notes.append(f"The reference's {region} could not be read (too small or hidden); that region is skipped.")
    targets = {k: v for k, v in (("lips", lips), ("eyeshadow", mean_of(union("eyeshadow"))), ("cheeks", cheeks))
               if v is not None}  # fmt: skip
    return Look(name=name, skin=skin, lips=lips, eyeshadow=eyeshadow, eyeliner=eyeliner, blush=blush, brows=brows,
                shift_tone=True, intensity={k: 1.0 for k in REGIONS}, targets=targets, notes=tuple(notes))  # fmt: skip

