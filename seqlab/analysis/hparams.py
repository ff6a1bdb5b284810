"""Hyperparameters at a glance: which settings differ among some runs, each on an axis of [0, 1].

A parallel-coordinates chart (`seqlab.hparam_charts`) draws one vertical
axis per setting that differs among the runs, then the accuracies; every
run is a line through its values. This module computes where each run
crosses each axis, so the chart only places points: numbers on their own
scale (log for fields whose allowed range spans orders of magnitude, as
`seqlab.config.FIELDS` states it), categories evenly spaced in a stable
order (the field's choices, whichever runs are selected).

Axis titles are the fields' labels from `FIELDS`: no label is written here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.analysis.words import setting_text
from seqlab.config import FIELDS

# Not recipe choices: a run's name labels it, and a seed is the noise a comparison names.
IGNORED_SETTINGS = ("seed", "name")
# The last axes, after the settings: metric column -> axis title.
METRIC_AXES = {"best_val_accuracy": "best val. accuracy", "test_accuracy": "test accuracy"}
# A numeric field whose allowed range (FIELDS low..high, low > 0) spans at least this
# factor gets a log axis: units of 16, 32, 64 and learning rates of 1e-4, 1e-3 are steps
# of a factor (heads of 1, 2, 4, 8 too), so a linear axis would squeeze the small values together.
LOG_RANGE = 50
# `kind` values of the table: how an axis places its values.
LOG, LINEAR, CATEGORY, METRIC = "log", "linear", "category", "metric"
HYPERPARAMETER_COLUMNS = ["run_id", "label", "status", "axis", "title", "order", "kind", "text", "number",
                          "position", "best_val_accuracy", "test_accuracy"]
# Category texts of true/false fields ("Mask padding": on / off).
BOOLEAN_TEXTS = {False: "off", True: "on"}


def axis_kind(path: str) -> str:
    """Says how a field's axis places its values, from its row of `FIELDS`.

    Args:
        path: a field path such as "train.learning_rate".

    Returns:
        `LOG` for numbers whose allowed range starts above 0 and spans at
        least `LOG_RANGE` times (learning rate, units, batch size, ...),
        `LINEAR` for other numbers (dropout rate, layers), `CATEGORY` for
        text and true/false fields (architecture, optimizer, masking).

    Raises:
        ValueError: for a path that is not a field of `FIELDS`.
    """
    row = FIELDS.get(path)
    if row is None:
        raise ValueError(f"path: received {path!r}, expected a field of seqlab.config.FIELDS such as "
                         f"'train.learning_rate' or 'model.arch'")
    if row.kind not in (int, float):
        return CATEGORY
    if row.low is not None and row.low > 0 and row.high / row.low >= LOG_RANGE:
        return LOG
    return LINEAR


def varied_settings(summary: pd.DataFrame, ignored: Sequence[str] = IGNORED_SETTINGS) -> list[str]:
    """Returns the fields whose values differ among the rows, in `FIELDS` order.

    Args:
        summary: runs with flattened config columns ("model.units", ...), as
            `analysis.tables.summary_table` or `store.runs_frame` give them.
        ignored: fields never returned (by default the seed and the name).

    Returns:
        The field paths with at least two distinct values; values compare as
        text, as run labels compare them (1 and 1.0 are one value).

    Raises:
        ValueError: if `summary` is not a DataFrame.
    """
    require_columns(summary, [], "summary")
    return [path for path in FIELDS if path in summary and path not in ignored
            and summary[path].nunique(dropna=False) > 1]


def category_order(path: str, values: Sequence[Any]) -> list[str]:
    """Returns the distinct category texts of `values` in their stable order.

    The order is the field's (`FIELDS[path].choices`, or off before on for
    true/false fields), whatever order the runs come in; texts outside the
    choices (a dataset given as a file path) follow, sorted.

    Args:
        path: a field path of `FIELDS`.
        values: the runs' values of that field.

    Returns:
        Each distinct text once ("lstm", "gru", ...; "off", "on").

    Raises:
        ValueError: for a path that is not a field of `FIELDS`.
    """
    axis_kind(path)  # refuses an unknown path
    row = FIELDS[path]
    texts = {_category_text(path, value) for value in values}
    known = list(BOOLEAN_TEXTS.values()) if row.kind is bool else [str(choice) for choice in row.choices]
    return [text for text in known if text in texts] + sorted(texts - set(known))


def hyperparameter_table(summary: pd.DataFrame, ignored: Sequence[str] = IGNORED_SETTINGS) -> pd.DataFrame:
    """Returns where each run crosses each axis of a parallel-coordinates chart of its settings.

    Only runs that recorded a validation accuracy take part, and only the
    settings that differ among them get an axis (`varied_settings`), in
    `FIELDS` order, followed by the `METRIC_AXES` (test accuracy only when
    some run has one).

    Each axis is normalised to [0, 1] over these runs: numbers from their
    smallest (0) to their largest (1) value, on a log scale for `LOG`
    fields; categories evenly spaced in `category_order` (0, 1/2, 1 for
    three); accuracies linearly from the lowest to the highest (0.5 when
    all are equal).

    Args:
        summary: `analysis.tables.summary_table(...)` rows (run_id, label,
            best_val_accuracy, the config columns; status and test_accuracy
            when present).
        ignored: fields that never get an axis (by default the seed and the name).

    Returns:
        One row per run and axis (`HYPERPARAMETER_COLUMNS`): run_id, label,
        status, axis (the field path or metric column), title (the field's
        `FIELDS` label or the metric's title), order (the axis's place from
        0), kind (`LOG`, `LINEAR`, `CATEGORY` or `METRIC`), text (the value
        as shown), number (the numeric value; NaN for categories), position
        (in [0, 1]), and each run's best_val_accuracy and test_accuracy on
        every row (to colour its line). Empty (with these columns) when no
        run recorded a validation accuracy.

    Raises:
        ValueError: if `summary` lacks run_id, label or best_val_accuracy.
    """
    require_columns(summary, ["run_id", "label", "best_val_accuracy"], "summary")
    runs = summary[pd.to_numeric(summary["best_val_accuracy"], errors="coerce").notna()].reset_index(drop=True)
    if runs.empty:
        return pd.DataFrame({column: pd.Series(dtype="float64" if column in _FLOAT_COLUMNS else "object")
                             for column in HYPERPARAMETER_COLUMNS})
    base = pd.DataFrame({
        "run_id": runs["run_id"].astype(str), "label": runs["label"].astype(str),
        "status": runs["status"].astype(str) if "status" in runs else "",
        "best_val_accuracy": runs["best_val_accuracy"].astype("float64"),
        "test_accuracy": (pd.to_numeric(runs["test_accuracy"], errors="coerce").astype("float64")
                          if "test_accuracy" in runs else np.nan),
    })
    axes = [(path, FIELDS[path].label, axis_kind(path)) for path in varied_settings(runs, ignored)]
    axes += [(column, title, METRIC) for column, title in METRIC_AXES.items()
             if column in base and base[column].notna().any()]
    parts = []
    for order, (axis, title, kind) in enumerate(axes):
        values = base[axis] if kind == METRIC else runs[axis]
        text, number, position = _placed(axis, kind, values)
        part = base.assign(axis=axis, title=title, order=order, kind=kind, text=text, number=number,
                           position=position)
        parts.append(part[part["position"].notna()])  # a run without a test accuracy skips that axis
    table = pd.concat(parts, ignore_index=True)[HYPERPARAMETER_COLUMNS]
    return table.astype({column: "float64" for column in _FLOAT_COLUMNS}).astype({"order": "int64"})


# ---------------------------------------------------------------- helpers
_FLOAT_COLUMNS = ("number", "position", "best_val_accuracy", "test_accuracy")


def _placed(axis: str, kind: str, values: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Returns the texts, numbers and [0, 1] positions of one axis's values."""
    if kind == CATEGORY:
        order = category_order(axis, values.tolist())
        places = {text: index / max(len(order) - 1, 1) for index, text in enumerate(order)}
        texts = [_category_text(axis, value) for value in values.tolist()]
        return texts, np.full(len(texts), np.nan), np.array([places[text] for text in texts])
    numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    if kind == METRIC:
        texts = ["—" if math.isnan(number) else f"{number:.3f}" for number in numbers]
    else:
        texts = [setting_text(value) for value in values.tolist()]
    # A log field's values are above 0: `FIELDS` refuses any below its low end.
    scaled = np.log(numbers) if kind == LOG else numbers
    low, high = np.nanmin(scaled), np.nanmax(scaled)
    if high > low:
        position = (scaled - low) / (high - low)
    else:  # one value (an accuracy all runs share): the middle of the axis
        position = np.where(np.isnan(scaled), np.nan, 0.5)
    return texts, numbers, position


def _category_text(path: str, value: Any) -> str:
    if FIELDS[path].kind is bool:
        return BOOLEAN_TEXTS[bool(value)]
    return setting_text(value)
