"""The bag-of-words reference: the mean of the token embeddings, then the head."""

from __future__ import annotations

import keras

from seqlab.config import ModelConfig
from seqlab.models.layers import MaskedPooling1D, classification_head


def build_baseline_model(
    config: ModelConfig, *, vocabulary_size: int, num_classes: int
) -> keras.Model:
    """Builds Embedding -> mean over real tokens -> Dropout -> head.

    Word order is ignored, so any sequence model should beat it; one that does
    not has learned nothing beyond which words appear.

    Args:
        config: the model section (`embedding_dim`, `dropout_rate`, `use_mask`).
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        num_classes: sets the head (see `seqlab.models.head`).

    Returns:
        An uncompiled `keras.Model` named `baseline`, `(batch, T)` ids in.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, T)
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=config.use_mask, name="embedding"
    )(token_ids)  # (batch, T, embedding_dim)
    x = MaskedPooling1D("mean", name="pooling")(x)  # (batch, embedding_dim)
    outputs = classification_head(x, dropout_rate=config.dropout_rate, num_classes=num_classes)
    return keras.Model(token_ids, outputs, name=config.arch)
