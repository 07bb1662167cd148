"""Box crops for diffusion on part of a photo, with the paste-back, and the OpenPose render inside the crop.

A body app (try-on, avatar) generates on a box around the area it changes, shaped like one of the model's
aspect buckets at its native resolution, then pastes the result back under a soft mask. The box may reach past
the photo's edge: that part is padding for the model and is never pasted back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Work shapes as (width, height) fractions of the native side. SDXL was trained on aspect buckets; 768×1024 fits
#: a standing torso with less padding than a square, 1024×768 suits arms held wide.
ASPECT_BUCKETS = ((0.75, 1.0), (1.0, 1.0), (1.0, 0.75))


@dataclass(frozen=True)
class BoxCrop:
    """A box of a photo (x0, y0, x1, y1 in photo pixels, possibly past its edges) and the (width, height) the
    pipeline works at."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]

    @property
    def scale(self) -> float:
        """Photo pixels per work pixel."""
        return (self.box[2] - self.box[0]) / self.size[0]

    def cut(self, image: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        """The box of `image` resized to the work size; past the photo's edge the edge is extended."""
        x0, y0, x1, y1 = self.box
        h, w = image.shape[:2]
        part = image[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
        pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
        if any(pads):
            part = cv2.copyMakeBorder(part, *pads, border, value=0)
        shrink = (x1 - x0) * (y1 - y0) > self.size[0] * self.size[1]
        return cv2.resize(part, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

    def paste(self, crop: np.ndarray, onto: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """`onto` with `crop` (the pipeline's image, or a preview of any size) blended back under `alpha` (float
        H×W of the photo, 0–1). Outside the mask the result holds the photo's own bytes, not a resize round trip."""
        x0, y0, x1, y1 = self.box
        h, w = onto.shape[:2]
        bw, bh = x1 - x0, y1 - y0
        grow = bw * bh > crop.shape[0] * crop.shape[1]
        big = cv2.resize(crop, (bw, bh), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
        gx0, gy0, gx1, gy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        part = big[gy0 - y0 : gy1 - y0, gx0 - x0 : gx1 - x0].astype(np.float32)
        a = alpha[gy0:gy1, gx0:gx1, None]
        base = onto[gy0:gy1, gx0:gx1]
        blend = np.clip(base + (part - base) * a + 0.5, 0, 255).astype(np.uint8)
        out = onto.copy()
        out[gy0:gy1, gx0:gx1] = np.where(a > 0, blend, base)
        return out

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Photo (x, y, …) points in work-canvas coordinates (a copy; columns past x, y are left as they are)."""
        x0, y0, x1, y1 = self.box
        out = np.array(points, np.float32, copy=True)
        out[:, 0] = (out[:, 0] - x0) * self.size[0] / (x1 - x0)
        out[:, 1] = (out[:, 1] - y0) * self.size[1] / (y1 - y0)
        return out


def box_around(mask: np.ndarray, pad: float, resolution: int, buckets=ASPECT_BUCKETS) -> BoxCrop:
    """The crop around the True pixels of `mask` with `pad` pixels of context, widened to the closest aspect
    bucket at `resolution`, and moved inside the photo where it fits."""
    h, w = mask.shape[:2]
    ys, xs = np.nonzero(mask)
    if not len(xs):
        raise ValueError("box_around needs a mask with at least one pixel set.")
    x0, x1, y0, y1 = xs.min() - pad, xs.max() + 1 + pad, ys.min() - pad, ys.max() + 1 + pad
    bw, bh = x1 - x0, y1 - y0
    fw, fh = min(buckets, key=lambda s: abs(np.log(s[0] / s[1] * bh / bw)))
    size = (max(8, round(fw * resolution / 8) * 8), max(8, round(fh * resolution / 8) * 8))
    aspect = size[0] / size[1]
    bw, bh = max(bw, bh * aspect), max(bh, bw / aspect)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0 = min(max(cx - bw / 2, 0), w - bw) if bw <= w else cx - bw / 2
    y0 = min(max(cy - bh / 2, 0), h - bh) if bh <= h else cy - bh / 2
    x0, y0 = round(x0), round(y0)
    return BoxCrop((x0, y0, x0 + round(bw), y0 + round(bh)), size)


def pose_control(pose, crop: BoxCrop, controlnet: str | None = None) -> np.ndarray:
    """The OpenPose render of `pose` in the crop's work canvas (strokes sized for that canvas, as ControlNet saw
    its training images)."""
    from .pose import BodyPose, render_openpose

    kp = crop.to_crop(pose.keypoints)
    kp[:, 2] *= crop.size[0] / (crop.box[2] - crop.box[0])  # depth scales with x
    placed = BodyPose(kp, (crop.size[1], crop.size[0]))
    return render_openpose(placed, controlnet)
