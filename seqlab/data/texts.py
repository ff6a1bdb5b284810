"""The core of every dataset: `TextDataset`, the one text-cleaning rule, splits and tables.

Every source (toy sentences, synthetic tasks, IMDB, a user's file) builds a
`TextDataset` with `dataset_from_pool` (or its own split), here. The package
`seqlab.data` re-exports all of it; its loaders import it from this module,
so no loader imports the package that imports them.

`standardize()` is the single text-cleaning rule: the vectorizer receives
texts already standardized by it, so token counts, length histograms and the
ids a model sees always agree. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab.config import DataConfig

SPLITS = ("train", "validation", "test")
# Bumped whenever standardize() changes, so cached vectorized arrays are rebuilt.
STANDARDIZE_VERSION = 1

# The same characters Keras' 'lower_and_strip_punctuation' removes.
_PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")
_LINE_BREAK_TAGS = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Python's \s also matches Unicode spaces that TensorFlow's whitespace split
# would keep inside tokens; folding them to " " makes both splits agree.
_WHITESPACE = re.compile(r"\s+")


class DatasetError(ValueError):
    """A dataset cannot be loaded; the message says why and how to fix it."""


@dataclass(frozen=True, eq=False)
class TextDataset:
    """Raw texts and integer labels, split three ways.

    Labels index `class_names` (label `i` is `class_names[i]`).
    """

    name: str
    class_names: tuple[str, ...]
    train_texts: list[str]
    train_labels: np.ndarray  # (N_train,) int64
    val_texts: list[str]
    val_labels: np.ndarray  # (N_val,) int64
    test_texts: list[str]
    test_labels: np.ndarray  # (N_test,) int64
    source: str
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def splits(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """Returns `{"train": (texts, labels), "validation": ..., "test": ...}`."""
        return {
            "train": (self.train_texts, self.train_labels),
            "validation": (self.val_texts, self.val_labels),
            "test": (self.test_texts, self.test_labels),
        }


# ------------------------------------------------------------ text rules
def clean_html(text: str) -> str:
    """Replaces `<br />` line breaks by spaces and unescapes HTML entities."""
    return html.unescape(_LINE_BREAK_TAGS.sub(" ", text))


def standardize(text: str) -> str:
    """Cleans a text the way the vectorizer sees it.

    Lowercases (Unicode-aware), turns `<br />` into a space, removes the
    punctuation Keras' `lower_and_strip_punctuation` removes (so "don't"
    becomes "dont") and folds runs of whitespace into one space.

    Args:
        text: a raw text.

    Returns:
        The standardized text; tokens are its space-separated words.
    """
    text = _LINE_BREAK_TAGS.sub(" ", text).lower()
    text = _PUNCTUATION.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def split_tokens(text: str) -> list[str]:
    """Returns the tokens of `text` after `standardize()`."""
    standardized = standardize(text)
    return standardized.split(" ") if standardized else []


def token_lengths(texts: Sequence[str]) -> np.ndarray:
    """Returns the number of tokens of each text, shape (N,) int64."""
    return np.fromiter((len(split_tokens(t)) for t in texts), dtype=np.int64, count=len(texts))


# ----------------------------------------------------------------- tables
def dataset_summary_table(dataset: TextDataset) -> pd.DataFrame:
    """One row per split: size, examples per class and length in tokens.

    Returns:
        Columns `split`, `examples`, one count column per class name, then
        `mean_tokens`, `median_tokens`, `p95_tokens`.
    """
    rows = []
    for split, (texts, labels) in dataset.splits().items():
        lengths = token_lengths(texts)
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=dataset.num_classes)
        row = {"split": split, "examples": len(texts)}
        row.update({name: int(count) for name, count in zip(dataset.class_names, counts)})
        empty = len(lengths) == 0
        row["mean_tokens"] = float("nan") if empty else float(lengths.mean())
        row["median_tokens"] = float("nan") if empty else float(np.median(lengths))
        row["p95_tokens"] = float("nan") if empty else float(np.percentile(lengths, 95))
        rows.append(row)
    return pd.DataFrame(rows)


def examples_table(dataset: TextDataset, split: str = "train", n: int = 10, seed: int = 0) -> pd.DataFrame:
    """A seeded random sample of one split.

    Args:
        dataset: the dataset.
        split: "train", "validation" or "test".
        n: how many examples (fewer if the split is smaller).
        seed: picks the sample.

    Returns:
        Columns `text`, `label`, `class_name`, `length` (tokens).

    Raises:
        ValueError: on an unknown split name.
    """
    splits = dataset.splits()
    if split not in splits:
        raise ValueError(f"split: received {split!r}, expected one of {', '.join(SPLITS)}")
    texts, labels = splits[split]
    count = min(max(n, 0), len(texts))
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=count, replace=False))
    picked_texts = [texts[i] for i in chosen]
    return pd.DataFrame({
        "text": picked_texts,
        "label": labels[chosen].astype(np.int64),
        "class_name": [dataset.class_names[label] for label in labels[chosen]],
        "length": token_lengths(picked_texts),
    })


# ---------------------------------------------------- building datasets
def stratified_split(
    labels: np.ndarray, fractions: Sequence[float], rng: np.random.Generator
) -> list[np.ndarray]:
    """Splits example indices so every part has every class where possible.

    Each class is shuffled and cut by `fractions` (e.g. validation, test);
    the rest goes to the first part returned (train). A class with at least
    `len(fractions) + 1` examples puts at least one in every part.

    Args:
        labels: (N,) integer labels.
        fractions: shares for the parts after train, e.g. (0.2, 0.2).
        rng: the seeded generator.

    Returns:
        `len(fractions) + 1` shuffled index arrays: train first, then one per
        fraction.
    """
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        count = len(indices)
        sizes = [int(round(count * fraction)) for fraction in fractions]
        if count > len(fractions):
            sizes = [max(1, size) for size in sizes]
        start = 0
        for part, size in enumerate(sizes, start=1):
            size = min(size, count - start - 1)  # train keeps at least one
            size = max(size, 0)
            parts[part].append(indices[start:start + size])
            start += size
        parts[0].append(indices[start:])
    return [rng.permutation(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def describe(title: str, train: int, validation: int, test: int, noun: str, source: str) -> str:
    """The one-line description, e.g. "IMDB: 1,600 train / 400 validation / ..."."""
    return (f"{title}: {train:,} train / {validation:,} validation / {test:,} test "
            f"{noun} from {source}")


def dataset_from_pool(
    name: str,
    title: str,
    class_names: Sequence[str],
    texts: Sequence[str],
    labels: np.ndarray,
    config: DataConfig,
    rng: np.random.Generator,
    source: str,
    noun: str = "texts",
) -> TextDataset:
    """Splits one pool of labelled texts into train/validation/test (stratified).

    Args:
        name: the dataset's short name.
        title: its name in the description line.
        class_names: names of labels 0..K-1.
        texts: all texts.
        labels: (N,) int labels.
        config: gives `validation_fraction` and `test_fraction`.
        rng: the seeded generator that draws the split.
        source: where the texts came from.
        noun: what the texts are, for the description ("sentences").

    Returns:
        The `TextDataset`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    train, validation, test = stratified_split(
        labels, (config.validation_fraction, config.test_fraction), rng
    )
    pick = lambda indices: [texts[i] for i in indices]  # noqa: E731
    return TextDataset(
        name=name,
        class_names=tuple(class_names),
        train_texts=pick(train), train_labels=labels[train],
        val_texts=pick(validation), val_labels=labels[validation],
        test_texts=pick(test), test_labels=labels[test],
        source=source,
        description=describe(title, len(train), len(validation), len(test), noun, source),
    )
