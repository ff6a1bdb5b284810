"""Attention weights of a trained Transformer run, as arrays and as tidy tables.

Keras is imported inside the functions that need a model, so `attention_table`
and the measures of spread stay usable from pages and charts that never load
TensorFlow.

A weight means little on its own: 0.10 is a strong preference in a row of 40
tokens and an even spread in a row of 10. So every weight also comes as a
`relative_weight`, the weight times the number of keys its row spreads over
(1.0 = an even share, 5.0 = five times it), and a row's `peak` is its largest
relative weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import keras

PADDING_TOKEN = ""
# A layer whose every row's most-attended key gets less than this many times an
# even share is "nearly uniform" (an untrained or bag-of-words-like model: ~1.01).
NEARLY_UNIFORM_PEAK = 1.5


def has_attention(model: "keras.Model") -> bool:
    """Returns whether `model` has Transformer encoder blocks to read weights from."""
    from seqlab.models.transformer import TransformerEncoderBlock

    return any(isinstance(layer, TransformerEncoderBlock) for layer in model.layers)


class AttentionProbe:
    """Reads a Transformer's attention weights: its embedding and encoder blocks, found once.

    Built once per loaded model (`seqlab.inference` keeps one beside each
    cached model) and called for each text. It runs the layers eagerly: a
    page reads one text at a time, and tracing a graph of the blocks costs
    more than the eager calls it would save.

    Args:
        model: a model built by `seqlab.models.build_model` with
            `arch="transformer"` (or loaded from a run).

    Raises:
        ValueError: if the model has no attention layers.
    """

    def __init__(self, model: "keras.Model"):
        from seqlab.models.transformer import TokenAndPositionEmbedding, TransformerEncoderBlock

        if not has_attention(model):
            raise ValueError(
                f"run model {model.name!r} has no attention layers: attention maps exist only "
                f"for transformer runs; pick a run trained with model.arch=transformer"
            )
        self.embedding = next(
            layer for layer in model.layers if isinstance(layer, TokenAndPositionEmbedding)
        )
        # The builder chains the blocks in order, each feeding the next.
        self.blocks = tuple(
            layer for layer in model.layers if isinstance(layer, TransformerEncoderBlock)
        )

    def __call__(self, token_ids: np.ndarray) -> np.ndarray:
        """Returns the weights of every block for some texts, as `attention_scores` does.

        Args:
            token_ids: (batch, T) or (T,) integer ids, 0 = padding, T at most
                the run's `data.sequence_length`.

        Returns:
            float32 array (layers, batch, heads, T, T).

        Raises:
            ValueError: if the ids have the wrong shape, type or range.
        """
        from keras import ops

        ids = _checked_ids(token_ids, self.embedding.vocabulary_size,
                           self.embedding.sequence_length)  # (batch, T)
        x = self.embedding(ids)  # (batch, T, embedding_dim)
        mask = self.embedding.compute_mask(ids)  # (batch, T) or None
        scores = []
        for block in self.blocks:
            x, block_scores = block(x, mask=mask, training=False, return_attention_scores=True)
            scores.append(ops.convert_to_numpy(block_scores))  # (batch, heads, T, T)
        return np.stack(scores).astype(np.float32)


def attention_scores(model: "keras.Model", token_ids: np.ndarray) -> np.ndarray:
    """Reads every encoder block's attention weights for some texts.

    Re-runs the model's embedding and blocks in inference mode (no dropout,
    no flash attention), asking each block for its weights. With the run's
    padding mask (`model.use_mask=True`), rows of real tokens sum to 1, padding
    keys get zero weight and padding rows are all zero. Without it, the
    weights are what the model really used, padding included. To read many
    texts with one model, build an `AttentionProbe` once and call it.

    Args:
        model: a model built by `seqlab.models.build_model` with
            `arch="transformer"` (or loaded from a run).
        token_ids: (batch, T) or (T,) integer ids, 0 = padding, with T at most
            the run's `data.sequence_length`.

    Returns:
        float32 array (layers, batch, heads, T, T): for each block, query rows
        and key columns.

    Raises:
        ValueError: if the model has no attention layers, or the ids have the
            wrong shape, type or range.
    """
    return AttentionProbe(model)(token_ids)


def attention_table(scores_one_example: np.ndarray, tokens: list[str]) -> pd.DataFrame:
    """Turns one text's weights into a tidy table for heatmaps.

    Padding positions (token `""`) are left out, as rows and as columns. The
    per-head weights come with their mean over heads (head `"mean"`).

    Args:
        scores_one_example: (layers, heads, T, T) weights of one text, e.g.
            `attention_scores(model, ids)[:, i]`.
        tokens: the T token strings of that text, `""` at padding.

    Returns:
        DataFrame with one row per (layer, head, query, key) of real tokens:
        `layer` (int, from 1), `head` (str: "1".."heads", and "mean"),
        `query_position`, `key_position` (int, from 0), `query_token`,
        `key_token` (str, unique labels such as "3:movie" for chart axes),
        `weight` (float) and `relative_weight` (weight times the number of
        keys the row spreads over: the real tokens with the padding mask,
        all T positions without it; 1.0 = an even share).

    Raises:
        ValueError: if the scores are not (layers, heads, T, T) or the tokens
            do not number T.
    """
    scores = np.asarray(scores_one_example, dtype=np.float64)
    if scores.ndim != 4 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(
            f"attention scores: received shape {scores.shape}, expected (layers, heads, T, T) "
            f"for one text; select it with attention_scores(model, ids)[:, index]"
        )
    length = scores.shape[-1]
    if len(tokens) != length:
        raise ValueError(
            f"tokens: received {len(tokens)}, expected {length} (one per position of the "
            f"scores, '' at padding)"
        )
    num_layers, num_heads = scores.shape[:2]
    with_mean = np.concatenate([scores, scores.mean(axis=1, keepdims=True)], axis=1)
    real = np.array([i for i, token in enumerate(tokens) if token != PADDING_TOKEN], dtype=int)
    padding = np.setdiff1d(np.arange(length), real)
    kept = with_mean[:, :, real][:, :, :, real]  # (layers, heads + 1, R, R)
    # With the run's padding mask, real queries give padding keys exactly 0.
    masked = not np.any(with_mean[:, :, real][:, :, :, padding])
    num_keys = len(real) if masked else length
    labels = np.array([f"{i}:{tokens[i]}" for i in real], dtype=object)
    head_names = np.array([str(h + 1) for h in range(num_heads)] + ["mean"], dtype=object)
    layer, head, query, key = (
        index.ravel() for index in np.indices(kept.shape)
    )
    return pd.DataFrame({
        "layer": layer + 1,
        "head": head_names[head],
        "query_position": real[query],
        "key_position": real[key],
        "query_token": labels[query],
        "key_token": labels[key],
        "weight": kept.ravel(),
        "relative_weight": kept.ravel() * num_keys,
    })


def row_peaks(table: pd.DataFrame) -> pd.DataFrame:
    """Returns each row's peak: how many times an even share its most-attended key gets.

    Args:
        table: an `attention_table` (or a part of it); a table without
            `relative_weight` is taken to hold whole rows of masked weights.

    Returns:
        One row per (layer, head, query_position): `layer`, `head`,
        `query_position`, `peak` (1.0 for an even spread, n when one key of n
        takes everything) and `top_key` (the label of that key).
    """
    if "relative_weight" not in table:
        counts = table.groupby(["layer", "head", "query_position"])["weight"].transform("size")
        table = table.assign(relative_weight=table["weight"] * counts)
    top = table.loc[table.groupby(["layer", "head", "query_position"])["relative_weight"].idxmax()]
    return top[["layer", "head", "query_position", "relative_weight", "key_token"]].rename(
        columns={"relative_weight": "peak", "key_token": "top_key"}).reset_index(drop=True)


def largest_peak(table: pd.DataFrame, layer: int) -> float:
    """Returns the largest row peak of `layer`'s own heads (their mean left out)."""
    peaks = row_peaks(table[(table["layer"] == layer) & (table["head"].astype(str) != "mean")])
    return float(peaks["peak"].max()) if len(peaks) else float("nan")


def nearly_uniform(table: pd.DataFrame, layer: int) -> bool:
    """Returns whether no head of `layer` gives any key `NEARLY_UNIFORM_PEAK` times an even share."""
    peak = largest_peak(table, layer)
    return bool(peak == peak and peak < NEARLY_UNIFORM_PEAK)


def _checked_ids(token_ids: np.ndarray, vocabulary_size: int, sequence_length: int) -> np.ndarray:
    """Returns the ids as int32 (batch, T), or says what is wrong with them."""
    ids = np.asarray(token_ids)
    if ids.ndim == 1:
        ids = ids[np.newaxis]
    if ids.ndim != 2 or ids.shape[1] == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"token_ids: received {ids.dtype} array of shape {np.shape(token_ids)}, expected "
            f"integer ids (batch, T) or (T,) from the run's vectorizer"
        )
    if ids.shape[1] > sequence_length:
        raise ValueError(
            f"token_ids: received T={ids.shape[1]}, expected at most {sequence_length} "
            f"(the run's data.sequence_length); truncate the ids"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary_size):
        raise ValueError(
            f"token_ids: received ids from {ids.min()} to {ids.max()}, expected 0 to "
            f"{vocabulary_size - 1} (the run's vocabulary); vectorize with the run's vocabulary"
        )
    return ids.astype(np.int32)
