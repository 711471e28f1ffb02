"""A follow-up re-saved by an app or a messenger (another JPEG generation) is not a change of
the skin, also on a photo under 4 px/mm, whose JPEG blocks cover more skin than a
re-compression of the canonical image's (the perturbations re-compress the photo's own pixels
there: ``analysis.compare._Side.coarse``)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from analysis import compare
from analysis.canonical import jpeg_roundtrip, pixel_grid, resample
from tests.conftest import face_path


def test_resample_recompresses_on_the_photos_own_block_grid():
    """The crop is re-compressed on the photo's 16-pixel grid: inside it, exactly what the
    whole photo re-compressed shows."""
    rng = np.random.default_rng(3)
    smooth = cv2.GaussianBlur(rng.uniform(0, 255, (200, 240, 3)).astype(np.float32), (0, 0), 2)
    photo = np.clip(smooth, 0, 255).astype(np.uint8)
    xx, yy = pixel_grid((120, 150))
    identity = np.array([[1.0, 0.0, 37.0], [0.0, 1.0, 45.0]])  # a crop starting off the grid
    plain, _ = resample(photo, identity, xx, yy, 1.0)
    again, inside = resample(photo, identity, xx, yy, 1.0, jpeg=85)
    whole, _ = resample(jpeg_roundtrip(photo, 85), identity, xx, yy, 1.0)
    assert inside.all()
    np.testing.assert_array_equal(plain, photo[45:165, 37:187])
    core = (slice(24, -24), slice(24, -24))  # away from the crop's own edge blocks
    np.testing.assert_array_equal(again[core], whole[core])
    assert (again != plain).any()


def _resaved(path, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.open(path).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("stem", "quality", "before"),
    [
        # px/mm 1.8 (the coarsest shared face) and 2.6; region-metrics flagged before the
        # perturbations re-compressed the photo's own pixels: 20 and 29 of 285
        ("pd_obama_2012_official", 90, 20),
        ("pd_kamala_harris_2021_vp", 80, 29),
    ],
)
def test_a_coarse_photo_re_saved_reads_unchanged(stem, quality, before, finder):
    path = face_path(stem)
    c = compare(path.read_bytes(), _resaved(path, quality), finder=finder)
    flagged = [(r, m) for r, ms in c.changes.items() for m, x in ms.items() if x.significant]
    assert len(flagged) <= 0.05 * 285 < before, flagged


@pytest.mark.parametrize(("subsampling", "chroma_px"), [(0, 1), (1, 2), (2, 2)])
def test_a_jpegs_colour_subsampling_is_read(subsampling, chroma_px):
    from analysis.io import load_image

    rgb = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, subsampling=subsampling)
    assert load_image(buf.getvalue()).chroma_px == chroma_px
    for fmt, kw, expected in (
        ("PNG", {}, 1),
        ("WEBP", {"lossless": True}, 1),
        ("WEBP", {"quality": 80}, 2),
        ("WEBP", {"quality": 80, "exif": Image.Exif().tobytes()}, 2),  # extended: VP8X first
    ):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt, **kw)
        assert load_image(buf.getvalue()).chroma_px == expected, (fmt, kw)


def test_colour_alone_is_blurred():
    from analysis.compare import _chroma_blurred

    rng = np.random.default_rng(1)
    rgb = np.clip(rng.normal(128, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
    out = _chroma_blurred(rgb, 2.0)
    luma = [cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[..., 0].astype(int) for x in (rgb, out)]
    colour = [cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(float) for x in (rgb, out)]
    assert np.abs(luma[0] - luma[1]).max() <= 2  # 8-bit rounding, and clipping at the ends
    assert colour[1].std() < 0.5 * colour[0].std()
    np.testing.assert_array_equal(_chroma_blurred(rgb, 0.0), rgb)


def test_a_downscaled_messenger_copy_reads_unchanged(finder):
    """Powell's portrait (7.1 px/mm, colour at full resolution, 4:4:4) downscaled to 1600 px
    and saved with 4:2:0 colour as messengers do (3.8 px/mm, colour at 1.9): its spots and
    melanin spread read as faded in 20 of 285 region-metrics (24 in all) until the colour of
    the finer photo was blurred to the other's (``chroma_blur``)."""
    path = face_path("pd_colin_powell_official")
    im = Image.open(path)
    im.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, subsampling=2)
    c = compare(path.read_bytes(), buf.getvalue(), finder=finder)
    assert c.photometric["colour_softened"] == "before"
    flagged = [(r, m) for r, ms in c.changes.items() for m, x in ms.items() if x.significant]
    assert len(flagged) <= 10, flagged
