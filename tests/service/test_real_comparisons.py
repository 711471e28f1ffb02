"""Comparisons through the real engine (``analysis.compare``); skipped until it lands."""

from __future__ import annotations

import pytest

from tests.service.conftest import STUDY, Api, jpeg_face

S = f"/v1/studies/{STUDY}/subjects"


@pytest.mark.slow
def test_real_pair_is_compared_on_upload_with_the_split_face_side(real_api: Api):
    pytest.importorskip("analysis.compare", reason="analysis.compare has not landed yet")
    h = real_api.auth("uploader")
    real_api.client.put(f"{S}/S1", headers=h, json={"arm": "ADSC", "treated_side": "left"})
    base = real_api.upload("S1", jpeg_face("pd_obama_2010_blueroom"), visit="baseline").json()
    follow = real_api.upload("S1", jpeg_face("pd_obama_2012_official"), visit="week4").json()
    assert follow["comparison_error"] is None, follow["comparison_error"]
    comparison = follow["comparison"]
    assert comparison["before_photo_id"] == base["photo"]["id"]
    assert comparison["split_face"]["treated_side"] == "left"
    # lips closed at baseline, a broad smile after; the baseline is the softer photo; and the
    # smile narrows the eyes, so the light is matched on the skin
    issues = comparison["quality"]["issues"]
    codes = [i["code"] for i in issues]
    assert codes == ["expression_changed", "focus_differs", "light_matched_on_skin"]
    assert "nasolabial_left" in comparison["expression"]["regions"]
    change = comparison["regions"]["forehead"]["wrinkles.severity"]
    assert set(change) == {
        "before", "after", "delta", "delta_pct", "mdc", "significant", "direction", "improved"
    }  # fmt: skip
    again = real_api.client.post(
        "/v1/comparisons",
        headers=h,
        json={"before": base["photo"]["id"], "after": follow["photo"]["id"]},
    )
    assert (again.status_code, again.json()["id"]) == (200, comparison["id"])
    overlay = real_api.client.get(f"/v1/comparisons/{comparison['id']}/overlay.png", headers=h)
    assert overlay.status_code == 200
    assert overlay.content.startswith(b"\x89PNG")
    points = real_api.client.get(f"{S}/S1/timeline", headers=h).json()["points"]
    assert points[1]["delta"] == pytest.approx(
        comparison["regions"]["full_face"]["wrinkles.severity"]["delta"]
    )
    assert [p["expression_changed"] for p in points] == [None, True]
    focus = [(p["focus_differs"], p["focus_softened"]) for p in points]
    assert focus == [(None, None), (True, "after")]  # the sharper follow-up was softened
    assert points[1]["focus_blur_mm"] == comparison["photometric"]["focus_blur_mm"] > 0.15
    forehead = real_api.client.get(f"{S}/S1/timeline?region=forehead", headers=h).json()
    assert [p["expression_changed"] for p in forehead["points"]] == [None, False]
    summary = real_api.client.get(f"/v1/studies/{STUDY}/summary", headers=h).json()
    assert (summary["arms"][0]["arm"], summary["arms"][0]["n"]) == ("ADSC", 1)


@pytest.mark.slow
def test_follow_ups_of_one_baseline_measure_it_once_until_its_subject_is_erased(
    tmp_path, monkeypatch
):
    """Each upload is compared with the subject's baseline; the engine keeps the baseline's
    measurements (``analysis.compare``'s memo), so the second follow-up re-measures only
    itself and reads exactly what a fresh comparison reads. Erasing the subject drops them.
    (The baseline's measurements depend on the pair's ceiling where a follow-up clipped: the
    two follow-ups, one photo saved at JPEG 95 and 85, share it; at 92 and 85 their red
    gains, 0.811 and 0.812, fall either side of an 8-bit level and each measures it anew.)"""
    import hashlib
    import importlib

    from analysis.face import shared_finder
    from service.engine import Engine

    compare_module = importlib.import_module("analysis.compare")  # not the package's function
    photos = []
    for name, data in (
        ("base", jpeg_face("pd_biden_2013_vp")),
        ("week4", jpeg_face("pd_biden_2021_presidential", quality=95)),
        ("week12", jpeg_face("pd_biden_2021_presidential", quality=85)),
    ):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        photos.append((hashlib.sha256(data).hexdigest(), path))
    base, week4, week12 = photos

    calls = []
    measure = compare_module.measure_canonical
    monkeypatch.setattr(
        compare_module, "measure_canonical", lambda *a, **k: calls.append(1) or measure(*a, **k)
    )
    engine = Engine(workers=1)
    try:
        first = engine._comparison(base, week4, None).to_dict()
        assert len(calls) == 8  # both photos and three perturbations of each
        second = engine._comparison(base, week12, None).to_dict()
        assert first["photometric"]["ceiling"] == second["photometric"]["ceiling"]
        assert len(calls) == 8 + 4  # the baseline's four were kept
        engine.forget([base[0]])
        engine._comparison(base, week12, "left")
        assert len(calls) == 8 + 4 + 8
    finally:
        engine.close()
    fresh = compare_module.compare(
        base[1].read_bytes(), week12[1].read_bytes(), finder=shared_finder()
    )
    assert second == fresh.to_dict()


@pytest.mark.slow
def test_a_black_and_white_follow_up_is_stored_and_measured_but_not_compared(real_api: Api):
    """A grey follow-up's pigment reads 0: compared with a colour baseline, every spot and
    all redness would read gone. Its upload is kept and measured (lines), with a warning;
    the comparison is refused, naming the photo."""
    import io

    from PIL import Image

    h = real_api.auth("uploader")
    real_api.upload("S1", jpeg_face("pd_obama_2010_blueroom"), visit="baseline")
    with Image.open(io.BytesIO(jpeg_face("pd_obama_2010_blueroom"))) as im:
        buf = io.BytesIO()
        im.convert("L").save(buf, "JPEG", quality=92)
    follow = real_api.upload("S1", buf.getvalue(), visit="week4")
    assert follow.status_code == 201, follow.text
    body = follow.json()
    assert "no_colour" in [i["code"] for i in body["analysis"]["quality"]["issues"]]
    assert body["comparison"] is None
    error = body["comparison_error"]["error"]
    assert (error["code"], error["photo"]) == ("unsupported_format", "after")
    assert "black and white" in error["message"]
    points = real_api.client.get(f"{S}/S1/timeline", headers=h).json()["points"]
    # the timeline shows the follow-up's own wrinkle reading, and no change
    assert [(p["value"] is not None, p["delta"], p["significant"]) for p in points[1:]] == [
        (True, None, None)
    ]
