"""Turn whatever the user handed us into an RGB uint8 array, or say clearly why we can't.

Accepted: a path (str / Path), raw bytes, a file-like object, a PIL image, or a numpy array (RGB order,
H×W, H×W×1, H×W×3 or H×W×4; uint8, uint16 or float in [0, 1]). EXIF orientation is applied, every PIL
colour mode ends as RGB, and the pixel count is checked *before* decoding so a decompression bomb becomes
an `InputError` instead of a frozen machine.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

#: Default upper bound on decoded pixels (width × height). 50 MP covers every phone and most DSLRs.
DEFAULT_MAX_PIXELS = 50_000_000
#: Longest side / shortest side beyond which an image is a strip, not a photo (panoramas reach about 6:1); the
#: detectors' fixed-size resizes would round such a strip's short side to zero pixels.
MAX_ASPECT = 12

ImageLike = Any  # str | os.PathLike | bytes | BinaryIO | PIL.Image.Image | np.ndarray

# Float arrays may overshoot [0, 1] a little (bicubic resampling rings); beyond these they are an error.
_FLOAT_MAX_OVERSHOOT = 1.5
_FLOAT_MIN_UNDERSHOOT = 0.1


def load_image(src: ImageLike, *, what: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load `src` as a contiguous H×W×3 RGB uint8 array.

    Args:
        src: the image in any accepted form (see module docstring).
        what: how to name the input in error messages ("source photo", "garment", …).
        max_pixels: refuse images with more pixels than this.

    Raises:
        InputError: for missing, empty, non-image, corrupt, truncated or oversized inputs.
    """
    if src is None:
        raise InputError(f"No {what} was given. Upload or pass an image file (JPEG, PNG or WebP).")
    if isinstance(src, np.ndarray):
        return _from_array(src, what, max_pixels)
    if isinstance(src, Image.Image):
        _check_size(src.size, what, max_pixels)
        # A PIL image straight from Image.open() is still lazy: decode it here, under the same error handling.
        _decode(src, what)
        return _to_rgb_array(ImageOps.exif_transpose(src), what)
    return _to_rgb_array(_open(src, what, max_pixels), what)


def _open(src: ImageLike, what: str, max_pixels: int) -> Image.Image:
    name = what
    if isinstance(src, (str, os.PathLike)):
        path = Path(src).expanduser()
        name = f"{what} '{path.name}'"
        if not path.exists():
            raise InputError(f"The {what} file '{path}' does not exist. Check the path.")
        if path.is_dir():
            raise InputError(f"The {what} path '{path}' is a folder, not an image file.")
        if path.stat().st_size == 0:
            raise InputError(f"The {name} is an empty file (0 bytes). Re-export or re-download it.")
        fp: Any = path
    elif isinstance(src, (bytes, bytearray, memoryview)):
        if len(src) == 0:
            raise InputError(f"The {what} is empty (0 bytes).")
        fp = io.BytesIO(bytes(src))
    elif isinstance(src, io.TextIOBase):
        raise InputError(f"The {what} was opened as text; open the file in binary mode ('rb') instead.")
    elif hasattr(src, "read"):
        fp = src
    else:
        raise InputError(
            f"The {what} must be a file path, bytes, a PIL image or a numpy array; got {type(src).__name__}."
        )
    try:
        with warnings.catch_warnings():
            # PIL warns above ~89 MP and raises above ~179 MP; we enforce our own, lower, limit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp)
    except Image.DecompressionBombError as exc:
        # PIL refuses these (> 2 × Image.MAX_IMAGE_PIXELS) while reading the header, before our own check runs.
        pil_limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else max_pixels
        raise InputError(
            f"The {name} is far too large to open safely ({exc}). The limit is "
            f"{_mp(min(max_pixels, pil_limit))}: downscale it (a long side of 2048 px is plenty) and try again."
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            f"The {name} is not an image this studio can read (or the file is corrupt). "
            "Use JPEG, PNG, WebP, BMP or TIFF."
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: PIL refuses some file-like objects outright
        raise InputError(f"The {name} is damaged or not a valid image ({exc}). Re-export or re-download it.") from None
    _check_size(img.size, name, max_pixels)
    _decode(img, name)
    return ImageOps.exif_transpose(img)


def _decode(img: Image.Image, name: str) -> None:
    """Decode now, so truncation surfaces here as an InputError and not deep inside a model."""
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"The {name} is damaged or truncated and cannot be decoded ({exc}). Re-export or re-download it."
        ) from None


def _check_size(size: tuple[int, int], what: str, max_pixels: int) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise InputError(f"The {what} has no pixels ({w}×{h}).")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise InputError(f"The {what} is {w}×{h}: a strip, not a photo (its long side is over {MAX_ASPECT}× its short "
                         "side). Use a photo or crop it to a normal shape.")  # fmt: skip
    if w * h > max_pixels:
        raise InputError(
            f"The {what} is {w}×{h} = {_mp(w * h)}, above the limit of {_mp(max_pixels)}. "
            "Downscale it (a long side of 2048 px is plenty) and try again."
        )


def _mp(pixels: int) -> str:
    """Megapixels for messages: "50 MP", "81 MP", "0.01 MP" (never a misleading "0 MP")."""
    return f"{pixels / 1e6:.3g} MP"


def _to_rgb_array(img: Image.Image, what: str) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit single channel: scale by the real range of the data type, not by clipping at 255.
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(float(arr.max(initial=0)), 1.0) if arr.max(initial=0) > 1 else 1.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas become white, the usual background of product shots and stickers.
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    try:
        rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise InputError(f"The {what} uses colour mode '{mode}', which cannot be converted to RGB ({exc}).") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _from_array(arr: np.ndarray, what: str, max_pixels: int) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise InputError(f"The {what} array has shape {arr.shape}; expected H×W, H×W×3 (RGB) or H×W×4 (RGBA).")
    _check_size((arr.shape[1], arr.shape[0]), what, max_pixels)
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        out = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"The {what} array contains NaN or infinite values.")
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        # Clipping silently would turn a 0–255 float array all white, or darken a [-1, 1] model output.
        # Small overshoots (resampling ringing) are clipped; ranges that are clearly another convention are not.
        if hi > _FLOAT_MAX_OVERSHOOT:
            raise InputError(
                f"The {what} is a float array with values up to {hi:g}; float images must be in [0, 1]. "
                "If it holds 0–255 values, divide by 255 or convert it to uint8."
            )
        if lo < -_FLOAT_MIN_UNDERSHOOT:
            raise InputError(
                f"The {what} is a float array with values down to {lo:g}; float images must be in [0, 1]. "
                "If it is a model output in [-1, 1], map it with (x + 1) / 2 first."
            )
        out = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype == bool:
        out = arr.astype(np.uint8) * 255
    else:
        raise InputError(f"The {what} array has dtype {arr.dtype}; use uint8, uint16 or float in [0, 1].")
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    elif out.shape[-1] == 4:
        alpha = out[..., 3:4].astype(np.float32) / 255.0
        out = (out[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out)


def image_digest(rgb: np.ndarray) -> str:
    """A content hash of a decoded image (shape + pixels), used as the preprocessing cache key."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update(str(rgb.shape).encode())
    h.update(np.ascontiguousarray(rgb).data)
    return h.hexdigest()


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most `max_side`, keeping the aspect ratio."""
    import cv2

    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


#: File endings `list_images` picks up from a folder.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def list_images(path, what: str = "image") -> list[Path]:
    """The image files of a folder, sorted by name — or `[path]` for a single file (batch commands take both)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"The {what} folder '{path}' does not exist.")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in the {what} folder '{path}'.")
    return files


def input_key(image):
    """A cheap identity for an image input that changes whenever its content can have, for per-stream memos:
    path, size and mtime for files, a digest for arrays and bytes; other objects (PIL images, streams) get a
    key that never repeats."""
    if image is None:
        return None
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        stat = path.stat() if path.is_file() else None
        return (str(path), stat and stat.st_size, stat and stat.st_mtime_ns)
    if isinstance(image, np.ndarray):
        return image_digest(image)
    if isinstance(image, (bytes, bytearray)):
        import hashlib

        return hashlib.blake2b(bytes(image), digest_size=16).hexdigest()
    return object()


def wide_blur(image: np.ndarray, sigma: float, coarse_sigma: float = 3.0) -> np.ndarray:
    """Gaussian blur of σ `sigma` px; a wide one (σ over twice `coarse_sigma`) computed at the scale where σ is
    `coarse_sigma` and scaled back up. Local means and falloffs this smooth lose nothing, at a fraction of the cost
    (a close-up's lips or a garment's shadow span hundreds of pixels)."""
    import cv2

    if sigma <= 2.0 * coarse_sigma:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    f = coarse_sigma / sigma
    small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), coarse_sigma), (w, h), interpolation=cv2.INTER_LINEAR)


def shrink_to(rgb: np.ndarray, max_pixels: int) -> np.ndarray:
    """`rgb` itself when it has at most `max_pixels` pixels, else a copy scaled down to that many (area-averaged):
    the working copy an app's lite tier analyses and paints, its result then laid back with `upsample_box`."""
    import cv2

    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb
    f = (max_pixels / (h * w)) ** 0.5
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def upsample_box(full_shape: tuple, changed: np.ndarray, *arrays: np.ndarray):
    """Where a working copy changed, at full size: (the full-size box around the `changed` pixels, each of `arrays`
    resampled bilinearly onto that box, with the pixel-centre geometry of a whole-frame resize), or None when
    nothing changed. `changed` and `arrays` are at the working copy's size; only the box is ever made full size."""
    import cv2

    x, y, bw, bh = cv2.boundingRect(changed.astype(np.uint8))
    if bw == 0:
        return None
    H, W = full_shape[:2]
    h, w = changed.shape[:2]
    X0, Y0 = max(0, (x - 1) * W // w), max(0, (y - 1) * H // h)  # a pixel of margin: the bilinear footprint
    X1, Y1 = min(W, -(-(x + bw + 1) * W // w)), min(H, -(-(y + bh + 1) * H // h))
    xs = ((np.arange(X0, X1, dtype=np.float32) + 0.5) * (w / W) - 0.5)[None, :].repeat(Y1 - Y0, axis=0)
    ys = ((np.arange(Y0, Y1, dtype=np.float32) + 0.5) * (h / H) - 0.5)[:, None].repeat(X1 - X0, axis=1)
    box = (slice(Y0, Y1), slice(X0, X1))
    return box, [cv2.remap(a, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for a in arrays]
