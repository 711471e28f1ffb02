"""Read models over many rows: timeline, study summary, CSV export. Each is one SQL query whose
work happens in the database (aggregates, window functions), not a Python loop over rows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from scipy import stats
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analysis.metrics import BETTER
from service import models as m
from service import repo
from service.schemas import ArmSummary, StudySummary, Timeline, TimelinePoint

EXPORT_COLUMNS = (
    "study", "subject", "arm", "visit", "view", "taken_at", "photo_id", "region", "metric", "value"
)  # fmt: skip


def _latest_analyses() -> Any:
    """Subquery: each photo's newest analysis id."""
    return (
        select(m.Analysis.photo_id, func.max(m.Analysis.id).label("analysis_id"))
        .group_by(m.Analysis.photo_id)
        .subquery()
    )


def timeline(s: Session, subject: m.Subject, metric: str, region: str) -> Timeline:
    """The subject's frontal photos, baseline first, with the value of one metric and its
    change against the baseline (from the automatic comparison)."""
    latest = _latest_analyses()
    base = repo.baseline_photo(s, subject.id)
    rows = s.execute(
        select(
            m.Visit.label,
            m.Photo.taken_at,
            m.Photo.id,
            m.MetricValue.value,
            m.ComparisonValue.delta,
            m.ComparisonValue.mdc,
            m.ComparisonValue.significant,
            m.ComparisonValue.expression_changed,
            m.Comparison.focus_differs,
            m.Comparison.focus_softened,
            m.Comparison.focus_blur_mm,
        )
        .join(m.Visit, m.Visit.id == m.Photo.visit_id)
        .outerjoin(latest, latest.c.photo_id == m.Photo.id)
        .outerjoin(
            m.MetricValue,
            and_(
                m.MetricValue.analysis_id == latest.c.analysis_id,
                m.MetricValue.region == region,
                m.MetricValue.metric == metric,
            ),
        )
        .outerjoin(
            m.Comparison,
            and_(m.Comparison.after_photo_id == m.Photo.id, m.Comparison.automatic.is_(True)),
        )
        .outerjoin(
            m.ComparisonValue,
            and_(
                m.ComparisonValue.comparison_id == m.Comparison.id,
                m.ComparisonValue.region == region,
                m.ComparisonValue.metric == metric,
            ),
        )
        .where(m.Photo.subject_id == subject.id, m.Photo.view == "frontal")
        .order_by(m.Photo.id != (base.id if base else ""), repo.when(), m.Photo.id)
    ).all()
    points = []
    for (
        label, taken_at, photo_id, value, delta, mdc, significant, expression,
        focus_differs, focus_softened, focus_blur_mm,
    ) in rows:  # fmt: skip
        is_base = base is not None and photo_id == base.id
        points.append(
            TimelinePoint(
                visit=label,
                taken_at=repo.utc(taken_at),
                photo_id=photo_id,
                value=value,
                delta=0.0 if is_base else delta,
                mdc=None if is_base else mdc,
                significant=False if is_base else significant,
                expression_changed=None if is_base else expression,
                focus_differs=None if is_base else focus_differs,
                focus_softened=None if is_base else focus_softened,
                focus_blur_mm=None if is_base else focus_blur_mm,
            )
        )
    return Timeline(subject=subject.code, metric=metric, region=region, points=points)


def summary(
    s: Session, study_id: int, study: str, metric: str, region: str, visit: str | None
) -> StudySummary:
    """Per arm: n, mean change, its 95 % t-interval and the responder rate (share of subjects
    with a significant improvement), over each subject's latest automatic comparison (its
    latest at ``visit`` when given)."""
    c = m.Comparison
    if visit is None:
        chosen = select(c.id.label("comparison_id"), c.subject_id).where(
            c.study_id == study_id, c.latest.is_(True)
        )
    else:
        rank = func.row_number().over(
            partition_by=c.subject_id, order_by=(c.after_at.desc(), c.id.desc())
        )
        ranked = (
            select(c.id.label("comparison_id"), c.subject_id, rank.label("rank"))
            .where(c.study_id == study_id, c.after_visit == visit, c.automatic.is_(True))
            .subquery()
        )
        chosen = select(ranked.c.comparison_id, ranked.c.subject_id).where(ranked.c.rank == 1)
    latest = chosen.subquery()
    delta = m.ComparisonValue.delta
    rows = s.execute(
        select(
            m.Subject.arm,
            func.count(),
            func.avg(delta),
            func.sum(delta * delta),
            func.sum(case((m.ComparisonValue.improved.is_(True), 1), else_=0)),
        )
        .select_from(latest)
        .join(m.Subject, m.Subject.id == latest.c.subject_id)
        .join(
            m.ComparisonValue,
            and_(
                m.ComparisonValue.comparison_id == latest.c.comparison_id,
                m.ComparisonValue.region == region,
                m.ComparisonValue.metric == metric,
            ),
        )
        .group_by(m.Subject.arm)
        .order_by(m.Subject.arm)
    ).all()
    has_direction = BETTER.get(metric, 0) != 0
    arms = [
        _arm(arm, int(n), float(mean), float(sumsq), int(improved), has_direction)
        for arm, n, mean, sumsq, improved in rows
    ]
    return StudySummary(study=study, metric=metric, region=region, visit=visit, arms=arms)


def _arm(
    arm: str | None, n: int, mean: float, sumsq: float, improved: int, has_direction: bool
) -> ArmSummary:
    ci: tuple[float | None, float | None] = (None, None)
    if n >= 2:
        variance = max(0.0, (sumsq - n * mean * mean) / (n - 1))
        half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
        ci = (round(mean - half, 4), round(mean + half, 4))
    return ArmSummary(
        arm=arm,
        n=n,
        mean_change=round(mean, 4),
        ci95=ci,
        responder_rate=round(improved / n, 4) if has_direction else None,
    )


def export_rows(s: Session, study_id: int, study: str) -> Iterator[tuple[Any, ...]]:
    """The study's metric values, one row per photo x region x metric, streamed."""
    latest = _latest_analyses()
    query = (
        select(
            m.Subject.code,
            m.Subject.arm,
            m.Visit.label,
            m.Photo.view,
            m.Photo.taken_at,
            m.Photo.id,
            m.MetricValue.region,
            m.MetricValue.metric,
            m.MetricValue.value,
        )
        .join(m.Subject, m.Subject.id == m.Photo.subject_id)
        .join(m.Visit, m.Visit.id == m.Photo.visit_id)
        .join(latest, latest.c.photo_id == m.Photo.id)
        .join(m.MetricValue, m.MetricValue.analysis_id == latest.c.analysis_id)
        .where(m.Photo.study_id == study_id)
        .order_by(
            m.Subject.code, repo.when(), m.Photo.id, m.MetricValue.region, m.MetricValue.metric
        )
        .execution_options(yield_per=2000)
    )
    for code, arm, visit, view, taken_at, photo_id, region, metric, value in s.execute(query):
        taken = repo.utc(taken_at)
        yield (study, code, arm or "", visit, view, taken.isoformat() if taken else "",
               photo_id, region, metric, repr(float(value)))  # fmt: skip
