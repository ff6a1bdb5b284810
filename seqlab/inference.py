"""Using trained runs: load a run's model and vocabulary, predict, read attention.

Models are loaded with `safe_mode=True` only; seqlab's own layers are
registered when `seqlab.models` is imported, so nothing else is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqlab.attention import attention_scores, attention_table
from seqlab.config import RunConfig
from seqlab.data.vectorize import Vectorizer
from seqlab.models import load_model
from seqlab.store import META_FILE, RunStore


@dataclass
class TrainedRun:
    """A run's model with what is needed to feed it texts."""

    run_id: str
    label: str
    config: RunConfig
    model: Any  # keras.Model
    vectorizer: Any  # seqlab.data.vectorize.Vectorizer
    class_names: tuple[str, ...]


def load_trained(store: RunStore, run_id: str) -> TrainedRun:
    """Loads run `run_id`'s saved model and vocabulary.

    Args:
        store: the run store.
        run_id: a run that has saved a model (completed or stopped).

    Returns:
        The `TrainedRun`.

    Raises:
        KeyError: for an unknown run id.
        ValueError: when the run has no saved model yet (queued, running,
            failed before its first batch) or its files are unreadable.
    """
    record = store.get_run(run_id)
    if not store.has_model(run_id):
        raise ValueError(
            f"run {run_id} ({record.label}) has no saved model: its status is "
            f"{record.status}; a model is saved when a run completes or is stopped"
        )
    try:
        model = load_model(store.model_path(run_id))  # safe_mode=True, seqlab's layers registered
        meta = store.read_meta(run_id)
        if meta is None:
            raise ValueError(f"{META_FILE} is missing or unreadable")
        vectorizer = Vectorizer.load(store.vocabulary_path(run_id), record.config.data)
        class_names = tuple(meta["class_names"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"run {run_id}: its saved files cannot be read ({error})") from None
    return TrainedRun(run_id, record.label, record.config, model, vectorizer, class_names)


def predict_proba(trained: TrainedRun, texts: list[str]) -> np.ndarray:
    """Returns class probabilities `(len(texts), num_classes)` for raw texts."""
    ids = trained.vectorizer.encode(texts)  # (batch, T)
    outputs = np.asarray(trained.model.predict(ids, verbose=0))
    if outputs.shape[-1] == 1:  # sigmoid head: P(class 1)
        positive = outputs[:, 0]
        return np.stack([1.0 - positive, positive], axis=1)
    return outputs


def predictions_table(store: RunStore, run_ids: list[str], texts: list[str]) -> pd.DataFrame:
    """Predicts `texts` with each run; one row per (text, run, class).

    Args:
        store: the run store.
        run_ids: runs with saved models.
        texts: raw texts (empty ones are refused).

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
            trained = load_trained(store, run_id)
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


def attention_for_text(store: RunStore, run_id: str, text: str) -> pd.DataFrame:
    """Reads the attention scores of a Transformer run for one text.

    Returns:
        The tidy table of `seqlab.attention.attention_table` (padding left out).

    Raises:
        ValueError: for an empty text, or a run without attention layers.
    """
    if not text.strip():
        raise ValueError("no text received: type a sentence or pick an example")
    trained = load_trained(store, run_id)
    ids = trained.vectorizer.encode([text])  # (1, T)
    scores = attention_scores(trained.model, ids)  # (layers, 1, heads, T, T)
    tokens = trained.vectorizer.tokens(ids[0])
    return attention_table(scores[:, 0], tokens)
