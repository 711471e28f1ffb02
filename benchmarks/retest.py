"""Test-retest: how often a comparison flags each metric when the photo was only taken again.

Run: ``python -m benchmarks.retest [--pairs N] [--faces STEM ...]``

Each shared face gets the accuracy benchmark's synthetic scene (lines, spots, redness: the
same drawing, seed and crop as ``benchmarks.accuracy``) and is photographed again in ``N``
pairs under the repeatability protocol (``datasets.faces.DEFAULT_NUISANCE``: exposure
+-15 %, white balance +-5 % per channel, rotation +-3 degrees, scale +-5 %, JPEG quality
80-95). Each pair is compared. Nothing changed, so every significant region-metric is a
false change. Printed per metric, for the dev and the held-out faces: the share flagged,
and, over the region pairs, the median relative change and the median relative noise floor
(both as a share of the larger of the two values); the harmonisation's gains against the true
ones (each re-take's exposure times its white balance); then the share flagged per face,
with its resolution. The accuracy benchmark reports only the overall rate, over one pair a face.
"""

from __future__ import annotations

import argparse
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis import compare
from analysis.errors import AnalysisError
from analysis.metrics import METRICS
from analysis.pipeline import analyze
from benchmarks.accuracy import SEED, drawn_face
from datasets.faces import DEFAULT_NUISANCE, Nuisance, apply_nuisance, random_nuisance
from datasets.shared_faces import FACES_DIR, HELD_OUT


@dataclass(frozen=True)
class Reading:
    """One region-metric of one nuisance-only pair."""

    stem: str
    metric: str
    before: float
    after: float
    mdc: float
    significant: bool

    @property
    def size(self) -> float:
        return max(abs(self.before), abs(self.after))


@dataclass(frozen=True)
class Summary:
    flagged: int
    compared: int
    median_change: float | None  # |after - before| / size, over region pairs with a size
    median_mdc: float | None  # mdc / size, likewise

    @property
    def share(self) -> float:
        return self.flagged / self.compared if self.compared else 0.0


def summarise(readings: Sequence[Reading]) -> Summary:
    """Flags and the median relative change and noise floor of some readings."""
    sized = [r for r in readings if r.size > 0]
    return Summary(
        flagged=sum(r.significant for r in readings),
        compared=len(readings),
        median_change=(
            statistics.median(abs(r.after - r.before) / r.size for r in sized) if sized else None
        ),
        median_mdc=statistics.median(r.mdc / r.size for r in sized) if sized else None,
    )


@dataclass(frozen=True)
class Retest:
    """One face's pairs: their readings, its resolution (photo px per mm), how many pairs could
    not be compared (a photo refused, or registration), and for each pair compared the
    harmonisation's gains over the true ones, less 1 (R, G, B) and what they were read on."""

    readings: list[Reading]
    px_per_mm: float
    failed: int
    gain_errors: list[tuple[str, tuple[float, float, float]]]


def true_gains(before: Nuisance, after: Nuisance) -> NDArray[np.float64]:
    """The per-channel gains (linear light) that match ``after``'s light to ``before``'s."""
    return np.asarray(before.gains, np.float64) / np.asarray(after.gains, np.float64)


def retest(stem: str, pairs: int) -> Retest:
    """``pairs`` nuisance-only pairs of one drawn face, compared."""
    rng = np.random.default_rng([SEED, zlib.crc32(stem.encode())])
    _, mm, _, _, drawn = drawn_face(FACES_DIR / f"{stem}.jpg", rng)
    readings: list[Reading] = []
    gain_errors: list[tuple[str, tuple[float, float, float]]] = []
    failed = 0
    for _ in range(pairs):
        nuisances = [random_nuisance(rng, DEFAULT_NUISANCE) for _ in range(2)]
        try:
            shots = [analyze(apply_nuisance(drawn.image, n)[0]) for n in nuisances]
            c = compare(*shots)
        except AnalysisError:
            failed += 1
            continue
        for changes in c.changes.values():
            for m, x in changes.items():
                readings.append(Reading(stem, m, x.before, x.after, x.mdc, x.significant))
        error = np.asarray(c.photometric["gains"], np.float64) / true_gains(*nuisances) - 1.0
        gain_errors.append((str(c.photometric["reference"]), (error[0], error[1], error[2])))
    return Retest(readings, 1.0 / mm, failed, gain_errors)


def gain_error_rms(errors: Sequence[tuple[float, float, float]]) -> tuple[float, ...]:
    """Root mean square of the gains' relative errors: R, G, B, and of the blue-to-red ratio
    (the balance the tone, ITA, reads)."""
    e = np.asarray(errors, np.float64).reshape(-1, 3)
    blue_red = (1.0 + e[:, 2]) / (1.0 + e[:, 0]) - 1.0
    return (
        *(float(x) for x in np.sqrt(np.mean(e**2, axis=0))),
        float(np.sqrt(np.mean(blue_red**2))),
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2, help="nuisance-only pairs per face")
    parser.add_argument("--faces", nargs="+", help="face stems (default: all shared faces)")
    args = parser.parse_args()
    stems = args.faces or sorted(p.stem for p in FACES_DIR.glob("*.jpg"))
    if not stems:
        raise SystemExit(f"benchmark needs the shared face photos in {FACES_DIR}")
    results = {stem: retest(stem, args.pairs) for stem in stems}
    readings = [r for x in results.values() for r in x.readings]
    sets = {
        "dev": [r for r in readings if r.stem not in HELD_OUT],
        "held-out": [r for r in readings if r.stem in HELD_OUT],
    }
    print(f"{args.pairs} nuisance-only pairs per face on {len(stems)} faces")
    print()
    head = " | ".join(f"{s}: flagged | change | mdc" for s in sets)
    print(f"| metric | {head} |")
    print("|---|" + "---:|---:|---:|" * len(sets))
    for m in ("all", *METRICS):
        cells = []
        for part in sets.values():
            x = summarise([r for r in part if m == "all" or r.metric == m])
            cells.append(
                f"{x.flagged}/{x.compared} ({_pct(x.share)}) | {_pct(x.median_change)} "
                f"| {_pct(x.median_mdc)}"
                if x.compared
                else "- | - | -"
            )
        print(f"| {m} | " + " | ".join(cells) + " |")
    print()
    print("The harmonisation's white balance against the truth (rms of gains / true gains - 1):")
    print()
    print("| set | pairs | read on the sclera | R | G | B | blue / red |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, held_out in (("dev", False), ("held-out", True)):
        errors = [
            (where, e)
            for stem, res in results.items()
            if (stem in HELD_OUT) == held_out
            for where, e in res.gain_errors
        ]
        if errors:
            rms = gain_error_rms([e for _, e in errors])
            sclera = sum(where == "sclera" for where, _ in errors)
            shares = " | ".join(_pct(v) for v in rms)
            print(f"| {label} | {len(errors)} | {sclera} | {shares} |")
    print()
    print("| face | set | px/mm | flagged | pairs not compared |")
    print("|---|---|---:|---:|---:|")
    for stem, res in results.items():
        share = summarise(res.readings).share
        label = "held-out" if stem in HELD_OUT else "dev"
        print(f"| {stem} | {label} | {res.px_per_mm:.2f} | {_pct(share)} | {res.failed} |")


if __name__ == "__main__":
    main()
