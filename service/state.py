"""What the app holds while it runs: settings, database, photo files, engine and metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from weakref import WeakValueDictionary

from service.db import Database
from service.engine import Engine
from service.models import Photo
from service.observability import Metrics
from service.settings import Settings
from service.storage import PhotoStore


@dataclass
class AppState:
    settings: Settings
    db: Database
    store: PhotoStore
    engine: Engine
    metrics: Metrics
    subject_locks: WeakValueDictionary[int, asyncio.Lock] = field(
        default_factory=WeakValueDictionary
    )

    def photo_file(self, photo: Photo) -> tuple[str, Path]:
        """``(sha256, path)`` of a stored photo, as the engine takes it."""
        return photo.sha256, self.store.path(photo.study_id, photo.subject_id, photo.sha256)
