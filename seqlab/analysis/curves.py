"""Rules on one run's curves: the best epoch, where overfitting starts, early stopping replayed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seqlab.analysis.frames import as_curve, check_patience


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
    values = as_curve("val_loss", val_loss)
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
    train = as_curve("loss", loss)
    validation = as_curve("val_loss", val_loss)
    if train.shape != validation.shape:
        raise ValueError(
            f"loss and val_loss: received {train.size} and {validation.size} epochs, "
            f"expected curves of the same run (same length)"
        )
    check_patience(patience, minimum=1)
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
    values = as_curve("val_metric_curve", val_metric_curve)
    if values.size == 0:
        raise ValueError(
            "val_metric_curve: received no epochs, expected the monitored value of "
            "at least one recorded epoch"
        )
    check_patience(patience, minimum=0)
    if mode not in ("min", "max"):
        raise ValueError(f"mode: received {mode!r}, expected 'min' (for losses) or 'max' (for accuracies)")
    if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or math.isnan(min_delta):
        raise ValueError(f"min_delta: received {min_delta!r}, expected a number such as 0.0 or 0.001")
    accuracy = None
    if val_accuracy is not None:
        accuracy = as_curve("val_accuracy", val_accuracy)
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
