"""Before/after comparison: registration, honest change, noise floor, refusals, CLI."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis import AnalysisError, analyze, compare, track
from analysis import landmarks as lm
from analysis.colour import SRGB_TO_LINEAR, to_srgb8
from analysis.compare import (
    ITA_MDC_FLOOR_DEG,
    MAX_SCLERA_SPREAD,
    MIN_SCLERA_PX,
    PERTURBATIONS,
    PIXEL_FLOORS,
    ROUGHNESS_MDC_FLOOR,
    SEVERITY_INDEX_MDC_FLOOR,
    SMALLEST_LINE_LOAD,
    Comparison,
    MetricChange,
    _ceiling,
    _floor,
    _half,
    _paired_gains,
    _PhotoRuns,
    _reframing,
    _seen_at,
    _skin_seen,
    _split_face,
    _spot_pixels,
    _spot_read,
    _with_gains,
    focus_blur,
    pairing_spread,
)
from analysis.face import Face
from analysis.io import load_image
from analysis.metrics import BETTER, METRICS, severity, severity_index_of
from analysis.regions import REGIONS
from datasets.faces import (
    FaceScene,
    Fade,
    Nuisance,
    apply_nuisance,
    face_spots,
    fade_scene,
    render_face,
)
from datasets.series import LINES, dose_series, drawn_sites, series_pair
from datasets.synthetic import procedural_skin, render_lines
from service.cli import main
from tests.conftest import face_path

COMPARE_MODULE = importlib.import_module("analysis.compare")  # ``compare`` is the function
KEYS = {"before", "after", "delta", "delta_pct", "mdc", "significant", "direction", "improved"}
# a follow-up taken in other light: brighter, warmer, re-compressed
BRIGHTER_WARMER = Nuisance(exposure=1.1, white_balance=(1.04, 1.0, 0.96), jpeg_quality=95)


def test_metric_change_semantics():
    c = MetricChange(before=10.0, after=6.0, mdc=1.0, better=-1)
    d = c.to_dict()
    assert (d["delta"], d["delta_pct"], d["direction"], d["improved"]) == (
        -4.0,
        -40.0,
        "decreased",
        True,
    )
    assert MetricChange(10.0, 10.5, 1.0, -1).to_dict()["direction"] == "unchanged"
    assert MetricChange(10.0, 10.5, 1.0, -1).to_dict()["improved"] is None
    assert MetricChange(0.0, 3.0, 1.0, -1).to_dict()["delta_pct"] is None
    assert MetricChange(50.0, 60.0, 1.0, 0).to_dict()["improved"] is None  # tone: never "better"
    assert MetricChange(5.0, 9.0, 1.0, -1).to_dict()["improved"] is False


@pytest.fixture(scope="module")
def biden(finder):
    before = analyze(face_path("pd_biden_2013_vp"), finder=finder)
    after = analyze(face_path("pd_biden_2021_presidential"), finder=finder)
    return compare(before, after, treated_side="left")


def test_real_same_person_pair_compares_with_residual(biden):
    d = biden.to_dict()
    assert d["schema_version"] == "1"
    assert d["registration"]["residual_px"] > 0
    assert d["registration"]["residual_mm"] < 1.5
    assert list(d["regions"]) == list(REGIONS)
    for metrics in d["regions"].values():
        assert list(metrics) == list(METRICS)
        for change in metrics.values():
            assert set(change) == KEYS
            assert change["mdc"] >= 0
    assert d["before"]["image"]["sha256"] != d["after"]["image"]["sha256"]
    json.dumps(d, allow_nan=False)
    # the tone of the whole face moves with the white balance
    assert all(x["pigmentation.ita_deg"].mdc >= ITA_MDC_FLOOR_DEG for x in biden.changes.values())


def test_a_sclera_whose_pixels_do_not_correspond_is_not_read_for_the_light(biden, finder):
    """Biden's eyes are narrowed in both photos, years and cameras apart: what the sclera mask
    holds in one photo is lid margin and eye corner in the other, and its pixels' light ratios
    spread over a factor of two (the re-takes of one photo: at most 0.39 in log). The light
    is matched on the skin, the comparison says so, and the after photo re-saved at another
    JPEG quality reads the same gains (read on that sclera they moved by up to 25 %)."""
    d = biden.to_dict()
    assert d["photometric"]["reference"] == "skin"
    assert d["photometric"]["sclera_spread"] > MAX_SCLERA_SPREAD
    assert d["photometric"]["sclera_px"] >= MIN_SCLERA_PX  # enough of it: not the reason
    assert "light_matched_on_skin" in [i["code"] for i in d["quality"]["issues"]]
    # the overlay says so in the after panel's title, and nowhere else
    from analysis.overlay import draw_comparison

    unsaid = replace(biden, photometric={**biden.photometric, "reference": "sclera"})
    titled, plain, w = draw_comparison(biden), draw_comparison(unsaid), biden.regions.skin.shape[1]
    assert (titled[:34, w : 2 * w] != plain[:34, w : 2 * w]).any()
    assert (titled[:34, :w] == plain[:34, :w]).all()
    assert (titled[:34, 2 * w :] == plain[:34, 2 * w :]).all()
    assert (titled[34:] == plain[34:]).all()
    after = load_image(face_path("pd_biden_2021_presidential")).rgb
    ok, buf = cv2.imencode(".jpg", after[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    again = compare(biden.before, buf.tobytes(), finder=finder)
    np.testing.assert_allclose(again.photometric["gains"], d["photometric"]["gains"], atol=0.01)


def test_the_spread_of_the_light_ratios_tells_corresponding_pixels_from_others():
    """The same sclera under another light: every pixel reads the light's gains, and the
    spread is nil. The same pixels shuffled (what a mask holds when it is not the same
    sclera in both photos): the spread is that of the sclera's own pattern."""
    rng = np.random.default_rng(1)
    before = rng.integers(120, 231, (30, 30, 3)).astype(np.uint8)
    after = to_srgb8(SRGB_TO_LINEAR[before] * np.array([0.9, 1.0, 1.1]))
    mask = np.ones((30, 30), bool)
    assert pairing_spread(before, after, mask) < 0.02
    shuffled = rng.permutation(after.reshape(-1, 3)).reshape(after.shape)
    assert pairing_spread(before, shuffled, mask) > MAX_SCLERA_SPREAD
    assert pairing_spread(before, after, np.zeros((30, 30), bool)) == float("inf")


def test_split_face_block(biden):
    split = biden.to_dict()["split_face"]
    assert split["treated_side"] == "left"
    assert set(split["pairs"]) == {"under_eye", "crows_feet", "cheek", "nasolabial", "marionette"}
    pair = split["pairs"]["crows_feet"]["wrinkles.severity"]
    treated = biden.changes["crows_feet_left"]["wrinkles.severity"]
    control = biden.changes["crows_feet_right"]["wrinkles.severity"]
    assert pair["difference"] == pytest.approx(treated.delta - control.delta, abs=1e-3)
    assert pair["significant"] == (abs(pair["difference"]) > pair["mdc"])


def test_white_balance_is_read_pixel_by_pixel_on_the_registered_sclera():
    """The follow-up is 10 % redder and 10 % less blue, and its upper lid shades the top
    quarter of the sclera (the eye a little more closed). Each pixel's ratio with itself
    still gives the light's gains; the ratio of the two photos' medians reads the shade too."""
    rng = np.random.default_rng(0)
    before = rng.integers(150, 231, (40, 40, 3)).astype(np.uint8)
    gains = np.array([1.0 / 1.1, 1.0, 1.0 / 0.9])  # after -> before
    linear = SRGB_TO_LINEAR[before] / gains
    linear[:10] *= 0.6  # the lid's shade
    after = to_srgb8(linear)
    mask = np.ones((40, 40), bool)
    np.testing.assert_allclose(_paired_gains(before, after, mask), gains, rtol=0.01)
    medians = np.median(SRGB_TO_LINEAR[before], axis=(0, 1)) / np.median(
        SRGB_TO_LINEAR[after], axis=(0, 1)
    )
    assert np.all(medians / gains > 1.03)
    # a channel black in the after photo says nothing of its gain
    after[0, 0] = (0, 0, 0)
    np.testing.assert_allclose(_paired_gains(before, after, mask), gains, rtol=0.01)


def test_a_region_with_next_to_no_lines_is_not_called_changed_by_a_hundredth():
    """Severity's floor is relative to its index, which vanishes where a region holds next to
    no lines; it is at least what one line at the detector's limit (4 mm at 2 %) adds to the
    region: in a 4 cm2 crow's-feet region about 0.4 of a point, where a region with lines
    keeps its relative floor."""
    empty = _floor("wrinkles.severity", 0.02, 0.0, 1.0, 4.0)
    assert empty == pytest.approx(float(severity(SMALLEST_LINE_LOAD / 4.0)), rel=0.05)
    assert 0.3 < empty < 0.5
    assert _floor("wrinkles.severity", 0.02, 0.0, 1.0, 30.0) < empty  # spread over more skin
    lined = severity_index_of(30.0)
    expected = float(severity(lined * (1 + SEVERITY_INDEX_MDC_FLOOR))) - 30.0
    assert _floor("wrinkles.severity", 30.0, 29.0, 1.0, 4.0) == pytest.approx(expected)


def test_a_split_face_difference_has_its_own_noise_floor():
    """The difference's noise floor comes from treated less control in each measurement:
    what moves both sides together (a perturbation's white balance) cancels there, as in the
    difference itself, while each side's own noise floor is full of it."""
    metric = "pigmentation.melanin_mean"
    still = {m: MetricChange(1.0, 1.0, 0.1, BETTER[m]) for m in METRICS}
    changes = {
        "cheek_left": {**still, metric: MetricChange(40.0, 42.0, 9.0, 0)},
        "cheek_right": {**still, metric: MetricChange(41.0, 41.2, 9.0, 0)},
    }
    whole_face = (0.0, 4.0, -3.0, 2.5)  # each measurement's light moves both cheeks alike
    runs = [
        [
            {
                "cheek_left": {**{m: 1.0 for m in METRICS}, metric: left + shift + wobble},
                "cheek_right": {**{m: 1.0 for m in METRICS}, metric: right + shift},
            }
            for shift, wobble in zip(whole_face, (0.0, 0.1, -0.1, 0.05), strict=True)
        ]
        for left, right in ((40.0, 41.0), (42.0, 41.2))
    ]
    t = 2.447  # t(0.975, 6)
    pair = _split_face(changes, "left", runs, t, pixel=1.0)["cheek"][metric]
    assert pair["difference"] == pytest.approx(1.8)
    wobble = float(np.var((0.0, 0.1, -0.1, 0.05), ddof=1))
    floor = float(np.hypot(0.02 * 42.0, 0.02 * 41.2))  # the two sides' 2 % floors
    assert pair["mdc"] == pytest.approx(max(t * np.sqrt(2 * wobble), floor), rel=1e-3)
    assert pair["significant"]  # 1.8 against each side's 9


def test_a_tone_one_cheek_gained_is_called_split_face(finder):
    """A diffuse 25 mm patch of melanin (0.06 OD) on Tillerson's right cheek, in a re-take
    brighter and warmer: each cheek's own noise floor for the melanin index and ITA is full of
    the white balance's uncertainty and does not call it, but the treated less control
    difference, whose floor comes from that difference, does; the other pairs of regions
    stay unchanged."""
    rgb, scene = _tillerson_patches(finder, ("cheek_right",), diameter_mm=25.0, contrast=0.06)
    after = apply_nuisance(render_face(rgb, scene).image, BRIGHTER_WARMER)[0]
    c = compare(rgb, after, finder=finder, treated_side="right")
    for metric in ("pigmentation.melanin_mean", "pigmentation.ita_deg"):
        assert not c.changes["cheek_right"][metric].significant
        assert c.split_face["cheek"][metric]["significant"], c.split_face["cheek"][metric]
        for pair in ("under_eye", "crows_feet", "nasolabial", "marionette"):
            assert not c.split_face[pair][metric]["significant"], (pair, metric)
    assert c.split_face["cheek"]["pigmentation.melanin_mean"]["difference"] > 0
    assert c.split_face["cheek"]["pigmentation.ita_deg"]["difference"] < 0  # darker: lower


def test_obama_pair_compares(finder):
    """Lips closed in 2010, a broad smile in 2012: the pair is compared, and the comparison
    says that the smile's regions may read the expression (``analysis.expression``). The 2010
    photo is also the softer one (its brows and lashes, looked at side by side)."""
    c = compare(
        face_path("pd_obama_2010_blueroom"), face_path("pd_obama_2012_official"), finder=finder
    )
    assert c.registration.residual_mm < 1.5
    d = c.to_dict()
    assert d["quality"]["ok"] is False
    # and that the 2010 photo is the softer (the 2012 one was softened to match it)
    codes = [i["code"] for i in d["quality"]["issues"]]
    assert codes == ["expression_changed", "focus_differs", "light_matched_on_skin"]
    assert d["photometric"]["focus_softened"] == "after"
    assert d["quality"]["issues"][1]["message"].startswith("The before photo is less sharp")
    assert {"nasolabial_left", "nasolabial_right", "cheek_left"} <= set(d["expression"]["regions"])
    assert "forehead" not in d["expression"]["regions"]
    assert d["expression"]["change"]["smile"] > 0.5
    assert d["before"]["face"]["expression"]["smile"] < 0.3
    # the overlay marks the smile's regions and says why under the change panel only
    from analysis.overlay import draw_comparison

    marked, plain = draw_comparison(c), draw_comparison(replace(c, expression=None))
    width = c.regions.skin.shape[1]
    assert (marked[:, : 2 * width] == plain[:, : 2 * width]).all()
    assert (marked[-30:, 2 * width :] != plain[-30:, 2 * width :]).any()
    assert (marked[:-30, 2 * width :] != plain[:-30, 2 * width :]).any()  # "expr" labels


@pytest.mark.parametrize(
    ("stem", "seed"), [("pd_rex_tillerson_official", 0), ("pd_biden_2021_presidential", 1)]
)
def test_fading_forehead_lines_are_a_significant_improvement_and_nothing_else_moves(
    stem, seed, finder
):
    rgb = load_image(face_path(stem)).rgb
    face = analyze(rgb, finder=finder).face
    before, after = series_pair(rgb, face, seed)
    c = compare(before, after, finder=finder)
    sev = c.changes["forehead"]["wrinkles.severity"]
    assert sev.significant, sev
    assert sev.improved, sev
    for side in ("left", "right"):
        assert not c.changes[f"crows_feet_{side}"]["wrinkles.severity"].significant
    flagged = [
        (r, m)
        for r in c.changes
        if r not in ("forehead", "full_face", "glabella")
        for m, x in c.changes[r].items()
        if x.significant
    ]
    total = sum(
        len(c.changes[r]) for r in c.changes if r not in ("forehead", "full_face", "glabella")
    )
    assert len(flagged) / total <= 0.10, flagged


def test_nuisance_only_pair_flags_few_changes(finder):
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    face = analyze(rgb, finder=finder).face
    before, after = series_pair(rgb, face, seed=7, fade=1.0)
    c = compare(before, after, finder=finder)
    flags = [x.significant for r in c.changes.values() for x in r.values()]
    assert np.mean(flags) <= 0.08
    for region in ("forehead", "crows_feet_left", "crows_feet_right"):
        assert not c.changes[region]["wrinkles.severity"].significant
    quality = c.to_dict()["quality"]
    assert quality == {"ok": True, "issues": []}
    assert c.expression is not None
    assert c.expression.regions == ()


def test_severity_falls_with_the_depth_the_glabellar_lines_lose(finder):
    """The same baseline and follow-up photo (same framing, light and JPEG), the two frown
    lines kept, or faded to a half or a quarter of their depth: the severity change follows
    the depth (the lines are read at the same pixels in both photos)."""
    rgb = load_image(face_path("pd_biden_2021_presidential")).rgb
    face = analyze(rgb, finder=finder).face
    pairs = [series_pair(rgb, face, 0, fade=f, site="glabella") for f in (1.0, 0.5, 0.25)]
    before = pairs[0][0]
    assert all(np.array_equal(before, b) for b, _ in pairs)
    series = track(before, [a for _, a in pairs], finder=finder)
    glabella = [c.changes["glabella"]["wrinkles.severity"] for c in series.followups]
    kept, half, quarter = glabella
    assert not kept.significant, kept
    assert kept.delta > half.delta > quarter.delta
    assert quarter.significant, quarter
    assert quarter.improved, quarter


def test_severity_change_ranks_the_dose_across_retakes(finder):
    """A dose-response series (``benchmarks.change --doses``): forehead lines faded to 1, a
    half, a quarter and nothing of their depth, every photo with its own light, white balance,
    framing and JPEG quality. The forehead's severity falls in the order of the doses, the
    unfaded follow-up reads no change, and the crow's feet, whose lines stay, read none."""
    rgb = load_image(face_path("pd_biden_2021_presidential")).rgb
    face = analyze(rgb, finder=finder).face
    before, afters = dose_series(rgb, face, 2, (1.0, 0.5, 0.25, 0.0))
    followups = track(before, afters, finder=finder).followups
    comparisons = [c for c in followups if isinstance(c, Comparison)]
    assert len(comparisons) == len(afters), followups
    forehead = [c.changes["forehead"]["wrinkles.severity"] for c in comparisons]
    deltas = [x.delta for x in forehead]
    assert deltas == sorted(deltas, reverse=True), deltas
    assert not forehead[0].significant, forehead[0]
    assert all(x.significant and x.improved for x in forehead[2:]), forehead
    for c in comparisons:
        for side in ("left", "right"):
            assert not c.changes[f"crows_feet_{side}"]["wrinkles.severity"].significant


def _drawn(
    finder, scale: float = 1.0, stem: str = "pd_rex_tillerson_official"
) -> tuple[np.ndarray, Face]:
    """Tillerson's photo (or ``stem``'s) with the change benchmark's lines (glabella series,
    seed 0), resized by ``scale`` (0.4: 2.6 px/mm, a coarse photo), and its face."""
    rgb = load_image(face_path(stem)).rgb
    face = analyze(rgb, finder=finder).face
    lines = [x for s in drawn_sites("glabella") for x in LINES[s](face, np.random.default_rng(0))]
    drawn = render_lines(rgb, lines, mm_per_px=face.mm_per_px).image
    if scale != 1.0:
        drawn = cv2.resize(drawn, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        face = analyze(drawn, finder=finder).face
    return drawn, face


def _retaken(drawn: np.ndarray, face: Face, **kw: object) -> np.ndarray:
    n = Nuisance(jpeg_quality=95, **kw)  # type: ignore[arg-type]
    return apply_nuisance(drawn, n, points=face.points, mm_per_px=face.mm_per_px)[0]


RETAKES = [{"scale": 0.95}, {"scale": 1.05}, {"angle_deg": 3.0}]


@pytest.mark.parametrize("retake", RETAKES, ids=["smaller", "larger", "turned"])
def test_a_retake_s_resampling_moves_roughness_together_and_severity_little(finder, retake):
    """The same drawn face photographed again at the protocol's extremes of scale or angle,
    nothing else changed. The re-sampling softens or sharpens the whole photo a little (a
    smaller face reads sharper, a larger or turned one softer). Texture roughness, a measure
    of fine detail, moves in every region together by a few percent, which the pair's small
    re-framings do not sample: the reason for ``ROUGHNESS_MDC_FLOOR``. Severity's change is
    read at the broad scale, which such a blur barely moves (at each line's best scale it
    moved 3-4 %, and the regions were called changed in turn)."""
    drawn, face = _drawn(finder)
    c = compare(_retaken(drawn, face), _retaken(drawn, face, **retake), finder=finder)
    relatives = {}
    for metric, largest_shift, most_flagged in (
        ("wrinkles.severity", SEVERITY_INDEX_MDC_FLOOR / 2, 1),
        ("texture.roughness", 1.5 * ROUGHNESS_MDC_FLOOR, 1),
    ):
        changes = [x[metric] for r, x in c.changes.items() if r != "full_face"]
        # severity's floor is on its index (the line load): the shift is read there
        read = severity_index_of if metric == "wrinkles.severity" else float
        relatives[metric] = np.array(
            [read(x.after) / read(x.before) - 1.0 for x in changes if x.before > 0]
        )
        shift = float(np.median(relatives[metric]))
        assert abs(shift) < largest_shift, (metric, shift)
        assert sum(x.significant for x in changes) <= most_flagged, (metric, changes)
    # roughness moves, and in most regions the same way (by 0.9-2.0 %; 2.3-2.5 % with focus
    # matching off: the re-take's blur is mostly under what ``focus_blur`` resolves)
    relative = relatives["texture.roughness"]
    shift = float(np.median(relative))
    assert abs(shift) > 0.005
    assert np.mean(np.sign(relative) == np.sign(shift)) >= 0.7, relative


def test_a_coarse_photo_s_retake_is_not_called_a_change_in_severity(finder):
    """At 2.6 px/mm a line is about as wide as one interpolation's blur, and a re-take moves
    severity by several percent even at the broad scale: its floor grows with the coarser
    photo's pixel: the change of its index by ``SEVERITY_INDEX_MDC_FLOOR`` per canonical
    pixel."""
    drawn, face = _drawn(finder, scale=0.4)
    c = compare(_retaken(drawn, face), _retaken(drawn, face, scale=0.95), finder=finder)
    pixel = c.before.canonical.source_mm_per_px / c.before.canonical.mm_per_px
    assert pixel > 1.8
    changes = [x["wrinkles.severity"] for r, x in c.changes.items() if r != "full_face"]
    for x in changes:
        larger = max(x.before, x.after)
        floor = severity(severity_index_of(larger) * (1.0 + SEVERITY_INDEX_MDC_FLOOR * pixel))
        assert x.mdc >= (float(floor) - larger) * 0.999, x
    assert sum(x.significant for x in changes) <= 1, changes
    # so do the floors of the mean line width, the melanin spread and the red area
    for metric, share in PIXEL_FLOORS.items():
        for x in (changes_of[metric] for changes_of in c.changes.values()):
            assert x.mdc >= share * pixel * max(x.before, x.after) * 0.999, (metric, x)


@pytest.mark.parametrize(("wider", "called"), [(1.0, False), (1.6, True)])
def test_wider_forehead_lines_are_a_significant_rise_of_mean_width(finder, wider, called):
    """Tillerson's four synthetic forehead lines (0.40-0.51 mm wide, 14-16 % deep) drawn again
    1.6 times as wide, at the same depth, in a re-take (brighter, warmer, re-compressed): the
    forehead's mean line width rises by more than its noise floor (``PIXEL_FLOORS``: 5 % on
    this 6.6 px/mm photo), though the forehead's real lines, as they were, share the mean; the
    same lines re-taken as they were do not."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    face = analyze(rgb, finder=finder).face
    lines = LINES["forehead"](face, np.random.default_rng(0))
    widened = [replace(x, width_mm=x.width_mm * wider) for x in lines]
    before = render_lines(rgb, lines, mm_per_px=face.mm_per_px).image
    widened_photo = render_lines(rgb, widened, mm_per_px=face.mm_per_px).image
    after = apply_nuisance(widened_photo, BRIGHTER_WARMER)[0]
    width = compare(before, after, finder=finder).changes["forehead"]["wrinkles.mean_width_mm"]
    assert width.mdc >= PIXEL_FLOORS["wrinkles.mean_width_mm"] * width.after * 0.999
    assert width.significant is called, width
    if called:
        assert width.direction == "increased", width


def _focused(rgb: np.ndarray, face: Face, mm: float, *, keep_eyes_and_brows: bool = False) -> bytes:
    """``rgb`` blurred by a Gaussian of ``mm`` at the face, saved at JPEG quality 92; with
    ``keep_eyes_and_brows``, only the skin is blurred (the eyes' and brows' outlines left as
    they were, the skin around them blurred too)."""
    blurred = cv2.GaussianBlur(rgb, (0, 0), mm / face.mm_per_px) if mm else rgb.copy()
    if keep_eyes_and_brows:
        h, w = rgb.shape[:2]
        keep = np.zeros((h, w), np.uint8)
        p = face.points.astype(np.int32)
        for eye in (lm.RIGHT_EYE, lm.LEFT_EYE):
            cv2.fillPoly(keep, [p[list(eye)]], 1)
        for upper, lower in (
            (lm.RIGHT_BROW_UPPER, lm.RIGHT_BROW_LOWER),
            (lm.LEFT_BROW_UPPER, lm.LEFT_BROW_LOWER),
        ):
            cv2.fillPoly(keep, [np.vstack([p[list(upper)], p[list(lower)][::-1]])], 1)
        blurred[keep > 0] = rgb[keep > 0]
    ok, buf = cv2.imencode(".jpg", blurred[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def _flagged(c: Comparison) -> list[tuple[str, str, bool | None]]:
    return [
        (region, metric, x.improved)
        for region, metrics in c.changes.items()
        for metric, x in metrics.items()
        if x.significant
    ]


def _hairs(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Procedural skin with a band of fine dark hairs (lashes, brow hairs) across its middle,
    and that band's mask: the stuff ``focus_blur`` reads."""
    rng = np.random.default_rng(seed)
    rgb = procedural_skin((160, 240), mm_per_px=0.2, rng=rng)
    mask = np.zeros(rgb.shape[:2], bool)
    mask[50:110, 20:220] = True
    for _ in range(60):
        x, y = rng.uniform(25, 215), rng.uniform(55, 100)
        dx, dy = rng.normal(0, 3), rng.uniform(4, 9)
        cv2.line(rgb, (int(x), int(y)), (int(x + dx), int(y + dy)), (70, 50, 40), 1, cv2.LINE_AA)
    return rgb, mask


@pytest.mark.parametrize("sigma", [0.6, 1.0, 1.5])
def test_focus_blur_reads_the_gaussian_that_softened_a_photo(sigma):
    """Either way round, the sharper photo gets the Gaussian the other was softened by; in a
    coarse pair (one photo pixel spanning two canonical ones) the steps are that pixel's."""
    rgb, mask = _hairs()
    soft = cv2.GaussianBlur(rgb, (0, 0), sigma)
    assert focus_blur(rgb, soft, mask) == pytest.approx((sigma, 0.0), abs=0.15)
    assert focus_blur(soft, rgb, mask) == pytest.approx((0.0, sigma), abs=0.15)
    coarse = cv2.GaussianBlur(rgb, (0, 0), 2.0)
    softer = cv2.GaussianBlur(coarse, (0, 0), 2 * sigma)
    assert focus_blur(coarse, softer, mask, pixel=2.0) == pytest.approx((2 * sigma, 0), abs=0.3)


def test_focus_blur_ignores_light_and_the_skin_around_its_reference():
    """Brighter and warmer light, or skin smoothed all around the hairs (a treatment), leave
    the focus read as it was: within the no-op blurs of a third of a pixel."""
    rgb, mask = _hairs()
    warmer = _with_gains(rgb, np.array([1.2, 1.1, 1.0]))
    smoothed = cv2.GaussianBlur(rgb, (0, 0), 1.5)
    smoothed[45:115, 15:225] = rgb[45:115, 15:225]  # the band and the fine band's reach
    for after in (warmer, smoothed):
        assert max(focus_blur(rgb, after, mask)) <= 0.35


@pytest.mark.parametrize("mm", [0.0, 0.1, 0.2, 0.3])
def test_a_follow_up_out_of_focus_is_not_read_as_a_change(finder, monkeypatch, mm):
    """Tillerson's photo against itself out of focus (a Gaussian of ``mm`` at the face: 0.65,
    1.3 and 2 of his photo's pixels; 0: only re-saved). Every line reads wider and shallower
    and the skin smoother. Read as it is (focus matching off), 0.2 mm flags 60 of his 285
    region-metrics, three in four "improved": a treatment effect out of a camera. The sharper
    photo is blurred to the softer one's focus, read on the eyes and brows, and nothing but a
    stray metric or two is flagged; a difference of 0.15 mm or more is warned about."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    before = analyze(rgb, finder=finder)
    after = _focused(rgb, before.face, mm)
    c = compare(before, after, finder=finder)
    # (a photo only re-saved reads up to 0.3 canonical px, 0.06 mm: such a blur is all but
    # the identity on pixels)
    assert c.photometric["focus_blur_mm"] == pytest.approx(mm, abs=0.03 if mm else 0.06)
    assert len(_flagged(c)) <= 2, _flagged(c)
    codes = [i["code"] for i in c.to_dict()["quality"]["issues"]]
    if mm >= 0.2:
        assert c.photometric["focus_softened"] == "before"
        assert codes == ["focus_differs"]
        assert "after photo is less sharp" in c.issues[0]["message"]
    else:
        assert codes == []
    if mm == 0.2:  # the overlay's before panel says it was softened, in its title only
        from analysis.overlay import draw_comparison

        unsaid = replace(c, photometric={**c.photometric, "focus_blur_mm": 0.0})
        titled, plain, w = draw_comparison(c), draw_comparison(unsaid), c.regions.skin.shape[1]
        assert (titled[:34, :w] != plain[:34, :w]).any()
        assert (titled[:34, w:] == plain[:34, w:]).all()
        assert (titled[34:] == plain[34:]).all()

        monkeypatch.setattr(COMPARE_MODULE, "FOCUS_MAX_PX", 0.0)
        unmatched = _flagged(compare(before, after, finder=finder))
        assert len(unmatched) >= 40, unmatched
        assert np.mean([improved is True for *_, improved in unmatched]) >= 0.6, unmatched


def test_skin_a_treatment_smoothed_reads_smoother_though_focus_is_matched(finder, monkeypatch):
    """A resurfacing treatment smooths the skin and leaves the eyes and brows as they were:
    Tillerson's photo with everything but them blurred by 0.2 mm, the skin around the eyes
    included. The focus read on the eyes and brows hardly moves (what a re-saved photo reads), so
    the smoothing is kept: the face's texture roughness falls as far as with focus matching
    off."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    before = analyze(rgb, finder=finder)
    after = _focused(rgb, before.face, 0.2, keep_eyes_and_brows=True)
    c = compare(before, after, finder=finder)
    assert c.photometric["focus_blur_mm"] <= 0.08
    assert [i["code"] for i in c.issues] == []
    monkeypatch.setattr(COMPARE_MODULE, "FOCUS_MAX_PX", 0.0)
    unmatched = compare(before, after, finder=finder)
    rough, rough_unmatched = (x.changes["full_face"]["texture.roughness"] for x in (c, unmatched))
    assert rough.significant, rough
    assert rough.improved, rough
    assert rough_unmatched.delta < -0.1 * rough_unmatched.before, rough_unmatched
    assert rough.delta / rough_unmatched.delta > 0.9, (rough, rough_unmatched)


def test_a_brighter_follow_up_whose_red_clips_is_not_called_a_change(finder):
    """Biden's forehead is bright (red at 240-250): 12 % more light clips its red channel,
    which then shows flat skin where the lines were darker. Harmonised, the follow-up's lines
    read shallower, and his untouched forehead read as improved (-2.2 against an MDC of 2.0)
    until both photos were cut at the follow-up's clipping level (``_ceiling``)."""
    drawn, face = _drawn(finder, stem="pd_biden_2021_presidential")
    c = compare(_retaken(drawn, face), _retaken(drawn, face, exposure=1.12), finder=finder)
    ceiling = c.photometric["ceiling"]
    assert ceiling[0] is not None, ceiling  # red, cut where it clipped
    assert ceiling[0] < 0.9, ceiling
    forehead = c.changes["forehead"]["wrinkles.severity"]
    assert abs(forehead.delta) < 1.0, forehead
    flagged = [r for r, x in c.changes.items() if x["wrinkles.severity"].significant]
    assert not flagged, flagged


def test_the_ceiling_cuts_only_a_clipped_channel_the_follow_up_brightens():
    skin = np.ones((4, 4), bool)
    after = np.full((4, 4, 3), 200, np.uint8)
    after[0, 0] = (255, 255, 180)  # red and green clipped on one pixel; blue not
    gains = np.array([0.9, 1.1, 0.9])  # the follow-up is brighter in red and blue
    ceiling = _ceiling(after, skin, gains)
    assert ceiling[0] < 0.9
    assert np.isinf(ceiling[1:]).all()
    np.testing.assert_array_equal(_ceiling(after, ~skin, gains), np.full(3, np.inf))
    # the cut is on the scene's light: a re-take's change of light scales what was cut
    rgb = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    cut = _with_gains(rgb, np.ones(3), ceiling)
    assert cut[..., 0].max() < 250
    assert cut[..., 1].max() == 255
    brighter = _with_gains(rgb, np.ones(3), ceiling, np.full(3, 1.06))
    assert brighter[..., 0].max() > cut[..., 0].max()
    assert len(np.unique(brighter[..., 0][cut[..., 0] == cut[..., 0].max()])) == 1
    # without a cut, gains and light are one product, as before
    light = np.array([1.06, 1.0, 0.97])
    np.testing.assert_array_equal(
        _with_gains(rgb, gains, np.full(3, np.inf), light), _with_gains(rgb, gains * light)
    )


@pytest.mark.parametrize("p", PERTURBATIONS)
def test_a_perturbed_measurement_reads_each_line_where_its_reframing_moved_it(p):
    shape = (1150, 850)
    sx, sy = _reframing(p, shape)
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(60, 1090, 200), rng.integers(60, 790, 200)
    y, x = _seen_at(p, shape, ys, xs)
    assert np.abs(sx[y, x] - xs).max() <= 0.75
    assert np.abs(sy[y, x] - ys).max() <= 0.75
    assert _seen_at(None, shape, ys, xs) == (ys, xs)


@pytest.mark.parametrize("p", PERTURBATIONS)
def test_a_reframed_image_s_skin_moves_with_its_pixels(p):
    shape = (1150, 850)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    skin = (yy - 600) ** 2 / 400**2 + (xx - 420) ** 2 / 300**2 < 1.0
    seen = _skin_seen(skin, p)
    # away from the outline by more than the nearest-pixel rounding, each grid pixel's skin
    # (or not) is where the re-framed image shows it
    inner = cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    outer = cv2.erode((~skin).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for where, value in ((inner, True), (outer, False)):
        ys, xs = np.nonzero(where)
        y, x = _seen_at(p, shape, ys, xs)
        assert np.all(seen[y, x] == value)
    assert seen.sum() == pytest.approx(skin.sum(), rel=0.03)


def test_an_under_eye_fade_beside_lined_lids_is_found_and_a_retake_is_not(finder):
    """Baker's under-eye skin runs up to lined lids and lashes. Normalised over the pair's
    fixed skin, a perturbation's 1.5-degree turn slid them across the skin mask and read the
    region's severity 18 % lower in both photos, so its noise floor (7.2) hid a fade of 4.9;
    normalised over the skin each re-framed image shows, it does not."""
    rgb = load_image(face_path("pd_james_baker")).rgb
    face = analyze(rgb, finder=finder).face
    faded = compare(*series_pair(rgb, face, 0, site="under_eye"), finder=finder)
    sev = faded.changes["under_eye_left"]["wrinkles.severity"]
    assert sev.significant, sev
    assert sev.improved, sev
    assert sev.mdc < 0.5 * abs(sev.delta), sev
    for region in ("forehead", "crows_feet_left", "crows_feet_right"):
        assert not faded.changes[region]["wrinkles.severity"].significant, region
    retake = compare(*series_pair(rgb, face, 1000, site="under_eye", fade=1.0), finder=finder)
    for side in ("left", "right"):
        assert not retake.changes[f"under_eye_{side}"]["wrinkles.severity"].significant, side


def test_follow_up_is_sampled_once_so_a_moved_photo_reads_the_same(finder):
    """The same pixels, framed a few pixels lower and further left: the registered follow-up
    must read the same line length. Warping it to the canonical frame and then again onto the
    before face (two bilinear interpolations) smoothed it and lost about 12 % of the whole
    face's length, for every shift.

    A single region is not held to that: on this face the registered follow-up differs from
    the before image by 0.7 grey levels (a 0.16 px different sampling), yet the stubbled chin
    reads 5 % shorter and the left cheek 5 % longer, for most shifts alike (8 shifts: chin
    -5.5 +- 1.1 %, cheek_left +4.7 +- 0.5 %, full face +1.1 +- 0.4 %). Near-threshold texture
    makes a region's length depend on the sampling phase; the noise floor covers it, so no
    region may read significant."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    whole: list[float] = []
    for dy, dx in ((3, 2), (1, 1), (4, 0)):
        c = compare(rgb, np.ascontiguousarray(rgb[dy:, dx:]), finder=finder)
        x = c.changes["full_face"]["wrinkles.length_mm"]
        whole.append(x.delta / x.before)
        for region in ("forehead", "chin", "upper_lip", "cheek_left", "full_face"):
            assert not c.changes[region]["wrinkles.length_mm"].significant, region
        flags = [x.significant for r in c.changes.values() for x in r.values()]
        assert np.mean(flags) <= 0.02
    assert abs(np.mean(whole)) <= 0.03, whole


@pytest.mark.parametrize(
    ("angle", "dy", "dx"), [(0.0, 3, 2), (0.0, 1, 4), (1.5, 2.7, -3.3), (-1.8, -4.4, 5.1)]
)
def test_reframed_photo_registers_within_a_fraction_of_a_pixel(finder, angle, dy, dx):
    """Ground truth: the follow-up is the same photo re-framed (cropped by (dy, dx) px, or
    turned by ``angle`` degrees and shifted), so the true map from the before face's canonical
    frame to the follow-up's is known through the two canonical transforms. The landmark mesh
    alone leaves 1-3 px in places (the detector finds slightly different points on the
    re-framed photo); the dense refinement, down to the canonical pixel, must bring every
    region within a tenth of a pixel (median; 0.03-0.06 measured) and nearly all of it within
    0.8 px (95th percentile; 0.33-0.66). With the flow at half resolution, until 2026-12-01,
    the medians were 0.18-0.25 px and the 95th percentiles 0.74-1.17: a line then sat beside
    itself in the difference of the two photos, and read as changed."""
    from analysis.compare import register
    from analysis.pipeline import prepare
    from analysis.regions import ANATOMICAL_REGIONS
    from datasets.synthetic import affine_jitter

    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    if angle:
        moved, m = affine_jitter(rgb, angle_deg=angle, scale=1.0, shift_px=(-dx, -dy))
    else:
        moved, m = np.ascontiguousarray(rgb[dy:, dx:]), np.array([[1, 0, -dx], [0, 1, -dy]])
    a = prepare(rgb, finder=finder)
    b = prepare(moved, finder=finder)
    _, _, map_x, map_y = register(a, b, finder)
    h, w = a.canonical.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    to_photo, to_b = a.canonical.to_photo, b.canonical.to_canonical
    px = to_photo[0, 0] * xx + to_photo[0, 1] * yy + to_photo[0, 2]
    py = to_photo[1, 0] * xx + to_photo[1, 1] * yy + to_photo[1, 2]
    qx, qy = m[0, 0] * px + m[0, 1] * py + m[0, 2], m[1, 0] * px + m[1, 1] * py + m[1, 2]
    true_x = to_b[0, 0] * qx + to_b[0, 1] * qy + to_b[0, 2]
    true_y = to_b[1, 0] * qx + to_b[1, 1] * qy + to_b[1, 2]
    error = np.hypot(map_x - true_x, map_y - true_y)
    for i, region in enumerate(ANATOMICAL_REGIONS, 1):
        inside = a.regions.labels == i
        if inside.any():
            assert np.median(error[inside]) < 0.1, region
            assert np.percentile(error[inside], 95) < 0.8, region


def test_residual_reads_alignment_not_the_landmark_detector(finder):
    """The same photo compared with itself is aligned exactly: its residual is 0, although the
    landmark detector finds points 4-5 px away from the photo's own on its canonical image. A
    few pixels of re-framing leave the mesh 1-3 px off in places, and the residual says so."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    same = compare(rgb, rgb, finder=finder).registration
    assert same.residual_px < 0.1
    moved = compare(rgb, np.ascontiguousarray(rgb[3:, 2:]), finder=finder).registration
    assert 0.5 < moved.residual_px < 4.0


def test_turned_face_is_refused_naming_the_photo(finder):
    with pytest.raises(AnalysisError) as info:
        compare(
            face_path("pd_biden_2021_presidential"),
            face_path("pd_eduard_shevardnadze_dod"),
            finder=finder,
        )
    assert info.value.code == "registration_failed"
    assert info.value.photo == "after"
    assert info.value.to_dict()["error"]["photo"] == "after"


def test_unmeasurable_photo_is_named(tmp_path: Path, finder):
    from PIL import Image
    from skimage import data

    coffee = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    with pytest.raises(AnalysisError) as info:
        compare(face_path("pd_biden_2021_presidential"), coffee, finder=finder)
    assert (info.value.code, info.value.photo) == ("no_face", "after")


def test_cli_compare_writes_json_and_overlay(tmp_path: Path, capsys):
    out = tmp_path / "cmp.json"
    overlay = tmp_path / "cmp.png"
    before, after = face_path("pd_biden_2013_vp"), face_path("pd_biden_2021_presidential")
    assert (
        main(["compare", str(before), str(after), "--json", str(out), "--overlay", str(overlay)])
        == 0
    )
    assert json.loads(out.read_text())["registration"]["residual_mm"] < 1.5
    assert overlay.stat().st_size > 10_000
    assert main(["compare", str(before), str(after), "--treated-side", "middle"]) == 2


def test_cli_compare_error_names_photo(tmp_path: Path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"not a photo")
    code = main(["compare", str(face_path("pd_biden_2013_vp")), str(bad), "--json", "-"])
    assert code == 3
    body = json.loads(capsys.readouterr().out)
    assert body["error"] == {
        "code": "unsupported_format",
        "message": body["error"]["message"],
        "photo": "after",
    }


def test_track_keeps_going_past_a_failed_followup(tmp_path: Path, capsys, finder):
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    base, good = face_path("pd_biden_2013_vp"), face_path("pd_biden_2021_presidential")
    result = track(base, [bad, good], finder=finder)
    d = result.to_dict()
    assert d["followups"][0]["error"]["code"] == "unreadable_image"
    assert "regions" in d["followups"][1]
    csv_path = tmp_path / "series.csv"
    assert (
        main(["track", str(base), str(bad), str(good), "--json", "-", "--csv", str(csv_path)]) == 0
    )
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("followup,file,region,metric")
    assert rows[0].endswith(",error,expression_changed,focus_blur_mm")
    assert len(rows) == 1 + 1 + len(REGIONS) * len(METRICS)
    assert rows[1].endswith(",unreadable_image,,")
    assert {r.split(",")[-2] for r in rows[2:]} == {"False"}  # smiling in both photos
    focus = d["followups"][1]["photometric"]["focus_blur_mm"]  # 0.16: the 2021 one softened
    assert {float(r.split(",")[-1]) for r in rows[2:]} == {focus}
    capsys.readouterr()
    assert main(["track", str(base), str(bad)]) == 3


def test_track_measures_its_baseline_once_and_matches_separate_comparisons(
    tmp_path: Path, monkeypatch, finder
):
    """A series re-uses the baseline's measurements (the photo and its perturbations) for every
    follow-up that sees the same skin, and only then: each follow-up reads exactly what
    ``compare`` of that pair reads."""
    compare_module = COMPARE_MODULE
    base = analyze(face_path("pd_biden_2013_vp"), finder=finder)
    good = face_path("pd_biden_2021_presidential")
    rgb = load_image(good).rgb
    cropped = tmp_path / "cropped.png"  # the edge of the face's left side (image right) cut off
    cv2.imwrite(str(cropped), rgb[:, : int(rgb.shape[1] * 0.7), ::-1])
    followups = [good, good, cropped]
    separate = [compare(base, f, finder=finder).to_dict() for f in followups]

    calls = []
    measure = compare_module.measure_canonical
    monkeypatch.setattr(
        compare_module, "measure_canonical", lambda *a, **k: calls.append(1) or measure(*a, **k)
    )
    series = track(base, followups, finder=finder)
    assert [c.to_dict() for c in series.followups] == separate
    # 8 measurements, then 4 (the baseline's are known), then 8 (less skin seen in both)
    assert len(calls) == 8 + 4 + 8
    assert separate[2]["regions"] != separate[0]["regions"]


def test_skin_the_follow_up_photo_covers_is_compared_beyond_its_own_canonical_frame(finder):
    """Both photos squeezed sideways (as a stretched export would): part of the before face's
    skin then maps outside the after face's canonical frame, although the after photo covers
    it. Until 2026-11-29 that skin (2 % of the face) was dropped from the pair."""
    import cv2

    def squeezed(stem: str) -> np.ndarray:
        rgb = load_image(face_path(stem)).rgb
        return np.ascontiguousarray(cv2.resize(rgb, (1200, 1600), interpolation=cv2.INTER_AREA))

    c = compare(squeezed("pd_biden_2013_vp"), squeezed("pd_biden_2021_presidential"), finder=finder)
    assert int(c.regions.skin.sum()) == int(c.before.regions.skin.sum())


def test_region_labels_on_the_change_panel_read_as_a_clinician_writes_them():
    from analysis.overlay import signed_whole

    assert [signed_whole(v) for v in (-0.4, 0.0, 0.49, 0.5, -6.6, 12.2)] == [
        "0",
        "0",
        "0",
        "0",
        "-7",
        "+12",
    ]


def _spotted(finder, fade: float) -> tuple[np.ndarray, np.ndarray]:
    """Tillerson's photo with a 5 mm sun spot (0.35 OD) on each cheek, and a re-take of it
    (brighter, warmer, re-compressed) in which the spot on his right cheek has faded by
    ``fade`` (``datasets.faces.fade_scene``: its contrast and area times ``fade``)."""
    sites = ("cheek_right", "cheek_left")
    rgb, scene = _tillerson_patches(finder, sites, diameter_mm=5.0, contrast=0.35)
    assert [s.site for s in scene.spots] == list(sites)
    faded = fade_scene(scene, Fade(spots={"cheek_right": fade}))
    after = apply_nuisance(render_face(rgb, faded).image, BRIGHTER_WARMER)[0]
    return render_face(rgb, scene).image, after


def _tillerson_patches(
    finder, sites: tuple[str, ...], *, diameter_mm: float, contrast: float
) -> tuple[np.ndarray, FaceScene]:
    """Tillerson's photo and a scene of one round patch of melanin on each of ``sites``
    (``face_spots``, seed 3): a sun spot, or a diffuse patch of tone."""
    rgb = load_image(face_path("pd_rex_tillerson_official")).rgb
    face = analyze(rgb, finder=finder).face
    points = face.points.astype(np.float64)
    spots = face_spots(
        points,
        mm_per_px=face.mm_per_px,
        rng=np.random.default_rng(3),
        sites=sites,
        spots_per_site={site: (1, 1) for site in sites},
        diameter_mm=(diameter_mm, diameter_mm),
        contrast=(contrast, contrast),
    )
    return rgb, FaceScene(points, face.mm_per_px, (), spots, (), seed=4)


def test_a_fading_sun_spot_is_an_improvement_and_the_other_cheek_s_spot_is_unchanged(finder):
    c = compare(*_spotted(finder, 0.3), finder=finder)
    for metric in ("pigmentation.spot_area_pct", "pigmentation.spot_contrast"):
        faded, kept = c.changes["cheek_right"][metric], c.changes["cheek_left"][metric]
        assert faded.significant, (metric, faded)
        assert faded.improved, (metric, faded)
        assert not kept.significant, (metric, kept)
    area = c.changes["cheek_right"]["pigmentation.spot_area_pct"]
    assert area.after < 0.5 * area.before, area
    # less than half of the faded spot still counts: one spot fewer; none on the other cheek
    assert c.changes["cheek_right"]["pigmentation.spot_count"].delta == -1
    assert c.changes["cheek_left"]["pigmentation.spot_count"].delta == 0
    # the change panel's spot map: the faded spot lighter, the other as it was
    right, left = (
        (c.regions.labels == REGIONS.index(f"cheek_{side}") + 1) & c.spots
        for side in ("right", "left")
    )
    assert c.spot_change[right].mean() < -0.15
    assert abs(c.spot_change[left].mean()) < 0.03


def test_spot_area_falls_with_the_fade(finder):
    """The right cheek's spot fades to 80, 50 and 20 % of its contrast and area: its region's
    spot area, read on the same pixels in both photos, falls further at each step (each photo's
    own detection keeps the spot whole while its peak passes the photo's thresholds, then drops
    it whole)."""
    deltas = [
        compare(*_spotted(finder, fade), finder=finder)
        .changes["cheek_right"]["pigmentation.spot_area_pct"]
        .delta
        for fade in (0.8, 0.5, 0.2)
    ]
    assert deltas[0] < 0, deltas
    assert deltas[0] > deltas[1] > deltas[2], deltas


def _runs(spot_weight: np.ndarray, contrast: np.ndarray) -> _PhotoRuns:
    """A photo's measurements as far as its spots are concerned."""
    return _PhotoRuns(None, {}, (), (), spot_weight, (_half(contrast),))  # type: ignore[arg-type]


def _lentigo(peak: float = 0.3, sigma: float = 6.0, at: float = 40.0) -> np.ndarray:
    yy, xx = np.mgrid[0:80, 0:80]
    blob = peak * np.exp(-((yy - at) ** 2 + (xx - at) ** 2) / (2 * sigma**2))
    return blob.astype(np.float32)


def test_a_spot_one_photo_s_thresholds_drop_is_read_in_both():
    """A spot only the before photo's detection kept (``spot_weight``) is read on the same
    pixels in the after photo: with the same contrast there it reads the same area, and less
    the more its contrast falls."""
    contrast = _lentigo()
    weight = (contrast >= 0.15).astype(np.float32)  # its full width at half maximum
    areas = []
    for factor in (1.0, 0.8, 0.6, 0.4):
        after = (factor * contrast).astype(np.float32)
        spots = _spot_pixels(_runs(weight, contrast), _runs(0 * weight, after))
        (before, _), (read, _) = (_spot_read(spots, _half(c), None) for c in (contrast, after))
        assert before.sum() == pytest.approx(weight.sum())
        areas.append(read.sum() / before.sum())
    assert areas[0] == pytest.approx(1.0)
    assert areas == sorted(areas, reverse=True), areas
    assert areas[-1] < 0.05, areas
