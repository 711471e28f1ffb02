"""Helpers of the benchmarks whose numbers the docs quote."""

from __future__ import annotations

import numpy as np
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
