"""Study-level reads: the study and its arms, timelines, the per-arm summary, the CSV export and
the audit log."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from analysis.metrics import METRICS
from analysis.regions import REGIONS
from service import models as m
from service import queries, repo
from service.deps import Admin, ReadSession, StateDep, StudyName, SubjectCode, Viewer
from service.errors import ApiError
from service.pagination import Cursor, Limit, decode_cursor, encode_cursor
from service.schemas import ERRORS, AuditPage, AuditPublic, StudySummary, Timeline

router = APIRouter(prefix="/v1/studies/{study}", tags=["studies"], responses=ERRORS)

Metric = Annotated[
    str, Query(description="A metric name of DESIGN.md.", examples=["wrinkles.severity"])
]
Region = Annotated[str, Query(description="A region name of DESIGN.md.", examples=["full_face"])]


class ArmCount(BaseModel):
    arm: str | None
    subjects: int


class StudyPublic(BaseModel):
    study: str
    created_at: datetime
    subjects: int
    arms: list[ArmCount]


def _check(metric: str, region: str) -> None:
    if metric not in METRICS:
        raise ApiError(400, f"Unknown metric {metric!r}; see DESIGN.md's metric names.")
    if region not in REGIONS:
        raise ApiError(400, f"Unknown region {region!r}; see DESIGN.md's region names.")


@router.get("", response_model=StudyPublic)
def read_study(study: StudyName, who: Viewer, s: ReadSession) -> StudyPublic:
    """The study with its arms and how many subjects each has."""
    row = s.get_one(m.Study, who.study_id)
    counts = s.execute(
        select(m.Subject.arm, func.count())
        .where(m.Subject.study_id == who.study_id)
        .group_by(m.Subject.arm)
        .order_by(m.Subject.arm)
    ).all()
    return StudyPublic(
        study=study,
        created_at=repo.utc(row.created_at) or row.created_at,
        subjects=sum(n for _, n in counts),
        arms=[ArmCount(arm=arm, subjects=n) for arm, n in counts],
    )


@router.get("/subjects/{subject}/timeline", response_model=Timeline)
def read_timeline(
    study: StudyName,
    subject: SubjectCode,
    who: Viewer,
    s: ReadSession,
    metric: Metric = "wrinkles.severity",
    region: Region = "full_face",
) -> Timeline:
    """One metric of one region over the subject's frontal photos, the baseline first."""
    _check(metric, region)
    return queries.timeline(s, repo.require_subject(s, who.study_id, subject), metric, region)


@router.get("/summary", response_model=StudySummary)
def read_summary(
    study: StudyName,
    who: Viewer,
    s: ReadSession,
    metric: Metric = "wrinkles.severity",
    region: Region = "full_face",
    visit: Annotated[str | None, Query(description="Default: each subject's latest.")] = None,
) -> StudySummary:
    """Change against baseline per arm: n, mean, 95 % CI and responder rate."""
    _check(metric, region)
    return queries.summary(s, who.study_id, study, metric, region, visit)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per value"}},
)
def export_csv(study: StudyName, who: Viewer, state: StateDep) -> StreamingResponse:
    """Every metric of every photo: ``study,subject,arm,visit,view,taken_at,photo_id,region,
    metric,value``."""

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(queries.EXPORT_COLUMNS)
        with state.db.read() as s:
            for i, row in enumerate(queries.export_rows(s, who.study_id, study)):
                writer.writerow(row)
                if i % 1000 == 999:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{study}.csv"'}
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/audit", response_model=AuditPage)
def read_audit(
    study: StudyName, who: Admin, s: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> AuditPage:
    """Who read or wrote what in this study, newest first (admin only)."""
    query = select(m.AuditEntry).where(m.AuditEntry.study_id == who.study_id)
    if cursor is not None:
        (before,) = decode_cursor(cursor, 1)
        if not isinstance(before, int):
            raise ApiError(400, "The cursor is not valid; start again without it.")
        query = query.where(m.AuditEntry.id < before)
    rows = list(s.scalars(query.order_by(m.AuditEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        data=[
            AuditPublic(
                id=r.id,
                at=repo.utc(r.at) or r.at,
                key_id=r.key_id,
                role=r.role,
                method=r.method,
                route=r.route,
                target=r.target,
                status=r.status,
            )
            for r in rows
        ],
        next_cursor=encode_cursor([rows[-1].id]) if more else None,
    )
