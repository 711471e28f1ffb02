"""Spectacles drawn onto a face photo, with the frame's exact pixels: truth for the frame mask.

A metal frame placed from the face's landmarks (photo pixels): two rounded lenses' rims around
the eyes, a bridge across the nose 4 mm above the inner eye corners, a top bar joining the
rims' tops (aviator style) and the temple arms running out from the rims.
Each bar is drawn as a dark outline with a bright metal core. Sizes are in millimetres
through the face's scale, so the same frame fits a finer photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.face import Face
from analysis.types import F64, U8, Bool


@dataclass(frozen=True)
class Frame:
    """A frame's look (mm and 8-bit grey levels)."""

    bar_mm: float = 1.2  # the whole bar, outline included
    core_mm: float = 0.6  # its bright metal core
    outline: int = 45
    core: int = 215
    lens_width_mm: float = 50.0
    lens_height_mm: float = 34.0
    top_bar: bool = True


@dataclass(frozen=True, eq=False)
class DrawnSpectacles:
    image: U8
    mask: Bool  # every pixel the frame covers (outline included)
    bridge: Bool  # the bridge and the top bar only: the bars across the nose


def _rim(centre: F64, width: float, height: float, angle: float) -> F64:
    """A rounded rectangle (superellipse, exponent 4) around ``centre``, rotated by ``angle``."""
    t = np.linspace(0.0, 2.0 * np.pi, 120, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = width / 2 * np.sign(c) * np.abs(c) ** 0.5
    y = height / 2 * np.sign(s) * np.abs(s) ** 0.5
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray(np.stack([x, y], 1) @ rot.T + centre, np.float64)


def draw_spectacles(rgb: U8, face: Face, frame: Frame = Frame()) -> DrawnSpectacles:
    """``rgb`` with a spectacle frame drawn on ``face`` (its landmarks and scale)."""
    p = face.points.astype(np.float64)
    mm = 1.0 / face.mm_per_px
    right = (p[lm.RIGHT_EYE_OUTER] + p[lm.RIGHT_EYE_INNER]) / 2
    left = (p[lm.LEFT_EYE_OUTER] + p[lm.LEFT_EYE_INNER]) / 2
    axis = (left - right) / np.hypot(*(left - right))
    down = np.array([-axis[1], axis[0]])
    angle = float(np.arctan2(axis[1], axis[0]))
    half_w, half_h = frame.lens_width_mm * mm / 2, frame.lens_height_mm * mm / 2
    centres = [right - 2 * axis * mm + 3 * down * mm, left + 2 * axis * mm + 3 * down * mm]
    rims = [_rim(c, 2 * half_w, 2 * half_h, angle) for c in centres]
    inner_y = (p[lm.RIGHT_EYE_INNER] + p[lm.LEFT_EYE_INNER]) / 2 - 4 * down * mm
    nasal = [c + sign * axis * half_w for c, sign in ((centres[0], 1), (centres[1], -1))]
    bridge = [
        nasal[0] + (inner_y - nasal[0]) @ down * down,
        nasal[1] + (inner_y - nasal[1]) @ down * down,
    ]
    bars = [np.array(bridge)]
    if frame.top_bar:
        tops = [c - down * (half_h - 1.5 * mm) for c in centres]
        bars.append(np.array([tops[0] - axis * 0.8 * half_w, tops[1] + axis * 0.8 * half_w]))
    top_y = [c - down * 0.6 * half_h for c in centres]
    arms = [
        np.array([top_y[0] - axis * half_w, top_y[0] - axis * (half_w + 25 * mm)]),
        np.array([top_y[1] + axis * half_w, top_y[1] + axis * (half_w + 25 * mm)]),
    ]

    def paint(polys: list[F64], closed: bool, width_mm: float) -> Bool:
        canvas = np.zeros(rgb.shape[:2], np.uint8)
        thickness = max(1, round(width_mm * mm))
        pts = [np.round(q * 4).astype(np.int32) for q in polys]  # 2 fractional bits
        cv2.polylines(canvas, pts, closed, 1, thickness, cv2.LINE_AA, shift=2)
        return canvas.astype(bool)

    outline = paint(rims, True, frame.bar_mm) | paint(bars + arms, False, frame.bar_mm)
    core = paint(rims, True, frame.core_mm) | paint(bars + arms, False, frame.core_mm)
    out = rgb.copy()
    out[outline] = frame.outline
    out[core] = frame.core
    across = paint(bars, False, frame.bar_mm)
    return DrawnSpectacles(image=out, mask=outline | core, bridge=across)
