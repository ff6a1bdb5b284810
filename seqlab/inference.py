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
from seqlab.data.texts import split_tokens
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


def attention_map(store: RunStore, run_id: str, text: str) -> AttentionMap:
    """Reads the attention of a Transformer run for one text.

    Args:
        store: the run store.
        run_id: a Transformer run with a saved model.
        text: the raw text (vectorized with the run's vocabulary and length).

    Returns:
        The `AttentionMap`.

    Raises:
        KeyError: for an unknown run id.
        ValueError: for an empty text, a run without a saved model, or a run
            without attention layers.
    """
    if not text.strip():
        raise ValueError("no text received: type a sentence or pick an example")
    trained = load_trained(store, run_id)
    ids = trained.vectorizer.encode([text])  # (1, T)
    scores = attention_scores(trained.model, ids)[:, 0]  # (layers, heads, T, T)
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


def attention_for_text(store: RunStore, run_id: str, text: str) -> pd.DataFrame:
    """Reads the attention scores of a Transformer run for one text.

    Returns:
        The tidy table of `seqlab.attention.attention_table` (padding left out).

    Raises:
        ValueError: for an empty text, or a run without attention layers.
    """
    return attention_map(store, run_id, text).table
