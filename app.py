"""seqlab's entry point (`streamlit run app.py`): names the pages and runs the chosen one.

The pages live in `pages/`; this list gives the sidebar its labels and icons
(without it the home page would be listed by its file name). URLs stay
`/`, `/Data`, `/Train`, `/Compare`, `/Attention`, `/Predict`, `/Inside`.
"""

import streamlit as st

from seqlab.ui import get_store
from seqlab.ui.present import presentation_mode
from seqlab.ui.worker import keep_worker_warm
from seqlab.ui.workspace import keep_in_url, sidebar_badge

# A presentation link (?present=1) opens with the sidebar folded away.
st.set_page_config(page_title="seqlab", page_icon=":material/science:", layout="wide",
                   initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto")

# Material icons ship with Streamlit; emoji need a font the browser may not have.
PAGES = [
    st.Page("pages/0_Home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/1_Data.py", title="Data", icon=":material/description:"),
    st.Page("pages/2_Train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/3_Compare.py", title="Compare", icon=":material/stacked_line_chart:"),
    st.Page("pages/4_Attention.py", title="Attention", icon=":material/grid_view:"),
    st.Page("pages/5_Predict.py", title="Predict", icon=":material/label:"),
    st.Page("pages/6_Inside.py", title="Inside", icon=":material/neurology:"),
]
page = st.navigation(PAGES)
keep_in_url()  # ?workspace=NAME: a student's bookmark brings them back to their runs
sidebar_badge()
presentation_mode()  # ?present=1 or the sidebar toggle: projector-sized text and charts
keep_worker_warm(get_store())  # TensorFlow imported in a worker before the first click
page.run()
