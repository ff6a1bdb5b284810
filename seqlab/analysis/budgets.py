"""Cost against quality: the Pareto front, and sizing a model to a parameter budget."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from seqlab.analysis.frames import require_columns
from seqlab.config import WIDTH_FIELDS


def pareto_front(
    df: pd.DataFrame, x: str, y: str, x_lower_is_better: bool = True, y_higher_is_better: bool = True
) -> pd.Series:
    """Marks the rows no other row beats on both x and y.

    A row is dominated when another is at least as good on both and strictly
    better on one; rows with a missing x or y are never on the front.

    Args:
        df: any table, e.g. `run_summary_table(...)`.
        x: the cost column, e.g. "num_params" or "seconds_per_epoch".
        y: the quality column, e.g. "best_val_accuracy".
        x_lower_is_better: whether smaller x is better.
        y_higher_is_better: whether larger y is better.

    Returns:
        A boolean Series aligned with `df.index`.

    Raises:
        ValueError: if a column is missing or not numeric.
    """
    require_columns(df, [x, y], "table")
    try:
        costs = df[x].to_numpy(dtype=float, na_value=np.nan)
        gains = df[y].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pareto_front: columns {x!r} and {y!r} must be numeric ({error})") from None
    if not x_lower_is_better:
        costs = -costs
    if not y_higher_is_better:
        gains = -gains
    valid = ~(np.isnan(costs) | np.isnan(gains))
    on_front = np.zeros(len(df), dtype=bool)
    positions = np.flatnonzero(valid)
    if positions.size:
        # Sorted by cost, a row is dominated by a cheaper row at least as good, or by
        # one of equal cost that is better: a sort and two running maxima, not n x n pairs
        # (a budget chart holds every completed run on a dataset: thousands).
        order = positions[np.argsort(costs[positions], kind="stable")]
        cost, gain = costs[order], gains[order]
        starts = np.flatnonzero(np.r_[True, cost[1:] != cost[:-1]])
        group = np.cumsum(np.r_[True, cost[1:] != cost[:-1]]) - 1
        best_at_cost = np.maximum.reduceat(gain, starts)
        best_cheaper = np.r_[gain[0], np.maximum.accumulate(best_at_cost)[:-1]]  # [0]: no cheaper row
        dominated = ((group > 0) & (best_cheaper[group] >= gain)) | (best_at_cost[group] > gain)
        on_front[order] = ~dominated
    return pd.Series(on_front, index=df.index, name="pareto")


def size_to_parameters(
    config: Any,
    target: int,
    *,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    count: Callable[..., int],
) -> Any:
    """Returns a copy of a model config whose width brings it nearest a parameter budget.

    The width searched is units for recurrent models, ff_dim for the
    Transformer and embedding_dim for the baseline; every other field is kept.
    Note that the token embedding (vocabulary_size x embedding_dim) usually
    holds most parameters, so for recurrent models and Transformers a budget
    below the embedding's size cannot be met by width alone: the smallest
    width is returned then, and lowering data.vocabulary_size or
    model.embedding_dim is the lever. Assumes the count grows with the width
    (true for every seqlab architecture) and bisects, so it calls `count`
    about 15 times.

    Args:
        config: a `seqlab.config.ModelConfig` (any frozen dataclass with the
            same fields).
        target: the wanted number of parameters.
        vocabulary_size: passed to `count`.
        sequence_length: passed to `count`.
        num_classes: passed to `count`.
        count: a callable like `seqlab.models.count_parameters(config, *,
            vocabulary_size, sequence_length, num_classes)`.

    Returns:
        `dataclasses.replace(config, <width>=w)` for the w (within the range
        `RunConfig.validate` allows) whose count is closest to `target`
        (ties: the smaller w).

    Raises:
        ValueError: on an unknown architecture or a target that is not a
            positive integer.
    """
    arch = getattr(config, "arch", None)
    if arch not in WIDTH_FIELDS:
        raise ValueError(
            f"model.arch: received {arch!r}, expected one of {', '.join(WIDTH_FIELDS)}"
        )
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 1:
        raise ValueError(f"target: received {target!r}, expected a positive number of parameters such as 100000")
    field, low, high = WIDTH_FIELDS[arch]
    sizes = dict(vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_classes=num_classes)

    def parameters(width: int) -> int:
        return count(dataclasses.replace(config, **{field: width}), **sizes)

    # The smallest width whose count reaches the target lies in (low, high].
    if parameters(low) >= target:
        best = low
    elif parameters(high) <= target:
        best = high
    else:
        while high - low > 1:
            middle = (low + high) // 2
            if parameters(middle) >= target:
                high = middle
            else:
                low = middle
        best = low if target - parameters(low) <= parameters(high) - target else high
    return dataclasses.replace(config, **{field: best})
