"""Remove identifying metadata from uploaded photos at the byte level: pixels are never decoded.

- JPEG: keeps every segment the decoder needs (tables, frames, scans, restart markers, the ICC
  profile in APP2 and the Adobe colour transform in APP14) and the JFIF header without its
  thumbnail; replaces EXIF by a minimal EXIF holding only the Orientation tag; drops XMP,
  IPTC/Photoshop (APP13), comments, every other APPn segment (MPF, FlashPix...) and anything
  after the end-of-image marker (MPO second images, trailers).
- PNG: keeps the chunks that define pixels and colour (allow list); drops text, time and
  private chunks; an ``eXIf`` chunk is replaced by an orientation-only one.
- WebP: keeps the image, alpha, animation and ICC chunks; drops XMP and unknown chunks;
  ``EXIF`` is replaced by an orientation-only one and the VP8X flags are updated.
- TIFF: refused (``unsupported_format``): its metadata shares structures with the pixel data
  and cannot be removed safely without re-encoding.

Bytes in any other format are returned unchanged: the analysis refuses them.
"""

from __future__ import annotations

import re
import struct
import zlib

from analysis.errors import UnreadableImage, UnsupportedFormat

_DAMAGED = "The photo could not be read: the file is damaged. Please upload the original photo."
_TIFF = (
    "TIFF photos are not accepted by the service (their metadata cannot be removed without "
    "re-encoding). Please export the photo as JPEG or PNG."
)
_ORIENTATION = 0x0112


def strip_metadata(data: bytes) -> bytes:
    """``data`` without identifying metadata; pixels and orientation unchanged.

    Raises
    ------
    UnsupportedFormat
        A TIFF file.
    UnreadableImage
        A JPEG, PNG or WebP whose structure is damaged (it would not be stored unstripped).
    """
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise UnreadableImage(_DAMAGED) from exc
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        raise UnsupportedFormat(_TIFF)
    return data


def orientation_of(tiff: bytes) -> int | None:
    """The Orientation tag (1-8) of IFD0 in a TIFF-structured EXIF block, or None."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            tag, kind, _n, value = struct.unpack_from(order + "HHIH", tiff, ifd + 2 + 12 * i)
            if tag == _ORIENTATION and kind == 3 and 1 <= value <= 8:
                return int(value)
    except struct.error:
        return None
    return None


def orientation_exif(orientation: int) -> bytes:
    """A little-endian TIFF block with one IFD holding only the Orientation tag."""
    entry = struct.pack("<HHIHH", _ORIENTATION, 3, 1, orientation, 0)
    return b"II*\x00" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)


# JPEG -----------------------------------------------------------------------------------------

_APP0, _APP1, _APP2, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_NEXT_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")  # not stuffing, RSTn or fill bytes


def _jpeg(data: bytes) -> bytes:
    out = [b"\xff\xd8"]
    pos = 2
    while True:
        if data[pos] != 0xFF:
            raise ValueError("expected a marker")
        while data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ValueError("segment runs past the end")
        kept = _jpeg_segment(marker, data[pos + 4 : end])
        if kept is not None:
            out.append(bytes([0xFF, marker]) + struct.pack(">H", len(kept) + 2) + kept)
        pos = end
        if marker == _SOS:  # entropy-coded data up to the next real marker
            found = _NEXT_MARKER.search(data, pos)
            stop = found.start() if found else len(data)
            out.append(data[pos:stop])
            if found is None:  # truncated scan: the analysis decides whether it is usable
                return b"".join(out)
            pos = stop


def _jpeg_segment(marker: int, body: bytes) -> bytes | None:
    """The segment body to keep (maybe rewritten), or None to drop it."""
    if marker == _COM or _APP0 <= marker <= _APP15:
        if marker == _APP0 and body.startswith(b"JFIF\x00") and len(body) >= 14:
            return body[:12] + b"\x00\x00"  # no thumbnail
        if marker == _APP1 and body.startswith(b"Exif\x00\x00"):
            orientation = orientation_of(body[6:])
            return None if orientation is None else b"Exif\x00\x00" + orientation_exif(orientation)
        if marker == _APP2 and body.startswith(b"ICC_PROFILE\x00"):
            return body
        if marker == _APP14 and body.startswith(b"Adobe"):
            return body
        return None
    return body


# PNG ------------------------------------------------------------------------------------------

_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"bKGD", b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def _png(data: bytes) -> bytes:
    out = [data[:8]]
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("chunk runs past the end")
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        elif kind == b"eXIf":
            orientation = orientation_of(data[pos + 8 : end - 4])
            if orientation is not None:
                out.append(_png_chunk(b"eXIf", orientation_exif(orientation)))
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


# WebP -----------------------------------------------------------------------------------------

_WEBP_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp(data: bytes) -> bytes:
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("chunk runs past the end")
        if kind in _WEBP_KEEP:
            chunks.append((kind, body))
        elif kind == b"EXIF":
            orientation = orientation_of(body)
            if orientation is not None:
                chunks.append((kind, orientation_exif(orientation)))
        pos += 8 + length + (length & 1)
    has_exif = any(kind == b"EXIF" for kind, _ in chunks)
    out = bytearray()
    for kind, body in chunks:
        if kind == b"VP8X":
            flags = (body[0] & ~(_VP8X_EXIF | _VP8X_XMP)) | (_VP8X_EXIF if has_exif else 0)
            body = bytes([flags]) + body[1:]
        out += kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
    return b"RIFF" + struct.pack("<I", len(out) + 4) + b"WEBP" + bytes(out)
