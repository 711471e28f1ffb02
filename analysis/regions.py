"""The 15 facial regions of DESIGN.md, drawn from the landmarks in the canonical frame.

Each anatomical region is a polygon placed with landmarks and millimetre offsets (the canonical
frame has eyes level and a known pixel size). Polygons are rasterised in a fixed priority order
so the 14 anatomical regions never overlap, then clipped to the skin mask: the face outline
extended up to an estimated hairline, minus eyes, brows, lips, nostrils, hair and a spectacle
frame's bars across the nose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.canonical import CanonicalFace
from analysis.glasses import frame_mask
from analysis.masks import disk, within
from analysis.types import F64, U8, Bool

ANATOMICAL_REGIONS: tuple[str, ...] = (
    "forehead",
    "glabella",
    "crows_feet_left",
    "crows_feet_right",
    "under_eye_left",
    "under_eye_right",
    "cheek_left",
    "cheek_right",
    "nasolabial_left",
    "nasolabial_right",
    "upper_lip",
    "marionette_left",
    "marionette_right",
    "chin",
)
REGIONS: tuple[str, ...] = (*ANATOMICAL_REGIONS, "full_face")
SPLIT_FACE_PAIRS: tuple[str, ...] = ("under_eye", "crows_feet", "cheek", "nasolabial", "marionette")
# how a photo was taken (DESIGN): from the front, or a three-quarter view of the subject's own
# left or right side, which carries the regions of that side and of the midline only
VIEWS: tuple[str, ...] = ("frontal", "left", "right")

# Exclusion margins around features (mm): lashes, brow hairs, lip and nostril edges.
EYE_MARGIN_MM = 2.5
BROW_MARGIN_MM = 2.0
LIP_MARGIN_MM = 1.5
NOSTRIL_MARGIN_MM = 1.5
CONTOUR_MARGIN_MM = 3.0  # skin this close to the face outline is shaded by its curvature
HAIR_DARKER_L = 18.0  # CIELAB lightness below the cheeks' skin that marks hair
HAIR_GREY_CHROMA = 0.4  # chroma below this share of the skin's marks grey or white hair


@dataclass(frozen=True, eq=False)
class RegionMasks:
    """Region masks in the canonical frame.

    labels: (H, W) uint8, ``i + 1`` on pixels of ``ANATOMICAL_REGIONS[i]``, 0 elsewhere.
    skin: (H, W) bool, the ``full_face`` region (superset of all labelled pixels).
    features: (H, W) bool, excluded facial features (eyes, brows, lips, nostrils) with margins.
    hair_fraction: share of the estimated forehead that looked like hair.
    frame: (H, W) bool, a spectacle frame's bars taken off the skin (``analysis.glasses``), or
    None when not looked for.
    """

    labels: U8
    skin: Bool
    features: Bool
    hair_fraction: float
    frame: Bool | None = None

    def mask(self, name: str) -> Bool:
        if name == "full_face":
            return self.skin
        return np.asarray(self.labels == ANATOMICAL_REGIONS.index(name) + 1)


def hidden_regions(view: str) -> tuple[str, ...]:
    """The regions a photo taken from ``view`` does not show: none from the front; the far
    side's (``crows_feet_right``, ... for a ``left`` view) from the side."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if view == "frontal":
        return ()
    far = "_right" if view == "left" else "_left"
    return tuple(r for r in ANATOMICAL_REGIONS if r.endswith(far))


def without(regions: RegionMasks, names: tuple[str, ...]) -> RegionMasks:
    """``regions`` with the regions ``names`` taken out of the labels (not measured, not
    drawn); their pixels stay skin, part of ``full_face``."""
    if not names:
        return regions
    labels = regions.labels.copy()
    for name in names:
        labels[labels == ANATOMICAL_REGIONS.index(name) + 1] = 0
    return replace(regions, labels=labels)


def _fill(shape: tuple[int, int], polygon: F64) -> Bool:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def _band(a: F64, b: F64, half_width: float) -> F64:
    """Quadrilateral of the given half-width around segment a-b."""
    d = (b - a) / max(float(np.hypot(*(b - a))), 1e-6)
    n = np.array([-d[1], d[0]]) * half_width
    return np.array([a + n, b + n, b - n, a - n])


def _hull(points: F64) -> F64:
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _pts(p: F64, idx: Sequence[int]) -> F64:
    return p[list(idx)]


def face_outline(face: CanonicalFace) -> F64:
    """Face silhouette with its top stretched to the estimated hairline.

    The silhouette is the convex hull of all mesh points (on a turned face the mesh's own
    outline points slide behind the visible cheek, the hull does not). The mesh stops short of
    the hairline: classical facial thirds put the hairline as far above the brows as the
    subnasale is below them, so points above the eyes are stretched vertically about the eye
    line until the top of the mesh reaches that height.
    """
    p = face.points.astype(np.float64).copy()
    brow_y = float(np.mean(_pts(p, lm.RIGHT_BROW_UPPER + lm.LEFT_BROW_UPPER)[:, 1]))
    hairline_y = brow_y - (p[lm.SUBNASALE, 1] - brow_y)
    eye_y = float(np.mean(_pts(p, (lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]))[:, 1]))
    top = float(p[:, 1].min())
    stretch = max(1.0, (eye_y - hairline_y) / max(eye_y - top, 1.0))
    above = p[:, 1] < eye_y
    p[above, 1] = eye_y - (eye_y - p[above, 1]) * stretch
    return _hull(p)


def _hair_mask(face: CanonicalFace, cheeks: Bool, above_y: float) -> Bool:
    """Hair (or hat, background) above ``above_y``: clearly darker than the cheeks' skin, or
    nearly colourless where skin is not (grey and white hair). Lighter-than-skin pixels of skin
    hue (shine on the forehead) are not hair."""
    rows = max(0, min(face.shape[0], round(above_y)))
    hair = np.zeros(face.shape, bool)
    if rows == 0 or not cheeks.any():
        return hair
    lab = cv2.cvtColor(face.rgb[:rows], cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0] * (100.0 / 255.0)
    a, b = lab[..., 1] - 128.0, lab[..., 2] - 128.0
    ref = cv2.cvtColor(face.rgb, cv2.COLOR_RGB2LAB)[cheeks].astype(np.float32)
    ref_light = float(np.median(ref[:, 0])) * 100.0 / 255.0
    ref_chroma = float(np.hypot(np.median(ref[:, 1]) - 128.0, np.median(ref[:, 2]) - 128.0))
    top = (light < ref_light - HAIR_DARKER_L) | (np.hypot(a, b) < HAIR_GREY_CHROMA * ref_chroma)
    opened = cv2.morphologyEx(top.astype(np.uint8), cv2.MORPH_OPEN, disk(face.px(1.0)))
    hair[:rows] = opened.astype(bool)
    return hair


def region_polygons(face: CanonicalFace) -> dict[str, F64]:
    """Polygons of the 14 anatomical regions in canonical pixels, before clipping to skin."""
    p = face.points.astype(np.float64)
    mm = face.px
    polys: dict[str, F64] = {}
    down = np.array([0.0, 1.0])

    brow_r, brow_l = _pts(p, lm.RIGHT_BROW_UPPER), _pts(p, lm.LEFT_BROW_UPPER)
    head_r, head_l = p[lm.RIGHT_BROW_UPPER[-1]], p[lm.LEFT_BROW_UPPER[-1]]
    glabella_top = min(head_r[1], head_l[1]) - mm(8)
    polys["glabella"] = np.array(
        [
            [head_r[0] - mm(1), glabella_top],
            [head_l[0] + mm(1), glabella_top],
            [head_l[0] + mm(1), p[lm.NASION, 1]],
            [head_r[0] - mm(1), p[lm.NASION, 1]],
        ]
    )
    lift = down * mm(1)
    tail_r = brow_r[0] + np.array([-mm(5), 0.0])
    tail_l = brow_l[0] + np.array([mm(5), 0.0])
    top = 0.0
    polys["forehead"] = np.vstack(
        [
            [tail_r[0], top],
            tail_r - lift,
            brow_r - lift,
            brow_l[::-1] - lift,
            tail_l - lift,
            [tail_l[0], top],
        ]
    )

    for side, s, eye_outer, lid, ala, mouth in (
        ("right", -1.0, lm.RIGHT_EYE_OUTER, lm.RIGHT_LOWER_LID, lm.RIGHT_ALA, lm.RIGHT_MOUTH),
        ("left", 1.0, lm.LEFT_EYE_OUTER, lm.LEFT_LOWER_LID, lm.LEFT_ALA, lm.LEFT_MOUTH),
    ):
        c = p[eye_outer]
        polys[f"under_eye_{side}"] = np.vstack(
            [_pts(p, lid) + down * mm(2), _pts(p, lid)[::-1] + down * mm(18)]
        )
        polys[f"crows_feet_{side}"] = np.array(
            [
                c + np.array([s * mm(3), -mm(8)]),
                c + np.array([s * mm(24), -mm(12)]),
                c + np.array([s * mm(24), mm(16)]),
                c + np.array([s * mm(3), mm(8)]),
            ]
        )
        m = p[mouth]
        fold_end = m + np.array([s * mm(8), mm(6)])
        polys[f"nasolabial_{side}"] = _band(p[ala] + [s * mm(1), -mm(2)], fold_end, mm(5))
        polys[f"marionette_{side}"] = _band(
            m + np.array([s * mm(1), mm(2)]), m + np.array([s * mm(5), mm(24)]), mm(5)
        )
        under_eye_bottom = float(_pts(p, lid)[:, 1].max()) + mm(18)
        polys[f"cheek_{side}"] = np.array(
            [
                [p[ala][0] + s * mm(2), under_eye_bottom],
                [c[0] + s * mm(40), under_eye_bottom],
                [c[0] + s * mm(40), m[1] + mm(8)],
                [p[ala][0] + s * mm(2), m[1] + mm(8)],
            ]
        )

    nose_base = _pts(p, (lm.RIGHT_ALA_LOW, 97, lm.SUBNASALE, 326, lm.LEFT_ALA_LOW))
    upper_lip = _pts(p, (291, 409, 270, 269, 267, 0, 37, 39, 40, 185, 61))
    polys["upper_lip"] = np.vstack([nose_base, upper_lip])
    lower_lip = _pts(p, (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291))
    chin_y = p[lm.CHIN, 1]
    polys["chin"] = np.vstack(
        [lower_lip, [p[lm.LEFT_MOUTH][0], chin_y], [p[lm.RIGHT_MOUTH][0], chin_y]]
    )
    return polys


# First claim wins: small, specific regions before the large ones around them.
PRIORITY: tuple[str, ...] = (
    "glabella",
    "forehead",
    "under_eye_right",
    "under_eye_left",
    "crows_feet_right",
    "crows_feet_left",
    "nasolabial_right",
    "nasolabial_left",
    "upper_lip",
    "marionette_right",
    "marionette_left",
    "chin",
    "cheek_right",
    "cheek_left",
)


def eyes_and_brows(face: CanonicalFace) -> tuple[Bool, Bool]:
    """The eye outlines and the brows (upper and lower edge), filled, without margins."""
    p = face.points.astype(np.float64)
    shape = face.shape
    eyes = _fill(shape, _pts(p, lm.RIGHT_EYE)) | _fill(shape, _pts(p, lm.LEFT_EYE))
    brows = _fill(
        shape, np.vstack([_pts(p, lm.RIGHT_BROW_UPPER), _pts(p, lm.RIGHT_BROW_LOWER)[::-1]])
    )
    brows |= _fill(
        shape, np.vstack([_pts(p, lm.LEFT_BROW_UPPER), _pts(p, lm.LEFT_BROW_LOWER)[::-1]])
    )
    return eyes, brows


def feature_mask(face: CanonicalFace) -> Bool:
    """Eyes, brows, lips and nostrils with their margins: never skin."""
    p = face.points.astype(np.float64)
    shape = face.shape
    eyes, brows = eyes_and_brows(face)
    lips = _fill(shape, _pts(p, lm.LIPS_OUTER))
    nostrils = _fill(shape, _hull(_pts(p, lm.NOSTRILS)))
    return (
        within(eyes, face.px(EYE_MARGIN_MM))
        | within(brows, face.px(BROW_MARGIN_MM))
        | within(lips, face.px(LIP_MARGIN_MM))
        | within(nostrils, face.px(NOSTRIL_MARGIN_MM))
    )


def region_masks(face: CanonicalFace) -> RegionMasks:
    """Rasterise the regions, clip them to skin, and estimate hair over the forehead."""
    shape = face.shape
    polys = region_polygons(face)
    outline = _fill(shape, face_outline(face))
    outline = cv2.erode(outline.astype(np.uint8), disk(face.px(CONTOUR_MARGIN_MM))).astype(bool)
    features = feature_mask(face)
    # a spectacle frame is never skin, and no line runs up to it (like the face's outline: a
    # re-framed photo moves the frame's edges onto the skin beside it)
    frame = frame_mask(face)
    skin = outline & ~features & ~frame & face.valid

    cheeks = (_fill(shape, polys["cheek_right"]) | _fill(shape, polys["cheek_left"])) & skin
    eye_y = float(face.points[[lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]], 1].mean())
    hair = _hair_mask(face, cheeks, eye_y)
    forehead_area = _fill(shape, polys["forehead"]) & skin
    hair_fraction = float((hair & forehead_area).sum() / max(int(forehead_area.sum()), 1))
    skin &= ~hair

    labels = np.zeros(shape, np.uint8)
    for name in PRIORITY:
        claim = _fill(shape, polys[name]) & skin & (labels == 0)
        labels[claim] = ANATOMICAL_REGIONS.index(name) + 1
    return RegionMasks(
        labels=labels, skin=skin, features=features, hair_fraction=hair_fraction, frame=frame
    )
