"""Statistics on recorded training curves: no retraining, no TensorFlow.

Everything here reads the two DataFrames the store hands out and answers the
questions of the Compare page: which epoch was best, where overfitting began,
when early stopping would have ended a run, whether two seed groups really
differ, which runs are Pareto-optimal, and what to try next.

Inputs (built by `seqlab.store`):

- epochs: `store.epochs_frame(run_ids)`, one row per run and epoch with
  columns run_id, epoch (1-based), loss, accuracy, val_loss, val_accuracy,
  seconds.
- runs: `store.runs_frame(run_ids)`, one row per run with run_id, label, arch,
  status, group_id, num_params, test_accuracy, dataset, ... and the flattened
  config columns ("model.units", "data.sequence_length", "seed", ...).

Only pandas, NumPy and the standard library are used (SciPy is not a
dependency, so the Student t quantile is computed here).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqlab.config import RECURRENT_ARCHITECTURES

EPOCH_COLUMNS = ("run_id", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
# Recorded column -> (split, metric) of the tidy curves table.
CURVE_COLUMNS = {
    "loss": ("train", "loss"),
    "accuracy": ("train", "accuracy"),
    "val_loss": ("validation", "loss"),
    "val_accuracy": ("validation", "accuracy"),
}
KEY_HYPERPARAMETERS = (
    "model.units", "model.num_heads", "model.num_layers", "model.embedding_dim",
    "data.sequence_length", "train.learning_rate", "train.batch_size",
)
# Advice and sweeps compare finished recipes only: a stopped or running run's
# curves are cut short and would look worse (or better) than the recipe is.
COMPLETED_STATUSES = ("completed",)
# Settings that may differ between the runs of one sweep besides the swept one.
SWEEP_FREE_COLUMNS = ("model.arch", "seed", "name")
MIN_SEEDS = 3
# Two architectures closer than this in best validation accuracy are "tied"
# for the advice panel: on small validation sets it is about one example in 100.
CLOSE_ACCURACY = 0.01
# The setting each architecture's size is searched over, with the range
# `RunConfig.validate` allows for it.
WIDTH_FIELDS = {
    **{arch: ("units", 1, 4096) for arch in RECURRENT_ARCHITECTURES},
    "transformer": ("ff_dim", 1, 16384),
    "baseline": ("embedding_dim", 2, 2048),
}


# ------------------------------------------------------------ single curves
def best_epoch(val_loss: Sequence[float]) -> int:
    """Returns the epoch with the lowest validation loss (ties: the earliest).

    Args:
        val_loss: validation loss per epoch, epoch 1 first; NaN entries are
            skipped.

    Returns:
        The 1-based epoch.

    Raises:
        ValueError: if the curve is empty, all NaN or not numeric.
    """
    values = _curve("val_loss", val_loss)
    if values.size == 0 or np.isnan(values).all():
        raise ValueError(
            f"val_loss: received {values.size} epoch(s) with no number, expected at least "
            f"one recorded validation loss; a run needs a validation split and one "
            f"finished epoch"
        )
    return int(np.nanargmin(values)) + 1


def overfitting_onset(
    loss: Sequence[float], val_loss: Sequence[float], patience: int = 1
) -> int | None:
    """Returns the last good epoch before overfitting, or None.

    Precisely: let m be the epoch of the lowest validation loss (the earliest
    on ties). Overfitting starts after m when, for each of the `patience`
    epochs after m, validation loss rises (strictly above the epoch before)
    while training loss falls (strictly below the epoch before). Anchoring at
    the minimum means a temporary bump followed by a new low is not
    overfitting.

    Args:
        loss: training loss per epoch, epoch 1 first.
        val_loss: validation loss per epoch, same length.
        patience: how many consecutive diverging epochs it takes (at least 1).

    Returns:
        m (1-based), or None if the curves never diverge that way, are too
        short, or contain NaN where it matters.

    Raises:
        ValueError: if the curves differ in length or patience is below 1.
    """
    train = _curve("loss", loss)
    validation = _curve("val_loss", val_loss)
    if train.shape != validation.shape:
        raise ValueError(
            f"loss and val_loss: received {train.size} and {validation.size} epochs, "
            f"expected curves of the same run (same length)"
        )
    _check_patience(patience, minimum=1)
    if validation.size == 0 or np.isnan(validation).all():
        return None
    minimum = int(np.nanargmin(validation))
    if minimum + patience >= validation.size:
        return None
    for epoch in range(minimum + 1, minimum + patience + 1):
        if not (validation[epoch] > validation[epoch - 1] and train[epoch] < train[epoch - 1]):
            return None
    return minimum + 1


def early_stopping_replay(
    val_metric_curve: Sequence[float],
    patience: int,
    mode: str = "min",
    min_delta: float = 0.0,
    restore_best: bool = True,
    val_accuracy: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Replays `keras.callbacks.EarlyStopping` on a recorded curve.

    Follows Keras 3's `on_epoch_end` step by step: each epoch adds one to a
    wait counter; an improvement (the first epoch always; then, in "min"
    mode, `value + min_delta < best`, in "max" mode `value - min_delta > best`)
    records the best epoch and resets the counter; otherwise, once the counter
    reaches `patience`, training stops after that epoch. So a run stops
    `patience` epochs after its last improvement. NaN never improves.

    Args:
        val_metric_curve: the monitored value per epoch (usually val_loss),
            epoch 1 first.
        patience: Keras's `patience` (0 or more).
        mode: "min" (losses) or "max" (accuracies).
        min_delta: smallest change that counts as an improvement.
        restore_best: Keras's `restore_best_weights`: the weights kept are
            the best epoch's instead of the last epoch's.
        val_accuracy: optional validation accuracy per epoch, to report the
            accuracy of the weights kept.

    Returns:
        A dict: patience; stopped (bool: the callback fired within the
        recorded epochs); stopped_epoch (1-based epoch training ends: where it
        fired, else the last recorded epoch); best_epoch (1-based); best_value;
        kept_epoch (best_epoch with restore_best, else stopped_epoch);
        val_accuracy_at_stop (validation accuracy of the kept weights, NaN
        without `val_accuracy`); epochs_saved (recorded epochs after the stop);
        recorded_epochs.

    Raises:
        ValueError: on an empty curve, a bad patience, mode or min_delta, or
            a `val_accuracy` of another length.
    """
    values = _curve("val_metric_curve", val_metric_curve)
    if values.size == 0:
        raise ValueError(
            "val_metric_curve: received no epochs, expected the monitored value of "
            "at least one recorded epoch"
        )
    _check_patience(patience, minimum=0)
    if mode not in ("min", "max"):
        raise ValueError(f"mode: received {mode!r}, expected 'min' (for losses) or 'max' (for accuracies)")
    if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or math.isnan(min_delta):
        raise ValueError(f"min_delta: received {min_delta!r}, expected a number such as 0.0 or 0.001")
    accuracy = None
    if val_accuracy is not None:
        accuracy = _curve("val_accuracy", val_accuracy)
        if accuracy.shape != values.shape:
            raise ValueError(
                f"val_accuracy: received {accuracy.size} epochs, expected {values.size} "
                f"like val_metric_curve (the same run)"
            )
    delta = abs(float(min_delta))
    best_value: float | None = None
    best_index = 0
    wait = 0
    stopped_index = None
    for index, value in enumerate(values):
        wait += 1
        improved = best_value is None or (
            value + delta < best_value if mode == "min" else value - delta > best_value
        )
        if improved:
            best_value, best_index, wait = float(value), index, 0
            continue
        if wait >= patience and index > 0:
            stopped_index = index
            break
    stop = stopped_index if stopped_index is not None else values.size - 1
    kept = best_index if restore_best else stop
    return {
        "patience": patience,
        "stopped": stopped_index is not None,
        "stopped_epoch": stop + 1,
        "best_epoch": best_index + 1,
        "best_value": best_value,
        "kept_epoch": kept + 1,
        "val_accuracy_at_stop": float(accuracy[kept]) if accuracy is not None else math.nan,
        "epochs_saved": values.size - 1 - stop,
        "recorded_epochs": int(values.size),
    }


# ------------------------------------------------------------------ tables
def curves_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns the tidy curves for overlay charts.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`.

    Returns:
        One row per run, epoch, split and metric with columns run_id, label
        (made unique by appending " seed N", or else " #run_id", where runs
        share a label, so a chart's legend tells them apart), arch, group_id,
        group_label,
        epoch, split ("train" | "validation"), metric ("loss" | "accuracy"),
        value. Missing values (a run without validation) are left out.

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    epochs = _epochs_frame(epochs)
    labels = _labels_table(runs)
    long = epochs.melt(
        id_vars=["run_id", "epoch"], value_vars=list(CURVE_COLUMNS),
        var_name="column", value_name="value",
    ).dropna(subset=["value"])
    long["split"] = long["column"].map({k: v[0] for k, v in CURVE_COLUMNS.items()})
    long["metric"] = long["column"].map({k: v[1] for k, v in CURVE_COLUMNS.items()})
    table = _with_labels(long, labels)
    table["value"] = table["value"].astype(float)
    columns = ["run_id", "label", "arch", "group_id", "group_label", "epoch", "split", "metric", "value"]
    return table.sort_values(["run_id", "metric", "split", "epoch"], kind="stable")[columns].reset_index(drop=True)


def gap_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns validation-minus-training loss per run and epoch.

    A positive gap means the model does better on texts it has trained on;
    a gap that grows epoch after epoch is the picture of overfitting.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`.

    Returns:
        Columns run_id, label, arch, epoch, gap (val_loss - loss), is_best
        (the run's lowest validation loss, earliest on ties). Epochs without
        both losses are left out.

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    epochs = _sorted_epochs(_epochs_frame(epochs))
    table = epochs.assign(gap=epochs["val_loss"] - epochs["loss"]).dropna(subset=["gap"])
    table["is_best"] = False
    table.loc[_best_rows(epochs), "is_best"] = True
    table = _with_labels(table, _labels_table(runs))
    return table[["run_id", "label", "arch", "epoch", "gap", "is_best"]].reset_index(drop=True)


def run_summary_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per run for the Compare page.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`.

    Returns:
        One row per run of `runs` (runs with no epochs yet have NaN/NA
        statistics) with columns: run_id, label, arch, status, group_id,
        group_label, dataset, the `KEY_HYPERPARAMETERS` present, num_params,
        epochs_run, seconds_per_epoch (mean over the epochs after the first
        when there are several: the first pays for tracing and XLA compiling,
        which would otherwise swamp short runs), best_epoch (lowest val_loss, earliest on
        ties), best_val_loss, best_val_accuracy (highest over epochs),
        val_accuracy_at_best_epoch, final_val_accuracy, test_accuracy,
        gap_final (val_loss - loss at the last epoch), overfit_epoch
        (`overfitting_onset`, NA if none), then every other config column
        (for `sweep_table`).

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    epochs = _sorted_epochs(_epochs_frame(epochs))
    labels = _labels_table(runs)
    runs = _runs_frame(runs)
    grouped = epochs.groupby("run_id", sort=False)
    steady = epochs[(epochs["epoch"] > 1) | (grouped["epoch"].transform("size") == 1)]
    stats = grouped.agg(
        epochs_run=("epoch", "size"),
        best_val_loss=("val_loss", "min"),
        best_val_accuracy=("val_accuracy", "max"),
    )
    stats["seconds_per_epoch"] = steady.groupby("run_id", sort=False)["seconds"].mean()
    last = epochs.drop_duplicates("run_id", keep="last").set_index("run_id")
    stats["final_val_accuracy"] = last["val_accuracy"]
    stats["gap_final"] = last["val_loss"] - last["loss"]
    best = epochs.loc[_best_rows(epochs)].set_index("run_id")
    stats["best_epoch"] = best["epoch"]
    stats["val_accuracy_at_best_epoch"] = best["val_accuracy"]
    stats["overfit_epoch"] = pd.Series(_overfit_epochs(epochs), dtype="float")
    for column in ("epochs_run", "best_epoch", "overfit_epoch"):
        stats[column] = stats[column].astype("Int64")

    table = labels.merge(runs.drop(columns=["label", "arch", "group_id"]), on="run_id", how="left")
    table = table.merge(stats, left_on="run_id", right_index=True, how="left")
    table["epochs_run"] = table["epochs_run"].fillna(0)
    for column in ("status", "dataset", "num_params", "test_accuracy"):
        if column not in table:
            table[column] = pd.NA if column in ("status", "dataset") else math.nan
    leading = [
        "run_id", "label", "arch", "status", "group_id", "group_label", "dataset",
        *[c for c in KEY_HYPERPARAMETERS if c in table],
        "num_params", "epochs_run", "seconds_per_epoch", "best_epoch", "best_val_loss",
        "best_val_accuracy", "val_accuracy_at_best_epoch", "final_val_accuracy",
        "test_accuracy", "gap_final", "overfit_epoch",
    ]
    config_columns = [c for c in table if ("." in c or c == "seed") and c not in leading]
    return table[leading + config_columns].reset_index(drop=True)


def early_stopping_table(
    epochs: pd.DataFrame, runs: pd.DataFrame, patiences: Sequence[int] = (1, 2, 3, 5)
) -> pd.DataFrame:
    """Returns, per run and patience, what EarlyStopping on val_loss would have done.

    Replays the recorded curves (`early_stopping_replay` with mode "min",
    min_delta 0 and restore_best_weights=True); nothing is retrained.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`.
        patiences: the patience values to replay.

    Returns:
        Columns run_id, label, patience, stopped, stopped_epoch, best_epoch,
        val_accuracy_at_stop, epochs_saved, recorded_epochs, sentence (plain
        words, e.g. "with patience 2, training would have stopped at epoch 4
        with validation accuracy 0.830 (best epoch 2)").

    Raises:
        ValueError: if a frame lacks a needed column or a patience is bad.
    """
    for patience in patiences:
        _check_patience(patience, minimum=0)
    epochs = _sorted_epochs(_epochs_frame(epochs)).dropna(subset=["val_loss"])
    labels = _labels_table(runs).set_index("run_id")["label"]
    rows = []
    for run_id, loss, accuracy in _split_by_run(epochs, "val_loss", "val_accuracy"):
        for patience in patiences:
            result = early_stopping_replay(loss, patience, val_accuracy=accuracy)
            rows.append({
                "run_id": run_id,
                "label": labels.get(run_id, str(run_id)),
                **{k: result[k] for k in (
                    "patience", "stopped", "stopped_epoch", "best_epoch",
                    "val_accuracy_at_stop", "epochs_saved", "recorded_epochs",
                )},
                "sentence": _early_stopping_sentence(result),
            })
    columns = [
        "run_id", "label", "patience", "stopped", "stopped_epoch", "best_epoch",
        "val_accuracy_at_stop", "epochs_saved", "recorded_epochs", "sentence",
    ]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------ seed groups
def group_curves_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Returns per-group statistics of the curves, for band charts.

    Runs without a group_id are left out (a band needs several seeds).

    Args:
        curves: `curves_table(...)`.

    Returns:
        Columns group_id, group_label, epoch, split, metric, mean, std
        (sample standard deviation; NaN for a single run), min, max, n.

    Raises:
        ValueError: if `curves` lacks a needed column.
    """
    columns = ["group_id", "group_label", "epoch", "split", "metric", "mean", "std", "min", "max", "n"]
    require_columns(curves, ["group_id", "group_label", "epoch", "split", "metric", "value"], "curves")
    grouped = curves.dropna(subset=["group_id"]).groupby(
        ["group_id", "group_label", "epoch", "split", "metric"], sort=True
    )["value"]
    table = grouped.agg(["mean", "std", "min", "max", "size"]).rename(columns={"size": "n"})
    return table.reset_index()[columns]


def group_summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per seed group: how its runs vary.

    Args:
        summary: `run_summary_table(...)`; runs without a group_id are left
            out.

    Returns:
        Columns group_id, label (the group's label), arch, n_runs and, for
        final_val_accuracy, best_val_accuracy, test_accuracy and
        seconds_per_epoch: `<name>_mean` and `<name>_std` (numbers) and
        `<name>` (text such as "0.812 ± 0.014").

    Raises:
        ValueError: if `summary` lacks a needed column.
    """
    metrics = ("final_val_accuracy", "best_val_accuracy", "test_accuracy", "seconds_per_epoch")
    require_columns(summary, ["run_id", "group_id", "group_label", "arch", *metrics], "summary")
    grouped = summary.dropna(subset=["group_id"]).groupby("group_id", sort=False)
    table = grouped.agg(
        label=("group_label", "first"), arch=("arch", "first"), n_runs=("run_id", "size"),
        **{f"{m}_{stat}": (m, stat) for m in metrics for stat in ("mean", "std")},
    ).reset_index()
    for metric in metrics:
        digits = 2 if metric == "seconds_per_epoch" else 3
        table[metric] = [
            _mean_std_text(mean, std, digits)
            for mean, std in zip(table[f"{metric}_mean"], table[f"{metric}_std"])
        ]
    return table


def compare_groups(
    a: Sequence[float],
    b: Sequence[float],
    metric_name: str = "validation accuracy",
    labels: tuple[str, str] = ("A", "B"),
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "welch",
    higher_is_better: bool = True,
    min_seeds: int = MIN_SEEDS,
) -> dict[str, Any]:
    """Says in plain words whether two seed groups differ beyond seed noise.

    The interval is for mean(a) - mean(b): by default Welch's t interval
    (unequal variances, Welch–Satterthwaite degrees of freedom); with
    method="bootstrap", the percentile interval of 10,000 resampled
    differences drawn with `seed`. The difference is "larger than the
    seed-to-seed noise" when the interval excludes 0.

    Args:
        a: the metric of each run (seed) of the first group; NaN is dropped.
        b: the same for the second group.
        metric_name: words for the metric in the verdict.
        labels: names of the two groups in the verdict.
        confidence: the interval's coverage, between 0.5 and 1.
        seed: seeds the bootstrap.
        method: "welch" or "bootstrap".
        higher_is_better: whether a larger value is "ahead" (False for losses).
        min_seeds: fewer runs than this in either group gives the
            "too few seeds" verdict and no interval.

    Returns:
        A dict: difference (mean(a) - mean(b)), low, high (NaN with too few
        seeds), method, n_a, n_b, significant (bool, or None with too few
        seeds), verdict (a sentence).

    Raises:
        ValueError: on non-numeric values, a bad confidence or method.
    """
    first = _curve(f"{labels[0]} values", a)
    second = _curve(f"{labels[1]} values", b)
    first, second = first[~np.isnan(first)], second[~np.isnan(second)]
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence: received {confidence!r}, expected a number from 0.5 to below 1, such as 0.95")
    if method not in ("welch", "bootstrap"):
        raise ValueError(f"method: received {method!r}, expected 'welch' or 'bootstrap'")
    n_a, n_b = int(first.size), int(second.size)
    difference = float(first.mean() - second.mean()) if n_a and n_b else math.nan
    result = {"difference": difference, "low": math.nan, "high": math.nan, "method": method,
              "n_a": n_a, "n_b": n_b, "significant": None}
    if n_a < min_seeds or n_b < min_seeds:
        result["method"] = "none"
        result["verdict"] = (
            f"too few seeds to tell: run at least {min_seeds} seeds of each "
            f"(currently {n_a} and {n_b})"
        )
        return result
    if method == "welch":
        low, high = _welch_interval(first, second, confidence)
    else:
        rng = np.random.default_rng(seed)
        draws = 10_000
        means_a = rng.choice(first, size=(draws, n_a), replace=True).mean(axis=1)
        means_b = rng.choice(second, size=(draws, n_b), replace=True).mean(axis=1)
        tail = (1 - confidence) / 2
        low, high = (float(q) for q in np.quantile(means_a - means_b, [tail, 1 - tail]))
    significant = bool(low > 0 or high < 0)
    percent = f"{confidence * 100:g}%"
    if significant:
        a_ahead = (difference > 0) == higher_is_better
        leader, follower = (labels[0], labels[1]) if a_ahead else (labels[1], labels[0])
        # Report the interval for the leader's lead, so both ends read as positive.
        lead_low, lead_high = (low, high) if difference > 0 else (-high, -low)
        verdict = (
            f"{leader} is ahead of {follower} on {metric_name} by {abs(difference):.3f} "
            f"({percent} interval {lead_low:.3f} to {lead_high:.3f}): larger than the "
            f"seed-to-seed noise ({n_a} and {n_b} seeds)"
        )
    else:
        verdict = (
            f"{labels[0]} vs {labels[1]} on {metric_name}: the difference {difference:.3f} "
            f"({percent} interval {low:.3f} to {high:.3f}) is within seed-to-seed noise "
            f"({n_a} and {n_b} seeds)"
        )
    result.update(low=float(low), high=float(high), significant=significant, verdict=verdict)
    return result


def student_t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """Returns t such that P(T <= t) = probability for Student's t distribution.

    Bisects the CDF (computed with the regularized incomplete beta function)
    to about 1e-12; degrees of freedom need not be whole (Welch's are not).

    Args:
        probability: strictly between 0 and 1.
        degrees_of_freedom: positive.

    Returns:
        The quantile.

    Raises:
        ValueError: on a probability outside (0, 1) or non-positive degrees of freedom.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability: received {probability!r}, expected a number strictly between 0 and 1")
    if not degrees_of_freedom > 0:
        raise ValueError(f"degrees_of_freedom: received {degrees_of_freedom!r}, expected a positive number")
    if probability < 0.5:
        return -student_t_quantile(1 - probability, degrees_of_freedom)
    low, high = 0.0, 1.0
    while _student_t_cdf(high, degrees_of_freedom) < probability:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if _student_t_cdf(middle, degrees_of_freedom) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


# ---------------------------------------------------------------- budgets
def pareto_front(
    df: pd.DataFrame, x: str, y: str, x_lower_is_better: bool = True, y_higher_is_better: bool = True
) -> pd.Series:
    """Marks the rows no other row beats on both x and y.

    A row is dominated when another is at least as good on both and strictly
    better on one; rows with a missing x or y are never on the front.

    Args:
        df: any table, e.g. `run_summary_table(...)`.
        x: the cost column, e.g. "num_params" or "seconds_per_epoch".
        y: the quality column, e.g. "best_val_accuracy".
        x_lower_is_better: whether smaller x is better.
        y_higher_is_better: whether larger y is better.

    Returns:
        A boolean Series aligned with `df.index`.

    Raises:
        ValueError: if a column is missing or not numeric.
    """
    require_columns(df, [x, y], "table")
    try:
        costs = df[x].to_numpy(dtype=float, na_value=np.nan)
        gains = df[y].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pareto_front: columns {x!r} and {y!r} must be numeric ({error})") from None
    if not x_lower_is_better:
        costs = -costs
    if not y_higher_is_better:
        gains = -gains
    valid = ~(np.isnan(costs) | np.isnan(gains))
    # (i, j): is row j at least as good as row i on both, and better on one?
    no_worse = (costs[None, :] <= costs[:, None]) & (gains[None, :] >= gains[:, None])
    better = (costs[None, :] < costs[:, None]) | (gains[None, :] > gains[:, None])
    dominated = (no_worse & better & valid[None, :]).any(axis=1)
    return pd.Series(valid & ~dominated, index=df.index, name="pareto")


def size_to_parameters(
    config: Any,
    target: int,
    *,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    count: Callable[..., int],
) -> Any:
    """Returns a copy of a model config whose width brings it nearest a parameter budget.

    The width searched is units for recurrent models, ff_dim for the
    Transformer and embedding_dim for the baseline; every other field is kept.
    Note that the token embedding (vocabulary_size x embedding_dim) usually
    holds most parameters, so for recurrent models and Transformers a budget
    below the embedding's size cannot be met by width alone: the smallest
    width is returned then, and lowering data.vocabulary_size or
    model.embedding_dim is the lever. Assumes the count grows with the width
    (true for every seqlab architecture) and bisects, so it calls `count`
    about 15 times.

    Args:
        config: a `seqlab.config.ModelConfig` (any frozen dataclass with the
            same fields).
        target: the wanted number of parameters.
        vocabulary_size: passed to `count`.
        sequence_length: passed to `count`.
        num_classes: passed to `count`.
        count: a callable like `seqlab.models.count_parameters(config, *,
            vocabulary_size, sequence_length, num_classes)`.

    Returns:
        `dataclasses.replace(config, <width>=w)` for the w (within the range
        `RunConfig.validate` allows) whose count is closest to `target`
        (ties: the smaller w).

    Raises:
        ValueError: on an unknown architecture or a target that is not a
            positive integer.
    """
    arch = getattr(config, "arch", None)
    if arch not in WIDTH_FIELDS:
        raise ValueError(
            f"model.arch: received {arch!r}, expected one of {', '.join(WIDTH_FIELDS)}"
        )
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 1:
        raise ValueError(f"target: received {target!r}, expected a positive number of parameters such as 100000")
    field, low, high = WIDTH_FIELDS[arch]
    sizes = dict(vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_classes=num_classes)

    def parameters(width: int) -> int:
        return count(dataclasses.replace(config, **{field: width}), **sizes)

    # The smallest width whose count reaches the target lies in (low, high].
    if parameters(low) >= target:
        best = low
    elif parameters(high) <= target:
        best = high
    else:
        while high - low > 1:
            middle = (low + high) // 2
            if parameters(middle) >= target:
                high = middle
            else:
                low = middle
        best = low if target - parameters(low) <= parameters(high) - target else high
    return dataclasses.replace(config, **{field: best})


# ------------------------------------------------------------------ sweeps
def sweep_table(
    summary: pd.DataFrame, vary: str, statuses: Sequence[str] | None = COMPLETED_STATUSES
) -> pd.DataFrame:
    """Returns one row per architecture and value of a swept setting.

    Args:
        summary: `run_summary_table(...)`.
        vary: a flattened config column such as "data.sequence_length".
        statuses: keep only runs in these statuses (None keeps all runs that
            recorded an epoch).

    Returns:
        Columns arch, value, seconds_per_epoch (mean over the runs, i.e. the
        seeds), val_accuracy (mean best validation accuracy), val_accuracy_std
        (NaN for one run), n_runs, run_ids (list), sorted by arch and value.

    Raises:
        ValueError: if `vary` is not a column of `summary`.
    """
    if vary not in summary:
        options = [c for c in summary.columns if "." in c or c == "seed"]
        raise ValueError(
            f"vary: received {vary!r}, expected a config column of the summary such as "
            f"{', '.join(options[:6]) or 'data.sequence_length'}"
        )
    require_columns(summary, ["run_id", "arch", "seconds_per_epoch", "best_val_accuracy"], "summary")
    rows = summary.dropna(subset=[vary, "best_val_accuracy"])
    if statuses is not None and "status" in rows:
        rows = rows[rows["status"].isin(statuses)]
    table = rows.groupby(["arch", vary], sort=True).agg(
        seconds_per_epoch=("seconds_per_epoch", "mean"),
        val_accuracy=("best_val_accuracy", "mean"),
        val_accuracy_std=("best_val_accuracy", "std"),
        n_runs=("run_id", "size"),
        run_ids=("run_id", list),
    )
    columns = ["arch", "value", "seconds_per_epoch", "val_accuracy", "val_accuracy_std", "n_runs", "run_ids"]
    return table.reset_index().rename(columns={vary: "value"})[columns]


def sweep_families(summary: pd.DataFrame, vary: str) -> list[list[str]]:
    """Finds the sweeps over one setting among completed runs.

    Runs form one family when every config setting but `vary`,
    `SWEEP_FREE_COLUMNS` (and data.synthetic_length when `vary` is
    data.sequence_length: a sweep on synthetic data moves both) is equal, so
    unrelated runs never land on one sweep chart. A family needs at least two
    values of `vary`.

    Args:
        summary: `run_summary_table(...)`.
        vary: a config column such as "data.sequence_length".

    Returns:
        The run ids of each family (in summary order), the largest family first.
    """
    done = summary[summary["status"].isin(COMPLETED_STATUSES) & summary["best_val_accuracy"].notna()]
    if done.empty or vary not in done:
        return []
    free = {vary, *SWEEP_FREE_COLUMNS}
    if vary == "data.sequence_length":
        free.add("data.synthetic_length")
    fixed = [column for column in done.columns if "." in column and column not in free]
    # Plain tuples: a pandas groupby over ~30 columns costs far more for a few dozen runs.
    members: dict[tuple, list[int]] = {}
    for position, key in enumerate(zip(*(done[column].tolist() for column in fixed))):
        members.setdefault(key, []).append(position)
    values, run_ids = done[vary].tolist(), done["run_id"].tolist()
    families = [[run_ids[p] for p in positions] for positions in members.values()
                if len({values[p] for p in positions}) >= 2]
    return sorted(families, key=len, reverse=True)


# ------------------------------------------------------------------ advice
def advice(summary: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Returns the "which architecture?" panel, computed from completed runs.

    Every line quotes numbers from the runs: rankings by best validation
    accuracy, seconds per epoch and parameters; the trade-off between the
    fastest and the most accurate architecture; overfitting and still-falling
    validation losses; and the experiment that would settle an open question
    (seeds for a near tie, a sweep for a setting tried at one value only).
    With runs on several datasets, each dataset gets its own lines.

    Args:
        summary: `run_summary_table(...)`.
        curves: `curves_table(...)` of the same runs.

    Returns:
        Sentences; a single "no completed runs yet" line when nothing has
        finished.

    Raises:
        ValueError: if `summary` lacks a needed column.
    """
    require_columns(summary, ["run_id", "arch", "status", "best_val_accuracy", "seconds_per_epoch"], "summary")
    done = summary[summary["status"].isin(COMPLETED_STATUSES) & summary["best_val_accuracy"].notna()]
    if done.empty:
        return ["no completed runs yet: train a run (or a preset on the home page) and its numbers will show here"]
    datasets = done["dataset"].fillna("?") if "dataset" in done else pd.Series("", index=done.index)
    names = datasets.unique()
    lines = []
    for name in names:
        prefix = f"On {name}: " if len(names) > 1 else ""
        part = done[datasets == name]
        lines.extend(prefix + line for line in _advice_for(part, curves))
    return lines


# ---------------------------------------------------------------- helpers
def _advice_for(runs: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """The advice lines for completed runs of one dataset."""
    for column in ("num_params", "overfit_epoch", "best_epoch", "epochs_run"):
        if column not in runs:
            runs = runs.assign(**{column: math.nan})
    per_arch = runs.groupby("arch").agg(
        accuracy=("best_val_accuracy", "max"),
        seconds=("seconds_per_epoch", "median"),
        parameters=("num_params", "median"),
        n_runs=("run_id", "size"),
    ).sort_values("accuracy", ascending=False)
    lines = []
    by_accuracy = ", ".join(f"{arch} {row.accuracy:.3f}" for arch, row in per_arch.iterrows())
    if len(per_arch) == 1:
        arch = per_arch.index[0]
        others = [a for a in ("lstm", "gru", "transformer", "baseline") if a != arch][:2]
        lines.append(
            f"only {arch} trained so far (best validation accuracy {per_arch['accuracy'].iloc[0]:.3f} "
            f"over {per_arch['n_runs'].iloc[0]} run(s)): queue {' and '.join(others)} on the same "
            f"data to compare architectures"
        )
    else:
        lines.append(f"best validation accuracy: {by_accuracy}")
        speed = per_arch["seconds"].dropna().sort_values()
        if len(speed) > 1:
            lines.append("seconds per epoch: " + ", ".join(f"{a} {s:.2f}" for a, s in speed.items()))
        size = per_arch["parameters"].dropna().sort_values()
        if len(size) > 1:
            lines.append("parameters: " + ", ".join(f"{a} {_count_text(p)}" for a, p in size.items()))
        lines.extend(_trade_off(per_arch))
        lines.extend(_close_call(runs, per_arch))
        lines.extend(_sweep_lines(runs))
    lines.extend(_overfitting_lines(runs))
    lines.extend(_still_improving_lines(runs, curves))
    lines.extend(_untried_settings(runs))
    return lines


def _trade_off(per_arch: pd.DataFrame) -> list[str]:
    speed = per_arch["seconds"].dropna()
    if len(speed) < 2:
        return []
    most_accurate = per_arch.index[0]
    fastest = speed.idxmin()
    if fastest == most_accurate:
        second = per_arch.index[1]
        best, close = per_arch["accuracy"].iloc[0], per_arch["accuracy"].iloc[1]
        if best - close < CLOSE_ACCURACY and second in speed:
            return [f"{fastest} and {second} reached about the same best validation accuracy "
                    f"({best:.3f} vs {close:.3f}); {fastest} trained {speed[second] / speed[fastest]:.1f}x "
                    f"faster per epoch"]
        runner_up = speed.drop(fastest).idxmin()
        ratio = speed[runner_up] / speed[fastest]
        return [f"{fastest} is both the most accurate and the fastest: {ratio:.1f}x faster per epoch than {runner_up}"]
    if most_accurate not in speed:
        return []
    ratio = speed[most_accurate] / speed[fastest]
    fast_accuracy = per_arch.loc[fastest, "accuracy"]
    best_accuracy = per_arch.loc[most_accurate, "accuracy"]
    shortfall = best_accuracy - fast_accuracy
    outcome = (
        f"reached about the same validation accuracy ({fast_accuracy:.3f} vs {best_accuracy:.3f})"
        if shortfall < CLOSE_ACCURACY
        else f"reached {shortfall:.3f} lower validation accuracy ({fast_accuracy:.3f} vs {best_accuracy:.3f})"
    )
    joiner = "and" if shortfall < CLOSE_ACCURACY else "but"
    return [f"{fastest} trained {ratio:.1f}x faster per epoch than {most_accurate} {joiner} {outcome}"]


def _close_call(runs: pd.DataFrame, per_arch: pd.DataFrame) -> list[str]:
    """Settles, or says how to settle, the race between the two leading architectures.

    Only seeds of one recipe are compared (each architecture's best one):
    runs that differ in a setting, such as the points of a sweep, are not
    seed-to-seed noise.
    """
    first, second = per_arch.index[:2]
    gap = per_arch.loc[first, "accuracy"] - per_arch.loc[second, "accuracy"]
    values = {arch: _best_recipe(runs[runs["arch"] == arch])["best_val_accuracy"] for arch in (first, second)}
    if min(len(values[first]), len(values[second])) >= MIN_SEEDS:
        result = compare_groups(values[first], values[second], labels=(first, second))
        return [result["verdict"]]
    if gap < CLOSE_ACCURACY:
        return [
            f"{first} and {second} are within {gap:.3f} of each other: repeat each over "
            f"{MIN_SEEDS} seeds to tell them apart (currently {len(values[first])} and "
            f"{len(values[second])} runs of each one's best settings)"
        ]
    return []


def _best_recipe(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs sharing every config setting (all but the seed) with the most accurate run."""
    columns = [column for column in runs.columns if "." in column]
    settings = runs[columns].astype(str)
    best = settings.loc[runs["best_val_accuracy"].idxmax()]
    return runs[settings.eq(best).all(axis=1)]


def _sweep_lines(runs: pd.DataFrame) -> list[str]:
    """Reads each sweep of several architectures point by point: who leads where, and the cost."""
    from seqlab.experiments import SWEEPABLE

    lines = []
    for vary in SWEEPABLE:
        for run_ids in sweep_families(runs, vary):
            table = sweep_table(runs[runs["run_id"].isin(run_ids)], vary)
            if table["arch"].nunique() < 2:
                continue
            points = []
            for value, point in table.groupby("value", sort=True):
                if len(point) < 2:
                    continue
                lead, runner_up = point.sort_values("val_accuracy", ascending=False).iloc[:2].itertuples()
                if lead.val_accuracy - runner_up.val_accuracy < CLOSE_ACCURACY:
                    points.append(f"at {_setting_text(value)} {lead.arch} and {runner_up.arch} tie "
                                  f"({lead.val_accuracy:.3f})")
                else:
                    points.append(f"at {_setting_text(value)} {lead.arch} leads {runner_up.arch} "
                                  f"({lead.val_accuracy:.3f} vs {runner_up.val_accuracy:.3f})")
            if not points:
                continue
            lines.append(f"along {vary}: " + "; ".join(points))
            costs = []
            for arch, part in table.dropna(subset=["seconds_per_epoch"]).groupby("arch", sort=False):
                low, high = part.iloc[0], part.iloc[-1]
                if len(part) > 1 and low["seconds_per_epoch"] > 0:
                    costs.append(f"{arch} {low['seconds_per_epoch']:.2f} to {high['seconds_per_epoch']:.2f} "
                                 f"({high['seconds_per_epoch'] / low['seconds_per_epoch']:.1f}x)")
            if costs:
                lines.append(f"seconds per epoch from {vary} {_setting_text(table['value'].min())} to "
                             f"{_setting_text(table['value'].max())}: " + ", ".join(costs))
            if table["n_runs"].max() < MIN_SEEDS:
                lines.append(f"the {vary} sweep has {table['n_runs'].max()} run(s) per point: repeat it with "
                             f"{MIN_SEEDS} seeds per point to see which of these gaps exceed the "
                             f"seed-to-seed noise")
    return lines


def _overfitting_lines(runs: pd.DataFrame) -> list[str]:
    lines = []
    for arch, part in runs.groupby("arch"):
        onsets = part["overfit_epoch"].dropna()
        if onsets.empty:
            continue
        where = f" in {len(onsets)} of {len(part)} runs" if len(part) > 1 else ""
        lines.append(
            f"{arch}'s validation loss rose after epoch {int(onsets.min())} while its training "
            f"loss kept falling{where}: overfitting; try early stopping, more dropout or fewer units"
        )
    return lines


def _still_improving_lines(runs: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Runs whose validation loss was lowest at their last epoch could use more epochs."""
    if curves is None or curves.empty:
        return []
    validation = curves[
        (curves["split"] == "validation") & (curves["metric"] == "loss") & curves["run_id"].isin(runs["run_id"])
    ].sort_values(["run_id", "epoch"], kind="stable")
    if validation.empty:
        return []
    lowest = validation.loc[validation.groupby("run_id", sort=False)["value"].idxmin(), ["run_id", "epoch"]]
    last = validation.groupby("run_id", sort=False)["epoch"].max()
    improving = lowest[(lowest["epoch"].to_numpy() == last.loc[lowest["run_id"]].to_numpy()) & (lowest["epoch"] > 1).to_numpy()]
    arch_of = runs.set_index("run_id")["arch"]
    lines = []
    for arch, part in improving.groupby(improving["run_id"].map(arch_of)):
        total = int((runs["arch"] == arch).sum())
        where = f" in {len(part)} of {total} runs" if total > 1 else ""
        lines.append(
            f"{arch}'s validation loss was still falling at its last epoch "
            f"({int(part['epoch'].max())}){where}: more epochs may help"
        )
    return lines


def _untried_settings(runs: pd.DataFrame) -> list[str]:
    lines = []
    for column, words in (("data.sequence_length", "sequence length"), ("train.learning_rate", "learning rate")):
        if column in runs and runs[column].nunique() == 1:
            value = runs[column].iloc[0]
            lines.append(f"only one {words} tried ({value:g}): sweep {column} to see how much it matters")
    return lines


def _count_text(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def _mean_std_text(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return "—"
    if pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _early_stopping_sentence(result: dict[str, Any]) -> str:
    accuracy = result["val_accuracy_at_stop"]
    accuracy_text = "" if math.isnan(accuracy) else f" with validation accuracy {accuracy:.3f}"
    patience = result["patience"]
    if result["stopped"]:
        return (
            f"with patience {patience}, training would have stopped at epoch "
            f"{result['stopped_epoch']}{accuracy_text} (best epoch {result['best_epoch']})"
        )
    return (
        f"with patience {patience}, training would have run all {result['recorded_epochs']} "
        f"recorded epochs{accuracy_text} (best epoch {result['best_epoch']})"
    )


def _welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    """Welch's t interval for mean(a) - mean(b)."""
    variance_a = a.var(ddof=1) / a.size
    variance_b = b.var(ddof=1) / b.size
    difference = a.mean() - b.mean()
    standard_error = math.sqrt(variance_a + variance_b)
    if standard_error == 0:
        # Every seed gave the same number: there is no noise to compare with.
        return float(difference), float(difference)
    degrees_of_freedom = (variance_a + variance_b) ** 2 / (
        variance_a**2 / (a.size - 1) + variance_b**2 / (b.size - 1)
    )
    margin = student_t_quantile(0.5 + confidence / 2, degrees_of_freedom) * standard_error
    return float(difference - margin), float(difference + margin)


def _student_t_cdf(t: float, degrees_of_freedom: float) -> float:
    x = degrees_of_freedom / (degrees_of_freedom + t * t)
    tail = 0.5 * _regularized_incomplete_beta(degrees_of_freedom / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


def _regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) by its continued fraction (Lentz's method), as in Numerical Recipes."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast only below the mean; use symmetry above it.
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _regularized_incomplete_beta(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def _curve(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(pd.Series(values, dtype="float64").to_numpy(na_value=np.nan), dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: received non-numeric values ({error}), expected numbers per epoch") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: received shape {array.shape}, expected one number per epoch")
    return array


def _check_patience(patience: Any, minimum: int) -> None:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < minimum:
        raise ValueError(f"patience: received {patience!r}, expected an integer of at least {minimum}")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raises ValueError naming the missing columns of `frame` (called `name` in the message)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name}: received {type(frame).__name__}, expected a pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name}: missing column(s) {', '.join(missing)}; received columns "
            f"{', '.join(map(str, frame.columns)) or '(none)'}"
        )


def _epochs_frame(epochs: pd.DataFrame) -> pd.DataFrame:
    """Checks the store's epochs frame; an empty frame may come without columns."""
    if isinstance(epochs, pd.DataFrame) and epochs.empty and not set(EPOCH_COLUMNS) <= set(epochs.columns):
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "run_id" else "float64") for c in EPOCH_COLUMNS})
    require_columns(epochs, EPOCH_COLUMNS, "epochs (expected store.epochs_frame(...))")
    # A run without validation may record None: make every metric a float (None -> NaN).
    try:
        return epochs.astype({"epoch": "int64", **{c: "float64" for c in EPOCH_COLUMNS[2:]}})
    except (TypeError, ValueError) as error:
        raise ValueError(f"epochs: received a non-numeric metric or epoch ({error}); expected numbers") from None


def _runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    if isinstance(runs, pd.DataFrame) and "run_id" not in runs and runs.empty:
        runs = pd.DataFrame({"run_id": pd.Series(dtype="object")})
    require_columns(runs, ["run_id"], "runs (expected store.runs_frame(...))")
    runs = runs.copy()
    for column in ("label", "arch", "group_id"):
        if column not in runs:
            runs[column] = pd.NA
    return runs


def _sorted_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    return epochs.sort_values(["run_id", "epoch"], kind="stable").reset_index(drop=True)


def _best_rows(sorted_epochs: pd.DataFrame) -> pd.Index:
    """Index of each run's lowest-val_loss row; earliest on ties since epochs are sorted."""
    valid = sorted_epochs.dropna(subset=["val_loss"])
    return pd.Index(valid.groupby("run_id", sort=False)["val_loss"].idxmin().to_numpy())


def _split_by_run(sorted_epochs: pd.DataFrame, *columns: str):
    """Yields (run_id, column arrays...) per run without building sub-DataFrames."""
    if sorted_epochs.empty:
        return
    codes, run_ids = pd.factorize(sorted_epochs["run_id"])
    cuts = np.flatnonzero(np.diff(codes)) + 1
    parts = [np.split(sorted_epochs[c].to_numpy(dtype=float, na_value=np.nan), cuts) for c in columns]
    yield from zip(run_ids, *parts)


def _overfit_epochs(sorted_epochs: pd.DataFrame) -> dict[Any, float]:
    return {
        run_id: (onset if (onset := overfitting_onset(loss, val_loss)) is not None else math.nan)
        for run_id, loss, val_loss in _split_by_run(sorted_epochs, "loss", "val_loss")
    }


def _labels_table(runs: pd.DataFrame) -> pd.DataFrame:
    """run_id, label (unique), arch, group_id, group_label for every run.

    Runs (and groups) sharing a label get the settings that tell them apart
    appended ("lstm 32u x1 seed 2", "lstm 32u x1 sequence_length 60"); only
    true duplicates fall back to their id. Every table of a Compare redraw
    needs the same labels, so the last few are kept by the runs' content.
    """
    try:
        key = (tuple(runs.columns), int(pd.util.hash_pandas_object(runs, index=True).sum()))
    except TypeError:  # an unhashable cell: compute without the cache
        return _build_labels_table(runs)
    with _LABELS_LOCK:
        cached = _LABELS_CACHE.get(key)
    if cached is None:
        cached = _build_labels_table(runs)
        with _LABELS_LOCK:
            if len(_LABELS_CACHE) >= 8:
                _LABELS_CACHE.pop(next(iter(_LABELS_CACHE)))
            _LABELS_CACHE[key] = cached
    return cached.copy()


# Results of a pure function keyed by the runs' content, never by user or
# session, so sessions may share them; the lock keeps threads' edits apart.
_LABELS_CACHE: dict[tuple, pd.DataFrame] = {}
_LABELS_LOCK = threading.Lock()


def _build_labels_table(runs: pd.DataFrame) -> pd.DataFrame:
    runs = _runs_frame(runs)
    table = runs[["run_id", "label", "arch", "group_id"]].copy()
    run_names = table["run_id"].astype(str)
    raw = table["label"].astype("object").where(table["label"].notna() & (table["label"].astype(str) != ""), run_names)
    raw = raw.astype(str)
    settings = _setting_columns(runs)
    label = _told_apart(raw, runs, settings)
    table["label"] = label.where(~label.duplicated(keep=False), raw + " #" + run_names)
    table["group_id"] = table["group_id"].astype("object").where(table["group_id"].notna(), None)
    grouped = table["group_id"].notna()
    first = runs[grouped].drop_duplicates("group_id")
    names = _told_apart(raw[first.index], first, [c for c in settings if c != "seed"])
    names = names.where(~names.duplicated(keep=False), names + " #" + first["group_id"].astype(str))
    table["group_label"] = table["group_id"].map(dict(zip(first["group_id"], names)))
    table["group_label"] = table["group_label"].astype("object").where(grouped, None)
    return table


def _setting_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns that can tell runs apart, the usual suspects first, the seed last."""
    config = [c for c in runs.columns if "." in c]
    ordered = [c for c in KEY_HYPERPARAMETERS if c in config] + [c for c in config if c not in KEY_HYPERPARAMETERS]
    return ordered + (["seed"] if "seed" in runs else [])


def _told_apart(names: pd.Series, runs: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Appends to each shared name the settings that tell apart the runs sharing it.

    Settings are taken in `columns` order, each only if it splits the runs
    further, until every run has its own name; so a setting that moves with
    one already named (the synthetic length of a swept sequence length) is
    left out.
    """
    names = names.copy()
    for _, clash in runs.groupby(names, sort=False):
        if len(clash) < 2:
            continue
        as_text = clash[columns].astype(str)  # once per clash, not once per column tried
        chosen: list[str] = []
        distinct = 1
        for column in columns:
            count = len(as_text[chosen + [column]].drop_duplicates())
            if count > distinct:
                chosen.append(column)
                distinct = count
            if distinct == len(clash):
                break
        for index, row in clash.iterrows():
            parts = [f"{column.rpartition('.')[2]} {_setting_text(row[column])}" for column in chosen]
            if parts:
                names[index] = f"{names[index]} {', '.join(parts)}"
    return names


def _setting_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _with_labels(frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Joins run labels onto `frame`; runs missing from `labels` are named by their id."""
    table = frame.merge(labels, on="run_id", how="left")
    missing = table["label"].isna()
    if missing.any():
        table.loc[missing, "label"] = table.loc[missing, "run_id"].astype(str)
    return table
