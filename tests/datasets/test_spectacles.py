"""Drawn spectacles: the truth mask is exactly what was painted, and the bars cross the nose."""

from __future__ import annotations

import numpy as np

from analysis import landmarks as lm
from analysis.face import find_face
from analysis.io import load_image
from datasets.spectacles import Frame, draw_spectacles
from tests.conftest import face_path


def test_the_mask_is_what_was_painted_and_the_bridge_crosses_the_nose(finder):
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    face = find_face(rgb, finder=finder)
    drawn = draw_spectacles(rgb, face)
    changed = np.any(drawn.image != rgb, axis=2)
    assert not (changed & ~drawn.mask).any()
    assert changed[drawn.mask].mean() > 0.95  # a painted pixel may keep its grey by chance
    assert drawn.bridge.any()
    assert not (drawn.bridge & ~drawn.mask).any()
    assert set(np.unique(drawn.image[drawn.mask])) <= {Frame().outline, Frame().core}
    # the bridge crosses the midline between the inner eye corners
    p = face.points
    x = round((p[lm.RIGHT_EYE_INNER, 0] + p[lm.LEFT_EYE_INNER, 0]) / 2)
    rows = np.nonzero(drawn.bridge[:, x])[0]
    assert len(rows)
    assert rows.max() < p[[lm.RIGHT_EYE_INNER, lm.LEFT_EYE_INNER], 1].mean()
    # a bar is bar_mm wide through the face's scale
    column = drawn.mask[:, x]
    widths = np.diff(np.flatnonzero(np.diff(np.r_[0, column.astype(int), 0])))[::2]
    expected = Frame().bar_mm / face.mm_per_px
    assert np.all(np.abs(widths - expected) <= 2.0)
