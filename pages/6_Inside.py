"""Inside: what an RNN remembers, which words decided, how gradients flow, where models err."""

import streamlit as st

# This page's browser-tab title and favicon (see pages/4_Attention.py for why it may stand here).
st.set_page_config(page_title="Inside · seqlab", page_icon=":material/neurology:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab.attribution_charts import attribution_text_chart, gradient_by_position_chart  # noqa: E402
from seqlab.error_charts import confusion_chart  # noqa: E402
from seqlab.state_charts import gates_chart, running_prediction_chart, state_heatmap_chart  # noqa: E402
from seqlab.views import inside  # noqa: E402
from seqlab.views.runs import model_runs  # noqa: E402
from seqlab.ui import (  # noqa: E402
    attribution_table, disagreements_on_test, error_boundary, get_store, gradient_table, keep_choice,
    load_dataset, place_chart, predictions_on_test, text_states,
)
from seqlab.ui.widgets import choose_text  # noqa: E402

store = get_store()
home = str(store.home)

st.title("Inside a model")
st.caption("Look into the runs you trained: the memory of an LSTM, GRU or simple RNN token by token, "
           "the words each model's prediction rests on, how far back its gradient reaches, and the "
           "test texts it gets wrong.")


def memory_tab() -> None:
    runs = inside.recurrent_runs(store)
    if not runs:
        st.info("This view reads recurrent runs (lstm, gru, rnn, bilstm, bigru): train one on the "
                "Train page, or click a preset on Home, then come back here.")
        return
    keep_choice("inside.memory.run", list(runs), next(iter(runs)))
    run_id = st.selectbox("Recurrent run", list(runs), format_func=runs.get, key="inside.memory.run")
    record = store.get_run(run_id)
    text = choose_text("inside.memory", record.config.data, record.config.seed,
                       default="the film was not good")
    found = text_states(home, run_id, text)
    layer_column, direction_column = st.columns(2)
    view = inside.memory_view(found, st.session_state.get("inside.memory.layer"),
                              st.session_state.get("inside.memory.direction", "forward"))
    keep_choice("inside.memory.layer", view.layers, view.layers[-1])
    layer_column.selectbox("Recurrent layer", view.layers, key="inside.memory.layer")
    keep_choice("inside.memory.direction", view.directions, "forward")
    direction_column.radio("Direction", view.directions, key="inside.memory.direction", horizontal=True)
    view = inside.memory_view(found, st.session_state["inside.memory.layer"],
                              st.session_state["inside.memory.direction"])
    for note in view.notes:
        st.info(note)
    st.markdown("**Running prediction**")
    st.caption("The classifier applied to the state after each token: where the line jumps, that "
               "token changed the model's mind. " + view.sentence)
    place_chart(running_prediction_chart(view.running), key="inside.memory.running")
    st.markdown("**Hidden state**")
    st.caption("One row per unit, one column per token: orange and blue are the two signs of the state "
               "the next token and the classifier read; a row that keeps its colour is a memory.")
    place_chart(state_heatmap_chart(view.states, "hidden", view.layer, view.direction),
                key="inside.memory.hidden")
    if view.has_gates:
        st.markdown("**Gates**")
        st.caption("Each gate's opening (0 closed, 1 open) per unit and token: an LSTM's forget gate "
                   "near 1 keeps the cell's memory, a GRU's update gate near 1 keeps the old state.")
        place_chart(gates_chart(view.states, view.layer, view.direction), key="inside.memory.gates",
                    stretch=False)
    else:
        st.caption("A simple RNN has no gates: each step overwrites its state through one tanh.")


def words_tab() -> None:
    runs = model_runs(store)
    if not runs:
        st.info("Train a run on the Train page (or click a preset on Home), then come back here.")
        return
    st.session_state.setdefault("inside.words.runs", list(runs)[:2])
    run_ids = st.multiselect(f"Runs, side by side (at most {inside.MAX_ATTRIBUTION_RUNS})", list(runs),
                             format_func=runs.get, key="inside.words.runs",
                             max_selections=inside.MAX_ATTRIBUTION_RUNS)
    if not run_ids:
        st.info("Select at least one run.")
        return
    record = store.get_run(run_ids[0])
    text = choose_text("inside.words", record.config.data, record.config.seed,
                       default="the film was not good")
    method = st.radio("Measure", ["Integrated gradients", "Occlusion"], key="inside.words.method",
                      horizontal=True)
    value = "attribution" if method == "Integrated gradients" else "occlusion"
    table = attribution_table(home, tuple(run_ids), text)
    st.caption("Blue words pushed the run towards the class it predicts, red words against it; the "
               "stronger the colour, the more. Integrated gradients add up, over the words, to the "
               "prediction minus that of an all-zero input; occlusion is how much the probability "
               "drops when the word is removed. " + inside.attribution_sentence(table, value))
    place_chart(attribution_text_chart(table, value), key="inside.words.chart")


def gradients_tab() -> None:
    runs = model_runs(store)
    if not runs:
        st.info("Train a run on the Train page (or click a preset on Home), then come back here.")
        return
    st.session_state.setdefault("inside.gradients.runs", list(runs)[:3])
    run_ids = st.multiselect("Runs", list(runs), format_func=runs.get, key="inside.gradients.runs")
    if not run_ids:
        st.info("Select at least one run.")
        return
    record = store.get_run(run_ids[0])
    texts, labels = inside.gradient_texts(load_dataset(record.config.data, record.config.seed))
    relative = st.toggle("Relative to the last token", key="inside.gradients.relative", value=True)
    table = gradient_table(home, tuple(run_ids), tuple(texts), tuple(labels))
    st.caption(f"How strongly the loss on {len(texts)} test texts of the first run's dataset pulls on each "
               "token's embedding, by how far before the end it stands: a line that falls away means "
               "the gradient vanishes before it reaches early words, so they are hard to learn from. "
               + inside.gradient_sentence(table))
    place_chart(gradient_by_position_chart(table, relative=relative), key="inside.gradients.chart")


def errors_tab() -> None:
    runs = model_runs(store)
    if not runs:
        st.info("Train a run on the Train page (or click a preset on Home), then come back here.")
        return
    keep_choice("inside.errors.run", list(runs), next(iter(runs)))
    run_id = st.selectbox("Run", list(runs), format_func=runs.get, key="inside.errors.run")
    view = inside.errors_view(predictions_on_test(home, run_id))
    st.caption("Rows: the true class; columns: what the run said. The diagonal is right. " + view.sentence)
    place_chart(confusion_chart(view.confusion), key="inside.errors.confusion")
    st.markdown("**Its most confident mistakes**")
    st.dataframe(view.mistakes, hide_index=True, key="inside.errors.mistakes")
    others = inside.other_runs(runs, run_id)
    if others:
        keep_choice("inside.errors.other", list(others), next(iter(others)))
        other = st.selectbox("Compare its mistakes with", list(others), format_func=others.get,
                             key="inside.errors.other")
        st.caption("Test texts one run gets right and the other wrong (the two must share a test split).")
        st.dataframe(disagreements_on_test(home, run_id, other), hide_index=True,
                     key="inside.errors.disagreements")


DRAW = {inside.MEMORY: memory_tab, inside.WORDS: words_tab, inside.GRADIENTS: gradients_tab,
        inside.ERRORS: errors_tab}

with error_boundary():
    # Only the open tab runs; its name is in the URL (?inside.tab=...), so each tab is a link.
    tabs = st.tabs(list(DRAW), key="inside.tab", bind="query-params")
    for tab, draw in zip(tabs, DRAW.values()):
        if tab.open:
            with tab, error_boundary():
                draw()
