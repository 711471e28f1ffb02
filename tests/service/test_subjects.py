"""Subjects: create, update, list with cursors, erase with everything that belongs to them."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from service import models as m
from tests.service.conftest import STUDY, Api, FakeEngine, fake_photo

S = f"/v1/studies/{STUDY}/subjects"


def test_put_creates_then_updates_only_the_fields_given(api: Api):
    h = api.auth("uploader")
    body = {"arm": "ADSC", "treated_side": "left", "treated_regions": ["crows_feet_left"]}
    created = api.client.put(f"{S}/S001", headers=h, json=body)
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "subject": "S001",
        "study": STUDY,
        "arm": "ADSC",
        "treated_side": "left",
        "treated_regions": ["crows_feet_left"],
        "created_at": None,
        "updated_at": None,
    }
    updated = api.client.put(f"{S}/S001", headers=h, json={"arm": "placebo"})
    assert updated.status_code == 200
    assert updated.json()["arm"] == "placebo"
    assert updated.json()["treated_side"] == "left"
    assert api.client.get(f"{S}/S001", headers=h).json() == updated.json()


def test_put_with_invalid_fields_is_400(api: Api):
    h = api.auth("uploader")
    for body in ({"treated_side": "middle"}, {"treated_regions": ["elbow"]}, {"colour": 1}):
        r = api.client.put(f"{S}/S001", headers=h, json=body)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_request"


def test_put_with_a_bad_subject_code_is_400(api: Api):
    for code in ("-S1", "S 1", "S1;DROP", "x" * 65):
        r = api.client.put(f"{S}/{code}", headers=api.auth("uploader"), json={})
        assert r.status_code == 400, code
        assert r.json()["error"]["code"] == "bad_request"


def test_put_without_json_is_415(api: Api):
    r = api.client.put(f"{S}/S001", headers=api.auth("uploader"), content=b"arm=ADSC")
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


def test_list_pages_with_opaque_cursors(api: Api):
    h = api.auth("uploader")
    codes = [f"S{i:03d}" for i in range(7)]
    for code in reversed(codes):
        api.client.put(f"{S}/{code}", headers=h, json={})
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.client.get(S, headers=h, params=params).json()
        seen += [s["subject"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == codes


def test_invalid_cursor_and_limit_are_400(api: Api):
    h = api.auth("viewer")
    for params in ({"cursor": "garbage!"}, {"cursor": "WzEsMl0"}, {"limit": 0}, {"limit": 10_000}):
        r = api.client.get(S, headers=h, params=params)
        assert r.status_code == 400, params
        assert r.json()["error"]["code"] == "bad_request"


def test_unknown_subject_is_404(api: Api):
    r = api.client.get(f"{S}/NOPE", headers=api.auth("viewer"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def _count(api: Api, table: type[m.Base]) -> int:
    with api.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_delete_erases_photos_files_and_results(api: Api):
    for subject, value in (("GONE", 30.0), ("KEPT", 40.0)):
        api.upload(subject, fake_photo(value), visit="baseline")
        api.upload(subject, fake_photo(value - 5), visit="week4")
    photos = Path(api.settings.photos_dir)
    assert len([p for p in photos.rglob("*") if p.is_file()]) == 4
    tables = (m.Visit, m.Photo, m.Analysis, m.MetricValue, m.Comparison, m.ComparisonValue)
    before = {t: _count(api, t) for t in tables}
    assert api.client.delete(f"{S}/GONE", headers=api.auth("admin")).status_code == 204
    assert {t: _count(api, t) for t in tables} == {t: n // 2 for t, n in before.items()}
    assert len([p for p in photos.rglob("*") if p.is_file()]) == 2
    assert api.client.get(f"{S}/GONE", headers=api.auth("admin")).status_code == 404
    assert api.client.delete(f"{S}/GONE", headers=api.auth("admin")).status_code == 404
    kept = api.client.get(f"{S}/KEPT/photos", headers=api.auth("viewer")).json()["data"]
    assert len(kept) == 2
    cache = api.client.app.state.wt.engine._cache  # the erased subject's are gone from memory
    assert {sha for key in cache for sha in key if len(sha) == 64} == {p["sha256"] for p in kept}


class _HeldEngine(FakeEngine):
    """Its analyses wait for ``go`` once they have started (``entered``)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.go = threading.Event(), threading.Event()

    def run_analysis(self, data: bytes, view: str = "frontal") -> Any:
        self.entered.set()
        assert self.go.wait(30)
        return super().run_analysis(data, view)


def test_results_computed_across_an_erasure_are_not_kept_in_memory():
    """A subject erased while its photo is still being measured: the result goes to the
    request that asked for it and is not cached, and no comparison memo is kept for it. The
    same photo uploaded again later is kept as usual."""
    engine = _HeldEngine()
    data = fake_photo(33.0)
    sha = hashlib.sha256(data).hexdigest()
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(engine._analysis, sha, lambda: data)
            assert engine.entered.wait(30)
            started = engine._erasures
            engine.forget([sha])
            engine.go.set()
            assert job.result().spec["value"] == 33.0
        assert (sha,) not in engine._cache
        engine._memo(sha, started)  # a comparison that began before the erasure
        assert sha not in engine._memos
        engine._analysis(sha, lambda: data)
        engine._memo(sha, engine._erasures)
        assert (sha,) in engine._cache
        assert sha in engine._memos
    finally:
        engine.close()
