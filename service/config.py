"""Where wrinkletrack keeps its data and logs (environment variables, documented defaults)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``WRINKLETRACK_DATA_DIR``, else ``$XDG_DATA_HOME/wrinkletrack``, else
    ``~/.local/share/wrinkletrack``."""
    env = os.environ.get("WRINKLETRACK_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wrinkletrack"


def log_file() -> Path:
    return data_dir() / "logs" / "wrinkletrack.log"
