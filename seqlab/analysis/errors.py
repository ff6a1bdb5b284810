"""Where a model errs on its test split: the confusion matrix, its worst mistakes, and two runs' disagreements.

Pure pandas/NumPy on what a run predicted (`seqlab.inference.test_predictions`
gives the texts, labels and class probabilities), so the tables are tested
without a model and a page draws them without TensorFlow.

A run predicts the class it gives the highest probability (for a binary run,
class 1 when P(class 1) > 0.5, the rule Keras's accuracy uses), so the
accuracy these tables imply is the run's test accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CONFUSION_COLUMNS = ("true", "predicted", "count", "share", "correct")
MISCLASSIFIED_COLUMNS = ("index", "text", "true", "predicted", "predicted_probability",
                         "true_probability", "confidence")
DISAGREEMENT_COLUMNS = ("index", "text", "true", "right", "wrong", "predicted_a", "predicted_b",
                        "true_probability_a", "true_probability_b", "difference")
# Mistakes a table lists unless told otherwise: a page shows them as one table.
MISCLASSIFIED_LIMIT = 20


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """Returns the class each row of probabilities predicts: (n,) int64, the first on ties.

    Args:
        probabilities: (n, C) class probabilities, C at least 2.

    Raises:
        ValueError: if the probabilities are not (n, C) with C at least 2.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(
            f"probabilities: received shape {values.shape}, expected (examples, classes) with at "
            f"least 2 classes, e.g. TestPredictions.probabilities"
        )
    return np.argmax(values, axis=1).astype(np.int64)


def confusion_table(labels: Sequence[int], predicted: Sequence[int],
                    class_names: Sequence[str]) -> pd.DataFrame:
    """Counts each (true class, predicted class) pair: the confusion matrix, one row per cell.

    Every cell is present, empty ones with count 0, in class order (true
    class first), so a heatmap of it is complete and its counts sum to the
    number of examples.

    Args:
        labels: (n,) true class ids, 0 .. C-1.
        predicted: (n,) predicted class ids, 0 .. C-1 (see `predicted_classes`).
        class_names: the C class names, in id order.

    Returns:
        DataFrame with C x C rows: `true`, `predicted` (class names), `count`
        (int), `share` (count over the true class's examples: each true
        class's row of shares sums to 1; NaN for a class without examples)
        and `correct` (true == predicted).

    Raises:
        ValueError: if the ids are not whole numbers in 0 .. C-1, the two
            arrays differ in length, or fewer than 2 classes are named.
    """
    names = _class_names(class_names)
    true_ids = _class_ids(labels, len(names), "labels")
    predicted_ids = _class_ids(predicted, len(names), "predicted")
    _same_length(("labels", true_ids), ("predicted", predicted_ids))
    num_classes = len(names)
    counts = np.bincount(true_ids * num_classes + predicted_ids,
                         minlength=num_classes * num_classes).reshape(num_classes, num_classes)  # (C, C)
    totals = counts.sum(axis=1, keepdims=True)  # (C, 1) examples per true class
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)  # (C, C)
    true_index, predicted_index = (index.ravel() for index in np.indices(counts.shape))
    name_array = np.array(names, dtype=object)
    return pd.DataFrame({
        "true": name_array[true_index],
        "predicted": name_array[predicted_index],
        "count": counts.ravel().astype(np.int64),
        "share": shares.ravel(),
        "correct": true_index == predicted_index,
    })


def misclassified_table(texts: Sequence[str], labels: Sequence[int], probabilities: np.ndarray,
                        class_names: Sequence[str],
                        limit: int | None = MISCLASSIFIED_LIMIT) -> pd.DataFrame:
    """Lists the examples a run got wrong, the most confident mistakes first.

    Args:
        texts: the n texts.
        labels: (n,) their true class ids.
        probabilities: (n, C) the run's class probabilities for them.
        class_names: the C class names, in id order.
        limit: the most rows returned (None: every mistake).

    Returns:
        DataFrame, one row per mistake: `index` (the example's position in
        `texts`), `text`, `true` and `predicted` (class names),
        `predicted_probability` (what the run gave the class it chose),
        `true_probability` (what it gave the right class) and `confidence`
        (their difference, 0 to 1: how far the wrong class won by), sorted
        by confidence, then predicted probability, largest first, then by
        index.

    Raises:
        ValueError: for mismatched lengths, probabilities that are not
            (n, C), ids out of range, or a limit below 1.
    """
    names = _class_names(class_names)
    values, true_ids, text_list = _predictions(texts, labels, probabilities, names)
    _check_limit(limit)
    predicted_ids = predicted_classes(values)
    rows = np.arange(len(true_ids))
    predicted_probability = values[rows, predicted_ids]
    true_probability = values[rows, true_ids]
    wrong = np.flatnonzero(predicted_ids != true_ids)
    name_array = np.array(names, dtype=object)
    table = pd.DataFrame({
        "index": wrong.astype(np.int64),
        "text": [text_list[i] for i in wrong],
        "true": name_array[true_ids[wrong]],
        "predicted": name_array[predicted_ids[wrong]],
        "predicted_probability": predicted_probability[wrong],
        "true_probability": true_probability[wrong],
        "confidence": predicted_probability[wrong] - true_probability[wrong],
    }, columns=list(MISCLASSIFIED_COLUMNS))
    table = table.sort_values(["confidence", "predicted_probability", "index"],
                              ascending=[False, False, True], kind="stable", ignore_index=True)
    return table if limit is None else table.head(limit)


def disagreement_table(texts: Sequence[str], labels: Sequence[int], predictions_a: np.ndarray,
                       predictions_b: np.ndarray, class_names: Sequence[str],
                       names: tuple[str, str] = ("A", "B"),
                       limit: int | None = None) -> pd.DataFrame:
    """Lists the examples one run gets right and the other wrong, both ways.

    Both runs must have predicted the same texts in the same order (two
    runs on one dataset recipe and seed share their test split;
    `seqlab.inference.test_disagreements` checks it).

    Args:
        texts: the n texts both runs predicted.
        labels: (n,) their true class ids.
        predictions_a: (n, C) run A's class probabilities.
        predictions_b: (n, C) run B's class probabilities.
        class_names: the C class names, in id order.
        names: what to call the two runs in the `right` and `wrong` columns
            (e.g. their labels).
        limit: the most rows of each direction (None: all).

    Returns:
        DataFrame, one row per example exactly one run got right: `index`,
        `text`, `true` (class name), `right` and `wrong` (the names of the
        run that got it right and the one that did not), `predicted_a`,
        `predicted_b` (class names), `true_probability_a`,
        `true_probability_b` (what each gave the right class) and
        `difference` (how much more the right run gave it). A-right rows
        first, then B-right rows, each sorted by difference, largest first,
        then by index.

    Raises:
        ValueError: for mismatched lengths or classes, probabilities that
            are not (n, C), two names that are equal, or a limit below 1.
    """
    class_list = _class_names(class_names)
    values_a, true_ids, text_list = _predictions(texts, labels, predictions_a, class_list, "predictions_a")
    values_b, _, _ = _predictions(texts, labels, predictions_b, class_list, "predictions_b")
    _check_limit(limit)
    if len(names) != 2 or str(names[0]) == str(names[1]):
        raise ValueError(
            f"names: received {names!r}, expected two different names for runs A and B "
            f"(e.g. their labels, or ('A', 'B'))"
        )
    name_a, name_b = str(names[0]), str(names[1])
    rows = np.arange(len(true_ids))
    predicted_a, predicted_b = predicted_classes(values_a), predicted_classes(values_b)
    right_a, right_b = predicted_a == true_ids, predicted_b == true_ids
    true_a, true_b = values_a[rows, true_ids], values_b[rows, true_ids]
    name_array = np.array(class_list, dtype=object)
    parts = []
    for chosen, right, wrong, difference in (
        (np.flatnonzero(right_a & ~right_b), name_a, name_b, true_a - true_b),
        (np.flatnonzero(right_b & ~right_a), name_b, name_a, true_b - true_a),
    ):
        part = pd.DataFrame({
            "index": chosen.astype(np.int64),
            "text": [text_list[i] for i in chosen],
            "true": name_array[true_ids[chosen]],
            "right": right,
            "wrong": wrong,
            "predicted_a": name_array[predicted_a[chosen]],
            "predicted_b": name_array[predicted_b[chosen]],
            "true_probability_a": true_a[chosen],
            "true_probability_b": true_b[chosen],
            "difference": difference[chosen],
        }, columns=list(DISAGREEMENT_COLUMNS))
        part = part.sort_values(["difference", "index"], ascending=[False, True], kind="stable")
        parts.append(part if limit is None else part.head(limit))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- helpers
def _class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(name) for name in class_names]
    if len(names) < 2:
        raise ValueError(
            f"class_names: received {names!r}, expected at least 2 class names in id order "
            f"(the run's class_names)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"class_names: received {names!r}, expected every name once")
    return names


def _class_ids(values: Sequence[int], num_classes: int, name: str) -> np.ndarray:
    """Returns `values` as (n,) int64 class ids, or says what is wrong with them."""
    array = np.asarray(values)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"{name}: received {array.dtype} array of shape {array.shape}, expected (examples,) "
            f"integer class ids"
        )
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{name}: received class ids from {array.min()} to {array.max()}, expected 0 to "
            f"{num_classes - 1} (one per class name)"
        )
    return array.astype(np.int64)


def _same_length(*arrays: tuple[str, Sequence]) -> None:
    lengths = {name: len(values) for name, values in arrays}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"received {', '.join(f'{length} {name}' for name, length in lengths.items())}; "
            f"expected one of each per example"
        )


def _predictions(texts: Sequence[str], labels: Sequence[int], probabilities: np.ndarray,
                 class_names: list[str], name: str = "probabilities",
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Checks one run's predictions: (n, C) float64 probabilities, (n,) ids, the n texts."""
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(class_names):
        raise ValueError(
            f"{name}: received shape {values.shape}, expected (examples, {len(class_names)}): one "
            f"probability per class name, e.g. TestPredictions.probabilities"
        )
    true_ids = _class_ids(labels, len(class_names), "labels")
    text_list = [str(text) for text in texts]
    _same_length(("texts", text_list), ("labels", true_ids), (name, values))
    return values, true_ids, text_list


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise ValueError(f"limit: received {limit!r}, expected a whole number >= 1, or None for all rows")
