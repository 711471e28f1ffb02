"""Speed and memory of one full analysis of a 12 MP photo, next to a reference filter call.

Run: ``python -m benchmarks.speed [--repeats N] [--face STEM]``

The reference is ``skimage.filters.frangi(gray, sigmas=(1, 2, 3, 4))`` on a 1024x1024 grey
image, timed in the same process, so the ratio is comparable across machines. The 12 MP input
is a shared face (../shared/faces) upscaled to 12 MP in its own aspect ratio (a square photo
to 3464x3464, a 4:5 one to 3098x3873) and JPEG-encoded; the analysis starts
from the file's bytes (decoding included). Memory: peak Python-tracked allocations during one
analysis (tracemalloc, numpy arrays included; OpenCV's own buffers are not tracked) and the
process's peak resident set.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import cv2
import numpy as np

from datasets.shared_faces import FACES_DIR

FACES = FACES_DIR


TWELVE_MP = 12_000_000


def twelve_mp_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of 12 MP in the photo's own aspect ratio. Until 2026-11-29 every photo
    was stretched to 3000x4000, which made the square Biden photos' faces a third taller."""
    scale = float(np.sqrt(TWELVE_MP / (width * height)))
    return round(width * scale), round(height * scale)


def _twelve_mp_jpeg(stem: str) -> bytes:
    path = FACES / f"{stem}.jpg"
    if not path.is_file():
        raise SystemExit(f"benchmark needs the shared face photos: {path} is missing")
    img = cv2.imread(str(path))
    if img is None:
        raise SystemExit(f"cannot read {path}")
    size = twelve_mp_size(img.shape[1], img.shape[0])
    img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def _frangi_reference() -> float:
    from skimage import data, filters, transform  # untyped library

    gray = transform.resize(data.camera(), (1024, 1024)).astype(np.float64)  # type: ignore[no-untyped-call]
    t = time.perf_counter()
    filters.frangi(gray, sigmas=(1, 2, 3, 4))  # type: ignore[no-untyped-call]
    return time.perf_counter() - t


def _compare_timing(
    before: bytes, after: bytes, finder: object, repeats: int
) -> tuple[list[float], list[float]]:
    """Comparison times and, between them, frangi reference times (one warm-up comparison
    first, as for the analysis: thread pools, model graphs and caches)."""
    from analysis import compare

    compare(before, after, finder=finder)
    times, frangi = [], [_frangi_reference()]
    for _ in range(repeats):
        t = time.perf_counter()
        compare(before, after, finder=finder)
        times.append(time.perf_counter() - t)
        frangi.append(_frangi_reference())
    return times, frangi


def _track_timing(before: bytes, after: bytes, finder: object, repeats: int) -> list[float]:
    """Seconds per follow-up of ``track`` with three follow-ups (the after photo re-encoded at
    JPEG quality 90, 85 and 80: three photos that see the same skin as the baseline)."""
    from analysis import track

    bgr = np.asarray(cv2.imdecode(np.frombuffer(after, np.uint8), cv2.IMREAD_COLOR), np.uint8)
    followups = [
        cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])[1].tobytes() for q in (90, 85, 80)
    ]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = track(before, followups, finder=finder)
        times.append((time.perf_counter() - t) / len(followups))
        assert not any(isinstance(f, Exception) for f in result.followups)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--face", default="pd_rex_tillerson_official")
    parser.add_argument(
        "--pair", nargs=2, default=["pd_biden_2013_vp", "pd_biden_2021_presidential"]
    )
    args = parser.parse_args()

    from analysis import analyze
    from analysis.face import shared_finder

    jpeg = _twelve_mp_jpeg(args.face)
    finder = shared_finder()
    analyze(jpeg, finder=finder)  # warm-up: model graphs, caches

    frangi, totals, stages = [], [], []
    for _ in range(args.repeats):
        frangi.append(_frangi_reference())
        t = time.perf_counter()
        result = analyze(jpeg, finder=finder)
        totals.append(time.perf_counter() - t)
        stages.append(result.timings)
        frangi.append(_frangi_reference())

    tracemalloc.start()
    analyze(jpeg, finder=finder)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    med_total, med_frangi = statistics.median(totals), statistics.median(frangi)
    print(f"12 MP analysis ({args.face}, JPEG bytes in), {args.repeats} runs, medians")
    print()
    print("| what | median s | ratio to frangi |")
    print("|---|---:|---:|")
    print(f"| frangi(1024x1024, sigmas 1-4) reference | {med_frangi:.3f} | 1.00 |")
    print(f"| full analysis, 12 MP | {med_total:.3f} | {med_total / med_frangi:.2f} |")
    for name in stages[0]:
        med = statistics.median(s[name] for s in stages)
        print(f"| stage: {name} | {med:.3f} | {med / med_frangi:.2f} |")
    print()
    print(f"peak traced allocations during one analysis: {peak / 2**20:.0f} MiB")
    print(f"process peak resident set: {rss_mb:.0f} MiB")
    verdict = "met" if med_total <= 0.6 * med_frangi else "NOT met"
    print(f"target: analysis <= 0.60 x frangi -> {verdict}")

    before, after = (_twelve_mp_jpeg(stem) for stem in args.pair)
    compare_times, frangi_cmp = _compare_timing(before, after, finder, args.repeats)
    frangi_now = statistics.median(frangi_cmp)
    med_cmp = statistics.median(compare_times)
    print()
    print(
        f"12 MP comparison ({args.pair[0]} -> {args.pair[1]}, both at 12 MP), "
        f"MDC included, {args.repeats} runs after a warm-up, medians; a series measures its "
        "baseline once"
    )
    print()
    print("| what | median s | ratio to frangi |")
    print("|---|---:|---:|")
    print(f"| frangi reference | {frangi_now:.3f} | 1.00 |")
    print(f"| compare, 12 MP pair | {med_cmp:.3f} | {med_cmp / frangi_now:.2f} |")
    per_followup = statistics.median(_track_timing(before, after, finder, args.repeats))
    print(
        f"| track, baseline + 3 follow-ups, per follow-up | {per_followup:.3f} "
        f"| {per_followup / frangi_now:.2f} |"
    )
    verdict = "met" if med_cmp <= 2.0 * frangi_now else "NOT met"
    print(f"target: comparison <= 2.0 x frangi -> {verdict}")


if __name__ == "__main__":
    main()
