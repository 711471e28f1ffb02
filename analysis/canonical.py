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
    """Warp the photo ``rgb`` into the canonical frame of ``face``.

    When the photo is finer than the canonical grid it is first area-averaged down (only the
    crop that the frame covers), so that downsampling does not alias fine texture.
    """
    width, height = (round(v / mm_per_px) for v in FRAME_MM)
    matrix = canonical_transform(face, mm_per_px)
    inverse = np.asarray(cv2.invertAffineTransform(matrix), np.float64)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64)
    box = apply_affine(inverse, corners)
    x0 = int(np.clip(np.floor(box[:, 0].min()) - 2, 0, rgb.shape[1]))
    x1 = int(np.clip(np.ceil(box[:, 0].max()) + 2, 0, rgb.shape[1]))
    y0 = int(np.clip(np.floor(box[:, 1].min()) - 2, 0, rgb.shape[0]))
    y1 = int(np.clip(np.ceil(box[:, 1].max()) + 2, 0, rgb.shape[0]))
    crop = rgb[y0:y1, x0:x1]
    scale = face.mm_per_px / mm_per_px
    pre = np.eye(3)
    pre[:2, 2] = [-x0, -y0]
    if scale < 0.8 and crop.size:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        fx, fy = size[0] / crop.shape[1], size[1] / crop.shape[0]
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8)
        # pixel centres: x_small = (x + 0.5) * f - 0.5
        down = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
        pre = down @ pre
    full = np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(pre)
    warp = full[:2]
    out = cv2.warpAffine(
        crop, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    ones = np.full(crop.shape[:2], 255, np.uint8)
    valid = cv2.warpAffine(ones, warp, (width, height), flags=cv2.INTER_NEAREST) > 0
    points = apply_affine(matrix, face.points).astype(np.float32)
    return CanonicalFace(
        rgb=np.ascontiguousarray(out),
        points=points,
        valid=valid,
        to_canonical=matrix,
        to_photo=inverse,
        mm_per_px=mm_per_px,
        source_mm_per_px=face.mm_per_px,
    )
