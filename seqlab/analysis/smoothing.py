"""Smoothing recorded training loss: TensorBoard's debiased exponential moving average.

- `ema`: the moving average of one curve, as TensorBoard's scalar
  dashboard smooths it (same weight, same first value);
- `smooth_by_run`: `ema` of each run's loss in a step-loss table;
- `step_loss_table`: the tidy table of the runs' recorded step losses
  (`RunStore.step_losses_frame`), labelled and smoothed, which
  `seqlab.curve_charts.smoothed_loss_chart` draws.

Nothing here imports TensorFlow; the store is passed in, not imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.analysis.labels import run_labels, with_labels

# TensorBoard's default smoothing weight: noisy step losses read as a trend, and a
# change of slope still shows within a few dozen points.
DEFAULT_SMOOTHING = 0.6
# What `RunStore.step_losses_frame` hands out.
STEP_LOSS_COLUMNS = ("run_id", "global_step", "epoch", "step", "steps_per_epoch", "loss")
STEP_LOSS_TABLE_COLUMNS = ("run_id", "label", "global_step", "epoch", "step", "steps_per_epoch",
                           "epoch_position", "loss", "smoothed")


def check_weight(weight: Any) -> float:
    """Returns a smoothing weight as a float after checking it lies in [0, 1).

    Raises:
        ValueError: for anything but a real number from 0 (no smoothing) up to,
            not including, 1 (a weight of 1 would never move from the first value).
    """
    if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise ValueError(f"smoothing weight: received {weight!r} ({type(weight).__name__}), expected a "
                         f"number from 0 (raw curve) up to but not including 1, such as {DEFAULT_SMOOTHING}")
    value = float(weight)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"smoothing weight: received {weight!r}, expected a number from 0 (raw curve) up "
                         f"to but not including 1, such as {DEFAULT_SMOOTHING}; 1 would flatten the curve "
                         f"to its first value")
    return value


def ema(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """Returns TensorBoard's debiased exponential moving average of a curve.

    The same filter as TensorBoard's scalar smoothing (`classicSmoothing` in
    tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts, formerly
    vz_line_chart2/line-chart.ts): `last = weight * last + (1 - weight) * value`
    starting from `last = 0`, and each output divided by `1 - weight**t`,
    t the number of finite values so far. Starting from 0 biases the average
    towards 0 (after t points of a constant c it is c * (1 - weight**t)), and
    the division removes exactly that: the first output is the first value
    and a constant curve stays constant. As in TensorBoard, a curve whose
    values are all equal is returned as it is, and a non-finite value (NaN,
    inf) is passed through without entering the average.

    Args:
        values: the curve, first point first (loss per recorded step).
        weight: from 0 (no smoothing: the values come back) up to, not
            including, 1 (heavier smoothing); TensorBoard's slider.

    Returns:
        float64 array of the same length as `values`.

    Raises:
        ValueError: for a weight outside [0, 1) or values that are not one
            number per point.
    """
    weight = check_weight(weight)
    try:
        curve = np.asarray(pd.Series(values, dtype="float64").to_numpy(na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"values: received non-numeric values ({error}), expected one number per "
                         f"recorded step") from None
    if curve.ndim != 1:
        raise ValueError(f"values: received shape {curve.shape}, expected one number per recorded step")
    if curve.size == 0 or weight == 0.0 or bool(np.all(curve == curve[0])):
        return curve.copy()
    smoothed = curve.copy()
    last, finite_seen = 0.0, 0
    for index, value in enumerate(curve):
        if not math.isfinite(value):
            continue  # passed through: a NaN must not poison every later point
        last = last * weight + (1.0 - weight) * value
        finite_seen += 1
        smoothed[index] = last / (1.0 - weight ** finite_seen)
    return smoothed


def smooth_by_run(step_losses: pd.DataFrame, weight: float = DEFAULT_SMOOTHING) -> pd.Series:
    """Returns `ema` of each run's loss in step order, aligned with `step_losses`' rows.

    Args:
        step_losses: rows with run_id, global_step and loss (a step-loss
            table, in any row order).
        weight: the smoothing weight (see `ema`).

    Returns:
        float64 Series indexed like `step_losses`.

    Raises:
        ValueError: for a bad weight or missing columns.
    """
    weight = check_weight(weight)
    require_columns(step_losses, ["run_id", "global_step", "loss"], "step losses")
    smoothed = pd.Series(np.nan, index=step_losses.index, dtype="float64")
    ordered = step_losses.sort_values(["run_id", "global_step"], kind="stable")
    for _, run in ordered.groupby("run_id", sort=False):
        smoothed.loc[run.index] = ema(run["loss"].to_numpy(dtype=np.float64, na_value=np.nan), weight)
    return smoothed


def step_loss_table(
    store, run_ids: Iterable[str], *, weight: float = DEFAULT_SMOOTHING, runs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Returns the runs' recorded training loss per step, labelled and smoothed, for the chart.

    Each point is the mean training loss of the batches since the run's
    previous point in that epoch (`seqlab.training.StepLossRecorder`), at
    most `seqlab.training.STEP_LOSS_MAX_POINTS` per run.

    Args:
        store: the `RunStore` (its `step_losses_frame` and, without `runs`,
            `runs_frame` are read).
        run_ids: the runs to include; runs with no recorded steps (recorded
            before step losses were, or not started) have no rows.
        weight: the smoothing weight of the `smoothed` column (see `ema`);
            `seqlab.curve_charts.smoothed_loss_chart` smooths again with its
            own weight, so a slider needs no new read.
        runs: the runs' frame, best labelled once by
            `analysis.labels.label_runs` (None: read from the store and
            labelled here).

    Returns:
        Columns `STEP_LOSS_TABLE_COLUMNS`: run_id, label (unique per run),
        global_step (1-based over the whole run), epoch (1-based), step
        (batches done in the epoch), steps_per_epoch, epoch_position
        (epoch - 1 + step / steps_per_epoch: runs with other batch sizes line
        up), loss (NaN where it was not finite) and smoothed; ordered by
        run_id and global_step.

    Raises:
        ValueError: for a bad weight.
    """
    weight = check_weight(weight)
    run_ids = [run_ids] if isinstance(run_ids, str) else [str(run_id) for run_id in run_ids]
    frame = store.step_losses_frame(run_ids)
    if runs is None:
        runs = store.runs_frame(run_ids)
    labels = run_labels(runs)
    table = with_labels(frame[list(STEP_LOSS_COLUMNS)], labels[["run_id", "label"]])
    table["epoch_position"] = (table["epoch"] - 1 + table["step"] / table["steps_per_epoch"]).astype("float64")
    table["smoothed"] = smooth_by_run(table, weight)
    return table.sort_values(["run_id", "global_step"], kind="stable", ignore_index=True)[
        list(STEP_LOSS_TABLE_COLUMNS)]
