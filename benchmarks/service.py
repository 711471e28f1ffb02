"""Service benchmark: ``python -m benchmarks.service [--photo STEM] [--uploads N]``.

Prints a table of
- p50/p95 latency of an HTTP upload plus analysis of a 1024 px photo (a real server process on
  SQLite), next to the in-process analysis of the same photos (target: p95 at most 1.5x);
- the median latency of the study summary with 1000 subjects next to 100 subjects, on SQLite
  and PostgreSQL (target: at most 2x).

Each upload carries a photo of its own (a corner block recoloured), so that no upload is a
replay or a cached analysis. The PostgreSQL rows are skipped, saying why, when the server
cannot be reached.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analysis.metrics import METRICS
from analysis.regions import REGIONS
from datasets.shared_faces import FACES_DIR
from service import models as m
from service.db import Database
from service.security import create_key

FACES = FACES_DIR
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ARMS = ("ADSC", "MSC", "umbilical", "iPSC", "epidermal", "placebo")


def photo_variants(stem: str, n: int, side: int = 1024) -> list[bytes]:
    """``n`` different JPEGs of the face photo ``stem`` at ``side`` px (a corner block of each
    gets its own colour)."""
    from PIL import Image

    with Image.open(FACES / f"{stem}.jpg") as original:
        im = original.convert("RGB")
    im.thumbnail((side, side))
    rgb = np.asarray(im).copy()
    out = []
    for i in range(n):
        rgb[:16, :16] = ((37 * i) % 256, (11 * i) % 256, i // 256)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=92)
        out.append(buf.getvalue())
    assert len(set(out)) == n, "photo variants must differ"
    return out


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def time_calls(fn: Callable[[Any], object], items: list[Any]) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return times


# upload ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data_dir: Path) -> Iterator[str]:
    """A ``wrinkletrack serve`` process on a free port; its base URL."""
    import httpx2

    port = _free_port()
    env = {
        **os.environ,
        "WRINKLETRACK_DATA_DIR": str(data_dir),
        "WRINKLETRACK_LOG_LEVEL": "WARNING",
    }
    env.pop("WRINKLETRACK_DATABASE_URL", None)
    code = "import sys; from service.commands import serve; serve('127.0.0.1', int(sys.argv[1]))"
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def bench_upload(stem: str, n: int) -> dict[str, tuple[float, float]]:
    """Latencies of in-process analyses and HTTP uploads, interleaved so that both see the
    same machine load."""
    import httpx2

    from analysis import analyze
    from analysis.face import shared_finder

    photos = photo_variants(stem, 2 * n + 2)
    finder = shared_finder()
    analyze(photos[-1], finder=finder)  # warm up
    local: list[float] = []
    remote: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'wrinkletrack.db'}")
        db.migrate()
        with db.write() as s:
            key = create_key(s, "bench", "uploader")
        db.dispose()
        with server(Path(tmp)) as base, httpx2.Client(base_url=base, timeout=120) as client:
            auth = {"Authorization": f"Bearer {key}"}

            def upload(i: int, data: bytes) -> None:
                r = client.post(
                    f"/v1/studies/bench/subjects/B{i:04d}/photos",
                    headers=auth,
                    files={"file": ("photo.jpg", data, "image/jpeg")},
                    data={"visit": "baseline"},
                )
                assert r.status_code == 201, r.text

            upload(n, photos[-2])  # warm up
            for i in range(n):
                start = time.perf_counter()
                analyze(photos[i], finder=finder)
                local.append(time.perf_counter() - start)
                start = time.perf_counter()
                upload(i, photos[n + i])
                remote.append(time.perf_counter() - start)
    return {
        "in-process analysis": percentiles(local),
        "HTTP upload + analysis": percentiles(remote),
    }


# summary --------------------------------------------------------------------------------------


def seed_study(db: Database, study: str, subjects: int, followups: int = 2) -> None:
    """A study whose subjects each have a baseline and ``followups`` automatic comparisons with
    every region and metric, as uploads would leave them (values made up, rows real)."""
    rng = np.random.default_rng(subjects)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    with db.write() as s:
        create_key(s, study, "viewer")
    with db.write() as s:
        study_id = s.query(m.Study.id).filter(m.Study.name == study).scalar()
        subject_rows = [
            m.Subject(study_id=study_id, code=f"S{i:05d}", arm=ARMS[i % len(ARMS)],
                      treated_regions=[], created_at=t0, updated_at=t0)
            for i in range(subjects)
        ]  # fmt: skip
        s.add_all(subject_rows)
        s.flush()
        photos, comparisons, values = [], [], []
        for subject in subject_rows:
            visits = [m.Visit(subject_id=subject.id, label=v) for v in ("baseline", "w4", "w12")]
            s.add_all(visits)
            s.flush()
            shots = [
                m.Photo(id=secrets.token_hex(16), study_id=study_id, subject_id=subject.id,
                        visit_id=v.id, view="frontal", taken_at=t0 + timedelta(days=30 * k),
                        uploaded_at=t0, sha256="0" * 64, size_bytes=1)
                for k, v in enumerate(visits[: followups + 1])
            ]  # fmt: skip
            photos += shots
            for k, after in enumerate(shots[1:], start=1):
                cid = secrets.token_hex(16)
                comparisons.append(
                    {"id": cid, "study_id": study_id, "subject_id": subject.id,
                     "before_photo_id": shots[0].id, "after_photo_id": after.id,
                     "after_at": after.taken_at, "after_visit": visits[k].label,
                     "automatic": True, "latest": after is shots[-1], "result": {},
                     "created_at": t0}
                )  # fmt: skip
                deltas = rng.normal(-1.0, 3.0, len(REGIONS) * len(METRICS))
                values += [
                    {"comparison_id": cid, "region": r, "metric": mt, "delta": float(d),
                     "mdc": 2.0, "significant": abs(d) > 2, "improved": bool(d < -2)}
                    for (r, mt), d in zip(
                        ((r, mt) for r in REGIONS for mt in METRICS), deltas, strict=True
                    )
                ]  # fmt: skip
        s.add_all(photos)
        s.flush()
        s.execute(m.Comparison.__table__.insert(), comparisons)  # type: ignore[attr-defined]
        s.execute(m.ComparisonValue.__table__.insert(), values)  # type: ignore[attr-defined]


def bench_summary(url: str, repeats: int) -> dict[int, float]:
    """Median summary latency (ms) through the app, per study size."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=url)
        db = Database(url)
        db.migrate()
        for n in (100, 1000):
            seed_study(db, f"s{n}", n)
        keys = {}
        with db.write() as s:
            for n in (100, 1000):
                keys[n] = create_key(s, f"s{n}", "viewer")
        db.dispose()
        out = {}
        with TestClient(create_app(settings)) as client:
            for n in (100, 1000):
                auth = {"Authorization": f"Bearer {keys[n]}"}
                path = f"/v1/studies/s{n}/summary"

                def get(
                    _: object, path: str = path, auth: dict[str, str] = auth, n: int = n
                ) -> None:
                    r = client.get(path, headers=auth)
                    assert r.status_code == 200, r.text
                    assert sum(a["n"] for a in r.json()["arms"]) == n

                get(None)
                out[n] = statistics.median(time_calls(get, [None] * repeats)) * 1000
    return out


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"wt_bench_{secrets.token_hex(4)}"
    admin = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="pd_biden_2013_vp", help="stem in ../shared/faces")
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    rows = []
    up = bench_upload(args.photo, args.uploads)
    (lp50, lp95), (hp50, hp95) = up["in-process analysis"], up["HTTP upload + analysis"]
    rows.append(("in-process analysis, 1024 px", f"{lp50:.0f}", f"{lp95:.0f}", ""))
    rows.append(("HTTP upload + analysis, 1024 px", f"{hp50:.0f}", f"{hp95:.0f}",
                 f"p95 {hp95 / lp95:.2f}x (target <= 1.5x)"))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        backends: list[tuple[str, Callable[[], Any]]] = [
            ("SQLite", lambda: _nullcontext(f"sqlite:///{Path(tmp) / 'summary.db'}")),
            ("PostgreSQL", postgres_database),
        ]
        for name, database in backends:
            try:
                with database() as url:
                    med = bench_summary(url, args.repeats)
            except Exception as exc:
                rows.append((f"summary, {name}", "-", "-", f"skipped: {exc}".splitlines()[0]))
                continue
            rows.append((f"summary, {name}, 100 subjects", f"{med[100]:.1f}", "", ""))
            rows.append((f"summary, {name}, 1000 subjects", f"{med[1000]:.1f}", "",
                         f"{med[1000] / med[100]:.2f}x (target <= 2x)"))  # fmt: skip
    header = ("measurement", "p50/median ms", "p95 ms", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


@contextmanager
def _nullcontext(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
