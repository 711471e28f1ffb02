"""The only place where the stages are chained: bytes -> Photo -> Face -> quality -> canonical
face -> regions -> wrinkle and pigment maps -> per-region metrics."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.canonical import CanonicalFace, to_canonical
from analysis.expression import movements
from analysis.face import Face, FaceFinder, find_face
from analysis.io import LoadLimits, load_image
from analysis.metrics import METRICS, RegionMetrics, region_metrics
from analysis.pigment import PigmentMaps, pigment_maps
from analysis.quality import (
    QualityReport,
    QualityThresholds,
    check_exposure,
    check_face,
    colour_warning,
    glasses_warning,
    hair_warning,
    hidden_warning,
)
from analysis.regions import REGIONS, RegionMasks, hidden_regions, region_masks, without
from analysis.types import Bool, Photo
from analysis.wrinkles import WrinkleMap, detect_wrinkles, relative_luminance

SCHEMA_VERSION = "1"
PIPELINE_VERSION = "0.1.0"

ImageInput = str | os.PathLike[str] | bytes | np.ndarray | Photo


@dataclass(frozen=True, eq=False)
class Prepared:
    """A photo up to its canonical face and regions: everything but the skin measurements."""

    photo: Photo
    face: Face
    quality: QualityReport
    canonical: CanonicalFace
    regions: RegionMasks
    view: str = field(default="frontal", kw_only=True)  # regions.VIEWS

    def summary(self) -> dict[str, Any]:
        """The analysis JSON without the per-region table."""
        f = self.face
        return {
            "schema_version": SCHEMA_VERSION,
            "pipeline_version": PIPELINE_VERSION,
            "image": {
                "width": self.photo.width,
                "height": self.photo.height,
                "sha256": self.photo.sha256,
                "format": self.photo.source_format,
            },
            "view": self.view,
            "face": {
                "pose": {
                    "yaw": round(f.pose.yaw, 2),
                    "pitch": round(f.pose.pitch, 2),
                    "roll": round(f.pose.roll, 2),
                },
                "mm_per_px": round(f.mm_per_px, 5),
                "scale_source": f.scale_source,
                "iris_diameter_px": round(f.iris_diameter_px, 2),
                "detector": f.detector,
                "expression": {g: round(v, 3) for g, v in movements(f.expression).items()},
            },
            "quality": {
                "ok": self.quality.ok,
                "issues": [i.to_dict() for i in self.quality.issues],
                "sharpness": round(self.quality.sharpness, 4),
                "px_per_mm": round(self.quality.px_per_mm, 3),
                "clipped_fraction": round(self.quality.clipped_fraction, 4),
                "median_grey": round(self.quality.median_grey, 1),
                "skin_chroma": round(self.quality.skin_chroma, 1),
            },
        }


@dataclass(frozen=True, eq=False)
class Analysis(Prepared):
    """Everything measured on one photo, with the maps kept for overlays."""

    wrinkles: WrinkleMap
    pigments: PigmentMaps
    metrics: dict[str, RegionMetrics]
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The analysis JSON of DESIGN.md."""
        out = self.summary()
        out["regions"] = {
            name: {m: round(self.metrics[name][m], 4) for m in METRICS}
            for name in REGIONS
            if name in self.metrics
        }
        return out


def prepare(
    image: ImageInput,
    *,
    mm_per_px: float | None = None,
    finder: FaceFinder | None = None,
    limits: LoadLimits = LoadLimits(),
    thresholds: QualityThresholds = QualityThresholds(),
    clock: _Clock | None = None,
    view: str = "frontal",
) -> Prepared:
    """Load, find the face, pass the quality gate, warp to the canonical face, place regions
    (those ``view`` shows).

    Raises ``AnalysisError`` (see ``analyze``)."""
    if mm_per_px is not None and not (np.isfinite(mm_per_px) and 0.001 <= mm_per_px <= 5.0):
        raise ValueError(f"mm_per_px must be between 0.001 and 5 mm, got {mm_per_px}")
    hidden = hidden_regions(view)  # a bad view fails before any work
    clock = clock or _Clock()
    photo = image if isinstance(image, Photo) else load_image(image, limits=limits)
    clock.lap("load")
    face = find_face(photo.rgb, mm_per_px=mm_per_px, finder=finder, side_view=view != "frontal")
    clock.lap("landmarks")
    issues, sharp = check_face(photo.rgb, face, thresholds, view=view)
    clock.lap("quality")
    canonical = to_canonical(photo.rgb, face)
    clock.lap("canonical")
    regions = without(region_masks(canonical), hidden)
    exposure, clipped, grey = check_exposure(canonical.rgb, regions.skin, thresholds)
    colour, chroma = colour_warning(canonical.rgb, regions.skin, thresholds)
    issues += exposure + colour + hair_warning(regions.hair_fraction, thresholds)
    issues += glasses_warning(canonical, thresholds)
    issues += hidden_warning(view, hidden)
    clock.lap("regions")
    quality = QualityReport(
        issues=tuple(issues),
        sharpness=sharp,
        px_per_mm=1.0 / face.mm_per_px,
        clipped_fraction=clipped,
        median_grey=grey,
        skin_chroma=chroma,
    )
    return Prepared(
        photo=photo, face=face, quality=quality, canonical=canonical, regions=regions, view=view
    )


def analyze(
    image: ImageInput,
    *,
    mm_per_px: float | None = None,
    finder: FaceFinder | None = None,
    limits: LoadLimits = LoadLimits(),
    thresholds: QualityThresholds = QualityThresholds(),
    view: str = "frontal",
) -> Analysis:
    """Measure one face photo.

    Parameters
    ----------
    image:
        A path, the file's bytes, an RGB uint8 array (H, W, 3) or an already loaded ``Photo``.
    mm_per_px:
        Known physical pixel size at the face (ruler, calibration target); otherwise estimated
        from the irises.
    view:
        ``frontal`` (all regions), or ``left`` / ``right``: a three-quarter view of the subject's
        own left or right side, which carries that side's regions and the midline's; the far
        side's are left out and listed in a ``region_not_visible`` warning.

    Raises
    ------
    AnalysisError
        A subclass with a stable ``code`` when the photo cannot be measured.
    """
    clock = _Clock()
    p = prepare(
        image,
        mm_per_px=mm_per_px,
        finder=finder,
        limits=limits,
        thresholds=thresholds,
        clock=clock,
        view=view,
    )
    wrinkles, pigments, metrics = measure_canonical(p.canonical, p.regions, clock)
    return Analysis(
        photo=p.photo,
        face=p.face,
        quality=p.quality,
        canonical=p.canonical,
        regions=p.regions,
        view=p.view,
        wrinkles=wrinkles,
        pigments=pigments,
        metrics=metrics,
        timings=clock.laps,
    )


def measure_canonical(
    canonical: CanonicalFace,
    regions: RegionMasks,
    clock: _Clock | None = None,
    *,
    skin_seen: Bool | None = None,
) -> tuple[WrinkleMap, PigmentMaps, dict[str, RegionMetrics]]:
    """The stages after the canonical face: maps and per-region metrics on given regions.

    Comparisons and the noise-floor estimate re-run only this part (on a registered or
    perturbed canonical image, with the regions of the baseline). ``skin_seen``: the skin the
    image shows where that is not ``regions.skin`` (a re-framed image), for the luminance
    normalisation the lines are found on (``relative_luminance``)."""
    clock = clock or _Clock()
    pigments = pigment_maps(canonical, regions.skin)
    clock.lap("pigment")
    rel = None if skin_seen is None else relative_luminance(canonical, skin_seen)
    wrinkles = detect_wrinkles(
        canonical, regions.skin, exclude=pigments.spots > 0, features=regions.features, rel=rel
    )
    clock.lap("wrinkles")
    metrics = region_metrics(regions, wrinkles, pigments, canonical.mm_per_px)
    clock.lap("metrics")
    return wrinkles, pigments, metrics


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._t
        self._t = now
