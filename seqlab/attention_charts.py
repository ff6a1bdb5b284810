"""Altair charts of attention: a head's heatmap and the grid of every head of a layer.

Pure functions from one text's attention table (`seqlab.attention.attention_table`,
or the rows the Attention page shows of it, `seqlab.views.attention`) to
charts, as `seqlab.charts` does for curves and tables: same conventions
(title, tooltips, a "no data yet" chart for an empty table), built apart
because heatmaps size themselves per token and colour relative to an even
share, which no other chart does.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.charts import empty_chart, is_empty

# Attention heatmaps: pixels per token of the enlarged heatmap (a 10 px label fits) and
# what its title, x labels and legend take; weights are printed in cells up to this many tokens.
ATTENTION_STEP, ATTENTION_MARGIN, ATTENTION_PRINTED_TOKENS = 16, 200, 16
# The per-head grid: the smallest cell, pixels per token (a 9 px label fits), the space
# between cells, and the width it must fit (Streamlit's centred page; the wide one is wider)
# beside its y labels.
GRID_CELL, GRID_STEP, GRID_SPACING, GRID_FONT = 150, 12, 16, 9
ATTENTION_PAGE_WIDTH, ATTENTION_LABEL_WIDTH = 700, 110
# Colours of attention: times an even share, on a log scale from 1/8 to 8, white at 1.
RELATIVE_DOMAIN = [0.125, 8.0]
RELATIVE_TICKS = [0.125, 0.25, 0.5, 1, 2, 4, 8]


def attention_heatmap_chart(attention_table: pd.DataFrame, layer: int, head: int | str) -> alt.LayerChart | alt.Chart:
    """Heatmap of one head's attention: query tokens (rows) x key tokens (columns).

    Colour shows the departure from an even spread, not the raw weight: a
    cell's `relative_weight` (weight times the number of keys its row spreads
    over) on a log scale centred on 1, so an even share is white, above it
    orange, below it blue, and a uniform map reads as uniform. Every token is
    labelled on both axes (no label is skipped), and the chart takes the
    page's width: show a window of at most
    `seqlab.views.attention.MAX_SHOWN_TOKENS` tokens so each keeps a readable
    row and column.

    Padding never appears on the axes: rows whose token is "" or whose
    query_mask/key_mask (when present) is False are dropped. Axes keep token
    order; when a token string repeats, ticks read "position: token" so the
    repeats stay apart (`seqlab.attention` already writes unique "3:movie").

    Args:
        attention_table: one text's attention, one row per layer, head,
            query and key with columns layer, head (a number or "mean"),
            query_position, query_token, key_position, key_token, weight;
            optionally relative_weight (computed from the rows present when
            absent), query_mask and key_mask.
        layer: the encoder block to show.
        head: the head (or "mean").

    Returns:
        Rects coloured by relative weight, tooltip query / key / weight /
        times an even share, with the weights printed when the text is short.

    Raises:
        ValueError: on missing columns, several texts in the table, or a
            layer/head it does not hold.
    """
    title = f"Attention of layer {layer}, head {head}: each row is a query token, columns the tokens it attends to"
    data = _attention_data(attention_table)
    if data is None:
        return empty_chart(title)
    chosen = data[(data["layer"] == layer) & (data["head"] == str(head))]
    if chosen.empty:
        choices = sorted({(int(r.layer), r.head) for r in data[["layer", "head"]].drop_duplicates().itertuples()})
        raise ValueError(
            f"layer/head: received layer {layer!r}, head {head!r}, expected one of "
            f"{', '.join(f'({l}, {h})' for l, h in choices)}"
        )
    order = _token_order(chosen)
    base = alt.Chart(chosen).encode(
        x=alt.X("key:O", sort=order, title="key token (attended to)", axis=_token_axis(-90)),
        y=alt.Y("query:O", sort=order, title="query token", axis=_token_axis(0)),
        tooltip=_attention_tooltip(),
    )
    cells = base.mark_rect().encode(color=_relative_colour())
    chart = cells
    if len(order) <= ATTENTION_PRINTED_TOKENS:
        text = base.mark_text(fontSize=9).encode(
            text=alt.Text("weight:Q", format=".2f"),
            # White on the strong ends of the colour scale, black near an even share.
            color=alt.condition(
                (alt.datum.shade > 4) | (alt.datum.shade < 0.25), alt.value("white"), alt.value("black")
            ),
        )
        chart = alt.layer(cells, text)
    # Streamlit fits the whole chart (title, labels and legend too) into `height`.
    return chart.properties(title=title, width="container",
                            height=ATTENTION_MARGIN + ATTENTION_STEP * len(order))


def attention_grid_chart(attention_table: pd.DataFrame, layer: int | None = None) -> alt.Chart:
    """Small-multiple heatmaps of every head of a layer, plus their mean.

    Same colours as `attention_heatmap_chart` (relative to an even share);
    every token labelled; as many heads a row as fit `ATTENTION_PAGE_WIDTH`
    pixels (one a row for long windows), so the grid is never wider than
    the page.

    Args:
        attention_table: as for `attention_heatmap_chart`; a "mean" head is
            computed when the table has none.
        layer: the encoder block; None takes the last one.

    Returns:
        A chart faceted by head (fixed-size cells), colour scale shared by all heads.

    Raises:
        ValueError: as for `attention_heatmap_chart`.
    """
    data = _attention_data(attention_table)
    title = "Attention per head"
    if data is None:
        return empty_chart(title)
    layer = int(data["layer"].max()) if layer is None else layer
    chosen = data[data["layer"] == layer]
    if chosen.empty:
        raise ValueError(
            f"layer: received {layer!r}, expected one of {', '.join(map(str, sorted(data['layer'].unique())))}"
        )
    if "mean" not in set(chosen["head"]):
        keys = ["layer", "query", "key", "query_position", "key_position"]
        mean = chosen.groupby(keys, as_index=False)[["weight", "relative_weight"]].mean()
        mean = mean.assign(head="mean", shade=mean["relative_weight"].clip(*RELATIVE_DOMAIN))
        chosen = pd.concat([chosen, mean], ignore_index=True)
    order = _token_order(chosen)
    heads = sorted(set(chosen["head"]) - {"mean"}, key=lambda h: (len(h), h)) + ["mean"]
    cell = max(GRID_CELL, GRID_STEP * len(order))
    columns = max(1, min(len(heads), (ATTENTION_PAGE_WIDTH - ATTENTION_LABEL_WIDTH) // (cell + GRID_SPACING)))
    return alt.Chart(chosen).mark_rect().encode(
        x=alt.X("key:O", sort=order, title="key token", axis=_token_axis(-90, GRID_FONT)),
        y=alt.Y("query:O", sort=order, title="query token", axis=_token_axis(0, GRID_FONT)),
        # Below the grid: a page stretching the grid to its width would clip a legend on the right.
        color=_relative_colour(legend=alt.Legend(orient="bottom", values=RELATIVE_TICKS, format="~g")),
        facet=alt.Facet("head:N", title="head", sort=heads, columns=columns, spacing=GRID_SPACING),
        tooltip=[alt.Tooltip("head:N"), *_attention_tooltip()],
    ).properties(title=f"{title} in layer {layer} (and their mean)", width=cell, height=cell)


# ---------------------------------------------------------------- helpers
def _attention_data(attention_table: pd.DataFrame) -> pd.DataFrame | None:
    """Drops padding and adds unique axis labels (query, key); None when nothing is left."""
    if is_empty(attention_table):
        return None
    require_columns(
        attention_table,
        ["layer", "head", "query_position", "query_token", "key_position", "key_token", "weight"],
        "attention table",
    )
    if "example" in attention_table and attention_table["example"].nunique() > 1:
        raise ValueError(
            f"attention table: received {attention_table['example'].nunique()} examples, "
            f"expected one text; filter it to one example first"
        )
    real = (attention_table["query_token"].astype(str) != "") & (attention_table["key_token"].astype(str) != "")
    for column in ("query_mask", "key_mask"):
        if column in attention_table:
            real &= attention_table[column].astype(bool)
    data = attention_table[real]
    if data.empty:
        return None
    names = pd.concat([
        data[["query_position", "query_token"]].set_axis(["position", "token"], axis=1),
        data[["key_position", "key_token"]].set_axis(["position", "token"], axis=1),
    ]).drop_duplicates()
    unique = not names["token"].astype(str).duplicated().any()

    def axis_labels(side: str) -> pd.Series:
        tokens = data[f"{side}_token"].astype(str)
        return tokens if unique else data[f"{side}_position"].astype(int).astype(str) + ": " + tokens

    if "relative_weight" not in data:
        # Whole rows of masked weights: an even share is 1 / (keys in the row).
        counts = data.groupby(["layer", "head", "query_position"])["weight"].transform("size")
        data = data.assign(relative_weight=data["weight"] * counts)
    # The colour field: clipped into the log scale's domain (a log of 0 has no colour).
    shade = data["relative_weight"].clip(*RELATIVE_DOMAIN)
    return data.assign(head=data["head"].astype(str), query=axis_labels("query"), key=axis_labels("key"),
                       shade=shade)


def _token_axis(angle: int, font_size: int = 10) -> alt.Axis:
    """A token axis that draws every label (Vega-Lite would drop overlapping ones)."""
    return alt.Axis(labelAngle=angle, labelOverlap=False, labelFontSize=font_size, labelLimit=100,
                    labelPadding=2)


def _relative_colour(legend: alt.Legend | None = None) -> alt.Color:
    """Colour by `shade`: times an even share, log scale, white at 1 (see RELATIVE_DOMAIN)."""
    return alt.Color(
        "shade:Q", title="× an even share",
        scale=alt.Scale(type="log", domain=RELATIVE_DOMAIN, domainMid=1, scheme="blueorange", clamp=True),
        legend=legend or alt.Legend(values=RELATIVE_TICKS, format="~g"),
    )


def _attention_tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("query:N", title="query"), alt.Tooltip("key:N", title="key"),
        alt.Tooltip("weight:Q", format=".3f"),
        alt.Tooltip("relative_weight:Q", title="× an even share", format=".2f"),
    ]


def _token_order(data: pd.DataFrame) -> list[str]:
    """Token labels in position order, for both axes."""
    pairs = pd.concat([
        data[["query_position", "query"]].set_axis(["position", "name"], axis=1),
        data[["key_position", "key"]].set_axis(["position", "name"], axis=1),
    ]).drop_duplicates().sort_values("position")
    return pairs["name"].tolist()
