"""Spectacle frames: the bars of a frame that cross the nose between the eyes.

A frame's bridge and top bar are long, thin lines far more contrasted than any skin line (a metal
bar is a bright line between two dark edges; a plastic one a dark band). The wrinkle detector
read their edges as deep lines: Colin Powell's glabella read severity 79 with them, 17
without. A photo with glasses against one without would read the frame as a change.

Where the quality gate sees a bridge (``analysis.quality.glasses_score``), line pixels (centre
pixels of the wrinkle detector's filter bank, dark or bright, at least ``FRAME_RIDGE``, off the
eyes) are chained as the detector chains them. Every chain that crosses the face's midline
between the brow heads and the inner eye corners, runs at least ``FRAME_MIN_MM`` and averages
at least ``FRAME_MIN_CONTRAST`` is a bar; the frame is the bars widened by
``FRAME_MARGIN_MM``. A bar that curves on into a rim is taken whole. The frame leaves the skin
mask as the face's outline does: no line centre lies within ``OUTLINE_MARGIN_MM`` of it
(``analysis.wrinkles``), because a re-framed measurement moves the bars' edges a little.

Rims and temple arms are not looked for on their own. They run where under-eye folds and crow's
feet do and, locally, look like them: taking the strong chains that touch a bar found 99 % of a
drawn frame on the dev faces but also took 2.3 cm2 of other skin per face (eyelid creases,
Trump's frown line, Hammond's under-eye fold); requiring them to continue the bar's direction
lost real rims, which meet the bridge at a corner. The ``glasses`` warning still asks for
photos without glasses.
"""

from __future__ import annotations

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.canonical import CanonicalFace
from analysis.colour import luminance
from analysis.masks import within
from analysis.quality import QualityThresholds, glasses_score
from analysis.types import F32, Bool
from analysis.wrinkles import CHAIN_REACH_MM, chains, valley_ridges

FRAME_MIN_MM = 8.0  # a bar runs at least this far (the nose is 15-20 mm wide there)
FRAME_MIN_CONTRAST = 0.3  # mean strength (as relative darkening); real bars 0.34-1.25
FRAME_RIDGE = 0.08  # line pixels weaker than this (as relative darkening) are not chained
FRAME_MARGIN_MM = 0.8  # around the frame's line pixels: its edges and shadow
FRAME_EYE_MARGIN_MM = 2.5  # the eyes' margin in the skin mask (``analysis.regions``)
BACKGROUND_MM = 2.0  # the local mean the contrast is taken against
BAND_MM = 70.0  # the rows searched: from 35 mm above the inner eye corners to 35 mm below
BAND_ABOVE_EYES_MM = 35.0


def _contrast(face: CanonicalFace) -> F32:
    """``Y / B - 1`` over the whole frame (not clipped, not restricted to skin)."""
    y = luminance(face.rgb)
    background = cv2.GaussianBlur(y, (0, 0), face.px(BACKGROUND_MM))
    return np.asarray(y / np.maximum(background, 1e-4) - 1.0, np.float32)


def _eyes(face: CanonicalFace) -> Bool:
    canvas = np.zeros(face.shape, np.uint8)
    for eye in (lm.RIGHT_EYE, lm.LEFT_EYE):
        cv2.fillPoly(canvas, [np.round(face.points[list(eye)]).astype(np.int32)], 1)
    return canvas.astype(bool)


def frame_mask(face: CanonicalFace, threshold: float = QualityThresholds().glasses_bridge) -> Bool:
    """A spectacle frame's pixels, with their margin (see the module doc); all False where
    ``glasses_score`` is at most ``threshold``."""
    none = np.zeros(face.shape, bool)
    if glasses_score(face) <= threshold:
        return none
    # the band of rows where a frame's bars and rims can be, of one fixed height (the filter
    # bank's kernel transforms are cached per image size)
    height = min(face.shape[0], round(face.px(BAND_MM)))
    eye_y = float(face.points[[lm.RIGHT_EYE_INNER, lm.LEFT_EYE_INNER], 1].mean())
    r0 = int(np.clip(round(eye_y - face.px(BAND_ABOVE_EYES_MM)), 0, face.shape[0] - height))
    p = face.points.astype(np.float64) - [0.0, r0]
    rel = _contrast(face)[r0 : r0 + height]
    dark, dark_theta, dark_ridge = valley_ridges(face, rel)
    bright, bright_theta, bright_ridge = valley_ridges(face, -rel)
    use_bright = bright > dark
    strength = np.where(use_bright, bright, dark)
    theta = np.where(use_bright, bright_theta, dark_theta).astype(np.float32)
    ridge = np.where(use_bright, bright_ridge, dark_ridge) & (strength >= FRAME_RIDGE)
    eyes = _eyes(face)[r0 : r0 + height]
    ridge &= ~within(eyes, face.px(FRAME_EYE_MARGIN_MM))  # lids and lashes are not frame
    ys, xs, label, k = chains(ridge, theta, face.px(CHAIN_REACH_MM))
    if not k:
        return none
    step = face.mm_per_px / np.maximum(np.abs(np.cos(theta[ys, xs])), np.abs(np.sin(theta[ys, xs])))
    length = np.bincount(label, step, k)
    contrast = np.bincount(label, strength[ys, xs], k) / np.maximum(np.bincount(label, None, k), 1)
    top = min(p[lm.RIGHT_BROW_UPPER[-1], 1], p[lm.LEFT_BROW_UPPER[-1], 1])
    bottom = p[[lm.RIGHT_EYE_INNER, lm.LEFT_EYE_INNER], 1].mean() + face.px(2.0)
    midline = (np.abs(xs - p[lm.NASION, 0]) <= face.px(1.0)) & (ys >= top) & (ys <= bottom)
    crosses = np.bincount(label[midline], None, k) > 0
    bar = crosses & (length >= FRAME_MIN_MM) & (contrast >= FRAME_MIN_CONTRAST)
    if not bar.any():
        return none
    frame = none.copy()
    on = bar[label]
    frame[ys[on] + r0, xs[on]] = True
    return within(frame, face.px(FRAME_MARGIN_MM))
