"""Train: design a run, see its size and time, queue it, and watch runs train live."""

import streamlit as st

st.set_page_config(page_title="Train · seqlab", page_icon=":material/model_training:", layout="wide")

from seqlab import jobs, views  # noqa: E402 - set_page_config must come first
from seqlab.ui import error_boundary, get_store, imdb_status, init_state, load_dataset  # noqa: E402
from seqlab.ui import forms  # noqa: E402
from seqlab.ui.forms import form_config, init_form_state, run_form  # noqa: E402
from seqlab.ui.widgets import finished_run_card, live_run_card, show_runs_table  # noqa: E402

store = get_store()
init_form_state()
init_state({"train.notice": ""})

st.title("Train")
st.caption("Runs train in a background worker: you can queue several, close this tab and come "
           "back; progress and curves are read from the run store.")

action = run_form(views.dataset_options(store.home, imdb_status().found))
forms.show_budget_messages()

with error_boundary("Check the form"):
    config = form_config().validate()
    dataset = load_dataset(config.data, config.seed)
    size = views.size_estimate(store, config, dataset)
    st.markdown(
        f"**{config.label()}** on {size.num_train:,} training texts: "
        f"**{size.num_params:,} parameters** (vocabulary {size.vocabulary_size:,}, "
        f"{size.num_classes} classes); estimated training time "
        f"**{views.duration_text(size.seconds)}** per run ({size.basis})."
    )
    if action is not None:
        st.session_state["train.notice"] = forms.queue_action(store, action, config, dataset)

if st.session_state["train.notice"]:
    st.success(st.session_state["train.notice"])


@st.fragment(run_every=1.0)
def live_runs() -> None:
    """Redraws queued/running runs and the latest finished ones from the store every second."""
    with error_boundary("Cannot read the run store"):
        board = views.live_board(store)
        if board.active:
            # Restarts a worker that died and marks its run interrupted, so no run waits forever.
            jobs.ensure_worker(store)
        st.subheader("Active runs")
        if not board.active:
            st.info("No run is training. Set up a run above and press Start training, "
                    "or pick a preset on the home page.")
        for record in board.active:
            live_run_card(store, record, board.curves.get(record.run_id))
        st.subheader("Recently finished")
        show_runs_table(board.recent, "No finished runs yet.")
        if board.latest is not None:
            finished_run_card(board.latest, board.curves.get(board.latest.run_id))


live_runs()
