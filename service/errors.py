"""The one place that maps domain errors to HTTP responses with DESIGN.md's error body.

``{"error": {"code", "message"}}`` for everything: photo refusals (422 with the analysis code),
the API's own errors (400, 401, 403, 404, 409, 413, 415) and, should one ever happen, a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from analysis.errors import AnalysisError

log = logging.getLogger("wrinkletrack.service")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
}


class ApiError(HTTPException):
    """An error the API answers itself: ``ApiError(404, "No such photo.")``."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(status, message)
        self.code = code or CODES.get(status, "error")
        self.message = message


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message)


async def _analysis_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AnalysisError)
    return JSONResponse(exc.to_dict(), status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    return error_response(status, CODES.get(status, "error"), str(exc.detail))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()
    )
    return error_response(400, "bad_request", f"Invalid request: {problems}.")


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("internal error", exc_info=exc)
    return error_response(500, "internal_error", "Internal error; it has been logged.")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(AnalysisError, _analysis_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
