"""Before/after series on a real face with known change: forehead lines that fade, crow's feet
lines that stay (or the other way round, or lines at another site, the glabella, under the
eyes, the nasolabial folds, the marionette lines or the upper lip, that fade while both stay),
each photo with its own light, white balance, framing and JPEG quality.

Used by the comparison tests and ``benchmarks/change.py``; the anatomical scenes of
``datasets.faces`` are richer, these are small and fast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from analysis import landmarks as lm
from analysis.face import Face
from datasets.faces import face_wrinkles
from datasets.synthetic import (
    LineSpec,
    adjust_exposure,
    adjust_white_balance,
    affine_jitter,
    curved_line,
    gaussian_blur,
    jpeg_roundtrip,
    render_lines,
)

BROW_TOPS = [*lm.RIGHT_BROW_UPPER, *lm.LEFT_BROW_UPPER]
BROW_HEADS = [lm.RIGHT_BROW_UPPER[-1], lm.LEFT_BROW_UPPER[-1]]
# where the lines that fade are drawn: the first three by the functions below, the others from
# the anatomical templates of ``datasets.faces`` (with this module's width and depth)
TEMPLATE_SITES = ("under_eye", "nasolabial", "marionette", "upper_lip")
SITES = ("forehead", "crows_feet", "glabella", *TEMPLATE_SITES)
ALWAYS_DRAWN = ("forehead", "crows_feet")  # the other sites carry lines only when they fade
TEMPLATE_COUNTS = {"under_eye": 2, "nasolabial": 1, "marionette": 1, "upper_lip": 3}  # per side


def drawn_sites(site: str) -> tuple[str, ...]:
    """The sites that carry lines in a series where ``site``'s lines fade (the glabella only
    when it is that site, so the other series keep the images they had before it was added)."""
    if site not in SITES:
        raise ValueError(f"site must be one of {SITES}, got {site!r}")
    return ALWAYS_DRAWN if site in ALWAYS_DRAWN else (*ALWAYS_DRAWN, site)


def forehead_lines(face: Face, rng: np.random.Generator) -> list[LineSpec]:
    """Four horizontal forehead lines, 12-16 % deep, 0.4-0.6 mm wide."""
    p = face.points
    brow_y = float(p[BROW_TOPS, 1].min())
    eye_dx = float(p[lm.LEFT_EYE_OUTER, 0] - p[lm.RIGHT_EYE_OUTER, 0])
    lines = []
    for k in range(4):
        y = brow_y - (0.18 + 0.1 * k) * eye_dx
        x0 = p[lm.RIGHT_EYE_OUTER, 0] + rng.uniform(0.0, 0.2) * eye_dx
        x1 = p[lm.LEFT_EYE_OUTER, 0] - rng.uniform(0.0, 0.2) * eye_dx
        pts = curved_line((x0, y), (x1, y), curvature=rng.uniform(-0.04, 0.04))
        lines.append(LineSpec(pts, rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.16)))
    return lines


def crows_feet_lines(face: Face, rng: np.random.Generator) -> list[LineSpec]:
    """Three lines fanning out from each outer eye corner, 12-16 % deep."""
    p = face.points
    right, left = p[lm.RIGHT_EYE_OUTER], p[lm.LEFT_EYE_OUTER]
    eye_dx = float(left[0] - right[0])
    lines = []
    for corner, s in ((right, -1.0), (left, 1.0)):
        for k in range(3):
            angle = np.radians(-20 + 20 * k)
            x0, y0 = corner[0] + s * 0.08 * eye_dx, corner[1]
            length = 0.25 * eye_dx
            end = (x0 + s * length * np.cos(angle), y0 + length * np.sin(angle))
            pts = curved_line((x0, y0), end, curvature=0.03)
            lines.append(LineSpec(pts, rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.16)))
    return lines


def glabella_lines(face: Face, rng: np.random.Generator) -> list[LineSpec]:
    """Two vertical frown lines ("elevens") 3-5 mm either side of the midline, rising 9-13 mm
    from just above the nasion and leaning a little outwards, 12-16 % deep."""
    p = face.points
    mm = 1.0 / face.mm_per_px
    nasion = p[lm.NASION]
    top = float(p[BROW_HEADS, 1].min()) - 7.0 * mm  # as high as the glabella reaches
    lines = []
    for side in (-1.0, 1.0):
        x = nasion[0] + side * rng.uniform(3.0, 5.0) * mm
        y0 = nasion[1] - rng.uniform(1.5, 3.0) * mm
        y1 = max(top, y0 - rng.uniform(9.0, 13.0) * mm)
        lean = side * np.tan(np.radians(rng.uniform(0.0, 10.0))) * (y0 - y1)
        pts = curved_line((x, y0), (x + lean, y1), curvature=rng.uniform(-0.04, 0.04))
        lines.append(LineSpec(pts, rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.16)))
    return lines


def template_lines(site: str) -> Callable[[Face, np.random.Generator], list[LineSpec]]:
    """Lines at one of ``TEMPLATE_SITES`` (both sides where it has two), placed by
    ``datasets.faces.face_wrinkles``, 0.4-0.6 mm wide and 12-16 % deep like the others."""
    sides = (site,) if site == "upper_lip" else (f"{site}_right", f"{site}_left")
    n = TEMPLATE_COUNTS[site]

    def draw(face: Face, rng: np.random.Generator) -> list[LineSpec]:
        lines = face_wrinkles(
            face.points,
            mm_per_px=face.mm_per_px,
            rng=rng,
            sites=sides,
            lines_per_site={s: (n, n) for s in sides},
            width_mm=(0.4, 0.6),
            depth=(0.12, 0.16),
            highlight=(0.15, 0.15),
        )
        return [line.spec for line in lines]

    return draw


LINES: dict[str, Callable[[Face, np.random.Generator], list[LineSpec]]] = {
    "forehead": forehead_lines,
    "crows_feet": crows_feet_lines,
    "glabella": glabella_lines,
    **{site: template_lines(site) for site in TEMPLATE_SITES},
}


def faded(lines: list[LineSpec], factor: float) -> list[LineSpec]:
    """The lines at ``factor`` of their depth (none left at 0)."""
    return [replace(x, depth=x.depth * factor) for x in lines] if factor > 0 else []


def shaped(lines: list[LineSpec], profile: str) -> list[LineSpec]:
    """The same lines drawn with another cross-section (``datasets.synthetic.PROFILES``)."""
    return [replace(x, profile=profile) for x in lines]


def nuisance(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A repeat photo: exposure +-10 %, white balance +-4 %, rotation +-2 degrees, scale +-3 %,
    shift +-8 px, JPEG quality 85-95."""
    img = adjust_exposure(img, rng.uniform(0.9, 1.1))
    img = adjust_white_balance(img, tuple(rng.uniform(0.96, 1.04, 3)))
    img, _ = affine_jitter(
        img,
        angle_deg=rng.uniform(-2, 2),
        scale=rng.uniform(0.97, 1.03),
        shift_px=tuple(rng.uniform(-8, 8, 2)),
    )
    return jpeg_roundtrip(img, int(rng.integers(85, 96)))


def series_pair(
    rgb: np.ndarray,
    face: Face,
    seed: int,
    *,
    fade: float = 0.25,
    site: str = "forehead",
    profile: str = "soft",
    focus_mm: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) where the lines of ``site`` (one of :data:`SITES`) fade to ``fade`` of
    their depth and the other sites' lines (``drawn_sites``) stay; every line drawn with
    ``profile``: a dose series (:func:`dose_series`) with one follow-up."""
    before, (after,) = dose_series(
        rgb, face, seed, (fade,), site=site, profile=profile, focus_mm=focus_mm
    )
    return before, after


def dose_series(
    rgb: np.ndarray,
    face: Face,
    seed: int,
    fades: tuple[float, ...],
    *,
    site: str = "forehead",
    profile: str = "soft",
    focus_mm: float = 0.0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A baseline and one follow-up per factor of ``fades``: the same lines (drawn from
    ``seed`` at the sites of ``drawn_sites(site)``), ``site``'s faded to that share of their
    depth, the others kept; every photo, the baseline included, with its own nuisance. A
    dose-response series: the more the lines fade, the more a measurement of them should
    fall. ``focus_mm``: the follow-ups are out of focus, by a Gaussian of that many mm at the
    face (before their nuisance: the lens blurs before the camera re-frames and compresses)."""
    if any(not 0 <= f <= 1 for f in fades):
        raise ValueError(f"fade factors must lie in [0, 1], got {fades}")
    sites = drawn_sites(site)
    rng = np.random.default_rng(seed)
    drawn = {s: shaped(LINES[s](face, rng), profile) for s in sites}  # in this order: same rng
    fading = drawn.pop(site)
    staying = [x for lines in drawn.values() for x in lines]

    def photo(lines: list[LineSpec], blur_mm: float = 0.0) -> np.ndarray:
        image = render_lines(rgb, lines + staying, mm_per_px=face.mm_per_px).image
        return nuisance(gaussian_blur(image, blur_mm / face.mm_per_px), rng)

    return photo(fading), [photo(faded(fading, f), focus_mm) for f in fades]
