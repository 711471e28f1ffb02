"""Metadata removal: identifying metadata goes, pixels and orientation stay (byte level)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.errors import AnalysisError
from analysis.io import load_image
from service.privacy import orientation_exif, orientation_of, strip_metadata

PIXELS = np.ascontiguousarray(data.astronaut()[:200, :160])  # type: ignore[no-untyped-call]
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def _exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0110] = "ModelX"  # Model
    exif[0x013B] = "Dr. Jane Roe"  # Artist
    exif.get_ifd(EXIF_IFD)[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>Jane Roe</rdf:Description></x:xmpmeta>'
IDENTIFYING = (b"CameraMaker", b"ModelX", b"Jane Roe", b"SERIAL-123456", b"patient 42")


def _encode(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PIXELS).save(buf, fmt, **kw)
    return buf.getvalue()


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _jpeg(**kw: object) -> bytes:
    raw = _encode(
        "JPEG", quality=90, exif=_exif(), xmp=XMP, comment=b"patient 42", icc_profile=b"ICC" * 50,
        **kw,
    )  # fmt: skip
    iptc = _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0apatient 42")
    trailer = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00Jane Roe"  # an appended second image
    return raw[:2] + iptc + raw[2:] + trailer


def _decoded(photo: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(photo)) as im:
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_keeps_pixels_and_orientation_and_drops_identifying_metadata(progressive):
    original = _jpeg(progressive=progressive)
    assert all(secret in original for secret in IDENTIFYING)
    clean = strip_metadata(original)
    np.testing.assert_array_equal(_decoded(clean), _decoded(original))
    np.testing.assert_array_equal(load_image(clean).rgb, load_image(original).rgb)
    with Image.open(io.BytesIO(clean)) as im:
        exif = im.getexif()
        assert dict(exif) == {0x0112: 6}
        assert not exif.get_ifd(GPS_IFD)
        assert "xmp" not in im.info
        assert "comment" not in im.info
        assert im.info.get("icc_profile") == b"ICC" * 50
    for secret in IDENTIFYING:
        assert secret not in clean
    assert clean.endswith(b"\xff\xd9")
    assert load_image(clean).exif_orientation == 6


def test_jpeg_thumbnails_are_removed():
    jfif_thumb = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x02\x02" + bytes(12)  # 2x2 RGB thumbnail
    raw = _encode("JPEG", quality=90)
    body_at = raw.index(b"JFIF")
    length = struct.unpack(">H", raw[body_at - 2 : body_at])[0]
    with_thumb = raw[: body_at - 4] + _segment(0xE0, jfif_thumb) + raw[body_at - 2 + length :]
    jfxx = _segment(0xE0, b"JFXX\x00\x10" + b"\xff\xd8thumbnail\xff\xd9")
    original = with_thumb[:2] + jfxx + with_thumb[2:]
    clean = strip_metadata(original)
    assert b"JFXX" not in clean
    assert b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" in clean
    np.testing.assert_array_equal(_decoded(clean), _decoded(original))


def test_exif_without_orientation_is_dropped_whole():
    exif = _exif()
    del exif[0x0112]
    clean = strip_metadata(_encode("JPEG", exif=exif))
    assert b"Exif" not in clean
    assert b"CameraMaker" not in clean


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_keeps_pixels_and_orientation_and_drops_text_and_time():
    raw = _encode("PNG", exif=_exif(3))
    extra = (
        _png_chunk(b"tEXt", b"Author\x00Jane Roe")
        + _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"patient 42"))
        + _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        + _png_chunk(b"tIME", b"\x07\xe9\x03\x01\x0a\x00\x00")
        + _png_chunk(b"prVt", b"ModelX")
    )
    original = raw[:33] + extra + raw[33:]
    clean = strip_metadata(original)
    np.testing.assert_array_equal(load_image(clean).rgb, load_image(original).rgb)
    for secret in IDENTIFYING:
        assert secret not in clean
    for kind in (b"tEXt", b"zTXt", b"iTXt", b"tIME", b"prVt"):
        assert kind not in clean
    with Image.open(io.BytesIO(clean)) as im:
        assert dict(im.getexif()) == {0x0112: 3}
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), PIXELS)


def test_webp_keeps_pixels_and_orientation_and_drops_xmp():
    original = _encode("WEBP", lossless=True, exif=_exif(8), xmp=XMP)
    clean = strip_metadata(original)
    np.testing.assert_array_equal(load_image(clean).rgb, load_image(original).rgb)
    for secret in IDENTIFYING:
        assert secret not in clean
    with Image.open(io.BytesIO(clean)) as im:
        assert dict(im.getexif()) == {0x0112: 8}
        assert "xmp" not in im.info
    assert struct.unpack("<I", clean[4:8])[0] == len(clean) - 8


def test_tiff_is_refused_as_unsupported():
    with pytest.raises(AnalysisError) as info:
        strip_metadata(_encode("TIFF"))
    assert info.value.code == "unsupported_format"


def test_damaged_jpeg_headers_are_unreadable_not_stored_unstripped():
    raw = _jpeg()
    with pytest.raises(AnalysisError) as info:
        strip_metadata(raw[:40])
    assert info.value.code == "unreadable_image"


def test_other_bytes_pass_unchanged_for_the_analysis_to_judge():
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
    assert strip_metadata(pdf) == pdf
    assert strip_metadata(b"") == b""


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_exif_round_trip(orientation):
    block = orientation_exif(orientation)
    assert orientation_of(block) == orientation
    assert orientation_of(b"Exif\x00\x00" + block) == orientation
    assert orientation_of(b"not exif") is None
