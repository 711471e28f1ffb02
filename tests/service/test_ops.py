"""Operations: health, readiness, Prometheus metrics, JSON logs, CORS, OpenAPI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from service.logs import JsonFormatter
from tests.service.conftest import STUDY, Api, FakeEngine, fake_photo, make_api, settings_for


def test_healthz_and_readyz(sqlite_api: Api):
    assert sqlite_api.client.get("/healthz").json() == {"status": "ok"}
    assert sqlite_api.client.get("/readyz").json() == {
        "status": "ready",
        "database": True,
        "models": True,
    }


def test_engine_is_not_ready_before_its_models_load():
    engine = FakeEngine()
    assert not engine.ready
    engine.start()
    engine.close()
    assert engine.ready


def test_metrics_count_requests_latency_and_analyses_by_outcome(sqlite_api: Api):
    sqlite_api.upload("S1", fake_photo(30.0))
    sqlite_api.upload("S1", fake_photo(error="no_face"))
    text = sqlite_api.client.get("/metrics").text
    route = "/v1/studies/{study}/subjects/{subject}/photos"
    assert (
        f'wrinkletrack_http_requests_total{{method="POST",route="{route}",status="201"}} 1.0'
        in text
    )
    assert (
        f'wrinkletrack_http_requests_total{{method="POST",route="{route}",status="422"}} 1.0'
        in text
    )
    assert (
        f'wrinkletrack_http_request_duration_seconds_count{{method="POST",route="{route}"}} 2.0'
        in text
    )
    assert 'wrinkletrack_analyses_total{outcome="ok"} 1.0' in text
    assert 'wrinkletrack_analyses_total{outcome="no_face"} 1.0' in text
    assert STUDY not in text  # route templates, never concrete paths


def test_every_response_carries_a_request_id(sqlite_api: Api):
    ids = {sqlite_api.client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_access_log_is_one_json_object_per_request(sqlite_api: Api, caplog):
    caplog.set_level(logging.INFO, logger="wrinkletrack.service")
    sqlite_api.client.get(f"/v1/studies/{STUDY}/subjects", headers=sqlite_api.auth("viewer"))
    (record,) = [r for r in caplog.records if r.getMessage() == "request"]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "INFO"
    assert entry["route"] == "/v1/studies/{study}/subjects"
    assert entry["status"] == 200
    assert entry["key_id"] > 0
    assert entry["duration_ms"] >= 0
    assert "Bearer" not in json.dumps(entry)


def test_json_formatter_includes_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed"
    assert "ValueError: boom" in entry["exception"]


def test_cors_allows_configured_dashboards_only(tmp_path: Path, sqlite_url: str):
    settings = settings_for(sqlite_url, tmp_path, cors_origins=["https://dash.example"])
    for api in make_api(settings, FakeEngine()):
        preflight = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        }
        ok = api.client.options(
            "/v1/studies/x/subjects", headers={"Origin": "https://dash.example", **preflight}
        )
        assert ok.headers["access-control-allow-origin"] == "https://dash.example"
        other = api.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_are_read_comma_separated(monkeypatch):
    from service.settings import Settings

    monkeypatch.setenv("WRINKLETRACK_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_unknown_route_and_method_use_the_error_body(sqlite_api: Api):
    missing = sqlite_api.client.get("/v1/nothing")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = sqlite_api.client.patch("/healthz")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_openapi_documents_the_design_routes_with_examples(sqlite_api: Api):
    spec = sqlite_api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/studies/{study}/subjects", "get"),
        ("/v1/studies/{study}/subjects/{subject}", "put"),
        ("/v1/studies/{study}/subjects/{subject}", "delete"),
        ("/v1/studies/{study}/subjects/{subject}/photos", "get"),
        ("/v1/studies/{study}/subjects/{subject}/photos", "post"),
        ("/v1/photos/{photo_id}", "get"),
        ("/v1/photos/{photo_id}/analysis", "get"),
        ("/v1/photos/{photo_id}/overlay.png", "get"),
        ("/v1/comparisons", "post"),
        ("/v1/comparisons/{comparison_id}", "get"),
        ("/v1/comparisons/{comparison_id}/overlay.png", "get"),
        ("/v1/studies/{study}/subjects/{subject}/timeline", "get"),
        ("/v1/studies/{study}/summary", "get"),
        ("/v1/studies/{study}/export.csv", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths.get(path, {}), (method, path)
    upload = paths["/v1/studies/{study}/subjects/{subject}/photos"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    schemas = spec["components"]["schemas"]
    assert schemas["UploadResult"]["example"]["photo"]["visit"] == "week4"
    assert "example" in schemas["ComparisonPublic"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
