"""Fixtures for the HTTP service: one app per test on SQLite and (under CI, or when reachable)
on PostgreSQL, keys for two studies, a fast fake engine and small real face photos.

PostgreSQL: each test run creates its own database ``wt_test_<random>`` (dropped at the end)
and each test its own schema in it. When the server cannot be reached the PostgreSQL tests
skip, saying why, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from analysis.errors import ERROR_TYPES
from analysis.metrics import BETTER, METRICS
from analysis.regions import REGIONS
from service.app import create_app
from service.engine import Engine
from service.security import create_key
from service.settings import Settings
from tests.conftest import face_path

POSTGRES_URL = os.environ.get(
    "WRINKLETRACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STUDY, OTHER = "trialA", "trialB"


# PostgreSQL ---------------------------------------------------------------------------------


def _admin_connect() -> Any:
    import psycopg

    return psycopg.connect(
        POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"),
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test run's own; its URL."""
    import psycopg

    name = f"wt_test_{secrets.token_hex(4)}"
    try:
        with _admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc})".strip()
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run")
        pytest.skip(f"{reason}; these tests run under CI=true or when the server is up")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_schema(base_url: str) -> str:
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wrinkletrack.db'}"
    return _postgres_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wrinkletrack.db'}"


# the fake engine ----------------------------------------------------------------------------


def fake_photo(
    value: float = 20.0, *, error: str | None = None, tag: str = "", focus: float = 0.0
) -> bytes:
    """Bytes the fake engine measures: every metric of every region equals ``value``;
    ``focus`` is how far out of focus the photo is (mm), which a comparison matches."""
    spec = {"value": value, "error": error, "tag": tag, "focus": focus}
    return b"FAKE" + json.dumps(spec).encode()


@dataclass(frozen=True)
class FakeAnalysis:
    spec: dict[str, Any]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        v = float(self.spec["value"])
        return {
            "schema_version": "1",
            "pipeline_version": "fake",
            "image": {"width": 1024, "height": 1024, "sha256": self.sha256},
            "quality": {"ok": True, "issues": []},
            "regions": {r: dict.fromkeys(METRICS, v) for r in REGIONS},
        }


@dataclass(frozen=True)
class FakeComparison:
    before: FakeAnalysis
    after: FakeAnalysis
    treated_side: str | None
    mdc: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        b, a = float(self.before.spec["value"]), float(self.after.spec["value"])
        significant = abs(a - b) > self.mdc

        def change(metric: str) -> dict[str, Any]:
            better = BETTER[metric]
            return {
                "before": b,
                "after": a,
                "delta": a - b,
                "delta_pct": None if b == 0 else 100 * (a - b) / b,
                "mdc": self.mdc,
                "significant": significant,
                "direction": ("decreased" if a < b else "increased")
                if significant
                else "unchanged",
                "improved": (better * (a - b) > 0) if significant and better else None,
            }

        # the sharper photo is softened to the other's focus, with a warning from 0.15 mm
        fb, fa = (float(x.spec.get("focus", 0.0)) for x in (self.before, self.after))
        softened = "before" if fb < fa else "after" if fa < fb else None
        issues = []
        if abs(fa - fb) >= 0.15:
            softer = "after" if fa > fb else "before"
            issues.append({"code": "focus_differs", "severity": "warning", "message": softer})
        return {
            "schema_version": "1",
            "before": {"image": {"sha256": self.before.sha256}},
            "after": {"image": {"sha256": self.after.sha256}},
            "registration": {"method": "fake", "residual_px": 0.5},
            "photometric": {"focus_softened": softened, "focus_blur_mm": abs(fa - fb)},
            "quality": {"ok": not issues, "issues": issues},
            "regions": {r: {m: change(m) for m in METRICS} for r in REGIONS},
        }


class FakeEngine(Engine):
    """Measures ``fake_photo`` bytes instantly (or after ``delay`` seconds)."""

    def __init__(self, delay: float = 0.0, compare_available: bool = True) -> None:
        super().__init__(workers=4, cache_size=4)
        self.delay = delay
        self.compare_available = compare_available

    def load_models(self) -> None:
        pass

    def run_analysis(self, data: bytes, view: str = "frontal") -> FakeAnalysis:
        import hashlib

        if not data.startswith(b"FAKE"):
            raise ERROR_TYPES["unsupported_format"]("Not a fake photo.")
        spec = json.loads(data[4:])
        time.sleep(self.delay)
        if spec["error"]:
            raise ERROR_TYPES[spec["error"]](f"Fake refusal: {spec['error']}.")
        return FakeAnalysis(spec, hashlib.sha256(data).hexdigest())

    def comparer(self) -> Any:
        from service.engine import ComparisonUnavailable

        if not self.compare_available:
            raise ComparisonUnavailable("comparisons are not available in this build")

        def compare(before: Any, after: Any, *, treated_side: Any, memo: Any) -> Any:
            return FakeComparison(before, after, treated_side)

        return compare

    def draw_photo(self, analysis: Any) -> Any:
        return np.zeros((8, 8, 3), np.uint8)

    def draw_pair(self, comparison: Any) -> Any:
        return np.full((8, 8, 3), 255, np.uint8)


# the app ------------------------------------------------------------------------------------


def _no_server_errors(response: Any) -> None:
    assert response.status_code < 500, f"{response.request.url} answered {response.status_code}"


@dataclass
class Api:
    """A test client with one key per (study, role)."""

    client: TestClient
    keys: dict[tuple[str, str], str]
    settings: Settings

    def auth(self, role: str = "admin", study: str = STUDY) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[study, role]}"}

    def upload(
        self,
        subject: str,
        data: bytes,
        *,
        visit: str = "baseline",
        role: str = "uploader",
        filename: str = "photo.jpg",
        headers: dict[str, str] | None = None,
        **form: str,
    ) -> Any:
        return self.client.post(
            f"/v1/studies/{STUDY}/subjects/{subject}/photos",
            headers={**self.auth(role), **(headers or {})},
            files={"file": (filename, data, "image/jpeg")},
            data={"visit": visit, **form},
        )

    @property
    def db(self) -> Any:
        return self.client.app.state.wt.db  # type: ignore[attr-defined]


def make_api(settings: Settings, engine: Engine | None) -> Iterator[Api]:
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        client.event_hooks["response"] = [_no_server_errors]
        keys = {}
        with app.state.wt.db.write() as s:
            for study, role in [(STUDY, r) for r in ("viewer", "uploader", "admin")] + [
                (OTHER, "admin")
            ]:
                keys[study, role] = create_key(s, study, role)
        deadline = time.monotonic() + 60
        while not app.state.wt.engine.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Api(client, keys, settings)


def settings_for(url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url, analysis_workers=2, **extra)


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def api(database_url: str, tmp_path: Path, fake_engine: FakeEngine) -> Iterator[Api]:
    """The app on SQLite and PostgreSQL with the fake engine."""
    yield from make_api(settings_for(database_url, tmp_path), fake_engine)


@pytest.fixture
def sqlite_api(sqlite_url: str, tmp_path: Path, fake_engine: FakeEngine) -> Iterator[Api]:
    """The app on SQLite only, with the fake engine."""
    yield from make_api(settings_for(sqlite_url, tmp_path), fake_engine)


@pytest.fixture
def real_api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app on SQLite with the real analysis engine."""
    yield from make_api(settings_for(sqlite_url, tmp_path), None)


# real photos --------------------------------------------------------------------------------


def jpeg_face(stem: str, side: int = 1024, quality: int = 92, **save: Any) -> bytes:
    """A real face photo downscaled to ``side`` px, as JPEG bytes."""
    from PIL import Image

    with Image.open(face_path(stem)) as im:
        im = im.convert("RGB")
        im.thumbnail((side, side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, **save)
    return buf.getvalue()
