"""Smoothed training-loss curves: step losses recorded in training, stored, smoothed, drawn.

`StepLossRecorder` records the loss every few batches (bounded per run) and
the store writes them once per epoch; `analysis.smoothing.ema` is
TensorBoard's debiased moving average; `curve_charts.smoothed_loss_chart`
draws each run's raw curve faint beneath its smoothed one.
"""

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from seqlab.analysis.smoothing import STEP_LOSS_TABLE_COLUMNS, ema, step_loss_table
from seqlab.config import RunConfig
from seqlab.curve_charts import RAW_OPACITY, SMOOTHED_OPACITY, smoothed_loss_chart
from seqlab.jobs import train_foreground
from seqlab.store import MIGRATIONS, SCHEMA_VERSION, RunNotFoundError, RunStore
from seqlab.training import (
    STEP_LOSS_MAX_POINTS, STEP_LOSS_POINTS_PER_EPOCH, StepLossRecorder, StoreReporter, step_loss_stride,
)


def tiny(**overrides):
    base = {"data.sequence_length": 12, "model.units": 8, "model.embedding_dim": 8,
            "train.epochs": 2, "train.batch_size": 16, "train.jit_compile": False}
    base.update(overrides)
    return RunConfig().with_overrides(base).validate()


class CollectingStore:
    """Stands in for the store where only what training writes, and how often, is checked."""

    def __init__(self):
        self.writes, self.points = 0, []

    def add_step_losses(self, run_id, points):
        self.writes += 1
        self.points.extend(dict(point, run_id=run_id) for point in points)


def drive_recorder(recorder, batch_losses, train_examples, batch_size, steps_per_execution=1):
    """Calls the recorder as `model.fit` would, with Keras's running-mean `logs["loss"]`.

    Args:
        batch_losses: (epochs, steps_per_epoch) the loss of every batch.

    Returns:
        (epochs, steps_per_epoch) each batch's examples.
    """
    epochs, steps = batch_losses.shape
    examples = np.full(steps, batch_size)
    examples[-1] = train_examples - batch_size * (steps - 1)  # a short last batch
    recorder.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
    recorder.on_train_begin()
    for epoch in range(epochs):
        recorder.on_epoch_begin(epoch)
        summed = np.cumsum(batch_losses[epoch] * examples)
        seen = np.cumsum(examples)
        # Keras calls back after each execution's last step, numbering it past a short epoch's end.
        for last in range(steps_per_execution - 1, steps + steps_per_execution - 1, steps_per_execution):
            done = min(last, steps - 1)
            recorder.on_train_batch_end(last, {"loss": float(summed[done] / seen[done])})
        recorder.on_epoch_end(epoch, {"loss": float(summed[-1] / seen[-1])})
    recorder.on_train_end()
    return np.tile(examples, (epochs, 1))


def window_means(batch_losses, examples, points):
    """The example-weighted mean batch loss between consecutive recorded points of each epoch."""
    expected = []
    for epoch, group in points.groupby("epoch", sort=True):
        previous = 0
        for step in group["step"]:
            rows = slice(previous, step)
            weights = examples[epoch - 1, rows]
            expected.append(float(np.sum(batch_losses[epoch - 1, rows] * weights) / np.sum(weights)))
            previous = step
    return np.array(expected)


# ---------------------------------------------------------------------- ema
@pytest.mark.parametrize("weight", [0.3, 0.6, 0.99])
def test_ema_of_a_constant_is_that_constant(weight):
    constant = np.full(50, 0.42)
    np.testing.assert_array_equal(ema(constant, weight), constant)
    # A NaN makes the curve non-constant, so the debiased average itself keeps the constant.
    with_gap = constant.copy()
    with_gap[10] = np.nan
    smoothed = ema(with_gap, weight)
    np.testing.assert_allclose(np.delete(smoothed, 10), 0.42, rtol=1e-12)


def test_ema_debiasing_makes_the_first_value_the_first_raw_value():
    values = [2.0, 4.0, 0.0, 6.0]
    smoothed = ema(values, 0.9)
    assert smoothed[0] == pytest.approx(2.0, rel=1e-12)  # without debiasing it would be 0.2
    # TensorBoard's second value: (0.9 * 0.1 * 2 + 0.1 * 4) / (1 - 0.9 ** 2).
    assert smoothed[1] == pytest.approx((0.9 * 0.1 * 2.0 + 0.1 * 4.0) / (1 - 0.81), rel=1e-12)


def test_ema_with_weight_zero_returns_the_raw_values():
    values = np.array([0.9, 0.2, 0.7, 0.1])
    np.testing.assert_array_equal(ema(values, 0.0), values)
    np.testing.assert_array_equal(ema(values, 0), values)


def test_ema_passes_non_finite_values_through_without_averaging_them():
    smoothed = ema([1.0, np.nan, 3.0], 0.5)
    assert np.isnan(smoothed[1])
    np.testing.assert_allclose(smoothed[[0, 2]], [1.0, ema([1.0, 3.0], 0.5)[1]])


@pytest.mark.parametrize("weight", [1.0, 1.5, -0.1, float("nan"), "0.5", True, None])
def test_ema_rejects_a_weight_outside_zero_to_one(weight):
    with pytest.raises(ValueError, match=r"smoothing weight: received .*expected a number from 0"):
        ema([1.0, 2.0], weight)


# ------------------------------------------------------------------ recording
@pytest.mark.parametrize("steps, epochs", [(1, 1), (7, 3), (90, 2), (1000, 250), (50_000, 1000), (3, 1000)])
def test_the_stride_bounds_points_per_epoch_and_per_run(steps, epochs):
    stride = step_loss_stride(steps, epochs)
    per_epoch = math.ceil(steps / stride)
    assert per_epoch <= STEP_LOSS_POINTS_PER_EPOCH
    assert per_epoch * epochs <= STEP_LOSS_MAX_POINTS


def test_recorded_points_are_bounded_increase_in_step_and_are_written_once_per_epoch():
    collecting = CollectingStore()
    recorder = StepLossRecorder(collecting, "r-long", train_examples=199 * 8 + 5, batch_size=8)
    batch_losses = np.random.default_rng(0).uniform(0.1, 1.0, size=(250, 200))
    examples = drive_recorder(recorder, batch_losses, train_examples=199 * 8 + 5, batch_size=8)
    points = pd.DataFrame(collecting.points)
    assert len(points) == STEP_LOSS_MAX_POINTS  # 250 epochs x 8 points: the bound, reached
    assert points["global_step"].is_monotonic_increasing and points["global_step"].is_unique
    assert collecting.writes == 250
    np.testing.assert_allclose(points["loss"], window_means(batch_losses, examples, points), rtol=1e-9)


def test_with_several_steps_per_execution_points_fall_on_execution_ends(store):
    run_id = store.create_run(tiny(), status="running")
    recorder = StepLossRecorder(store, run_id, train_examples=62 * 16 + 8, batch_size=16)
    batch_losses = np.random.default_rng(1).uniform(0.1, 1.0, size=(2, 63))
    examples = drive_recorder(recorder, batch_losses, 62 * 16 + 8, 16, steps_per_execution=4)
    points = store.step_losses_frame([run_id])
    # stride 4 (63 batches over 20 points): every call is a point, the last at the epoch's end.
    assert points[points["epoch"] == 1]["step"].tolist() == [*range(4, 63, 4), 63]
    assert points["global_step"].tolist() == [*range(4, 63, 4), 63, *range(67, 126, 4), 126]
    np.testing.assert_allclose(points["loss"], window_means(batch_losses, examples, points), rtol=1e-9)


def test_a_tiny_run_records_step_losses_averaging_to_each_epochs_loss(toy_runs):
    """Keras's epoch loss is the running mean of the epoch's batches, weighted by examples.

    Each point is the mean loss of the batches since the epoch's previous
    point, so the points' example-weighted mean telescopes to that running
    mean at the epoch's end: only float rounding separates them (rel 1e-6).
    """
    # The session's tiny LSTM (tests/conftest.py trains it once; read-only): tiny(), but for two
    # Transformer fields that an LSTM does not read.
    home, runs = toy_runs
    store = RunStore(home)
    record = store.get_run(runs["lstm"])
    unread = {"model.key_dim", "model.ff_dim"}
    assert ({key: value for key, value in record.config.flat().items() if key not in unread}
            == {key: value for key, value in tiny().flat().items() if key not in unread})
    points = store.step_losses_frame([record.run_id])
    train_examples = store.read_meta(record.run_id)["examples"]["train"]
    steps = math.ceil(train_examples / 16)
    assert (points["steps_per_epoch"] == steps).all()
    assert points.groupby("epoch").size().max() <= STEP_LOSS_POINTS_PER_EPOCH
    assert points["global_step"].is_monotonic_increasing and points["global_step"].iloc[-1] == 2 * steps
    for epoch in store.epochs(record.run_id):
        chosen = points[points["epoch"] == epoch["epoch"]]
        seen = np.minimum(chosen["step"].to_numpy() * 16, train_examples)
        weights = np.diff(seen, prepend=0)
        assert np.sum(chosen["loss"] * weights) / np.sum(weights) == pytest.approx(epoch["loss"], rel=1e-6)


def test_a_run_with_several_steps_per_execution_and_a_short_last_batch_averages_the_same(store):
    record = train_foreground(tiny(**{"train.batch_size": 100, "train.steps_per_execution": 3}), store)
    points = store.step_losses_frame([record.run_id])
    train_examples = store.read_meta(record.run_id)["examples"]["train"]
    assert train_examples % 100  # the last batch is short
    steps = math.ceil(train_examples / 100)
    assert points[points["epoch"] == 1]["step"].tolist() == [*range(3, steps, 3), steps]
    for epoch in store.epochs(record.run_id):
        chosen = points[points["epoch"] == epoch["epoch"]]
        weights = np.diff(np.minimum(chosen["step"].to_numpy() * 100, train_examples), prepend=0)
        assert np.sum(chosen["loss"] * weights) / np.sum(weights) == pytest.approx(epoch["loss"], rel=1e-6)


def test_a_diverged_epoch_keeps_its_points_with_the_bad_loss_as_nan(store):
    import keras

    run_id = store.create_run(tiny(), status="running")

    class PoisonLoss(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                logs["loss"] = float("nan")

    reporter = StoreReporter(store, run_id, epochs=3, notify=lambda event: None)
    recorder = StepLossRecorder(store, run_id, train_examples=64, batch_size=8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(np.zeros((64, 4), "float32"), np.zeros((64,), "float32"), epochs=3, batch_size=8, verbose=0,
              callbacks=[PoisonLoss(), reporter, recorder])
    points = store.step_losses_frame([run_id])
    assert points["step"].tolist() == [1, 2, 3]  # 8 batches: stride 1; the third stopped training
    assert np.isfinite(points["loss"].iloc[:2]).all() and np.isnan(points["loss"].iloc[2])


# ---------------------------------------------------------------------- store
def test_step_losses_round_trip_and_go_with_their_run(store):
    run_id = store.create_run(tiny(), status="completed")
    store.add_step_losses(run_id, [
        {"global_step": 5, "epoch": 1, "step": 5, "steps_per_epoch": 10, "loss": 0.7},
        {"global_step": 10, "epoch": 1, "step": 10, "steps_per_epoch": 10, "loss": float("inf")},
    ])
    frame = store.step_losses_frame([run_id])
    assert frame.columns.tolist() == ["run_id", "global_step", "epoch", "step", "steps_per_epoch", "loss"]
    assert frame["global_step"].tolist() == [5, 10] and frame["loss"].iloc[0] == 0.7
    assert np.isnan(frame["loss"].iloc[1])  # not finite: stored as NULL
    store.delete_run(run_id)
    assert store.step_losses_frame().empty


@pytest.mark.parametrize("point, words", [
    ({"global_step": 0, "epoch": 1, "step": 1, "steps_per_epoch": 1, "loss": 0.5}, "global_step received 0"),
    ({"global_step": 1, "epoch": 1, "step": 1, "loss": 0.5}, "missing steps_per_epoch"),
    ({"global_step": 1, "epoch": 1, "step": 1, "steps_per_epoch": 1, "loss": "low"}, "metric loss"),
])
def test_a_bad_step_loss_point_is_refused_with_what_was_received(store, point, words):
    run_id = store.create_run(tiny(), status="running")
    with pytest.raises(ValueError, match=words):
        store.add_step_losses(run_id, [point])
    assert store.step_losses_frame().empty


def test_step_losses_of_an_unknown_run_are_refused(store):
    with pytest.raises(RunNotFoundError, match="no run 'r-missing'"):
        store.add_step_losses("r-missing", [{"global_step": 1, "epoch": 1, "step": 1, "steps_per_epoch": 1,
                                             "loss": 0.5}])


def test_opening_a_version_3_store_adds_the_step_losses_table(tmp_path):
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.db", isolation_level=None)
    for migration in MIGRATIONS[:3]:
        migration(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO runs (run_id, status, config, created_at) VALUES ('r-old', 'completed', ?, 1.0)",
                 (json.dumps(RunConfig().to_dict()),))
    conn.close()
    store = RunStore(home)
    with sqlite3.connect(home / "runs.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.runs_frame()["run_id"].tolist() == ["r-old"]
    assert store.step_losses_frame().empty  # runs from before version 4 recorded none
    store.add_step_losses("r-old", [{"global_step": 1, "epoch": 1, "step": 1, "steps_per_epoch": 1, "loss": 0.5}])
    assert step_loss_table(store, ["r-old"])["loss"].tolist() == [0.5]


# ------------------------------------------------------------- table, chart
def _two_runs(store):
    """Two finished runs with 40 recorded points each: batch 16 (40 steps an epoch) and 32 (20)."""
    run_ids = []
    rng = np.random.default_rng(2)
    for batch_size, steps in ((16, 40), (32, 20)):
        run_id = store.create_run(tiny(**{"train.batch_size": batch_size}), status="completed")
        epochs = 40 // steps
        store.add_step_losses(run_id, [
            {"global_step": step, "epoch": (step - 1) // steps + 1, "step": (step - 1) % steps + 1,
             "steps_per_epoch": steps, "loss": 1.0 / step + rng.uniform(0, 0.1)}
            for step in range(1, epochs * steps + 1)])
        run_ids.append(run_id)
    return run_ids


def test_step_loss_table_has_labels_fractional_epochs_and_the_smoothed_loss(store):
    run_ids = _two_runs(store)
    table = step_loss_table(store, run_ids, weight=0.8)
    assert table.columns.tolist() == list(STEP_LOSS_TABLE_COLUMNS)
    assert table.groupby("run_id")["label"].nunique().eq(1).all() and table["label"].nunique() == 2
    last = table.groupby("run_id")["epoch_position"].max()
    assert [last[run_id] for run_id in run_ids] == [1.0, 2.0]  # 40 steps: one epoch of batch 16, two of 32
    first_run = table[table["run_id"] == run_ids[0]]
    np.testing.assert_allclose(first_run["smoothed"], ema(first_run["loss"], 0.8))


def test_the_chart_draws_the_raw_curve_faint_beneath_the_solid_smoothed_one(store):
    table = step_loss_table(store, _two_runs(store))
    spec = smoothed_loss_chart(table, weight=0.9).to_dict()  # validates against Vega-Lite's schema
    raw, smoothed = spec["layer"]
    assert raw["encoding"]["y"]["field"] == "loss" and smoothed["encoding"]["y"]["field"] == "smoothed"
    assert raw["encoding"]["opacity"]["value"] != smoothed["encoding"]["opacity"]["value"]
    assert raw["encoding"]["opacity"]["condition"]["value"] == RAW_OPACITY == 0.25
    assert smoothed["encoding"]["opacity"]["condition"]["value"] == SMOOTHED_OPACITY == 1.0
    for layer in (raw, smoothed):
        assert layer["encoding"]["color"]["field"] == "label"  # one colour per run in both layers
        assert layer["encoding"]["color"]["legend"]["labelLimit"] == 0
        assert layer["encoding"]["x"]["field"] == "epoch_position"
        assert {"loss", "smoothed", "global_step"} <= {tip["field"] for tip in layer["encoding"]["tooltip"]}
    assert spec["width"] == "container"
    assert "smoothing weight 0.9" in spec["title"]["subtitle"][0]


def test_the_chart_smooths_with_its_own_weight(store):
    table = step_loss_table(store, _two_runs(store), weight=0.6)
    drawn = smoothed_loss_chart(table, weight=0.0, x="step")
    data = pd.DataFrame(drawn.data)
    np.testing.assert_allclose(data["smoothed"], data["loss"])
    assert drawn.to_dict()["layer"][0]["encoding"]["x"]["field"] == "global_step"


def test_the_chart_of_runs_without_step_losses_says_no_data(store):
    run_id = store.create_run(tiny(), status="completed")
    spec = smoothed_loss_chart(step_loss_table(store, [run_id])).to_dict()
    assert spec["mark"]["type"] == "text" and "no data yet" in json.dumps(spec)


@pytest.mark.parametrize("arguments, words", [({"x": "time"}, "x: received 'time'"),
                                               ({"weight": 1.0}, "smoothing weight: received 1.0")])
def test_the_chart_refuses_bad_arguments(store, arguments, words):
    table = step_loss_table(store, _two_runs(store))
    with pytest.raises(ValueError, match=words):
        smoothed_loss_chart(table, **arguments)
