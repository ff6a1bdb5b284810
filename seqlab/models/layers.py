"""Building blocks shared by the models: masked pooling, a cheap dropout and the head."""

from __future__ import annotations

import keras
from keras import ops

from seqlab.config import POOLINGS
from seqlab.models.sizes import head

# Stands in for padding before a max: below any real activation, yet finite
# so that no inf reaches the gradient.
_LARGE_NEGATIVE = -1e9


@keras.saving.register_keras_serializable(package="seqlab")
class MaskedPooling1D(keras.layers.Layer):
    """Pools token vectors `(batch, T, width)` into one vector `(batch, width)`.

    `mean` averages the real tokens only and `max` takes the largest value over
    the real tokens only, so the amount of padding cannot change the result;
    `first` takes the vector at position 0 (the first real token when padding
    is at the end). Without a mask, every position counts.

    Args:
        mode: one of `mean`, `max`, `first`.
        **kwargs: passed to `keras.layers.Layer`.

    Raises:
        ValueError: on an unknown mode.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(
                f"model.pooling: received {mode!r}, expected one of {', '.join(POOLINGS)}"
            )
        self.mode = mode

    def call(self, inputs, mask=None):
        """Pools `inputs` (batch, T, width) under `mask` (batch, T); returns (batch, width)."""
        if self.mode == "first":
            return inputs[:, 0, :]
        if mask is None:
            reduce = ops.mean if self.mode == "mean" else ops.max
            return reduce(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)  # (batch, T, 1)
        if self.mode == "mean":
            # `where`, not a product: a NaN at a padded position must not leak in.
            total = ops.sum(ops.where(mask, inputs, 0.0), axis=1)  # (batch, width)
            count = ops.sum(ops.cast(mask, inputs.dtype), axis=1)  # (batch, 1)
            return total / ops.maximum(count, 1.0)
        largest = ops.max(ops.where(mask, inputs, _LARGE_NEGATIVE), axis=1)  # (batch, width)
        # An all-padding text has no real token to take the max over.
        return ops.where(ops.any(mask, axis=1), largest, 0.0)

    def compute_mask(self, inputs, mask=None):
        # The time axis is gone, and its mask with it.
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


# murmur3's 32-bit finalizer constants: each input bit flips about half the
# output bits, which is all a dropout mask needs from a random number.
_GOLDEN = 0x9E3779B9
_FMIX_1 = 0x85EBCA6B
_FMIX_2 = 0xC2B2AE35


def _fmix32(values):
    """Scrambles uint32 values with murmur3's finalizer (a bijection on uint32)."""
    values = ops.bitwise_xor(values, ops.right_shift(values, _uint32(16)))
    values = ops.multiply(values, _uint32(_FMIX_1))  # wraps modulo 2**32
    values = ops.bitwise_xor(values, ops.right_shift(values, _uint32(13)))
    values = ops.multiply(values, _uint32(_FMIX_2))
    return ops.bitwise_xor(values, ops.right_shift(values, _uint32(16)))


def _uint32(value: int):
    return ops.convert_to_tensor(value, dtype="uint32")


@keras.saving.register_keras_serializable(package="seqlab")
class CounterDropout(keras.layers.Layer):
    """Dropout whose random mask is a hash of (seed, step counter, element index).

    Same contract as `keras.layers.Dropout` (zero each value with probability
    `rate` while training, scale the kept ones by `1 / (1 - rate)`, identity
    otherwise), but the mask is computed with a few integer operations per
    element instead of a random-number generator. XLA on CPU draws random
    numbers slowly: a (64, 200, 32) mask costs about 3.3 ms with
    `keras.random.dropout` under XLA and about 0.8 ms hashed (bench step with
    five masks), which is what lets the Transformer train with XLA on.
    Each call advances a seed-state counter, so every step gets a fresh mask;
    `keras.utils.set_random_seed` makes the sequence of masks reproducible.

    Args:
        rate: fraction of values to drop, in [0, 1).
        seed: optional int fixing this layer's masks.
        **kwargs: passed to `keras.layers.Layer`.

    Raises:
        ValueError: if `rate` is outside [0, 1).
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"dropout rate: received {rate!r}, expected a number in [0, 1)")
        self.rate = float(rate)
        self.seed = seed
        self.supports_masking = True
        if self.rate > 0:
            self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")

    def call(self, inputs, training=False):
        """Drops values of `inputs` (any shape) while training; returns the same shape."""
        if not training or self.rate == 0:
            return inputs
        seed = ops.cast(self.seed_generator.next(), "uint32")  # (2,): layer seed, step counter
        key = _fmix32(ops.bitwise_xor(_fmix32(seed[0]), seed[1] * _uint32(_GOLDEN)))
        index = ops.cast(ops.arange(ops.size(inputs), dtype="int32"), "uint32")  # one counter per element
        bits = _fmix32(ops.bitwise_xor(index * _uint32(_GOLDEN), key))
        keep = ops.reshape(bits >= _uint32(int(self.rate * 2**32)), ops.shape(inputs))
        return ops.where(keep, inputs / (1.0 - self.rate), ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def classification_head(features, *, dropout_rate: float, num_classes: int):
    """Applies Dropout then the output Dense layer to pooled features.

    Args:
        features: a `(batch, width)` Keras tensor.
        dropout_rate: `model.dropout_rate`.
        num_classes: 2 gives a `(batch, 1)` sigmoid, more a
            `(batch, num_classes)` softmax.

    Returns:
        The model's output tensor.
    """
    _, activation = head(num_classes)
    outputs = 1 if num_classes == 2 else num_classes
    features = keras.layers.Dropout(dropout_rate, name="dropout")(features)
    # float32 even under a mixed bfloat16 policy: probabilities near 0 or 1
    # need float32's precision for a sound cross-entropy.
    return keras.layers.Dense(outputs, activation=activation, dtype="float32",
                              name="classifier")(features)
