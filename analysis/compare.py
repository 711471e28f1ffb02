"""Before/after comparison with a per-pair noise floor.

Method
------
1. Both photos are prepared up to their canonical face and regions (``prepare``; an
   ``Analysis`` is reused). A photo the gate refuses raises its own error naming it
   (``photo = "before" | "after"``).
2. Registration: each face is already in its canonical frame (eyes level, 0.2 mm/px, from its
   own landmarks). The after face is warped onto the before face piecewise-affinely through the
   triangulated 468-point landmark mesh (handles small pose and expression differences that no
   global transform can), then refined by a dense displacement field: DIS optical flow (Kroeger
   et al. 2016) on the illumination-normalised luminance ``R`` of skin seen in both, refined
   down to the canonical pixel and smoothed over ``FLOW_SMOOTH_MM`` so that it follows the skin
   between the mesh points but not single lines (a re-framed or turned photo lands within
   0.03-0.07 px of the true map, median per region; the mesh alone left 1-3 px, the flow at half
   resolution 0.1-0.25 px, enough for a real line to read as changed beside itself in the
   difference of the two photos). ``ecc_correlation`` reports the zero-mean normalised
   correlation of the two ``R`` images after registration. Residual: median distance between the
   mesh points found on the registered after image and those found by the same detector on the
   before face's canonical image (so the same photo compared with itself reads 0). The pair is
   refused (``registration_failed``) when the heads are turned differently by more than
   ``MAX_POSE_DIFF_DEG`` (naming the more turned photo), when the landmarks moved more than
   ``MAX_SHAPE_CHANGE_MM`` beyond a rigid move (expression), or when the residual exceeds
   ``MAX_RESIDUAL_MM``. The registered after image is sampled once, from the after photo itself,
   through the composed map (before canonical -> after canonical -> after photo): warping the
   after face's canonical image again would interpolate it twice and smooth it, and a smoother
   photo reads as fewer fine lines (about 12 % of the line length on a real face).
3. Photometric harmonisation: the after photo's white balance and exposure are matched to the
   before photo on the sclera (the whites of the eyes, inside the eye outline, outside the iris,
   bright and unsaturated): per-channel gains in linear light, the median of each registered
   sclera pixel's ratio with itself (``_paired_gains``). The sclera is not skin, so a true change
   of skin pigmentation is kept; only the light and camera change. With too little sclera visible
   (< ``MIN_SCLERA_PX``), or a sclera whose pixels do not correspond between the photos
   (``pairing_spread`` over ``MAX_SCLERA_SPREAD``: narrowed eyes, where the mask holds lid
   margins and eye corners, read gains that moved by 25 % between JPEG re-saves of one photo),
   the skin is read instead, the same way, and the comparison says so (``photometric.reference =
   "skin"`` and a ``light_matched_on_skin`` warning), since that erases global tone changes.
   Wrinkle metrics need none of this (they are relative darkening), except where a photo clipped:
   a follow-up brighter than the baseline whose channel clipped on skin shows flat skin where the
   baseline still shows a line's darkening. Every image of the pair (both photos and their
   perturbations) is then cut at the level the follow-up recorded (``_ceiling``, before a
   perturbation's change of light): both lose the same contrast there. ``photometric.ceiling``
   gives the cut per channel (null: none).
4. Resolution and focus: the finer photo is blurred to the coarser one's detail
   (``resolution_blur``), so a closer or sharper follow-up does not read as more lines. Then
   the sharper of the two is blurred to the other's focus (``focus_blur``), measured on the
   eyes and brows (lids, lashes, irises, brow hairs: fine detail a skin treatment does not
   change): a follow-up out of focus by 0.1-0.3 mm otherwise shows every line wider and
   shallower and the skin smoother: Tillerson's and Biden's photos against themselves 0.1-0.3
   mm out of focus read 6-33 % of their region-metrics as changed, most of them "improved".
   A skin treatment that smooths the skin leaves that reference as it was, so its change is
   kept. A difference of ``FOCUS_WARN_MM`` or more is warned about (``focus_differs``). Last,
   the colour alone of the photo whose colour is finer is blurred to the other's
   (``chroma_blur``): a JPEG with subsampled chroma (4:2:0, as messengers save) keeps one
   colour sample per two pixels, and a downscaled messenger copy read its spots as fading
   (``photometric.colour_softened`` names the photo). Both
   photos are then measured on the same pixels: the before photo's regions, restricted to
   skin seen in both.
5. Noise floor: each photo is re-measured under ``PERTURBATIONS`` (sub-pixel shift, 0.5-1 %
   scale, 0.5-1.5 degree turn, 6 % exposure, 3 % white balance, JPEG re-compression at
   quality 85-90: the re-framing, light and camera of a repeat photo and what harmonisation
   leaves; the re-compression is of the canonical image, or, for a photo under 4 px/mm, of
   the photo's own pixels on its block grid (``_Side.coarse``: its blocks cover more skin, and
   a re-saved follow-up of the 1.8 px/mm Obama portrait read 20 of 285 region-metrics as
   changed with the canonical image's re-compression, 3 with its own). A perturbed
   image is sampled afresh from its photo through the perturbed map (one interpolation, like
   the image it stands in for), then only the stages after the canonical face run again, on
   the pair's regions as they are: the re-framed skin moves under them (at the eyes by about
   1 mm), which a registered re-take does not do, but that covers what a re-take does to the
   lines and the small re-framings do not sample; regions moved with the skin flagged twice
   as many re-takes (``docs/experiments.md``, the eighth and nineteenth sessions). Only the
   normalisation that lines are found on (``relative_luminance``) follows the skin the
   re-framed image shows (``_skin_seen``): normalised over the regions' skin, which the
   re-framing slides against the image (the lower lid and lashes onto it, skin off it), a
   1.5-degree turn read the under-eye's severity up to 18 % lower in both photos alike, which
   raised its noise floor four-fold (the twenty-second session).
   The per-metric variance of each photo's ``1 + len(PERTURBATIONS)`` values is pooled over
   both photos (SEM) and ``mdc = t(0.975, df) * sqrt(2) * SEM`` (Weir 2005) with ``df`` the
   pooled degrees of freedom, so the few re-measurements are not trusted beyond what they say.
   A floor ``MDC_FLOOR`` (relative to the metric's size) and ``1`` for counts cover
   quantisation (for severity, the change of its index by ``SEVERITY_INDEX_MDC_FLOOR`` per
   canonical pixel of the coarser photo, see 6, and at least one line at the detector's limit
   in the region, ``SMALLEST_LINE_LOAD``; ``ROUGHNESS_MDC_FLOOR`` for texture
   roughness, which a re-take's re-sampling moves in every region together by 1-5 %;
   ``PIXEL_FLOORS`` per canonical pixel of the coarser photo for mean line width, melanin
   spread and red area; ``ITA_MDC_FLOOR_DEG`` for the tone, which the white balance read on
   the sclera moves in every region together, and a split-face difference does not have).
   ``significant`` is ``|delta| > mdc``.
6. ``wrinkles.severity`` is read on the same lines in both photos. Its index ``S`` (length x
   depth per area) changes from the before photo's own by the change of the line load both
   photos show on the same lines:
   - the lines: each centre pixel of either photo's lines, and of the lines that changed
     between them (``_changed_lines``: the detector run on the difference of the two photos,
     where unchanged lines and skin cancel, so that a line fading beside a real fold, or one
     neither photo's detector counts whole, is read), weighted by its length (the largest);
   - the read: each measurement's valley strength at the broad scale (``WrinkleMap.broad``,
     the strongest within ``LINE_READ_PX``), at the place that measurement's re-framing moved
     it to (``_seen_at``), turned into depth by one factor per pair (``_read_gain``). It
     follows a line's cross-section area, which the blur of a re-take's re-sampling keeps:
     a face 5 % smaller or larger or turned 3 degrees moves it by under 1 %, where the read
     at each line's best scale moved every region's load together by 3-4 %;
   - on the lines that changed, the after photo's reads are moved to what the difference
     reads there (``_difference_shift``): the before photo's read less the difference's
     valley read plus its ridge read. A photo's read is the strongest of eight directions,
     and where a line fades among others (a fan of crow's feet) its neighbours take over the
     after photo's read; in the difference they cancel.
   A line that fades reads its depth falling although the after photo's detector no longer
   counts it, and a fragment of texture that one measurement counts and the next does not
   moves the load by its small depth change instead of its whole length. A fall of load is
   taken off the before photo's own index whole while it is small against that index, and
   ever more gently as it approaches it (``_changed_index``): the lines read hold more than
   its own, and a follow-up smoother all over would otherwise read regions with no lines
   left. On a photo coarser than the canonical grid a re-take
   still moves the read by several percent (5 % at 2.6 px/mm), so severity's floor is the
   change of its index by ``SEVERITY_INDEX_MDC_FLOOR`` (5 %) per canonical pixel of the
   coarser photo: a floor on the line load, which the read measures, rather than on severity,
   which saturates. The other wrinkle metrics are each photo's own (``docs/method.md``).
7. ``pigmentation.spot_count``, ``spot_area_pct`` and ``spot_contrast`` are read on the same
   pixels in both photos (``_spot_pixels``): the spots of either photo. Each patch of them
   counts as spot where a measurement's contrast reaches half the larger of the two photos'
   peaks there (the full width at half maximum), so a fading spot's area shrinks as less of
   it reaches that level, and a spot one photo's thresholds pass and the other's do not is
   read the same in both; contrast is the mean over those pixels. Each photo's own detection
   brought a spot's whole area in or out: a region's spot area moved by 37 % (median)
   between re-takes of the same face, against 4 % read this way. The floors
   (``SPOT_AREA_MDC_FLOOR``, ``SPOT_CONTRAST_MDC_FLOOR``) cover what a re-take's
   re-compression does to colour and the perturbations do not sample. Spot count is the
   number of those patches of which at least half still counts.
8. A series (``track``) measures its baseline and the baseline's perturbations once, for every
   follow-up that sees the same skin (they depend on the follow-up only through that skin and
   the resolution blur, their key); a caller that compares follow-ups one at a time (the
   service, on each upload) passes a ``memo`` to the same end.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy import stats

from analysis import landmarks as lm
from analysis.canonical import CanonicalFace, apply_affine, jpeg_roundtrip, pixel_grid, resample
from analysis.colour import SRGB_TO_LINEAR, masked_gaussian, to_srgb8
from analysis.errors import AnalysisError, RegistrationFailed, UnsupportedFormat
from analysis.expression import ExpressionChange, expression_change
from analysis.face import Face, FaceFinder, shared_finder
from analysis.masks import within
from analysis.metrics import (
    BETTER,
    METRICS,
    RegionMetrics,
    severity,
    severity_index,
    severity_index_of,
    spot_measures,
)
from analysis.pigment import SPOT_MIN_MM, PigmentMaps
from analysis.pipeline import (
    SCHEMA_VERSION,
    ImageInput,
    Prepared,
    measure_canonical,
    prepare,
)
from analysis.regions import REGIONS, SPLIT_FACE_PAIRS, RegionMasks, eyes_and_brows
from analysis.types import F16, F32, F64, U8, Bool
from analysis.wrinkles import (
    LOW,
    MIN_LENGTH_MM,
    WrinkleMap,
    relative_luminance,
    valley_lengths,
)

MAX_POSE_DIFF_DEG = 15.0
MAX_RESIDUAL_MM = 1.5  # median landmark misalignment after registration
MAX_SHAPE_CHANGE_MM = 10.0  # landmark change beyond a rigid move (expression, big pose)
# one photo a mirror image of the other: its landmarks, mirrored back, fit the other photo's
# (3D, ``mirror_fit_ratio``) this much better than as they are (docs/method.md, "Mirrored")
MIRROR_FIT_RATIO = 0.75
# a photo this much coarser than the canonical grid is re-compressed in its own pixels by the
# perturbations (``_Side.coarse``; 4 px/mm: re-saves flagged up to 43 of 285 region-metrics
# at 1.8-3.6 px/mm, at most 4 at 4.3-5 px/mm, with the canonical image re-compressed)
COARSE_JPEG_RATIO = 1.25
MIN_SCLERA_PX = 150
# the largest spread of the sclera's per-pixel light ratios at which its pixels are taken to
# correspond (``pairing_spread``): between the re-takes' largest (0.39) and the real Biden
# pair's (0.7-0.9)
MAX_SCLERA_SPREAD = 0.5
CLIPPED = 250  # an 8-bit value at or above this is clipped (as the quality gate counts it)
FLOW_SMOOTH_MM = 2.0  # the dense registration field is smooth on this scale
MAX_FLOW_MM = 2.0  # and moves no pixel further than this beyond the landmark mesh
CHANGE_MAP_MM = 1.0
RESOLUTION_BLUR = 0.45  # Gaussian sigma of one source pixel, in source pixels
# fine detail: luminance less its Gaussian of this sigma, in pixels of the coarser photo (on
# the canonical grid, at least 1): finer, an upsampled photo shows its interpolation
FOCUS_BAND_PX = 1.0
FOCUS_STEP_PX = 0.05
FOCUS_MAX_PX = 2.5  # a pair softer than this apart (in the same pixels) is matched this far
FOCUS_EYE_MARGIN_MM = 1.0  # the reference: eyes (lids, lashes) and brows with these margins
FOCUS_BROW_MARGIN_MM = 0.5
# a focus difference this large (Gaussian sigma) is warned about; pairs whose focus is the
# same (the 19 shared photos against themselves re-saved at JPEG 80-95, +-15 % light, +-5 %
# white balance) read 0.04-0.13 mm, 0.04-0.08 mm at 4.5 px/mm or more
FOCUS_WARN_MM = 0.15
LINE_READ_PX = 1  # a line is read as the strongest valley within this many pixels of it
MDC_FLOOR = 0.02  # relative: no change under 2 % of the metric is ever called significant
# ... and for wrinkles.severity, the severity change a 5 % change of its index (the line load)
# makes, per canonical pixel of the coarser photo: a re-take re-samples the skin at another
# scale and angle, which moves the line load more than the small re-framings of the noise
# floor do, the more so the coarser the photo (``test_a_retake_s_resampling_moves_roughness_
# together_and_severity_little`` and ``test_a_coarse_photo_s_retake_is_not_called_a_change_in_
# severity`` in tests/analysis/test_compare.py). On the index, not on severity itself:
# severity saturates, and a floor of 4 % of severity (until 2026-11-30) asked a region at
# severity 71 for a 14 % change of its line load, one at 15 for 5 %.
SEVERITY_INDEX_MDC_FLOOR = 0.05
# ... and at least the line load (mm x % of depth) of one line at the detector's limit: the
# shortest counted (``MIN_LENGTH_MM``) at the depth from which its centre pixels start to count
# (``LOW``, 2 %). Relative floors vanish where a region holds next to no lines: the accuracy
# benchmark's Sotomayor read an untouched region -0.02 against an ``mdc`` of 0.02
SMALLEST_LINE_LOAD = MIN_LENGTH_MM * 100.0 * LOW
# ... and 5 % for texture.roughness, a measure of fine detail that the same re-sampling softens
# or sharpens in every region together, by 1-5 % (``benchmarks.retest``; the same test)
ROUGHNESS_MDC_FLOOR = 0.05
# ... and for the spots, read on the same pixels in both photos (item 7 of the module doc): a
# re-take's re-compression and re-sampling move the melanin contrast that spots are read
# from more than the noise floor's re-measurements do (its JPEG blocks fall elsewhere on the
# skin, and melanin is read from colour, which JPEG keeps at half resolution). On the dev
# faces' re-takes (``benchmarks.retest``, 13 faces x 2 pairs) a region's spot area moved by
# 4 % (median) and by 18 % or more in one region in ten, and with the 2 % floor 11 % of the
# regions' spot areas and 9.5 % of their contrasts were flagged. Spot area's floor is also
# never under the share of the region that one spot of ``SPOT_MIN_MM`` covers (``_floor``).
# Each relative floor is the smallest multiple of 5 % that flags them no more often than the
# other metrics are flagged (3 %): 2.1 % and 2.8 %
SPOT_AREA_MDC_FLOOR = 0.25
SPOT_CONTRAST_MDC_FLOOR = 0.20
SPOT_RAMP = 0.75  # a spot pixel counts fully from its level, in part down to this share of it
RELATIVE_FLOORS = {
    "texture.roughness": ROUGHNESS_MDC_FLOOR,
    "pigmentation.spot_area_pct": SPOT_AREA_MDC_FLOOR,
    "pigmentation.spot_contrast": SPOT_CONTRAST_MDC_FLOOR,
}
# ... and, per canonical pixel of the coarser photo (as severity's), relative floors for three
# metrics that a re-take's re-sampling and re-compression move more than the perturbations do,
# the more the coarser the photo: mean line width (each line's best filter scale, refined on
# the 0.2 mm grid), the melanin spread and the red area (colour, which JPEG keeps at half the
# photo's resolution; the red area is a share of the region above a threshold). On the dev
# faces' re-takes (``benchmarks.retest``) with the 2 % floor they were flagged in 6.9, 4.1 and
# 5.1 % of the regions; each is the smallest multiple of 5 % that flags them no more often
# than 3 % (then 2.3, 0.8 and 2.1 %; held-out 2.2, 1.1 and 2.2 %)
PIXEL_FLOORS = {
    "wrinkles.mean_width_mm": 0.05,
    "pigmentation.melanin_sd": 0.05,
    "redness.area_pct": 0.10,
}
# ... and for the individual typology angle, degrees: the harmonisation's white balance, read
# on the sclera, is good to only 2-4 % per channel (rms over the re-takes; more where the eyes
# are narrow: the sclera of a 2-7 px/mm photo is a few hundred canonical pixels, which JPEG's
# chroma blends with lids and iris), and that moves the tone of the whole face together. The
# smallest whole degree that flags the dev re-takes no more often than 3 % (2.6 %; 3 degrees
# 4.4 %). Until 2026-12-01 the gains were a ratio of medians, 3-5 % off, and the floor 5
# degrees. A treated side less its control cancels it (``_split_face``)
ITA_MDC_FLOOR_DEG = 4.0
COUNT_METRICS = ("wrinkles.count", "pigmentation.spot_count")
# (dx px, dy px, scale, exposure, (R, G, B) gains, JPEG quality or 0, turn in degrees):
# re-framing (the photo's pixel grid falls elsewhere on the skin), light, the
# white-balance uncertainty left by harmonisation (sclera estimates are good to about 2 % per
# channel) and re-compression (follow-ups arrive as JPEGs of another quality; chroma
# subsampling moves the colour metrics)
Perturbation = tuple[float, float, float, float, tuple[float, float, float], int, float]
PERTURBATIONS: tuple[Perturbation, ...] = (
    (0.5, -0.3, 1.01, 1.06, (1.03, 1.0, 0.97), 90, 1.0),
    (-0.4, 0.5, 0.99, 0.94, (0.97, 1.01, 1.03), 0, -1.5),
    (0.2, 0.4, 1.005, 1.0, (1.0, 0.97, 1.015), 85, 0.5),
)


@dataclass(frozen=True)
class MetricChange:
    before: float
    after: float
    mdc: float
    better: int

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def delta_pct(self) -> float | None:
        return None if self.before == 0 else 100.0 * self.delta / abs(self.before)

    @property
    def significant(self) -> bool:
        return abs(self.delta) > self.mdc

    @property
    def direction(self) -> str:
        if not self.significant:
            return "unchanged"
        return "decreased" if self.delta < 0 else "increased"

    @property
    def improved(self) -> bool | None:
        if not self.significant or self.better == 0:
            return None
        return (self.delta < 0) == (self.better < 0)

    def to_dict(self) -> dict[str, Any]:
        pct = self.delta_pct
        return {
            "before": round(self.before, 4),
            "after": round(self.after, 4),
            "delta": round(self.delta, 4),
            "delta_pct": None if pct is None else round(pct, 2),
            "mdc": round(self.mdc, 4),
            "significant": self.significant,
            "direction": self.direction,
            "improved": self.improved,
        }


@dataclass(frozen=True)
class Registration:
    method: str
    residual_px: float
    residual_mm: float
    ecc: float
    shape_change_mm: float  # mean landmark distance beyond a rigid (similarity) move
    mirror_fit_ratio: float | None = None  # ``mirror_fit_ratio``; refused under MIRROR_FIT_RATIO

    def to_dict(self) -> dict[str, Any]:
        mirror = self.mirror_fit_ratio
        return {
            "method": self.method,
            "residual_px": round(self.residual_px, 3),
            "residual_mm": round(self.residual_mm, 3),
            "ecc_correlation": round(self.ecc, 4),
            "shape_change_mm": round(self.shape_change_mm, 3),
            "mirror_fit_ratio": None if mirror is None else round(mirror, 3),
        }


@dataclass(frozen=True, eq=False)
class Comparison:
    """A before/after pair measured on the same skin, with the change's noise floor."""

    before: Prepared
    after: Prepared
    registration: Registration
    photometric: dict[str, Any]
    regions: RegionMasks
    after_canonical: CanonicalFace
    before_metrics: dict[str, RegionMetrics]  # each photo's own measurement on these regions
    after_metrics: dict[str, RegionMetrics]  # (the changes read severity on both's lines)
    changes: dict[str, dict[str, MetricChange]]
    before_wrinkles: WrinkleMap  # both measured on the before face's grid and regions
    after_wrinkles: WrinkleMap
    change_map: F32  # (H, W) after - before line depth on either's lines, before's frame
    spots: Bool  # (H, W) the spots of either photo, on which the spot metrics are read
    spot_change: F32  # (H, W) after - before melanin contrast there (OD), 0 elsewhere
    treated_side: str | None = None
    split_face: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    expression: ExpressionChange | None = None  # None: a photo's landmarks had no blendshapes

    @property
    def focus_warned(self) -> str | None:
        """The photo softened to the other's focus by ``FOCUS_WARN_MM`` or more (None: none)."""
        blur = self.photometric.get("focus_blur_mm") or 0.0
        return self.photometric.get("focus_softened") if blur >= FOCUS_WARN_MM else None

    @property
    def issues(self) -> list[dict[str, str]]:
        """Warnings about the pair as a whole (each photo's own are in its summary)."""
        issue = self.expression.issue() if self.expression is not None else None
        issues = [issue] if issue is not None else []
        sharper = self.focus_warned
        if sharper is not None:
            softer = "after" if sharper == "before" else "before"
            blur = self.photometric["focus_blur_mm"]
            message = (
                f"The {softer} photo is less sharp than the {sharper} photo (blurred by about "
                f"{blur:.2f} mm). The {sharper} photo was softened to match, so fine lines and "
                "skin texture are compared at the lower sharpness. Please check the focus on "
                "the skin at the next visit."
            )
            issues.append({"code": "focus_differs", "severity": "warning", "message": message})
        if self.photometric.get("reference") == "skin":
            message = (
                "The whites of the eyes could not be compared between the two photos (eyes "
                "narrowed or half closed, or looking elsewhere), so the light was matched on the "
                "skin instead. Lines and spots are compared as usual, but a change of the whole "
                "face's skin tone cannot be measured. Please take both photos with the eyes "
                "open, looking into the camera."
            )
            issues.append(
                {"code": "light_matched_on_skin", "severity": "warning", "message": message}
            )
        return issues

    def to_dict(self) -> dict[str, Any]:
        issues = self.issues
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "before": self.before.summary(),
            "after": self.after.summary(),
            "registration": self.registration.to_dict(),
            "photometric": self.photometric,
            "quality": {"ok": not issues, "issues": issues},
            "expression": None if self.expression is None else self.expression.to_dict(),
            "regions": {
                region: {m: c.to_dict() for m, c in metrics.items()}
                for region, metrics in self.changes.items()
            },
        }
        if self.treated_side is not None:
            out["split_face"] = {"treated_side": self.treated_side, "pairs": self.split_face}
        return out


def _prepared(image: ImageInput | Prepared, photo: str, **kw: Any) -> Prepared:
    """The photo up to its canonical face (an ``Analysis`` is reused as it is); a photo without
    colour is refused (``no_colour``: its pigment reads 0, which against a colour photo is every
    spot gone)."""
    try:
        prepared = image if isinstance(image, Prepared) else prepare(image, **kw)
    except AnalysisError as err:
        raise err.for_photo(photo) from None
    if prepared.quality.colourless:
        raise UnsupportedFormat(
            f"The {photo} photo is in black and white. Skin tone, spots and redness can only "
            "be compared between colour photos. Please use the original colour photo.",
            photo=photo,
        )
    return prepared


def _registration_signal(face: CanonicalFace, skin: Bool) -> F32:
    return relative_luminance(face, skin)


def _mesh_map(before: CanonicalFace, after: CanonicalFace) -> tuple[F32, F32, F64]:
    """Dense map (before canonical px -> after canonical px) from the landmark mesh.

    The 468 mesh points of the before face are triangulated (Delaunay), together with points
    on the frame's border mapped by the global similarity fit; inside each triangle the map is
    the affine that carries the triangle onto the after face's. Returns map_x, map_y and the
    similarity (2x3) fitted to all mesh points.
    """
    from scipy.spatial import Delaunay

    pa = before.points[:468].astype(np.float64)
    pb = after.points[:468].astype(np.float64)
    sim, _ = cv2.estimateAffinePartial2D(pa, pb)
    if sim is None:
        raise RegistrationFailed("The two faces could not be matched point to point.")
    h, w = before.shape
    edge = [0.0, 0.25, 0.5, 0.75, 1.0]
    border = np.array(
        [[fx * (w - 1), fy * (h - 1)] for fx in edge for fy in edge if fx in (0, 1) or fy in (0, 1)]
    )
    src = np.vstack([pa, border])
    dst = np.vstack([pb, apply_affine(np.asarray(sim, np.float64), border)])
    tri = Delaunay(src).simplices
    ids = np.zeros((h, w), np.int32)
    for i, t in enumerate(tri):
        cv2.fillConvexPoly(ids, np.round(src[t]).astype(np.int32), i + 1)
    # per-triangle affine, dst = [x, y, 1] @ A with A (3, 2)
    s3 = np.concatenate([src[tri], np.ones((len(tri), 3, 1))], axis=2)
    affines = np.linalg.solve(s3, dst[tri])
    table = np.concatenate([np.asarray(sim, np.float64).T[None], affines]).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coef = table[ids]  # (h, w, 3, 2)
    map_x = xx * coef[..., 0, 0] + yy * coef[..., 1, 0] + coef[..., 2, 0]
    map_y = xx * coef[..., 0, 1] + yy * coef[..., 1, 1] + coef[..., 2, 1]
    return np.asarray(map_x, np.float32), np.asarray(map_y, np.float32), np.asarray(sim, np.float64)


def _landmark_residual(moved: CanonicalFace, before: CanonicalFace, finder: FaceFinder) -> float:
    """Median distance (px) between the mesh points found on the registered after image and
    those found, by the same detector, on the before face's own canonical image: how well
    corresponding skin lines up. (Against the before face's original landmarks instead, the
    detector's own disagreement between a photo and its canonical rendering, about 4-5 px,
    would be read as misalignment even for the same photo compared with itself.)"""
    found = []
    for face in (moved, before):
        faces, _ = finder.find_all(face.rgb)
        if not faces:
            return float("nan")
        found.append(faces[0].points[:468].astype(np.float64))
    return float(np.median(np.hypot(*(found[0] - found[1]).T)))


def register(
    before: Prepared, after: Prepared, finder: FaceFinder | None = None
) -> tuple[Registration, CanonicalFace, F32, F32]:
    """Warp the after face onto the before face; refuse pairs that cannot be compared.

    Returns the registration, the after face on the before face's grid, and the map (before
    canonical px -> after canonical px, x and y) that put it there."""
    mirror = mirror_fit_ratio(before.face, after.face)
    mirrored = mirror is not None and mirror < MIRROR_FIT_RATIO
    mirror_words = (
        "as phone and tablet front cameras often save them. Please use both photos as the "
        "camera took them, with mirroring turned off."
    )
    yaw_diff = abs(before.face.pose.yaw - after.face.pose.yaw)
    pitch_diff = abs(before.face.pose.pitch - after.face.pose.pitch)
    if max(yaw_diff, pitch_diff) > MAX_POSE_DIFF_DEG:
        # (a mirror image of a turned head is turned the other way: said, the photo named)
        turned = "before" if abs(before.face.pose.yaw) > abs(after.face.pose.yaw) else "after"
        raise RegistrationFailed(
            f"The head is turned differently in the two photos ({yaw_diff:.0f}° turn, "
            f"{pitch_diff:.0f}° nod apart). Please retake the {turned} photo in the same pose."
            + (
                f" One photo also looks like a mirror image of the other, {mirror_words}"
                if mirrored
                else ""
            ),
            photo=turned,
        )
    if mirrored:
        raise RegistrationFailed(
            f"One photo is a mirror image of the other (left and right swapped), {mirror_words}"
        )
    a, b = before.canonical, after.canonical
    map_x, map_y, sim = _mesh_map(a, b)
    pa, pb = a.points[:468].astype(np.float64), b.points[:468].astype(np.float64)
    rigid_mm = float(np.mean(np.hypot(*(apply_affine(sim, pa) - pb).T))) * a.mm_per_px
    if rigid_mm > MAX_SHAPE_CHANGE_MM:
        raise RegistrationFailed(
            f"The face's expression or pose differs too much between the photos (landmarks "
            f"{rigid_mm:.1f} mm apart beyond a rigid move). Please retake the follow-up photo "
            "with a relaxed, neutral face in the same pose."
        )
    moved = _remap(a, after, map_x, map_y)
    # the flow is fitted where both canonical frames hold skin (as it was tuned); the pair is
    # then measured wherever the after photo covers the skin (``_remap``)
    in_frame = _mask_at(b.valid, map_x, map_y)
    common = before.regions.skin & moved.valid & in_frame
    template = _registration_signal(a, common)
    # what the landmarks left (1-3 px in places): a dense, smooth displacement field
    flow_x, flow_y = _dense_flow(template, _registration_signal(moved, common), common, a.mm_per_px)
    xx, yy = pixel_grid(a.shape)
    map_x, map_y = _compose(map_x, map_y, xx + flow_x, yy + flow_y)
    moved = _remap(a, after, map_x, map_y)
    correlation = _correlation(template, _registration_signal(moved, common), common)
    residual = _landmark_residual(moved, a, finder or shared_finder())
    if not np.isfinite(residual) or residual * a.mm_per_px > MAX_RESIDUAL_MM:
        raise RegistrationFailed(
            "The two photos could not be aligned closely enough to compare skin "
            f"({residual * a.mm_per_px:.1f} mm apart after alignment). Please retake the "
            "follow-up photo in the same pose, light and framing."
        )
    reg = Registration(
        "landmark_mesh_piecewise_affine+dis_flow",
        residual,
        residual * a.mm_per_px,
        correlation,
        rigid_mm,
        mirror,
    )
    return reg, moved, map_x, map_y


def _similarity_rms(p: F64, q: F64) -> float:
    """RMS distance left between point sets ``q`` and ``p`` after the least-squares similarity
    (rotation, scale, shift; Umeyama 1991) that carries ``p`` onto ``q``."""
    p, q = p - p.mean(axis=0), q - q.mean(axis=0)
    u, sv, vt = np.linalg.svd(q.T @ p)
    sign = np.ones(len(sv))
    sign[-1] = np.sign(np.linalg.det(u @ vt))
    rotation = (u * sign) @ vt
    scale = float((sv * sign).sum() / max(float((p**2).sum()), 1e-12))
    return float(np.sqrt(((q - scale * p @ rotation.T) ** 2).sum(axis=1).mean()))


def mirror_fit_ratio(before: Face, after: Face) -> float | None:
    """How well the after face's 3D landmarks fit the before face's when mirrored back (x
    negated, each point re-indexed to its mirror twin, ``landmarks.mirror_index``), against as
    they are: the ratio of the two fits' residuals (``_similarity_rms``). Under 1 the mirror
    fits better. In 3D, so that a head turned the other way (which a 2D fit confuses with a
    mirror image: +-4 degrees read 0.55-0.75 in 2D) is a rotation and not a mirror. None
    without landmark depths (landmarks given by the caller)."""
    if before.depth is None or after.depth is None:
        return None
    n = lm.MESH_POINTS
    p = np.column_stack([before.points[:n], before.depth[:n]]).astype(np.float64)
    q = np.column_stack([after.points[:n], after.depth[:n]]).astype(np.float64)
    mirrored = (q * np.array([-1.0, 1.0, 1.0]))[lm.mirror_index()]
    direct = _similarity_rms(p, q)
    return _similarity_rms(p, mirrored) / direct if direct > 0 else None


def _dense_flow(template: F32, moving: F32, mask: Bool, mm_per_px: float) -> tuple[F32, F32]:
    """Displacement (px) at each pixel of ``template`` to the matching pixel of ``moving``.

    DIS optical flow (Kroeger et al. 2016, OpenCV's medium preset, refined down to the canonical
    pixel) on the illumination-normalised luminance, then a Gaussian of ``FLOW_SMOOTH_MM`` over
    ``mask`` only: it follows what a landmark mesh cannot (skin between the mesh points) but not
    single lines, so a line that faded is not pulled onto one that did not. Each component is
    clipped to ``MAX_FLOW_MM``.
    """

    def as8(signal: F32) -> U8:
        return np.asarray(np.clip(128.0 + 500.0 * signal, 0, 255), np.uint8)

    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)  # down to the canonical pixel (the preset stops at half of it)
    dis.setPatchStride(4)
    dis.setVariationalRefinementIterations(0)  # the field is smoothed over the skin below
    flow = np.zeros((*template.shape, 2), np.float32)
    flow = np.asarray(dis.calc(as8(template), as8(moving), flow), np.float32)
    sigma, limit = FLOW_SMOOTH_MM / mm_per_px, MAX_FLOW_MM / mm_per_px
    fx, fy = (
        np.clip(masked_gaussian(np.ascontiguousarray(flow[..., i]), mask, sigma), -limit, limit)
        for i in (0, 1)
    )
    return np.asarray(fx, np.float32), np.asarray(fy, np.float32)


def _correlation(a: F32, b: F32, mask: Bool) -> float:
    """Zero-mean normalised correlation of ``a`` and ``b`` over ``mask`` (what ECC maximises)."""
    x, y = a[mask].astype(np.float64), b[mask].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def _compose(map_x: F32, map_y: F32, at_x: F32, at_y: F32) -> tuple[F32, F32]:
    """The map (``map_x``, ``map_y``) read at the positions (``at_x``, ``at_y``): the map
    applied after a first one that sends each pixel to those positions."""

    def read(m: F32) -> F32:
        out = cv2.remap(m, at_x, at_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.asarray(out, np.float32)

    return read(map_x), read(map_y)


def _remap(
    before: CanonicalFace, after: Prepared, map_x: F32, map_y: F32, jpeg: int = 0
) -> CanonicalFace:
    """The after photo on the before face's canonical grid, through ``map`` (before canonical
    px -> after canonical px), sampled once from the after photo itself. Valid wherever the
    after photo covers the skin, also where that lies outside the after face's own canonical
    frame (that frame's border is arbitrary: a face placed a little lower in it would lose the
    before face's chin)."""
    b = after.canonical
    rgb, inside = resample(
        after.photo.rgb, b.to_photo, map_x, map_y, b.source_mm_per_px / b.mm_per_px, jpeg=jpeg
    )
    return replace(before, rgb=rgb, valid=inside, source_mm_per_px=b.source_mm_per_px)


def sclera_mask(face: CanonicalFace) -> Bool:
    """Whites of the eyes: inside the eye outlines, outside the irises, bright, unsaturated."""
    p = face.points.astype(np.float64)
    eyes, _ = eyes_and_brows(face)
    for iris in (lm.RIGHT_IRIS, lm.LEFT_IRIS):
        centre = p[iris[0]]
        radius = float(np.max(np.hypot(*(p[list(iris[1:])] - centre).T))) * 1.15
        yy, xx = np.ogrid[: face.shape[0], : face.shape[1]]
        eyes &= (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 > radius**2
    if not eyes.any():
        return eyes
    hsv = cv2.cvtColor(face.rgb, cv2.COLOR_RGB2HSV)
    value, sat = hsv[..., 2].astype(np.float32), hsv[..., 1].astype(np.float32)
    bright = value >= np.percentile(value[eyes], 50)
    unclipped = face.rgb.max(axis=2) < 250  # a clipped white says nothing of the light
    return np.asarray(eyes & bright & unclipped & (sat <= np.percentile(sat[eyes], 60)))


def _paired_ratios(before: U8, after: U8, mask: Bool) -> F64:
    """(n, 3) each pixel's before-to-after ratio (linear light) over ``mask``; pixels black in
    a channel of either photo say nothing of the gain and are left out."""
    b = SRGB_TO_LINEAR[before[mask]].astype(np.float64)
    a = SRGB_TO_LINEAR[after[mask]].astype(np.float64)
    lit = (a > 1e-3).all(axis=1) & (b > 1e-3).all(axis=1)
    return np.asarray(b[lit] / a[lit], np.float64)


def _paired_gains(before: U8, after: U8, mask: Bool) -> F64:
    """Per channel, the median over ``mask`` of each pixel's before-to-after ratio (linear
    light). The two images are registered, so each pixel is compared with itself: the
    reference's own pattern (a sclera's vessels and the lids' shade on it) cancels, where a
    ratio of the two medians compares whichever pixels sit at each photo's median. Over the
    re-takes of ``benchmarks.retest`` the error of the blue-to-red balance (what the tone
    reads) fell from 3.0 to 2.3 % (dev) and from 5.0 to 2.7 % (held-out), rms."""
    ratios = _paired_ratios(before, after, mask)
    return np.asarray(np.median(ratios, axis=0), np.float64) if len(ratios) else np.ones(3)


def pairing_spread(before: U8, after: U8, mask: Bool) -> float:
    """How far apart the pixels of ``mask`` read the light: the largest interquartile range
    over the channels of the log ratios (``inf`` without pixels). Where the two photos show
    the same sclera it is small (0.04-0.39 over the re-takes); where what the mask holds in one
    photo is not what it holds in the other (narrowed eyes, lid margins and corners, another
    gaze) it is not (0.7-0.9 on the real Biden pair)."""
    ratios = _paired_ratios(before, after, mask)
    if len(ratios) == 0:
        return float("inf")
    q1, q3 = np.percentile(np.log(ratios), [25, 75], axis=0)
    return float(np.max(q3 - q1))


def harmonise(
    before: CanonicalFace, after: CanonicalFace, skin: Bool
) -> tuple[F64, dict[str, Any]]:
    """Per-channel gains (linear light) that match the after photo's light and white balance to
    the before photo's (see module doc), and how they were found. ``after`` is registered
    onto ``before``'s grid. The sclera is used when both photos show enough of it
    (``MIN_SCLERA_PX``) and its pixels correspond (``MAX_SCLERA_SPREAD``), else the skin."""
    sclera = sclera_mask(before) & sclera_mask(after) & before.valid & after.valid
    count = int(sclera.sum())
    spread = pairing_spread(before.rgb, after.rgb, sclera) if count >= MIN_SCLERA_PX else None
    if spread is not None and spread <= MAX_SCLERA_SPREAD:
        reference, mask = "sclera", sclera
    else:
        reference, mask = "skin", skin
    gains = np.clip(_paired_gains(before.rgb, after.rgb, mask), 0.25, 4.0)
    return gains, {
        "reference": reference,
        "gains": [round(float(g), 4) for g in gains],
        "sclera_px": count,
        "sclera_spread": None if spread is None else round(spread, 3),
    }


def _with_gains(rgb: U8, gains: F64, ceiling: F64 | None = None, light: F64 | None = None) -> U8:
    """``rgb`` with per-channel gains applied in linear light, each channel cut at its
    ``ceiling`` (linear light, after the gains; ``_ceiling``), then a re-take's change of
    ``light``, by one lookup table."""
    lin = SRGB_TO_LINEAR[np.arange(256)][:, None]
    if ceiling is not None and bool(np.any(ceiling < 1.0)):
        levels = np.minimum(lin * np.asarray(gains)[None, :], np.asarray(ceiling)[None, :])
        if light is not None:
            levels = levels * np.asarray(light)[None, :]
    else:  # no cut: gains and light as one product, the table the comparison always used
        total = gains if light is None else gains * light
        if np.allclose(total, 1.0):
            return rgb
        levels = lin * np.asarray(total)[None, :]
    lut = to_srgb8(levels)  # (256, 3)
    return np.asarray(cv2.LUT(rgb, np.ascontiguousarray(lut[:, None, :])), np.uint8)


def _ceiling(after: U8, skin: Bool, gains: F64) -> F64:
    """Per channel, the brightest value (linear light, on the before photo's scale) that both
    photos recorded, for every measurement of the pair to be cut at (``_with_gains``).

    A channel the after photo clipped on the common skin (``CLIPPED`` or more) and that its
    gain darkens (the after photo is brighter there) reads, harmonised, no more than
    ``CLIPPED``'s linear light times the gain: above that the after photo shows flat skin
    where the before photo still shows a line's darkening, and the line would read as faded.
    Cut at that level, both photos lose the same contrast there. (Where the after photo is
    darker, its clipped values and the before photo's both reach 255, a common cut already.)
    The cut is taken down to an 8-bit level, so follow-ups of one baseline whose gains differ
    by a fraction of a level share it, and with it the baseline's measurements (``Memo``).
    No cut (infinity) elsewhere."""
    clipped = (after[skin] >= CLIPPED).any(axis=0) if skin.any() else np.zeros(3, bool)
    cut = float(SRGB_TO_LINEAR[CLIPPED]) * np.asarray(gains, np.float64)
    code = to_srgb8(cut).astype(np.intp)
    code = np.where(SRGB_TO_LINEAR[code] > cut, code - 1, code)  # the level at or below
    return np.where(clipped & (gains < 1.0), SRGB_TO_LINEAR[code].astype(np.float64), np.inf)


def _source_pixel(face: CanonicalFace) -> float:
    """How many canonical pixels one pixel of the photo spans (at least 1)."""
    return max(1.0, face.source_mm_per_px / face.mm_per_px)


def resolution_blur(before: CanonicalFace, after: CanonicalFace) -> tuple[float, float]:
    """Gaussian sigmas (canonical px) that blur the finer of the two photos down to the coarser
    one's detail on the canonical grid (0 for the coarser one).

    A follow-up taken closer or with a better camera resolves finer lines; without this it
    would read as "more wrinkles". A source pixel spans ``r = source_mm / canonical_mm``
    canonical pixels (at least 1); the finer image gets a Gaussian of
    ``RESOLUTION_BLUR * sqrt(r_coarse^2 - r_fine^2)`` pixels. Both 0 when they match within 10 %.
    """
    return _blur_to_match(_source_pixel(before), _source_pixel(after))


def _blur_to_match(ra: float, rb: float) -> tuple[float, float]:
    """``resolution_blur``'s rule for two sample spans (canonical px): the finer one's Gaussian
    ``RESOLUTION_BLUR * sqrt(r_coarse^2 - r_fine^2)``, the coarser one's 0; both 0 within 10 %."""
    if max(ra, rb) < 1.1 * min(ra, rb):
        return 0.0, 0.0
    sigma = RESOLUTION_BLUR * float(np.sqrt(abs(ra**2 - rb**2)))
    return (0.0, sigma) if ra > rb else (sigma, 0.0)


def chroma_blur(
    before: Prepared, after: Prepared, blur_a: float, blur_b: float
) -> tuple[float, float]:
    """Gaussian sigmas (canonical px) that blur the colour alone of the photo whose colour is
    finer, beyond the blur of all its channels (``blur_a``, ``blur_b``: resolution and focus),
    down to the other's colour detail: a JPEG with subsampled chroma (4:2:0, most cameras'
    and every messenger's) stores one colour sample per two pixels (``Photo.chroma_px``).
    As ``resolution_blur``, with a colour sample's span ``chroma_px x source_mm /
    canonical_mm`` (at least 1 canonical px). A downscaled 4:2:0 copy of Powell's 4:4:4
    portrait (3.8 px/mm, its colour at 1.9) read 24 of 285 region-metrics as changed, 20 of
    them spots and melanin spread fading; with its colour matched, 6."""

    def span(p: Prepared) -> float:
        return max(1.0, p.photo.chroma_px * p.canonical.source_mm_per_px / p.canonical.mm_per_px)

    def beyond(need: float, done: float) -> float:
        return float(np.sqrt(need**2 - done**2)) if need > done else 0.0

    need_a, need_b = _blur_to_match(span(before), span(after))
    return beyond(need_a, blur_a), beyond(need_b, blur_b)


def focus_reference(face: CanonicalFace) -> Bool:
    """Eyes and brows with their margins (lids, lashes, irises, brow hairs): fine detail a skin
    treatment does not change, on which the two photos' focus is compared."""
    eyes, brows = eyes_and_brows(face)
    return within(eyes, face.px(FOCUS_EYE_MARGIN_MM)) | within(brows, face.px(FOCUS_BROW_MARGIN_MM))


def _fine_energy(log_y: F32, mask: Bool, band: float, sigma: float = 0.0) -> float:
    """Mean square of the fine detail (band ``band`` px) of ``log_y``, blurred by ``sigma``
    first, on ``mask``."""
    y = cv2.GaussianBlur(log_y, (0, 0), sigma) if sigma > 0 else log_y
    fine = y - cv2.GaussianBlur(y, (0, 0), band)
    return float(np.mean(np.square(fine[mask])))


def focus_blur(before: U8, after: U8, mask: Bool, pixel: float = 1.0) -> tuple[float, float]:
    """Gaussian sigmas (canonical px) that bring the sharper of two registered faces down to
    the other's fine detail on ``mask`` (``focus_reference``; 0 for the softer one).

    A follow-up slightly out of focus shows every line wider and shallower and the skin
    smoother: read as it is, it looks like a treatment that worked. The fine detail is the log
    luminance (so light and white balance cancel) less its Gaussian of ``FOCUS_BAND_PX``
    pixels of the coarser photo (``pixel`` canonical px, at least 1);
    the sharper face gets the largest sigma, in ``FOCUS_STEP_PX`` of those pixels, that keeps
    its fine-detail energy at or above the softer one's. Sigmas under about 0.3 px are all but
    the identity on pixels: a pair whose focus is the same reads up to that much."""
    if mask.sum() < 100:
        return 0.0, 0.0
    rows, cols = np.nonzero(mask)
    unit = max(1.0, pixel)  # the coarser photo's pixel on the canonical grid
    band, top, step = FOCUS_BAND_PX * unit, FOCUS_MAX_PX * unit, FOCUS_STEP_PX * unit
    pad = math.ceil(4 * (top + band))  # the Gaussians' reach
    y0, x0 = max(0, rows.min() - pad), max(0, cols.min() - pad)
    box = np.s_[y0 : rows.max() + pad + 1, x0 : cols.max() + pad + 1]
    before, after, mask = before[box], after[box], mask[box]
    ya, yb = (
        np.log1p(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)) for x in (before, after)
    )
    ea, eb = _fine_energy(ya, mask, band), _fine_energy(yb, mask, band)
    sharp, target = (ya, eb) if ea > eb else (yb, ea)
    sigma = 0.0
    for s in np.arange(step, top + 1e-9, step):
        if _fine_energy(sharp, mask, band, float(s)) < target:
            break
        sigma = float(s)
    return (sigma, 0.0) if ea > eb else (0.0, sigma)


@dataclass(frozen=True, eq=False)
class _Side:
    """How one photo of the pair is put on the before face's grid: sampled once from its own
    photo through ``map`` (before canonical px -> its canonical px), then its colour gains and
    its resolution blur."""

    prepared: Prepared
    map_x: F32
    map_y: F32
    gains: F64
    blur: float
    ceiling: F64 | None = None  # ``_ceiling``
    chroma_blur: float = 0.0  # ``chroma_blur``: the colour alone blurred further

    def render(self, grid: CanonicalFace, p: Perturbation) -> CanonicalFace:
        """The face on ``grid`` (the before face's canonical frame), perturbed by ``p``: a
        re-framing (shift, scale and turn about the centre) of the sampling, a change of light
        and a JPEG re-compression. (Unperturbed, the face is sampled once, in ``register``,
        and only ``finish``-ed.)"""
        return self.perturbed(self.sample(grid, p), p)

    def sample(self, grid: CanonicalFace, p: Perturbation) -> CanonicalFace:
        """``render``'s sampling alone: the re-framed face, before its light."""
        sx, sy = _reframing(p, grid.shape)
        _, _, _, _, _, quality, _ = p
        at = _compose(self.map_x, self.map_y, sx, sy)
        return _remap(grid, self.prepared, *at, quality if self.coarse else 0)

    @property
    def coarse(self) -> bool:
        """The photo is at least ``COARSE_JPEG_RATIO`` times coarser than the canonical grid
        (under 4 px/mm): its JPEG blocks cover that much more skin than a re-compression of the
        canonical image's, so a perturbation re-compresses the photo's own pixels
        (``resample``) rather than the canonical image."""
        b = self.prepared.canonical
        return b.source_mm_per_px >= COARSE_JPEG_RATIO * b.mm_per_px

    def perturbed(self, face: CanonicalFace, p: Perturbation) -> CanonicalFace:
        """``render``'s finishing of a face ``sample`` re-framed by ``p``."""
        _, _, _, exposure, channel, quality, _ = p
        return self.finish(face, exposure * np.asarray(channel), 0 if self.coarse else quality)

    def finish(
        self, face: CanonicalFace, light: F64 | None = None, quality: int = 0
    ) -> CanonicalFace:
        """``face``, already sampled through this side's map, with its gains (times ``light``)
        and the pair's ``ceiling``, its resolution blur and, when ``quality`` is set, a JPEG
        re-compression."""
        rgb = _blurred(_with_gains(face.rgb, self.gains, self.ceiling, light), self.blur)
        rgb = _chroma_blurred(rgb, self.chroma_blur)
        return replace(face, rgb=jpeg_roundtrip(rgb, quality) if quality else rgb)


def _blurred(rgb: U8, sigma: float) -> U8:
    return np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigma), np.uint8) if sigma > 0 else rgb


def _chroma_blurred(rgb: U8, sigma: float) -> U8:
    """``rgb`` with its colour (YCrCb's Cr and Cb, as JPEG stores it) blurred by ``sigma`` and
    its luminance kept."""
    if sigma <= 0:
        return rgb
    ycc = cv2.cvtColor(rgb.astype(np.float32) / np.float32(255.0), cv2.COLOR_RGB2YCrCb)
    for c in (1, 2):
        ycc[..., c] = cv2.GaussianBlur(np.ascontiguousarray(ycc[..., c]), (0, 0), sigma)
    out = np.asarray(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), np.float32) * np.float32(255.0)
    return np.asarray(np.clip(np.rint(out), 0, 255), np.uint8)


def _frame_on_grid(after: Prepared, map_x: F32, map_y: F32) -> Bool:
    """The spectacle bars the after photo's own regions took off its skin, carried onto the
    before face's grid through ``map`` (before canonical px -> after canonical px)."""
    frame = after.regions.frame
    if frame is None or not frame.any():
        return np.zeros(map_x.shape, bool)
    return _mask_at(frame, map_x, map_y)


def _common_regions(regions: RegionMasks, skin: Bool, frame: Bool) -> RegionMasks:
    """The before photo's regions on the skin both photos show; ``frame``: the after photo's
    spectacle bars, joined to the before photo's."""
    return RegionMasks(
        labels=np.where(skin, regions.labels, 0).astype(np.uint8),
        skin=skin,
        features=regions.features,
        hair_fraction=regions.hair_fraction,
        frame=frame if regions.frame is None else regions.frame | frame,
    )


def _skin_seen(skin: Bool, p: Perturbation) -> Bool:
    """The skin the image re-framed by ``p`` shows: ``skin`` carried with its pixels (nearest
    pixel, through ``_reframing``)."""
    return _mask_at(skin, *_reframing(p, skin.shape))


def _mask_at(mask: Bool, map_x: F32, map_y: F32) -> Bool:
    """``mask`` read at the positions (``map_x``, ``map_y``), nearest pixel; False off it."""
    moved = cv2.remap(mask.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderValue=0)
    return np.asarray(moved > 0)


def _values(metrics: Mapping[str, RegionMetrics]) -> dict[str, dict[str, float]]:
    return {r: dict(m.values) for r, m in metrics.items()}


def _copy(values: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {r: dict(v) for r, v in values.items()}


def _line_read(wrinkles: WrinkleMap) -> F16:
    """A measurement's valley strength at the broad scale (``WrinkleMap.broad``: a blur of
    the photo moves it little) widened to the strongest within ``LINE_READ_PX``: another
    photo's line is read there although registration and re-framing place it to about a
    pixel. Half precision: a series keeps its baseline's."""
    return _widened(wrinkles.broad)


def _widened(broad: F32) -> F16:
    """``broad`` widened to the strongest within ``LINE_READ_PX``, in half precision."""
    k = 2 * LINE_READ_PX + 1
    return _half(np.asarray(cv2.dilate(broad, np.ones((k, k), np.uint8)), np.float32))


_HALF_NORMAL = np.float32(2.0**-14)  # float16's smallest normal value


def _half(x: F32) -> F16:
    """``x.astype(np.float16)``, bit for bit (round to nearest even), and fast: values that
    become float16 subnormals (below 2**-14) convert tens of times slower than the rest (41 ms
    against 1.6 ms for a canonical frame here), and a valley strength map is full of them.
    Each value is converted with its magnitude raised to 2**-14 (a normal value, whose bits
    are its sign and 0x400), and the bits then lowered by how far ``|x|`` lies below 2**-14
    in float16's subnormal steps of 2**-24 (rounded)."""
    magnitude = np.abs(x)
    raised = np.copysign(np.maximum(magnitude, _HALF_NORMAL), x).astype(np.float16)
    steps = np.rint(np.fmin(magnitude, _HALF_NORMAL) * np.float32(2.0**24)).astype(np.uint16)
    return (raised.view(np.uint16) - (np.uint16(0x400) - steps)).view(np.float16)


def _single(h: F16) -> F32:
    """``h.astype(np.float32)``, exactly, and fast (as for ``_half``, float16 subnormals
    convert slowly): each value is converted with its magnitude raised to 2**-14, then lowered
    by its subnormal steps of 2**-24 below that (exact in float32); the sign is put back last,
    for -0."""
    bits = h.view(np.uint16)
    magnitude = bits & np.uint16(0x7FFF)
    raised = (np.maximum(magnitude, np.uint16(0x400)) | (bits & np.uint16(0x8000))).view(np.float16)
    below = (np.uint16(0x400) - np.minimum(magnitude, np.uint16(0x400))).astype(np.float32)
    single = raised.astype(np.float32)
    return np.asarray(
        np.copysign(np.abs(single) - below * np.float32(2.0**-24), single), np.float32
    )


def _read_gain(weight: F32, wrinkles: WrinkleMap, read: F16) -> float:
    """The factor that turns the broad read (``_line_read``) into estimated depth on the
    lines ``weight``: the before photo's valley strength at each line's best scale over its
    broad read, summed over the face (a line of 0.4 mm reads about half its depth at the
    broad scale; clipped to 1-3)."""
    best = float((weight * wrinkles.strength).sum())
    broad = float((weight * _single(read)).sum())
    return float(np.clip(best / broad, 1.0, 3.0)) if broad > 0 else 1.0


def _difference(before: CanonicalFace, after: CanonicalFace, regions: RegionMasks) -> F32:
    """The two photos' normalised luminance (both on the before face's grid), before minus
    after: unchanged lines and skin cancel there; a line that faded is a valley of it, one
    that deepened a ridge."""
    skin = regions.skin
    return relative_luminance(before, skin) - relative_luminance(after, skin)


def _changed_lines(
    grid: CanonicalFace, difference: F32, regions: RegionMasks, sign: float
) -> tuple[F32, F16]:
    """Length per pixel (mm, as ``WrinkleMap.length_mm``) of lines that faded (``sign`` 1)
    or deepened (-1) between the two photos: the wrinkle detector run on their
    ``_difference``. A line that changed is found there although neither photo's detector
    counts it among the skin's own lines (next to a real fold, or in pieces); the detector's
    texture floor is then the pair's own misalignment and noise. Also the difference's
    valley strength at the broad scale, read as ``_line_read`` reads a photo's: how much
    each line faded (or deepened)."""
    rel = np.asarray(sign * difference, np.float32)
    length, broad = valley_lengths(grid, regions.skin, rel, features=regions.features)
    return length, _widened(broad)


def _difference_shift(before: F16, after: F16, faded: F16, deepened: F16, changed: Bool) -> F32:
    """On the lines that changed (``changed``), how far the after photo's line read
    (``_line_read``) is to be moved to read what the difference of the two photos says
    there: the before photo's read less the difference's valley read plus its ridge read
    (``faded``, ``deepened``: ``_changed_lines``); 0 elsewhere.

    Each photo's read is the strongest of eight directions at each pixel. Where a line fades
    among others (a fan of crow's feet), a line crossing it takes over the after photo's
    read, or the flanks of lines beside it cancel both photos' reads, and the fade reads a
    fraction of its size or none. In the difference the unchanged lines cancel and the fade
    is read alone. A line misregistered by a pixel is a valley beside a ridge there, whose
    two reads cancel, so it reads no change."""
    told = _single(before) - (_single(faded) - _single(deepened))
    return np.where(changed, told - _single(after), 0.0).astype(np.float32)


def _turn(p: Perturbation) -> tuple[float, float]:
    """Cosine and sine of ``p``'s turn, divided by its scale."""
    _, _, scale, _, _, _, angle = p
    return np.cos(np.radians(angle)) / scale, np.sin(np.radians(angle)) / scale


def _reframing(p: Perturbation, shape: tuple[int, int]) -> tuple[F32, F32]:
    """Where each pixel of the image re-framed by ``p`` (shift, scale and turn about the
    centre) samples the grid."""
    xx, yy = pixel_grid(shape)
    h, w = shape
    cos, sin = _turn(p)
    u, v = xx - w / 2, yy - h / 2
    sx = (cos * u + sin * v + w / 2 - p[0]).astype(np.float32)
    sy = (-sin * u + cos * v + h / 2 - p[1]).astype(np.float32)
    return sx, sy


def _seen_at(
    p: Perturbation | None, shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the grid pixels ``(ys, xs)`` lie in the image ``_Side.render`` makes for ``p``
    (the inverse of ``_reframing``), to the nearest pixel; themselves when unperturbed."""
    if p is None:
        return ys, xs
    h, w = shape
    cos, sin = _turn(p)
    qu, qv = xs + p[0] - w / 2, ys + p[1] - h / 2
    det = cos**2 + sin**2
    u, v = (cos * qu - sin * qv) / det, (sin * qu + cos * qv) / det
    y = np.clip(np.rint(v + h / 2), 0, h - 1).astype(np.intp)
    x = np.clip(np.rint(u + w / 2), 0, w - 1).astype(np.intp)
    return y, x


def _line_depth(weight: F32, read: F16, p: Perturbation | None) -> F32:
    """On the lines ``weight`` (length per pixel; 0 elsewhere), the depth one measurement
    (``read``, re-framed by ``p``) shows there."""
    on = np.nonzero(weight > 0)
    ys, xs = _seen_at(p, weight.shape, *on)
    depth = np.zeros(weight.shape, np.float32)
    depth[on] = read[ys, xs]
    return depth


@dataclass(frozen=True, eq=False)
class _SpotPixels:
    """The pixels a pair's spots are read on (``_spot_pixels``), in ``np.nonzero`` order of
    ``where``: how fully each belongs to a spot (``weight``), the contrast it must reach to
    count (``level``) and its patch of spot."""

    where: Bool
    weight: F64
    level: F64
    patch: np.ndarray  # the connected patch of spot each belongs to (1 ..)


def _spot_pixels(before: _PhotoRuns, after: _PhotoRuns) -> _SpotPixels:
    """The spot pixels a pair is read on, and the contrast each must reach to count as spot.

    The pixels: the spots of either photo (unperturbed), each as fully as it belongs to a spot
    in the photo where it does more (``PigmentMaps.spot_weight``). The level: half the larger
    of the two photos' peak contrast in each connected patch of them, the full width at half
    maximum that ``detect_spots`` outlines a spot with. A spot that fades keeps its pixels
    and its level, and its area shrinks as less of it reaches that level, where each photo's
    own detection could drop it whole; a spot one photo's thresholds pass and the other's do
    not is read in both."""
    contrasts = _single(before.contrasts[0]), _single(after.contrasts[0])
    weight = np.maximum(before.spot_weight, after.spot_weight)
    labels, n = ndi.label(weight > 0)
    on = np.nonzero(labels)
    peak = np.zeros(n + 1, np.float32)
    np.maximum.at(peak, labels[on], np.maximum(contrasts[0][on], contrasts[1][on]))
    return _SpotPixels(
        labels > 0,
        weight[on].astype(np.float64),
        0.5 * peak[labels[on]].astype(np.float64),
        labels[on],
    )


def _spot_read(spots: _SpotPixels, contrast: F16, p: Perturbation | None) -> tuple[F64, F64]:
    """On the pixels of ``spots`` (``_spot_pixels``): how much each counts towards spot area in
    one measurement, and its melanin contrast there, read at the place that measurement's
    re-framing ``p`` moved it to. A pixel counts as fully as it belongs to a spot from its
    level up, in part down to ``SPOT_RAMP`` of it."""
    ys, xs = _seen_at(p, spots.where.shape, *np.nonzero(spots.where))
    c = _single(np.ascontiguousarray(contrast[ys, xs])).astype(np.float64)
    ramp = (c / np.maximum(spots.level, 1e-6) - SPOT_RAMP) / (1.0 - SPOT_RAMP)
    return spots.weight * np.clip(ramp, 0.0, 1.0), c


def _changed_index(own: float, base: float, load: float) -> float:
    """Severity's index for a measurement whose line load is ``load`` where the before photo's
    is ``base`` (both on the same lines), from the before photo's own index ``own``: a rise of
    load added whole (new lines count in full), a fall taken off whole while it is small
    against ``own`` and ever more gently as it approaches it (``own * exp(-fall / own)``),
    so a region never reads no lines left while each photo's detector still finds some.
    The lines read include more than the before photo's own (the after photo's, and the lines
    that changed), so on a follow-up much smoother all over (a retouched portrait) the load
    can fall by more than ``own`` holds. Until 2026-11-30 a fall was taken off in proportion
    (``own * load / base``), which shrank every fall by ``own / base``: a third of a faded
    glabellar line's fall was lost where the lines read held half again the own index."""
    fall = base - load
    if fall <= 0.0:
        return own - fall
    return own * math.exp(-fall / own) if own > 0.0 else 0.0


def _floor(
    metric: str, before: float, after: float, pixel: float, area_cm2: float, *, shared: bool = True
) -> float:
    """The smallest change of ``metric`` ever called significant: 1 for counts; for severity,
    the change a rise of its index by ``SEVERITY_INDEX_MDC_FLOOR`` per ``pixel`` (the coarser
    photo's pixel, in canonical pixels) makes at the larger of the two values, and at least
    the change one line at the detector's limit (``SMALLEST_LINE_LOAD``) makes in the region
    (``area_cm2``), so that a region with next to no lines is not called changed by a
    hundredth of a point; for
    ``PIXEL_FLOORS``, that share per ``pixel`` of the larger value; else its relative floor
    (``RELATIVE_FLOORS`` or ``MDC_FLOOR``) of the larger of the two values, and for spot area
    at least the share of the region (``area_cm2``) that the smallest spot counted
    (``SPOT_MIN_MM`` across) covers. ITA's is at least ``ITA_MDC_FLOOR_DEG`` when ``shared``:
    the white balance moves every region of the pair together, and a treated less control
    difference (``shared=False``) cancels it."""
    if metric in COUNT_METRICS:
        return 1.0
    larger = max(abs(before), abs(after))
    if metric == "wrinkles.severity":
        index = severity_index_of(larger)
        step = SEVERITY_INDEX_MDC_FLOOR * pixel * index
        if area_cm2 > 0:  # at least one line at the detector's limit, come or gone
            step = max(step, SMALLEST_LINE_LOAD / area_cm2)
        return max(float(severity(index + step)) - larger, 0.0)
    if metric in PIXEL_FLOORS:
        return PIXEL_FLOORS[metric] * pixel * larger
    if metric == "pigmentation.ita_deg":
        return max(MDC_FLOOR * larger, ITA_MDC_FLOOR_DEG if shared else 0.0)
    floor = RELATIVE_FLOORS.get(metric, MDC_FLOOR) * larger
    if metric == "pigmentation.spot_area_pct" and area_cm2 > 0:
        smallest_mm2 = math.pi * (SPOT_MIN_MM / 2.0) ** 2
        floor = max(floor, smallest_mm2 / area_cm2)  # mm2 / (cm2 x 100 mm2/cm2) x 100 %
    return floor


def _noise_mdc(spread: Sequence[Sequence[float]], t: float) -> float:
    """``t x sqrt(2 x pooled)``: the sample variance of each photo's values (one per
    measurement), pooled over the photos (item 5 of the module doc)."""
    variances = [float(np.var(values, ddof=1)) for values in spread if len(values) > 1]
    return t * math.sqrt(2.0 * (float(np.mean(variances)) if variances else 0.0))


def compare(
    before: ImageInput | Prepared,
    after: ImageInput | Prepared,
    *,
    treated_side: str | None = None,
    memo: Memo | None = None,
    **analyze_kw: Any,
) -> Comparison:
    """Compare two photos of the same face (paths, bytes, arrays or ``Analysis`` objects).

    ``treated_side`` (``"left"``/``"right"``, the subject's own) adds the split-face block:
    treated minus control change for each left/right region pair, with its own noise floor
    (``_split_face``).

    ``memo``: a dict the caller keeps between comparisons with the same before photo (a
    service comparing each follow-up upload with the subject's baseline). The before photo's
    measurements (the photo and its perturbations) are stored there and re-used by the next
    comparison that sees the same skin, with the same result. Its keys name the photo, so a
    wrong memo only costs the measurements; each entry holds a line map, four line reads,
    four melanin contrast maps and the spot weights (about 50 MB).
    """
    return _compare(before, after, treated_side, memo, analyze_kw)


# One measurement of a photo on a pair's grid: its maps and metrics, and its line read
# (``_line_read``).
_Measured = tuple[WrinkleMap, PigmentMaps, dict[str, RegionMetrics], F16]
_PerturbedValues = tuple[dict[str, dict[str, float]], ...]


@dataclass(frozen=True, eq=False)
class _PhotoRuns:
    """One photo's measurements on a pair's grid, what the pair's reading needs of them: the
    unperturbed line map, metrics and spot weights, each perturbation's metrics, and every
    measurement's line read and melanin contrast (unperturbed first, then each perturbation;
    half precision). A series (``track``) or a caller's memo keeps its baseline's."""

    wrinkles: WrinkleMap
    metrics: dict[str, RegionMetrics]
    perturbed: _PerturbedValues
    reads: tuple[F16, ...]
    spot_weight: F32
    contrasts: tuple[F16, ...]


Memo = dict[tuple[bytes, tuple[float, float], bytes, bytes], _PhotoRuns]


def _baseline_key(
    face: CanonicalFace, blur: tuple[float, float], skin: Bool, ceiling: F64
) -> tuple[bytes, tuple[float, float], bytes, bytes]:
    """What the before photo's measurements depend on: the photo (its canonical face, which
    also fixes its regions), its blur (all channels, and the colour alone: ``chroma_blur``),
    the skin seen in both photos and the pair's ceiling (``_ceiling``)."""

    def digest(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    ceil = np.asarray(ceiling, np.float64).tobytes()
    return digest(face.rgb.tobytes()), blur, digest(np.packbits(skin).tobytes()), ceil


def _compare(
    before: ImageInput | Prepared,
    after: ImageInput | Prepared,
    treated_side: str | None,
    memo: Memo | None,
    analyze_kw: dict[str, Any],
) -> Comparison:
    """``compare``; with ``memo``, the before photo's measurements are looked up there (and
    stored) by ``_baseline_key``, so a series measures its baseline once per skin mask."""
    if treated_side not in (None, "left", "right"):
        raise ValueError(f"treated_side must be 'left', 'right' or None, got {treated_side!r}")
    # two at a time: the photos' decoding and warping, the before photo's re-framed images
    # while the pair is registered, then the measurements (OpenCV and numpy release the GIL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(_prepared, image, photo, **analyze_kw)
            for image, photo in ((before, "before"), (after, "after"))
        ]
        a, b = (job.result() for job in jobs)
        grid = a.canonical
        blur_a, blur_b = resolution_blur(grid, b.canonical)
        xx, yy = pixel_grid(grid.shape)
        before_side = _Side(a, xx, yy, np.ones(3), blur_a)
        # (sampled only: their light waits for the pair's ceiling; not when a memo may already
        # hold the before photo's measurements)
        early = {} if memo else {p: pool.submit(before_side.sample, grid, p) for p in PERTURBATIONS}
        reg, moved, map_x, map_y = register(a, b, analyze_kw.get("finder"))
        # the after photo's spectacle bars (the before photo's are already off its skin): a
        # photo with glasses against one without would read the frame as lines that came or
        # went
        frame = _frame_on_grid(b, map_x, map_y)
        skin = a.regions.skin & ~frame & moved.valid & grid.valid
        gains, photometric = harmonise(grid, moved, skin)
        # focus: compared after the resolution blur, on the eyes and brows, off either photo's
        # spectacle frame (its edges are sharp in the photo that has it)
        reference = focus_reference(grid) & moved.valid & grid.valid & ~frame
        if a.regions.frame is not None:
            reference &= ~a.regions.frame
        pixel = max(_source_pixel(grid), _source_pixel(b.canonical))
        focus_a, focus_b = focus_blur(
            _blurred(grid.rgb, blur_a), _blurred(moved.rgb, blur_b), reference, pixel
        )
        photometric["blurred"] = "before" if blur_a else "after" if blur_b else None
        blur_a, blur_b = math.hypot(blur_a, focus_a), math.hypot(blur_b, focus_b)
        colour_a, colour_b = chroma_blur(a, b, blur_a, blur_b)
        before_side = replace(before_side, blur=blur_a, chroma_blur=colour_a)
        photometric["colour_softened"] = "before" if colour_a else "after" if colour_b else None
        photometric["focus_softened"] = "before" if focus_a else "after" if focus_b else None
        photometric["focus_blur_mm"] = round(max(focus_a, focus_b) * grid.mm_per_px, 3)
        ceiling = _ceiling(moved.rgb, skin, gains)
        photometric["ceiling"] = [round(float(c), 4) if np.isfinite(c) else None for c in ceiling]
        sides = (
            replace(before_side, ceiling=ceiling),
            _Side(b, map_x, map_y, gains, blur_b, ceiling, colour_b),
        )
        # both are already sampled through these maps: the before face itself, and ``moved``
        rendered = (sides[0].finish(grid), sides[1].finish(moved))
        moved = rendered[1]
        regions = _common_regions(a.regions, skin, frame)

        # the two photos and their perturbations: eight measurements (four when the before
        # photo's are known)
        key = _baseline_key(grid, (blur_a, colour_a), skin, ceiling)
        known = None if memo is None else memo.get(key)
        # each re-framed image's lines are found on the skin it shows (``_skin_seen``)
        skins = {p: _skin_seen(regions.skin, p) for p in PERTURBATIONS}
        runs = [(i, p) for p in (None, *PERTURBATIONS) for i in (0, 1) if not (known and i == 0)]

        def run(job: tuple[int, Perturbation | None]) -> _Measured:
            i, p = job
            if p is None:
                face = rendered[i]
            else:
                face = (
                    sides[0].perturbed(early[p].result(), p)
                    if i == 0 and p in early
                    else sides[i].render(grid, p)
                )
            seen = None if p is None else skins[p]
            wrinkles, pigments, metrics = measure_canonical(face, regions, skin_seen=seen)
            return wrinkles, pigments, metrics, _line_read(wrinkles)

        # lines that faded, and that deepened: two jobs, so the pool's two workers stay even
        difference = _difference(*rendered, regions)
        changing = [
            pool.submit(_changed_lines, grid, difference, regions, sign) for sign in (1.0, -1.0)
        ]
        measured = dict(zip(runs, pool.map(run, runs), strict=True))
        (faded, faded_read), (deepened, deepened_read) = (job.result() for job in changing)
        changed = np.maximum(faded, deepened)

    def side(i: int) -> _PhotoRuns:
        wrinkles, pigments, metrics, _ = measured[(i, None)]
        each = [measured[(i, p)] for p in (None, *PERTURBATIONS)]
        return _PhotoRuns(
            wrinkles,
            metrics,
            tuple(_values(m[2]) for m in each[1:]),
            tuple(m[3] for m in each),
            pigments.spot_weight,
            tuple(_half(m[1].spot_contrast) for m in each),
        )

    if known is None:
        known = side(0)
        if memo is not None:
            memo[key] = known
    later = side(1)
    wrinkles_a, before_metrics, reads_before = known.wrinkles, known.metrics, known.reads
    wrinkles_b, after_metrics, reads_after = later.wrinkles, later.metrics, later.reads
    runs_before = [_values(before_metrics), *map(_copy, known.perturbed)]
    runs_after = [_values(after_metrics), *later.perturbed]
    # wrinkles.severity: the before photo's own, changed by the line load both photos show on
    # the lines of either and on the lines that changed
    weight = np.maximum(np.maximum(wrinkles_a.length_mm, wrinkles_b.length_mm), changed)
    (own,) = severity_index(regions, wrinkles_a.length_mm, [wrinkles_a.depth], grid.mm_per_px)
    each = (None, *PERTURBATIONS)  # every photo's measurements, in this order
    # on the lines that changed, the after photo's reads moved to what the difference reads
    shift = _difference_shift(
        reads_before[0], reads_after[0], faded_read, deepened_read, changed > 0
    )
    depths = [_line_depth(weight, read, p) for read, p in zip(reads_before, each, strict=True)]
    depths += [
        _line_depth(weight, read, p) + shift for read, p in zip(reads_after, each, strict=True)
    ]
    gain = _read_gain(weight, wrinkles_a, reads_before[0])
    flat = severity_index(regions, weight, [gain * d for d in depths], grid.mm_per_px)
    loads = [flat[: len(each)], flat[len(each) :]]
    for photo_runs, photo_loads in ((runs_before, loads[0]), (runs_after, loads[1])):
        for values, load in zip(photo_runs, photo_loads, strict=True):
            for region in values.keys() & own.keys():
                index = _changed_index(own[region], loads[0][0][region], load[region])
                values[region]["wrinkles.severity"] = float(severity(index))
    # pigmentation spots: read on the same pixels in both photos, the spots of either
    spots = _spot_pixels(known, later)
    spot_reads = [
        _spot_read(spots, c, p)
        for photo in (known, later)
        for c, p in zip(photo.contrasts, each, strict=True)
    ]
    measures = spot_measures(regions, spots.where, spots.weight, spots.patch, spot_reads)
    for values, read in zip([*runs_before, *runs_after], measures, strict=True):
        for region in values.keys() & read.keys():
            count, area, excess = read[region]
            values[region]["pigmentation.spot_count"] = count
            values[region]["pigmentation.spot_area_pct"] = area
            values[region]["pigmentation.spot_contrast"] = excess
    per_photo = (runs_before, runs_after)
    regions_present = [r for r in REGIONS if r in before_metrics and r in after_metrics]
    df = 2 * len(PERTURBATIONS)
    t = float(stats.t.ppf(0.975, df))
    # the coarser photo's pixel, in canonical pixels: a re-take moves severity more the
    # coarser the photo (a line is then about as wide as one interpolation's blur)
    pixel = max(
        1.0, a.canonical.source_mm_per_px / grid.mm_per_px, moved.source_mm_per_px / grid.mm_per_px
    )

    changes: dict[str, dict[str, MetricChange]] = {}
    for region in regions_present:
        changes[region] = {}
        for m in METRICS:
            v0, v1 = runs_before[0][region][m], runs_after[0][region][m]
            spread = [[r[region][m] for r in photo if region in r] for photo in per_photo]
            mdc = max(
                _noise_mdc(spread, t),
                _floor(m, v0, v1, pixel, runs_before[0][region]["region.area_cm2"]),
            )
            changes[region][m] = MetricChange(v0, v1, float(mdc), BETTER[m])

    after_read = _single(reads_after[0]) + shift
    change_map = _change_map(weight, reads_before[0], after_read, skin, grid.mm_per_px, gain)
    spot_change = np.zeros(grid.shape, np.float32)
    on = np.nonzero(spots.where)
    spot_change[on] = _single(later.contrasts[0][on]) - _single(known.contrasts[0][on])
    split = {}
    if treated_side:
        split = _split_face(changes, treated_side, per_photo, t, pixel)
    return Comparison(
        before=a,
        after=b,
        registration=reg,
        photometric=photometric,
        regions=regions,
        after_canonical=moved,
        before_metrics=before_metrics,
        after_metrics=after_metrics,
        changes=changes,
        before_wrinkles=wrinkles_a,
        after_wrinkles=wrinkles_b,
        change_map=change_map,
        spots=spots.where,
        spot_change=spot_change,
        treated_side=treated_side,
        split_face=split,
        expression=expression_change(a.face.expression, b.face.expression, tuple(changes)),
    )


def _change_map(
    weight: F32, before: F16, after: F32, skin: Bool, mm_per_px: float, gain: float
) -> F32:
    """Where lines deepened (> 0) or faded (< 0): on the lines of either photo or that changed
    (``weight``, length per pixel), the after photo's line read minus the before photo's,
    smoothed over ``CHANGE_MAP_MM``, times ``gain`` (``_read_gain``): in depth units (0.05 =
    a line 5 % deeper)."""
    sigma = CHANGE_MAP_MM / mm_per_px
    diff = gain * weight * (after - _single(before)) / mm_per_px
    blurred = cv2.GaussianBlur(diff, (0, 0), sigma) * (2 * np.pi) ** 0.5 * sigma
    return np.asarray(np.where(skin, blurred, 0.0), np.float32)


def _split_face(
    changes: Mapping[str, Mapping[str, MetricChange]],
    treated_side: str,
    runs: Sequence[Sequence[Mapping[str, Mapping[str, float]]]],
    t: float,
    pixel: float,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Treated less control change for each left/right pair of regions, with its own noise
    floor: the variance of treated less control over each photo's measurements (``runs``: the
    before photo's and the after photo's), pooled over both photos, as for a region (item 5 of
    the module doc). What moves both sides of a measurement together (its light and white
    balance) cancels there, as it does in the difference, so a tone one side gained is called
    long before either side's own noise floor, full of the white balance, would call it. The
    floor is the two sides' floors together, without what the white balance shares
    (``_floor``)."""
    control_side = "right" if treated_side == "left" else "left"
    pairs: dict[str, dict[str, dict[str, Any]]] = {}
    for pair in SPLIT_FACE_PAIRS:
        side_t, side_c = f"{pair}_{treated_side}", f"{pair}_{control_side}"
        treated, control = changes.get(side_t), changes.get(side_c)
        if treated is None or control is None:
            continue
        area_t = treated["region.area_cm2"].before
        area_c = control["region.area_cm2"].before
        pairs[pair] = {}
        for m in METRICS:
            x, y = treated[m], control[m]
            difference = x.delta - y.delta
            spread = [
                [r[side_t][m] - r[side_c][m] for r in photo if side_t in r and side_c in r]
                for photo in runs
            ]
            floor = math.hypot(
                _floor(m, x.before, x.after, pixel, area_t, shared=False),
                _floor(m, y.before, y.after, pixel, area_c, shared=False),
            )
            mdc = max(_noise_mdc(spread, t), floor)
            pairs[pair][m] = {
                "treated_delta": round(x.delta, 4),
                "control_delta": round(y.delta, 4),
                "difference": round(difference, 4),
                "mdc": round(mdc, 4),
                "significant": abs(difference) > mdc,
            }
    return pairs


@dataclass(frozen=True, eq=False)
class Track:
    """A baseline and its follow-ups, each compared to the baseline."""

    baseline: Prepared
    followups: tuple[Comparison | AnalysisError, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.summary(),
            "followups": [f.to_dict() for f in self.followups],
        }


def track(
    baseline: ImageInput | Prepared,
    followups: Sequence[ImageInput | Prepared],
    *,
    treated_side: str | None = None,
    **analyze_kw: Any,
) -> Track:
    """Compare each follow-up to the baseline; a follow-up that fails keeps its error and does
    not stop the others. The baseline itself must be measurable (it raises otherwise)."""
    base = _prepared(baseline, "before", **analyze_kw)
    results: list[Comparison | AnalysisError] = []
    memo: Memo = {}  # the baseline, measured once
    for item in followups:
        try:
            results.append(_compare(base, item, treated_side, memo, analyze_kw))
        except AnalysisError as err:
            results.append(err)
    return Track(baseline=base, followups=tuple(results))
