"""How often a comparison calls a real change significant, and a nuisance-only change not.

Run: ``python -m benchmarks.change [--series N] [--faces STEM ...]``

Each series renders four forehead lines (12-16 % deep, 0.4-0.6 mm wide) and three crow's-feet
lines per side on a shared real face; the follow-up fades the forehead lines to a quarter of
their depth and keeps the rest; every photo gets its own exposure, white balance, rotation,
scale, shift and JPEG quality (``datasets.series``). A second pair per series changes nothing
but those nuisances. Printed: the share of series where the forehead reads
``significant, improved``, where the untouched crow's feet read ``unchanged``, the share of
region-metrics flagged in nuisance-only pairs, and the median comparison time; then the same
per face.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

from analysis import compare
from analysis.face import shared_finder
from analysis.io import load_image
from analysis.pipeline import prepare
from datasets.series import series_pair
from datasets.shared_faces import FACES_DIR

FACES = FACES_DIR


@dataclass(frozen=True)
class Series:
    """One series' outcome: its fade pair, and the nuisance-only pair drawn with it."""

    stem: str
    faded_found: bool
    crows_unchanged: bool
    flagged: int
    compared: int


DEV = ("pd_rex_tillerson_official", "pd_biden_2021_presidential", "ccby_philip_hammond_ukparl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=8, help="series per face")
    parser.add_argument("--faces", nargs="+", default=list(DEV))
    args = parser.parse_args()
    finder = shared_finder()
    series: list[Series] = []
    by_metric: dict[str, int] = {}
    times: list[float] = []
    for stem in args.faces:
        rgb = load_image(FACES / f"{stem}.jpg").rgb
        face = prepare(rgb, finder=finder).face
        for seed in range(args.series):
            before, after = series_pair(rgb, face, seed)
            t = time.perf_counter()
            c = compare(before, after, finder=finder)
            times.append(time.perf_counter() - t)
            sev = c.changes["forehead"]["wrinkles.severity"]
            same_before, same_after = series_pair(rgb, face, 1000 + seed, fade=1.0)
            quiet = compare(same_before, same_after, finder=finder)
            flags = [(m, x.significant) for r in quiet.changes.values() for m, x in r.items()]
            for metric, significant in flags:
                if significant:
                    by_metric[metric] = by_metric.get(metric, 0) + 1
            series.append(
                Series(
                    stem,
                    faded_found=bool(sev.significant and sev.improved),
                    crows_unchanged=all(
                        not c.changes[f"crows_feet_{s}"]["wrinkles.severity"].significant
                        for s in ("left", "right")
                    ),
                    flagged=sum(f for _, f in flags),
                    compared=len(flags),
                )
            )
    hits, crows_ok, flagged, total, n = _totals(series)
    worst = sorted(by_metric.items(), key=lambda kv: -kv[1])[:5]
    print(f"{n} series on {len(args.faces)} faces ({', '.join(args.faces)})")
    print()
    print("| measure | value | target |")
    print("|---|---:|---:|")
    print(f"| faded forehead: severity significant and improved | {hits / n:.0%} | >= 95 % |")
    print(f"| untouched crow's feet: severity unchanged | {crows_ok / n:.0%} | >= 95 % |")
    print(f"| nuisance-only pairs: region-metrics flagged | {flagged / total:.1%} | <= 5 % |")
    print(f"| median comparison time (s) | {statistics.median(times):.1f} | |")
    print()
    print("most flagged metrics in nuisance-only pairs:", ", ".join(f"{m} {k}" for m, k in worst))
    print()
    print("| face | faded forehead found | crow's feet unchanged | nuisance flagged |")
    print("|---|---:|---:|---:|")
    for stem in args.faces:
        f_hits, f_crows, f_flagged, f_total, f_n = _totals([x for x in series if x.stem == stem])
        print(f"| {stem} | {f_hits}/{f_n} | {f_crows}/{f_n} | {f_flagged / f_total:.1%} |")


def _totals(series: list[Series]) -> tuple[int, int, int, int, int]:
    """Faded foreheads found, crow's feet unchanged, region-metrics flagged and compared in the
    nuisance-only pairs, and the number of series."""
    return (
        sum(x.faded_found for x in series),
        sum(x.crows_unchanged for x in series),
        sum(x.flagged for x in series),
        sum(x.compared for x in series),
        len(series),
    )


if __name__ == "__main__":
    main()
