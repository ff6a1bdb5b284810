"""Predict: classify your own sentences with several trained runs, side by side."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Predict · seqlab", page_icon=":material/label:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab import charts  # noqa: E402
from seqlab.views.predict import (  # noqa: E402
    before_after_table, diff_markdown, edited_lines, escape_markdown, parse_texts, prediction_errors,
    prediction_summary_table, predictions_for_text,
)
from seqlab.views.runs import model_runs  # noqa: E402
from seqlab.views.links import PREDICT_PARAMS, predict_params  # noqa: E402
from seqlab.ui import (  # noqa: E402
    error_boundary, get_store, init_state, keep_choice, links, place_chart, predictions_table,
)

DEFAULT_TEXTS = ("I loved this film, the acting was great\n"
                 "the plot was boring and far too long\nnot good")

store = get_store()

st.title("Predict")
st.caption("Each line is one text; every selected run classifies every line.")
link = links.PageLink("predict", PREDICT_PARAMS, state_keys=("predict.run_ids",))  # ?runs=ID,ID&texts=...
init_state({"predict.texts": DEFAULT_TEXTS})

with error_boundary():
    runs = model_runs(store)
    links.restore_predict(link, store, list(runs))
    if not runs:
        st.info("No trained run yet: train one on the Train page (or queue a preset on the home "
                "page); finished runs with a saved model appear here.")
        st.stop()
    keep_choice("predict.run_ids", list(runs), list(runs)[:3])
    run_ids = st.multiselect("Runs", list(runs), format_func=runs.get, key="predict.run_ids",
                             help="Finished runs with a saved model (the latest three by default).")
    text = st.text_area("Texts, one per line", key="predict.texts", height=120)
    link.write(predict_params(run_ids, parse_texts(text), parse_texts(DEFAULT_TEXTS)))
    # The texts at the last rerun, and those before the latest edit: comparing with the
    # latter keeps the before/after in view while the user only changes the runs.
    seen = st.session_state.setdefault("predict.previous_seen", text)
    if parse_texts(text) != parse_texts(seen):
        st.session_state["predict.previous_texts"] = seen
    st.session_state["predict.previous_seen"] = text
    previous_text = st.session_state.setdefault("predict.previous_texts", None)
    if not run_ids:
        st.info("Select at least one run.")
        st.stop()

    predictions = predictions_table(str(store.home), tuple(run_ids), tuple(parse_texts(text)))
    for message in prediction_errors(predictions):
        st.warning(message)
    st.dataframe(prediction_summary_table(predictions), hide_index=True,
                 column_config={"probability": st.column_config.ProgressColumn(
                     "probability", format="%.3f", min_value=0.0, max_value=1.0)})

    edits = edited_lines(previous_text, text) if previous_text is not None else []
    if edits:
        previous_lines = tuple(parse_texts(previous_text))
        previous_predictions = (predictions_table(str(store.home), tuple(run_ids), previous_lines)
                                if previous_lines else None)
        st.subheader("Before and after your edit")
        st.caption("Each run's probability of the class it predicts now, for the line before and "
                   "after the edit; in the sentences, green words were inserted, orange ones replaced "
                   "the struck-through words.")
        for edit in edits:
            st.markdown(f"Line {edit.line}: {diff_markdown(edit.words)}")
        st.dataframe(
            before_after_table(previous_predictions, predictions, edits), hide_index=True,
            column_order=["line", "run", "class_name", "previous_probability", "probability",
                          "change_label", "previous_class", "flipped"],
            column_config={
                "class_name": "class now",
                "previous_probability": st.column_config.NumberColumn("before", format="%.3f"),
                "probability": st.column_config.NumberColumn("after", format="%.3f"),
                "change_label": "change",
                "previous_class": "class before",
                "flipped": st.column_config.CheckboxColumn("class changed"),
            })

    for index, sentence in enumerate(parse_texts(text)):
        st.markdown(f"**{escape_markdown(sentence)}**")
        place_chart(charts.prediction_chart(predictions_for_text(predictions, sentence)),
                    key=f"predict.chart.{index}")

    with st.expander("Take these runs away: each model (.zip) and a script that trains it again (.py)"):
        for run_id in run_ids:
            st.markdown(f"**{escape_markdown(runs[run_id])}**")
            links.download_buttons(store, run_id, f"predict.take_away.{run_id}")
