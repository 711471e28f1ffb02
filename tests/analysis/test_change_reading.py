"""How a comparison reads a change of lines, on exact synthetic truth (procedural skin)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from analysis.compare import (
    SEVERITY_INDEX_MDC_FLOOR,
    SMALLEST_LINE_LOAD,
    _changed_index,
    _changed_lines,
    _difference,
    _difference_shift,
    _floor,
    _line_read,
)
from analysis.metrics import severity, severity_index_of
from analysis.regions import ANATOMICAL_REGIONS, RegionMasks
from analysis.wrinkles import WrinkleMap, detect_wrinkles
from datasets.synthetic import LineSpec, adjust_exposure, curved_line, render_lines
from tests.analysis.synthetic_face import MM_PER_PX, canonical, skin

BASE = skin(seed=3)
SKIN = np.zeros(BASE.shape[:2], bool)
SKIN[10:-10, 10:-10] = True
REGIONS = RegionMasks(
    labels=np.where(SKIN, ANATOMICAL_REGIONS.index("forehead") + 1, 0).astype(np.uint8),
    skin=SKIN,
    features=~SKIN,
    hair_fraction=0.0,
)


def _line(y: float, width_mm: float, depth: float) -> LineSpec:
    pts = curved_line((100.0, y), (400.0, y), curvature=0.0)
    return LineSpec(points_px=pts, width_mm=width_mm, depth=depth)


def _detect(rgb: np.ndarray) -> WrinkleMap:
    return detect_wrinkles(canonical(rgb), SKIN, features=~SKIN)


def _straight(
    start: tuple[float, float], end: tuple[float, float], depth: float, width_mm: float = 0.6
) -> LineSpec:
    pts = curved_line(start, end, curvature=0.0)
    return LineSpec(points_px=pts, width_mm=width_mm, depth=depth)


def _read_change(
    before: np.ndarray, after: np.ndarray, at: np.ndarray | None = None
) -> tuple[float, float, np.ndarray]:
    """On the lines that changed between two photos (within ``at``): how much each photo's
    own line read fell, summed, and how much it fell once the after photo's is moved to
    what the difference reads (``_difference_shift``); and where those lines are."""
    a, b = canonical(before), canonical(after)
    read_a, read_b = _line_read(_detect(before)), _line_read(_detect(after))
    pair = _difference(a, b, REGIONS)
    (faded, faded_read), (deepened, deepened_read) = (
        _changed_lines(a, pair, REGIONS, sign) for sign in (1.0, -1.0)
    )
    changed = np.maximum(faded, deepened) > 0
    shift = _difference_shift(read_a, read_b, faded_read, deepened_read, changed)
    on = changed if at is None else changed & at
    fell = (read_a.astype(np.float32) - read_b.astype(np.float32))[on]
    return float(fell.sum()), float((fell - shift[on]).sum()), changed


def test_a_blur_moves_a_line_s_broad_read_a_third_as_much_as_its_best_scale():
    """A re-take re-samples the photo, a little softer or sharper. A 0.4 mm line's valley
    strength at its best scale follows its depth, which a blur lowers; at the broad scale it
    follows the line's cross-section area, which a blur keeps."""
    drawn = render_lines(BASE, [_line(250.0, 0.4, 0.12)], mm_per_px=MM_PER_PX).image
    sharp = _detect(drawn)
    soft = _detect(np.asarray(cv2.GaussianBlur(drawn, (0, 0), 0.5), np.uint8))
    on = sharp.centerline
    assert on.sum() > 250
    best = float(soft.strength[on].mean() / sharp.strength[on].mean())
    broad = float(soft.broad[on].mean() / sharp.broad[on].mean())
    assert best < 0.92, best
    assert 1.0 - broad < 0.4 * (1.0 - best), (broad, best)


def test_a_faint_line_beside_a_fold_that_fades_is_found_in_the_difference():
    """A 10 %-deep line 1 mm beside a 25 %-deep fold: the fold darkens one side of it, so
    neither photo's detector counts it. In the difference of the two photos the fold cancels
    and the faded line stands alone: it is found over its whole length, and nothing else
    (and as a line that deepened when the photos are swapped)."""
    fold, faint = _line(250.0, 1.2, 0.25), _line(255.0, 0.4, 0.10)
    before = render_lines(BASE, [fold, faint], mm_per_px=MM_PER_PX).image
    after = render_lines(BASE, [fold], mm_per_px=MM_PER_PX).image
    near = np.zeros(SKIN.shape, bool)
    near[253:258, 100:401] = True  # within 2 px of the faint line's centre
    assert _detect(before).length_mm[near].sum() < 5.0  # of its 60 mm
    assert _detect(after).length_mm[near].sum() < 5.0

    def changed(a: np.ndarray, b: np.ndarray, sign: float) -> np.ndarray:
        pair = _difference(canonical(a), canonical(b), REGIONS)
        return _changed_lines(canonical(a), pair, REGIONS, sign)[0]

    faded = changed(before, after, 1.0)
    assert faded[near].sum() > 50.0
    assert faded[~near].sum() < 5.0
    deepened = changed(before, after, -1.0)
    assert deepened.sum() < 5.0
    # the same pair the other way round: the line deepened
    assert changed(after, before, -1.0)[near].sum() > 50.0
    # nothing changed but the light: no line changed
    relit = adjust_exposure(before, 0.85)
    for sign in (1.0, -1.0):
        assert changed(before, relit, sign).sum() < 3.0


def test_a_region_s_line_load_falls_whole_when_small_and_never_to_none():
    """The lines a comparison reads include more than the before photo's own: a follow-up
    smoother all over can lose more load than those own lines hold. A small fall is taken off
    whole (not shrunk by the share of the load the region's own lines hold), a large one ever
    more gently, never to none; new lines add their whole load."""
    own, base = 30.0, 120.0
    assert _changed_index(own, base, base) == own
    # a faded line's fall of 3 is read as about 3, not as 3 x own / base = 0.75
    assert _changed_index(own, base, 117.0) == pytest.approx(27.0, abs=0.2)
    assert own - _changed_index(own, base, 117.0) > 3.0 * 0.9
    # the load fell by more than the region's own index: some lines are still read
    assert 0.0 < _changed_index(own, base, 60.0) < 5.0
    assert 0.0 < _changed_index(own, base, 0.0) < _changed_index(own, base, 60.0)
    assert _changed_index(own, base, 150.0) == pytest.approx(60.0)  # 30 more, added
    assert _changed_index(0.0, 10.0, 40.0) == pytest.approx(30.0)  # lines where there were none
    assert _changed_index(0.0, 10.0, 5.0) == 0.0  # no own lines: a fall leaves none
    for load in (0.0, 10.0, 60.0, 119.0, 119.999, 120.0, 121.0, 200.0):  # continuous, rising
        assert _changed_index(own, base, load) <= _changed_index(own, base, load + 1e-3) + 1e-9
    assert _changed_index(own, base, base - 1e-6) == pytest.approx(own, abs=1e-5)


def test_severity_s_floor_is_a_share_of_its_line_load_not_of_its_value():
    """Severity saturates: the same share of line load moves a dense region's severity by
    fewer points than a sparse one's. The floor asks every region for the same share of its
    index (``SEVERITY_INDEX_MDC_FLOOR`` per canonical pixel of the coarser photo)."""
    for value in (0.5, 15.0, 30.0, 71.0, 95.0):
        assert float(severity(severity_index_of(value))) == pytest.approx(value)
    for value in (15.0, 30.0, 71.0):
        for pixel in (1.0, 2.5):
            floor = _floor("wrinkles.severity", value, value - 1.0, pixel, 30.0)
            index_rise = severity_index_of(value + floor) / severity_index_of(value) - 1.0
            assert index_rise == pytest.approx(SEVERITY_INDEX_MDC_FLOOR * pixel, rel=1e-6)
    # as a share of severity, the floor is smaller where the curve is flat
    share = {v: _floor("wrinkles.severity", v, v, 1.0, 30.0) / v for v in (15.0, 71.0)}
    assert share[71.0] < 0.6 * share[15.0]
    # where there are no lines, at least one line at the detector's limit in the region
    empty = _floor("wrinkles.severity", 0.0, 0.0, 1.0, 30.0)
    assert empty == pytest.approx(float(severity(SMALLEST_LINE_LOAD / 30.0)))
    assert _floor("wrinkles.severity", 0.0, 0.0, 1.0, 0.0) == 0.0  # no region: no floor
    assert _floor("wrinkles.count", 3.0, 4.0, 1.0, 30.0) == 1.0


@pytest.mark.parametrize(
    "others",
    [
        # two 20 %-deep lines crossing it at +-6 degrees (a fan of crow's feet)
        [
            _straight((100.0, 235.0), (400.0, 265.0), 0.2),
            _straight((100.0, 265.0), (400.0, 235.0), 0.2),
        ],
        # two 20 %-deep lines 1.2 mm either side of it
        [
            _straight((100.0, 244.0), (400.0, 244.0), 0.2),
            _straight((100.0, 256.0), (400.0, 256.0), 0.2),
        ],
    ],
    ids=["crossing", "parallel"],
)
def test_a_line_fading_among_others_reads_the_fade_it_reads_alone(others: list[LineSpec]):
    """A 14 %-deep line fades to a quarter. Alone, each photo's own line read and the
    difference of the two photos read the same fall. Among deeper lines, each photo's read at
    the fading line is taken over by its neighbours (the strongest of eight directions; a
    neighbour's flank), so it reads half the fall or none; the difference, where the
    neighbours cancel, reads the fall it reads alone."""
    line = _straight((100.0, 250.0), (400.0, 250.0), 0.14, width_mm=0.5)
    gone = replace(line, depth=line.depth / 4)
    near = np.zeros(SKIN.shape, bool)
    near[248:253, 110:391] = True  # the fading line's centre, +-2 px

    def fall(lines: list[LineSpec]) -> tuple[float, float]:
        before = render_lines(BASE, [line, *lines], mm_per_px=MM_PER_PX).image
        after = render_lines(BASE, [gone, *lines], mm_per_px=MM_PER_PX).image
        own, told, changed = _read_change(before, after, near)
        assert (changed & near).sum() > 200  # of its 280 pixels there
        return own, told

    own_alone, told_alone = fall([])
    assert told_alone == pytest.approx(own_alone, rel=0.1)
    own, told = fall(others)
    assert own < 0.6 * told_alone, (own, told_alone)
    assert told == pytest.approx(told_alone, rel=0.25), (told, told_alone)


@pytest.mark.parametrize("dy", [0.3, 0.5, 1.0])
def test_a_line_misregistered_by_a_pixel_reads_no_change(dy: float):
    """The same 20 %-deep line, in the after photo moved by up to a pixel: the difference
    holds a valley beside a ridge, and both are found as lines that changed, but the valley's
    read and the ridge's cancel: the change read there is a few percent of the line's read."""
    line = _straight((100.0, 250.0), (400.0, 250.0), 0.2)
    moved = replace(line, points_px=line.points_px + np.array([0.0, dy]))
    before = render_lines(BASE, [line], mm_per_px=MM_PER_PX).image
    after = render_lines(BASE, [moved], mm_per_px=MM_PER_PX).image
    _, told, changed = _read_change(before, after)
    assert changed.sum() > 300  # the valley and the ridge are found
    own = _detect(before)
    whole = float(_line_read(own)[own.length_mm > 0].astype(np.float32).sum())
    assert abs(told) < 0.06 * whole, (told, whole)
