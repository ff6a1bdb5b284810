"""Model builders: one Keras model per `ModelConfig.arch`, plus size estimates.

Importing this package is cheap: the parameter count and the memory estimate
are pure Python (`seqlab.models.sizes`, re-exported here), so the Train page
can show them instantly; Keras is imported only inside `build_model` and
`load_model`.

Every model takes `(batch, T)` int32 token ids (0 = padding) and returns
`(batch, 1)` sigmoid probabilities for two classes, else `(batch, num_classes)`
softmax probabilities.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from seqlab.config import RECURRENT_ARCHITECTURES, ModelConfig
from seqlab.models.sizes import (
    BYTES_PER_FLOAT, COPIES_PER_PARAMETER, DEFAULT_MEMORY_FRACTION, FALLBACK_MEMORY_BYTES,
    MAX_PARAMETERS, check_resources, count_parameters, estimate_memory_bytes, head,
)
from seqlab.models.sizes import _check_arguments

if TYPE_CHECKING:
    import keras


def build_model(
    config: ModelConfig,
    *,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    seed: int | None = None,
) -> "keras.Model":
    """Builds the uncompiled model named by `config.arch`.

    Args:
        config: the model section of the run recipe.
        vocabulary_size: ids run from 0 (padding) to `vocabulary_size - 1`.
        sequence_length: the longest T the model must accept (the Transformer
            learns one position vector per position up to it).
        num_classes: 2 gives a `(batch, 1)` sigmoid head, more a
            `(batch, num_classes)` softmax head.
        seed: when given, seeds Python, NumPy and TensorFlow (via
            `keras.utils.set_random_seed`) so the initial weights repeat.

    Returns:
        A `keras.Model` named `config.arch`, input `(batch, T)` int32 ids with
        any `T <= sequence_length`.

    Raises:
        ValueError: on an unknown architecture or impossible sizes.
    """
    vocabulary_size, sequence_length, num_classes = _check_arguments(
        config, vocabulary_size, sequence_length, num_classes
    )
    # Keras and the builder modules (which import it) only here, when a model
    # is built: importing this package must not load TensorFlow.
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    sizes = dict(vocabulary_size=vocabulary_size, num_classes=num_classes)
    if config.arch in RECURRENT_ARCHITECTURES:
        from seqlab.models.recurrent import build_recurrent_model

        return build_recurrent_model(config, **sizes)
    if config.arch == "transformer":
        from seqlab.models.transformer import build_transformer_model

        return build_transformer_model(config, sequence_length=sequence_length, **sizes)
    from seqlab.models.baseline import build_baseline_model

    return build_baseline_model(config, **sizes)


def load_model(path: str | os.PathLike) -> "keras.Model":
    """Loads a saved `.keras` model with `safe_mode=True`.

    Importing the custom layers first registers them with Keras, which loading
    a Transformer or baseline model needs.

    Args:
        path: a `.keras` file written by `model.save`.

    Returns:
        The loaded `keras.Model`.
    """
    import keras  # here, not at the top: see build_model

    from seqlab.models import layers, transformer  # noqa: F401  (registers the layers)

    return keras.saving.load_model(path, safe_mode=True)


__all__ = [
    "BYTES_PER_FLOAT", "COPIES_PER_PARAMETER", "DEFAULT_MEMORY_FRACTION", "FALLBACK_MEMORY_BYTES",
    "MAX_PARAMETERS", "build_model", "check_resources", "count_parameters",
    "estimate_memory_bytes", "head", "load_model",
]
