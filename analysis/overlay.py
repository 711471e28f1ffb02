"""Pictures of an analysis on the original photo: the overlay a clinician shows the patient and
the binary wrinkle mask of DESIGN.md. Results are drawn from the canonical frame through the
inverse transform, so they land on the photo's own pixel grid and orientation."""

from __future__ import annotations

import cv2
import numpy as np

from analysis.compare import Comparison
from analysis.expression import GROUP_WORDS
from analysis.pipeline import Analysis
from analysis.regions import ANATOMICAL_REGIONS
from analysis.types import U8, Bool

LINE_COLOUR = (255, 196, 0)  # RGB amber
DEEP_COLOUR = (255, 80, 40)
SPOT_COLOUR = (0, 220, 255)
OUTLINE_COLOUR = (255, 255, 255)
FRAME_COLOUR = (170, 90, 230)  # violet: shown apart from metal and skin
MAX_OVERLAY_SIDE = 2400


def to_photo_grid(analysis: Analysis, mask: Bool) -> Bool:
    """A canonical-frame mask resampled onto the photo's pixel grid."""
    c = analysis.canonical
    out = cv2.warpAffine(
        mask.astype(np.uint8) * 255,
        c.to_photo,
        (analysis.photo.width, analysis.photo.height),
        flags=cv2.INTER_LINEAR,
        borderValue=0,
    )
    return np.asarray(out >= 128)


def wrinkle_mask(analysis: Analysis) -> U8:
    """255 on wrinkle pixels at their full width, 0 elsewhere, on the photo's grid and size."""
    return (to_photo_grid(analysis, analysis.wrinkles.mask) * 255).astype(np.uint8)


def _contours(mask: Bool) -> list[np.ndarray]:
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return list(found)


def _to_photo(analysis: Analysis, contour: np.ndarray, scale: float) -> np.ndarray:
    pts = contour.reshape(-1, 2).astype(np.float64)
    m = analysis.canonical.to_photo
    mapped = (pts @ m[:, :2].T + m[:, 2]) * scale
    return np.round(mapped).astype(np.int32).reshape(-1, 1, 2)


def draw_overlay(analysis: Analysis) -> U8:
    """The photo with region outlines and severities, wrinkle lines and spots (RGB uint8)."""
    photo = analysis.photo.rgb
    scale = min(1.0, MAX_OVERLAY_SIDE / max(photo.shape[:2]))
    if scale == 1.0:
        canvas = photo.copy()
    else:
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.asarray(small, dtype=np.uint8)
    size = (canvas.shape[1], canvas.shape[0])
    c = analysis.canonical
    to_canvas = c.to_photo * scale

    def warp(mask: Bool) -> Bool:
        out = cv2.warpAffine(mask.astype(np.uint8) * 255, to_canvas, size, flags=cv2.INTER_LINEAR)
        return np.asarray(out >= 128)

    frame = analysis.regions.frame
    if frame is not None and frame.any():  # glasses: not skin, not measured
        on = warp(frame)
        canvas[on] = (0.4 * canvas[on] + 0.6 * np.array(FRAME_COLOUR)).astype(np.uint8)
    w = analysis.wrinkles
    deep = w.mask & ~_grow(w.fine & w.centerline, w.mask)
    for mask, colour in ((w.mask, LINE_COLOUR), (deep, DEEP_COLOUR)):
        on = warp(mask)
        canvas[on] = (0.35 * canvas[on] + 0.65 * np.array(colour)).astype(np.uint8)
    thick = max(1, round(2 * scale * max(photo.shape[:2]) / 2000))
    spots = [_to_photo(analysis, k, scale) for k in _contours(analysis.pigments.spots > 0)]
    cv2.drawContours(canvas, spots, -1, SPOT_COLOUR, thick, lineType=cv2.LINE_AA)

    face_px = analysis.face.width_px * scale
    font_scale = float(np.clip(face_px / 700, 0.3, 1.2))
    for i, name in enumerate(ANATOMICAL_REGIONS):
        mask = analysis.regions.labels == i + 1
        if not mask.any():
            continue
        outline = [_to_photo(analysis, k, scale) for k in _contours(mask)]
        cv2.drawContours(canvas, outline, -1, OUTLINE_COLOUR, thick, lineType=cv2.LINE_AA)
        ys, xs = np.nonzero(mask)
        centre = _to_photo(analysis, np.array([[xs.mean(), ys.mean()]]), scale).reshape(2)
        sev = analysis.metrics[name]["wrinkles.severity"]
        _label(canvas, f"{sev:.0f}", (int(centre[0]), int(centre[1])), font_scale)
    _legend(canvas, analysis, font_scale)
    return canvas


def _grow(seed: Bool, within: Bool) -> Bool:
    """Pixels of ``within`` connected to ``seed`` (fine lines at full width)."""
    if not seed.any():
        return np.zeros_like(within)
    n, labels = cv2.connectedComponents((within | seed).astype(np.uint8))
    hit = np.zeros(n, bool)
    hit[np.unique(labels[seed])] = True
    hit[0] = False
    return np.asarray(hit[labels])


def signed_whole(value: float) -> str:
    """``value`` rounded to a whole number with its sign, and ``0`` (not ``-0`` or ``+0``) when
    it rounds to nothing: a region label a clinician reads."""
    whole = round(value)
    return f"{whole:+d}" if whole else "0"


def _label(canvas: U8, text: str, centre: tuple[int, int], font_scale: float) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, font_scale, 2)
    x, y = centre[0] - tw // 2, centre[1] + th // 2
    cv2.rectangle(canvas, (x - 4, y - th - 4), (x + tw + 4, y + base + 2), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), font, font_scale, (255, 255, 255), 2, cv2.LINE_AA)


def _legend(canvas: U8, analysis: Analysis, font_scale: float) -> None:
    full = analysis.metrics.get("full_face")
    lines = [
        ("wrinkles (fine)", LINE_COLOUR),
        ("wrinkles (deep)", DEEP_COLOUR),
        ("pigmented spots", SPOT_COLOUR),
        ("numbers: wrinkle severity 0-100", OUTLINE_COLOUR),
    ]
    if full is not None:
        lines.append((f"whole face severity {full['wrinkles.severity']:.0f}", OUTLINE_COLOUR))
    if analysis.regions.frame is not None and analysis.regions.frame.any():
        lines.append(("glasses frame: not measured", FRAME_COLOUR))
    font = cv2.FONT_HERSHEY_SIMPLEX
    step = max(12, int(30 * font_scale / 0.5))
    width = int(max(cv2.getTextSize(t, font, font_scale, 1)[0][0] for t, _ in lines) + step * 1.5)
    cv2.rectangle(canvas, (0, 0), (width, step * len(lines) + step // 2), (0, 0, 0), -1)
    for k, (text, colour) in enumerate(lines):
        y = step * (k + 1)
        cv2.rectangle(canvas, (8, y - step // 2), (8 + step // 2, y), colour, -1)
        cv2.putText(
            canvas, text, (16 + step // 2, y), font, font_scale, (255, 255, 255), 1, cv2.LINE_AA
        )


def draw_comparison(comparison: Comparison) -> U8:
    """Before | after (registered) | change, on the before face's canonical grid (RGB uint8).

    The change panel colours where lines deepened (red) or faded (green), and likewise the
    spots of either photo (outlined) that darkened or faded; each region carries its
    wrinkle-severity change, with ``*`` when it exceeds the pair's minimum detectable change
    and ``expr`` where the facial expression differs enough to fold its lines
    (``analysis.expression``), which a note under the change panel names. A photo softened to
    the other's focus by ``FOCUS_WARN_MM`` or more says so in its title, and the after panel's
    title says when the light was matched on the skin (``light_matched_on_skin``: a change of
    the whole face's tone is then not measured).
    """
    before = comparison.before.canonical.rgb.copy()
    after = comparison.after_canonical.rgb.copy()
    regions = comparison.regions
    change = comparison.change_map
    grey = cv2.cvtColor(cv2.cvtColor(before, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    panel = (0.6 * grey).astype(np.float32)
    scale = 0.12  # change in depth-weighted line presence for full colour
    spot_scale = 0.15  # change of a spot's melanin contrast (OD) for full colour
    of_lines, of_spots = change / scale, comparison.spot_change / spot_scale
    signed = np.where(np.abs(of_spots) > np.abs(of_lines), of_spots, of_lines)  # the larger
    deeper = np.clip(signed, 0, 1)[..., None]
    faded = np.clip(-signed, 0, 1)[..., None]
    panel = (
        panel * (1 - deeper - faded)
        + deeper * np.array([255, 40, 40])
        + faded * np.array([40, 230, 90])
    )
    panel = np.clip(panel, 0, 255).astype(np.uint8)
    outlines = _contours(comparison.spots)
    cv2.drawContours(panel, outlines, -1, SPOT_COLOUR, 1, lineType=cv2.LINE_AA)
    for img, found in ((before, comparison.before_wrinkles), (after, comparison.after_wrinkles)):
        lines = found.mask & regions.skin
        img[lines] = (0.35 * img[lines] + 0.65 * np.array(LINE_COLOUR)).astype(np.uint8)
    font_scale = 0.5
    expression = comparison.expression
    folded = set(expression.regions) if expression is not None else set()
    for i, name in enumerate(ANATOMICAL_REGIONS):
        mask = regions.labels == i + 1
        if not mask.any():
            continue
        contours = _contours(mask)
        for img in (before, after, panel):
            cv2.drawContours(img, contours, -1, OUTLINE_COLOUR, 1, lineType=cv2.LINE_AA)
        change_sev = comparison.changes[name]["wrinkles.severity"]
        ys, xs = np.nonzero(mask)
        mark = ("*" if change_sev.significant else "") + (" expr" if name in folded else "")
        centre = (int(xs.mean()), int(ys.mean()))
        _label(panel, f"{signed_whole(change_sev.delta)}{mark}", centre, font_scale)
    if expression is not None and expression.changed:
        moved = ", ".join(GROUP_WORDS[g] for g in expression.changed)
        note = f"expr: the expression differs ({moved}); change may not be the skin's"
        font = cv2.FONT_HERSHEY_SIMPLEX
        h = panel.shape[0]
        cv2.rectangle(panel, (0, h - 30), (panel.shape[1], h), (0, 0, 0), -1)
        cv2.putText(panel, note, (10, h - 10), font, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    titles = ["before", "after (registered)", "change: red deeper/darker, green faded"]
    softened = comparison.focus_warned
    if softened is not None:
        blur = comparison.photometric["focus_blur_mm"]
        titles[0 if softened == "before" else 1] += f", softened {blur:.2f} mm to the other's focus"
    if comparison.photometric.get("reference") == "skin":
        titles[1] += ", light matched on skin (tone not compared)"
    panels = []
    for img, title in zip((before, after, panel), titles, strict=True):
        img = img.copy()
        cv2.rectangle(img, (0, 0), (img.shape[1], 34), (0, 0, 0), -1)
        font = cv2.FONT_HERSHEY_SIMPLEX
        # a long title (focus and light notes together) is set smaller so that it fits
        width = cv2.getTextSize(title, font, 0.7, 1)[0][0]
        size = min(0.7, 0.7 * (img.shape[1] - 20) / max(width, 1))
        cv2.putText(img, title, (10, 24), font, size, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(img)
    return np.ascontiguousarray(np.hstack(panels))
