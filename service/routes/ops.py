"""Operations routes at the root, no key needed: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from service.deps import StateDep
from service.state import AppState

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (on the event loop, whatever the analyses are doing)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    """200 when the database answers and the face models are loaded, else 503."""
    database = await run_in_threadpool(_database_ok, state)
    models = state.engine.ready
    ok = database and models
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "database": database, "models": models},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _database_ok(state: AppState) -> bool:
    try:
        with state.db.read() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
