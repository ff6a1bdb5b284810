"""Tests for seqlab.charts: every chart validates against the Vega-Lite schema
(`to_dict()` validates), carries the encodings its picture depends on, and
turns an empty table into a "no data yet" chart."""

import altair as alt
import numpy as np
import pandas as pd
import pytest

from seqlab import attention_charts, charts
from seqlab.analysis.stats import group_curves_table
from seqlab.analysis.tables import curves_table, gap_table, run_summary_table


def spec(chart):
    return chart.to_dict()  # validates against the Vega-Lite schema


def views(specification):
    """The unit specs of a chart: itself, or its layers (a faceted chart's inner ones)."""
    inner = specification.get("spec", specification)
    return inner.get("layer", [inner])


def rows(specification, view):
    """The data rows a view draws (its own data, else the top level's)."""
    data = view.get("data") or specification["data"]
    return specification["datasets"][data["name"]]


def curves():
    epochs = pd.DataFrame({
        "run_id": ["a", "a", "a", "b", "b", "b"],
        "epoch": [1, 2, 3, 1, 2, 3],
        "loss": [1.0, 0.7, 0.5, 0.9, 0.8, 0.7],
        "accuracy": [0.5, 0.7, 0.8, 0.5, 0.6, 0.65],
        "val_loss": [0.9, 0.6, 0.7, 0.95, 0.85, 0.8],
        "val_accuracy": [0.55, 0.72, 0.7, 0.5, 0.58, 0.62],
        "seconds": [2.0, 1.0, 1.0, 3.0, 3.0, 3.0],
    })
    runs = pd.DataFrame({
        "run_id": ["a", "b"], "label": ["lstm 32u x1", "transformer 2h x1"], "arch": ["lstm", "transformer"],
        "status": ["completed", "completed"], "group_id": ["g", "g"], "num_params": [1000, 30000],
        "test_accuracy": [0.7, 0.6], "dataset": ["toy", "toy"], "data.sequence_length": [16, 16],
    })
    return epochs, runs


def attention_table():
    """One text "the cat the" plus one padding position, two heads, one layer."""
    tokens = ["the", "cat", "the", ""]
    records = []
    for head in (0, 1):
        for query in range(4):
            for key in range(4):
                weight = 0.0 if key == 3 else (0.5 if key == query else 0.25)
                records.append({
                    "layer": 0, "head": head, "query_position": query, "query_token": tokens[query],
                    "key_position": key, "key_token": tokens[key], "weight": weight,
                })
    return pd.DataFrame(records)


def tokenization_table():
    return pd.DataFrame({
        "example": [0, 0, 0, 1, 1, 1], "position": [0, 1, 2, 0, 1, 2],
        "token": ["good", "film", "", "bad", "", ""], "token_id": [5, 7, 0, 9, 0, 0],
        "mask": [True, True, False, True, False, False],
    })


def sweep():
    return pd.DataFrame({
        "arch": ["lstm", "lstm", "gru", "gru"], "value": [8, 256, 8, 256],
        "seconds_per_epoch": [1.0, 4.0, 1.2, 3.0], "val_accuracy": [0.7, 0.8, 0.72, 0.79],
        "val_accuracy_std": [0.01, np.nan, 0.02, 0.01], "n_runs": [2, 1, 2, 2], "run_ids": [["a"], ["b"], ["c"], ["d"]],
    })


def summary_table():
    epochs, runs = curves()
    return run_summary_table(epochs, runs)


def curve_table():
    return curves_table(*curves())


CHART_BUILDERS = {
    "overlay": lambda: charts.metric_overlay_chart(curve_table(), "loss"),
    "training": lambda: charts.training_curves_chart(curve_table().query("run_id == 'a'")),
    "gap": lambda: charts.gap_chart(gap_table(*curves())),
    "band": lambda: charts.group_band_chart(group_curves_table(curve_table()), "accuracy"),
    "lengths": lambda: charts.length_histogram_chart(np.array([3, 5, 8, 20, 30]), 10),
    "labels": lambda: charts.label_balance_chart(pd.DataFrame({"split": ["train", "train", "test"], "label": [0, 1, 1]})),
    "tokens": lambda: charts.tokens_chart(tokenization_table()),
    "heatmap": lambda: attention_charts.attention_heatmap_chart(attention_table(), 0, 1),
    "grid": lambda: attention_charts.attention_grid_chart(attention_table()),
    "pareto": lambda: charts.pareto_chart(summary_table()),
    "sweep": lambda: charts.sweep_chart(sweep(), "data.sequence_length"),
    "predictions": lambda: charts.prediction_chart(pd.DataFrame({
        "label": ["a", "a", "b", "b"], "class_name": ["neg", "pos", "neg", "pos"], "probability": [0.2, 0.8, 0.6, 0.4],
    })),
}


@pytest.mark.parametrize("name", list(CHART_BUILDERS))
def test_every_chart_validates_with_title_and_tooltips(name):
    chart = CHART_BUILDERS[name]()
    assert isinstance(chart, (alt.Chart, alt.LayerChart, alt.FacetChart))
    specification = spec(chart)
    assert specification.get("title")
    assert any("tooltip" in view.get("encoding", {}) for view in views(specification))


EMPTY_CALLS = {
    "overlay": lambda empty: charts.metric_overlay_chart(empty),
    "training": lambda empty: charts.training_curves_chart(empty),
    "gap": lambda empty: charts.gap_chart(empty),
    "band": lambda empty: charts.group_band_chart(empty, "loss"),
    "lengths": lambda empty: charts.length_histogram_chart(empty, 10),
    "labels": lambda empty: charts.label_balance_chart(empty),
    "tokens": lambda empty: charts.tokens_chart(empty),
    "heatmap": lambda empty: attention_charts.attention_heatmap_chart(empty, 0, 0),
    "grid": lambda empty: attention_charts.attention_grid_chart(empty),
    "pareto": lambda empty: charts.pareto_chart(empty),
    "sweep": lambda empty: charts.sweep_chart(empty, "data.sequence_length"),
    "predictions": lambda empty: charts.prediction_chart(empty),
}


@pytest.mark.parametrize("name", list(EMPTY_CALLS))
def test_empty_table_gives_a_no_data_chart(name):
    specification = spec(EMPTY_CALLS[name](pd.DataFrame()))
    assert specification["mark"]["type"] == "text"
    assert rows(specification, specification) == [{"message": charts.NO_DATA}]


def test_overlay_dashes_validation_and_colours_runs():
    epochs, runs = curves()
    specification = spec(charts.metric_overlay_chart(curves_table(epochs, runs), "accuracy"))
    line = specification["layer"][0]
    assert line["mark"]["type"] == "line"
    assert line["encoding"]["strokeDash"]["field"] == "split"
    assert line["encoding"]["color"]["field"] == "label"
    assert specification["layer"][1]["mark"]["type"] == "point"
    assert {row["metric"] for row in rows(specification, line)} == {"accuracy"}


def test_training_curves_facet_loss_and_accuracy_for_one_run():
    epochs, runs = curves()
    table = curves_table(epochs, runs)
    specification = spec(charts.training_curves_chart(table[table.run_id == "a"]))
    assert specification["facet"]["column"]["field"] == "metric"
    assert specification["resolve"]["scale"]["y"] == "independent"
    with pytest.raises(ValueError, match="one run"):
        charts.training_curves_chart(table)


def chance_runs():
    """The curves of `curves()` with run a's validation majority share 0.5 and run b's 0.6."""
    epochs, runs = curves()
    return curves_table(epochs, runs.assign(majority_fraction=[0.5, 0.6]))


def test_accuracy_overlay_draws_a_chance_rule_at_each_runs_majority_share():
    specification = spec(charts.metric_overlay_chart(chance_runs(), "accuracy"))
    rule = specification["layer"][-1]
    assert rule["mark"]["type"] == "rule" and rule["encoding"]["y"]["field"] == "majority_fraction"
    drawn = {row["majority_fraction"]: row["runs"] for row in rows(specification, rule)}
    assert drawn == {0.5: "lstm 32u x1", 0.6: "transformer 2h x1"}
    assert "chance" in str(specification["title"])


def test_loss_overlay_and_runs_without_a_recorded_share_have_no_chance_rule():
    loss = spec(charts.metric_overlay_chart(chance_runs(), "loss"))
    unknown = spec(charts.metric_overlay_chart(curve_table(), "accuracy"))  # no majority_fraction
    for specification in (loss, unknown):
        assert [view["mark"]["type"] for view in specification["layer"]] == ["line", "point"]


def test_training_curves_draw_the_chance_rule_in_the_accuracy_panel_only():
    table = chance_runs()
    specification = spec(charts.training_curves_chart(table[table.run_id == "b"]))
    line, rule = specification["spec"]["layer"]
    assert rule["mark"]["type"] == "rule"
    assert rule["transform"] == [{"filter": "(datum.metric === 'accuracy')"}]
    assert rule["encoding"]["y"]["field"] == "majority_fraction"
    assert {row["majority_fraction"] for row in rows(specification, specification)} == {0.6}


def test_group_band_accuracy_chart_draws_the_groups_chance_rule():
    group_curves = group_curves_table(chance_runs())
    specification = spec(charts.group_band_chart(group_curves, "accuracy"))
    rule = specification["layer"][-1]
    assert rule["mark"]["type"] == "rule"
    assert [row["majority_fraction"] for row in rows(specification, rule)] == [pytest.approx(0.55)]


def test_gap_chart_has_zero_rule_and_best_epoch_marks():
    epochs, runs = curves()
    specification = spec(charts.gap_chart(gap_table(epochs, runs)))
    zero, _, best = specification["layer"]
    assert zero["mark"]["type"] == "rule" and zero["encoding"]["y"]["datum"] == 0
    assert best["transform"] == [{"filter": "datum.is_best"}]
    assert best["mark"]["shape"] == "diamond"


def test_group_band_chart_draws_a_band_around_the_mean():
    epochs, runs = curves()
    group_curves = group_curves_table(curves_table(epochs, runs))
    area, line = spec(charts.group_band_chart(group_curves, "loss", band="std"))["layer"]
    assert area["mark"]["type"] == "area" and area["encoding"]["y2"]["field"] == "band_high"
    assert line["encoding"]["y"]["field"] == "mean"


def test_length_histogram_states_the_truncated_share_at_the_cut():
    specification = spec(charts.length_histogram_chart(np.array([3, 5, 8, 20, 30]), 10))
    bars, rule, text = specification["layer"]
    assert bars["encoding"]["x"]["bin"]
    assert rows(specification, rule) == [
        {"length": 10, "note": "40.0% of texts are longer than 10 tokens and get truncated"}
    ]
    assert text["encoding"]["text"]["field"] == "note"


def test_label_balance_counts_texts_per_class_and_split():
    table = pd.DataFrame({"split": ["train", "train", "train", "test"], "label": [0, 1, 1, 1]})
    specification = spec(charts.label_balance_chart(table))
    counts = {(row["split"], row["label"]): row["count"] for row in rows(specification, specification)}
    assert counts == {("train", "0"): 1, ("train", "1"): 2, ("test", "1"): 1}
    assert specification["encoding"]["xOffset"]["field"] == "split"


def test_tokens_chart_colours_real_tokens_and_padding():
    specification = spec(charts.tokens_chart(tokenization_table()))
    cells, text = specification["layer"]
    assert cells["mark"]["type"] == "rect" and cells["encoding"]["color"]["field"] == "kind"
    kinds = [row["kind"] for row in rows(specification, cells)]
    assert kinds.count("padding") == 3 and kinds.count("real token") == 3
    assert text["encoding"]["text"]["field"] == "shown"
    assert "token_id" in [tip["field"] for tip in cells["encoding"]["tooltip"]]


def test_tokens_chart_reads_the_vectorizers_is_padding_column():
    table = tokenization_table().drop(columns=["mask", "token_id"])
    table = table.assign(is_padding=table["token"] == "", id=[5, 7, 0, 9, 0, 0])
    specification = spec(charts.tokens_chart(table))
    kinds = [row["kind"] for row in rows(specification, specification["layer"][0])]
    assert kinds == ["real token", "real token", "padding", "real token", "padding", "padding"]


def test_attention_heatmap_axes_hold_real_tokens_in_order():
    specification = spec(attention_charts.attention_heatmap_chart(attention_table(), 0, 1))
    cells = specification["layer"][0]
    encoding = cells["encoding"]
    assert encoding["x"]["sort"] == ["0: the", "1: cat", "2: the"]
    assert encoding["y"]["sort"] == encoding["x"]["sort"]
    drawn = rows(specification, cells)
    assert all(row["key_token"] and row["query_token"] for row in drawn)
    assert {row["head"] for row in drawn} == {"1"}
    # Coloured relative to an even share (white at 1), not from 0.
    assert encoding["color"]["field"] == "shade"
    assert encoding["color"]["scale"]["domainMid"] == 1 and encoding["color"]["scale"]["type"] == "log"


def test_attention_heatmap_keeps_already_unique_token_labels():
    table = attention_table()
    table = table[(table.query_token != "") & (table.key_token != "")]
    table = table.assign(
        query_token=table.query_position.astype(str) + ":" + table.query_token,
        key_token=table.key_position.astype(str) + ":" + table.key_token,
    )
    specification = spec(attention_charts.attention_heatmap_chart(table, 0, 0))
    assert specification["layer"][0]["encoding"]["x"]["sort"] == ["0:the", "1:cat", "2:the"]


def test_attention_heatmap_refuses_a_head_it_does_not_hold():
    with pytest.raises(ValueError, match="head 7"):
        attention_charts.attention_heatmap_chart(attention_table(), 0, 7)


def test_attention_grid_facets_heads_and_their_mean():
    specification = spec(attention_charts.attention_grid_chart(attention_table()))
    assert specification["encoding"]["facet"]["field"] == "head"
    assert {row["head"] for row in rows(specification, specification)} == {"0", "1", "mean"}


def test_pareto_chart_draws_the_front_as_a_step_line_on_a_log_axis():
    specification = spec(charts.pareto_chart(summary_table()))
    front, points = specification["layer"]
    assert front["mark"]["interpolate"] == "step-after"
    # "a" has fewer parameters and a higher best validation accuracy, so it beats "b".
    assert [row["label"] for row in rows(specification, front)] == ["lstm 32u x1"]
    # 1,000 to 30,000 parameters span more than 10x.
    assert points["encoding"]["x"]["scale"]["type"] == "log"


def test_sweep_chart_uses_log_x_only_for_wide_numeric_ranges():
    wide = spec(charts.sweep_chart(sweep(), "data.sequence_length"))
    assert wide["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    narrow = spec(charts.sweep_chart(sweep().assign(value=[8, 16, 8, 16]), "data.sequence_length"))
    assert narrow["layer"][0]["encoding"]["x"]["scale"].get("type") is None
    words = spec(charts.sweep_chart(sweep().assign(value=["mean", "max", "mean", "max"]), "model.pooling"))
    assert words["layer"][0]["encoding"]["x"]["type"] == "ordinal"


def test_sweep_seconds_chart_states_the_one_off_compile_beside_the_steady_figure():
    table = sweep().assign(compile_seconds=[6.0, 7.0, 5.0, 9.0])
    specification = spec(charts.sweep_chart(table, "data.sequence_length", "seconds_per_epoch"))
    tooltips = {t["field"] for t in specification["layer"][0]["encoding"]["tooltip"]}
    assert {"seconds_per_epoch", "compile_seconds"} <= tooltips
    assert "steady" in str(specification["title"])


def test_prediction_chart_stacks_class_probabilities_per_run():
    table = pd.DataFrame({"label": ["a", "a"], "class_name": [0, 1], "probability": [0.3, 0.7]})
    specification = spec(charts.prediction_chart(table))
    assert specification["encoding"]["y"]["field"] == "label"
    assert specification["encoding"]["color"]["field"] == "class_name"
    assert specification["encoding"]["x"]["scale"]["domain"] == [0, 1]


def test_prediction_chart_keeps_runs_sharing_a_label_apart():
    table = pd.DataFrame({"label": ["lstm"] * 4, "run_id": ["r1", "r1", "r2", "r2"],
                          "class_name": ["neg", "pos"] * 2, "probability": [0.3, 0.7, 0.6, 0.4]})
    specification = spec(charts.prediction_chart(table))
    assert {row["label"] for row in rows(specification, specification)} == {"lstm #r1", "lstm #r2"}


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metric"):
        charts.metric_overlay_chart(pd.DataFrame(), "f1")


# Two sweep runs whose labels differ only at their very end (Vega-Lite's default cut is 160 px).
LONG_LABELS = ["transformer 2h x1 sequence_length 200, batch_size 64, epochs 4, seed 0",
               "transformer 2h x1 sequence_length 200, batch_size 64, epochs 4, seed 1"]


def long_label_curves():
    epochs, runs = curves()
    table = curves_table(epochs, runs.assign(label=LONG_LABELS))
    return table.assign(group_id=table["run_id"], group_label=table["label"])


RUN_LEGEND_CHARTS = {
    "overlay loss": lambda: charts.metric_overlay_chart(long_label_curves(), "loss"),
    "overlay accuracy": lambda: charts.metric_overlay_chart(long_label_curves(), "accuracy"),
    "gap": lambda: charts.gap_chart(gap_table(*curves()).assign(
        label=lambda table: table["run_id"].map(dict(zip("ab", LONG_LABELS))))),
    "band": lambda: charts.group_band_chart(group_curves_table(long_label_curves()), "accuracy"),
}


@pytest.mark.parametrize("name", list(RUN_LEGEND_CHARTS))
def test_run_legends_show_every_label_whole_below_the_plot(name):
    specification = spec(RUN_LEGEND_CHARTS[name]())
    colours = [view["encoding"]["color"] for view in views(specification)
               if view.get("encoding", {}).get("color", {}).get("field") in ("label", "group_label")]
    legends = [colour["legend"] for colour in colours if colour.get("legend") is not None]
    assert colours and len(legends) == len(colours), colours
    # About 7 px a character at the legend's font: 0 means no limit.
    longest = 7 * max(map(len, LONG_LABELS))
    assert all(legend["labelLimit"] == 0 or legend["labelLimit"] >= longest for legend in legends), legends
    # Below the plot, a row each: a long label takes the chart's width, not the plot's.
    assert all((legend["orient"], legend["columns"]) == ("bottom", 1) for legend in legends), legends
    # The chart grows by a row per label, so the plot keeps its height.
    assert specification["height"] == charts.legend_height(300, len(LONG_LABELS))


def test_the_prediction_chart_shows_long_run_labels_whole():
    table = pd.DataFrame({"label": [LONG_LABELS[0]] * 2 + [LONG_LABELS[1]] * 2, "class_name": ["neg", "pos"] * 2,
                          "probability": [0.2, 0.8, 0.6, 0.4]})
    axis = spec(charts.prediction_chart(table))["encoding"]["y"]["axis"]
    assert axis["labelLimit"] >= 7 * max(map(len, LONG_LABELS))
