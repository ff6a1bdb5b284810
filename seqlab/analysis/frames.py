"""The two frames every analysis reads, checked once: epochs and runs.

- epochs: `store.epochs_frame(run_ids)`, one row per run and epoch with
  columns run_id, epoch (1-based), loss, accuracy, val_loss, val_accuracy,
  seconds.
- runs: `store.runs_frame(run_ids)`, one row per run with run_id, label, arch,
  status, group_id, num_params, test_accuracy, dataset, ... and the flattened
  config columns ("model.units", "data.sequence_length", "seed", ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

EPOCH_COLUMNS = ("run_id", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


KEY_HYPERPARAMETERS = (
    "model.units", "model.num_heads", "model.num_layers", "model.embedding_dim",
    "data.sequence_length", "train.learning_rate", "train.batch_size",
)


# Advice and sweeps compare finished recipes only: a stopped or running run's
# curves are cut short and would look worse (or better) than the recipe is.
COMPLETED_STATUSES = ("completed",)


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


def as_curve(name: str, values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1:
        return values  # already a curve (`split_by_run` hands these out, one per run)
    try:
        array = np.asarray(pd.Series(values, dtype="float64").to_numpy(na_value=np.nan), dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: received non-numeric values ({error}), expected numbers per epoch") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: received shape {array.shape}, expected one number per epoch")
    return array


def check_patience(patience: Any, minimum: int) -> None:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < minimum:
        raise ValueError(f"patience: received {patience!r}, expected an integer of at least {minimum}")


def epochs_frame(epochs: pd.DataFrame) -> pd.DataFrame:
    """Checks the store's epochs frame; an empty frame may come without columns."""
    if isinstance(epochs, pd.DataFrame) and epochs.empty and not set(EPOCH_COLUMNS) <= set(epochs.columns):
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "run_id" else "float64") for c in EPOCH_COLUMNS})
    require_columns(epochs, EPOCH_COLUMNS, "epochs (expected store.epochs_frame(...))")
    # A run without validation may record None: make every metric a float (None -> NaN).
    try:
        return epochs.astype({"epoch": "int64", **{c: "float64" for c in EPOCH_COLUMNS[2:]}})
    except (TypeError, ValueError) as error:
        raise ValueError(f"epochs: received a non-numeric metric or epoch ({error}); expected numbers") from None


def runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    if isinstance(runs, pd.DataFrame) and "run_id" not in runs and runs.empty:
        runs = pd.DataFrame({"run_id": pd.Series(dtype="object")})
    require_columns(runs, ["run_id"], "runs (expected store.runs_frame(...))")
    runs = runs.copy()
    for column in ("label", "arch", "group_id"):
        if column not in runs:
            runs[column] = pd.NA
    return runs


def sorted_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    return epochs.sort_values(["run_id", "epoch"], kind="stable").reset_index(drop=True)


def best_rows(sorted_epochs: pd.DataFrame) -> pd.Index:
    """Index of each run's lowest-val_loss row; earliest on ties since epochs are sorted."""
    valid = sorted_epochs.dropna(subset=["val_loss"])
    return pd.Index(valid.groupby("run_id", sort=False)["val_loss"].idxmin().to_numpy())


def split_by_run(sorted_epochs: pd.DataFrame, *columns: str):
    """Yields (run_id, column arrays...) per run without building sub-DataFrames."""
    if sorted_epochs.empty:
        return
    codes, run_ids = pd.factorize(sorted_epochs["run_id"])
    cuts = np.flatnonzero(np.diff(codes)) + 1
    parts = [np.split(sorted_epochs[c].to_numpy(dtype=float, na_value=np.nan), cuts) for c in columns]
    yield from zip(run_ids, *parts)


def config_columns(frame: pd.DataFrame, *, seed: bool = True) -> list[str]:
    """Returns the flattened config columns of a runs or summary frame ("model.units", ...).

    Args:
        frame: `store.runs_frame(...)` or a table built from it.
        seed: also return "seed" (the one config column without a dot).
    """
    return [c for c in frame.columns if "." in str(c) or (seed and c == "seed")]


def completed(summary: pd.DataFrame) -> pd.DataFrame:
    """Returns the rows of completed runs that recorded a validation accuracy."""
    return summary[summary["status"].isin(COMPLETED_STATUSES) & summary["best_val_accuracy"].notna()]
