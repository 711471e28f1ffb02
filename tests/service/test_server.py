"""The real server process, started as docs/service.md says (`wrinkletrack serve`), driven over
HTTP, stopped and started again: everything uploaded is still there."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from tests.conftest import REPO
from tests.service.conftest import jpeg_face

PAIR = ("pd_biden_2013_vp", "pd_biden_2021_presidential")
STUDY = "trial-1"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(env: dict[str, str], port: int, log: Path) -> Iterator[httpx2.Client]:
    with log.open("a") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=err,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.2)
            yield client
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()
        assert log.read_text().count("Application shutdown complete") >= 1


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRINKLETRACK_")}
    env["WRINKLETRACK_DATA_DIR"] = str(tmp_path / "data")
    return env


def _key(env: dict[str, str], role: str) -> dict[str, str]:
    made = _cli("keys", "create", "--study", STUDY, "--role", role, env=env)
    assert made.returncode == 0, made.stderr
    return {"Authorization": f"Bearer {made.stdout.strip()}"}


def _upload_pair(client: httpx2.Client, auth: dict[str, str]) -> list[dict[str, object]]:
    bodies = []
    for visit, stem in zip(("baseline", "week4"), PAIR, strict=True):
        r = client.post(
            f"/v1/studies/{STUDY}/subjects/S001/photos",
            headers=auth,
            files={"file": (f"{stem}.jpg", jpeg_face(stem), "image/jpeg")},
            data={"visit": visit},
        )
        assert r.status_code == 201, r.text
        bodies.append(r.json())
    return bodies


def _check_logs(log: Path) -> None:
    text = log.read_text()
    assert "Traceback" not in text
    assert PAIR[0] not in text  # uploaded file names are never logged
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("message") == "request" and e.get("status") == 201 for e in entries)


@pytest.mark.slow
def test_server_keeps_uploads_across_a_restart(environment, tmp_path: Path):
    auth = _key(environment, "uploader")
    port, log = _free_port(), tmp_path / "server.log"
    with _server(environment, port, log) as client:
        first = _upload_pair(client, auth)
        photos = client.get(f"/v1/studies/{STUDY}/subjects/S001/photos", headers=auth).json()
        assert [p["id"] for p in photos["data"]] == [b["photo"]["id"] for b in first]  # type: ignore[index]
        export = client.get(f"/v1/studies/{STUDY}/export.csv", headers=auth).text
    with _server(environment, port, log) as client:
        again = client.get(f"/v1/studies/{STUDY}/subjects/S001/photos", headers=auth).json()
        assert again == photos
        for body in first:
            photo_id = body["photo"]["id"]  # type: ignore[index]
            analysis = client.get(f"/v1/photos/{photo_id}/analysis", headers=auth).json()
            assert analysis == body["analysis"]
        assert client.get(f"/v1/studies/{STUDY}/export.csv", headers=auth).text == export
    _check_logs(log)


@pytest.mark.slow
def test_server_compares_a_same_person_pair_and_keeps_it_across_a_restart(
    environment, tmp_path: Path
):
    pytest.importorskip("analysis.compare", reason="analysis.compare has not landed yet")
    auth = _key(environment, "uploader")
    port, log = _free_port(), tmp_path / "server.log"
    with _server(environment, port, log) as client:
        _, follow = _upload_pair(client, auth)
        comparison = follow["comparison"]
        assert follow["comparison_error"] is None, follow["comparison_error"]
        assert isinstance(comparison, dict)
        assert {"id", "schema_version", "before", "after", "registration", "regions"} <= set(
            comparison
        )
        timeline = client.get(f"/v1/studies/{STUDY}/subjects/S001/timeline", headers=auth).json()
        summary = client.get(f"/v1/studies/{STUDY}/summary", headers=auth).json()
    with _server(environment, port, log) as client:
        read = client.get(f"/v1/comparisons/{comparison['id']}", headers=auth)
        assert read.json() == comparison
        assert (
            client.get(f"/v1/studies/{STUDY}/subjects/S001/timeline", headers=auth).json()
            == timeline
        )
        assert client.get(f"/v1/studies/{STUDY}/summary", headers=auth).json() == summary
    _check_logs(log)
