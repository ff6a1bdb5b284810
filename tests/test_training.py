"""The one training path: outcomes recorded in the store, stop, divergence, failures.

Runs are trained in the foreground (`seqlab.jobs.train_foreground`, what the
command line does) or from a recorded run (`seqlab.training.train_run`, what
a worker does).
"""

import math

import numpy as np
import pytest

from seqlab.config import ARCHITECTURES, RunConfig
from seqlab.data.vectorize import VECTORIZED_CACHE
from seqlab.jobs import train_foreground
from seqlab.store import RunStore
from seqlab.training import StoreReporter, train_run


def tiny(**overrides):
    base = {"data.sequence_length": 12, "model.units": 8, "model.embedding_dim": 8,
            "model.key_dim": 4, "model.ff_dim": 8, "train.epochs": 2,
            "train.batch_size": 16, "train.jit_compile": False}
    base.update(overrides)
    return RunConfig().with_overrides(base).validate()


@pytest.fixture
def trained(toy_runs):
    """`trained(arch)` -> (store, record): the session's run of `tiny(model.arch=arch)`, read-only.

    tests/conftest.py trains these once through `train_foreground`; tests that
    only read a finished tiny run use them instead of training their own.
    """
    home, runs = toy_runs
    store = RunStore(home)

    def shared(arch: str):
        record = store.get_run(runs[arch])
        assert record.config == tiny(**{"model.arch": arch}), "the shared run is not this file's tiny() recipe"
        return store, record

    return shared


def test_completed_run_records_epochs_test_metrics_and_artifacts(trained):
    store, record = trained("lstm")
    assert record.status == "completed"
    epochs = store.epochs(record.run_id)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(e["seconds"] > 0 for e in epochs)
    assert 0.0 <= record.test_accuracy <= 1.0
    assert record.num_params > 0
    assert store.has_model(record.run_id) and store.vocabulary_path(record.run_id).exists()
    meta = store.read_meta(record.run_id)
    assert meta["class_names"] == ["negative", "positive"] and meta["examples"]["train"] > 0


def test_vectorized_ids_are_cached_in_the_store_given_not_in_seqlab_home(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("SEQLAB_HOME", str(elsewhere))
    store = RunStore(tmp_path / "given")
    record = train_foreground(tiny(**{"train.epochs": 1}), store)
    assert record.status == "completed"
    assert list(store.cache_dir(VECTORIZED_CACHE).glob("*.npz"))
    assert not elsewhere.exists()


def test_saved_model_reloads_with_safe_mode_and_predicts_the_same(trained):
    import keras

    from seqlab.inference import load_trained, predict_proba

    store, record = trained("transformer")
    trained = load_trained(store, record.run_id)
    again = keras.saving.load_model(store.model_path(record.run_id), safe_mode=True, compile=False)
    ids = trained.vectorizer.encode(["a great movie", "bad"])
    np.testing.assert_allclose(trained.model.predict(ids, verbose=0),
                               again.predict(ids, verbose=0), atol=1e-6)
    probabilities = predict_proba(trained, ["a great movie"])
    assert probabilities.shape == (1, 2)
    assert probabilities.sum() == pytest.approx(1.0)


def test_xla_compiled_path_trains(store):
    record = train_foreground(tiny(**{"train.jit_compile": True, "train.epochs": 1}), store)
    assert record.status == "completed"


def test_same_seed_gives_the_same_curves(store):
    first = train_foreground(tiny(seed=3), store)
    second = train_foreground(tiny(seed=3), store)
    a = [e["val_loss"] for e in store.epochs(first.run_id)]
    b = [e["val_loss"] for e in store.epochs(second.run_id)]
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_stop_request_ends_run_as_stopped_keeping_history_and_model(store):
    config = tiny(**{"train.epochs": 50})
    run_id = store.create_run(config)

    def request_stop_once_training(event):
        if event.get("phase") == "epoch" and event["epoch"] == 1:
            store.request_stop(run_id)

    record = train_run(store, run_id, on_progress=request_stop_once_training)
    assert record.status == "stopped"
    assert 1 <= len(store.epochs(run_id)) < 50
    assert store.has_model(run_id)


def test_bad_dataset_fails_the_run_with_a_message(store, tmp_path):
    missing = tmp_path / "gone.csv"
    record = train_foreground(tiny(**{"data.dataset": str(missing)}), store)
    assert record.status == "failed"
    assert "gone.csv" in record.message


def test_config_too_large_for_memory_is_refused_before_building(store):
    config = tiny(**{"model.arch": "transformer", "data.sequence_length": 2000,
                     "model.num_heads": 64, "model.num_layers": 12,
                     "train.batch_size": 8192, "model.embedding_dim": 2048})
    record = train_foreground(config, store)
    assert record.status == "failed"
    assert "data.sequence_length" in record.message or "batch_size" in record.message
    assert record.num_params is None  # nothing was built


def test_invalid_config_is_refused_before_recording(store):
    config = RunConfig().with_overrides({"model.units": 0})
    with pytest.raises(ValueError, match="model.units"):
        train_foreground(config, store)
    assert store.list_runs() == []


def test_nan_loss_marks_reporter_diverged_and_stops_training(store):
    import keras

    run_id = store.create_run(tiny())

    class PoisonLoss(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            logs["loss"] = float("nan")

    reporter = StoreReporter(store, run_id, epochs=3, notify=lambda event: None)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x = np.zeros((32, 4), "float32")
    y = np.zeros((32,), "float32")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[PoisonLoss(), reporter])
    assert reporter.diverged and "nan" in reporter.diverged.lower()
    assert len(history.epoch) == 1  # stopped within the first epoch
    assert "learning_rate" in reporter.diverged
    assert all(e["loss"] is None or math.isfinite(e["loss"]) for e in store.epochs(run_id))


def test_progress_events_cover_phases_and_epochs(store):
    events = []
    train_foreground(tiny(), store, on_progress=events.append)
    phases = [e["phase"] for e in events]
    for phase in ("loading data", "vectorizing", "building", "training", "epoch", "finished"):
        assert phase in phases
    assert [e["epoch"] for e in events if e["phase"] == "epoch"] == [1, 2]


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_xla_follows_train_jit_compile_for_every_arch(arch):
    from seqlab.training import uses_xla

    assert uses_xla(tiny(**{"train.jit_compile": "on", "model.arch": arch}), train_steps=1)
    assert not uses_xla(tiny(**{"train.jit_compile": "off", "model.arch": arch}), train_steps=10**9)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_auto_xla_compiles_only_runs_long_enough_to_win_back_the_compile(arch):
    from seqlab.training import XLA_BREAK_EVEN_STEP_TOKENS, uses_xla

    config = tiny(**{"train.jit_compile": "auto", "model.arch": arch, "data.sequence_length": 100})
    even = XLA_BREAK_EVEN_STEP_TOKENS[arch] // 100
    assert not uses_xla(config, train_steps=even - 1)
    assert uses_xla(config, train_steps=even + 1)


def test_a_run_records_whether_auto_chose_xla(store):
    from seqlab.jobs import train_foreground

    record = train_foreground(tiny(**{"train.jit_compile": "auto", "train.epochs": 1}), store)
    meta = store.read_meta(record.run_id)
    assert meta["xla"] is False  # a tiny toy run: far below every break-even
    assert meta["train_steps"] == math.ceil(meta["examples"]["train"] / 16)


def test_older_records_with_true_or_false_read_as_on_and_off():
    from seqlab.config import RunConfig

    assert RunConfig.from_dict({"train": {"jit_compile": True}}).train.jit_compile == "on"
    assert RunConfig.from_dict({"train": {"jit_compile": False}}).train.jit_compile == "off"


def test_bfloat16_transformer_trains_saves_and_leaves_the_global_policy_alone(store):
    import keras

    from seqlab.inference import load_trained, predict_proba

    record = train_foreground(tiny(**{"model.arch": "transformer",
                                  "train.precision": "mixed_bfloat16"}), store)
    assert record.status == "completed"
    assert keras.config.dtype_policy().name == "float32"
    assert store.read_meta(record.run_id)["precision"] == "mixed_bfloat16"
    trained = load_trained(store, record.run_id)
    probabilities = predict_proba(trained, ["a great movie", "bad"])
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)


# ------------------------------------------------------- honest numbers
def noisy_cue_csv(path):
    """A CSV where "good"/"bad" decides the label, a quarter of labels flipped: fast models overfit it."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    rows = ["text,label"]
    for _ in range(200):
        good = rng.random() < 0.5
        text = list(rng.choice(words, 6))
        text[rng.integers(6)] = "good" if good else "bad"
        label = good if rng.random() < 0.75 else not good
        rows.append(" ".join(text) + "," + ("pos" if label else "neg"))
    path.write_text("\n".join(rows) + "\n")
    return path


def overfitting(path, **overrides):
    """A baseline whose validation loss is lowest at epoch 3 of 8 on `noisy_cue_csv`, then rises."""
    return RunConfig().with_overrides({
        "data.dataset": str(path), "model.arch": "baseline", "model.embedding_dim": 16,
        "data.sequence_length": 8, "train.epochs": 8, "train.batch_size": 16,
        "train.jit_compile": False, "train.learning_rate": 0.03, **overrides}).validate()


@pytest.fixture(scope="module")
def overfit_runs(tmp_path_factory):
    """(store, run with restore_best, the same run without) on the noisy cue data."""
    home = tmp_path_factory.mktemp("overfit_home")
    path = noisy_cue_csv(home / "noisy.csv")
    store = RunStore(home / "store")
    kept = train_foreground(overfitting(path), store)
    last = train_foreground(overfitting(path, **{"train.restore_best": False}), store)
    assert kept.status == last.status == "completed", (kept.message, last.message)
    return store, kept, last


def validation_and_test(store, record):
    from seqlab.data import load_dataset
    from seqlab.data.vectorize import vectorize

    dataset = load_dataset(record.config.data, record.config.seed)
    return vectorize(dataset, record.config.data, store.cache_dir(VECTORIZED_CACHE))


def saved_model_scores(store, record, x, y):
    """(mean binary cross-entropy, accuracy) of the run's saved model on (x, y)."""
    from seqlab.inference import load_trained

    model = load_trained(store, record.run_id).model
    p = np.clip(model.predict(x, verbose=0).reshape(-1).astype("float64"), 1e-7, 1 - 1e-7)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(loss), float(np.mean((p > 0.5) == y))


def test_best_epoch_is_the_lowest_validation_loss_and_comes_before_the_last(overfit_runs):
    store, kept, _ = overfit_runs
    losses = [e["val_loss"] for e in store.epochs(kept.run_id)]
    assert kept.best_epoch == int(np.argmin(losses)) + 1
    assert kept.best_epoch < len(losses)  # the crafted run gets worse after its best epoch


def test_restore_best_saves_the_best_epochs_weights(overfit_runs):
    store, kept, _ = overfit_runs
    data = validation_and_test(store, kept)
    best = store.epochs(kept.run_id)[kept.best_epoch - 1]
    loss, accuracy = saved_model_scores(store, kept, data.x_val, data.y_val)
    assert loss == pytest.approx(best["val_loss"], rel=1e-4)
    assert accuracy == pytest.approx(best["val_accuracy"], abs=1e-6)


def test_test_accuracy_is_the_kept_weights_and_the_last_epochs_is_beside_it(overfit_runs):
    store, kept, last = overfit_runs
    data = validation_and_test(store, kept)
    _, saved_test_accuracy = saved_model_scores(store, kept, data.x_test, data.y_test)
    assert kept.test_accuracy == pytest.approx(saved_test_accuracy, abs=1e-6)
    # The same seed without restore_best trains the same weights and keeps the last ones.
    assert kept.test_accuracy_last == pytest.approx(last.test_accuracy, abs=1e-6)
    assert last.test_accuracy_last == last.test_accuracy
    assert kept.test_accuracy != pytest.approx(kept.test_accuracy_last)  # this run shows the difference


def test_without_restore_best_the_saved_model_is_the_last_epochs(overfit_runs):
    store, _, last = overfit_runs
    data = validation_and_test(store, last)
    loss, _ = saved_model_scores(store, last, data.x_val, data.y_val)
    assert loss == pytest.approx(store.epochs(last.run_id)[-1]["val_loss"], rel=1e-4)
    assert last.best_epoch < len(store.epochs(last.run_id))  # the best epoch is still named


def test_compile_seconds_and_steady_seconds_per_epoch_are_recorded(overfit_runs):
    store, kept, _ = overfit_runs
    seconds = [e["seconds"] for e in store.epochs(kept.run_id)]
    assert kept.seconds_per_epoch == pytest.approx(float(np.median(seconds[1:])))
    assert kept.compile_seconds == pytest.approx(seconds[0] - kept.seconds_per_epoch)
    assert kept.compile_seconds > 0  # the first epoch traced the training and evaluation steps


def test_run_summary_quotes_the_recorded_steady_seconds_and_both_test_accuracies(overfit_runs):
    from seqlab.analysis.tables import run_summary_table

    store, kept, _ = overfit_runs
    summary = run_summary_table(store.epochs_frame([kept.run_id]), store.runs_frame([kept.run_id]))
    row = summary.iloc[0]
    assert row["seconds_per_epoch"] == pytest.approx(kept.seconds_per_epoch)
    assert row["compile_seconds"] == pytest.approx(kept.compile_seconds)
    assert (row["best_epoch"], row["test_accuracy"], row["test_accuracy_last"]) == (
        kept.best_epoch, pytest.approx(kept.test_accuracy), pytest.approx(kept.test_accuracy_last))


def test_majority_fraction_is_the_validation_splits_largest_class_share(overfit_runs):
    store, kept, _ = overfit_runs
    counts = store.read_meta(kept.run_id)["class_counts"]["validation"]
    assert kept.majority_fraction == pytest.approx(max(counts) / sum(counts))
    data = validation_and_test(store, kept)
    assert sum(counts) == len(data.y_val)


def test_one_epoch_run_records_no_steady_figure(store):
    record = train_foreground(tiny(**{"train.epochs": 1}), store)
    assert record.status == "completed"
    assert record.seconds_per_epoch is None and record.compile_seconds is None
    assert record.best_epoch == 1 and record.test_accuracy == record.test_accuracy_last


def test_batch_progress_never_exceeds_the_epochs_batches(store, tmp_path):
    # 120 training texts in batches of 8: 15 batches, run 8 per call; Keras reports the
    # second call as ending at batch 16.
    config = overfitting(noisy_cue_csv(tmp_path / "noisy.csv"),
                         **{"train.epochs": 2, "train.batch_size": 8, "train.steps_per_execution": 8})
    events = []
    record = train_foreground(config, store, on_progress=events.append)
    assert record.status == "completed"
    batched = [e for e in events if e.get("batches")]
    assert batched and all(0 <= e["batch"] <= e["batches"] for e in batched)
    assert batched[0]["batches"] == 15
    assert max(e["batch"] for e in batched) == 15  # a full epoch reads 15/15


def test_progress_says_compiling_before_the_first_batch_with_when_it_began(store):
    events = []
    train_foreground(tiny(), store, on_progress=events.append)
    phases = [e["phase"] for e in events if "phase_started_at" in e]
    assert phases.index("compiling") < phases.index("training")
    assert "validating" in phases
    compiling = next(e for e in events if e.get("phase") == "compiling" and "phase_started_at" in e)
    assert compiling["phase_started_at"] > 0
