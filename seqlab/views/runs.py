"""Run lists that several pages show: recent runs, runs with a saved model, deleting runs."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab.store import FINISHED_STATUSES, RunRecord, RunStore
from seqlab.views.datasets import dataset_name, dataset_title

ACTIVE_STATUSES = ("queued", "running")


# Most telling first: a narrow page shows these and scrolls to the rest.
RECENT_COLUMNS = ["label", "status", "progress", "best_val_accuracy", "test_accuracy", "test_accuracy_last",
                  "best_epoch", "dataset", "created", "run_id"]


def recent_runs_table(
    store: RunStore, limit: int = 10, statuses: Sequence[str] | None = None
) -> pd.DataFrame:
    """Returns the latest runs as `runs_table` rows (two queries)."""
    records = store.list_runs(statuses=statuses, limit=limit)
    return runs_table(records, store.epochs_frame([r.run_id for r in records]) if records else None)


def runs_table(records: Sequence[RunRecord], epochs: pd.DataFrame | None) -> pd.DataFrame:
    """Returns one row per run for a small table, `RECENT_COLUMNS`: label, status,
    progress ("3/5 epochs"), best_val_accuracy, test_accuracy (with the kept
    weights: the best epoch's when `train.restore_best`), test_accuracy_last
    (with the last epoch's), best_epoch (lowest validation loss), dataset
    (short name), created (UTC), run_id; and, second, workspace when the runs
    belong to more than one (the instructor's view, or shared runs shown).

    Args:
        records: the runs, in the order to show.
        epochs: `store.epochs_frame(...)` holding at least these runs' epochs.
    """
    if not records:
        return pd.DataFrame(columns=RECENT_COLUMNS)
    best = epochs.groupby("run_id")["val_accuracy"].max()
    done = epochs.groupby("run_id")["epoch"].max()
    rows = []
    for record in records:
        rows.append({
            "run_id": record.run_id,
            "label": record.label,
            "dataset": dataset_name(record.config.data.dataset),
            "status": record.status,
            "progress": f"{int(done.get(record.run_id, 0))}/{record.config.train.epochs} epochs",
            "best_val_accuracy": float(best.get(record.run_id, np.nan)),
            "test_accuracy": record.test_accuracy,
            "test_accuracy_last": record.test_accuracy_last,
            "best_epoch": record.best_epoch,
            "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(record.created_at)),
        })
    table = pd.DataFrame(rows, columns=RECENT_COLUMNS).astype(
        {"test_accuracy": "float64", "test_accuracy_last": "float64", "best_epoch": "Int64"})
    workspaces = [record.workspace for record in records]
    if len(set(workspaces)) > 1:  # the instructor's view, or shared runs shown: say whose each is
        table.insert(1, "workspace", workspaces)
    return table


def model_runs(store: RunStore, arch: str | None = None,
               archs: Sequence[str] | None = None) -> dict[str, str]:
    """Returns finished runs that saved a model (newest first): run_id -> "label (run_id)".

    Args:
        arch: keep only this architecture (e.g. "transformer").
        archs: keep only these architectures (e.g. the recurrent ones).
    """
    found = {}
    for record in store.list_runs(statuses=FINISHED_STATUSES):
        if (arch is not None and record.arch != arch) or (archs is not None and record.arch not in archs):
            continue
        if store.has_model(record.run_id):
            found[record.run_id] = f"{record.label} · {dataset_title(record.config.data.dataset)} ({record.run_id})"
    return found


def delete_runs(store: RunStore, run_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Deletes runs and their artifacts; returns (deleted ids, messages for those kept)."""
    deleted, problems = [], []
    for run_id in run_ids:
        try:
            store.delete_run(run_id)
            deleted.append(run_id)
        except (KeyError, ValueError) as error:
            problems.append(str(error.args[0]) if error.args else str(error))
    return deleted, problems
