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
    summary = real_api.client.get(f"/v1/studies/{STUDY}/summary", headers=h).json()
    assert (summary["arms"][0]["arm"], summary["arms"][0]["n"]) == ("ADSC", 1)
