"""The same face in other encodings (grey, CMYK, 16-bit, alpha, EXIF-rotated) measures the same."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from analysis import AnalysisError, analyze, compare
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
    grey_bytes = _encode(grey, "PNG")
    result = analyze(grey_bytes, finder=finder)
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
    # and the photo says so: a warning in its analysis, and a comparison refuses it (a grey
    # follow-up against a colour baseline read every spot and all redness gone)
    codes = [i.code for i in result.quality.issues]
    assert codes == [i.code for i in base.quality.issues] + ["no_colour"]
    assert result.quality.skin_chroma < 2 < 40 < base.quality.skin_chroma
    assert "no_colour" not in [i.code for i in base.quality.issues]
    for pair, photo in (((base, grey_bytes), "after"), ((grey_bytes, base), "before")):
        with pytest.raises(AnalysisError) as info:
            compare(*pair, finder=finder)
        assert (info.value.code, info.value.photo) == ("unsupported_format", photo)
        assert f"The {photo} photo is in black and white" in info.value.message


def test_a_desaturated_colour_photo_is_told_from_a_pale_one(upright, finder):
    """A colour photo whose colour was taken out in an editor (saved as RGB JPEG: its channels
    differ by JPEG's chroma noise only) is grey; the same photo with a fifth of its colour left
    (paler than any of the shared faces' skin) is not."""
    rgb, _ = upright
    mean = rgb.astype(np.float32).mean(axis=2, keepdims=True)
    for keep, colourless in ((0.0, True), (0.2, False)):
        faded = np.clip(mean + keep * (rgb - mean), 0, 255).astype(np.uint8)
        result = analyze(_encode(Image.fromarray(faded), "JPEG", quality=90), finder=finder)
        assert result.quality.colourless is colourless, (keep, result.quality.skin_chroma)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skin_chroma_is_the_median_of_each_pixels_channel_spread(seed):
    from analysis.quality import colour_warning

    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)
    skin = rng.random((60, 50)) < 0.5
    pixels = rgb[skin].astype(np.int16)
    issues, chroma = colour_warning(rgb, skin)
    assert chroma == float(np.median(pixels.max(axis=1) - pixels.min(axis=1)))
    assert issues == []
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    issues, chroma = colour_warning(grey, skin)
    assert chroma == 0.0
    assert [i.code for i in issues] == ["no_colour"]
