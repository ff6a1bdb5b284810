"""Attention weights of a trained Transformer run, as arrays and as tidy tables.

Keras is imported inside the functions that need a model, so `attention_table`
and the measures of spread stay usable from pages and charts that never load
TensorFlow.

A weight means little on its own: 0.10 is a strong preference in a row of 40
tokens and an even spread in a row of 10. So every weight also comes as a
`relative_weight`, the weight times the number of keys its row spreads over
(1.0 = an even share, 5.0 = five times it), and a row's `peak` is its largest
relative weight.

A Transformer run also keeps its attention over training: a few probe texts'
weights after every epoch (`AttentionHistory`, recorded by
`seqlab.training.AttentionRecorder`, read back by `attention_history`), in
the same tables as a text's attention now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import keras

    from seqlab.store import RunStore

PADDING_TOKEN = ""
# A layer whose every row's most-attended key gets less than this many times an
# even share is "nearly uniform" (an untrained or bag-of-words-like model: ~1.01).
NEARLY_UNIFORM_PEAK = 1.5
# Attention over training: how many validation texts a Transformer run reads after every
# epoch, the most real tokens a probe should have (the file grows with its square, per
# epoch, layer and head: 200-token IMDB probes made 1.4 MB an epoch, and one heatmap
# shows about 30 tokens whole), and the version of the file they go to.
PROBE_TEXTS = 3
PROBE_MAX_TOKENS = 32
ATTENTION_HISTORY_FORMAT = 1


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


# ------------------------------------------------------ attention over training
def probe_rows(token_ids: np.ndarray, count: int = PROBE_TEXTS,
               max_tokens: int = PROBE_MAX_TOKENS) -> np.ndarray:
    """Picks the probe texts of a run's attention history from its validation ids.

    The first `count` texts with 1 to `max_tokens` real tokens, in split
    order; when fewer qualify, the shortest others (earliest on ties) make
    up the number. Texts without a real token are never picked.

    Args:
        token_ids: (N, T) the validation split's ids, 0 = padding.
        count: how many probes, K.
        max_tokens: the most real tokens a preferred probe has.

    Returns:
        (at most K,) int64 row numbers, in split order.

    Raises:
        ValueError: if the ids are not (N, T).
    """
    ids = np.asarray(token_ids)
    if ids.ndim != 2:
        raise ValueError(f"token_ids: received shape {ids.shape}, expected (texts, T) validation ids")
    lengths = (ids != 0).sum(axis=1)  # (N,) real tokens per text
    short = np.flatnonzero((lengths > 0) & (lengths <= max_tokens))[:count]
    longer = np.flatnonzero(lengths > max_tokens)
    longer = longer[np.argsort(lengths[longer], kind="stable")][:count - len(short)]
    return np.sort(np.concatenate([short, longer])).astype(np.int64)


@dataclass
class AttentionHistory:
    """The attention of a few probe texts after each epoch of a Transformer run.

    For each probe text and epoch it keeps every layer's weights averaged
    over heads and the last layer's weights per head, over the text's real
    tokens only, as float16: what the store keeps of a run between its
    epochs (`RunStore.write_attention_history`; `to_arrays` and
    `from_arrays` are the file's contents).

    Attributes:
        run_id: the run.
        texts: the K probe texts (the run's first short validation texts: `probe_rows`).
        tokens: per probe, its R real tokens as the model read them.
        positions: per probe, (R,) int64 their positions in the model's input.
        key_counts: per probe, the keys each of its rows spreads over: R
            with the padding mask, the run's T positions without it (its
            real rows then do not sum to 1: padding took the rest).
        sequence_length: T, the most tokens the run reads.
        num_layers: encoder blocks (0 before the first epoch is recorded).
        num_heads: heads per block (0 before the first epoch is recorded).
        epochs: (E,) int64 the epochs recorded, from 1.
        layer_means: per probe, (E, layers, R, R) float16: each layer's
            weights averaged over heads, query rows and key columns.
        last_layer_heads: per probe, (E, heads, R, R) float16: the last
            layer's weights per head.
    """

    run_id: str
    texts: list[str]
    tokens: list[list[str]]
    positions: list[np.ndarray]
    key_counts: list[int]
    sequence_length: int
    num_layers: int = 0
    num_heads: int = 0
    epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    layer_means: list[np.ndarray] = field(default_factory=list)
    last_layer_heads: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def start(cls, run_id: str, texts: list[str], token_ids: np.ndarray,
              tokens: list[list[str]]) -> "AttentionHistory":
        """Returns an empty history for probe texts, to `record` epochs into.

        Args:
            run_id: the run.
            texts: the K probe texts.
            token_ids: (K, T) their ids as the model reads them, 0 = padding.
            tokens: the K lists of T token strings, "" at padding.

        Raises:
            ValueError: if the ids are not (K, T), the tokens or texts do not
                match them, or a probe has no real token.
        """
        ids = np.asarray(token_ids)
        if ids.ndim != 2 or len(texts) != len(ids) or len(tokens) != len(ids):
            raise ValueError(
                f"probe texts: received ids of shape {ids.shape}, {len(texts)} texts and "
                f"{len(tokens)} token lists, expected (K, T) ids with K texts and K token lists"
            )
        positions, kept = [], []
        for row, row_tokens in zip(ids, tokens):
            real = np.flatnonzero(row != 0).astype(np.int64)  # (R,)
            if len(row_tokens) != ids.shape[1] or not len(real):
                raise ValueError(
                    f"probe tokens: received {len(row_tokens)} tokens with {len(real)} real ones, "
                    f"expected {ids.shape[1]} (one per position) with at least one real token"
                )
            positions.append(real)
            kept.append([str(row_tokens[i]) for i in real])
        return cls(run_id=run_id, texts=[str(text) for text in texts], tokens=kept,
                   positions=positions, key_counts=[len(real) for real in positions],
                   sequence_length=int(ids.shape[1]),
                   layer_means=[np.zeros((0, 0, len(p), len(p)), np.float16) for p in positions],
                   last_layer_heads=[np.zeros((0, 0, len(p), len(p)), np.float16) for p in positions])

    def record(self, epoch: int, scores: np.ndarray) -> None:
        """Adds one epoch's weights of the probe texts (recording an epoch again replaces it).

        Args:
            epoch: the epoch just ended, from 1.
            scores: (layers, K, heads, T, T) what `AttentionProbe` read of
                the probe ids.

        Raises:
            ValueError: if the scores do not fit the probes or the layers and
                heads recorded before.
        """
        scores = np.asarray(scores, dtype=np.float32)
        expected = (len(self.texts), self.sequence_length, self.sequence_length)
        if scores.ndim != 5 or (scores.shape[1], *scores.shape[3:]) != expected or (
                self.num_layers and (scores.shape[0], scores.shape[2]) != (self.num_layers, self.num_heads)):
            raise ValueError(
                f"attention scores: received shape {scores.shape}, expected (layers, "
                f"{expected[0]}, heads, {expected[1]}, {expected[2]}) as AttentionProbe reads "
                f"the probe ids"
            )
        if not self.num_layers:
            self.num_layers, self.num_heads = int(scores.shape[0]), int(scores.shape[2])
            for probe, real in enumerate(self.positions):
                padding = np.setdiff1d(np.arange(self.sequence_length), real)
                # Without the padding mask real queries weigh padding keys too (as attention_table reads it).
                masked = not np.any(scores[:, probe][:, :, real][:, :, :, padding])
                self.key_counts[probe] = len(real) if masked else self.sequence_length
        keep = self.epochs != epoch
        self.epochs = np.append(self.epochs[keep], np.int64(epoch))
        for probe, real in enumerate(self.positions):
            kept = scores[:, probe][:, :, real][:, :, :, real]  # (layers, heads, R, R)
            self.layer_means[probe] = np.concatenate(
                [self.layer_means[probe][keep].reshape(-1, self.num_layers, len(real), len(real)),
                 kept.mean(axis=1).astype(np.float16)[np.newaxis]])  # (E, layers, R, R)
            self.last_layer_heads[probe] = np.concatenate(
                [self.last_layer_heads[probe][keep].reshape(-1, self.num_heads, len(real), len(real)),
                 kept[-1].astype(np.float16)[np.newaxis]])  # (E, heads, R, R)

    def table(self, probe: int = 0, epoch: int | None = None, layer: int | None = None,
              head: int | str | None = None) -> pd.DataFrame:
        """Returns one probe's weights after one epoch as `attention_table` gives a text's.

        So `seqlab.attention_charts` draws them unchanged. Every layer has its
        "mean" head; only the last layer has its heads "1" .. "heads".

        Args:
            probe: which probe text, from 0.
            epoch: the epoch (None: the last recorded).
            layer: keep one layer, from 1 (None: all).
            head: keep one head, a number or "mean" (None: all).

        Returns:
            The tidy table (`attention_table`'s columns; positions are those
            of the model's input, `relative_weight` uses `key_counts`).

        Raises:
            ValueError: for a probe, epoch, layer or head that was not recorded.
        """
        if not isinstance(probe, (int, np.integer)) or not 0 <= probe < len(self.texts):
            raise ValueError(f"probe: received {probe!r}, expected 0 to {len(self.texts) - 1} "
                             f"(one of the run's {len(self.texts)} probe texts)")
        if not len(self.epochs):
            raise ValueError(f"epoch: received {epoch!r}, but run {self.run_id} has no epoch "
                             f"recorded yet; wait for its first epoch to end")
        epoch = int(self.epochs[-1]) if epoch is None else epoch
        found = np.flatnonzero(self.epochs == epoch)
        if not len(found):
            raise ValueError(f"epoch: received {epoch!r}, expected one of "
                             f"{', '.join(map(str, self.epochs.tolist()))} (the epochs recorded)")
        layers = range(1, self.num_layers + 1)
        if layer is not None and layer not in layers:
            raise ValueError(f"layer: received {layer!r}, expected 1 to {self.num_layers}")
        head = None if head is None else str(head)
        head_names = [str(h) for h in range(1, self.num_heads + 1)]
        if head is not None and head != "mean" and head not in head_names:
            raise ValueError(f"head: received {head!r}, expected 'mean' or 1 to {self.num_heads}")
        if head not in (None, "mean") and layer not in (None, self.num_layers):
            raise ValueError(
                f"head: received {head!r} for layer {layer}, but heads are recorded for the last "
                f"layer ({self.num_layers}) only; pick head 'mean' or layer {self.num_layers}"
            )
        index = found[0]
        tokens, positions = self.tokens[probe], self.positions[probe]
        parts = []
        for number in layers if layer is None else [layer]:
            if number == self.num_layers and head != "mean":
                heads = self.last_layer_heads[probe][index]  # (heads, R, R)
                part = attention_table(heads[np.newaxis], tokens)
                parts.append(part[part["head"] != "mean"].assign(layer=number))
            mean = self.layer_means[probe][index, number - 1]  # (R, R)
            part = attention_table(mean[np.newaxis, np.newaxis], tokens)
            parts.append(part[part["head"] == "mean"].assign(layer=number))
        table = pd.concat(parts, ignore_index=True)
        if head is not None:
            table = table[table["head"] == head].reset_index(drop=True)
        labels = np.array([f"{position}:{token}" for position, token in zip(positions, tokens)],
                          dtype=object)
        query, key = table["query_position"].to_numpy(), table["key_position"].to_numpy()
        return table.assign(
            query_position=positions[query], key_position=positions[key],
            query_token=labels[query], key_token=labels[key],
            relative_weight=table["weight"] * self.key_counts[probe],
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Returns the history as named arrays of numbers and strings (no objects: no pickle to read)."""
        arrays = {
            "format": np.int64(ATTENTION_HISTORY_FORMAT),
            "epochs": np.asarray(self.epochs, np.int64),
            "texts": np.array(self.texts, dtype=np.str_).reshape(len(self.texts)),
            "key_counts": np.asarray(self.key_counts, np.int64).reshape(len(self.texts)),
            "sequence_length": np.int64(self.sequence_length),
            "num_layers": np.int64(self.num_layers),
            "num_heads": np.int64(self.num_heads),
        }
        for probe in range(len(self.texts)):
            arrays[f"probe{probe}_tokens"] = np.array(self.tokens[probe], dtype=np.str_)
            arrays[f"probe{probe}_positions"] = np.asarray(self.positions[probe], np.int64)
            arrays[f"probe{probe}_layer_means"] = np.asarray(self.layer_means[probe], np.float16)
            arrays[f"probe{probe}_last_layer_heads"] = np.asarray(self.last_layer_heads[probe], np.float16)
        return arrays

    @classmethod
    def from_arrays(cls, run_id: str, arrays: dict[str, np.ndarray]) -> "AttentionHistory":
        """Rebuilds a history from `to_arrays`'s arrays (as `RunStore.read_attention_history` returns them).

        Raises:
            ValueError: if the arrays are not a history this version reads.
        """
        try:
            version = int(arrays["format"])
            if version != ATTENTION_HISTORY_FORMAT:
                raise ValueError(f"format {version}, expected {ATTENTION_HISTORY_FORMAT}")
            texts = [str(text) for text in arrays["texts"].tolist()]
            epochs = np.asarray(arrays["epochs"], np.int64)
            num_layers, num_heads = int(arrays["num_layers"]), int(arrays["num_heads"])
            tokens, positions, means, heads = [], [], [], []
            for probe in range(len(texts)):
                tokens.append([str(token) for token in arrays[f"probe{probe}_tokens"].tolist()])
                positions.append(np.asarray(arrays[f"probe{probe}_positions"], np.int64))
                means.append(np.asarray(arrays[f"probe{probe}_layer_means"], np.float16))
                heads.append(np.asarray(arrays[f"probe{probe}_last_layer_heads"], np.float16))
                size = len(positions[-1])
                if (len(tokens[-1]) != size
                        or means[-1].shape != (len(epochs), num_layers, size, size)
                        or heads[-1].shape != (len(epochs), num_heads, size, size)):
                    raise ValueError(f"probe {probe}'s arrays do not match its {size} tokens "
                                     f"and {len(epochs)} epochs")
            return cls(run_id=run_id, texts=texts, tokens=tokens, positions=positions,
                       key_counts=[int(count) for count in arrays["key_counts"].tolist()],
                       sequence_length=int(arrays["sequence_length"]), num_layers=num_layers,
                       num_heads=num_heads, epochs=epochs, layer_means=means, last_layer_heads=heads)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"attention history of run {run_id}: received arrays that are not "
                             f"one ({error}); expected AttentionHistory.to_arrays()'s") from None


def attention_history(store: "RunStore", run_id: str) -> AttentionHistory | None:
    """Reads the attention a Transformer run's probe texts had after each epoch so far.

    Safe while the run trains: the store replaces the file whole after each epoch.

    Args:
        store: the run store.
        run_id: the run.

    Returns:
        The `AttentionHistory`, or None for a run that recorded none (not a
        Transformer, no epoch ended yet, trained before histories were
        recorded), an unknown or deleted run, or an unreadable file.
    """
    try:
        store.get_run(run_id)
    except KeyError:
        return None
    arrays = store.read_attention_history(run_id)
    if arrays is None:
        return None
    try:
        return AttentionHistory.from_arrays(run_id, arrays)
    except ValueError:
        return None


def attention_history_table(history: AttentionHistory, probe: int = 0, epoch: int | None = None,
                            layer: int | None = None, head: int | str | None = None) -> pd.DataFrame:
    """Returns one probe's attention after one epoch as `attention_table` does (`AttentionHistory.table`)."""
    return history.table(probe, epoch, layer, head)
