"""The fast paths of the wrinkle detector compute what the plain operations compute."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

import analysis.compare  # noqa: F401  (the module; ``analysis.compare`` is the function)
from analysis import wrinkles as w
from analysis.colour import SRGB_TO_LINEAR, luminance, masked_gaussian, to_srgb8
from analysis.pigment import UNMIX, unmix

compare_module = sys.modules["analysis.compare"]


@pytest.mark.parametrize("shape", [(240, 170), (61, 37), (5, 7)])
@pytest.mark.parametrize("sigma", [1.0, 1.65, 2.25])
def test_fourier_filtering_equals_filter2d_with_reflected_border(shape, sigma):
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 1.0)
    spectrum = w._Spectrum.of(image, w._kernel_half(sigma))
    for j in range(w.ORIENTATIONS):
        kernel = w.valley_kernel(sigma, np.pi * j / w.ORIENTATIONS, w.ELONGATION)
        plain = cv2.filter2D(image, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
        np.testing.assert_allclose(spectrum.filtered(sigma, j), plain, atol=1e-5)


def test_along_line_mean_at_chosen_pixels_equals_a_line_filter():
    rng = np.random.default_rng(1)
    strength = rng.random((90, 70)).astype(np.float32)
    theta = (rng.integers(0, w.ORIENTATIONS, strength.shape) * np.pi / w.ORIENTATIONS).astype(
        np.float32
    )
    at = rng.random(strength.shape) < 0.2
    got = w._along_line_mean(strength, theta, 3.0, at)
    for k in range(w.ORIENTATIONS):
        dy, dx, weight = w._line_taps(np.pi * k / w.ORIENTATIONS, 3.0)
        half = int(max(np.abs(dy).max(), np.abs(dx).max()))
        kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float64)
        np.add.at(kernel, (dy + half, dx + half), weight)
        plain = cv2.filter2D(
            strength, cv2.CV_32F, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT
        )
        sel = at & (np.rint(theta / (np.pi / w.ORIENTATIONS)).astype(int) % w.ORIENTATIONS == k)
        np.testing.assert_allclose(got[sel], plain[sel], atol=1e-5)
    assert not got[~at].any()


@pytest.mark.parametrize(("shape", "sigma"), [((300, 260), 7.5), ((40, 33), 7.5), ((90, 70), 3.0)])
def test_along_line_mean_padded_once_equals_reflecting_each_index(shape, sigma):
    """The padded, flat-gather path reads exactly what reflecting every tap's index reads,
    also where the taps reach more than half way across the image (40 x 33, 19 px)."""
    rng = np.random.default_rng(3)
    strength = rng.random(shape).astype(np.float32)
    theta = (rng.integers(0, w.ORIENTATIONS, shape) * np.pi / w.ORIENTATIONS).astype(np.float32)
    at = rng.random(shape) < 0.3
    slow = w._along_line_mean(strength, theta, sigma, at, pad_once=False)
    np.testing.assert_array_equal(w._along_line_mean(strength, theta, sigma, at), slow)


def test_full_width_mask_matches_the_exact_distance_transform():
    rng = np.random.default_rng(2)
    centre = np.zeros((200, 150), bool)
    for _ in range(40):
        y, x, n = rng.integers(0, 200), rng.integers(0, 150), rng.integers(5, 40)
        centre[y, x : x + n] = True
    width = np.where(centre, rng.uniform(1, 8, centre.shape), 0).astype(np.float32)
    dist, (iy, ix) = ndi.distance_transform_edt(~centre, return_indices=True)
    exact = dist <= np.maximum(width[iy, ix] / 2, 0.5)
    got = w._full_width_mask(centre, width)
    # only pixels equidistant from two centre pixels of different widths may differ
    assert (got ^ exact).sum() <= 0.01 * exact.sum()


def test_coarse_masked_gaussian_stays_close_to_the_full_resolution_one():
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.random((300, 220)).astype(np.float32), (0, 0), 3.0) + 0.5
    mask = np.zeros(image.shape, bool)
    cv2.ellipse(mask.view(np.uint8), (110, 150), (90, 130), 0, 0, 360, 1, -1)
    for sigma in (10.0, 20.0):
        m = mask.astype(np.float32)
        num = cv2.GaussianBlur(image * m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        full = num / np.maximum(den, 1e-6)
        coarse = masked_gaussian(image, mask, sigma)
        assert np.abs(coarse - full)[mask].max() < 0.01 * float(image[mask].mean())


@pytest.mark.parametrize("flat", [False, True])
def test_filter_bank_keeps_of_each_orthogonal_pair_the_stronger_less_the_other(flat):
    """The bank (one pass per pair of orthogonal directions) answers what taking every
    direction less its orthogonal's positive response, the first of equals winning, answers
    (on flat skin every direction ties)."""
    rng = np.random.default_rng(4)
    rel = cv2.GaussianBlur(rng.standard_normal((120, 90)).astype(np.float32), (0, 0), 1.5)
    rel[40:44, 10:80] = -0.1  # a line
    if flat:
        rel[:] = 0.0
    sigmas = (1.0, 1.65)  # both at full resolution
    bank = w._oriented_valleys(rel, sigmas)
    half = w.ORIENTATIONS // 2
    spectrum = w._Spectrum.of(rel, max(map(w._kernel_half, sigmas)))
    for si, sigma in enumerate(sigmas):
        r = [spectrum.filtered(sigma, j) for j in range(w.ORIENTATIONS)]
        values = np.stack([r[j] - np.maximum(r[(j + half) % w.ORIENTATIONS], 0) for j in range(8)])
        order = [j for k in range(half) for j in (k, k + half)]  # the order directions came in
        best = values[order].max(axis=0)
        as_depth = cv2.multiply(np.maximum(best, np.float32(0)), 1.0 / w.PEAK_GAIN)
        np.testing.assert_array_equal(bank.per_scale[si], as_depth)
        won = np.asarray(order)[np.argmax(values[order], axis=0)]  # the first of equals
        at = bank.scale_idx == si
        np.testing.assert_array_equal(w._orientation(bank.theta)[at], won[at])


def test_half_precision_rounding_is_numpy_s_bit_for_bit():
    rng = np.random.default_rng(5)
    patterns = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate(
        [
            patterns.view(np.float32),
            rng.standard_normal(50_000).astype(np.float32) * 1e-5,  # float16 subnormals
            np.float32([0.0, -0.0, np.inf, -np.inf, 2**-14, -(2**-14), 2**-24, 2**-25]),
            np.float32([3 * 2**-26, 2**-14 * (1 - 2**-12), 65504, 65520, 1e-45]),
        ]
    )
    x = x[~np.isnan(x)]
    with np.errstate(over="ignore"):
        expected = x.astype(np.float16).view(np.uint16)
        got = compare_module._half(x).view(np.uint16)
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(compare_module._half(np.float32([np.nan]))).all()


def test_single_precision_of_every_half_is_numpy_s():
    every = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    every = every[~np.isnan(every)]  # (infinities and both zeros kept)
    expected, got = every.astype(np.float32), compare_module._single(every)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert np.isnan(compare_module._single(np.float16([np.nan]))).all()


def test_lookup_tables_give_the_per_pixel_formulas_exactly():
    rng = np.random.default_rng(6)
    rgb = rng.integers(0, 256, (37, 51, 3), dtype=np.uint8)
    lin = SRGB_TO_LINEAR[rgb]
    y = 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]
    np.testing.assert_array_equal(luminance(rgb), y)
    m, h = unmix(rgb)
    od = -np.log10(np.maximum(SRGB_TO_LINEAR[rgb].astype(np.float64), 1.0 / 4096.0))
    np.testing.assert_allclose(m, od @ UNMIX[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, od @ UNMIX[1], rtol=1e-5, atol=1e-6)
    gains = np.array([1.04, 0.97, 0.9])
    lut = to_srgb8(SRGB_TO_LINEAR[:, None] * gains[None, :])
    per_channel = np.stack([lut[rgb[..., c], c] for c in range(3)], axis=-1)
    np.testing.assert_array_equal(compare_module._with_gains(rgb, gains), per_channel)
