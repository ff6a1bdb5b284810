"""RNN states: recomputed states and gates equal Keras's, the running prediction ends at the
model's output, tidy tables, charts that label every token, and errors that say what to fix.

Every model is tiny (embedding 8, units 5, vocabulary 20) and its weights are redrawn from
N(0, 0.7) so biases (GRU's recurrent bias above all) are not zero and gates are far from 0.5.
"""

import json

import keras
import numpy as np
import pytest

from seqlab import state_charts
from seqlab.config import ModelConfig, default_config
from seqlab.data.vectorize import Vectorizer
from seqlab.inference import LoadedModel, TrainedRun, predict_proba
from seqlab.models import build_model, load_model
from seqlab.states import (
    GATES, QUANTITIES, inspect_states, recurrent_states, running_prediction_table, state_table,
    text_states,
)

VOCABULARY_SIZE = 20
UNITS = 5
EMBEDDING_DIM = 8
LENGTH = 9
TOLERANCE = 1e-5
RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN, keras.layers.Bidirectional)


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.7, w.shape).astype("float32") for w in model.get_weights()])
    return model


def tiny(arch: str, num_layers: int = 1, merge_mode: str = "concat", num_classes: int = 2,
         **fields) -> keras.Model:
    config = ModelConfig(arch=arch, embedding_dim=EMBEDDING_DIM, units=UNITS, num_layers=num_layers,
                         dropout_rate=0.0, merge_mode=merge_mode, **fields)
    return randomized(build_model(config, vocabulary_size=VOCABULARY_SIZE, sequence_length=LENGTH,
                                  num_classes=num_classes, seed=0))


def direct(layers: list, num_classes: int = 2) -> keras.Model:
    """Embedding -> the given recurrent layers -> Dense, built with Keras directly."""
    token_ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY_SIZE, EMBEDDING_DIM, mask_zero=True)(token_ids)
    for layer in layers:
        x = layer(x)
    outputs = keras.layers.Dense(1 if num_classes == 2 else num_classes,
                                 activation="sigmoid" if num_classes == 2 else "softmax")(x)
    return randomized(keras.Model(token_ids, outputs))


@pytest.fixture(scope="module")
def ids():
    return np.random.default_rng(1).integers(1, VOCABULARY_SIZE, size=LENGTH)


def recurrent_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, RECURRENT)]


def keras_sequences(model: keras.Model, index: int, ids: np.ndarray) -> list[np.ndarray]:
    """Keras's hidden states (T, units) of recurrent layer `index`, one per direction (backward
    aligned to the original order), from a copy of the layer that returns its sequences."""
    layer = recurrent_layers(model)[index]
    # A masked layer's input is [sequence, mask]; the ids have no padding, so the mask is all True.
    sequence = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input
    inputs = keras.Model(model.inputs[0], sequence)(ids[np.newaxis])  # (1, T, width)
    inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    config = {**inner.get_config(), "return_sequences": True, "go_backwards": False}
    config.pop("name")
    copy = type(inner).from_config(config)
    if isinstance(layer, keras.layers.Bidirectional):
        copy = keras.layers.Bidirectional(copy, merge_mode=None)
    outputs = copy(inputs)
    copy.set_weights(layer.get_weights())
    outputs = copy(inputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(output)[0] for output in outputs]


def model_probability(model: keras.Model, ids: np.ndarray, class_index: int = 1) -> float:
    output = np.asarray(model(ids[np.newaxis].astype("int32")))[0]
    return float(output[0] if output.shape[0] == 1 else output[class_index])


def assert_states_equal_keras(model, ids):
    states = recurrent_states(model, ids)
    for index in range(len(recurrent_layers(model))):
        expected = keras_sequences(model, index, ids)
        for direction, hidden in zip(("forward", "backward"), expected):
            np.testing.assert_allclose(states.get(index + 1, direction).hidden, hidden,
                                       atol=TOLERANCE)


# ------------------------------------------------------------ recurrence
@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_hidden_states_equal_keras(arch, ids):
    assert_states_equal_keras(tiny(arch), ids)


@pytest.mark.parametrize("arch", ["bilstm", "bigru"])
def test_both_directions_of_a_bidirectional_layer_equal_keras(arch, ids):
    assert_states_equal_keras(tiny(arch), ids)


@pytest.mark.parametrize("arch, merge_mode", [("lstm", "concat"), ("bigru", "sum"), ("bilstm", "mul")])
def test_two_stacked_layers_equal_keras(arch, merge_mode, ids):
    assert_states_equal_keras(tiny(arch, num_layers=2, merge_mode=merge_mode), ids)


def test_a_gru_with_the_reset_gate_before_the_product_equals_keras(ids):
    assert_states_equal_keras(direct([keras.layers.GRU(UNITS, reset_after=False)]), ids)


def test_a_stacked_bidirectional_simple_rnn_equals_keras(ids):
    model = direct([
        keras.layers.Bidirectional(keras.layers.SimpleRNN(UNITS, return_sequences=True),
                                   merge_mode="ave"),
        keras.layers.SimpleRNN(UNITS),
    ])
    assert_states_equal_keras(model, ids)


def test_lstm_cell_state_equals_keras_final_cell_state(ids):
    model = tiny("lstm")
    layer = recurrent_layers(model)[0]
    config = {**layer.get_config(), "return_state": True}
    config.pop("name")
    copy = keras.layers.LSTM.from_config(config)
    embedded = model.get_layer("embedding")(ids[np.newaxis])  # (1, T, embedding_dim)
    copy(embedded)
    copy.set_weights(layer.get_weights())
    _, final_hidden, final_cell = copy(embedded)
    states = recurrent_states(model, ids).get(1)
    np.testing.assert_allclose(states.values["cell_state"][-1], np.asarray(final_cell)[0], atol=TOLERANCE)
    np.testing.assert_allclose(states.hidden[-1], np.asarray(final_hidden)[0], atol=TOLERANCE)


@pytest.mark.parametrize("arch", ["lstm", "gru", "bilstm"])
def test_gates_lie_between_zero_and_one(arch, ids):
    states = recurrent_states(tiny(arch), ids)
    gates = [values for direction in states.directions for values in direction.gates.values()]
    assert len(gates) == {"lstm": 3, "gru": 2, "bilstm": 6}[arch]
    for values in gates:
        assert values.shape == (LENGTH, UNITS)
        assert values.min() >= 0.0 and values.max() <= 1.0


def test_each_cell_records_its_own_quantities(ids):
    for arch, kind in (("lstm", "lstm"), ("gru", "gru"), ("rnn", "rnn")):
        direction = recurrent_states(tiny(arch), ids).get(1)
        assert direction.kind == kind and tuple(direction.values) == QUANTITIES[kind]


# ---------------------------------------------------- running prediction
@pytest.mark.parametrize("arch, num_layers, merge_mode", [
    ("lstm", 1, "concat"), ("gru", 1, "concat"), ("rnn", 1, "concat"), ("bilstm", 1, "concat"),
    ("bigru", 2, "ave"),
])
def test_last_running_probability_equals_the_model_output(arch, num_layers, merge_mode, ids):
    model = tiny(arch, num_layers=num_layers, merge_mode=merge_mode)
    states = recurrent_states(model, ids)
    assert states.running_probability.shape == (LENGTH,)
    assert states.running_probability[-1] == pytest.approx(model_probability(model, ids), abs=TOLERANCE)


@pytest.mark.parametrize("arch", ["gru", "bilstm"])
def test_running_probability_is_the_model_output_on_each_prefix(arch, ids):
    model = tiny(arch, num_layers=2)
    states = recurrent_states(model, ids)
    prefixes = [model_probability(model, ids[:end]) for end in range(1, LENGTH + 1)]
    np.testing.assert_allclose(states.running_probability, prefixes, atol=TOLERANCE)


def test_a_multiclass_run_follows_its_predicted_class(ids):
    model = tiny("lstm", num_classes=3)
    states = recurrent_states(model, ids)
    output = np.asarray(model(ids[np.newaxis]))[0]  # (3,)
    assert states.running_class == int(np.argmax(output))
    np.testing.assert_allclose(states.probabilities, output, atol=TOLERANCE)
    assert states.running_probability[-1] == pytest.approx(output[states.running_class], abs=TOLERANCE)


def test_states_of_a_saved_and_loaded_model_are_unchanged(tmp_path, ids):
    model = tiny("bigru")
    model.save(tmp_path / "model.keras")
    before, after = recurrent_states(model, ids), recurrent_states(load_model(tmp_path / "model.keras"), ids)
    for first, second in zip(before.directions, after.directions):
        np.testing.assert_allclose(first.hidden, second.hidden, atol=1e-9)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("token_ids, words", [
    (np.array([], dtype=np.int64), "empty text"),
    (np.array([3, 25, 4]), "expected 1 to 19"),
    (np.array([3, 4, 0, 0]), "ids[ids != 0]"),
    (np.array([3.0, 4.0]), "integer ids"),
    (np.ones((2, 4), dtype=np.int64), "ids (T,) of one text"),
])
def test_bad_ids_are_refused_with_what_to_do(token_ids, words):
    with pytest.raises(ValueError, match="token_ids: received") as error:
        recurrent_states(tiny("lstm"), token_ids)
    assert words in str(error.value)


def test_a_transformer_model_is_refused_with_the_runs_that_have_states(ids):
    transformer = build_model(
        ModelConfig(arch="transformer", embedding_dim=8, num_heads=2, key_dim=4, ff_dim=8),
        vocabulary_size=VOCABULARY_SIZE, sequence_length=LENGTH, num_classes=2, seed=0)
    with pytest.raises(ValueError, match="no recurrent layers.*lstm, gru, rnn, bilstm, bigru"):
        recurrent_states(transformer, ids)


def test_tokens_that_do_not_match_the_ids_are_refused(ids):
    states = recurrent_states(tiny("gru"), ids)
    with pytest.raises(ValueError, match=f"tokens: received 2, expected {LENGTH}"):
        state_table(states, ["a", "b"])


# ---------------------------------------------------------------- tables
def test_state_table_has_one_row_per_quantity_token_and_unit(ids):
    states = recurrent_states(tiny("bilstm"), ids)
    tokens = [f"w{i}" for i in ids]
    table = state_table(states, tokens)
    assert len(table) == 2 * len(QUANTITIES["lstm"]) * LENGTH * UNITS
    backward = table[(table["direction"] == "backward") & (table["quantity"] == "hidden")]
    np.testing.assert_allclose(
        backward.pivot(index="position", columns="unit", values="value").to_numpy(),
        states.get(1, "backward").hidden)
    assert backward.drop_duplicates("position")["token"].tolist() == tokens


def test_running_table_changes_add_up_from_the_initial_probability(ids):
    states = recurrent_states(tiny("gru"), ids)
    table = running_prediction_table(states, class_names=["negative", "positive"])
    assert table["class_name"].unique().tolist() == ["positive"]
    assert table["change"].sum() == pytest.approx(
        states.running_probability[-1] - states.initial_probability)


# ---------------------------------------------------------------- charts
def many_tokens_states(num_tokens: int, arch: str = "lstm", units: int = UNITS):
    model = randomized(build_model(
        ModelConfig(arch=arch, embedding_dim=EMBEDDING_DIM, units=units, dropout_rate=0.0),
        vocabulary_size=VOCABULARY_SIZE, sequence_length=num_tokens, num_classes=2, seed=0))
    token_ids = np.random.default_rng(2).integers(1, VOCABULARY_SIZE, size=num_tokens)
    return recurrent_states(model, token_ids), [f"word{i}" for i in range(num_tokens)]


def x_encodings(spec: dict) -> list[dict]:
    found = []
    if "encoding" in spec and "x" in spec["encoding"]:
        found.append(spec["encoding"]["x"])
    for part in spec.get("layer", []):
        found.extend(x_encodings(part))
    return found


def test_charts_label_every_token_in_order_and_fit_a_page():
    states, tokens = many_tokens_states(60)
    table = state_table(states, tokens)
    charts = [state_charts.state_heatmap_chart(table), state_charts.state_heatmap_chart(table, "forget_gate"),
              state_charts.gates_chart(table),
              state_charts.running_prediction_chart(running_prediction_table(states, tokens))]
    for chart in charts:
        spec = chart.to_dict()
        encodings = x_encodings(spec)
        assert encodings
        for encoding in encodings:
            assert encoding["sort"] == tokens
            assert encoding["axis"]["labelOverlap"] is False  # no label is dropped
        # A chart either takes the page's width or has a fixed one that fits it.
        assert spec["width"] == "container" or spec["width"] + state_charts.LABEL_WIDTH <= state_charts.PAGE_WIDTH
    gates = charts[2].to_dict()
    columns = gates["encoding"]["facet"]["columns"]
    assert state_charts.LABEL_WIDTH + columns * (gates["width"] + state_charts.FACET_SPACING) \
        <= state_charts.PAGE_WIDTH


def test_repeated_tokens_get_their_position_in_the_label(ids):
    states = recurrent_states(tiny("gru"), ids[:3])
    spec = state_charts.state_heatmap_chart(state_table(states, ["the", "cat", "the"])).to_dict()
    assert spec["encoding"]["x"]["sort"] == ["0: the", "1: cat", "2: the"]


def test_gate_colours_run_from_zero_to_one_and_states_diverge_around_zero(ids):
    table = state_table(recurrent_states(tiny("gru"), ids))
    gate = state_charts.state_heatmap_chart(table, "update_gate").to_dict()["encoding"]["color"]["scale"]
    hidden = state_charts.state_heatmap_chart(table, "hidden").to_dict()["encoding"]["color"]["scale"]
    assert gate["domain"] == [0, 1]
    assert hidden["domainMid"] == 0 and hidden["domain"][0] == -hidden["domain"][1]


def test_more_than_64_units_show_the_most_variable_64_and_say_so():
    states, tokens = many_tokens_states(6, units=70)
    table = state_table(states, tokens, quantities=["hidden"])
    kept, note = state_charts.select_units(table)
    assert kept["unit"].nunique() == state_charts.MAX_UNITS and "64 of 70 units" in note
    spread = table.groupby("unit")["value"].std(ddof=0)
    assert set(kept["unit"]) == set(spread.sort_values(ascending=False).index[:64])
    spec = state_charts.state_heatmap_chart(table).to_dict()
    assert "64 of 70 units" in spec["title"]["subtitle"][0]


def test_running_chart_has_a_rule_at_one_half_and_a_zero_to_one_scale(ids):
    states = recurrent_states(tiny("lstm"), ids)
    spec = state_charts.running_prediction_chart(running_prediction_table(states)).to_dict()
    line, points, rule = spec["layer"]
    assert line["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert {tip["field"] for tip in points["encoding"]["tooltip"]} >= {"token", "probability"}
    assert rule["mark"]["type"] == "rule" and spec["datasets"][rule["data"]["name"]] == [{"threshold": 0.5}]


def test_a_simple_rnn_gates_chart_says_it_has_none(ids):
    table = state_table(recurrent_states(tiny("rnn"), ids))
    spec = state_charts.gates_chart(table).to_dict()
    assert "no gates" in json.dumps(spec)


# ------------------------------------------------------- a run and a text
VOCABULARY = ["", "[UNK]", "the", "film", "was", "good", "bad", "not", "very", "plot"]
SEQUENCE_LENGTH = 6


def tiny_run(arch: str = "lstm", **overrides) -> TrainedRun:
    config = default_config(**{
        "model.arch": arch, "model.embedding_dim": EMBEDDING_DIM, "model.units": UNITS,
        "data.sequence_length": SEQUENCE_LENGTH, **overrides,
    })
    model = randomized(build_model(config.model, vocabulary_size=len(VOCABULARY),
                                   sequence_length=SEQUENCE_LENGTH, num_classes=2, seed=0))
    loaded = LoadedModel.build(model, Vectorizer.from_vocabulary(VOCABULARY, config.data),
                               ("negative", "positive"), version=())
    return TrainedRun(run_id="run1", label=arch, config=config, loaded=loaded)


def test_inspect_states_is_json_with_one_value_per_token_read():
    trained = tiny_run("bilstm")
    result = inspect_states(trained, "the film was not very good")
    json.dumps(result)
    assert result["tokens"] == ["the", "film", "was", "not", "very", "good"]
    assert len(result["running_probability"]) == 6
    assert [(entry["layer"], entry["direction"]) for entry in result["states"]] == [
        (1, "forward"), (1, "backward")]
    entry = result["states"][0]
    assert np.shape(entry["hidden"]) == (6, UNITS) and np.shape(entry["cell_state"]) == (6, UNITS)
    assert set(entry["gates"]) == {"input_gate", "forget_gate", "output_gate"}
    assert result["running_probability"][-1] == pytest.approx(
        predict_proba(trained, ["the film was not very good"])[0, 1], abs=TOLERANCE)


@pytest.mark.parametrize("truncation, kept", [
    ("pre", ["film", "was", "[UNK]", "bad", "the", "plot"]),
    ("post", ["the", "film", "was", "[UNK]", "bad", "the"]),
])
def test_a_long_text_shows_the_tokens_the_vectorizer_kept(truncation, kept):
    trained = tiny_run("gru", **{"data.truncation": truncation})
    result = text_states(trained, "the film was awfully bad the plot")
    assert result.tokens == kept
    assert result.text_length == 7 and result.first_kept == (1 if truncation == "pre" else 0)
    assert "The text has 7 tokens" in result.notes[0]


def test_an_unmasked_run_says_its_padded_prediction_differs():
    trained = tiny_run("lstm", **{"model.use_mask": False})
    result = text_states(trained, "good film")
    assert result.tokens == ["good", "film"]
    assert any("does not mask padding" in note for note in result.notes)
    assert result.padded_probabilities[1] == pytest.approx(
        predict_proba(trained, ["good film"])[0, 1], abs=TOLERANCE)


def test_an_empty_text_is_refused():
    with pytest.raises(ValueError, match="text: received '  '"):
        inspect_states(tiny_run(), "  ")


def test_gates_names_are_the_gate_quantities():
    assert set(GATES) == {name for names in QUANTITIES.values() for name in names if name.endswith("_gate")}
