"""First pipeline stage: a path, bytes or an array in, an upright 8-bit RGB :class:`Photo` out.

Every failure on user input raises an :class:`~analysis.errors.AnalysisError` subclass:
``unreadable_image``, ``unsupported_format``, ``image_too_large`` or ``image_too_small``.
Pillow reads the header, format and EXIF; 16-bit PNG/TIFF pixels are decoded by OpenCV at
full depth (Pillow would truncate them to 8 bits).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import (
    Image,
    JpegImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,  # noqa: F401  (registers the plugin)
)

from analysis.errors import (
    AnalysisError,
    ImageTooLarge,
    ImageTooSmall,
    UnreadableImage,
    UnsupportedFormat,
)
from analysis.types import U8, Photo

_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WEBP"}
_OPEN_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")  # Pillow opens MPO through its JPEG plugin
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_AGAIN = " Please upload the original photo again."
_EMPTY = "The photo could not be read: the file is empty." + _AGAIN
_DAMAGED = "The photo could not be read: the file is damaged or incomplete." + _AGAIN
_UNSUPPORTED = "This file is not a photo in a supported format (JPEG, PNG, TIFF or WebP)."
_HEIF = (
    "This photo is in the HEIC or AVIF format, which iPhones and some Android phones save by "
    "default; it cannot be read here. Please upload it as JPEG (on an iPhone: Settings > "
    "Camera > Formats > Most Compatible, or export or share it as JPEG)."
)
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class LoadLimits:
    """Size limits checked before any pixel is decoded.

    Attributes
    ----------
    max_bytes:
        Largest accepted file, in bytes.
    max_pixels:
        Largest accepted ``width * height`` (read from the header). Pillow itself refuses
        more than ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (about 179 megapixels) whatever this is.
    min_side:
        Smallest accepted width and height, in pixels.
    """

    max_bytes: int = 60 * 1024 * 1024
    max_pixels: int = 64_000_000
    min_side: int = 64


def load_image(
    source: str | os.PathLike[str] | bytes | np.ndarray, *, limits: LoadLimits = LoadLimits()
) -> Photo:
    """Decode a photo into an upright ``(H, W, 3)`` uint8 RGB :class:`Photo`.

    Parameters
    ----------
    source:
        A file path, the file's bytes, or an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array
        (uint8, uint16, or float in ``[0, 1]``).
    limits:
        Size limits; see :class:`LoadLimits`.

    Raises
    ------
    AnalysisError
        ``UnreadableImage``, ``UnsupportedFormat``, ``ImageTooLarge`` or ``ImageTooSmall``.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source), limits)
    if isinstance(source, (str, os.PathLike)):
        return _from_bytes(read_bytes(source, limits=limits), limits)
    raise UnreadableImage(
        f"The photo could not be read: unexpected input ({type(source).__name__})."
    )


def read_bytes(path: str | os.PathLike[str], *, limits: LoadLimits = LoadLimits()) -> bytes:
    """Read a photo file, refusing it by its size on disk before reading it.

    Raises
    ------
    UnreadableImage
        The file is missing, not a regular file, or cannot be read.
    ImageTooLarge
        The file is larger than ``limits.max_bytes``.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableImage("The photo could not be read: this is not a file." + _AGAIN)
        _check_bytes(info.st_size, limits)
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)  # the file may have grown since stat
    except (OSError, ValueError) as exc:
        missing = "The photo could not be read: the file is missing or cannot be opened."
        raise UnreadableImage(missing + _AGAIN) from exc
    _check_bytes(len(data), limits)
    return data


def _from_bytes(data: bytes, limits: LoadLimits) -> Photo:
    if not data:
        raise UnreadableImage(_EMPTY)
    _check_bytes(len(data), limits)
    # Pillow warns about large images and odd metadata; we enforce our own limits instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
        except Image.DecompressionBombError as exc:  # beyond twice Pillow's own limit
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(found[1]) / 1e6:.1f} megapixels" if found else "too many pixels"
            raise ImageTooLarge(_too_large_msg(size, limits)) from exc
        except UnidentifiedImageError as exc:
            supported = data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
            if data[4:8] == b"ftyp":  # ISO media: HEIC, HEIF, AVIF (or a video)
                raise UnsupportedFormat(_HEIF if _heif_brand(data) else _UNSUPPORTED) from exc
            raise (
                UnreadableImage(_DAMAGED) if supported else UnsupportedFormat(_UNSUPPORTED)
            ) from exc
        except Exception as exc:
            raise UnreadableImage(_DAMAGED) from exc
        with im:
            _check_size(im.width, im.height, limits)  # header only: nothing decoded yet
            try:
                rgb, bits, orientation = _decode(im, data)
            except (AnalysisError, MemoryError):
                raise
            except Exception as exc:
                raise UnreadableImage(_DAMAGED) from exc
            fmt = _FORMATS[str(im.format)]
            chroma = _chroma_px(im, data)
    return Photo(
        _orient(rgb, orientation), hashlib.sha256(data).hexdigest(), fmt, bits, orientation, chroma
    )


def _heif_brand(data: bytes) -> bool:
    """An ISO media file whose major or compatible brands name a still image (HEIC, HEIF,
    AVIF) rather than a video."""
    size = int.from_bytes(data[:4], "big")
    brands = data[8:12] + data[16 : min(max(size, 16), 64)]
    still = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
    return any(brands[i : i + 4] in still for i in range(0, len(brands) - 3, 4))


def _chroma_px(im: Image.Image, data: bytes) -> int:
    """Pixels per stored colour sample (``Photo.chroma_px``): 2 for a JPEG whose chroma is
    subsampled (4:2:0 or 4:2:2) and for a lossy WebP (VP8 is always 4:2:0), else 1."""
    if im.format == "WEBP":
        return 2 if _webp_chunks(data) & {b"VP8 "} else 1
    if not isinstance(im, JpegImagePlugin.JpegImageFile) or im.mode not in ("RGB", "YCbCr"):
        return 1
    return 2 if JpegImagePlugin.get_sampling(im) in (1, 2) else 1


def _webp_chunks(data: bytes) -> set[bytes]:
    """The chunk names of a RIFF WebP file (``VP8 ``: lossy, ``VP8L``: lossless)."""
    names, i = set(), 12
    while i + 8 <= len(data):
        size = struct.unpack("<I", data[i + 4 : i + 8])[0]
        names.add(data[i : i + 4])
        i += 8 + size + (size & 1)  # chunks are padded to an even size
    return names


def _decode(im: Image.Image, data: bytes) -> tuple[U8, int, int]:
    """Pixels as stored (not yet oriented), source bits per channel and the EXIF orientation."""
    bits = _bit_depth(im, data)
    # A PNG's eXIf may follow the pixel data: Pillow then decodes the image to find it.
    orientation = 1
    if bits == 8 or im.format != "PNG" or "exif" in im.info:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
        orientation = value if isinstance(value, int) and 1 <= value <= 8 else 1
    if im.format == "TIFF" and orientation != 1:
        # Pillow 13 and OpenCV 5 rotate TIFFs while decoding: hide the tag so only we rotate.
        data = _tiff_without_orientation(data)
        im = Image.open(io.BytesIO(data), formats=("TIFF",))
    if bits == 8:
        im.load()
        rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGBA"))[..., :3]
        return rgb, 8, orientation
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.shape[:2] != (im.height, im.width):
        raise UnreadableImage(_DAMAGED)
    arr = arr.reshape(*arr.shape[:2], -1)
    rgb16 = np.repeat(arr[..., :1], 3, axis=2) if arr.shape[2] < 3 else arr[..., 2::-1]  # BGR(A)
    return _scale16(rgb16), 16, orientation


def _bit_depth(im: Image.Image, data: bytes) -> int:
    """8 or 16 bits per channel; 32-bit and floating-point TIFFs are refused."""
    if im.format == "PNG":
        return 16 if data[12:16] == b"IHDR" and data[24] == 16 else 8
    if isinstance(im, TiffImagePlugin.TiffImageFile):
        bps, sample_format = im.tag_v2.get(258, 1), im.tag_v2.get(339, 1)
        bits = max(bps) if isinstance(bps, tuple) else int(bps)
        kinds = sample_format if isinstance(sample_format, tuple) else (sample_format,)
        if bits > 16 or any(k != 1 for k in kinds):
            raise UnsupportedFormat(
                "This TIFF file stores 32-bit or floating-point values; only 8- and 16-bit photos "
                "are supported. Please export it as an 8- or 16-bit TIFF, JPEG or PNG."
            )
        return 16 if bits == 16 else 8
    return 8


def _tiff_without_orientation(data: bytes) -> bytes:
    """A copy of a TIFF whose first-page Orientation tag is set to 1 (classic and BigTIFF)."""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    offset, count, entry, value_at = ("Q", "Q", 20, 12) if big else ("I", "H", 12, 8)
    (ifd,) = struct.unpack_from(order + offset, data, 8 if big else 4)
    (n,) = struct.unpack_from(order + count, data, ifd)
    out = bytearray(data)
    first = ifd + struct.calcsize(count)
    for pos in range(first, first + n * entry, entry):
        tag, kind = struct.unpack_from(order + "HH", data, pos)
        if tag == _ORIENTATION_TAG and kind in (3, 4):  # SHORT (standard) or LONG
            struct.pack_into(order + ("H" if kind == 3 else "I"), out, pos + value_at, 1)
    return bytes(out)


def _from_array(a: np.ndarray, limits: LoadLimits) -> Photo:
    shape_ok = a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))
    if not shape_ok or a.size == 0:
        raise UnreadableImage(
            f"The image array has shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)."
        )
    if a.dtype.kind not in "uf" or (a.dtype.kind == "u" and a.dtype.itemsize > 2):
        raise UnreadableImage(
            f"The image array has type {a.dtype}; expected uint8, uint16 or float in [0, 1]."
        )
    _check_size(a.shape[1], a.shape[0], limits)
    x = a.reshape(*a.shape[:2], -1)
    if a.dtype.kind == "f":
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise UnreadableImage("The image array holds values outside [0, 1] (or NaN).")
        x = np.rint(x * 255.0)
    elif a.dtype.itemsize == 2:
        x = _scale16(x)
    rgb = np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x[..., :3]
    sha = hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()
    bits = 8 if a.dtype.itemsize == 1 else 16  # uint16 and float arrays carry more than 8 bits
    return Photo(_orient(rgb.astype(np.uint8), 1), sha, "array", bits, 1)


def _scale16(a: NDArray[Any]) -> U8:
    """Round 16-bit values to 8 bits: ``round(v * 255 / 65535)``."""
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _orient(a: U8, orientation: int) -> U8:
    """Apply an EXIF orientation (1-8) and return a C-contiguous, writable uint8 array."""
    if orientation >= 5:
        a = a.swapaxes(0, 1)
    if orientation in (2, 3, 6, 7):
        a = a[:, ::-1]
    if orientation in (3, 4, 7, 8):
        a = a[::-1]
    return np.require(a, np.uint8, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])


def _check_bytes(size: int, limits: LoadLimits) -> None:
    if size > limits.max_bytes:
        raise ImageTooLarge(
            f"The photo file is too large: {_file_size(size)}; the limit is "
            f"{_file_size(limits.max_bytes)}. Please upload a smaller photo."
        )


def _check_size(width: int, height: int, limits: LoadLimits) -> None:
    if width * height > limits.max_pixels:
        pixels = f"{width} x {height} pixels ({width * height / 1e6:.1f} megapixels)"
        raise ImageTooLarge(_too_large_msg(pixels, limits))
    if min(width, height) < limits.min_side:
        raise ImageTooSmall(
            f"The photo is too small: {width} x {height} pixels; both sides must be at least "
            f"{limits.min_side} pixels. Please upload the original, full-size photo."
        )


def _too_large_msg(size: str, limits: LoadLimits) -> str:
    return (
        f"The photo is too large: {size}; the limit is {limits.max_pixels / 1e6:.1f} megapixels. "
        "Please upload a smaller photo."
    )


def _file_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"
