"""Results: automatic and manual comparisons, timelines, per-arm summaries, CSV export, audit.

The fake engine's comparison is ``after - before`` with an MDC of 1 for every value, so the
expected numbers follow from the uploaded values.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from scipy import stats

from analysis.metrics import METRICS
from analysis.regions import REGIONS
from tests.service.conftest import STUDY, Api, FakeEngine, fake_photo, make_api, settings_for

S = f"/v1/studies/{STUDY}"


def test_follow_up_is_compared_to_the_baseline_on_upload(api: Api):
    base = api.upload("S1", fake_photo(30.0), visit="baseline").json()
    follow = api.upload("S1", fake_photo(20.0), visit="week4").json()
    comparison = follow["comparison"]
    assert follow["comparison_error"] is None
    assert comparison["before_photo_id"] == base["photo"]["id"]
    assert comparison["after_photo_id"] == follow["photo"]["id"]
    change = comparison["regions"]["forehead"]["wrinkles.severity"]
    assert change["delta"] == -10.0
    assert (change["significant"], change["direction"], change["improved"]) == (
        True,
        "decreased",
        True,
    )
    h = api.auth("viewer")
    assert api.client.get(f"/v1/comparisons/{comparison['id']}", headers=h).json() == comparison


def test_side_views_are_not_compared(api: Api):
    api.upload("S1", fake_photo(30.0), visit="baseline")
    side = api.upload("S1", fake_photo(20.0), visit="week4", view="left").json()
    assert side["comparison"] is None
    assert side["comparison_error"] is None


def test_a_late_baseline_compares_earlier_follow_ups_and_replaces_the_old_baseline(api: Api):
    h = api.auth("viewer")
    early = api.upload("S1", fake_photo(25.0), visit="week4", taken_at="2025-02-01").json()
    later = api.upload("S1", fake_photo(20.0), visit="week8", taken_at="2025-03-01").json()
    assert later["comparison"]["before_photo_id"] == early["photo"]["id"]  # earliest is baseline
    base = api.upload("S1", fake_photo(30.0), visit="baseline", taken_at="2025-01-01").json()
    assert base["comparison"] is None
    points = api.client.get(f"{S}/subjects/S1/timeline", headers=h).json()["points"]
    assert [p["visit"] for p in points] == ["baseline", "week4", "week8"]
    assert [p["delta"] for p in points] == [0.0, -5.0, -10.0]
    old = api.client.get(f"/v1/comparisons/{later['comparison']['id']}", headers=h)
    assert old.status_code == 200  # kept, but no longer the automatic one


def test_comparison_error_is_reported_without_failing_the_upload(tmp_path, sqlite_url):
    for api in make_api(settings_for(sqlite_url, tmp_path), FakeEngine(compare_available=False)):
        api.upload("S1", fake_photo(30.0), visit="baseline")
        follow = api.upload("S1", fake_photo(20.0), visit="week4")
        assert follow.status_code == 201
        assert follow.json()["comparison"] is None
        assert follow.json()["comparison_error"]["error"]["code"] == "comparison_unavailable"


def test_manual_comparison_is_created_once_and_drawn(api: Api):
    a = api.upload("S1", fake_photo(30.0), visit="week4").json()["photo"]["id"]
    b = api.upload("S1", fake_photo(27.5), visit="baseline").json()["photo"]["id"]
    h = api.auth("uploader")
    created = api.client.post("/v1/comparisons", headers=h, json={"before": a, "after": b})
    assert created.status_code == 201
    body = created.json()
    assert {"id", "schema_version", "before", "after", "registration", "regions"} <= set(body)
    assert body["regions"]["chin"]["redness.mean"]["delta"] == -2.5
    again = api.client.post("/v1/comparisons", headers=h, json={"before": a, "after": b})
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    png = api.client.get(f"/v1/comparisons/{body['id']}/overlay.png", headers=h)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


def test_manual_comparison_needs_two_photos_of_one_subject(api: Api):
    a = api.upload("S1", fake_photo(30.0)).json()["photo"]["id"]
    b = api.upload("S2", fake_photo(20.0)).json()["photo"]["id"]
    h = api.auth("uploader")
    for pair, status in (({"before": a, "after": b}, 400), ({"before": a, "after": a}, 400),
                         ({"before": a, "after": "nope"}, 404)):  # fmt: skip
        r = api.client.post("/v1/comparisons", headers=h, json=pair)
        assert r.status_code == status


def test_manual_comparison_without_the_engine_is_404_not_found(tmp_path, sqlite_url):
    for api in make_api(settings_for(sqlite_url, tmp_path), FakeEngine(compare_available=False)):
        a = api.upload("S1", fake_photo(30.0), visit="baseline").json()["photo"]["id"]
        b = api.upload("S1", fake_photo(20.0), visit="week4").json()["photo"]["id"]
        r = api.client.post("/v1/comparisons", headers=api.auth(), json={"before": a, "after": b})
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
        assert "not available" in r.json()["error"]["message"]


def test_photo_overlay_is_a_png(api: Api):
    photo = api.upload("S1", fake_photo(30.0)).json()["photo"]["id"]
    r = api.client.get(f"/v1/photos/{photo}/overlay.png", headers=api.auth("viewer"))
    assert r.status_code == 200
    assert r.content.startswith(b"\x89PNG")


def test_timeline_lists_values_with_baseline_first(api: Api):
    for visit, value, day in (("week8", 22.0, 3), ("baseline", 30.0, 1), ("week4", 29.5, 2)):
        api.upload("S1", fake_photo(value), visit=visit, taken_at=f"2025-01-0{day}T09:00:00Z")
    r = api.client.get(
        f"{S}/subjects/S1/timeline",
        headers=api.auth("viewer"),
        params={"metric": "pigmentation.spot_count", "region": "cheek_left"},
    )
    body = r.json()
    assert (body["subject"], body["metric"], body["region"]) == (
        "S1",
        "pigmentation.spot_count",
        "cheek_left",
    )
    assert [(p["visit"], p["value"], p["delta"], p["significant"]) for p in body["points"]] == [
        ("baseline", 30.0, 0.0, False),
        ("week4", 29.5, -0.5, False),
        ("week8", 22.0, -8.0, True),
    ]
    assert body["points"][0]["taken_at"] == "2025-01-01T09:00:00Z"
    assert all(p["photo_id"] for p in body["points"])


def test_timeline_says_which_follow_ups_were_out_of_focus(api: Api):
    """Each point carries its comparison's focus: whether the pair warned ``focus_differs``,
    which photo was softened to the other's focus and by how much."""
    api.upload("S1", fake_photo(30.0), visit="baseline", taken_at="2025-01-01")
    api.upload("S1", fake_photo(29.0, focus=0.05), visit="week4", taken_at="2025-02-01")
    api.upload("S1", fake_photo(25.0, focus=0.25), visit="week8", taken_at="2025-03-01")
    body = api.client.get(f"{S}/subjects/S1/timeline", headers=api.auth("viewer")).json()
    focus = [(p["focus_differs"], p["focus_softened"], p["focus_blur_mm"]) for p in body["points"]]
    assert focus == [(None, None, None), (False, "before", 0.05), (True, "before", 0.25)]


def test_unknown_metric_or_region_is_400(api: Api):
    h = api.auth("viewer")
    for params in ({"metric": "wrinkles.beauty"}, {"region": "elbow"}):
        assert api.client.get(f"{S}/summary", headers=h, params=params).status_code == 400


ARMS = {"ADSC": [30, 12, 20, 26], "placebo": [30, 29.5, 31, 30.2, 27], "MSC": [30, 31.5]}


def _seed_arms(api: Api) -> None:
    """Every subject: baseline 30, week4 and week12 photos; week12 value from ARMS minus 0."""
    h = api.auth("uploader")
    for arm, finals in ARMS.items():
        for i, final in enumerate(finals):
            code = f"{arm}-{i}"
            api.client.put(f"{S}/subjects/{code}", headers=h, json={"arm": arm})
            api.upload(code, fake_photo(30.0), visit="baseline", taken_at="2025-01-01")
            api.upload(code, fake_photo(30.0 + i), visit="week4", taken_at="2025-02-01")
            api.upload(code, fake_photo(float(final)), visit="week12", taken_at="2025-04-01")


def _expected(deltas: list[float], responders: int | None) -> dict[str, object]:
    d = np.asarray(deltas, float)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return {
        "n": len(d),
        "mean_change": pytest.approx(d.mean(), abs=1e-4),
        "ci95": [
            pytest.approx(d.mean() - half, abs=1e-3),
            pytest.approx(d.mean() + half, abs=1e-3),
        ],
        "responder_rate": None if responders is None else pytest.approx(responders / len(d)),
    }


def test_summary_per_arm_uses_each_subjects_latest_visit(api: Api):
    _seed_arms(api)
    body = api.client.get(f"{S}/summary", headers=api.auth("viewer")).json()
    assert (body["study"], body["metric"], body["region"], body["visit"]) == (
        STUDY,
        "wrinkles.severity",
        "full_face",
        None,
    )
    arms = {a["arm"]: {k: v for k, v in a.items() if k != "arm"} for a in body["arms"]}
    improved = {arm: sum(1 for f in finals if f < 29) for arm, finals in ARMS.items()}
    assert arms == {
        arm: _expected([f - 30.0 for f in finals], improved[arm]) for arm, finals in ARMS.items()
    }


def test_summary_at_a_given_visit_and_for_a_metric_without_better_direction(api: Api):
    _seed_arms(api)
    body = api.client.get(
        f"{S}/summary",
        headers=api.auth("viewer"),
        params={"visit": "week4", "metric": "pigmentation.ita_deg", "region": "chin"},
    ).json()
    arms = {a["arm"]: a for a in body["arms"]}
    assert arms["ADSC"]["mean_change"] == pytest.approx(np.mean([0, 1, 2, 3]))
    assert all(a["responder_rate"] is None for a in body["arms"])


def test_summary_of_one_subject_has_no_interval(api: Api):
    api.upload("S1", fake_photo(30.0), visit="baseline")
    api.upload("S1", fake_photo(20.0), visit="week4")
    (arm,) = api.client.get(f"{S}/summary", headers=api.auth("viewer")).json()["arms"]
    assert arm == {"arm": None, "n": 1, "mean_change": -10.0, "ci95": [None, None],
                   "responder_rate": 1.0}  # fmt: skip


def test_export_csv_has_one_row_per_photo_region_and_metric(api: Api):
    api.client.put(f"{S}/subjects/S1", headers=api.auth("uploader"), json={"arm": "iPSC"})
    api.upload("S1", fake_photo(30.0), visit="baseline", taken_at="2025-01-01T08:00:00Z")
    api.upload("S2", fake_photo(20.0), visit="baseline", view="left")
    r = api.client.get(f"{S}/export.csv", headers=api.auth("viewer"))
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "study", "subject", "arm", "visit", "view", "taken_at", "photo_id", "region", "metric",
        "value",
    ]  # fmt: skip
    assert len(rows) == 2 * len(REGIONS) * len(METRICS)
    first = rows[0]
    assert (first["study"], first["subject"], first["arm"], first["visit"]) == (
        STUDY,
        "S1",
        "iPSC",
        "baseline",
    )
    assert first["taken_at"] == "2025-01-01T08:00:00+00:00"
    assert float(first["value"]) == 30.0
    assert {r["view"] for r in rows} == {"frontal", "left"}


def test_audit_log_records_who_read_and_wrote_what(api: Api):
    photo = api.upload("S1", fake_photo(30.0)).json()["photo"]["id"]
    api.client.get(f"/v1/photos/{photo}", headers=api.auth("viewer"))
    api.client.delete(f"{S}/subjects/S1", headers=api.auth("viewer"))
    assert api.client.get(f"{S}/audit", headers=api.auth("uploader")).status_code == 403
    entries = api.client.get(f"{S}/audit", headers=api.auth("admin")).json()["data"]
    seen = [(e["role"], e["method"], e["route"], e["status"], e["target"]) for e in entries]
    assert seen == [
        ("uploader", "GET", f"{S}/audit".replace(STUDY, "{study}"), 403, {"study": STUDY}),
        ("viewer", "DELETE", "/v1/studies/{study}/subjects/{subject}", 403,
         {"study": STUDY, "subject": "S1"}),
        ("viewer", "GET", "/v1/photos/{photo_id}", 200, {"photo_id": photo}),
        ("uploader", "POST", "/v1/studies/{study}/subjects/{subject}/photos", 201,
         {"study": STUDY, "subject": "S1", "photo_id": photo}),
    ]  # fmt: skip
    assert all(e["key_id"] for e in entries)


def test_audit_log_pages_newest_first(api: Api):
    for _ in range(5):
        api.client.get(f"{S}/subjects", headers=api.auth("viewer"))
    h = api.auth("admin")
    first = api.client.get(f"{S}/audit", headers=h, params={"limit": 3}).json()
    second = api.client.get(
        f"{S}/audit", headers=h, params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    entries = first["data"] + second["data"]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert [e["route"] for e in entries] == ["/v1/studies/{study}/subjects"] * 5
    assert second["next_cursor"] is None
