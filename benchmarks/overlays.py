"""Write the overlay, mask and JSON of every shared face photo to a git-ignored folder.

Run: ``python -m benchmarks.overlays [OUT_DIR]`` (default ``out/overlays``). These are for
looking at, never for committing (the photos' licences and the White House courtesy notice
forbid publishing altered copies). Prints one line per photo: severity, quality issues, time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2

from analysis import AnalysisError, analyze
from analysis.face import shared_finder
from analysis.overlay import draw_overlay, wrinkle_mask
from datasets.shared_faces import FACES_DIR

FACES = FACES_DIR


def main(out_dir: Path) -> int:
    photos = sorted(FACES.glob("*.jpg"))
    if not photos:
        print(f"no photos in {FACES}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    finder = shared_finder()
    for path in photos:
        t = time.perf_counter()
        try:
            result = analyze(path, finder=finder)
        except AnalysisError as err:
            print(f"{path.stem:34s} refused: {err.code}")
            continue
        cv2.imwrite(str(out_dir / f"{path.stem}.png"), draw_overlay(result)[:, :, ::-1])
        cv2.imwrite(str(out_dir / f"{path.stem}_mask.png"), wrinkle_mask(result))
        (out_dir / f"{path.stem}.json").write_text(json.dumps(result.to_dict(), indent=1))
        full = result.metrics["full_face"]
        issues = ",".join(i.code for i in result.quality.issues) or "ok"
        print(
            f"{path.stem:34s} severity {full['wrinkles.severity']:5.1f}  "
            f"lines {full['wrinkles.length_mm']:6.0f} mm  "
            f"spots {full['pigmentation.spot_count']:3.0f}  "
            f"{result.quality.px_per_mm:4.1f} px/mm  {time.perf_counter() - t:4.1f} s  {issues}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/overlays")))
