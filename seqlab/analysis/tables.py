"""Tidy tables of recorded curves, for the Compare page's charts and tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from seqlab.analysis.curves import early_stopping_replay, overfitting_onset
from seqlab.analysis.frames import (
    KEY_HYPERPARAMETERS, best_rows, check_patience, config_columns, epochs_frame, runs_frame,
    sorted_epochs, split_by_run,
)
from seqlab.analysis.labels import run_labels, with_labels
from seqlab.analysis.words import early_stopping_sentence

# Recorded column -> (split, metric) of the tidy curves table.
CURVE_COLUMNS = {
    "loss": ("train", "loss"),
    "accuracy": ("train", "accuracy"),
    "val_loss": ("validation", "loss"),
    "val_accuracy": ("validation", "accuracy"),
}


def curves_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns the tidy curves for overlay charts.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.

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
    epochs = epochs_frame(epochs)
    labels = run_labels(runs)
    long = epochs.melt(
        id_vars=["run_id", "epoch"], value_vars=list(CURVE_COLUMNS),
        var_name="column", value_name="value",
    ).dropna(subset=["value"])
    long["split"] = long["column"].map({k: v[0] for k, v in CURVE_COLUMNS.items()})
    long["metric"] = long["column"].map({k: v[1] for k, v in CURVE_COLUMNS.items()})
    table = with_labels(long, labels)
    table["value"] = table["value"].astype(float)
    columns = ["run_id", "label", "arch", "group_id", "group_label", "epoch", "split", "metric", "value"]
    return table.sort_values(["run_id", "metric", "split", "epoch"], kind="stable")[columns].reset_index(drop=True)


def gap_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns validation-minus-training loss per run and epoch.

    A positive gap means the model does better on texts it has trained on;
    a gap that grows epoch after epoch is the picture of overfitting.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.

    Returns:
        Columns run_id, label, arch, epoch, gap (val_loss - loss), is_best
        (the run's lowest validation loss, earliest on ties). Epochs without
        both losses are left out.

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    epochs = sorted_epochs(epochs_frame(epochs))
    table = epochs.assign(gap=epochs["val_loss"] - epochs["loss"]).dropna(subset=["gap"])
    table["is_best"] = False
    table.loc[best_rows(epochs), "is_best"] = True
    table = with_labels(table, run_labels(runs))
    return table[["run_id", "label", "arch", "epoch", "gap", "is_best"]].reset_index(drop=True)


def run_summary_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per run for the Compare page.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.

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
    epochs = sorted_epochs(epochs_frame(epochs))
    labels = run_labels(runs)
    runs = runs_frame(runs)
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
    best = epochs.loc[best_rows(epochs)].set_index("run_id")
    stats["best_epoch"] = best["epoch"]
    stats["val_accuracy_at_best_epoch"] = best["val_accuracy"]
    stats["overfit_epoch"] = pd.Series(_overfit_epochs(epochs), dtype="float")
    for column in ("epochs_run", "best_epoch", "overfit_epoch"):
        stats[column] = stats[column].astype("Int64")

    table = labels.merge(runs.drop(columns=["label", "arch", "group_id", "group_label"], errors="ignore"),
                         on="run_id", how="left")
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
    settings = [c for c in config_columns(table) if c not in leading]
    return table[leading + settings].reset_index(drop=True)


def early_stopping_table(
    epochs: pd.DataFrame, runs: pd.DataFrame, patiences: Sequence[int] = (1, 2, 3, 5)
) -> pd.DataFrame:
    """Returns, per run and patience, what EarlyStopping on val_loss would have done.

    Replays the recorded curves (`early_stopping_replay` with mode "min",
    min_delta 0 and restore_best_weights=True); nothing is retrained.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.
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
        check_patience(patience, minimum=0)
    epochs = sorted_epochs(epochs_frame(epochs)).dropna(subset=["val_loss"])
    labels = run_labels(runs).set_index("run_id")["label"]
    rows = []
    for run_id, loss, accuracy in split_by_run(epochs, "val_loss", "val_accuracy"):
        for patience in patiences:
            result = early_stopping_replay(loss, patience, val_accuracy=accuracy)
            rows.append({
                "run_id": run_id,
                "label": labels.get(run_id, str(run_id)),
                **{k: result[k] for k in (
                    "patience", "stopped", "stopped_epoch", "best_epoch",
                    "val_accuracy_at_stop", "epochs_saved", "recorded_epochs",
                )},
                "sentence": early_stopping_sentence(result),
            })
    columns = [
        "run_id", "label", "patience", "stopped", "stopped_epoch", "best_epoch",
        "val_accuracy_at_stop", "epochs_saved", "recorded_epochs", "sentence",
    ]
    return pd.DataFrame(rows, columns=columns)


def _overfit_epochs(sorted_epochs: pd.DataFrame) -> dict[Any, float]:
    return {
        run_id: (onset if (onset := overfitting_onset(loss, val_loss)) is not None else math.nan)
        for run_id, loss, val_loss in split_by_run(sorted_epochs, "loss", "val_loss")
    }
