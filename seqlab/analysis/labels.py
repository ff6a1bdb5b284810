"""Run labels that tell runs apart: computed once per load of the runs.

`label_runs` appends to runs (and seed groups) that share a label the
settings that tell them apart ("lstm 32u x1 seed 2"). The Compare page labels
its runs once when it loads them; every table then reads the `label` and
`group_label` columns instead of computing them again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqlab.analysis.frames import KEY_HYPERPARAMETERS, config_columns, runs_frame
from seqlab.analysis.words import setting_text

LABEL_COLUMNS = ["run_id", "label", "arch", "group_id", "group_label"]
SMALL = 200  # up to this many runs, `_text_codes` compares settings in plain Python


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
    left out. Settings compare as text (`str`), and a name sharing no run
    is left as it is.

    All the runs sharing a name are handled together, one setting at a time
    (numpy on integer codes), so a store of thousands of runs costs a few
    passes over its columns, not one pass per shared name.

    Args:
        names: one name per run, aligned with `runs` (same index).
        runs: the runs, with the `columns`.
        columns: the settings to try, in order ("model.units", ..., "seed").

    Returns:
        `names` with the settings appended where they are shared.
    """
    names = names.copy()
    shared = names.duplicated(keep=False).to_numpy()
    if not shared.any() or not columns:
        return names
    clashing = runs[shared]
    clash, _ = pd.factorize(names[shared], use_na_sentinel=False)
    clash = clash.astype(np.int64)
    sizes = np.bincount(clash)
    distinct = np.ones_like(sizes)  # distinct settings so far among the runs of each name
    key = np.zeros(len(clash), dtype=np.int64)  # each run's settings chosen so far, as one code
    chosen: list[tuple[str, np.ndarray]] = []  # (setting, the positions of the runs that take it)
    waiting = np.arange(len(clash))  # runs whose name still holds runs that look alike
    for column in columns:
        if waiting.size == 0:
            break
        codes = _text_codes(clashing[column].to_numpy()[waiting])
        candidate, _ = pd.factorize(key[waiting] * (codes.max() + 1) + codes)
        # Distinct (name, settings) pairs, counted per name.
        width = candidate.max() + 1
        _, pairs = pd.factorize(clash[waiting] * width + candidate)
        counts = np.bincount(pairs // width, minlength=len(sizes))
        taken = (distinct < sizes) & (counts > distinct)
        rows = taken[clash[waiting]]
        if rows.any():
            key[waiting[rows]] = candidate[rows]
            distinct = np.where(taken, counts, distinct)
            chosen.append((column, waiting[rows]))
        waiting = waiting[(distinct < sizes)[clash[waiting]]]
    # Each run's appended text, one setting at a time (numpy object arrays: no Python loop per run).
    appended = np.full(len(clash), "", dtype=object)
    for column, positions in chosen:
        texts = _setting_texts(clashing[column].iloc[positions])
        separators = np.where(appended[positions] == "", " ", ", ").astype(object)
        appended[positions] = appended[positions] + separators + (column.rpartition(".")[2] + " ") + texts
    names[shared] = names[shared].to_numpy(dtype=object) + appended
    return names


def _setting_texts(values: pd.Series) -> np.ndarray:
    """`setting_text` of each value, as an object array; computed once per distinct value where
    the column has one type (an object column may mix 1, 1.0 and True, which hash alike)."""
    if values.dtype == object:
        return np.array([setting_text(value) for value in values.tolist()], dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    texts = np.array([setting_text(value) for value in pd.Series(uniques).tolist()], dtype=object)
    return texts[codes]


def _text_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of the values compared as text: equal codes where `str(value)` is equal."""
    if len(values) <= SMALL:
        # A few runs (a selection): plain Python beats pandas' per-call overhead.
        seen: dict[str, int] = {}
        return np.array([seen.setdefault(str(value), len(seen)) for value in values], dtype=np.int64)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    seen = {}
    text_codes = np.array([seen.setdefault(str(value), len(seen)) for value in uniques], dtype=np.int64)
    return text_codes[codes]


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
