"""The Transformer encoder classifier and its serializable layers (embedding, attention, block).

Token + learned position embeddings, scaled to unit size -> `num_layers`
post-norm encoder blocks (as in "Attention is all you need" and the Keras
text-classification example) -> pooling over real tokens -> Dropout -> head.

Why the scale: `keras.layers.Embedding` starts its vectors in [-0.05, 0.05],
so every query-key product, and with it every attention logit, starts near
0.001: each row of attention is uniform (1/n to three decimals), and the
gradient that would sharpen it is proportional to the same tiny numbers. A
model with mean pooling then learns a bag of words and never moves its
attention (IMDB: weights 0.0994 to 0.1005 on a 10-token sentence). Scaled so
that the summed embedding starts with entries of standard deviation about 1,
the logits start at about unit size and attention is used where the task
needs it (see the README's "Attention" section for the figures).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from seqlab.config import ModelConfig
from seqlab.models.layers import CounterDropout, MaskedPooling1D, classification_head

# keras.layers.Embedding's default initializer draws from [-LIMIT, LIMIT].
EMBEDDING_INIT_LIMIT = 0.05


def unit_embedding_scale(num_summed: int) -> float:
    """Returns the factor that gives a sum of `num_summed` fresh embeddings unit standard deviation.

    Each entry of a fresh `keras.layers.Embedding` is uniform on
    [-0.05, 0.05], standard deviation 0.05 / sqrt(3); a sum of `num_summed`
    independent ones has sqrt(num_summed) times that.
    """
    return 1.0 / (EMBEDDING_INIT_LIMIT * math.sqrt(num_summed / 3.0))


@keras.saving.register_keras_serializable(package="seqlab")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Adds a learned position vector to each token's vector, then scales the sum.

    Args:
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        sequence_length: the longest T accepted (one position vector each).
        embedding_dim: size of each vector.
        use_mask: when True, `compute_mask` marks ids != 0 as real tokens.
        use_position: when False, no position vectors: the model sees a
            bag of tokens and cannot tell word order.
        scale: multiplies the (token + position) vectors; 1.0 (models saved
            before the scale existed) or `unit_embedding_scale(...)`.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        sequence_length: int,
        embedding_dim: int,
        use_mask: bool = True,
        use_position: bool = True,
        scale: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.use_mask = use_mask
        self.use_position = use_position
        self.scale = float(scale)
        # Sublayers follow this layer's dtype policy (not the global one), so a
        # model trained in mixed bfloat16 loads the same way in any process.
        policy = self.dtype_policy
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=policy, name="token_embedding"
        )
        self.position_embedding = None
        if use_position:
            self.position_embedding = keras.layers.Embedding(
                sequence_length, embedding_dim, dtype=policy, name="position_embedding"
            )

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((input_shape[-1],))

    def call(self, token_ids):
        """Maps ids (batch, T) to vectors (batch, T, embedding_dim)."""
        vectors = self.token_embedding(token_ids)  # (batch, T, embedding_dim)
        if self.position_embedding is not None:
            length = ops.shape(token_ids)[-1]
            positions = ops.arange(length, dtype="int32")  # (T,)
            vectors = vectors + self.position_embedding(positions)
        if self.scale != 1.0:
            vectors = vectors * ops.cast(self.scale, vectors.dtype)
        return vectors

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
            "use_position": self.use_position,
            "scale": self.scale,
        }


@keras.saving.register_keras_serializable(package="seqlab")
class DeferredSoftmaxAttention(keras.layers.MultiHeadAttention):
    """Keras `MultiHeadAttention` that normalises its weights after the value sum.

    Same weights, config and results as its parent (to float rounding); only
    the training-time arithmetic differs. Softmax weights are
    `exp(s - max) / sum(exp(s - max))` over keys; dividing by the sum *after*
    multiplying by the values divides a (batch, T, heads, value_dim) tensor
    instead of a (batch, heads, T, T) one, and the hand-written gradient
    (`_deferred_softmax_attention`) picks the layouts XLA's CPU dots are fast
    in. On CPU the (batch, heads, T, T) work is most of a Transformer step: at
    batch 64, T=200, 2 heads of 16, one compiled forward + backward pass took
    14.0 ms against Keras's 20.3 ms (`bench/attention_kernel.py`).

    `MultiHeadAttention` documents `_compute_attention` as the method to
    override for a custom attention computation; this one falls back to the
    parent whenever weights are asked for (the attention page's heatmaps),
    attention dropout is on, the inputs are not (batch, T, heads, dim), or
    the compute dtype is not float32.

    Args:
        **kwargs: as for `keras.layers.MultiHeadAttention`.
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, **kwargs):
        """Attends with projected heads.

        Args:
            query: (batch, T, heads, key_dim) projected queries.
            key: (batch, S, heads, key_dim) projected keys.
            value: (batch, S, heads, value_dim) projected values.
            attention_mask: (batch, T or 1, S) booleans (True: may attend), or None.
            training: whether attention dropout (if any) is active.
            return_attention_scores: also return the weights (parent's path).
            **kwargs: passed on to the parent (e.g. `use_causal_mask`).

        Returns:
            (output (batch, T, heads, value_dim), weights or None), as the parent.
        """
        fast = not (
            return_attention_scores or self._dropout > 0.0 or kwargs
            or len(query.shape) != 4
            or keras.backend.standardize_dtype(query.dtype) != "float32"
        )
        if not fast:
            return super()._compute_attention(
                query, key, value, attention_mask=attention_mask, training=training,
                return_attention_scores=return_attention_scores, **kwargs)
        query = ops.multiply(query, ops.cast(self._inverse_sqrt_key_dim, query.dtype))
        if attention_mask is None:
            allowed = ops.ones((1, 1, 1, 1), dtype="bool")
        else:
            allowed = ops.expand_dims(ops.cast(attention_mask, "bool"), axis=1)  # (batch, 1, T or 1, S)
        return _deferred_softmax_attention(query, key, value, allowed), None


@ops.custom_gradient
def _deferred_softmax_attention(query, key, value, allowed):
    """Softmax attention, normalised after the value sum, with a hand-written gradient.

    Args:
        query: (batch, T, heads, key_dim), already scaled by 1/sqrt(key_dim).
        key: (batch, S, heads, key_dim).
        value: (batch, S, heads, value_dim).
        allowed: booleans broadcastable to (batch, heads, T, S); False blocks
            a query from a key.

    Returns:
        (batch, T, heads, value_dim) attention outputs.
    """
    logits = ops.einsum("BTNH,BSNH->BNTS", query, key)  # (batch, heads, T, S)
    logits = ops.where(allowed, logits, -1e9)
    # The row max keeps exp finite; a constant per row, it cancels in the division.
    weights = ops.exp(logits - ops.max(logits, axis=-1, keepdims=True))  # (batch, heads, T, S), unnormalised
    totals = ops.expand_dims(ops.transpose(ops.sum(weights, axis=-1), (0, 2, 1)), -1)  # (batch, T, heads, 1)
    output = ops.divide(ops.einsum("BNTS,BSNH->BTNH", weights, value), totals)  # (batch, T, heads, value_dim)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        scaled = ops.divide(upstream, totals)  # (batch, T, heads, value_dim)
        # Softmax backward: d_logits = p * (d_p - sum(d_p * p)), with p = weights / totals.
        row_dot = ops.transpose(ops.sum(scaled * output, axis=-1), (0, 2, 1))  # (batch, heads, T)
        d_logits = weights * (
            ops.einsum("BTNH,BSNH->BNTS", scaled, value) - ops.expand_dims(row_dot, -1)
        )  # (batch, heads, T, S)
        # Blocked logits were constants: no gradient (it matters only in rows
        # with no allowed key, whose weights are uniform instead of zero).
        d_logits = ops.where(allowed, d_logits, 0.0)
        d_query = ops.einsum("BNTS,BSNH->BTNH", d_logits, key)
        # Key and value gradients come out as (batch, heads, dim, S) and are
        # transposed after: XLA's CPU dot is ~1.7x faster in that layout than
        # contracting the T axis of a (batch, heads, T, S) operand directly.
        d_key = ops.transpose(ops.einsum("BTNH,BNTS->BNHS", query, d_logits), (0, 3, 1, 2))
        d_value = ops.transpose(ops.einsum("BTNH,BNTS->BNHS", scaled, weights), (0, 3, 1, 2))
        return d_query, d_key, d_value, None

    return output, grad


@keras.saving.register_keras_serializable(package="seqlab")
class TransformerEncoderBlock(keras.layers.Layer):
    """One post-norm encoder block: self-attention and a feed-forward network.

    `x = norm(x + dropout(attention(x)))`, then
    `x = norm(x + dropout(dense(relu_dense(x))))`. With a padding mask, no
    query attends to a padding key; in the weights returned for heatmaps,
    padding queries get all-zero rows.

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
        self.attention = DeferredSoftmaxAttention(
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
        query, attention_mask = inputs, None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            if return_attention_scores:
                # (batch, T, T): query i may look at key j only when both are
                # real, so padding rows of a heatmap are all zero.
                attention_mask = ops.logical_and(
                    ops.expand_dims(mask, axis=1), ops.expand_dims(mask, axis=2))
            else:
                # (batch, 1, T): no query looks at a padding key. Padding
                # queries' outputs are never read (pooling and the next block
                # mask them), and building and applying a (batch, T, T) mask
                # took a whole training step from 24.0 to 26.8 ms (IMDB-like
                # lengths, T=200). The query is a copy because the layer would
                # AND in the Keras mask `inputs` carries, as (batch, T, T).
                attention_mask = ops.expand_dims(mask, axis=1)
                query = ops.copy(inputs)
        attended = self.attention(
            query, inputs, attention_mask=attention_mask, training=training,
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
            `ff_dim`, `num_layers`, `pooling`, `dropout_rate`, `use_mask`,
            `position_embedding`, `scale_embeddings`).
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        sequence_length: the longest T accepted.
        num_classes: sets the head (see `seqlab.models.head`).

    Returns:
        An uncompiled `keras.Model` named `transformer`, `(batch, T)` ids in.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, T)
    scale = 1.0
    if config.scale_embeddings:
        scale = unit_embedding_scale(2 if config.position_embedding else 1)
    x = TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, config.embedding_dim,
        use_mask=config.use_mask, use_position=config.position_embedding, scale=scale,
        name="embedding",
    )(token_ids)  # (batch, T, embedding_dim)
    for index in range(config.num_layers):
        x = TransformerEncoderBlock(
            config.embedding_dim, config.num_heads, config.key_dim, config.ff_dim,
            dropout_rate=config.dropout_rate, name=f"encoder_{index + 1}",
        )(x)  # (batch, T, embedding_dim)
    x = MaskedPooling1D(config.pooling, name="pooling")(x)  # (batch, embedding_dim)
    outputs = classification_head(x, dropout_rate=config.dropout_rate, num_classes=num_classes)
    return keras.Model(token_ids, outputs, name=config.arch)
