"""What comes with every makeup result: the metrics (DESIGN §4, issue 4) and the detail images.

Metrics, measured on the largest face:
* `delta_e_lips` / `delta_e_eyeshadow` / `delta_e_cheeks`: CIEDE2000 between the mean colour of the region in
  the result and in the reference (or the preset's colour); ≤ 2 is barely visible, ≤ 8 a close match. Eyeshadow
  is measured on the eyelids above the lash-line band (`lids_measured`): liner and lashes are not lid colour.
  `delta_e_lips_before` / `delta_e_eyeshadow_before` are the same for the bare source: the makeup must move each
  painted region *towards* the reference (after < before), eyelids included.
* `edge_softness_lips`: how wide the made-up lip line is, over how wide the bare lip line was in the photo
  (10–90 % rise widths of the colour from skin to lip, medians over profiles around the lips; `edge_widths`).
  About 1 reads as lips; well below 1 is a sticker's cut edge. Both widths in px are in the details.
* `identity_drift_nme`: landmarks re-detected on the result vs the source, mean distance over the outer-eye-
  corner distance (worst face); on a turned face, where that distance is foreshortened, over the face box size
  √(w·h) instead (the AFLW convention for large poses). Makeup must not move features.
* `ssim_outside`: SSIM between source and result over the face boxes *outside* the makeup regions grown by
  the feather reach plus the SSIM window; 1.0 means the rest of the face, hair and background are untouched.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.color import ciede2000, lab_to_rgb, mean_lab, rgb_to_lab
from studio.imaging import fit_within
from studio.metrics import landmark_nme, region_delta_e, ssim
from studio.preprocess.face import Face, face_height
from studio.tiles import grid, overlay

from .look import LIP_LINE_MIN_STEP, LIP_LINE_OUT, Look, lip_likeness, lip_line_normals, lip_line_rise
from .regions import FEATHER_REACH, REGION_TABLE, REGIONS, grown_box, mask_names, visible_sides

#: skimage's SSIM window (σ 1.5, truncated at 3.5 σ) sees this far; pixels that close to a change are excluded.
SSIM_RADIUS_PX = 6


def region_mask(face: Face, region: str, sides=None) -> np.ndarray:
    """Full-size uint8 mask of one app region on one face, on the given subject sides (default: visible)."""
    sides = visible_sides(face) if sides is None else sides
    return np.maximum.reduce([face.regions.full(n) for n in mask_names(region, sides)])


def lips_measured(face: Face, rgb: np.ndarray) -> np.ndarray:
    """The lip pixels colour is measured on: the lips mask, and on a turned face only its pixels that look like
    lip (there the mesh's outline can overshoot onto the background, which the lite tier leaves alone)."""
    mask = face.regions.full("lips") > 0
    if face.is_frontal or not mask.any():
        return mask
    ys, xs = np.nonzero(mask)
    box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    like = np.zeros_like(mask)
    like[box] = mask[box] & (lip_likeness(rgb_to_lab(rgb[box], fast=True), mask[box]) > 0.5)
    return like if np.count_nonzero(like) >= 6 else mask


def edge_widths(source: np.ndarray, output: np.ndarray, face: Face, lips: np.ndarray) -> tuple[float, float] | None:
    """(how wide the made-up lip line is, how wide the bare lip line was) in px: the 10–90 % rise of the colour
    from skin to lip across the lips' outer line (`look.lip_line_rise`), in the result and in the source, medians
    over the profiles that show a line in both. A pasted edge measures about 1 px. None when fewer than 8 do."""
    ys, xs = np.nonzero(lips)
    if ys.size < 20:
        return None
    fh = face_height(face)
    pad = int(np.ceil(max(4.0, LIP_LINE_OUT * fh))) + 2
    box = (slice(max(0, ys.min() - pad), ys.max() + pad + 1), slice(max(0, xs.min() - pad), xs.max() + pad + 1))
    normals = lip_line_normals(lips[box], fh)
    if normals is None:
        return None
    natural, step = lip_line_rise(rgb_to_lab(source[box], fast=True), normals)
    made_up, made_up_step = lip_line_rise(rgb_to_lab(output[box], fast=True), normals)
    ok = (step >= LIP_LINE_MIN_STEP) & (made_up_step >= LIP_LINE_MIN_STEP)
    if ok.sum() < 8:
        return None
    return float(np.median(made_up[ok])), float(np.median(natural[ok]))


def lids_measured(face: Face) -> np.ndarray:
    """The eyelid pixels eyeshadow colour is measured on: the eyeshadow region without the lash-line band, where
    liner and lashes (not eyelid colour) are, on the visible sides."""
    lids = region_mask(face, "eyeshadow") > 0
    return lids & ~(region_mask(face, "eyeliner") > 0) & ~(face.regions.full("eyes") > 0)


def measured_mask(face: Face, rgb: np.ndarray, region: str) -> np.ndarray:
    """The pixels a region's colour is measured on (lips and eyelids have their own rules, above)."""
    if region == "lips":
        return lips_measured(face, rgb)
    return lids_measured(face) if region == "eyeshadow" else region_mask(face, region) > 0


def drift_normalizer(face: Face) -> float:
    """Inter-ocular (outer eye corners) distance on a frontal face; the face box size on a turned one."""
    if face.is_frontal:
        return float(np.linalg.norm(face.landmarks[33, :2] - face.landmarks[263, :2]))
    return float(np.sqrt(max(face.area, 1.0)))


#: Longest side of the detail images (overlays): they are looked at on a screen, not printed.
DETAIL_MAX_SIDE = 1600


def makeup_area(faces: list[Face], regions, shape) -> np.ndarray:
    """Bool mask of every pixel the makeup may change: the regions grown by the feather reach."""
    area = np.zeros(shape[:2], bool)
    for face in faces:
        reach = int(np.ceil(FEATHER_REACH * face_height(face))) + 1
        for region in regions:
            mask = region_mask(face, region)
            box = grown_box(mask, reach)  # inside the region's box: a 12 MP frame costs what its face does
            if box is not None:
                # Grown by a Euclidean distance (a round brush of radius `reach`), in time linear in the pixels
                # whatever the reach; a dilation with an elliptic kernel that size costs reach × more.
                outside = (mask[box] == 0).astype(np.uint8)
                area[box] |= cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= reach
    return area


def measure(ctx, source: np.ndarray, output: np.ndarray, faces: list[Face], look: Look, regions,
            reference: np.ndarray | None = None, ref_face: Face | None = None) -> tuple[dict, dict]:  # fmt: skip
    """(metrics, details) for a finished result; `regions` are the app regions that were painted."""
    metrics: dict[str, float] = {}
    details: dict = {}
    face = faces[0]
    for key, region in (("lips", "lips"), ("eyeshadow", "eyeshadow"), ("cheeks", "blush")):
        if region not in regions:
            continue
        mask = measured_mask(face, source, region)
        if not mask.any():
            continue
        if reference is not None and ref_face is not None:
            ref_mask = measured_mask(ref_face, reference, region)
            if ref_mask.any():
                metrics[f"delta_e_{key}"] = round(region_delta_e(output, mask, reference, ref_mask), 3)
                if key != "cheeks":
                    metrics[f"delta_e_{key}_before"] = round(region_delta_e(source, mask, reference, ref_mask), 3)
        elif key in look.targets:
            metrics[f"delta_e_{key}"] = round(float(ciede2000(mean_lab(output, mask), look.targets[key])), 3)
            if key != "cheeks":
                before = float(ciede2000(mean_lab(source, mask), look.targets[key]))
                metrics[f"delta_e_{key}_before"] = round(before, 3)
    if "lips" in regions:
        edges = edge_widths(source, output, face, face.regions.full("lips") > 0)
        if edges is not None and edges[1] > 0:
            metrics["edge_softness_lips"] = round(edges[0] / edges[1], 3)
            details["lips_edge_width_px"] = {"made up": round(edges[0], 2), "bare": round(edges[1], 2)}
    if "lips" in regions and reference is not None and ref_face is not None and len(faces) > 1:
        ref_lips = lips_measured(ref_face, reference)
        details["delta_e_lips_per_face"] = [
            round(region_delta_e(output, lips_measured(f, source), reference, ref_lips), 3)
            for f in faces if region_mask(f, "lips").any()
        ]

    # Identity drift: every source face matched to the nearest re-detected face on the result.
    redetected = ctx.preprocess.faces(output, max_faces=max(4, len(faces)))
    drifts, matches = [], []
    for f in faces:
        centre = f.landmarks[:, :2].mean(axis=0)
        match = min(redetected, key=lambda g: np.linalg.norm(g.landmarks[:, :2].mean(axis=0) - centre), default=None)
        matches.append(match)
        norm = drift_normalizer(f)
        if match is not None and norm > 1:
            drifts.append(landmark_nme(match.landmarks, f.landmarks, norm))
    if drifts:
        metrics["identity_drift_nme"] = round(max(drifts), 4)
    else:
        details["identity_drift"] = "no face was re-detected on the result"
    # Still the same person? The identity embedder's distance between the largest face before and after (dlib's
    # ResNet descriptor by default: "same person" below 0.6), named with the embedder that measured it.
    if matches[0] is not None:
        before = ctx.preprocess.identity(source, faces[0])
        after = ctx.preprocess.identity(output, matches[0])
        metrics["identity_distance"] = round(before.distance(after), 4)
        details["identity_embedder"] = before.embedder

    # Outside the makeup: SSIM over the faces' boxes (elsewhere nothing is even looked at), and a pixel count.
    area = makeup_area(faces, regions, source.shape)
    guard = cv2.dilate(area.astype(np.uint8), np.ones((2 * SSIM_RADIUS_PX + 1,) * 2, np.uint8)) > 0
    x0 = min(f.regions.roi[0] for f in faces)
    y0 = min(f.regions.roi[1] for f in faces)
    x1 = max(f.regions.roi[2] for f in faces)
    y1 = max(f.regions.roi[3] for f in faces)
    outside = ~guard[y0:y1, x0:x1]
    if outside.any():
        metrics["ssim_outside"] = round(ssim(source[y0:y1, x0:x1], output[y0:y1, x0:x1], mask=outside), 4)
    details["changed_pixels_outside_makeup"] = int(np.count_nonzero(np.any(source != output, axis=-1) & ~area))
    return metrics, details


# --------------------------------------------------------------------------------------------- detail images
def side_by_side(images: list[np.ndarray], height: int = 512) -> np.ndarray:
    """Images in a row, each scaled to `height`, 8 px apart (the "before | after" strip)."""
    return grid([images], height, gap=8)


def close_up(source: np.ndarray, output: np.ndarray, face: Face, height: int = 384) -> np.ndarray:
    """The largest face before and after, cropped to the face oval with a margin."""
    x0, y0, x1, y1 = face.box
    m = 0.12 * max(x1 - x0, y1 - y0)
    h, w = source.shape[:2]
    box = (slice(int(max(0, y0 - m)), int(min(h, y1 + m))), slice(int(max(0, x0 - m)), int(min(w, x1 + m))))
    return side_by_side([source[box], output[box]], height)


def regions_overlay(source: np.ndarray, faces: list[Face], regions) -> np.ndarray:
    """The painted regions tinted over the photo in painting order, each in its table colour, so a misplaced
    mask is easy to spot."""
    shown = fit_within(source, DETAIL_MAX_SIDE)  # a detail image: screen-sized, whatever the photo's size
    size = shown.shape[1::-1]
    layers = []
    for region in (r for r in REGIONS if r in regions):
        mask = np.zeros(source.shape[:2], np.uint8)
        for face in faces:
            np.maximum(mask, region_mask(face, region), out=mask)
        # Hard edges: the mesh masks' anti-aliased rims count whole.
        small = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) if size != mask.shape[1::-1] else mask
        layers.append((small > 0, REGION_TABLE[region].overlay))
    return overlay(shown, layers, alpha=0.55)


def swatches(look: Look, size: int = 96) -> np.ndarray:
    """The look as a labelled palette: skin, lips, eyeshadow lid → crease, liner, blush, brows."""
    items = [("skin", look.skin), ("lips", look.lips)]
    if look.eyeshadow is not None:
        items += [(f"shadow {i + 1}", look.skin + d) for i, d in enumerate(look.eyeshadow)]
    items += [("liner", look.eyeliner), ("blush", None if look.blush is None else look.skin + look.blush),
              ("brows", look.brows)]  # fmt: skip
    items = [(name, value) for name, value in items if value is not None]
    chips = [np.full((size, size, 3), lab_to_rgb(lab), np.uint8) for _, lab in items]
    return grid([chips], size, labels=[[name for name, _ in items]])
