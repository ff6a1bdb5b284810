"""Tests for seqlab.analysis on hand-made curves whose answers are worked out by hand."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from seqlab.analysis.advice import advice
from seqlab.analysis.budgets import pareto_front, size_to_parameters
from seqlab.analysis.curves import best_epoch, early_stopping_replay, overfitting_onset
from seqlab.analysis.frames import EPOCH_COLUMNS
from seqlab.analysis.labels import label_runs
from seqlab.analysis.stats import compare_groups, group_curves_table, group_summary_table
from seqlab.analysis.sweeps import sweep_families, sweep_table
from seqlab.analysis.words import verdict_sentence
from seqlab.analysis.tables import (
    CURVE_SUMMARY_COLUMNS, curve_summary_table, curves_table, early_stopping_table, gap_table, run_summary_table,
    summary_table,
)
from seqlab.config import ModelConfig

CONFIG_DEFAULTS = {"model.units": 32, "data.sequence_length": 16, "train.learning_rate": 0.001, "seed": 0}


def make_epochs(curves):
    """curves: run_id -> dict of per-epoch lists (loss, val_loss, ...); missing ones get fillers."""
    rows = []
    for run_id, curve in curves.items():
        count = len(curve["val_loss"])
        for index in range(count):
            rows.append({
                "run_id": run_id,
                "epoch": index + 1,
                "loss": curve.get("loss", [1.0 / (i + 1) for i in range(count)])[index],
                "accuracy": curve.get("accuracy", [0.5 + 0.01 * i for i in range(count)])[index],
                "val_loss": curve["val_loss"][index],
                "val_accuracy": curve.get("val_accuracy", [0.5 + 0.02 * i for i in range(count)])[index],
                "seconds": curve.get("seconds", [1.0] * count)[index],
            })
    return pd.DataFrame(rows, columns=list(EPOCH_COLUMNS))


def make_runs(*runs):
    """Each run: a dict overriding the defaults of store.runs_frame's columns."""
    rows = []
    for run in runs:
        row = {
            "run_id": run["run_id"], "label": run.get("arch", "lstm") + " 32u x1",
            "arch": "lstm", "status": "completed", "group_id": None,
            "created_at": "2025-01-01", "started_at": "2025-01-01", "finished_at": "2025-01-01",
            "num_params": 1000, "test_loss": 0.5, "test_accuracy": 0.8, "message": "",
            "dataset": "toy", **CONFIG_DEFAULTS,
        }
        row.update(run)
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------ single curves
def test_best_epoch_is_lowest_validation_loss_earliest_on_ties():
    # Lowest value 0.6 first reached at epoch 3 (epoch 4 ties it).
    assert best_epoch([0.9, 0.7, 0.6, 0.6, 0.8]) == 3


def test_best_epoch_refuses_a_curve_without_numbers():
    with pytest.raises(ValueError, match="val_loss"):
        best_epoch([math.nan, math.nan])


def test_overfitting_onset_finds_the_minimum_before_divergence():
    loss = [1.0, 0.8, 0.6, 0.5, 0.4]
    val_loss = [0.9, 0.7, 0.65, 0.7, 0.8]
    # Minimum at epoch 3; epochs 4 and 5 both rise while training loss falls.
    assert overfitting_onset(loss, val_loss, patience=1) == 3
    assert overfitting_onset(loss, val_loss, patience=2) == 3
    # Patience 3 needs epochs 4, 5 and 6: the curve is too short.
    assert overfitting_onset(loss, val_loss, patience=3) is None


def test_overfitting_onset_is_none_while_validation_keeps_falling():
    assert overfitting_onset([1.0, 0.8, 0.6], [0.9, 0.8, 0.7]) is None


def test_overfitting_onset_ignores_a_bump_before_a_new_low():
    # The rise at epoch 3 is followed by a lower minimum at epoch 5 (the last epoch).
    assert overfitting_onset([1.0, 0.8, 0.7, 0.6, 0.5], [0.9, 0.8, 0.85, 0.6, 0.55]) is None


def test_overfitting_onset_needs_training_loss_to_fall():
    # Both losses rise after epoch 2: that is divergence, not overfitting.
    assert overfitting_onset([1.0, 0.8, 0.9], [0.9, 0.7, 0.8]) is None


# Worked example for early stopping on val_loss [0.70, 0.60, 0.65, 0.62, 0.50, 0.55]
# following Keras's on_epoch_end (wait += 1; improvement resets wait; stop when wait >= patience):
#   epoch 1: first value, improvement, best 0.70, wait 0
#   epoch 2: 0.60 < 0.70, improvement, best epoch 2, wait 0
#   epoch 3: 0.65, wait 1 -> patience 1 stops here
#   epoch 4: 0.62, wait 2 -> patience 2 stops here
#   epoch 5: 0.50 improvement, best epoch 5, wait 0
#   epoch 6: 0.55, wait 1 -> patience 3 never stops within the 6 epochs
CURVE = [0.70, 0.60, 0.65, 0.62, 0.50, 0.55]
ACCURACY = [0.60, 0.70, 0.68, 0.69, 0.80, 0.79]


@pytest.mark.parametrize("patience, stopped_epoch, best", [(1, 3, 2), (2, 4, 2)])
def test_early_stopping_replay_stops_patience_epochs_after_the_last_improvement(patience, stopped_epoch, best):
    result = early_stopping_replay(CURVE, patience, val_accuracy=ACCURACY)
    assert result["stopped"] is True
    assert result["stopped_epoch"] == stopped_epoch
    assert result["best_epoch"] == best
    assert result["best_value"] == pytest.approx(CURVE[best - 1])
    # Best weights restored: the accuracy is the best epoch's.
    assert result["val_accuracy_at_stop"] == pytest.approx(ACCURACY[best - 1])
    assert result["epochs_saved"] == len(CURVE) - stopped_epoch


def test_early_stopping_replay_runs_to_the_end_when_patience_outlasts_the_curve():
    result = early_stopping_replay(CURVE, 3, val_accuracy=ACCURACY)
    assert (result["stopped"], result["stopped_epoch"], result["best_epoch"]) == (False, 6, 5)


def test_early_stopping_replay_without_restoring_keeps_the_last_epoch():
    result = early_stopping_replay(CURVE, 2, restore_best=False, val_accuracy=ACCURACY)
    assert result["kept_epoch"] == 4
    assert result["val_accuracy_at_stop"] == pytest.approx(ACCURACY[3])


def test_early_stopping_replay_min_delta_and_max_mode():
    # 0.95 + 0.1 is not below 1.0: no improvement at epoch 2, so patience 1 stops there.
    assert early_stopping_replay([1.0, 0.95, 0.9], 1, min_delta=0.1)["stopped_epoch"] == 2
    # In max mode a tie (0.6 then 0.6) is not an improvement: stop at epoch 3, best epoch 2.
    result = early_stopping_replay([0.5, 0.6, 0.6, 0.7], 1, mode="max")
    assert (result["stopped_epoch"], result["best_epoch"]) == (3, 2)


def test_early_stopping_replay_matches_keras_callback():
    import keras

    class StubModel:
        stop_training = False

    def keras_outcome(values, patience, mode, min_delta):
        callback = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, mode=mode, min_delta=min_delta
        )
        model = StubModel()
        callback.set_model(model)
        callback.on_train_begin()
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {"val_loss": value})
            if model.stop_training:
                return epoch + 1, callback.best_epoch + 1
        return len(values), callback.best_epoch + 1

    rng = np.random.default_rng(0)
    for _ in range(40):
        # Values on a coarse grid so ties happen.
        values = [float(v) for v in np.round(rng.uniform(0.3, 0.9, size=rng.integers(2, 9)), 2)]
        for patience in (0, 1, 2, 3):
            for mode, min_delta in (("min", 0.0), ("max", 0.0), ("min", 0.05)):
                ours = early_stopping_replay(values, patience, mode=mode, min_delta=min_delta)
                expected = keras_outcome(values, patience, mode, min_delta)
                assert (ours["stopped_epoch"], ours["best_epoch"]) == expected, (values, patience, mode)


def test_early_stopping_replay_refuses_negative_patience():
    with pytest.raises(ValueError, match="patience"):
        early_stopping_replay(CURVE, -1)


# ------------------------------------------------------------------ tables
def two_runs():
    epochs = make_epochs({
        "r1": {"loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [0.9, 0.7, 0.75, 0.8],
               "val_accuracy": [0.6, 0.75, 0.74, 0.72], "seconds": [3.0, 1.0, 1.0, 1.0]},
        "r2": {"loss": [1.0, 0.9, 0.8], "val_loss": [0.95, 0.85, 0.8],
               "val_accuracy": [0.55, 0.6, 0.65], "seconds": [2.0, 2.0, 2.0]},
    })
    runs = make_runs({"run_id": "r1"}, {"run_id": "r2", "arch": "gru", "label": "gru 32u x1"},
                     {"run_id": "r3", "status": "queued", "label": "queued one"})
    return epochs, runs


def test_curves_table_is_tidy_with_split_and_metric():
    epochs, runs = two_runs()
    curves = curves_table(epochs, runs)
    assert len(curves) == (4 + 3) * 4
    validation_loss = curves[(curves.run_id == "r1") & (curves.split == "validation") & (curves.metric == "loss")]
    assert validation_loss.sort_values("epoch")["value"].tolist() == [0.9, 0.7, 0.75, 0.8]


def test_curves_table_makes_shared_labels_unique():
    epochs = make_epochs({"a": {"val_loss": [0.5]}, "b": {"val_loss": [0.6]}})
    runs = make_runs({"run_id": "a"}, {"run_id": "b"})  # both "lstm 32u x1"
    labels = curves_table(epochs, runs).groupby("run_id")["label"].first()
    assert labels["a"] != labels["b"]


def test_runs_labelled_once_keep_their_labels_in_every_table():
    epochs = make_epochs({"a": {"val_loss": [0.5, 0.4]}, "b": {"val_loss": [0.6, 0.7]}})
    runs = label_runs(make_runs({"run_id": "a"}, {"run_id": "b"}))
    # A table reads the labels it is given instead of labelling again.
    runs["label"] = ["first", "second"]
    for table in (curves_table(epochs, runs), gap_table(epochs, runs), run_summary_table(epochs, runs),
                  early_stopping_table(epochs, runs)):
        assert table.groupby("run_id")["label"].first().to_dict() == {"a": "first", "b": "second"}


def test_curves_table_names_seeds_of_one_recipe_by_seed():
    epochs = make_epochs({"a": {"val_loss": [0.5]}, "b": {"val_loss": [0.6]}})
    runs = make_runs({"run_id": "a", "seed": 0}, {"run_id": "b", "seed": 1})
    labels = curves_table(epochs, runs).groupby("run_id")["label"].first()
    assert labels.to_dict() == {"a": "lstm 32u x1 seed 0", "b": "lstm 32u x1 seed 1"}


def test_run_summary_table_statistics():
    epochs, runs = two_runs()
    summary = run_summary_table(epochs, runs).set_index("run_id")
    first = summary.loc["r1"]
    assert first["best_epoch"] == 2
    assert first["best_val_accuracy"] == pytest.approx(0.75)
    assert first["final_val_accuracy"] == pytest.approx(0.72)
    assert first["gap_final"] == pytest.approx(0.8 - 0.5)
    assert first["seconds_per_epoch"] == pytest.approx(1.0)  # epoch 1 (3.0 s, compiling) left out
    assert first["overfit_epoch"] == 2
    assert pd.isna(summary.loc["r2", "overfit_epoch"])
    assert summary.loc["r2", "best_epoch"] == 3


def test_a_one_epoch_run_has_no_steady_seconds_per_epoch():
    # Its one epoch (4 s) includes the compile: quoting it per epoch would overstate the rate.
    epochs = make_epochs({"a": {"val_loss": [0.5], "seconds": [4.0]}})
    summary = run_summary_table(epochs, make_runs({"run_id": "a"}))
    assert pd.isna(summary.loc[0, "seconds_per_epoch"]) and pd.isna(summary.loc[0, "compile_seconds"])


def test_run_summary_table_keeps_runs_without_epochs_and_config_columns():
    epochs, runs = two_runs()
    summary = run_summary_table(epochs, runs).set_index("run_id")
    assert summary.loc["r3", "epochs_run"] == 0
    assert pd.isna(summary.loc["r3", "best_val_accuracy"])
    assert {"model.units", "data.sequence_length", "seed"} <= set(summary.columns)


def test_tables_accept_empty_frames_from_an_empty_store():
    summary = run_summary_table(pd.DataFrame(), pd.DataFrame())
    assert summary.empty and "best_val_accuracy" in summary
    assert curves_table(pd.DataFrame(), pd.DataFrame()).empty


def test_tables_name_a_missing_column():
    epochs, runs = two_runs()
    with pytest.raises(ValueError, match="val_loss"):
        curves_table(epochs.drop(columns=["val_loss"]), runs)


def test_gap_table_marks_only_the_best_epoch():
    epochs, runs = two_runs()
    gaps = gap_table(epochs, runs)
    best = gaps[gaps.is_best].set_index("run_id")["epoch"].to_dict()
    assert best == {"r1": 2, "r2": 3}
    row = gaps[(gaps.run_id == "r1") & (gaps.epoch == 4)]
    assert row["gap"].item() == pytest.approx(0.8 - 0.5)


def test_early_stopping_table_sentence_has_the_replayed_numbers():
    epochs = make_epochs({"r": {"val_loss": CURVE, "val_accuracy": ACCURACY}})
    table = early_stopping_table(epochs, make_runs({"run_id": "r"}), patiences=(2,))
    assert table["sentence"].item() == (
        "with patience 2, training would have stopped at epoch 4 with validation accuracy "
        "0.700 (best epoch 2)"
    )


# ------------------------------------------------------------ seed groups
def seed_group():
    epochs = make_epochs({
        "s1": {"val_loss": [0.9, 0.7], "val_accuracy": [0.60, 0.70]},
        "s2": {"val_loss": [0.8, 0.6], "val_accuracy": [0.62, 0.74]},
        "s3": {"val_loss": [0.7, 0.5], "val_accuracy": [0.64, 0.78]},
        "solo": {"val_loss": [0.9, 0.8]},
    })
    runs = make_runs(*[{"run_id": s, "group_id": "g", "seed": i} for i, s in enumerate(("s1", "s2", "s3"))],
                     {"run_id": "solo", "arch": "gru", "label": "gru 32u x1"})
    return epochs, runs


def test_group_curves_table_aggregates_seeds_and_skips_ungrouped_runs():
    epochs, runs = seed_group()
    table = group_curves_table(curves_table(epochs, runs))
    assert set(table["group_id"]) == {"g"}
    row = table[(table.epoch == 2) & (table.split == "validation") & (table.metric == "accuracy")].iloc[0]
    assert row["mean"] == pytest.approx(0.74)
    assert row["std"] == pytest.approx(0.04)  # sample std of 0.70, 0.74, 0.78
    assert (row["min"], row["max"], row["n"]) == (pytest.approx(0.70), pytest.approx(0.78), 3)
    assert row["group_label"] == "lstm 32u x1"


def test_group_summary_table_reports_mean_and_std():
    epochs, runs = seed_group()
    table = group_summary_table(run_summary_table(epochs, runs))
    row = table.set_index("group_id").loc["g"]
    assert row["n_runs"] == 3
    assert row["final_val_accuracy_mean"] == pytest.approx(0.74)
    assert row["final_val_accuracy"] == "0.740 ± 0.040"


# ---------------------------------------------------------------- verdicts
def test_compare_groups_welch_interval_for_equal_spreads():
    # Equal n and variance: Welch df = 2(n - 1) = 4, t(0.975, 4) = 2.7764,
    # se = sqrt(2 * 0.0004 / 3) = 0.016330, margin = 0.045339 around 0.10.
    result = compare_groups([0.80, 0.82, 0.84], [0.70, 0.72, 0.74])
    assert result["difference"] == pytest.approx(0.10)
    assert result["low"] == pytest.approx(0.10 - 0.045339, abs=1e-5)
    assert result["high"] == pytest.approx(0.10 + 0.045339, abs=1e-5)


def test_compare_groups_says_which_group_is_ahead_when_they_clearly_differ():
    result = compare_groups([0.70, 0.72, 0.74], [0.80, 0.82, 0.84], labels=("lstm", "gru"))
    assert result["significant"] is True
    verdict = verdict_sentence(result, ("lstm", "gru"))
    assert verdict.startswith("gru is ahead of lstm on validation accuracy by 0.100")
    assert "larger than the seed-to-seed noise" in verdict


def test_compare_groups_calls_overlapping_groups_noise():
    result = compare_groups([0.80, 0.84, 0.78, 0.83], [0.81, 0.79, 0.85, 0.80])
    assert result["significant"] is False
    assert "within seed-to-seed noise" in verdict_sentence(result)


def test_compare_groups_bootstrap_agrees_on_a_clear_difference():
    result = compare_groups([0.80, 0.82, 0.84], [0.70, 0.72, 0.74], method="bootstrap", seed=1)
    assert result["method"] == "bootstrap"
    assert result["significant"] is True and result["low"] <= 0.10 <= result["high"]


def test_compare_groups_with_too_few_seeds():
    result = compare_groups([0.8], [0.7, 0.75])
    assert result["significant"] is None
    assert verdict_sentence(result) == "too few seeds to tell: run at least 3 seeds of each (currently 1 and 2)"


# ----------------------------------------------------------------- budgets
def test_pareto_front_on_a_hand_made_set():
    table = pd.DataFrame({
        "run": ["A", "B", "C", "D", "E", "F"],
        "num_params": [100, 200, 300, 50, 200, np.nan],
        "best_val_accuracy": [0.80, 0.85, 0.84, 0.70, 0.80, 0.99],
    })
    front = pareto_front(table, "num_params", "best_val_accuracy")
    # C is beaten by B (fewer params, better); E by B (same params, better); F has no cost.
    assert table.loc[front, "run"].tolist() == ["A", "B", "D"]


def test_pareto_front_respects_directions():
    table = pd.DataFrame({"cost": [1.0, 2.0], "loss": [0.5, 0.4]})
    assert pareto_front(table, "cost", "loss", y_higher_is_better=False).tolist() == [True, True]
    assert pareto_front(table, "cost", "loss").tolist() == [True, False]


def fake_count(config, *, vocabulary_size, sequence_length, num_classes):
    """Embedding plus 7 parameters per unit of width (the baseline's width is the embedding)."""
    width = {"transformer": config.ff_dim, "baseline": config.embedding_dim}.get(config.arch, config.units)
    return vocabulary_size * config.embedding_dim + 7 * width + num_classes


@pytest.mark.parametrize("arch, field", [("lstm", "units"), ("transformer", "ff_dim"), ("baseline", "embedding_dim")])
def test_size_to_parameters_hits_the_target_within_one_step(arch, field):
    sizes = dict(vocabulary_size=50, sequence_length=12, num_classes=2)
    config = ModelConfig(arch=arch)
    sized = size_to_parameters(config, 10_000, count=fake_count, **sizes)
    width = getattr(sized, field)
    step = fake_count(replace(sized, **{field: width + 1}), **sizes) - fake_count(sized, **sizes)
    assert abs(fake_count(sized, **sizes) - 10_000) <= step / 2
    assert {f: v for f, v in vars(sized).items() if f != field} == {f: v for f, v in vars(config).items() if f != field}


def test_size_to_parameters_returns_the_smallest_width_below_the_embedding():
    sized = size_to_parameters(
        ModelConfig(arch="gru"), 10, count=fake_count, vocabulary_size=50, sequence_length=12, num_classes=2
    )
    assert sized.units == 1


def test_size_to_parameters_refuses_a_bad_target():
    with pytest.raises(ValueError, match="target"):
        size_to_parameters(ModelConfig(), 0, count=fake_count, vocabulary_size=50,
                                    sequence_length=12, num_classes=2)


# ------------------------------------------------------------------ advice
def advice_runs(transformer_seconds=1.0, lstm_seconds=3.1, sequence_lengths=(16, 16)):
    epochs = make_epochs({
        "l": {"loss": [1.0, 0.8, 0.7], "val_loss": [0.8, 0.6, 0.5], "val_accuracy": [0.7, 0.8, 0.86],
              "seconds": [lstm_seconds] * 3},
        "t": {"loss": [1.0, 0.6, 0.4], "val_loss": [0.7, 0.6, 0.7], "val_accuracy": [0.75, 0.80, 0.78],
              "seconds": [transformer_seconds] * 3},
    })
    runs = make_runs(
        {"run_id": "l", "arch": "lstm", "data.sequence_length": sequence_lengths[0]},
        {"run_id": "t", "arch": "transformer", "label": "transformer 2h x1",
         "data.sequence_length": sequence_lengths[1]},
    )
    return run_summary_table(epochs, runs), curves_table(epochs, runs)


def test_advice_names_the_faster_architecture_with_its_ratio():
    lines = advice(*advice_runs())
    assert any("transformer trained 3.1x faster per epoch than lstm" in line for line in lines), lines


def test_advice_reports_overfitting_and_still_falling_losses():
    text = "\n".join(advice(*advice_runs()))
    assert "transformer's validation loss rose after epoch 2" in text
    assert "lstm's validation loss was still falling at its last epoch (3)" in text


def test_advice_suggests_a_sweep_only_for_a_setting_tried_once():
    assert any("sweep data.sequence_length" in line for line in advice(*advice_runs()))
    lines = advice(*advice_runs(sequence_lengths=(16, 32)))
    assert not any("sweep data.sequence_length" in line for line in lines)


def test_advice_suggests_seeds_for_a_near_tie():
    epochs = make_epochs({"a": {"val_loss": [0.5], "val_accuracy": [0.805]},
                          "b": {"val_loss": [0.5], "val_accuracy": [0.800]}})
    runs = make_runs({"run_id": "a", "arch": "lstm"}, {"run_id": "b", "arch": "gru", "label": "gru"})
    summary = run_summary_table(epochs, runs)
    lines = advice(summary, curves_table(epochs, runs))
    assert any(line.startswith("lstm and gru are within 0.005") and "3 seeds" in line for line in lines), lines


def test_advice_without_completed_runs():
    summary, curves = advice_runs()
    assert advice(summary.assign(status="running"), curves) == [
        "no completed runs yet: train a run (or a preset on the home page) and its numbers will show here"
    ]


# ------------------------------------------------------------------ sweeps
def test_sweep_table_averages_seeds_per_architecture_and_value():
    summary = pd.DataFrame({
        "run_id": ["a1", "a2", "b1", "b2", "c1", "q"],
        "arch": ["lstm", "lstm", "lstm", "lstm", "gru", "gru"],
        "status": ["completed"] * 5 + ["running"],
        "data.sequence_length": [16, 16, 32, 32, 16, 16],
        "seconds_per_epoch": [1.0, 3.0, 4.0, 4.0, 2.0, 9.0],
        "best_val_accuracy": [0.70, 0.80, 0.90, 0.90, 0.60, 0.99],
    })
    table = sweep_table(summary, "data.sequence_length")
    lstm_16 = table[(table.arch == "lstm") & (table.value == 16)].iloc[0]
    assert lstm_16["seconds_per_epoch"] == pytest.approx(2.0)
    assert lstm_16["val_accuracy"] == pytest.approx(0.75)
    assert lstm_16["val_accuracy_std"] == pytest.approx(np.std([0.7, 0.8], ddof=1))
    assert lstm_16["run_ids"] == ["a1", "a2"]
    # The running run "q" is left out.
    assert table[table.arch == "gru"]["run_ids"].tolist() == [["c1"]]


def test_sweep_table_names_the_bad_column():
    with pytest.raises(ValueError, match="data.sequence_lenght"):
        sweep_table(pd.DataFrame({"run_id": [], "arch": []}), "data.sequence_lenght")


# ------------------------------------------------------- sweeps in advice
def sweep_runs(levels, seconds=None, extra=()):
    """Completed runs of lstm and transformer over data.sequence_length; levels: (arch, length) -> accuracy."""
    seconds = seconds or {}
    epochs = make_epochs({f"{arch}{length}": {"val_loss": [0.5, 0.4], "val_accuracy": [0.5, level],
                                              "seconds": [5.0, seconds.get((arch, length), 1.0)]}
                          for (arch, length), level in {**levels, **dict(extra)}.items()})
    runs = make_runs(*[{"run_id": f"{arch}{length}", "arch": arch, "label": f"{arch} 32u x1",
                        "data.sequence_length": length, "data.synthetic_length": length}
                       for arch, length in {**levels, **dict(extra)}])
    return run_summary_table(epochs, runs), curves_table(epochs, runs)


def test_shared_labels_name_the_setting_that_differs():
    summary, _ = sweep_runs({("lstm", 20): 0.9, ("lstm", 60): 0.5})
    labels = summary.set_index("run_id")["label"]
    # The synthetic length moves with the sequence length, so it is not named twice.
    assert labels.to_dict() == {"lstm20": "lstm 32u x1 sequence_length 20",
                                "lstm60": "lstm 32u x1 sequence_length 60"}


def test_sweep_families_keep_unrelated_runs_apart():
    summary, _ = sweep_runs({("lstm", 20): 0.9, ("lstm", 60): 0.5, ("transformer", 20): 0.9,
                             ("transformer", 60): 0.8})
    other = summary.iloc[[0]].assign(run_id="wide", **{"model.units": 64, "data.sequence_length": 40})
    families = sweep_families(pd.concat([summary, other]), "data.sequence_length")
    assert [sorted(family) for family in families] == [["lstm20", "lstm60", "transformer20", "transformer60"]]
    assert sweep_families(summary, "model.units") == []  # one value only


def test_advice_reads_a_sweep_point_by_point():
    levels = {("lstm", 20): 1.0, ("lstm", 60): 0.515, ("transformer", 20): 1.0, ("transformer", 60): 0.93}
    seconds = {("lstm", 20): 0.1, ("lstm", 60): 0.15, ("transformer", 20): 0.12, ("transformer", 60): 0.36}
    lines = advice(*sweep_runs(levels, seconds))
    assert ("along data.sequence_length: at 20 lstm and transformer tie (1.000); "
            "at 60 transformer leads lstm (0.930 vs 0.515)") in lines, lines
    assert any("transformer 0.12 to 0.36 (3.0x)" in line for line in lines), lines
    assert any("reached about the same best validation accuracy (1.000 vs 1.000)" in line for line in lines)
    assert any("1 run(s) per point: repeat it with 3 seeds per point" in line for line in lines), lines


def test_advice_never_treats_sweep_points_as_seeds():
    levels = {(arch, length): 0.8 + 0.001 * length for arch in ("lstm", "transformer") for length in (20, 40, 60)}
    lines = advice(*sweep_runs(levels))
    assert not any("seeds)" in line and "noise" in line for line in lines), lines
    assert any("currently 1 and 1 runs of each one's best settings" in line for line in lines), lines


# ------------------------------------------------------------ honest seconds
def test_summary_prefers_the_recorded_steady_seconds_and_says_the_compile_beside_them():
    epochs = make_epochs({"a": {"val_loss": [0.9, 0.8, 0.7], "seconds": [7.0, 1.0, 3.0]},
                          "b": {"val_loss": [0.9, 0.8, 0.7], "seconds": [7.0, 1.0, 3.0]}})
    runs = make_runs({"run_id": "a"}, {"run_id": "b", "seconds_per_epoch": 0.5, "compile_seconds": 6.0})
    runs.loc[0, ["seconds_per_epoch", "compile_seconds"]] = np.nan  # an old run: read from its epochs
    summary = run_summary_table(epochs, runs).set_index("run_id")
    assert summary.loc["a", ["seconds_per_epoch", "compile_seconds"]].tolist() == [2.0, 5.0]  # median 2, 7 - 2
    assert summary.loc["b", ["seconds_per_epoch", "compile_seconds"]].tolist() == [0.5, 6.0]


def test_group_and_sweep_tables_carry_the_one_off_compile():
    epochs = make_epochs({name: {"val_loss": [0.9, 0.8], "seconds": [first, 1.0]}
                          for name, first in (("a", 5.0), ("b", 7.0))})
    runs = make_runs({"run_id": "a", "group_id": "g"}, {"run_id": "b", "group_id": "g", "seed": 1})
    summary = run_summary_table(epochs, runs)
    group = group_summary_table(summary).iloc[0]
    assert group["compile_seconds_mean"] == pytest.approx(5.0) and group["seconds_per_epoch_mean"] == 1.0
    assert group["compile_seconds"] == "5.00 ± 1.41"
    point = sweep_table(summary, "data.sequence_length").iloc[0]
    assert (point["seconds_per_epoch"], point["compile_seconds"]) == (1.0, pytest.approx(5.0))


# ---------------------------------------------------------- run summaries
def test_curve_summary_has_one_row_per_run_even_without_epochs():
    epochs = make_epochs({"a": {"val_loss": [0.9, 0.6, 0.7], "loss": [1.0, 0.8, 0.5]},
                          "other": {"val_loss": [0.5]}})
    table = curve_summary_table(epochs, make_runs({"run_id": "a"}, {"run_id": "b"})).set_index("run_id")
    assert list(table.columns) == list(CURVE_SUMMARY_COLUMNS)
    assert list(table.index) == ["a", "b"]  # "other" is not asked for
    assert (table.loc["a", "epochs_run"], table.loc["a", "curve_best_epoch"], table.loc["a", "overfit_epoch"]) == (3, 2, 2)
    assert table.loc["b", "epochs_run"] == 0 and pd.isna(table.loc["b", "curve_best_epoch"])


def test_curve_summary_reads_validation_accuracy_at_the_recorded_best_epoch():
    epochs = make_epochs({"a": {"val_loss": [0.9, 0.6, 0.7], "val_accuracy": [0.5, 0.6, 0.8]}})
    computed = curve_summary_table(epochs, make_runs({"run_id": "a"})).iloc[0]
    recorded = curve_summary_table(epochs, make_runs({"run_id": "a", "best_epoch": 3})).iloc[0]
    assert computed["val_accuracy_at_best_epoch"] == 0.6 and recorded["val_accuracy_at_best_epoch"] == 0.8
    assert recorded["curve_best_epoch"] == 2  # what the curves say, beside what the run recorded


def test_summary_table_from_curve_summaries_is_the_run_summary():
    epochs = make_epochs({"a": {"val_loss": [0.9, 0.6, 0.7]}, "b": {"val_loss": [0.8, 0.7]}})
    runs = label_runs(make_runs({"run_id": "a"}, {"run_id": "b", "status": "stopped"}, {"run_id": "c"}))
    # Summaries of other runs, in another order, as the store may hand them out.
    summaries = curve_summary_table(epochs, make_runs({"run_id": "zz"}, {"run_id": "b"}, {"run_id": "a"}))
    pd.testing.assert_frame_equal(summary_table(runs, summaries), run_summary_table(epochs, runs))


def test_pareto_front_of_many_runs_follows_the_pairwise_rule():
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"cost": rng.integers(0, 30, 400).astype(float),
                          "gain": rng.integers(0, 30, 400).astype(float)})
    table.loc[::17, "gain"] = np.nan
    cost, gain = table["cost"].to_numpy(), table["gain"].to_numpy()
    dominated = [bool(np.any((cost <= c) & (gain >= g) & ((cost < c) | (gain > g)))) for c, g in zip(cost, gain)]
    expected = [not d and not np.isnan(g) for d, g in zip(dominated, gain)]
    assert pareto_front(table, "cost", "gain").tolist() == expected


def test_labels_tell_apart_many_runs_sharing_names_each_by_its_own_settings():
    runs = label_runs(make_runs(
        *({"run_id": f"u{i}", "model.units": 16 * (i + 1)} for i in range(3)),  # lstm: units differ
        *({"run_id": f"s{i}", "label": "gru 32u x1", "seed": i} for i in range(3)),  # gru: seeds differ
        {"run_id": "same1", "label": "twin"}, {"run_id": "same2", "label": "twin"},  # nothing differs
        {"run_id": "alone", "label": "solo"},
    )).set_index("run_id")["label"]
    assert [runs[f"u{i}"] for i in range(3)] == ["lstm 32u x1 units 16", "lstm 32u x1 units 32", "lstm 32u x1 units 48"]
    assert [runs[f"s{i}"] for i in range(3)] == ["gru 32u x1 seed 0", "gru 32u x1 seed 1", "gru 32u x1 seed 2"]
    assert (runs["same1"], runs["same2"], runs["alone"]) == ("twin #same1", "twin #same2", "solo")
