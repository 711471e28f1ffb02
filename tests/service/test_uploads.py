"""Uploads: refusals (422 with the analysis code), retries, size and type limits, file names."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analysis.errors import ERROR_TYPES
from service import models as m
from tests.service.conftest import STUDY, Api, fake_photo

PHOTOS = f"/v1/studies/{STUDY}/subjects/S1/photos"
PHOTO_CODES = sorted(set(ERROR_TYPES) - {"registration_failed"})


def _rows(api: Api, table: type[m.Base]) -> int:
    with api.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _files(api: Api) -> list[Path]:
    return [p for p in Path(api.settings.data_dir).rglob("*") if p.is_file()]


def test_upload_returns_photo_and_analysis_and_creates_the_subject(api: Api):
    r = api.upload("S1", fake_photo(30.0), visit="baseline", taken_at="2025-01-02T10:00:00+01:00")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"photo", "analysis", "comparison", "comparison_error"}
    photo = body["photo"]
    assert {"id", "subject", "visit", "view", "taken_at", "sha256"} <= set(photo)
    assert (photo["subject"], photo["visit"], photo["view"]) == ("S1", "baseline", "frontal")
    assert photo["taken_at"] == "2025-01-02T09:00:00Z"
    assert body["analysis"]["regions"]["forehead"]["wrinkles.severity"] == 30.0
    assert body["comparison"] is None
    assert body["comparison_error"] is None
    h = api.auth("viewer")
    assert api.client.get(f"/v1/photos/{photo['id']}", headers=h).json() == photo
    assert (
        api.client.get(f"/v1/photos/{photo['id']}/analysis", headers=h).json() == body["analysis"]
    )
    assert api.client.get(f"/v1/studies/{STUDY}/subjects/S1", headers=h).status_code == 200


def test_every_refusal_is_422_with_its_code_and_nothing_is_kept(api: Api):
    for code in PHOTO_CODES:
        r = api.upload("S1", fake_photo(error=code))
        assert r.status_code == 422, code
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["message"]
    assert _rows(api, m.Photo) == _rows(api, m.Subject) == 0
    assert [p.name for p in _files(api) if "photos" in p.parts] == []
    metrics = api.client.get("/metrics").text
    for code in PHOTO_CODES:
        assert f'wrinkletrack_analyses_total{{outcome="{code}"}} 1.0' in metrics


def test_retry_with_the_same_idempotency_key_returns_the_first_photo(api: Api):
    key = {"Idempotency-Key": "upload-7f3a"}
    first = api.upload("S1", fake_photo(30.0), headers=key)
    again = api.upload("S1", fake_photo(30.0), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _rows(api, m.Photo) == 1


def test_idempotency_key_reused_for_other_content_is_409(api: Api):
    key = {"Idempotency-Key": "upload-7f3a"}
    api.upload("S1", fake_photo(30.0), headers=key)
    r = api.upload("S1", fake_photo(31.0), headers=key)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert _rows(api, m.Photo) == 1


def test_same_content_for_the_same_subject_and_visit_is_not_duplicated(api: Api):
    first = api.upload("S1", fake_photo(30.0), visit="week4")
    again = api.upload("S1", fake_photo(30.0), visit="week4", filename="other-name.jpg")
    other_visit = api.upload("S1", fake_photo(30.0), visit="week8")
    assert (first.status_code, again.status_code, other_visit.status_code) == (201, 200, 201)
    assert again.json()["photo"]["id"] == first.json()["photo"]["id"]
    assert other_visit.json()["photo"]["id"] != first.json()["photo"]["id"]
    assert _rows(api, m.Photo) == 2


def test_file_name_is_never_used_as_a_path_nor_logged(api: Api, caplog):
    caplog.set_level(logging.DEBUG)
    r = api.upload("S1", fake_photo(30.0), filename="../../etc/passwd.jpg")
    assert r.status_code == 201
    assert "passwd" not in r.text
    sha = r.json()["photo"]["sha256"]
    stored = [p for p in _files(api) if "photos" in p.parts]
    assert [p.name for p in stored] == [sha]
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in stored)
    assert stored[0].read_bytes() == fake_photo(30.0)
    assert not any("passwd" in str(p) for p in Path(api.settings.data_dir).parent.rglob("*"))
    assert "passwd" not in caplog.text


def test_a_100_mb_body_is_413(api: Api):
    r = api.upload("S1", b"\0" * (100 * 2**20))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_is_413(api: Api):
    boundary = "wtboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="visit"\r\n\r\nbaseline\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()

    def body():
        yield head
        for _ in range(80):
            yield b"\0" * 2**20

    r = api.client.post(
        PHOTOS,
        headers={
            **api.auth("uploader"),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body(),
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"visit": "baseline"}},
        {"data": {"visit": "baseline"}},
        {"content": fake_photo(), "headers": {"Content-Type": "image/jpeg"}},
    ],
)
def test_an_upload_that_is_not_multipart_is_415(sqlite_api: Api, kwargs):
    headers = {**sqlite_api.auth("uploader"), **kwargs.pop("headers", {})}
    r = sqlite_api.client.post(PHOTOS, headers=headers, **kwargs)
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "form",
    [{}, {"visit": "baseline", "view": "top"}, {"visit": "../x"}, {"visit": "b", "day": "soon"}],
)
def test_an_invalid_form_is_400(sqlite_api: Api, form):
    r = sqlite_api.client.post(
        PHOTOS,
        headers=sqlite_api.auth("uploader"),
        files={"file": ("a.jpg", fake_photo(), "image/jpeg")},
        data=form,
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_a_form_without_file_is_400(sqlite_api: Api):
    r = sqlite_api.client.post(
        PHOTOS,
        headers=sqlite_api.auth("uploader"),
        files={"other": ("a.txt", io.BytesIO(b"x"), "text/plain")},
        data={"visit": "baseline"},
    )
    assert r.status_code == 400
    assert "file" in r.json()["error"]["message"]


def test_photos_are_listed_in_time_order_with_cursors(api: Api):
    for day in (3, 1, 2, 5, 4):
        api.upload("S1", fake_photo(float(day)), visit=f"d{day}", taken_at=f"2025-01-0{day}")
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.client.get(PHOTOS, headers=api.auth("viewer"), params=params).json()
        seen += [p["visit"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["d1", "d2", "d3", "d4", "d5"]


def test_visit_date_and_day_offset_are_kept(api: Api):
    r = api.upload("S1", fake_photo(), visit="week4", visit_date="2025-02-01", day="28")
    assert (r.json()["photo"]["visit_date"], r.json()["photo"]["day"]) == ("2025-02-01", 28)
