"""Altair charts: pure functions from tidy DataFrames to charts.

Pages only place these charts. Every function returns an `alt.Chart` or
`alt.LayerChart` with a title, axis titles and tooltips; given an empty table
it returns a chart that says "no data yet" instead of raising. Single-view
charts take the container's width; faceted ones (training curves, attention
grid) use fixed cell sizes, which Vega-Lite needs for facets.

Input tables (the column names each function needs are in its docstring):
curves, gap and summary tables come from `seqlab.analysis`; the
tokenization, attention and prediction tables from the pages' data and
model helpers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from seqlab.analysis.budgets import pareto_front
from seqlab.analysis.frames import require_columns

NO_DATA = "no data yet"
SPLIT_DASHES = alt.Scale(domain=["train", "validation"], range=[[1, 0], [6, 4]])
MASK_COLOURS = alt.Scale(domain=["real token", "padding"], range=["#4c78a8", "#e0e0e0"])
# Dark, not red: the default palette already colours the validation split red.
CUT_COLOUR = "#31333f"
# The chance line of accuracy charts: what always guessing the majority class scores.
CHANCE_COLOUR = "#808495"
CHANCE_WORDS = "chance (majority class)"
SPLIT_ORDER = ["train", "validation", "test"]
ON_FRONT, DOMINATED = "on the front", "dominated"  # the Pareto chart's legend
# The length histogram's bars: one per token count up to this many, wider round bins beyond.
MAX_BINS = 40
# Runs, groups and architectures: ten distinct hues (the default palette pairs each hue with a pale twin).
RUN_COLOURS = alt.Scale(scheme="tableau10")
# A legend must fit in the chart's height: about this many pixels per entry (Streamlit's
# theme), plus the chart's title and the legend's own.
LEGEND_ROW, LEGEND_MARGIN = 30, 90
# A log axis helps once values span more than this factor.
LOG_SPAN = 10
FACET_CELL = 220
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


def metric_overlay_chart(curves: pd.DataFrame, metric: str = "loss") -> alt.LayerChart | alt.Chart:
    """Overlays one metric for many runs: colour = run, solid = train, dashed = validation.

    Clicking a run in the legend highlights it.

    Args:
        curves: `analysis.tables.curves_table(...)` (run_id, label, epoch, split,
            metric, value; majority_fraction draws the chance line).
        metric: "loss" or "accuracy".

    Returns:
        Lines with points, tooltip run / split / epoch / value; for accuracy,
        a grey dotted rule at each distinct majority-class share of the runs
        (`chance_rule`), last.

    Raises:
        ValueError: on an unknown metric or missing columns.
    """
    _check_choice("metric", metric, ("loss", "accuracy"))
    title = f"{metric.capitalize()} per epoch (solid: train, dashed: validation)"
    if metric == "accuracy":
        title = alt.Title(title, subtitle=f"grey dotted: {CHANCE_WORDS}")
    if _is_empty(curves):
        return _empty_chart(title)
    require_columns(curves, ["run_id", "label", "epoch", "split", "metric", "value"], "curves")
    data = curves[curves["metric"] == metric]
    if data.empty:
        return _empty_chart(title)
    highlight = alt.selection_point(fields=["label"], bind="legend")
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS),
        strokeDash=alt.StrokeDash("split:N", title="split", scale=SPLIT_DASHES),
        detail="run_id:N",
        opacity=alt.condition(highlight, alt.value(1.0), alt.value(0.15)),
        tooltip=[
            alt.Tooltip("label:N", title="run"),
            alt.Tooltip("split:N"),
            alt.Tooltip("epoch:Q"),
            alt.Tooltip("value:Q", title=metric, format=".4f"),
        ],
    )
    lines = base.mark_line().add_params(highlight)
    points = base.mark_point(filled=True, size=30)
    layers = [lines, points]
    if metric == "accuracy":
        layers += chance_rule(data, y_title=metric)
    return alt.layer(*layers).properties(title=title, width="container", height=300)


def chance_rule(curves: pd.DataFrame, label: str = "label", y_title: str = "accuracy") -> list[alt.Chart]:
    """Returns the chance line of an accuracy chart: a rule at each run's majority-class share.

    Args:
        curves: rows with a majority_fraction column (runs without one are
            left out) and `label` naming the run or group.
        label: the column named in the tooltip.
        y_title: the y axis title of the chart it is layered on.

    Returns:
        [] when no run recorded its share, else one rule layer (one rule per
        distinct share, tooltip: the share and the runs it belongs to).
    """
    if "majority_fraction" not in curves:
        return []
    shares = curves.dropna(subset=["majority_fraction"])
    if shares.empty:
        return []
    table = (shares.assign(name=shares[label].astype(str))
             .groupby(shares["majority_fraction"].round(4), sort=True)["name"]
             .agg(lambda names: ", ".join(dict.fromkeys(names)))
             .rename("runs").rename_axis("majority_fraction").reset_index())
    return [alt.Chart(table).mark_rule(color=CHANCE_COLOUR, strokeDash=[2, 3], strokeWidth=1.5).encode(
        y=alt.Y("majority_fraction:Q", title=y_title),
        tooltip=[alt.Tooltip("majority_fraction:Q", title=CHANCE_WORDS, format=".3f"),
                 alt.Tooltip("runs:N", title="runs")],
    )]


def training_curves_chart(curves: pd.DataFrame) -> alt.FacetChart | alt.Chart:
    """Shows one run's loss and accuracy side by side, train vs validation.

    Args:
        curves: `analysis.tables.curves_table(...)` for a single run
            (majority_fraction, when recorded, draws the chance line).

    Returns:
        A chart faceted by metric (independent y scales), tooltip split /
        epoch / value; the accuracy panel has a grey dotted rule at the
        run's majority-class share (chance).

    Raises:
        ValueError: if the table holds several runs or lacks columns.
    """
    title = "Training curves (solid: train, dashed: validation)"
    if _is_empty(curves):
        return _empty_chart(title)
    require_columns(curves, ["run_id", "epoch", "split", "metric", "value"], "curves")
    run_ids = curves["run_id"].unique()
    if len(run_ids) > 1:
        raise ValueError(
            f"curves: received {len(run_ids)} runs, expected one run; filter the curves "
            f"table to one run_id, or use metric_overlay_chart to compare runs"
        )
    lines = alt.Chart().mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title="value", scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title="split", scale=alt.Scale(domain=["train", "validation"])),
        strokeDash=alt.StrokeDash("split:N", title="split", scale=SPLIT_DASHES),
        tooltip=[
            alt.Tooltip("metric:N"), alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"),
            alt.Tooltip("value:Q", format=".4f"),
        ],
    )
    layers = [lines]
    if "majority_fraction" in curves and curves["majority_fraction"].notna().any():
        title = alt.Title(title, subtitle=f"grey dotted: {CHANCE_WORDS}")
        layers.append(alt.Chart().transform_filter(alt.datum.metric == "accuracy").mark_rule(
            color=CHANCE_COLOUR, strokeDash=[2, 3], strokeWidth=1.5,
        ).encode(y=alt.Y("mean(majority_fraction):Q", title="value"),
                 tooltip=[alt.Tooltip("mean(majority_fraction):Q", title=CHANCE_WORDS, format=".3f")]))
    return alt.layer(*layers, data=curves).properties(width=FACET_CELL + 60, height=FACET_CELL).facet(
        column=alt.Column("metric:N", title=None, sort=["loss", "accuracy"]),
    ).properties(title=title).resolve_scale(y="independent")


def gap_chart(gap_table: pd.DataFrame) -> alt.LayerChart | alt.Chart:
    """Plots validation minus training loss per epoch, with each run's best epoch marked.

    Args:
        gap_table: `analysis.tables.gap_table(...)` (run_id, label, epoch, gap, is_best).

    Returns:
        Lines per run, a rule at zero and a large diamond at each run's best
        epoch (lowest validation loss).

    Raises:
        ValueError: if columns are missing.
    """
    title = "Validation minus training loss (rising = overfitting; diamond = best epoch)"
    if _is_empty(gap_table):
        return _empty_chart(title)
    require_columns(gap_table, ["run_id", "label", "epoch", "gap", "is_best"], "gap table")
    tooltip = [
        alt.Tooltip("label:N", title="run"), alt.Tooltip("epoch:Q"),
        alt.Tooltip("gap:Q", title="val loss - train loss", format=".4f"),
        alt.Tooltip("is_best:N", title="best epoch"),
    ]
    base = alt.Chart(gap_table).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("gap:Q", title="val loss − train loss"),
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS),
        detail="run_id:N",
        tooltip=tooltip,
    )
    lines = base.mark_line(point=True)
    best = base.transform_filter(alt.datum.is_best).mark_point(
        shape="diamond", size=160, filled=True, stroke="black", strokeWidth=1
    )
    zero = alt.Chart(gap_table).mark_rule(color="gray", strokeDash=[2, 2]).encode(y=alt.datum(0))
    # Tall enough for a legend entry per run (members of seed groups each have one).
    height = max(300, LEGEND_ROW * gap_table["run_id"].nunique() + LEGEND_MARGIN)
    return alt.layer(zero, lines, best).properties(title=title, width="container", height=height)


def group_band_chart(
    group_curves: pd.DataFrame, metric: str = "accuracy", split: str | None = "validation", band: str = "minmax"
) -> alt.LayerChart | alt.Chart:
    """Draws each seed group's mean curve inside a band of its spread.

    Args:
        group_curves: `analysis.stats.group_curves_table(...)` (group_label,
            epoch, split, metric, mean, std, min, max, n).
        metric: "loss" or "accuracy".
        split: "train", "validation", or None for both (validation dashed).
        band: "minmax" (the band spans the lowest to highest run) or "std"
            (mean ± one standard deviation).

    Returns:
        Mean lines over translucent bands, tooltip with mean, std, min, max,
        n; for accuracy, the groups' chance line (`chance_rule`) when the
        table has majority_fraction.

    Raises:
        ValueError: on an unknown metric, split or band, or missing columns.
    """
    _check_choice("metric", metric, ("loss", "accuracy"))
    _check_choice("split", split, ("train", "validation", None))
    _check_choice("band", band, ("minmax", "std"))
    words = "min to max over seeds" if band == "minmax" else "mean ± one std over seeds"
    # The band's meaning goes in the subtitle: one long title is cut off in a half-width column.
    title = alt.Title(f"{(split or 'train and validation').capitalize()} {metric} per seed group",
                      subtitle=f"line: mean; band: {words}")
    if _is_empty(group_curves):
        return _empty_chart(title)
    require_columns(group_curves, ["group_label", "epoch", "split", "metric", "mean", "std", "min", "max", "n"], "group curves")
    data = group_curves[group_curves["metric"] == metric]
    if split is not None:
        data = data[data["split"] == split]
    if data.empty:
        return _empty_chart(title)
    data = data.assign(
        band_low=data["min"] if band == "minmax" else data["mean"] - data["std"].fillna(0),
        band_high=data["max"] if band == "minmax" else data["mean"] + data["std"].fillna(0),
    )
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        # Legend symbols as opaque as the mean lines, not as faint as the bands.
        color=alt.Color("group_label:N", title="group", scale=RUN_COLOURS,
                        legend=alt.Legend(symbolOpacity=1, symbolType="stroke", symbolStrokeWidth=3)),
        detail="split:N",
        tooltip=[
            alt.Tooltip("group_label:N", title="group"), alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"),
            alt.Tooltip("mean:Q", format=".4f"), alt.Tooltip("std:Q", format=".4f"),
            alt.Tooltip("min:Q", format=".4f"), alt.Tooltip("max:Q", format=".4f"),
            alt.Tooltip("n:Q", title="runs"),
        ],
    )
    area = base.mark_area(opacity=0.2).encode(
        y=alt.Y("band_low:Q", title=f"{metric} (mean)", scale=alt.Scale(zero=False)), y2="band_high:Q"
    )
    # A legend of dashes only when both splits are drawn.
    line = base.mark_line(point=True).encode(
        y="mean:Q", strokeDash=alt.StrokeDash("split:N", title="split", scale=SPLIT_DASHES,
                                              legend=None if split else alt.Legend())
    )
    chance = chance_rule(data, label="group_label", y_title=f"{metric} (mean)") if metric == "accuracy" else []
    return alt.layer(area, line, *chance).properties(title=title, width="container", height=300)


def length_histogram_chart(lengths: pd.DataFrame | Sequence[int] | np.ndarray, sequence_length: int) -> alt.LayerChart | alt.Chart:
    """Histograms text lengths in tokens, with the cut-off and the share truncated.

    Bars are centred on whole token counts (a bar per count while the
    longest text, or the cut-off, is under `MAX_BINS` tokens; otherwise
    bins of a round width), so the rule falls between the last kept
    length and the first truncated one.

    Args:
        lengths: token counts per text: an array, or a DataFrame with a
            "length" column (and optionally "split", which colours the bars).
        sequence_length: where texts are cut (data.sequence_length).

    Returns:
        Stacked bars of counts per bin, a dark rule at `sequence_length` and,
        above the plot in the rule's colour, the one sentence saying what
        share of texts is longer (and so truncated).

    Raises:
        ValueError: if a DataFrame lacks "length" or sequence_length is not positive.
    """
    if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)) or sequence_length < 1:
        raise ValueError(f"sequence_length: received {sequence_length!r}, expected a positive integer (data.sequence_length)")
    sequence_length = int(sequence_length)
    title = f"Text lengths in tokens (dark line: cut at {sequence_length})"
    if isinstance(lengths, pd.DataFrame):
        if lengths.empty:
            return _empty_chart(title)
        require_columns(lengths, ["length"], "lengths")
        data = lengths
    else:
        values = np.asarray(lengths).ravel()
        if values.size == 0:
            return _empty_chart(title)
        data = pd.DataFrame({"length": values})
    truncated = float((data["length"] > sequence_length).mean())
    note = f"{truncated:.1%} of texts are longer than {sequence_length} tokens and get truncated"
    step = _bin_step(max(int(data["length"].max()), sequence_length) + 1)
    bins = _length_bins(data, step)
    # Room right of the rule even when every text is shorter than the cut.
    upper = max(float(bins["bin_end"].max()), sequence_length + 0.5 + step)
    x_scale = alt.Scale(domain=[-0.5, upper], nice=False, zero=False)
    encoding = dict(
        x=alt.X("bin_start:Q", bin="binned", title="tokens per text", scale=x_scale),
        x2="bin_end:Q",
        y=alt.Y("count:Q", title="texts", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("tokens:N"), alt.Tooltip("count:Q", title="texts")],
    )
    if "split" in bins:
        encoding["color"] = alt.Color("split:N", title="split", sort=SPLIT_ORDER)
        encoding["order"] = alt.Order("split_order:Q")
        encoding["tooltip"].append(alt.Tooltip("split:N"))
    bars = alt.Chart(bins).mark_bar(opacity=0.85, binSpacing=1).encode(**encoding)
    cut = pd.DataFrame({"length": [sequence_length], "note": [note]})
    # Half a token past the cut: between the last length kept whole and the first one truncated.
    rule = alt.Chart(cut).transform_calculate(edge="datum.length + 0.5").mark_rule(
        color=CUT_COLOUR, strokeWidth=2
    ).encode(
        x=alt.X("edge:Q", scale=x_scale),
        tooltip=[alt.Tooltip("length:Q", title="sequence length"), alt.Tooltip("note:N", title="truncated")],
    )
    # Above the plot, left-aligned like a subtitle: beside the rule it would run into the legend.
    text = alt.Chart(cut).mark_text(align="left", baseline="bottom", dy=-6, color=CUT_COLOUR).encode(
        x=alt.value(0), y=alt.value(0), text="note:N"
    )
    return alt.layer(bars, rule, text).properties(title=alt.Title(title, offset=22), width="container", height=260)


def _bin_step(span: int) -> int:
    """The smallest round bin width that covers `span` whole tokens in at most `MAX_BINS` bins."""
    for magnitude in (1, 10, 100, 1000, 10000, 100000):
        for factor in (1, 2, 2.5, 5):
            step = int(factor * magnitude)
            if step == factor * magnitude and math.ceil(span / step) <= MAX_BINS:
                return step
    return math.ceil(span / MAX_BINS)


def _length_bins(data: pd.DataFrame, step: int) -> pd.DataFrame:
    """Counts texts per bin of `step` whole lengths (and per split when there is one).

    A bin holding lengths a..a+step-1 spans a-0.5 to a+step-0.5, so a
    one-token bin is centred on its length.
    """
    first = (data["length"].astype(int) // step) * step
    keys = (["split"] if "split" in data else []) + ["first"]
    counts = data.assign(first=first).groupby(keys, sort=True).size().rename("count").reset_index()
    if "split" in counts:
        # Stacks train at the bottom, then validation, then test, as the legend lists them.
        counts["split_order"] = counts["split"].map({split: index for index, split in enumerate(SPLIT_ORDER)})
    counts["tokens"] = counts["first"].astype(str)
    if step > 1:
        counts["tokens"] += "–" + (counts["first"] + step - 1).astype(str)
    counts["bin_start"] = counts["first"] - 0.5
    counts["bin_end"] = counts["bin_start"] + step
    return counts.drop(columns="first")


def label_balance_chart(df: pd.DataFrame) -> alt.Chart:
    """Bars of texts per class, side by side per split.

    Args:
        df: columns split and label (the class), one row per text, or with a
            "count" column already counted.

    Returns:
        Grouped bars, tooltip split / class / count / share of the split.

    Raises:
        ValueError: if columns are missing.
    """
    title = "Texts per class and split"
    if _is_empty(df):
        return _empty_chart(title)
    require_columns(df, ["split", "label"], "label table")
    if "count" in df:
        counts = df[["split", "label", "count"]].copy()
    else:
        counts = df.groupby(["split", "label"], sort=True).size().rename("count").reset_index()
    counts["label"] = counts["label"].astype(str)
    counts["share"] = counts["count"] / counts.groupby("split")["count"].transform("sum")
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("label:N", title="class"),
        xOffset=alt.XOffset("split:N", sort=SPLIT_ORDER),
        y=alt.Y("count:Q", title="texts", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("split:N", title="split", sort=SPLIT_ORDER),
        tooltip=[
            alt.Tooltip("split:N"), alt.Tooltip("label:N", title="class"),
            alt.Tooltip("count:Q", title="texts"), alt.Tooltip("share:Q", title="share of split", format=".1%"),
        ],
    ).properties(title=title, width="container", height=260)


def tokens_chart(tokenization_table: pd.DataFrame) -> alt.LayerChart | alt.Chart:
    """Draws texts as token grids: each cell a position, coloured real token vs padding.

    Args:
        tokenization_table: one row per example and position with columns
            example (row number), position (0-based), token (text; "" for
            padding), token_id (0 = padding; or "id") and mask (bool: True for
            a real token, as in Keras masks; or its opposite "is_padding", as
            `seqlab.data.vectorize.tokenization_table` writes it).

    Returns:
        Rects (example rows x position columns) with the token printed in
        each cell; the tooltip adds the id.

    Raises:
        ValueError: if columns are missing.
    """
    title = "Tokens, ids and padding (grey cells are padding, masked out)"
    if _is_empty(tokenization_table):
        return _empty_chart(title)
    table = tokenization_table
    if "mask" not in table and "is_padding" in table:
        table = table.assign(mask=~table["is_padding"].astype(bool))
    if "token_id" not in table and "id" in table:
        table = table.assign(token_id=table["id"])
    require_columns(table, ["example", "position", "token", "token_id", "mask"], "tokenization table")
    real = table["mask"].astype(bool)
    data = table.assign(
        kind=np.where(real, "real token", "padding"),
        shown=np.where(real, table["token"].astype(str), "·"),
    )
    base = alt.Chart(data).encode(
        x=alt.X("position:O", title="position"),
        y=alt.Y("example:O", title="example"),
        tooltip=[
            alt.Tooltip("example:O"), alt.Tooltip("position:O"), alt.Tooltip("token:N"),
            alt.Tooltip("token_id:Q", title="id"), alt.Tooltip("kind:N", title="mask"),
        ],
    )
    cells = base.mark_rect(stroke="white").encode(color=alt.Color("kind:N", title="mask", scale=MASK_COLOURS))
    text = base.mark_text(fontSize=10, limit=60).encode(text="shown:N")
    return alt.layer(cells, text).properties(title=title, width="container")


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
        return _empty_chart(title)
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
        return _empty_chart(title)
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


def pareto_chart(
    summary: pd.DataFrame, x: str = "num_params", y: str = "best_val_accuracy"
) -> alt.LayerChart | alt.Chart:
    """Scatters runs by cost and quality with the Pareto front drawn as a step line.

    Args:
        summary: `analysis.tables.run_summary_table(...)`.
        x: the cost ("num_params" or "seconds_per_epoch"; lower is better).
        y: the quality (e.g. "best_val_accuracy"; higher is better).

    Returns:
        Points coloured by architecture, sized by whether they are on the
        front ("on the front" / "dominated"), a dashed step line through the
        front, log x when the costs span more than 10x.

    Raises:
        ValueError: if columns are missing.
    """
    words = {"num_params": "parameters", "seconds_per_epoch": "seconds per epoch",
             "best_val_accuracy": "best validation accuracy", "test_accuracy": "test accuracy"}
    x_title, y_title = words.get(x, x), words.get(y, y)
    # Short enough for a half-width column; the page says what the dashed line is.
    title = f"{y_title.capitalize()} vs {x_title}"
    if _is_empty(summary):
        return _empty_chart(title)
    require_columns(summary, ["label", "arch", x, y], "summary")
    data = summary.dropna(subset=[x, y])
    if data.empty:
        return _empty_chart(title)
    on_front = pareto_front(data, x, y)
    data = data.assign(on_front=on_front, front=np.where(on_front, ON_FRONT, DOMINATED))
    data = data[["label", "arch", x, y, "on_front", "front"]]
    x_format = ",d" if x == "num_params" else ".2f"
    x_encoding = alt.X(f"{x}:Q", title=x_title, scale=_scale_for(data[x]), axis=alt.Axis(format=x_format))
    y_encoding = alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=".2f"))
    tooltip = [alt.Tooltip("label:N", title="run"), alt.Tooltip("arch:N"),
               alt.Tooltip(f"{x}:Q", title=x_title, format=",.4~g"), alt.Tooltip(f"{y}:Q", title=y_title, format=".4f"),
               alt.Tooltip("front:N", title="Pareto front")]
    points = alt.Chart(data).mark_point(filled=True).encode(
        x=x_encoding,
        y=y_encoding,
        color=alt.Color("arch:N", title="architecture", scale=RUN_COLOURS),
        size=alt.Size("front:N", title="Pareto front", scale=alt.Scale(domain=[ON_FRONT, DOMINATED], range=[140, 50])),
        tooltip=tooltip,
    )
    front = alt.Chart(data[data["on_front"]].sort_values(x)).mark_line(
        interpolate="step-after", color="gray", strokeDash=[4, 3]
    ).encode(x=x_encoding, y=y_encoding, order=f"{x}:Q")
    return alt.layer(front, points).properties(title=title, width="container", height=320)


def sweep_chart(sweep_table: pd.DataFrame, vary: str, metric: str = "val_accuracy") -> alt.LayerChart | alt.Chart:
    """Plots a metric against the swept setting, one line per architecture.

    Args:
        sweep_table: `analysis.sweeps.sweep_table(...)` (arch, value, metric
            columns, n_runs; val_accuracy_std draws error bars;
            compile_seconds joins the seconds chart's tooltip).
        vary: the swept config column, for the axis title.
        metric: "val_accuracy" or "seconds_per_epoch".

    Returns:
        Lines with points (and ± std bars for accuracy); log x when the
        numeric values span more than 10x, ordinal x for text values.

    Raises:
        ValueError: on an unknown metric or missing columns.
    """
    _check_choice("metric", metric, ("val_accuracy", "seconds_per_epoch"))
    # Axis titles stay short: one longer than the plot pushes the chart title out of view.
    metric_title = {"val_accuracy": "best val accuracy", "seconds_per_epoch": "seconds per epoch"}[metric]
    title = f"{metric_title.capitalize()} (mean over seeds) vs {vary}"
    if _is_empty(sweep_table):
        return _empty_chart(title)
    require_columns(sweep_table, ["arch", "value", metric, "n_runs"], "sweep table")
    numeric = pd.api.types.is_numeric_dtype(sweep_table["value"])
    x = (alt.X("value:Q", title=vary, scale=_scale_for(sweep_table["value"])) if numeric
         else alt.X("value:O", title=vary))
    tooltip = [alt.Tooltip("arch:N"), alt.Tooltip("value", title=vary),
               alt.Tooltip(f"{metric}:Q", title=metric_title, format=".4f"), alt.Tooltip("n_runs:Q", title="runs")]
    if metric == "seconds_per_epoch" and "compile_seconds" in sweep_table:
        # The steady figure; the one-off compile of the first epoch stated beside it.
        title = alt.Title(title, subtitle="steady epochs (after the first); the one-off compile is in the tooltip")
        tooltip.append(alt.Tooltip("compile_seconds:Q", title="one-off compile (s)", format=".1f"))
    base = alt.Chart(sweep_table).encode(
        x=x,
        color=alt.Color("arch:N", title="architecture", scale=RUN_COLOURS),
        tooltip=tooltip,
    )
    lines = base.mark_line(point=True).encode(y=alt.Y(f"{metric}:Q", title=metric_title, scale=alt.Scale(zero=False)))
    layers = [lines]
    if metric == "val_accuracy" and "val_accuracy_std" in sweep_table:
        spread = sweep_table.assign(
            low=sweep_table["val_accuracy"] - sweep_table["val_accuracy_std"],
            high=sweep_table["val_accuracy"] + sweep_table["val_accuracy_std"],
        ).dropna(subset=["low"])
        if not spread.empty:
            layers.append(alt.Chart(spread).mark_rule().encode(x=x, y="low:Q", y2="high:Q", color="arch:N"))
    return alt.layer(*layers).properties(title=title, width="container", height=300)


def prediction_chart(predictions_table: pd.DataFrame) -> alt.Chart:
    """Bars of each run's class probabilities for one text.

    Args:
        predictions_table: one row per run and class with columns label
            (the run), class_name and probability, optionally run_id (runs
            sharing a label are then told apart); rows without a probability
            (runs that could not predict) are left out.

    Returns:
        One stacked bar per run summing to 1, coloured by class, tooltip
        run / class / probability.

    Raises:
        ValueError: if columns are missing.
    """
    title = "Predicted probability of each class, per run"
    if _is_empty(predictions_table):
        return _empty_chart(title)
    require_columns(predictions_table, ["label", "class_name", "probability"], "predictions table")
    # Rows of runs that could not predict carry no probability.
    data = predictions_table.dropna(subset=["probability"])
    if data.empty:
        return _empty_chart(title, "no run could predict this text")
    data = data.assign(class_name=data["class_name"].astype(str), label=data["label"].astype(str))
    if "run_id" in data:
        # Two runs with one label (seeds) would stack into one bar summing to 2.
        runs_per_label = data.groupby("label")["run_id"].transform("nunique")
        data["label"] = data["label"].where(runs_per_label == 1, data["label"] + " #" + data["run_id"].astype(str))
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("label:N", title="run"),
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1]), stack="zero",
                axis=alt.Axis(values=[0, 0.25, 0.5, 0.75, 1], format=".0%")),
        color=alt.Color("class_name:N", title="class"),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("class_name:N", title="class"),
                 alt.Tooltip("probability:Q", format=".3f")],
    ).properties(title=title, width="container")


# ---------------------------------------------------------------- helpers
def _empty_chart(title: str, message: str = NO_DATA) -> alt.Chart:
    """A placeholder with the chart's title and a message, so pages need no special case."""
    return alt.Chart(pd.DataFrame({"message": [message]})).mark_text(
        fontSize=14, color="gray"
    ).encode(text="message:N").properties(title=title, width="container", height=120)


def _is_empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or (isinstance(frame, pd.DataFrame) and frame.empty)


def _check_choice(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: received {value!r}, expected one of {', '.join(map(repr, allowed))}")


def _scale_for(values: pd.Series) -> alt.Scale:
    """Log scale when positive values span more than LOG_SPAN, else linear."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if len(values) and values.min() > 0 and values.max() / values.min() > LOG_SPAN:
        return alt.Scale(type="log")
    return alt.Scale(zero=False)


def _attention_data(attention_table: pd.DataFrame) -> pd.DataFrame | None:
    """Drops padding and adds unique axis labels (query, key); None when nothing is left."""
    if _is_empty(attention_table):
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
