"""Home: what seqlab does, one-click presets, recent runs, IMDB status, links."""

import streamlit as st

st.set_page_config(page_title="seqlab", page_icon=":material/science:", layout="wide")

from seqlab import jobs, views  # noqa: E402 - set_page_config must come first
from seqlab.config import presets  # noqa: E402
from seqlab.ui import error_boundary, get_store, imdb_status  # noqa: E402
from seqlab.ui.widgets import show_runs_table  # noqa: E402

store = get_store()

st.title("seqlab")
st.markdown(
    "Train sequence models for text classification (LSTM, GRU, bidirectional RNNs, a Transformer) "
    "in your browser.  \n"
    "Watch loss and accuracy grow live, overlay many runs and see where overfitting starts.  \n"
    "Look inside: tokens and padding, attention heatmaps, and predictions side by side."
)

st.subheader("Start with a preset")
with error_boundary("Cannot queue this preset"):
    imdb_found = imdb_status().found
    columns = st.columns(2)
    for index, (title, preset) in enumerate(presets().items()):
        with columns[index % 2].container(border=True):
            st.markdown(f"**{title}**")
            st.caption(f"{preset['description']} ({len(preset['runs'])} runs: "
                       f"{', '.join(config.label() for config in preset['runs'])})")
            if not imdb_found and any(c.data.dataset == "imdb" for c in preset["runs"]):
                st.caption(":material/warning: Needs IMDB, which was not found locally (see below): "
                           "these runs will try to download it.")
            if st.button("Queue these runs", key=f"home.preset.{index}"):
                jobs.queue_runs(store, preset["runs"], group_id=None)
                st.switch_page("pages/2_Train.py")

st.subheader("Recent runs")
with error_boundary():
    show_runs_table(views.recent_runs_table(store, limit=10),
               "No runs yet: pick a preset above, or design a run on the Train page.")

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
)
links = st.columns(3)  # three a row: five would cut the labels short
for index, (page, label, icon) in enumerate(PAGE_LINKS):
    links[index % 3].page_link(page, label=label, icon=icon)
