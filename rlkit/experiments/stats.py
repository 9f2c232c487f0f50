"""Statistics over seeds for reports: bootstrap confidence intervals, the interquartile mean
and the step at which a run first reached a threshold."""

from __future__ import annotations

from typing import Any

import numpy as np

N_BOOTSTRAP = 5_000


def bootstrap_ci(values: np.ndarray, statistic=np.mean, n: int = N_BOOTSTRAP,
                 seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of ``statistic`` over resampled ``values``."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float(values.mean())
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, len(values), size=(n, len(values)))]
    estimates = np.apply_along_axis(statistic, 1, draws)
    low, high = np.percentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle half, int(n / 4) values trimmed from each
    end (scipy's trim_mean, which rliable uses; with fewer than 4 seeds it is the mean)."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(values, dtype=float), 0.25))


def steps_to_threshold(rows: list[dict[str, Any]], threshold: float | None) -> int | None:
    """The first evaluated step at which the eval mean reached ``threshold``."""
    if threshold is None:
        return None
    for row in rows:
        if row.get("eval/mean_return", -np.inf) >= threshold:
            return int(row["global_step"])
    return None
