"""Model sizes without building a model: parameter counts, memory estimates, the head.

Pure Python, no Keras: the Train page shows a run's size, and refuses one too
large to train, before anything is built.
`count_parameters` equals `build_model(...).count_params()` for every
architecture (tested). The builders in this package import `head` from here.
"""

from __future__ import annotations

import numbers
import os

from seqlab.config import (
    ARCHITECTURES, BIDIRECTIONAL_ARCHITECTURES, RECURRENT_ARCHITECTURES, ModelConfig,
)

MAX_PARAMETERS = 100_000_000
BYTES_PER_FLOAT = 4
# Weights plus Adam's two moment slots, all float32.
COPIES_PER_PARAMETER = 3
DEFAULT_MEMORY_FRACTION = 0.6
FALLBACK_MEMORY_BYTES = 8 * 2**30


def head(num_classes: int) -> tuple[str, str]:
    """Returns the loss and output activation for a number of classes.

    Args:
        num_classes: how many labels the task has (at least 2).

    Returns:
        `("binary_crossentropy", "sigmoid")` for 2 classes, else
        `("sparse_categorical_crossentropy", "softmax")`.

    Raises:
        ValueError: if `num_classes` is below 2.
    """
    _check_num_classes(num_classes)
    if num_classes == 2:
        return "binary_crossentropy", "sigmoid"
    return "sparse_categorical_crossentropy", "softmax"


def count_parameters(
    config: ModelConfig, *, vocabulary_size: int, sequence_length: int, num_classes: int
) -> int:
    """Counts the model's weights without building it (no TensorFlow).

    Equals `build_model(...).count_params()` for every architecture.

    Args:
        config: the model section of the run recipe.
        vocabulary_size: rows of the token embedding.
        sequence_length: rows of the Transformer's position embedding (if it has one).
        num_classes: sets the size of the output layer.

    Returns:
        The number of weights (trainable and not).

    Raises:
        ValueError: on an unknown architecture or impossible sizes.
    """
    vocabulary_size, sequence_length, num_classes = _check_arguments(
        config, vocabulary_size, sequence_length, num_classes
    )
    embedding, body, _ = _parameter_parts(
        config, vocabulary_size, sequence_length, num_classes
    )
    return embedding + body


def estimate_memory_bytes(
    config: ModelConfig,
    *,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    batch_size: int,
) -> int:
    """Estimates the peak memory of training, roughly (within a factor of ~2).

    Counts the weights and Adam's slots, plus the activations kept for the
    backward pass: per token and layer for every architecture, and the
    `(batch, heads, T, T)` attention weights per Transformer block.

    Args:
        config: the model section of the run recipe.
        vocabulary_size: rows of the token embedding.
        sequence_length: padded length T of the inputs.
        num_classes: sets the size of the output layer.
        batch_size: texts per training step.

    Returns:
        The estimate in bytes.

    Raises:
        ValueError: on an unknown architecture or impossible sizes.
    """
    vocabulary_size, sequence_length, num_classes = _check_arguments(
        config, vocabulary_size, sequence_length, num_classes
    )
    batch_size = _check_positive("train.batch_size", batch_size)
    parts = _memory_parts(config, vocabulary_size, sequence_length, num_classes, batch_size)
    return sum(size for size, _ in parts)


def check_resources(
    config: ModelConfig,
    *,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    batch_size: int,
    limit_bytes: int | None = None,
) -> int:
    """Refuses, before anything is built, a model too large to train here.

    Args:
        config: the model section of the run recipe.
        vocabulary_size: rows of the token embedding.
        sequence_length: padded length T of the inputs.
        num_classes: sets the size of the output layer.
        batch_size: texts per training step.
        limit_bytes: the memory allowed; default 60% of this machine's RAM
            (8 GiB where it cannot be read).

    Returns:
        The memory estimate in bytes (see `estimate_memory_bytes`).

    Raises:
        ValueError: when the model has more than 100M parameters or the
            estimate exceeds the limit; the message names the fields that
            cost the most and says which to reduce.
    """
    sizes = dict(
        vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_classes=num_classes
    )
    parameters = count_parameters(config, **sizes)
    if parameters > MAX_PARAMETERS:
        embedding, body, body_fields = _parameter_parts(config, **sizes)
        if embedding >= body:
            fields = {
                "data.vocabulary_size": vocabulary_size,
                "model.embedding_dim": config.embedding_dim,
            }
        else:
            fields = body_fields
        raise ValueError(
            f"{_describe(config, fields)} gives {parameters:,} parameters, more than the "
            f"limit of {MAX_PARAMETERS:,}; reduce {_reducible(fields)}"
        )
    estimate = estimate_memory_bytes(config, batch_size=batch_size, **sizes)
    if limit_bytes is None:
        limit_bytes, limit_source = _default_memory_limit()
    else:
        limit_source = "as given"
    if estimate > limit_bytes:
        parts = _memory_parts(config, vocabulary_size, sequence_length, num_classes, batch_size)
        largest, fields = max(parts, key=lambda part: part[0])
        raise ValueError(
            f"{_describe(config, fields)} needs ~{_gib(estimate)} to train "
            f"(~{_gib(largest)} of it from these settings), more than the limit of "
            f"~{_gib(limit_bytes)} ({limit_source}); reduce {_reducible(fields)}"
        )
    return estimate


# ----------------------------------------------------------------- helpers
def _parameter_parts(
    config: ModelConfig, vocabulary_size: int, sequence_length: int, num_classes: int
) -> tuple[int, int, dict[str, int]]:
    """Returns (embedding parameters, all other parameters, the fields sizing the latter)."""
    m = config
    outputs = 1 if num_classes == 2 else num_classes
    embedding = vocabulary_size * m.embedding_dim
    if m.arch in RECURRENT_ARCHITECTURES:
        directions = 2 if m.arch in BIDIRECTIONAL_ARCHITECTURES else 1
        body = 0
        width = m.embedding_dim
        for _ in range(m.num_layers):
            body += directions * _recurrent_cell_parameters(m.arch, width, m.units)
            # Bidirectional concat doubles the width seen by the next layer.
            width = m.units * directions if m.merge_mode == "concat" else m.units
        fields = {"model.units": m.units, "model.num_layers": m.num_layers}
    elif m.arch == "transformer":
        if m.position_embedding:
            embedding += sequence_length * m.embedding_dim
        projected = m.num_heads * m.key_dim
        # query, key and value projections (kernel + bias each), then the output projection.
        attention = (
            3 * (m.embedding_dim * projected + projected)
            + projected * m.embedding_dim + m.embedding_dim
        )
        norms = 2 * 2 * m.embedding_dim
        feed_forward = (
            m.embedding_dim * m.ff_dim + m.ff_dim + m.ff_dim * m.embedding_dim + m.embedding_dim
        )
        body = m.num_layers * (attention + norms + feed_forward)
        width = m.embedding_dim
        fields = {
            "model.embedding_dim": m.embedding_dim, "model.ff_dim": m.ff_dim,
            "model.num_heads": m.num_heads, "model.key_dim": m.key_dim,
            "model.num_layers": m.num_layers,
        }
    else:
        body = 0
        width = m.embedding_dim
        fields = {"model.embedding_dim": m.embedding_dim}
    body += width * outputs + outputs
    return embedding, body, fields


def _recurrent_cell_parameters(arch: str, input_dim: int, units: int) -> int:
    if arch in ("lstm", "bilstm"):
        # Four gates, each with input kernel, recurrent kernel and bias.
        return 4 * (units * (input_dim + units) + units)
    if arch == "rnn":
        # SimpleRNN: one input kernel, one recurrent kernel, one bias; no gates.
        return units * (input_dim + units) + units
    # GRU with reset_after=True (Keras's default) keeps two bias vectors.
    return 3 * units * (input_dim + units) + 2 * 3 * units


def _memory_parts(
    config: ModelConfig, vocabulary_size: int, sequence_length: int, num_classes: int,
    batch_size: int,
) -> list[tuple[int, dict[str, int]]]:
    """Splits the training-time peak into (bytes, fields that size it) parts."""
    m = config
    bytes_per_slot = BYTES_PER_FLOAT * COPIES_PER_PARAMETER
    embedding, body, body_fields = _parameter_parts(
        config, vocabulary_size, sequence_length, num_classes
    )
    tokens = batch_size * sequence_length
    size_fields = {"data.sequence_length": sequence_length, "train.batch_size": batch_size}
    parts = [
        (embedding * bytes_per_slot,
         {"data.vocabulary_size": vocabulary_size, "model.embedding_dim": m.embedding_dim}),
        (body * bytes_per_slot, body_fields),
        # Embedded tokens and their gradient.
        (tokens * m.embedding_dim * BYTES_PER_FLOAT * 2,
         {"model.embedding_dim": m.embedding_dim, **size_fields}),
    ]
    if m.arch in RECURRENT_ARCHITECTURES:
        directions = 2 if m.arch in BIDIRECTIONAL_ARCHITECTURES else 1
        # Backpropagation through time keeps every step's gates and states.
        values_per_unit = {"lstm": 10, "bilstm": 10, "rnn": 2}.get(m.arch, 8)
        parts.append((
            tokens * m.units * directions * m.num_layers * BYTES_PER_FLOAT * values_per_unit,
            {"model.units": m.units, "model.num_layers": m.num_layers, **size_fields},
        ))
    elif m.arch == "transformer":
        projected = m.num_heads * m.key_dim
        # Queries, keys, values and context; residual sums, norms and dropouts;
        # the feed-forward hidden layer before and after its activation.
        values_per_token = 4 * projected + 8 * m.embedding_dim + 2 * m.ff_dim
        parts.append((
            tokens * values_per_token * m.num_layers * BYTES_PER_FLOAT,
            {"model.embedding_dim": m.embedding_dim, "model.ff_dim": m.ff_dim,
             "model.num_layers": m.num_layers, **size_fields},
        ))
        # Scores, softmax and dropped-out weights, each (batch, heads, T, T).
        parts.append((
            batch_size * m.num_heads * sequence_length**2 * m.num_layers * BYTES_PER_FLOAT * 3,
            {"model.num_heads": m.num_heads, "model.num_layers": m.num_layers, **size_fields},
        ))
    return parts


def _default_memory_limit() -> tuple[int, str]:
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        physical = -1
    if physical <= 0:
        return FALLBACK_MEMORY_BYTES, "the default when RAM size is unknown"
    return int(physical * DEFAULT_MEMORY_FRACTION), "60% of this machine's RAM"


def _describe(config: ModelConfig, fields: dict[str, int]) -> str:
    settings = ", ".join(f"{name}={value}" for name, value in fields.items())
    return f"model.arch={config.arch} with {settings}"


def _reducible(fields: dict[str, int]) -> str:
    """Names the fields worth lowering (a value of 1 cannot go lower)."""
    names = [name for name, value in fields.items() if value > 1] or list(fields)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"


def _check_arguments(
    config: ModelConfig, vocabulary_size: int, sequence_length: int, num_classes: int
) -> tuple[int, int, int]:
    """Checks the sizes and returns them as plain ints (NumPy integers are welcome)."""
    if not isinstance(config, ModelConfig):
        raise ValueError(
            f"model config: received {type(config).__name__}, expected a ModelConfig "
            f"(pass run_config.model)"
        )
    if config.arch not in ARCHITECTURES:
        raise ValueError(
            f"model.arch: received {config.arch!r}, expected one of {', '.join(ARCHITECTURES)}"
        )
    return (
        _check_positive("data.vocabulary_size", vocabulary_size, minimum=2),
        _check_positive("data.sequence_length", sequence_length),
        _check_num_classes(num_classes),
    )


def _check_num_classes(num_classes: int) -> int:
    if not _is_integer(num_classes) or num_classes < 2:
        raise ValueError(
            f"num_classes: received {num_classes!r}, expected an integer of at least 2; "
            f"a dataset needs texts of two or more labels"
        )
    return int(num_classes)


def _check_positive(name: str, value: int, minimum: int = 1) -> int:
    if not _is_integer(value) or value < minimum:
        raise ValueError(f"{name}: received {value!r}, expected an integer of at least {minimum}")
    return int(value)


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
