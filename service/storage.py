"""Photo files on disk, named by the sha256 of their (metadata-free) content.

Layout: ``<data dir>/photos/<study id>/<subject id>/<sha256>``. Nothing of the uploaded file
name is ever used; erasing a subject removes its folder.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{64}")


class PhotoStore:
    """Content-addressed photo files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def subject_dir(self, study_id: int, subject_id: int) -> Path:
        return self.root / str(int(study_id)) / str(int(subject_id))

    def path(self, study_id: int, subject_id: int, sha256: str) -> Path:
        if not _SHA.fullmatch(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.subject_dir(study_id, subject_id) / sha256

    def put(self, study_id: int, subject_id: int, sha256: str, data: bytes) -> Path:
        """Write ``data`` atomically (temporary file, fsync, rename); idempotent."""
        target = self.path(study_id, subject_id, sha256)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def erase_subject(self, study_id: int, subject_id: int) -> None:
        folder = self.subject_dir(study_id, subject_id)
        if folder.exists():
            shutil.rmtree(folder)
