"""TensorBoard event files of every run: per-epoch scalars, the HParams record, deletion.

Runs are trained through `seqlab.jobs.train_foreground` (the one training
path) on the toy dataset at tiny sizes, and the event files are read back
with TensorBoard's own `EventAccumulator`.
"""

import math

import numpy as np
import pytest

from seqlab.config import RunConfig
from seqlab.jobs import train_foreground
from seqlab.training import TENSORBOARD_METRICS, TensorBoardWriter, tensorboard_hparams, train_run


def tiny(**overrides):
    base = {"data.sequence_length": 12, "model.units": 8, "model.embedding_dim": 8,
            "model.key_dim": 4, "model.ff_dim": 8, "train.epochs": 2,
            "train.batch_size": 16, "train.jit_compile": False}
    base.update(overrides)
    return RunConfig().with_overrides(base).validate()


@pytest.fixture
def trained_lstm(toy_runs):
    """(store, record): the session's run of `tiny()` (an LSTM; tests/conftest.py trains it once), read-only."""
    from seqlab.store import RunStore

    home, runs = toy_runs
    store = RunStore(home)
    record = store.get_run(runs["lstm"])
    assert record.config == tiny(), "the shared run is not this file's tiny() recipe"
    return store, record


def accumulator(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def scalars(folder, tag):
    """epoch -> value of one scalar tag written with `tf.summary.scalar` in `folder`."""
    import tensorflow as tf

    events = accumulator(folder)
    if tag not in events.Tags()["tensors"]:
        return {}
    return {event.step: float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)}


def recorded_hparams(folder):
    """The HParams plugin's session-start record in `folder`: name -> value."""
    from tensorboard.plugins.hparams import metadata

    events = accumulator(folder)
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in info.hparams.items()}


def store_curves(store, run_id):
    """The store's epochs as {(split, tag): {epoch: value}}, named as the event files name them."""
    curves = {}
    for split, prefix in (("train", ""), ("validation", "val_")):
        for name, tag in TENSORBOARD_METRICS.items():
            curves[split, tag] = {row["epoch"]: row[prefix + name] for row in store.epochs(run_id)}
    return curves


def event_curves(store, run_id):
    folder = store.tensorboard_path(run_id)
    return {(split, tag): scalars(folder / split, tag)
            for split in ("train", "validation") for tag in TENSORBOARD_METRICS.values()}


def assert_same_curves(written, recorded):
    assert written.keys() == recorded.keys()
    for key, values in recorded.items():
        assert sorted(written[key]) == sorted(values), key
        np.testing.assert_allclose([written[key][epoch] for epoch in sorted(values)],
                                   [values[epoch] for epoch in sorted(values)], rtol=1e-6,
                                   err_msg=str(key))


def test_event_files_hold_the_loss_and_accuracy_the_store_recorded_each_epoch(trained_lstm):
    store, record = trained_lstm
    assert record.status == "completed"
    recorded = store_curves(store, record.run_id)
    assert all(len(values) == 2 for values in recorded.values())
    assert_same_curves(event_curves(store, record.run_id), recorded)


def test_xla_compiled_run_writes_the_same_event_files(store):
    record = train_foreground(tiny(**{"train.jit_compile": "on", "train.epochs": 1}), store)
    assert record.status == "completed" and store.read_meta(record.run_id)["xla"] is True
    assert_same_curves(event_curves(store, record.run_id), store_curves(store, record.run_id))


def test_hparams_record_holds_the_run_settings(store):
    config = tiny(**{"model.arch": "gru", "model.units": 6, "train.learning_rate": 0.002,
                     "train.epochs": 1})
    record = train_foreground(config, store)
    hparams = recorded_hparams(store.tensorboard_path(record.run_id))
    assert hparams["model.arch"] == "gru"
    assert hparams["model.units"] == 6
    assert hparams["train.learning_rate"] == pytest.approx(0.002)
    assert hparams["train.restore_best"] is True
    assert set(hparams) == set(config.flat())


def test_best_val_accuracy_is_the_highest_validation_accuracy_so_far(store):
    record = train_foreground(tiny(**{"train.epochs": 3}), store)
    val_accuracy = [row["val_accuracy"] for row in store.epochs(record.run_id)]
    best = scalars(store.tensorboard_path(record.run_id), "best_val_accuracy")
    assert sorted(best) == [1, 2, 3]
    np.testing.assert_allclose([best[epoch] for epoch in (1, 2, 3)],
                               np.maximum.accumulate(val_accuracy), rtol=1e-6)


def test_stopped_run_keeps_the_event_files_of_the_epochs_it_recorded(store):
    run_id = store.create_run(tiny(**{"train.epochs": 50}))

    def request_stop_after_first_epoch(event):
        if event.get("phase") == "epoch" and event["epoch"] == 1:
            store.request_stop(run_id)

    record = train_run(store, run_id, on_progress=request_stop_after_first_epoch)
    assert record.status == "stopped"
    recorded = store_curves(store, run_id)
    assert 1 <= len(recorded["train", "epoch_loss"]) < 50
    assert_same_curves(event_curves(store, run_id), recorded)


def test_epoch_with_non_finite_loss_is_not_written(store):
    import keras

    run_id = store.create_run(tiny())

    class PoisonLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                logs["loss"] = float("nan")

    writer = TensorBoardWriter(store, run_id, tiny())
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.zeros((32, 4), "float32")
    y = np.zeros((32,), "float32")
    model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=8, verbose=0,
              callbacks=[PoisonLoss(), writer])
    losses = scalars(store.tensorboard_path(run_id) / "train", "epoch_loss")
    assert sorted(losses) == [1, 3]
    assert all(math.isfinite(value) for value in losses.values())


def test_deleting_a_run_deletes_its_event_files(copy_runs, toy_runs, tmp_path):
    from seqlab.store import RunStore

    home, runs = copy_runs(toy_runs, tmp_path / "copy", keep=("lstm",))
    store = RunStore(home)
    record = store.get_run(runs["lstm"])
    folder = store.tensorboard_path(record.run_id)
    assert list(folder.rglob("events.out.tfevents.*"))
    store.delete_run(record.run_id)
    assert not folder.exists()


def test_tensorboard_folder_is_inside_the_run_artifact_folder(store):
    run_id = store.create_run(tiny())
    assert store.tensorboard_path(run_id) == store.artifact_dir(run_id) / "tensorboard"
    with pytest.raises(ValueError):
        store.tensorboard_path("../elsewhere")


def test_hparams_are_the_flat_config_values_that_are_plain():
    config = tiny(**{"model.arch": "rnn"})
    hparams = tensorboard_hparams(config)
    assert hparams == config.flat()
    assert all(isinstance(value, (bool, int, float, str)) for value in hparams.values())


def test_a_finished_runs_test_accuracies_are_written_for_the_hparams_tab(trained_lstm):
    store, record = trained_lstm  # tiny(): two epochs
    folder = store.tensorboard_path(record.run_id)
    assert scalars(folder, "test_accuracy") == {2: pytest.approx(record.test_accuracy, rel=1e-6)}
    assert scalars(folder, "test_accuracy_last") == {2: pytest.approx(record.test_accuracy_last, rel=1e-6)}
