"""The fast paths of the wrinkle detector compute what the plain operations compute."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from analysis import wrinkles as w
from analysis.colour import masked_gaussian


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
