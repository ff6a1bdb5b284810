"""Datasets as the pages name and pick them: titles, options, suggested settings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from seqlab.analysis import words
from seqlab.config import DataConfig
from seqlab.data import load_dataset, token_lengths
from seqlab.data.synthetic import TASKS
from seqlab.data.uploads import list_uploads, upload_name

# Each built-in's name in the pickers, with who should win on it.
DATASET_TITLES = {
    "toy": "Toy sentiment (2,400 sentences; every model learns it)",
    "synthetic-presence": "Synthetic: presence (a bag of words suffices)",
    "synthetic-longrange": "Synthetic: long-range order (BiLSTM and Transformer win)",
    "synthetic-negation": "Synthetic: negation (word order; a bag of words is at chance)",
    "synthetic-variable": "Synthetic: variable length (masking matters)",
    "imdb": "IMDB movie reviews",
}


# Sequence lengths that keep (nearly) every text whole at a small cost; synthetic
# tasks take their own length, uploaded files a percentile of theirs.
SUGGESTED_SEQUENCE_LENGTHS = {"toy": 16, "imdb": 200}


SUGGESTED_LENGTH_PERCENTILE = 95


MAX_SUGGESTED_LENGTH = 400


def dataset_options(home: str | Path, imdb_found: bool, workspace: str | None = None) -> dict[str, str]:
    """Returns the datasets a user can pick: `data.dataset` value -> title.

    IMDB is listed only when a local copy was found; uploads follow the
    built-in datasets.

    Args:
        home: the store folder.
        imdb_found: whether a local IMDB copy was found.
        workspace: list only this workspace's uploads (None: all; `upload_scope(store)` says which).
    """
    options = {name: title for name, title in DATASET_TITLES.items()
               if name != "imdb" or imdb_found}
    options.update({str(upload.path): upload.title for upload in list_uploads(home, workspace)})
    return options


def dataset_title(dataset: str, options: dict[str, str] | None = None) -> str:
    """Returns a readable name for a `data.dataset` value."""
    if options and dataset in options:
        return options[dataset]
    return DATASET_TITLES.get(dataset, Path(dataset).name)


def dataset_lesson(dataset: str) -> str:
    """Returns what a built-in dataset is for and who should win on it ("" for a file)."""
    return words.DATASET_LESSONS.get(dataset, "")


def dataset_name(dataset: str) -> str:
    """Returns a short name for tables: a built-in's name, or an upload's original file name."""
    if dataset in DATASET_TITLES:
        return dataset
    return upload_name(dataset) or Path(dataset).name


def is_synthetic(dataset: str) -> bool:
    """Whether a `data.dataset` value names a synthetic task (whose texts are `synthetic_length` long)."""
    return dataset in TASKS


def suggested_data_settings(dataset: str, *, synthetic_length: int = DataConfig.synthetic_length,
                            text_column: str = "", label_column: str = "") -> dict[str, int]:
    """Returns data settings that suit a dataset, for the Data page and the Train form to start from.

    The sequence length keeps (nearly) every text whole without padding
    most of each example: 16 for the toy sentences (10 tokens at most), a
    synthetic task's own `synthetic_length`, 200 for IMDB reviews (the usual
    cut), and for a file the 95th percentile of its texts' token counts,
    rounded up and at most 400.

    Args:
        dataset: a `data.dataset` value (a built-in name or a file path).
        synthetic_length: tokens per example of the synthetic tasks.
        text_column: a file's text column (empty = detect).
        label_column: a file's label column (empty = detect).

    Returns:
        {"sequence_length": int}.

    Raises:
        DatasetError: a file that cannot be read as labelled texts.
    """
    if dataset in SUGGESTED_SEQUENCE_LENGTHS:
        return {"sequence_length": SUGGESTED_SEQUENCE_LENGTHS[dataset]}
    if is_synthetic(dataset):
        return {"sequence_length": int(synthetic_length)}
    config = DataConfig(dataset=dataset, text_column=text_column, label_column=label_column)
    lengths = lengths_table(load_dataset(config, seed=0))["length"].to_numpy()
    percentile = math.ceil(float(np.percentile(lengths, SUGGESTED_LENGTH_PERCENTILE))) if lengths.size else 2
    # At least 2: the smallest length `RunConfig.validate` accepts.
    return {"sequence_length": int(min(max(percentile, 2), MAX_SUGGESTED_LENGTH))}


def lengths_table(dataset) -> pd.DataFrame:
    """Returns the token count of every text: columns split, length."""
    frames = [pd.DataFrame({"split": split, "length": token_lengths(texts)})
              for split, (texts, _) in dataset.splits().items()]
    return pd.concat(frames, ignore_index=True)
