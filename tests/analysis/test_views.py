"""Side views (DESIGN): a three-quarter photo of the subject's left or right side carries that
side's regions and the midline's; the far side's are absent, listed in ``region_not_visible``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import AnalysisError, analyze
from analysis.face import find_face
from analysis.io import load_image
from analysis.regions import ANATOMICAL_REGIONS, REGIONS, VIEWS, hidden_regions
from datasets.faces import head_yaw
from service.cli import main
from tests.conftest import face_path


def test_a_side_view_hides_the_far_side_s_regions():
    assert hidden_regions("frontal") == ()
    left = hidden_regions("left")
    assert set(left) == {r for r in ANATOMICAL_REGIONS if r.endswith("_right")}
    assert len(left) == 5
    assert {r.replace("_right", "_left") for r in left} == set(hidden_regions("right"))
    with pytest.raises(ValueError, match="view"):
        hidden_regions("profile")
    assert VIEWS == ("frontal", "left", "right")


@pytest.mark.parametrize("view", ["left", "right"])
def test_a_side_view_is_measured_on_its_own_side(view, finder):
    """Powell's portrait is turned 9 degrees (his left side nearer): as either side view it is
    measured on that side's regions and the midline's, and says which are left out. At one
    scale (a side view takes it from the nearer iris), the regions it keeps and the whole
    face read as they do in the frontal analysis: the same pixels, the same skin."""
    rgb = load_image(face_path("pd_colin_powell_official")).rgb
    scale = find_face(rgb, finder=finder).mm_per_px
    frontal = analyze(rgb, finder=finder, mm_per_px=scale).to_dict()
    side = analyze(rgb, finder=finder, view=view, mm_per_px=scale).to_dict()
    far = "_right" if view == "left" else "_left"
    assert set(side["regions"]) == {r for r in REGIONS if not r.endswith(far)}
    assert side["view"] == view
    assert frontal["view"] == "frontal"
    codes = [i["code"] for i in side["quality"]["issues"]]
    assert "region_not_visible" in codes
    assert "region_not_visible" not in [i["code"] for i in frontal["quality"]["issues"]]
    message = next(i for i in side["quality"]["issues"] if i["code"] == "region_not_visible")
    assert f"crows feet {far[1:]}" in message["message"]
    for region in ("full_face", "forehead", "glabella", f"cheek_{view}", f"crows_feet_{view}"):
        assert side["regions"][region] == frontal["regions"][region]


def test_a_turned_head_must_show_the_side_it_is_given_as(finder):
    """Baker's face turned 30 degrees by a warp shows his right side: as a right view it is
    measured without a ``pose`` warning (a side view is meant to be turned), with its scale
    from the nearer iris; as a left view it is refused, saying which side it shows."""
    rgb = load_image(face_path("pd_james_baker")).rgb
    face = find_face(rgb, finder=finder)
    turned, _ = head_yaw(rgb, face.points, yaw_deg=30.0, mm_per_px=face.mm_per_px)
    frontal = analyze(turned, finder=finder)
    right = analyze(turned, finder=finder, view="right")
    assert frontal.face.pose.yaw > 20.0
    assert "pose" in [i.code for i in frontal.quality.issues]
    assert "pose" not in [i.code for i in right.quality.issues]
    # the far iris is foreshortened more: the nearer one's scale is closer to the untouched
    # photo's
    assert abs(right.face.mm_per_px - face.mm_per_px) < abs(frontal.face.mm_per_px - face.mm_per_px)
    with pytest.raises(AnalysisError) as info:
        analyze(turned, finder=finder, view="left")
    assert info.value.code == "extreme_pose"
    assert "shows the face's right side" in info.value.message


def test_cli_analyze_takes_a_view(tmp_path: Path, capsys):
    photo = face_path("pd_colin_powell_official")
    out = tmp_path / "side.json"
    assert main(["analyze", str(photo), "--view", "left", "--json", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["view"] == "left"
    assert "cheek_right" not in body["regions"]
    assert main(["analyze", str(photo), "--view", "profile"]) == 2
    assert "--view must be one of frontal, left, right" in capsys.readouterr().err


def test_side_views_are_compared_on_their_own_side(tmp_path: Path, finder):
    """Two re-takes of Powell's portrait (their own light, framing and JPEG) compared as left
    views: the change covers the left side's regions and the midline's only, the split-face
    block has no pair to read, and a re-take flags few changes. The CLI takes the view."""
    import cv2

    from analysis import compare
    from datasets.series import series_pair

    rgb = load_image(face_path("pd_colin_powell_official")).rgb
    face = find_face(rgb, finder=finder)
    before, after = series_pair(rgb, face, seed=3, fade=1.0)
    c = compare(before, after, finder=finder, view="left", treated_side="left")
    assert set(c.changes) == {r for r in REGIONS if not r.endswith("_right")}
    assert c.split_face == {}
    flags = [x.significant for r in c.changes.values() for x in r.values()]
    assert sum(flags) / len(flags) <= 0.08
    paths = []
    for name, img in (("before", before), ("after", after)):
        paths.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    out = tmp_path / "side.json"
    assert main(["compare", *map(str, paths), "--view", "left", "--json", str(out)]) == 0
    assert "marionette_right" not in json.loads(out.read_text())["regions"]
    assert main(["track", *map(str, paths), "--view", "middle"]) == 2
