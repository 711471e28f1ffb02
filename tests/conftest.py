"""Shared fixtures: the real face photos in ../shared/faces (read in place, never copied)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datasets.shared_faces import FACES_DIR

REPO = Path(__file__).resolve().parents[1]


def face_paths() -> list[Path]:
    return sorted(FACES_DIR.glob("*.jpg")) if FACES_DIR.is_dir() else []


def face_path(stem: str) -> Path:
    path = FACES_DIR / f"{stem}.jpg"
    if not path.is_file():
        pytest.skip(f"real face photos not available: {path} is missing (../shared/faces)")
    return path


@pytest.fixture(scope="session")
def finder() -> Iterator[object]:
    from analysis.face import shared_finder

    return shared_finder()
