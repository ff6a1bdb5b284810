"""Altair charts: pure functions from tidy DataFrames to charts.

Pages only place these charts. Every function returns an `alt.Chart` or
`alt.LayerChart` with a title, axis titles and tooltips; given an empty table
it returns a chart that says "no data yet" instead of raising. Single-view
charts take the container's width; faceted ones (training curves) use fixed
cell sizes, which Vega-Lite needs for facets. Run and group legends come from
one helper (`run_legend`): below the plot, every label whole. The attention
heatmaps are in `seqlab.attention_charts`, which shares `empty_chart` and
`is_empty` from here.

Input tables (the column names each function needs are in its docstring):
curves, gap and summary tables come from `seqlab.analysis`; the
tokenization and prediction tables from the pages' data and model helpers.
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
# Legends of runs and groups sit below the plot, one entry a row, every label whole: Vega-Lite
# cuts labels at 160 px, so two runs whose labels differ only at the end looked alike. Below,
# a label may take the chart's whole width without squeezing the plot; Streamlit fits the
# whole chart (legend too) into its height, so the height grows by LEGEND_ROW pixels a run
# (Streamlit's theme), plus LEGEND_MARGIN for the legend's title.
LEGEND_ROW, LEGEND_MARGIN = 30, 40
# Run labels on an axis (the prediction bars) are cut only past this many pixels: longer than
# the labels seqlab writes (80 characters), and leaves the bars room on the page.
RUN_AXIS_LABEL_LIMIT = 560
# A log axis helps once values span more than this factor.
LOG_SPAN = 10
FACET_CELL = 220


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
    # What the strokes mean goes in the subtitle: one long title is cut off in a half-width column.
    subtitle = ["solid: train, dashed: validation"]
    if metric == "accuracy":
        subtitle.append(f"grey dotted: {CHANCE_WORDS}")
    title = alt.Title(f"{metric.capitalize()} per epoch", subtitle=subtitle)
    if is_empty(curves):
        return empty_chart(title)
    require_columns(curves, ["run_id", "label", "epoch", "split", "metric", "value"], "curves")
    data = curves[curves["metric"] == metric]
    if data.empty:
        return empty_chart(title)
    highlight = alt.selection_point(fields=["label"], bind="legend")
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS, legend=run_legend()),
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
    return alt.layer(*layers).properties(title=title, width="container",
                                         height=legend_height(300, data["label"].nunique()))


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
    if is_empty(curves):
        return empty_chart(title)
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
    if is_empty(gap_table):
        return empty_chart(title)
    require_columns(gap_table, ["run_id", "label", "epoch", "gap", "is_best"], "gap table")
    tooltip = [
        alt.Tooltip("label:N", title="run"), alt.Tooltip("epoch:Q"),
        alt.Tooltip("gap:Q", title="val loss - train loss", format=".4f"),
        alt.Tooltip("is_best:N", title="best epoch"),
    ]
    base = alt.Chart(gap_table).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("gap:Q", title="val loss − train loss"),
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS, legend=run_legend()),
        detail="run_id:N",
        tooltip=tooltip,
    )
    lines = base.mark_line(point=True)
    best = base.transform_filter(alt.datum.is_best).mark_point(
        shape="diamond", size=160, filled=True, stroke="black", strokeWidth=1
    )
    zero = alt.Chart(gap_table).mark_rule(color="gray", strokeDash=[2, 2]).encode(y=alt.datum(0))
    # A legend entry per run label (members of seed groups each have one).
    height = legend_height(300, gap_table["label"].nunique())
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
    if is_empty(group_curves):
        return empty_chart(title)
    require_columns(group_curves, ["group_label", "epoch", "split", "metric", "mean", "std", "min", "max", "n"], "group curves")
    data = group_curves[group_curves["metric"] == metric]
    if split is not None:
        data = data[data["split"] == split]
    if data.empty:
        return empty_chart(title)
    data = data.assign(
        band_low=data["min"] if band == "minmax" else data["mean"] - data["std"].fillna(0),
        band_high=data["max"] if band == "minmax" else data["mean"] + data["std"].fillna(0),
    )
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        # Legend symbols as opaque as the mean lines, not as faint as the bands.
        color=alt.Color("group_label:N", title="group", scale=RUN_COLOURS,
                        legend=run_legend(symbolOpacity=1, symbolType="stroke", symbolStrokeWidth=3)),
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
    return alt.layer(area, line, *chance).properties(
        title=title, width="container", height=legend_height(300, data["group_label"].nunique()))


def run_legend(**properties) -> alt.Legend:
    """The legend of run or group labels: below the plot, one entry a row, no label cut.

    Every chart coloured by run or group label takes its legend from here
    (and its height from `legend_height`).

    Args:
        **properties: more `alt.Legend` properties (symbol styles, ...).

    Returns:
        An `alt.Legend` with `labelLimit=0` (no limit: labels are shown whole).
    """
    return alt.Legend(orient="bottom", direction="vertical", columns=1, labelLimit=0, **properties)


def legend_height(plot_height: int, entries: int) -> int:
    """Returns the chart height that keeps `plot_height` pixels for the plot above a `run_legend`.

    Args:
        plot_height: what the plot, its title and its x axis take.
        entries: the legend's rows (distinct run or group labels).
    """
    return plot_height + LEGEND_MARGIN + LEGEND_ROW * int(entries)


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
            return empty_chart(title)
        require_columns(lengths, ["length"], "lengths")
        data = lengths
    else:
        values = np.asarray(lengths).ravel()
        if values.size == 0:
            return empty_chart(title)
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
    if is_empty(df):
        return empty_chart(title)
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
    if is_empty(tokenization_table):
        return empty_chart(title)
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
    if is_empty(summary):
        return empty_chart(title)
    require_columns(summary, ["label", "arch", x, y], "summary")
    data = summary.dropna(subset=[x, y])
    if data.empty:
        return empty_chart(title)
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
    if is_empty(sweep_table):
        return empty_chart(title)
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
    if is_empty(predictions_table):
        return empty_chart(title)
    require_columns(predictions_table, ["label", "class_name", "probability"], "predictions table")
    # Rows of runs that could not predict carry no probability.
    data = predictions_table.dropna(subset=["probability"])
    if data.empty:
        return empty_chart(title, "no run could predict this text")
    data = data.assign(class_name=data["class_name"].astype(str), label=data["label"].astype(str))
    if "run_id" in data:
        # Two runs with one label (seeds) would stack into one bar summing to 2.
        runs_per_label = data.groupby("label")["run_id"].transform("nunique")
        data["label"] = data["label"].where(runs_per_label == 1, data["label"] + " #" + data["run_id"].astype(str))
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("label:N", title="run", axis=alt.Axis(labelLimit=RUN_AXIS_LABEL_LIMIT)),
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1]), stack="zero",
                axis=alt.Axis(values=[0, 0.25, 0.5, 0.75, 1], format=".0%")),
        color=alt.Color("class_name:N", title="class"),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("class_name:N", title="class"),
                 alt.Tooltip("probability:Q", format=".3f")],
    ).properties(title=title, width="container")


# ---------------------------------------------------------------- helpers
def empty_chart(title: str | alt.Title, message: str = NO_DATA) -> alt.Chart:
    """A placeholder with the chart's title and a message, so pages need no special case.

    Args:
        title: the title the chart would have had.
        message: what to say instead of the data.
    """
    return alt.Chart(pd.DataFrame({"message": [message]})).mark_text(
        fontSize=14, color="gray"
    ).encode(text="message:N").properties(title=title, width="container", height=120)


def is_empty(frame: pd.DataFrame | None) -> bool:
    """Whether a chart's input table is missing or has no rows."""
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
