"""Request metrics (Prometheus), access logs, the audit trail and the request size limit, as
ASGI middleware around the whole app."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError, error_response

log = logging.getLogger("wrinkletrack.service")

AuditWriter = Callable[[dict[str, Any]], None]


class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "wrinkletrack_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "wrinkletrack_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.analyses = Counter(
            "wrinkletrack_analyses",
            "Photo analyses by outcome (ok or the error code).",
            ["outcome"],
            registry=self.registry,
        )
        self.analysis_seconds = Histogram(
            "wrinkletrack_analysis_duration_seconds",
            "Time to analyse one uploaded photo.",
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
        )


def route_of(scope: Scope) -> str:
    """The route template (``/v1/photos/{photo_id}``), never the concrete path."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class Observe:
    """Counts and times every request, logs it (JSON) and records an audit entry for every
    request made with a valid key before its response is sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditWriter) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
                await self._audit(scope, status)
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = route_of(scope)
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            principal = scope.get("state", {}).get("principal")
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "key_id": getattr(principal, "key_id", None),
                },
            )

    async def _audit(self, scope: Scope, status: int) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        if principal is None:
            return
        target = {k: str(v) for k, v in scope.get("path_params", {}).items()}
        target.update(state.get("audit", {}))
        entry = {
            "key_id": principal.key_id,
            "study_id": principal.study_id,
            "role": principal.role,
            "method": scope["method"],
            "route": route_of(scope),
            "target": target,
            "status": status,
        }
        try:
            await run_in_threadpool(self.audit, entry)
        except Exception:
            log.exception("audit entry could not be written", extra={"audit": entry})


class LimitBody:
    """Answers 413 ``payload_too_large`` for bodies over ``limit`` bytes: at once when the
    declared length is too large, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large()(scope, receive, send)
            return
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, self._message())
            return message

        await self.app(scope, receive_limited, send)

    def _message(self) -> str:
        return f"The request is larger than the limit of {self.limit / 2**20:.0f} MB."

    def _too_large(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        return error_response(413, "payload_too_large", self._message())
