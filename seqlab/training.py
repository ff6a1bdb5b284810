"""The one training path: data -> vectorize -> build -> Keras fit -> store.

The worker behind the app, the command line (through
`seqlab.jobs.train_foreground`), the benchmarks and the tests all train
through `train_run`. It knows nothing of any UI: it reports through a Keras
callback that writes progress and per-epoch metrics to the `RunStore`, checks
the store's stop flag between compiled steps, and ends a run whose loss turns
NaN/inf as `diverged` instead of crashing. Its files (model, vocabulary,
meta.json, error.log) go where the store says.

Fast by default on CPU: the training step is XLA-compiled (`uses_xla`) and
runs `steps_per_execution` batches per call (`bench/train_throughput.py`
measures both against a plain `model.fit`).

Its numbers mean what they say: the one-off cost of tracing and compiling
(paid in the first epoch, validation step included) is recorded apart from
the steady seconds per epoch (`analysis.tables.epoch_timing`), and with
`train.restore_best` the weights of the lowest-validation-loss epoch are kept,
saved and tested (`test_accuracy`), the last epoch's test accuracy measured
beside them (`test_accuracy_last`).

Importing this module does not import TensorFlow: Keras is imported when a
model is built (`_keras`).
"""

from __future__ import annotations

import math
import os
import time
import traceback
from typing import Any, Callable

import numpy as np

from seqlab.analysis.tables import epoch_timing
from seqlab.config import RunConfig
from seqlab.data import load_dataset
from seqlab.data.vectorize import VECTORIZED_CACHE, Vectorizer, vectorize
from seqlab.models import build_model, check_resources, head
from seqlab.store import RunRecord, RunStore

ProgressCallback = Callable[[dict[str, Any]], None]


class RunDiverged(RuntimeError):
    """Raised inside training when the loss becomes NaN or infinite.

    `results` holds what was measured before (best epoch, timings), for `finish_run`.
    """

    def __init__(self, message: str, results: dict[str, Any] | None = None):
        super().__init__(message)
        self.results = dict(results or {})


def train_run(
    store: RunStore, run_id: str, *, on_progress: ProgressCallback | None = None
) -> RunRecord:
    """Trains the recorded run `run_id` to its end and records the outcome.

    The run must be queued or running (claimed by this process). Whatever
    happens, the run ends in a finished status: `completed`, `stopped` (stop
    requested; partial history and model kept), `diverged` (loss NaN/inf) or
    `failed` (with a one-line message; the traceback goes to `error.log` in the
    run's artifact folder).

    Args:
        store: the run store.
        run_id: a run created with `store.create_run`.
        on_progress: optional callable receiving progress dicts (phase, epoch,
            epochs, batch, batches, and `metrics` at epoch ends); the command
            line draws its progress bar from these.

    Returns:
        The run's final record.
    """
    record = store.get_run(run_id)
    if record.status == "queued":
        store.start_run(run_id, os.getpid())
    notify = on_progress or (lambda event: None)
    try:
        _train(store, run_id, record.config, notify)
    except RunDiverged as error:
        store.finish_run(run_id, "diverged", message=str(error), **error.results)
    except ValueError as error:  # bad data or a config refused before building
        store.finish_run(run_id, "failed", message=_one_line(error))
    except Exception as error:  # noqa: BLE001 - a run must never stay "running"
        log = store.error_log_path(run_id)
        log.write_text(traceback.format_exc())
        store.finish_run(
            run_id, "failed",
            message=f"{type(error).__name__}: {_one_line(error)} (details in {log})",
        )
    return store.get_run(run_id)


def _train(store: RunStore, run_id: str, config: RunConfig, notify: ProgressCallback) -> None:
    def phase(name: str) -> None:
        store.set_progress(run_id, phase=name, phase_started_at=time.time(),
                           epochs=config.train.epochs)
        notify({"phase": name, "epochs": config.train.epochs})

    phase("loading data")
    dataset = load_dataset(config.data, config.seed)
    phase("vectorizing")
    data = vectorize(dataset, config.data, store.cache_dir(VECTORIZED_CACHE))
    vocabulary_size = len(data.vocabulary)
    sizes = dict(
        vocabulary_size=vocabulary_size,
        sequence_length=config.data.sequence_length,
        num_classes=data.num_classes,
    )
    check_resources(config.model, batch_size=config.train.batch_size, **sizes)

    phase("building")
    keras = _keras()
    keras.utils.set_random_seed(config.seed)
    model = compile_model(config, **sizes)
    store.set_num_params(run_id, int(model.count_params()))

    counts = {split: class_counts(labels, data.num_classes) for split, labels in
              (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))}
    reference = counts["validation"] if sum(counts["validation"]) else counts["train"]
    if sum(reference):
        store.set_majority_fraction(run_id, max(reference) / sum(reference))
    Vectorizer.from_vocabulary(data.vocabulary, config.data).save(store.vocabulary_path(run_id))
    store.write_meta(run_id, {
        "class_names": list(data.class_names),
        "vocabulary_size": vocabulary_size,
        "sequence_length": config.data.sequence_length,
        "precision": resolve_precision(config),
        "xla": uses_xla(config),
        "dataset": dataset.description,
        "examples": {"train": len(data.y_train), "validation": len(data.y_val),
                     "test": len(data.y_test)},
        "class_counts": counts,
    })

    reporter = StoreReporter(store, run_id, config.train.epochs, notify,
                             keep_best=config.train.restore_best)
    model.fit(
        data.x_train, data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=config.train.epochs,
        batch_size=config.train.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[reporter],
    )

    compile_seconds, seconds_per_epoch = epoch_timing(reporter.full_epoch_seconds)
    results: dict[str, Any] = {"best_epoch": reporter.best_epoch, "compile_seconds": compile_seconds,
                               "seconds_per_epoch": seconds_per_epoch}
    trained = bool(reporter.completed_epochs or reporter.batches_seen)
    restore = reporter.best_weights is not None and reporter.best_epoch != reporter.last_epoch
    if reporter.diverged:
        if trained:
            if restore:  # the weights are NaN now: keep the best finite ones
                model.set_weights(reporter.best_weights)
            phase("saving")
            model.save(store.model_path(run_id))
        raise RunDiverged(reporter.diverged, results)

    test = None
    can_test = trained and len(data.y_test) > 0
    if can_test and restore:
        phase("testing")
        results["test_accuracy_last"] = _evaluate(model, data, config)["accuracy"]
    if restore:
        model.set_weights(reporter.best_weights)
    if trained:
        phase("saving")
        model.save(store.model_path(run_id))
    if can_test:
        phase("testing")
        test = _evaluate(model, data, config)
        results.setdefault("test_accuracy_last", test["accuracy"])
    scores = {"test_loss": test and test["loss"], "test_accuracy": test and test["accuracy"],
              **results}
    if reporter.stopped:
        done = reporter.completed_epochs
        store.finish_run(
            run_id, "stopped",
            message=f"stopped on request after {done} full epoch{'s' if done != 1 else ''}; "
                    f"model and curves so far kept",
            **scores,
        )
    else:
        store.finish_run(run_id, "completed", **scores)
    notify({"phase": "finished", **scores})


def _evaluate(model, data, config: RunConfig) -> dict[str, float]:
    """Test loss and accuracy of the model's current weights.

    The validation batch size, so the evaluation step XLA compiled for
    validation is reused instead of compiled again for another shape.
    """
    result = model.evaluate(data.x_test, data.y_test, batch_size=config.train.batch_size,
                            verbose=0, return_dict=True)
    return {"loss": float(result["loss"]), "accuracy": float(result["accuracy"])}


def class_counts(labels, num_classes: int) -> list[int]:
    """Returns how many examples of each class `labels` (integer class ids) holds."""
    return [int(count) for count in np.bincount(np.asarray(labels, dtype="int64").ravel(),
                                                 minlength=num_classes)[:num_classes]]


def compile_model(
    config: RunConfig, *, vocabulary_size: int, sequence_length: int, num_classes: int
):
    """Builds and compiles the run's model the fast way (XLA, several steps per call).

    Args:
        config: the run recipe (model and train sections are used).
        vocabulary_size: ids run from 0 (padding) to vocabulary_size - 1.
        sequence_length: padded length T of the inputs `(batch, T)`.
        num_classes: 2 gives a sigmoid head, more a softmax head.

    Returns:
        A compiled `keras.Model`.
    """
    keras = _keras()
    previous = keras.config.dtype_policy()
    # Layers take the global policy when they are built; restore it at once so
    # nothing else in this process (the next run, inference) inherits it.
    keras.config.set_dtype_policy(resolve_precision(config))
    try:
        model = build_model(
            config.model, vocabulary_size=vocabulary_size,
            sequence_length=sequence_length, num_classes=num_classes, seed=config.seed,
        )
    finally:
        keras.config.set_dtype_policy(previous)
    loss, _ = head(num_classes)
    model.compile(
        optimizer=build_optimizer(config),
        loss=loss,
        metrics=["accuracy"],
        jit_compile=uses_xla(config),
        steps_per_execution=config.train.steps_per_execution,
    )
    return model


def uses_xla(config: RunConfig) -> bool:
    """Returns whether the run's training step is XLA-compiled (`train.jit_compile`).

    Honoured for every architecture, the Transformer included: its dropout
    masks are hashed (`CounterDropout`) rather than drawn by XLA's slow CPU
    random-number generator. `bench/train_throughput.py` measures the gain.
    """
    return bool(config.train.jit_compile)


def resolve_precision(config: RunConfig) -> str:
    """Returns the Keras dtype policy a run trains with (`train.precision`).

    float32 by default: mixed bfloat16 was measured no faster on CPU and
    slightly less accurate (`bench/train_throughput.py` compares the two).
    """
    return config.train.precision


def build_optimizer(config: RunConfig):
    """Returns the Keras optimizer named by `config.train.optimizer`."""
    keras = _keras()
    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    return classes[config.train.optimizer](learning_rate=config.train.learning_rate)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # here, not at the top: importing seqlab.training must not load TensorFlow

    return keras


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:500] if text else type(error).__name__


def _make_reporter_class():
    keras = _keras()

    class _StoreReporter(keras.callbacks.Callback):
        """Writes progress and per-epoch metrics to the store; honours stop requests.

        Store writes are throttled (at most every `interval` seconds between
        writes) so live reporting stays a small fraction of training time;
        a change of phase ("compiling" -> "training" -> "validating") is
        written at once. Batch counts never exceed the epoch's batches: with
        `steps_per_execution` > 1 Keras reports the last step a call *would*
        reach, past the end of a short epoch.

        With `keep_best`, a copy of the weights of the epoch with the lowest
        validation loss (earliest on ties) is kept in `best_weights`.
        """

        def __init__(self, store: RunStore, run_id: str, epochs: int,
                     notify: ProgressCallback, interval: float = 0.5, keep_best: bool = False):
            super().__init__()
            self.store, self.run_id, self.epochs = store, run_id, epochs
            self.notify, self.interval, self.keep_best = notify, interval, keep_best
            self.completed_epochs = 0
            self.batches_seen = 0
            self.stopped = False
            self.diverged = ""
            self.full_epoch_seconds: list[float] = []
            self.best_epoch: int | None = None
            self.best_val_loss = math.inf
            self.best_weights: list | None = None
            self.last_epoch = 0
            self._epoch = 0
            self._epoch_start = 0.0
            self._last_write = 0.0
            self._batches = 0
            self._phase = "compiling"
            self._reported_phase = ""
            self._phase_started_at = 0.0
            self._validated = False

        def on_train_begin(self, logs=None):
            self._batches = int(self.params.get("steps") or 0)
            self._set_phase("compiling")  # the first call traces and compiles the step

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch + 1
            self.batches_seen = 0
            self._epoch_start = time.perf_counter()
            if self._phase != "compiling":
                self._set_phase("training", notify=False)
            self._report(batch=0)

        def on_train_batch_end(self, batch, logs=None):
            done = batch + 1
            self.batches_seen = min(done, self._batches) if self._batches else done
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged = (
                    f"loss became {float(loss)} in epoch {self._epoch} at batch {self.batches_seen}; "
                    f"try a smaller train.learning_rate"
                )
                self.model.stop_training = True
                return
            changed = self._phase != "training"
            if changed:
                self._set_phase("training", notify=False)
            now = time.perf_counter()
            if changed or now - self._last_write >= self.interval:
                if self.store.is_stop_requested(self.run_id):
                    self.stopped = True
                    self.model.stop_training = True
                self._report(batch=self.batches_seen, logs=logs)

        def on_test_begin(self, logs=None):
            # The first validation compiles the evaluation step, as the first call compiled training.
            self._set_phase("validating" if self._validated else "compiling")

        def on_test_batch_end(self, batch, logs=None):
            if not self._validated:
                self._validated = True
                self._set_phase("validating")

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            seconds = time.perf_counter() - self._epoch_start
            fraction = self.batches_seen / self._batches if self._batches else 1.0
            metrics = {
                "loss": _finite(logs.get("loss")),
                "accuracy": _finite(logs.get("accuracy")),
                "val_loss": _finite(logs.get("val_loss")),
                "val_accuracy": _finite(logs.get("val_accuracy")),
                "seconds": seconds,
            }
            if fraction < 1.0 and (self.stopped or self.diverged):
                metrics["fraction"] = fraction  # a partial epoch, cut by stop/divergence
            else:
                self.completed_epochs = epoch + 1
                self.full_epoch_seconds.append(seconds)
            if not self.diverged or metrics["loss"] is not None:
                self.store.add_epoch(self.run_id, epoch + 1, metrics)
                self.last_epoch = epoch + 1
                self._remember_if_best(epoch + 1, metrics["val_loss"])
            if not self.stopped and self.store.is_stop_requested(self.run_id):
                self.stopped = True
                self.model.stop_training = True
            self.notify({"phase": "epoch", "epoch": epoch + 1, "epochs": self.epochs,
                         "metrics": metrics})

        def _remember_if_best(self, epoch: int, val_loss: float | None) -> None:
            if val_loss is None or val_loss >= self.best_val_loss:
                return  # earliest on ties, as `analysis` picks the best epoch
            self.best_epoch, self.best_val_loss = epoch, val_loss
            if self.keep_best:
                self.best_weights = [np.array(weight, copy=True) for weight in self.model.get_weights()]

        def _set_phase(self, name: str, notify: bool = True) -> None:
            """Records a new phase and when it began (the Train page counts its seconds)."""
            self._phase = name
            if notify:
                self._report(batch=self.batches_seen)

        def _report(self, batch: int, logs=None) -> None:
            if self._phase != self._reported_phase:
                self._reported_phase, self._phase_started_at = self._phase, time.time()
            self._last_write = time.perf_counter()
            progress = {"phase": self._phase, "phase_started_at": self._phase_started_at,
                        "epoch": self._epoch, "epochs": self.epochs,
                        "batch": batch, "batches": self._batches}
            if logs and "loss" in logs:
                progress["loss"] = _finite(logs.get("loss"))
            self.store.set_progress(self.run_id, **progress)
            self.notify(progress)

    return _StoreReporter


def StoreReporter(store: RunStore, run_id: str, epochs: int,
                  notify: ProgressCallback, interval: float = 0.5, keep_best: bool = False):
    """Returns the Keras callback that reports a run's progress to the store.

    Built lazily so importing `seqlab.training` does not import TensorFlow.

    Args:
        store: the run store.
        run_id: the run being trained.
        epochs: the epochs planned.
        notify: receives every progress dict written.
        interval: least seconds between progress writes within an epoch.
        keep_best: keep a copy of the best validation epoch's weights (`best_weights`).
    """
    return _make_reporter_class()(store, run_id, epochs, notify, interval, keep_best)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
