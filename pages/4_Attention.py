"""Attention: what each head of a trained Transformer looks at, for a sentence you type."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Attention · seqlab", page_icon=":material/grid_view:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab.attention_charts import attention_grid_chart, attention_heatmap_chart  # noqa: E402
from seqlab.views.attention import (  # noqa: E402
    MAX_SHOWN_TOKENS, SHOW_MODES, WINDOW, attention_heads, attention_view, linked_run,
    no_attention_message, training_attention_view,
)
from seqlab.views.runs import model_runs  # noqa: E402
from seqlab.views.links import attention_params, read_attention_link  # noqa: E402
from seqlab.ui.widgets import choose_text  # noqa: E402
from seqlab.ui import (  # noqa: E402
    attention_map, error_boundary, get_store, init_state, keep_choice, links, place_chart,
)

DEFAULT_TEXT = "the acting was not good but the story was great"

store = get_store()

st.title("Attention")
st.caption("A Transformer run's attention weights for one text: row = the token that looks "
           "(query), column = the token it looks at (key). Colour = how many times an even share "
           "(1/n) a weight is: white is an even spread, orange more, blue less. Padding is left out.")
# The URL holds the run id (?run=, not the selectbox's label), the text, the layer and the head.
link = links.attention_link()
init_state({"attention.source": "Type a sentence", "attention.text": DEFAULT_TEXT, "attention.show": WINDOW})

with error_boundary():
    runs = model_runs(store, arch="transformer")
    wanted = read_attention_link(link.params).run
    linked = linked_run(wanted, runs)
    if wanted and linked is None:
        link.notice(no_attention_message(store, wanted))
    if not runs:
        st.info("Attention maps exist for transformer runs: train one on the Train page "
                "(architecture: transformer), then come back here.")
        st.stop()
    if linked is not None:
        st.session_state["attention.run_id"] = linked
    keep_choice("attention.run_id", list(runs), next(iter(runs)))
    run_id = st.selectbox("Transformer run", list(runs), format_func=runs.get, key="attention.run_id",
                          help="Finished transformer runs with a saved model.")
    record = store.get_run(run_id)

    links.restore_attention_text(link, record.config)
    text = choose_text("attention", record.config.data, record.config.seed)
    picked = st.session_state["attention.source"] != "Type a sentence"
    # Written now, and again with the layer and head once the map is read (reading may fail).
    link.write(attention_params(run_id, text=text, picked=picked, default_text=DEFAULT_TEXT))

    found = attention_map(str(store.home), run_id, text)
    layers = sorted(int(layer) for layer in found.table["layer"].unique())
    heads = attention_heads(found.table)
    links.restore_choice(link, "layer", "attention.layer", layers)
    links.restore_choice(link, "head", "attention.head", heads)
    keep_choice("attention.layer", layers, layers[-1])
    keep_choice("attention.head", heads, "mean")
    layer_column, head_column = st.columns(2)
    layer = layer_column.selectbox("Layer (encoder block)", layers, key="attention.layer")
    head = head_column.selectbox("Head to enlarge", heads, key="attention.head")
    link.write(attention_params(run_id, text=text, picked=picked, default_text=DEFAULT_TEXT,
                                layer=layer, default_layer=layers[-1], head=head))

    mode, first = WINDOW, 0
    if len(found.tokens) > MAX_SHOWN_TOKENS:
        mode = st.radio(f"Tokens shown (at most {MAX_SHOWN_TOKENS})", SHOW_MODES,
                        key="attention.show", horizontal=True)
        if mode == WINDOW:
            last_start = len(found.tokens) - MAX_SHOWN_TOKENS + 1
            if st.session_state.get("attention.first", 1) > last_start:
                st.session_state["attention.first"] = last_start
            first = st.slider("First token shown", 1, last_start, key="attention.first") - 1
    view = attention_view(found, layer, head, mode, first)
    for note in view.notes:
        st.info(note)
    place_chart(attention_grid_chart(view.table, layer), key="attention.grid")
    place_chart(attention_heatmap_chart(view.table, layer, head), key="attention.heatmap")

    st.subheader("How the pattern formed during training")
    st.caption("The run recorded the attention of its first short validation texts after every epoch: "
               "slide over the epochs to watch the heads find the words that decide the label.")
    history = training_attention_view(store, run_id, st.session_state.get("attention.history.probe", 0),
                                      st.session_state.get("attention.history.epoch"),
                                      st.session_state.get("attention.history.layer"))
    if history is None:
        st.info("This run recorded no attention during training (runs trained before seqlab recorded "
                "it, or still in their first epoch): train it again to watch the pattern form.")
    else:
        keep_choice("attention.history.probe", list(range(len(history.probes))), 0)
        probe = st.selectbox("Probe text", list(range(len(history.probes))),
                             format_func=lambda i: history.probes[i], key="attention.history.probe")
        keep_choice("attention.history.layer", history.layers, history.layers[-1])
        keep_choice("attention.history.head", history.heads, "mean")
        layer_column, head_column = st.columns(2)
        history_layer = layer_column.selectbox("Layer", history.layers, key="attention.history.layer")
        keep_choice("attention.history.epoch", history.epochs, history.epochs[-1])
        if len(history.epochs) > 1:
            st.select_slider("Epoch", history.epochs, key="attention.history.epoch")
        history = training_attention_view(store, run_id, probe, st.session_state["attention.history.epoch"],
                                          history_layer)
        keep_choice("attention.history.head", history.heads, "mean")
        history_head = head_column.selectbox("Head", history.heads, key="attention.history.head")
        st.caption(history.caption)
        place_chart(attention_heatmap_chart(history.table, history_layer, history_head),
                    key="attention.history.heatmap")
