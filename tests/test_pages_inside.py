"""The Inside page (AppTest): each tab on tiny runs trained once for the module.

Every run goes through `check_page`, which fails on an exception or an
unexpected `st.error`; tabs are opened by their URL parameter, as a link
would open them.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.config import RunConfig
from seqlab.inference import load_trained, predict_proba, test_disagreements, test_predictions
from seqlab.store import RunStore
from seqlab.views import inside
from tests.apptest_support import INSIDE_PAGE, chart_frames, check_page, open_page, texts_of

TINY = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 2, "train.batch_size": 16, "train.jit_compile": False,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(home, {arch: run_id}) of a tiny LSTM, BiGRU and Transformer trained once."""
    from seqlab.jobs import train_foreground

    home = tmp_path_factory.mktemp("inside_home")
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQLAB_HOME", str(home))
        for arch in ("lstm", "bigru", "transformer"):
            record = train_foreground(RunConfig().with_overrides({**TINY, "model.arch": arch}), RunStore(home))
            assert record.status == "completed", record.message
            runs[arch] = record.run_id
    return home, runs


def open_tab(tab: str, home, monkeypatch, **state):
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = open_page(INSIDE_PAGE)
    at.query_params["inside.tab"] = tab
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_memory_tab_without_recurrent_runs_says_how_to_get_one(store, monkeypatch):
    at = open_tab(inside.MEMORY, store.home, monkeypatch)
    check_page(at)
    assert "reads recurrent runs (lstm, gru, rnn, bilstm, bigru)" in texts_of(at.info)


def test_memory_tab_draws_the_running_prediction_ending_at_the_models_output(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.MEMORY, home, monkeypatch, **{"inside.memory.run": runs["lstm"]})
    check_page(at)
    running = next(frame for frame in chart_frames(at) if "probability" in frame)
    assert list(running["token"]) == ["the", "film", "was", "not", "good"]
    model = load_trained(RunStore(home), runs["lstm"])
    expected = predict_proba(model, ["the film was not good"])[0, 1]
    assert running["probability"].iloc[-1] == pytest.approx(expected, abs=1e-5)
    assert "ended at" in texts_of(at.caption)


def test_memory_tab_draws_hidden_states_and_the_lstms_gates(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.MEMORY, home, monkeypatch, **{"inside.memory.run": runs["lstm"]})
    check_page(at)
    quantities = [set(frame["quantity"]) for frame in chart_frames(at) if "quantity" in frame]
    assert quantities[0] == {"hidden"}
    assert quantities[1] == {"input_gate", "forget_gate", "output_gate"}


def test_memory_tab_shows_each_direction_of_a_bidirectional_run(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.MEMORY, home, monkeypatch, **{"inside.memory.run": runs["bigru"]})
    check_page(at)
    assert list(at.radio(key="inside.memory.direction").options) == ["forward", "backward"]
    forward = next(frame for frame in chart_frames(at) if "quantity" in frame)
    at.radio(key="inside.memory.direction").set_value("backward").run()
    check_page(at)
    backward = next(frame for frame in chart_frames(at) if "quantity" in frame)
    assert not np.allclose(forward["value"].to_numpy(float), backward["value"].to_numpy(float))


def test_memory_tab_empty_sentence_says_so(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.MEMORY, home, monkeypatch,
                  **{"inside.memory.run": runs["lstm"], "inside.memory.text": "   "})
    check_page(at, "text")
    assert texts_of(at.error)


def test_errors_tab_confusion_matrix_sums_to_the_test_set(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.ERRORS, home, monkeypatch, **{"inside.errors.run": runs["transformer"]})
    check_page(at)
    confusion = next(frame for frame in chart_frames(at) if "count" in frame)
    predictions = test_predictions(RunStore(home), runs["transformer"])
    assert confusion["count"].sum() == predictions.test_size
    assert "test texts right" in texts_of(at.caption)


def test_errors_tab_lists_mistakes_and_disagreements(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.ERRORS, home, monkeypatch,
                  **{"inside.errors.run": runs["lstm"], "inside.errors.other": runs["transformer"]})
    check_page(at)
    # Tables carry no key in AppTest: each is found by the column only it has.
    mistakes = next(frame.value for frame in at.dataframe if "confidence" in frame.value)
    assert len(mistakes) and (mistakes["true"] != mistakes["predicted"]).all()
    disagreements = next(frame.value for frame in at.dataframe if "right" in frame.value)
    assert set(disagreements["right"]) <= {"lstm 8u x1", "transformer 2h x1"}
    assert len(disagreements) == len(test_disagreements(RunStore(home), runs["lstm"], runs["transformer"]))
