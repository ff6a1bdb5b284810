"""Attention: what each head of a trained Transformer looks at, for a sentence you type."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Attention · seqlab", page_icon=":material/grid_view:")

from seqlab import charts  # noqa: E402
from seqlab.views.attention import attention_heads, no_attention_message  # noqa: E402
from seqlab.views.runs import model_runs  # noqa: E402
from seqlab.data import examples_table  # noqa: E402
from seqlab.ui import (  # noqa: E402
    attention_for_text, error_boundary, get_store, init_state, keep_choice, load_dataset,
    place_chart,
)

store = get_store()
init_state({"attention.source": "Type a sentence",
            "attention.text": "the acting was not good but the story was great"})

st.title("Attention")
st.caption("A Transformer run's attention weights for one text: row = the token that looks "
           "(query), column = the token it looks at (key). Padding is left out.")

with error_boundary():
    runs = model_runs(store, arch="transformer")
    linked = st.query_params.get("attention.run_id")
    if linked and linked not in runs:
        st.info(no_attention_message(store, linked))
    if not runs:
        st.info("Attention maps exist for transformer runs: train one on the Train page "
                "(architecture: transformer), then come back here.")
        st.stop()
    keep_choice("attention.run_id", list(runs), linked if linked in runs else next(iter(runs)))
    run_id = st.selectbox("Transformer run", list(runs), format_func=runs.get, key="attention.run_id",
                          bind="query-params", help="Finished transformer runs with a saved model.")
    record = store.get_run(run_id)

    source = st.radio("Text", ["Type a sentence", "Pick a dataset example"],
                      key="attention.source", horizontal=True)
    if source == "Type a sentence":
        text = st.text_input("Sentence", key="attention.text")
    else:
        examples = examples_table(load_dataset(record.config.data, record.config.seed), "test", n=10)
        text = st.selectbox("Example from the test split", examples["text"].tolist(),
                            key="attention.example")

    attention = attention_for_text(str(store.home), run_id, text)
    layers = sorted(attention["layer"].unique().tolist())
    keep_choice("attention.layer", layers, layers[-1])
    layer = st.selectbox("Layer (encoder block)", layers, key="attention.layer")
    place_chart(charts.attention_grid_chart(attention, layer), key="attention.grid")

    heads = attention_heads(attention)
    keep_choice("attention.head", heads, "mean")
    head = st.selectbox("Head to enlarge", heads, key="attention.head")
    place_chart(charts.attention_heatmap_chart(attention, layer, head), key="attention.heatmap")
