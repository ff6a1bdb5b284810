"""The Inside page: what a trained model remembers, which words decided, how gradients flow, where it errs.

Each tab has one function here that turns what `seqlab.states`,
`seqlab.attribution` and `seqlab.inference` computed into the tables the
page draws and the sentences it shows; nothing here imports Streamlit or
TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
import pandas as pd

from seqlab.analysis import words
from seqlab.analysis.errors import confusion_table, misclassified_table
from seqlab.config import RECURRENT_ARCHITECTURES
from seqlab.store import RunStore
from seqlab.views.runs import model_runs

# The page's tabs, in order; their names are in the URL (?inside.tab=...).
MEMORY, WORDS, GRADIENTS, ERRORS = ("What the RNN remembers", "Which words decided",
                                    "Gradient flow", "Where models err")
TABS = (MEMORY, WORDS, GRADIENTS, ERRORS)
# Most confident mistakes listed per run.
MISTAKES_SHOWN = 20
# Runs whose attributions are drawn side by side: more would not fit one screen.
MAX_ATTRIBUTION_RUNS = 4


def recurrent_runs(store: RunStore) -> dict[str, str]:
    """Returns finished recurrent runs with a saved model (newest first): run_id -> label."""
    return model_runs(store, archs=RECURRENT_ARCHITECTURES)


# ---------------------------------------------------------------- memory
@dataclass
class MemoryView:
    """What the memory tab draws for one recurrent run and one text.

    Attributes:
        running: `TextStates.running_prediction_table()` (position, token,
            probability, change, class_name).
        states: the `state_table` of every layer and direction.
        layer: the layer to draw, from 1.
        direction: the direction to draw.
        layers: the recurrent layers, from 1.
        directions: "forward" (and "backward" for a bidirectional run).
        has_gates: whether the cell has gates (LSTM, GRU; not SimpleRNN).
        sentence: what the running prediction did, in one sentence.
        notes: what was cut and what the numbers do not show.
    """

    running: pd.DataFrame
    states: pd.DataFrame
    layer: int
    direction: str
    layers: list[int]
    directions: list[str]
    has_gates: bool
    sentence: str
    notes: list[str]


def memory_view(found, layer: int | None = None, direction: str = "forward") -> MemoryView:
    """Chooses what the memory tab shows of a recurrent run's states for one text.

    Args:
        found: a `seqlab.states.TextStates`.
        layer: the recurrent layer, from 1 (None or unknown: the last).
        direction: "forward" or "backward" (unknown: forward).

    Returns:
        The `MemoryView`.
    """
    states = found.states
    layers = list(range(1, states.num_layers + 1))
    layer = layer if layer in layers else layers[-1]
    directions = ["forward", "backward"] if states.bidirectional else ["forward"]
    direction = direction if direction in directions else "forward"
    chosen = states.get(layer=layer, direction=direction)
    running = found.running_prediction_table()
    return MemoryView(
        running=running, states=found.state_table(), layer=layer, direction=direction, layers=layers, directions=directions,
        has_gates=bool(chosen.gates), sentence=running_sentence(running), notes=list(found.notes),
    )


def running_sentence(running: pd.DataFrame) -> str:
    """Says where the running prediction moved most and where it ended.

    Args:
        running: `running_prediction_table` rows (token, probability, change, class_name).
    """
    if running.empty:
        return ""
    biggest = running.loc[running["change"].abs().idxmax()]
    class_name = str(running["class_name"].iloc[-1])
    return words.running_prediction_sentence(
        class_name, float(running["probability"].iloc[-1]), str(biggest["token"]),
        int(biggest["position"]) + 1, float(biggest["change"]))


# ---------------------------------------------------------------- words
def attribution_sentence(table: pd.DataFrame, value: str = "attribution") -> str:
    """Says which token mattered most to each run (by `value`), in one sentence.

    Args:
        table: `seqlab.attribution.attribution_table` rows of the runs shown.
        value: "attribution" (integrated gradients) or "occlusion".
    """
    if table.empty:
        return ""
    tops = []
    for _, rows in table.groupby("run_id", sort=False):
        top = rows.loc[rows[value].idxmax()]
        tops.append((str(top["label"]), str(top["token"]), str(top["class_name"])))
    return words.top_tokens_sentence(tops)


# ------------------------------------------------------------- gradients
# Test texts whose gradients are averaged: enough for a smooth line, quick on a CPU.
GRADIENT_TEXTS = 128


def gradient_texts(dataset, limit: int = GRADIENT_TEXTS) -> tuple[list[str], list[int]]:
    """Returns the first `limit` test texts of a dataset and their labels (what the gradients are read on)."""
    return list(dataset.test_texts[:limit]), [int(label) for label in dataset.test_labels[:limit]]


def gradient_sentence(table: pd.DataFrame, far: int = 10) -> str:
    """Says, per run, how much of its gradient at the last token is left `far` tokens back and further.

    Args:
        table: `seqlab.attribution.gradient_by_position_table` rows.
        far: the distance from the end compared with the end; short texts
            (toy sentences) compare half their longest distance instead.
    """
    if table.empty:
        return ""
    far = max(1, min(far, int(table["distance_from_end"].max()) // 2))
    kept = []
    for _, rows in table.groupby("run_id", sort=False):
        back = rows[rows["distance_from_end"] >= far]
        if len(back):
            kept.append((str(rows["label"].iloc[0]), float(back["relative_gradient_norm"].mean())))
    return words.gradient_left_sentence(kept, far)


# ---------------------------------------------------------------- errors
@dataclass
class ErrorsView:
    """What the errors tab draws for one run.

    Attributes:
        confusion: `confusion_table` of the run's test predictions.
        mistakes: its most confident mistakes (`misclassified_table`).
        sentence: accuracy, how many texts were predicted and the commonest mistake.
    """

    confusion: pd.DataFrame
    mistakes: pd.DataFrame
    sentence: str


def errors_view(predictions, limit: int = MISTAKES_SHOWN) -> ErrorsView:
    """Turns a run's test predictions into its confusion matrix and its worst mistakes.

    Args:
        predictions: a `seqlab.inference.TestPredictions`.
        limit: the most mistakes listed.

    Returns:
        The `ErrorsView`.
    """
    confusion = confusion_table(predictions.labels, predictions.predicted, predictions.class_names)
    mistakes = misclassified_table(predictions.texts, predictions.labels, predictions.probabilities,
                                   predictions.class_names, limit=limit)
    wrong = confusion[~confusion["correct"]]
    commonest = wrong.loc[wrong["count"].idxmax()] if len(wrong) and wrong["count"].max() > 0 else None
    sentence = words.errors_sentence(
        predictions.label, float(predictions.accuracy), len(predictions.texts), predictions.test_size,
        None if commonest is None else (str(commonest["true"]), str(commonest["predicted"]),
                                        int(commonest["count"])))
    return ErrorsView(confusion=confusion, mistakes=mistakes, sentence=sentence)


def other_runs(runs: dict[str, str], run_id: str) -> dict[str, str]:
    """Returns the runs to compare `run_id`'s mistakes with (every other one)."""
    return {other: label for other, label in runs.items() if other != run_id}

