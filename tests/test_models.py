"""Model builders: shapes, exact parameter counts, masking, saving, resource checks."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from seqlab.config import ARCHITECTURES, ModelConfig
from seqlab.models import (
    build_model,
    check_resources,
    count_parameters,
    estimate_memory_bytes,
    head,
    load_model,
)
from seqlab.models.layers import CounterDropout, MaskedPooling1D
from seqlab.models.transformer import (
    DeferredSoftmaxAttention,
    TokenAndPositionEmbedding,
    TransformerEncoderBlock,
    unit_embedding_scale,
)

DATA = Path(__file__).resolve().parent / "data"

VOCABULARY_SIZE = 50
SEQUENCE_LENGTH = 12
TINY = ModelConfig(
    embedding_dim=8, units=8, num_heads=2, key_dim=4, ff_dim=16, dropout_rate=0.1
)
SIZES = dict(vocabulary_size=VOCABULARY_SIZE, sequence_length=SEQUENCE_LENGTH)


def tiny(**fields) -> ModelConfig:
    return dataclasses.replace(TINY, **fields)


def padded_ids(length: int) -> np.ndarray:
    """Three texts of 2, 5 and 8 real tokens, post-padded with zeros to `length`."""
    rng = np.random.default_rng(7)
    ids = np.zeros((3, length), dtype=np.int32)
    for row, real in enumerate((2, 5, 8)):
        ids[row, :real] = rng.integers(1, VOCABULARY_SIZE, size=real)
    return ids


@pytest.mark.parametrize("num_classes, expected_width", [(2, 1), (3, 3)])
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_shape_follows_the_head(arch, num_classes, expected_width):
    model = build_model(tiny(arch=arch), num_classes=num_classes, **SIZES)
    probabilities = np.asarray(model(padded_ids(SEQUENCE_LENGTH), training=False))
    assert model.name == arch
    assert probabilities.shape == (3, expected_width)
    if num_classes > 2:
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "fields, num_classes",
    [
        (dict(arch="lstm", num_layers=2), 2),
        (dict(arch="gru", num_layers=3, units=5), 4),
        (dict(arch="bilstm", num_layers=2, merge_mode="concat"), 2),
        (dict(arch="bilstm", num_layers=2, merge_mode="sum"), 3),
        (dict(arch="bigru", num_layers=2, merge_mode="mul"), 2),
        (dict(arch="bigru", num_layers=2, merge_mode="ave"), 5),
        (dict(arch="transformer", num_layers=2, pooling="mean"), 2),
        (dict(arch="transformer", num_layers=1, num_heads=3, key_dim=5, pooling="max"), 3),
        (dict(arch="transformer", num_layers=3, ff_dim=7, pooling="first"), 2),
        (dict(arch="transformer", num_layers=1, position_embedding=False), 2),
        (dict(arch="baseline", embedding_dim=6), 3),
    ],
)
def test_count_parameters_equals_keras(fields, num_classes):
    config = tiny(**fields)
    model = build_model(config, num_classes=num_classes, **SIZES)
    assert count_parameters(config, num_classes=num_classes, **SIZES) == model.count_params()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_masked_prediction_ignores_amount_of_padding(arch):
    model = build_model(tiny(arch=arch, num_layers=2, use_mask=True), num_classes=2, **SIZES)
    long_padding = np.asarray(model(padded_ids(12), training=False))
    short_padding = np.asarray(model(padded_ids(8), training=False))
    np.testing.assert_allclose(long_padding, short_padding, atol=1e-5)


def test_unmasked_prediction_sees_padding():
    model = build_model(tiny(arch="lstm", use_mask=False), num_classes=2, seed=0, **SIZES)
    long_padding = np.asarray(model(padded_ids(12), training=False))
    short_padding = np.asarray(model(padded_ids(8), training=False))
    # The 2- and 5-token texts read a different number of zeros.
    assert not np.allclose(long_padding[:2], short_padding[:2], atol=1e-5)


def test_seed_repeats_initial_weights():
    config = tiny(arch="transformer")
    first = build_model(config, num_classes=2, seed=3, **SIZES).get_weights()
    second = build_model(config, num_classes=2, seed=3, **SIZES).get_weights()
    for left, right in zip(first, second, strict=True):
        np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("arch, pooling", [("transformer", "max"), ("baseline", "mean")])
def test_save_and_load_keep_predictions(tmp_path, arch, pooling):
    model = build_model(
        tiny(arch=arch, num_layers=2, pooling=pooling), num_classes=3, seed=1, **SIZES
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    ids = padded_ids(SEQUENCE_LENGTH)
    np.testing.assert_allclose(
        np.asarray(loaded(ids, training=False)), np.asarray(model(ids, training=False)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "layer",
    [
        MaskedPooling1D("max", name="pooling"),
        CounterDropout(0.2, seed=4, name="dropout"),
        TokenAndPositionEmbedding(50, 12, 8, use_mask=False, name="embedding"),
        TokenAndPositionEmbedding(50, 12, 8, use_position=False, scale=34.6, name="embedding"),
        TransformerEncoderBlock(8, 2, 4, 16, dropout_rate=0.2, name="encoder"),
        DeferredSoftmaxAttention(num_heads=2, key_dim=4, name="attention"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_custom_layer_config_round_trip(layer):
    serialized = keras.saving.serialize_keras_object(layer)
    rebuilt = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()


def test_transformer_saved_before_the_embedding_scale_still_loads():
    # Saved by the Transformer of before issue 10 (no scale, no position switch).
    expected = np.load(DATA / "transformer_before_issue_10.npz")
    model = load_model(DATA / "transformer_before_issue_10.keras")
    embedding = model.get_layer("embedding")
    assert embedding.scale == 1.0 and embedding.use_position
    np.testing.assert_allclose(np.asarray(model(expected["ids"], training=False)),
                               expected["probabilities"], atol=1e-6)
    from seqlab.attention import attention_scores

    np.testing.assert_allclose(attention_scores(model, expected["ids"]), expected["attention"], atol=1e-6)


@pytest.mark.parametrize("position_embedding", [True, False])
def test_scaled_embeddings_start_with_unit_standard_deviation(position_embedding):
    config = tiny(arch="transformer", embedding_dim=64, position_embedding=position_embedding)
    model = build_model(config, num_classes=2, seed=0, vocabulary_size=500, sequence_length=40)
    ids = np.random.default_rng(0).integers(1, 500, size=(8, 40)).astype(np.int32)
    vectors = np.asarray(model.get_layer("embedding")(ids))  # (8, 40, 64)
    assert 0.85 < vectors.std() < 1.15
    # Without the scale (models of before issue 10): Keras's initial vectors, entries ~0.03.
    unscaled = build_model(dataclasses.replace(config, scale_embeddings=False), num_classes=2,
                           seed=0, vocabulary_size=500, sequence_length=40)
    small = np.asarray(unscaled.get_layer("embedding")(ids)).std()
    assert small < 0.05
    assert unit_embedding_scale(2 if position_embedding else 1) == pytest.approx(
        vectors.std() / small, rel=0.1)


def test_transformer_without_position_embedding_ignores_word_order():
    config = tiny(arch="transformer", position_embedding=False, dropout_rate=0.0)
    model = build_model(config, num_classes=2, seed=0, **SIZES)
    assert not any("position" in weight.path for weight in model.weights)
    ids = padded_ids(SEQUENCE_LENGTH)
    reordered = ids.copy()
    reordered[2, :8] = ids[2, :8][::-1]  # the 8-token text, backwards
    np.testing.assert_allclose(np.asarray(model(reordered, training=False)),
                               np.asarray(model(ids, training=False)), atol=1e-5)
    with_positions = build_model(dataclasses.replace(config, position_embedding=True),
                                 num_classes=2, seed=0, **SIZES)
    assert not np.allclose(np.asarray(with_positions(reordered, training=False))[2],
                           np.asarray(with_positions(ids, training=False))[2], atol=1e-5)


def test_masked_pooling_rejects_unknown_mode():
    with pytest.raises(ValueError, match="model.pooling.*'median'.*mean, max, first"):
        MaskedPooling1D("median")


def test_check_resources_names_the_costly_fields():
    config = ModelConfig(arch="lstm", units=4096)
    with pytest.raises(ValueError) as error:
        check_resources(
            config, vocabulary_size=20000, sequence_length=2000, num_classes=2,
            batch_size=64, limit_bytes=2**30,
        )
    message = str(error.value)
    for expected in ("model.units=4096", "data.sequence_length=2000", "GiB", "reduce"):
        assert expected in message


def test_check_resources_refuses_too_many_parameters():
    config = ModelConfig(arch="baseline", embedding_dim=2048)
    with pytest.raises(ValueError, match="data.vocabulary_size=200000.*model.embedding_dim=2048"):
        check_resources(
            config, vocabulary_size=200_000, sequence_length=10, num_classes=2,
            batch_size=1, limit_bytes=2**50,
        )


def test_check_resources_returns_the_estimate_when_it_fits():
    sizes = dict(num_classes=2, batch_size=8, **SIZES)
    config = tiny(arch="transformer")
    assert check_resources(config, **sizes) == estimate_memory_bytes(config, **sizes) > 0


def test_attention_memory_grows_faster_than_sequence_length():
    config = tiny(arch="transformer", num_heads=8)
    sizes = dict(vocabulary_size=VOCABULARY_SIZE, num_classes=2, batch_size=32)
    short = estimate_memory_bytes(config, sequence_length=500, **sizes)
    long = estimate_memory_bytes(config, sequence_length=1000, **sizes)
    assert long > 3 * short


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="model.arch.*'cnn'"):
        count_parameters(tiny(arch="cnn"), num_classes=2, **SIZES)
    with pytest.raises(ValueError, match="num_classes.*1"):
        head(1)


def test_models_package_imports_without_tensorflow():
    code = (
        "import sys; from seqlab.config import ModelConfig; import seqlab.models as m\n"
        "sizes = dict(vocabulary_size=50, sequence_length=12, num_classes=2)\n"
        "m.count_parameters(ModelConfig(), **sizes)\n"
        "m.check_resources(ModelConfig(), batch_size=4, **sizes)\n"
        "print(sorted(n for n in ('tensorflow', 'keras') if n in sys.modules))"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_transformer_trains_under_xla_with_masks():
    config = tiny(arch="transformer", use_mask=True)
    model = build_model(config, num_classes=2, seed=0, **SIZES)
    loss, _ = head(2)
    model.compile(optimizer="adam", loss=loss, jit_compile=True)
    ids = np.tile(padded_ids(SEQUENCE_LENGTH), (8, 1))
    labels = np.arange(len(ids)) % 2
    history = model.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
    assert model.jit_compile
    assert np.isfinite(history.history["loss"][0])


def attention_pair():
    """Keras's MultiHeadAttention and seqlab's subclass, with the same weights."""
    inputs = np.random.default_rng(3).normal(size=(3, 7, 8)).astype("float32")
    reference = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, seed=0)
    deferred = DeferredSoftmaxAttention(num_heads=2, key_dim=4)
    reference(inputs, inputs)
    deferred(inputs, inputs)
    deferred.set_weights(reference.get_weights())
    return reference, deferred, inputs


@pytest.mark.parametrize("mask_kind", ["keys", "full", "none"])
def test_deferred_attention_matches_keras_outputs_and_gradients(mask_kind):
    import tensorflow as tf

    reference, deferred, inputs = attention_pair()
    real = np.arange(7)[None, :] < np.array([[2], [5], [7]])  # (batch, T)
    masks = {
        "keys": real[:, None, :],  # (batch, 1, S)
        # (batch, T, S) with padding queries blocked from every key: those rows
        # take the no-allowed-key path in both layers.
        "full": real[:, :, None] & real[:, None, :],
        "none": None,
    }
    mask = masks[mask_kind]
    results = []
    for layer in (reference, deferred):
        values = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(values)
            output = layer(values, values, attention_mask=mask)
            loss = tf.reduce_sum(output * tf.sin(output))
        gradients = tape.gradient(loss, [values, *layer.trainable_variables])
        results.append((np.asarray(output), [np.asarray(g) for g in gradients]))
    (ref_out, ref_grads), (out, grads) = results
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    for got, expected in zip(grads, ref_grads):
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_encoder_block_training_path_matches_heatmap_path_at_real_tokens():
    block = TransformerEncoderBlock(8, 2, 4, 16, dropout_rate=0.0)
    inputs = np.random.default_rng(5).normal(size=(3, 9, 8)).astype("float32")
    real = np.arange(9)[None, :] < np.array([[2], [6], [9]])  # (batch, T)
    fast = np.asarray(block(inputs, mask=real))  # keys-only mask, deferred softmax
    with_scores, scores = block(inputs, mask=real, return_attention_scores=True)
    np.testing.assert_allclose(fast[real], np.asarray(with_scores)[real], atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores).sum(axis=-1)[real[:, None, :].repeat(2, 1)],
                               1.0, atol=1e-5)


def dropped_fraction(values: np.ndarray) -> float:
    return float(np.mean(values == 0))


def test_counter_dropout_drops_about_rate_and_rescales_the_rest():
    layer = CounterDropout(0.25, seed=1)
    ones = np.ones((16, 50, 8), dtype="float32")
    dropped = np.asarray(layer(ones, training=True))
    assert abs(dropped_fraction(dropped) - 0.25) < 0.02
    np.testing.assert_allclose(dropped[dropped != 0], 1 / 0.75, rtol=1e-6)


def test_counter_dropout_draws_a_fresh_independent_mask_each_call():
    layer = CounterDropout(0.5, seed=1)
    ones = np.ones((16, 50, 8), dtype="float32")
    first = np.asarray(layer(ones, training=True)) == 0
    second = np.asarray(layer(ones, training=True)) == 0
    # Independent masks overlap on about rate**2 of the values; equal ones on rate.
    assert abs(float(np.mean(first & second)) - 0.25) < 0.02


def test_counter_dropout_is_the_identity_outside_training():
    layer = CounterDropout(0.5, seed=1)
    values = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(values, training=False)), values)


def test_counter_dropout_repeats_its_masks_for_a_seed():
    ones = np.ones((4, 30, 8), dtype="float32")
    first = np.asarray(CounterDropout(0.3, seed=5)(ones, training=True))
    again = np.asarray(CounterDropout(0.3, seed=5)(ones, training=True))
    other = np.asarray(CounterDropout(0.3, seed=6)(ones, training=True))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_counter_dropout_masks_change_between_xla_compiled_steps():
    import tensorflow as tf

    layer = CounterDropout(0.5, seed=2)
    step = tf.function(lambda values: layer(values, training=True), jit_compile=True)
    ones = tf.ones((8, 40, 4))
    first, second = np.asarray(step(ones)), np.asarray(step(ones))
    assert abs(dropped_fraction(first) - 0.5) < 0.05
    assert not np.array_equal(first, second)


def test_counter_dropout_rejects_a_rate_outside_zero_to_one():
    with pytest.raises(ValueError, match="dropout rate.*1.5.*\\[0, 1\\)"):
        CounterDropout(1.5)
