"""Synthetic skin images with exact ground truth, for property tests and benchmarks.

Conventions
-----------
* Images are ``(H, W, 3)`` uint8 RGB in sRGB unless noted; functions never modify their inputs.
* Pixel coordinates are ``(x, y)`` = (column, row) with pixel *centres* on integers.
* Physical sizes are in millimetres and converted with ``mm_per_px`` (mm per pixel).
* Photometric effects (lines, spots, exposure, white balance, blur) are applied in linear light.
* Every function is deterministic; randomness comes only from an explicit ``rng`` argument.
* Truth is exact at pixel centres: profiles are point-sampled, not area-integrated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray
from skimage import morphology

from analysis.types import F32, F64, U8, Bool

_thin: Callable[[Bool], Bool] = morphology.thin  # skimage is untyped

MELANIN_OD = np.array([0.40, 0.69, 1.00], np.float32)
"""Relative optical density of melanin in linear (R, G, B): absorbs blue most, red least."""
HEMOGLOBIN_OD = np.array([0.06, 1.00, 0.62], np.float32)
"""Relative optical density of oxy-haemoglobin in linear (R, G, B): absorbs green most."""
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
"""Rec. 709 weights giving relative luminance from linear RGB."""

TAPER_MM = 1.0
"""Length over which a line fades in/out; it is centred on each end (half depth at the end)."""


# --------------------------------------------------------------------------- colour


def srgb_to_linear(srgb: ArrayLike) -> F32:
    """Decode sRGB values in [0, 1] (any shape) to linear light in [0, 1] (float32)."""
    x = np.clip(np.asarray(srgb, np.float32), 0.0, 1.0)
    hi = _pow((x + np.float32(0.055)) / np.float32(1.055), 2.4)
    return np.where(x <= 0.04045, x / np.float32(12.92), hi).astype(np.float32)


def linear_to_srgb(linear: ArrayLike) -> F32:
    """Encode linear light in [0, 1] (any shape, clipped) to sRGB values in [0, 1] (float32)."""
    x = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    hi = np.float32(1.055) * _pow(x, 1 / 2.4) - np.float32(0.055)
    return np.where(x <= 0.0031308, x * np.float32(12.92), hi).astype(np.float32)


def _pow(x: F32, p: float) -> F32:
    # cv2.pow is ~30x faster than np.power on float32 (inputs here are never negative).
    flat = np.ascontiguousarray(x, np.float32).reshape(-1, 1)
    return np.asarray(cv2.pow(flat, p), np.float32).reshape(x.shape)


_DECODE_LUT = srgb_to_linear(np.arange(256, dtype=np.float32) / 255)


def _decode(image: U8) -> F32:
    return _DECODE_LUT[_check_image(image)]


def _encode(linear: F32) -> U8:
    return (linear_to_srgb(linear) * 255 + 0.5).astype(np.uint8)


def _check_image(image: U8) -> U8:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return image


def _check_scale(mm_per_px: float) -> None:
    if not mm_per_px > 0:
        raise ValueError(f"mm_per_px must be > 0, got {mm_per_px}")


def _smoothstep(t: F64) -> F64:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------- skin


def _noise_field(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> F32:
    """Zero-mean, unit-SD Gaussian-filtered white noise (low-pass at ``sigma_px``)."""
    h, w = shape
    k = max(1, int(sigma_px / 3))  # synthesise coarse noise on a k-times smaller grid, upsample
    small = rng.standard_normal((h // k + 3, w // k + 3), dtype=np.float32)
    small = np.asarray(cv2.GaussianBlur(small, (0, 0), max(sigma_px / k, 0.3)), np.float32)
    size = (small.shape[1] * k, small.shape[0] * k)
    big = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
    field = np.asarray(big[k : k + h, k : k + w], np.float32)
    field -= field.mean()
    return (field / np.float32(max(float(field.std()), 1e-12))).astype(np.float32)


def procedural_skin(
    shape: tuple[int, int],
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    tone: tuple[int, int, int] = (205, 160, 135),
    pore_contrast: float = 0.02,
    mottling: float = 0.03,
    illumination_gradient: float = 0.1,
    noise_sd: float = 1.5,
) -> U8:
    """Line-free synthetic skin: tone, mottling, pores, illumination gradient and sensor noise.

    Parameters
    ----------
    shape : (H, W) in pixels.
    mm_per_px : Physical pixel size in mm; sets the scale of mottling and pores.
    rng : Source of all randomness.
    tone : Mean skin colour as sRGB uint8 values.
    pore_contrast : SD of the relative luminance change from isotropic pore texture
        (band-pass noise, blobs of ~0.1-0.3 mm).
    mottling : Approximate SD of the relative luminance change from low-frequency (a few mm)
        melanin and haemoglobin variation, which also varies hue slightly.
    illumination_gradient : Relative luminance change across the image along a random direction
        (a linear ramp, factor ``1 +/- illumination_gradient / 2`` at opposite corners).
    noise_sd : SD of Gaussian sensor noise in 8-bit sRGB code values.

    Returns
    -------
    (H, W, 3) uint8 sRGB image, free of elongated structures; ~0.13 s for 1000 x 1000.
    """
    h, w = shape
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    _check_scale(mm_per_px)
    lin = srgb_to_linear(np.asarray(tone, np.float32) / 255)
    # Mottling as melanin + half as much haemoglobin density; luminance SD ~ ``mottling``.
    k_od = mottling / (math.log(10) * math.hypot(LUMA @ MELANIN_OD, 0.5 * LUMA @ HEMOGLOBIN_OD))
    mel = _noise_field((h, w), 2.0 / mm_per_px, rng) * np.float32(k_od)
    hem = _noise_field((h, w), 4.0 / mm_per_px, rng) * np.float32(0.5 * k_od)
    od = mel[..., None] * MELANIN_OD + hem[..., None] * HEMOGLOBIN_OD
    # Pores: difference of Gaussians of white noise, blobs ~0.1-0.3 mm across.
    white = rng.standard_normal((h, w), dtype=np.float32)
    pores = cv2.GaussianBlur(white, (0, 0), max(0.05 / mm_per_px, 0.3)) - cv2.GaussianBlur(
        white, (0, 0), 0.1 / mm_per_px
    )
    pores = (pores - pores.mean()) / max(float(pores.std()), 1e-12)
    # Illumination: a linear ramp along a random direction, spanning [-1/2, 1/2] over the image.
    theta = rng.uniform(0.0, 2 * math.pi)
    u = (
        np.cos(theta) * np.arange(w, dtype=np.float32)[None, :]
        + np.sin(theta) * np.arange(h, dtype=np.float32)[:, None]
    )
    u = (u - u.min()) / max(float(u.max() - u.min()), 1e-12) - np.float32(0.5)
    lum = (1 + np.float32(illumination_gradient) * u) * (1 - np.float32(pore_contrast) * pores)
    lin_img = lin * lum[..., None] * np.exp(np.float32(-math.log(10)) * od)
    srgb = linear_to_srgb(lin_img) * 255
    srgb += np.float32(noise_sd) * rng.standard_normal((h, w, 3), dtype=np.float32)
    return np.asarray(np.clip(srgb + 0.5, 0, 255), np.uint8)


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True, eq=False)
class LineSpec:
    """A wrinkle-like line.

    Attributes
    ----------
    points_px : (N, 2) float polyline of the centre line, (x, y) pixel coordinates, N >= 2.
    width_mm : Full width at half maximum of the darkening profile (typically 0.1-1.5 mm).
    depth : Relative luminance drop at the centre (typically 0.02-0.25): the centre pixel's
        luminance is ``(1 - depth)`` times that of the surrounding skin.
    highlight : Amplitude of the bright shoulder term (which peaks at distance ``width_mm``), as
        a fraction of ``depth``; in [0, 0.5]. The Gaussian core still darkens there, so the net
        brightening peaks at ~0.65 x highlight x depth, at ~1.3 x width_mm. Used by the
        ``"soft"`` profile (both sides) and the ``"oblique"`` one (the lit side only).
    profile : Cross-section shape, one of :data:`PROFILES`; every one darkens by exactly
        ``depth`` on the centre line and spans exactly ``width_mm`` between its half-depth
        points. ``"soft"``: a Gaussian core with a bright shoulder on each side. ``"v"``: a
        triangular groove reaching 0 at ``width_mm``. ``"flat"``: a flat-bottomed trough
        (``exp(-ln 2 (2d / w)^4)``). ``"exp"``: a cusp with long tails (``exp(-ln 2 x 2d / w)``).
        ``"oblique"``: light from one side, a Gaussian core with the shoulder on the polyline's
        left (the side of +90 degrees from its direction on screen, y down) only, so the
        line is darker than its surroundings on one side and brighter on the other.
    """

    points_px: F64
    width_mm: float
    depth: float
    highlight: float = 0.15
    profile: str = "soft"

    def __post_init__(self) -> None:
        pts = np.array(self.points_px, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise ValueError(f"points_px must be (N >= 2, 2), got {pts.shape}")
        keep = np.r_[True, np.any(np.diff(pts, axis=0) != 0, axis=1)]
        if keep.sum() < 2:
            raise ValueError("points_px must span a non-zero length")
        if not (self.width_mm > 0 and 0 < self.depth < 1 and 0 <= self.highlight <= 0.5):
            raise ValueError("need width_mm > 0, 0 < depth < 1 and 0 <= highlight <= 0.5")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        pts = pts[keep]
        pts.setflags(write=False)
        object.__setattr__(self, "points_px", pts)


@dataclass(frozen=True, eq=False)
class RenderedLines:
    """Result of :func:`render_lines`.

    Attributes
    ----------
    image : (H, W, 3) uint8 sRGB image with the lines.
    mask : (H, W) bool, pixels within ``width_mm / 2`` of a centre line (flat caps at the ends).
    centerline : (H, W) bool, rasterised centre lines, 1 pixel wide and 8-connected; every
        pixel is within sqrt(2) / 2 px of its polyline.
    depth_map : (H, W) float32, relative luminance drop applied: output linear RGB equals input
        linear RGB times ``1 - depth_map``. In [0, 1); slightly negative in highlight shoulders.
    lengths_mm : Polyline length of each line in mm.
    """

    image: U8
    mask: Bool
    centerline: Bool
    depth_map: F32
    lengths_mm: tuple[float, ...]


def polyline_length(points_px: ArrayLike) -> float:
    """Length in pixels of an (N, 2) polyline."""
    return float(np.hypot(*np.diff(np.asarray(points_px, np.float64), axis=0).T).sum())


def curved_line(
    start_xy: tuple[float, float], end_xy: tuple[float, float], *, curvature: float, n: int = 64
) -> F64:
    """(n, 2) circular-arc polyline from ``start_xy`` to ``end_xy`` (pixel coordinates).

    ``curvature`` is sagitta / chord length, signed: positive bulges to the right of the
    start-to-end direction as seen on screen (downwards for a left-to-right line); 0 is straight.
    """
    a, b = np.asarray(start_xy, np.float64), np.asarray(end_xy, np.float64)
    chord = float(np.hypot(*(b - a)))
    if chord == 0 or n < 2:
        raise ValueError("need distinct end points and n >= 2")
    u = (b - a) / chord
    normal = np.array([-u[1], u[0]])
    sag = curvature * chord
    if abs(sag) < 1e-9 * chord:
        return a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
    radius = (chord**2 / 4 + sag**2) / (2 * abs(sag))
    half = 2 * math.atan(2 * abs(sag) / chord)
    t = np.linspace(-half, half, n)
    off = (abs(sag) - radius * (1 - np.cos(t))) * math.copysign(1.0, sag)
    return (a + b) / 2 + np.outer(radius * np.sin(t), u) + np.outer(off, normal)


PROFILES = ("soft", "v", "flat", "exp", "oblique")
"""Line cross-section shapes (see :class:`LineSpec`)."""

_LN2 = math.log(2.0)


def _shoulder(d: F64, fwhm: float) -> F64:
    """``x**2 exp(1 - x**2)``, ``x = d / fwhm``: 0 at the centre, peak 1 at ``d = fwhm``."""
    x2 = (d / fwhm) ** 2
    return np.asarray(x2 * np.exp(1.0 - x2), np.float64)


@lru_cache(maxsize=256)  # each line asks twice: for its profile and its half-depth points
def _oblique_sigma(fwhm: float, highlight: float) -> float:
    """Sigma of the oblique profile's Gaussian core: the dark side halves at
    ``sigma sqrt(2 ln 2)``, the lit side (shoulder subtracted) sooner; together they span
    exactly ``fwhm``."""
    from scipy.optimize import brentq

    def lit_half(sigma: float) -> float:
        def f(d: float) -> float:
            x2 = (d / fwhm) ** 2
            return math.exp(-(d**2) / (2 * sigma**2)) - highlight * x2 * math.exp(1 - x2) - 0.5

        return float(brentq(f, 0.0, sigma * math.sqrt(2 * _LN2)))

    def excess(sigma: float) -> float:
        return sigma * math.sqrt(2 * _LN2) + lit_half(sigma) - fwhm

    hi = fwhm / math.sqrt(2 * _LN2)  # the dark side alone would span fwhm
    return (
        float(brentq(excess, 1e-6 * fwhm, hi))
        if highlight > 0
        else fwhm / (2 * math.sqrt(2 * _LN2))
    )


def _profile(d: F64, fwhm: float, highlight: float, kind: str = "soft") -> F64:
    """Net darkening profile at signed distance ``d`` (positive on the polyline's left): 1 at
    ``d = 0`` and 0.5 at the two half-depth points, ``fwhm`` apart (at ``+-fwhm / 2`` for the
    symmetric shapes)."""
    a = np.abs(d)
    if kind == "v":
        return np.clip(1.0 - a / fwhm, 0.0, None)
    if kind == "flat":
        return np.asarray(np.exp(-_LN2 * (2 * a / fwhm) ** 4), np.float64)
    if kind == "exp":
        return np.asarray(np.exp(-_LN2 * 2 * a / fwhm), np.float64)
    if kind == "oblique":
        sigma = _oblique_sigma(fwhm, highlight)
        lit = np.where(d > 0, highlight * _shoulder(d, fwhm), 0.0)
        return np.asarray(np.exp(-(d**2) / (2 * sigma**2)) - lit, np.float64)
    # soft: choose the Gaussian's sigma so that the net profile still halves at fwhm/2
    sigma = (fwhm / 2) / math.sqrt(-2 * math.log(0.5 + highlight * 0.25 * math.exp(0.75)))
    return np.asarray(np.exp(-(d**2) / (2 * sigma**2)) - highlight * _shoulder(d, fwhm), np.float64)


def _half_points(fwhm: float, highlight: float, kind: str) -> tuple[float, float]:
    """Distances of the half-depth points on the right (negative d) and left sides."""
    if kind != "oblique":
        return fwhm / 2, fwhm / 2
    dark = _oblique_sigma(fwhm, highlight) * math.sqrt(2 * _LN2)
    return dark, fwhm - dark


def line_reach(fwhm: float, kind: str = "soft") -> float:
    """Distance in pixels beyond which a line's profile is negligible (< 2e-4 of its depth)."""
    factor = {"v": 1.0, "flat": 1.0, "exp": 6.2}.get(kind, 3.5)
    return factor * fwhm + 2


def _line_field(
    spec: LineSpec, fwhm: float, taper: float, box: tuple[int, int, int, int]
) -> tuple[F64, F64]:
    """Signed distance to the end-extended polyline (positive on its left: the side of +90
    degrees from its direction on screen, y down) and arc length of the nearest point, in
    ``box``.

    Distances are only computed within ``line_reach(fwhm)`` of a segment; elsewhere they are inf.
    """
    pts = spec.points_px
    t0, t1 = pts[1] - pts[0], pts[-1] - pts[-2]
    t0, t1 = t0 / np.hypot(*t0), t1 / np.hypot(*t1)
    ext = np.vstack([pts[0] - t0 * taper / 2, pts, pts[-1] + t1 * taper / 2])
    x0, y0, x1, y1 = box
    dist2 = np.full((y1 - y0, x1 - x0), np.inf)
    arc = np.zeros_like(dist2)
    side = np.ones_like(dist2)
    reach = line_reach(fwhm, spec.profile)
    s0 = -taper / 2
    for a, b in itertools.pairwise(ext):
        ab = b - a
        seg = float(np.hypot(*ab))
        lo = np.floor(np.minimum(a, b) - reach).astype(int)
        hi = np.ceil(np.maximum(a, b) + reach).astype(int) + 1
        sx0, sy0 = max(lo[0], x0), max(lo[1], y0)
        sx1, sy1 = min(hi[0], x1), min(hi[1], y1)
        if sx0 < sx1 and sy0 < sy1:
            px = np.arange(sx0, sx1, dtype=np.float64)[None, :] - a[0]
            py = np.arange(sy0, sy1, dtype=np.float64)[:, None] - a[1]
            t = np.clip((px * ab[0] + py * ab[1]) / seg**2, 0.0, 1.0)
            d2 = (px - t * ab[0]) ** 2 + (py - t * ab[1]) ** 2
            win = np.s_[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
            closer = d2 < dist2[win]
            dist2[win] = np.where(closer, d2, dist2[win])
            arc[win] = np.where(closer, s0 + t * seg, arc[win])
            # screen coordinates (y down): the left of direction (dx, dy) is (dy, -dx)
            left = np.where(px * ab[1] - py * ab[0] > 0, 1.0, -1.0)
            side[win] = np.where(closer, left, side[win])
        s0 += seg
    return side * np.sqrt(dist2), arc


def _rasterise(points_px: F64, canvas: Bool) -> None:
    """Mark the pixels nearest to samples every <= 0.5 px along the polyline (8-connected)."""
    seg = np.diff(points_px, axis=0)
    steps = np.maximum(np.ceil(np.hypot(*seg.T) / 0.5).astype(int), 1)
    starts = points_px[:-1]
    parts = [a + np.arange(k)[:, None] / k * d for a, d, k in zip(starts, seg, steps, strict=True)]
    ij = np.rint(np.vstack([*parts, points_px[-1:]])).astype(int)
    h, w = canvas.shape
    ij = ij[(ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)]
    canvas[ij[:, 1], ij[:, 0]] = True


def render_lines(image: U8, lines: Sequence[LineSpec], *, mm_per_px: float) -> RenderedLines:
    """Darken wrinkle-like lines into ``image`` with exact truth.

    The relative luminance drop at distance ``d`` (pixels) from a centre line is
    ``depth * w(s) * p(d)``. For the default ``"soft"`` profile ``p = g(d) - highlight * h(d)``:
    ``g`` is a Gaussian with ``g(0) = 1``, ``h`` a shoulder ``x**2 exp(1 - x**2)`` with
    ``x = d / fwhm`` (0 at the centre, peak 1 at ``d = fwhm``), and ``g``'s sigma makes the net
    profile exactly 0.5 at ``fwhm / 2``; the other shapes are in :class:`LineSpec`. ``w(s)``
    fades each end smoothly over :data:`TAPER_MM` centred on the end point (0.5 at the end), so
    the half-depth length equals the polyline length. All channels are multiplied by the same
    factor in linear light, so luminance drops by exactly the depth and hue is preserved
    (up to clipping and 8-bit rounding). Overlapping lines take the max darkening (and,
    separately, the max highlight). Distances are exact point-to-segment distances.

    Parameters
    ----------
    image : (H, W, 3) uint8 sRGB.
    lines : The lines; coordinates in pixels, sizes in mm.
    mm_per_px : Pixel size in mm.
    """
    _check_scale(mm_per_px)
    lin = _decode(image)
    h, w = image.shape[:2]
    dark = np.zeros((h, w), np.float64)
    bright = np.zeros((h, w), np.float64)
    mask = np.zeros((h, w), bool)
    centre = np.zeros((h, w), bool)
    lengths = []
    for spec in lines:
        pts = spec.points_px
        length = polyline_length(pts)
        lengths.append(length * mm_per_px)
        fwhm = spec.width_mm / mm_per_px
        taper = min(TAPER_MM / mm_per_px, length)
        margin = line_reach(fwhm, spec.profile) + taper / 2
        x0, y0 = np.maximum(np.floor(pts.min(axis=0) - margin).astype(int), 0)
        x1 = min(int(np.ceil(pts[:, 0].max() + margin)) + 1, w)
        y1 = min(int(np.ceil(pts[:, 1].max() + margin)) + 1, h)
        if x0 < x1 and y0 < y1:
            dist, arc = _line_field(spec, fwhm, taper, (x0, y0, x1, y1))
            iy, ix = np.nonzero(np.isfinite(dist))
            d, s = dist[iy, ix], arc[iy, ix]
            ends = _smoothstep(s / taper + 0.5) * _smoothstep((length - s) / taper + 0.5)
            drop = spec.depth * ends * _profile(d, fwhm, spec.highlight, spec.profile)
            right, left = _half_points(fwhm, spec.highlight, spec.profile)
            iy, ix = iy + y0, ix + x0
            dark[iy, ix] = np.maximum(dark[iy, ix], drop)
            bright[iy, ix] = np.maximum(bright[iy, ix], -drop)
            mask[iy, ix] |= (d <= left) & (d >= -right) & (s >= 0) & (s <= length)
        _rasterise(pts, centre)
    depth_map = (dark - bright).astype(np.float32)
    out = _encode(lin * (1 - depth_map)[..., None])
    return RenderedLines(out, mask, _thin(centre), depth_map, tuple(lengths))


# --------------------------------------------------------------------------- spots


@dataclass(frozen=True)
class SpotSpec:
    """A pigmented spot (lentigo-like).

    Attributes
    ----------
    center_xy : Centre in pixel coordinates.
    diameter_mm : Equivalent diameter of the underlying ellipse, whose area is
        ``pi * (diameter_mm / 2) ** 2`` whatever the eccentricity (typically 1-8 mm).
    contrast : Peak added melanin optical density (typically 0.05-0.5); linear RGB is multiplied
        by ``10 ** (-contrast * MELANIN_OD)``.
    eccentricity : Ellipse eccentricity in [0, 1).
    angle_deg : Major-axis angle from +x, counter-clockwise on screen (y down).
    irregularity : Relative SD of the smooth random radial perturbation of the boundary.
    """

    center_xy: tuple[float, float]
    diameter_mm: float
    contrast: float
    eccentricity: float = 0.3
    angle_deg: float = 0.0
    irregularity: float = 0.15


@dataclass(frozen=True)
class RednessSpec:
    """A diffuse red patch: round, irregular, with a soft edge of a quarter of its diameter.

    ``strength`` is the peak added haemoglobin optical density (typically 0.05-0.4).
    """

    center_xy: tuple[float, float]
    diameter_mm: float
    strength: float


@dataclass(frozen=True, eq=False)
class RenderedSpots:
    """Result of :func:`render_spots` / :func:`render_redness`.

    Attributes
    ----------
    image : (H, W, 3) uint8 sRGB image with the spots.
    mask : (H, W) bool, where a spot's density is >= half its maximum (its irregular boundary).
    areas_mm2 : Exact area inside each spot's boundary in mm^2 (also the part outside the image).
    labels : (H, W) int32, 0 = background, i = spots[i - 1] (the densest spot where they overlap).
    """

    image: U8
    mask: Bool
    areas_mm2: tuple[float, ...]
    labels: NDArray[np.int32]


_THETA = np.linspace(0.0, 2 * math.pi, 1024, endpoint=False)


class _Blob(NamedTuple):
    centre: tuple[float, float]
    a_mm: float  # semi-axes
    b_mm: float
    angle_deg: float
    irregularity: float
    edge_mm: float  # width of the soft edge, centred on the boundary
    density: float  # peak added optical density


def _render_absorbers(
    image: U8, blobs: Sequence[_Blob], vector: F32, mm_per_px: float, rng: np.random.Generator
) -> RenderedSpots:
    """Add optical density ``blob.density * vector`` over each irregular ellipse."""
    _check_scale(mm_per_px)
    lin = _decode(image)
    h, w = image.shape[:2]
    density = np.zeros((h, w), np.float64)
    labels = np.zeros((h, w), np.int32)
    label_density = np.zeros((h, w), np.float64)
    areas = []
    for i, (centre, a_mm, b_mm, angle, irregularity, edge_mm, amount) in enumerate(blobs, 1):
        a, b, edge = a_mm / mm_per_px, b_mm / mm_per_px, edge_mm / mm_per_px
        k = np.arange(2, 7)
        coef = rng.standard_normal(5) / k**2  # smooth, lumpy outline rather than a star
        phase = rng.uniform(0.0, 2 * math.pi, 5)
        wobble = np.cos(np.outer(_THETA, k) + phase) @ coef
        wobble /= max(float(wobble.std()), 1e-12)
        ellipse = a * b / np.hypot(b * np.cos(_THETA), a * np.sin(_THETA))
        radius = np.maximum(ellipse * np.maximum(1 + irregularity * wobble, 0.2), edge)
        areas.append(float(np.mean(radius**2) * math.pi * mm_per_px**2))
        reach = float(radius.max()) + edge
        x0, y0 = max(int(centre[0] - reach), 0), max(int(centre[1] - reach), 0)
        x1, y1 = min(int(centre[0] + reach) + 2, w), min(int(centre[1] + reach) + 2, h)
        if not (x0 < x1 and y0 < y1):
            continue
        dx = np.arange(x0, x1, dtype=np.float64)[None, :] - centre[0]
        dy = np.arange(y0, y1, dtype=np.float64)[:, None] - centre[1]
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        u, v = dx * c - dy * s, dx * s + dy * c  # spot frame, u along the major axis
        r = np.hypot(u, v)
        bound = np.interp(np.arctan2(v, u), _THETA, radius, period=2 * math.pi)
        dens = amount * _smoothstep((bound + edge / 2 - r) / edge)
        win = np.s_[y0:y1, x0:x1]
        density[win] = np.maximum(density[win], dens)
        take = (r <= bound) & (dens > label_density[win])
        labels[win] = np.where(take, i, labels[win])
        label_density[win] = np.where(take, dens, label_density[win])
    absorb = np.exp(-math.log(10) * density[..., None].astype(np.float32) * vector)
    return RenderedSpots(_encode(lin * absorb), labels > 0, tuple(areas), labels)


def render_spots(
    image: U8, spots: Sequence[SpotSpec], *, mm_per_px: float, rng: np.random.Generator
) -> RenderedSpots:
    """Add melanin-like pigmented spots (irregular ellipses, ~0.3 mm soft edge) to ``image``.

    Each spot adds optical density ``contrast`` (tapering over the edge) along
    :data:`MELANIN_OD` in linear light: darker, and relatively bluer channels drop more.
    Overlapping spots take the max density. ``rng`` draws the boundary irregularity.
    """
    blobs = []
    for sp in spots:
        if not (sp.diameter_mm > 0 and 0 <= sp.eccentricity < 1):
            raise ValueError("need diameter_mm > 0 and 0 <= eccentricity < 1")
        squash = (1 - sp.eccentricity**2) ** 0.25  # keeps the ellipse area at pi (d / 2)^2
        a, b = sp.diameter_mm / 2 / squash, sp.diameter_mm / 2 * squash
        blobs.append(_Blob(sp.center_xy, a, b, sp.angle_deg, sp.irregularity, 0.3, sp.contrast))
    return _render_absorbers(image, blobs, MELANIN_OD, mm_per_px, rng)


def render_redness(
    image: U8, patches: Sequence[RednessSpec], *, mm_per_px: float, rng: np.random.Generator
) -> RenderedSpots:
    """Add diffuse haemoglobin-like red patches along :data:`HEMOGLOBIN_OD`.

    Same model and result as :func:`render_spots`; ``strength`` is the peak added density.
    """
    blobs = [
        _Blob(
            p.center_xy, p.diameter_mm / 2, p.diameter_mm / 2, 0, 0.2, p.diameter_mm / 4, p.strength
        )
        for p in patches
    ]
    return _render_absorbers(image, blobs, HEMOGLOBIN_OD, mm_per_px, rng)


# --------------------------------------------------------------------------- nuisances


def adjust_exposure(image: U8, factor: float) -> U8:
    """Multiply linear light by ``factor`` (1 = identity), clipping at white."""
    return _encode(_decode(image) * np.float32(factor))


def adjust_gamma(image: U8, gamma: float) -> U8:
    """Apply a power law to the encoded values: ``out = 255 * (in / 255) ** gamma`` (>1 darkens)."""
    lut = np.clip(255 * (np.arange(256) / 255) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return lut[_check_image(image)]


def adjust_white_balance(image: U8, gains: tuple[float, float, float]) -> U8:
    """Multiply linear R, G, B by ``gains``, clipping at white."""
    return _encode(_decode(image) * np.asarray(gains, np.float32))


def affine_jitter(
    image: U8, *, angle_deg: float, scale: float, shift_px: tuple[float, float]
) -> tuple[U8, F64]:
    """Rotate (counter-clockwise on screen) and scale about the image centre, then shift.

    Returns the warped image (bilinear, reflected border) and the (2, 3) float64 matrix ``M``
    mapping input pixel coordinates to output ones: ``[x', y'] = M @ [x, y, 1]``.
    """
    h, w = _check_image(image).shape[:2]
    centre = ((w - 1) / 2, (h - 1) / 2)
    m = np.asarray(cv2.getRotationMatrix2D(centre, angle_deg, scale), np.float64)
    m[:, 2] += shift_px
    out = cv2.warpAffine(
        image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return np.asarray(out, np.uint8), m


def warp_mask(mask: Bool, matrix: F64, shape: tuple[int, int]) -> Bool:
    """Carry a truth mask through ``matrix`` (from :func:`affine_jitter`) into an (H, W) mask.

    Bilinear resampling thresholded at 0.5; outside the source counts as background (unlike the
    image's reflected border, which holds no truth).
    """
    h, w = shape
    warped = cv2.warpAffine(
        mask.astype(np.float32),
        np.asarray(matrix, np.float64),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.asarray(warped) >= 0.5


def gaussian_blur(image: U8, sigma_px: float) -> U8:
    """Gaussian optical blur of ``sigma_px`` pixels, in linear light (0 = identity)."""
    if sigma_px <= 0:
        return _check_image(image).copy()
    return _encode(np.asarray(cv2.GaussianBlur(_decode(image), (0, 0), sigma_px), np.float32))


def add_noise(image: U8, sd: float, *, rng: np.random.Generator) -> U8:
    """Add Gaussian noise of ``sd`` 8-bit code values to the encoded image (rounded, clipped)."""
    noise = rng.standard_normal(_check_image(image).shape, dtype=np.float32)
    noisy = image + np.float32(sd) * noise
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def jpeg_roundtrip(image: U8, quality: int) -> U8:
    """Encode to JPEG at ``quality`` (0-100, OpenCV defaults: 4:2:0) and decode, as RGB."""
    bgr = cv2.cvtColor(_check_image(image), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), np.uint8)
