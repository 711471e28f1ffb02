"""Tests for :mod:`analysis.io`; every input is generated in memory."""

from __future__ import annotations

import hashlib
import io
import resource
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tifffile
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps
from skimage import data

from analysis.errors import AnalysisError
from analysis.io import LoadLimits, load_image, read_bytes

ASTRO: NDArray[np.uint8] = data.astronaut()  # type: ignore[no-untyped-call]  # RGB
UPRIGHT = np.ascontiguousarray(ASTRO[:400, :300])  # non-square, to see rotations


def encode(img: NDArray[Any] | Image.Image, fmt: str, **kw: Any) -> bytes:
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def cv_encode(arr: NDArray[Any], ext: str) -> bytes:
    """Encode with OpenCV (the only in-memory writer of 16-bit RGB PNG/TIFF); ``arr`` is RGB."""
    bgr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.ndim == 3 else arr
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(bgr))
    assert ok
    return bytes(buf.tobytes())


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def pillow_oriented(img: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    """What Pillow's ``exif_transpose`` makes of ``img`` stored with this orientation."""
    im = Image.open(io.BytesIO(encode(img, "PNG", exif=exif_bytes(orientation))))
    return np.asarray(ImageOps.exif_transpose(im))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width x height`` pixels, a few tens of KB on disk."""
    z = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def expect(code: str, source: Any, limits: LoadLimits | None = None) -> AnalysisError:
    with pytest.raises(AnalysisError) as info:
        load_image(source, limits=limits or LoadLimits())
    assert info.value.code == code, info.value.message
    return info.value


def max_diff(a: NDArray[Any], b: NDArray[Any]) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def check_photo(photo: Any, shape: tuple[int, ...], fmt: str, bits: int = 8) -> None:
    assert photo.rgb.dtype == np.uint8
    assert photo.rgb.shape == shape
    assert photo.rgb.flags.c_contiguous
    assert photo.rgb.flags.writeable
    assert photo.source_format == fmt
    assert photo.source_bit_depth == bits


# --- supported formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kw", "name", "tol"),
    [
        ("JPEG", {"quality": 95}, "JPEG", 3.0),
        ("PNG", {}, "PNG", 0.0),
        ("WEBP", {"quality": 95}, "WEBP", 3.0),
        ("WEBP", {"lossless": True}, "WEBP", 0.0),
        ("TIFF", {}, "TIFF", 0.0),
        ("TIFF", {"compression": "tiff_lzw"}, "TIFF", 0.0),
    ],
)
def test_rgb_formats(fmt: str, kw: dict[str, Any], name: str, tol: float) -> None:
    raw = encode(ASTRO, fmt, **kw)
    photo = load_image(raw)
    check_photo(photo, ASTRO.shape, name)
    assert max_diff(photo.rgb, ASTRO) <= tol
    assert photo.sha256 == hashlib.sha256(raw).hexdigest()
    assert photo.exif_orientation == 1


def test_mpo_is_jpeg() -> None:
    first, second = Image.fromarray(ASTRO), Image.fromarray(ASTRO[::-1].copy())
    photo = load_image(encode(first, "MPO", quality=95, save_all=True, append_images=[second]))
    check_photo(photo, ASTRO.shape, "JPEG")
    assert max_diff(photo.rgb, ASTRO) < 3


def test_grayscale_jpeg_is_replicated() -> None:
    gray = ASTRO[..., 1]
    photo = load_image(encode(gray, "JPEG", quality=95))
    check_photo(photo, ASTRO.shape, "JPEG")
    assert np.array_equal(photo.rgb[..., 0], photo.rgb[..., 2])
    assert max_diff(photo.rgb[..., 0], gray) < 3


def test_rgba_png_drops_alpha() -> None:
    rgba = np.dstack([ASTRO, np.zeros(ASTRO.shape[:2], np.uint8)])  # fully transparent
    assert np.array_equal(load_image(encode(rgba, "PNG")).rgb, ASTRO)


def test_palette_png_with_transparency() -> None:
    pal = Image.fromarray(ASTRO).quantize(64)
    expected = np.asarray(pal.convert("RGB"))
    raw = encode(pal, "PNG", transparency=bytes([0] * 8 + [255] * 56))  # tRNS as bytes
    photo = load_image(raw)  # Pillow would warn converting this straight to RGB
    check_photo(photo, ASTRO.shape, "PNG")
    assert np.array_equal(photo.rgb, expected)


def test_cmyk_jpeg_red_patch_stays_red() -> None:
    raw = encode(Image.new("CMYK", (96, 80), (0, 255, 255, 0)), "JPEG", quality=95)
    assert b"Adobe" in raw  # Adobe (inverted) CMYK
    photo = load_image(raw)
    check_photo(photo, (80, 96, 3), "JPEG")
    r, g, b = photo.rgb.reshape(-1, 3).mean(axis=0)
    assert r > 245
    assert g < 10
    assert b < 10


# --- 16 bits -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".tiff"])
@pytest.mark.parametrize("gray", [False, True])
def test_16bit_made_from_8bit_round_trips_exactly(ext: str, gray: bool) -> None:
    img8 = ASTRO[..., 0] if gray else ASTRO
    photo = load_image(cv_encode(img8.astype(np.uint16) * 257, ext))
    check_photo(photo, ASTRO.shape, ext[1:].upper(), bits=16)
    expected = np.dstack([img8] * 3) if gray else img8
    assert np.array_equal(photo.rgb, expected)


def test_16bit_rounds_instead_of_truncating() -> None:
    values = np.array([0, 128, 129, 32767, 32768, 65406, 65407, 65535], np.uint16)
    img = np.broadcast_to(np.repeat(values, 8)[None, :, None], (64, 64, 3))
    photo = load_image(cv_encode(img, ".png"))
    got = photo.rgb[0, ::8, 0]
    assert got.tolist() == [0, 0, 1, 127, 128, 254, 255, 255]  # round(v * 255 / 65535)


def test_16bit_rgba_png_drops_alpha() -> None:
    rgb16 = ASTRO.astype(np.uint16) * 257
    rgba16 = np.dstack([rgb16, np.full(ASTRO.shape[:2], 1000, np.uint16)])
    photo = load_image(cv_encode(rgba16, ".png"))
    assert photo.source_bit_depth == 16
    assert np.array_equal(photo.rgb, ASTRO)


def test_16bit_png_with_exif_orientation() -> None:
    stored = np.rot90(UPRIGHT, 1).astype(np.uint16) * 257
    raw = cv_encode(stored, ".png")
    raw = raw[:33] + png_chunk(b"eXIf", exif_bytes(6)[6:]) + raw[33:]  # after IHDR
    photo = load_image(raw)
    assert photo.exif_orientation == 6
    assert photo.source_bit_depth == 16
    assert np.array_equal(photo.rgb, UPRIGHT)


@pytest.mark.parametrize(("bigtiff", "kind"), [(False, "H"), (True, "H"), (False, "I")])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_tiff_orientation_applied_once(orientation: int, bigtiff: bool, kind: str) -> None:
    """OpenCV applies TIFF orientation itself; the result must still be rotated exactly once."""
    stored = ASTRO[:96, :128]
    buf = io.BytesIO()
    tag = (274, kind, 1, orientation, True)  # SHORT as the standard says, or LONG
    img16 = stored.astype(np.uint16) * 257
    tifffile.imwrite(buf, img16, photometric="rgb", bigtiff=bigtiff, extratags=[tag])
    photo = load_image(buf.getvalue())
    assert photo.exif_orientation == orientation
    assert photo.source_bit_depth == 16
    assert np.array_equal(photo.rgb, pillow_oriented(stored, orientation))


def test_16bit_gray_tiff_from_pillow_with_orientation() -> None:
    gray = ASTRO[:96, :128, 0]
    raw = encode(Image.fromarray(gray.astype(np.uint16) * 257), "TIFF", exif=exif_bytes(8))
    photo = load_image(raw)
    assert photo.source_bit_depth == 16
    assert photo.exif_orientation == 8
    assert np.array_equal(photo.rgb, np.dstack([np.rot90(gray, 1)] * 3))


# --- EXIF orientation --------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "k"), [(6, 1), (8, -1), (3, 2)])
def test_jpeg_exif_orientation(orientation: int, k: int) -> None:
    stored = np.ascontiguousarray(np.rot90(UPRIGHT, k))  # as the camera stored it
    photo = load_image(encode(stored, "JPEG", quality=95, exif=exif_bytes(orientation)))
    assert photo.exif_orientation == orientation
    assert (photo.height, photo.width) == UPRIGHT.shape[:2]
    assert max_diff(photo.rgb, UPRIGHT) < 3


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow(orientation: int, fmt: str) -> None:
    """Lossless formats, exact comparison (Pillow 13 itself rotates TIFFs while decoding)."""
    stored = ASTRO[:96, :128]
    kw = {"lossless": True} if fmt == "WEBP" else {}
    photo = load_image(encode(stored, fmt, exif=exif_bytes(orientation), **kw))
    assert photo.exif_orientation == orientation
    assert np.array_equal(photo.rgb, pillow_oriented(stored, orientation))


def test_invalid_orientation_is_ignored() -> None:
    photo = load_image(encode(UPRIGHT, "PNG", exif=exif_bytes(9)))
    assert photo.exif_orientation == 1
    assert np.array_equal(photo.rgb, UPRIGHT)


# --- refused inputs ----------------------------------------------------------------------


def test_empty_bytes() -> None:
    assert "empty" in expect("unreadable_image", b"").message


@pytest.mark.parametrize(
    "raw",
    [
        b"Dear clinic, please find the photo attached.\n",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(100),
        b"\x00\x00\x01",
    ],
    ids=["text", "pdf", "zip", "junk"],
)
def test_not_an_image(raw: bytes) -> None:
    message = expect("unsupported_format", raw).message
    assert "JPEG, PNG, TIFF or WebP" in message


@pytest.mark.parametrize(
    ("brands", "heif"),
    [
        (b"heic\x00\x00\x00\x00mif1heic", True),
        (b"avif\x00\x00\x00\x00avifmif1", True),
        (b"isom\x00\x00\x02\x00isomiso2", False),
    ],
    ids=["heic", "avif", "mp4"],
)
def test_phone_formats_are_named(brands: bytes, heif: bool) -> None:
    """An iPhone's HEIC (or an AVIF) is told apart from other unreadable files, so the
    assistant is told how to get a JPEG; a video is refused as any other file."""
    box = b"ftyp" + brands
    raw = len(box + b"0000").to_bytes(4, "big") + box + bytes(200)
    message = expect("unsupported_format", raw).message
    assert ("HEIC" in message) is heif
    assert ("JPEG, PNG, TIFF or WebP" in message) is not heif


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "PPM", "ICO"])
def test_other_image_formats_unsupported(fmt: str) -> None:
    expect("unsupported_format", encode(ASTRO[:128, :128], fmt))


def test_float_tiff_unsupported() -> None:
    expect("unsupported_format", encode(Image.fromarray(ASTRO[..., 0] / 255.0), "TIFF"))


def test_truncated_jpeg_is_refused_not_padded() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    raw = encode(ASTRO, "JPEG", quality=95)
    expect("unreadable_image", raw[: len(raw) // 2])


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_truncated_image(fmt: str) -> None:
    raw = encode(ASTRO, fmt)
    expect("unreadable_image", raw[: len(raw) // 2])


def test_truncated_16bit_png() -> None:
    raw = cv_encode(ASTRO.astype(np.uint16) * 257, ".png")
    expect("unreadable_image", raw[: len(raw) // 2])


def test_damaged_header() -> None:
    expect("unreadable_image", b"\xff\xd8\xff\xe0" + bytes(200))
    expect("unreadable_image", b"\x89PNG\r\n\x1a\n" + bytes(200))


def test_corrupt_png_crc() -> None:
    raw = bytearray(encode(ASTRO, "PNG"))
    raw[len(raw) // 2] ^= 0xFF
    expect("unreadable_image", bytes(raw))


def test_too_small() -> None:
    message = expect("image_too_small", encode(np.zeros((1, 1, 3), np.uint8), "PNG")).message
    assert "1 x 1" in message
    assert "64" in message
    expect("image_too_small", encode(np.zeros((63, 500, 3), np.uint8), "JPEG"))


@pytest.mark.parametrize(("width", "height"), [(20000, 20000), (10000, 10000), (9000, 8000)])
def test_decompression_bomb(width: int, height: int) -> None:
    """Above twice Pillow's limit, above its warning, above ours only: refused from the header."""
    raw = bomb_png(width, height)
    assert len(raw) < 100_000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    message = expect("image_too_large", raw).message
    assert time.perf_counter() - start < 0.2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 50_000  # KiB
    assert f"{width * height / 1e6:.1f} megapixels" in message
    assert "64.0 megapixels" in message


def test_custom_pixel_limit() -> None:
    limits = LoadLimits(max_pixels=100_000)
    assert "512 x 512" in expect("image_too_large", encode(ASTRO, "PNG"), limits).message


def test_too_many_bytes() -> None:
    raw = encode(ASTRO, "PNG")
    message = expect("image_too_large", raw, LoadLimits(max_bytes=1000)).message
    assert f"{len(raw):,} bytes" in message
    assert "1,000 bytes" in message


# --- paths -------------------------------------------------------------------------------


def test_path_input(tmp_path: Path) -> None:
    raw = encode(ASTRO, "JPEG", quality=95)
    path = tmp_path / "photo.jpg"
    path.write_bytes(raw)
    for source in (path, str(path)):
        photo = load_image(source)
        assert photo.sha256 == hashlib.sha256(raw).hexdigest()
        assert max_diff(photo.rgb, ASTRO) < 3
    assert read_bytes(path) == raw


def test_missing_path(tmp_path: Path) -> None:
    expect("unreadable_image", tmp_path / "missing.jpg")
    expect("unreadable_image", str(tmp_path))  # a directory
    with pytest.raises(AnalysisError) as info:
        read_bytes(tmp_path / "missing.jpg")
    assert info.value.code == "unreadable_image"


def test_path_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode(ASTRO, "PNG"))
    expect("image_too_large", path, LoadLimits(max_bytes=1000))


# --- arrays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "bits"),
    [
        (ASTRO, 8),
        (np.dstack([ASTRO, np.zeros(ASTRO.shape[:2], np.uint8)]), 8),
        (ASTRO.astype(np.uint16) * 257, 16),
        (ASTRO / 255.0, 16),
        ((ASTRO / 255.0).astype(np.float32), 16),
        (np.asfortranarray(ASTRO), 8),
    ],
    ids=["uint8", "rgba", "uint16", "float64", "float32", "fortran"],
)
def test_array_input(array: NDArray[Any], bits: int) -> None:
    photo = load_image(array)
    check_photo(photo, ASTRO.shape, "array", bits)
    assert np.array_equal(photo.rgb, ASTRO)
    assert photo.sha256 == hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    assert photo.rgb is not array
    assert not np.shares_memory(photo.rgb, array)


def test_gray_array() -> None:
    photo = load_image(ASTRO[..., 0])
    assert photo.rgb.shape == ASTRO.shape
    assert np.array_equal(photo.rgb[..., 2], ASTRO[..., 0])


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(100, np.uint8),
        np.zeros((100, 100, 3, 1), np.uint8),
        np.zeros((100, 100, 2), np.uint8),
        np.zeros((0, 100, 3), np.uint8),
        np.full((100, 100, 3), np.nan),
        np.full((100, 100, 3), 1.5),
        np.zeros((100, 100, 3), np.int32),
        np.zeros((100, 100, 3), bool),
        np.zeros((100, 100, 3), object),
    ],
    ids=["1d", "4d", "2ch", "empty", "nan", "float>1", "int32", "bool", "object"],
)
def test_bad_array(array: NDArray[Any]) -> None:
    expect("unreadable_image", array)


def test_small_array() -> None:
    expect("image_too_small", np.zeros((10, 100, 3), np.uint8))


def test_unexpected_input_type() -> None:
    expect("unreadable_image", 42)
