"""Attention read-out: shapes, masking of padding, errors, the tidy table."""

import numpy as np
import pytest

from seqlab.attention import attention_scores, attention_table, has_attention
from seqlab.config import ModelConfig
from seqlab.models import build_model, load_model

VOCABULARY_SIZE = 50
SEQUENCE_LENGTH = 12
NUM_LAYERS = 2
NUM_HEADS = 2
REAL_LENGTHS = (3, 7, 12)
SIZES = dict(vocabulary_size=VOCABULARY_SIZE, sequence_length=SEQUENCE_LENGTH, num_classes=2)


def tiny(arch: str = "transformer", **fields) -> ModelConfig:
    return ModelConfig(
        arch=arch, embedding_dim=8, units=8, num_layers=NUM_LAYERS, num_heads=NUM_HEADS,
        key_dim=4, ff_dim=16, dropout_rate=0.1, **fields,
    )


@pytest.fixture(scope="module")
def transformer():
    return build_model(tiny(), seed=0, **SIZES)


@pytest.fixture(scope="module")
def token_ids():
    """(3, T) ids with 3, 7 and 12 real tokens, post-padded."""
    rng = np.random.default_rng(0)
    ids = np.zeros((len(REAL_LENGTHS), SEQUENCE_LENGTH), dtype=np.int32)
    for row, length in enumerate(REAL_LENGTHS):
        ids[row, :length] = rng.integers(1, VOCABULARY_SIZE, size=length)
    return ids


@pytest.fixture(scope="module")
def scores(transformer, token_ids):
    return attention_scores(transformer, token_ids)


def test_scores_have_one_map_per_layer_text_and_head(scores):
    assert scores.shape == (
        NUM_LAYERS, len(REAL_LENGTHS), NUM_HEADS, SEQUENCE_LENGTH, SEQUENCE_LENGTH
    )


def test_rows_of_real_tokens_sum_to_one(scores):
    for row, length in enumerate(REAL_LENGTHS):
        real_rows = scores[:, row, :, :length, :]  # (layers, heads, real queries, T)
        np.testing.assert_allclose(real_rows.sum(axis=-1), 1.0, atol=1e-5)


def test_padding_gets_no_weight(scores):
    for row, length in enumerate(REAL_LENGTHS):
        assert np.all(scores[:, row, :, :, length:] == 0.0)  # padding keys
        assert np.all(scores[:, row, :, length:, :] == 0.0)  # padding queries


def test_scores_survive_save_and_load(tmp_path, transformer, token_ids, scores):
    path = tmp_path / "model.keras"
    transformer.save(path)
    np.testing.assert_allclose(attention_scores(load_model(path), token_ids), scores, atol=1e-6)


def test_models_without_attention_are_refused():
    lstm = build_model(tiny("lstm"), **SIZES)
    assert not has_attention(lstm)
    with pytest.raises(ValueError, match="no attention layers.*transformer"):
        attention_scores(lstm, np.ones((1, 4), dtype=np.int32))


def test_has_attention_finds_encoder_blocks(transformer):
    assert has_attention(transformer)


def test_ids_longer_than_the_run_are_refused(transformer):
    with pytest.raises(ValueError, match="T=13.*at most 12"):
        attention_scores(transformer, np.ones((1, SEQUENCE_LENGTH + 1), dtype=np.int32))


def test_table_leaves_padding_out(scores):
    tokens = ["a", "fine", "movie"] + [""] * (SEQUENCE_LENGTH - 3)  # text 0 has 3 real tokens
    table = attention_table(scores[:, 0], tokens)
    assert set(table["query_position"]) == set(table["key_position"]) == {0, 1, 2}
    assert len(table) == NUM_LAYERS * (NUM_HEADS + 1) * 3 * 3
    per_query = table.groupby(["layer", "head", "query_position"])["weight"].sum()
    np.testing.assert_allclose(per_query, 1.0, atol=1e-5)


def test_table_labels_are_unique_per_position(scores):
    tokens = ["the", "movie", "the"] + [""] * (SEQUENCE_LENGTH - 3)
    table = attention_table(scores[:, 0], tokens)
    assert sorted(set(table["key_token"])) == ["0:the", "1:movie", "2:the"]


def test_table_mean_head_averages_the_heads(scores):
    tokens = [f"w{i}" for i in range(SEQUENCE_LENGTH)]
    table = attention_table(scores[:, 2], tokens)
    keys = ["layer", "query_position", "key_position"]
    mean = table[table["head"] == "mean"].set_index(keys)["weight"]
    heads = table[table["head"] != "mean"].groupby(keys)["weight"].mean()
    np.testing.assert_allclose(mean.sort_index(), heads.sort_index(), atol=1e-7)


def test_table_rejects_tokens_of_the_wrong_length(scores):
    with pytest.raises(ValueError, match="tokens: received 3, expected 12"):
        attention_table(scores[:, 0], ["a", "b", "c"])
