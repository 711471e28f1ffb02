"""How often a comparison calls a real change significant, and a nuisance-only change not.

Run: ``python -m benchmarks.change [--series N] [--faces STEM ...]
[--site forehead|crows_feet|glabella|under_eye|nasolabial|marionette|upper_lip] [--fade F]
[--profile soft|v|flat|exp|oblique] [--doses F F ...] [--focus MM [--unmatched]]``

Each series renders four forehead lines (12-16 % deep, 0.4-0.6 mm wide) and three crow's-feet
lines per side on a shared real face (and, with ``--site glabella``, two vertical glabellar
lines; with the other sites, that site's lines from the anatomical templates of
``datasets.faces``, as wide and deep); the follow-up fades one site's lines (``--site``, the
forehead by default) to
``--fade`` (a quarter) of their depth and keeps the others'; every photo gets its own
exposure, white balance, rotation, scale, shift and JPEG quality (``datasets.series``).
``--profile`` draws every line with another cross-section. A second pair per series changes
nothing but those nuisances. Printed: the share of faded regions that read ``significant,
improved`` (the site's region, or each side's), the share of series whose
untouched regions of the other sites all read ``unchanged``, the share of region-metrics
flagged in nuisance-only pairs, the median comparison time, and each region's median severity,
change and noise floor (``mdc``) in the fade pairs; then the outcomes per face.

``--focus MM`` takes every follow-up out of focus (a Gaussian of ``MM`` at the face, in linear
light, before its nuisance); ``--unmatched`` compares with focus matching off, as before
2026-12-01 (``analysis.compare.focus_blur``), to show what it does.

``--doses 1 0.75 0.5 0.25 0`` measures dose-response instead: per series, one baseline and a
follow-up per factor (the site's lines faded to that share of their depth; each photo with its
own nuisance), each compared to the baseline (``analysis.track``). Printed: per faded region,
Spearman's rho between the dose (1 - factor) and the measured fall of ``wrinkles.severity``
and ``wrinkles.length_mm`` within each series (median over series, and the share of series
ranked without error), the same rho pooled over all series (faces with other skin and other
line loads ranked together), the median change and ``mdc`` per dose, and how often the
regions the fade does not touch (all of them, and those carrying the lines that stay) read a
significant severity change.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from dataclasses import dataclass
from typing import Any

from scipy import stats

from analysis import compare, track
from analysis.compare import Comparison
from analysis.face import Face, FaceFinder, shared_finder
from analysis.io import load_image
from analysis.pipeline import prepare
from analysis.types import U8
from datasets.series import SITES, dose_series, drawn_sites, series_pair
from datasets.shared_faces import FACES_DIR
from datasets.synthetic import PROFILES

FACES = FACES_DIR
# the module (``analysis.compare`` is the function)
compare_module: Any = importlib.import_module("analysis.compare")


@dataclass(frozen=True)
class Series:
    """One series' outcome: its fade pair, and the nuisance-only pair drawn with it."""

    stem: str
    faded_found: int
    faded: int
    others_unchanged: bool
    flagged: int
    compared: int


DEV = ("pd_rex_tillerson_official", "pd_biden_2021_presidential", "ccby_philip_hammond_ukparl")
SITE_REGIONS = {
    "forehead": ("forehead",),
    "crows_feet": ("crows_feet_left", "crows_feet_right"),
    "glabella": ("glabella",),
    "under_eye": ("under_eye_left", "under_eye_right"),
    "nasolabial": ("nasolabial_left", "nasolabial_right"),
    "marionette": ("marionette_left", "marionette_right"),
    "upper_lip": ("upper_lip",),
}


def site_regions(site: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The regions whose lines fade when ``site``'s do, and those carrying the lines that stay."""
    staying = tuple(r for k in drawn_sites(site) if k != site for r in SITE_REGIONS[k])
    return SITE_REGIONS[site], staying


def _photo_and_face(stem: str, finder: FaceFinder) -> tuple[U8, Face]:
    rgb = load_image(FACES / f"{stem}.jpg").rgb
    return rgb, prepare(rgb, finder=finder).face


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=8, help="series per face")
    parser.add_argument("--faces", nargs="+", default=list(DEV))
    parser.add_argument("--site", choices=SITES, default="forehead", help="the site that fades")
    parser.add_argument("--profile", choices=PROFILES, default="soft", help="line cross-section")
    parser.add_argument(
        "--fade", type=float, default=0.25, help="share of their depth the faded lines keep"
    )
    parser.add_argument(
        "--doses", type=float, nargs="+", help="dose-response: fade factors, one follow-up each"
    )
    parser.add_argument(
        "--focus", type=float, default=0.0, help="follow-ups out of focus by this Gaussian (mm)"
    )
    parser.add_argument(
        "--unmatched",
        action="store_true",
        help="compare with focus matching off (as before 2026-12-01), for reference",
    )
    args = parser.parse_args()
    if not 0 <= args.focus <= 1:
        parser.error("--focus must be in [0, 1] mm")
    if args.unmatched:
        compare_module.FOCUS_MAX_PX = 0.0  # focus_blur then never softens a photo
    if not 0 < args.fade <= 1:
        parser.error("--fade must be in (0, 1]")
    if args.doses is not None:
        if len(set(args.doses)) < 3 or any(not 0 <= f <= 1 for f in args.doses):
            parser.error("--doses needs at least three distinct factors in [0, 1]")
        doses(args.faces, args.series, args.site, args.profile, tuple(args.doses), args.focus)
        return
    fading, staying = site_regions(args.site)
    finder = shared_finder()
    series: list[Series] = []
    by_metric: dict[str, int] = {}
    times: list[float] = []
    floors: dict[str, list[tuple[float, float, float]]] = {}  # region: (before, delta, mdc)
    drawing = {"site": args.site, "profile": args.profile, "focus_mm": args.focus}
    for stem in args.faces:
        rgb, face = _photo_and_face(stem, finder)
        for seed in range(args.series):
            before, after = series_pair(rgb, face, seed, fade=args.fade, **drawing)
            t = time.perf_counter()
            c = compare(before, after, finder=finder)
            times.append(time.perf_counter() - t)
            sev = [c.changes[r]["wrinkles.severity"] for r in fading]
            for r in (*fading, *staying):
                x = c.changes[r]["wrinkles.severity"]
                floors.setdefault(r, []).append((x.before, x.after - x.before, x.mdc))
            same_before, same_after = series_pair(rgb, face, 1000 + seed, fade=1.0, **drawing)
            quiet = compare(same_before, same_after, finder=finder)
            flags = [(m, x.significant) for r in quiet.changes.values() for m, x in r.items()]
            for metric, significant in flags:
                if significant:
                    by_metric[metric] = by_metric.get(metric, 0) + 1
            series.append(
                Series(
                    stem,
                    faded_found=sum(bool(x.significant and x.improved) for x in sev),
                    faded=len(sev),
                    others_unchanged=all(
                        not c.changes[r]["wrinkles.severity"].significant for r in staying
                    ),
                    flagged=sum(f for _, f in flags),
                    compared=len(flags),
                )
            )
    hits, faded, others_ok, flagged, total, n = _totals(series)
    worst = sorted(by_metric.items(), key=lambda kv: -kv[1])[:5]
    fade_name, stay_name = args.site.replace("_", " "), " and ".join(staying).replace("_", " ")
    print(f"{n} series on {len(args.faces)} faces ({', '.join(args.faces)})")
    print(
        f"faded to {args.fade:g} of their depth: {fade_name}; untouched: {stay_name}; "
        f"lines drawn with profile {args.profile}"
        + (f"; follow-ups out of focus by {args.focus:g} mm" if args.focus else "")
        + ("; focus matching off" if args.unmatched else "")
    )
    print()
    print("| measure | value | target |")
    print("|---|---:|---:|")
    found = f"{hits / faded:.0%}"
    print(f"| faded {fade_name}: severity significant and improved | {found} | >= 95 % |")
    print(f"| untouched {stay_name}: severity unchanged | {others_ok / n:.0%} | >= 95 % |")
    print(f"| nuisance-only pairs: region-metrics flagged | {flagged / total:.1%} | <= 5 % |")
    print(f"| median comparison time (s) | {statistics.median(times):.1f} | |")
    print()
    print("most flagged metrics in nuisance-only pairs:", ", ".join(f"{m} {k}" for m, k in worst))
    print()
    print("wrinkles.severity in the fade pairs, medians over series (the noise floor per region):")
    print()
    print("| region | before | delta | mdc | mdc / before |")
    print("|---|---:|---:|---:|---:|")
    for r, rows in floors.items():
        b, d, m = (statistics.median(col) for col in zip(*rows, strict=True))
        share = statistics.median(x[2] / x[0] for x in rows if x[0] > 0)
        print(f"| {r} | {b:.1f} | {d:+.1f} | {m:.1f} | {share:.0%} |")
    print()
    print(f"| face | faded {fade_name} found | {stay_name} unchanged | nuisance flagged |")
    print("|---|---:|---:|---:|")
    for stem in args.faces:
        f_hits, f_faded, f_ok, f_flagged, f_total, f_n = _totals(
            [x for x in series if x.stem == stem]
        )
        print(f"| {stem} | {f_hits}/{f_faded} | {f_ok}/{f_n} | {f_flagged / f_total:.1%} |")


@dataclass(frozen=True)
class Reading:
    """One faded region's reading in one follow-up of a dose series."""

    stem: str
    seed: int
    region: str
    dose: float  # the share of depth the lines lost: 1 - factor
    severity: float  # measured change (after - before)
    length: float
    mdc: float
    found: bool  # significant and improved


def doses(
    faces: list[str],
    n_series: int,
    site: str,
    profile: str,
    factors: tuple[float, ...],
    focus_mm: float = 0.0,
) -> None:
    """The dose-response mode of :func:`main` (see the module doc)."""
    fading, staying = site_regions(site)
    finder = shared_finder()
    readings: list[Reading] = []
    untouched: dict[str, list[bool]] = {}  # region: significant severity change, per follow-up
    flagged: dict[str, dict[str, int]] = {}  # face: untouched region: follow-ups flagged
    for stem in faces:
        rgb, face = _photo_and_face(stem, finder)
        for seed in range(n_series):
            before, afters = dose_series(
                rgb, face, seed, factors, site=site, profile=profile, focus_mm=focus_mm
            )
            followups = track(before, afters, finder=finder).followups
            for f, c in zip(factors, followups, strict=True):
                if not isinstance(c, Comparison):
                    print(f"{stem} seed {seed} factor {f:g}: refused ({c.code})")
                    continue
                for r in fading:
                    sev, ln = c.changes[r]["wrinkles.severity"], c.changes[r]["wrinkles.length_mm"]
                    readings.append(
                        Reading(
                            stem,
                            seed,
                            r,
                            1 - f,
                            sev.delta,
                            ln.delta,
                            sev.mdc,
                            bool(sev.significant and sev.improved),
                        )
                    )
                for r, x in c.changes.items():
                    if r not in fading and r != "full_face":
                        significant = x["wrinkles.severity"].significant
                        untouched.setdefault(r, []).append(significant)
                        mine = flagged.setdefault(stem, {})
                        mine[r] = mine.get(r, 0) + significant
    _dose_report(
        readings, untouched, faces, n_series, site, profile, factors, staying, flagged=flagged
    )


def _rho(x: list[float], y: list[float]) -> float:
    if len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def _dose_report(
    readings: list[Reading],
    untouched: dict[str, list[bool]],
    faces: list[str],
    n_series: int,
    site: str,
    profile: str,
    factors: tuple[float, ...],
    staying: tuple[str, ...],
    *,
    flagged: dict[str, dict[str, int]] | None = None,
) -> None:
    print(f"dose-response: {n_series} series x {len(faces)} faces ({', '.join(faces)})")
    print(
        f"{site.replace('_', ' ')} lines faded to {', '.join(f'{f:g}' for f in factors)} of "
        f"their depth, one follow-up each, lines drawn with profile {profile}"
    )
    print()
    print(
        "| region | series | severity rho, median | ranked without error | length rho, median "
        "| severity rho, pooled | length rho, pooled |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    # each complete series of each faded region: its readings in dose order
    series: dict[tuple[str, int, str], list[Reading]] = {}
    for x in readings:
        series.setdefault((x.stem, x.seed, x.region), []).append(x)
    complete = {k: g for k, g in series.items() if len(g) == len(factors)}
    rho = {k: _rho([x.dose for x in g], [-x.severity for x in g]) for k, g in complete.items()}
    regions = SITE_REGIONS[site]
    for r in regions:
        mine = [x for x in readings if x.region == r]
        keys = [k for k in complete if k[2] == r]
        sev = [rho[k] for k in keys]
        ln = [_rho([x.dose for x in complete[k]], [-x.length for x in complete[k]]) for k in keys]
        exact = sum(v > 1 - 1e-9 for v in sev)
        dose, fall = [x.dose for x in mine], [-x.severity for x in mine]
        pooled_ln = _rho(dose, [-x.length for x in mine])
        print(
            f"| {r} | {len(keys)} | {statistics.median(sev):.2f} | {exact}/{len(keys)} "
            f"| {statistics.median(ln):.2f} | {_rho(dose, fall):.2f} | {pooled_ln:.2f} |"
        )
    print()
    print(
        "| depth kept | dose | severity change, median | mdc, median | significant and improved |"
    )
    print("|---:|---:|---:|---:|---:|")
    for f in factors:
        at = [x for x in readings if x.dose == 1 - f]
        if not at:
            continue
        d = statistics.median(x.severity for x in at)
        m = statistics.median(x.mdc for x in at)
        hits = sum(x.found for x in at)
        print(f"| {f:g} | {1 - f:g} | {d:+.2f} | {m:.2f} | {hits}/{len(at)} |")
    print()
    flags = [v for r in untouched for v in untouched[r]]
    kept = [v for r in staying for v in untouched.get(r, [])]
    print(
        f"regions the fade leaves alone, severity significant: {sum(flags)} of {len(flags)} "
        f"({sum(flags) / max(len(flags), 1):.1%}); of those carrying the lines that stay "
        f"({', '.join(staying)}): {sum(kept)} of {len(kept)} ({sum(kept) / max(len(kept), 1):.1%})"
    )
    worst = sorted(((sum(v), r) for r, v in untouched.items() if sum(v)), reverse=True)[:6]
    print("most flagged:", ", ".join(f"{r} {k}" for k, r in worst) or "none")
    print()
    print(
        "| face | "
        + " | ".join(f"{r}: severity rho per series" for r in regions)
        + " | untouched regions flagged |"
    )
    print("|---|" + "---|" * (len(regions) + 1))
    for stem in faces:
        cells = [
            ", ".join(f"{rho[k]:.2f}" for k in complete if k[0] == stem and k[2] == r) or "-"
            for r in regions
        ]
        by_region = (flagged or {}).get(stem, {})
        cells.append(", ".join(f"{r} {k}" for r, k in by_region.items() if k) or "none")
        print(f"| {stem} | " + " | ".join(cells) + " |")


def _totals(series: list[Series]) -> tuple[int, int, int, int, int, int]:
    """Faded regions found and drawn, series whose untouched regions all read unchanged,
    region-metrics flagged and compared in the nuisance-only pairs, and the number of series."""
    return (
        sum(x.faded_found for x in series),
        sum(x.faded for x in series),
        sum(x.others_unchanged for x in series),
        sum(x.flagged for x in series),
        sum(x.compared for x in series),
        len(series),
    )


if __name__ == "__main__":
    main()
