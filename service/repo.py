"""Reads and writes of single resources (subjects, visits, photos, analyses, comparisons)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from analysis.metrics import METRICS
from service import models as m
from service.errors import ApiError
from service.schemas import PhotoPublic, SubjectIn, SubjectPublic


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def utc(t: datetime | None) -> datetime | None:
    """``t`` in UTC; naive times are taken as UTC (SQLite returns them naive)."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def when(photo: type[m.Photo] = m.Photo) -> ColumnElement[datetime]:
    """A photo's place in time: when it was taken, else when it was uploaded."""
    return func.coalesce(photo.taken_at, photo.uploaded_at)


# subjects -------------------------------------------------------------------------------------


def find_subject(s: Session, study_id: int, code: str) -> m.Subject | None:
    return s.scalar(select(m.Subject).where(m.Subject.study_id == study_id, m.Subject.code == code))


def require_subject(s: Session, study_id: int, code: str) -> m.Subject:
    subject = find_subject(s, study_id, code)
    if subject is None:
        raise ApiError(404, "No such subject in this study.")
    return subject


def upsert_subject(
    s: Session, study_id: int, code: str, changes: SubjectIn
) -> tuple[m.Subject, bool]:
    """Create or update a subject; returns it and whether it was created."""
    subject = find_subject(s, study_id, code)
    created = subject is None
    if subject is None:
        subject = m.Subject(
            study_id=study_id, code=code, treated_regions=[], created_at=now(), updated_at=now()
        )
        s.add(subject)
    given = changes.model_fields_set
    if "arm" in given:
        subject.arm = changes.arm
    if "treated_side" in given:
        subject.treated_side = changes.treated_side
    if "treated_regions" in given:
        subject.treated_regions = list(changes.treated_regions or [])
    subject.updated_at = now()
    s.flush()
    return subject, created


def subject_public(subject: m.Subject, study: str) -> SubjectPublic:
    return SubjectPublic(
        subject=subject.code,
        study=study,
        arm=subject.arm,
        treated_side=subject.treated_side,  # type: ignore[arg-type]
        treated_regions=list(subject.treated_regions),
        created_at=utc(subject.created_at) or subject.created_at,
        updated_at=utc(subject.updated_at) or subject.updated_at,
    )


def delete_subject(s: Session, subject: m.Subject) -> list[str]:
    """Delete the subject's rows (foreign keys cascade to visits, photos, analyses, values and
    comparisons); returns the sha256 of its photos."""
    shas = list(s.scalars(select(m.Photo.sha256).where(m.Photo.subject_id == subject.id)))
    s.execute(delete(m.Subject).where(m.Subject.id == subject.id))
    return shas


# visits and photos ----------------------------------------------------------------------------


def ensure_visit(
    s: Session, subject_id: int, label: str, visit_date: date | None, day: int | None
) -> m.Visit:
    visit = s.scalar(
        select(m.Visit).where(m.Visit.subject_id == subject_id, m.Visit.label == label)
    )
    if visit is None:
        visit = m.Visit(subject_id=subject_id, label=label)
        s.add(visit)
    if visit_date is not None:
        visit.visit_date = visit_date
    if day is not None:
        visit.day = day
    s.flush()
    return visit


@dataclass(frozen=True)
class PhotoRow:
    """A photo with the names the API shows (subject code, visit label)."""

    photo: m.Photo
    subject: str
    visit: m.Visit

    def public(self) -> PhotoPublic:
        p = self.photo
        return PhotoPublic(
            id=p.id,
            subject=self.subject,
            visit=self.visit.label,
            view=p.view,  # type: ignore[arg-type]
            taken_at=utc(p.taken_at),
            sha256=p.sha256,
            uploaded_at=utc(p.uploaded_at) or p.uploaded_at,
            visit_date=self.visit.visit_date,
            day=self.visit.day,
            size_bytes=p.size_bytes,
        )


def _photo_rows() -> Any:
    return (
        select(m.Photo, m.Subject.code, m.Visit)
        .join(m.Subject, m.Subject.id == m.Photo.subject_id)
        .join(m.Visit, m.Visit.id == m.Photo.visit_id)
    )


def photo_row(s: Session, study_id: int, photo_id: str) -> PhotoRow | None:
    found = s.execute(
        _photo_rows().where(m.Photo.id == photo_id, m.Photo.study_id == study_id)
    ).first()
    return None if found is None else PhotoRow(*found)


def require_photo(s: Session, study_id: int, photo_id: str) -> PhotoRow:
    row = photo_row(s, study_id, photo_id)
    if row is None:
        raise ApiError(404, "No such photo in this study.")
    return row


def subject_photos(
    s: Session, subject_id: int, *, after: tuple[datetime, str] | None, limit: int
) -> list[PhotoRow]:
    """Photos in time order (taken, else uploaded), keyset-paginated by ``(time, id)``."""
    query = _photo_rows().where(m.Photo.subject_id == subject_id)
    if after is not None:
        t, pid = after
        query = query.where((when() > t) | ((when() == t) & (m.Photo.id > pid)))
    rows = s.execute(query.order_by(when(), m.Photo.id).limit(limit))
    return [PhotoRow(*r) for r in rows]


def find_duplicate(
    s: Session, study_id: int, subject: str, visit: str, sha256: str
) -> PhotoRow | None:
    """The photo already stored with this content for this subject and visit."""
    found = s.execute(
        _photo_rows().where(
            m.Photo.study_id == study_id,
            m.Subject.code == subject,
            m.Visit.label == visit,
            m.Photo.sha256 == sha256,
        )
    ).first()
    return None if found is None else PhotoRow(*found)


def find_by_idempotency_key(s: Session, study_id: int, key: str) -> PhotoRow | None:
    found = s.execute(
        _photo_rows().where(m.Photo.study_id == study_id, m.Photo.idempotency_key == key)
    ).first()
    return None if found is None else PhotoRow(*found)


def add_photo(s: Session, photo: m.Photo, analysis: dict[str, Any], version: str) -> None:
    """Insert a photo with its analysis and one row per region and metric."""
    s.add(photo)
    s.flush()
    row = m.Analysis(photo_id=photo.id, pipeline_version=version, result=analysis, created_at=now())
    s.add(row)
    s.flush()
    s.execute(
        insert(m.MetricValue),
        [
            {"analysis_id": row.id, "region": region, "metric": metric, "value": float(value)}
            for region, values in analysis.get("regions", {}).items()
            for metric, value in values.items()
            if metric in METRICS
        ],
    )


def latest_analysis(s: Session, photo_id: str) -> dict[str, Any] | None:
    return s.scalar(
        select(m.Analysis.result)
        .where(m.Analysis.photo_id == photo_id)
        .order_by(m.Analysis.id.desc())
        .limit(1)
    )


# comparisons ----------------------------------------------------------------------------------


def comparison_public(row: m.Comparison) -> dict[str, Any]:
    return {
        "id": row.id,
        "before_photo_id": row.before_photo_id,
        "after_photo_id": row.after_photo_id,
        **row.result,
    }


def find_comparison(s: Session, study_id: int, comparison_id: str) -> m.Comparison:
    row = s.scalar(
        select(m.Comparison).where(
            m.Comparison.id == comparison_id, m.Comparison.study_id == study_id
        )
    )
    if row is None:
        raise ApiError(404, "No such comparison in this study.")
    return row


def existing_comparison(
    s: Session, before_id: str, after_id: str, *, automatic: bool | None = None
) -> m.Comparison | None:
    query = select(m.Comparison).where(
        m.Comparison.before_photo_id == before_id, m.Comparison.after_photo_id == after_id
    )
    if automatic is not None:
        query = query.where(m.Comparison.automatic == automatic)
    return s.scalars(query.order_by(m.Comparison.created_at.desc()).limit(1)).first()


def automatic_comparison(s: Session, after_id: str) -> m.Comparison | None:
    """The automatic comparison (against the baseline) of a follow-up photo, if any."""
    return s.scalars(
        select(m.Comparison).where(
            m.Comparison.after_photo_id == after_id, m.Comparison.automatic.is_(True)
        )
    ).first()


def comparison_focus(result: dict[str, Any]) -> dict[str, Any]:
    """The focus columns of a comparison result: the blur that matched the two photos' focus,
    the photo it softened and whether the pair warned ``focus_differs`` (null: not read)."""
    photometric = result.get("photometric") or {}
    read = "focus_blur_mm" in photometric
    codes = {i.get("code") for i in (result.get("quality") or {}).get("issues", ())}
    return {
        "focus_blur_mm": photometric.get("focus_blur_mm"),
        "focus_softened": photometric.get("focus_softened"),
        "focus_differs": ("focus_differs" in codes) if read else None,
    }


def add_comparison(
    s: Session, before: m.Photo, after: m.Photo, result: dict[str, Any], *, automatic: bool
) -> m.Comparison:
    """Insert a comparison and one value row per region and metric (an automatic one also
    updates which of the subject's comparisons is the latest)."""
    row = m.Comparison(
        id=new_id(),
        study_id=after.study_id,
        subject_id=after.subject_id,
        before_photo_id=before.id,
        after_photo_id=after.id,
        after_at=after.taken_at or after.uploaded_at,
        after_visit=s.get_one(m.Visit, after.visit_id).label,
        automatic=automatic,
        latest=False,
        result=result,
        created_at=now(),
        **comparison_focus(result),
    )
    s.add(row)
    s.flush()
    expression = result.get("expression")
    folded = None if expression is None else set(expression.get("regions", ()))
    values = [
        {
            "comparison_id": row.id,
            "region": region,
            "metric": metric,
            "delta": float(v["delta"]),
            "mdc": None if v.get("mdc") is None else float(v["mdc"]),
            "significant": bool(v.get("significant")),
            "improved": v.get("improved"),
            "expression_changed": None if folded is None else region in folded,
        }
        for region, metrics in result.get("regions", {}).items()
        for metric, v in metrics.items()
        if metric in METRICS
    ]
    if values:
        s.execute(insert(m.ComparisonValue), values)
    if automatic:
        mark_latest(s, after.subject_id)
    return row


def mark_latest(s: Session, subject_id: int) -> None:
    """Flag the subject's automatic comparison with the newest after photo as ``latest``."""
    newest = s.scalar(
        select(m.Comparison.id)
        .where(m.Comparison.subject_id == subject_id, m.Comparison.automatic.is_(True))
        .order_by(m.Comparison.after_at.desc(), m.Comparison.id.desc())
        .limit(1)
    )
    s.execute(
        update(m.Comparison)
        .where(m.Comparison.subject_id == subject_id, m.Comparison.latest.is_(True))
        .values(latest=False)
    )
    if newest is not None:
        s.execute(update(m.Comparison).where(m.Comparison.id == newest).values(latest=True))


def baseline_photo(s: Session, subject_id: int) -> m.Photo | None:
    """The subject's baseline frontal photo: in the visit labelled ``baseline``, else the
    earliest (DESIGN.md)."""
    return s.scalars(
        select(m.Photo)
        .join(m.Visit, m.Visit.id == m.Photo.visit_id)
        .where(m.Photo.subject_id == subject_id, m.Photo.view == "frontal")
        .order_by((m.Visit.label != "baseline"), when(), m.Photo.id)
        .limit(1)
    ).first()


def pending_automatic(s: Session, subject_id: int) -> list[tuple[m.Photo, m.Photo]]:
    """The (baseline, follow-up) pairs still to compare; demotes automatic comparisons made
    against a former baseline to ordinary ones."""
    base = baseline_photo(s, subject_id)
    if base is None:
        return []
    s.execute(
        update(m.Comparison)
        .where(
            m.Comparison.subject_id == subject_id,
            m.Comparison.automatic.is_(True),
            m.Comparison.before_photo_id != base.id,
        )
        .values(automatic=False)
    )
    mark_latest(s, subject_id)
    done = select(m.Comparison.after_photo_id).where(
        m.Comparison.before_photo_id == base.id, m.Comparison.automatic.is_(True)
    )
    followups = s.scalars(
        select(m.Photo)
        .where(
            m.Photo.subject_id == subject_id,
            m.Photo.view == "frontal",
            m.Photo.visit_id != base.visit_id,
            m.Photo.id.not_in(done),
        )
        .order_by(when(), m.Photo.id)
    )
    return [(base, f) for f in followups]
