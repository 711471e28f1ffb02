"""Indices into MediaPipe's 478-point face mesh used by the pipeline.

"Right"/"left" are the subject's own sides: the subject's right eye appears on the image's left.
Indices follow the published MediaPipe face-mesh topology (canonical_face_model_uv_visualization).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from functools import cache

import numpy as np
from numpy.typing import NDArray

# Eye corners and outlines.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_LOWER_LID = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_LOWER_LID = (263, 249, 390, 373, 374, 380, 381, 382, 362)

# Eyebrows: upper contour from the tail (lateral) to the head (medial), then the lower contour.
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)

# Irises: centre then four contour points (MediaPipe's refined landmarks).
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Nose.
NASION = 168
NOSE_TIP = 1
SUBNASALE = 2
RIGHT_ALA, LEFT_ALA = 129, 358  # lateral edge of the nostril wings
RIGHT_ALA_LOW, LEFT_ALA_LOW = 98, 327
NOSTRILS = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)

# Mouth.
RIGHT_MOUTH, LEFT_MOUTH = 61, 291
UPPER_LIP_TOP = 0
LOWER_LIP_BOTTOM = 17
LIPS_OUTER = (
    61,
    185,
    40,
    39,
    37,
    0,
    267,
    269,
    270,
    409,
    291,
    375,
    321,
    405,
    314,
    17,
    84,
    181,
    91,
    146,
)

# Face outline, clockwise from the top of the forehead (landmark 10).
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
FOREHEAD_TOP = 10
CHIN = 152
RIGHT_CHEEK_SIDE, LEFT_CHEEK_SIDE = 234, 454


MESH_POINTS = 468  # the face mesh proper (the iris points follow)
_CANONICAL_MESH = "geometry_pipeline_metadata_landmarks.binarypb"  # inside face_landmarker.task


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Protocol-buffer wire format: (field number, varint value or raw bytes) in order."""

    def varint(i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = buf[i]
            value, shift, i = value | (byte & 0x7F) << shift, shift + 7, i + 1
            if byte < 0x80:
                return value, i

    i = 0
    while i < len(buf):
        key, i = varint(i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
            yield number, value
        elif wire == 2:
            size, i = varint(i)
            yield number, buf[i : i + size]
            i += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, buf[i : i + size]
            i += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


@cache
def mirror_index() -> NDArray[np.intp]:
    """For each of the ``MESH_POINTS`` mesh points, the point at its mirror image across the
    face's midline (itself on the midline), from the canonical face model bundled in the Face
    Landmarker (its vertices are exactly symmetric: every mirrored vertex falls on another).

    A mirrored photo's landmarks, mirrored back and re-indexed through this, fall on the same
    anatomy as the unmirrored photo's (``analysis.compare``, mirrored photos)."""
    from models.loader import FACE_LANDMARKER, bundled

    with zipfile.ZipFile(io.BytesIO(bundled(FACE_LANDMARKER))) as task:
        metadata = task.read(_CANONICAL_MESH)
    # GeometryPipelineMetadata.canonical_mesh (1) -> Mesh3d.vertex_buffer (3): x, y, z, u, v
    mesh = next(v for n, v in _fields(metadata) if n == 1)
    assert isinstance(mesh, bytes)
    floats: list[float] = []
    for number, value in _fields(mesh):
        if number == 3 and isinstance(value, bytes):  # one float each, or packed
            floats += struct.unpack(f"<{len(value) // 4}f", value)
    xyz = np.asarray(floats, np.float64).reshape(-1, 5)[:MESH_POINTS, :3]
    mirrored = xyz * np.array([-1.0, 1.0, 1.0])
    gaps = np.linalg.norm(mirrored[:, None] - xyz[None], axis=2)
    index = np.asarray(gaps.argmin(axis=1), np.intp)
    if gaps.min(axis=1).max() > 1e-3 or not (index[index] == np.arange(MESH_POINTS)).all():
        raise ValueError("the bundled canonical face model is not mirror-symmetric")
    return index
