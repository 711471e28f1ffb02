"""Comparisons of two photos of one subject: create, read, overlay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service import models as m
from service import repo
from service.deps import ReadSession, StateDep, Uploader, Viewer, audit, require_json
from service.engine import ComparisonUnavailable
from service.errors import ApiError
from service.routes.photos import PNG
from service.schemas import ERRORS, ComparisonIn, ComparisonPublic, ErrorBody
from service.security import Principal
from service.state import AppState

router = APIRouter(prefix="/v1/comparisons", tags=["comparisons"], responses=ERRORS)


@router.post(
    "",
    status_code=201,
    response_model=ComparisonPublic,
    dependencies=[Depends(require_json)],
    responses={
        200: {"model": ComparisonPublic, "description": "This pair was already compared"},
        415: {"model": ErrorBody},
        422: {"model": ErrorBody, "description": "The pair cannot be compared"},
    },
)
async def create_comparison(
    body: ComparisonIn, request: Request, who: Uploader, state: StateDep
) -> Response:
    """Compare two photos of one subject (``before`` and ``after`` photo ids)."""
    before, after, side, existing = await run_in_threadpool(_pair, state, who, body)
    if existing is not None:
        return JSONResponse(existing, status_code=200)
    try:
        result = await state.engine.compare(state.photo_file(before), state.photo_file(after), side)
    except ComparisonUnavailable as exc:
        raise ApiError(404, f"No comparison: {exc}.") from None
    saved = await run_in_threadpool(_save, state, before, after, result)
    audit(request, comparison_id=saved["id"])
    return JSONResponse(saved, status_code=201)


@router.get("/{comparison_id}", response_model=ComparisonPublic)
def read_comparison(comparison_id: str, who: Viewer, s: ReadSession) -> dict[str, Any]:
    return repo.comparison_public(repo.find_comparison(s, who.study_id, comparison_id))


@router.get("/{comparison_id}/overlay.png", response_class=Response, responses=PNG)
async def comparison_overlay(comparison_id: str, who: Viewer, state: StateDep) -> Response:
    """The comparison drawn on the after photo."""
    before, after, side = await run_in_threadpool(_stored, state, who, comparison_id)
    try:
        png = await state.engine.pair_overlay(
            state.photo_file(before), state.photo_file(after), side
        )
    except ComparisonUnavailable as exc:
        raise ApiError(404, f"No overlay: {exc}.") from None
    return Response(png, media_type="image/png")


def _pair(
    state: AppState, who: Principal, body: ComparisonIn
) -> tuple[m.Photo, m.Photo, str | None, dict[str, Any] | None]:
    with state.db.read() as s:
        before = repo.require_photo(s, who.study_id, body.before).photo
        after = repo.require_photo(s, who.study_id, body.after).photo
        if before.subject_id != after.subject_id:
            raise ApiError(400, "Both photos must belong to the same subject.")
        if before.id == after.id:
            raise ApiError(400, "A photo cannot be compared with itself.")
        subject = s.get(m.Subject, after.subject_id)
        found = repo.existing_comparison(s, before.id, after.id)
        return (
            before,
            after,
            None if subject is None else subject.treated_side,
            None if found is None else repo.comparison_public(found),
        )


def _stored(
    state: AppState, who: Principal, comparison_id: str
) -> tuple[m.Photo, m.Photo, str | None]:
    with state.db.read() as s:
        row = repo.find_comparison(s, who.study_id, comparison_id)
        before = s.get_one(m.Photo, row.before_photo_id)
        after = s.get_one(m.Photo, row.after_photo_id)
        subject = s.get(m.Subject, row.subject_id)
        return before, after, None if subject is None else subject.treated_side


def _save(
    state: AppState, before: m.Photo, after: m.Photo, result: dict[str, Any]
) -> dict[str, Any]:
    with state.db.write() as s:
        return repo.comparison_public(
            repo.add_comparison(s, before, after, result, automatic=False)
        )
