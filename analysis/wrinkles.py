"""Wrinkle detection: oriented multi-scale valley filters, hysteresis, centre lines, width, depth.

Method
------
1. Illumination normalisation. ``Y`` is linear luminance. The skin background ``B`` is a
   Gaussian of ``Y`` restricted to skin (``BACKGROUND_SIGMA_MM``, wide against any line).
   ``R = Y / B - 1`` is the relative darkening: a wrinkle 8 % deep reads -0.08 whatever the
   exposure or white balance. Shine brighter than ``HIGHLIGHT_CLIP`` is clipped.
2. Valley strength: ``R`` is filtered with a bank of oriented second-derivative-of-Gaussian
   kernels (``ORIENTATIONS`` directions, ``SIGMAS_MM`` across the line, ``ELONGATION`` times
   longer along it: steerable-filter style line detection, Freeman & Adelson 1991, with the
   elongated support of Gabor wrinkle banks that averages skin texture out along the line).
   Kernels are sigma^2-normalised: a long Gaussian valley of depth ``d`` and standard width
   ``w`` responds most at ``s = sqrt(2) w`` with ``2 / (3 sqrt 3) d ~ 0.385 d`` (Lindeberg 1998,
   gamma = 1), so response / 0.385 estimates depth and the best scale gives the width,
   FWHM = 1.665 s*. Round blobs (pores) respond in every direction and weakly.
3. Centre lines: non-maximum suppression across the best direction; a candidate must be
   darker than the skin on both sides of the line (the inside edge of a dark patch is not a
   valley) and darker itself. Its evidence is the strength averaged along its own direction
   over ``EVIDENCE_MM``: folds keep their strength along that stretch, texture flecks average
   down. The pixel's weight ramps linearly from 0 at ``low`` to 1 at ``high`` evidence, where
   ``low``/``high`` are ``LOW``/``HIGH`` raised to ``TEXTURE_LOW``/``TEXTURE_HIGH`` times the
   skin's median response at ``SIGMAS_MM[TEXTURE_SCALE]`` (a line must stand out from that
   skin's own relief). Every step is local and continuous, so a slightly different photo of
   the same face moves the metrics slightly instead of flipping whole lines in or out.
   Centre pixels then chain along their own direction (``_chain_lengths``); a chain shorter
   than ``CHAIN_MIN_MM`` is texture and gets weight 0, from ``CHAIN_FULL_MM`` it keeps its
   weight (linear between). Pixels of weight >= 0.5 form the drawn centre line; lines within
   ``LINK_GAP_MM`` are one line, counted when at least ``MIN_LENGTH_MM`` long.
4. Per centre pixel: length (1 / max(|cos|, |sin|) of the line direction, exact for
   8-connected straight lines, times the weight), width (FWHM from the refined scale),
   depth (measured ``-R`` on the centre line). A linked line is "fine" when its mean width
   is under ``FINE_MAX_WIDTH_MM`` and its mean depth under ``FINE_MAX_DEPTH``, else "deep".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from analysis.canonical import CanonicalFace
from analysis.colour import luminance, masked_gaussian
from analysis.masks import within
from analysis.types import F32, F64, U8, Bool

SIGMAS_MM: tuple[float, ...] = (0.2, 0.33, 0.55, 0.9)
PEAK_GAIN = 2.0 / (3.0 * np.sqrt(3.0))  # sigma^2-normalised response per unit depth
BACKGROUND_SIGMA_MM = 2.0
HIGH = 0.045  # along-line evidence (estimated depth) at which a centre pixel counts fully
LOW = 0.02  # ... and below which it does not count (linear ramp between)
MIN_LENGTH_MM = 4.0  # shorter linked pieces are not counted as lines of their own
LINK_GAP_MM = 1.5
MIN_DARKENING = 0.01  # measured relative darkening a centre pixel needs
ALONG_SAMPLES = 7
EXCLUDE_MARGIN_MM = 1.0
OUTLINE_MARGIN_MM = 2.5  # no line centre this close to the face's outline or hairline
EVIDENCE_MM = 1.5  # sigma of the along-line averaging of valley strength
SIDE_CONTRAST = 0.5  # both sides must be this share of the darkening brighter than the centre
FINE_MAX_WIDTH_MM = 0.45  # the narrowest width the 0.2 mm canonical grid resolves is ~0.35 mm
FINE_MAX_DEPTH = 0.06
HIGHLIGHT_CLIP = 0.10  # brighter-than-skin beyond this (specular shine) is clipped
ORIENTATIONS = 8
ELONGATION = 3.0  # along-line sigma over across-line sigma
TEXTURE_LOW = 2.0  # lines must exceed these multiples of the skin's median response
TEXTURE_HIGH = 3.0
TEXTURE_SCALE = 2  # index into SIGMAS_MM: texture level read where pixel noise is averaged out
PYRAMID_FROM_PX = 2.0  # coarser scales run at half resolution
CHAIN_REACH_MM = 0.45  # centre pixels this close, along the line and of like direction, chain
CHAIN_MIN_MM = 2.5  # chains shorter than this are texture, not lines ...
CHAIN_FULL_MM = 5.0  # ... and from this length they count fully (linear between)


@dataclass(frozen=True, eq=False)
class WrinkleMap:
    """Wrinkle detection in the canonical frame.

    strength: (H, W) float32 estimated depth from the filter (0 where no valley).
    centerline: (H, W) bool centre-line pixels of accepted lines.
    mask: (H, W) bool line pixels at their full width.
    width_mm, depth, length_mm: (H, W) float32 per centre pixel (0 elsewhere); depth is the
    relative darkening (0.08 = 8 %) measured on the photo; length is weighted by how clearly
    the pixel passed acceptance (0-1: the evidence ramp times the chain-length ramp), so it
    may be set on pixels just short of ``centerline``.
    segments: (H, W) int32 label of the linked line each centre pixel belongs to (0 = none).
    fine: (H, W) bool centre pixels of segments classified as fine lines.
    relative: (H, W) float32 the normalised luminance R = Y / B - 1 (0 outside skin).
    broad: (H, W) float32 valley strength at the single scale ``SIGMAS_MM[TEXTURE_SCALE]``
    (0.55 mm; as estimated depth, everywhere on skin). For a line narrower than that scale it
    follows the line's cross-section area (depth x width), which a blur keeps: a photo
    re-sampled a little softer or sharper reads a line's depth 3-4 % (at 2.6 px/mm 15 %)
    lower or higher at its best scale (``strength``), but 1 % (5 %) at this one. A
    comparison reads line load on it (``analysis.compare``).
    """

    strength: F32
    centerline: Bool
    mask: Bool
    width_mm: F32
    depth: F32
    length_mm: F32
    segments: np.ndarray
    fine: Bool
    relative: F32
    broad: F32


def relative_luminance(face: CanonicalFace, skin: Bool) -> F32:
    """``R = Y / B - 1`` on skin (0 elsewhere), with B the skin-only Gaussian of Y."""
    y = luminance(face.rgb)
    background = masked_gaussian(y, skin, face.px(BACKGROUND_SIGMA_MM))
    rel = y / np.maximum(background, 1e-4) - 1.0
    rel = np.clip(rel, -0.6, HIGHLIGHT_CLIP)
    return np.where(skin, rel, 0.0).astype(np.float32)


def valley_kernel(sigma: float, theta: float, elongation: float) -> F32:
    """Oriented, sigma^2-normalised second-derivative-of-Gaussian kernel.

    ``sigma`` (px) across the line, ``elongation * sigma`` along it; ``theta`` is the direction
    of the line normal. The kernel sums to zero (flat skin gives 0) and a long straight
    Gaussian valley of depth ``d`` and width ``sigma / sqrt 2`` gives ``PEAK_GAIN * d``.
    """
    along = elongation * sigma
    half = _kernel_half(sigma, elongation)
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    g = np.exp(-(u**2) / (2 * sigma**2) - v**2 / (2 * along**2))
    g /= g.sum()
    k = (u**2 / sigma**2 - 1.0) * g
    k -= g * (k.sum() / g.sum())  # exact zero mean on the discrete grid
    return np.asarray(k, dtype=np.float32)


def _f32(a: object) -> F32:
    return np.asarray(a, np.float32)


def _running_max(best: F32 | None, value: F32) -> tuple[F32, U8]:
    """The running maximum with ``value``, and where ``value`` won (255) or not (0) (OpenCV
    compare and max: several times faster than numpy's masked copies)."""
    if best is None:
        return value, np.full(value.shape, 255, np.uint8)
    wins = np.asarray(cv2.compare(value, best, cv2.CMP_GT), np.uint8)
    return _f32(cv2.max(best, value)), wins


def _pick(wins: U8, new: U8 | int, old: U8 | int) -> U8:
    """``new`` where ``wins`` (255), ``old`` elsewhere (uint8 labels)."""
    return np.asarray((wins & np.asarray(new, np.uint8)) | (old & ~wins), np.uint8)


@dataclass(frozen=True, eq=False)
class _Bank:
    """The filter bank's answer per pixel: best valley strength (as depth), the line-normal
    angle (rad), the index of the best scale, and the strength at every scale (``texture``:
    at scale ``TEXTURE_SCALE`` alone, for the texture level)."""

    strength: F32
    theta: F32
    scale_idx: U8
    per_scale: list[F32]

    @property
    def texture(self) -> F32:
        return self.per_scale[min(TEXTURE_SCALE, len(self.per_scale) - 1)]


def _kernel_half(sigma: float, elongation: float = ELONGATION) -> int:
    """Half size (px) of ``valley_kernel(sigma, ., elongation)``: three sigmas along the line."""
    return int(np.ceil(3.0 * max(sigma, elongation * sigma)))


@dataclass(frozen=True, eq=False)
class _Spectrum:
    """An image's discrete Fourier transform (OpenCV's packed real format), the image padded
    by ``pad`` (reflected, as ``BORDER_REFLECT``) and to a size the transform is fast at."""

    data: F32
    pad: int
    shape: tuple[int, int]

    @classmethod
    def of(cls, image: F32, pad: int) -> _Spectrum:
        h, w = image.shape
        hp, wp = cv2.getOptimalDFTSize(h + 2 * pad), cv2.getOptimalDFTSize(w + 2 * pad)
        padded = cv2.copyMakeBorder(image, pad, hp - h - pad, pad, wp - w - pad, cv2.BORDER_REFLECT)
        return cls(_f32(cv2.dft(padded)), pad, (h, w))

    def filtered(self, sigma: float, orientation: int) -> F32:
        """The image filtered with ``valley_kernel`` (as ``cv2.filter2D`` with
        ``BORDER_REFLECT`` would, up to float rounding; several times faster for these
        kernel sizes, and the kernels' transforms are cached per image size)."""
        kernel = _kernel_spectrum(self.data.shape, sigma, orientation)
        out = cv2.idft(
            cv2.mulSpectrums(self.data, kernel, 0), flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE
        )
        h, w = self.shape
        return _f32(out[self.pad : self.pad + h, self.pad : self.pad + w])


@lru_cache(maxsize=8 * ORIENTATIONS)  # a canonical frame's bank (80 MB) and the glasses band's
def _kernel_spectrum(shape: tuple[int, ...], sigma: float, orientation: int) -> F32:
    """Transform of ``valley_kernel`` centred on the origin of a ``shape`` grid."""
    kernel = valley_kernel(sigma, np.pi * orientation / ORIENTATIONS, ELONGATION)
    half = kernel.shape[0] // 2
    grid = np.zeros(shape[:2], np.float32)
    grid[: kernel.shape[0], : kernel.shape[1]] = kernel
    return _f32(cv2.dft(np.roll(grid, (-half, -half), axis=(0, 1))))


def _oriented_valleys(rel: F32, sigmas_px: tuple[float, ...]) -> _Bank:
    """Run the oriented filter bank on ``rel`` (see the module doc).

    Each orientation's response has the positive response of the orthogonal orientation
    subtracted (a line is flat along itself; a blob curves the same way in every direction).
    Scales above ``PYRAMID_FROM_PX`` run on a half-resolution copy, keeping kernels small.
    Filtering is by multiplication in the Fourier domain: one transform of each resolution,
    one inverse per kernel.
    """
    shape = rel.shape
    size = (shape[1], shape[0])
    fine = [s for s in sigmas_px if s <= PYRAMID_FROM_PX]
    coarse = [s / 2 for s in sigmas_px if s > PYRAMID_FROM_PX]
    spectra = {
        False: _Spectrum.of(rel, max(map(_kernel_half, fine), default=0)),
        True: _Spectrum.of(
            _f32(cv2.resize(rel, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)),
            max(map(_kernel_half, coarse), default=0),
        ),
    }
    half = ORIENTATIONS // 2
    per_scale: list[F32] = []
    strength: F32 | None = None
    orient: U8 = np.zeros(shape, np.uint8)
    scale_idx: U8 = np.zeros(shape, np.uint8)
    for si, s in enumerate(sigmas_px):
        is_coarse = s > PYRAMID_FROM_PX
        spectrum, s_eff = spectra[is_coarse], (s / 2 if is_coarse else s)
        best: F32 | None = None
        arg: U8 = np.zeros(spectrum.shape, np.uint8)
        for k in range(half):
            # orthogonal directions k and k + half: the stronger, less the other's positive
            # response (the same as each less the other's, the better of the two kept)
            r1, r2 = (spectrum.filtered(s_eff, j) for j in (k, k + half))
            value = cv2.subtract(cv2.max(r1, r2), cv2.max(cv2.min(r1, r2), 0.0))
            first = np.asarray(cv2.compare(r1, r2, cv2.CMP_GE), np.uint8)
            best, wins = _running_max(best, _f32(value))
            arg = _pick(wins, _pick(first, k, k + half), arg)
        assert best is not None
        if is_coarse:
            best = _f32(cv2.resize(best, size, interpolation=cv2.INTER_LINEAR))
            arg = np.asarray(cv2.resize(arg, size, interpolation=cv2.INTER_NEAREST), np.uint8)
        best = _f32(cv2.multiply(cv2.max(best, 0.0), 1.0 / PEAK_GAIN))
        per_scale.append(best)
        strength, wins = _running_max(strength, best)
        orient, scale_idx = _pick(wins, arg, orient), _pick(wins, si, scale_idx)
    assert strength is not None
    theta = orient.astype(np.float32) * np.float32(np.pi / ORIENTATIONS)
    return _Bank(strength, theta, scale_idx, per_scale)


def _refined_sigma(bank: _Bank, sigmas_px: tuple[float, ...], at: Bool) -> F32:
    """Each pixel's line scale (px) at the pixels ``at`` (0 elsewhere): the best of
    ``sigmas_px``, refined by a parabola in log(sigma) through the best and its neighbours."""
    ys, xs = np.nonzero(at)
    n = len(sigmas_px)
    idx = bank.scale_idx[ys, xs].astype(np.intp)
    values = np.stack([p[ys, xs] for p in bank.per_scale])  # (n, N)
    logs = np.log(np.asarray(sigmas_px, np.float64))
    i0 = np.clip(idx, 1, n - 2)
    cols = np.arange(len(ys))
    ym, y0, yp = (values[i0 + d, cols].astype(np.float64) for d in (-1, 0, 1))
    denom = ym - 2 * y0 + yp
    curved = denom < -1e-9
    offset = np.clip(np.where(curved, 0.5 * (ym - yp) / np.where(curved, denom, -1.0), 0.0), -1, 1)
    step = float(np.diff(logs).mean())
    interior = (idx > 0) & (idx < n - 1)
    sigma = np.where(interior, np.exp(logs[i0] + offset * step), np.asarray(sigmas_px)[idx])
    out = np.zeros(at.shape, np.float32)
    out[ys, xs] = sigma
    return out


def _non_max_suppression(strength: F32, theta: F32) -> Bool:
    """Keep pixels that are maxima of ``strength`` along the line normal (4 directions)."""
    q = np.round(theta / (np.pi / 4)).astype(np.int8) % 4  # 0: x, 1: diag, 2: y, 3: anti-diag
    p = np.pad(strength, 1)
    c = p[1:-1, 1:-1]
    keep = np.zeros(strength.shape, bool)
    for k, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        a = p[1 + dy : p.shape[0] - 1 + dy, 1 + dx : p.shape[1] - 1 + dx]
        b = p[1 - dy : p.shape[0] - 1 - dy, 1 - dx : p.shape[1] - 1 - dx]
        keep |= (q == k) & (c >= a) & (c >= b)
    return keep & (strength > 0)


def _sigmas_px(face: CanonicalFace) -> tuple[float, ...]:
    """``SIGMAS_MM`` in the face's canonical pixels."""
    return tuple(face.px(s) for s in SIGMAS_MM)


def _weighted_centres(
    face: CanonicalFace,
    skin: Bool,
    rel: F32,
    bank: _Bank,
    exclude: Bool | None,
    features: Bool | None,
) -> tuple[F32, F32, F32, F32]:
    """Steps 2-3 of the module doc on a filter bank's answer: the valley strength kept on
    inner skin, each centre pixel's weight (0-1: the evidence ramp times the chain-length
    ramp), its length (mm, times that weight) and its refined scale (px)."""
    strength, theta = bank.strength, bank.theta
    # keep away from the skin border, where the mask edge itself is not a wrinkle
    inner = cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    texture_area = inner
    if features is not None:
        inner = inner & ~within(~skin & ~features, face.px(OUTLINE_MARGIN_MM))
    strength = np.where(inner, strength, 0.0).astype(np.float32)

    # texture floor: lines must stand out from the skin's own relief around them
    texture = float(np.median(bank.texture[texture_area])) if texture_area.any() else 0.0
    low = max(LOW, TEXTURE_LOW * texture)
    high = max(HIGH, TEXTURE_HIGH * texture)
    ridge = _non_max_suppression(strength, theta) & (strength >= 0.5 * low)
    # Evidence accumulates along a line: each centre pixel's evidence is the valley strength
    # averaged along its own direction over +-EVIDENCE_MM (Gaussian weights). A fold keeps its
    # strength over that stretch; texture flecks average down. The weight ramps from 0 to 1
    # between ``low`` and ``high`` evidence: every step is local and continuous, so a tiny
    # change of the photo moves the metrics a little instead of flipping whole lines. A pixel
    # at or under ``low`` weighs 0 whatever else it passes, so the two-sided test (and the
    # scale it needs), each pixel's own, runs on the others only.
    evidence = _along_line_mean(strength, theta, face.px(EVIDENCE_MM), ridge)
    ridge &= evidence > low
    sigma = _refined_sigma(bank, _sigmas_px(face), ridge)
    ridge = _two_sided(ridge, rel, sigma, theta)
    free = None  # where a chain's length counts (off pigmented spots)
    if exclude is not None and exclude.any():
        free = ~within(exclude, face.px(EXCLUDE_MARGIN_MM))
    step = 1.0 / np.maximum(np.abs(np.cos(theta)), np.abs(np.sin(theta)))
    length = np.where(ridge, step * face.mm_per_px, 0.0).astype(np.float32)
    weight = np.where(
        ridge, np.clip((evidence - low) / max(high - low, 1e-6), 0.0, 1.0), 0.0
    ).astype(np.float32)
    # A wrinkle is a continuous valley: centre pixels chain along their own direction into
    # curves, and a curve shorter than CHAIN_FULL_MM counts only in part (none below
    # CHAIN_MIN_MM). Skin texture, pores and stubble give short chains that break at every
    # turn; undirected linking would merge them into networks of any length.
    step_mm = (step * face.mm_per_px).astype(np.float32)
    chain_mm = _chain_lengths(weight > 0, theta, step_mm, face.px(CHAIN_REACH_MM), free)
    gate = np.clip((chain_mm - CHAIN_MIN_MM) / (CHAIN_FULL_MM - CHAIN_MIN_MM), 0.0, 1.0)
    weight = (weight * gate).astype(np.float32)
    return strength, weight, (length * weight).astype(np.float32), sigma


def detect_wrinkles(
    face: CanonicalFace,
    skin: Bool,
    *,
    exclude: Bool | None = None,
    rel: F32 | None = None,
    features: Bool | None = None,
) -> WrinkleMap:
    """Detect wrinkles on the skin of a canonical face.

    ``exclude`` marks pigmented spots. Line pixels within ``EXCLUDE_MARGIN_MM`` of one do not
    count towards their chain's length. A dark round patch is pigment, not a fold, though its
    inside curves like a short wide valley: a chain that stays there gets weight 0. A fold
    running through a spot (or through a shadow taken for one) keeps its pixels there.

    ``features`` (eyes, brows, lips, nostrils) tells the face's outline and hairline apart from
    them: no line centre lies within ``OUTLINE_MARGIN_MM`` of off-skin pixels that are not
    features (the shadow along the hairline or the jaw is a valley, not a fold), while lines
    may run up to the eyes and lips.
    """
    if rel is None:
        rel = relative_luminance(face, skin)
    bank = _oriented_valleys(rel, _sigmas_px(face))
    strength, weight, length, sigma = _weighted_centres(face, skin, rel, bank, exclude, features)
    eight = np.ones((3, 3), bool)
    present = weight > 0
    ridge = weight >= 0.5  # the drawn, counted centre line
    gap = max(1, round(face.px(LINK_GAP_MM) / 2))
    linked = cv2.dilate(present.astype(np.uint8), np.ones((2 * gap + 1, 2 * gap + 1), np.uint8))
    seg_labels, n_seg = ndi.label(linked, structure=eight)
    segments = np.where(present, seg_labels, 0).astype(np.int32)

    width = np.where(present, 1.665 * sigma * face.mm_per_px, 0.0).astype(np.float32)
    depth = np.where(present, np.clip(-rel, 0.0, 1.0), 0.0).astype(np.float32)

    fine = np.zeros_like(ridge)
    if n_seg:
        on = np.nonzero(present)  # every segment pixel; nothing else has length
        seg, seg_len = segments[on], length[on]
        seg_total = np.maximum(np.bincount(seg, seg_len, n_seg + 1), 1e-9)
        w_seg = np.bincount(seg, seg_len * width[on], n_seg + 1) / seg_total
        d_seg = np.bincount(seg, seg_len * depth[on], n_seg + 1) / seg_total
        is_fine = (w_seg < FINE_MAX_WIDTH_MM) & (d_seg < FINE_MAX_DEPTH)
        fine[on] = is_fine[seg]

    mask = _full_width_mask(ridge, width / face.mm_per_px) & skin
    return WrinkleMap(
        strength=strength,
        centerline=ridge,
        mask=mask,
        width_mm=width,
        depth=depth,
        length_mm=length,
        segments=_counted_segments(segments, ridge, length),
        fine=fine,
        relative=rel,
        broad=bank.texture,
    )


def valley_lengths(
    face: CanonicalFace, skin: Bool, rel: F32, *, features: Bool | None = None
) -> tuple[F32, F32]:
    """The weighted length per pixel of the lines ``detect_wrinkles`` finds in ``rel``
    (``WrinkleMap.length_mm``) and the valley strength at the broad scale
    (``WrinkleMap.broad``), and nothing else: used on the difference of two photos, where a
    line that faded is a valley one way round and one that deepened the other
    (``analysis.compare``)."""
    bank = _oriented_valleys(rel, _sigmas_px(face))
    return _weighted_centres(face, skin, rel, bank, None, features)[2], bank.texture


def valley_ridges(face: CanonicalFace, rel: F32) -> tuple[F32, F32, Bool]:
    """The filter bank's valley strength (as depth) and line-normal angle for every pixel of
    ``rel``, and its centre pixels (maxima across the line): step 2 and the non-maximum
    suppression of step 3 of the module doc, with no threshold. (``-rel`` gives bright lines.)"""
    bank = _oriented_valleys(rel, _sigmas_px(face))
    return bank.strength, bank.theta, _non_max_suppression(bank.strength, bank.theta)


def _orientation(theta: F32) -> np.ndarray:
    """Index (0 .. ORIENTATIONS - 1) of the filter direction each angle came from."""
    return np.asarray(np.rint(theta / (np.pi / ORIENTATIONS)).astype(np.intp) % ORIENTATIONS)


def _chain_lengths(
    present: Bool, theta: F32, step_mm: F32, reach_px: float, counted: Bool | None = None
) -> F32:
    """Length (mm) of the directed chain each ``present`` pixel belongs to (0 elsewhere),
    counting only its ``counted`` pixels when given (chains as ``chains``)."""
    ys, xs, label, k = chains(present, theta, reach_px)
    out = np.zeros(present.shape, np.float32)
    if not len(ys):
        return out
    steps = step_mm[ys, xs].astype(np.float64)
    if counted is not None:
        steps = steps * counted[ys, xs]
    total = np.bincount(label, steps, k)
    out[ys, xs] = total[label]
    return out


def chains(
    present: Bool, theta: F32, reach_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The ``present`` pixels (rows, columns), the chain each belongs to, and the number of
    chains.

    Two pixels chain when they are within ``reach_px`` (Chebyshev), their line-normal
    directions differ by at most one of the ``ORIENTATIONS`` steps, and the offset between them
    runs along both lines (within about 37 degrees of each line's direction).
    """
    ys, xs = np.nonzero(present)
    n = len(ys)
    if n == 0:
        return ys, xs, np.zeros(0, np.int32), 0
    h, w = present.shape
    index = np.full(present.shape, -1, np.int32)
    index[ys, xs] = np.arange(n, dtype=np.int32)
    orient = _orientation(theta[ys, xs])
    normal = orient * (np.pi / ORIENTATIONS)
    reach = max(1, round(reach_px))
    rows, cols = [np.arange(n)], [np.arange(n)]
    for dy in range(reach + 1):
        for dx in range(-reach, reach + 1):
            if dy == 0 and dx <= 0:
                continue
            y2, x2 = ys + dy, xs + dx
            a = np.nonzero((y2 < h) & (x2 >= 0) & (x2 < w))[0]
            b = index[y2[a], x2[a]]
            a, b = a[b >= 0], b[b >= 0]
            turn = np.abs(orient[a] - orient[b]) % ORIENTATIONS
            turn = np.minimum(turn, ORIENTATIONS - turn)
            phi = np.arctan2(dy, dx)
            along = (np.abs(np.cos(phi - normal[a])) <= 0.6) & (
                np.abs(np.cos(phi - normal[b])) <= 0.6
            )
            keep = (turn <= 1) & along
            rows.append(a[keep])
            cols.append(b[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
    k, label = connected_components(graph, directed=False)
    return ys, xs, label, int(k)


def _counted_segments(segments: np.ndarray, ridge: Bool, length: F32) -> np.ndarray:
    """Segment labels on centre-line pixels, for lines of at least ``MIN_LENGTH_MM`` only:
    fragments of a line broken by noise are not counted as lines of their own."""
    n = int(segments.max())
    on = np.nonzero(segments)
    total = np.bincount(segments[on], length[on], n + 1)
    keep = total >= MIN_LENGTH_MM
    keep[0] = False
    return np.where(ridge & keep[segments], segments, 0).astype(np.int32)


def _line_taps(theta: float, sigma_px: float) -> tuple[np.ndarray, np.ndarray, F64]:
    """Offsets (dy, dx) and normalised Gaussian weights of a 1-px-thick line of taps along
    direction ``theta + pi/2`` (the line), ``2.5 sigma`` to each side, on the pixel grid."""
    half = int(np.ceil(2.5 * sigma_px))
    t = np.arange(-half, half + 1, dtype=np.float64)
    w = np.exp(-(t**2) / (2 * sigma_px**2))
    dy = np.rint(t * np.cos(theta)).astype(np.intp)
    dx = np.rint(-t * np.sin(theta)).astype(np.intp)
    return dy, dx, np.asarray(w / w.sum(), np.float64)


def _along_line_mean(
    strength: F32, theta: F32, sigma_px: float, at: Bool, *, pad_once: bool = True
) -> F32:
    """``strength`` averaged along each pixel's own line direction (one of ORIENTATIONS),
    computed at the pixels ``at`` only (0 elsewhere); the image border reflects as OpenCV's
    ``BORDER_REFLECT``. The image is padded once and every tap is one flat gather; an image
    smaller than the taps' reach (or ``pad_once=False``) reflects each tap's indices instead."""
    out = np.zeros(strength.shape, np.float32)
    ys, xs = np.nonzero(at)
    if not len(ys):
        return out
    h, w = strength.shape
    half = int(np.ceil(2.5 * sigma_px))
    if pad_once and half < min(h, w):
        padded = cv2.copyMakeBorder(strength, half, half, half, half, cv2.BORDER_REFLECT).ravel()
        stride = w + 2 * half
        base = (ys + half) * stride + (xs + half)

        def read(sel: np.ndarray, dy: int, dx: int) -> np.ndarray:
            return np.asarray(padded[base[sel] + (dy * stride + dx)])
    else:

        def read(sel: np.ndarray, dy: int, dx: int) -> np.ndarray:
            return np.asarray(strength[_reflect(ys[sel] + dy, h), _reflect(xs[sel] + dx, w)])

    orient = _orientation(theta[ys, xs])
    for k in range(ORIENTATIONS):
        sel = np.flatnonzero(orient == k)
        if not len(sel):
            continue
        total = np.zeros(len(sel), np.float64)
        for dy, dx, wt in zip(*_line_taps(np.pi * k / ORIENTATIONS, sigma_px), strict=True):
            total += wt * read(sel, int(dy), int(dx))
        out[ys[sel], xs[sel]] = total
    return out


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """Indices reflected into ``0..n-1`` at the border, as OpenCV's BORDER_REFLECT (once:
    an image narrower than the taps' reach is clamped beyond that)."""
    i = np.where(i < 0, -i - 1, i)
    return np.clip(np.where(i >= n, 2 * n - i - 1, i), 0, n - 1)


def _two_sided(candidates: Bool, rel: F32, sigma: F32, theta: F32) -> Bool:
    """Keep centre pixels that are darker than the skin on BOTH sides of the line.

    The inside of a dark patch's edge curves like half a valley; a wrinkle is darker than the
    skin on either side. ``R`` is averaged along the line (``ALONG_SAMPLES`` points over
    +-``ELONGATION`` scales, as the filters do) at the centre and at 2.5 scales to each side;
    both sides must be at least ``SIDE_CONTRAST`` of the centre's darkening above it, and the
    centre ``MIN_DARKENING`` below the skin level.
    """
    ys, xs = np.nonzero(candidates)
    if len(xs) == 0:
        return candidates
    h, w = rel.shape
    s = sigma[ys, xs]
    nx, ny = np.cos(theta[ys, xs]), np.sin(theta[ys, xs])
    offsets = np.linspace(-ELONGATION, ELONGATION, ALONG_SAMPLES)

    flat = rel.ravel()

    def mean_at(shift: float, along: np.ndarray = offsets) -> np.ndarray:
        total = np.zeros(len(xs), np.float64)
        across_x, across_y = shift * nx, shift * ny
        for t in along:  # nearest pixel of each tap, in place (no temporaries per step)
            px = (across_x - t * ny) * s
            px += xs
            py = (across_y + t * nx) * s
            py += ys
            np.clip(np.rint(px, out=px), 0, w - 1, out=px)
            np.clip(np.rint(py, out=py), 0, h - 1, out=py)
            total += flat[py.astype(np.intp) * w + px.astype(np.intp)]
        return total / len(along)

    centre = mean_at(0.0)
    side = np.minimum(mean_at(2.5), mean_at(-2.5))
    # the pixel itself (not only the stretch of line around it) must be dark: a line's end
    # is where the photo stops being darker, not where the filters stop seeing it
    own = mean_at(0.0, np.linspace(-1.0, 1.0, 5))
    centre = np.maximum(centre, own)
    darkening = np.maximum(-centre, 0.0)
    ok = (darkening >= MIN_DARKENING) & (side - centre >= SIDE_CONTRAST * darkening)
    out = np.zeros_like(candidates)
    out[ys[ok], xs[ok]] = True
    return out


def _full_width_mask(centerline: Bool, width_px: F32) -> Bool:
    """Pixels within half the local line width of the nearest centre-line pixel."""
    if not centerline.any():
        return np.zeros(centerline.shape, bool)
    # with DIST_LABEL_PIXEL each centre pixel gets its own label, in raster order
    dist, label = cv2.distanceTransformWithLabels(
        (~centerline).astype(np.uint8),
        cv2.DIST_L2,
        cv2.DIST_MASK_PRECISE,
        labelType=cv2.DIST_LABEL_PIXEL,
    )
    widths = width_px[centerline]
    # only pixels as close as the widest line's half width can be on a line
    near = np.nonzero(dist <= max(float(widths.max()) / 2, 0.5))
    half = np.concatenate([[0.0], widths / 2])[label[near]]
    out = np.zeros(centerline.shape, bool)
    out[near] = dist[near] <= np.maximum(half, 0.5)
    return out
