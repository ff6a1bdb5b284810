"""The Inside page (AppTest): each tab on tiny runs trained once for the session.

The runs (an LSTM, a BiGRU and a Transformer) are the session's `toy_runs`
(tests/conftest.py), copied into a store holding only them.

Every run goes through `check_page`, which fails on an exception or an
unexpected `st.error`; tabs are opened by their URL parameter, as a link
would open them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqlab.inference import load_trained, predict_proba, test_disagreements, test_predictions
from seqlab.store import RunStore
from seqlab.views import inside
from tests.apptest_support import INSIDE_PAGE, chart_frames, check_page, open_page, texts_of


@pytest.fixture(scope="module")
def trained(toy_runs, copy_runs, tmp_path_factory):
    """(home, {arch: run_id}) of a store holding only the session's tiny LSTM, BiGRU and Transformer."""
    return copy_runs(toy_runs, tmp_path_factory.mktemp("inside") / "home", keep=("lstm", "bigru", "transformer"))


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


def test_words_tab_draws_each_selected_runs_attributions_summing_to_its_output(trained, monkeypatch):
    home, runs = trained
    chosen = [runs["lstm"], runs["transformer"]]
    at = open_tab(inside.WORDS, home, monkeypatch, **{"inside.words.runs": chosen})
    check_page(at)
    # One block of highlighted text per run, each with its own data.
    table = pd.concat([frame for frame in chart_frames(at) if "attribution" in frame])
    assert list(dict.fromkeys(table["run_id"])) == chosen
    for _, rows in table.groupby("run_id"):
        assert list(rows["token"]) == ["the", "film", "was", "not", "good"]
        whole = rows["output"].iloc[0] - rows["baseline_output"].iloc[0]
        assert rows["attribution"].sum() == pytest.approx(whole, abs=0.05 * abs(whole) + 1e-6)
    assert "leans most on" in texts_of(at.caption)


def test_words_tab_switches_to_occlusion(trained, monkeypatch):
    home, runs = trained
    at = open_tab(inside.WORDS, home, monkeypatch, **{"inside.words.runs": [runs["lstm"]]})
    at.radio(key="inside.words.method").set_value("Occlusion").run()
    check_page(at)
    # The colour ("shade") follows the occlusion drops now, sign for sign.
    table = pd.concat([frame for frame in chart_frames(at) if "shade" in frame])
    strong = table["occlusion"].abs() > 1e-6
    assert strong.any()
    assert (np.sign(table.loc[strong, "shade"]) == np.sign(table.loc[strong, "occlusion"])).all()


def test_gradient_tab_draws_one_line_per_run_from_the_last_token_back(trained, monkeypatch):
    home, runs = trained
    chosen = [runs["lstm"], runs["bigru"]]
    at = open_tab(inside.GRADIENTS, home, monkeypatch, **{"inside.gradients.runs": chosen})
    check_page(at)
    table = next(frame for frame in chart_frames(at) if "distance_from_end" in frame)
    assert set(table["run_id"]) == set(chosen)
    at_end = table[table["distance_from_end"] == 0]
    assert np.allclose(at_end["relative_gradient_norm"], 1.0)
    assert "tokens before the end" in texts_of(at.caption)
