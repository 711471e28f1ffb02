"""Quality gate: refuse photos that cannot be measured honestly, warn about the rest.

Rules (thresholds in ``QualityThresholds``, all configurable):

- ``face_too_small`` (error): fewer than ``min_interocular_px`` pixels between the irises: the
  regions cannot be placed. ``low_resolution`` (warning): fewer than ``fine_line_px_per_mm``
  pixels per millimetre, so lines finer than about 0.4 mm are not resolved.
- ``extreme_pose`` (error) beyond ``max_yaw_deg``/``max_pitch_deg``/``max_roll_deg``;
  ``pose`` (warning) beyond the ``warn_*`` angles. A roll of ``SIDEWAYS_ROLL_DEG`` or more is
  a photo on its side, of ``180 - SIDEWAYS_ROLL_DEG`` or more one upside down, and each is told
  so (``analysis.face`` refuses an upside-down face that the landmarker fits upright when the
  fit does not follow a turn of the photo).
- ``too_blurry``: sharpness is the ratio of fine-band (sigma < 1 px) to mid-band (1-3 px)
  gradient energy of the face, resampled to 100 px between the irises, so it does not depend on
  resolution. Sharp portraits measure 0.42-1.07; a blur of 1 % of the inter-ocular distance
  (about 0.6 mm) gives 0.27-0.35 and 2 % gives about 0.2. Error below ``min_sharpness``,
  warning (``mild_blur``) below ``warn_sharpness``.
- ``bad_exposure``: share of skin pixels with a channel at 250 or more (clipped), or median skin
  grey level; error past the limit, warning (``exposure``) past the milder one.
- ``no_colour`` (warning): a black-and-white photo (or one whose colour was taken out): the
  median skin pixel's channels lie within ``min_skin_chroma`` 8-bit levels of each other
  (``skin_chroma``). Lines are measured as usual; melanin, redness, spots and tone need colour
  and read 0. Colour portraits' skin reads a median of 22-123 levels (the 19 shared faces),
  grey ones 0-1. A comparison refuses such a photo (``unsupported_format``): against a colour
  baseline it reported every spot and all redness gone.
- ``multiple_faces`` (warning): other, clearly smaller faces were seen (see ``analysis.face``).
- ``hair_over_forehead`` (warning): hair covers more than 15 % of the forehead.
- ``glasses`` (warning): a spectacle bridge across the nose (``glasses_score``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from analysis import landmarks as lm
from analysis.canonical import CanonicalFace
from analysis.colour import luminance
from analysis.errors import BadExposure, ExtremePose, FaceTooSmall, TooBlurry
from analysis.face import MAX_YAW_DEG, SIDEWAYS_ROLL_DEG, Face
from analysis.types import U8, Bool


@dataclass(frozen=True)
class QualityThresholds:
    min_interocular_px: float = 30.0
    fine_line_px_per_mm: float = 5.0
    max_yaw_deg: float = MAX_YAW_DEG
    max_pitch_deg: float = 30.0
    max_roll_deg: float = 40.0
    warn_yaw_deg: float = 15.0
    warn_pitch_deg: float = 20.0
    min_sharpness: float = 0.24
    warn_sharpness: float = 0.36
    max_clipped_fraction: float = 0.6
    warn_clipped_fraction: float = 0.15
    min_median_grey: float = 30.0
    warn_median_grey: float = 60.0
    min_skin_chroma: float = 6.0
    warn_hair_fraction: float = 0.15
    glasses_bridge: float = 0.8


@dataclass(frozen=True)
class QualityIssue:
    code: str
    severity: str  # "warning" (errors are raised, not listed)
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class QualityReport:
    """Warnings for a photo that passed the gate, and the numbers behind them."""

    issues: tuple[QualityIssue, ...] = ()
    sharpness: float = 0.0
    px_per_mm: float = 0.0
    clipped_fraction: float = 0.0
    median_grey: float = 0.0
    skin_chroma: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def colourless(self) -> bool:
        """The photo has no colour to read pigment from (the ``no_colour`` warning)."""
        return any(issue.code == "no_colour" for issue in self.issues)


def sharpness(rgb: U8, face: Face) -> float:
    """Fine-to-mid band gradient energy of the face at 100 px inter-ocular distance."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    x0, y0 = np.floor(face.points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(face.points.max(axis=0)).astype(int)
    crop = grey[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)].astype(np.float32)
    if crop.size < 16:
        return 0.0
    s = 100.0 / max(face.interocular_px, 1e-6)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    crop = np.asarray(cv2.resize(crop, None, fx=s, fy=s, interpolation=interp), np.float32)
    g1 = cv2.GaussianBlur(crop, (0, 0), 1.0)
    g3 = cv2.GaussianBlur(crop, (0, 0), 3.0)
    return float(np.abs(crop - g1).mean() / max(float(np.abs(g1 - g3).mean()), 1e-6))


# a side view turned the other way by more than this shows the other side
SIDE_MISMATCH_DEG = 10.0


def _pose_refusal(yaw: float, pitch: float, roll: float) -> str:
    """What a pose past the limits is told: a face rolled by ``SIDEWAYS_ROLL_DEG`` or more is
    a photo on its side (by ``180 - SIDEWAYS_ROLL_DEG`` or more, upside down), and the photo is
    to be turned rather than the face photographed again."""
    if abs(roll) >= 180.0 - SIDEWAYS_ROLL_DEG:
        return "The photo is upside down. Please turn it the right way up and upload it again."
    if abs(roll) >= SIDEWAYS_ROLL_DEG:
        return (
            f"The photo is on its side (the face is turned by {abs(roll):.0f}°). Please rotate "
            "it so that the face is upright and upload it again."
        )
    return (
        f"The head is turned or tilted too far (turn {yaw:.0f}°, nod {pitch:.0f}°, tilt "
        f"{roll:.0f}°). Please photograph the face straight on, looking into the camera."
    )


def check_face(
    rgb: U8, face: Face, t: QualityThresholds = QualityThresholds(), *, view: str = "frontal"
) -> tuple[list[QualityIssue], float]:
    """Geometry and sharpness checks on the photo; raises on errors, returns the warnings and
    the sharpness.

    ``view``: a side view (``left``, ``right``) is expected to be turned, so its turn gets no
    ``pose`` warning, but it must show the side it names (``SIDE_MISMATCH_DEG``); the limits
    of ``t`` hold for every view."""
    issues: list[QualityIssue] = []
    iod = face.interocular_px
    if iod < t.min_interocular_px:
        raise FaceTooSmall(
            f"The face is too small in this photo ({iod:.0f} px between the eyes, at least "
            f"{t.min_interocular_px:.0f} needed). Please move closer or crop less."
        )
    px_per_mm = 1.0 / face.mm_per_px
    if px_per_mm < t.fine_line_px_per_mm:
        issues.append(
            QualityIssue(
                "low_resolution",
                "warning",
                f"The face has {px_per_mm:.1f} pixels per millimetre; fine lines need at least "
                f"{t.fine_line_px_per_mm:.0f}. Deep wrinkles are measured, fine lines may be "
                "missed.",
            )
        )
    yaw, pitch, roll = face.pose.yaw, face.pose.pitch, face.pose.roll
    if abs(yaw) > t.max_yaw_deg or abs(pitch) > t.max_pitch_deg or abs(roll) > t.max_roll_deg:
        raise ExtremePose(_pose_refusal(yaw, pitch, roll))
    shown = "left" if yaw < 0 else "right"  # the subject's side a turned head shows
    if view != "frontal" and shown != view and abs(yaw) > SIDE_MISMATCH_DEG:
        raise ExtremePose(
            f"This photo shows the face's {shown} side (turned {abs(yaw):.0f}°), but it was "
            f"given as a {view} view. Please check the view, or take the photo again showing "
            f"the {view} side."
        )
    if (view == "frontal" and abs(yaw) > t.warn_yaw_deg) or abs(pitch) > t.warn_pitch_deg:
        issues.append(
            QualityIssue(
                "pose",
                "warning",
                f"The head is slightly turned (turn {yaw:.0f}°, nod {pitch:.0f}°); regions on the "
                "far side are foreshortened.",
            )
        )
    sharp = sharpness(rgb, face)
    if sharp < t.min_sharpness:
        raise TooBlurry(
            "The photo is too blurry to measure skin (out of focus or moving). Please hold the "
            "camera still, focus on the face and take it again."
        )
    if sharp < t.warn_sharpness:
        issues.append(
            QualityIssue(
                "mild_blur", "warning", "The photo is slightly blurred; fine lines may be missed."
            )
        )
    if face.other_faces:
        issues.append(
            QualityIssue(
                "multiple_faces",
                "warning",
                f"{face.other_faces} other smaller face(s) in the photo were ignored; the largest "
                "face was measured.",
            )
        )
    return issues, sharp


def check_exposure(
    canonical_rgb: U8, skin: Bool, t: QualityThresholds = QualityThresholds()
) -> tuple[list[QualityIssue], float, float]:
    """Exposure of the face's skin; raises ``bad_exposure``, returns warnings and the numbers."""
    pixels = canonical_rgb[skin]
    if pixels.size == 0:
        return [], 0.0, 0.0
    clipped = float((pixels.max(axis=1) >= 250).mean())
    grey = float(np.median(pixels @ np.array([0.299, 0.587, 0.114])))
    if clipped > t.max_clipped_fraction:
        raise BadExposure(
            f"The photo is overexposed: {clipped:.0%} of the skin is pure white. Please reduce "
            "the light or the flash and take it again."
        )
    if grey < t.min_median_grey:
        raise BadExposure(
            "The photo is too dark to measure skin. Please add light in front of the face and "
            "take it again."
        )
    issues = []
    if clipped > t.warn_clipped_fraction:
        issues.append(
            QualityIssue(
                "exposure",
                "warning",
                f"{clipped:.0%} of the skin is overexposed; lines and spots there are not "
                "measured.",
            )
        )
    elif grey < t.warn_median_grey:
        issues.append(
            QualityIssue("exposure", "warning", "The photo is dark; measurements are less precise.")
        )
    return issues, clipped, grey


def colour_warning(
    canonical_rgb: U8, skin: Bool, t: QualityThresholds = QualityThresholds()
) -> tuple[list[QualityIssue], float]:
    """``no_colour`` when the skin has no colour, and the median skin pixel's chroma (its
    largest minus its smallest channel, in 8-bit levels)."""
    if not skin.any():
        return [], 0.0
    r, g, b = cv2.split(canonical_rgb)
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    # the median of the skin's 8-bit chroma from its histogram (as ``np.median``: the mean of
    # the two middle values; 20 times faster than sorting)
    counts = np.cumsum(np.bincount(np.asarray(spread)[skin], minlength=256))
    n = int(counts[-1])
    middle = np.searchsorted(counts, [(n - 1) // 2, n // 2], side="right")
    chroma = float(middle.mean())
    if chroma >= t.min_skin_chroma:
        return [], chroma
    message = (
        "This photo is in black and white: wrinkles are measured, but skin tone, spots and "
        "redness need a colour photo and read 0. Please use the original colour photo."
    )
    return [QualityIssue("no_colour", "warning", message)], chroma


def glasses_score(face: CanonicalFace) -> float:
    """Strength of a horizontal bar across the nose bridge (a spectacle frame's bridge).

    Between the inner eye corners, from the brow heads down to just below the eyes: the
    strongest row of mean |d luminance / dy|, relative to the band's mean luminance. Skin there
    scores 0.15-0.6 on the shared portraits; metal or plastic bridges 1.1-2.4.
    """
    p = face.points
    x0, x1 = int(p[lm.RIGHT_EYE_INNER, 0]) + 5, int(p[lm.LEFT_EYE_INNER, 0]) - 5
    y1 = int((p[lm.RIGHT_EYE_INNER, 1] + p[lm.LEFT_EYE_INNER, 1]) / 2) + 10
    y0 = int(min(p[lm.RIGHT_BROW_UPPER[-1], 1], p[lm.LEFT_BROW_UPPER[-1], 1]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    band = luminance(face.rgb[max(0, y0) : y1, max(0, x0) : x1])
    grad = np.abs(cv2.Sobel(cv2.GaussianBlur(band, (0, 0), 1.0), cv2.CV_32F, 0, 1, ksize=3))
    return float(grad.mean(axis=1).max() / max(float(band.mean()), 1e-6))


def glasses_warning(
    face: CanonicalFace, t: QualityThresholds = QualityThresholds()
) -> list[QualityIssue]:
    if glasses_score(face) <= t.glasses_bridge:
        return []
    return [
        QualityIssue(
            "glasses",
            "warning",
            "The patient wears glasses: skin behind the lenses and lines along the frame are "
            "less reliable. Please take glasses off for treatment photos.",
        )
    ]


def in_words(regions: Sequence[str]) -> str:
    """Region names as a clinic assistant reads them: ``crows feet left, cheek left``."""
    return ", ".join(r.replace("_", " ") for r in regions)


def hidden_warning(view: str, hidden: Sequence[str]) -> list[QualityIssue]:
    """``region_not_visible`` for the regions a side view leaves out (``hidden_regions``)."""
    if not hidden:
        return []
    return [
        QualityIssue(
            "region_not_visible",
            "warning",
            f"A {view} view shows the {view} side of the face: {in_words(hidden)} are not "
            "measured.",
        )
    ]


def hair_warning(
    hair_fraction: float, t: QualityThresholds = QualityThresholds()
) -> list[QualityIssue]:
    if hair_fraction <= t.warn_hair_fraction:
        return []
    return [
        QualityIssue(
            "hair_over_forehead",
            "warning",
            f"Hair covers {hair_fraction:.0%} of the forehead; only the visible skin is measured.",
        )
    ]
