"""Warp a face to the canonical frame: eyes level, fixed millimetres per pixel, fixed framing.

The canonical frame is a similarity transform of the photo (rotation, uniform scale, shift),
so skin texture is not distorted and the same face photographed at different resolutions lands
on the same pixel grid. The transform is kept both ways to draw results on the original photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.face import Face
from analysis.types import F32, F64, U8, Bool

CANONICAL_MM_PER_PX = 0.2
FRAME_MM = (170.0, 230.0)  # width, height of the canonical frame
EYES_AT_MM = (85.0, 100.0)  # where the midpoint between the irises lands
INTERPOLATION = cv2.INTER_LINEAR  # Lanczos and bicubic were tried: sharper, no steadier


@dataclass(frozen=True, eq=False)
class CanonicalFace:
    """A face in the canonical frame.

    rgb: (H, W, 3) uint8. points: (478, 2) float32 landmarks in canonical pixels.
    valid: (H, W) bool, pixels that came from inside the photo.
    to_canonical / to_photo: 2x3 affine matrices (photo px -> canonical px and back).
    mm_per_px: canonical pixel size. source_mm_per_px: the photo's pixel size at the face.
    """

    rgb: U8
    points: F32
    valid: Bool
    to_canonical: F64
    to_photo: F64
    mm_per_px: float
    source_mm_per_px: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.rgb.shape[0]), int(self.rgb.shape[1]))

    def px(self, mm: float) -> float:
        """A length in millimetres as canonical pixels."""
        return mm / self.mm_per_px


def canonical_transform(face: Face, mm_per_px: float = CANONICAL_MM_PER_PX) -> F64:
    """The 2x3 similarity mapping photo pixels to canonical pixels for ``face``."""
    right = face.points[lm.RIGHT_IRIS[0]].astype(np.float64)
    left = face.points[lm.LEFT_IRIS[0]].astype(np.float64)
    centre = (right + left) / 2
    angle = np.arctan2(left[1] - right[1], left[0] - right[0])
    scale = face.mm_per_px / mm_per_px
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    target = np.array(EYES_AT_MM) / mm_per_px
    rot = np.array([[c, -s], [s, c]])
    shift = target - rot @ centre
    return np.hstack([rot, shift[:, None]])


def apply_affine(matrix: F64, points: F32 | F64) -> F64:
    """Map (N, 2) points through a 2x3 affine matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def to_canonical(rgb: U8, face: Face, *, mm_per_px: float = CANONICAL_MM_PER_PX) -> CanonicalFace:
    """Warp the photo ``rgb`` into the canonical frame of ``face``."""
    width, height = (round(v / mm_per_px) for v in FRAME_MM)
    matrix = canonical_transform(face, mm_per_px)
    inverse = np.asarray(cv2.invertAffineTransform(matrix), np.float64)
    xx, yy = pixel_grid((height, width))
    out, valid = resample(rgb, inverse, xx, yy, face.mm_per_px / mm_per_px)
    return CanonicalFace(
        rgb=out,
        points=apply_affine(matrix, face.points).astype(np.float32),
        valid=valid,
        to_canonical=matrix,
        to_photo=inverse,
        mm_per_px=mm_per_px,
        source_mm_per_px=face.mm_per_px,
    )


def pixel_grid(shape: tuple[int, int]) -> tuple[F32, F32]:
    """x and y of every pixel of a ``shape`` frame (the identity map), float32."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return xx, yy


def jpeg_roundtrip(rgb: U8, quality: int) -> U8:
    """``rgb`` JPEG-encoded at ``quality`` (OpenCV: 4:2:0 colour) and decoded again."""
    _, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(
        np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)[:, :, ::-1]
    )


def resample(
    rgb: U8, to_photo: F64, map_x: F32, map_y: F32, scale: float, *, jpeg: int = 0
) -> tuple[U8, Bool]:
    """The photo ``rgb`` sampled at ``to_photo @ (map_x, map_y)``: one interpolation from the
    photo's own pixels, whatever the map (the canonical warp, or a registration composed with
    it). Returns the image and where it came from inside the photo.

    ``scale`` is output pixels per photo pixel. A finer photo (``scale < 0.8``) is first
    area-averaged down, so downsampling does not alias texture. Every interpolation smooths a
    little; a registered photo interpolated twice (to its canonical frame, then onto its
    partner's) reads as smoother than its partner, and so as having fewer fine lines.

    ``jpeg``: the photo's pixels are first re-compressed at that JPEG quality, on the photo's
    own 16-pixel grid (JPEG's blocks, with chroma at half resolution), as a photo re-saved by
    an app or a messenger is.
    """
    m = np.asarray(to_photo, np.float64)
    px = (m[0, 0] * map_x + m[0, 1] * map_y + m[0, 2]).astype(np.float32)
    py = (m[1, 0] * map_x + m[1, 1] * map_y + m[1, 2]).astype(np.float32)
    h, w = rgb.shape[:2]
    x0 = int(np.clip(np.floor(px.min()) - 4, 0, w))
    x1 = int(np.clip(np.ceil(px.max()) + 5, 0, w))
    y0 = int(np.clip(np.floor(py.min()) - 4, 0, h))
    y1 = int(np.clip(np.ceil(py.max()) + 5, 0, h))
    if jpeg:  # the crop starts on the photo's JPEG block grid
        x0, y0 = x0 - x0 % 16, y0 - y0 % 16
    valid = (px >= -0.5) & (px <= w - 0.5) & (py >= -0.5) & (py <= h - 0.5)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((*map_x.shape, 3), np.uint8), np.zeros(map_x.shape, bool)
    crop = rgb[y0:y1, x0:x1]
    if jpeg:
        crop = jpeg_roundtrip(crop, jpeg)
    px, py = px - x0, py - y0
    if scale < 0.8:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        fx, fy = size[0] / crop.shape[1], size[1] / crop.shape[0]
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8)
        # pixel centres: x_small = (x + 0.5) * f - 0.5
        px, py = (px + 0.5) * fx - 0.5, (py + 0.5) * fy - 0.5
    out = cv2.remap(crop, px, py, INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, np.uint8), np.asarray(valid)
