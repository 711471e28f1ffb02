"""Uploads through the real analysis: refusals by their code, a real face with its metadata
removed before storage, its overlay."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.io import load_image
from tests.service.conftest import STUDY, Api, jpeg_face


def _encode(array: np.ndarray, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


REFUSALS = {
    "empty": (lambda: b"", "unreadable_image"),
    "text": (lambda: b"patient notes: follow-up in 4 weeks\n" * 20, "unsupported_format"),
    "pdf": (lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "unsupported_format"),
    "tiff": (lambda: _encode(data.astronaut(), "TIFF"), "unsupported_format"),
    "truncated_jpeg": (lambda: _encode(data.astronaut(), "JPEG")[:20000], "unreadable_image"),
    "damaged_jpeg": (lambda: _encode(data.astronaut(), "JPEG")[:300], "unreadable_image"),
    "one_pixel": (lambda: _encode(np.zeros((1, 1, 3), np.uint8), "PNG"), "image_too_small"),
    "png_bomb": (_png_bomb, "image_too_large"),
    "coffee_no_face": (lambda: _encode(data.coffee(), "JPEG"), "no_face"),
}


@pytest.mark.slow
def test_photos_the_analysis_refuses_are_422_with_their_code(real_api: Api):
    for name, (make, code) in REFUSALS.items():
        r = real_api.upload("S1", make())
        assert r.status_code == 422, name
        assert r.json()["error"]["code"] == code, name
    blurred = (
        Image.open(io.BytesIO(jpeg_face("pd_biden_2013_vp"))).resize((96, 96)).resize((1024, 1024))
    )
    r = real_api.upload("S1", _encode(np.asarray(blurred), "JPEG"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "too_blurry")


@pytest.mark.slow
def test_a_real_face_is_stored_without_identifying_metadata(real_api: Api):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0112] = 1
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0)})
    photo = jpeg_face("pd_biden_2013_vp", exif=exif, comment=b"patient 42")
    r = real_api.upload("S1", photo, filename="IMG_0001 Jane Roe.jpg")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body["analysis"]["regions"]) >= {"forehead", "full_face"}
    assert body["analysis"]["image"]["sha256"] == body["photo"]["sha256"]
    stored = [p for p in Path(real_api.settings.photos_dir).rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [body["photo"]["sha256"]]
    clean = stored[0].read_bytes()
    for secret in (b"CameraMaker", b"patient 42", b"Jane Roe"):
        assert secret not in clean
    with Image.open(io.BytesIO(clean)) as im:
        assert not im.getexif().get_ifd(0x8825)
    np.testing.assert_array_equal(load_image(clean).rgb, load_image(photo).rgb)
    overlay = real_api.client.get(
        f"/v1/photos/{body['photo']['id']}/overlay.png", headers=real_api.auth("viewer")
    )
    assert overlay.status_code == 200
    with Image.open(io.BytesIO(overlay.content)) as im:
        assert im.format == "PNG"
        assert im.size == (1024, 1024) or max(im.size) == 1024
    assert (
        "forehead"
        in real_api.client.get(
            f"/v1/studies/{STUDY}/export.csv", headers=real_api.auth("viewer")
        ).text
    )


@pytest.mark.slow
def test_a_side_view_upload_is_measured_on_its_side(real_api: Api):
    """A photo uploaded as a left view (DESIGN) carries the left side's regions and the
    midline's, says which are not visible, draws only those, and is not compared with the
    frontal baseline."""
    h = real_api.auth("uploader")
    photo = jpeg_face("pd_colin_powell_official")
    frontal = real_api.upload("S1", photo, visit="baseline").json()
    side = real_api.upload("S1", photo, visit="week4", view="left").json()
    assert side["photo"]["view"] == "left"
    regions = side["analysis"]["regions"]
    assert "crows_feet_left" in regions
    assert not [r for r in regions if r.endswith("_right")]
    assert len(frontal["analysis"]["regions"]) == 15
    codes = [i["code"] for i in side["analysis"]["quality"]["issues"]]
    assert "region_not_visible" in codes
    assert side["comparison"] is None
    overlays = [
        real_api.client.get(f"/v1/photos/{p['photo']['id']}/overlay.png", headers=h)
        for p in (frontal, side)
    ]
    assert [o.status_code for o in overlays] == [200, 200]
    assert overlays[0].content != overlays[1].content  # the right-hand regions are not drawn
