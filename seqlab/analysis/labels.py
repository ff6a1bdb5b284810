"""Run labels that tell runs apart: computed once per load of the runs.

`label_runs` appends to runs (and seed groups) that share a label the
settings that tell them apart ("lstm 32u x1 seed 2"). The Compare page labels
its runs once when it loads them; every table then reads the `label` and
`group_label` columns instead of computing them again.
"""

from __future__ import annotations

import pandas as pd

from seqlab.analysis.frames import KEY_HYPERPARAMETERS, config_columns, runs_frame
from seqlab.analysis.words import setting_text

LABEL_COLUMNS = ["run_id", "label", "arch", "group_id", "group_label"]


def label_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Returns the runs with a unique `label` and a `group_label` per run.

    Runs (and groups) sharing a label get the settings that tell them apart
    appended ("lstm 32u x1 seed 2", "lstm 32u x1 sequence_length 60"); only
    true duplicates fall back to their id. Label the runs once when they are
    loaded and pass the result on: the tables read these columns instead of
    labelling again.

    Args:
        runs: `store.runs_frame(...)`.

    Returns:
        A copy of `runs` (the columns of `runs_frame` filled in) whose
        `label` is unique and with `group_label` (None outside a group).
    """
    runs = runs_frame(runs)
    table = runs[["run_id", "label", "arch", "group_id"]].copy()
    run_names = table["run_id"].astype(str)
    raw = table["label"].astype("object").where(table["label"].notna() & (table["label"].astype(str) != ""), run_names)
    raw = raw.astype(str)
    settings = setting_columns(runs)
    label = told_apart(raw, runs, settings)
    table["label"] = label.where(~label.duplicated(keep=False), raw + " #" + run_names)
    table["group_id"] = table["group_id"].astype("object").where(table["group_id"].notna(), None)
    grouped = table["group_id"].notna()
    first = runs[grouped].drop_duplicates("group_id")
    names = told_apart(raw[first.index], first, [c for c in settings if c != "seed"])
    names = names.where(~names.duplicated(keep=False), names + " #" + first["group_id"].astype(str))
    table["group_label"] = table["group_id"].map(dict(zip(first["group_id"], names)))
    table["group_label"] = table["group_label"].astype("object").where(grouped, None)
    return runs.drop(columns=["label", "group_id", "group_label"], errors="ignore").join(
        table[["label", "group_id", "group_label"]])


def setting_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns that can tell runs apart, the usual suspects first, the seed last."""
    config = config_columns(runs, seed=False)
    ordered = [c for c in KEY_HYPERPARAMETERS if c in config] + [c for c in config if c not in KEY_HYPERPARAMETERS]
    return ordered + (["seed"] if "seed" in runs else [])


def told_apart(names: pd.Series, runs: pd.DataFrame, columns: list[str]) -> pd.Series:
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
            parts = [f"{column.rpartition('.')[2]} {setting_text(row[column])}" for column in chosen]
            if parts:
                names[index] = f"{names[index]} {', '.join(parts)}"
    return names


def run_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """Returns `LABEL_COLUMNS` (run_id, label, arch, group_id, group_label) for every run.

    Runs labelled by `label_runs` keep their labels; other runs are labelled
    now (`label_runs`).

    Args:
        runs: `store.runs_frame(...)`, or `label_runs` of it.
    """
    if "group_label" not in runs:
        runs = label_runs(runs)
    return runs[LABEL_COLUMNS].copy()


def with_labels(frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Joins run labels onto `frame`; runs missing from `labels` are named by their id."""
    table = frame.merge(labels, on="run_id", how="left")
    missing = table["label"].isna()
    if missing.any():
        table.loc[missing, "label"] = table.loc[missing, "run_id"].astype(str)
    return table
