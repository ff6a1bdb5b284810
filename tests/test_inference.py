"""Loaded models kept per process: the bounded cache, its invalidation, and predictions equal to Keras's.

Two tiny runs (a Transformer and an LSTM) come from the session's `toy_runs`
(tests/conftest.py), trained once; tests that delete or replace a run's files,
or add a run, work on a copy of that store.
"""

import os
import threading

import numpy as np
import pandas as pd
import pytest

from seqlab.config import RunConfig
from seqlab.inference import (
    ModelCache, attention_map, load_trained, model_version, predict_proba, predictions_table,
)
from seqlab.store import RunStore

TINY = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 1, "train.batch_size": 16, "train.jit_compile": False,
}
TEXTS = ["what a wonderful film", "boring and awful", "not good", "the acting was great"]


@pytest.fixture(scope="module")
def trained_home(toy_runs):
    """(home, {arch: run_id}) of the session's tiny Transformer and LSTM (read-only)."""
    home, runs = toy_runs
    return home, {arch: runs[arch] for arch in ("transformer", "lstm")}


@pytest.fixture
def trained(trained_home):
    """(store, runs) on the shared trained store (not to be changed)."""
    home, runs = trained_home
    return RunStore(home), runs


@pytest.fixture
def trained_copy(trained_home, tmp_path, copy_runs):
    """(store, runs) on a copy of the trained store, for tests that delete, replace or add."""
    home, runs = copy_runs(trained_home, tmp_path / "copy")
    return RunStore(home), runs


class Loads:
    """A stand-in loader that counts its calls and returns a new object each time."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return object()


def fake_get(cache: ModelCache, key, version=("v",), load=None):
    """`cache.get` for tests of the cache alone: keeps plain objects, not models."""
    return cache.get(key, version, load or Loads())


# ------------------------------------------------------------ the cache alone
def test_cache_returns_the_kept_object_for_the_same_key_and_version():
    cache, loads = ModelCache(2), Loads()
    first = cache.get("a", ("v",), loads)
    assert cache.get("a", ("v",), loads) is first
    assert loads.count == 1


def test_cache_drops_the_least_recently_used_beyond_its_bound():
    cache = ModelCache(2)
    for key in ("a", "b", "c"):
        fake_get(cache, key)
    assert cache.keys() == ["b", "c"]


def test_cache_use_makes_an_entry_the_most_recent():
    cache = ModelCache(2)
    fake_get(cache, "a")
    fake_get(cache, "b")
    fake_get(cache, "a")  # "b" is now the oldest
    fake_get(cache, "c")
    assert cache.keys() == ["a", "c"]


def test_cache_loads_again_for_another_version():
    cache, loads = ModelCache(2), Loads()
    first = cache.get("a", ("v1",), loads)
    assert cache.get("a", ("v2",), loads) is not first
    assert loads.count == 2 and len(cache) == 1


def test_cache_keeps_nothing_when_loading_fails():
    cache = ModelCache(2)

    def broken():
        raise ValueError("unreadable")

    with pytest.raises(ValueError, match="unreadable"):
        cache.get("a", ("v",), broken)
    assert cache.keys() == []


def test_two_threads_asking_for_one_model_load_it_once():
    cache, started, release = ModelCache(2), threading.Event(), threading.Event()
    calls, results = [], []

    def slow_load():
        calls.append(1)
        started.set()
        release.wait(timeout=30)
        return object()

    first = threading.Thread(target=lambda: results.append(cache.get("a", ("v",), slow_load)))
    first.start()
    started.wait(timeout=30)
    second = threading.Thread(target=lambda: results.append(cache.get("a", ("v",), slow_load)))
    second.start()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert len(calls) == 1
    assert len(results) == 2 and results[0] is results[1]


def test_cache_refuses_a_bound_below_one():
    with pytest.raises(ValueError, match="max_entries=0, expected at least 1"):
        ModelCache(0)


# ------------------------------------------------------------ real runs
def test_the_same_run_gives_the_same_loaded_model(trained):
    store, runs = trained
    cache = ModelCache()
    first = load_trained(store, runs["lstm"], cache)
    again = load_trained(store, runs["lstm"], cache)
    assert again.loaded is first.loaded
    assert again.model is first.model


def test_runs_are_kept_apart_per_store(trained, trained_copy):
    (store, runs), (copy, _) = trained, trained_copy
    cache = ModelCache()
    assert load_trained(store, runs["lstm"], cache).loaded is not load_trained(copy, runs["lstm"], cache).loaded
    assert len(cache) == 2


def test_a_replaced_model_file_is_loaded_again(trained_copy):
    store, runs = trained_copy
    cache = ModelCache()
    first = load_trained(store, runs["lstm"], cache)
    path = store.model_path(runs["lstm"])
    replacement = path.with_name("replacement.keras")
    first.model.save(replacement)
    os.replace(replacement, path)  # as a re-trained run's new file
    again = load_trained(store, runs["lstm"], cache)
    assert again.loaded is not first.loaded
    assert again.loaded.version == model_version(store, runs["lstm"]) != first.loaded.version


def test_a_deleted_run_is_not_served_from_the_cache(trained_copy):
    store, runs = trained_copy
    cache = ModelCache()
    load_trained(store, runs["lstm"], cache)
    store.delete_run(runs["lstm"])
    with pytest.raises(KeyError, match=runs["lstm"]):
        load_trained(store, runs["lstm"], cache)
    assert cache.keys() == []


def test_a_run_whose_model_file_is_gone_is_not_served(trained_copy):
    store, runs = trained_copy
    cache = ModelCache()
    load_trained(store, runs["lstm"], cache)
    store.model_path(runs["lstm"]).unlink()
    with pytest.raises(ValueError, match="has no saved model"):
        load_trained(store, runs["lstm"], cache)
    assert cache.keys() == []


def test_model_version_of_a_run_without_model_is_none(trained_copy):
    store, _ = trained_copy
    queued = store.create_run(RunConfig().with_overrides(TINY))
    assert model_version(store, queued) is None
    assert not store.has_model(queued)  # looking created nothing


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_predictions_equal_keras_predict(trained, arch):
    import keras

    store, runs = trained
    trained_run = load_trained(store, runs[arch], ModelCache())
    keras_model = keras.saving.load_model(store.model_path(runs[arch]), safe_mode=True)
    ids = trained_run.vectorizer.encode(TEXTS)  # (4, T)
    positive = keras_model.predict(ids, verbose=0)[:, 0]  # (4,): a sigmoid head
    np.testing.assert_allclose(predict_proba(trained_run, TEXTS)[:, 1], positive, atol=1e-6)


def test_predictions_table_with_the_cache_equals_the_uncached_one(trained):
    store, runs = trained
    run_ids = list(runs.values())
    cached = predictions_table(store, run_ids, TEXTS, ModelCache())
    pd.testing.assert_frame_equal(cached, predictions_table(store, run_ids, TEXTS), atol=1e-6)


def test_new_batch_sizes_and_texts_do_not_trace_again(trained):
    store, runs = trained
    cache = ModelCache()
    for count in (4, 1, 3, 2):
        predictions_table(store, [runs["lstm"]], TEXTS[:count], cache)
    assert load_trained(store, runs["lstm"], cache).loaded.forward.experimental_get_tracing_count() == 1


def test_attention_with_the_cache_equals_the_uncached_one(trained):
    store, runs = trained
    cache = ModelCache()
    attention_map(store, runs["transformer"], TEXTS[0], cache)  # a first text, so the second is a cache hit
    cached = attention_map(store, runs["transformer"], TEXTS[3], cache)
    fresh = attention_map(store, runs["transformer"], TEXTS[3])
    np.testing.assert_allclose(cached.scores, fresh.scores, atol=1e-6)
    assert cached.tokens == fresh.tokens


def test_attention_of_an_lstm_says_which_runs_have_it(trained):
    store, runs = trained
    with pytest.raises(ValueError, match="no attention layers.*transformer"):
        attention_map(store, runs["lstm"], TEXTS[0], ModelCache())
