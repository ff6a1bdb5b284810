"""The one training path: data -> vectorize -> build -> Keras fit -> store.

The worker behind the app, the command line (through
`seqlab.jobs.train_foreground`), the benchmarks and the tests all train
through `train_run`. It knows nothing of any UI: it reports through a Keras
callback that writes progress and per-epoch metrics to the `RunStore`, checks
the store's stop flag between compiled steps, and ends a run whose loss turns
NaN/inf as `diverged` instead of crashing. Its files (model, vocabulary,
meta.json, error.log, TensorBoard event files written by `TensorBoardWriter`,
and a Transformer's attention over training, recorded by `AttentionRecorder`)
go where the store says. A run that is a trial of a hyperparameter search
(its record has a `study_id`) also reports each epoch's validation loss to
Optuna, which may prune it (`seqlab.search.TrialPruner`), and tells its
search how it ended (`seqlab.search.trial_ended`).

Fast by default on CPU: the training step is XLA-compiled where the run is
long enough to win back the compile (`uses_xla`), and runs
`steps_per_execution` batches per call (`bench/train_throughput.py`
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

import hashlib
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seqlab.analysis.tables import epoch_timing
from seqlab.attention import (
    PROBE_MAX_TOKENS, PROBE_TEXTS, AttentionHistory, AttentionProbe, has_attention, probe_rows,
)
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
        _train(store, run_id, record.config, notify, study_id=record.study_id)
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
    if record.study_id is not None:
        _end_trial(store, run_id)
    return store.get_run(run_id)


def _end_trial(store: RunStore, run_id: str) -> None:
    """Tells a search's trial how its run ended (`seqlab.search.trial_ended`), whoever trained it.

    The run's own record is already final: a search that cannot be told (its
    journal gone) is reported on standard error, never turned into a failed run.
    """
    try:
        from seqlab.search import trial_ended  # here: only searches import Optuna

        trial_ended(store, run_id)
    except Exception:  # noqa: BLE001 - the run has ended either way
        print(f"run {run_id}: could not tell its search how it ended:\n{traceback.format_exc()}",
              file=sys.stderr, flush=True)


def _train(store: RunStore, run_id: str, config: RunConfig, notify: ProgressCallback,
           study_id: str | None = None) -> None:
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
    # Fresh layer names and seed state for every run, whatever ran before in
    # this process (tokenizing, an earlier run in the same worker): the same
    # recipe then traces to the same program and finds its compiled step in
    # the compile cache.
    keras.utils.clear_session()
    _canonical_trace_names()
    keras.utils.set_random_seed(config.seed)
    steps = train_steps(config, len(data.y_train))
    model = compile_model(config, **sizes, train_steps=steps)
    store.set_num_params(run_id, int(model.count_params()))

    counts = {split: class_counts(labels, data.num_classes) for split, labels in
              (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))}
    reference = counts["validation"] if sum(counts["validation"]) else counts["train"]
    if sum(reference):
        store.set_majority_fraction(run_id, max(reference) / sum(reference))
    vectorizer = Vectorizer.from_vocabulary(data.vocabulary, config.data)
    vectorizer.save(store.vocabulary_path(run_id))
    store.write_meta(run_id, {
        "class_names": list(data.class_names),
        "vocabulary_size": vocabulary_size,
        "sequence_length": config.data.sequence_length,
        "precision": resolve_precision(config),
        "xla": uses_xla(config, steps),
        "train_steps": steps,
        "device": training_device(),
        "dataset": dataset.description,
        "examples": {"train": len(data.y_train), "validation": len(data.y_val),
                     "test": len(data.y_test)},
        "class_counts": counts,
    })

    reporter = StoreReporter(store, run_id, config.train.epochs, notify,
                             keep_best=config.train.restore_best)
    callbacks = [reporter]
    pruner = None
    if study_id is not None:  # a search's trial: each epoch's val loss goes to Optuna, which may prune it
        from seqlab.search import TrialPruner

        pruner = TrialPruner(store, run_id)
        callbacks.append(pruner)
    callbacks.append(StepLossRecorder(store, run_id, len(data.y_train), config.train.batch_size))
    if has_attention(model):
        recorder = AttentionRecorder(store, run_id, model, dataset.val_texts, data.x_val, vectorizer)
        if recorder is not None:
            callbacks.append(recorder)
    callbacks.append(TensorBoardWriter(store, run_id, config))
    model.fit(
        data.x_train, data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=config.train.epochs,
        batch_size=config.train.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
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
    if test is not None:
        write_tensorboard_results(store, run_id, max(reporter.completed_epochs, 1), {
            "test_accuracy": test["accuracy"], "test_accuracy_last": results["test_accuracy_last"]})
    pruned = pruner.message if pruner is not None else ""
    if reporter.stopped or pruned:
        done = reporter.completed_epochs
        store.finish_run(
            run_id, "stopped",
            message=pruned or f"stopped on request after {done} full epoch{'s' if done != 1 else ''}; "
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
    config: RunConfig, *, vocabulary_size: int, sequence_length: int, num_classes: int,
    train_steps: int | None = None,
):
    """Builds and compiles the run's model the fast way (XLA where it pays, several steps per call).

    Args:
        config: the run recipe (model and train sections are used).
        vocabulary_size: ids run from 0 (padding) to vocabulary_size - 1.
        sequence_length: padded length T of the inputs `(batch, T)`.
        num_classes: 2 gives a sigmoid head, more a softmax head.
        train_steps: the run's training steps, for `uses_xla` (None: unknown).

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
        jit_compile=uses_xla(config, train_steps),
        steps_per_execution=config.train.steps_per_execution,
    )
    return model


# Where XLA starts to pay on CPU, in step-tokens (training steps x sequence
# length): its one-off compile costs more than Keras's graph tracing, and each
# step then saves time roughly in proportion to the tokens it reads. Measured
# by bench/xla_break_even.py (the README quotes it); a run below its
# architecture's figure trains faster in graph mode from click to result.
XLA_BREAK_EVEN_STEP_TOKENS = {
    "baseline": 30_000, "lstm": 16_000, "gru": 3_000, "rnn": 16_000, "bilstm": 16_000, "bigru": 14_000,
    "transformer": 75_000,
}


def uses_xla(config: RunConfig, train_steps: int | None = None) -> bool:
    """Returns whether the run's training step is XLA-compiled (`train.jit_compile`).

    "on" and "off" decide; "auto" compiles when the run's training steps
    times its sequence length reach `XLA_BREAK_EVEN_STEP_TOKENS` for its
    architecture, or when the steps are not known. XLA works for every
    architecture, the Transformer included: its dropout masks are hashed
    (`CounterDropout`) rather than drawn by XLA's slow CPU random-number
    generator.

    Args:
        config: the run recipe.
        train_steps: the run's training steps, epochs x batches per epoch
            (None: unknown).
    """
    choice = config.train.jit_compile
    if choice != "auto":
        return choice == "on"
    if train_steps is None:
        return True
    step_tokens = train_steps * config.data.sequence_length
    return step_tokens >= XLA_BREAK_EVEN_STEP_TOKENS[config.model.arch]


def training_device() -> str:
    """Returns what TensorFlow trains on here: the first GPU's name when one is visible, else "CPU".

    Keras places the model on a visible GPU by itself; this only says so (in
    each run's meta.json and the benchmarks' output).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"


def train_steps(config: RunConfig, train_examples: int) -> int:
    """Returns a run's training steps: epochs x batches per epoch (the last batch may be short)."""
    return config.train.epochs * max(1, math.ceil(train_examples / config.train.batch_size))


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


# XLA's persistent cache of compiled steps: a run whose step was compiled
# before (the same preset queued again, the same recipe by another student)
# loads it instead of compiling. Executables are machine code for one CPU, so
# the folder is named by this CPU's features and the TensorFlow version and is
# never read on another machine; the oldest files go past the limit.
COMPILE_CACHE_PREFIX = "xla-"
COMPILE_CACHE_LIMIT_BYTES = 512 * 2**20
COMPILE_CACHE_VARIABLE = "SEQLAB_COMPILE_CACHE"  # "0" turns the cache off


def prepare_process(store: RunStore, *, threads: int | None = None) -> dict[str, Any]:
    """Sets up this process for training, then imports Keras: threads and the compile cache.

    Call before TensorFlow is imported (the worker and the command line do);
    afterwards TensorFlow has read its settings and this changes nothing but
    importing Keras.

    Args:
        store: the run store, whose cache folder holds the compile cache.
        threads: threads TensorFlow computes with (None: its default, every core).

    Returns:
        What was set: {"threads": int | None, "compile_cache": path or None}.
    """
    settings: dict[str, Any] = {"threads": None, "compile_cache": None}
    if "tensorflow" not in sys.modules:
        if threads:
            for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
                os.environ[name] = str(threads)
            os.environ["TF_NUM_INTEROP_THREADS"] = "1" if threads == 1 else "2"
            settings["threads"] = threads
        if os.environ.get(COMPILE_CACHE_VARIABLE, "1") != "0":
            folder = store.cache_dir(COMPILE_CACHE_PREFIX + machine_fingerprint())
            _trim_folder(folder, COMPILE_CACHE_LIMIT_BYTES)
            # A cache flag inherited from a parent process names the parent's store: replaced.
            kept = [part for part in os.environ.get("TF_XLA_FLAGS", "").split()
                    if not part.startswith("--tf_xla_persistent_cache")]
            os.environ["TF_XLA_FLAGS"] = " ".join(kept + [
                f"--tf_xla_persistent_cache_directory={folder}",
                "--tf_xla_persistent_cache_device_types=CPU,XLA_CPU_JIT,GPU,XLA_GPU_JIT"])
            settings["compile_cache"] = folder
    _keras()
    return settings


def machine_fingerprint() -> str:
    """Returns a short hash of this CPU's features, its architecture and the TensorFlow version.

    Read from /proc/cpuinfo's flags where there is one, so two machines share
    compiled code only when their CPUs offer the same instructions.
    """
    try:
        from importlib.metadata import version

        tensorflow = version("tensorflow")
    except Exception:  # noqa: BLE001 - an unusual install: the hash still separates CPUs
        tensorflow = "unknown"
    features = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                features = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    except OSError:
        pass
    text = "|".join((platform.machine(), platform.system(), features, tensorflow))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


TRACE_NAME_STRIDE = 2**18


def _canonical_trace_names() -> None:
    """Moves TensorFlow's function-name counter to the next multiple of `TRACE_NAME_STRIDE`.

    Traced functions are named with a process-wide counter and XLA's compile
    cache keys include the name, so the same recipe would get a new key after
    any other tracing (tokenizing a dataset the first time, say). From a
    common starting point, the first run of every fresh process traces the
    same names, whatever it did before. Counting up is cheap (a C call each).
    """
    from tensorflow.python.framework import ops  # the counter has no public handle

    current = ops.uid()
    target = (current // TRACE_NAME_STRIDE + 1) * TRACE_NAME_STRIDE
    while ops.uid() < target - 1:
        pass


def _trim_folder(folder: Path, limit_bytes: int) -> None:
    """Deletes the oldest files of `folder` until the rest fit in `limit_bytes`."""
    files = []
    for path in folder.iterdir():
        try:
            info = path.stat()
        except OSError:
            continue
        files.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= limit_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size


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


def _make_attention_recorder_class():
    keras = _keras()

    class _AttentionRecorder(keras.callbacks.Callback):
        """Reads the probe texts' attention after every epoch and has the store write it.

        One eager `AttentionProbe` call on the K probe texts per epoch; an
        epoch whose weights are not finite (the run diverged) is left out.
        """

        def __init__(self, store: RunStore, run_id: str, probe: AttentionProbe,
                     history: AttentionHistory, token_ids: np.ndarray):
            super().__init__()
            self.store, self.run_id, self.probe = store, run_id, probe
            self.history, self.token_ids = history, token_ids

        def on_epoch_end(self, epoch, logs=None):
            scores = self.probe(self.token_ids)  # (layers, K, heads, T, T)
            if not np.all(np.isfinite(scores)):
                return
            self.history.record(epoch + 1, scores)
            self.store.write_attention_history(self.run_id, self.history.to_arrays())

    return _AttentionRecorder


def AttentionRecorder(store: RunStore, run_id: str, model, validation_texts: list[str],
                      validation_ids: np.ndarray, vectorizer: Vectorizer,
                      probe_texts: int = PROBE_TEXTS, max_tokens: int = PROBE_MAX_TOKENS):
    """Returns the Keras callback that records a Transformer's attention over training, or None.

    The probes are the run's first `probe_texts` validation texts with 1 to
    `max_tokens` real tokens as the model reads them (cut to the run's
    length), the shortest others when too few are that short
    (`seqlab.attention.probe_rows`); after each epoch their weights go to
    the run's attention history (`seqlab.attention.AttentionHistory`,
    written by `RunStore.write_attention_history`).

    Args:
        store: the run store.
        run_id: the run being trained.
        model: its model, with attention layers (`seqlab.attention.has_attention`).
        validation_texts: the validation split's texts.
        validation_ids: (N_val, T) their ids.
        vectorizer: the run's vectorizer (turns the ids back into tokens).
        probe_texts: how many probe texts, K.
        max_tokens: the most real tokens a preferred probe has.

    Returns:
        The callback, or None when no validation text has a real token.

    Raises:
        ValueError: if the model has no attention layers.
    """
    ids = np.asarray(validation_ids)
    rows = probe_rows(ids, probe_texts, max_tokens)
    if not len(rows):
        return None
    probe = AttentionProbe(model)
    token_ids = ids[rows].astype(np.int32)  # (K, T)
    history = AttentionHistory.start(run_id, [validation_texts[i] for i in rows], token_ids,
                                     vectorizer.tokens(token_ids))
    return _make_attention_recorder_class()(store, run_id, probe, history, token_ids)


# Step losses: about this many points an epoch, and at most this many a run (a long run's
# points span more batches), so a run's rows stay few whatever its length.
STEP_LOSS_POINTS_PER_EPOCH = 20
STEP_LOSS_MAX_POINTS = 2000


def step_loss_stride(steps_per_epoch: int, epochs: int,
                     points_per_epoch: int = STEP_LOSS_POINTS_PER_EPOCH,
                     max_points: int = STEP_LOSS_MAX_POINTS) -> int:
    """Returns how many batches one recorded step-loss point spans (the stride).

    An epoch gets a budget of `points_per_epoch` points, fewer when `epochs`
    times that would pass `max_points`; the stride is the epoch's steps over
    that budget, rounded up. An epoch then records ceil(steps_per_epoch /
    stride) <= budget points (its last one may span fewer batches), so a run
    records at most epochs x budget <= `max_points` points (one an epoch past
    `max_points` epochs, which `train.epochs` does not allow).

    Args:
        steps_per_epoch: the batches of one epoch.
        epochs: the epochs planned.
        points_per_epoch: the most points an epoch gets.
        max_points: the most points a run gets.

    Returns:
        The stride, a whole number >= 1.
    """
    budget = max(1, min(points_per_epoch, max_points // max(1, epochs)))
    return max(1, math.ceil(max(1, steps_per_epoch) / budget))


def _make_step_loss_recorder_class():
    keras = _keras()

    class _StepLossRecorder(keras.callbacks.Callback):
        """Records the training loss every `stride` batches; the store writes once per epoch.

        Keras's batch-end `logs["loss"]` is the running mean of the epoch so
        far, weighted by examples. Running mean times examples seen is the
        epoch's summed loss, so the difference between two points over the
        examples between them is the mean loss of the batches in between:
        each point is that window's mean, and an epoch's points, weighted by
        their examples, average to the epoch's recorded loss. With
        `steps_per_execution` > 1 Keras calls back once per execution, after
        its last step (a step past a short epoch's end is the epoch's last):
        a point is recorded at the first call a stride or more after the last
        point, and always at an epoch's last step, or at its last call when a
        stop or divergence cut it short. A loss that is not finite is stored
        as NULL.
        """

        def __init__(self, store: RunStore, run_id: str, train_examples: int, batch_size: int):
            super().__init__()
            self.store, self.run_id = store, run_id
            self.train_examples, self.batch_size = int(train_examples), int(batch_size)
            self.steps_per_epoch = max(1, math.ceil(self.train_examples / max(1, self.batch_size)))
            self.stride = 1
            self.pending: list[dict[str, Any]] = []
            self._epoch = 0
            self._done = 0
            self._mean = math.nan
            self._last_done = 0
            self._last_total = 0.0

        def on_train_begin(self, logs=None):
            self.steps_per_epoch = int(self.params.get("steps") or self.steps_per_epoch)
            self.stride = step_loss_stride(self.steps_per_epoch, int(self.params.get("epochs") or 1))

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch, self._done, self._mean = epoch + 1, 0, math.nan
            self._last_done, self._last_total = 0, 0.0

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is None:
                return
            self._done, self._mean = min(batch + 1, self.steps_per_epoch), float(loss)
            if self._done - self._last_done >= self.stride or self._done >= self.steps_per_epoch:
                self._record()

        def on_epoch_end(self, epoch, logs=None):
            if self._done > self._last_done:  # the epoch was cut short between two points
                self._record()
            self._flush()

        def on_train_end(self, logs=None):
            self._flush()

        def _examples(self, steps: int) -> int:
            return min(steps * self.batch_size, self.train_examples)

        def _record(self) -> None:
            examples = self._examples(self._done)
            total = self._mean * examples  # the epoch's summed loss so far
            window = examples - self._examples(self._last_done)
            loss = (total - self._last_total) / window if window > 0 else self._mean
            self.pending.append({
                "global_step": (self._epoch - 1) * self.steps_per_epoch + self._done,
                "epoch": self._epoch, "step": self._done, "steps_per_epoch": self.steps_per_epoch,
                "loss": loss if math.isfinite(loss) else None,
            })
            self._last_done, self._last_total = self._done, total

        def _flush(self) -> None:
            if self.pending:
                self.store.add_step_losses(self.run_id, self.pending)
                self.pending = []

    return _StepLossRecorder


def StepLossRecorder(store: RunStore, run_id: str, train_examples: int, batch_size: int):
    """Returns the Keras callback that records a run's training loss every few steps.

    About `STEP_LOSS_POINTS_PER_EPOCH` points an epoch and at most
    `STEP_LOSS_MAX_POINTS` a run (`step_loss_stride`), each the mean loss
    of the batches since the epoch's previous point, written by
    `RunStore.add_step_losses` once per epoch (and when training ends).
    Built lazily so importing `seqlab.training` does not import TensorFlow.

    Args:
        store: the run store.
        run_id: the run being trained.
        train_examples: the training split's examples (the last batch of an
            epoch may be short).
        batch_size: examples per batch (`train.batch_size`).
    """
    return _make_step_loss_recorder_class()(store, run_id, train_examples, batch_size)


# The tags TensorBoard's own Keras callback writes, so its dashboards overlay train and validation.
TENSORBOARD_METRICS = {"loss": "epoch_loss", "accuracy": "epoch_accuracy"}


def tensorboard_hparams(config: RunConfig) -> dict[str, bool | int | float | str]:
    """Returns the run's settings as the HParams plugin takes them: `RunConfig.flat()`'s plain values.

    Args:
        config: the run recipe.

    Returns:
        Field path ("model.units") -> value, for every field whose value is a
        bool, number or string (None and other types are left out).
    """
    return {name: value for name, value in config.flat().items()
            if isinstance(value, (bool, int, float, str))}


def write_tensorboard_results(store: RunStore, run_id: str, step: int, scores: dict[str, float]) -> None:
    """Adds a finished run's test scores to its TensorBoard folder (the HParams tab lists them).

    Args:
        store: the run store.
        run_id: the run.
        step: the last epoch trained (from 1).
        scores: metric name ("test_accuracy") -> value; non-finite values are left out.
    """
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(store.tensorboard_path(run_id)))
    with writer.as_default(step=step):
        for name, value in scores.items():
            if _finite(value) is not None:
                tf.summary.scalar(name, float(value))
    writer.close()


def _make_tensorboard_writer_class():
    keras = _keras()

    class _TensorBoardWriter(keras.callbacks.Callback):
        """Writes a run's epochs and settings as TensorBoard event files, flushed every epoch.

        Lays the folder out as TensorBoard's Keras callback does: `train/` and
        `validation/` hold `epoch_loss` and `epoch_accuracy`, so the Scalars
        dashboard overlays them; the folder itself holds the HParams plugin's
        record of the run's settings (written when training begins, so a live
        run is listed) and `best_val_accuracy`, the highest validation
        accuracy so far. Steps are epoch numbers counted from 1, as the store
        counts them.
        """

        def __init__(self, folder: Path, run_id: str, hparams: dict[str, Any]):
            super().__init__()
            self.folder, self.run_id, self.hparams = folder, run_id, hparams
            self.best_val_accuracy = -math.inf
            self._writers: dict[str, Any] = {}

        def on_train_begin(self, logs=None):
            import tensorflow as tf
            from tensorboard.plugins.hparams import api as hparams_api

            self._writers = {name: tf.summary.create_file_writer(str(self.folder / name))
                             for name in ("", "train", "validation")}
            with self._writers[""].as_default():
                hparams_api.hparams(self.hparams, trial_id=self.run_id)
            self._writers[""].flush()

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf

            logs = logs or {}
            # The values the store's reporter records from these same logs; an epoch whose
            # loss is not finite (the run diverged) is not recorded there, so not here either.
            if _finite(logs.get("loss")) is None or not self._writers:
                return
            step = epoch + 1
            for split, prefix in (("train", ""), ("validation", "val_")):
                with self._writers[split].as_default(step=step):
                    for name, tag in TENSORBOARD_METRICS.items():
                        value = _finite(logs.get(prefix + name))
                        if value is not None:
                            tf.summary.scalar(tag, value)
            val_accuracy = _finite(logs.get("val_accuracy"))
            if val_accuracy is not None:
                self.best_val_accuracy = max(self.best_val_accuracy, val_accuracy)
            if math.isfinite(self.best_val_accuracy):
                with self._writers[""].as_default(step=step):
                    tf.summary.scalar("best_val_accuracy", self.best_val_accuracy)
            for writer in self._writers.values():
                writer.flush()  # a run being trained shows up epoch by epoch

        def on_train_end(self, logs=None):
            for writer in self._writers.values():
                writer.close()
            self._writers = {}

    return _TensorBoardWriter


def TensorBoardWriter(store: RunStore, run_id: str, config: RunConfig):
    """Returns the Keras callback that writes the run's TensorBoard event files.

    They go to `store.tensorboard_path(run_id)`, so `tensorboard --logdir
    <home>/artifacts` lists every run with its settings (`tensorboard_hparams`)
    and per-epoch loss and accuracy for train and validation. One write per
    epoch, outside the compiled step, so XLA on or off makes no difference.

    Args:
        store: the run store.
        run_id: the run being trained (the HParams trial id).
        config: its recipe.
    """
    return _make_tensorboard_writer_class()(store.tensorboard_path(run_id), run_id,
                                            tensorboard_hparams(config))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
