"""The person's matte and what goes behind it: backdrops, the user's background, a portrait-mode blur.

The matte starts from MediaPipe selfie segmentation (the only person model the 0.10.21 wheel bundles), keeps this
person's head-and-shoulders zone (people beside them are background), always includes the face oval, and is
refined by a guided filter on the photo (He, Sun & Tang, "Guided image filtering", ECCV 2010): the soft edge snaps
to the photo's own edges, so hair strands blend into the new background instead of ending on a blurred outline —
never a hard cut-out.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.preprocess.face import Face, face_height
from studio.preprocess.regions import CHIN, FACE_OVAL


def person_matte(rgb: np.ndarray, person: np.ndarray, face: Face, others: list[Face] = ()) -> np.ndarray:
    """float32 H×W matte (0–1) of the person whose face is `face`: the segmentation inside this person's
    head-and-shoulders zone (`portrait_zone`), the face oval always in, refined by a guided filter whose radius
    follows the face's size."""
    h, w = rgb.shape[:2]
    fh = face_height(face)
    oval = face.regions.full("face_oval").astype(np.float32) / 255.0
    coarse = np.maximum(person.astype(np.float32) * portrait_zone(face, (h, w), others), oval)
    count, labels = cv2.connectedComponents((coarse > 0.5).astype(np.uint8), connectivity=8)
    if count > 2:  # a bystander who does not touch this person is background
        mine = np.isin(labels, np.unique(labels[(oval > 0.5) & (labels > 0)]))
        coarse *= cv2.dilate(mine.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # with this blob's soft edge
    # Work at most 1024 px on the long side: the filter is O(pixels) and the matte is upscaled smoothly.
    scale = min(1.0, 1024.0 / max(h, w))
    small_size = (round(w * scale), round(h * scale))
    guide = rgb if scale == 1.0 else cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    small = coarse if scale == 1.0 else cv2.resize(coarse, guide.shape[1::-1], interpolation=cv2.INTER_AREA)
    radius = max(2, int(round(0.03 * fh * scale)))
    # eps 1e-3 in 0–1 units: edges with more contrast than ~3 % pull the matte's edge onto them (hair on a wall).
    refined = cv2.ximgproc.guidedFilter(guide.astype(np.float32) / 255.0, small, radius, 1e-3)
    refined = np.clip(refined, 0.0, 1.0)
    if scale != 1.0:
        refined = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR)
    # The filter only shapes the edge: deep inside stays person, far outside stays background.
    inside = cv2.erode((coarse > 0.9).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    refined[inside] = np.maximum(refined[inside], coarse[inside])
    refined[cv2.dilate((coarse > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0] = 0.0
    return refined.astype(np.float32)


def portrait_zone(face: Face, shape: tuple[int, int], others: list[Face] = ()) -> np.ndarray:
    """Where this person can be (float 0–1): a head-and-shoulders silhouette around the face — the head about a
    face-width and a half across, widening below the chin to the shoulders and arms — and, beside other detected
    faces, the side of the line halfway between the two. Selfie segmentation merges people who touch (friends cheek
    to cheek, a colleague at the edge) into one blob; this takes this person's share of it."""
    h, w = shape
    lm = face.landmarks[:, :2]
    oval = lm[list(FACE_OVAL)]
    cx = float(oval[:, 0].mean())
    fw = float(np.ptp(oval[:, 0]))
    fh = face_height(face)
    chin_y = float(lm[CHIN, 1])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    below = np.clip((ys - chin_y) / (0.6 * fh), 0.0, 1.0)  # 0 at the chin, 1 at the shoulders
    arms = np.clip((ys - chin_y - 0.6 * fh) / (1.2 * fh), 0.0, 1.0)  # then down to the elbows
    half = fw * (0.85 + 1.1 * below + 1.4 * arms)
    zone = np.clip((half - np.abs(xs - cx)) / (0.15 * fw), 0.0, 1.0)
    for other in others:
        o = other.landmarks[list(FACE_OVAL), 0].mean()
        mid, sign = (cx + o) / 2.0, np.sign(cx - o) or 1.0
        zone *= np.clip((xs - mid) * sign / (0.05 * fw) + 0.5, 0.0, 1.0)
    return zone


# --------------------------------------------------------------------------------------------- backdrops
def studio_backdrop(size: tuple[int, int], colour: tuple[int, int, int], centre: tuple[float, float],
                    light: float = 0.16, seed: int = 0) -> np.ndarray:  # fmt: skip
    """A photographer's paper backdrop: `colour` lit from behind the subject (`centre`, fractions of the frame),
    falling off towards the edges, with a whisper of grain so the gradient never bands."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = centre[0] * w, centre[1] * h
    r = np.sqrt(((xs - cx) / w) ** 2 + ((ys - cy) / (1.2 * h)) ** 2)
    gain = 1.0 + light * (1.0 - np.clip(r / 0.75, 0, 1) ** 1.5) - 0.5 * light * np.clip(r / 0.9, 0, 1) ** 2
    grain = np.random.default_rng(seed).normal(0.0, 1.2, (h, w, 1)).astype(np.float32)
    out = np.asarray(colour, np.float32)[None, None, :] * gain[..., None] + grain
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def flat_backdrop(size: tuple[int, int], colour: tuple[int, int, int]) -> np.ndarray:
    w, h = size
    return np.full((h, w, 3), colour, np.uint8)


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to cover a (width, height) frame and centre-cropped (a user's background photo)."""
    w, h = size
    ih, iw = image.shape[:2]
    s = max(w / iw, h / ih)
    resized = cv2.resize(image, (max(w, round(iw * s)), max(h, round(ih * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)  # fmt: skip
    y0, x0 = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
    return resized[y0 : y0 + h, x0 : x0 + w]


def background_blur(image: np.ndarray, matte: np.ndarray, sigma: float) -> np.ndarray:
    """The photo's own background blurred like a wide-open lens, without the person (`matte`) bleeding into it: the
    blur is normalised by the blurred background weight, so the area behind the person fills from its surroundings
    (and where no background is near at all, from the background's mean colour)."""
    h, w = image.shape[:2]
    f = min(1.0, 8.0 / max(sigma, 1e-3))  # a wide blur loses nothing when computed small and enlarged
    small = (max(4, round(w * f)), max(4, round(h * f)))
    weight = cv2.resize((1.0 - matte).astype(np.float32), small, interpolation=cv2.INTER_AREA)[..., None]
    img = cv2.resize(image, small, interpolation=cv2.INTER_AREA).astype(np.float32)
    blurred = cv2.GaussianBlur(img * weight, (0, 0), sigma * f)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma * f)
    norm = norm[..., None] if norm.ndim == 2 else norm
    total = float(weight.sum())
    mean = (img * weight).reshape(-1, 3).sum(0) / total if total > 1.0 else img.reshape(-1, 3).mean(0)
    reach = np.clip(norm / 0.05, 0.0, 1.0)  # trust the normalised blur only where enough background fed it
    filled = blurred / np.maximum(norm, 1e-3) * reach + mean[None, None, :] * (1.0 - reach)
    out = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def composite(person: np.ndarray, matte: np.ndarray, backdrop: np.ndarray, spill: float = 0.35) -> np.ndarray:
    """The person over a new backdrop. Along the soft edge the old background's colour is pulled towards the new
    one (`spill`), so fine hair does not keep a fringe of the old wall."""
    a = matte[..., None].astype(np.float32)
    fg = person.astype(np.float32)
    bg = backdrop.astype(np.float32)
    edge = 4.0 * a * (1.0 - a)  # 1 where the matte is half, 0 inside and outside
    fg = fg + spill * edge * (bg - fg)
    return np.clip(fg * a + bg * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
