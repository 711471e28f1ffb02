"""Melanin, haemoglobin (redness) and pigmented spots from colour, by optical-density unmixing.

Method
------
Skin reflectance is modelled as Beer-Lambert absorption by two chromophores plus shading: per
pixel, the optical density ``OD_c = -log10(linear RGB_c)`` of the camera channels is

    OD = m * MELANIN + h * HAEMOGLOBIN + s * (1, 1, 1)

where ``s`` absorbs shading and exposure, which scale all channels alike (the log-RGB model of
Tsumura et al., "Image-based skin color and texture analysis/synthesis by extracting hemoglobin
and melanin information in the skin", ACM TOG 22(3), 2003). The chromophore vectors are the
absorption of each pigment at the channels' nominal wavelengths (R 600, G 540, B 460 nm),
normalised to 1 at its largest: melanin falls off as lambda^-3.46 (Jacques, "Optical properties
of biological tissues: a review", Phys. Med. Biol. 58, 2013); oxy-haemoglobin from Prahl's
tabulated molar extinction. Solving the 3x3 system gives ``m`` and ``h`` in optical-density
units.

Reported indices (dimensionless): melanin index ``100 * m``; erythema (redness) index
``100 * h``. Shading and exposure cancel; a white-balance change shifts both by a constant,
which comparisons remove (see ``analysis.compare``); spot contrast is local and does not move.

Spots: melanin contrast ``c = m - background`` with the background an opening (removes dark
blobs up to ``SPOT_MAX_MM``) then skin-only Gaussian; spots are connected areas with
``c > SPOT_LOW`` holding a core above ``SPOT_HIGH``, ``SPOT_MIN_MM``-``SPOT_MAX_MM`` in
equivalent diameter, and not elongated (``SPOT_MAX_ELONGATION``), so wrinkles are not spots.
Patches just outside those gates count in part towards spot area (``SPOT_FADE_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from analysis.canonical import CanonicalFace
from analysis.colour import SRGB_TO_LINEAR, masked_gaussian
from analysis.masks import disk
from analysis.types import F32, U8, Bool

MELANIN = np.array([0.40, 0.69, 1.00])  # R, G, B
HAEMOGLOBIN = np.array([0.06, 1.00, 0.62])
SHADING = np.array([1.0, 1.0, 1.0])
UNMIX = np.linalg.inv(np.stack([MELANIN, HAEMOGLOBIN, SHADING], axis=1)).astype(np.float32)

SPOT_LOW = 0.04  # melanin OD above background at the spot's edge
SPOT_HIGH = 0.07  # ... and somewhere inside it
SPOT_NOISE_LOW = 3.0
SPOT_NOISE_HIGH = 5.0
SPOT_MIN_MM = 1.0
SPOT_MAX_MM = 10.0
SPOT_MAX_ELONGATION = 3.0
# just outside those gates a patch's area still counts in part, fading to nothing at these
SPOT_FADE_MIN_MM = 0.8
SPOT_FADE_MAX_MM = 13.0
SPOT_FADE_ELONGATION = 4.0
BACKGROUND_SIGMA_MM = 4.0
SMOOTH_MM = 0.3  # chromophore maps are smoothed: unmixing amplifies pixel noise
REDNESS_ABOVE_MEDIAN = 0.04  # erythema OD above the face's median that counts as red area


@dataclass(frozen=True, eq=False)
class PigmentMaps:
    """Chromophore maps in the canonical frame (float32, (H, W); 0 outside skin where noted).

    melanin, haemoglobin: optical densities ``m`` and ``h``.
    spot_contrast: ``m`` above its local background. spots: int32 labels of accepted spots.
    spot_weight: how fully each pixel counts towards spot area (1 on spots, 0-1 on patches
    just outside the gates, see ``detect_spots``).
    red: bool, erythema above the face's median by ``REDNESS_ABOVE_MEDIAN``.
    lab: (H, W, 3) float32 CIELAB (L 0-100, a, b) for ITA.
    """

    melanin: F32
    haemoglobin: F32
    spot_contrast: F32
    spots: np.ndarray
    spot_weight: F32
    red: Bool
    lab: F32


def _unmix_luts() -> tuple[F32, F32]:
    """Per-channel lookup tables: melanin and haemoglobin OD contributed by each 8-bit value,
    (256, 1, 3) as ``cv2.LUT`` takes them for a three-channel image."""
    od = -np.log10(np.maximum(SRGB_TO_LINEAR.astype(np.float64), 1.0 / 4096.0))  # (256,)
    m = np.stack([UNMIX[0, c] * od for c in range(3)], axis=-1).astype(np.float32)  # (256, 3)
    h = np.stack([UNMIX[1, c] * od for c in range(3)], axis=-1).astype(np.float32)
    return np.ascontiguousarray(m[:, None, :]), np.ascontiguousarray(h[:, None, :])


_M_LUT, _H_LUT = _unmix_luts()


def unmix(rgb: U8) -> tuple[F32, F32]:
    """Melanin and haemoglobin optical densities of each pixel of an sRGB image.

    ``OD_c = -log10(linear_c)`` depends on the 8-bit value alone, and the unmixing is linear in
    ``OD``, so each chromophore is a sum of three per-channel table lookups."""
    m, h = (np.asarray(cv2.LUT(rgb, lut), np.float32) for lut in (_M_LUT, _H_LUT))
    return m[..., 0] + m[..., 1] + m[..., 2], h[..., 0] + h[..., 1] + h[..., 2]


_UNIT = np.arange(256, dtype=np.float32) / np.float32(255.0)  # 8-bit value -> 0-1


def cielab(rgb: U8) -> F32:
    """CIELAB (D65) with L in 0-100 and signed a, b."""
    lab = cv2.cvtColor(np.asarray(cv2.LUT(rgb, _UNIT), np.float32), cv2.COLOR_RGB2LAB)
    return np.asarray(lab, dtype=np.float32)


def _melanin_background(m: F32, skin: Bool, face: CanonicalFace) -> F32:
    """Skin melanin without spots: grey opening at quarter resolution, then skin Gaussian."""
    filled = np.where(skin, m, float(np.median(m[skin])) if skin.any() else 0.0).astype(np.float32)
    small = cv2.resize(filled, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, disk(face.px(SPOT_MAX_MM) / 8))
    opened = cv2.resize(opened, (m.shape[1], m.shape[0]), interpolation=cv2.INTER_LINEAR)
    return masked_gaussian(np.minimum(opened, filled), skin, face.px(BACKGROUND_SIGMA_MM))


def detect_spots(contrast: F32, skin: Bool, mm_per_px: float) -> tuple[np.ndarray, F32]:
    """Label image of pigmented spots (see module docstring for the rule), and how fully each
    pixel counts towards spot area.

    Thresholds never fall below ``SPOT_LOW``/``SPOT_HIGH`` and rise with the skin's own melanin
    mottling (``SPOT_NOISE_LOW``/``SPOT_NOISE_HIGH`` robust standard deviations of the contrast),
    so that unmixing noise on dark or grainy photos is not taken for spots.

    Spots (labelled, weight 1) pass the size and shape gates. A patch just outside them
    (``SPOT_FADE_*``) is not a spot, but its area still counts in part, fading linearly to 0,
    so a patch hovering at a gate no longer brings its whole area in or out from one photo
    to the next.
    """
    values = contrast[skin]
    spread = 1.4826 * float(np.median(np.abs(values - np.median(values)))) if values.size else 0.0
    low = max(SPOT_LOW, SPOT_NOISE_LOW * spread)
    high = max(SPOT_HIGH, SPOT_NOISE_HIGH * spread)
    candidate = (contrast > low) & skin
    labels, n = ndi.label(candidate)
    none = np.zeros(contrast.shape, np.float32)
    if n == 0:
        return np.asarray(labels, dtype=np.int32), none
    on = labels > 0
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, labels[on], contrast[on])
    peak = peak[1:]
    # each spot's extent is where its contrast is at least half its peak (full width at half
    # maximum, as a dermatologist outlines a lentigo), not where it first exceeds the threshold
    strong = np.concatenate([[False], peak > high])
    half = np.concatenate([[np.inf], 0.5 * peak])
    cut, m = ndi.label(strong[labels] & (contrast >= half[labels]))
    if m == 0:
        return np.asarray(cut, dtype=np.int32), none
    area = np.bincount(cut.ravel(), minlength=m + 1)[1:].astype(np.float64)
    diameter = 2.0 * np.sqrt(area / np.pi) * mm_per_px
    weight = _fade(diameter, SPOT_FADE_MIN_MM, SPOT_MIN_MM) * _fade(
        diameter, SPOT_FADE_MAX_MM, SPOT_MAX_MM
    )
    elongation = np.ones(m)
    slices = ndi.find_objects(cut)
    for i in np.flatnonzero(weight > 0):
        sl = slices[i]
        if sl is not None:
            elongation[i] = _elongation(cut[sl] == i + 1)
    weight *= _fade(elongation, SPOT_FADE_ELONGATION, SPOT_MAX_ELONGATION)
    ok = weight >= 1.0  # inside every gate
    relabeled, _ = ndi.label(np.concatenate([[False], ok])[cut])
    per_pixel = np.concatenate([[0.0], weight])[cut]
    return np.asarray(relabeled, dtype=np.int32), per_pixel.astype(np.float32)


def _fade(x: np.ndarray, zero: float, one: float) -> np.ndarray:
    """0 at or beyond ``zero``, 1 at or within ``one``, linear between (either order)."""
    return np.asarray(np.clip((x - zero) / (one - zero), 0.0, 1.0))


def _elongation(mask: Bool) -> float:
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 1.0
    cov = np.cov(np.stack([xs, ys]).astype(np.float64))
    ev = np.linalg.eigvalsh(cov)
    return float(np.sqrt(max(ev[1], 1e-9) / max(ev[0], 1e-9)))


def pigment_maps(face: CanonicalFace, skin: Bool) -> PigmentMaps:
    """Melanin, redness and spots on the skin of a canonical face."""
    m, h = unmix(face.rgb)
    sigma = face.px(SMOOTH_MM)
    m = np.asarray(cv2.GaussianBlur(m, (0, 0), sigma), np.float32)
    h = np.asarray(cv2.GaussianBlur(h, (0, 0), sigma), np.float32)
    background = _melanin_background(m, skin, face)
    contrast = np.where(skin, m - background, 0.0).astype(np.float32)
    spots, spot_weight = detect_spots(contrast, skin, face.mm_per_px)
    h_median = float(np.median(h[skin])) if skin.any() else 0.0
    red = skin & (h > h_median + REDNESS_ABOVE_MEDIAN)
    return PigmentMaps(
        melanin=m,
        haemoglobin=h,
        spot_contrast=contrast,
        spots=spots,
        spot_weight=spot_weight,
        red=red,
        lab=cielab(face.rgb),
    )
