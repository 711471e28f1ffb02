"""Shared fixtures: the real face photos in ../shared/faces (read in place, never copied)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FACES_DIR = Path(os.environ.get("WRINKLETRACK_FACES_DIR", REPO.parent / "shared" / "faces"))
HELD_OUT = (
    "ccby_lord_owen_ukparl",
    "ccby_emma_bonino_2017",
    "pd_colin_powell_official",
    "pd_james_baker",
    "pd_obama_2010_blueroom",
    "pd_sonia_sotomayor_2009_scotus",
)


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
