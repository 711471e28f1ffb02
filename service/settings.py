"""The service's settings: one ``Settings`` object read from ``WRINKLETRACK_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.config import data_dir


class Settings(BaseSettings):
    """Environment variables ``WRINKLETRACK_<NAME>`` (see docs/service.md)."""

    model_config = SettingsConfigDict(env_prefix="WRINKLETRACK_", frozen=True)

    data_dir: Path = Field(default_factory=data_dir)
    database_url: str | None = None
    max_request_mb: float = Field(default=64.0, gt=0)
    cors_origins: Annotated[list[str], NoDecode] = []
    analysis_workers: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1)
    analysis_cache: int = Field(default=8, ge=0)
    log_level: str = "INFO"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @property
    def db_url(self) -> str:
        """``database_url``, else a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'wrinkletrack.db'}"

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 2**20)
