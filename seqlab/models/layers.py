"""Building blocks shared by the Transformer and the baseline: masked pooling and the head."""

from __future__ import annotations

import keras
from keras import ops

from seqlab.config import POOLINGS
from seqlab.models import head

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
