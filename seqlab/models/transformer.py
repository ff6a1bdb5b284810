"""The Transformer encoder classifier and its two serializable layers.

Token + learned position embeddings -> `num_layers` post-norm encoder blocks
(as in "Attention is all you need" and the Keras text-classification example)
-> pooling over real tokens -> Dropout -> head.
"""

from __future__ import annotations

import keras
from keras import ops

from seqlab.config import ModelConfig
from seqlab.models.layers import CounterDropout, MaskedPooling1D, classification_head


@keras.saving.register_keras_serializable(package="seqlab")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Adds a learned position vector to each token's vector.

    Args:
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        sequence_length: the longest T accepted (one position vector each).
        embedding_dim: size of each vector.
        use_mask: when True, `compute_mask` marks ids != 0 as real tokens.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        sequence_length: int,
        embedding_dim: int,
        use_mask: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.use_mask = use_mask
        # Sublayers follow this layer's dtype policy (not the global one), so a
        # model trained in mixed bfloat16 loads the same way in any process.
        policy = self.dtype_policy
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=policy, name="token_embedding"
        )
        self.position_embedding = keras.layers.Embedding(
            sequence_length, embedding_dim, dtype=policy, name="position_embedding"
        )

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((input_shape[-1],))

    def call(self, token_ids):
        """Maps ids (batch, T) to vectors (batch, T, embedding_dim)."""
        length = ops.shape(token_ids)[-1]
        positions = ops.arange(length, dtype="int32")  # (T,)
        return self.token_embedding(token_ids) + self.position_embedding(positions)

    def compute_mask(self, token_ids, mask=None):
        """Returns (batch, T) booleans, True at real tokens, or None without masking."""
        if not self.use_mask:
            return None
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "sequence_length": self.sequence_length,
            "embedding_dim": self.embedding_dim,
            "use_mask": self.use_mask,
        }


@keras.saving.register_keras_serializable(package="seqlab")
class TransformerEncoderBlock(keras.layers.Layer):
    """One post-norm encoder block: self-attention and a feed-forward network.

    `x = norm(x + dropout(attention(x)))`, then
    `x = norm(x + dropout(dense(relu_dense(x))))`. With a padding mask, no
    query attends to a padding key, and padding queries get all-zero weights.

    Args:
        embedding_dim: size of the token vectors in and out.
        num_heads: attention heads.
        key_dim: size of each head's query and key vectors.
        ff_dim: width of the feed-forward hidden layer.
        dropout_rate: dropout on both residual branches (hashed masks, see
            `CounterDropout`); the attention weights themselves get none.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        key_dim: int,
        ff_dim: int,
        dropout_rate: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.ff_dim = ff_dim
        self.dropout_rate = dropout_rate
        # flash_attention=False: flash kernels cannot return the attention
        # weights, which the attention page reads from this same layer.
        # No dropout on the attention weights themselves (as in Keras's text
        # classification example): a mask of (batch, heads, T, T) every step
        # costs more on CPU than the rest of the block; dropout is applied to
        # the block's outputs below instead, with hashed masks (CounterDropout)
        # because XLA's CPU random numbers would cost more than the block.
        # Sublayers follow this layer's dtype policy (see TokenAndPositionEmbedding).
        policy = self.dtype_policy
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=key_dim, dropout=0.0,
            flash_attention=False, dtype=policy, name="attention",
        )
        self.attention_dropout = CounterDropout(
            dropout_rate, dtype=policy, name="attention_dropout")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="attention_norm")
        self.feed_forward_hidden = keras.layers.Dense(
            ff_dim, activation="relu", dtype=policy, name="feed_forward_hidden"
        )
        self.feed_forward_output = keras.layers.Dense(
            embedding_dim, dtype=policy, name="feed_forward_output")
        self.feed_forward_dropout = CounterDropout(
            dropout_rate, dtype=policy, name="feed_forward_dropout")
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="output_norm")

    def build(self, input_shape):
        # Built here, not on first call, so a loaded model finds every weight.
        self.attention.build(input_shape, input_shape)
        self.attention_norm.build(input_shape)
        self.feed_forward_hidden.build(input_shape)
        self.feed_forward_output.build((*input_shape[:-1], self.ff_dim))
        self.output_norm.build(input_shape)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False):
        """Encodes token vectors.

        Args:
            inputs: (batch, T, embedding_dim) token vectors.
            mask: (batch, T) booleans, True at real tokens, or None.
            training: whether dropout is active.
            return_attention_scores: also return the attention weights.

        Returns:
            (batch, T, embedding_dim) vectors, and with `return_attention_scores`
            also the weights (batch, heads, T, T) (query rows, key columns).
        """
        attention_mask = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            # (batch, T, T): query i may look at key j only when both are real.
            attention_mask = ops.logical_and(
                ops.expand_dims(mask, axis=1), ops.expand_dims(mask, axis=2)
            )
        attended = self.attention(
            inputs, inputs, attention_mask=attention_mask, training=training,
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            attended, scores = attended
        attended = self.attention_dropout(attended, training=training)
        x = self.attention_norm(inputs + attended)  # (batch, T, embedding_dim)
        transformed = self.feed_forward_output(self.feed_forward_hidden(x))
        transformed = self.feed_forward_dropout(transformed, training=training)
        outputs = self.output_norm(x + transformed)  # (batch, T, embedding_dim)
        if return_attention_scores:
            return outputs, scores
        return outputs

    def compute_mask(self, inputs, mask=None):
        # Positions are unchanged, so padding stays padding for the next block.
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
        }


def build_transformer_model(
    config: ModelConfig, *, vocabulary_size: int, sequence_length: int, num_classes: int
) -> keras.Model:
    """Builds embeddings -> `num_layers` encoder blocks -> pooling -> Dropout -> head.

    Args:
        config: the model section (`embedding_dim`, `num_heads`, `key_dim`,
            `ff_dim`, `num_layers`, `pooling`, `dropout_rate`, `use_mask`).
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        sequence_length: the longest T accepted.
        num_classes: sets the head (see `seqlab.models.head`).

    Returns:
        An uncompiled `keras.Model` named `transformer`, `(batch, T)` ids in.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, T)
    x = TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, config.embedding_dim,
        use_mask=config.use_mask, name="embedding",
    )(token_ids)  # (batch, T, embedding_dim)
    for index in range(config.num_layers):
        x = TransformerEncoderBlock(
            config.embedding_dim, config.num_heads, config.key_dim, config.ff_dim,
            dropout_rate=config.dropout_rate, name=f"encoder_{index + 1}",
        )(x)  # (batch, T, embedding_dim)
    x = MaskedPooling1D(config.pooling, name="pooling")(x)  # (batch, embedding_dim)
    outputs = classification_head(x, dropout_rate=config.dropout_rate, num_classes=num_classes)
    return keras.Model(token_ids, outputs, name=config.arch)
