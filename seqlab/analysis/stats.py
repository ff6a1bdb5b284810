"""Seed statistics: how a group's runs vary, and whether two groups differ beyond seed noise.

The statistics come from `scipy.stats` (Welch's t interval, the bootstrap)
and return numbers; `seqlab.analysis.words` turns them into sentences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from seqlab.analysis.frames import as_curve, require_columns
from seqlab.analysis.words import mean_std_text

MIN_SEEDS = 3


def group_curves_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Returns per-group statistics of the curves, for band charts.

    Runs without a group_id are left out (a band needs several seeds).

    Args:
        curves: `curves_table(...)`.

    Returns:
        Columns group_id, group_label, epoch, split, metric, mean, std
        (sample standard deviation; NaN for a single run), min, max, n,
        majority_fraction (the mean over the group's runs of their validation
        majority-class share, the chance line; NaN when not recorded).

    Raises:
        ValueError: if `curves` lacks a needed column.
    """
    columns = ["group_id", "group_label", "epoch", "split", "metric", "mean", "std", "min", "max", "n",
               "majority_fraction"]
    require_columns(curves, ["group_id", "group_label", "epoch", "split", "metric", "value"], "curves")
    grouped_curves = curves.dropna(subset=["group_id"])
    grouped = grouped_curves.groupby(
        ["group_id", "group_label", "epoch", "split", "metric"], sort=True
    )["value"]
    table = grouped.agg(["mean", "std", "min", "max", "size"]).rename(columns={"size": "n"}).reset_index()
    if "majority_fraction" in grouped_curves:
        shares = grouped_curves.drop_duplicates("run_id" if "run_id" in grouped_curves else None)
        table["majority_fraction"] = table["group_id"].map(
            shares.groupby("group_id")["majority_fraction"].mean()).astype(float)
    else:
        table["majority_fraction"] = np.nan
    return table[columns]


def group_summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per seed group: how its runs vary.

    Args:
        summary: `run_summary_table(...)`; runs without a group_id are left
            out.

    Returns:
        Columns group_id, label (the group's label), arch, n_runs and, for
        final_val_accuracy, best_val_accuracy, test_accuracy (kept weights),
        test_accuracy_last (last epoch's), seconds_per_epoch (steady) and
        compile_seconds (the one-off cost): `<name>_mean` and `<name>_std`
        (numbers) and `<name>` (text such as "0.812 ± 0.014").

    Raises:
        ValueError: if `summary` lacks a needed column.
    """
    metrics = ("final_val_accuracy", "best_val_accuracy", "test_accuracy", "test_accuracy_last",
               "seconds_per_epoch", "compile_seconds")
    required = ("final_val_accuracy", "best_val_accuracy", "test_accuracy", "seconds_per_epoch")
    require_columns(summary, ["run_id", "group_id", "group_label", "arch", *required], "summary")
    summary = summary.assign(**{m: np.nan for m in metrics if m not in summary})
    grouped = summary.dropna(subset=["group_id"]).groupby("group_id", sort=False)
    table = grouped.agg(
        label=("group_label", "first"), arch=("arch", "first"), n_runs=("run_id", "size"),
        **{f"{m}_{stat}": (m, stat) for m in metrics for stat in ("mean", "std")},
    ).reset_index()
    for metric in metrics:
        digits = 2 if metric.endswith("seconds") or metric == "seconds_per_epoch" else 3
        table[metric] = [
            mean_std_text(mean, std, digits)
            for mean, std in zip(table[f"{metric}_mean"], table[f"{metric}_std"])
        ]
    return table


def compare_groups(
    a: Sequence[float],
    b: Sequence[float],
    labels: tuple[str, str] = ("A", "B"),
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "welch",
    higher_is_better: bool = True,
    min_seeds: int = MIN_SEEDS,
) -> dict[str, Any]:
    """Tells whether two seed groups differ beyond seed noise.

    The interval is for mean(a) - mean(b): by default Welch's t interval
    (`scipy.stats.ttest_ind` with unequal variances, Welch–Satterthwaite
    degrees of freedom); with method="bootstrap", the percentile interval of
    10,000 resampled differences (`scipy.stats.bootstrap`) drawn with
    `seed`. The difference is "larger than the seed-to-seed noise" when the
    interval excludes 0. `words.verdict_sentence` says the result in words.

    Args:
        a: the metric of each run (seed) of the first group; NaN is dropped.
        b: the same for the second group.
        labels: names of the two groups in error messages.
        confidence: the interval's coverage, between 0.5 and 1.
        seed: seeds the bootstrap.
        method: "welch" or "bootstrap".
        higher_is_better: whether a larger value is "ahead" (False for losses).
        min_seeds: fewer runs than this in either group gives no interval
            (`significant` None: too few seeds to tell).

    Returns:
        A dict: difference (mean(a) - mean(b)), low, high (NaN with too few
        seeds), method ("none" with too few seeds), n_a, n_b, significant
        (bool, or None with too few seeds), and the confidence, min_seeds and
        higher_is_better it was computed with.

    Raises:
        ValueError: on non-numeric values, a bad confidence or method.
    """
    first = as_curve(f"{labels[0]} values", a)
    second = as_curve(f"{labels[1]} values", b)
    first, second = first[~np.isnan(first)], second[~np.isnan(second)]
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence: received {confidence!r}, expected a number from 0.5 to below 1, such as 0.95")
    if method not in ("welch", "bootstrap"):
        raise ValueError(f"method: received {method!r}, expected 'welch' or 'bootstrap'")
    n_a, n_b = int(first.size), int(second.size)
    difference = float(first.mean() - second.mean()) if n_a and n_b else math.nan
    result = {"difference": difference, "low": math.nan, "high": math.nan, "method": method,
              "n_a": n_a, "n_b": n_b, "significant": None, "confidence": confidence,
              "min_seeds": min_seeds, "higher_is_better": higher_is_better}
    if n_a < min_seeds or n_b < min_seeds:
        result["method"] = "none"
        return result
    if method == "welch":
        low, high = _welch_interval(first, second, confidence)
    else:
        low, high = _bootstrap_interval(first, second, confidence, seed)
    result.update(low=low, high=high, significant=bool(low > 0 or high < 0))
    return result


def _welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    """Welch's t interval for mean(a) - mean(b)."""
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        # Every seed gave the same number: there is no noise to compare with.
        difference = float(a.mean() - b.mean())
        return difference, difference
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def _bootstrap_interval(a: np.ndarray, b: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    """The percentile bootstrap interval for mean(a) - mean(b), each group resampled on its own."""
    def difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    interval = stats.bootstrap(
        (a, b), difference, n_resamples=10_000, confidence_level=confidence, method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return float(interval.low), float(interval.high)
