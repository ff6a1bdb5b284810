"""Altair charts of a hyperparameter search: the best loss over trials and which settings mattered.

Pure functions from `seqlab.views.search.SearchView`'s tables to charts,
with `seqlab.charts`' conventions (a title, tooltips, the container's width,
a chart that says why it is empty).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.charts import empty_chart, is_empty

BEST_TITLE = "Validation loss of each trial, and the best so far"
IMPORTANCE_TITLE = "Which settings mattered"
NO_TRIALS = "no trial has reported a validation loss yet"
NO_IMPORTANCES = "not estimated yet"
# The trial states drawn as points: completed ones solid, pruned ones (cut short) pale.
STATE_COLOURS = alt.Scale(domain=["COMPLETE", "PRUNED"], range=["#4c78a8", "#f58518"])
BEST_COLOUR = "#31333f"
# Streamlit fits a chart's title and axes inside its height: room for them, then each bar's.
BAR_ROOM, BAR_HEIGHT = 150, 40


def best_so_far_chart(trials: pd.DataFrame) -> alt.LayerChart | alt.Chart:
    """Each trial's value as a point and the best COMPLETE value so far as a step line.

    Args:
        trials: `SearchView.trials` (number, state, value, best_so_far,
            run_id, settings); trials without a value (failed, running)
            are left out.

    Returns:
        Points coloured by state (completed, pruned: its last reported loss)
        under a step line of the best so far; x the trial number, y the
        validation loss. Tooltip: trial, state, value, settings, run.

    Raises:
        ValueError: if a column is missing.
    """
    if is_empty(trials):
        return empty_chart(BEST_TITLE, NO_TRIALS)
    require_columns(trials, ["number", "state", "value", "best_so_far", "run_id", "settings"], "trials table")
    points = trials.dropna(subset=["value"])
    points = points[points["state"].isin(STATE_COLOURS.domain)]
    if points.empty:
        return empty_chart(BEST_TITLE, NO_TRIALS)
    x = alt.X("number:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d"))
    y_title = "best validation loss"
    dots = alt.Chart(points).mark_point(filled=True, size=70).encode(
        x=x, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("state:N", title="trial state", scale=STATE_COLOURS),
        tooltip=[alt.Tooltip("number:Q", title="trial"), alt.Tooltip("state:N"),
                 alt.Tooltip("value:Q", title=y_title, format=".4f"), alt.Tooltip("settings:N"),
                 alt.Tooltip("run_id:N", title="run")],
    )
    best = trials.dropna(subset=["best_so_far"])
    line = alt.Chart(best).mark_line(interpolate="step-after", color=BEST_COLOUR).encode(
        x=x, y=alt.Y("best_so_far:Q", title=y_title),
        tooltip=[alt.Tooltip("number:Q", title="trial"),
                 alt.Tooltip("best_so_far:Q", title="best so far", format=".4f")],
    )
    return alt.layer(line, dots).properties(
        title=alt.Title(BEST_TITLE, subtitle="the line is the lowest loss of the completed trials so far"),
        width="container", height=300)


def importance_chart(importances: pd.DataFrame) -> alt.Chart:
    """Bars of each searched setting's share of the variation in the validation loss.

    Args:
        importances: `SearchView.importances` (field, label, importance).

    Returns:
        One bar per setting, largest on top, x from 0 to 100 % (or an
        `empty_chart` when there are none yet).

    Raises:
        ValueError: if a column is missing.
    """
    if is_empty(importances):
        return empty_chart(IMPORTANCE_TITLE, NO_IMPORTANCES)
    require_columns(importances, ["field", "label", "importance"], "importances")
    order = importances.sort_values("importance", ascending=False)["field"].tolist()
    return alt.Chart(importances).mark_bar().encode(
        y=alt.Y("field:N", title="setting", sort=order, axis=alt.Axis(labelLimit=220)),
        x=alt.X("importance:Q", title="share of the loss's variation", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),
        tooltip=[alt.Tooltip("field:N", title="setting"), alt.Tooltip("label:N"),
                 alt.Tooltip("importance:Q", format=".1%")],
    ).properties(title=alt.Title(IMPORTANCE_TITLE,
                                 subtitle="Optuna's parameter importance (PED-ANOVA) over the completed trials"),
                 width="container", height=BAR_ROOM + BAR_HEIGHT * len(importances))
