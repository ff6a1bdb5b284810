"""Train: design a run, see its size and time, queue it, and watch runs train live."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Train · seqlab", page_icon=":material/model_training:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab.workspaces import upload_scope  # noqa: E402
from seqlab.views.datasets import dataset_options  # noqa: E402
from seqlab.views.train import live_board, size_estimate  # noqa: E402
from seqlab.ui import error_boundary, get_store, imdb_status, init_state, load_dataset  # noqa: E402
from seqlab.ui import forms  # noqa: E402
from seqlab.ui.forms import form_config, init_form_state, run_form  # noqa: E402
from seqlab.ui.present import presenting  # noqa: E402
from seqlab.ui.search import search_panel  # noqa: E402
from seqlab.ui.widgets import (  # noqa: E402
    finished_run_card, live_run_card, show_runs_table, smoothing_slider,
)
from seqlab.ui import links  # noqa: E402

store = get_store()
init_form_state()
init_state({"train.notice": ""})

st.title("Train")
st.caption("Runs train in a background worker: you can queue several, close this tab and come "
           "back; progress and curves are read from the run store.")
# ?preset=toy fills the form with a preset's first run; ?model.units=64&train.epochs=3 (what
# differs from the defaults) with any recipe. The URL follows each submit of the form.
link = links.train_link()
options = dataset_options(store.home, imdb_status().found, upload_scope(store.actor))
links.restore_train(link, options)


@st.fragment(run_every=1.0)
def active_runs() -> None:
    """Redraws queued and running runs from the store every second, at the top where a preset click lands."""
    with error_boundary("Cannot read the run store"):
        board = live_board(store)
        if not board.active:
            return
        st.subheader("Active runs")
        smoothing_slider("train.smoothing")
        for record in board.active:
            live_run_card(store, record, board.curves.get(record.run_id), board.steps.get(record.run_id))


active_runs()

# Presenting, the form folds away so the runs fill the screen.
with st.expander("Set up a run", expanded=False) if presenting() else st.container():
    action = run_form(options)
forms.show_budget_messages()

with error_boundary("Check the form"):
    config = form_config().validate()
    links.write_train(link, config)
    dataset = load_dataset(config.data, config.seed)
    st.markdown(size_estimate(store, config, dataset).sentence(config.label()))
    if action is not None:
        st.session_state["train.notice"] = forms.queue_action(store, action, config, dataset)

if st.session_state["train.notice"]:
    st.success(st.session_state["train.notice"] + " Its progress shows under Active runs at the top of this page.")

# Tune a few of the form's settings with Optuna: its trials are queued runs like any other.
search_panel(store)


@st.fragment(run_every=1.0)
def finished_runs() -> None:
    """Redraws the latest finished runs from the store every second."""
    with error_boundary("Cannot read the run store"):
        board = live_board(store)
        if not board.active:
            st.info("No run is training. Set up a run above and press Start training, "
                    "or pick a preset on the home page.")
        st.subheader("Recently finished")
        show_runs_table(board.recent, "No finished runs yet.")
        if board.latest is not None:
            finished_run_card(board.latest, board.curves.get(board.latest.run_id),
                              board.steps.get(board.latest.run_id))


finished_runs()
