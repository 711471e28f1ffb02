"""Per-region metrics (DESIGN.md's metric table) from the wrinkle and pigment maps.

All sums run over a region label image with ``np.bincount``, so every region is measured in one
pass. Definitions and units:

- ``wrinkles.severity`` = ``100 * (1 - exp(-S / SEVERITY_SCALE))`` with
  ``S = sum(length_mm * depth_pct) / area_cm2`` over the region's centre-line pixels: depth-weighted
  line density (mm x % per cm2). 0 without lines, monotone in line density and depth (a line that
  fades lowers it while still detected), saturating towards 100. ``SEVERITY_SCALE`` puts a
  forehead (30 cm2) with eight 60 mm lines 10 % deep near 27, twice that near 47.
- ``wrinkles.mean_depth``: length-weighted mean relative darkening on the centre lines, percent.
- ``wrinkles.fine_length_mm``/``deep_length_mm``: centre length of lines (linked segments)
  whose mean width is under ``wrinkles.FINE_MAX_WIDTH_MM`` (0.45 mm) and mean depth under
  ``wrinkles.FINE_MAX_DEPTH`` (6 %) / of the others.
- ``pigmentation.melanin_mean``/``_sd``: melanin index (100 x melanin optical density) mean and SD.
- ``pigmentation.spot_area_pct``/``spot_contrast``: percent of the region covered by spots, and
  their mean melanin-index excess over the background; patches just outside the spot gates
  count in part (``PigmentMaps.spot_weight``), so area does not jump at a gate.
- ``pigmentation.ita_deg``: individual typology angle ``atan((L* - 50) / b*)`` of the mean CIELAB.
- ``redness.mean``: erythema index (100 x haemoglobin optical density); ``redness.area_pct``: share
  above the face's median by ``pigment.REDNESS_ABOVE_MEDIAN``.
- ``texture.roughness``: SD of the fine-scale (0.2-0.6 mm band-pass) relative luminance on skin
  that is neither line nor spot, in percent of local luminance.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from analysis.pigment import PigmentMaps
from analysis.regions import ANATOMICAL_REGIONS, REGIONS, RegionMasks
from analysis.types import F32, F64, Bool
from analysis.wrinkles import WrinkleMap

METRICS: tuple[str, ...] = (
    "region.area_cm2",
    "wrinkles.severity",
    "wrinkles.count",
    "wrinkles.length_mm",
    "wrinkles.fine_length_mm",
    "wrinkles.deep_length_mm",
    "wrinkles.density_mm_per_cm2",
    "wrinkles.area_pct",
    "wrinkles.mean_width_mm",
    "wrinkles.mean_depth",
    "pigmentation.spot_count",
    "pigmentation.spot_area_pct",
    "pigmentation.spot_contrast",
    "pigmentation.melanin_mean",
    "pigmentation.melanin_sd",
    "pigmentation.ita_deg",
    "redness.mean",
    "redness.area_pct",
    "texture.roughness",
)
# Which way is better for each metric: -1 lower is better, +1 higher, 0 neither (DESIGN.md).
BETTER: Mapping[str, int] = {
    m: (0 if m in {"region.area_cm2", "pigmentation.melanin_mean", "pigmentation.ita_deg"} else -1)
    for m in METRICS
}
SEVERITY_SCALE = 500.0
ROUGHNESS_BAND_MM = (0.2, 0.6)


@dataclass(frozen=True)
class RegionMetrics:
    """Every metric of one region (finite floats; counts as whole numbers)."""

    region: str
    values: Mapping[str, float]

    def __getitem__(self, metric: str) -> float:
        return self.values[metric]


class _Tally:
    """Per-region sums over skin pixels, one ``bincount`` per quantity.

    Every pixel's bin: its anatomical region, ``n`` for skin outside the 14 regions (counts
    towards ``full_face`` only) or ``n + 1`` off skin (dropped). Dense quantities are read on
    the skin pixels only (``on_skin``) before any arithmetic; sparse ones (lines, spots) on
    their own few pixels (``at``). Results are arrays aligned with ``REGIONS``.
    """

    def __init__(self, regions: RegionMasks) -> None:
        n = len(ANATOMICAL_REGIONS)
        region = regions.labels.astype(np.intp) - 1
        bins = np.where(regions.skin, np.where(region >= 0, region, n), n + 1)
        self.sel = np.flatnonzero(regions.skin)
        self.region = bins.ravel()[self.sel]
        self.bins = bins.astype(np.uint8)  # kept as long as the regions live (``_tally``)
        self.n = n

    def _per_region(self, per: np.ndarray) -> F64:
        per = per.astype(np.float64)
        return np.concatenate([per[: self.n], [per[: self.n + 1].sum()]])

    def on_skin(self, image: np.ndarray) -> F64:
        """``image``'s values on the skin pixels (float64), for ``total``."""
        return np.asarray(image).ravel()[self.sel].astype(np.float64)

    def total(self, values: F64 | None = None) -> F64:
        """Sums of ``values`` (``on_skin``; pixel counts when None) over every skin pixel."""
        return self._per_region(np.bincount(self.region, values, minlength=self.n + 2))

    def at(self, where: Bool) -> _Pixels:
        """The pixels ``where``, for ``sum_at`` (found once, summed over several times)."""
        on = np.nonzero(where)
        return _Pixels(on, self.bins[on])

    def sum_at(self, pixels: _Pixels, *weights: np.ndarray) -> F64:
        """Sums over ``pixels`` of the product of ``weights`` (pixel counts when none)."""
        w = None
        for image in weights:
            value = np.asarray(image)[pixels.on]
            w = value if w is None else w * value
        w = None if w is None else w.astype(np.float64)
        return self._per_region(np.bincount(pixels.bins, w, minlength=self.n + 2))

    def distinct(self, labels: np.ndarray, where: Bool | None = None) -> F64:
        """Number of distinct non-zero ``labels`` (at the pixels ``where``) touching each
        region."""
        on = np.nonzero(labels > 0 if where is None else (labels > 0) & where)
        return self._distinct(self.bins[on], np.asarray(labels)[on])

    def distinct_at(self, pixels: _Pixels, labels: np.ndarray) -> F64:
        """``distinct`` of ``labels`` given at ``pixels`` (0: none)."""
        some = labels > 0
        return self._distinct(pixels.bins[some], labels[some])

    def _distinct(self, bins: np.ndarray, labels: np.ndarray) -> F64:
        bins, lab = bins.astype(np.int64), labels.astype(np.int64)
        skin = bins <= self.n
        bins, lab = bins[skin], lab[skin]
        out = np.zeros(self.n + 1, np.float64)
        if len(lab):
            base = int(lab.max()) + 1
            pairs = np.unique(bins * base + lab)
            per = np.bincount(pairs // base, minlength=self.n + 1)
            out[: self.n] = per[: self.n]
            out[self.n] = float(len(np.unique(lab)))
        return out


@dataclass(frozen=True, eq=False)
class _Pixels:
    """Some pixels of a ``_Tally``'s image: their indices and their bins."""

    on: tuple[np.ndarray, ...]
    bins: np.ndarray


_TALLIES: weakref.WeakKeyDictionary[RegionMasks, _Tally] = weakref.WeakKeyDictionary()


def _tally(regions: RegionMasks) -> _Tally:
    """The tally of ``regions``, made once for as long as they live: a comparison measures
    its two photos and their perturbations, eight images, on the same regions."""
    tally = _TALLIES.get(regions)
    if tally is None:
        tally = _TALLIES[regions] = _Tally(regions)
    return tally


def _safe_div(a: F64, b: F64) -> F64:
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def region_metrics(
    regions: RegionMasks, wrinkles: WrinkleMap, pigments: PigmentMaps, mm_per_px: float
) -> dict[str, RegionMetrics]:
    """All metrics for every region present (regions without pixels are left out)."""
    t = _tally(regions)
    px_area_cm2 = mm_per_px**2 / 100.0
    npx = t.total()
    area = npx * px_area_cm2

    lines = t.at(wrinkles.length_mm > 0)
    length = t.sum_at(lines, wrinkles.length_mm)
    fine_len = t.sum_at(t.at((wrinkles.length_mm > 0) & wrinkles.fine), wrinkles.length_mm)
    depth_len = t.sum_at(lines, wrinkles.length_mm, wrinkles.depth)
    width_len = t.sum_at(lines, wrinkles.length_mm, wrinkles.width_mm)
    line_px = t.sum_at(t.at(wrinkles.mask))
    count = t.distinct(wrinkles.segments, wrinkles.centerline)

    counted = t.at(pigments.spot_weight > 0)
    spot_px = t.sum_at(counted, pigments.spot_weight)
    spot_c = t.sum_at(counted, pigments.spot_weight, pigments.spot_contrast)
    spot_n = t.distinct(pigments.spots)
    mel = t.on_skin(pigments.melanin) * 100.0
    mel_sum, mel_sq = t.total(mel), t.total(mel**2)
    red_sum = t.total(t.on_skin(pigments.haemoglobin) * 100.0)
    red_px = t.total(t.on_skin(pigments.red))
    lab_l = t.total(t.on_skin(pigments.lab[..., 0]))
    lab_b = t.total(t.on_skin(pigments.lab[..., 2]))

    plain = t.on_skin(~wrinkles.mask & (pigments.spots == 0))
    fine_rel = t.on_skin(_band_pass(wrinkles.relative, mm_per_px))
    r_n = t.total(plain)
    r_sum = t.total(plain * fine_rel)
    r_sq = t.total(plain * fine_rel**2)

    mel_mean = _safe_div(mel_sum, npx)
    mel_var = np.maximum(_safe_div(mel_sq, npx) - mel_mean**2, 0.0)
    r_var = np.maximum(_safe_div(r_sq, r_n) - _safe_div(r_sum, r_n) ** 2, 0.0)
    mean_l, mean_b = _safe_div(lab_l, npx), _safe_div(lab_b, npx)
    ita = np.degrees(np.arctan2(mean_l - 50.0, np.maximum(mean_b, 1e-6)))
    s_index = _index(depth_len, area)

    table = {
        "region.area_cm2": area,
        "wrinkles.severity": severity(s_index),
        "wrinkles.count": count,
        "wrinkles.length_mm": length,
        "wrinkles.fine_length_mm": fine_len,
        "wrinkles.deep_length_mm": length - fine_len,
        "wrinkles.density_mm_per_cm2": _safe_div(length, area),
        "wrinkles.area_pct": 100.0 * _safe_div(line_px, npx),
        "wrinkles.mean_width_mm": _safe_div(width_len, length),
        "wrinkles.mean_depth": 100.0 * _safe_div(depth_len, length),
        "pigmentation.spot_count": spot_n,
        "pigmentation.spot_area_pct": 100.0 * _safe_div(spot_px, npx),
        "pigmentation.spot_contrast": 100.0 * _safe_div(spot_c, spot_px),
        "pigmentation.melanin_mean": mel_mean,
        "pigmentation.melanin_sd": np.sqrt(mel_var),
        "pigmentation.ita_deg": ita,
        "redness.mean": _safe_div(red_sum, npx),
        "redness.area_pct": 100.0 * _safe_div(red_px, npx),
        "texture.roughness": 100.0 * np.sqrt(r_var),
    }
    out: dict[str, RegionMetrics] = {}
    for i, name in enumerate(REGIONS):
        if npx[i] <= 0:
            continue
        values = {
            m: float(np.nan_to_num(table[m][i], nan=0.0, posinf=0.0, neginf=0.0)) for m in METRICS
        }
        out[name] = RegionMetrics(region=name, values=values)
    return out


def severity(index: F64 | float) -> F64:
    """``wrinkles.severity`` from its index ``S`` (mm x % of line per cm2; 0 below 0)."""
    return np.asarray(100.0 * (1.0 - np.exp(-np.maximum(index, 0.0) / SEVERITY_SCALE)))


def severity_index_of(value: float) -> float:
    """The index ``S`` whose severity is ``value`` (the inverse of ``severity``; ``value``
    clipped to 0-99.99, where the curve still turns a change of index into one of severity)."""
    return float(-SEVERITY_SCALE * np.log1p(-min(max(value, 0.0), 99.99) / 100.0))


def severity_index(
    regions: RegionMasks, length_mm: F32, depths: Sequence[F32], mm_per_px: float
) -> list[dict[str, float]]:
    """For each depth map, per region present: ``S = sum(length_mm * depth_pct) / area_cm2``,
    the index behind ``wrinkles.severity``, for any per-pixel length and depth (a comparison
    reads each measurement's depth on the lines of both photos, see ``analysis.compare``)."""
    t = _tally(regions)
    area = t.total() * (mm_per_px**2 / 100.0)
    lines = t.at(length_mm > 0)
    out = []
    for depth in depths:
        index = _index(t.sum_at(lines, length_mm, depth), area)
        out.append({name: float(index[i]) for i, name in enumerate(REGIONS) if area[i] > 0})
    return out


def spot_measures(
    regions: RegionMasks,
    where: Bool,
    belongs: F64,
    patches: np.ndarray,
    reads: Sequence[tuple[F64, F64]],
) -> list[dict[str, tuple[float, float, float]]]:
    """``pigmentation.spot_count``, ``spot_area_pct`` and ``spot_contrast`` per region present,
    on spot pixels ``where`` fixed in advance and read in several measurements (a comparison
    reads both photos on the same spot pixels, see ``analysis.compare``). Per pixel of
    ``where`` in ``np.nonzero`` order: how fully it belongs to a spot (``belongs``, 0-1, as
    ``PigmentMaps.spot_weight``), the patch of spot it is part of (``patches``, 1 ..), and in
    each read how much it counts towards spot area (0-1) and its contrast. Area is the counted
    share of the region; contrast the mean weighted by ``belongs`` (melanin-index units, as
    ``region_metrics``); count, the patches touching the region of which at least half counts
    in that read."""
    t = _tally(regions)
    npx = t.total()
    pixels = t.at(where)
    total = t._per_region(np.bincount(pixels.bins, belongs, t.n + 2))
    n = int(patches.max()) + 1 if patches.size else 1
    whole = np.bincount(patches, belongs, n)
    out = []
    for counted, contrast in reads:
        held = np.bincount(patches, counted, n) >= 0.5 * whole
        held[0] = False
        count = t.distinct_at(pixels, np.where(held[patches], patches, 0))
        area = t._per_region(np.bincount(pixels.bins, counted, t.n + 2))
        excess = t._per_region(np.bincount(pixels.bins, belongs * contrast, t.n + 2))
        pct, mean = 100.0 * _safe_div(area, npx), 100.0 * _safe_div(excess, total)
        out.append(
            {
                name: (float(count[i]), float(pct[i]), float(mean[i]))
                for i, name in enumerate(REGIONS)
                if npx[i] > 0
            }
        )
    return out


def _index(depth_len: F64, area_cm2: F64) -> F64:
    """Severity's index ``S`` per region from its sum of length (mm) x depth (fraction)."""
    return _safe_div(100.0 * depth_len, area_cm2)


def _band_pass(rel: np.ndarray, mm_per_px: float) -> np.ndarray:
    lo, hi = (s / mm_per_px for s in ROUGHNESS_BAND_MM)
    return np.asarray(
        cv2.GaussianBlur(rel, (0, 0), max(lo, 0.5)) - cv2.GaussianBlur(rel, (0, 0), hi)
    )
