"""Tests for :mod:`datasets.synthetic`: the ground truth must be exact, measured on the pixels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from skimage import filters, measure, morphology

from analysis.types import F64, Bool
from datasets.synthetic import (
    LUMA,
    MELANIN_OD,
    PROFILES,
    LineSpec,
    RednessSpec,
    SpotSpec,
    add_noise,
    adjust_exposure,
    adjust_gamma,
    adjust_white_balance,
    affine_jitter,
    curved_line,
    gaussian_blur,
    jpeg_roundtrip,
    linear_to_srgb,
    procedural_skin,
    render_lines,
    render_redness,
    render_spots,
    srgb_to_linear,
    warp_mask,
)

sato: Callable[..., F64] = filters.sato  # skimage is untyped
label: Callable[..., NDArray[np.int_]] = measure.label
thin: Callable[[Bool], Bool] = morphology.thin

MM = 0.1  # mm per pixel
TONE = (205, 160, 135)
FLAT = np.full((200, 300, 3), TONE, np.uint8)
# Flat across rows but 20 % darker to the left: a 10 % line spans only ~8 code values, so on a
# constant image every column of a horizontal line would carry the same 8-bit rounding error;
# the ramp dithers it so that profiles measured along the line are unbiased.
_RAMP_ROW = srgb_to_linear(np.array(TONE) / 255) * np.linspace(0.8, 1.0, 300)[:, None]
RAMP = np.repeat((255 * linear_to_srgb(_RAMP_ROW) + 0.5).astype(np.uint8)[None], 200, axis=0)


def lin(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    return srgb_to_linear(img / 255.0)


def luminance(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    return lin(img) @ LUMA


def polyline_distance(pts: F64, shape: tuple[int, int]) -> F64:
    """Brute-force distance from every pixel centre to the polyline (independent of the module)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    p = np.stack([xx, yy], -1)[..., None, :]
    a, ab = pts[:-1], np.diff(pts, axis=0)
    t = np.clip(((p - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    dist: F64 = np.sqrt(((p - a - t[..., None] * ab) ** 2).sum(-1)).min(-1)
    return dist


def binned_profile(
    values: NDArray[Any], dist: F64, sel: Bool, step: float = 0.25
) -> tuple[F64, F64]:
    """Mean of ``values`` in bins of distance ``step`` px; returns (bin distances, means)."""
    k = np.round(dist[sel] / step).astype(int)
    n = np.bincount(k)
    keep = n > 0
    centres = np.flatnonzero(keep).astype(np.float64) * step
    return centres, np.bincount(k, values[sel])[keep] / n[keep]


def fwhm_px(d: F64, m: F64) -> float:
    half = m[0] / 2
    i = int(np.argmax(m < half))
    return float(2 * (d[i - 1] + (m[i - 1] - half) / (m[i - 1] - m[i]) * (d[i] - d[i - 1])))


GEOMETRIES = {
    "horizontal": np.array([[20.0, 100.0], [280.0, 100.0]]),
    "tilted": np.array([[20.0, 99.0], [280.0, 101.5]]),  # sweeps sub-pixel offsets
    "curved": curved_line((20.0, 80.0), (280.0, 90.0), curvature=0.1),
}


@pytest.mark.parametrize("width_mm", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_line_truth_is_exact(geometry, width_mm):
    pts = GEOMETRIES[geometry]
    spec = LineSpec(pts, width_mm, 0.10)
    out = render_lines(RAMP, [spec], mm_per_px=MM)
    fwhm = width_mm / MM
    dist = polyline_distance(pts, RAMP.shape[:2])
    middle = (np.arange(300) > 60) & (np.arange(300) < 240)  # away from the tapered ends
    sel = middle[None, :] & (dist < 4 * fwhm)
    drop = 1 - luminance(out.image) / luminance(RAMP)
    d, m = binned_profile(drop, dist, sel)
    assert m[0] == pytest.approx(0.10, abs=0.01)  # centre luminance is (1 - depth) x skin
    assert fwhm_px(d, m) * MM == pytest.approx(width_mm, abs=0.05)
    if geometry == "horizontal":  # on a constant image too, centre row vs far away
        plain = luminance(render_lines(FLAT, [spec], mm_per_px=MM).image)
        assert plain[100, 60:240] / plain[10, 60:240] == pytest.approx(0.9, abs=0.01)
    far = dist > 4 * fwhm + 2 + 5  # beyond the profile's reach and the 0.5 mm end fade
    assert np.array_equal(out.image[far], RAMP[far])
    # depth_map is the exact applied drop (before 8-bit rounding)
    dm = out.depth_map.astype(np.float64)
    assert dm[sel].max() == pytest.approx(0.10, abs=1e-3)
    assert fwhm_px(*binned_profile(dm, dist, sel, step=0.05)) * MM == pytest.approx(
        width_mm, abs=0.01
    )
    assert np.abs(dm - drop)[sel].max() < 0.01
    # lengths
    length_px = float(np.hypot(*np.diff(pts, axis=0).T).sum())
    assert out.lengths_mm == pytest.approx((length_px * MM,))
    # mask: within FWHM/2 of the centre line (flat caps beyond the ends)
    interior = middle[None, :] & (np.abs(dist - fwhm / 2) > 1e-6)
    assert np.array_equal(out.mask[interior], (dist <= fwhm / 2)[interior])
    if geometry == "horizontal":
        widths = out.mask[:, 60:240].sum(axis=0)
        assert np.all(np.abs(widths - fwhm) <= 1)
        assert not out.mask[:, :19].any()
        assert not out.mask[:, 282:].any()
    # centre line: 1 px wide, 8-connected, on the polyline, about as long as it
    cl = out.centerline
    assert cl.dtype == bool
    assert np.array_equal(thin(cl), cl)
    assert label(cl, connectivity=2).max() == 1
    assert dist[cl].max() <= 0.75
    assert cl.sum() * MM == pytest.approx(length_px * MM, rel=0.05)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("width_mm", [0.3, 1.0])
def test_every_profile_has_the_requested_depth_and_width(profile, width_mm):
    """Each cross-section shape darkens by exactly ``depth`` on the centre line and spans
    exactly ``width_mm`` between its half-depth points (measured on the 8-bit image and on the
    applied drop); the truth mask covers the pixels between those points."""
    pts = GEOMETRIES["horizontal"]  # left of +x on screen (y down) is up: rows < 100
    spec = LineSpec(pts, width_mm, 0.12, highlight=0.3, profile=profile)
    out = render_lines(RAMP, [spec], mm_per_px=MM)
    cols = slice(60, 240)
    drop = (1 - luminance(out.image) / luminance(RAMP))[:, cols].mean(axis=1)
    exact = out.depth_map[:, cols].mean(axis=1).astype(np.float64)
    assert exact[100] == pytest.approx(0.12, abs=1e-6)
    assert drop[100] == pytest.approx(0.12, abs=0.005)
    assert int(np.argmax(exact)) == 100  # the centre line is the darkest row

    def half_width_px(profile_rows: F64, step: int) -> float:
        """Distance from row 100 to where the profile first falls below half its centre."""
        half = profile_rows[100] / 2
        r = 100
        while profile_rows[r + step] >= half:
            r += step
        a, b = profile_rows[r], profile_rows[r + step]
        return abs(r - 100) + (a - half) / (a - b)

    width = (half_width_px(exact, -1) + half_width_px(exact, 1)) * MM
    assert width == pytest.approx(width_mm, abs=0.02)
    assert np.abs(drop - exact).max() < 0.006  # the 8-bit image carries the applied drop
    up, down = half_width_px(exact, -1), half_width_px(exact, 1)
    if profile == "oblique":  # lit above the line (its left), in shadow below
        assert up < down
        assert exact[:100].min() < -0.01
        assert exact[101:].min() > -1e-9
    else:
        assert up == pytest.approx(down, abs=1e-6)
    mask_rows = out.mask[:, cols].all(axis=1)
    assert mask_rows.sum() == pytest.approx(width_mm / MM, abs=1.01)
    assert np.flatnonzero(mask_rows).min() >= 100 - up - 0.5
    assert np.flatnonzero(mask_rows).max() <= 100 + down + 0.5
    far = np.abs(np.arange(200) - 100) > {"exp": 6.2}.get(profile, 3.5) * width_mm / MM + 2
    assert np.array_equal(out.image[far][:, cols], RAMP[far][:, cols])


def test_line_ends_taper_to_half_depth_at_the_end_points():
    pts = GEOMETRIES["horizontal"]
    row = render_lines(FLAT, [LineSpec(pts, 0.5, 0.2)], mm_per_px=MM).depth_map[100]
    assert row[20] == pytest.approx(0.1, abs=1e-6)
    assert row[280] == pytest.approx(0.1, abs=1e-6)
    assert row[:15].max() == 0
    assert row[286:].max() == 0
    assert row[25:276] == pytest.approx(0.2, abs=1e-6)
    assert np.all(np.diff(row[10:30]) >= 0)
    assert np.abs(np.diff(row[10:30])).max() < 0.04


def test_line_highlight_shoulders_and_overlap_takes_max():
    a = LineSpec(np.array([[20.0, 100.0], [280.0, 100.0]]), 0.5, 0.10, highlight=0.2)
    b = LineSpec(np.array([[150.0, 10.0], [150.0, 190.0]]), 0.5, 0.15, highlight=0.2)
    out = render_lines(FLAT, [a, b], mm_per_px=MM)
    col = out.depth_map[:, 80]
    assert -0.7 * 0.2 * 0.10 < col.min() < -0.6 * 0.2 * 0.10  # net bright shoulder...
    assert 100 - int(np.argmin(col[:100])) in (6, 7)  # ...at ~1.3 FWHM
    assert out.depth_map[100, 150] == pytest.approx(0.15, abs=1e-6)
    assert label(out.centerline, connectivity=2).max() == 1  # the crossing stays connected
    shoulder = luminance(out.image)[95, 80] / luminance(FLAT)[0, 0]
    assert shoulder > 1.0


def test_render_lines_preserves_hue_and_input():
    before = FLAT.copy()
    out = render_lines(FLAT, [LineSpec(GEOMETRIES["curved"], 1.0, 0.25)], mm_per_px=MM)
    assert np.array_equal(FLAT, before)
    ratio = lin(out.image) / lin(FLAT)
    dark = out.depth_map > 0.2
    assert np.ptp(ratio[dark], axis=1).max() < 0.02  # same factor on R, G, B


def test_curved_line_geometry():
    pts = curved_line((10.0, 50.0), (110.0, 50.0), curvature=0.2, n=65)
    assert pts.shape == (65, 2)
    assert pts[0] == pytest.approx([10, 50])
    assert pts[-1] == pytest.approx([110, 50])
    assert pts[32] == pytest.approx([60, 70])  # sagitta 0.2 x 100, bulging down (+y)
    assert curved_line((10.0, 50.0), (110.0, 50.0), curvature=-0.2)[32, 1] == pytest.approx(
        30, abs=0.1
    )
    straight = curved_line((0.0, 0.0), (30.0, 40.0), curvature=0.0, n=11)
    assert straight[5] == pytest.approx([15, 20])


def test_line_spec_validation():
    with pytest.raises(ValueError, match="points_px"):
        LineSpec(np.zeros((1, 2)), 0.5, 0.1)
    with pytest.raises(ValueError, match="non-zero length"):
        LineSpec(np.ones((3, 2)), 0.5, 0.1)
    with pytest.raises(ValueError, match="depth"):
        LineSpec(np.array([[0.0, 0], [5, 0]]), 0.5, 1.5)
    with pytest.raises(ValueError, match="profile"):
        LineSpec(np.array([[0.0, 0], [5, 0]]), 0.5, 0.1, profile="square")


@pytest.mark.parametrize(("eccentricity", "irregularity"), [(0.0, 0.0), (0.0, 0.15), (0.6, 0.15)])
def test_spot_truth(eccentricity, irregularity):
    spec = SpotSpec((150.3, 99.6), 4.0, 0.3, eccentricity=eccentricity, irregularity=irregularity)
    out = render_spots(FLAT, [spec], mm_per_px=MM, rng=np.random.default_rng(1))
    area = out.mask.sum() * MM**2
    assert area == pytest.approx(out.areas_mm2[0], rel=0.02)
    assert out.areas_mm2[0] == pytest.approx(np.pi * 2.0**2, rel=0.15 if irregularity else 0.01)
    assert np.array_equal(out.labels > 0, out.mask)
    assert set(np.unique(out.labels)) == {0, 1}
    # the applied optical density follows the melanin vector; mask = density >= half the max
    od = -np.log10(lin(out.image) / lin(FLAT))
    assert od[99, 150] == pytest.approx(0.3 * MELANIN_OD, abs=0.01)
    assert np.mean((od[..., 2] >= 0.15) == out.mask) > 0.995
    rgb = out.image[99, 150].astype(float) / TONE
    assert luminance(out.image)[99, 150] < 0.75 * luminance(FLAT)[0, 0]
    assert rgb[2] < rgb[1] < rgb[0] < 1  # blue drops most, red least


def test_spot_orientation_and_overlap_labels():
    spots = [
        SpotSpec((120.0, 100.0), 5.0, 0.2, eccentricity=0.8, angle_deg=30, irregularity=0),
        SpotSpec((160.0, 100.0), 4.0, 0.4, eccentricity=0.0, irregularity=0),
    ]
    alone = render_spots(FLAT, spots[:1], mm_per_px=MM, rng=np.random.default_rng(0))
    ys, xs = np.nonzero(alone.mask)
    evals, evecs = np.linalg.eigh(np.cov(np.stack([xs, ys])))
    vx, vy = evecs[:, 1]
    assert np.degrees(np.arctan2(-vy, vx)) % 180 == pytest.approx(30, abs=1)
    assert np.sqrt(1 - evals[0] / evals[1]) == pytest.approx(0.8, abs=0.02)  # eccentricity
    out = render_spots(FLAT, spots, mm_per_px=MM, rng=np.random.default_rng(0))
    assert out.labels[100, 160] == 2
    assert out.labels[100, 110] == 1
    assert out.mask.sum() < (out.areas_mm2[0] + out.areas_mm2[1]) / MM**2  # they overlap


def test_redness_absorbs_green_most():
    out = render_redness(
        FLAT, [RednessSpec((150.0, 100.0), 6.0, 0.2)], mm_per_px=MM, rng=np.random.default_rng(2)
    )
    od = -np.log10(lin(out.image)[100, 150] / lin(FLAT)[0, 0])
    assert od[1] == pytest.approx(0.2, abs=0.01)
    assert od[1] > od[2] > od[0]
    assert out.mask.sum() * MM**2 == pytest.approx(out.areas_mm2[0], rel=0.02)
    assert out.areas_mm2[0] == pytest.approx(np.pi * 3.0**2, rel=0.15)


def test_procedural_skin_defaults_look_like_skin():
    img = procedural_skin((256, 256), mm_per_px=MM, rng=np.random.default_rng(0))
    assert img.dtype == np.uint8
    assert img.shape == (256, 256, 3)
    assert img.reshape(-1, 3).mean(0) == pytest.approx(TONE, abs=6)
    assert 1.5 < img[..., 1].std() < 15


def test_procedural_skin_without_texture_is_the_tone():
    img = procedural_skin(
        (50, 60),
        mm_per_px=MM,
        rng=np.random.default_rng(0),
        tone=(180, 140, 120),
        pore_contrast=0,
        mottling=0,
        illumination_gradient=0,
        noise_sd=0,
    )
    assert np.all(img == (180, 140, 120))


def test_procedural_skin_has_no_line_like_structure():
    ridge = {"sigmas": [3], "black_ridges": True}
    line = LineSpec(np.array([[40.0, 128], [216, 128]]), 0.5, 0.05)
    for seed in (0, 1):
        skin = procedural_skin((256, 256), mm_per_px=MM, rng=np.random.default_rng(seed))
        with_line = render_lines(skin, [line], mm_per_px=MM).image
        skin_max = sato(luminance(skin), **ridge)[10:-10, 10:-10].max()
        line_resp = np.median(sato(luminance(with_line), **ridge)[128, 60:200])
        assert skin_max < 0.5 * line_resp


def test_same_seed_same_output_and_different_seeds_differ():
    def make(seed: int) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
        rng = np.random.default_rng(seed)
        skin = procedural_skin((64, 80), mm_per_px=MM, rng=rng)
        spots = render_spots(skin, [SpotSpec((40.0, 30.0), 3.0, 0.2)], mm_per_px=MM, rng=rng)
        red = render_redness(
            spots.image, [RednessSpec((20.0, 20.0), 2.0, 0.1)], mm_per_px=MM, rng=rng
        )
        return add_noise(red.image, 2.0, rng=rng), spots.labels

    (a, la), (b, lb), (c, _) = make(7), make(7), make(8)
    assert np.array_equal(a, b)
    assert np.array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_srgb_roundtrip_and_identities():
    codes = np.arange(256, dtype=np.float32) / 255
    assert np.round(linear_to_srgb(srgb_to_linear(codes)) * 255) == pytest.approx(np.arange(256))
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-4)
    img = procedural_skin((40, 50), mm_per_px=MM, rng=np.random.default_rng(3))
    assert np.array_equal(adjust_exposure(img, 1.0), img)
    assert np.array_equal(adjust_white_balance(img, (1.0, 1.0, 1.0)), img)
    assert np.array_equal(adjust_gamma(img, 1.0), img)
    assert np.array_equal(gaussian_blur(img, 0), img)
    assert np.array_equal(add_noise(img, 0.0, rng=np.random.default_rng(0)), img)
    warped, m = affine_jitter(img, angle_deg=0, scale=1, shift_px=(0, 0))
    assert np.array_equal(warped, img)
    assert m == pytest.approx(np.eye(3)[:2])


def test_photometric_nuisances_act_in_linear_light():
    img = procedural_skin((40, 50), mm_per_px=MM, rng=np.random.default_rng(3))
    gains = (1.2, 1.0, 0.7)
    ratio = lin(adjust_white_balance(img, gains)) / lin(img)
    assert ratio.reshape(-1, 3).mean(0) == pytest.approx(gains, abs=0.01)
    assert (lin(adjust_exposure(img, 0.5)) / lin(img)).mean() == pytest.approx(0.5, abs=0.01)
    assert np.all(adjust_exposure(img, 10.0) == 255)  # clipped
    assert adjust_gamma(np.full((1, 1, 3), 128, np.uint8), 2.0)[0, 0, 0] == 64
    blurred = gaussian_blur(img, 2.0)
    assert blurred.std() < img.std()
    assert lin(blurred).mean() == pytest.approx(lin(img).mean(), rel=0.01)
    noisy = add_noise(img, 5.0, rng=np.random.default_rng(0))
    assert (noisy.astype(float) - img).std() == pytest.approx(5.0, rel=0.1)


def test_jpeg_roundtrip_keeps_rgb_order():
    img = np.zeros((32, 48, 3), np.uint8)
    img[..., 0] = 220  # pure-ish red
    img[:, 24:, 2] = 180
    out = jpeg_roundtrip(img, 90)
    assert out.shape == img.shape
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 3
    assert out[5, 5, 0] > 200
    assert out[5, 5, 2] < 20


def test_affine_jitter_matrix_maps_points_and_masks():
    img = FLAT[:, :200].copy()  # square: a quarter turn maps it onto itself
    img[40:43, 70:73] = 0  # a dark 3x3 dot centred on (71, 41)
    out, m = affine_jitter(img, angle_deg=90, scale=1.0, shift_px=(5.0, -3.0))
    centre = np.array([99.5, 99.5])
    expected = centre + np.array([41 - 99.5, -(71 - 99.5)]) + (5, -3)  # counter-clockwise
    assert m @ [71, 41, 1] == pytest.approx(expected)
    ys, xs = np.nonzero(out.min(axis=2) < 100)
    assert (xs.mean(), ys.mean()) == pytest.approx(tuple(expected), abs=0.5)

    spots = render_spots(
        FLAT, [SpotSpec((150.0, 100.0), 6.0, 0.3)], mm_per_px=MM, rng=np.random.default_rng(0)
    )
    for angle, scale in [(17.0, 1.0), (-40.0, 1.0), (10.0, 1.2)]:
        _, m = affine_jitter(spots.image, angle_deg=angle, scale=scale, shift_px=(3.5, -2.0))
        moved = warp_mask(spots.mask, m, spots.mask.shape)
        assert moved.sum() == pytest.approx(spots.mask.sum() * scale**2, rel=0.03)
        ys, xs = np.nonzero(spots.mask)
        mapped = m @ [xs.mean(), ys.mean(), 1]
        ys2, xs2 = np.nonzero(moved)
        assert (xs2.mean(), ys2.mean()) == pytest.approx(tuple(mapped), abs=0.5)
