"""Accuracy of the wrinkle and spot measurements against synthetic truth on real faces.

Run: ``python -m benchmarks.accuracy [--faces DIR] [--jobs N] [--markdown docs/accuracy.md]``

Synthetic wrinkles, spots and redness of known geometry (:mod:`datasets.faces`) are drawn on
each shared face photo; the photo is then measured by the full pipeline and compared with the
truth. The 19 faces are split into a development set (detector settings and the baselines'
thresholds may be chosen on it) and the held-out set :data:`HELD_OUT`, which is only scored.

Method
------
* **Material.** Each photo is cropped to the box its canonical frame covers (native
  resolution, no upsampling, so only faces photographed at >= 5 px/mm show fine lines; both
  all faces and that subset are reported). Landmarks and the iris scale of the crop place the
  scene: wrinkles at every template site (0.1-1.5 mm wide, raised to one photo pixel;
  2-25 % deep; log-uniform), spots (1-8 mm, melanin 0.05-0.5 OD) and redness patches.
* **Frame.** The drawn photo is analysed from scratch; the truth polylines are mapped into
  *its* canonical frame (``canonical.to_canonical``) and rasterised there (centre lines 1 px
  wide, masks to half the line width and at least 0.5 px, like the detector's own mask).
  Everything is counted inside that analysis' ``regions.skin`` only.
* **Lines already in the photo.** Real faces have real wrinkles, for which there is no truth.
  The *clean* photo is analysed with the drawn photo's landmarks (so both land on the same
  canonical pixels) by the same detector with the same settings. Pixels within the tolerance
  of a line found on the clean photo form an ignore zone: detections there are neither true nor
  false positives, and truth there is not counted for recall (it was findable before anything
  was drawn). Everything else is scored. A detector that fires everywhere on the clean photo
  would hide its own false positives in that zone, so each detector's line density on the
  clean photos is printed beside its scores.
* **Line scores.** Centre-line precision, recall and F1 with a 2-pixel tolerance (2 canonical
  px = 0.4 mm, Euclidean), pooled over the faces of a set. JSI (Jaccard) is intersection over
  union of the full-width masks, without tolerance, with the same ignore zone. The headline
  class is lines at least 0.3 mm wide and 5 % deep; when it is scored, the other synthetic lines
  join the ignore zone. "all" scores every synthetic line.
* **Baselines.** scikit-image ``frangi``, ``sato`` and ``meijering`` (dark ridges) and an
  even-symmetric Gabor bank (8 orientations), all at the detector's own four scales, on the same
  normalised luminance ``wrinkles.relative`` restricted to the same inner skin; thresholded,
  skeletonised, components shorter than the detector's ``MIN_LENGTH_MM`` dropped. Two
  thresholds each, both chosen on the dev faces only (pooled, headline class) before any
  held-out face is measured: ``F1-optimal``, and ``density-matched``, the best F1 among
  thresholds that find no more line on the clean photos than our detector does.
* **Per-region error.** The metric's added value, ``metric(drawn) - metric(clean)`` (clean
  measured as above), against the truth inside that region of the drawn photo's analysis
  (truth polylines and spot pixels split by its region labels). Regions where nothing was drawn
  show the cross-talk: what drawing elsewhere changed there.
* **Change tracking.** A series per face: a baseline and two follow-ups in which 2-4 sites'
  lines fade (depth times f, length times f) and 1-2 spot sites fade (area and contrast
  times f), f uniform in 0-0.9; every image with its own nuisance (exposure +-15 %, white
  balance +-5 % per channel, rotation +-3 degrees, scale +-5 %, JPEG quality 80-95). True
  severity change uses the metric's own formula on the truth. Spearman's rho between the true
  and the measured change, over faces x follow-ups x the 14 regions, for the change measured
  two ways: the two photos' own analyses subtracted, and the delta ``analysis.compare``
  reports (registered, harmonised, same pixels); with how often ``compare`` calls a faded
  region's severity decrease significant and an untouched region's change significant.
  Most regions are untouched (true change exactly 0, one tied rank), so rho over all regions
  has a ceiling below 1 for any measurement that is not exactly 0 there: the *ceiling* column
  is the rho of a measurement exact on every faded region and off by any small amount on each
  untouched one (about 0.75 with a quarter of the regions faded). Rho over the faded regions
  alone has no such ceiling. Rho within one patient's series, the same lines faded by
  several doses (12-16 % deep, 0.4-0.6 mm), is measured by ``python -m benchmarks.change
  --doses 1 0.75 0.5 0.25 0`` (``docs/experiments.md``, "Dose-response").
* **Other renderers.** The detector will be scored on lines drawn by code it has not seen, so
  each face is drawn five more times, with the same spots and redness: the template lines
  again (same geometry, width, depth) with each other cross-section of
  ``datasets.synthetic.PROFILES`` (V groove, flat trough, exponential cusp, one-sided oblique
  light), and ``scattered_wrinkles``, lines anywhere on the skin in any direction with those
  shapes mixed. They are analysed with the drawn photo's landmarks (its frame, so the clean
  photo's ignore zone is reused) and scored as the headline class, for our detector and
  every baseline at its F1-optimal threshold from the default drawing.
* **Repeatability.** The series' baseline and three more nuisance-only variants of the same
  drawn photo (same ranges): the coefficient of variation of each metric per face and region,
  its median over faces (``full_face``) and over faces x regions (regions whose mean is not 0).
  The false-change rate compares the first two variants with ``analysis.compare``. A variant
  the quality gate refuses is left out and counted.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy import stats
from skimage import filters, morphology

from analysis.canonical import CanonicalFace, apply_affine, to_canonical
from analysis.compare import Comparison, compare
from analysis.errors import AnalysisError
from analysis.face import FaceFinder, Found, Pose, find_face
from analysis.io import load_image
from analysis.metrics import METRICS, SEVERITY_SCALE
from analysis.pipeline import Analysis, analyze
from analysis.regions import ANATOMICAL_REGIONS, REGIONS, region_masks
from analysis.types import F32, F64, I32, Bool
from datasets.faces import (
    DEFAULT_NUISANCE,
    FaceLine,
    FaceScene,
    Fade,
    RenderedFace,
    apply_nuisance,
    face_scene,
    random_nuisance,
    render_face,
    render_series,
    scattered_wrinkles,
)
from datasets.shared_faces import FACES_DIR, HELD_OUT
from datasets.synthetic import PROFILES

FACES = FACES_DIR
SEED = 20240603
TOL_PX = 2.0
TARGET_WIDTH_MM = 0.3
TARGET_DEPTH = 0.05
HIGH_RES_PX_PER_MM = 5.0
N_VARIANTS = 4
N_FOLLOWUPS = 2
BASELINES: tuple[str, ...] = ("frangi", "sato", "meijering", "gabor")
SCALES_MM: tuple[float, ...] = (0.2, 0.33, 0.55, 0.9)  # the detector's SIGMAS_MM
THRESHOLD_GRID: Mapping[str, tuple[float, ...]] = {
    "frangi": tuple(np.geomspace(0.001, 0.5, 11).tolist()),
    "sato": tuple(np.geomspace(0.01, 0.16, 11).tolist()),
    "meijering": tuple(np.geomspace(0.04, 0.64, 11).tolist()),
    "gabor": tuple(np.geomspace(0.01, 0.16, 11).tolist()),
}
OPERATING_POINTS = ("F1-optimal", "density-matched")
WIDTH_BINS_MM = (0.1, 0.2, 0.3, 0.5, 0.8, 1.51)
DEPTH_BINS = (0.02, 0.035, 0.05, 0.08, 0.12, 0.251)
CLASSES = ("target", "all")
OTHER_PROFILES = tuple(k for k in PROFILES if k != "soft")
RENDERERS = (*(f"templates, {k}" for k in OTHER_PROFILES), "scattered, mixed profiles")
DEFAULT_DRAWING = "templates, soft (default)"

_frangi: Callable[..., NDArray[Any]] = filters.frangi  # scikit-image is untyped
_sato: Callable[..., NDArray[Any]] = filters.sato
_meijering: Callable[..., NDArray[Any]] = filters.meijering
_skeletonize: Callable[[Bool], Bool] = morphology.skeletonize
_thin: Callable[[Bool], Bool] = morphology.thin


# --------------------------------------------------------------------------- result records


@dataclass
class Counts:
    """Pooled line-detection counts (pixels)."""

    found_truth: int = 0  # scored truth centre pixels within tolerance of a detection
    truth: int = 0  # scored truth centre pixels
    hit_det: int = 0  # scored detected centre pixels within tolerance of truth
    det: int = 0  # scored detected centre pixels
    inter: int = 0  # mask intersection (JSI)
    union: int = 0
    clean_px: int = 0  # centre pixels found on the clean photo
    skin_px: int = 0

    def __iadd__(self, o: Counts) -> Counts:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(o, k))
        return self

    @property
    def precision(self) -> float:
        return self.hit_det / self.det if self.det else float("nan")

    @property
    def recall(self) -> float:
        return self.found_truth / self.truth if self.truth else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    @property
    def jsi(self) -> float:
        return self.inter / self.union if self.union else float("nan")

    @property
    def clean_density(self) -> float:
        """Centre-line length found on the clean photos, mm per cm2 of skin (0.2 mm pixels)."""
        return self.clean_px * 0.2 / (self.skin_px * 0.0004) if self.skin_px else float("nan")


@dataclass
class RegionRow:
    region: str
    truth_len: float
    truth_len_target: float
    added_len: float
    truth_spot_mm2: float
    added_spot_mm2: float


@dataclass
class ChangeRow:
    region: str
    true: dict[str, float]
    measured: dict[str, float]  # follow-up minus baseline, each analysed on its own
    compared: dict[str, float] | None  # the delta ``analysis.compare`` reports (None: refused)
    significant: dict[str, bool] | None  # ... and whether it called it significant
    # true severity change on top of the clean photo's own measured line load: of all drawn
    # lines, and of the headline class alone
    true_on_clean: tuple[float, float]


@dataclass
class FaceResult:
    stem: str
    held_out: bool
    px_per_mm: float
    n_lines: int
    n_target: int
    n_spots: int
    ours: dict[str, Counts]
    thresholds: dict[str, tuple[float, ...]]  # name -> the thresholds scored
    baselines: dict[str, list[dict[str, Counts]]]  # name -> per threshold -> class -> counts
    bins: NDArray[np.int64]  # (2, width bins, depth bins): found, total
    sites: dict[str, tuple[int, int]]  # site (sides merged) -> headline truth found, scored
    # renderer -> detector ("ours" or a baseline) -> [headline counts per threshold scored]
    robust: dict[str, dict[str, list[Counts]]]
    regions: list[RegionRow]
    changes: list[ChangeRow]
    repeat: list[dict[str, dict[str, float]]]
    false_change: tuple[int, int] | None
    seconds: float
    refused: list[str] = field(default_factory=list)
    nuisance_images: int = 0
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


class _FixedFace(FaceFinder):
    """A finder that 'finds' given landmarks: analyses the clean photo in another photo's frame."""

    def __init__(self, points: F32, pose: Pose) -> None:  # no models: nothing to load
        self._points, self._pose = points, pose

    def close(self) -> None:
        pass

    def find_all(
        self, rgb: NDArray[np.uint8], *, small: NDArray[np.uint8] | None = None
    ) -> tuple[list[Found], str]:
        return [Found(self._points.copy(), self._pose, {})], "given"

    def follows_turns(self, small: NDArray[np.uint8], roll: float, centre: F32) -> bool:
        return True  # the landmarks given are the upright photo's


def _disk(r: float) -> NDArray[np.uint8]:
    k = math.floor(r)
    y, x = np.mgrid[-k : k + 1, -k : k + 1]
    out: NDArray[np.uint8] = (x * x + y * y <= r * r + 1e-9).astype(np.uint8)
    return out


_NEAR = _disk(TOL_PX)


def _near(mask: Bool) -> Bool:
    return np.asarray(cv2.dilate(mask.astype(np.uint8), _NEAR), bool)


def _frame_box(
    canonical: CanonicalFace, shape: tuple[int, ...], margin: float = 0.03
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) photo box holding the canonical frame, plus a margin."""
    h, w = canonical.shape
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)
    box = apply_affine(canonical.to_photo, corners)
    lo, hi = box.min(0), box.max(0)
    pad = margin * (hi - lo)
    ph, pw = shape[:2]
    x0, y0 = (max(0, int(v)) for v in lo - pad)
    x1, y1 = min(pw, int(hi[0] + pad[0]) + 1), min(ph, int(hi[1] + pad[1]) + 1)
    return x0, y0, x1, y1


def _photo_skin(canonical: CanonicalFace, skin: Bool, shape: tuple[int, ...]) -> Bool:
    """The canonical skin mask carried back onto the photo grid."""
    h, w = shape[:2]
    warped = cv2.warpAffine(
        skin.astype(np.uint8), canonical.to_photo, (w, h), flags=cv2.INTER_NEAREST
    )
    return np.asarray(warped, bool)


def _is_target(ln: FaceLine) -> bool:
    return ln.spec.width_mm >= TARGET_WIDTH_MM and ln.spec.depth >= TARGET_DEPTH


def _dense(points: F64, step: float) -> tuple[F64, F64]:
    """Points every <= ``step`` along a polyline, and the length each sample stands for."""
    seg = np.diff(points, axis=0)
    n = np.maximum(np.ceil(np.hypot(*seg.T) / step).astype(int), 1)
    parts = [
        a + (np.arange(k)[:, None] + 0.5) / k * d
        for a, d, k in zip(points[:-1], seg, n, strict=True)
    ]
    weights = [np.full(k, float(np.hypot(*d)) / k) for d, k in zip(seg, n, strict=True)]
    return np.vstack(parts), np.concatenate(weights)


def _truth_maps(
    lines: Sequence[FaceLine], scene_mm: float, a: Analysis
) -> tuple[Bool, Bool, I32, I32]:
    """Truth in ``a``'s canonical frame: centre lines, masks, and the line id (1-based) of each
    centre pixel and of each mask pixel (that of its nearest centre pixel)."""
    shape = a.canonical.shape
    m = a.canonical.to_canonical
    ids = np.zeros(shape, np.int32)
    h, w = shape
    for k, ln in enumerate(lines, 1):
        pts, _ = _dense(apply_affine(m, ln.spec.points_px), 0.25)
        ij = np.rint(pts).astype(int)
        ok = (ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)
        ids[ij[ok, 1], ij[ok, 0]] = k
    centre = _thin(ids > 0)
    ids = np.where(centre, ids, 0).astype(np.int32)
    if not centre.any():
        return centre, centre.copy(), ids, ids.copy()
    dist, (iy, ix) = ndi.distance_transform_edt(~centre, return_indices=True)
    nearest = ids[iy, ix]
    canon_per_photo_px = float(np.hypot(m[0, 0], m[1, 0]))
    half = np.array([0.0] + [ln.spec.width_mm / scene_mm * canon_per_photo_px / 2 for ln in lines])
    mask = dist <= np.maximum(half[nearest], 0.5)
    mask_ids = np.where(mask, nearest, 0).astype(np.int32)
    return centre, mask, ids, mask_ids


def _split_by_region(
    lines: Sequence[FaceLine], scene_mm: float, a: Analysis
) -> dict[str, tuple[float, float, float, float]]:
    """Per region of ``a``: truth length (mm), that of headline-class lines, and the sum of
    length x depth (%) of all lines and of headline-class lines, from the polylines sampled
    every half pixel and mapped into its frame."""
    out = {r: np.zeros(4) for r in REGIONS}
    labels, skin = a.regions.labels, a.regions.skin
    h, w = skin.shape
    m = a.canonical.to_canonical
    for ln in lines:
        pts, wts = _dense(ln.spec.points_px, 0.5)
        c = np.rint(apply_affine(m, pts)).astype(int)
        ok = (c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)
        c, wts = c[ok], wts[ok] * scene_mm
        on = skin[c[:, 1], c[:, 0]]
        lab = labels[c[:, 1], c[:, 0]].astype(int)
        target = float(_is_target(ln))
        per_mm = np.array([1.0, target, 100.0 * ln.spec.depth, target * 100.0 * ln.spec.depth])
        out["full_face"] += float(wts[on].sum()) * per_mm
        for i in np.unique(lab[on & (lab > 0)]):
            out[ANATOMICAL_REGIONS[i - 1]] += float(wts[on & (lab == i)].sum()) * per_mm
    return {r: (float(v[0]), float(v[1]), float(v[2]), float(v[3])) for r, v in out.items()}


def _spot_area_by_region(mask: Bool, scene_mm: float, a: Analysis) -> dict[str, float]:
    """Truth spot area (mm2) per region of ``a``: each spot pixel goes to the region it maps to."""
    ys, xs = np.nonzero(mask)
    out = dict.fromkeys(REGIONS, 0.0)
    if len(xs) == 0:
        return out
    xy = np.stack([xs, ys], 1).astype(np.float64)
    c = np.rint(apply_affine(a.canonical.to_canonical, xy)).astype(int)
    h, w = a.regions.skin.shape
    ok = (c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)
    c = c[ok]
    on = a.regions.skin[c[:, 1], c[:, 0]]
    lab = a.regions.labels[c[:, 1], c[:, 0]].astype(int)[on]
    px = scene_mm**2
    out["full_face"] = float(on.sum()) * px
    counts = np.bincount(lab, minlength=len(ANATOMICAL_REGIONS) + 1)
    for i, name in enumerate(ANATOMICAL_REGIONS, 1):
        out[name] = float(counts[i]) * px
    return out


def _severity(depth_len: float, area_cm2: float) -> float:
    return (
        100.0 * (1.0 - math.exp(-(depth_len / area_cm2) / SEVERITY_SCALE)) if area_cm2 > 0 else 0.0
    )


def _severity_change(before: float, after: float, area_cm2: float, under: float = 0.0) -> float:
    """Change of severity when a region's line load (length x depth, %) goes from ``before``
    to ``after`` on top of a load ``under`` that stays."""
    return _severity(under + after, area_cm2) - _severity(under + before, area_cm2)


def _metric(a: Analysis, region: str, name: str) -> float:
    return float(a.metrics[region][name]) if region in a.metrics else 0.0


# --------------------------------------------------------------------------- baselines


def _gabor(rel: F32, sigmas_px: Sequence[float]) -> F32:
    """Even-symmetric Gabor bank: 8 orientations, wavelength 4 s, envelope 2 s x 4 s, dark lines
    positive; each kernel zero-mean, its positive lobe summing to 1."""
    best = np.zeros(rel.shape, np.float32)
    for s in sigmas_px:
        sigma, lambd, gamma = 2.0 * s, 4.0 * s, 0.5
        half = math.ceil(3 * sigma / gamma)
        for k in range(8):
            kern = np.asarray(
                cv2.getGaborKernel(
                    (2 * half + 1, 2 * half + 1),
                    sigma,
                    math.pi * k / 8,
                    lambd,
                    gamma,
                    0.0,
                    cv2.CV_32F,
                ),
                np.float32,
            )
            kern -= kern.mean()
            kern /= kern[kern > 0].sum()
            resp = -cv2.filter2D(rel, cv2.CV_32F, kern, borderType=cv2.BORDER_REFLECT)
            best = np.maximum(best, resp)
    return best


def _response(name: str, rel: F32, sigmas_px: Sequence[float]) -> F32:
    sig = list(sigmas_px)
    if name == "frangi":
        r = _frangi(rel.astype(np.float64), sigmas=sig, black_ridges=True)
    elif name == "sato":
        r = _sato(rel.astype(np.float64), sigmas=sig, black_ridges=True)
    elif name == "meijering":
        r = _meijering(rel.astype(np.float64), sigmas=sig, black_ridges=True)
    else:
        r = _gabor(rel, sig)
    return np.asarray(r, np.float32)


def _baseline_lines(resp: F32, thr: float, inner: Bool, min_px: float) -> tuple[Bool, Bool]:
    region = (resp >= thr) & inner
    skel = _skeletonize(region)
    eight = np.ones((3, 3), bool)
    lab, n = ndi.label(skel, structure=eight)
    if n == 0:
        return skel, region & False
    size = np.bincount(lab.ravel(), minlength=n + 1)
    keep = size >= min_px
    keep[0] = False
    centre = keep[lab]
    rlab, _ = ndi.label(region, structure=eight)
    good = np.zeros(int(rlab.max()) + 1, bool)
    good[np.unique(rlab[centre])] = True
    good[0] = False
    return centre, good[rlab]


# --------------------------------------------------------------------------- scoring


@dataclass
class _Truth:
    centre: Bool
    mask: Bool
    ids: I32
    mask_ids: I32
    target: Bool  # per line id (index 0 unused)
    skin: Bool


def _others(t: _Truth) -> Bool:
    """Truth centre pixels outside the headline class: ignored when it is scored."""
    return np.asarray(~t.target[t.ids] & t.centre)


def _score(det: Bool, det_mask: Bool, clean: Bool, clean_mask: Bool, t: _Truth, cls: str) -> Counts:
    other = _others(t) if cls == "target" else np.zeros_like(t.centre)
    other_mask = ~t.target[t.mask_ids] & t.mask if cls == "target" else np.zeros_like(t.mask)
    truth = t.centre & ~other
    truth_mask = t.mask & ~other_mask
    zone = _near(clean | other)
    zone_mask = _near(clean_mask | other_mask)
    skin = t.skin
    scored_truth = truth & skin & ~zone
    scored_det = det & skin & ~zone
    tm, dm = truth_mask & skin & ~zone_mask, det_mask & skin & ~zone_mask
    return Counts(
        found_truth=int((scored_truth & _near(det)).sum()),
        truth=int(scored_truth.sum()),
        hit_det=int((scored_det & _near(truth)).sum()),
        det=int(scored_det.sum()),
        inter=int((tm & dm).sum()),
        union=int((tm | dm).sum()),
        clean_px=int((clean & skin).sum()),
        skin_px=int(skin.sum()),
    )


def _recall_bins(det: Bool, clean: Bool, t: _Truth, lines: Sequence[FaceLine]) -> NDArray[np.int64]:
    out = np.zeros((2, len(WIDTH_BINS_MM) - 1, len(DEPTH_BINS) - 1), np.int64)
    scored = t.centre & t.skin & ~_near(clean)
    hit = scored & _near(det)
    ids = t.ids[scored]
    found = hit[scored]
    for k, ln in enumerate(lines, 1):
        wb = int(np.searchsorted(WIDTH_BINS_MM, ln.spec.width_mm, side="right")) - 1
        db = int(np.searchsorted(DEPTH_BINS, ln.spec.depth, side="right")) - 1
        wb = min(max(wb, 0), out.shape[1] - 1)
        db = min(max(db, 0), out.shape[2] - 1)
        sel = ids == k
        out[0, wb, db] += int(found[sel].sum())
        out[1, wb, db] += int(sel.sum())
    return out


def _site(site: str) -> str:
    return site.removesuffix("_left").removesuffix("_right")


def _recall_by_site(
    det: Bool, clean: Bool, t: _Truth, lines: Sequence[FaceLine]
) -> dict[str, tuple[int, int]]:
    """Headline-class truth pixels found and scored, per template site (both sides together),
    with the ignore zone of ``_score``."""
    scored = t.centre & t.target[t.ids] & t.skin & ~_near(clean | _others(t))
    hit = scored & _near(det)
    out: dict[str, tuple[int, int]] = {}
    for k, ln in enumerate(lines, 1):
        sel = scored & (t.ids == k)
        n = int(sel.sum())
        if n:
            found, total = out.get(_site(ln.site), (0, 0))
            out[_site(ln.site)] = (found + int((hit & sel).sum()), total + n)
    return out


def _other_lines(
    renderer: str, scene: FaceScene, skin: Bool, rng: np.random.Generator
) -> tuple[FaceLine, ...]:
    """The lines of one of :data:`RENDERERS`: the scene's template lines with another profile
    (their geometry, depth, width and highlight kept), or lines scattered over the skin with
    profiles from :data:`PROFILES` and highlights of 0-0.3."""
    if renderer == RENDERERS[-1]:
        return scattered_wrinkles(skin, mm_per_px=scene.mm_per_px, rng=rng)
    kind = renderer.removeprefix("templates, ")
    return tuple(replace(ln, spec=replace(ln.spec, profile=kind)) for ln in scene.lines)


# --------------------------------------------------------------------------- one face


def _fades(scene: FaceScene, rng: np.random.Generator) -> Fade:
    line_sites = sorted({ln.site for ln in scene.lines})
    spot_sites = sorted({s.site for s in scene.spots})
    k = min(len(line_sites), int(rng.integers(2, 5)))
    lines = {str(s): float(rng.uniform(0.0, 0.9)) for s in rng.choice(line_sites, k, replace=False)}
    j = min(len(spot_sites), int(rng.integers(1, 3)))
    spots = {str(s): float(rng.uniform(0.0, 0.9)) for s in rng.choice(spot_sites, j, replace=False)}
    return Fade(lines=lines, spots=spots)


def drawn_face(
    path: Path, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], float, Bool, FaceScene, RenderedFace]:
    """A shared face cropped to the box its canonical frame covers (at native resolution:
    every later image is 3-4 times smaller than the whole photo, and landmarks and the iris
    scale are then taken from that crop, as its analyses will), with a synthetic scene drawn
    on it. Returns the crop, its mm per pixel, its skin (on the crop's grid), the scene and
    the drawing."""
    full = load_image(path).rgb
    x0, y0, x1, y1 = _frame_box(to_canonical(full, find_face(full)), full.shape[:2])
    photo = np.ascontiguousarray(full[y0:y1, x0:x1])
    face = find_face(photo)
    canonical = to_canonical(photo, face)
    skin_photo = _photo_skin(canonical, region_masks(canonical).skin, photo.shape[:2])
    points = face.points.astype(np.float64)
    scene = face_scene(points, mm_per_px=face.mm_per_px, rng=rng, skin=skin_photo)
    return photo, face.mm_per_px, skin_photo, scene, render_face(photo, scene)


def evaluate_face(path: Path, thresholds: Mapping[str, Sequence[float]]) -> FaceResult:
    """Everything measured on one face: detection counts, region errors, series, variants."""
    t0 = time.perf_counter()
    clock: dict[str, float] = {}
    last = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        clock[name] = clock.get(name, 0.0) + now - last[0]
        last[0] = now

    stem = path.stem
    rng = np.random.default_rng([SEED, zlib.crc32(stem.encode())])
    photo, mm, skin_photo, scene, drawn = drawn_face(path, rng)
    a = analyze(drawn.image)
    clean = analyze(photo, finder=_FixedFace(a.face.points, a.face.pose))
    lap("scene, draw, 3 analyses")

    # ---- truth in the drawn photo's canonical frame, cropped to the skin's box
    centre, mask, ids, mask_ids = _truth_maps(scene.lines, mm, a)
    target = np.array([False] + [_is_target(ln) for ln in scene.lines])
    ys, xs = np.nonzero(a.regions.skin)
    pad = 24
    box = np.s_[
        max(0, ys.min() - pad) : ys.max() + pad + 1, max(0, xs.min() - pad) : xs.max() + pad + 1
    ]
    skin = a.regions.skin[box]
    truth = _Truth(centre[box], mask[box], ids[box], mask_ids[box], target, skin)
    ours = {
        cls: _score(
            a.wrinkles.centerline[box],
            a.wrinkles.mask[box],
            clean.wrinkles.centerline[box],
            clean.wrinkles.mask[box],
            truth,
            cls,
        )
        for cls in CLASSES
    }
    bins = _recall_bins(
        a.wrinkles.centerline[box], clean.wrinkles.centerline[box], truth, scene.lines
    )
    sites = _recall_by_site(
        a.wrinkles.centerline[box], clean.wrinkles.centerline[box], truth, scene.lines
    )

    # ---- baselines on the same normalised luminance and inner skin
    from analysis.wrinkles import MIN_LENGTH_MM

    inner = np.asarray(cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)), bool)
    sigmas = [s / a.canonical.mm_per_px for s in SCALES_MM]
    min_px = MIN_LENGTH_MM / a.canonical.mm_per_px
    lap("truth, our scores")
    baselines: dict[str, list[dict[str, Counts]]] = {}
    clean_lines: dict[str, list[tuple[Bool, Bool]]] = {}
    for name in BASELINES:
        r_drawn = _response(name, a.wrinkles.relative[box], sigmas)
        r_clean = _response(name, clean.wrinkles.relative[box], sigmas)
        per: list[dict[str, Counts]] = []
        clean_lines[name] = []
        for thr in thresholds[name]:
            d, dm = _baseline_lines(r_drawn, thr, inner, min_px)
            c, cm = _baseline_lines(r_clean, thr, inner, min_px)
            clean_lines[name].append((c, cm))
            per.append({cls: _score(d, dm, c, cm, truth, cls) for cls in CLASSES})
        baselines[name] = per
        lap(f"baseline {name}")

    # ---- other renderers, in the drawn photo's frame (the clean photo's ignore zone holds)
    robust: dict[str, dict[str, list[Counts]]] = {}
    same_frame = _FixedFace(a.face.points, a.face.pose)
    for k, renderer in enumerate(RENDERERS, 1):
        rr = np.random.default_rng([SEED, zlib.crc32(stem.encode()), k])
        other = _other_lines(renderer, scene, skin_photo, rr)
        av = analyze(render_face(photo, replace(scene, lines=other)).image, finder=same_frame)
        c2, m2, i2, mi2 = _truth_maps(other, mm, av)
        is_target = np.array([False] + [_is_target(ln) for ln in other])
        t2 = _Truth(c2[box], m2[box], i2[box], mi2[box], is_target, av.regions.skin[box])
        det = av.wrinkles.centerline[box]
        clean_det = clean.wrinkles.centerline[box]
        counts = {
            "ours": [
                _score(
                    det, av.wrinkles.mask[box], clean_det, clean.wrinkles.mask[box], t2, "target"
                )
            ]
        }
        for name in BASELINES:
            r_drawn = _response(name, av.wrinkles.relative[box], sigmas)
            counts[name] = [
                _score(
                    *_baseline_lines(r_drawn, thr, inner, min_px),
                    *clean_lines[name][i],
                    t2,
                    "target",
                )
                for i, thr in enumerate(thresholds[name])
            ]
        robust[renderer] = counts
        lap(f"renderer {k}")

    # ---- per-region error of the metrics' added value
    split = _split_by_region(scene.lines, mm, a)
    spot_truth = _spot_area_by_region(drawn.spots.mask, mm, a)
    regions = []
    for r in REGIONS:
        added_len = _metric(a, r, "wrinkles.length_mm") - _metric(clean, r, "wrinkles.length_mm")
        spot_pct = "pigmentation.spot_area_pct"
        # percent of the region's area (cm2) -> mm2: pct / 100 * area_cm2 * 100
        added_spot = (_metric(a, r, spot_pct) - _metric(clean, r, spot_pct)) * _metric(
            a, r, "region.area_cm2"
        )
        regions.append(RegionRow(r, split[r][0], split[r][1], added_len, spot_truth[r], added_spot))

    # ---- change tracking: baseline + follow-ups, each with its own nuisance (and small yaw)
    refused: list[str] = []
    fades = [_fades(scene, rng) for _ in range(N_FOLLOWUPS)]
    series = render_series(photo, scene, fades, rng=rng, nuisance=DEFAULT_NUISANCE)
    lap("region errors")
    measured = [_try_analyze(s.image, refused) for s in series]
    lap("series")
    truths = []
    for s in series:
        sp = _spot_area_by_region(s.truth.spots.mask, mm, a)
        lines = _split_by_region(s.scene.lines, mm, a)
        truths.append((lines, sp))
    changes = []
    for k in range(1, len(series)):
        base, follow = measured[0], measured[k]
        if base is None or follow is None:
            continue
        try:
            cmp: Comparison | None = compare(base, follow)
        except AnalysisError:  # counted in the change table as refused by compare
            cmp = None
        for r in ANATOMICAL_REGIONS:
            area = _metric(a, r, "region.area_cm2")
            if area <= 0:
                continue
            (l0, s0), (l1, s1) = truths[0], truths[k]
            # the clean photo's own lines, length x depth (%): what the drawn ones add to
            real = _metric(clean, r, "wrinkles.length_mm") * _metric(
                clean, r, "wrinkles.mean_depth"
            )
            was, now = l0[r], l1[r]  # this region's line truth: baseline, follow-up
            true = {
                "wrinkles.severity": _severity_change(was[2], now[2], area),
                "wrinkles.length_mm": now[0] - was[0],
                "pigmentation.spot_area_pct": (s1[r] - s0[r]) / (area * 100) * 100,
            }
            meas = {m: _metric(follow, r, m) - _metric(base, r, m) for m in true}
            got = None if cmp is None or r not in cmp.changes else cmp.changes[r]
            changes.append(
                ChangeRow(
                    r,
                    true,
                    meas,
                    None if got is None else {m: got[m].delta for m in true},
                    None if got is None else {m: got[m].significant for m in true},
                    (
                        _severity_change(was[2], now[2], area, real),
                        _severity_change(was[3], now[3], area, real),
                    ),
                )
            )

    # ---- repeatability: nuisance-only variants of the drawn photo
    # the series' baseline is the drawn photo under a nuisance draw of the same protocol
    variants = [] if measured[0] is None else [measured[0]]
    for _ in range(N_VARIANTS - 1):
        img, _warp = apply_nuisance(drawn.image, random_nuisance(rng, DEFAULT_NUISANCE))
        v = _try_analyze(img, refused)
        if v is not None:
            variants.append(v)
    repeat = [{r: dict(v.metrics[r].values) for r in REGIONS if r in v.metrics} for v in variants]
    lap("variants")
    false_change = _false_change(variants[:2])  # one pair per face: compare is slow
    lap("compare")

    n_target = int(target[1:].sum())
    return FaceResult(
        stem=stem,
        held_out=stem in HELD_OUT,
        px_per_mm=float(a.quality.px_per_mm),
        n_lines=len(scene.lines),
        n_target=n_target,
        n_spots=len(scene.spots),
        ours=ours,
        thresholds={n: tuple(thresholds[n]) for n in BASELINES},
        baselines=baselines,
        bins=bins,
        sites=sites,
        robust=robust,
        regions=regions,
        changes=changes,
        repeat=repeat,
        false_change=false_change,
        seconds=time.perf_counter() - t0,
        refused=refused,
        nuisance_images=len(series) + N_VARIANTS - 1,
        timings=clock,
    )


def _try_analyze(image: NDArray[np.uint8], refused: list[str]) -> Analysis | None:
    """The analysis of a nuisance image, or None (its error code noted) when it is refused."""
    try:
        return analyze(image)
    except AnalysisError as exc:
        refused.append(exc.code)
        return None


def _false_change(variants: Sequence[Analysis]) -> tuple[int, int]:
    """(significant, compared) region x metric comparisons over nuisance-only pairs."""
    flagged = total = 0
    for before, after in zip(variants[0::2], variants[1::2], strict=False):
        try:
            result = compare(before, after).to_dict()
        except AnalysisError:  # a pair that cannot be registered is no false change
            continue
        for metrics in result["regions"].values():
            for value in metrics.values():
                if isinstance(value, dict) and "significant" in value:
                    total += 1
                    flagged += bool(value["significant"])
    return flagged, total


# --------------------------------------------------------------------------- aggregation


def _subsets(results: Sequence[FaceResult]) -> list[tuple[str, list[FaceResult]]]:
    out = []
    for held, name in ((False, "dev"), (True, "held-out")):
        part = [r for r in results if r.held_out == held]
        hi = [r for r in part if r.px_per_mm >= HIGH_RES_PX_PER_MM]
        out.append((f"{name}, all", part))
        out.append((f"{name}, >= {HIGH_RES_PX_PER_MM:g} px/mm", hi))
    return out


def _pool(items: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in items:
        total += c
    return total


def choose_thresholds(dev: Sequence[FaceResult]) -> dict[str, dict[str, float]]:
    """Each baseline's thresholds from the dev faces only (headline class, pooled counts).

    ``F1-optimal``: the best F1. ``density-matched``: the best F1 among thresholds whose line
    density on the clean photos is no higher than our detector's (the ignore zone grows with
    that density, so a permissive threshold hides its own false positives in it).
    """
    ours_density = _pool(r.ours["target"] for r in dev).clean_density
    out: dict[str, dict[str, float]] = {}
    for name in BASELINES:
        grid = THRESHOLD_GRID[name]
        pooled = [_pool(r.baselines[name][i]["target"] for r in dev) for i in range(len(grid))]
        f1 = np.nan_to_num([c.f1 for c in pooled], nan=-1.0)
        dense = np.array([c.clean_density for c in pooled])
        allowed = dense <= ours_density
        matched = int(np.argmax(np.where(allowed, f1, -2.0))) if allowed.any() else len(grid) - 1
        out[name] = {"F1-optimal": grid[int(np.argmax(f1))], "density-matched": grid[matched]}
    return out


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _at(r: FaceResult, name: str, thr: float, cls: str) -> Counts:
    return r.baselines[name][r.thresholds[name].index(thr)][cls]


def _detection_tables(
    results: Sequence[FaceResult], chosen: Mapping[str, Mapping[str, float]]
) -> list[str]:
    out: list[str] = []
    titles = {
        "target": f"lines >= {TARGET_WIDTH_MM:g} mm wide and >= {100 * TARGET_DEPTH:g} % deep",
        "all": "all synthetic lines (0.1-1.5 mm wide, 2-25 % deep)",
    }
    for cls in CLASSES:
        out += ["", f"### Line detection: {titles[cls]}", ""]
        rows = []
        for label, part in _subsets(results):
            if not part:
                continue
            n_lines = sum(r.n_target if cls == "target" else r.n_lines for r in part)
            entries = [("ours", "-", _pool(r.ours[cls] for r in part))]
            for name in BASELINES:
                for op in OPERATING_POINTS:
                    thr = chosen[name][op]
                    pooled = _pool(_at(r, name, thr, cls) for r in part)
                    entries.append((f"{name} ({op})", f"{thr:.3g}", pooled))
            for det, thr_text, c in entries:
                rows.append(
                    [
                        label,
                        str(len(part)),
                        str(n_lines),
                        det,
                        thr_text,
                        _fmt(c.precision),
                        _fmt(c.recall),
                        _fmt(c.f1),
                        _fmt(c.jsi),
                        _fmt(c.clean_density, 1),
                    ]
                )
        header = [
            "set",
            "faces",
            "lines",
            "detector",
            "threshold",
            "precision",
            "recall",
            "F1",
            "JSI",
            "clean-photo lines mm/cm2",
        ]
        out += _table(header, rows)
    return out


def _recall_table(results: Sequence[FaceResult]) -> list[str]:
    out = [
        "",
        "### Recall of our detector by line width and depth (scored truth pixels, all faces)",
        "",
    ]
    for label, part in _subsets(results):
        if not part or ">=" in label:
            continue
        bins = sum((r.bins for r in part), np.zeros_like(part[0].bins))
        header = ["width \\ depth"] + [
            f"{100 * a:g}-{100 * b:.3g} %" for a, b in itertools.pairwise(DEPTH_BINS)
        ]
        rows = []
        for i, (a, b) in enumerate(itertools.pairwise(WIDTH_BINS_MM)):
            cells = [f"{label}: {a:g}-{b:.3g} mm"]
            for j in range(bins.shape[2]):
                found, total = int(bins[0, i, j]), int(bins[1, i, j])
                cells.append(f"{found / total:.2f} ({total})" if total else "-")
            rows.append(cells)
        out += _table(header, rows) + [""]
    return out


def _site_table(results: Sequence[FaceResult]) -> list[str]:
    out = [
        "",
        "### Recall of our detector by site (lines >= 0.3 mm & 5 %, scored truth pixels)",
        "",
        "Left and right together; the ignore zone of the detection tables. A site's lines are",
        "placed from landmarks, so some run within 0.4-0.8 mm of a real fold of the photo",
        "(nasolabial lines especially), where the fold's broader valley hides them.",
        "",
    ]
    names = sorted({s for r in results for s in r.sites})
    rows = []
    for label, part in _subsets(results):
        if not part or ">=" in label:
            continue
        cells = [label]
        for name in names:
            found = sum(r.sites.get(name, (0, 0))[0] for r in part)
            total = sum(r.sites.get(name, (0, 0))[1] for r in part)
            cells.append(f"{found / total:.2f} ({total})" if total else "-")
        rows.append(cells)
    return out + _table(["set", *names], rows)


def _drawn(r: FaceResult, drawing: str, name: str, thr: float | None = None) -> Counts:
    """Headline counts of ``name`` (``"ours"``, or a baseline at threshold ``thr``) on one
    drawing: the default one or one of :data:`RENDERERS`."""
    if name == "ours":
        return r.ours["target"] if drawing == DEFAULT_DRAWING else r.robust[drawing]["ours"][0]
    assert thr is not None
    if drawing == DEFAULT_DRAWING:
        return _at(r, name, thr, "target")
    return r.robust[drawing][name][r.thresholds[name].index(thr)]


def _robust_tables(
    results: Sequence[FaceResult], chosen: Mapping[str, Mapping[str, float]]
) -> list[str]:
    out = [
        "",
        "### Other renderers: line profiles and placements (lines >= 0.3 mm & 5 %)",
        "",
        "The default drawing (soft profile with bright shoulders, template sites: the first",
        "table) against the same template lines drawn with each other cross-section (same",
        "geometry, width and depth), and against lines scattered over the skin in any",
        "direction with mixed cross-sections. Baselines at their F1-optimal thresholds from the",
        "default drawing on the dev faces.",
        "",
    ]
    rows = []
    for label, part in _subsets(results):
        if not part:
            continue
        for drawing in (DEFAULT_DRAWING, *RENDERERS):
            ours = _pool(_drawn(r, drawing, "ours") for r in part)
            cells = [
                label,
                drawing,
                f"{_fmt(ours.precision)} / {_fmt(ours.recall)} / {_fmt(ours.f1)}",
            ]
            for n in BASELINES:
                thr = chosen[n][OPERATING_POINTS[0]]
                cells.append(_fmt(_pool(_drawn(r, drawing, n, thr) for r in part).f1))
            rows.append(cells)
    header = ["set", "lines drawn", "ours P / R / F1", *(f"{n} F1" for n in BASELINES)]
    return out + _table(header, rows)


def _region_tables(results: Sequence[FaceResult]) -> list[str]:
    out = [
        "",
        "### Per-region error of the added value (measured on the drawn photo minus on the clean)",
        "",
        "Relative error = (added - truth) / truth, median over the faces whose region holds at",
        "least 5 mm of synthetic line (or 2 mm2 of spot); |error| is the median absolute one.",
        "Where nothing was drawn the added value should be 0: anything else is cross-talk from",
        "lines or spots drawn elsewhere on the face.",
        "",
    ]
    header = [
        "set",
        "region",
        "truth length mm (mean)",
        "length error vs all lines",
        "length |error|",
        "length error vs >= 0.3 mm & 5 % lines",
        "added length where no line was drawn, mm (mean)",
        "truth spot mm2 (mean)",
        "spot area error",
        "spot |error|",
        "added spot mm2 where none was drawn (mean)",
    ]
    rows = []
    for label, part in _subsets(results):
        if not part or ">=" in label:
            continue
        for region in REGIONS:
            rr = [row for r in part for row in r.regions if row.region == region]
            le = [(x.added_len - x.truth_len) / x.truth_len for x in rr if x.truth_len >= 5]
            lt = [
                (x.added_len - x.truth_len_target) / x.truth_len_target
                for x in rr
                if x.truth_len_target >= 5
            ]
            se = [
                (x.added_spot_mm2 - x.truth_spot_mm2) / x.truth_spot_mm2
                for x in rr
                if x.truth_spot_mm2 >= 2
            ]
            no_line = [x.added_len for x in rr if x.truth_len < 0.5]
            no_spot = [x.added_spot_mm2 for x in rr if x.truth_spot_mm2 < 0.1]
            rows.append(
                [
                    label.split(",")[0],
                    region,
                    _fmt(float(np.mean([x.truth_len for x in rr])), 1),
                    _pct(le),
                    _pct([abs(v) for v in le]),
                    _pct(lt),
                    _mean(no_line),
                    _fmt(float(np.mean([x.truth_spot_mm2 for x in rr])), 1),
                    _pct(se),
                    _pct([abs(v) for v in se]),
                    _mean(no_spot),
                ]
            )
    return out + _table(header, rows)


def _mean(values: Sequence[float]) -> str:
    return f"{float(np.mean(values)):+.1f} (n={len(values)})" if values else "-"


def _pct(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{100 * statistics.median(values):+.0f} % (n={len(values)})"


def _change_table(results: Sequence[FaceResult]) -> list[str]:
    out = [
        "",
        "### Change tracking: Spearman rho between true and measured change",
        "",
        f"Faces x {N_FOLLOWUPS} follow-ups x 14 regions; each image with its own nuisance. "
        "*separate*: the follow-up's and the baseline's own analyses subtracted; *compare*: "
        "the delta ``analysis.compare`` reports for the pair (registered, harmonised, measured "
        "on the same pixels). *Faded only*: rho over the faded regions alone (does the "
        "measured change rank the size of the fades, leaving aside the many untouched "
        "regions whose true change is exactly 0). Faded: regions whose true severity fell; "
        "the share of them that ``compare`` calls a significant severity decrease, and the "
        "share of untouched regions it calls significant either way. *Truth on the clean "
        "photo's lines*: the true severity change of a region computed on top of the line load "
        "(length x depth) the clean photo measures there, since severity saturates and a "
        "region rich in real lines moves less for the same fade; *headline-class truth*: the "
        "same from lines >= 0.3 mm wide and 5 % deep only. *Ceiling*: the rho of a "
        "severity change exact on every faded region and off by any small amount on each "
        "untouched one (their true change is one tied rank). *Faded spots*: the regions whose "
        "true spot area fell: rho of ``compare``'s spot area change over them, the share of "
        "them it calls a significant decrease, and the share of the regions where no spot "
        "faded whose spot area it calls significant.",
        "",
    ]
    metrics = ("wrinkles.severity", "wrinkles.length_mm", "pigmentation.spot_area_pct")
    header = ["set", "pairs"]
    for m in metrics:
        header += [f"{m} separate", f"{m} compare"]
    header += [
        "faded only: severity compare",
        "faded only: truth on the clean photo's lines",
        "... headline-class truth",
        "faded: severity down, significant",
        "untouched: severity significant",
        "ceiling: severity, all regions",
        "faded spots only: spot area compare",
        "faded spots: spot area down, significant",
        "no spot faded: spot area significant",
    ]
    rows = []
    sev = "wrinkles.severity"
    for label, part in _subsets(results):
        if not part:
            continue
        ch = [c for r in part for c in r.changes]
        both = [c for c in ch if c.compared is not None and c.significant is not None]
        cells = [label, f"{len(ch)} ({len(ch) - len(both)} refused by compare)"]
        for m in metrics:
            for rows_, pick in ((ch, "measured"), (both, "compared")):
                true = [c.true[m] for c in rows_]
                meas = [getattr(c, pick)[m] for c in rows_]
                ok = len(rows_) > 2 and len(set(true)) > 1 and len(set(meas)) > 1
                cells.append(_fmt(float(stats.spearmanr(true, meas).statistic) if ok else math.nan))
        faded = [c for c in both if c.true[sev] < 0]
        still = [c for c in both if c.true[sev] == 0]
        hit = [
            c
            for c in faded
            if c.significant and c.significant[sev] and c.compared and c.compared[sev] < 0
        ]
        flag = [c for c in still if c.significant and c.significant[sev]]
        faded_true = [c.true[sev] for c in faded]
        faded_meas = [c.compared[sev] for c in faded if c.compared is not None]
        ok = len(faded) > 2 and len(faded_meas) == len(faded) and len(set(faded_true)) > 1
        for truth in (faded_true, *([c.true_on_clean[j] for c in faded] for j in (0, 1))):
            cells.append(
                _fmt(float(stats.spearmanr(truth, faded_meas).statistic) if ok else math.nan)
            )
        cells += [_share(len(hit), len(faded)), _share(len(flag), len(still))]
        cells.append(_fmt(_rho_ceiling([c.true[sev] for c in both])))
        spot = "pigmentation.spot_area_pct"
        lighter = [c for c in both if c.true[spot] < 0]
        kept = [c for c in both if c.true[spot] == 0]
        truth, meas = [c.true[spot] for c in lighter], [_compared(c)[spot] for c in lighter]
        ok = len(lighter) > 2 and len(set(truth)) > 1 and len(set(meas)) > 1
        cells.append(_fmt(float(stats.spearmanr(truth, meas).statistic) if ok else math.nan))
        down = [c for c in lighter if _called(c)[spot] and _compared(c)[spot] < 0]
        moved = [c for c in kept if _called(c)[spot]]
        cells += [_share(len(down), len(lighter)), _share(len(moved), len(kept))]
        rows.append(cells)
    return out + _table(header, rows)


def _share(part: int, whole: int) -> str:
    return f"{_pct_plain(part / whole)} of {whole}" if whole else "-"


def _compared(c: ChangeRow) -> dict[str, float]:
    """``c.compared`` of a region ``compare`` measured (the caller's rows are such)."""
    assert c.compared is not None
    return c.compared


def _called(c: ChangeRow) -> dict[str, bool]:
    """``c.significant`` of a region ``compare`` measured."""
    assert c.significant is not None
    return c.significant


def _rho_ceiling(true: Sequence[float]) -> float:
    """Spearman's rho of a measurement equal to ``true`` where it is not 0 and off by a tiny
    amount, a different one each, where it is (which tiny amounts does not change rho: the
    true zeros are one tied rank)."""
    t = np.asarray(true, np.float64)
    zero = t == 0
    if zero.all() or len(t) < 3:
        return math.nan
    measured = t.copy()
    measured[zero] = np.linspace(-1e-9, 1e-9, int(zero.sum()))
    return float(stats.spearmanr(t, measured).statistic)


def _cv(values: Sequence[float]) -> float | None:
    mean = float(np.mean(values))
    if abs(mean) < 1e-9:
        return None
    return float(np.std(values, ddof=1) / abs(mean))


def _repeat_table(results: Sequence[FaceResult]) -> list[str]:
    out = [
        "",
        f"### Repeatability: coefficient of variation over {N_VARIANTS} nuisance-only variants",
        "",
        "Exposure +-15 %, white balance +-5 % per channel, rotation +-3 degrees, scale +-5 %,",
        "JPEG quality 80-95, drawn at random per variant. Median CV over faces (full_face) and",
        "over faces x the 14 regions (regions whose mean is not 0), and that CV's 90th percentile.",
        "",
    ]
    sets = [(label, part) for label, part in _subsets(results) if part and ">=" not in label]
    header = ["metric"]
    for label, _ in sets:
        name = label.split(",")[0]
        header += [f"{name}: full_face", f"{name}: regions", f"{name}: regions p90"]
    rows = []
    for metric in METRICS:
        cells = [metric]
        for _, part in sets:
            full: list[float] = []
            reg: list[float] = []
            for r in part:
                for region in REGIONS:
                    vals = [v[region][metric] for v in r.repeat if region in v]
                    if len(vals) < 2:
                        continue
                    cv = _cv(vals)
                    if cv is None:
                        continue
                    (full if region == "full_face" else reg).append(cv)
            cells += [
                _pct_plain(statistics.median(full) if full else float("nan")),
                _pct_plain(statistics.median(reg) if reg else float("nan")),
                _pct_plain(float(np.percentile(reg, 90)) if reg else float("nan")),
            ]
        rows.append(cells)
    out += _table(header, rows)
    refused = [code for r in results for code in r.refused]
    shots = sum(r.nuisance_images for r in results)
    codes = ", ".join(f"{c} x{refused.count(c)}" for c in sorted(set(refused)))
    out += [
        "",
        f"Nuisance images refused by the quality gate: {len(refused)} of {shots}"
        + (f" ({codes}); they are left out of the CV and change tracking." if refused else "."),
    ]
    fc = [r.false_change for r in results]
    if any(x is None for x in fc):
        out += ["", "False-change rate of nuisance-only pairs: n/a (compare not available)"]
    else:
        for label, part in sets:
            flagged = sum(r.false_change[0] for r in part if r.false_change)
            total = sum(r.false_change[1] for r in part if r.false_change)
            rate = flagged / total if total else float("nan")
            out += [
                "",
                f"False-change rate of nuisance-only pairs ({label}): {_pct_plain(rate)} "
                f"of {total} region x metric comparisons flagged significant",
            ]
    return out


def _pct_plain(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.1f} %"


def _faces_table(results: Sequence[FaceResult]) -> list[str]:
    header = ["face", "set", "px/mm", "lines", ">= 0.3 mm & 5 %", "spots", "ours F1", "seconds"]
    rows = [
        [
            r.stem,
            "held-out" if r.held_out else "dev",
            f"{r.px_per_mm:.2f}",
            str(r.n_lines),
            str(r.n_target),
            str(r.n_spots),
            _fmt(r.ours["target"].f1),
            f"{r.seconds:.0f}",
        ]
        for r in results
    ]
    return ["", "### Faces", "", *_table(header, rows)]


# --------------------------------------------------------------------------- main


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _evaluate_safe(path: Path, thresholds: Mapping[str, Sequence[float]]) -> FaceResult | str:
    """:func:`evaluate_face`, or the reason the face could not be used."""
    try:
        return evaluate_face(path, thresholds)
    except AnalysisError as exc:
        return f"{path.stem}: {exc.code}"


def _run(
    paths: Sequence[Path], thresholds: Mapping[str, Sequence[float]], jobs: int, skipped: list[str]
) -> list[FaceResult]:
    results: list[FaceResult] = []

    def keep(p: Path, r: FaceResult | str) -> None:
        if isinstance(r, str):
            skipped.append(r)
            print(f"  {p.stem}: skipped ({r})", file=sys.stderr, flush=True)
        else:
            results.append(r)
            print(f"  {p.stem}: {r.seconds:.0f} s", file=sys.stderr, flush=True)

    if jobs <= 1:
        for p in paths:
            keep(p, _evaluate_safe(p, thresholds))
        return results
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(_evaluate_safe, p, thresholds) for p in paths]
        for p, f in zip(paths, futures, strict=True):
            keep(p, f.result())
    return results


def report(
    results: Sequence[FaceResult],
    chosen: Mapping[str, Mapping[str, float]],
    seconds: float,
    jobs: int,
    skipped: Sequence[str] = (),
) -> str:
    """The markdown tables."""
    dev = [r for r in results if not r.held_out]
    held = [r for r in results if r.held_out]
    lines = [
        f"Faces: {len(dev)} dev + {len(held)} held-out ({', '.join(HELD_OUT)}); seed {SEED}; "
        f"native resolution (no upsampling).",
    ]
    if skipped:
        lines.append(f"Faces left out: {'; '.join(skipped)}.")
    lines += _detection_tables(results, chosen)
    lines += _recall_table(results)
    lines += _site_table(results)
    lines += _robust_tables(results, chosen)
    lines += _region_tables(results)
    lines += _change_table(results)
    lines += _repeat_table(results)
    lines += _faces_table(results)
    lines += [
        "",
        f"Runtime: {seconds:.0f} s with {jobs} worker process(es) on {os.cpu_count()} CPU cores.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=FACES, help="folder of the shared faces")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--only", nargs="*", help="only these face stems (a quick look)")
    args = parser.parse_args(argv)
    paths = sorted(args.faces.glob("*.jpg")) if args.faces.is_dir() else []
    if args.only:
        paths = [p for p in paths if p.stem in set(args.only)]
    if not paths:
        print(f"accuracy benchmark: no face photos in {args.faces}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    dev_paths = [p for p in paths if p.stem not in HELD_OUT]
    held_paths = [p for p in paths if p.stem in HELD_OUT]
    print(f"dev faces ({len(dev_paths)}):", file=sys.stderr)
    skipped: list[str] = []
    dev = _run(dev_paths, THRESHOLD_GRID, args.jobs, skipped)
    if not dev:
        print("accuracy benchmark: no dev face could be measured", file=sys.stderr)
        return 1
    chosen = choose_thresholds(dev)
    fixed = {n: tuple(sorted(set(ops.values()))) for n, ops in chosen.items()}
    print(f"held-out faces ({len(held_paths)}), thresholds {fixed}:", file=sys.stderr)
    held = _run(held_paths, fixed, args.jobs, skipped)
    seconds = time.perf_counter() - t0
    text = report(dev + held, chosen, seconds, args.jobs, skipped)
    print(text)
    if args.markdown:
        command = "python -m benchmarks.accuracy --markdown " + str(args.markdown)
        method = (__doc__ or "").split("Method\n------\n", 1)[-1].strip()
        head = [
            "# Accuracy against synthetic truth",
            "",
            f"Generated by `{command}` (6-13 minutes on 2 shared cores); do not edit by hand.",
            "",
            "## Method (from `benchmarks/accuracy.py`)",
            "",
            method,
            "",
            "## Results",
            "",
            "",
        ]
        args.markdown.write_text("\n".join(head) + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
