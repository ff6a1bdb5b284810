"""Datasets as raw texts + integer labels in train/validation/test splits.

Every source (toy sentences, synthetic tasks, IMDB, a user's CSV/TSV/JSONL
file) becomes a `TextDataset` (`seqlab.data.texts`, re-exported here);
`load_dataset` picks the source a `DataConfig` names, and
`seqlab.data.vectorize` turns a dataset into padded token ids through one
Keras `TextVectorization` path.

`standardize()` is the single text-cleaning rule: the vectorizer receives
texts already standardized by it, so token counts, length histograms and the
ids a model sees always agree.

Nothing here imports TensorFlow, so the Data page can show texts, lengths and
class balance without loading it (its token picture, `vectorize`, does load
it the first time a vocabulary is built).
"""

from __future__ import annotations

from seqlab.config import BUILTIN_DATASETS, DataConfig
from seqlab.data.files import load_file, read_text_table
from seqlab.data.imdb import ImdbStatus, imdb_status, load_imdb
from seqlab.data.synthetic import load_synthetic
from seqlab.data.texts import (
    SPLITS, STANDARDIZE_VERSION, DatasetError, TextDataset, clean_html, dataset_from_pool,
    dataset_summary_table, describe, examples_table, split_tokens, standardize,
    stratified_split, token_lengths,
)
from seqlab.data.toy import load_toy


def load_dataset(config: DataConfig, seed: int) -> TextDataset:
    """Loads the texts named by `config.dataset` and splits them with `seed`.

    Args:
        config: `dataset` is "toy", "synthetic-longrange",
            "synthetic-variable", "imdb" or a path to a CSV/TSV/JSONL file.
        seed: fixes generation, subsets and splits.

    Returns:
        The `TextDataset`.

    Raises:
        DatasetError: the source cannot be read; the message says how to fix it.
    """
    name = config.dataset
    if name == "toy":
        return load_toy(config, seed)
    if name.startswith("synthetic-"):
        return load_synthetic(config, seed)
    if name == "imdb":
        return load_imdb(config, seed)
    if not name.strip():
        raise DatasetError(
            f"data.dataset is empty; expected one of {', '.join(BUILTIN_DATASETS)} "
            f"or a path to a .csv/.tsv/.jsonl file"
        )
    return load_file(config, seed)


__all__ = [
    "DatasetError", "TextDataset", "ImdbStatus", "load_dataset", "imdb_status",
    "read_text_table", "standardize", "split_tokens", "token_lengths",
    "dataset_summary_table", "examples_table", "clean_html",
    "SPLITS", "STANDARDIZE_VERSION", "dataset_from_pool", "describe", "stratified_split",
]
