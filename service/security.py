"""API keys (random tokens, stored as sha256) and the roles of DESIGN.md, each scoped to a study."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import ApiKey, Study

ROLES = ("viewer", "uploader", "admin")
KEY_PREFIX = "wt_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key, one study, one role."""

    key_id: int
    study_id: int
    study: str
    role: str

    def can(self, role: str) -> bool:
        """True when this key's role includes ``role`` (viewer < uploader < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, study: str, role: str) -> str:
    """Store a new key for ``study`` (created if new) and return it; only its hash is kept."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    now = datetime.now(UTC)
    row = session.scalar(select(Study).where(Study.name == study))
    if row is None:
        row = Study(name=study, created_at=now)
        session.add(row)
        session.flush()
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(study_id=row.id, role=role, key_hash=hash_key(key), prefix=key[:8], created_at=now)
    )
    return key


def find_principal(session: Session, key: str) -> Principal | None:
    """The principal of a presented key, or None when the key is unknown."""
    found = session.execute(
        select(ApiKey.id, ApiKey.study_id, Study.name, ApiKey.role)
        .join(Study, Study.id == ApiKey.study_id)
        .where(ApiKey.key_hash == hash_key(key))
    ).first()
    return None if found is None else Principal(*found)
