"""Home: what seqlab does, one-click presets, recent runs, IMDB status, links."""

import streamlit as st

# No set_page_config here: app.py's call (title "seqlab", its icon, layout="wide") runs
# first on every rerun and is all this page needs, so a title another page set does not
# linger. Under st.navigation the calls are additive (Streamlit 1.67): each changes only
# what it names and may stand anywhere in the script.
from seqlab.classroom import LOCKED_NOTE, read_lock
from seqlab.views.home import preset_cards, queue_preset
from seqlab.views.runs import recent_runs_table
from seqlab.ui import error_boundary, get_store, imdb_status
from seqlab.ui.widgets import show_lesson, show_runs_table
from seqlab.ui.workspace import share_panel, workspace_panel

store = get_store()

st.title("seqlab")
st.markdown(
    "Train sequence models for text classification (LSTM, GRU, simple RNN, bidirectional RNNs, a "
    "Transformer) "
    "in your browser.  \n"
    "Watch loss and accuracy grow live, overlay many runs and see where overfitting starts.  \n"
    "Look inside: tokens and padding, attention heatmaps, what an RNN remembers token by token, "
    "which words decided a prediction, and where each model errs."
)
workspace_panel()
share_panel(store)


@st.fragment(run_every=3.0)
def live_lesson(title: str) -> None:
    """Redraws one preset's verdict from the store while its runs train."""
    lesson = next(card.lesson for card in preset_cards(True, store) if card.title == title)
    show_lesson(lesson)


st.subheader("Start with a preset")
st.caption("Each preset says what it should show; once its runs finish, its card says whether it did.")
lock = read_lock()
if lock is not None and lock.problem:
    st.error(f"The classroom lock could not be read, so every preset is locked: {lock.problem}",
             icon=":material/lock:")
with error_boundary("Cannot queue this preset"):
    columns = st.columns(2)
    for index, card in enumerate(preset_cards(imdb_status().found, store)):
        with columns[index % 2].container(border=True):
            # A locked preset stays readable but greyed, so students see what the class may try later.
            st.markdown(f"**{card.title}**" if card.allowed else f":gray[**{card.title}**]")
            st.caption(card.caption)
            st.markdown(card.lesson.expectation if card.allowed else f":gray[{card.lesson.expectation}]")
            if card.lesson.status == "waiting":
                live_lesson(card.title)
            else:
                show_lesson(card.lesson)
            if card.needs_imdb:
                st.caption(":material/warning: Needs IMDB, which was not found locally (see below): "
                           "these runs will try to download it.")
            if not card.allowed:
                st.caption(f":material/lock: {LOCKED_NOTE}: this preset cannot be queued in this class.")
            if st.button("Queue these runs", key=f"home.preset.{index}", disabled=not card.allowed):
                queue_preset(store, card.title)
                st.switch_page("pages/2_Train.py")


def recent_runs(table=None) -> None:
    """Shows the latest runs.

    Args:
        table: a `recent_runs_table` already read; None reads it again (the live fragment).
    """
    with error_boundary():
        show_runs_table(recent_runs_table(store, limit=10) if table is None else table,
                        "No runs yet: pick a preset above, or design a run on the Train page.")


# While runs train, the table keeps up with them, as the preset cards above do.
live_recent_runs = st.fragment(recent_runs, run_every=3.0)

st.subheader("Recent runs")
with error_boundary():
    recent = recent_runs_table(store, limit=10)
    if recent["status"].isin(["queued", "running"]).any():
        live_recent_runs()
    else:
        recent_runs(recent)

st.subheader("IMDB")
with error_boundary():
    status = imdb_status()
    if status.found:
        st.success(status.message)
    else:
        st.warning(status.message)

st.subheader("Pages")
# Material icons ship with Streamlit; emoji need a font the browser may not have.
PAGE_LINKS = (
    ("pages/1_Data.py", "Data: texts, lengths, tokens", ":material/description:"),
    ("pages/2_Train.py", "Train: design and watch runs", ":material/model_training:"),
    ("pages/3_Compare.py", "Compare: overlay curves", ":material/stacked_line_chart:"),
    ("pages/4_Attention.py", "Attention: heatmaps", ":material/grid_view:"),
    ("pages/5_Predict.py", "Predict: side by side", ":material/label:"),
    ("pages/6_Inside.py", "Inside: memory, words, errors", ":material/neurology:"),
)
links = st.columns(3)  # three a row: more would cut the labels short
for index, (page, label, icon) in enumerate(PAGE_LINKS):
    links[index % 3].page_link(page, label=label, icon=icon)
