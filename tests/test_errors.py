"""Where models err: the confusion matrix, the most confident mistakes, two runs' disagreements,
a run's predictions on its own test split (equal to its stored test accuracy), and the chart.

Two tiny runs on the toy set (a Transformer and an LSTM, same data and seed, so the
same test split) come from the session's `toy_runs` (tests/conftest.py), trained once.
"""

import numpy as np
import pandas as pd
import pytest

from seqlab import inference
from seqlab.analysis.errors import (
    confusion_table, disagreement_table, misclassified_table, predicted_classes,
)
from seqlab.config import RunConfig
from seqlab.data import load_dataset
from seqlab.error_charts import confusion_chart
from seqlab.store import RunStore

TINY = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 2, "train.batch_size": 32, "train.jit_compile": False,
}
CLASSES = ("negative", "positive")


@pytest.fixture(scope="module")
def trained_home(toy_runs):
    """(home, {arch: run_id}) of the session's tiny Transformer and LSTM on one toy split (read-only)."""
    home, runs = toy_runs
    return home, {arch: runs[arch] for arch in ("transformer", "lstm")}


@pytest.fixture
def trained(trained_home):
    """(store, runs) on the shared trained store (not to be changed)."""
    home, runs = trained_home
    return RunStore(home), runs


@pytest.fixture
def trained_copy(trained_home, tmp_path, copy_runs):
    """(store, runs) on a copy of the trained store, for tests that add or delete runs."""
    home, runs = copy_runs(trained_home, tmp_path / "copy")
    return RunStore(home), runs


@pytest.fixture(scope="module")
def whole_split(trained_home):
    """The Transformer's predictions on its whole test split."""
    home, runs = trained_home
    return inference.test_predictions(RunStore(home), runs["transformer"], limit=None)


# ------------------------------------------------------------ the tables alone
def test_confusion_counts_each_pair_with_every_cell_in_class_order():
    table = confusion_table([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], CLASSES)
    assert list(zip(table["true"], table["predicted"], table["count"])) == [
        ("negative", "negative", 1), ("negative", "positive", 1),
        ("positive", "negative", 1), ("positive", "positive", 2)]


def test_confusion_shares_of_each_true_class_sum_to_one():
    table = confusion_table([0, 0, 0, 1, 2, 2], [0, 2, 2, 1, 1, 2], ("a", "b", "c"))
    np.testing.assert_allclose(table.groupby("true")["share"].sum(), 1.0)
    assert table.loc[(table["true"] == "a") & (table["predicted"] == "c"), "share"].item() == pytest.approx(2 / 3)


def test_confusion_keeps_empty_cells_and_gives_a_class_without_examples_no_share():
    table = confusion_table([0, 0], [0, 0], ("a", "b", "c"))
    assert len(table) == 9 and table["count"].sum() == 2
    assert table.loc[table["true"] == "b", "share"].isna().all()


def test_confusion_refuses_class_ids_out_of_range():
    with pytest.raises(ValueError, match=r"predicted: received class ids from 0 to 2, expected 0 to 1"):
        confusion_table([0, 1], [0, 2], CLASSES)


def test_confusion_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"received 3 labels, 2 predicted"):
        confusion_table([0, 1, 1], [0, 1], CLASSES)


def test_predicted_classes_take_the_highest_probability():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    assert predicted_classes(probabilities).tolist() == [0, 1, 0]  # a tie: the first, as Keras's > 0.5


def test_misclassified_lists_only_mistakes_most_confident_first():
    texts = ["right", "a little wrong", "very wrong", "wrong", "also right"]
    labels = [0, 0, 1, 1, 1]
    probabilities = np.array([[0.8, 0.2], [0.45, 0.55], [0.95, 0.05], [0.7, 0.3], [0.1, 0.9]])
    table = misclassified_table(texts, labels, probabilities, CLASSES)
    assert table["text"].tolist() == ["very wrong", "wrong", "a little wrong"]
    assert table["confidence"].is_monotonic_decreasing
    first = table.iloc[0]
    assert (first["index"], first["true"], first["predicted"]) == (2, "positive", "negative")
    assert first["predicted_probability"] == pytest.approx(0.95)
    assert first["true_probability"] == pytest.approx(0.05)
    assert first["confidence"] == pytest.approx(0.90)


def test_misclassified_stops_at_its_limit():
    probabilities = np.tile([[0.9, 0.1]], (6, 1))
    table = misclassified_table([f"text {i}" for i in range(6)], [1] * 6, probabilities, CLASSES, limit=4)
    assert table["index"].tolist() == [0, 1, 2, 3]  # equal confidence: split order


def test_misclassified_refuses_probabilities_of_another_shape():
    with pytest.raises(ValueError, match=r"probabilities: received shape \(2,\), expected \(examples, 2\)"):
        misclassified_table(["a", "b"], [0, 1], np.array([0.2, 0.8]), CLASSES)


def test_misclassified_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match=r"limit: received 0, expected a whole number >= 1"):
        misclassified_table(["a"], [0], np.array([[0.2, 0.8]]), CLASSES, limit=0)


def test_disagreement_lists_each_run_right_where_the_other_is_wrong():
    texts = ["both right", "only A right", "only B right", "both wrong", "A much better"]
    labels = [1, 0, 1, 0, 1]
    run_a = np.array([[0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]])
    run_b = np.array([[0.1, 0.9], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8], [0.6, 0.4]])
    table = disagreement_table(texts, labels, run_a, run_b, CLASSES, names=("gru", "lstm"))
    assert table["text"].tolist() == ["A much better", "only A right", "only B right"]
    assert table["right"].tolist() == ["gru", "gru", "lstm"]
    assert table["wrong"].tolist() == ["lstm", "lstm", "gru"]
    assert table["predicted_a"].tolist() == ["positive", "negative", "negative"]
    assert table["predicted_b"].tolist() == ["negative", "positive", "positive"]
    np.testing.assert_allclose(table["true_probability_a"], [0.9, 0.6, 0.3])
    np.testing.assert_allclose(table["true_probability_b"], [0.4, 0.4, 0.65])
    np.testing.assert_allclose(table["difference"], [0.5, 0.2, 0.35])


def test_disagreement_limit_applies_to_each_direction():
    labels = [0, 0, 0, 1, 1, 1]
    run_a = np.array([[0.9, 0.1]] * 3 + [[0.9, 0.1]] * 3)  # right on the first three only
    run_b = np.array([[0.1, 0.9]] * 3 + [[0.1, 0.9]] * 3)  # right on the last three only
    table = disagreement_table(list("abcdef"), labels, run_a, run_b, CLASSES, limit=2)
    assert table["right"].tolist() == ["A", "A", "B", "B"]


def test_disagreement_refuses_two_runs_of_different_lengths():
    with pytest.raises(ValueError, match=r"received 2 texts, 2 labels, 3 predictions_b"):
        disagreement_table(["a", "b"], [0, 1], np.full((2, 2), 0.5), np.full((3, 2), 0.5), CLASSES)


# ------------------------------------------------------- a run's test split
def correct_counts(predictions, stored_accuracy: float) -> tuple[int, int]:
    """(examples right by the recomputed predictions, by the stored accuracy, a float32 from Keras)."""
    return (int(np.sum(predictions.predicted == predictions.labels)),
            round(stored_accuracy * predictions.test_size))


def test_recomputed_accuracy_equals_the_stored_test_accuracy(trained, whole_split):
    store, runs = trained
    record = store.get_run(runs["transformer"])
    assert whole_split.complete
    recomputed, stored = correct_counts(whole_split, record.test_accuracy)
    assert recomputed == stored
    assert whole_split.accuracy == pytest.approx(record.test_accuracy, abs=1e-6)


def test_recomputed_accuracy_equals_the_stored_one_for_a_recurrent_run(trained):
    store, runs = trained
    predictions = inference.test_predictions(store, runs["lstm"], limit=None)
    recomputed, stored = correct_counts(predictions, store.get_run(runs["lstm"]).test_accuracy)
    assert recomputed == stored


def write_three_classes(path, rows: int = 240) -> None:
    """A CSV of three classes, each told by its own words."""
    words = {"sports": "match goal team", "science": "atom cell theory", "music": "song band chord"}
    lines = ["text,label"] + [f"{' '.join(np.random.default_rng(i).permutation(words[name].split()))} "
                              f"today,{name}" for i in range(rows) for name in [list(words)[i % 3]]]
    path.write_text("\n".join(lines) + "\n")


def test_recomputed_accuracy_equals_the_stored_one_for_three_classes(store, tmp_path):
    from seqlab.jobs import train_foreground

    path = tmp_path / "topics.csv"
    write_three_classes(path)
    record = train_foreground(RunConfig().with_overrides({
        **TINY, "data.dataset": str(path), "model.arch": "baseline", "train.epochs": 1}), store)
    predictions = inference.test_predictions(store, record.run_id, limit=None)
    assert predictions.probabilities.shape == (predictions.test_size, 3)
    recomputed, stored = correct_counts(predictions, record.test_accuracy)
    assert recomputed == stored


def test_test_predictions_refuse_a_data_file_changed_since_training(store, tmp_path):
    from seqlab.jobs import train_foreground

    path = tmp_path / "topics.csv"
    write_three_classes(path)
    record = train_foreground(RunConfig().with_overrides({
        **TINY, "data.dataset": str(path), "model.arch": "baseline", "train.epochs": 1}), store)
    write_three_classes(path, rows=120)
    with pytest.raises(ValueError, match=r"now gives \d+ test examples, expected the \d+"):
        inference.test_predictions(store, record.run_id)


def test_test_predictions_read_the_split_training_tested(trained, whole_split):
    store, runs = trained
    config = store.get_run(runs["transformer"]).config
    dataset = load_dataset(config.data, config.seed)
    assert whole_split.texts == dataset.test_texts
    np.testing.assert_array_equal(whole_split.labels, dataset.test_labels)
    assert whole_split.test_size == store.read_meta(runs["transformer"])["examples"]["test"]


def test_confusion_of_a_run_sums_to_its_test_set_size(whole_split):
    table = confusion_table(whole_split.labels, whole_split.predicted, whole_split.class_names)
    assert table["count"].sum() == whole_split.test_size == len(whole_split.labels)


def test_a_run_has_as_many_mistakes_as_its_accuracy_says(whole_split):
    table = misclassified_table(whole_split.texts, whole_split.labels, whole_split.probabilities,
                                whole_split.class_names, limit=None)
    assert len(table) == round((1 - whole_split.accuracy) * whole_split.test_size)


def test_a_bounded_prediction_reads_the_same_sample_in_split_order(trained, whole_split):
    store, runs = trained
    first = inference.test_predictions(store, runs["transformer"], limit=50)
    again = inference.test_predictions(store, runs["transformer"], limit=50)
    assert len(first.texts) == 50 and not first.complete and first.test_size == whole_split.test_size
    np.testing.assert_array_equal(first.indices, again.indices)
    assert np.all(np.diff(first.indices) > 0)
    assert first.texts == [whole_split.texts[i] for i in first.indices]
    np.testing.assert_allclose(first.probabilities, whole_split.probabilities[first.indices], atol=1e-6)


def test_test_predictions_refuse_a_limit_below_one(trained):
    store, runs = trained
    with pytest.raises(ValueError, match=r"limit: received 0, expected a whole number >= 1"):
        inference.test_predictions(store, runs["transformer"], limit=0)


def test_test_predictions_of_a_run_without_a_model_say_so(store):
    run_id = store.create_run(RunConfig().with_overrides(TINY))
    with pytest.raises(ValueError, match=r"has no saved model: its status is queued"):
        inference.test_predictions(store, run_id)


def test_two_runs_on_one_split_disagree_where_exactly_one_is_right(trained):
    store, runs = trained
    table = inference.test_disagreements(store, runs["transformer"], runs["lstm"], sample=None)
    labels = {store.get_run(run_id).label: arch for arch, run_id in runs.items()}
    for row in table.itertuples():
        right_column = "predicted_a" if labels[row.right] == "transformer" else "predicted_b"
        wrong_column = "predicted_b" if right_column == "predicted_a" else "predicted_a"
        assert getattr(row, right_column) == row.true != getattr(row, wrong_column)


def test_two_runs_on_different_splits_are_not_compared(trained_copy):
    from seqlab.jobs import train_foreground

    store, runs = trained_copy
    other = train_foreground(RunConfig().with_overrides({**TINY, "model.arch": "baseline",
                                                         "train.epochs": 1, "seed": 7}), store)
    try:
        with pytest.raises(ValueError, match=r"received different test splits"):
            inference.test_disagreements(store, runs["transformer"], other.run_id)
    finally:
        store.delete_run(other.run_id)


# ---------------------------------------------------------------- the chart
def test_confusion_chart_labels_every_class_and_prints_every_count():
    table = confusion_table([0, 1, 2, 2], [0, 2, 2, 1], ("bad", "neutral", "a rather long class name"))
    spec = confusion_chart(table).to_dict()
    cells, counts = spec["layer"]
    assert spec["width"] == "container"
    assert cells["encoding"]["y"]["sort"] == ["bad", "neutral", "a rather long class name"]
    assert cells["encoding"]["x"]["axis"]["labelOverlap"] is False
    assert counts["mark"]["type"] == "text" and counts["encoding"]["text"]["field"] == "count"


def test_confusion_chart_of_an_empty_table_says_no_data():
    spec = confusion_chart(pd.DataFrame()).to_dict()
    assert spec["mark"]["type"] == "text"
