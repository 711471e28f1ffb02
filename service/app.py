"""The FastAPI application: ``create_app(settings)`` wires state, middleware, errors and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from service import errors
from service.db import Database
from service.engine import Engine
from service.models import AuditEntry
from service.observability import LimitBody, Metrics, Observe
from service.repo import now
from service.routes import comparisons, ops, photos, studies, subjects
from service.settings import Settings
from service.state import AppState
from service.storage import PhotoStore

DESCRIPTION = """Per-region wrinkle and pigmentation measurements of face photos, their change
against each subject's baseline, and per-arm summaries. Every `/v1` route needs
`Authorization: Bearer <key>`; keys are scoped to one study with the role viewer, uploader or
admin. Errors: `{"error": {"code", "message"}}`."""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The app; the database is migrated and the models start loading at startup."""
    settings = settings or Settings()
    db = Database(settings.db_url)
    state = AppState(
        settings=settings,
        db=db,
        store=PhotoStore(settings.photos_dir),
        engine=engine or Engine(settings.analysis_workers, settings.analysis_cache),
        metrics=Metrics(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.migrate)
        state.engine.start()
        try:
            yield
        finally:
            await run_in_threadpool(state.engine.close)
            db.dispose()

    app = FastAPI(
        title="wrinkletrack",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.wt = state
    errors.install(app)
    for module in (subjects, photos, comparisons, studies, ops):
        app.include_router(module.router)
    app.add_middleware(LimitBody, limit=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Idempotent-Replayed", "X-Request-Id"],
        )
    app.add_middleware(Observe, metrics=state.metrics, audit=_audit_writer(db))
    return app


def _audit_writer(db: Database) -> Any:
    def write(entry: dict[str, Any]) -> None:
        with db.write() as s:
            s.add(AuditEntry(at=now(), **entry))

    return write
