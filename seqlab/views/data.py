"""The Data page: splits, lengths, truncation and tokenization of a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqlab.analysis import words
from seqlab.config import DataConfig, RunConfig
from seqlab.data.vectorize import tokenization_table, vectorize


def data_config(values: dict) -> DataConfig:
    """Returns a validated `DataConfig` from `{"sequence_length": 40, ...}` (data fields only).

    Raises:
        ValueError: naming the field, the value received and what is allowed.
    """
    config = RunConfig().with_overrides({f"data.{name}": value for name, value in values.items()})
    return config.validate().data


def label_counts_table(dataset) -> pd.DataFrame:
    """Returns texts per split and class: columns split, label (class name), count."""
    rows = []
    for split, (_, labels) in dataset.splits().items():
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=dataset.num_classes)
        rows += [{"split": split, "label": name, "count": int(count)}
                 for name, count in zip(dataset.class_names, counts)]
    return pd.DataFrame(rows, columns=["split", "label", "count"])


def truncation_summary(lengths: pd.DataFrame, sequence_length: int) -> str:
    """Returns one sentence on the tokens `sequence_length` keeps and the texts it pads.

    The share of texts cut is left to the length histogram, which marks it
    at its red line.
    """
    values = lengths["length"].to_numpy()
    if values.size == 0:
        return words.NO_TEXTS
    kept = float(np.minimum(values, sequence_length).sum() / max(values.sum(), 1))
    padded = float((values < sequence_length).mean())
    return words.truncation_sentence(sequence_length, kept, padded)


def tokenization_view(dataset, config, num_examples: int = 4, cache_dir: Path | None = None) -> pd.DataFrame:
    """Returns tokens, ids, padding and mask of the first training texts (loads TensorFlow).

    The vocabulary is adapted on the training texts exactly as for a run.

    Args:
        dataset: the loaded `TextDataset`.
        config: its `DataConfig`.
        num_examples: how many training texts to show.
        cache_dir: the vectorize cache (`store.cache_dir(VECTORIZED_CACHE)`), so the
            vocabulary is built once per dataset and settings; None builds it every time.

    Returns:
        `seqlab.data.vectorize.tokenization_table(...)` plus a `text` column.
    """
    vocabulary = vectorize(dataset, config, cache_dir=cache_dir).vocabulary
    texts = list(dataset.train_texts[:num_examples])
    table = tokenization_table(texts, vocabulary, config)
    return table.assign(text=[texts[i] for i in table["example"]])
