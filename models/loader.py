"""Locate the bundled model files and verify them before use.

The MediaPipe files are committed in this package (Apache-2.0, see NOTICE.md) and are never
downloaded: a missing, truncated or swapped file fails with :class:`ModelFileError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int


FACE_LANDMARKER = ModelFile(
    "face_landmarker.task",
    "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    3758596,
)
FACE_DETECTOR_FULL_RANGE = ModelFile(
    "face_detection_full_range_sparse.tflite",
    "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    676746,
)


class ModelFileError(RuntimeError):
    """A bundled model file is missing or is not the file this release was built with."""


def verified_bytes(model: ModelFile, directory: Path = MODELS_DIR) -> bytes:
    """Read a model file and check its size and sha256.

    Returns the file's bytes, so the checked bytes are exactly the ones handed to the runtime
    (no window for the file to change between the check and the load).
    """
    path = directory / model.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != model.size or digest != model.sha256:
        raise ModelFileError(
            f"model file {path} is corrupted or was replaced: expected sha256 {model.sha256} "
            f"({model.size} bytes), got {digest} ({len(data)} bytes)"
        )
    return data


@cache
def bundled(model: ModelFile) -> bytes:
    """The verified bytes of a bundled model, read once per process."""
    return verified_bytes(model)
