"""Texts -> padded token ids, through one Keras `TextVectorization` path.

Texts are first standardized in Python by `seqlab.data.standardize`, then
given to a `TextVectorization(standardize=None, split="whitespace")` adapted
on the training texts only. Its vocabulary has the padding token "" at id 0
and "[UNK]" at id 1, then the most frequent training tokens, `vocabulary_size`
entries in all. Ragged ids are cut to `sequence_length` (`truncation="post"`
keeps the first tokens, "pre" the last) and padded with zeros (`padding="post"`
at the end, "pre" at the start).

`vectorize()` caches its arrays on disk by content hash, in the folder it is
given (a run store's `store.cache_dir(VECTORIZED_CACHE)`), so a second run on
the same texts with the same settings does not tokenize again. `Vectorizer`
encodes new texts from a saved vocabulary in plain NumPy, with the same ids.

TensorFlow is imported only inside `vectorize()` when the cache misses.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab.config import DataConfig
from seqlab.data.texts import STANDARDIZE_VERSION, TextDataset, split_tokens, standardize

PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"
CACHE_FORMAT = 2  # 2: unpadded ids, padded on load
VECTORIZED_CACHE = "vectorized"  # the name of this cache among a store's (`RunStore.cache_dir`)
_SPLIT_ARRAYS = (("train", "x_train", "y_train"), ("validation", "x_val", "y_val"), ("test", "x_test", "y_test"))
# Texts per TextVectorization call: bounds memory on 25k-review datasets.
_CHUNK = 4096


@dataclass
class VectorizedData:
    """Padded ids and labels of every split, with the vocabulary that made them."""

    x_train: np.ndarray  # (N_train, T) int32
    x_val: np.ndarray  # (N_val, T) int32
    x_test: np.ndarray  # (N_test, T) int32
    y_train: np.ndarray  # (N_train,) int64
    y_val: np.ndarray  # (N_val,) int64
    y_test: np.ndarray  # (N_test,) int64
    vocabulary: list[str]
    class_names: tuple[str, ...]
    num_classes: int
    cache_hit: bool


def pad_ids(
    flat_ids: np.ndarray, lengths: np.ndarray, sequence_length: int, truncation: str, padding: str
) -> np.ndarray:
    """Cuts and pads ragged id rows into one matrix, like `keras.utils.pad_sequences`.

    Args:
        flat_ids: (sum(lengths),) the rows' ids one after another.
        lengths: (N,) tokens per row.
        sequence_length: T, the width of the result.
        truncation: "post" keeps the first T ids, "pre" the last T.
        padding: "post" puts zeros at the end, "pre" at the start.

    Returns:
        (N, T) int32 ids, 0 where padded.

    Raises:
        ValueError: on an unknown truncation or padding side.
    """
    for name, side in (("truncation", truncation), ("padding", padding)):
        if side not in ("pre", "post"):
            raise ValueError(f"data.{name}: received {side!r}, expected 'pre' or 'post'")
    flat_ids = np.asarray(flat_ids)
    lengths = np.asarray(lengths, dtype=np.int64)
    rows = len(lengths)
    result = np.zeros((rows, sequence_length), dtype=np.int32)
    kept = np.minimum(lengths, sequence_length)  # (N,)
    starts = np.cumsum(lengths) - lengths  # (N,) where each row begins in flat_ids
    source_starts = starts if truncation == "post" else starts + lengths - kept
    target_starts = np.zeros(rows, np.int64) if padding == "post" else sequence_length - kept
    # One gather/scatter for all rows: offset within each kept run.
    row_of = np.repeat(np.arange(rows), kept)
    offsets = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    targets = np.repeat(target_starts, kept) + offsets
    result[row_of, targets] = flat_ids[np.repeat(source_starts, kept) + offsets]
    return result


# ------------------------------------------------------------- vectorize
def vectorize(dataset: TextDataset, config: DataConfig, cache_dir: Path | None = None) -> VectorizedData:
    """Turns a dataset into padded ids, adapting the vocabulary on train texts only.

    The cache keeps the unpadded ids of every text, keyed by the texts and the
    vocabulary size only, so another sequence length or padding side (the Data
    page's slider, a sweep over `data.sequence_length`) pads cached ids in
    NumPy instead of tokenizing again.

    Args:
        dataset: the texts and labels.
        config: `vocabulary_size`, `sequence_length`, `truncation`, `padding`.
        cache_dir: where ids are cached, usually
            `store.cache_dir(VECTORIZED_CACHE)`; None: no disk cache (every
            call tokenizes).

    Returns:
        `VectorizedData`; `cache_hit` is True when no tokenizing was needed.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    key = _cache_key(dataset, config)
    cached = _load_cached(cache_dir, key) if cache_dir is not None else None
    cache_hit = cached is not None
    if cached is None:
        splits = dataset.splits()
        standardized = {split: [standardize(t) for t in texts] for split, (texts, _) in splits.items()}
        layer = _adapted_layer(standardized["train"], config.vocabulary_size)
        arrays = {}
        for split, _, y_name in _SPLIT_ARRAYS:
            arrays[f"flat_{split}"], arrays[f"lengths_{split}"] = _encode_with_layer(layer, standardized[split])
            arrays[y_name] = np.asarray(splits[split][1], dtype=np.int64)
        vocabulary = [str(token) for token in layer.get_vocabulary()]
        if cache_dir is not None:
            _save_cached(cache_dir, key, arrays, vocabulary)
        cached = arrays, vocabulary
    arrays, vocabulary = cached
    padded = {}
    for split, x_name, y_name in _SPLIT_ARRAYS:
        padded[x_name] = pad_ids(arrays[f"flat_{split}"], arrays[f"lengths_{split}"],
                                 config.sequence_length, config.truncation, config.padding)
        padded[y_name] = arrays[y_name]
    return VectorizedData(**padded, vocabulary=vocabulary, class_names=tuple(dataset.class_names),
                          num_classes=dataset.num_classes, cache_hit=cache_hit)


def _adapted_layer(standardized_train_texts: list[str], vocabulary_size: int):
    # Imported here, on a cache miss only: the Data page and the Predict page
    # must not load TensorFlow just to import this module.
    import tensorflow as tf
    import keras

    layer = keras.layers.TextVectorization(
        max_tokens=vocabulary_size, standardize=None, split="whitespace",
        output_mode="int", ragged=True,
    )
    layer.adapt(tf.data.Dataset.from_tensor_slices(standardized_train_texts).batch(_CHUNK))
    return layer


def _encode_with_layer(layer, standardized_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Returns the unpadded ids of all texts, concatenated, and each text's length."""
    import tensorflow as tf  # on a cache miss only (see _adapted_layer)

    flat, lengths = [], []
    for start in range(0, len(standardized_texts), _CHUNK):
        chunk = list(standardized_texts[start:start + _CHUNK])
        ragged = layer(tf.constant(chunk, dtype=tf.string))  # (chunk, None)
        flat.append(ragged.flat_values.numpy())
        lengths.append(ragged.row_lengths().numpy())
    flat_ids = np.concatenate(flat).astype(np.int32) if flat else np.zeros(0, np.int32)
    row_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    return flat_ids, row_lengths


# ----------------------------------------------------------------- cache
def _cache_key(dataset: TextDataset, config: DataConfig) -> str:
    digest = hashlib.sha256()
    settings = {
        "format": CACHE_FORMAT, "standardize": STANDARDIZE_VERSION,
        "vocabulary_size": config.vocabulary_size,
        "class_names": list(dataset.class_names),
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for split, (texts, labels) in dataset.splits().items():
        digest.update(f"|{split}|{len(texts)}|".encode())
        for text in texts:
            encoded = text.encode("utf-8", errors="surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


_CACHED_ARRAYS = tuple(name for split, _, y_name in _SPLIT_ARRAYS
                       for name in (f"flat_{split}", f"lengths_{split}", y_name))


def _load_cached(cache_dir: Path, key: str) -> tuple[dict[str, np.ndarray], list[str]] | None:
    arrays_path, vocabulary_path = cache_dir / f"{key}.npz", cache_dir / f"{key}.json"
    if not (arrays_path.is_file() and vocabulary_path.is_file()):
        return None
    try:
        vocabulary = json.loads(vocabulary_path.read_text(encoding="utf-8"))["vocabulary"]
        with np.load(arrays_path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in _CACHED_ARRAYS}
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is rebuilt
    return arrays, vocabulary


def _save_cached(cache_dir: Path, key: str, arrays: dict[str, np.ndarray], vocabulary: list[str]) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(cache_dir / f"{key}.json",
                      lambda handle: handle.write(json.dumps({"vocabulary": vocabulary}).encode("utf-8")))
    _write_atomically(cache_dir / f"{key}.npz", lambda handle: np.savez(handle, **arrays))


def _write_atomically(path: Path, write) -> None:
    """Writes through a temporary file and renames it, so readers never see half a file."""
    descriptor, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


# ------------------------------------------------------------ Vectorizer
class Vectorizer:
    """Encodes texts with a saved vocabulary, giving the ids `vectorize()` gives.

    Pure Python/NumPy: fast for the few texts of a prediction or an
    attention heatmap, and no TensorFlow import.
    """

    def __init__(
        self, vocabulary: Sequence[str], sequence_length: int, truncation: str = "post", padding: str = "post"
    ):
        vocabulary = [str(token) for token in vocabulary]
        if vocabulary[:2] != [PADDING_TOKEN, OOV_TOKEN]:
            raise ValueError(
                f"vocabulary: received one starting {vocabulary[:2]!r}, expected "
                f"['', '[UNK]', ...] as TextVectorization makes; use the vocabulary saved with the run"
            )
        self.vocabulary = vocabulary
        self.sequence_length = sequence_length
        self.truncation = truncation
        self.padding = padding
        self._ids = {token: i for i, token in enumerate(vocabulary)}

    @classmethod
    def from_vocabulary(cls, vocabulary: Sequence[str], config: DataConfig) -> "Vectorizer":
        """Builds a vectorizer for `config`'s sequence length and sides."""
        return cls(vocabulary, config.sequence_length, config.truncation, config.padding)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Returns (N, T) int32 ids: 1 for unknown tokens, 0 for padding."""
        rows = [[self._ids.get(token, 1) for token in split_tokens(text)] for text in texts]
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        flat = np.fromiter((i for row in rows for i in row), dtype=np.int64, count=int(lengths.sum()))
        return pad_ids(flat, lengths, self.sequence_length, self.truncation, self.padding)

    def tokens(self, ids: np.ndarray) -> list:
        """Returns the token of each id ("" for padding): a list for (T,), a list of lists for (N, T)."""
        ids = np.asarray(ids)
        if ids.ndim == 2:
            return [self.tokens(row) for row in ids]
        return [self.vocabulary[i] if 0 <= i < len(self.vocabulary) else OOV_TOKEN for i in ids.tolist()]

    def save(self, path: str | Path) -> None:
        """Writes the vocabulary as JSON (atomically)."""
        payload = json.dumps({"vocabulary": self.vocabulary}).encode("utf-8")
        _write_atomically(Path(path), lambda handle: handle.write(payload))

    @classmethod
    def load(cls, path: str | Path, config: DataConfig) -> "Vectorizer":
        """Reads a vocabulary written by `save()`.

        Raises:
            ValueError: the file is not a saved vocabulary.
        """
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
            vocabulary = payload["vocabulary"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: cannot read a vocabulary ({error}); expected the JSON "
                             f"file Vectorizer.save() writes") from None
        return cls.from_vocabulary(vocabulary, config)


def tokenization_table(texts: Sequence[str], vocabulary: Sequence[str], config: DataConfig) -> pd.DataFrame:
    """One row per (text, position): what the model receives after padding.

    Returns:
        Columns `example`, `position`, `token` ("" for padding, "[UNK]" for
        unknown words), `id`, `is_padding`, `mask` (1 for real tokens).
    """
    vectorizer = Vectorizer.from_vocabulary(vocabulary, config)
    ids = vectorizer.encode(texts)  # (N, T)
    count, length = ids.shape
    flat = ids.reshape(-1)
    return pd.DataFrame({
        "example": np.repeat(np.arange(count), length),
        "position": np.tile(np.arange(length), count),
        "token": np.array(vectorizer.vocabulary, dtype=object)[flat] if flat.size else [],
        "id": flat.astype(np.int64),
        "is_padding": flat == 0,
        "mask": (flat != 0).astype(np.int64),
    })
