"""Altair charts of where a run errs: the confusion matrix of its test split.

A pure function from `seqlab.analysis.errors.confusion_table` to a chart, with
the conventions of `seqlab.charts` and `seqlab.attention_charts` (title,
tooltips, a "no data yet" chart for an empty table, every label on its axis,
the page's width): built apart because it sizes itself per class, as the
attention heatmaps size themselves per token.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.charts import empty_chart, is_empty

# Pixels per class row, and what the title, x labels and legend take beside them.
CONFUSION_STEP, CONFUSION_MARGIN = 48, 160
# Class names on an axis are cut only past this many pixels: whole for any name a
# dataset gives, and the matrix keeps room on the page.
CONFUSION_LABEL_LIMIT = 240
# Counts are printed white on cells whose share of their true class is above this.
DARK_SHARE = 0.6


def confusion_chart(confusion_table: pd.DataFrame) -> alt.LayerChart | alt.Chart:
    """Heatmap of a confusion matrix: true classes (rows) x predicted classes (columns).

    Each cell is coloured by its share of the true class's examples (a row's
    shares sum to 1, so a class the run always gets right has one dark cell
    on the diagonal) and shows its count. Classes keep the table's order on
    both axes, every name whole and horizontal; the chart takes the page's
    width.

    Args:
        confusion_table: one row per (true, predicted) pair with columns
            true, predicted, count and share
            (`seqlab.analysis.errors.confusion_table`).

    Returns:
        Rects coloured by share with the counts printed on them, tooltip
        true / predicted / count / share of the true class.

    Raises:
        ValueError: if columns are missing.
    """
    title = "Confusion matrix on the test split: rows are true classes, columns predictions"
    if is_empty(confusion_table):
        return empty_chart(title)
    require_columns(confusion_table, ["true", "predicted", "count", "share"], "confusion table")
    data = confusion_table.assign(
        true=confusion_table["true"].astype(str), predicted=confusion_table["predicted"].astype(str),
        # A class without test examples has no share: drawn as 0, its tooltip still says 0 examples.
        shade=confusion_table["share"].fillna(0.0),
    )
    order = list(dict.fromkeys([*data["true"], *data["predicted"]]))
    axis = alt.Axis(labelAngle=0, labelOverlap=False, labelLimit=CONFUSION_LABEL_LIMIT, labelPadding=4)
    base = alt.Chart(data).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class", axis=alt.Axis(
            labelAngle=0, labelOverlap=False, labelLimit=CONFUSION_LABEL_LIMIT, orient="top")),
        y=alt.Y("true:N", sort=order, title="true class", axis=axis),
        tooltip=[
            alt.Tooltip("true:N", title="true class"), alt.Tooltip("predicted:N", title="predicted"),
            alt.Tooltip("count:Q", title="examples", format=","),
            alt.Tooltip("share:Q", title="share of the true class", format=".1%"),
        ],
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("shade:Q", title="share of the true class",
                        scale=alt.Scale(domain=[0, 1], scheme="blues"),
                        legend=alt.Legend(orient="bottom", format=".0%", values=[0, 0.25, 0.5, 0.75, 1])),
    )
    counts = base.mark_text(fontSize=13).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition(alt.datum.shade > DARK_SHARE, alt.value("white"), alt.value("black")),
    )
    # Streamlit fits the whole chart (title, labels and legend too) into `height`.
    return alt.layer(cells, counts).properties(
        title=title, width="container", height=CONFUSION_MARGIN + CONFUSION_STEP * len(order))
