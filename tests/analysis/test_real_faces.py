"""Every shared real face gives all 15 regions with finite metrics and plausible geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import analyze
from analysis.metrics import METRICS
from analysis.regions import ANATOMICAL_REGIONS, REGIONS
from tests.conftest import face_path, face_paths

STEMS = [p.stem for p in face_paths()] or ["pd_biden_2013_vp"]


@pytest.mark.parametrize("stem", STEMS)
def test_real_face_has_every_region_with_finite_metrics(stem, finder):
    result = analyze(face_path(stem), finder=finder)
    d = result.to_dict()
    assert list(d["regions"]) == list(REGIONS)
    for region, metrics in d["regions"].items():
        assert list(metrics) == list(METRICS), region
        assert all(math.isfinite(v) for v in metrics.values()), region
        assert metrics["region.area_cm2"] > 0.1, region  # a turned face shows little far side
        assert 0 <= metrics["wrinkles.severity"] <= 100
    # anatomical regions are disjoint and inside full_face
    labels = result.regions.labels
    assert np.all(result.regions.skin[labels > 0])
    areas = sum(d["regions"][r]["region.area_cm2"] for r in ANATOMICAL_REGIONS)
    assert areas <= d["regions"]["full_face"]["region.area_cm2"] + 1e-6
    # physical scale from the irises: adult faces are 110-170 mm wide
    width_mm = result.face.width_px * result.face.mm_per_px
    assert 110 < width_mm < 170
    assert d["image"]["width"] == result.photo.width
    assert d["quality"]["ok"] == (not d["quality"]["issues"])


def test_mirrored_photo_mirrors_pose_and_swaps_sides(finder):
    from analysis.io import load_image

    photo = load_image(face_path("pd_biden_2013_vp"))
    a = analyze(photo.rgb, finder=finder)
    b = analyze(np.ascontiguousarray(photo.rgb[:, ::-1]), finder=finder)
    assert a.face.pose.yaw == pytest.approx(-b.face.pose.yaw, abs=3.0)
    assert a.face.pose.roll == pytest.approx(-b.face.pose.roll, abs=3.0)
    ra, rb = a.metrics["cheek_left"]["region.area_cm2"], b.metrics["cheek_right"]["region.area_cm2"]
    assert ra == pytest.approx(rb, rel=0.15)


def test_known_scale_overrides_iris(finder):
    a = analyze(face_path("pd_biden_2013_vp"), mm_per_px=0.2, finder=finder)
    assert a.face.mm_per_px == 0.2
    assert a.face.scale_source == "given"


@pytest.mark.parametrize(
    ("stem", "glasses"),
    [
        ("pd_colin_powell_official", True),
        ("pd_michio_watanabe_1993_dod", True),
        ("pd_ruth_bader_ginsburg_scotus", True),
        ("pd_rex_tillerson_official", False),
        ("ccby_lord_owen_ukparl", False),
        ("pd_sonia_sotomayor_2009_scotus", False),
    ],
)
def test_glasses_are_flagged(stem, glasses, finder):
    from analysis.pipeline import prepare

    codes = [i.code for i in prepare(face_path(stem), finder=finder).quality.issues]
    assert ("glasses" in codes) == glasses


def test_hair_over_forehead_is_flagged(finder):
    from analysis.pipeline import prepare

    codes = [
        i.code
        for i in prepare(face_path("pd_sonia_sotomayor_2009_scotus"), finder=finder).quality.issues
    ]
    assert "hair_over_forehead" in codes


def test_small_face_in_a_large_frame_is_found_by_the_full_range_fallback(finder):
    import cv2

    from analysis.face import find_face

    rgb = load_image_rgb("pd_biden_2021_presidential")
    scale = 400 / rgb.shape[1]
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((2400, 3200, 3), 120, np.uint8)
    canvas[1000 : 1000 + small.shape[0], 1500 : 1500 + small.shape[1]] = small
    face = find_face(canvas, finder=finder)
    assert face.detector == "full_range"
    assert 150 < face.width_px < 200  # the face is about 170 px wide in the canvas
    assert 1500 < face.points[:, 0].mean() < 1900


def load_image_rgb(stem: str) -> np.ndarray:
    from analysis.io import load_image

    return load_image(face_path(stem)).rgb
