"""Altair chart of hyperparameters at a glance: parallel coordinates of the settings that differ.

A pure function from `seqlab.analysis.hparams.hyperparameter_table` (one
row per run and axis, each axis already normalised to [0, 1]) to a chart,
with `seqlab.charts`' conventions (title, tooltips, a chart that says why it
is empty). Altair has no parallel-coordinates mark, so it is layered here:
a rule per axis, one line per run through the axes (`detail` = run),
points at the crossings, and text marks for the axis titles and tick
labels, drawn inside the plot so nothing is cut at its edges.
"""

from __future__ import annotations

import textwrap

import altair as alt
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.analysis.hparams import CATEGORY, METRIC
from seqlab.charts import empty_chart, is_empty

TITLE = "Settings that differ among the selected runs, against their accuracy"
NO_RUNS = "none of the selected runs has recorded a validation accuracy yet"
# One line of `empty_chart`'s 14 px text: short enough for the narrowest page.
FEWER_THAN_TWO = "fewer than two settings differ among the selected runs ({varied})"
HEIGHT = 360
# The x scale's room beyond the first and last axis, in gaps between axes: each axis's title
# and tick labels start at its rule and run right, so the last one needs most of a gap.
LEFT_ROOM, RIGHT_ROOM = 0.06, 0.85
# The y scale: 0 and 1 are the ends of every axis; below them the axis titles, which hang
# down from TITLE_Y inside the scale so that Streamlit's fit to `HEIGHT` keeps them whole.
Y_DOMAIN, TITLE_Y = [-0.34, 1.05], -0.06
# Titles and labels fit the gap between two axes on the narrowest page the chart is drawn
# on (Streamlit's centred layout; wider pages only widen the gaps): they wrap between words,
# and with many axes the font shrinks (to SMALLEST_FONT at least) until the longest word
# fits. A character takes about CHARACTER_SHARE of the font size (a bold sans-serif's mean).
PAGE_WIDTH, CHARACTER_SHARE, SMALLEST_FONT = 700, 0.62, 8
TITLE_FONT, TICK_FONT = 11, 10
# Tick labels: every distinct value of an axis up to this many, else its two ends; one
# closer than MIN_TICK_GAP (of the axis) to a label already kept is left out.
MAX_TICKS, MIN_TICK_GAP = 6, 0.07
AXIS_COLOUR, TEXT_COLOUR = "#9a9a9a", "#31333f"
# High accuracy dark, low pale: the lines that worked stand out and are drawn on top.
ACCURACY_COLOURS = alt.Scale(scheme="viridis", reverse=True)


def hyperparameter_chart(hyperparameter_table: pd.DataFrame) -> alt.LayerChart | alt.Chart:
    """Parallel coordinates: one axis per setting that differs, then the accuracies; one line per run.

    Each line is a run, coloured by its best validation accuracy (darker is
    higher, drawn on top), crossing every axis at its value: numbers from
    the smallest (bottom) to the largest (top) among the runs (log axes
    for log-ranged fields), categories evenly spaced with their names, and
    the accuracies last. Axes are titled with the fields' labels; ticks
    name the values (every distinct one when few, else the two ends). The
    tooltip names the run and all of its values. Container width, `HEIGHT`
    pixels high; fewer than two differing settings give a chart saying so.

    Args:
        hyperparameter_table: `seqlab.analysis.hparams.hyperparameter_table(...)`
            (run_id, label, status, axis, title, order, kind, text, position,
            best_val_accuracy).

    Returns:
        Layers of axis rules, run lines, points and text (or `empty_chart`).

    Raises:
        ValueError: if the table lacks one of those columns.
    """
    if is_empty(hyperparameter_table):
        return empty_chart(TITLE, NO_RUNS)
    require_columns(hyperparameter_table, ["run_id", "label", "status", "axis", "title", "order", "kind",
                                           "text", "position", "best_val_accuracy"], "hyperparameter table")
    axes = (hyperparameter_table[["order", "axis", "title", "kind"]].drop_duplicates("order")
            .sort_values("order").reset_index(drop=True))
    settings = axes[axes["kind"] != METRIC]
    if len(settings) < 2:
        varied = f"only {settings['title'].iloc[0]} does" if len(settings) else "none does"
        return empty_chart(TITLE, FEWER_THAN_TWO.format(varied=varied))
    ticks_table = _tick_table(hyperparameter_table)
    title_font, title_width = _fitted(axes["title"], len(axes), TITLE_FONT)
    tick_font, tick_width = _fitted(ticks_table["text"], len(axes), TICK_FONT)
    x_scale = alt.Scale(domain=[-LEFT_ROOM, len(axes) - 1 + RIGHT_ROOM])
    y_scale = alt.Scale(domain=Y_DOMAIN)

    def x(field: str = "order") -> alt.X:
        return alt.X(f"{field}:Q", scale=x_scale, axis=None)

    def y(field: str) -> alt.Y:
        return alt.Y(f"{field}:Q", scale=y_scale, axis=None)

    rules = alt.Chart(axes.assign(bottom=0.0, top=1.0)).mark_rule(color=AXIS_COLOUR).encode(
        x=x(), y=y("bottom"), y2="top:Q")
    wrapped_titles = [_wrapped(text, title_width) for text in axes["title"]]
    titles = alt.Chart(axes.assign(y=TITLE_Y, wrapped=wrapped_titles)).mark_text(
        align="left", baseline="top", dx=-2, fontSize=title_font, fontWeight="bold", color=TEXT_COLOUR,
        lineBreak="\n",
    ).encode(x=x(), y=y("y"), text="wrapped:N")
    ticks_table = ticks_table.assign(wrapped=[_wrapped(text, tick_width) for text in ticks_table["text"]])
    tick_text = alt.Chart(ticks_table).encode(x=x(), y=y("position"), text="wrapped:N")
    tick_style = dict(align="left", baseline="middle", dx=4, fontSize=tick_font, lineBreak="\n")
    # A white outline under each label keeps it readable where run lines cross it.
    halos = tick_text.mark_text(**tick_style, stroke="white", strokeWidth=3, strokeJoin="round")
    ticks = tick_text.mark_text(**tick_style, color=TEXT_COLOUR)
    runs, tooltip = _run_table(hyperparameter_table, axes)
    colour = alt.Color("best_val_accuracy:Q", title="best val. accuracy", scale=ACCURACY_COLOURS,
                       legend=alt.Legend(type="gradient", orient="bottom", direction="horizontal", format=".3f",
                                         gradientLength=240))
    base = alt.Chart(runs).encode(x=x(), y=y("position"), tooltip=tooltip)
    lines = base.mark_line(strokeWidth=2, opacity=0.8).encode(color=colour, detail="run_id:N", order="order:Q")
    # Rings (stroke, as the lines): a filled point would add a fill scale, and Vega draws a legend
    # of both as symbols instead of the colour ramp.
    points = base.mark_point(shape="circle", size=36, filled=False, fill="white", fillOpacity=1,
                             strokeWidth=2).encode(color=colour)
    return alt.layer(rules, lines, points, halos, ticks, titles).properties(
        title=TITLE, width="container", height=HEIGHT,
    ).configure_view(strokeWidth=0)


# ---------------------------------------------------------------- helpers
def _fitted(texts: pd.Series, axes: int, largest: int) -> tuple[int, int]:
    """The font size and the characters a line for `texts` beside `axes` axes on a `PAGE_WIDTH` page.

    Returns:
        (font size, characters per line): the largest font up to `largest`
        whose longest word (a hyphenated one counts per part) fits the gap
        between two axes, and as many characters as fit it at that size.
    """
    gap = PAGE_WIDTH / (axes - 1 + LEFT_ROOM + RIGHT_ROOM) - 6  # less the labels' offset from the rule
    words = [part for text in texts for word in str(text).split() for part in word.split("-")]
    longest = max([len(word) + 1 for word in words] or [1])  # + 1: the hyphen, or a space
    font = max(SMALLEST_FONT, min(largest, int(gap / (longest * CHARACTER_SHARE))))
    return font, max(1, int(gap / (font * CHARACTER_SHARE)))


def _wrapped(text: str, width: int) -> str:
    """The text in lines of at most `width` characters; a longer word breaks only at a hyphen
    (a word cut elsewhere reads as two)."""
    lines = textwrap.wrap(str(text), width=width, break_on_hyphens=True, break_long_words=False)
    return "\n".join(lines) or str(text)


def _tick_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per tick label: order, position, text (the value as shown)."""
    rows = []
    for (order, kind), part in table.groupby(["order", "kind"], sort=True):
        values = part.drop_duplicates("position").sort_values("position")
        if kind == METRIC or (kind != CATEGORY and len(values) > MAX_TICKS):
            values = values.iloc[[0, -1]].drop_duplicates("position")
        kept: list[float] = []
        # The ends first, so a crowded middle label gives way to them, never the reverse.
        ends = list(dict.fromkeys([values.index[0], values.index[-1]]))
        for index in [*ends, *(index for index in values.index if index not in ends)]:
            position = float(values.at[index, "position"])
            if kind == CATEGORY or all(abs(position - other) >= MIN_TICK_GAP for other in kept):
                kept.append(position)
                rows.append({"order": order, "position": position, "text": str(values.at[index, "text"])})
    return pd.DataFrame(rows, columns=["order", "position", "text"])


def _run_table(table: pd.DataFrame, axes: pd.DataFrame) -> tuple[pd.DataFrame, list[alt.Tooltip]]:
    """The lines' rows, each carrying every value of its run (for the tooltip), lowest accuracy first.

    Tooltip fields are named value_0, value_1, ... (axis titles hold dots,
    which Vega-Lite would read as nested fields) and titled with the axes.
    """
    values = table.pivot_table(index="run_id", columns="order", values="text", aggfunc="first")
    values = values.reindex(columns=axes["order"]).fillna("—")
    values.columns = [f"value_{order}" for order in values.columns]
    runs = table[["run_id", "label", "status", "order", "position", "best_val_accuracy"]].merge(
        values, left_on="run_id", right_index=True, how="left")
    # Vega-Lite draws later lines over earlier ones: the most accurate runs end up on top.
    runs = runs.sort_values(["best_val_accuracy", "run_id", "order"], kind="stable").reset_index(drop=True)
    tooltip = [alt.Tooltip("label:N", title="run"), alt.Tooltip("status:N", title="status")]
    tooltip += [alt.Tooltip(f"value_{order}:N", title=str(title))
                for order, title in zip(axes["order"], axes["title"])]
    return runs, tooltip
