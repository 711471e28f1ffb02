"""Stage-level test rig: procedural skin posing as a canonical face with one region.

The detectors only need the canonical image, its scale and a skin mask, so properties of the
measurement can be checked on exact synthetic truth without a face detector in the loop.
"""

from __future__ import annotations

import numpy as np

from analysis.canonical import CanonicalFace
from analysis.pipeline import measure_canonical
from analysis.regions import ANATOMICAL_REGIONS, RegionMasks
from datasets.synthetic import procedural_skin

MM_PER_PX = 0.2


def skin(shape: tuple[int, int] = (500, 500), seed: int = 0) -> np.ndarray:
    return procedural_skin(shape, mm_per_px=MM_PER_PX, rng=np.random.default_rng(seed))


def canonical(rgb: np.ndarray, mm_per_px: float = MM_PER_PX) -> CanonicalFace:
    eye = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return CanonicalFace(
        rgb=np.ascontiguousarray(rgb),
        points=np.zeros((478, 2), np.float32),
        valid=np.ones(rgb.shape[:2], bool),
        to_canonical=eye,
        to_photo=eye,
        mm_per_px=mm_per_px,
        source_mm_per_px=mm_per_px,
    )


def measure(
    rgb: np.ndarray, mm_per_px: float = MM_PER_PX, *, border: str = "features"
) -> dict[str, float]:
    """Metrics of the whole image treated as the forehead (a 10 px border is not skin).

    ``border`` says what lies beyond the skin: ``"features"`` (eyes, lips: lines may run up to
    them) or ``"outline"`` (the face's edge or the hairline, kept clear of line centres)."""
    face = canonical(rgb, mm_per_px)
    skin_mask = np.zeros(rgb.shape[:2], bool)
    skin_mask[10:-10, 10:-10] = True
    labels = np.where(skin_mask, ANATOMICAL_REGIONS.index("forehead") + 1, 0).astype(np.uint8)
    features = ~skin_mask if border == "features" else np.zeros_like(skin_mask)
    regions = RegionMasks(labels=labels, skin=skin_mask, features=features, hair_fraction=0.0)
    return dict(measure_canonical(face, regions)[2]["forehead"].values)
