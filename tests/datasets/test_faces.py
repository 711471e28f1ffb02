"""Tests for :mod:`datasets.faces`: truth measured on the drawn pixels, anatomy, fades, seeds.

Lines and spots are measured on the drawn image against the same image without them, with
geometry computed here from scratch (brute-force point-to-segment distances), never with the
module's own helpers.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import landmarks as lm
from analysis.canonical import apply_affine
from analysis.types import F64, U8
from datasets.faces import (
    LINE_SITES,
    FaceFrame,
    FaceScene,
    Fade,
    Nuisance,
    NuisanceRanges,
    apply_nuisance,
    cut_polyline,
    face_redness,
    face_scene,
    face_spots,
    face_wrinkles,
    fade_scene,
    head_yaw,
    random_nuisance,
    render_face,
    render_series,
    scattered_wrinkles,
    truth_table,
)
from datasets.synthetic import (
    LUMA,
    MELANIN_OD,
    SpotSpec,
    affine_jitter,
    polyline_length,
    procedural_skin,
    render_spots,
    srgb_to_linear,
)
from tests.conftest import face_path

REAL = "pd_rex_tillerson_official"  # ~6.5 px/mm: lines of 0.5 mm are 3 px wide


def lin(img: U8) -> NDArray[np.float32]:
    return srgb_to_linear(img / 255.0)


def lum(img: U8) -> NDArray[np.float32]:
    return lin(img) @ LUMA


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def astronaut_face(finder: Any) -> tuple[F64, float]:
    """Landmarks of scikit-image's public-domain astronaut, scaled to 0.1 mm per pixel."""
    from skimage import data

    from analysis.face import find_face

    face = find_face(np.ascontiguousarray(data.astronaut()), finder=finder)
    mm = 0.1
    pts = face.points.astype(np.float64) * (face.mm_per_px / mm)
    pts -= pts.min(axis=0) - [100, 400]  # room for the forehead up to the estimated hairline
    return pts, mm


@pytest.fixture(scope="module")
def skin_canvas(astronaut_face: tuple[F64, float]) -> U8:
    pts, mm = astronaut_face
    w, h = (int(v) + 100 for v in pts.max(axis=0))
    return procedural_skin((h, w), mm_per_px=mm, rng=np.random.default_rng(5))


@pytest.fixture(scope="module")
def real_face(finder: Any) -> tuple[U8, F64, float, Any]:
    from analysis import analyze
    from analysis.io import load_image

    photo = load_image(face_path(REAL))
    a = analyze(photo, finder=finder)
    return photo.rgb, a.face.points.astype(np.float64), a.face.mm_per_px, a


def photo_skin(a: Any) -> NDArray[np.bool_]:
    import cv2

    h, w = a.photo.rgb.shape[:2]
    skin = cv2.warpAffine(
        a.regions.skin.astype(np.uint8), a.canonical.to_photo, (w, h), flags=cv2.INTER_NEAREST
    )
    return np.asarray(skin, bool)


# --------------------------------------------------------------------------- measurement


def nearest_on_polyline(pts: F64, xy: F64) -> tuple[F64, F64]:
    """Distance from each (x, y) to the polyline and the arc length of its nearest point."""
    a, ab = pts[:-1], np.diff(pts, axis=0)
    seg = np.hypot(*ab.T)
    start = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
    p = xy[:, None, :]
    t = np.clip(((p - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    d = np.hypot(*(p - a - t[..., None] * ab).transpose(2, 0, 1))
    k = d.argmin(axis=1)
    rows = np.arange(len(xy))
    return d[rows, k], start[k] + t[rows, k] * seg[k]


def measure_line(
    drop_image: NDArray[np.float32],
    pts: F64,
    mm: float,
    others: list[tuple[F64, float]],
    width_mm: float,
) -> tuple[float, float, float] | None:
    """(depth, FWHM mm, half-depth length mm) of one drawn line from the relative darkening of
    the image, away from other lines (``others``: polyline and how far it darkens, mm); None
    when too little of it is alone. The length is NaN when another line comes near either end."""
    reach = 2.5 * width_mm / mm + 2
    lo = np.floor(pts.min(0) - reach).astype(int).clip(0)
    hi = np.minimum(np.ceil(pts.max(0) + reach).astype(int), drop_image.shape[1::-1])
    ys, xs = np.mgrid[lo[1] : hi[1], lo[0] : hi[0]]
    xy = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    d, s = nearest_on_polyline(pts, xy)
    band = d < reach
    xy, d, s = xy[band], d[band], s[band]
    drop = drop_image[xy[:, 1].astype(int), xy[:, 0].astype(int)]
    clear = np.ones(len(xy), bool)
    near_ends = False
    ends = np.array([pts[0], pts[-1]])
    for o, w in others:  # leave out crossings and near neighbours
        keep_out = (width_mm + w) / mm + 1
        if np.any(o.min(0) > xy.max(0) + keep_out) or np.any(o.max(0) < xy.min(0) - keep_out):
            continue
        clear &= nearest_on_polyline(o, xy)[0] > keep_out
        near_ends |= bool(nearest_on_polyline(o, ends)[0].min() < keep_out + 1.0 / mm)
    length = polyline_length(pts)
    mid = clear & (s > 0.2 * length) & (s < 0.8 * length)
    centre = mid & (d < 0.3)
    if centre.sum() < 10:
        return None
    depth = float(np.median(drop[centre]))
    # FWHM: profile binned by distance, half-maximum crossing interpolated
    step = 0.25
    k = np.round(d[mid] / step).astype(int)
    n = np.bincount(k)
    prof = np.bincount(k, drop[mid])[n > 0] / n[n > 0]
    dist = np.flatnonzero(n > 0) * step
    i = int(np.argmax(prof < depth / 2))
    x = dist[i - 1] + (prof[i - 1] - depth / 2) / (prof[i - 1] - prof[i]) * (dist[i] - dist[i - 1])
    if near_ends:
        return depth, 2 * x * mm, float("nan")
    # length: extent along the line where the centre is at least half as dark
    on = (d < 0.5) & (drop >= 0.45 * depth)
    extent = float(s[on].max() - s[on].min())
    return depth, 2 * x * mm, extent * mm


def check_lines_exact(before: U8, scene: FaceScene, after: U8) -> None:
    mm = scene.mm_per_px
    assert scene.lines
    box = np.vstack([ln.spec.points_px for ln in scene.lines])
    x0, y0 = np.floor(box.min(0) - 60).astype(int).clip(0)
    x1, y1 = np.ceil(box.max(0) + 60).astype(int)
    drop = np.zeros(before.shape[:2], np.float32)
    crop = np.s_[y0:y1, x0:x1]
    drop[crop] = 1 - lum(after[crop]) / np.maximum(lum(before[crop]), 1e-6)
    measured = []
    for ln in scene.lines:
        # how far another line darkens: 1.5 widths, but the "exp" profile's tails run further
        others = [
            (o.spec.points_px, {"exp": 6.5}.get(o.spec.profile, 1.5) * o.spec.width_mm)
            for o in scene.lines
            if o is not ln
        ]
        got = measure_line(drop, ln.spec.points_px, mm, others, ln.spec.width_mm)
        if got is None:
            continue
        depth, fwhm, length = got
        assert depth == pytest.approx(ln.spec.depth, abs=0.01), (ln.site, ln.spec.profile)
        assert fwhm == pytest.approx(ln.spec.width_mm, abs=0.05 + 0.04 * ln.spec.width_mm), (
            ln.site,
            ln.spec.profile,
        )
        if np.isfinite(length):
            assert length == pytest.approx(ln.length_mm, abs=0.3 + 0.01 * ln.length_mm), ln.site
        else:
            length = ln.length_mm  # an end is crossed by another line: its length is not seen
        assert ln.length_mm == pytest.approx(polyline_length(ln.spec.points_px) * mm)
        measured.append((ln.site, depth, fwhm, length))
    assert len(measured) >= 0.7 * len(scene.lines)
    # the per-site table agrees with what was measured
    table = truth_table(scene)
    for site, row in table.items():
        mine = [m for m in measured if m[0] == site]
        if not mine or len(mine) < row.line_count:
            continue
        total = sum(m[3] for m in mine)
        assert row.line_count == len(mine)
        assert row.length_mm == pytest.approx(total, rel=0.03, abs=0.5)
        assert row.mean_width_mm == pytest.approx(
            sum(m[2] * m[3] for m in mine) / total, abs=0.05 + 0.04 * row.mean_width_mm
        )
        assert row.mean_depth_pct == pytest.approx(
            100 * sum(m[1] * m[3] for m in mine) / total, abs=1.0
        )


def check_spots_exact(before: U8, scene: FaceScene, after: U8, mask: NDArray[np.bool_]) -> None:
    mm = scene.mm_per_px
    od = -np.log10(np.maximum(lin(after), 1e-6) / np.maximum(lin(before), 1e-6))
    table = truth_table(scene)
    for sp in scene.spots:
        x, y = (round(v) for v in sp.spec.center_xy)
        # the centre carries the requested melanin density (in every channel's proportion)
        assert od[y, x] == pytest.approx(sp.spec.contrast * MELANIN_OD, abs=0.015)
    # drawn area (pixels at >= half density) matches the table's exact outline areas
    drawn = render_face(before, scene)
    assert float(mask.sum()) * mm**2 == pytest.approx(sum(drawn.spots.areas_mm2), rel=0.03, abs=0.5)
    for site, row in drawn.table.items():
        assert row.spot_count == sum(s.site == site for s in scene.spots)
        assert row.spot_area_mm2 == pytest.approx(
            table[site].spot_area_mm2, rel=0.25, abs=1.0
        )  # nominal ellipse vs the exact irregular outline


# --------------------------------------------------------------------------- exactness


def test_truth_is_exact_on_procedural_skin(astronaut_face, skin_canvas):
    pts, mm = astronaut_face
    scene = face_scene(
        pts,
        mm_per_px=mm,
        rng=np.random.default_rng(3),
        width_mm=(0.5, 1.5),
        depth=(0.05, 0.25),
        redness=False,
    )
    out = render_face(skin_canvas, scene)
    assert not np.array_equal(out.image, skin_canvas)
    plain = render_face(skin_canvas, FaceScene(pts, mm, (), scene.spots, (), scene.seed)).image
    check_lines_exact(plain, scene, out.image)
    spots_only = FaceScene(pts, mm, (), scene.spots, (), scene.seed)
    check_spots_exact(skin_canvas, spots_only, plain, out.spots.mask)


@pytest.mark.slow
def test_truth_is_exact_on_a_real_face(real_face):
    rgb, pts, mm, a = real_face
    scene = face_scene(
        pts,
        mm_per_px=mm,
        rng=np.random.default_rng(11),
        skin=photo_skin(a),
        width_mm=(0.5, 1.5),
        depth=(0.05, 0.25),
        redness=False,
    )
    assert len(scene.lines) >= 12
    out = render_face(rgb, scene)
    spots_only = FaceScene(pts, mm, (), scene.spots, (), scene.seed)
    with_spots = render_face(rgb, spots_only).image
    check_lines_exact(with_spots, scene, out.image)
    check_spots_exact(rgb, spots_only, with_spots, out.spots.mask)


def test_scattered_wrinkles_lie_on_skin_in_every_direction_and_shape(skin_canvas):
    """The other placement: lines anywhere on the skin, any direction, every profile; drawn
    exactly (symmetric shapes measured on the pixels like the templates' lines; the oblique
    one in ``test_synthetic``) and inside the scene box ``render_face`` draws in."""
    import cv2

    from datasets.faces import SCATTERED
    from datasets.synthetic import PROFILES, render_lines

    mm = 0.1
    h, w = skin_canvas.shape[:2]
    skin = np.zeros((h, w), np.uint8)
    cv2.ellipse(skin, (w // 2, h // 2), (w // 3, h // 3), 0, 0, 360, 1, -1)
    skin = skin.astype(bool)
    rng = np.random.default_rng(21)
    lines = scattered_wrinkles(
        skin, mm_per_px=mm, rng=rng, count=(40, 40), width_mm=(0.4, 1.2), depth=(0.05, 0.25)
    )
    assert 30 <= len(lines) <= 40  # some are clipped away at the skin's edge
    assert {ln.site for ln in lines} == {SCATTERED}
    assert {ln.spec.profile for ln in lines} == set(PROFILES)
    inner = cv2.erode(skin.astype(np.uint8), np.ones((19, 19), np.uint8)).astype(bool)
    for ln in lines:
        ij = np.rint(ln.spec.points_px).astype(int)
        assert skin[ij[:, 1], ij[:, 0]].all()  # clipped to the skin less 1 mm
        assert 3.0 <= ln.length_mm <= 30.0 * 1.06  # the chord is at most 30 mm, sagitta 15 %
    ends = np.array([ln.spec.points_px[-1] - ln.spec.points_px[0] for ln in lines])
    angle = np.degrees(np.arctan2(ends[:, 1], ends[:, 0])) % 180
    assert np.histogram(angle, bins=4, range=(0, 180))[0].min() >= 4  # every direction
    assert inner.any()
    # drawn exactly, and the scene box holds every line's reach (the "exp" tails are long)
    scene = FaceScene(np.zeros((478, 2)), mm, lines, (), (), 0)
    out = render_face(skin_canvas, scene)
    assert np.array_equal(
        out.image, render_lines(skin_canvas, [ln.spec for ln in lines], mm_per_px=mm).image
    )
    symmetric = FaceScene(
        scene.points, mm, tuple(ln for ln in lines if ln.spec.profile != "oblique"), (), (), 0
    )
    check_lines_exact(skin_canvas, symmetric, render_face(skin_canvas, symmetric).image)


def test_render_face_matches_drawing_each_layer_on_the_whole_image(astronaut_face, skin_canvas):
    from datasets.synthetic import render_lines, render_redness

    pts, mm = astronaut_face
    scene = face_scene(pts, mm_per_px=mm, rng=np.random.default_rng(8))
    out = render_face(skin_canvas, scene)
    red = render_redness(
        skin_canvas,
        [r.spec for r in scene.redness],
        mm_per_px=mm,
        rng=np.random.default_rng([scene.seed, 1]),
    )
    spots = render_spots(
        red.image,
        [s.spec for s in scene.spots],
        mm_per_px=mm,
        rng=np.random.default_rng([scene.seed, 2]),
    )
    lines = render_lines(spots.image, [ln.spec for ln in scene.lines], mm_per_px=mm)
    assert np.array_equal(out.image, lines.image)
    assert np.array_equal(out.lines.mask, lines.mask)
    assert np.array_equal(out.lines.centerline, lines.centerline)
    assert np.array_equal(out.spots.labels, spots.labels)
    assert np.array_equal(out.redness.mask, red.mask)
    assert out.spots.areas_mm2 == spots.areas_mm2


def test_sizes_follow_the_physical_scale(astronaut_face):
    pts, mm = astronaut_face
    fine = face_wrinkles(pts, mm_per_px=mm, rng=np.random.default_rng(2), min_width_px=0)
    # the same face photographed at half the resolution: same physical lines
    coarse = face_wrinkles(pts / 2, mm_per_px=2 * mm, rng=np.random.default_rng(2), min_width_px=0)
    assert len(fine) == len(coarse)
    for a, b in zip(fine, coarse, strict=True):
        assert a.length_mm == pytest.approx(b.length_mm, rel=1e-6)
        assert a.spec.width_mm == b.spec.width_mm
        assert a.spec.points_px == pytest.approx(2 * b.spec.points_px)
    # widths are drawn in 0.1-1.5 mm, raised to one pixel; depths in 2-25 %
    lines = face_wrinkles(pts / 4, mm_per_px=4 * mm, rng=np.random.default_rng(2))
    assert min(ln.spec.width_mm for ln in lines) >= 4 * mm
    assert all(0.1 <= ln.spec.width_mm <= 1.5 for ln in fine)
    assert all(0.02 <= ln.spec.depth <= 0.25 for ln in fine)
    assert all(0.05 <= ln.spec.highlight <= 0.3 for ln in fine)


# --------------------------------------------------------------------------- anatomy


def _frame_coords(points: F64, mm: float, xy: F64) -> F64:
    return FaceFrame.from_points(points, mm).to_mm(xy)


EXPECTED_REGION = {
    "forehead": ("forehead",),
    "glabella": ("glabella",),
    "crows_feet_right": ("crows_feet_right",),
    "crows_feet_left": ("crows_feet_left",),
    "under_eye_right": ("under_eye_right",),
    "under_eye_left": ("under_eye_left",),
    "nasolabial_right": ("nasolabial_right",),
    "nasolabial_left": ("nasolabial_left",),
    "marionette_right": ("marionette_right", "nasolabial_right", "chin"),
    "marionette_left": ("marionette_left", "nasolabial_left", "chin"),
    "upper_lip": ("upper_lip",),
}


@pytest.mark.slow
def test_wrinkles_are_placed_anatomically(real_face):
    from analysis.regions import ANATOMICAL_REGIONS

    _rgb, pts, mm, a = real_face
    skin = photo_skin(a)
    inside: dict[str, list[float]] = {s: [] for s in LINE_SITES}
    seen: set[str] = set()
    frame = FaceFrame.from_points(pts, mm)
    anchors = frame.to_mm(pts)
    brow_top = anchors[list(lm.RIGHT_BROW_UPPER + lm.LEFT_BROW_UPPER), 1].min()
    for seed in range(4):
        lines = face_wrinkles(pts, mm_per_px=mm, rng=np.random.default_rng(seed), skin=skin)
        sites = {ln.site for ln in lines}
        assert len(sites) >= 8, sites  # a site may find no room on this face's skin
        seen |= sites
        for ln in lines:
            p = ln.spec.points_px
            c = np.rint(apply_affine(a.canonical.to_canonical, p)).astype(int)
            labels = a.regions.labels[c[:, 1], c[:, 0]]
            names = [ANATOMICAL_REGIONS[i - 1] if i else "" for i in labels]
            share = np.mean([n in EXPECTED_REGION[ln.site] for n in names])
            inside[ln.site].append(float(share))
            assert a.regions.skin[c[:, 1], c[:, 0]].mean() > 0.9  # on skin
            f = frame.to_mm(p)
            if ln.site == "forehead":
                assert f[:, 1].max() < brow_top - 3  # above the brows
            if ln.site.startswith("crows_feet"):
                side = "RIGHT" if ln.site.endswith("right") else "LEFT"
                corner = anchors[getattr(lm, f"{side}_EYE_OUTER")]
                s = -1 if side == "RIGHT" else 1
                assert np.all(s * (f[:, 0] - corner[0]) > 3.0)  # lateral to the outer corner
            if ln.site.startswith("under_eye"):
                lid = lm.RIGHT_LOWER_LID if ln.site.endswith("right") else lm.LEFT_LOWER_LID
                assert f[:, 1].min() > anchors[list(lid), 1].max()  # below the lower lid
            if ln.site == "glabella":
                heads = anchors[[lm.RIGHT_BROW_UPPER[-1], lm.LEFT_BROW_UPPER[-1]], 0]
                assert np.all((f[:, 0] > heads.min()) & (f[:, 0] < heads.max()))
                assert np.ptp(f[:, 1]) > np.ptp(f[:, 0])  # vertical
            if ln.site == "upper_lip":
                assert f[:, 1].min() > anchors[lm.SUBNASALE, 1]
                assert f[:, 1].max() < anchors[lm.UPPER_LIP_TOP, 1]
                assert np.ptp(f[:, 1]) > np.ptp(f[:, 0])
            if ln.site.startswith(("nasolabial", "marionette")):
                right = ln.site.endswith("right")
                mouth = anchors[lm.RIGHT_MOUTH if right else lm.LEFT_MOUTH]
                ala = anchors[lm.RIGHT_ALA if right else lm.LEFT_ALA]
                s = -1 if right else 1
                if ln.site.startswith("nasolabial"):  # from the nose wing down to the mouth
                    assert np.all(s * (f[:, 0] - ala[0]) > -1.0)
                    assert f[:, 1].min() > ala[1] - 3.0
                else:  # from the mouth corner down
                    assert np.all(s * (f[:, 0] - mouth[0]) > 0.0)
                    assert f[:, 1].min() > mouth[1]
    assert seen == set(LINE_SITES)
    for site, shares in inside.items():
        assert shares, site
        assert np.median(shares) >= 0.8, (site, shares)


@pytest.mark.slow
def test_spots_and_redness_are_placed_on_their_sites(real_face):
    from analysis.regions import ANATOMICAL_REGIONS

    _rgb, pts, mm, a = real_face
    skin = photo_skin(a)
    hits = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        lines = face_wrinkles(pts, mm_per_px=mm, rng=rng, skin=skin)
        spots = face_spots(pts, mm_per_px=mm, rng=rng, skin=skin, avoid=lines)
        assert len(spots) >= 2
        for sp in spots:
            c = np.rint(apply_affine(a.canonical.to_canonical, np.array([sp.spec.center_xy])))
            i = int(a.regions.labels[int(c[0, 1]), int(c[0, 0])])
            hits.append(i > 0 and ANATOMICAL_REGIONS[i - 1] == sp.site)
            for ln in lines:  # clear of every line
                d, _ = nearest_on_polyline(ln.spec.points_px, np.array([sp.spec.center_xy]))
                assert d[0] * mm > sp.spec.diameter_mm / 2
        patches = face_redness(pts, mm_per_px=mm, rng=rng, skin=skin)
        assert {p.site for p in patches} >= {"cheek_right", "cheek_left"}
        assert all(8 <= p.spec.diameter_mm <= 20 for p in patches)
    assert np.mean(hits) >= 0.8


def test_sides_follow_the_subject(astronaut_face):
    pts, mm = astronaut_face
    frame = FaceFrame.from_points(pts, mm)
    lines = face_wrinkles(pts, mm_per_px=mm, rng=np.random.default_rng(0))
    for ln in lines:
        x = frame.to_mm(ln.spec.points_px)[:, 0]
        if ln.site.endswith("_right"):  # the subject's right is on the image's left
            assert x.max() < 0, ln.site
        if ln.site.endswith("_left"):
            assert x.min() > 0, ln.site


def test_face_frame_round_trip_and_axes(astronaut_face):
    pts, mm = astronaut_face
    frame = FaceFrame.from_points(pts, mm)
    xy = np.array([[10.0, 20.0], [300.0, 150.0]])
    assert frame.to_px(frame.to_mm(xy)) == pytest.approx(xy)
    irises = frame.to_mm(pts[[lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]]])
    assert irises[:, 1] == pytest.approx([0, 0], abs=1e-9)
    assert irises[0, 0] == pytest.approx(-irises[1, 0])
    assert frame.to_mm(pts[[lm.CHIN]])[0, 1] > 50  # chin well below the eyes


# --------------------------------------------------------------------------- series and fades


def test_fade_factors_are_exact(astronaut_face, skin_canvas):
    pts, mm = astronaut_face
    scene = face_scene(pts, mm_per_px=mm, rng=np.random.default_rng(4), diameter_mm=(2, 8))
    fade = Fade(lines={"forehead": 0.5, "crows_feet_left": 0.0}, spots={"cheek_left": 0.25})
    faded = fade_scene(scene, fade)
    before = render_face(skin_canvas, scene).table
    after = render_face(skin_canvas, faded).table
    f0 = before["forehead"]
    assert after["forehead"].length_mm == pytest.approx(0.5 * f0.length_mm, rel=1e-9)
    assert after["forehead"].mean_depth_pct == pytest.approx(0.5 * f0.mean_depth_pct, rel=1e-9)
    assert after["forehead"].mean_width_mm == pytest.approx(f0.mean_width_mm, rel=1e-9)
    assert after["forehead"].line_count == f0.line_count
    assert "crows_feet_left" not in after or after["crows_feet_left"].line_count == 0
    if before["cheek_left"].spot_count:
        assert after["cheek_left"].spot_area_mm2 == pytest.approx(
            0.25 * before["cheek_left"].spot_area_mm2, rel=0.02
        )
    for site in set(before) - {"forehead", "crows_feet_left", "cheek_left"}:
        assert after[site] == before[site], site
    # faded lines are the middle of the original curve
    for a, b in zip(
        [ln for ln in scene.lines if ln.site == "forehead"],
        [ln for ln in faded.lines if ln.site == "forehead"],
        strict=True,
    ):
        d, s = nearest_on_polyline(a.spec.points_px, b.spec.points_px)
        assert d.max() < 1e-6
        total = polyline_length(a.spec.points_px)
        assert s.min() == pytest.approx(0.25 * total)
        assert s.max() == pytest.approx(0.75 * total)
    with pytest.raises(ValueError, match="fade factor"):
        Fade(lines={"forehead": 1.5})


def test_change_series_fades_the_chosen_site_and_keeps_the_other(
    astronaut_face, skin_canvas, monkeypatch
):
    """``datasets.series`` (the comparison tests and ``benchmarks.change``): the chosen site's
    lines fade in the follow-up, the other sites' stay; ``profile`` redraws every line."""
    import cv2

    import datasets.series as series

    pts, mm = astronaut_face
    face = SimpleNamespace(points=pts, mm_per_px=mm)
    monkeypatch.setattr(series, "nuisance", lambda img, rng: img)  # the drawing alone

    def lines_mask(lines: list[Any]) -> NDArray[np.bool_]:  # the lines and their shoulders
        canvas = np.zeros(skin_canvas.shape[:2], np.uint8)
        for x in lines:
            cv2.polylines(canvas, [np.round(x.points_px).astype(np.int32)], False, 1, 41)
        return canvas > 0

    rng = np.random.default_rng(3)
    on = {"forehead": lines_mask(series.forehead_lines(face, rng))}
    on["crows_feet"] = lines_mask(series.crows_feet_lines(face, rng))
    glabella = series.glabella_lines(face, rng)  # drawn only when they fade
    on["glabella"] = lines_mask(glabella)
    for site in series.TEMPLATE_SITES:  # drawn, like the glabella, after the two kept sites
        rng = np.random.default_rng(3)
        series.forehead_lines(face, rng)
        series.crows_feet_lines(face, rng)
        drawn = series.LINES[site](face, rng)
        sides = 1 if site == "upper_lip" else 2
        assert len(drawn) == sides * series.TEMPLATE_COUNTS[site]
        assert all(0.4 <= x.width_mm <= 0.6 and 0.12 <= x.depth <= 0.16 for x in drawn)
        on[site] = lines_mask(drawn)
    for site in series.SITES:
        before, after = series.series_pair(skin_canvas, face, 3, site=site)
        change = np.abs(after.astype(float) - before.astype(float)).mean(axis=2)
        assert change[on[site]].max() > 8  # 12-16 % deep lines faded to a quarter
        assert change[~on[site]].max() == 0
    # the glabellar lines: vertical, either side of the midline, between the brows' heads
    x_r, x_l = (x.points_px[:, 0].mean() for x in glabella)
    heads = pts[series.BROW_HEADS, 0]
    assert heads.min() < x_r < pts[lm.NASION, 0] < x_l < heads.max()
    for x in glabella:
        rise, drift = np.ptp(x.points_px[:, 1]) * mm, np.ptp(x.points_px[:, 0]) * mm
        assert 5.0 < rise <= 13.0
        assert drift < 0.3 * rise
    soft, _ = series.series_pair(skin_canvas, face, 3)
    groove, _ = series.series_pair(skin_canvas, face, 3, profile="v")
    redrawn = np.abs(groove.astype(float) - soft.astype(float)).max(axis=2)
    assert (redrawn[on["forehead"]] > 0).mean() > 0.1  # no shoulders, a V centre
    assert redrawn[~on["forehead"] & ~on["crows_feet"]].max() == 0
    with pytest.raises(ValueError, match="site"):
        series.series_pair(skin_canvas, face, 3, site="cheek")


def test_dose_series_fades_one_site_by_each_factor_and_keeps_the_rest(
    astronaut_face, skin_canvas, monkeypatch
):
    """``datasets.series.dose_series`` (``benchmarks.change --doses``): the baseline and its
    first follow-up are ``series_pair``'s for the same seed; drawn without nuisance, a
    follow-up at factor 1 is the baseline, the site's pixels move more the more its lines fade
    (at 0 they are gone), and nothing else moves."""
    import datasets.series as series

    pts, mm = astronaut_face
    face = SimpleNamespace(points=pts, mm_per_px=mm)
    before, afters = series.dose_series(skin_canvas, face, 4, (0.5, 0.25))
    pair = series.series_pair(skin_canvas, face, 4, fade=0.5)
    assert np.array_equal(before, pair[0])
    assert np.array_equal(afters[0], pair[1])
    assert not np.array_equal(afters[1], pair[1])  # its own nuisance and fade

    monkeypatch.setattr(series, "nuisance", lambda img, rng: img)
    factors = (1.0, 0.75, 0.5, 0.25, 0.0)
    before, afters = series.dose_series(skin_canvas, face, 4, factors, site="crows_feet")
    rng = np.random.default_rng(4)
    series.forehead_lines(face, rng)
    crows = series.crows_feet_lines(face, rng)
    gone = series.render_lines(skin_canvas, crows, mm_per_px=mm).image
    site = np.abs(gone.astype(float) - skin_canvas.astype(float)).max(axis=2) > 0
    moved = [np.abs(a.astype(float) - before.astype(float)).max(axis=2) for a in afters]
    assert np.array_equal(afters[0], before)
    assert all(m[~site].max() == 0 for m in moved)
    totals = [float(m[site].sum()) for m in moved]
    assert totals == sorted(totals)
    assert len(set(totals)) == len(totals)
    without = series.render_lines(
        skin_canvas, series.forehead_lines(face, np.random.default_rng(4)), mm_per_px=mm
    ).image
    assert np.array_equal(afters[-1], without)  # faded to nothing: only the forehead's lines
    with pytest.raises(ValueError, match="fade factors"):
        series.dose_series(skin_canvas, face, 4, (1.0, 1.5))


def test_out_of_focus_follow_ups_are_the_same_photos_blurred(
    astronaut_face, skin_canvas, monkeypatch
):
    """``focus_mm`` (``benchmarks.change --focus``): the follow-ups are the same drawings
    blurred by that Gaussian at the face, in linear light; the baseline stays sharp."""
    import datasets.series as series
    from datasets.synthetic import gaussian_blur

    pts, mm = astronaut_face
    face = SimpleNamespace(points=pts, mm_per_px=mm)
    monkeypatch.setattr(series, "nuisance", lambda img, rng: img)
    sharp = series.dose_series(skin_canvas, face, 4, (0.5, 0.25))
    soft = series.dose_series(skin_canvas, face, 4, (0.5, 0.25), focus_mm=0.2)
    assert np.array_equal(soft[0], sharp[0])
    for a, b in zip(sharp[1], soft[1], strict=True):
        assert np.array_equal(gaussian_blur(a, 0.2 / mm), b)


def test_series_has_known_changes_and_its_own_nuisance_per_image(astronaut_face, skin_canvas):
    pts, mm = astronaut_face
    scene = face_scene(pts, mm_per_px=mm, rng=np.random.default_rng(6))
    fades = [Fade(lines={"forehead": 0.6}), Fade(spots={"cheek_right": 0.5, "cheek_left": 0.5})]
    series = render_series(
        skin_canvas, scene, fades, rng=np.random.default_rng(1), nuisance=NuisanceRanges(yaw_deg=2)
    )
    assert len(series) == 3
    assert series[0].fade == Fade()
    assert series[0].truth.table == render_face(skin_canvas, scene).table
    assert series[1].truth.table["forehead"].length_mm == pytest.approx(
        0.6 * series[0].truth.table["forehead"].length_mm
    )
    assert series[1].truth.table["cheek_left"] == series[0].truth.table["cheek_left"]
    nuisances = [s.nuisance for s in series]
    assert len({(n.exposure, n.angle_deg, n.jpeg_quality, n.yaw_deg) for n in nuisances}) == 3
    for n in nuisances:
        assert 0.85 <= n.exposure <= 1.15
        assert all(0.95 <= g <= 1.05 for g in n.white_balance)
        assert abs(n.angle_deg) <= 3
        assert 0.95 <= n.scale <= 1.05
        assert n.jpeg_quality is not None
        assert 80 <= n.jpeg_quality <= 95
        assert abs(n.yaw_deg) <= 2
    # without nuisance the images are the drawn scenes themselves
    plain = render_series(skin_canvas, scene, fades, rng=np.random.default_rng(1), nuisance=None)
    assert np.array_equal(plain[0].image, render_face(skin_canvas, scene).image)
    assert np.array_equal(plain[2].image, plain[2].truth.image)


def test_series_warp_carries_truth_into_the_image(astronaut_face, skin_canvas):
    pts, mm = astronaut_face
    dot = SpotSpec((float(pts[lm.NOSE_TIP, 0]), float(pts[lm.NOSE_TIP, 1]) + 150), 3.0, 0.8, 0.0)
    img = render_spots(skin_canvas, [dot], mm_per_px=mm, rng=np.random.default_rng(0)).image
    n = Nuisance(yaw_deg=3.0, angle_deg=2.0, scale=1.03, shift_px=(4.0, -2.0))
    out, warp = apply_nuisance(img, n, points=pts, mm_per_px=mm)
    dark = lum(out) < 0.6 * np.median(lum(out))
    ys, xs = np.nonzero(dark)
    expected = warp.map_points(np.array([dot.center_xy]))[0]
    assert (xs.mean(), ys.mean()) == pytest.approx(tuple(expected), abs=1.0)
    assert np.hypot(*(expected - dot.center_xy)) > 5  # it did move


# --------------------------------------------------------------------------- yaw and nuisance


def test_head_yaw_turns_the_face_and_leaves_the_background(astronaut_face, skin_canvas):
    pts, mm = astronaut_face
    same, warp = head_yaw(skin_canvas, pts, yaw_deg=0.0, mm_per_px=mm)
    assert np.array_equal(same, skin_canvas)
    assert warp.map_points(pts) == pytest.approx(pts)
    _, warp = head_yaw(skin_canvas, pts, yaw_deg=4.0, mm_per_px=mm)
    moved = warp.map_points(pts)
    frame = FaceFrame.from_points(pts, mm)
    shift = frame.to_mm(moved)[:, 0] - frame.to_mm(pts)[:, 0]
    assert shift[lm.NOSE_TIP] > 3.0  # the nose, nearest the camera, moves most...
    assert shift[lm.NOSE_TIP] > shift[lm.RIGHT_CHEEK_SIDE] + 2.0
    assert abs(shift[lm.NOSE_TIP] - shift[lm.NASION]) < 2.5  # ...with the middle of the face
    assert np.abs(frame.to_mm(moved)[:, 1] - frame.to_mm(pts)[:, 1]).max() < 1e-6  # no nod
    corner = np.array([[1.0, 1.0]])
    assert warp.map_points(corner) == pytest.approx(corner)  # the background stays
    left, _ = head_yaw(skin_canvas, pts, yaw_deg=-4.0, mm_per_px=mm)
    assert not np.array_equal(left, skin_canvas)


def test_nuisance_identity_and_affine_matches_synthetic(skin_canvas):
    out, warp = apply_nuisance(skin_canvas, Nuisance())
    assert np.array_equal(out, skin_canvas)
    assert out is not skin_canvas
    n = Nuisance(angle_deg=2.5, scale=0.97, shift_px=(3.0, 1.0))
    out, warp = apply_nuisance(skin_canvas, n)
    ref, m = affine_jitter(skin_canvas, angle_deg=2.5, scale=0.97, shift_px=(3.0, 1.0))
    assert np.array_equal(out, ref)
    xy = np.array([[12.0, 40.0], [100.0, 7.0]])
    assert warp.map_points(xy) == pytest.approx(xy @ m[:, :2].T + m[:, 2])
    bright, _ = apply_nuisance(skin_canvas, Nuisance(exposure=1.1, white_balance=(1.0, 1.0, 0.95)))
    ratio = (lin(bright) / lin(skin_canvas)).reshape(-1, 3)
    assert np.median(ratio, axis=0) == pytest.approx([1.1, 1.1, 1.045], abs=0.01)
    with pytest.raises(ValueError, match="yaw"):
        apply_nuisance(skin_canvas, Nuisance(yaw_deg=1.0))


def test_random_nuisance_ranges():
    rng = np.random.default_rng(0)
    draws = [random_nuisance(rng) for _ in range(200)]
    assert min(d.exposure for d in draws) >= 0.85
    assert max(d.exposure for d in draws) <= 1.15
    assert {d.yaw_deg for d in draws} == {0.0}
    assert {d.jpeg_quality for d in draws} <= set(range(80, 96))
    assert max(abs(d.angle_deg) for d in draws) > 2.5
    none = random_nuisance(rng, NuisanceRanges(jpeg_quality=None))
    assert none.jpeg_quality is None


# --------------------------------------------------------------------------- determinism, errors


def test_same_seed_same_scene_and_pixels(astronaut_face, skin_canvas):
    pts, mm = astronaut_face

    def make(seed: int) -> tuple[FaceScene, U8]:
        scene = face_scene(pts, mm_per_px=mm, rng=np.random.default_rng(seed))
        return scene, render_face(skin_canvas, scene).image

    (a, ia), (b, ib), (c, ic) = make(7), make(7), make(8)

    def key(s: FaceScene) -> list[Any]:
        lines = [
            (ln.site, ln.spec.points_px.tobytes(), ln.spec.width_mm, ln.spec.depth)
            for ln in s.lines
        ]
        return (
            lines + [(sp.site, sp.spec) for sp in s.spots] + [(r.site, r.spec) for r in s.redness]
        )

    assert key(a) == key(b)
    assert a.seed == b.seed
    assert np.array_equal(ia, ib)
    assert key(a) != key(c)
    assert not np.array_equal(ia, ic)


def test_cut_polyline_and_validation(astronaut_face):
    pts, mm = astronaut_face
    line = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    part = cut_polyline(line, 5.0, 15.0)
    assert part == pytest.approx(np.array([[5.0, 0.0], [10.0, 0.0], [10.0, 5.0]]))
    with pytest.raises(ValueError, match="empty cut"):
        cut_polyline(line, 12.0, 12.0)
    with pytest.raises(ValueError, match="478"):
        face_wrinkles(pts[:10], mm_per_px=mm, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown line sites"):
        face_wrinkles(pts, mm_per_px=mm, rng=np.random.default_rng(0), sites=("nose",))
    with pytest.raises(ValueError, match="mm_per_px"):
        FaceFrame.from_points(pts, 0.0)
    with pytest.raises(ValueError, match="skin"):
        face_wrinkles(
            pts, mm_per_px=mm, rng=np.random.default_rng(0), skin=np.zeros((5, 5), np.uint8)
        )
