"""Synthetic wrinkles, pigmented spots and redness placed anatomically on real face photos.

Ground truth for the accuracy benchmark: no labelled wrinkle data set can be had offline, so
lines and spots of known geometry are rendered onto real skin (:mod:`datasets.synthetic` does
the pixels; this module decides *where*, from the face's MediaPipe landmarks).

Conventions (those of :mod:`datasets.synthetic`, plus):

* Everything is placed in **photo pixels** from the face's landmarks ``points`` ((478, 2)
  float, (x, y) photo px) and its physical scale ``mm_per_px``. Sizes are drawn in millimetres,
  so the same scene drawn on a finer photo has the same physical lines.
* The **face frame** (:class:`FaceFrame`) is in millimetres: origin midway between the iris
  centres, ``X`` along the eye line towards the image's right (the subject's left), ``Y`` down.
  Anatomical templates are written in it, so a tilted head gets tilted lines.
* "right"/"left" in site names are the subject's own sides (``*_right`` is on the image's left),
  as in :mod:`analysis.regions`.
* A ``skin`` mask (photo grid, bool) is optional. With it, lines are clipped to the longest run
  inside the skin eroded by ``margin_mm`` (dropped when less than half, or 3 mm, remains) and
  spots are only placed where their whole disc is skin. Without it, templates alone decide.
* Every function is pure and deterministic; randomness comes only from the explicit ``rng``.
* Truth is exact: the returned :class:`FaceLine` and :class:`FaceSpot` specs are what is drawn,
  and :func:`truth_table` sums them per site (the region the template aims at).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from analysis import landmarks as lm
from analysis.types import F64, U8, Bool
from datasets.synthetic import (
    PROFILES,
    LineSpec,
    RednessSpec,
    RenderedLines,
    RenderedSpots,
    SpotSpec,
    adjust_exposure,
    adjust_white_balance,
    affine_jitter,
    curved_line,
    jpeg_roundtrip,
    line_reach,
    polyline_length,
    render_lines,
    render_redness,
    render_spots,
)

Points = NDArray[np.floating[Any]]
"""(478, 2) MediaPipe landmarks, (x, y) photo pixels, float32 or float64."""

LINE_SITES: tuple[str, ...] = (
    "forehead",
    "glabella",
    "crows_feet_right",
    "crows_feet_left",
    "under_eye_right",
    "under_eye_left",
    "nasolabial_right",
    "nasolabial_left",
    "marionette_right",
    "marionette_left",
    "upper_lip",
)
"""Where wrinkle templates exist: forehead horizontal lines, glabellar vertical lines, crow's-feet
fans from the outer eye corner, under-eye arcs, nasolabial and marionette folds, vertical lip
lines."""

SPOT_SITES: tuple[str, ...] = (
    "forehead",
    "crows_feet_right",
    "crows_feet_left",
    "cheek_right",
    "cheek_left",
    "chin",
)
"""Where sun spots and lentigines are placed (sun-exposed skin; the temples are the crows_feet
regions)."""

REDNESS_SITES: tuple[str, ...] = ("cheek_right", "cheek_left", "chin")

DEFAULT_LINES_PER_SITE: Mapping[str, tuple[int, int]] = {
    "forehead": (3, 6),
    "glabella": (1, 3),
    "crows_feet_right": (2, 4),
    "crows_feet_left": (2, 4),
    "under_eye_right": (1, 2),
    "under_eye_left": (1, 2),
    "nasolabial_right": (1, 1),
    "nasolabial_left": (1, 1),
    "marionette_right": (1, 1),
    "marionette_left": (1, 1),
    "upper_lip": (2, 5),
}
"""Inclusive (min, max) number of lines drawn per site."""

DEFAULT_SPOTS_PER_SITE: Mapping[str, tuple[int, int]] = {
    "forehead": (0, 2),
    "crows_feet_right": (0, 1),
    "crows_feet_left": (0, 1),
    "cheek_right": (1, 3),
    "cheek_left": (1, 3),
    "chin": (0, 1),
}
DEFAULT_REDNESS_PER_SITE: Mapping[str, tuple[int, int]] = {
    "cheek_right": (1, 1),
    "cheek_left": (1, 1),
    "chin": (0, 1),
}

MIN_LINE_MM = 3.0
"""Lines shorter than this after clipping to skin are not drawn."""


# --------------------------------------------------------------------------- face frame


@dataclass(frozen=True, eq=False)
class FaceFrame:
    """Millimetre frame of a face: origin between the irises, X along the eyes, Y down.

    ``to_mm`` and ``to_px`` convert (N, 2) arrays between photo pixels and this frame.
    """

    origin: F64
    x_axis: F64
    mm_per_px: float

    @classmethod
    def from_points(cls, points: Points, mm_per_px: float) -> FaceFrame:
        p = _check_points(points)
        if not mm_per_px > 0:
            raise ValueError(f"mm_per_px must be > 0, got {mm_per_px}")
        right, left = p[lm.RIGHT_IRIS[0]], p[lm.LEFT_IRIS[0]]
        axis = left - right
        norm = float(np.hypot(*axis))
        if norm == 0:
            raise ValueError("the two iris centres coincide")
        return cls(origin=(right + left) / 2, x_axis=axis / norm, mm_per_px=float(mm_per_px))

    @property
    def y_axis(self) -> F64:
        return np.array([-self.x_axis[1], self.x_axis[0]])

    def to_mm(self, xy_px: F64) -> F64:
        d = np.asarray(xy_px, np.float64) - self.origin
        out: F64 = np.stack([d @ self.x_axis, d @ self.y_axis], axis=-1) * self.mm_per_px
        return out

    def to_px(self, xy_mm: F64) -> F64:
        xy = np.asarray(xy_mm, np.float64) / self.mm_per_px
        out: F64 = self.origin + xy[..., :1] * self.x_axis + xy[..., 1:2] * self.y_axis
        return out


def _check_points(points: Points) -> F64:
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 478:
        raise ValueError(f"points must be MediaPipe's (478, 2) landmarks, got {p.shape}")
    return p


# --------------------------------------------------------------------------- scene contract


@dataclass(frozen=True, eq=False)
class FaceLine:
    """One synthetic wrinkle: the :class:`LineSpec` drawn, its site and its length in mm."""

    site: str
    spec: LineSpec
    length_mm: float
    curvature: float


@dataclass(frozen=True, eq=False)
class FaceSpot:
    """One pigmented spot (``spec.contrast == 0``: faded away, drawn as nothing)."""

    site: str
    spec: SpotSpec


@dataclass(frozen=True, eq=False)
class FacePatch:
    """One diffuse redness patch (``spec.strength == 0``: faded away)."""

    site: str
    spec: RednessSpec


@dataclass(frozen=True, eq=False)
class FaceScene:
    """Everything synthetic that is drawn on one face, in that face's photo pixels.

    ``seed`` fixes the spot and patch outlines (drawn by :func:`render_face`), so a faded copy of
    the scene keeps each spot's shape.
    """

    points: F64
    mm_per_px: float
    lines: tuple[FaceLine, ...]
    spots: tuple[FaceSpot, ...]
    redness: tuple[FacePatch, ...]
    seed: int


@dataclass(frozen=True)
class RegionTruth:
    """The truth of one site (one row of :func:`truth_table`).

    ``mean_width_mm`` and ``mean_depth_pct`` are length-weighted over the site's lines (0 when it
    has none), like ``wrinkles.mean_width_mm`` and ``wrinkles.mean_depth``; ``mean_depth_pct`` is
    the relative darkening in percent. Spot and patch areas are the exact areas inside their
    outlines.
    """

    region: str
    line_count: int
    length_mm: float
    mean_width_mm: float
    mean_depth_pct: float
    spot_count: int
    spot_area_mm2: float
    redness_count: int
    redness_area_mm2: float


@dataclass(frozen=True, eq=False)
class RenderedFace:
    """Result of :func:`render_face`: the image, each layer's pixel truth, and the table.

    The layers' own ``image`` fields all hold the final image (every layer drawn).
    """

    image: U8
    lines: RenderedLines
    spots: RenderedSpots
    redness: RenderedSpots
    table: dict[str, RegionTruth]


# --------------------------------------------------------------------------- helpers


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    if not 0 < lo <= hi:
        raise ValueError(f"need 0 < low <= high, got ({lo}, {hi})")
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _count(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if not 0 <= lo <= hi:
        raise ValueError(f"need 0 <= min <= max lines per site, got {bounds}")
    return int(rng.integers(lo, hi + 1))


def _arc_lengths(points: F64) -> F64:
    seg = np.hypot(*np.diff(points, axis=0).T)
    out: F64 = np.concatenate([[0.0], np.cumsum(seg)])
    return out


def cut_polyline(points_px: F64, start: float, stop: float) -> F64:
    """The part of an (N, 2) polyline between arc lengths ``start`` and ``stop`` (pixels).

    Interior vertices are kept and the two ends interpolated, so the piece lies exactly on the
    original curve and its length is ``stop - start``.
    """
    pts = np.asarray(points_px, np.float64)
    s = _arc_lengths(pts)
    start, stop = max(0.0, start), min(float(s[-1]), stop)
    if not stop > start:
        raise ValueError(f"empty cut [{start}, {stop}] of a polyline {s[-1]:.3g} px long")
    a = np.array([np.interp(start, s, pts[:, 0]), np.interp(start, s, pts[:, 1])])
    b = np.array([np.interp(stop, s, pts[:, 0]), np.interp(stop, s, pts[:, 1])])
    inner = pts[(s > start) & (s < stop)]
    out: F64 = np.vstack([a, inner, b])
    return out


def _inside(mask: Bool, xy: F64) -> Bool:
    h, w = mask.shape
    ij = np.rint(xy).astype(np.int64)
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)
    out = np.zeros(len(xy), bool)
    out[ok] = mask[ij[ok, 1], ij[ok, 0]]
    return out


def _erode(mask: Bool, radius_px: float) -> Bool:
    r = round(radius_px)
    if r < 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return np.asarray(cv2.erode(mask.astype(np.uint8), kernel), bool)


def _clip_to(points_px: F64, allowed: Bool | None, min_px: float) -> F64 | None:
    """Longest run of the polyline inside ``allowed`` (sampled every <= 1 px), or None."""
    if allowed is None:
        return points_px
    s = _arc_lengths(points_px)
    total = float(s[-1])
    n = max(2, math.ceil(total) + 1)
    t = np.linspace(0.0, total, n)
    xy = np.stack([np.interp(t, s, points_px[:, 0]), np.interp(t, s, points_px[:, 1])], -1)
    ok = _inside(allowed, xy)
    if ok.all():
        return points_px
    best, best_len, i = None, 0.0, 0
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and ok[j + 1]:
            j += 1
        if t[j] - t[i] > best_len:
            best, best_len = (float(t[i]), float(t[j])), float(t[j] - t[i])
        i = j + 1
    if best is None or best_len < max(min_px, 0.5 * total):
        return None
    return cut_polyline(points_px, *best)


def _point_segment_distance(p: F64, poly: F64) -> float:
    a, b = poly[:-1], poly[1:]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    return float(np.hypot(*(a + t[:, None] * ab - p).T).min())


# --------------------------------------------------------------------------- wrinkle templates

# Each template returns (site, start_mm, end_mm, curvature) tuples in the face frame; curvature
# is that of :func:`curved_line` (sagitta / chord, positive bulging right of start->end on
# screen), applied to the segment drawn from start to end.
_Plan = tuple[str, F64, F64, float]


def _anchors(frame: FaceFrame, points: F64) -> F64:
    return frame.to_mm(points)


def _forehead(a: F64, n: int, rng: np.random.Generator) -> list[_Plan]:
    brow = a[list(lm.RIGHT_BROW_UPPER + lm.LEFT_BROW_UPPER)]
    brow_top, brow_mean = float(brow[:, 1].min()), float(brow[:, 1].mean())
    heads_y = min(a[lm.RIGHT_BROW_UPPER[-1], 1], a[lm.LEFT_BROW_UPPER[-1], 1])
    hairline = brow_mean - (a[lm.SUBNASALE, 1] - brow_mean)  # facial thirds
    low = min(brow_top - 4.0, heads_y - 10.0)  # clear of the brows and the glabella
    high = hairline + 6.0
    tail_r, tail_l = a[lm.RIGHT_BROW_UPPER[0], 0], a[lm.LEFT_BROW_UPPER[0], 0]
    span = tail_l - tail_r
    if n == 0 or low - high < 4.0 or span < 20.0:
        return []
    mid = a[lm.NASION, 0]
    gap = (low - high) / n
    plans: list[_Plan] = []
    for k in range(n):
        y = low - (k + 0.5) * gap + rng.uniform(-0.25, 0.25) * gap
        length = span * rng.uniform(0.35, 0.8)
        xc = mid + rng.uniform(-0.12, 0.12) * span
        x0 = max(xc - length / 2, tail_r + 2.0)
        x1 = min(xc + length / 2, tail_l - 2.0)
        tilt = math.tan(math.radians(rng.uniform(-3.0, 3.0))) * (x1 - x0) / 2
        start, end = np.array([x0, y - tilt]), np.array([x1, y + tilt])
        plans.append(("forehead", start, end, rng.uniform(-0.06, 0.02)))  # arching up
    return plans


def _glabella(a: F64, n: int, rng: np.random.Generator) -> list[_Plan]:
    nasion = a[lm.NASION]
    head_r, head_l = a[lm.RIGHT_BROW_UPPER[-1]], a[lm.LEFT_BROW_UPPER[-1]]
    top = min(head_r[1], head_l[1]) - 7.0
    bottom = nasion[1] - 1.5
    half_gap = (head_l[0] - head_r[0]) / 2 - 1.5
    if n == 0 or bottom - top < 5.0 or half_gap < 2.0:
        return []
    xs: list[float] = []
    for _ in range(20 * n):
        if len(xs) == n:
            break
        x = nasion[0] + rng.uniform(-1, 1) * min(6.0, half_gap)
        if all(abs(x - o) >= 2.5 for o in xs):
            xs.append(x)
    plans: list[_Plan] = []
    for x in xs:
        y1 = bottom - rng.uniform(0.0, 2.0)
        length = rng.uniform(5.0, max(5.0, min(14.0, y1 - top)))
        side = 1.0 if x >= nasion[0] else -1.0
        lean = side * math.tan(math.radians(rng.uniform(0.0, 12.0))) * length
        start, end = np.array([x, y1]), np.array([x + lean, y1 - length])
        plans.append(("glabella", start, end, rng.uniform(-0.05, 0.05)))
    return plans


def _crows_feet(a: F64, side: str, n: int, rng: np.random.Generator) -> list[_Plan]:
    s, corner = (-1.0, a[lm.RIGHT_EYE_OUTER]) if side == "right" else (1.0, a[lm.LEFT_EYE_OUTER])
    if n == 0:
        return []
    angles = np.linspace(-26.0, 28.0, n) + rng.uniform(-6.0, 6.0, n) * (n > 1)
    plans: list[_Plan] = []
    for phi in angles:
        r0 = rng.uniform(4.0, 6.0)
        r1 = r0 + rng.uniform(6.0, 14.0)
        spread = phi * rng.uniform(1.0, 1.25)  # the fan opens outwards
        p = corner + r0 * np.array([s * math.cos(math.radians(phi)), math.sin(math.radians(phi))])
        q = corner + r1 * np.array(
            [s * math.cos(math.radians(spread)), math.sin(math.radians(spread))]
        )
        plans.append((f"crows_feet_{side}", p, q, rng.uniform(-0.08, 0.08)))
    return plans


def _under_eye(a: F64, side: str, n: int, rng: np.random.Generator) -> list[_Plan]:
    lid = a[list(lm.RIGHT_LOWER_LID if side == "right" else lm.LEFT_LOWER_LID)]
    outer, inner = lid[0], lid[-1]
    bottom = float(lid[:, 1].max())
    plans: list[_Plan] = []
    offset = rng.uniform(3.0, 5.0)
    for _ in range(n):
        xa = inner[0] + (outer[0] - inner[0]) * rng.uniform(0.05, 0.3)
        xb = inner[0] + (outer[0] - inner[0]) * rng.uniform(0.7, 1.0)
        left, right = sorted((xa, xb))
        y = bottom + offset
        start = np.array([left, y - rng.uniform(0.5, 2.0)])  # the ends rise a little
        end = np.array([right, y - rng.uniform(0.5, 2.0)])
        plans.append((f"under_eye_{side}", start, end, rng.uniform(0.04, 0.12)))  # bulge down
        offset += rng.uniform(3.0, 4.0)
    return plans


def _nasolabial(a: F64, side: str, n: int, rng: np.random.Generator) -> list[_Plan]:
    s = -1.0 if side == "right" else 1.0
    ala = a[lm.RIGHT_ALA if side == "right" else lm.LEFT_ALA]
    mouth = a[lm.RIGHT_MOUTH if side == "right" else lm.LEFT_MOUTH]
    plans: list[_Plan] = []
    for k in range(n):
        p = ala + np.array([s * rng.uniform(1.0, 3.0) + s * 2.5 * k, rng.uniform(-2.0, 1.0)])
        q = mouth + np.array([s * rng.uniform(3.0, 7.0) + s * 2.5 * k, rng.uniform(0.0, 5.0)])
        plans.append((f"nasolabial_{side}", p, q, -s * rng.uniform(0.02, 0.08)))  # bulge out
    return plans


def _marionette(a: F64, side: str, n: int, rng: np.random.Generator) -> list[_Plan]:
    s = -1.0 if side == "right" else 1.0
    mouth = a[lm.RIGHT_MOUTH if side == "right" else lm.LEFT_MOUTH]
    plans: list[_Plan] = []
    for k in range(n):
        p = mouth + np.array([s * (rng.uniform(1.5, 3.0) + 2.0 * k), rng.uniform(2.5, 4.0)])
        q = mouth + np.array([s * (rng.uniform(3.0, 7.0) + 2.0 * k), rng.uniform(12.0, 20.0)])
        plans.append((f"marionette_{side}", p, q, s * rng.uniform(-0.05, 0.05)))
    return plans


_UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
_NOSE_BASE = (lm.RIGHT_ALA_LOW, 97, lm.SUBNASALE, 326, lm.LEFT_ALA_LOW)


def _upper_lip(a: F64, n: int, rng: np.random.Generator) -> list[_Plan]:
    lip = a[list(_UPPER_LIP)]
    nose = a[list(_NOSE_BASE)]
    lip = lip[np.argsort(lip[:, 0])]
    nose = nose[np.argsort(nose[:, 0])]
    mid = a[lm.UPPER_LIP_TOP, 0]
    width = float(a[lm.LEFT_MOUTH, 0] - a[lm.RIGHT_MOUTH, 0])
    xs: list[float] = []
    for _ in range(20 * n):
        if len(xs) == n:
            break
        x = mid + rng.uniform(-0.38, 0.38) * width
        if all(abs(x - o) >= 2.0 for o in xs):
            xs.append(x)
    plans: list[_Plan] = []
    for x in xs:
        border = float(np.interp(x, lip[:, 0], lip[:, 1]))
        nose_y = float(np.interp(x, nose[:, 0], nose[:, 1]))
        bottom = border - rng.uniform(1.8, 2.5)
        room = bottom - (nose_y + 2.0)
        if room < 3.0:
            continue
        length = rng.uniform(3.0, min(8.0, room))
        lean = math.tan(math.radians(rng.uniform(-10.0, 10.0))) * length
        p, q = np.array([x, bottom]), np.array([x + lean, bottom - length])
        plans.append(("upper_lip", p, q, rng.uniform(-0.05, 0.05)))
    return plans


def face_wrinkles(
    points: Points,
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    sites: Sequence[str] = LINE_SITES,
    lines_per_site: Mapping[str, tuple[int, int]] | None = None,
    width_mm: tuple[float, float] = (0.1, 1.5),
    depth: tuple[float, float] = (0.02, 0.25),
    highlight: tuple[float, float] = (0.05, 0.3),
    profiles: Sequence[str] = ("soft",),
    min_width_px: float = 1.0,
    skin: Bool | None = None,
    margin_mm: float = 1.0,
) -> tuple[FaceLine, ...]:
    """Wrinkles placed anatomically from the landmarks, with random geometry per line.

    Parameters
    ----------
    points : (478, 2) MediaPipe landmarks in photo pixels.
    mm_per_px : The face's physical pixel size (mm per photo pixel).
    rng : Source of all randomness (count, placement, length, curvature, width, depth).
    sites : Which templates to draw (names from :data:`LINE_SITES`).
    lines_per_site : Inclusive (min, max) count per site; defaults to
        :data:`DEFAULT_LINES_PER_SITE`.
    width_mm : Range of the full width at half maximum, drawn log-uniformly. The low end is
        raised to ``min_width_px`` photo pixels: a profile narrower than a pixel cannot be
        point-sampled truthfully (it would render as a dotted line).
    depth : Range of the relative darkening at the centre (0.02-0.25), drawn log-uniformly.
    highlight : Range of the bright shoulder amplitude (a faint highlighted edge), uniform.
    profiles : Cross-section shapes (:data:`datasets.synthetic.PROFILES`), one drawn uniformly
        per line when more than one is given (a single shape draws nothing from ``rng``).
    skin : Optional (H, W) bool mask on the photo grid; lines are clipped to it (see module).
    margin_mm : Lines keep this far inside ``skin``.

    Returns
    -------
    The lines, in site order. ``length_mm`` is each polyline's exact length.
    """
    p = _check_points(points)
    frame = FaceFrame.from_points(p, mm_per_px)
    counts = {**DEFAULT_LINES_PER_SITE, **(lines_per_site or {})}
    unknown = set(sites) - set(LINE_SITES)
    if unknown:
        raise ValueError(f"unknown line sites {sorted(unknown)}; choose from {LINE_SITES}")
    lo_w = min(max(width_mm[0], min_width_px * mm_per_px), width_mm[1])
    a = _anchors(frame, p)
    plans: list[_Plan] = []
    for site in LINE_SITES:
        if site not in sites:
            continue
        n = _count(rng, counts[site])
        if site == "forehead":
            plans += _forehead(a, n, rng)
        elif site == "glabella":
            plans += _glabella(a, n, rng)
        elif site == "upper_lip":
            plans += _upper_lip(a, n, rng)
        else:
            kind, side = site.rsplit("_", 1)
            make = {
                "crows_feet": _crows_feet,
                "under_eye": _under_eye,
                "nasolabial": _nasolabial,
                "marionette": _marionette,
            }[kind]
            plans += make(a, side, n, rng)
    allowed = None if skin is None else _erode(_check_mask(skin), margin_mm / mm_per_px)
    lines: list[FaceLine] = []
    for site, start, end, curvature in plans:
        look = _draw_look(rng, (lo_w, width_mm[1]), depth, highlight, profiles)
        px = frame.to_px(np.stack([start, end]))
        arc = curved_line(tuple(px[0]), tuple(px[1]), curvature=curvature, n=48)
        line = _clipped_line(site, arc, curvature, look, allowed, mm_per_px)
        if line is not None:
            lines.append(line)
    return tuple(lines)


_Look = tuple[float, float, float, str]  # width mm, depth, highlight, profile


def _draw_look(
    rng: np.random.Generator,
    width_mm: tuple[float, float],
    depth: tuple[float, float],
    highlight: tuple[float, float],
    profiles: Sequence[str],
) -> _Look:
    """One line's width and depth (log-uniform), highlight (uniform) and profile (uniform
    among ``profiles``; nothing drawn from ``rng`` for a single one)."""
    if not profiles:
        raise ValueError("profiles must name at least one shape")
    w = _log_uniform(rng, *width_mm)
    d = _log_uniform(rng, *depth)
    hl = float(rng.uniform(*highlight))
    shape = profiles[0] if len(profiles) == 1 else str(profiles[int(rng.integers(len(profiles)))])
    return w, d, hl, shape


def _clipped_line(
    site: str, arc: F64, curvature: float, look: _Look, allowed: Bool | None, mm_per_px: float
) -> FaceLine | None:
    """The line along ``arc`` clipped to ``allowed``, or None when under ``MIN_LINE_MM``."""
    poly = _clip_to(arc, allowed, MIN_LINE_MM / mm_per_px)
    if poly is None or polyline_length(poly) * mm_per_px < MIN_LINE_MM:
        return None
    spec = LineSpec(poly, *look)
    return FaceLine(site, spec, polyline_length(spec.points_px) * mm_per_px, curvature)


SCATTERED = "scattered"
"""The site name of :func:`scattered_wrinkles`' lines."""


def scattered_wrinkles(
    skin: Bool,
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    count: tuple[int, int] = (15, 25),
    length_mm: tuple[float, float] = (4.0, 30.0),
    width_mm: tuple[float, float] = (0.1, 1.5),
    depth: tuple[float, float] = (0.02, 0.25),
    highlight: tuple[float, float] = (0.0, 0.3),
    profiles: Sequence[str] = PROFILES,
    curvature: float = 0.15,
    min_width_px: float = 1.0,
    margin_mm: float = 1.0,
) -> tuple[FaceLine, ...]:
    """Lines anywhere on the skin, in any direction, with no anatomy: the other placement.

    A check that a detector finds lines rather than the places and directions the templates of
    :func:`face_wrinkles` put them. Each line: a centre uniform over ``skin`` eroded by
    ``margin_mm``, a direction uniform in 0-180 degrees, a chord log-uniform in ``length_mm``,
    a curvature (sagitta over chord) uniform in +-``curvature``, width, depth and highlight as
    :func:`face_wrinkles` draws them and a profile drawn from ``profiles``; clipped to that skin
    like the templates' lines. Their site is :data:`SCATTERED`.
    """
    allowed = _erode(_check_mask(skin), margin_mm / mm_per_px)
    ys, xs = np.nonzero(allowed)
    if not len(xs):
        return ()
    lo_w = min(max(width_mm[0], min_width_px * mm_per_px), width_mm[1])
    lines: list[FaceLine] = []
    for _ in range(_count(rng, count)):
        k = int(rng.integers(len(xs)))
        centre = np.array([xs[k], ys[k]], np.float64)
        angle = float(rng.uniform(0.0, math.pi))
        half = _log_uniform(rng, *length_mm) / mm_per_px / 2
        bend = float(rng.uniform(-curvature, curvature))
        look = _draw_look(rng, (lo_w, width_mm[1]), depth, highlight, profiles)
        step = half * np.array([math.cos(angle), math.sin(angle)])
        arc = curved_line(tuple(centre - step), tuple(centre + step), curvature=bend, n=48)
        line = _clipped_line(SCATTERED, arc, bend, look, allowed, mm_per_px)
        if line is not None:
            lines.append(line)
    return tuple(lines)


def _check_mask(skin: Bool) -> Bool:
    mask = np.asarray(skin)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"skin must be an (H, W) bool mask, got {mask.dtype} {mask.shape}")
    return mask


# --------------------------------------------------------------------------- spots and redness


def _spot_zone(a: F64, site: str) -> tuple[float, float, float, float] | None:
    """(x0, x1, y0, y1) in face-frame mm where a spot centre of ``site`` may fall."""
    brow = a[list(lm.RIGHT_BROW_UPPER + lm.LEFT_BROW_UPPER)]
    brow_top, brow_mean = float(brow[:, 1].min()), float(brow[:, 1].mean())
    hairline = brow_mean - (a[lm.SUBNASALE, 1] - brow_mean)
    if site == "forehead":
        x0, x1 = a[lm.RIGHT_BROW_UPPER[0], 0], a[lm.LEFT_BROW_UPPER[0], 0]
        return x0, x1, hairline + 5.0, brow_top - 6.0
    if site == "chin":
        x0, x1 = a[lm.RIGHT_MOUTH, 0] + 2.0, a[lm.LEFT_MOUTH, 0] - 2.0
        return x0, x1, a[lm.LOWER_LIP_BOTTOM, 1] + 5.0, a[lm.CHIN, 1] - 6.0
    kind, side = site.rsplit("_", 1)
    s = -1.0 if side == "right" else 1.0
    corner = a[lm.RIGHT_EYE_OUTER if side == "right" else lm.LEFT_EYE_OUTER]
    if kind == "crows_feet":
        xs = sorted((corner[0] + s * 8.0, corner[0] + s * 18.0))
        return xs[0], xs[1], corner[1] - 6.0, corner[1] + 8.0
    if kind == "cheek":
        lid = a[list(lm.RIGHT_LOWER_LID if side == "right" else lm.LEFT_LOWER_LID)]
        ala = a[lm.RIGHT_ALA if side == "right" else lm.LEFT_ALA]
        mouth = a[lm.RIGHT_MOUTH if side == "right" else lm.LEFT_MOUTH]
        xs = sorted((ala[0] + s * 6.0, corner[0] + s * 12.0))
        return xs[0], xs[1], float(lid[:, 1].max()) + 20.0, mouth[1]
    return None


def _place(
    zone: tuple[float, float, float, float],
    radius_mm: float,
    frame: FaceFrame,
    allowed: Bool | None,
    taken: list[tuple[F64, float]],
    lines: Sequence[FaceLine],
    rng: np.random.Generator,
    attempts: int = 60,
) -> F64 | None:
    """A centre (photo px) whose disc of ``radius_mm`` is skin, clear of ``taken`` and lines."""
    x0, x1, y0, y1 = zone
    if not (x1 > x0 and y1 > y0):
        return None
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24)), np.sin(np.linspace(0, 2 * np.pi, 24))])
    r_px = radius_mm / frame.mm_per_px
    for _ in range(attempts):
        c = frame.to_px(np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)]))
        if allowed is not None:
            probe = np.vstack([c, c + r_px * ring.T, c + 0.5 * r_px * ring.T])
            if not _inside(allowed, probe).all():
                continue
        if any(np.hypot(*(c - o)) < r_px + r for o, r in taken):
            continue
        clear = 1.5 / frame.mm_per_px
        if any(
            _point_segment_distance(c, ln.spec.points_px)
            < r_px + clear + ln.spec.width_mm / frame.mm_per_px
            for ln in lines
        ):
            continue
        return c
    return None


def face_spots(
    points: Points,
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    sites: Sequence[str] = SPOT_SITES,
    spots_per_site: Mapping[str, tuple[int, int]] | None = None,
    diameter_mm: tuple[float, float] = (1.0, 8.0),
    contrast: tuple[float, float] = (0.05, 0.5),
    skin: Bool | None = None,
    avoid: Sequence[FaceLine] = (),
    margin_mm: float = 1.0,
) -> tuple[FaceSpot, ...]:
    """Sun spots and lentigines: irregular melanin ellipses on sun-exposed skin.

    Diameters (equivalent, mm) and contrasts (added melanin optical density, see
    :class:`datasets.synthetic.SpotSpec`) are drawn log-uniformly from their ranges;
    eccentricity 0-0.7, irregularity 0.05-0.25, any angle. Spots do not overlap each other, keep
    1.5 mm plus a line width away from the lines in ``avoid`` (so each truth stays separate) and,
    with ``skin``, lie wholly on skin eroded by ``margin_mm``. A spot that finds no place in 60
    tries is left out.
    """
    p = _check_points(points)
    frame = FaceFrame.from_points(p, mm_per_px)
    counts = {**DEFAULT_SPOTS_PER_SITE, **(spots_per_site or {})}
    unknown = set(sites) - set(SPOT_SITES)
    if unknown:
        raise ValueError(f"unknown spot sites {sorted(unknown)}; choose from {SPOT_SITES}")
    a = _anchors(frame, p)
    allowed = None if skin is None else _erode(_check_mask(skin), margin_mm / mm_per_px)
    taken: list[tuple[F64, float]] = []
    spots: list[FaceSpot] = []
    for site in SPOT_SITES:
        if site not in sites:
            continue
        zone = _spot_zone(a, site)
        for _ in range(_count(rng, counts.get(site, (0, 0)))):
            d = _log_uniform(rng, *diameter_mm)
            ecc = float(rng.uniform(0.0, 0.7))
            irregular = float(rng.uniform(0.05, 0.25))
            c_od = _log_uniform(rng, *contrast)
            angle = float(rng.uniform(0.0, 180.0))
            # outline reach: semi-major axis times a generous wobble, plus the 0.3 mm soft edge
            reach = d / 2 / (1 - ecc**2) ** 0.25 * (1 + 2.5 * irregular) + 0.3
            centre = (
                None if zone is None else _place(zone, reach, frame, allowed, taken, avoid, rng)
            )
            if centre is None:
                continue
            taken.append((centre, reach / mm_per_px + 1.0 / mm_per_px))
            spec = SpotSpec(
                (float(centre[0]), float(centre[1])), d, c_od, ecc, angle, irregularity=irregular
            )
            spots.append(FaceSpot(site, spec))
    return tuple(spots)


def face_redness(
    points: Points,
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    sites: Sequence[str] = REDNESS_SITES,
    patches_per_site: Mapping[str, tuple[int, int]] | None = None,
    diameter_mm: tuple[float, float] = (8.0, 20.0),
    strength: tuple[float, float] = (0.05, 0.3),
    skin: Bool | None = None,
) -> tuple[FacePatch, ...]:
    """Diffuse redness patches (erythema) on the cheeks and chin, centres on skin.

    Diameters are uniform in ``diameter_mm`` and strengths (added haemoglobin optical density)
    log-uniform in ``strength``; patches may overlap lines and spots (they are diffuse).
    """
    p = _check_points(points)
    frame = FaceFrame.from_points(p, mm_per_px)
    counts = {**DEFAULT_REDNESS_PER_SITE, **(patches_per_site or {})}
    a = _anchors(frame, p)
    allowed = None if skin is None else _check_mask(skin)
    patches: list[FacePatch] = []
    for site in sites:
        zone = _spot_zone(a, site)
        if zone is None:
            raise ValueError(f"unknown redness site {site!r}; choose from {SPOT_SITES}")
        for _ in range(_count(rng, counts.get(site, (0, 0)))):
            d = float(rng.uniform(*diameter_mm))
            s = _log_uniform(rng, *strength)
            centre = _place(zone, d / 4, frame, allowed, [], (), rng)
            if centre is not None:
                spec = RednessSpec((float(centre[0]), float(centre[1])), d, s)
                patches.append(FacePatch(site, spec))
    return tuple(patches)


def face_scene(
    points: Points,
    *,
    mm_per_px: float,
    rng: np.random.Generator,
    skin: Bool | None = None,
    lines: bool = True,
    spots: bool = True,
    redness: bool = True,
    width_mm: tuple[float, float] = (0.1, 1.5),
    depth: tuple[float, float] = (0.02, 0.25),
    diameter_mm: tuple[float, float] = (1.0, 8.0),
    contrast: tuple[float, float] = (0.05, 0.5),
) -> FaceScene:
    """Wrinkles, then spots clear of them, then redness patches, all from one ``rng``.

    The keyword options are those of :func:`face_wrinkles`, :func:`face_spots` and
    :func:`face_redness` (their defaults otherwise).
    """
    p = _check_points(points)
    wr = (
        face_wrinkles(p, mm_per_px=mm_per_px, rng=rng, skin=skin, width_mm=width_mm, depth=depth)
        if lines
        else ()
    )
    sp = (
        face_spots(
            p,
            mm_per_px=mm_per_px,
            rng=rng,
            skin=skin,
            avoid=wr,
            diameter_mm=diameter_mm,
            contrast=contrast,
        )
        if spots
        else ()
    )
    red = face_redness(p, mm_per_px=mm_per_px, rng=rng, skin=skin) if redness else ()
    return FaceScene(p.copy(), float(mm_per_px), wr, sp, red, int(rng.integers(2**31)))


# --------------------------------------------------------------------------- truth and render


def truth_table(
    scene: FaceScene,
    *,
    spot_areas_mm2: Sequence[float] | None = None,
    redness_areas_mm2: Sequence[float] | None = None,
) -> dict[str, RegionTruth]:
    """Per-site truth, one :class:`RegionTruth` row per site that holds anything.

    Spot and patch areas are taken from ``*_areas_mm2`` (the exact outline areas that
    :func:`render_face` reports, one per spot of the scene) or else from the nominal ellipse
    ``pi (d / 2)^2``. Faded-away spots and patches (zero contrast or strength) count nothing.
    """
    sites = sorted(
        {ln.site for ln in scene.lines}
        | {s.site for s in scene.spots}
        | {r.site for r in scene.redness}
    )
    s_areas = (
        list(spot_areas_mm2)
        if spot_areas_mm2 is not None
        else [math.pi * (s.spec.diameter_mm / 2) ** 2 for s in scene.spots]
    )
    r_areas = (
        list(redness_areas_mm2)
        if redness_areas_mm2 is not None
        else [math.pi * (r.spec.diameter_mm / 2) ** 2 for r in scene.redness]
    )
    if len(s_areas) != len(scene.spots) or len(r_areas) != len(scene.redness):
        raise ValueError("need one area per spot and per redness patch of the scene")
    table: dict[str, RegionTruth] = {}
    for site in sites:
        mine = [ln for ln in scene.lines if ln.site == site]
        length = sum(ln.length_mm for ln in mine)
        width = sum(ln.length_mm * ln.spec.width_mm for ln in mine) / length if length else 0.0
        depth = sum(ln.length_mm * ln.spec.depth for ln in mine) / length if length else 0.0
        sp = [
            area
            for s, area in zip(scene.spots, s_areas, strict=True)
            if s.site == site and s.spec.contrast > 0
        ]
        rd = [
            area
            for r, area in zip(scene.redness, r_areas, strict=True)
            if r.site == site and r.spec.strength > 0
        ]
        table[site] = RegionTruth(
            region=site,
            line_count=len(mine),
            length_mm=float(length),
            mean_width_mm=float(width),
            mean_depth_pct=float(100.0 * depth),
            spot_count=len(sp),
            spot_area_mm2=float(sum(sp)),
            redness_count=len(rd),
            redness_area_mm2=float(sum(rd)),
        )
    return table


def render_face(image: U8, scene: FaceScene) -> RenderedFace:
    """Draw a scene onto ``image`` (redness, then spots, then lines) with its exact truth.

    Each layer's pixel truth is that of :func:`datasets.synthetic.render_lines` /
    :func:`~datasets.synthetic.render_spots` / :func:`~datasets.synthetic.render_redness`; spot
    and patch outlines come from ``scene.seed``, so a faded scene keeps their shapes.
    """
    mm = scene.mm_per_px
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    # Every layer acts only within a known reach of its elements: draw on that crop (identical
    # pixels, as an 8-bit sRGB value survives decoding and encoding unchanged) and paste back.
    x0, y0, x1, y1 = _scene_box(scene, image.shape[:2])
    off = np.array([x0, y0], np.float64)
    crop = image[y0:y1, x0:x1]
    red = render_redness(
        crop,
        [replace(r.spec, center_xy=_shift(r.spec.center_xy, off)) for r in scene.redness],
        mm_per_px=mm,
        rng=np.random.default_rng([scene.seed, 1]),
    )
    spots = render_spots(
        red.image,
        [replace(s.spec, center_xy=_shift(s.spec.center_xy, off)) for s in scene.spots],
        mm_per_px=mm,
        rng=np.random.default_rng([scene.seed, 2]),
    )
    lines = render_lines(
        spots.image,
        [replace(ln.spec, points_px=ln.spec.points_px - off) for ln in scene.lines],
        mm_per_px=mm,
    )
    out = image.copy()
    out[y0:y1, x0:x1] = lines.image
    full_lines = RenderedLines(
        out,
        _pad(lines.mask, image.shape[:2], x0, y0),
        _pad(lines.centerline, image.shape[:2], x0, y0),
        _pad(lines.depth_map, image.shape[:2], x0, y0),
        lines.lengths_mm,
    )
    full_spots = RenderedSpots(
        out,
        _pad(spots.mask, image.shape[:2], x0, y0),
        spots.areas_mm2,
        _pad(spots.labels, image.shape[:2], x0, y0),
    )
    full_red = RenderedSpots(
        out,
        _pad(red.mask, image.shape[:2], x0, y0),
        red.areas_mm2,
        _pad(red.labels, image.shape[:2], x0, y0),
    )
    table = truth_table(scene, spot_areas_mm2=spots.areas_mm2, redness_areas_mm2=red.areas_mm2)
    return RenderedFace(out, full_lines, full_spots, full_red, table)


def _shift(xy: tuple[float, float], off: F64) -> tuple[float, float]:
    return (xy[0] - float(off[0]), xy[1] - float(off[1]))


_A = TypeVar("_A", bound=np.generic)


def _pad(
    a: np.ndarray[tuple[int, int], np.dtype[_A]], shape: tuple[int, int], x0: int, y0: int
) -> np.ndarray[tuple[int, int], np.dtype[_A]]:
    out = np.zeros(shape, a.dtype)
    out[y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]] = a
    return out


def _scene_box(scene: FaceScene, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box holding every pixel any element of the scene can touch."""
    px = 1.0 / scene.mm_per_px
    boxes = []
    for ln in scene.lines:  # profile reach plus the end taper
        reach = line_reach(ln.spec.width_mm * px, ln.spec.profile) + 0.5 * px + 2
        boxes.append(np.r_[ln.spec.points_px.min(0) - reach, ln.spec.points_px.max(0) + reach])
    for sp in scene.spots:  # outline reach: elongation, wobble (>= 0.2 of the ellipse) and edge
        reach = sp.spec.diameter_mm * px / (1 - sp.spec.eccentricity**2) ** 0.25 * 4 + 2 * px + 2
        c = np.asarray(sp.spec.center_xy)
        boxes.append(np.r_[c - reach, c + reach])
    for rd in scene.redness:
        reach = rd.spec.diameter_mm * px * 4 + 2
        c = np.asarray(rd.spec.center_xy)
        boxes.append(np.r_[c - reach, c + reach])
    h, w = shape
    if not boxes:
        return 0, 0, min(w, 1), min(h, 1)
    b = np.array(boxes)
    x0, y0 = (max(0, int(np.floor(v))) for v in b[:, :2].min(0))
    x1 = min(w, int(np.ceil(b[:, 2].max())) + 1)
    y1 = min(h, int(np.ceil(b[:, 3].max())) + 1)
    return x0, y0, max(x0, x1), max(y0, y1)


# --------------------------------------------------------------------------- fading (series)


@dataclass(frozen=True)
class Fade:
    """Known change factors per site for a follow-up image (sites not named stay as they are).

    ``lines[site] = f`` multiplies each line's depth by ``f`` and shortens it to ``f`` of its
    length about its middle (``f = 0`` removes it); ``spots[site] = f`` multiplies each spot's
    area and contrast by ``f`` (the same outline, scaled); ``redness[site] = f`` multiplies
    each patch's strength. Factors must lie in [0, 1].
    """

    lines: Mapping[str, float] = field(default_factory=dict)
    spots: Mapping[str, float] = field(default_factory=dict)
    redness: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("lines", "spots", "redness"):
            for site, f in getattr(self, name).items():
                if not 0.0 <= f <= 1.0:
                    raise ValueError(f"fade factor for {name}[{site!r}] must be in [0, 1], got {f}")


def fade_scene(scene: FaceScene, fade: Fade) -> FaceScene:
    """The scene with ``fade`` applied (see :class:`Fade`); the landmarks and seed are kept."""
    mm = scene.mm_per_px
    lines: list[FaceLine] = []
    for ln in scene.lines:
        f = fade.lines.get(ln.site, 1.0)
        if f == 1.0:
            lines.append(ln)
            continue
        total = polyline_length(ln.spec.points_px)
        keep = f * total
        if f == 0.0 or keep < 1.0 or ln.spec.depth * f <= 0:
            continue
        pts = cut_polyline(ln.spec.points_px, (total - keep) / 2, (total + keep) / 2)
        spec = replace(ln.spec, points_px=pts, depth=ln.spec.depth * f)
        lines.append(FaceLine(ln.site, spec, polyline_length(pts) * mm, ln.curvature))
    spots = []
    for sp in scene.spots:
        f = fade.spots.get(sp.site, 1.0)
        if f == 0.0:  # keep a blank placeholder so that later spots keep their outlines
            spots.append(FaceSpot(sp.site, replace(sp.spec, contrast=0.0)))
        else:
            d = sp.spec.diameter_mm * math.sqrt(f)
            spots.append(
                FaceSpot(sp.site, replace(sp.spec, diameter_mm=d, contrast=sp.spec.contrast * f))
            )
    redness = [
        FacePatch(r.site, replace(r.spec, strength=r.spec.strength * fade.redness.get(r.site, 1.0)))
        for r in scene.redness
    ]
    return replace(scene, lines=tuple(lines), spots=tuple(spots), redness=tuple(redness))


# --------------------------------------------------------------------------- head yaw


@dataclass(frozen=True, eq=False)
class YawWarp:
    """Piecewise-affine warp of a small head turn on a regular grid of triangles.

    ``src`` and ``dst`` are (rows, cols, 2) grid nodes in photo pixels (before / after); each
    grid cell is split into two triangles along its main diagonal, and each triangle maps
    affinely. :meth:`map_points` carries (N, 2) points through it (forward).
    """

    src: F64
    dst: F64

    def map_points(self, xy: F64) -> F64:
        pts = np.asarray(xy, np.float64).reshape(-1, 2)
        x0, y0 = self.src[0, 0]
        step_x = self.src[0, 1, 0] - x0
        step_y = self.src[1, 0, 1] - y0
        rows, cols = self.src.shape[:2]
        gx = np.clip((pts[:, 0] - x0) / step_x, 0, cols - 1 - 1e-9)
        gy = np.clip((pts[:, 1] - y0) / step_y, 0, rows - 1 - 1e-9)
        i, j = np.floor(gy).astype(int), np.floor(gx).astype(int)
        fx, fy = (gx - j)[:, None], (gy - i)[:, None]
        n00, n01 = self.dst[i, j], self.dst[i, j + 1]
        n10, n11 = self.dst[i + 1, j], self.dst[i + 1, j + 1]
        upper = fx >= fy  # triangle (00, 01, 11), else (00, 10, 11)
        p_up = n00 + fx * (n01 - n00) + fy * (n11 - n01)
        p_lo = n00 + fy * (n10 - n00) + fx * (n11 - n10)
        inside = (
            (pts[:, :1] >= x0)
            & (pts[:, :1] <= self.src[0, -1, 0])
            & (pts[:, 1:] >= y0)
            & (pts[:, 1:] <= self.src[-1, 0, 1])
        )
        out: F64 = np.where(inside, np.where(upper, p_up, p_lo), pts)
        return out.reshape(np.shape(xy))


def _yaw_displacement(nodes: F64, frame: FaceFrame, points: F64, yaw_deg: float) -> F64:
    """Displacement (px) of an orthographic turn of an ellipsoidal head about its vertical axis.

    The head is an ellipsoid fitted to the face outline (depth semi-axis = half the width);
    a point at face-frame ``(X, Y)`` with depth ``z`` moves along the eye line by
    ``X (cos t - 1) + z sin t``. Outside the outline the motion fades to nothing by 1.6 times
    its radius, so the background stays where it was.
    """
    oval = frame.to_mm(points[list(lm.FACE_OVAL)])
    cx, cy = oval.mean(axis=0)
    a = max(float(np.ptp(oval[:, 0])) / 2, 1.0)
    b = max(float(np.ptp(oval[:, 1])) / 2 * 1.1, 1.0)
    xy = frame.to_mm(nodes.reshape(-1, 2))
    u, v = (xy[:, 0] - cx) / a, (xy[:, 1] - cy) / b
    r2 = u**2 + v**2
    z = a * np.sqrt(np.clip(1.0 - r2, 0.0, None))
    t = math.radians(yaw_deg)
    shift_mm = (xy[:, 0] - cx) * (math.cos(t) - 1.0) + z * math.sin(t)
    r = np.sqrt(r2)
    fall = np.clip((1.6 - r) / 0.6, 0.0, 1.0)
    weight = np.where(r <= 1.0, 1.0, fall * fall * (3 - 2 * fall))
    shift_px = (shift_mm * weight / frame.mm_per_px)[:, None] * frame.x_axis
    out: F64 = shift_px.reshape(nodes.shape)
    return out


def head_yaw(
    image: U8, points: Points, *, yaw_deg: float, mm_per_px: float, cells_across_face: int = 24
) -> tuple[U8, YawWarp]:
    """Turn the head a little (a few degrees of yaw) with a piecewise-affine warp.

    Positive ``yaw_deg`` moves the nose towards the image's right. The warp's grid spacing is
    the face width over ``cells_across_face``; pixels are resampled bilinearly (reflected
    border). Returns the warped image and the :class:`YawWarp` that maps truth points.
    """
    p = _check_points(points)
    h, w = image.shape[:2]
    frame = FaceFrame.from_points(p, mm_per_px)
    oval = p[list(lm.FACE_OVAL)]
    step = max(4.0, float(np.ptp(oval[:, 0])) / cells_across_face)
    xs = np.arange(0.0, w - 1 + step, step)
    ys = np.arange(0.0, h - 1 + step, step)
    src = np.stack(np.meshgrid(xs, ys), axis=-1)
    dst = src + _yaw_displacement(src, frame, p, yaw_deg)
    warp = YawWarp(src, dst)
    if yaw_deg == 0:
        return image.copy(), warp
    # backward map: rasterise each moved triangle and invert its affine map
    tri_id = np.zeros((h, w), np.int32)
    rows, cols = src.shape[:2]
    tris = []
    for i in range(rows - 1):
        for j in range(cols - 1):
            corner = ((i, j), (i, j + 1), (i + 1, j + 1)), ((i, j), (i + 1, j), (i + 1, j + 1))
            for tri in corner:
                d = np.array([dst[k] for k in tri])
                s = np.array([src[k] for k in tri])
                if np.abs(d - s).max() < 1e-3:
                    continue
                tris.append(cv2.getAffineTransform(d.astype(np.float32), s.astype(np.float32)))
                cv2.fillPoly(tri_id, [np.round(d).astype(np.int32)], len(tris))
    map_x, map_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    if tris:
        mats = np.concatenate([np.zeros((1, 2, 3)), np.stack(tris)]).astype(np.float32)
        sel = tri_id > 0
        m = mats[tri_id[sel]]
        x, y = map_x[sel], map_y[sel]
        map_x[sel] = m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2]
        map_y[sel] = m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2]
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return np.asarray(out, np.uint8), warp


# --------------------------------------------------------------------------- nuisances


@dataclass(frozen=True)
class Nuisance:
    """One draw of capture nuisances (identity by default).

    Applied in this order by :func:`apply_nuisance`: head yaw, rotation and scale about the image
    centre plus shift (:func:`datasets.synthetic.affine_jitter`), exposure and white balance (one
    per-channel gain in linear light, clipped at white once), JPEG.
    """

    yaw_deg: float = 0.0
    angle_deg: float = 0.0
    scale: float = 1.0
    shift_px: tuple[float, float] = (0.0, 0.0)
    exposure: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    jpeg_quality: int | None = None

    @property
    def gains(self) -> tuple[float, float, float]:
        """The per-channel gain in linear light: exposure times white balance."""
        r, g, b = (x * self.exposure for x in self.white_balance)
        return r, g, b


@dataclass(frozen=True)
class NuisanceRanges:
    """Half-ranges of :func:`random_nuisance`: each value is drawn uniformly in
    ``1 +/- exposure``, ``1 +/- white_balance`` per channel, ``+/- angle_deg``,
    ``1 +/- scale``, ``+/- shift_px`` per axis, ``+/- yaw_deg`` and JPEG quality in
    ``jpeg_quality`` (inclusive; None: no JPEG)."""

    exposure: float = 0.15
    white_balance: float = 0.05
    angle_deg: float = 3.0
    scale: float = 0.05
    shift_px: float = 0.0
    yaw_deg: float = 0.0
    jpeg_quality: tuple[int, int] | None = (80, 95)


DEFAULT_NUISANCE = NuisanceRanges()
"""The repeatability protocol's ranges: exposure +/-15 %, white balance +/-5 % per channel,
rotation +/-3 degrees, scale +/-5 %, JPEG quality 80-95 (no yaw, no shift)."""


def random_nuisance(
    rng: np.random.Generator, ranges: NuisanceRanges = DEFAULT_NUISANCE
) -> Nuisance:
    """A random :class:`Nuisance` within ``ranges``."""
    r = ranges
    wb = rng.uniform(1 - r.white_balance, 1 + r.white_balance, 3)
    shift = rng.uniform(-r.shift_px, r.shift_px, 2) if r.shift_px else np.zeros(2)
    lo_q, hi_q = r.jpeg_quality or (0, 0)
    return Nuisance(
        yaw_deg=float(rng.uniform(-r.yaw_deg, r.yaw_deg)) if r.yaw_deg else 0.0,
        angle_deg=float(rng.uniform(-r.angle_deg, r.angle_deg)),
        scale=float(rng.uniform(1 - r.scale, 1 + r.scale)),
        shift_px=(float(shift[0]), float(shift[1])),
        exposure=float(rng.uniform(1 - r.exposure, 1 + r.exposure)),
        white_balance=(float(wb[0]), float(wb[1]), float(wb[2])),
        jpeg_quality=None if r.jpeg_quality is None else int(rng.integers(lo_q, hi_q + 1)),
    )


@dataclass(frozen=True, eq=False)
class GeometricWarp:
    """Where the pixels of the input of :func:`apply_nuisance` went: ``map_points``."""

    yaw: YawWarp | None
    affine: F64

    def map_points(self, xy: F64) -> F64:
        pts = np.asarray(xy, np.float64).reshape(-1, 2)
        if self.yaw is not None:
            pts = self.yaw.map_points(pts)
        out: F64 = pts @ self.affine[:, :2].T + self.affine[:, 2]
        return out.reshape(np.shape(xy))


def apply_nuisance(
    image: U8, nuisance: Nuisance, *, points: Points | None = None, mm_per_px: float | None = None
) -> tuple[U8, GeometricWarp]:
    """Apply ``nuisance`` to ``image``; ``points`` and ``mm_per_px`` are needed for head yaw.

    Returns the image and the :class:`GeometricWarp` mapping input pixels to output pixels.
    """
    n = nuisance
    out = image
    yaw = None
    if n.yaw_deg:
        if points is None or mm_per_px is None:
            raise ValueError("head yaw needs the face's points and mm_per_px")
        out, yaw = head_yaw(out, points, yaw_deg=n.yaw_deg, mm_per_px=mm_per_px)
    matrix: F64 = np.eye(3)[:2]
    if n.angle_deg or n.scale != 1.0 or any(n.shift_px):
        out, matrix = affine_jitter(out, angle_deg=n.angle_deg, scale=n.scale, shift_px=n.shift_px)
    if n.white_balance != (1.0, 1.0, 1.0):  # one multiplication in linear light, clipped once
        out = adjust_white_balance(out, n.gains)
    elif n.exposure != 1.0:
        out = adjust_exposure(out, n.exposure)
    if n.jpeg_quality is not None:
        out = jpeg_roundtrip(out, n.jpeg_quality)
    if out is image:
        out = image.copy()
    return out, GeometricWarp(yaw, matrix)


# --------------------------------------------------------------------------- series


@dataclass(frozen=True, eq=False)
class SeriesImage:
    """One visit of :func:`render_series`.

    ``image`` is what a camera would deliver (scene drawn, then the nuisance); ``truth`` is the
    scene drawn without the nuisance (exact pixel truth and per-site table); ``warp`` maps the
    truth's pixels into ``image``.
    """

    image: U8
    scene: FaceScene
    truth: RenderedFace
    fade: Fade
    nuisance: Nuisance
    warp: GeometricWarp


def render_series(
    image: U8,
    scene: FaceScene,
    followups: Sequence[Fade],
    *,
    rng: np.random.Generator,
    nuisance: NuisanceRanges | None = DEFAULT_NUISANCE,
) -> tuple[SeriesImage, ...]:
    """A baseline (``scene`` as it is) and one follow-up per :class:`Fade`, each with its own
    random nuisance drawn from ``nuisance`` (None: no nuisance at all).

    The same underlying photo and scene are used throughout, so every difference between the
    follow-ups' truth tables and the baseline's is the known fade.
    """
    out = []
    for fade in (Fade(), *followups):
        faded = scene if not (fade.lines or fade.spots or fade.redness) else fade_scene(scene, fade)
        truth = render_face(image, faded)
        n = Nuisance() if nuisance is None else random_nuisance(rng, nuisance)
        shot, warp = apply_nuisance(truth.image, n, points=scene.points, mm_per_px=scene.mm_per_px)
        out.append(SeriesImage(shot, faded, truth, fade, n, warp))
    return tuple(out)
