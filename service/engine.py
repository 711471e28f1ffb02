"""The adapter between the service and ``analysis``: every analysis, comparison and overlay runs
in a worker thread pool, never on the event loop.

MediaPipe is not fork-safe, so the pool holds threads; the shared face finder locks around the
landmark model and the rest of the pipeline (numpy, OpenCV) runs in parallel. Recent analyses
and comparisons are kept in memory (by the photos' sha256) so that comparisons and overlays
need not measure a photo twice, and so are the last few baselines' measurements on their
comparisons' grids (``analysis.compare``'s ``memo``), so that each follow-up upload of a
subject re-measures only itself; ``forget`` drops all of them when a subject is erased.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
ERASED_KEPT = 4096
MEMO_ENTRIES = 2  # skin masks a baseline's memo keeps (follow-ups of a subject mostly share one)


class _Lru(OrderedDict[K, V]):
    """An ordered dict that keeps only its ``size`` newest entries: setting a key beyond that
    drops the oldest (``move_to_end`` marks one as used)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.size:
            self.popitem(last=False)


class ComparisonUnavailable(Exception):
    """``analysis.compare`` (or its overlay) is not installed in this build."""


class Engine:
    """Runs the analysis pipeline in ``workers`` threads; subclasses may replace the hooks."""

    def __init__(self, workers: int, cache_size: int = 8, baselines: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        self._cache: _Lru[tuple[str, ...], Any] = _Lru(cache_size)  # analyses, comparisons
        # before photo: its comparison memo (``analysis.compare``), one line map per entry
        self._memos: _Lru[str, _Lru[Any, Any]] = _Lru(baselines)
        self._lock = threading.Lock()
        self._erasures = 0  # forget calls so far
        # photo sha256: the forget call that erased it (the last ERASED_KEPT photos; a result
        # computed across an erasure is not kept)
        self._erased: _Lru[str, int] = _Lru(ERASED_KEPT)
        self._models: Future[None] | None = None

    # hooks ------------------------------------------------------------------------------------

    def load_models(self) -> None:
        from analysis.face import shared_finder

        shared_finder()

    def run_analysis(self, data: bytes, view: str = "frontal") -> Any:
        from analysis import analyze
        from analysis.face import shared_finder

        return analyze(data, finder=shared_finder(), view=view)

    def comparer(self) -> Callable[..., Any]:
        """``compare(before, after, *, treated_side, memo)``; raises ComparisonUnavailable."""
        try:
            from analysis.compare import compare
        except ImportError as exc:
            raise ComparisonUnavailable("comparisons are not available in this build") from exc
        return compare

    def draw_photo(self, analysis: Any) -> Any:
        from analysis.overlay import draw_overlay

        return draw_overlay(analysis)

    def draw_pair(self, comparison: Any) -> Any:
        from analysis.overlay import draw_comparison

        return draw_comparison(comparison)

    # lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin loading the models in the pool (``ready`` turns true when done)."""
        self._models = self._pool.submit(self.load_models)

    @property
    def ready(self) -> bool:
        m = self._models
        return m is not None and m.done() and m.exception() is None

    def forget(self, sha256s: list[str]) -> None:
        """Drop these photos' analyses from memory (an erased subject)."""
        gone = set(sha256s)
        with self._lock:
            self._erasures += 1
            for sha256 in gone:
                self._erased[sha256] = self._erasures
            for key in [k for k in self._cache if gone.intersection(k)]:
                del self._cache[key]
            for sha256 in gone.intersection(self._memos):
                del self._memos[sha256]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # the service's calls ----------------------------------------------------------------------

    async def analyze(self, data: bytes, sha256: str, view: str = "frontal") -> dict[str, Any]:
        """The analysis JSON of ``data`` taken from ``view`` (raises ``AnalysisError``)."""
        result = await self._run(self._analysis, sha256, lambda: data, view)
        return dict(result.to_dict())

    async def compare(
        self, before: tuple[str, Path], after: tuple[str, Path], treated_side: str | None
    ) -> dict[str, Any]:
        """The comparison JSON of two stored photos given as ``(sha256, path)``."""
        result = await self._run(self._comparison, before, after, treated_side)
        return dict(result.to_dict())

    async def photo_overlay(self, photo: tuple[str, Path], view: str = "frontal") -> bytes:
        """The overlay PNG of a stored photo taken from ``view``."""
        return await self._run(lambda: _png(self.draw_photo(self._analysis(*_reader(photo), view))))

    async def pair_overlay(
        self, before: tuple[str, Path], after: tuple[str, Path], treated_side: str | None
    ) -> bytes:
        """The overlay PNG of a comparison of two stored photos."""
        return await self._run(
            lambda: _png(self.draw_pair(self._comparison(before, after, treated_side)))
        )

    # inside the pool --------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._pool.submit(partial(fn, *args)))

    def _cached(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        """``compute()``, kept under ``key`` unless one of its photos was erased meanwhile (an
        analysis still running when its subject is erased is returned, not kept)."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]  # type: ignore[no-any-return]
            started = self._erasures
        result = compute()
        with self._lock:
            if self._erased_since(started, key):
                return result
            self._cache[key] = result
        return result

    def _analysis(self, sha256: str, read: Callable[[], bytes], view: str = "frontal") -> Any:
        # a frontal analysis keeps its old key; a side view's regions differ
        key = (sha256,) if view == "frontal" else (sha256, f"view:{view}")
        return self._cached(key, lambda: self.run_analysis(read(), view))

    def _comparison(
        self, before: tuple[str, Path], after: tuple[str, Path], treated_side: str | None
    ) -> Any:
        compare = self.comparer()  # before measuring anything
        with self._lock:
            started = self._erasures

        def run() -> Any:
            return compare(
                self._analysis(*_reader(before)),
                self._analysis(*_reader(after)),
                treated_side=treated_side,
                memo=self._memo(before[0], started),
            )

        return self._cached((before[0], after[0], str(treated_side)), run)

    def _erased_since(self, erasures: int, sha256s: tuple[str, ...]) -> bool:
        """Whether one of these photos was erased after the first ``erasures`` forget calls
        (call with the lock held)."""
        return any(self._erased.get(sha256, 0) > erasures for sha256 in sha256s)

    def _memo(self, sha256: str, started: int) -> _Lru[Any, Any]:
        """The comparison memo of this before photo (the last ``baselines`` photos keep one);
        a throwaway one when the photo was erased since the comparison ``started``."""
        with self._lock:
            if self._erased_since(started, (sha256,)):
                return _Lru(MEMO_ENTRIES)
            memo = self._memos.get(sha256)
            if memo is None:
                memo = self._memos[sha256] = _Lru(MEMO_ENTRIES)
            self._memos.move_to_end(sha256)
            return memo


def _reader(photo: tuple[str, Path]) -> tuple[str, Callable[[], bytes]]:
    sha256, path = photo
    return sha256, path.read_bytes


def _png(rgb: Any) -> bytes:
    import cv2
    import numpy as np

    img = np.asarray(rgb)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return bytes(buf.tobytes())
