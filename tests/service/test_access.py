"""The access matrix: no key 401, another study's key 404, a role without the right 403, each
with DESIGN.md's error body; and each role is admitted where it should be."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import OTHER, STUDY, Api, fake_photo

S = f"/v1/studies/{STUDY}"


@pytest.fixture
def routes(api: Api) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, least role, request kwargs) for every /v1 route, on existing data."""
    first = api.upload("S1", fake_photo(30.0), visit="baseline").json()
    second = api.upload("S1", fake_photo(20.0), visit="week4").json()
    photo, comparison = first["photo"]["id"], second["comparison"]["id"]
    upload = {"files": {"file": ("p.jpg", fake_photo(10.0), "image/jpeg")}, "data": {"visit": "w8"}}
    pair = {"json": {"before": photo, "after": second["photo"]["id"]}}
    return [
        ("GET", S, "viewer", {}),
        ("GET", f"{S}/subjects", "viewer", {}),
        ("GET", f"{S}/subjects/S1", "viewer", {}),
        ("PUT", f"{S}/subjects/S1", "uploader", {"json": {"arm": "MSC"}}),
        ("GET", f"{S}/subjects/S1/photos", "viewer", {}),
        ("POST", f"{S}/subjects/S1/photos", "uploader", upload),
        ("GET", f"/v1/photos/{photo}", "viewer", {}),
        ("GET", f"/v1/photos/{photo}/analysis", "viewer", {}),
        ("GET", f"/v1/photos/{photo}/overlay.png", "viewer", {}),
        ("POST", "/v1/comparisons", "uploader", pair),
        ("GET", f"/v1/comparisons/{comparison}", "viewer", {}),
        ("GET", f"/v1/comparisons/{comparison}/overlay.png", "viewer", {}),
        ("GET", f"{S}/subjects/S1/timeline", "viewer", {}),
        ("GET", f"{S}/summary", "viewer", {}),
        ("GET", f"{S}/export.csv", "viewer", {}),
        ("GET", f"{S}/audit", "admin", {}),
        ("DELETE", f"{S}/subjects/S1", "admin", {}),
    ]


def _expect(response: Any, status: int, code: str) -> str | None:
    body = response.json()
    if response.status_code != status or body["error"]["code"] != code:
        return (
            f"{response.request.method} {response.request.url.path}: {response.status_code} {body}"
        )
    assert body["error"]["message"]
    return None


def test_no_key_is_401(api: Api, routes):
    failures = [
        _expect(api.client.request(m, p, **kw), 401, "unauthorized") for m, p, _, kw in routes
    ]
    assert not [f for f in failures if f]


def test_unknown_key_is_401(api: Api, routes):
    bad = {"Authorization": "Bearer wt_not-a-key"}
    failures = [
        _expect(api.client.request(m, p, headers=bad, **kw), 401, "unauthorized")
        for m, p, _, kw in routes
    ]
    assert not [f for f in failures if f]


def test_other_study_key_finds_nothing_404(api: Api, routes):
    other = api.auth("admin", OTHER)
    failures = [
        _expect(api.client.request(m, p, headers=other, **kw), 404, "not_found")
        for m, p, _, kw in routes
    ]
    assert not [f for f in failures if f]


def test_role_without_the_right_is_403(api: Api, routes):
    below = {"uploader": "viewer", "admin": "uploader"}
    failures = [
        _expect(api.client.request(m, p, headers=api.auth(below[r]), **kw), 403, "forbidden")
        for m, p, r, kw in routes
        if r != "viewer"
    ]
    assert not [f for f in failures if f]


def test_each_role_is_admitted_where_it_should_be(api: Api, routes):
    for method, path, role, kw in routes:
        response = api.client.request(method, path, headers=api.auth(role), **kw)
        assert response.status_code < 300, (method, path, response.status_code, response.text)


def test_viewer_cannot_write_anything(api: Api, routes):
    for method, path, _, kw in routes:
        if method != "GET":
            response = api.client.request(method, path, headers=api.auth("viewer"), **kw)
            assert response.status_code == 403


def test_operations_routes_need_no_key(api: Api):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert api.client.get(path).status_code == 200
