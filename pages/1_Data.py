"""Data: pick a dataset, see its texts, classes, lengths and how they become padded ids."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Data · seqlab", page_icon=":material/description:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab import charts  # noqa: E402
from seqlab.views.data import data_config, label_counts_table, truncation_summary  # noqa: E402
from seqlab.workspaces import upload_scope  # noqa: E402
from seqlab.views.datasets import dataset_lesson, dataset_options, lengths_table  # noqa: E402
from seqlab.config import FIELD_HELP, SIDES, DataConfig, field_bounds  # noqa: E402
from seqlab.data import dataset_summary_table, examples_table  # noqa: E402
from seqlab.ui import (  # noqa: E402
    error_boundary, follow_dataset, get_store, imdb_status, init_state, keep_choice, load_dataset,
    place_chart, tokenization_table,
)
from seqlab.ui.forms import set_form_values  # noqa: E402
from seqlab.data.uploads import UPLOAD_TYPES  # noqa: E402
from seqlab.ui.widgets import accept_upload  # noqa: E402
from seqlab.ui import links  # noqa: E402
from seqlab.views.links import DATA_PARAMS  # noqa: E402

SPLIT_COLUMNS = {
    "mean_tokens": st.column_config.NumberColumn("mean tokens", format="%.1f"),
    "median_tokens": st.column_config.NumberColumn("median tokens", format="%.1f"),
    "p95_tokens": st.column_config.NumberColumn("95th percentile tokens", format="%.1f"),
}

store = get_store()
DEFAULTS = DataConfig()  # the Train form starts from the same values
# The page's starting settings (config path -> value); a link holds those that differ.
PAGE_DEFAULTS = {
    "data.dataset": DEFAULTS.dataset, "data.sequence_length": DEFAULTS.sequence_length,
    "data.vocabulary_size": DEFAULTS.vocabulary_size, "data.truncation": DEFAULTS.truncation,
    "data.padding": DEFAULTS.padding,
    "data.subset": 2000,  # a sample: all of IMDB takes a while to tokenize and draw
    "data.text_column": "", "data.label_column": "",
}

st.title("Data")
st.caption("Every dataset is raw texts with labels, split into train, validation and test. "
           "Here you see them before a model does: classes, lengths, and the padded token ids.")
link = links.PageLink("data", DATA_PARAMS, state_keys=("data.dataset",))  # ?data.dataset=...&split=...
options = dataset_options(store.home, imdb_status().found, upload_scope(store.actor))
links.restore_data(link, options, PAGE_DEFAULTS)
init_state({**{path: value for path, value in PAGE_DEFAULTS.items() if path != "data.sequence_length"},
            "data.split": "train"})

# The upload comes first: a new file must be selected before the dataset box is drawn.
with st.expander("Upload your own labelled texts (CSV, TSV or JSONL)"):
    left, right = st.columns(2)
    left.text_input("Text column", key="data.text_column", help=FIELD_HELP["data.text_column"])
    right.text_input("Label column", key="data.label_column", help=FIELD_HELP["data.label_column"])
    uploaded = st.file_uploader("A file with a header row, one labelled text per row",
                                type=list(UPLOAD_TYPES), key="data.upload")
    with error_boundary("This file cannot be used"):
        upload = accept_upload(store, uploaded, st.session_state["data.text_column"],
                               st.session_state["data.label_column"], "data.dataset")
        if upload is not None:
            st.success(f"{upload.filename}: {upload.num_texts:,} texts, classes "
                       f"{', '.join(upload.class_names)}. Saved; it is now in the dataset lists "
                       f"here and on the Train page.")

options = dataset_options(store.home, imdb_status().found, upload_scope(store.actor))  # again: an upload above may be new
keep_choice("data.dataset", list(options), DEFAULTS.dataset)
follow_dataset("data")  # the sequence length starts at what suits the dataset, as on the Train page
controls = st.columns([3, 1, 1, 1, 1])
controls[0].selectbox("Dataset", list(options), format_func=options.get, key="data.dataset",
                      help=FIELD_HELP["data.dataset"])
controls[1].number_input("Sequence length", *field_bounds("data.sequence_length"), step=1,
                         key="data.sequence_length", help=FIELD_HELP["data.sequence_length"])
controls[2].number_input("Vocabulary size", *field_bounds("data.vocabulary_size"), step=1000,
                         key="data.vocabulary_size", help=FIELD_HELP["data.vocabulary_size"])
controls[3].selectbox("Truncation", SIDES, key="data.truncation", help=FIELD_HELP["data.truncation"])
controls[4].selectbox("Padding", SIDES, key="data.padding", help=FIELD_HELP["data.padding"])
if st.session_state["data.dataset"] == "imdb":
    st.number_input("IMDB reviews to use", *field_bounds("data.subset"), step=500,
                    key="data.subset", help=FIELD_HELP["data.subset"])

settings = {name: st.session_state[f"data.{name}"] for name in (
    "dataset", "sequence_length", "vocabulary_size", "truncation", "padding", "text_column",
    "label_column")}
if settings["dataset"] == "imdb":
    settings["subset"] = st.session_state["data.subset"]
links.write_data(link, settings, PAGE_DEFAULTS)

with error_boundary("Cannot load this dataset"):
    config = data_config(settings)
    dataset = load_dataset(config)
    st.caption(dataset.description)
    if dataset_lesson(settings["dataset"]):
        st.markdown(f"**What it is for:** {dataset_lesson(settings['dataset'])}")
    if st.button("Train with these data settings", key="data.use_settings"):
        set_form_values({f"data.{name}": value for name, value in settings.items()})
        st.switch_page("pages/2_Train.py")

    st.subheader("Splits")
    st.dataframe(dataset_summary_table(dataset), hide_index=True, column_config=SPLIT_COLUMNS)

    st.subheader("Examples")
    st.radio("Split", ["train", "validation", "test"], key="data.split", horizontal=True)
    st.dataframe(examples_table(dataset, st.session_state["data.split"], n=10), hide_index=True)

    balance, lengths = st.columns(2)
    with balance:
        place_chart(charts.label_balance_chart(label_counts_table(dataset)))
    with lengths:
        length_table = lengths_table(dataset)
        place_chart(charts.length_histogram_chart(length_table, config.sequence_length))
        st.caption(truncation_summary(length_table, config.sequence_length))

    # Last on the page: the vocabulary comes from Keras, so this loads TensorFlow.
    st.subheader("What the model receives")
    st.caption("The first training texts as token ids after padding/truncation: grey cells are "
               "padding (id 0), masked out so they cannot change the prediction; [UNK] marks "
               "words outside the vocabulary.")
    tokens = tokenization_table(config, 0, 4)
    place_chart(charts.tokens_chart(tokens))
    with st.expander("The same as a table (token, id, mask)"):
        st.dataframe(tokens[["example", "position", "token", "id", "mask"]], hide_index=True)
