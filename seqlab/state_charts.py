"""Altair charts of what a recurrent run remembers: state heatmaps, gates, running prediction.

Pure functions from one text's tables (`seqlab.states.state_table` and
`running_prediction_table`) to charts, with the conventions of
`seqlab.attention_charts`: a title, tooltips, a "no data yet" chart for an
empty table, every token labelled in reading order on the x axis (ticks read
"position: token" when a token repeats), and a bounded width. Widths are
fixed from the number of tokens (a band of `TOKEN_STEP` pixels each, less for
long windows) so up to `MAX_CHART_TOKENS` tokens fit a `PAGE_WIDTH` page; a
longer text is shown a window at a time (`start`).

A layer with more than `MAX_UNITS` units shows `MAX_UNITS` of them (the most
variable over the text, or the first), and says so in the chart's subtitle;
`select_units` gives pages the same choice and its note.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.charts import empty_chart, is_empty
from seqlab.states import GATES

# The widest page a chart must fit (Streamlit's wide layout) and what the y title,
# unit labels and facet spacing take beside the plot.
PAGE_WIDTH, LABEL_WIDTH = 1100, 140
# Pixels per token: short texts get wide columns (readable on a projector); long windows
# shrink to the smallest band a 7 px vertical label still fits, which sets how many tokens
# one chart shows.
TOKEN_STEP, MIN_TOKEN_STEP = 40, 8
MAX_CHART_TOKENS = (PAGE_WIDTH - LABEL_WIDTH) // MIN_TOKEN_STEP
# Rows of a heatmap: at most this many units, each at least UNIT_BAND px high (more for few units).
MAX_UNITS, UNIT_BAND, MAX_UNIT_BAND, HEATMAP_HEIGHT = 64, 8, 20, 240
# What a stretched heatmap's title, vertical token labels, axis title and legend take.
HEATMAP_MARGIN = 200
FACET_SPACING = 16
UNIT_ORDERS = ("variance", "first")
# Diverging colours, white at 0, for h, c and candidates; sequential 0..1 for gates.
DIVERGING_SCHEME, GATE_SCHEME = "blueorange", "viridis"
QUANTITY_TITLES = {
    "hidden": "hidden state h", "cell_state": "cell state c", "candidate": "candidate",
    "input_gate": "input gate", "forget_gate": "forget gate", "output_gate": "output gate",
    "update_gate": "update gate", "reset_gate": "reset gate",
}
_STATE_COLUMNS = ["layer", "direction", "quantity", "position", "token", "unit", "value"]
_CHART_COLUMNS = ["quantity", "position", "token", "unit", "value", "probability", "change",
                  "class_name"]


def select_units(state_table: pd.DataFrame, max_units: int = MAX_UNITS,
                 order: str = "variance") -> tuple[pd.DataFrame, str | None]:
    """Keeps at most `max_units` units of a state table, and says which when some are left out.

    Units are chosen once per (layer, direction), over all the quantities the
    table holds, so a unit's gates and state stay side by side.

    Args:
        state_table: rows of `seqlab.states.state_table`.
        max_units: the most units kept (at least 1).
        order: "variance" keeps the units whose values vary most over the
            text, "first" the lowest-numbered ones.

    Returns:
        (the table with only the kept units, a sentence saying what was kept,
        or None when every unit is kept).

    Raises:
        ValueError: for missing columns, `max_units` below 1 or an unknown order.
    """
    require_columns(state_table, _STATE_COLUMNS, "state table")
    if int(max_units) < 1:
        raise ValueError(f"max_units: received {max_units!r}, expected at least 1")
    if order not in UNIT_ORDERS:
        raise ValueError(f"order: received {order!r}, expected one of {', '.join(UNIT_ORDERS)}")
    units = np.sort(state_table["unit"].unique())
    if len(units) <= max_units:
        return state_table, None
    keys = ["layer", "direction"]
    kept_parts = []
    for _, part in state_table.groupby(keys, sort=False):
        if order == "first":
            chosen = np.sort(part["unit"].unique())[:max_units]
        else:
            spread = part.groupby("unit")["value"].std(ddof=0).fillna(0.0)
            chosen = spread.sort_values(ascending=False, kind="stable").index[:max_units]
        kept_parts.append(part[part["unit"].isin(chosen)])
    kept = pd.concat(kept_parts)
    which = "the most variable over this text" if order == "variance" else "the first"
    note = f"Showing {max_units} of {len(units)} units ({which})."
    return kept.sort_index(), note


def state_heatmap_chart(state_table: pd.DataFrame, quantity: str = "hidden", layer: int | None = None,
                        direction: str = "forward", *, max_units: int = MAX_UNITS,
                        unit_order: str = "variance", start: int = 0) -> alt.Chart:
    """Heatmap of one quantity of one layer's direction: units (rows) x tokens (columns).

    Tokens run left to right in reading order (a backward direction's values
    are aligned to the same order), every one labelled. States and
    candidates are coloured diverging around 0 (white), symmetric about the
    largest magnitude shown; gates from 0 to 1.

    Args:
        state_table: rows of `seqlab.states.state_table` for one text.
        quantity: e.g. "hidden", "cell_state", "forget_gate".
        layer: the recurrent layer (from 1); None takes the last.
        direction: "forward" or "backward".
        max_units: the most units drawn (see `select_units`).
        unit_order: which units when there are more: "variance" or "first".
        start: the first token position drawn (a window of at most
            `MAX_CHART_TOKENS` tokens).

    Returns:
        Rects coloured by value, tooltip token / position / unit / value; the
        subtitle says when units or tokens were left out.

    Raises:
        ValueError: for missing columns, or a layer, direction or quantity
            the table does not hold.
    """
    title = f"{QUANTITY_TITLES.get(quantity, quantity)} after each token"
    if is_empty(state_table):
        return empty_chart(title)
    chosen = _chosen(state_table, layer, direction, quantities=[quantity])
    layer = int(chosen["layer"].iloc[0])
    title = f"{QUANTITY_TITLES.get(quantity, quantity)} of layer {layer} ({direction}) after each token"
    chosen, notes = _windowed(chosen, start)
    chosen, unit_note = select_units(chosen, max_units, unit_order)
    notes += [unit_note] if unit_note else []
    data, order, step = _with_labels(chosen)
    units = data["unit"].nunique()
    band = int(np.clip(HEATMAP_HEIGHT // max(units, 1), UNIT_BAND, MAX_UNIT_BAND))
    return alt.Chart(data).mark_rect().encode(
        x=alt.X("label:O", sort=order, title="token (in reading order)", axis=_token_axis(step)),
        y=alt.Y("unit:O", title="unit", axis=alt.Axis(labelOverlap="greedy", labelFontSize=8)),
        color=_value_colour(quantity, data["value"]),
        tooltip=_state_tooltip(),
    # Streamlit stretches the chart to the page and fits all of it (title, token labels,
    # legend) into `height`, so the margin they take is added to the rows' height.
    ).properties(title=_title(title, notes), width="container",
                 height=HEATMAP_MARGIN + band * units)


def gates_chart(state_table: pd.DataFrame, layer: int | None = None, direction: str = "forward", *,
                max_units: int = MAX_UNITS, unit_order: str = "variance", start: int = 0) -> alt.Chart:
    """Small heatmaps of every gate of one layer's direction, side by side when they fit.

    LSTM: input, forget and output gates; GRU: update and reset gates
    (SimpleRNN has none: the chart says so). Colours run from 0 to 1, shared
    by all gates; every token labelled; as many gates a row as fit
    `PAGE_WIDTH`.

    Args:
        state_table: rows of `seqlab.states.state_table` for one text.
        layer: the recurrent layer (from 1); None takes the last.
        direction: "forward" or "backward".
        max_units: the most units drawn (see `select_units`).
        unit_order: which units when there are more: "variance" or "first".
        start: the first token position drawn.

    Returns:
        A chart faceted by gate (fixed-size cells).

    Raises:
        ValueError: for missing columns, or a layer or direction the table
            does not hold.
    """
    title = "Gates after each token"
    if is_empty(state_table):
        return empty_chart(title)
    chosen = _chosen(state_table, layer, direction)
    layer = int(chosen["layer"].iloc[0])
    title = f"Gates of layer {layer} ({direction}) after each token"
    gates = [gate for gate in GATES if gate in set(chosen["quantity"])]
    if not gates:
        return empty_chart(title, "this layer has no gates (SimpleRNN): see its hidden state")
    chosen, notes = _windowed(chosen[chosen["quantity"].isin(gates)], start)
    chosen, unit_note = select_units(chosen, max_units, unit_order)
    notes += [unit_note] if unit_note else []
    data, order, step = _with_labels(chosen)
    data = data.assign(gate=data["quantity"].map(QUANTITY_TITLES))
    units = data["unit"].nunique()
    band = int(np.clip(HEATMAP_HEIGHT // 2 // max(units, 1), UNIT_BAND // 2, MAX_UNIT_BAND))
    width = step * len(order)
    columns = max(1, min(len(gates), (PAGE_WIDTH - LABEL_WIDTH) // (width + FACET_SPACING)))
    return alt.Chart(data).mark_rect().encode(
        # No x title under each facet: side by side they would overlap; the title says it.
        x=alt.X("label:O", sort=order, title=None, axis=_token_axis(step)),
        y=alt.Y("unit:O", title="unit", axis=alt.Axis(labelOverlap="greedy", labelFontSize=8)),
        color=_value_colour("input_gate", data["value"]),
        facet=alt.Facet("gate:N", title=None, sort=[QUANTITY_TITLES[gate] for gate in gates],
                        columns=columns, spacing=FACET_SPACING),
        tooltip=[alt.Tooltip("gate:N"), *_state_tooltip()],
    ).properties(title=_title(title, notes), width=width, height=band * units)


def running_prediction_chart(running_table: pd.DataFrame, *, start: int = 0) -> alt.LayerChart | alt.Chart:
    """Line and points of the running probability over the tokens, in reading order.

    A dashed rule marks 0.5 (the binary decision threshold); y runs from 0 to
    1; every token labelled on the x axis.

    Args:
        running_table: rows of `seqlab.states.running_prediction_table`:
            position, token, probability, class_name (change optional).
        start: the first token position drawn.

    Returns:
        The layered chart, tooltip position / token / probability / change.

    Raises:
        ValueError: on missing columns.
    """
    title = "Running prediction after each token"
    if is_empty(running_table):
        return empty_chart(title)
    require_columns(running_table, ["position", "token", "probability", "class_name"],
                    "running prediction table")
    class_name = str(running_table["class_name"].iloc[0])
    data, notes = _windowed(running_table, start)
    data, order, step = _with_labels(data)
    if "change" not in data:
        data = data.assign(change=data["probability"].diff())
    x = alt.X("label:O", sort=order, title="token (in reading order)", axis=_token_axis(step))
    base = alt.Chart(data).encode(
        x=x,
        y=alt.Y("probability:Q", title=f"P({class_name})", scale=alt.Scale(domain=[0, 1])),
    )
    line = base.mark_line()
    points = base.mark_point(filled=True, size=40).encode(tooltip=[
        alt.Tooltip("position:Q"), alt.Tooltip("token:N"),
        alt.Tooltip("probability:Q", format=".3f"),
        alt.Tooltip("change:Q", title="change from the previous token", format="+.3f"),
    ])
    threshold = alt.Chart(pd.DataFrame({"threshold": [0.5]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y="threshold:Q")
    title = f"Probability of {class_name!r} after each token"
    return alt.layer(line, points, threshold).properties(
        title=_title(title, notes), width=max(step * len(order), 200), height=220)


# ---------------------------------------------------------------- helpers
def _chosen(state_table: pd.DataFrame, layer: int | None, direction: str,
            quantities: list[str] | None = None) -> pd.DataFrame:
    """The rows of one layer's direction (and quantities), or says what the table holds."""
    require_columns(state_table, _STATE_COLUMNS, "state table")
    layer = int(state_table["layer"].max()) if layer is None else layer
    chosen = state_table[(state_table["layer"] == layer) & (state_table["direction"] == direction)]
    if chosen.empty:
        pairs = state_table[["layer", "direction"]].drop_duplicates().itertuples(index=False)
        raise ValueError(
            f"layer/direction: received ({layer!r}, {direction!r}), expected one of "
            f"{', '.join(f'({p.layer}, {p.direction!r})' for p in pairs)}"
        )
    if quantities is not None:
        held = list(dict.fromkeys(chosen["quantity"]))
        missing = [name for name in quantities if name not in held]
        if missing:
            raise ValueError(
                f"quantity: received {missing[0]!r}, expected one of {', '.join(held)} "
                f"(what layer {layer} {direction} records)"
            )
        chosen = chosen[chosen["quantity"].isin(quantities)]
    return chosen


def _windowed(data: pd.DataFrame, start: int) -> tuple[pd.DataFrame, list[str]]:
    """At most MAX_CHART_TOKENS positions from `start`, and a note when some are left out."""
    positions = np.sort(data["position"].unique())
    if not 0 <= start < max(len(positions), 1):
        raise ValueError(
            f"start: received {start!r}, expected a token position from 0 to {len(positions) - 1}"
        )
    shown = positions[start:start + MAX_CHART_TOKENS]
    if len(shown) == len(positions):
        return data, []
    note = (f"Tokens {int(shown[0])} to {int(shown[-1])} of {len(positions)}; "
            f"pass start= to see the others.")
    return data[data["position"].isin(shown)], [note]


def _with_labels(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str], int]:
    """Adds unique token labels; returns (data, labels in reading order, pixels per token)."""
    names = data[["position", "token"]].drop_duplicates().sort_values("position")
    tokens = names["token"].astype(str)
    unique = not tokens.duplicated().any()
    labels = tokens if unique else names["position"].astype(str) + ": " + tokens
    label_of = dict(zip(names["position"], labels))
    order = list(labels)
    # Room for one facet's spacing too, so a faceted chart of one column still fits.
    room = PAGE_WIDTH - LABEL_WIDTH - FACET_SPACING
    step = int(np.clip(room // max(len(order), 1), MIN_TOKEN_STEP, TOKEN_STEP))
    # Only what the charts encode travels to the browser (a heatmap has a row per cell).
    kept = [column for column in _CHART_COLUMNS if column in data]
    return data[kept].assign(label=data["position"].map(label_of)), order, step


def _token_axis(step: int) -> alt.Axis:
    """A vertical token axis that draws every label (Vega-Lite would drop overlapping ones)."""
    return alt.Axis(labelAngle=-90, labelOverlap=False, labelFontSize=min(10, step - 1),
                    labelLimit=100, labelPadding=2)


def _value_colour(quantity: str, values: pd.Series) -> alt.Color:
    """Gates 0..1; other quantities diverging around 0, symmetric about the largest magnitude."""
    title = "gate value" if quantity in GATES else QUANTITY_TITLES.get(quantity, quantity)
    legend = alt.Legend(orient="bottom", title=title)
    if quantity in GATES:
        return alt.Color("value:Q", scale=alt.Scale(domain=[0, 1], scheme=GATE_SCHEME), legend=legend)
    largest = float(np.nanmax(np.abs(values))) if len(values) else 1.0
    largest = largest if largest > 0 else 1.0
    return alt.Color("value:Q", legend=legend, scale=alt.Scale(
        domain=[-largest, largest], domainMid=0, scheme=DIVERGING_SCHEME))


def _state_tooltip() -> list[alt.Tooltip]:
    return [alt.Tooltip("token:N"), alt.Tooltip("position:Q"), alt.Tooltip("unit:Q"),
            alt.Tooltip("value:Q", format=".3f")]


def _title(text: str, notes: list[str]) -> alt.Title | str:
    return alt.Title(text, subtitle=notes) if notes else text
