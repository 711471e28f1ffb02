"""Database tables (SQLAlchemy 2 typed ORM). Migrations in ``service/migrations`` mirror them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CODE = String(64)  # study, subject, arm and visit labels
SHA = String(64)
UUID_HEX = String(32)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        date: Date(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def _cascade(column: str) -> Any:
    return ForeignKey(column, ondelete="CASCADE")


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CODE, unique=True)
    created_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(_cascade("studies.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(SHA, unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("study_id", "code"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(_cascade("studies.id"))
    code: Mapped[str] = mapped_column(CODE)
    arm: Mapped[str | None] = mapped_column(CODE)
    treated_side: Mapped[str | None] = mapped_column(String(8))
    treated_regions: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("subject_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(_cascade("subjects.id"))
    label: Mapped[str] = mapped_column(CODE)
    visit_date: Mapped[date | None]
    day: Mapped[int | None] = mapped_column(Integer)


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("subject_id", "visit_id", "sha256"),
        UniqueConstraint("study_id", "idempotency_key"),
        Index("ix_photos_subject_time", "subject_id", "uploaded_at"),
    )

    id: Mapped[str] = mapped_column(UUID_HEX, primary_key=True)
    study_id: Mapped[int] = mapped_column(_cascade("studies.id"))
    subject_id: Mapped[int] = mapped_column(_cascade("subjects.id"))
    visit_id: Mapped[int] = mapped_column(_cascade("visits.id"))
    view: Mapped[str] = mapped_column(String(8))
    taken_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(SHA)
    size_bytes: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))


class Analysis(Base):
    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("photo_id", "pipeline_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[str] = mapped_column(_cascade("photos.id"))
    pipeline_version: Mapped[str] = mapped_column(String(32))
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class MetricValue(Base):
    __tablename__ = "metric_values"

    analysis_id: Mapped[int] = mapped_column(_cascade("analyses.id"), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class Comparison(Base):
    """A comparison of two photos. ``automatic``: the after photo against its subject's
    baseline; ``latest``: the automatic one whose after photo is the subject's newest. The
    after photo's time and visit are copied here so that the study summary reads one table."""

    __tablename__ = "comparisons"
    __table_args__ = (
        Index("ix_comparisons_subject", "subject_id", "automatic"),
        Index("ix_comparisons_latest", "study_id", "latest"),
        Index("ix_comparisons_visit", "study_id", "after_visit"),
    )

    id: Mapped[str] = mapped_column(UUID_HEX, primary_key=True)
    study_id: Mapped[int] = mapped_column(_cascade("studies.id"))
    subject_id: Mapped[int] = mapped_column(_cascade("subjects.id"))
    before_photo_id: Mapped[str] = mapped_column(_cascade("photos.id"), index=True)
    after_photo_id: Mapped[str] = mapped_column(_cascade("photos.id"), index=True)
    after_at: Mapped[datetime]
    after_visit: Mapped[str] = mapped_column(CODE)
    automatic: Mapped[bool] = mapped_column(Boolean)
    latest: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # the Gaussian (mm) that softened the sharper photo to the other's focus, the photo it
    # softened ("before", "after"; null: none) and whether the pair warned ``focus_differs``;
    # all null for comparisons stored before focus was matched (migration 0003)
    focus_blur_mm: Mapped[float | None] = mapped_column(Float)
    focus_softened: Mapped[str | None] = mapped_column(String(8))
    focus_differs: Mapped[bool | None] = mapped_column(Boolean)


class ComparisonValue(Base):
    __tablename__ = "comparison_values"

    comparison_id: Mapped[str] = mapped_column(_cascade("comparisons.id"), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    delta: Mapped[float] = mapped_column(Float)
    mdc: Mapped[float | None] = mapped_column(Float)
    significant: Mapped[bool] = mapped_column(Boolean)
    improved: Mapped[bool | None] = mapped_column(Boolean)
    # the expression differed enough to fold this region's lines (``analysis.expression``);
    # null where it could not be read
    expression_changed: Mapped[bool | None] = mapped_column(Boolean)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_study", "study_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    key_id: Mapped[int | None]
    study_id: Mapped[int | None]
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(128))
    target: Mapped[dict[str, Any]]
    status: Mapped[int]
