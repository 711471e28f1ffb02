"""Subjects of a study: list, create or update, erase."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select

from service import models as m
from service import repo
from service.deps import (
    Admin,
    ReadSession,
    StateDep,
    StudyName,
    SubjectCode,
    Uploader,
    Viewer,
    WriteSession,
    require_json,
)
from service.pagination import Cursor, Limit, decode_cursor, encode_cursor
from service.schemas import ERRORS, ErrorBody, SubjectIn, SubjectPublic, SubjectsPublic

router = APIRouter(prefix="/v1/studies/{study}/subjects", tags=["subjects"], responses=ERRORS)


@router.get("", response_model=SubjectsPublic)
def list_subjects(
    study: StudyName, who: Viewer, s: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> SubjectsPublic:
    """Subjects ordered by code, paginated."""
    query = select(m.Subject).where(m.Subject.study_id == who.study_id)
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(m.Subject.code > str(after))
    rows = list(s.scalars(query.order_by(m.Subject.code).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return SubjectsPublic(
        data=[repo.subject_public(r, study) for r in rows],
        next_cursor=encode_cursor([rows[-1].code]) if more else None,
    )


@router.get("/{subject}", response_model=SubjectPublic)
def read_subject(
    study: StudyName, subject: SubjectCode, who: Viewer, s: ReadSession
) -> SubjectPublic:
    return repo.subject_public(repo.require_subject(s, who.study_id, subject), study)


@router.put(
    "/{subject}",
    response_model=SubjectPublic,
    dependencies=[Depends(require_json)],
    responses={201: {"model": SubjectPublic, "description": "Created"}, 415: {"model": ErrorBody}},
)
def put_subject(
    study: StudyName,
    subject: SubjectCode,
    body: SubjectIn,
    who: Uploader,
    s: WriteSession,
    response: Response,
) -> SubjectPublic:
    """Create a subject (201) or update the fields given (200)."""
    row, created = repo.upsert_subject(s, who.study_id, subject, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return repo.subject_public(row, study)


@router.delete("/{subject}", status_code=204)
def delete_subject(study: StudyName, subject: SubjectCode, who: Admin, state: StateDep) -> Response:
    """Erase the subject with its visits, photos (files included), analyses and comparisons."""
    with state.db.write() as s:
        row = repo.require_subject(s, who.study_id, subject)
        subject_id = row.id
        shas = repo.delete_subject(s, row)
    state.store.erase_subject(who.study_id, subject_id)
    state.engine.forget(shas)
    return Response(status_code=204)
