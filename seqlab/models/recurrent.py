"""Recurrent classifiers: `lstm`, `gru`, `rnn` (SimpleRNN) and the bidirectional `bilstm`, `bigru`."""

from __future__ import annotations

import keras

from seqlab.config import ModelConfig
from seqlab.models.layers import classification_head


def build_recurrent_model(
    config: ModelConfig, *, vocabulary_size: int, num_classes: int
) -> keras.Model:
    """Builds Embedding -> stacked LSTM/GRU/SimpleRNN (optionally Bidirectional) -> Dropout -> head.

    With `config.use_mask`, the embedding masks id 0, so each recurrent layer
    carries its state unchanged across padding and the prediction does not
    depend on how much padding follows a text.

    Args:
        config: the model section; `arch` is one of lstm, gru, rnn, bilstm, bigru.
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        num_classes: sets the head (see `seqlab.models.head`).

    Returns:
        An uncompiled `keras.Model` named `config.arch`, `(batch, T)` ids in.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, T)
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=config.use_mask, name="embedding"
    )(token_ids)  # (batch, T, embedding_dim)
    cell_name = {"lstm": "lstm", "bilstm": "lstm", "rnn": "rnn"}.get(config.arch, "gru")
    layer_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
                   "rnn": keras.layers.SimpleRNN}[cell_name]
    bidirectional = config.arch.startswith("bi")
    for index in range(config.num_layers):
        is_last = index == config.num_layers - 1
        layer = layer_class(
            config.units,
            dropout=config.dropout_rate,
            recurrent_dropout=config.recurrent_dropout_rate,
            return_sequences=not is_last,
            name=f"{cell_name}_{index + 1}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(
                layer, merge_mode=config.merge_mode, name=f"bidirectional_{index + 1}"
            )
        # (batch, T, width) between layers, (batch, width) after the last.
        x = layer(x)
    outputs = classification_head(x, dropout_rate=config.dropout_rate, num_classes=num_classes)
    return keras.Model(token_ids, outputs, name=config.arch)
