"""Altair charts of attributions: highlighted text per run, and the gradient by distance from the end.

Pure functions from the tables of `seqlab.attribution` (`attribution_table`,
`gradient_by_position_table`) to charts, with the conventions of
`seqlab.charts` (title, tooltips, a "no data yet" chart for an empty table,
run legends from `run_legend`). The highlighted text is built apart from
`seqlab.charts` because it lays tokens out like a line of text, in pixels,
which no other chart does.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.charts import RUN_COLOURS, empty_chart, is_empty, legend_height, run_legend

# The highlighted text: the width of a line in pixels (within Streamlit's centred page
# of about 700, as the attention grid), the most tokens on one line (a 60-token text
# takes 4 to 5 lines), a row's height and the gap between boxes.
TEXT_WIDTH, TOKENS_PER_LINE, LINE_HEIGHT, BOX_GAP = 640, 14, 24, 3
# What a token's box takes: pixels per character at TEXT_FONT px and the padding around it.
TEXT_FONT, CHARACTER_WIDTH, BOX_PADDING = 12, 7, 10
# Colours of attribution: the value divided by the run's largest magnitude, so -1 .. 1.
SHADE_DOMAIN = [-1.0, 1.0]
# Boxes this dark (|shade| above it) get white text.
DARK_SHADE = 0.6
VALUES = ("attribution", "occlusion")
VALUE_WORDS = {"attribution": "integrated gradients", "occlusion": "drop when the token is removed"}
# The gradient chart: what the plot, its title and its x axis take above the legend.
GRADIENT_PLOT_HEIGHT = 300


def attribution_text_chart(attribution_table: pd.DataFrame, value: str = "attribution") -> alt.VConcatChart | alt.Chart:
    """Highlighted text: each run's tokens in reading order, coloured by how much each decided.

    One block per run, stacked, so several runs read the same sentence one
    under another. Tokens are boxes sized to their word and wrapped into
    lines (at most `TOKENS_PER_LINE` tokens and `TEXT_WIDTH` pixels a line,
    never wider than the page); every token is written in its box. Colour
    diverges from white: blue for tokens that pushed the run towards the
    class it predicted, red for those that pushed against it, each run's
    values divided by its largest magnitude (runs differ in scale; the
    tooltip has the raw values). Each block's title gives the run's label,
    the class it predicted and its probability.

    Args:
        attribution_table: `seqlab.attribution.attribution_table(...)`: one
            row per run and real token with columns label, position, token
            and `value`; optionally run_id (runs sharing a label are then
            told apart), class_name, output, baseline_output and the other
            value column (shown in the tooltip).
        value: "attribution" (integrated gradients) or "occlusion".

    Returns:
        A vertical stack of one chart per run with a shared colour scale, or
        the "no data yet" chart.

    Raises:
        ValueError: on an unknown `value` or missing columns.
    """
    if value not in VALUES:
        raise ValueError(f"value: received {value!r}, expected one of {', '.join(map(repr, VALUES))}")
    title = alt.Title(
        "Which words decided each run's prediction",
        subtitle=[f"blue: for the predicted class, red: against ({VALUE_WORDS[value]}, "
                  f"relative to each run's largest)"],
    )
    if is_empty(attribution_table):
        return empty_chart(title)
    require_columns(attribution_table, ["label", "position", "token", value], "attribution table")
    data = attribution_table.assign(label=attribution_table["label"].astype(str))
    keys = ["label"]
    if "run_id" in data:
        keys = ["run_id", "label"]
        # Two runs with one label (seeds) are told apart by their ids.
        runs_per_label = data.groupby("label")["run_id"].transform("nunique")
        data["label"] = data["label"].where(runs_per_label == 1, data["label"] + " #" + data["run_id"].astype(str))
    # One legend for all blocks: their colour scale is shared.
    legend = alt.Legend(orient="bottom", title=f"{value} ÷ the run's largest", values=[-1, -0.5, 0, 0.5, 1],
                        format="~g", gradientLength=200)
    blocks = [_text_block(run.sort_values("position"), value, legend)
              for _, run in data.groupby(keys, sort=False)]
    return alt.vconcat(*blocks, spacing=12).resolve_scale(color="shared").properties(title=title)


def gradient_by_position_chart(gradient_table: pd.DataFrame, log_scale: bool = True,
                               relative: bool = False) -> alt.Chart:
    """Lines of the loss gradient's norm against the distance from the end of the text, one per run.

    The lecture's "vanishing gradients" picture: a recurrent classifier
    reads its state after the last token, so the gradient reaching a token
    has passed through one step per token after it. A line that falls
    steeply to the right means early tokens get almost no training signal.

    Args:
        gradient_table: `seqlab.attribution.gradient_by_position_table(...)`:
            columns label, distance_from_end, gradient_norm (and
            relative_gradient_norm for `relative`); optionally run_id, texts.
        log_scale: a logarithmic y axis (gradients fall geometrically, so
            a straight line there is a constant rate).
        relative: plot each run's norm divided by its norm at the last
            token, so runs with losses of different sizes share one scale.

    Returns:
        Lines with points coloured by run (whole labels in the legend below),
        tooltip run / distance / norm / texts, or the "no data yet" chart.

    Raises:
        ValueError: on missing columns.
    """
    column = "relative_gradient_norm" if relative else "gradient_norm"
    y_title = "gradient norm ÷ at the last token" if relative else "gradient norm |d loss / d x|"
    title = alt.Title("Gradient of the loss at each token, by distance from the end of the text",
                      subtitle=["falling to the right: the gradient vanishes before it reaches early tokens"])
    if is_empty(gradient_table):
        return empty_chart(title)
    require_columns(gradient_table, ["label", "distance_from_end", column], "gradient table")
    data = gradient_table.assign(label=gradient_table["label"].astype(str))
    data = data[np.isfinite(pd.to_numeric(data[column], errors="coerce"))]
    if log_scale:
        data = data[data[column] > 0]  # a log axis has no place for 0
    if data.empty:
        return empty_chart(title, "no gradient to show")
    if "run_id" in data:
        # Two runs with one label (seeds) would draw one zigzag line.
        runs_per_label = data.groupby("label")["run_id"].transform("nunique")
        data["label"] = data["label"].where(runs_per_label == 1, data["label"] + " #" + data["run_id"].astype(str))
    tooltip = [alt.Tooltip("label:N", title="run"), alt.Tooltip("distance_from_end:Q", title="tokens from the end"),
               alt.Tooltip(f"{column}:Q", title=y_title, format=".3g")]
    if "texts" in data:
        tooltip.append(alt.Tooltip("texts:Q", title="texts this long"))
    labels = data["label"].nunique()
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("distance_from_end:Q", title="distance from the end of the text (tokens)"),
        y=alt.Y(f"{column}:Q", title=y_title, scale=alt.Scale(type="log") if log_scale else alt.Scale(zero=True)),
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS, legend=run_legend()),
        tooltip=tooltip,
    ).properties(title=title, width="container", height=legend_height(GRADIENT_PLOT_HEIGHT, labels))


# ---------------------------------------------------------------- helpers
def token_layout(tokens: list[str]) -> pd.DataFrame:
    """Places tokens like a line of text: one box per token, wrapped into lines.

    Args:
        tokens: the tokens in reading order.

    Returns:
        One row per token with columns line (0 first), x, x2 (the box's
        left and right edges in pixels, at most `TEXT_WIDTH`) and centre.
    """
    rows, line, x, on_line = [], 0, 0.0, 0
    for token in tokens:
        width = min(TEXT_WIDTH, CHARACTER_WIDTH * len(str(token)) + BOX_PADDING)
        if on_line and (x + width > TEXT_WIDTH or on_line >= TOKENS_PER_LINE):
            line, x, on_line = line + 1, 0.0, 0
        rows.append({"line": line, "x": x, "x2": x + width - BOX_GAP, "centre": x + (width - BOX_GAP) / 2})
        x += width
        on_line += 1
    return pd.DataFrame(rows, columns=["line", "x", "x2", "centre"])


def _text_block(run: pd.DataFrame, value: str, legend: alt.Legend) -> alt.LayerChart:
    """One run's highlighted text (boxes and words), titled with its prediction."""
    layout = token_layout(run["token"].astype(str).tolist())
    values = pd.to_numeric(run[value], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    largest = float(np.max(np.abs(values))) if len(values) else 0.0
    shade = values / largest if largest > 0 else np.zeros_like(values)
    data = run.reset_index(drop=True).assign(
        token=run["token"].astype(str).to_numpy(), shade=shade, **layout.to_dict("list"),
        y=layout["line"].to_numpy() * LINE_HEIGHT,
        y2=layout["line"].to_numpy() * LINE_HEIGHT + LINE_HEIGHT - BOX_GAP,
        middle=layout["line"].to_numpy() * LINE_HEIGHT + (LINE_HEIGHT - BOX_GAP) / 2,
    )
    lines = int(layout["line"].max()) + 1 if len(layout) else 1
    x_scale = alt.Scale(domain=[0, TEXT_WIDTH], nice=False, zero=True)
    y_scale = alt.Scale(domain=[0, lines * LINE_HEIGHT], nice=False, reverse=True)
    tooltip = [alt.Tooltip("token:N"), alt.Tooltip("position:Q", title="position in the input")]
    for column in VALUES:
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:Q", title=VALUE_WORDS[column], format=".4f"))
    base = alt.Chart(data)
    boxes = base.mark_rect(cornerRadius=3).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), x2="x2:Q",
        y=alt.Y("y:Q", scale=y_scale, axis=None), y2="y2:Q",
        color=_shade_colour(legend), tooltip=tooltip,
    )
    words = base.mark_text(fontSize=TEXT_FONT, limit=TEXT_WIDTH - BOX_PADDING).encode(
        x=alt.X("centre:Q", scale=x_scale, axis=None), y=alt.Y("middle:Q", scale=y_scale, axis=None),
        text="token:N", tooltip=tooltip,
        color=alt.condition(f"abs(datum.shade) > {DARK_SHADE}", alt.value("white"), alt.value("black")),
    )
    return alt.layer(boxes, words).properties(
        title=_block_title(run), width=TEXT_WIDTH, height=lines * LINE_HEIGHT,
    )


def _block_title(run: pd.DataFrame) -> alt.Title:
    """"label: predicts class (93%)", the label whole."""
    first = run.iloc[0]
    label = str(first["label"])
    if "class_name" in run and "output" in run and pd.notna(first["output"]):
        return alt.Title(f"{label}: predicts {first['class_name']} ({float(first['output']):.0%})",
                         anchor="start", fontSize=12, limit=0)
    return alt.Title(label, anchor="start", fontSize=12, limit=0)


def _shade_colour(legend: alt.Legend) -> alt.Color:
    """Colour by `shade` (-1 .. 1): red against, white at 0, blue for the predicted class."""
    return alt.Color(
        "shade:Q", title="÷ the run's largest",
        scale=alt.Scale(domain=SHADE_DOMAIN, domainMid=0, scheme="redblue", clamp=True),
        legend=legend,
    )
