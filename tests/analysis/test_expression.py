"""A change of facial expression between two photos (``analysis.expression``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.expression import (
    EXPRESSION_CHANGE,
    GROUPS,
    expression_change,
    movements,
    region_groups,
)
from analysis.face import find_face
from analysis.io import load_image
from analysis.regions import REGIONS
from datasets.faces import head_yaw
from datasets.series import series_pair
from tests.conftest import face_path

SMILE_REGIONS = set(REGIONS) - {"forehead", "glabella", "chin"}  # a smile folds the rest


def _neutral(**scores: float) -> dict[str, float]:
    """Every blendshape the movements read at 0.05, some set to other scores."""
    shapes = {k: 0.05 for keys in GROUPS.values() for k in keys}
    shapes.update(scores)
    return shapes


def test_movements_take_the_largest_score_of_either_side():
    m = movements(_neutral(mouthSmileLeft=0.2, mouthSmileRight=0.7, browDownLeft=0.4))
    assert m["smile"] == pytest.approx(0.7)
    assert m["brows_lowered"] == pytest.approx(0.4)
    assert m["mouth"] == pytest.approx(0.05)
    assert set(m) == set(GROUPS)
    assert movements({}) == {}


def test_every_region_has_movements_and_unknown_ones_are_refused():
    for region in REGIONS:
        assert set(region_groups(region)) <= set(GROUPS)
    with pytest.raises(ValueError, match="unknown region"):
        region_groups("nose")


def test_a_smile_flags_the_regions_it_folds_and_not_the_brows():
    change = expression_change(_neutral(), _neutral(mouthSmileLeft=0.9, mouthSmileRight=0.85))
    assert change is not None
    assert change.changed == ("smile",)
    assert set(change.regions) == SMILE_REGIONS
    issue = change.issue()
    assert issue is not None
    assert issue["code"] == "expression_changed"
    assert "smile 0.05 -> 0.90" in issue["message"]
    assert "nasolabial left" in issue["message"]
    assert "forehead" not in issue["message"]
    d = change.to_dict()
    assert d["change"]["smile"] == pytest.approx(0.85)
    assert d["threshold"] == EXPRESSION_CHANGE
    assert "forehead" not in d["regions"]


def test_a_frown_flags_the_brows_and_a_smaller_change_flags_nothing():
    frown = expression_change(_neutral(), _neutral(browDownLeft=0.8))
    assert frown is not None
    assert set(frown.regions) == {"forehead", "glabella", "full_face"}
    below = EXPRESSION_CHANGE - 0.01
    slight = expression_change(_neutral(), _neutral(browDownLeft=0.05 + below))
    assert slight is not None
    assert slight.regions == ()
    assert slight.issue() is None
    # a side view's comparison has no far-side regions, and names none
    side = expression_change(_neutral(), _neutral(mouthSmileLeft=0.9), ("cheek_left", "chin"))
    assert side is not None
    assert side.regions == ("cheek_left",)
    # the change is the same either way round (a frown relaxed folds as much)
    relaxed = expression_change(_neutral(browDownRight=0.8), _neutral())
    assert relaxed is not None
    assert relaxed.regions == frown.regions


def test_landmarks_without_blendshapes_give_no_reading():
    assert expression_change({}, _neutral()) is None
    assert expression_change(_neutral(), {}) is None


def test_the_smile_score_follows_a_real_smile(finder):
    """Obama's 2010 portrait, lips closed, against his 2012 one, smiling broadly."""
    closed = find_face(load_image(face_path("pd_obama_2010_blueroom")).rgb, finder=finder)
    smiling = find_face(load_image(face_path("pd_obama_2012_official")).rgb, finder=finder)
    assert movements(closed.expression)["smile"] < 0.3
    assert movements(smiling.expression)["smile"] > 0.8
    change = expression_change(closed.expression, smiling.expression)
    assert change is not None
    assert "smile" in change.changed
    assert {"forehead", "glabella", "chin"}.isdisjoint(change.regions)


@pytest.mark.parametrize(
    "stem", ["pd_rex_tillerson_official", "ccby_lord_owen_ukparl", "ccby_emma_bonino_2017"]
)
def test_a_retake_or_a_small_head_turn_is_not_an_expression_change(stem, finder):
    """Re-takes of one face (their own light, white balance, framing and JPEG) and the head
    turned 5 degrees: the movements stay well under the threshold."""
    rgb = load_image(face_path(stem)).rgb
    face = find_face(rgb, finder=finder)
    changes = []
    for seed in range(3):
        before, after = series_pair(rgb, face, 1000 + seed, fade=1.0)
        a, b = (find_face(img, finder=finder).expression for img in (before, after))
        changes.append(expression_change(a, b))
    turned, _ = head_yaw(rgb, face.points, yaw_deg=5.0, mm_per_px=face.mm_per_px)
    turned_face = find_face(turned, finder=finder)
    changes.append(expression_change(face.expression, turned_face.expression))
    for change in changes:
        assert change is not None
        assert change.regions == (), change
        assert change.issue() is None
    assert np.all(np.isfinite([change.change(g) for change in changes for g in GROUPS]))
