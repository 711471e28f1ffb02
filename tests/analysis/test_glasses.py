"""Spectacle frames: the bars across the nose are not skin, so they are not read as lines, and a
photo with glasses against one without does not read the frame as a change."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from analysis import analyze, compare
from analysis.face import find_face
from analysis.glasses import frame_mask
from analysis.io import load_image
from analysis.pipeline import prepare
from datasets.spectacles import DrawnSpectacles, draw_spectacles
from tests.conftest import face_path

COMPARE = sys.modules["analysis.compare"]  # the module (``analysis.compare`` is the function)


def _none(face: object) -> np.ndarray:
    return np.zeros(face.shape, bool)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def worn(finder) -> tuple[np.ndarray, DrawnSpectacles]:
    photo = load_image(face_path("pd_rex_tillerson_official"))
    return photo.rgb, draw_spectacles(photo.rgb, find_face(photo.rgb, finder=finder))


def test_drawn_bars_across_the_nose_are_masked_off_the_skin(worn, finder):
    _, drawn = worn
    prepared = prepare(drawn.image, finder=finder)
    assert "glasses" in [i.code for i in prepared.quality.issues]
    face = prepared.canonical
    bars = (
        cv2.warpAffine(
            drawn.bridge.astype(np.uint8),
            face.to_canonical,
            (face.shape[1], face.shape[0]),
            flags=cv2.INTER_NEAREST,
        )
        > 0
    )
    assert bars.sum() > 500
    assert (bars & frame_mask(face)).sum() >= 0.9 * bars.sum()  # 0.99 measured
    assert (bars & prepared.regions.skin).sum() <= 0.02 * bars.sum()


def test_glasses_in_one_photo_only_are_not_a_glabellar_change(worn, finder, monkeypatch):
    clean, drawn = worn
    result = compare(clean, drawn.image, finder=finder)
    change = result.changes["glabella"]["wrinkles.severity"]
    assert not change.significant  # +0.5 against an mdc of 4.7 measured
    # the after photo's frame read as skin: its bars are lines that "deepened" (+27 measured)
    monkeypatch.setattr(COMPARE, "_frame_on_grid", lambda after, mx, my: _none(mx))
    unmasked = compare(clean, drawn.image, finder=finder).changes["glabella"]["wrinkles.severity"]
    assert unmasked.significant
    assert unmasked.delta > 10.0


def test_a_frame_does_not_add_glabellar_lines(worn, finder):
    clean, drawn = worn
    without = analyze(clean, finder=finder).metrics["glabella"]["wrinkles.length_mm"]
    with_glasses = analyze(drawn.image, finder=finder).metrics["glabella"]["wrinkles.length_mm"]
    # less, not more: the skin along the bars is hidden (74 mm without, 50 with, measured)
    assert with_glasses <= without


def test_powell_s_spectacle_bars_are_not_read_as_glabellar_lines(finder):
    result = analyze(face_path("pd_colin_powell_official"), finder=finder)
    assert frame_mask(result.canonical).sum() > 1000
    # 112 mm (severity 79) while the bars were skin; 17 mm (17) measured
    assert result.metrics["glabella"]["wrinkles.length_mm"] < 40.0


@pytest.mark.parametrize(
    "stem",
    # Emma Bonino's photo holds a contrasted line across the nose that the glasses gate keeps
    ["pd_rex_tillerson_official", "ccby_emma_bonino_2017", "ccby_lord_owen_ukparl"],
)
def test_no_frame_is_masked_on_a_face_without_glasses(stem, finder):
    face = prepare(face_path(stem), finder=finder).canonical
    assert not frame_mask(face).any()
    if stem == "ccby_emma_bonino_2017":
        assert frame_mask(face, threshold=-1.0).any()  # what the gate is for
