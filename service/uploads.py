"""The upload flow: strip metadata, deduplicate, analyse in the pool, store, compare to baseline.

A refused photo (any ``AnalysisError``) answers 422 and is not kept: neither its bytes nor a
row are stored; the audit log records the attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from analysis.errors import AnalysisError
from service import models as m
from service import repo
from service.engine import ComparisonUnavailable
from service.errors import ApiError, error_body
from service.privacy import strip_metadata
from service.schemas import SubjectIn, UploadForm, UploadResult
from service.security import Principal
from service.state import AppState

log = logging.getLogger("wrinkletrack.service")


@dataclass(frozen=True)
class Upload:
    subject: str
    form: UploadForm
    data: bytes
    idempotency_key: str | None


async def upload_photo(
    state: AppState, who: Principal, upload: Upload
) -> tuple[UploadResult, bool]:
    """Store and analyse one photo; returns the result and whether it is a replay."""
    metrics = state.metrics
    try:
        clean = await run_in_threadpool(strip_metadata, upload.data)
    except AnalysisError as err:
        metrics.analyses.labels(err.code).inc()
        raise
    sha256 = hashlib.sha256(clean).hexdigest()
    first = await run_in_threadpool(_replay, state, who, upload, sha256)
    if first is not None:
        return first, True
    start = time.perf_counter()
    try:
        analysis = await state.engine.analyze(clean, sha256, upload.form.view)
    except AnalysisError as err:
        metrics.analyses.labels(err.code).inc()
        raise
    metrics.analyses.labels("ok").inc()
    metrics.analysis_seconds.observe(time.perf_counter() - start)
    for attempt in range(3):
        try:
            row = await run_in_threadpool(_store, state, who, upload, clean, sha256, analysis)
            break
        except IntegrityError:  # a concurrent upload created the same subject, visit or photo
            replay = await run_in_threadpool(_replay, state, who, upload, sha256)
            if replay is not None:
                return replay, True
            if attempt == 2:
                raise
    comparison, comparison_error = await refresh_comparisons(state, row.photo)
    return (
        UploadResult(
            photo=row.public(),
            analysis=analysis,
            comparison=comparison,
            comparison_error=comparison_error,
        ),
        False,
    )


def _replay(state: AppState, who: Principal, upload: Upload, sha256: str) -> UploadResult | None:
    """The first upload's result for a retried request, None for a new photo; 409 when the
    Idempotency-Key was used for other content."""
    with state.db.read() as s:
        row = None
        if upload.idempotency_key is not None:
            row = repo.find_by_idempotency_key(s, who.study_id, upload.idempotency_key)
            if row is not None and (
                row.photo.sha256 != sha256
                or row.subject != upload.subject
                or row.visit.label != upload.form.visit
                or row.photo.view != upload.form.view
            ):
                raise ApiError(409, "This Idempotency-Key was already used for another upload.")
        if row is None:
            row = repo.find_duplicate(s, who.study_id, upload.subject, upload.form.visit, sha256)
        if row is None:
            return None
        auto = repo.automatic_comparison(s, row.photo.id)
        return UploadResult(
            photo=row.public(),
            analysis=repo.latest_analysis(s, row.photo.id) or {},
            comparison=None if auto is None else repo.comparison_public(auto),
            comparison_error=None,
        )


def _store(
    state: AppState,
    who: Principal,
    upload: Upload,
    clean: bytes,
    sha256: str,
    analysis: dict[str, Any],
) -> repo.PhotoRow:
    form = upload.form
    with state.db.write() as s:
        subject = repo.find_subject(s, who.study_id, upload.subject)
        if subject is None:
            subject, _ = repo.upsert_subject(s, who.study_id, upload.subject, SubjectIn())
        visit = repo.ensure_visit(s, subject.id, form.visit, form.visit_date, form.day)
    state.store.put(who.study_id, subject.id, sha256, clean)
    photo = m.Photo(
        id=repo.new_id(),
        study_id=who.study_id,
        subject_id=subject.id,
        visit_id=visit.id,
        view=form.view,
        taken_at=repo.utc(form.taken_at),
        uploaded_at=repo.now(),
        sha256=sha256,
        size_bytes=len(clean),
        idempotency_key=upload.idempotency_key,
    )
    with state.db.write() as s:
        repo.add_photo(s, photo, analysis, str(analysis.get("pipeline_version", "")))
    return repo.PhotoRow(photo, subject.code, visit)


async def refresh_comparisons(
    state: AppState, photo: m.Photo
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Compare ``photo`` with its subject's baseline or, when ``photo`` is (now) the baseline,
    every frontal follow-up that has no automatic comparison with it yet (a pair that failed
    once is retried only then); returns the comparison (or error) whose after is ``photo``."""
    if photo.view != "frontal":
        return None, None
    lock = state.subject_locks.get(photo.subject_id)
    if lock is None:
        lock = state.subject_locks[photo.subject_id] = asyncio.Lock()
    mine: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)
    async with lock:
        pairs, side = await run_in_threadpool(_pending, state, photo.subject_id)
        for before, after in pairs:
            if photo.id not in (before.id, after.id):
                continue
            try:
                result = await state.engine.compare(
                    state.photo_file(before), state.photo_file(after), side
                )
            except (AnalysisError, ComparisonUnavailable) as err:
                body = (
                    err.to_dict()
                    if isinstance(err, AnalysisError)
                    else error_body("comparison_unavailable", str(err))
                )
                log.warning("automatic comparison failed", extra={"code": body["error"]["code"]})
                if after.id == photo.id:
                    mine = (None, body)
                continue
            saved = await run_in_threadpool(_save_automatic, state, before, after, result)
            if after.id == photo.id:
                mine = (saved, None)
    return mine


def _pending(state: AppState, subject_id: int) -> tuple[list[tuple[m.Photo, m.Photo]], str | None]:
    with state.db.write() as s:
        subject = s.get(m.Subject, subject_id)
        side = None if subject is None else subject.treated_side
        return repo.pending_automatic(s, subject_id), side


def _save_automatic(
    state: AppState, before: m.Photo, after: m.Photo, result: dict[str, Any]
) -> dict[str, Any]:
    with state.db.write() as s:
        row = repo.existing_comparison(s, before.id, after.id, automatic=True)
        if row is None:
            row = repo.add_comparison(s, before, after, result, automatic=True)
        return repo.comparison_public(row)
