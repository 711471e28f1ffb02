"""Colour helpers shared by the stages: sRGB decoding, luminance, illumination normalisation."""

from __future__ import annotations

import cv2
import numpy as np

from analysis.types import F32, U8, Bool


def _srgb_lut() -> F32:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


SRGB_TO_LINEAR: F32 = _srgb_lut()
# Rec. 709 luminance weights times linear light, per channel, as ``cv2.LUT`` takes a table for
# each channel of a three-channel image (256, 1, 3): float32 products, as numpy forms them
_Y_WEIGHTS = (0.2126, 0.7152, 0.0722)
_Y_LUT: F32 = np.stack([np.float32(w) * SRGB_TO_LINEAR for w in _Y_WEIGHTS], axis=-1)[:, None]


def to_srgb8(linear: np.ndarray) -> U8:
    """Linear light in [0, 1] (any shape) -> sRGB uint8, clipped."""
    v = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    encoded = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)
    return np.asarray(np.rint(encoded * 255.0), np.uint8)


MIN_COARSE_SIGMA = 4.0  # a wide masked Gaussian runs on a grid 2x or 4x coarser, sigma >= this


def luminance(rgb: U8) -> F32:
    """Linear-light relative luminance Y (Rec. 709 weights), float32 (H, W) in [0, 1]."""
    y = np.asarray(cv2.LUT(rgb, _Y_LUT), np.float32)  # each channel's weighted linear light
    return y[..., 0] + y[..., 1] + y[..., 2]


def masked_gaussian(image: F32, mask: Bool, sigma_px: float) -> F32:
    """Gaussian smoothing that uses only pixels inside ``mask`` (normalised convolution).

    Pixels outside the mask neither contribute nor get a meaningful value; where no mask pixel
    is near, the result falls back to the mask's mean. A wide Gaussian runs on a grid 2 or 4
    times coarser, as long as sigma stays at least ``MIN_COARSE_SIGMA`` coarse pixels, and is
    interpolated back: the result is smooth on that scale, and costs a quarter or a sixteenth.
    """
    m = mask.astype(np.float32)
    num: F32 = image * m
    den: F32 = m
    f = 1
    while f < 4 and sigma_px / (2 * f) >= MIN_COARSE_SIGMA:
        f *= 2
    if f > 1:
        small = (max(1, image.shape[1] // f), max(1, image.shape[0] // f))
        num, den = (_resized(a, small, cv2.INTER_AREA) for a in (num, den))
    num, den = (
        np.asarray(
            cv2.GaussianBlur(a, (0, 0), sigma_px / f, borderType=cv2.BORDER_REFLECT), np.float32
        )
        for a in (num, den)
    )
    if f > 1:
        size = (image.shape[1], image.shape[0])
        num, den = (_resized(a, size, cv2.INTER_LINEAR) for a in (num, den))
    fallback = float(image[mask].mean()) if mask.any() else float(image.mean())
    out = np.where(den > 1e-3, num / np.maximum(den, 1e-6), fallback)
    return out.astype(np.float32)


def _resized(a: F32, size: tuple[int, int], interpolation: int) -> F32:
    return np.asarray(cv2.resize(a, size, interpolation=interpolation), np.float32)
