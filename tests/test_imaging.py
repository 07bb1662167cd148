"""`studio.imaging.load_image` against bad and unusual inputs.

Every bad file is generated here in tmp_path with Pillow/numpy (no photos are copied into the repo). Each
failure must be an `InputError` whose message names the problem, because that message is what the user sees.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from studio.errors import InputError
from studio.imaging import load_image


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _noise_jpeg(w: int = 256, h: int = 192) -> bytes:
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return _encode(Image.fromarray(rgb), "JPEG", quality=90)


def _bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any size, written chunk by chunk: all-black rows compress to almost nothing, so
    even 30000×30000 is ~100 kB on disk and never exists in memory uncompressed."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------ broken files


def test_corrupt_bytes_in_a_jpg_file(tmp_path):
    path = _write(tmp_path, "noise.jpg", np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="not an image this studio can read"):
        load_image(path)


def test_jpeg_with_a_valid_header_but_garbage_body(tmp_path):
    jpeg = _noise_jpeg()
    body = np.random.default_rng(2).integers(0, 256, len(jpeg) - 600, dtype=np.uint8).tobytes()
    with pytest.raises(InputError) as err:
        load_image(_write(tmp_path, "garbled.jpg", jpeg[:600] + body))
    assert "'garbled.jpg'" in str(err.value)


def test_truncated_jpeg_is_reported_as_damaged(tmp_path):
    jpeg = _noise_jpeg()
    path = _write(tmp_path, "half.jpg", jpeg[: len(jpeg) // 2])
    with pytest.raises(InputError, match="damaged or truncated") as err:
        load_image(path, what="source photo")
    assert "source photo 'half.jpg'" in str(err.value)


def test_truncated_jpeg_stays_an_error_as_bytes_and_as_a_lazy_pil_image():
    half = _noise_jpeg()[:4000]
    with pytest.raises(InputError, match="truncated"):
        load_image(half)
    # Image.open() only reads the header; load_image must decode it under its own error handling.
    with pytest.raises(InputError, match="truncated"):
        load_image(Image.open(io.BytesIO(half)))


def test_truncated_png(tmp_path):
    png = _encode(Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
    with pytest.raises(InputError, match="'cut.png'"):
        load_image(_write(tmp_path, "cut.png", png[: len(png) * 2 // 3]))


def test_zero_byte_file(tmp_path):
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        load_image(_write(tmp_path, "empty.jpg", b""))


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 20)
    with pytest.raises(InputError, match="not an image this studio can read") as err:
        load_image(path)
    assert "notes.jpg" in str(err.value)


def test_folder_path(tmp_path):
    with pytest.raises(InputError, match="is a folder, not an image file"):
        load_image(tmp_path)


def test_missing_path_as_str_and_path(tmp_path):
    missing = tmp_path / "nowhere" / "photo.png"
    for src in (missing, str(missing)):
        with pytest.raises(InputError, match="does not exist") as err:
            load_image(src)
        assert str(missing) in str(err.value)


def test_nothing_given():
    with pytest.raises(InputError, match="No garment was given"):
        load_image(None, what="garment")


def test_unsupported_type():
    with pytest.raises(InputError, match="got int"):
        load_image(12345)


# -------------------------------------------------------------------------------------- oversized images


def test_decompression_bomb_is_refused_from_the_header_without_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path, "bomb.png", _bilevel_png(30_000, 30_000))
    assert path.stat().st_size < 1_000_000  # a real, tiny file claiming 900 MP

    def no_decoding(self):
        raise AssertionError("load_image decoded pixels of an oversized image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        load_image(path)
    assert time.perf_counter() - start < 1.0
    msg = str(err.value)
    assert "too large" in msg and "limit" in msg and "50 MP" in msg and "downscale" in msg.lower()


def test_image_over_our_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.png", _bilevel_png(9_000, 9_000))  # 81 MP: PIL only warns, we refuse

    def no_decoding(self):
        raise AssertionError("load_image decoded pixels of an oversized image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"9000×9000 = 81 MP, above the limit of 50 MP"):
        load_image(path)
    assert time.perf_counter() - start < 1.0


def test_custom_pixel_limit_applies_to_files_pil_images_and_arrays():
    png = _bilevel_png(200, 100)
    assert load_image(png).shape == (100, 200, 3)
    for src in (png, Image.new("RGB", (200, 100)), np.zeros((100, 200, 3), np.uint8)):
        with pytest.raises(InputError, match=r"200×100 = 0\.02 MP, above the limit of 0\.01 MP"):
            load_image(src, max_pixels=10_000)


def test_small_bilevel_png_decodes_to_black_rgb():
    out = load_image(_bilevel_png(64, 32))
    assert out.shape == (32, 64, 3) and out.dtype == np.uint8 and out.max() == 0


# ------------------------------------------------------------------------------------------ colour modes


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    img = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    img.paste((0, 0, 0, 255), (0, 16, 32, 32))  # black bottom half
    out = load_image(_write(tmp_path, "cmyk.jpg", _encode(img, "JPEG", quality=95)))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[4, 4], (255, 0, 0), atol=6)
    np.testing.assert_allclose(out[28, 28], (0, 0, 0), atol=6)


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    gray = np.zeros((8, 24), np.uint16)
    gray[:, 8:16] = 32768  # mid-grey in 16 bits
    gray[:, 16:] = 65535
    path = _write(tmp_path, "depth16.png", _encode(Image.fromarray(gray), "PNG"))
    assert Image.open(path).mode.startswith("I")  # really a 16-bit file
    out = load_image(path)
    assert out.shape == (8, 24, 3)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert abs(int(out[0, 10, 0]) - 128) <= 1, "16-bit mid-grey must map to ~128, not be clipped to 255"
    assert out[0, 20].tolist() == [255, 255, 255]


def test_rgba_png_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:] = (0, 0, 255, 0)  # fully transparent blue
    out = load_image(_write(tmp_path, "sticker.png", _encode(Image.fromarray(rgba, "RGBA"), "PNG")))
    assert out[5, 2].tolist() == [255, 0, 0]
    assert out[5, 15].tolist() == [255, 255, 255]


def test_half_transparent_rgba_blends_over_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[...] = (0, 0, 0, 128)
    out = load_image(Image.fromarray(rgba, "RGBA"))
    assert abs(int(out[0, 0, 0]) - 127) <= 1


def test_la_png(tmp_path):
    la = Image.new("LA", (8, 4), (40, 255))
    la.paste((200, 0), (4, 0, 8, 4))  # transparent right half
    out = load_image(_write(tmp_path, "la.png", _encode(la, "PNG")))
    assert out[0, 0].tolist() == [40, 40, 40]
    assert out[0, 6].tolist() == [255, 255, 255]


def test_palette_png_with_transparency(tmp_path):
    p = Image.new("P", (8, 4), 1)
    p.putpalette([0, 255, 0, 200, 0, 0] + [0, 0, 0] * 254)  # index 0 green, index 1 dark red
    p.paste(0, (0, 0, 4, 4))
    path = _write(tmp_path, "palette.png", _encode(p, "PNG", transparency=0))
    assert Image.open(path).mode == "P" and "transparency" in Image.open(path).info
    out = load_image(path)
    assert out[0, 0].tolist() == [255, 255, 255]  # the transparent index is white, not green
    assert out[0, 6].tolist() == [200, 0, 0]


def test_palette_png_without_transparency(tmp_path):
    p = Image.new("P", (4, 4), 0)
    p.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    assert load_image(_write(tmp_path, "p.png", _encode(p, "PNG")))[0, 0].tolist() == [10, 20, 30]


def test_grayscale_l(tmp_path):
    out = load_image(_write(tmp_path, "gray.png", _encode(Image.new("L", (6, 3), 77), "PNG")))
    assert out.shape == (3, 6, 3) and (out == 77).all()


def test_bilevel_mode_1(tmp_path):
    img = Image.new("1", (8, 2), 0)
    img.paste(1, (4, 0, 8, 2))
    out = load_image(_write(tmp_path, "mono.png", _encode(img, "PNG")))
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 7].tolist() == [255, 255, 255]


def test_text_mode_file_object_is_explained(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(_encode(Image.new("RGB", (4, 4)), "PNG"))
    with open(path, encoding="latin-1") as fh, pytest.raises(InputError, match="binary mode"):
        load_image(fh)
    with pytest.raises(InputError, match="binary mode"):
        load_image(io.StringIO("not bytes"))


# ------------------------------------------------------------------------------------------------ EXIF


def test_exif_orientation_6_is_applied(tmp_path):
    # Stored 40 wide × 20 high with a red block at the stored top-left. Orientation 6 means "rotate 90°
    # clockwise to display": the result is 20 wide × 40 high and the block lands in the top-right corner.
    img = Image.new("RGB", (40, 20), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _write(tmp_path, "phone.jpg", _encode(img, "JPEG", quality=95, exif=exif.tobytes()))
    out = load_image(path)
    assert out.shape == (40, 20, 3)
    top_right = out[1:7, -7:-1].reshape(-1, 3).mean(axis=0)
    assert top_right[0] > 200 and top_right[1] < 40 and top_right[2] < 40
    for corner in (out[1:7, 1:7], out[-7:-1, 1:7], out[-7:-1, -7:-1]):
        assert corner.mean() > 230  # the other corners stay white


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_block_does_not_stop_the_image_loading():
    jpeg = _encode(Image.new("RGB", (8, 8), (10, 20, 30)), "JPEG", quality=95)
    garbage = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x09\x00\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage  # orientation 9: invalid
    out = load_image(jpeg[:2] + app1 + jpeg[2:])
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out[4, 4], (10, 20, 30), atol=4)


# ---------------------------------------------------------------------------------------- numpy inputs


def test_float_array_in_unit_range():
    arr = np.zeros((2, 3, 3), np.float32)
    arr[0, 0] = (1.0, 0.5, 0.0)
    arr[1, 2] = (1.02, -0.01, 0.25)  # slight resampling overshoot is clipped, not refused
    out = load_image(arr)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out[0, 0].tolist() == [255, 128, 0]
    assert out[1, 2].tolist() == [255, 0, 64]


def test_float_array_holding_0_255_values_is_refused():
    with pytest.raises(InputError, match=r"values up to 200.*divide by 255"):
        load_image(np.full((4, 4, 3), 200.0))


def test_float_array_in_minus_one_to_one_is_refused():
    with pytest.raises(InputError, match=r"down to -1.*\(x \+ 1\) / 2"):
        load_image(np.linspace(-1, 1, 48, dtype=np.float32).reshape(4, 4, 3))


def test_uint16_array_is_scaled():
    arr = np.array([[0, 32768, 65535]], np.uint16)
    out = load_image(arr)
    assert out.shape == (1, 3, 3)
    assert out[0, :, 0].tolist() == [0, 128, 255]


def test_hxwx1_and_hxw_arrays_become_gray_rgb():
    out = load_image(np.full((5, 7, 1), 90, np.uint8))
    assert out.shape == (5, 7, 3) and (out == 90).all()
    assert load_image(np.full((5, 7), 90, np.uint8)).shape == (5, 7, 3)


def test_hxwx4_array_composites_alpha_over_white():
    arr = np.zeros((2, 2, 4), np.uint8)
    arr[0, 0] = (0, 0, 255, 255)  # opaque blue
    arr[0, 1] = (0, 0, 255, 0)  # transparent
    out = load_image(arr)
    assert out[0, 0].tolist() == [0, 0, 255]
    assert out[0, 1].tolist() == [255, 255, 255]


def test_bool_array_is_black_and_white():
    out = load_image(np.array([[True, False]]))
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 1].tolist() == [0, 0, 0]


def test_output_is_contiguous_even_for_a_strided_view():
    arr = np.random.default_rng(4).integers(0, 256, (10, 10, 3), dtype=np.uint8)[::2, ::-1]
    out = load_image(arr)
    assert out.flags["C_CONTIGUOUS"] and np.array_equal(out, arr)


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (2, 4, 4, 3), (12,)])
def test_wrong_array_shapes(shape):
    with pytest.raises(InputError, match=r"has shape .*expected H×W, H×W×3"):
        load_image(np.zeros(shape, np.uint8))


def test_empty_array():
    with pytest.raises(InputError, match="no pixels"):
        load_image(np.zeros((0, 4, 3), np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float_arrays(bad):
    arr = np.full((3, 3, 3), 0.5)
    arr[1, 1, 1] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        load_image(arr)


@pytest.mark.parametrize("dtype", [np.int64, np.complex64, object])
def test_unsupported_array_dtypes(dtype):
    with pytest.raises(InputError, match="use uint8, uint16 or float"):
        load_image(np.zeros((4, 4, 3), dtype))


# ------------------------------------------------------------------------------- bytes and file objects


def test_bytes_bytearray_memoryview_and_file_objects_all_decode():
    rgb = np.zeros((6, 9, 3), np.uint8)
    rgb[:, :3] = (255, 0, 0)
    png = _encode(Image.fromarray(rgb), "PNG")
    for src in (png, bytearray(png), memoryview(png), io.BytesIO(png)):
        assert np.array_equal(load_image(src), rgb), type(src).__name__


def test_real_file_object_opened_in_binary_mode(tmp_path):
    path = _write(tmp_path, "ok.webp", _encode(Image.new("RGB", (5, 5), (1, 2, 3)), "WEBP", lossless=True))
    with open(path, "rb") as fh:
        assert load_image(fh)[0, 0].tolist() == [1, 2, 3]


def test_empty_bytes_and_empty_stream():
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        load_image(b"")
    with pytest.raises(InputError, match="not an image"):
        load_image(io.BytesIO())


def test_random_bytes():
    with pytest.raises(InputError, match="not an image this studio can read"):
        load_image(b"GIF89a" + bytes(50))


@pytest.mark.parametrize("shape", [(1, 5000, 3), (5000, 1, 3), (20, 400, 3)])
def test_strips_are_refused_with_the_reason(shape):
    with pytest.raises(InputError, match="a strip, not a photo"):
        load_image(np.full(shape, 128, np.uint8), what="source photo")


def test_every_app_answers_a_strip_with_an_input_error(tmp_path):
    """1×5000 once crashed the face analyser (a resize to zero pixels): now every app says what is wrong."""
    from studio.apps import all_apps
    from studio.context import make_context

    strip = tmp_path / "strip.png"
    Image.fromarray(np.full((1, 5000, 3), 128, np.uint8)).save(strip)
    ctx = make_context("cpu")
    for app in all_apps():
        with pytest.raises(InputError, match="a strip"):
            app(ctx, **{name: str(strip) for name in app.image_params})
