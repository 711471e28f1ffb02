"""Where the shared real face photos are, and which of them are held out.

The 19 photos live in ``../shared/faces`` beside the checkout (never copied into the project);
``WRINKLETRACK_FACES_DIR`` points elsewhere. Detector settings may be chosen on the other
faces only; the held-out set is scored, never tuned on.
"""

from __future__ import annotations

import os
from pathlib import Path

FACES_DIR = Path(
    os.environ.get(
        "WRINKLETRACK_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "faces"
    )
)
HELD_OUT: tuple[str, ...] = (
    "ccby_lord_owen_ukparl",
    "ccby_emma_bonino_2017",
    "pd_colin_powell_official",
    "pd_james_baker",
    "pd_obama_2010_blueroom",
    "pd_sonia_sotomayor_2009_scotus",
)
