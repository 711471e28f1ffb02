"""Binary-mask morphology shared by the stages: disk structuring elements and "within a radius"."""

from __future__ import annotations

import cv2
import numpy as np

from analysis.types import U8, Bool


def disk(radius_px: float) -> U8:
    """An elliptic (disk) structuring element of radius ``radius_px`` (rounded, at least 1)."""
    r = max(1, round(radius_px))
    return np.asarray(
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)), np.uint8
    )


def within(mask: Bool, radius_px: float) -> Bool:
    """Pixels within ``radius_px`` of ``mask``: a dilation by ``disk(radius_px)``."""
    return np.asarray(cv2.dilate(mask.astype(np.uint8), disk(radius_px)) > 0)
