"""Public-domain sample photos shipped with scikit-image, written to a file for the quick start.

Usage: ``python -m datasets.samples astronaut OUT.png``
"""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLES = ("astronaut",)


def write_sample(name: str, path: Path) -> None:
    """Write scikit-image sample ``name`` (RGB) as a PNG at ``path``."""
    from PIL import Image
    from skimage import data

    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(getattr(data, name)()).save(path)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m datasets.samples astronaut OUT.png", file=sys.stderr)
        return 2
    try:
        write_sample(argv[0], Path(argv[1]))
    except (ValueError, OSError) as exc:
        print(f"datasets.samples: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
