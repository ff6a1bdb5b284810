"""Hyperparameters at a glance: the varied-settings table, its parallel-coordinates chart and its tab.

The table and chart tests build summary rows from real `RunConfig`s (what
`analysis.tables.summary_table` holds: run_id, label, status, accuracies and
every flattened config field); the page test seeds completed runs into the
store with made-up curves (`tests.test_pages_compare.seed_run`), so nothing
is trained.
"""

import numpy as np
import pandas as pd
import pytest

from seqlab.analysis import hparams
from seqlab.config import FIELDS, default_config
from seqlab.hparam_charts import HEIGHT, hyperparameter_chart
from tests.apptest_support import COMPARE_PAGE, check_page, frames_with, open_page, texts_of
from tests.test_pages_compare import seed_run

TAB = "Hyperparameters"


def summary_of(overrides: list[dict], accuracies: list[float], test_accuracies: list[float] | None = None) -> pd.DataFrame:
    """Summary rows of one run per overrides dict, each with its own seed and name."""
    rows = []
    for index, (override, accuracy) in enumerate(zip(overrides, accuracies)):
        config = default_config(**override, seed=index, name=f"run {index}")
        rows.append({"run_id": f"r{index}", "label": config.label(), "status": "completed",
                     "best_val_accuracy": accuracy,
                     "test_accuracy": np.nan if test_accuracies is None else test_accuracies[index],
                     **config.flat()})
    return pd.DataFrame(rows)


def positions(table: pd.DataFrame, axis: str) -> dict[str, float]:
    """run_id -> where the run crosses `axis`."""
    rows = table[table["axis"] == axis]
    return dict(zip(rows["run_id"], rows["position"]))


def layer_data(spec: dict, layer: dict) -> pd.DataFrame:
    """The rows one layer of a `chart.to_dict()` draws."""
    return pd.DataFrame(spec["datasets"][layer["data"]["name"]])


def layers_of(spec: dict, mark: str) -> list[dict]:
    return [layer for layer in spec["layer"]
            if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark]


# ------------------------------------------------------------------ the table
def test_only_settings_that_differ_get_an_axis():
    # Seeds and names differ too (summary_of gives each run its own): they are not recipe choices.
    summary = summary_of([{"model.arch": "lstm", "model.units": 16}, {"model.arch": "gru", "model.units": 64}],
                         [0.7, 0.8], [0.6, 0.75])
    assert hparams.varied_settings(summary) == ["model.arch", "model.units"]
    table = hparams.hyperparameter_table(summary)
    axes = table.drop_duplicates("order").sort_values("order")
    assert axes["axis"].tolist() == ["model.arch", "model.units", "best_val_accuracy", "test_accuracy"]
    assert len(table) == 2 * 4  # every run crosses every axis


def test_log_fields_are_normalised_on_a_log_scale():
    summary = summary_of([{"model.units": 16, "train.learning_rate": 1e-4},
                          {"model.units": 32, "train.learning_rate": 1e-3},
                          {"model.units": 64, "train.learning_rate": 1e-2}], [0.6, 0.7, 0.8])
    table = hparams.hyperparameter_table(summary)
    # 16, 32, 64 and 1e-4, 1e-3, 1e-2 are even steps of a factor: even steps on a log axis.
    assert positions(table, "model.units") == pytest.approx({"r0": 0.0, "r1": 0.5, "r2": 1.0})
    assert positions(table, "train.learning_rate") == pytest.approx({"r0": 0.0, "r1": 0.5, "r2": 1.0})
    assert set(table[table["axis"] == "train.learning_rate"]["kind"]) == {hparams.LOG}


def test_linear_fields_are_normalised_linearly():
    summary = summary_of([{"model.dropout_rate": rate, "model.num_layers": layers}
                          for rate, layers in ((0.0, 1), (0.1, 2), (0.4, 5))], [0.6, 0.7, 0.8])
    table = hparams.hyperparameter_table(summary)
    assert positions(table, "model.dropout_rate") == pytest.approx({"r0": 0.0, "r1": 0.25, "r2": 1.0})
    assert positions(table, "model.num_layers") == pytest.approx({"r0": 0.0, "r1": 0.25, "r2": 1.0})
    assert table["position"].between(0, 1).all()


def test_axis_kinds_come_from_the_fields_table():
    assert hparams.axis_kind("train.learning_rate") == hparams.LOG  # 1e-6 to 10
    assert hparams.axis_kind("model.dropout_rate") == hparams.LINEAR  # starts at 0
    assert hparams.axis_kind("model.arch") == hparams.CATEGORY
    assert hparams.axis_kind("model.use_mask") == hparams.CATEGORY  # true/false
    with pytest.raises(ValueError, match="received 'model.colour', expected a field"):
        hparams.axis_kind("model.colour")


def test_categories_keep_their_positions_whatever_the_run_order():
    overrides = [{"model.arch": "transformer", "model.use_mask": True}, {"model.arch": "lstm", "model.use_mask": False},
                 {"model.arch": "gru", "model.use_mask": True}]
    forward = hparams.hyperparameter_table(summary_of(overrides, [0.6, 0.7, 0.8]))
    backward = hparams.hyperparameter_table(summary_of(overrides[::-1], [0.8, 0.7, 0.6]))
    for table in (forward, backward):
        arch = table[table["axis"] == "model.arch"]
        # The order of `ARCHITECTURES` (lstm, gru, ..., transformer), evenly spaced.
        assert dict(zip(arch["text"], arch["position"])) == {"lstm": 0.0, "gru": 0.5, "transformer": 1.0}
        mask = table[table["axis"] == "model.use_mask"]
        assert dict(zip(mask["text"], mask["position"])) == {"off": 0.0, "on": 1.0}


def test_accuracy_axes_span_the_runs_and_test_accuracy_only_when_recorded():
    summary = summary_of([{"model.units": 16, "model.num_layers": 1}, {"model.units": 32, "model.num_layers": 2},
                          {"model.units": 64, "model.num_layers": 3}], [0.6, 0.9, 0.7])
    table = hparams.hyperparameter_table(summary)
    assert positions(table, "best_val_accuracy") == pytest.approx({"r0": 0.0, "r1": 1.0, "r2": 1 / 3})
    assert "test_accuracy" not in set(table["axis"])  # no run recorded one


def test_runs_without_a_validation_accuracy_are_left_out():
    summary = summary_of([{"model.units": 16, "model.num_layers": 1}, {"model.units": 32, "model.num_layers": 2},
                          {"model.units": 64, "model.num_layers": 3}], [0.6, np.nan, 0.7])
    table = hparams.hyperparameter_table(summary)
    assert set(table["run_id"]) == {"r0", "r2"}
    assert positions(table, "model.units") == pytest.approx({"r0": 0.0, "r2": 1.0})


def test_a_summary_without_accuracy_column_is_refused():
    summary = summary_of([{"model.units": 16}], [0.6]).drop(columns="best_val_accuracy")
    with pytest.raises(ValueError, match="missing column\\(s\\) best_val_accuracy"):
        hparams.hyperparameter_table(summary)


# ------------------------------------------------------------------ the chart
@pytest.fixture
def sweep_summary() -> pd.DataFrame:
    """Four runs differing in architecture, units and learning rate, with test accuracies."""
    return summary_of([{"model.arch": arch, "model.units": units, "train.learning_rate": rate}
                       for arch, units, rate in (("lstm", 16, 1e-3), ("gru", 32, 1e-2),
                                                 ("lstm", 64, 1e-4), ("transformer", 32, 1e-3))],
                      [0.70, 0.85, 0.60, 0.90], [0.68, 0.80, 0.61, 0.88])


def test_chart_draws_one_line_per_run(sweep_summary):
    spec = hyperparameter_chart(hparams.hyperparameter_table(sweep_summary)).to_dict()
    [lines] = layers_of(spec, "line")
    assert lines["encoding"]["detail"]["field"] == "run_id"
    rows = layer_data(spec, lines)
    assert rows["run_id"].nunique() == len(sweep_summary)
    assert rows.groupby("run_id").size().tolist() == [3 + 2] * len(sweep_summary)  # 3 settings, 2 accuracies
    assert lines["encoding"]["color"]["field"] == "best_val_accuracy"


def test_chart_titles_its_axes_with_the_fields_labels(sweep_summary):
    spec = hyperparameter_chart(hparams.hyperparameter_table(sweep_summary)).to_dict()
    titles = next(layer_data(spec, layer) for layer in layers_of(spec, "text")
                  if "title" in layer_data(spec, layer))
    expected = [FIELDS[path].label for path in ("model.arch", "model.units", "train.learning_rate")]
    assert titles.sort_values("order")["title"].tolist() == expected + ["best val. accuracy", "test accuracy"]
    # Wrapped into lines, every word of every title is drawn.
    assert all(text.split() == wrapped.split() for text, wrapped in zip(titles["title"], titles["wrapped"]))


def test_chart_names_every_category_and_the_ends_of_numbers(sweep_summary):
    spec = hyperparameter_chart(hparams.hyperparameter_table(sweep_summary)).to_dict()
    ticks = next(layer_data(spec, layer) for layer in layers_of(spec, "text")
                 if "title" not in layer_data(spec, layer))
    by_axis = ticks.groupby("order")["text"].apply(list).to_dict()
    assert by_axis[0] == ["lstm", "transformer", "gru"]  # the ends first, then the middle
    assert sorted(by_axis[1]) == ["16", "32", "64"]
    assert by_axis[3] == ["0.600", "0.900"]  # accuracies: lowest and highest


def test_tooltip_names_the_run_and_every_value(sweep_summary):
    spec = hyperparameter_chart(hparams.hyperparameter_table(sweep_summary)).to_dict()
    [lines] = layers_of(spec, "line")
    titles = [item["title"] for item in lines["encoding"]["tooltip"]]
    assert titles == ["run", "status", "Architecture", "Units", "Learning rate", "best val. accuracy", "test accuracy"]
    first = layer_data(spec, lines).query("run_id == 'r1'").iloc[0]
    assert [first[f"value_{order}"] for order in range(5)] == ["gru", "32", "0.01", "0.850", "0.800"]


def test_chart_takes_the_container_width_and_a_fixed_height(sweep_summary):
    spec = hyperparameter_chart(hparams.hyperparameter_table(sweep_summary)).to_dict()
    assert (spec["width"], spec["height"]) == ("container", HEIGHT)


def test_fewer_than_two_differing_settings_say_so():
    summary = summary_of([{"model.units": 16}, {"model.units": 64}], [0.6, 0.7])
    spec = hyperparameter_chart(hparams.hyperparameter_table(summary)).to_dict()
    [message] = pd.DataFrame(spec["datasets"][spec["data"]["name"]])["message"]
    assert message.startswith("fewer than two settings differ among the selected runs (only Units does)")


# ------------------------------------------------------------------ the page
def test_compare_tab_draws_the_chart_of_the_selected_runs(store):
    run_ids = [seed_run(store, {"model.arch": arch, "model.units": units, "train.learning_rate": rate}, level)
               for arch, units, rate, level in (("lstm", 16, 1e-3, 0.7), ("gru", 64, 1e-2, 0.85),
                                                ("transformer", 32, 1e-4, 0.9))]
    at = open_page(COMPARE_PAGE)
    at.query_params["compare.tab"] = TAB
    at.run()
    check_page(at)
    assert sorted(at.multiselect(key="compare.selected").value) == sorted(run_ids)  # the default selection
    [runs] = frames_with(at, "run_id", "position")
    assert set(runs["run_id"]) == set(run_ids)
    [titles] = frames_with(at, "title", "wrapped")
    assert titles["title"].tolist() == ["Architecture", "Units", "Learning rate", "best val. accuracy", "test accuracy"]
    assert "Each line is a run" in texts_of(at.caption)
