"""Tidy tables of recorded curves, for the Compare page's charts and tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqlab.analysis.curves import early_stopping_replay, overfitting_onset
from seqlab.analysis.frames import (
    KEY_HYPERPARAMETERS, best_rows, check_patience, config_columns, epochs_frame, require_columns,
    runs_frame, sorted_epochs, split_by_run,
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


def epoch_timing(seconds: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Splits a run's epoch times into the one-off compile cost and the steady seconds per epoch.

    The first epoch also traces and XLA-compiles the training step, the
    evaluation step and their shapes for a short last batch; later epochs
    reuse them. So the steady figure is the median of the epochs after the
    first, and the one-off cost what the first took beyond it.

    Args:
        seconds: the full epochs' seconds in order (None/NaN are skipped).

    Returns:
        (compile_seconds, seconds_per_epoch); both None with fewer than two
        timed epochs, where nothing tells the compile from the work.
    """
    timed = [float(value) for value in seconds
             if value is not None and math.isfinite(float(value)) and float(value) >= 0]
    if len(timed) < 2:
        return None, None
    steady = float(np.median(timed[1:]))
    return max(timed[0] - steady, 0.0), steady


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
        value, majority_fraction (the run's validation majority-class share,
        the accuracy charts' chance line; NaN when not recorded). Missing
        values (a run without validation) are left out.

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
    table["majority_fraction"] = table["run_id"].map(_run_column(runs_frame(runs), "majority_fraction")).astype(float)
    columns = ["run_id", "label", "arch", "group_id", "group_label", "epoch", "split", "metric", "value",
               "majority_fraction"]
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


# The figures `curve_summary_table` reads from each run's curves. Once a run has
# finished they cannot change, so the store keeps them (its `summaries` table)
# and the Compare page reads them instead of every run's epochs.
CURVE_SUMMARY_COLUMNS = (
    "epochs_run", "best_val_loss", "best_val_accuracy", "final_val_accuracy", "gap_final",
    "curve_best_epoch", "val_accuracy_at_best_epoch", "overfit_epoch", "curve_compile_seconds",
    "curve_seconds_per_epoch",
)
# Which rules computed a stored summary. Raise it when a rule that feeds
# `curve_summary_table` changes (best epoch, onset, timing): the store then
# computes the summaries it kept again, from the epochs, when next read.
CURVE_SUMMARY_RULES = 1


def curve_summary_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns what one run's curves say, one row per run: the part of a summary that needs epochs.

    Args:
        epochs: `store.epochs_frame(...)` (runs not in `runs` are ignored).
        runs: the runs to summarize: a frame with run_id and, when recorded,
            best_epoch (the epoch whose weights the run kept).

    Returns:
        One row per run of `runs`, in its order, with run_id and
        `CURVE_SUMMARY_COLUMNS`: epochs_run (0 for a run without epochs, whose
        other figures are NaN/NA), best_val_loss, best_val_accuracy (highest
        over epochs), final_val_accuracy and gap_final (val_loss - loss) at
        the last epoch, curve_best_epoch (lowest val_loss, earliest on ties),
        val_accuracy_at_best_epoch (at the recorded best_epoch, else at
        curve_best_epoch), overfit_epoch (`overfitting_onset`, NA if none),
        curve_compile_seconds and curve_seconds_per_epoch (`epoch_timing` of
        the full epochs). Epochs and best epochs are Int64.

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    runs = runs_frame(runs)
    ids = pd.Index(runs["run_id"])
    epochs = epochs_frame(epochs)
    epochs = sorted_epochs(epochs[epochs["run_id"].isin(ids)])
    grouped = epochs.groupby("run_id", sort=False)
    stats = grouped.agg(
        epochs_run=("epoch", "size"),
        best_val_loss=("val_loss", "min"),
        best_val_accuracy=("val_accuracy", "max"),
    )
    last = epochs.drop_duplicates("run_id", keep="last").set_index("run_id")
    stats["final_val_accuracy"] = last["val_accuracy"]
    stats["gap_final"] = last["val_loss"] - last["loss"]
    stats["curve_best_epoch"] = epochs.loc[best_rows(epochs)].set_index("run_id")["epoch"]
    stats["overfit_epoch"] = pd.Series(_overfit_epochs(epochs), dtype="float")
    timing = _timing_from_epochs(epochs)
    stats["curve_compile_seconds"] = timing["compile_seconds"]
    stats["curve_seconds_per_epoch"] = timing["seconds_per_epoch"]
    table = stats.reindex(ids)
    recorded = _run_column(runs, "best_epoch").to_numpy()
    best = pd.Series(np.where(np.isnan(recorded), table["curve_best_epoch"].to_numpy(dtype=float), recorded),
                     index=ids)
    at_best = epochs.drop_duplicates(["run_id", "epoch"]).set_index(["run_id", "epoch"])["val_accuracy"]
    known = best.dropna()
    found = at_best.reindex(pd.MultiIndex.from_arrays([known.index, known.astype("int64")]))
    table["val_accuracy_at_best_epoch"] = pd.Series(found.to_numpy(dtype=float), index=known.index).reindex(
        ids).to_numpy()
    table["epochs_run"] = table["epochs_run"].fillna(0)
    for column in ("epochs_run", "curve_best_epoch", "overfit_epoch"):
        table[column] = table[column].astype("Float64").round().astype("Int64")
    table = table.reset_index(names="run_id")
    return table[["run_id", *CURVE_SUMMARY_COLUMNS]]


def run_summary_table(epochs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per run for the Compare page, its curves read from `epochs`.

    `summary_table(runs, curve_summary_table(epochs, runs))`: the store keeps
    the curve part of every finished run (`RunStore.summaries_frame`), so a
    page that has it calls `summary_table` and reads no epochs.

    Args:
        epochs: `store.epochs_frame(...)`.
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.

    Returns:
        The table `summary_table` describes.

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    return summary_table(runs, curve_summary_table(epochs, runs))


def summary_table(runs: pd.DataFrame, curve_summaries: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per run for the Compare page, from the runs and what their curves say.

    Args:
        runs: `store.runs_frame(...)`, best labelled once by `labels.label_runs`.
        curve_summaries: `curve_summary_table(...)` or `store.summaries_frame(...)`
            of at least these runs (other rows are ignored; a run missing
            there counts as one without epochs).

    Returns:
        One row per run of `runs` (runs with no epochs yet have NaN/NA
        statistics) with columns: run_id, label, arch, status, group_id,
        group_label, dataset, the `KEY_HYPERPARAMETERS` present, num_params,
        epochs_run, seconds_per_epoch (steady: the median of the epochs after
        the first, as recorded with the run, else read from its epochs by
        `epoch_timing`; NaN with fewer than two epochs), compile_seconds (the
        one-off cost: the first epoch's extra time over that), best_epoch
        (lowest val_loss, earliest on ties: the epoch whose weights a run with
        `train.restore_best` kept), best_val_loss, best_val_accuracy (highest
        over epochs), val_accuracy_at_best_epoch, final_val_accuracy,
        test_accuracy (with the kept weights), test_accuracy_last (with the
        last epoch's), majority_fraction (the validation split's majority
        share: chance), gap_final (val_loss - loss at the last epoch),
        overfit_epoch (`overfitting_onset`, NA if none), then every other
        config column (for `sweep_table`).

    Raises:
        ValueError: if a frame lacks a needed column.
    """
    require_columns(curve_summaries, ["run_id", *CURVE_SUMMARY_COLUMNS], "curve summaries")
    labels = run_labels(runs)
    runs = runs_frame(runs)
    stats = curve_summaries.drop_duplicates("run_id", keep="last").set_index("run_id")
    recorded = {name: _run_column(runs, name) for name in _RECORDED}
    table = labels.merge(runs.drop(columns=["label", "arch", "group_id", "group_label", *_RECORDED],
                                   errors="ignore"), on="run_id", how="left")
    ids = table["run_id"]
    for column in ("epochs_run", "best_val_loss", "best_val_accuracy", "final_val_accuracy", "gap_final",
                   "overfit_epoch", "val_accuracy_at_best_epoch"):
        table[column] = ids.map(stats[column])
    table["seconds_per_epoch"] = ids.map(recorded["seconds_per_epoch"]).fillna(
        ids.map(stats["curve_seconds_per_epoch"])).astype(float)
    table["compile_seconds"] = ids.map(recorded["compile_seconds"]).fillna(
        ids.map(stats["curve_compile_seconds"])).astype(float)
    table["best_epoch"] = ids.map(recorded["best_epoch"]).astype(float).fillna(
        ids.map(stats["curve_best_epoch"]).astype("Float64").astype(float))
    table["test_accuracy_last"] = ids.map(recorded["test_accuracy_last"]).astype(float)
    table["majority_fraction"] = ids.map(recorded["majority_fraction"]).astype(float)
    for column in ("best_val_loss", "best_val_accuracy", "final_val_accuracy", "gap_final",
                   "val_accuracy_at_best_epoch"):
        table[column] = table[column].astype(float)
    table["epochs_run"] = table["epochs_run"].fillna(0)
    for column in ("epochs_run", "best_epoch", "overfit_epoch"):
        table[column] = table[column].astype("Float64").round().astype("Int64")
    for column in ("status", "dataset", "num_params", "test_accuracy"):
        if column not in table:
            table[column] = pd.NA if column in ("status", "dataset") else math.nan
    leading = [
        "run_id", "label", "arch", "status", "group_id", "group_label", "dataset",
        *[c for c in KEY_HYPERPARAMETERS if c in table],
        "num_params", "epochs_run", "seconds_per_epoch", "compile_seconds", "best_epoch",
        "best_val_loss", "best_val_accuracy", "val_accuracy_at_best_epoch", "final_val_accuracy",
        "test_accuracy", "test_accuracy_last", "majority_fraction", "gap_final", "overfit_epoch",
    ]
    settings = [c for c in config_columns(table) if c not in leading]
    return table[leading + settings].reset_index(drop=True)


# What the store records per run beside its epochs (`store.RESULT_COLUMNS`); the
# summary prefers these and reads the rest from the curves.
_RECORDED = ("seconds_per_epoch", "compile_seconds", "best_epoch", "test_accuracy_last",
             "majority_fraction")


def _run_column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A runs-frame column by run_id (all NaN when the frame lacks it, as hand-built frames may)."""
    if name not in runs:
        return pd.Series(math.nan, index=pd.Index(runs["run_id"]), dtype=float)
    return pd.Series(pd.to_numeric(runs[name], errors="coerce").astype(float).to_numpy(),
                     index=pd.Index(runs["run_id"]))


def _timing_from_epochs(sorted_epochs: pd.DataFrame) -> pd.DataFrame:
    """`epoch_timing` of each run's full epochs (a partial one, cut by a stop, is left out)."""
    full = sorted_epochs
    if "fraction" in full:
        full = full[pd.to_numeric(full["fraction"], errors="coerce").fillna(1.0) >= 1.0]
    rows = {run_id: epoch_timing(seconds) for run_id, seconds in split_by_run(full, "seconds")}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["compile_seconds", "seconds_per_epoch"],
                                  dtype=float)


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
