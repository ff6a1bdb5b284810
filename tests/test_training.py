"""The one training path: outcomes recorded in the store, stop, divergence, failures.

Runs are trained in the foreground (`seqlab.jobs.train_foreground`, what the
command line does) or from a recorded run (`seqlab.training.train_run`, what
a worker does).
"""

import math

import numpy as np
import pytest

from seqlab.config import RunConfig
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


def test_completed_run_records_epochs_test_metrics_and_artifacts(store):
    record = train_foreground(tiny(), store)
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


def test_saved_model_reloads_with_safe_mode_and_predicts_the_same(store):
    import keras

    from seqlab.inference import load_trained, predict_proba

    record = train_foreground(tiny(**{"model.arch": "transformer"}), store)
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

    assert uses_xla(tiny(**{"train.jit_compile": True, "model.arch": arch}))
    assert not uses_xla(tiny(**{"train.jit_compile": False, "model.arch": arch}))


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
