"""Altair charts of training loss per step: each run's smoothed curve over its faint raw curve.

A pure function from the step-loss table (`seqlab.analysis.smoothing.step_loss_table`)
to a chart, with `seqlab.charts`' conventions: a title, axis titles,
tooltips, the run legend below the plot with every label whole
(`run_legend`, `legend_height`), the container's width, and a "no data yet"
chart for an empty table. Built apart because it smooths what it draws: a
slider's weight redraws it without reading the store again.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.analysis.smoothing import DEFAULT_SMOOTHING, check_weight, smooth_by_run
from seqlab.charts import RUN_COLOURS, empty_chart, is_empty, legend_height, run_legend

# The raw curve stays visible beneath the smoothed one without competing with it, as in
# TensorBoard; a run not highlighted in the legend fades further.
RAW_OPACITY, SMOOTHED_OPACITY, FADED_OPACITY = 0.25, 1.0, 0.08
# x choices: column, axis title, tooltip format.
STEP_AXES = {
    "epoch": ("epoch_position", "epoch (fraction of the training set seen)", ".2f"),
    "step": ("global_step", "training step (batches)", "d"),
}


def smoothed_loss_chart(
    step_loss_table: pd.DataFrame, weight: float = DEFAULT_SMOOTHING, x: str = "epoch",
) -> alt.LayerChart | alt.Chart:
    """Draws each run's training loss per step: the raw curve faint, the smoothed one solid.

    Both curves of a run share its colour; the smoothed one is
    `analysis.smoothing.ema` of the raw one with `weight`, computed here, so
    the table's own `smoothed` column is not needed. On the fractional-epoch
    axis (the default) runs with other batch sizes line up; on the step
    axis a run with smaller batches runs further right. Clicking a run in
    the legend highlights its two curves.

    Args:
        step_loss_table: `analysis.smoothing.step_loss_table(...)` (run_id,
            label, global_step, epoch_position, loss; epoch and step are
            shown in the tooltip when present).
        weight: the smoothing weight, from 0 (the smoothed curve is the raw
            one) up to, not including, 1.
        x: "epoch" (epoch - 1 + step / steps_per_epoch) or "step" (global step).

    Returns:
        Two line layers (raw at opacity `RAW_OPACITY`, smoothed at
        `SMOOTHED_OPACITY`), colour = run label, tooltip run / epoch / step /
        loss / smoothed loss; width "container".

    Raises:
        ValueError: on a bad weight, an unknown x or missing columns.
    """
    weight = check_weight(weight)
    if x not in STEP_AXES:
        raise ValueError(f"x: received {x!r}, expected one of {', '.join(map(repr, STEP_AXES))}: "
                         f"'epoch' lines up runs of other batch sizes, 'step' counts batches")
    words = "no smoothing" if weight == 0 else f"smoothing weight {weight:g}"
    title = alt.Title("Training loss per step",
                      subtitle=[f"faint: recorded loss; solid: smoothed ({words}, TensorBoard's moving average)"])
    if is_empty(step_loss_table):
        return empty_chart(title)
    require_columns(step_loss_table, ["run_id", "label", "global_step", "epoch_position", "loss"], "step losses")
    data = step_loss_table.assign(smoothed=smooth_by_run(step_loss_table, weight)).sort_values(
        ["run_id", "global_step"], kind="stable")
    column, axis_title, x_format = STEP_AXES[x]
    highlight = alt.selection_point(fields=["label"], bind="legend")
    tooltip = [alt.Tooltip("label:N", title="run")]
    if "epoch" in data and "step" in data:
        tooltip += [alt.Tooltip("epoch:Q"), alt.Tooltip("step:Q", title="step in epoch")]
    tooltip += [alt.Tooltip("global_step:Q", title="training step"),
                alt.Tooltip("epoch_position:Q", title="epochs done", format=".2f"),
                alt.Tooltip("loss:Q", title="recorded loss", format=".4f"),
                alt.Tooltip("smoothed:Q", title="smoothed loss", format=".4f")]
    base = alt.Chart(data).encode(
        x=alt.X(f"{column}:Q", title=axis_title, axis=alt.Axis(format=x_format)),
        # One legend for both layers, its symbols as opaque as the smoothed lines.
        color=alt.Color("label:N", title="run", scale=RUN_COLOURS,
                        legend=run_legend(symbolOpacity=1, symbolType="stroke", symbolStrokeWidth=3)),
        detail="run_id:N",
        tooltip=tooltip,
    )
    raw = base.mark_line(strokeWidth=1).encode(
        y=alt.Y("loss:Q", title="training loss", scale=alt.Scale(zero=False)),
        opacity=alt.condition(highlight, alt.value(RAW_OPACITY), alt.value(FADED_OPACITY / 2)),
    ).add_params(highlight)
    smoothed = base.mark_line(strokeWidth=2).encode(
        y=alt.Y("smoothed:Q", title="training loss"),
        opacity=alt.condition(highlight, alt.value(SMOOTHED_OPACITY), alt.value(FADED_OPACITY)),
    )
    return alt.layer(raw, smoothed).properties(
        title=title, width="container", height=legend_height(300, data["label"].nunique()))
