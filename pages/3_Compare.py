"""Compare: a table of runs, overlaid curves, the generalization gap, early-stopping replay."""

import streamlit as st

st.set_page_config(page_title="Compare · seqlab", page_icon="📈", layout="wide")

from seqlab import charts, views  # noqa: E402 - set_page_config must come first
from seqlab.ui import error_boundary, get_store, init_state, keep_choice, place_chart  # noqa: E402
from seqlab.ui.widgets import SUMMARY_COLUMNS, delete_selected_runs  # noqa: E402

store = get_store()

st.title("Compare runs")
with error_boundary("Cannot read the runs"):
    data = views.load_compare(store)
    if data.runs.empty:
        st.info("No runs to compare yet: train a few on the Train page (or queue a preset on the "
                "home page) and they appear here.")
        st.stop()

    st.dataframe(views.summary_view(data), hide_index=True, column_config=SUMMARY_COLUMNS)

    options = data.options
    init_state({"compare.selected": data.default_selection, "compare.confirm_delete": False,
                "compare.notice": ""})
    keep_choice("compare.selected", list(options))
    selected = st.multiselect("Runs to overlay", list(options), format_func=options.get,
                              key="compare.selected",
                              help="Default: the latest finished runs (up to 5).")
    if st.session_state["compare.notice"]:
        st.success(st.session_state["compare.notice"])
        st.session_state["compare.notice"] = ""
    if not selected:
        st.info("Select runs above to overlay their curves.")
        st.stop()

    view = views.compare_view(data, selected)
    loss, accuracy = st.columns(2)
    with loss:
        place_chart(charts.metric_overlay_chart(view.curves, "loss"), key="compare.loss_chart")
    with accuracy:
        place_chart(charts.metric_overlay_chart(view.curves, "accuracy"), key="compare.accuracy_chart")

    st.subheader("Where overfitting starts")
    place_chart(charts.gap_chart(view.gap), key="compare.gap_chart")

    st.subheader("Early stopping, replayed")
    st.caption("What Keras EarlyStopping on validation loss (restoring the best weights) would "
               "have done with each patience; nothing is retrained.")
    st.dataframe(view.early_stopping[["label", "patience", "sentence", "epochs_saved"]],
                 hide_index=True)

    download, remove = st.columns(2)
    download.download_button("Download the selected curves (CSV)", views.curves_csv(view.curves),
                             file_name="seqlab-curves.csv", mime="text/csv",
                             key="compare.download", on_click="ignore")
    with remove:
        st.checkbox(f"Yes, delete the {len(selected)} selected run(s) and their models",
                    key="compare.confirm_delete")
        st.button("Delete selected runs", key="compare.delete",
                  disabled=not st.session_state["compare.confirm_delete"],
                  on_click=delete_selected_runs, args=(store, selected))
