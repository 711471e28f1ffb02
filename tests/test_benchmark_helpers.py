"""Helpers of the benchmarks whose numbers the docs quote."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmarks.accuracy import _rho_ceiling


def test_rank_correlation_ceiling_with_untouched_regions():
    """With a quarter of the regions faded and the rest untouched (true change exactly 0), even
    a measurement exact on every fade cannot reach rho 0.95 over all regions once untouched
    regions read anything but exactly 0; rho over the fades alone can."""
    rng = np.random.default_rng(1)
    fades = -rng.uniform(0.1, 1.0, 91)
    true = np.r_[fades, np.zeros(273)]
    ceiling = _rho_ceiling(list(true))
    assert 0.72 < ceiling < 0.80
    for noise in (1e-6, 0.01, 0.05):
        exact_fades = np.r_[fades, rng.normal(0.0, noise, 273)]
        assert stats.spearmanr(true, exact_fades).statistic <= ceiling + 1e-9
    assert _rho_ceiling(list(fades)) == 1.0  # nothing untouched: no ceiling


def test_speed_benchmark_photos_are_12_mp_in_their_own_aspect_ratio():
    from benchmarks.speed import twelve_mp_size

    for width, height in ((1200, 1200), (1688, 1720), (2400, 3000)):
        w, h = twelve_mp_size(width, height)
        assert w * h == pytest.approx(12e6, rel=0.001)
        assert w / h == pytest.approx(width / height, rel=0.001)


def test_retest_summary_counts_flags_and_takes_relative_medians():
    from benchmarks.retest import Reading, summarise

    readings = [
        Reading("a", "m", before=10.0, after=11.0, mdc=2.0, significant=False),
        Reading("a", "m", before=-4.0, after=-2.0, mdc=1.0, significant=True),
        Reading("b", "m", before=0.0, after=0.0, mdc=1.0, significant=False),  # no size
    ]
    x = summarise(readings)
    assert (x.flagged, x.compared) == (1, 3)
    assert x.share == pytest.approx(1 / 3)
    assert x.median_change == pytest.approx((1 / 11 + 2 / 4) / 2)
    assert x.median_mdc == pytest.approx((2 / 11 + 1 / 4) / 2)
    empty = summarise([])
    assert (empty.share, empty.median_change, empty.median_mdc) == (0.0, None, None)


def test_retest_scores_the_harmonisation_against_the_nuisances_it_drew():
    """The gains that undo a pair's nuisances are the before photo's light over the after
    photo's, per channel; the error's rms per channel and of blue over red."""
    from benchmarks.retest import gain_error_rms, true_gains
    from datasets.faces import Nuisance

    before = Nuisance(exposure=1.1, white_balance=(1.0, 1.0, 0.95))
    after = Nuisance(exposure=0.9, white_balance=(1.05, 1.0, 1.0))
    np.testing.assert_allclose(
        true_gains(before, after), [1.1 / (0.9 * 1.05), 1.1 / 0.9, 1.1 * 0.95 / 0.9]
    )
    r, g, b, blue_red = gain_error_rms([(0.02, 0.0, 0.02), (-0.02, 0.0, 0.04)])
    assert (r, g, b) == pytest.approx((0.02, 0.0, np.sqrt((0.02**2 + 0.04**2) / 2)))
    # the first pair's blue and red err alike (a ratio kept), the second's apart
    assert blue_red == pytest.approx(np.sqrt((1.04 / 0.98 - 1) ** 2 / 2))


def test_dose_report_ranks_within_series_and_pooled(capsys):
    """``benchmarks.change --doses``: one series read in order of its doses ranks without
    error; a second, where the two middle doses swap, does not, and pooling both series keeps
    the disorder; untouched regions flagged are counted."""
    from benchmarks.change import Reading, _dose_report

    factors = (1.0, 0.5, 0.25, 0.0)

    def series(seed: int, falls: list[float]) -> list[Reading]:
        return [
            Reading("a", seed, "forehead", 1 - f, -x, -2 * x, 1.0, x > 1.0)
            for f, x in zip(factors, falls, strict=True)
        ]

    readings = series(0, [0.1, 2.0, 3.0, 4.0]) + series(1, [0.0, 3.0, 2.0, 5.0])
    untouched = {"glabella": [False] * 7 + [True], "crows_feet_left": [False] * 8}
    _dose_report(readings, untouched, ["a"], 2, "forehead", "soft", factors, ("crows_feet_left",))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| forehead |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    within_median = stats.spearmanr([0, 0.5, 0.75, 1], [0, 3, 2, 5]).statistic
    assert cells[1] == "2"
    assert float(cells[2]) == pytest.approx((1 + within_median) / 2, abs=0.005)
    assert cells[3] == "1/2"
    pooled = stats.spearmanr([0, 0.5, 0.75, 1] * 2, [0.1, 2, 3, 4, 0, 3, 2, 5]).statistic
    assert float(cells[5]) == pytest.approx(pooled, abs=0.005)
    assert "1 of 16 (6.2%)" in out
    assert "0 of 8 (0.0%)" in out
    assert "| 0.5 | 0.5 | -2.50 | 1.00 | 2/2 |" in out
