"""Using trained runs: load a run's model and vocabulary, predict, read attention.

A run can also predict its own test split (`test_predictions`, for
`seqlab.analysis.errors`: where it errs, where two runs disagree).

Models are loaded with `safe_mode=True` only; seqlab's own layers are
registered when `seqlab.models` is imported, so nothing else is needed.

Loading a model and preparing it to predict costs far more than predicting a
few texts, so a long-lived process (the app) keeps loaded models in a
`ModelCache`: bounded, least recently used first out, keyed by store and run
id, and checked against the run's files on every use, so a re-trained run is
loaded again and a deleted one is never served. Every function here takes
such a cache as `models`; without one, each call loads afresh (what the
command line does for its one call).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd

from seqlab.attention import AttentionProbe, attention_table, has_attention
from seqlab.config import RunConfig
from seqlab.data.texts import split_tokens
from seqlab.data.vectorize import Vectorizer
from seqlab.store import META_FILE, RunStore

# Models a process keeps loaded: a Predict page compares a handful of runs, and
# a classroom server's sessions mostly look at the same few.
MODEL_CACHE_ENTRIES = 8
# Texts per forward call: bounds the memory of a long list of texts.
PREDICT_BATCH = 256

# What identifies one saved file: (modification time in ns, size, inode), or None when missing.
FileVersion = tuple[int, int, int] | None


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A run's loaded model, ready to predict: never changed once built, so sessions share it.

    Attributes:
        model: the `keras.Model`.
        vectorizer: the run's `seqlab.data.vectorize.Vectorizer`.
        class_names: the name of each class, in output order.
        version: what `model_version` said of the run's files before loading.
        forward: (batch, T) int32 ids -> the model's outputs; one graph for
            every batch size and length, so new texts never trace again.
        probe: the `seqlab.attention.AttentionProbe` of a Transformer, else None.
        replay: the `seqlab.attribution.EmbeddingReplay` of the model: kept with
            it so its traced gradient functions serve every later attribution.
    """

    model: Any  # keras.Model
    vectorizer: Any  # seqlab.data.vectorize.Vectorizer
    class_names: tuple[str, ...]
    version: tuple[FileVersion, ...]
    forward: Callable[[Any], Any] = field(repr=False)
    probe: AttentionProbe | None = field(repr=False)
    replay: Any = field(default=None, repr=False)  # seqlab.attribution.EmbeddingReplay

    @classmethod
    def build(cls, model, vectorizer, class_names: tuple[str, ...],
              version: tuple[FileVersion, ...]) -> "LoadedModel":
        """Wraps a loaded model with its forward function and attention probe.

        Args:
            model: the loaded `keras.Model`.
            vectorizer: the run's `Vectorizer`.
            class_names: the name of each class, in output order.
            version: `model_version` of the files the model came from.

        Returns:
            The `LoadedModel` (its forward function is traced on first use).
        """
        import tensorflow as tf

        # `model.predict` builds a new function per call and an XLA program per
        # batch shape (the saved compile settings ask for XLA); one graph with
        # free batch and length dimensions is traced once and serves them all.
        forward = tf.function(
            lambda token_ids: model(token_ids, training=False),
            input_signature=[tf.TensorSpec((None, None), tf.int32, name="token_ids")],
            autograph=False,  # Keras layers need no conversion; tracing is quicker without it
        )
        from seqlab.attribution import EmbeddingReplay

        probe = AttentionProbe(model) if has_attention(model) else None
        return cls(model, vectorizer, class_names, version, forward, probe, EmbeddingReplay(model))

    def probabilities(self, token_ids: np.ndarray) -> np.ndarray:
        """Returns class probabilities (batch, num_classes) for (batch, T) ids."""
        ids = np.asarray(token_ids, dtype=np.int32)  # (batch, T)
        parts = [np.asarray(self.forward(ids[start:start + PREDICT_BATCH]))
                 for start in range(0, len(ids), PREDICT_BATCH)]  # each (chunk, outputs)
        outputs = np.concatenate(parts) if parts else np.zeros((0, len(self.class_names)), np.float32)
        if outputs.shape[-1] == 1:  # sigmoid head: P(class 1)
            positive = outputs[:, 0]
            return np.stack([1.0 - positive, positive], axis=1)
        return outputs


class ModelCache:
    """Loaded models shared by every session of a process, the least recently used dropped first.

    Holds at most `max_entries` `LoadedModel`s. Each is kept with the
    version of the files it was loaded from; `get` loads again when the
    caller's version differs (the run was re-trained or its files replaced).
    Safe to use from many threads: two sessions asking for the same model
    at once load it once.

    Args:
        max_entries: the most models kept (at least 1).

    Raises:
        ValueError: for a `max_entries` below 1.
    """

    def __init__(self, max_entries: int = MODEL_CACHE_ENTRIES):
        if max_entries < 1:
            raise ValueError(f"model cache: received max_entries={max_entries}, expected at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, LoadedModel]] = OrderedDict()  # key -> (version, model)
        self._lock = threading.Lock()  # guards _entries and _loading
        self._loading: dict[Hashable, threading.Lock] = {}  # one per key being loaded

    def get(self, key: Hashable, version: Hashable, load: Callable[[], LoadedModel]) -> LoadedModel:
        """Returns the model kept under `key` if it has `version`, else `load()`'s (then kept).

        Args:
            key: e.g. (store folder, run id).
            version: the current `model_version` of the run's files.
            load: loads the model; called at most once per key at a time.

        Returns:
            The `LoadedModel`.

        Raises:
            Whatever `load` raises (nothing is kept then).
        """
        with self._lock:
            found = self._fresh(key, version)
            if found is not None:
                return found
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another session may have loaded it meanwhile
                found = self._fresh(key, version)
                if found is not None:
                    return found
            try:
                loaded = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._entries[key] = (version, loaded)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return loaded

    def discard(self, key: Hashable) -> None:
        """Drops the model kept under `key`, if any (its run was deleted or lost its model)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drops every kept model."""
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[Hashable]:
        """Returns the keys kept, the least recently used first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _fresh(self, key: Hashable, version: Hashable) -> LoadedModel | None:
        """The model under `key` when it has `version` (marked as just used); call with the lock held."""
        found = self._entries.get(key)
        if found is None or found[0] != version:
            return None
        self._entries.move_to_end(key)
        return found[1]


@dataclass
class TrainedRun:
    """A run's model with what is needed to feed it texts.

    Attributes:
        run_id: the run.
        label: its label, as the store has it now.
        config: its recipe.
        loaded: the `LoadedModel` (shared with other sessions when it came from a cache).
    """

    run_id: str
    label: str
    config: RunConfig
    loaded: LoadedModel

    @property
    def model(self):
        """The `keras.Model`."""
        return self.loaded.model

    @property
    def vectorizer(self):
        """The run's `Vectorizer`."""
        return self.loaded.vectorizer

    @property
    def class_names(self) -> tuple[str, ...]:
        """The name of each class, in output order."""
        return self.loaded.class_names


def model_version(store: RunStore, run_id: str) -> tuple[FileVersion, ...] | None:
    """Returns what identifies run `run_id`'s saved model and vocabulary now (creates nothing).

    Cheap (two `stat` calls, no TensorFlow): pages put it in their cache keys
    so a re-trained run's results are computed again.

    Returns:
        ((mtime_ns, size, inode) of model.keras, the same of vocabulary.json
        or None when it is missing), or None when the run has no saved model.
    """
    if not store.has_model(run_id):
        return None
    model = _file_version(store.model_path(run_id))
    if model is None:  # deleted between the two looks
        return None
    return model, _file_version(store.vocabulary_path(run_id))


def load_trained(store: RunStore, run_id: str, models: ModelCache | None = None) -> TrainedRun:
    """Loads run `run_id`'s saved model and vocabulary, or takes them from `models`.

    Args:
        store: the run store.
        run_id: a run that has saved a model (completed or stopped).
        models: a cache of loaded models; the model is taken from it when it
            was loaded from the run's current files, else loaded and kept.
            None: load afresh.

    Returns:
        The `TrainedRun`.

    Raises:
        KeyError: for an unknown (e.g. deleted) run id.
        ValueError: when the run has no saved model yet (queued, running,
            failed before its first batch) or its files are unreadable.
    """
    key = (str(store.home), run_id)
    try:
        record = store.get_run(run_id)
    except KeyError:
        if models is not None:
            models.discard(key)  # a deleted run is never served
        raise
    version = model_version(store, run_id)
    if version is None:
        if models is not None:
            models.discard(key)
        raise ValueError(
            f"run {run_id} ({record.label}) has no saved model: its status is "
            f"{record.status}; a model is saved when a run completes or is stopped"
        )

    def load() -> LoadedModel:
        try:
            model = _load_keras_model(store.model_path(run_id))
            meta = store.read_meta(run_id)
            if meta is None:
                raise ValueError(f"{META_FILE} is missing or unreadable")
            vectorizer = Vectorizer.load(store.vocabulary_path(run_id), record.config.data)
            class_names = tuple(meta["class_names"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"run {run_id}: its saved files cannot be read ({error})") from None
        return LoadedModel.build(model, vectorizer, class_names, version)

    loaded = load() if models is None else models.get(key, version, load)
    return TrainedRun(run_id, record.label, record.config, loaded)


def predict_proba(trained: TrainedRun, texts: list[str]) -> np.ndarray:
    """Returns class probabilities `(len(texts), num_classes)` for raw texts."""
    ids = trained.vectorizer.encode(texts)  # (batch, T)
    return trained.loaded.probabilities(ids)


def predictions_table(store: RunStore, run_ids: list[str], texts: list[str],
                      models: ModelCache | None = None) -> pd.DataFrame:
    """Predicts `texts` with each run; one row per (text, run, class).

    Args:
        store: the run store.
        run_ids: runs with saved models.
        texts: raw texts (empty ones are refused).
        models: a cache of loaded models (see `load_trained`); None: load each afresh.

    Returns:
        Columns: text, run_id, label, class_name, probability, predicted (bool),
        plus `error` rows (class_name None) for runs that cannot predict.

    Raises:
        ValueError: when no text is given.
    """
    texts = [t for t in (text.strip() for text in texts) if t]
    if not texts:
        raise ValueError("no text received: type a sentence to classify")
    rows = []
    for run_id in run_ids:
        try:
            trained = load_trained(store, run_id, models)
        except (KeyError, ValueError) as error:
            rows.append({"text": None, "run_id": run_id, "label": run_id, "class_name": None,
                         "probability": np.nan, "predicted": False,
                         "error": str(error.args[0] if error.args else error)})
            continue
        probabilities = predict_proba(trained, texts)
        for text, row in zip(texts, probabilities):
            best = int(np.argmax(row))
            for index, probability in enumerate(row):
                rows.append({"text": text, "run_id": run_id, "label": trained.label,
                             "class_name": trained.class_names[index],
                             "probability": float(probability), "predicted": index == best,
                             "error": None})
    return pd.DataFrame(rows, columns=["text", "run_id", "label", "class_name",
                                       "probability", "predicted", "error"])


@dataclass
class AttentionMap:
    """One text's attention in a Transformer run, padding left out.

    Attributes:
        run_id: the run.
        label: the run's label.
        tokens: the R real tokens the model read, in order.
        positions: (R,) their positions in the model's input (0 .. T-1).
        scores: (layers, heads, R, R) float32 weights: query rows, key columns.
        table: the same weights as `seqlab.attention.attention_table` gives them.
        text_length: tokens in the text before truncation.
        sequence_length: the most tokens the run reads (`data.sequence_length`).
        truncation: which end of a longer text was cut ("pre": the start).
        first_kept: index, in the whole text, of the first token read (0
            unless the start was cut).
    """

    run_id: str
    label: str
    tokens: list[str]
    positions: np.ndarray
    scores: np.ndarray
    table: pd.DataFrame
    text_length: int
    sequence_length: int
    truncation: str
    first_kept: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON of `python -m seqlab attention --json`: `tokens` and
        `attention` (layers, heads, R, R) as nested lists, with what was cut."""
        return {
            "run_id": self.run_id, "label": self.label, "tokens": list(self.tokens),
            "attention": self.scores.astype(float).round(6).tolist(),
            "text_length": self.text_length, "sequence_length": self.sequence_length,
            "truncation": self.truncation, "first_kept": self.first_kept,
        }


def attention_map(store: RunStore, run_id: str, text: str,
                  models: ModelCache | None = None) -> AttentionMap:
    """Reads the attention of a Transformer run for one text.

    Args:
        store: the run store.
        run_id: a Transformer run with a saved model.
        text: the raw text (vectorized with the run's vocabulary and length).
        models: a cache of loaded models (see `load_trained`); None: load afresh.

    Returns:
        The `AttentionMap`.

    Raises:
        KeyError: for an unknown run id.
        ValueError: for an empty text, a run without a saved model, or a run
            without attention layers.
    """
    if not text.strip():
        raise ValueError("no text received: type a sentence or pick an example")
    trained = load_trained(store, run_id, models)
    probe = trained.loaded.probe
    if probe is None:
        AttentionProbe(trained.model)  # raises the error that says which runs have attention
    ids = trained.vectorizer.encode([text])  # (1, T)
    scores = probe(ids)[:, 0]  # (layers, heads, T, T)
    tokens = trained.vectorizer.tokens(ids[0])
    real = np.flatnonzero(ids[0] != 0)  # (R,)
    data = trained.config.data
    text_length = len(split_tokens(text))
    cut = max(0, text_length - data.sequence_length)
    return AttentionMap(
        run_id=run_id, label=trained.label, tokens=[tokens[i] for i in real], positions=real,
        scores=scores[:, :, real][:, :, :, real].astype(np.float32),
        table=attention_table(scores, tokens), text_length=text_length,
        sequence_length=data.sequence_length, truncation=data.truncation,
        first_kept=cut if data.truncation == "pre" else 0,
    )


def attention_for_text(store: RunStore, run_id: str, text: str,
                       models: ModelCache | None = None) -> pd.DataFrame:
    """Reads the attention scores of a Transformer run for one text.

    Args:
        store: the run store.
        run_id: a Transformer run with a saved model.
        text: the raw text.
        models: a cache of loaded models (see `load_trained`); None: load afresh.

    Returns:
        The tidy table of `seqlab.attention.attention_table` (padding left out).

    Raises:
        ValueError: for an empty text, or a run without attention layers.
    """
    return attention_map(store, run_id, text, models).table


def _load_keras_model(path: Path):
    """Loads a saved `.keras` model to predict with, `safe_mode=True`, without its optimizer."""
    import keras

    from seqlab.models import layers, transformer  # noqa: F401  (registers seqlab's layers)

    # As seqlab.models.load_model, but compile=False: predicting needs no
    # optimizer, and building its variables is a large share of a load.
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _file_version(path: Path) -> FileVersion:
    """(mtime_ns, size, inode) of `path`, or None when it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


# ------------------------------------------------------------- test split
# Test texts predicted at most: IMDB's test split holds 25,000 reviews, and a
# page waits for these; 2,000 measure an accuracy to about ±1 point.
TEST_PREDICTION_LIMIT = 2000
# Fixes which test texts a bounded prediction reads, so every run on one split
# (and every reload of the page) reads the same ones.
TEST_SAMPLE_SEED = 0


@dataclass
class TestPredictions:
    """A run's class probabilities on (a fixed sample of) its own test split.

    Attributes:
        run_id: the run.
        label: its label.
        texts: the n texts predicted, in test-split order.
        labels: (n,) int64 their true class ids.
        probabilities: (n, C) float32 the run's class probabilities.
        class_names: the C class names, in id order.
        indices: (n,) int64 the texts' positions in the test split.
        test_size: examples in the whole test split (n when `complete`).
    """

    __test__ = False  # a result, not a test class, for pytest

    run_id: str
    label: str
    texts: list[str]
    labels: np.ndarray
    probabilities: np.ndarray
    class_names: tuple[str, ...]
    indices: np.ndarray
    test_size: int

    @property
    def predicted(self) -> np.ndarray:
        """(n,) int64 the class the run predicts for each text (its highest probability)."""
        from seqlab.analysis.errors import predicted_classes

        return predicted_classes(self.probabilities)

    @property
    def accuracy(self) -> float:
        """The share of the texts predicted right (NaN for none)."""
        if not len(self.labels):
            return float("nan")
        return float(np.mean(self.predicted == self.labels))

    @property
    def complete(self) -> bool:
        """Whether every test example was predicted (no sample was drawn)."""
        return len(self.texts) == self.test_size


def test_predictions(store: RunStore, run_id: str, models: ModelCache | None = None,
                     limit: int | None = TEST_PREDICTION_LIMIT) -> TestPredictions:
    """Predicts a run's own test split with its saved model.

    The split is loaded as training loaded it: `seqlab.data.load_dataset`
    with the run's `data` config and seed draws the same split, and the
    run's vocabulary encodes it to the ids its model was tested on. With the
    weights training tested (the saved ones), the accuracy of the complete
    split is the run's stored `test_accuracy`.

    Args:
        store: the run store.
        run_id: a run with a saved model.
        models: a cache of loaded models (see `load_trained`); None: load afresh.
        limit: the most texts predicted; a larger split is sampled, the same
            texts each time (`TEST_SAMPLE_SEED`), kept in split order. None:
            every text.

    Returns:
        The `TestPredictions` (`complete` says whether it is the whole split).

    Raises:
        KeyError: for an unknown run id.
        ValueError: for a run without a saved model, a limit below 1, or a
            dataset that no longer gives the split the run was trained on
            (a data file changed since).
    """
    from seqlab.data import load_dataset

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise ValueError(f"limit: received {limit!r}, expected a whole number >= 1, or None for "
                         f"the whole test split")
    trained = load_trained(store, run_id, models)
    config = trained.config
    dataset = load_dataset(config.data, config.seed)
    texts, labels = dataset.test_texts, np.asarray(dataset.test_labels, dtype=np.int64)
    meta = store.read_meta(run_id) or {}
    trained_size = (meta.get("examples") or {}).get("test")
    if trained_size is not None and trained_size != len(texts):
        raise ValueError(
            f"run {run_id}: its dataset {config.data.dataset!r} now gives {len(texts)} test "
            f"examples, expected the {trained_size} the run was tested on; the data changed "
            f"since training: restore it, or train the run again"
        )
    if tuple(dataset.class_names) != tuple(trained.class_names):
        raise ValueError(
            f"run {run_id}: its dataset now has classes {list(dataset.class_names)}, expected "
            f"{list(trained.class_names)} as when it was trained; restore the data or train again"
        )
    indices = np.arange(len(texts), dtype=np.int64)
    if limit is not None and len(texts) > limit:
        rng = np.random.default_rng(TEST_SAMPLE_SEED)
        indices = np.sort(rng.choice(len(texts), size=limit, replace=False)).astype(np.int64)
    chosen = [texts[i] for i in indices]
    ids = trained.vectorizer.encode(chosen)  # (n, T)
    probabilities = trained.loaded.probabilities(ids).astype(np.float32)  # (n, C)
    return TestPredictions(
        run_id=run_id, label=trained.label, texts=chosen, labels=labels[indices],
        probabilities=probabilities, class_names=tuple(trained.class_names), indices=indices,
        test_size=len(texts),
    )


def test_disagreements(store: RunStore, run_a: str, run_b: str, models: ModelCache | None = None,
                       limit: int | None = None,
                       sample: int | None = TEST_PREDICTION_LIMIT) -> pd.DataFrame:
    """Lists the test examples one of two runs gets right and the other wrong.

    Args:
        store: the run store.
        run_a: a run with a saved model.
        run_b: another, trained on the same test split (the same data
            recipe and seed).
        models: a cache of loaded models (see `load_trained`); None: load afresh.
        limit: the most rows of each direction (None: all).
        sample: the most test texts predicted (`test_predictions`'s `limit`).

    Returns:
        `seqlab.analysis.errors.disagreement_table`, runs named by label
        (by id when the labels are equal).

    Raises:
        KeyError: for an unknown run id.
        ValueError: as `test_predictions`, or when the two runs were not
            tested on the same texts.
    """
    from seqlab.analysis.errors import disagreement_table

    first = test_predictions(store, run_a, models, limit=sample)
    second = test_predictions(store, run_b, models, limit=sample)
    if first.texts != second.texts or first.class_names != second.class_names:
        raise ValueError(
            f"runs {run_a} and {run_b}: received different test splits ({first.test_size} and "
            f"{second.test_size} examples), expected the same; compare runs with the same "
            f"data settings and seed"
        )
    names = (first.label, second.label) if first.label != second.label else (run_a, run_b)
    return disagreement_table(first.texts, first.labels, first.probabilities,
                              second.probabilities, first.class_names, names=names, limit=limit)


# Their names start with "test" for what they read, not because they are tests: pytest
# would otherwise collect them from any test module that imports them.
test_predictions.__test__ = False
test_disagreements.__test__ = False
