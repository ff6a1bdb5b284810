"""Sweeps: runs that differ in one setting, read point by point."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from seqlab.analysis.frames import COMPLETED_STATUSES, completed, config_columns, require_columns

# Settings that may differ between the runs of one sweep besides the swept one.
SWEEP_FREE_COLUMNS = ("model.arch", "seed", "name")


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
        Columns arch, value, seconds_per_epoch (the steady figure, mean over
        the runs, i.e. the seeds), compile_seconds (the one-off cost, mean over
        the runs), val_accuracy (mean best validation accuracy),
        val_accuracy_std (NaN for one run), n_runs, run_ids (list), sorted by
        arch and value.

    Raises:
        ValueError: if `vary` is not a column of `summary`.
    """
    if vary not in summary:
        options = config_columns(summary)
        raise ValueError(
            f"vary: received {vary!r}, expected a config column of the summary such as "
            f"{', '.join(options[:6]) or 'data.sequence_length'}"
        )
    require_columns(summary, ["run_id", "arch", "seconds_per_epoch", "best_val_accuracy"], "summary")
    rows = summary.dropna(subset=[vary, "best_val_accuracy"])
    if "compile_seconds" not in rows:
        rows = rows.assign(compile_seconds=float("nan"))
    if statuses is not None and "status" in rows:
        rows = rows[rows["status"].isin(statuses)]
    table = rows.groupby(["arch", vary], sort=True).agg(
        seconds_per_epoch=("seconds_per_epoch", "mean"),
        compile_seconds=("compile_seconds", "mean"),
        val_accuracy=("best_val_accuracy", "mean"),
        val_accuracy_std=("best_val_accuracy", "std"),
        n_runs=("run_id", "size"),
        run_ids=("run_id", list),
    )
    columns = ["arch", "value", "seconds_per_epoch", "compile_seconds", "val_accuracy", "val_accuracy_std",
               "n_runs", "run_ids"]
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
    done = completed(summary)
    if done.empty or vary not in done:
        return []
    free = {vary, *SWEEP_FREE_COLUMNS}
    if vary == "data.sequence_length":
        free.add("data.synthetic_length")
    fixed = [column for column in config_columns(done, seed=False) if column not in free]
    # Plain tuples: a pandas groupby over ~30 columns costs far more for a few dozen runs.
    members: dict[tuple, list[int]] = {}
    for position, key in enumerate(zip(*(done[column].tolist() for column in fixed))):
        members.setdefault(key, []).append(position)
    values, run_ids = done[vary].tolist(), done["run_id"].tolist()
    families = [[run_ids[p] for p in positions] for positions in members.values()
                if len({values[p] for p in positions}) >= 2]
    return sorted(families, key=len, reverse=True)
