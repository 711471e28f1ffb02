"""Dependencies shared by the routers: app state, sessions and the caller's key and role.

Checks run in this order: no or unknown key 401; a key of another study 404 (as if the study
did not exist); a role without the right 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.errors import ApiError
from service.schemas import NAME_PATTERN
from service.security import Principal, find_principal
from service.state import AppState

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer wt_…`.")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.wt
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def read_session(state: StateDep) -> Iterator[Session]:
    with state.db.read() as session:
        yield session


def write_session(state: StateDep) -> Iterator[Session]:
    with state.db.write() as session:
        yield session


# scope="function": the session closes (and commits) when the route returns, before the
# response and its audit entry are written.
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


def _principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "An API key is required: Authorization: Bearer <key>.")
    with state.db.read() as session:
        principal = find_principal(session, credentials.credentials)
    if principal is None:
        raise ApiError(401, "The API key is not valid.")
    request.state.principal = principal
    study = request.path_params.get("study")
    if study is not None and study != principal.study:
        raise ApiError(404, "No such study.")
    return principal


def require(role: str) -> Callable[[Principal], Principal]:
    """A dependency admitting keys whose role includes ``role``."""

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not principal.can(role):
            raise ApiError(403, f"This key's role ({principal.role}) cannot do this; {role} can.")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Uploader = Annotated[Principal, Depends(require("uploader"))]
Admin = Annotated[Principal, Depends(require("admin"))]


StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="Study name.")]
SubjectCode = Annotated[str, Path(pattern=NAME_PATTERN, description="Pseudonymous subject code.")]


def require_json(request: Request) -> None:
    """415 unless the body is JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, "The request body must be JSON (Content-Type: application/json).")


def audit(request: Request, **target: str) -> None:
    """Add what a route touched (a new photo's id...) to its audit entry."""
    entry: dict[str, str] = getattr(request.state, "audit", {})
    entry.update(target)
    request.state.audit = entry
