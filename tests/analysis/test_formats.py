"""The same face in other encodings (grey, CMYK, 16-bit, alpha, EXIF-rotated) measures the same."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from analysis import analyze
from analysis.io import load_image
from tests.conftest import face_path

KEYS = ("wrinkles.length_mm", "wrinkles.severity", "region.area_cm2")


@pytest.fixture(scope="module")
def upright(finder):
    rgb = load_image(face_path("pd_biden_2013_vp")).rgb
    return rgb, analyze(rgb, finder=finder)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _close(a, b, rel: float, keys=KEYS, regions=("full_face", "forehead", "cheek_left")):
    for region in regions:
        for key in keys:
            assert a.metrics[region][key] == pytest.approx(
                b.metrics[region][key], rel=rel, abs=0.5
            ), (
                region,
                key,
            )


def test_sixteen_bit_png_and_tiff_measure_like_eight_bit(upright, finder):
    import tifffile

    rgb, base = upright
    deep = rgb.astype(np.uint16) * 257
    buf = io.BytesIO()
    tifffile.imwrite(buf, deep, photometric="rgb")
    for data in (buf.getvalue(), _png16(deep)):
        result = analyze(data, finder=finder)
        assert result.photo.source_bit_depth == 16
        _close(result, base, rel=1e-6)


def _png16(deep: np.ndarray) -> bytes:
    import cv2

    ok, enc = cv2.imencode(".png", deep[:, :, ::-1])
    assert ok
    return enc.tobytes()


def test_rgba_png_measures_like_rgb(upright, finder):
    rgb, base = upright
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    _close(analyze(_encode(Image.fromarray(rgba), "PNG"), finder=finder), base, rel=1e-6)


def test_exif_rotated_jpeg_measures_like_upright(upright, finder):
    rgb, _ = upright
    reference = analyze(_encode(Image.fromarray(rgb), "JPEG", quality=95), finder=finder)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(rgb, k=1)))  # stored on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # viewer rotates 90 degrees clockwise to show it upright
    data = _encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    result = analyze(data, finder=finder)
    assert (result.photo.width, result.photo.height) == (rgb.shape[1], rgb.shape[0])
    # JPEG blocks fall differently on the rotated pixels: whole-face metrics agree closely,
    # single regions of this 3 px/mm face within the detector's region-level repeatability
    _close(result, reference, rel=0.05, regions=("full_face",))
    _close(result, reference, rel=0.20, regions=("forehead", "cheek_left", "under_eye_right"))


def test_cmyk_jpeg_measures_like_rgb(upright, finder):
    rgb, _ = upright
    reference = analyze(_encode(Image.fromarray(rgb), "JPEG", quality=95), finder=finder)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    result = analyze(_encode(cmyk, "JPEG", quality=95), finder=finder)
    _close(result, reference, rel=0.15)


def test_greyscale_photo_measures_wrinkles(upright, finder):
    rgb, base = upright
    grey = Image.fromarray(rgb).convert("L")
    result = analyze(_encode(grey, "PNG"), finder=finder)
    # grey has no hue to tell hair from skin, and its grey level is not linear luminance
    _close(
        result,
        base,
        rel=0.2,
        keys=("wrinkles.length_mm", "region.area_cm2"),
        regions=("full_face",),
    )
    # no colour, no chromophores: the maps are flat rather than invented
    assert result.metrics["full_face"]["pigmentation.spot_count"] == 0
