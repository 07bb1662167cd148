"""The lite tier's image treatments: a gentle studio relight from the face mesh, colour grades, and two classical
looks (a painted portrait and a duotone poster). All are classical image processing on the CPU."""

from __future__ import annotations

import cv2
import numpy as np

from studio.preprocess.face import Face, face_height

from .puppet import tessellation

#: Key light from the upper left and in front (x right, y down, z away from the camera, as MediaPipe's mesh).
KEY_LIGHT = np.array([-0.45, -0.55, -0.70])
KEY_LIGHT = KEY_LIGHT / np.linalg.norm(KEY_LIGHT)


def _face_shading(face: Face, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(Lambert shading of the face under KEY_LIGHT, coverage 0/1) rasterised from the mesh's triangle normals."""
    lm = face.landmarks.astype(np.float64)
    tris = tessellation()
    a, b, c = lm[tris[:, 0]], lm[tris[:, 1]], lm[tris[:, 2]]
    normals = np.cross(b - a, c - a)
    normals *= -np.sign(normals[:, 2:3] + 1e-9)  # every face normal points at the camera (z < 0)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-9
    lambert = np.clip(normals @ KEY_LIGHT, 0.0, 1.0)
    shade = np.zeros(shape, np.float32)
    cover = np.zeros(shape, np.float32)
    pts = np.round(lm[:, :2] * 16).astype(np.int32)
    for k, t in enumerate(tris):
        cv2.fillConvexPoly(shade, pts[t], float(lambert[k]), cv2.LINE_8, 4)
        cv2.fillConvexPoly(cover, pts[t], 1.0, cv2.LINE_8, 4)
    return shade, cover


def relight(rgb: np.ndarray, face: Face, matte: np.ndarray, strength: float) -> np.ndarray:
    """A soft key light from the upper left modelled on the face mesh (Lambert on the mesh's normals, smoothed),
    fading to the light's flat value over the rest of the person; the background is untouched. `strength` is the
    blend (docs/round2.md A3 suggests 0.3–0.5, unsourced: ours looks natural at 0.3–0.4)."""
    if strength <= 0:
        return rgb
    h, w = rgb.shape[:2]
    fh = face_height(face)
    x0, y0, x1, y1 = face.box
    pad = int(0.6 * fh)
    bx0, by0, bx1, by1 = max(0, int(x0) - pad), max(0, int(y0) - pad), min(w, int(x1) + pad), min(h, int(y1) + pad)
    shifted = Face(face.landmarks - np.array([bx0, by0, 0], np.float32), (by1 - by0, bx1 - bx0))
    shade, cover = _face_shading(shifted, (by1 - by0, bx1 - bx0))
    flat = float(np.clip(-KEY_LIGHT[2], 0, 1))  # a surface facing the camera
    sigma = max(1.0, 0.04 * fh)
    shade = cv2.GaussianBlur(shade * cover + flat * (1 - cover), (0, 0), sigma)
    gain = 1.0 + strength * (shade / flat - 1.0)
    gain = cv2.GaussianBlur(gain, (0, 0), sigma)
    full = np.ones((h, w), np.float32)
    full[by0:by1, bx0:bx1] = gain
    full = 1.0 + (full - 1.0) * matte  # only on the person
    return np.clip(rgb.astype(np.float32) * full[..., None] + 0.5, 0, 255).astype(np.uint8)


def grade(rgb: np.ndarray, contrast: float = 0.0, warmth: float = 0.0, saturation: float = 1.0) -> np.ndarray:
    """A global colour grade: an S-curve of `contrast` (0 = none), `warmth` in Lab b units, saturation scale."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    if contrast:
        x = lab[..., 0] / 255.0
        s = x + contrast * (x - 0.5) * (1.0 - np.abs(2.0 * x - 1.0))  # stays inside [0, 1], fixed at 0, ½ and 1
        lab[..., 0] = s * 255.0
    lab[..., 1:] = (lab[..., 1:] - 128.0) * saturation + 128.0
    lab[..., 2] += warmth
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def painted(rgb: np.ndarray, face_px: float, keep: np.ndarray | None = None) -> np.ndarray:
    """An oil-painted portrait: edge-preserving smoothing and OpenCV's oil-painting filter at a scale set by the face
    (~320 px tall, so strokes read as brushwork, not blocks), brush strokes that follow the forms (`brush_strokes`),
    a relief lit from the upper left, a warm glaze. `keep` (float 0–1) is where half the photo's fine detail comes
    back (eyes, brows, lips): the likeness a portrait painter keeps."""
    h, w = rgb.shape[:2]
    s = float(np.clip(320.0 / max(face_px, 1.0), 0.35, 1.5))
    small = cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    base = cv2.edgePreservingFilter(small, flags=cv2.RECURS_FILTER, sigma_s=20, sigma_r=0.25)
    oil = cv2.addWeighted(cv2.xphoto.oilPainting(base, 3, 1), 0.6, base, 0.4, 0)
    grey = cv2.cvtColor(oil, cv2.COLOR_RGB2GRAY).astype(np.float32)
    strokes = brush_strokes(grey, max(5, int(face_px * s / 25)) | 1)
    out = oil.astype(np.float32) * (1.0 + 0.05 * strokes[..., None])
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    out += np.clip(-(gx + gy) * 0.015, -8, 8)[..., None]  # impasto catching the light from the upper left
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)
    if keep is not None:
        detail = rgb.astype(np.float32) - cv2.GaussianBlur(rgb, (0, 0), 2.0).astype(np.float32)
        out += 0.5 * detail * keep[..., None]
    return grade(np.clip(out + 0.5, 0, 255).astype(np.uint8), contrast=0.25, warmth=7.0, saturation=0.92)


def brush_strokes(grey: np.ndarray, length: int, directions: int = 6, seed: int = 0) -> np.ndarray:
    """Zero-mean, unit-spread stroke texture: noise smeared along the image's edges (the structure tensor's
    tangent), from a bank of `directions` line kernels `length` px long, each pixel taking the closest direction."""
    h, w = grey.shape
    noise = np.random.default_rng(seed).normal(0, 1, (h, w)).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=5)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=5)
    jxx, jyy, jxy = (cv2.GaussianBlur(g, (0, 0), length / 2) for g in (gx * gx, gy * gy, gx * gy))
    tangent = 0.5 * np.arctan2(2 * jxy, jxx - jyy) + np.pi / 2  # across the gradient: along the forms
    out = np.zeros((h, w), np.float32)
    best = np.full((h, w), -2.0, np.float32)
    c = length // 2
    for k in range(directions):
        a = np.pi * k / directions
        kernel = np.zeros((length, length), np.float32)
        dx, dy = np.cos(a) * c, np.sin(a) * c
        cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        smeared = cv2.filter2D(noise, -1, kernel / kernel.sum())
        fit = np.cos(2 * (tangent - a)).astype(np.float32)
        pick = fit > best
        out[pick], best[pick] = smeared[pick], fit[pick]
    return out / (out.std() + 1e-6)


#: Duotone palettes: (shadow colour, highlight colour, backdrop colour), sRGB.
DUOTONE = ((24, 34, 72), (255, 176, 140), (247, 204, 92))


def duotone(rgb: np.ndarray, matte: np.ndarray, palette=DUOTONE) -> np.ndarray:
    """A two-colour screen-print poster of the person: their tones (locally contrast-equalised, softly posterised
    into six bands) mapped from the shadow colour to the highlight colour (the backdrop, the palette's third colour,
    goes behind it afterwards)."""
    dark, light = (np.asarray(c, np.float32) for c in palette[:2])
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(6, 6)).apply(grey).astype(np.float32)
    person = matte > 0.5
    lo, hi = np.percentile(grey[person], (2, 98)) if person.any() else (0.0, 255.0)
    t = np.clip((grey - lo) / max(hi - lo, 1.0), 0, 1)
    t = cv2.bilateralFilter(t, 7, 0.1, 5)
    bands = 6
    q = t * (bands - 1)
    frac = q - np.floor(q)
    t = (np.floor(q) + np.clip((frac - 0.35) / 0.3, 0, 1)) / (bands - 1)  # soft steps between the bands
    tone = dark[None, None] + (light - dark)[None, None] * t[..., None]
    return np.clip(tone + 0.5, 0, 255).astype(np.uint8)
