"""Photos: upload (multipart), list, read one, its analysis and its overlay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service import repo
from service.deps import ReadSession, StateDep, StudyName, SubjectCode, Uploader, Viewer, audit
from service.errors import ApiError
from service.models import Photo
from service.pagination import Cursor, Limit, decode_cursor, encode_cursor
from service.schemas import (
    ERRORS,
    ErrorBody,
    PhotoPublic,
    PhotosPublic,
    UploadForm,
    UploadResult,
)
from service.state import AppState
from service.uploads import Upload, upload_photo

router = APIRouter(tags=["photos"], responses=ERRORS)
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "PNG image"}
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "visit"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "visit": {"type": "string", "example": "week4"},
                        "view": {"type": "string", "enum": ["frontal", "left", "right"]},
                        "taken_at": {"type": "string", "format": "date-time"},
                        "visit_date": {"type": "string", "format": "date"},
                        "day": {"type": "integer", "example": 28},
                    },
                }
            }
        },
    }
}


@router.get("/v1/studies/{study}/subjects/{subject}/photos", response_model=PhotosPublic)
def list_photos(
    study: StudyName,
    subject: SubjectCode,
    who: Viewer,
    s: ReadSession,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PhotosPublic:
    """The subject's photos in time order (taken, else uploaded), paginated."""
    row = repo.require_subject(s, who.study_id, subject)
    after = None
    if cursor is not None:
        t, pid = decode_cursor(cursor, 2)
        after = (_time(t), str(pid))
    rows = repo.subject_photos(s, row.id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].photo if rows else None
    next_cursor = None
    if more and last is not None:
        next_cursor = encode_cursor([(last.taken_at or last.uploaded_at).isoformat(), last.id])
    return PhotosPublic(data=[r.public() for r in rows], next_cursor=next_cursor)


@router.post(
    "/v1/studies/{study}/subjects/{subject}/photos",
    status_code=201,
    response_model=UploadResult,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"model": UploadResult, "description": "A retried upload: the first result"},
        409: {"model": ErrorBody},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
        422: {"model": ErrorBody, "description": "The photo cannot be measured"},
    },
)
async def upload(
    study: StudyName,
    subject: SubjectCode,
    request: Request,
    who: Uploader,
    state: StateDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """Upload one photo (multipart: file, visit, view, taken_at, visit_date, day); creates an
    unknown subject. A retry (same Idempotency-Key, or same content for the same subject and
    visit) answers 200 with the first result and ``Idempotent-Replayed: true``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise ApiError(415, "Upload the photo as multipart/form-data with a 'file' field.")
    async with request.form(max_files=1, max_fields=16) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError(400, "The form needs a 'file' field holding the photo.")
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        try:
            parsed = UploadForm.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            raise ApiError(400, f"Invalid form: {problems}.") from None
        data = await file.read()
    result, replayed = await upload_photo(
        state, who, Upload(subject, parsed, data, idempotency_key)
    )
    audit(request, photo_id=result.photo.id)
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=200 if replayed else 201,
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )


@router.get("/v1/photos/{photo_id}", response_model=PhotoPublic)
def read_photo(photo_id: str, who: Viewer, s: ReadSession) -> PhotoPublic:
    return repo.require_photo(s, who.study_id, photo_id).public()


@router.get("/v1/photos/{photo_id}/analysis", response_model=dict[str, Any])
def read_analysis(photo_id: str, who: Viewer, s: ReadSession) -> dict[str, Any]:
    """The photo's analysis JSON (DESIGN.md), from its newest pipeline version."""
    repo.require_photo(s, who.study_id, photo_id)
    found = repo.latest_analysis(s, photo_id)
    if found is None:
        raise ApiError(404, "This photo has no analysis.")
    return found


@router.get("/v1/photos/{photo_id}/overlay.png", response_class=Response, responses=PNG)
async def photo_overlay(photo_id: str, who: Viewer, state: StateDep) -> Response:
    """Region outlines, wrinkle lines and spots drawn on the photo."""
    photo = await run_in_threadpool(_photo, state, who.study_id, photo_id)
    path = state.store.path(photo.study_id, photo.subject_id, photo.sha256)
    png = await state.engine.photo_overlay((photo.sha256, path), photo.view)
    return Response(png, media_type="image/png")


def _photo(state: AppState, study_id: int, photo_id: str) -> Photo:
    with state.db.read() as s:
        return repo.require_photo(s, study_id, photo_id).photo


def _time(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, "The cursor is not valid; start again without it.") from None
