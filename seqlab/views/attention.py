"""The Attention page: which tokens to show, what to say about them, and why a linked run has no map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlab.analysis import words
from seqlab.attention import largest_peak, nearly_uniform
from seqlab.store import RunStore

# The most tokens a heatmap is drawn with, each with a readable, labelled row and column
# (seqlab.attention_charts sizes the heatmaps per token); a longer text is shown in part.
MAX_SHOWN_TOKENS = 30
# How a text longer than MAX_SHOWN_TOKENS is shown.
WINDOW, MOST_ATTENDED = "A window of consecutive tokens", "The most-attended tokens"
SHOW_MODES = (WINDOW, MOST_ATTENDED)


@dataclass
class AttentionView:
    """What the page draws for one layer and head.

    Attributes:
        table: the shown rows of the map's `attention_table` (every head of
            the layer and their mean, for the shown tokens only).
        notes: plain sentences to show above the heatmaps (what was cut,
            which tokens are shown, whether attention is nearly uniform).
        num_tokens: the real tokens of the text the run read.
        first: 0-based index, among those tokens, of the first one shown (window mode).
    """

    table: pd.DataFrame
    notes: list[str]
    num_tokens: int
    first: int


def attention_heads(attention: pd.DataFrame) -> list[str]:
    """Returns the heads of an attention table as text, in order, "mean" last."""
    heads = sorted({str(head) for head in attention["head"]} - {"mean"}, key=lambda h: (len(h), h))
    return heads + ["mean"]


def attention_view(found, layer: int, head: str, mode: str = WINDOW, first: int = 0,
                   size: int = MAX_SHOWN_TOKENS) -> AttentionView:
    """Chooses the tokens to draw for `layer` and `head`, and says what the page shows.

    Args:
        found: a `seqlab.inference.AttentionMap` (its `table`, `positions`,
            and what truncation cut).
        layer: the encoder block (from 1).
        head: the head to enlarge ("1".., or "mean"); chooses the most-attended tokens.
        mode: `WINDOW` (tokens `first` .. `first + size - 1`) or `MOST_ATTENDED`
            (the `size` tokens receiving the most attention in `layer`/`head`,
            in text order). Texts of at most `size` tokens are shown whole.
        first: the window's first token (0-based, clipped to the text).
        size: the most tokens shown.

    Returns:
        The `AttentionView`.

    Raises:
        ValueError: on an unknown mode.
    """
    if mode not in SHOW_MODES:
        raise ValueError(f"attention view: received mode {mode!r}, expected one of {', '.join(SHOW_MODES)}")
    table = found.table[found.table["layer"] == layer]
    positions = np.asarray(found.positions)
    count = len(positions)
    notes = [words.attention_cut_sentence(found.text_length, found.sequence_length, found.truncation,
                                          found.first_kept)]
    first = int(min(max(first, 0), max(count - size, 0)))
    if count > size and mode == WINDOW:
        shown = positions[first:first + size]
        notes.append(words.attention_window_sentence(first + 1, first + len(shown), count))
    elif count > size:
        shown = most_attended_positions(table, head, size)
        notes.append(words.most_attended_sentence(len(shown), count, layer, head))
    else:
        shown = positions
    if nearly_uniform(found.table, layer):
        notes.append(words.nearly_uniform_sentence(layer, count, largest_peak(found.table, layer)))
    kept = table[table["query_position"].isin(shown) & table["key_position"].isin(shown)]
    return AttentionView(kept.reset_index(drop=True), [note for note in notes if note], count, first)


def most_attended_positions(table: pd.DataFrame, head: str, size: int) -> np.ndarray:
    """Returns the positions of the `size` keys with the most attention from all queries, in text order.

    Args:
        table: one layer's rows of an `attention_table`.
        head: the head ("1".., or "mean") whose weights decide.
        size: how many positions to keep.
    """
    chosen = table[table["head"].astype(str) == str(head)]
    received = chosen.groupby("key_position")["weight"].sum()
    # Ties (a uniform map) keep the earliest tokens.
    top = received.sort_index(kind="stable").sort_values(ascending=False, kind="stable").index[:size]
    return np.sort(np.asarray(top, dtype=int))


def linked_run(value: str | None, runs: dict[str, str]) -> str | None:
    """Returns the run a link names, or None when it names none of `runs`.

    Args:
        value: the URL's run parameter: a run id, or (links made before the
            URL held ids) a run's label as the run list shows it.
        runs: run id -> label, as `seqlab.views.runs.model_runs` gives them.
    """
    if not value:
        return None
    if value in runs:
        return value
    return next((run_id for run_id, label in runs.items() if label == value), None)


def no_attention_message(store: RunStore, run_id: str) -> str:
    """Says why run `run_id` (e.g. from a link) has no attention map to show."""
    try:
        record = store.get_run(run_id)
    except KeyError:
        return words.no_such_run(run_id)
    if record.arch != "transformer":
        return words.no_attention_layers(run_id, record.label, record.arch)
    return words.no_saved_model(run_id, record.label, record.status)


@dataclass
class TrainingAttentionView:
    """One probe text's recorded attention after one epoch, for the slider over epochs.

    Attributes:
        table: `AttentionHistory.table` rows of the chosen layer (its mean
            head, and the heads of the last layer), drawn by
            `seqlab.attention_charts` unchanged.
        epochs: every recorded epoch, in order (the slider's steps).
        epoch: the epoch shown.
        probes: the probe texts, in order (the picker's options).
        heads: the heads recorded for `layer` ("mean" only below the last layer).
        layers: the layers recorded, from 1.
        caption: one sentence saying what is shown and how it changed.
    """

    table: pd.DataFrame
    epochs: list[int]
    epoch: int
    probes: list[str]
    heads: list[str]
    layers: list[int]
    caption: str


def training_attention_view(store: RunStore, run_id: str, probe: int = 0, epoch: int | None = None,
                            layer: int | None = None) -> TrainingAttentionView | None:
    """Reads how a Transformer run's attention on one probe text formed over its epochs.

    Args:
        store: the run store.
        run_id: a Transformer run (trained since attention has been recorded).
        probe: which probe text, from 0 (clipped to those recorded).
        epoch: the epoch to show (None or unrecorded: the last).
        layer: the encoder block, from 1 (None or unrecorded: the last).

    Returns:
        The view, or None when the run recorded no attention history (older
        runs, runs still in their first epoch, non-Transformer runs).
    """
    from seqlab.attention import attention_history

    history = attention_history(store, run_id)
    if history is None or not len(history.epochs):
        return None
    epochs = [int(e) for e in history.epochs]
    epoch = epoch if epoch in epochs else epochs[-1]
    layers = list(range(1, history.num_layers + 1))
    layer = layer if layer in layers else layers[-1]
    probe = min(max(int(probe), 0), len(history.texts) - 1)
    table = history.table(probe, epoch=epoch, layer=layer)
    heads = attention_heads(table)
    first = history.table(probe, epoch=epochs[0], layer=layer, head="mean")
    shown = table[table["head"].astype(str) == "mean"]
    caption = words.attention_growth_sentence(
        epoch, epochs[0], largest_row_peak(first), largest_row_peak(shown))
    return TrainingAttentionView(table=table, epochs=epochs, epoch=epoch, probes=list(history.texts),
                                 heads=heads, layers=layers, caption=caption)


def largest_row_peak(table: pd.DataFrame) -> float:
    """Returns the most times an even share any key gets in a table's rows (nan when empty)."""
    from seqlab.attention import row_peaks

    peaks = row_peaks(table)
    return float(peaks["peak"].max()) if len(peaks) else float("nan")
