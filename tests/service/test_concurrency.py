"""Concurrent uploads: every photo stored once, no lock errors, health checks still answer."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analysis.metrics import METRICS
from analysis.regions import REGIONS
from service import models as m
from tests.service.conftest import Api, FakeEngine, fake_photo, jpeg_face, make_api, settings_for


def _count(api: Api, table: type[m.Base]) -> int:
    with api.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def slow_api(database_url: str, tmp_path: Path):
    """The fake engine taking 50 ms per photo, so that uploads overlap."""
    yield from make_api(settings_for(database_url, tmp_path), FakeEngine(delay=0.05))


def test_20_concurrent_uploads_are_all_stored_once(slow_api: Api, caplog):
    jobs = [(f"S{i % 4}", fake_photo(20.0 + i), f"v{i // 4}") for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda j: slow_api.upload(j[0], j[1], visit=j[2]), jobs))
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.json()["photo"]["id"] for a in answers}) == 20
    assert _count(slow_api, m.Subject) == 4
    assert _count(slow_api, m.Visit) == 20
    assert _count(slow_api, m.Photo) == _count(slow_api, m.Analysis) == 20
    assert _count(slow_api, m.MetricValue) == 20 * len(REGIONS) * len(METRICS)
    files = [p for p in Path(slow_api.settings.photos_dir).rglob("*") if p.is_file()]
    assert len(files) == 20
    assert "locked" not in caplog.text
    assert "audit entry could not be written" not in caplog.text


def test_concurrent_retries_of_one_upload_store_one_photo(slow_api: Api):
    key = {"Idempotency-Key": "same-upload"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: slow_api.upload("S1", fake_photo(30.0), headers=key), range(8))
        )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["photo"]["id"] for a in answers}) == 1
    assert _count(slow_api, m.Photo) == 1


REAL = ("pd_obama_2012_official", "pd_biden_2013_vp", "pd_biden_2021_presidential")


@pytest.mark.slow
def test_real_uploads_are_stored_while_health_checks_answer(real_api: Api, caplog):
    """Health checks answer while eight real uploads are analysed. An analysis blocking the
    server would hold a check for as long as that analysis takes, which among eight at once
    is longer than alone: so no check may wait as long as an upload timed alone on the same
    machine, the faster of two (the first may also load the models). The slowest check
    takes 0.15-0.5 s on a loaded 2-core runner, an upload alone 1.3 s; a fixed bound of
    0.5 s failed there at 0.51 s (2026-12-01)."""
    alone = float("inf")
    for quality in (90, 91):
        start = time.perf_counter()
        answer = real_api.upload("S-alone", jpeg_face(REAL[0], quality=quality))
        assert answer.status_code == 201
        alone = min(alone, time.perf_counter() - start)
    photos = [jpeg_face(REAL[i % 3], quality=80 + i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        uploads = [
            pool.submit(real_api.upload, f"S{i}", photo, visit="baseline")
            for i, photo in enumerate(photos)
        ]
        time.sleep(0.3)
        waits = []
        while not all(u.done() for u in uploads):
            start = time.perf_counter()
            assert real_api.client.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - start)
            time.sleep(0.05)
        assert [u.result().status_code for u in uploads] == [201] * 8
    assert waits, "the uploads finished before any health check"
    assert max(waits) < alone, (alone, waits)
    assert _count(real_api, m.Photo) == _count(real_api, m.Analysis) == 10
    assert "locked" not in caplog.text
