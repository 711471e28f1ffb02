"""Pydantic models of the HTTP boundary; field names are DESIGN.md's contract."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from analysis.regions import REGIONS

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Side = Literal["left", "right"]
View = Literal["frontal", "left", "right"]
Region = Literal[REGIONS]  # type: ignore[valid-type]

ANALYSIS_EXAMPLE: dict[str, Any] = {
    "schema_version": "1",
    "pipeline_version": "0.1.0",
    "image": {"width": 1024, "height": 1024, "sha256": "3f1c…"},
    "face": {"pose": {"yaw": 2.1, "pitch": -3.0, "roll": 0.4}, "mm_per_px": 0.12},
    "quality": {"ok": True, "issues": []},
    "regions": {"forehead": {"region.area_cm2": 31.2, "wrinkles.severity": 41.0}},
}
COMPARISON_EXAMPLE: dict[str, Any] = {
    "id": "5b0e8a4c2f6d4d7a9e1b3c5d7f9a1b2c",
    "before_photo_id": "0d1e…",
    "after_photo_id": "9a8b…",
    "schema_version": "1",
    "before": {"pipeline_version": "0.1.0"},
    "after": {"pipeline_version": "0.1.0"},
    "registration": {"method": "landmarks", "residual_px": 1.3},
    "quality": {"ok": True, "issues": []},
    "expression": {
        "before": {"smile": 0.12, "eyes_narrowed": 0.3},
        "after": {"smile": 0.15, "eyes_narrowed": 0.28},
        "change": {"smile": 0.03, "eyes_narrowed": -0.02},
        "threshold": 0.5,
        "regions": [],
    },
    "regions": {
        "forehead": {
            "wrinkles.severity": {
                "before": 41.0,
                "after": 30.5,
                "delta": -10.5,
                "delta_pct": -25.6,
                "mdc": 2.4,
                "significant": True,
                "direction": "decreased",
                "improved": True,
            }
        }
    },
}
ERROR_EXAMPLE: dict[str, Any] = {
    "error": {"code": "not_found", "message": "No such subject in this study."}
}


class ErrorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ERROR_EXAMPLE})

    error: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorBody} for c in (400, 401, 403, 404)}


class SubjectIn(BaseModel):
    """Create or update a subject; omitted fields keep their value (or their default)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "arm": "ADSC",
                "treated_side": "left",
                "treated_regions": ["crows_feet_left"],
            }
        },
    )

    arm: Name | None = None
    treated_side: Side | None = None
    treated_regions: list[Region] | None = None


class SubjectPublic(BaseModel):
    subject: str
    study: str
    arm: str | None
    treated_side: Side | None
    treated_regions: list[str]
    created_at: datetime
    updated_at: datetime


class SubjectsPublic(BaseModel):
    data: list[SubjectPublic]
    next_cursor: str | None


class UploadForm(BaseModel):
    """The multipart fields besides ``file``."""

    model_config = ConfigDict(extra="ignore")

    visit: Name
    view: View = "frontal"
    taken_at: datetime | None = None
    visit_date: date | None = None
    day: int | None = Field(default=None, ge=-36500, le=36500)


class PhotoPublic(BaseModel):
    id: str
    subject: str
    visit: str
    view: View
    taken_at: datetime | None
    sha256: str
    uploaded_at: datetime
    visit_date: date | None
    day: int | None
    size_bytes: int


class PhotosPublic(BaseModel):
    data: list[PhotoPublic]
    next_cursor: str | None


class UploadResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "photo": {
                    "id": "0d1e2f3a4b5c6d7e8f901a2b3c4d5e6f",
                    "subject": "S001",
                    "visit": "week4",
                    "view": "frontal",
                    "taken_at": "2025-03-01T10:00:00Z",
                    "sha256": "3f1c…",
                },
                "analysis": ANALYSIS_EXAMPLE,
                "comparison": COMPARISON_EXAMPLE,
                "comparison_error": None,
            }
        }
    )

    photo: PhotoPublic
    analysis: dict[str, Any]
    comparison: dict[str, Any] | None
    comparison_error: dict[str, Any] | None


class ComparisonIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"before": "0d1e…", "after": "9a8b…"}}
    )

    before: str
    after: str


class ComparisonPublic(BaseModel):
    """``{"id", …comparison JSON}``; the comparison fields pass through unchanged."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": COMPARISON_EXAMPLE})

    id: str
    before_photo_id: str
    after_photo_id: str


class TimelinePoint(BaseModel):
    visit: str
    taken_at: datetime | None
    photo_id: str
    value: float | None
    delta: float | None
    mdc: float | None
    significant: bool | None
    # the expression differed from the baseline's enough to fold the region's lines (null:
    # the baseline itself, no comparison, or not read)
    expression_changed: bool | None = None
    # the two photos' focus differed enough to warn (``focus_differs``); the photo softened to
    # the other's focus ("before": the baseline, "after": this one) and by how much (mm).
    # Null for the baseline, without a comparison, or for comparisons stored before focus was
    # matched
    focus_differs: bool | None = None
    focus_softened: str | None = None  # "before" or "after"
    focus_blur_mm: float | None = None


class Timeline(BaseModel):
    subject: str
    metric: str
    region: str
    points: list[TimelinePoint]


class ArmSummary(BaseModel):
    arm: str | None
    n: int
    mean_change: float | None
    ci95: tuple[float | None, float | None]
    responder_rate: float | None


class StudySummary(BaseModel):
    study: str
    metric: str
    region: str
    visit: str | None
    arms: list[ArmSummary]


class AuditPublic(BaseModel):
    id: int
    at: datetime
    key_id: int | None
    role: str | None
    method: str
    route: str
    target: dict[str, Any]
    status: int


class AuditPage(BaseModel):
    data: list[AuditPublic]
    next_cursor: str | None
