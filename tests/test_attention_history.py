"""Attention over training: a Transformer run records its probe texts' attention after every
epoch through `seqlab.training`, the store keeps it in one file written whole, and a reader
gives it back as the tables the attention heatmaps draw.

A tiny two-layer Transformer (3 epochs) and a tiny LSTM come from the session's
`toy_deep_runs` (tests/conftest.py, which holds the recipe), trained once; tests that
delete a run work on a copy of that store.
"""

import numpy as np
import pytest

from seqlab import attention_charts
from seqlab.attention import (
    PROBE_TEXTS, AttentionHistory, attention_history, attention_history_table, attention_table,
    probe_rows,
)
from seqlab.config import RunConfig
from seqlab.data import load_dataset
from seqlab.inference import attention_map, load_trained
from seqlab.store import ATTENTION_HISTORY_FILE, RunStore

EPOCHS = 3
NUM_LAYERS = 2
NUM_HEADS = 2
TINY = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_layers": NUM_LAYERS, "model.num_heads": NUM_HEADS,
    "model.key_dim": 4, "model.ff_dim": 8, "train.epochs": EPOCHS, "train.batch_size": 32,
    "train.jit_compile": False,
    # Large steps, so three epochs visibly move the attention.
    "train.learning_rate": 0.01,
}
# float16 keeps about 3 significant digits per weight.
ROW_SUM_TOLERANCE = 5e-3


@pytest.fixture(scope="module")
def trained_home(toy_deep_runs):
    """(home, {arch: run_id}) of the session's tiny Transformer (3 epochs) and tiny LSTM (read-only)."""
    home, runs = toy_deep_runs
    config = RunStore(home).get_run(runs["transformer"]).config
    # The shapes and epochs these tests expect are the shared recipe's.
    assert (config.train.epochs, config.model.num_layers, config.model.num_heads) == (EPOCHS, NUM_LAYERS, NUM_HEADS)
    return home, runs


@pytest.fixture
def trained(trained_home):
    """(store, runs) on the shared trained store (not to be changed)."""
    home, runs = trained_home
    return RunStore(home), runs


@pytest.fixture
def trained_copy(trained_home, tmp_path, copy_runs):
    """(store, runs) on a copy of the trained store, for tests that delete runs."""
    home, runs = copy_runs(trained_home, tmp_path / "copy")
    return RunStore(home), runs


@pytest.fixture
def history(trained):
    store, runs = trained
    found = attention_history(store, runs["transformer"])
    assert found is not None
    return found


def softmax_scores(ids: np.ndarray, num_layers: int = 1, num_heads: int = 2, masked: bool = True,
                   seed: int = 0) -> np.ndarray:
    """(layers, K, heads, T, T) weights shaped as AttentionProbe gives them, rows summing to 1."""
    rng = np.random.default_rng(seed)
    count, length = ids.shape
    logits = rng.normal(size=(num_layers, count, num_heads, length, length))
    if masked:
        logits = np.where((ids != 0)[np.newaxis, :, np.newaxis, np.newaxis, :], logits, -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    if masked:  # padding queries read nothing
        weights = weights * (ids != 0)[np.newaxis, :, np.newaxis, :, np.newaxis]
    return weights.astype(np.float32)


def small_history(masked: bool = True) -> tuple[AttentionHistory, np.ndarray]:
    """A history of two probe texts (3 and 5 of 6 tokens, post-padded) with epoch 1 recorded."""
    ids = np.array([[4, 5, 6, 0, 0, 0], [7, 8, 9, 10, 11, 0]])
    tokens = [["a", "b", "c", "", "", ""], ["d", "e", "f", "g", "h", ""]]
    history = AttentionHistory.start("r1", ["a b c", "d e f g h"], ids, tokens)
    scores = softmax_scores(ids, masked=masked)
    history.record(1, scores)
    return history, scores


# ----------------------------------------------------- recorded by training
def test_a_transformer_run_records_every_epoch_of_its_probe_texts(history):
    assert history.epochs.tolist() == [1, 2, 3]
    assert len(history.texts) == PROBE_TEXTS
    for probe, tokens in enumerate(history.tokens):
        size = len(tokens)
        assert history.layer_means[probe].shape == (EPOCHS, NUM_LAYERS, size, size)
        assert history.last_layer_heads[probe].shape == (EPOCHS, NUM_HEADS, size, size)


def test_probes_are_the_runs_first_validation_texts_as_the_model_read_them(trained, history):
    # Every toy text is shorter than PROBE_MAX_TOKENS: the probes are the first ones.
    store, runs = trained
    config = store.get_run(runs["transformer"]).config
    dataset = load_dataset(config.data, config.seed)
    vectorizer = load_trained(store, runs["transformer"]).vectorizer
    assert history.texts == dataset.val_texts[:PROBE_TEXTS]
    for text, tokens, positions in zip(history.texts, history.tokens, history.positions):
        ids = vectorizer.encode([text])[0]  # (T,)
        assert positions.tolist() == np.flatnonzero(ids).tolist()
        assert tokens == [vectorizer.tokens(ids)[i] for i in positions]


def test_recorded_rows_sum_to_one_over_real_tokens(history):
    for means, heads in zip(history.layer_means, history.last_layer_heads):
        np.testing.assert_allclose(means.astype(np.float64).sum(axis=-1), 1.0, atol=ROW_SUM_TOLERANCE)
        np.testing.assert_allclose(heads.astype(np.float64).sum(axis=-1), 1.0, atol=ROW_SUM_TOLERANCE)


def test_the_epoch_one_map_differs_from_the_last(history):
    for means in history.layer_means:
        change = np.abs(means[-1].astype(np.float64) - means[0].astype(np.float64)).max()
        assert change > 1e-2


def test_the_kept_epochs_map_is_the_saved_models_attention(trained, history):
    store, runs = trained
    record = store.get_run(runs["transformer"])
    kept = record.best_epoch or EPOCHS  # the saved weights: the best epoch's with restore_best
    for probe, text in enumerate(history.texts):
        recorded = history.table(probe, epoch=kept)
        read_now = attention_map(store, runs["transformer"], text).table
        merged = recorded.merge(read_now, on=["layer", "head", "query_position", "key_position"],
                                suffixes=("_recorded", "_now"))
        assert len(merged) == len(recorded)
        np.testing.assert_allclose(merged["weight_recorded"], merged["weight_now"], atol=2e-3)


def test_a_recurrent_run_records_no_attention(trained):
    store, runs = trained
    assert store.read_attention_history(runs["lstm"]) is None
    assert attention_history(store, runs["lstm"]) is None


def test_a_deleted_run_has_no_attention_history(trained_copy):
    store, runs = trained_copy
    store.delete_run(runs["transformer"])
    assert attention_history(store, runs["transformer"]) is None


def test_an_unknown_run_has_no_attention_history(store):
    assert attention_history(store, "r20000101-000000-0000") is None


# ------------------------------------------------------------ the file
def test_the_history_file_round_trips(store):
    history, _ = small_history()
    run_id = store.create_run(RunConfig().with_overrides(TINY))
    store.write_attention_history(run_id, history.to_arrays())
    read = attention_history(store, run_id)
    assert (read.texts, read.tokens, read.key_counts) == (history.texts, history.tokens, history.key_counts)
    assert read.epochs.tolist() == [1]
    for before, after in zip(history.layer_means + history.last_layer_heads,
                             read.layer_means + read.last_layer_heads):
        np.testing.assert_array_equal(before, after)


def test_the_history_file_is_written_whole_without_leftovers(store):
    history, _ = small_history()
    run_id = store.create_run(RunConfig().with_overrides(TINY))
    for _ in range(2):
        store.write_attention_history(run_id, history.to_arrays())
    assert [path.name for path in store.artifact_dir(run_id).iterdir()] == [ATTENTION_HISTORY_FILE]


def test_the_store_refuses_object_arrays(store):
    run_id = store.create_run(RunConfig().with_overrides(TINY))
    with pytest.raises(ValueError, match=r"received object arrays texts, expected arrays of numbers"):
        store.write_attention_history(run_id, {"texts": np.array(["a", None], dtype=object)})


def test_an_unreadable_history_file_reads_as_none(store):
    run_id = store.create_run(RunConfig().with_overrides(TINY))
    (store.artifact_dir(run_id) / ATTENTION_HISTORY_FILE).write_bytes(b"not a zip file")
    assert attention_history(store, run_id) is None


# ---------------------------------------------------- the history alone
def padded(lengths: list[int], length: int = 8) -> np.ndarray:
    """(N, length) ids with these numbers of real tokens, post-padded."""
    return np.array([[5] * size + [0] * (length - size) for size in lengths])


def test_probes_are_the_first_short_texts_with_a_real_token():
    assert probe_rows(padded([0, 7, 2, 8, 3, 1]), count=3, max_tokens=4).tolist() == [2, 4, 5]


def test_the_shortest_long_texts_make_up_for_too_few_short_ones():
    assert probe_rows(padded([8, 6, 2, 7, 6]), count=3, max_tokens=4).tolist() == [1, 2, 4]


def test_a_split_without_real_tokens_gives_no_probe():
    assert probe_rows(padded([0, 0]), count=3).tolist() == []


def test_recording_keeps_only_real_tokens_averaging_heads_per_layer():
    history, scores = small_history()
    real = [0, 1, 2, 3, 4]
    expected = scores[:, 1][:, :, real][:, :, :, real]  # (layers, heads, R, R)
    np.testing.assert_allclose(history.layer_means[1][0], expected.mean(axis=1), atol=1e-3)
    np.testing.assert_allclose(history.last_layer_heads[1][0], expected[-1], atol=1e-3)


def test_recording_an_epoch_again_replaces_it():
    history, scores = small_history()
    history.record(2, scores)
    history.record(2, scores[::-1] * 0 + 0.5)
    assert history.epochs.tolist() == [1, 2]
    assert np.all(history.layer_means[0][1] == np.float16(0.5))


def test_an_unmasked_run_spreads_its_rows_over_every_position():
    history, _ = small_history(masked=False)
    assert history.key_counts == [6, 6]
    table = history.table(0)
    np.testing.assert_allclose(table["relative_weight"], table["weight"] * 6)


def test_recording_refuses_scores_of_other_probes():
    history, scores = small_history()
    with pytest.raises(ValueError, match=r"received shape \(1, 1, 2, 6, 6\), expected \(layers, 2, heads, 6, 6\)"):
        history.record(2, scores[:, :1])


def test_the_table_has_attention_tables_format_and_the_inputs_positions():
    ids = np.array([[0, 0, 4, 5, 6]])  # pre-padded: real tokens at positions 2..4
    history = AttentionHistory.start("r1", ["a b c"], ids, [["", "", "a", "b", "c"]])
    scores = softmax_scores(ids, num_layers=2)
    history.record(1, scores)
    table = history.table(0, layer=2)
    reference = attention_table(scores[:, 0], ["", "", "a", "b", "c"])
    reference = reference[reference["layer"] == 2].reset_index(drop=True)
    assert list(table.columns) == list(reference.columns)
    assert (table.dtypes == reference.dtypes).all()
    for column in ("layer", "head", "query_position", "key_position", "query_token", "key_token"):
        assert table[column].tolist() == reference[column].tolist()
    np.testing.assert_allclose(table["weight"], reference["weight"], atol=1e-3)


def test_earlier_layers_have_their_mean_head_only():
    ids = np.array([[4, 5, 6]])
    history = AttentionHistory.start("r1", ["a b c"], ids, [["a", "b", "c"]])
    history.record(1, softmax_scores(ids, num_layers=2))
    table = attention_history_table(history, 0, 1)
    assert set(table.loc[table["layer"] == 1, "head"]) == {"mean"}
    assert set(table.loc[table["layer"] == 2, "head"]) == {"1", "2", "mean"}


def test_a_head_of_an_earlier_layer_is_refused_with_what_there_is():
    ids = np.array([[4, 5, 6]])
    history = AttentionHistory.start("r1", ["a b c"], ids, [["a", "b", "c"]])
    history.record(1, softmax_scores(ids, num_layers=2))
    with pytest.raises(ValueError, match=r"heads are recorded for the last layer \(2\) only"):
        history.table(0, layer=1, head=1)


def test_an_epoch_not_recorded_is_refused_with_the_recorded_ones():
    history, _ = small_history()
    with pytest.raises(ValueError, match=r"epoch: received 5, expected one of 1"):
        history.table(0, epoch=5)


def test_the_heatmaps_draw_a_recorded_map_unchanged(history):
    table = history.table(0, epoch=1)
    heatmap = attention_charts.attention_heatmap_chart(table, NUM_LAYERS, "1").to_dict()
    grid = attention_charts.attention_grid_chart(table, NUM_LAYERS).to_dict()
    in_order = table.sort_values("query_position")["query_token"].drop_duplicates().tolist()
    assert heatmap["layer"][0]["encoding"]["y"]["sort"] == in_order  # every token on the axis
    assert grid["encoding"]["facet"]["sort"] == ["1", "2", "mean"]
