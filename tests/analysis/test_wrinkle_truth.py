"""Wrinkle and spot metrics against exact synthetic truth (procedural skin, rendered lines)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from datasets.synthetic import (
    LUMA,
    PROFILES,
    LineSpec,
    RednessSpec,
    SpotSpec,
    adjust_exposure,
    adjust_white_balance,
    curved_line,
    render_lines,
    render_redness,
    render_spots,
    srgb_to_linear,
)
from tests.analysis.synthetic_face import MM_PER_PX, measure, skin


def _line(width_mm=0.5, depth=0.10, y=250.0, x0=100.0, x1=400.0, curvature=0.0, profile="soft"):
    pts = curved_line((x0, y), (x1, y), curvature=curvature)
    return LineSpec(points_px=pts, width_mm=width_mm, depth=depth, profile=profile)


def _render(lines, seed=0):
    return render_lines(skin(seed=seed), lines, mm_per_px=MM_PER_PX)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skin_without_lines_scores_below_2(seed):
    m = measure(skin(seed=seed))
    assert m["wrinkles.severity"] < 2
    assert m["wrinkles.length_mm"] < 3


@pytest.mark.parametrize(
    ("width_mm", "depth", "curvature"),
    [(0.3, 0.05, 0.0), (0.5, 0.10, 0.05), (1.0, 0.15, -0.1), (1.5, 0.25, 0.0)],
)
def test_drawn_line_length_is_measured_within_15_percent(width_mm, depth, curvature):
    r = _render([_line(width_mm, depth, curvature=curvature)])
    m = measure(r.image)
    assert m["wrinkles.length_mm"] == pytest.approx(r.lengths_mm[0], rel=0.15)
    assert m["wrinkles.count"] == 1


def _dashes(n, length_mm, rng, depth=0.10):
    """``n`` short straight dashes, random position and direction, 0.4 mm wide."""
    out = []
    for _ in range(n):
        c = rng.uniform(60, 440, 2)
        a = rng.uniform(0, np.pi)
        half = length_mm / MM_PER_PX / 2 * np.array([np.cos(a), np.sin(a)])
        out.append(LineSpec(points_px=np.array([c - half, c + half]), width_mm=0.4, depth=depth))
    return out


def test_short_dashes_are_texture_and_a_line_as_dark_is_not():
    """Skin grain, pores and stubble: dark dashes 1.5 mm long in every direction. They do not
    chain into lines (without chaining they read as their full 180 mm; the filters' reach past
    a dash's ends leaves some); one 60 mm line of the same darkness among them is measured in
    full on top."""
    rng = np.random.default_rng(5)
    dashes = _dashes(120, 1.5, rng)
    alone = measure(_render(dashes).image)["wrinkles.length_mm"]
    assert alone < 0.45 * 120 * 1.5
    r = _render([*dashes, _line(width_mm=0.4, depth=0.10)])
    added = measure(r.image)["wrinkles.length_mm"] - alone
    assert added == pytest.approx(r.lengths_mm[-1], rel=0.15)


def test_lines_of_dashes_in_a_row_count_as_lines():
    """Dashes 4 mm long with 0.4 mm gaps, end to end: a broken line still reads as a line."""
    segs = []
    for k in range(12):
        x0 = 100 + k * 22.0
        segs.append(
            LineSpec(points_px=np.array([[x0, 250.0], [x0 + 20.0, 250.0]]), width_mm=0.4, depth=0.1)
        )
    r = _render(segs)
    m = measure(r.image)
    assert m["wrinkles.length_mm"] >= 0.8 * sum(r.lengths_mm)


@pytest.mark.parametrize(("border", "counted"), [("features", True), ("outline", False)])
def test_valley_hugging_the_outline_is_not_a_line(border, counted):
    """A dark valley 1.2 mm inside the skin's edge: next to an eye or lip it may be a line; along
    the face's outline or hairline it is the shadow there, not a fold."""
    r = _render([_line(width_mm=0.5, depth=0.12, y=16.0, x0=60.0, x1=440.0)])
    m = measure(r.image, border=border)
    assert (m["wrinkles.length_mm"] > 0.5 * r.lengths_mm[0]) == counted


def test_deeper_line_raises_depth_and_severity():
    shallow = measure(_render([_line(depth=0.06)]).image)
    deep = measure(_render([_line(depth=0.15)]).image)
    deeper = measure(_render([_line(depth=0.25)]).image)
    assert (
        shallow["wrinkles.mean_depth"] < deep["wrinkles.mean_depth"] < deeper["wrinkles.mean_depth"]
    )
    assert shallow["wrinkles.severity"] < deep["wrinkles.severity"] < deeper["wrinkles.severity"]
    # measured depth is the rendered relative darkening (percent) within a quarter
    assert deep["wrinkles.mean_depth"] == pytest.approx(15.0, rel=0.25)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_cross_section_is_found_and_a_deeper_one_reads_deeper(profile):
    """Not only the default renderer's soft profile with its bright shoulders: a V groove, a
    flat trough, an exponential cusp and a one-sided (obliquely lit) line are found along
    their length, and their measured depth and severity rise with the drawn depth."""
    lines = {d: _line(width_mm=0.6, depth=d, curvature=0.05, profile=profile) for d in (0.1, 0.2)}
    drawn = {d: _render([ln]) for d, ln in lines.items()}
    m = {d: measure(r.image) for d, r in drawn.items()}
    for d, got in m.items():
        assert got["wrinkles.count"] == 1, (profile, d)
        assert got["wrinkles.length_mm"] == pytest.approx(drawn[d].lengths_mm[0], rel=0.15)
    assert m[0.1]["wrinkles.mean_depth"] < m[0.2]["wrinkles.mean_depth"]
    assert m[0.1]["wrinkles.severity"] < m[0.2]["wrinkles.severity"]
    # the measured depth is the darkening at the centre, seen on the canonical grid (a cusp
    # narrower than its pixels reads shallower)
    assert m[0.2]["wrinkles.mean_depth"] == pytest.approx(20.0, rel=0.3)


def test_fading_line_lowers_severity_while_still_detected():
    depths = [0.20, 0.15, 0.10, 0.07]
    results = [measure(_render([_line(depth=d)]).image) for d in depths]
    assert all(r["wrinkles.count"] == 1 for r in results)
    severities = [r["wrinkles.severity"] for r in results]
    assert severities == sorted(severities, reverse=True)
    assert len(set(severities)) == len(severities)


def test_wider_line_raises_mean_width():
    widths = [0.4, 0.7, 1.2]
    measured = [
        measure(_render([_line(width_mm=w)]).image)["wrinkles.mean_width_mm"] for w in widths
    ]
    assert measured == sorted(measured)
    for w, got in zip(widths, measured, strict=True):
        assert got == pytest.approx(w, rel=0.35)


def test_fine_and_deep_lines_are_split():
    fine = _line(width_mm=0.3, depth=0.055, y=150)  # fine: under 0.45 mm and 6 %
    deep = _line(width_mm=0.9, depth=0.15, y=350)
    r = _render([fine, deep])
    m = measure(r.image)
    assert m["wrinkles.fine_length_mm"] == pytest.approx(r.lengths_mm[0], rel=0.2)
    assert m["wrinkles.deep_length_mm"] == pytest.approx(r.lengths_mm[1], rel=0.2)


LIGHT_CHANGES = [
    *(("exposure", f) for f in (0.7, 0.85, 1.15, 1.3)),
    *(("white_balance", g) for g in ((1.08, 1.0, 0.92), (0.92, 1.0, 1.08), (1.0, 0.95, 1.05))),
]


@pytest.mark.parametrize(("kind", "value"), LIGHT_CHANGES)
def test_light_changes_move_wrinkle_metrics_less_than_5_percent(kind, value):
    r = _render([_line(depth=0.08), _line(width_mm=0.8, depth=0.12, y=380, curvature=0.08)])
    base = measure(r.image)
    change = adjust_exposure if kind == "exposure" else adjust_white_balance
    other = measure(change(r.image, value))
    for key in (
        "wrinkles.length_mm",
        "wrinkles.density_mm_per_cm2",
        "wrinkles.area_pct",
        "wrinkles.severity",
    ):
        assert other[key] == pytest.approx(base[key], rel=0.05), key


@pytest.mark.parametrize(("diameter_mm", "contrast"), [(3.0, 0.25), (5.0, 0.15), (8.0, 0.3)])
def test_dark_spot_adds_one_spot_with_its_area(diameter_mm, contrast):
    base_img = skin(seed=3)
    spot = SpotSpec(center_xy=(250.0, 250.0), diameter_mm=diameter_mm, contrast=contrast)
    r = render_spots(base_img, [spot], mm_per_px=MM_PER_PX, rng=np.random.default_rng(0))
    before, after = measure(base_img), measure(r.image)
    assert after["pigmentation.spot_count"] == before["pigmentation.spot_count"] + 1
    region_mm2 = (480 * MM_PER_PX) ** 2
    added_mm2 = (
        (after["pigmentation.spot_area_pct"] - before["pigmentation.spot_area_pct"])
        / 100
        * region_mm2
    )
    assert added_mm2 == pytest.approx(r.areas_mm2[0], rel=0.15)
    assert after["pigmentation.spot_contrast"] > 0


def test_spot_is_not_a_wrinkle_and_line_is_not_a_spot():
    img = skin(seed=4)
    spot = SpotSpec(center_xy=(250.0, 250.0), diameter_mm=4.0, contrast=0.3)
    spotted = render_spots(img, [spot], mm_per_px=MM_PER_PX, rng=np.random.default_rng(0)).image
    base = measure(img)
    assert measure(spotted)["wrinkles.length_mm"] <= base["wrinkles.length_mm"] + 1
    lined = _render([_line(depth=0.2, width_mm=1.0)], seed=4).image
    assert measure(lined)["pigmentation.spot_count"] == base["pigmentation.spot_count"]
    assert measure(lined)["pigmentation.spot_area_pct"] == pytest.approx(
        base["pigmentation.spot_area_pct"], abs=0.05
    )


def _red(image, *centres, diameter_mm=9.0, strength=0.35):
    patches = [
        RednessSpec(center_xy=c, diameter_mm=diameter_mm, strength=strength) for c in centres
    ]
    return render_redness(image, patches, mm_per_px=MM_PER_PX, rng=np.random.default_rng(3)).image


def test_red_patches_alone_add_almost_no_line():
    """Blood absorbs green, so a red patch is darker in luminance (here by more than a deep
    line); its edges are steps, not valleys: three strong patches add about 1 mm of line.
    (A line crossing a strong patch is another matter: docs/experiments.md, 2026-11-29, third
    session.)"""
    img = skin(seed=6)
    reddened = _red(img, (180.0, 250.0), (320.0, 250.0), (250.0, 130.0))
    darker = 1 - (srgb_to_linear(reddened / 255.0) @ LUMA) / (srgb_to_linear(img / 255.0) @ LUMA)
    assert darker.max() > 0.15
    base, red = measure(img), measure(reddened)
    assert red["wrinkles.length_mm"] <= base["wrinkles.length_mm"] + 2
    assert red["wrinkles.severity"] <= base["wrinkles.severity"] + 0.5
    assert red["redness.mean"] > base["redness.mean"]


@pytest.mark.parametrize(("diameter_mm", "contrast"), [(3.0, 0.2), (5.0, 0.15)])
def test_line_through_a_spot_keeps_its_length_there(diameter_mm, contrast):
    """A fold running through a pigmented spot (or through a shadow the pigment stage takes for
    one) is still a fold there: only chains that stay inside a spot are its edge, not a line.
    Excluding every line pixel near a spot cut the spot's width plus margins out of the line
    (5-8 mm here) and let a fold's measured length follow the spot detector in and out."""
    alone = _render([_line(width_mm=0.6, depth=0.15)], seed=5)
    spot = SpotSpec(center_xy=(250.0, 250.0), diameter_mm=diameter_mm, contrast=contrast)
    spotted = render_spots(alone.image, [spot], mm_per_px=MM_PER_PX, rng=np.random.default_rng(0))
    m_alone, m_spotted = measure(alone.image), measure(spotted.image)
    # the spot is found ...
    assert m_spotted["pigmentation.spot_area_pct"] > m_alone["pigmentation.spot_area_pct"]
    # ... and the line keeps its length through it
    assert m_spotted["wrinkles.length_mm"] >= 0.95 * m_alone["wrinkles.length_mm"]
    assert m_spotted["wrinkles.length_mm"] == pytest.approx(alone.lengths_mm[0], rel=0.15)


def test_spot_area_fades_out_beyond_the_size_gate_instead_of_dropping():
    """A patch just over ``SPOT_MAX_MM`` is not a spot, but its area fades out over a few mm
    instead of vanishing: a spot hovering at the gate used to bring its whole area in or out
    from one photo to the next. Below the gate nothing changes: area grows with the spot."""
    img = skin(seed=1)
    assert measure(img)["pigmentation.spot_count"] == 0

    def spot(diameter_mm: float) -> dict[str, float]:
        s = SpotSpec(center_xy=(250.0, 250.0), diameter_mm=diameter_mm, contrast=0.3)
        rng = np.random.default_rng(0)
        return measure(render_spots(img, [s], mm_per_px=MM_PER_PX, rng=rng).image)

    sizes = (8.0, 9.0, 10.0, 10.5, 11.0, 12.0, 13.0, 15.0)
    area = {d: spot(d)["pigmentation.spot_area_pct"] for d in sizes}
    count = {d: spot(d)["pigmentation.spot_count"] for d in (9.0, 12.0)}
    assert area[8.0] < area[9.0] < area[10.0]  # a growing spot reads as more area
    steps = [area[a] - area[b] for a, b in itertools.pairwise(sizes[2:])]
    assert max(steps) < 0.5 * area[10.0]  # no cliff: each step loses less than half
    assert area[15.0] < 0.05 * area[10.0]  # and a large patch no longer counts
    assert count == {9.0: 1, 12.0: 0}  # only spots inside the gates are counted as spots
