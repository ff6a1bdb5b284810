"""Compare: runs and seed groups, curves with noise bands, overfitting, a verdict, budgets, sweeps, advice."""

import streamlit as st

# This page's browser-tab title and favicon. app.py's own set_page_config (title "seqlab",
# its icon, layout="wide") runs first on every rerun; under st.navigation the calls are
# additive (Streamlit 1.67): each changes only what it names and may stand anywhere in the
# script, so this one need not come before the imports and layout is left to app.py.
st.set_page_config(page_title="Compare · seqlab", page_icon=":material/stacked_line_chart:")

from seqlab.ui import use_app_navigation  # noqa: E402

use_app_navigation()  # a first visit by a direct link runs app.py too

from seqlab.views.compare import compare_view, load_compare, selection_lessons  # noqa: E402
from seqlab.ui import compare, compare_cache, error_boundary, get_store, init_state, keep_choice  # noqa: E402
from seqlab.ui.widgets import delete_selected_runs, show_lesson  # noqa: E402
from seqlab.ui import links  # noqa: E402
from seqlab.views.links import COMPARE_PARAMS  # noqa: E402

store = get_store()

st.title("Compare runs")
# The selection (?runs=...&groups=...), patience and smoothing; the tab binds itself (?compare.tab=).
link = links.PageLink("compare", COMPARE_PARAMS, state_keys=("compare.selected",))
with error_boundary("Cannot read the runs"):
    data = load_compare(store, compare_cache())
    if data.runs.empty:
        st.info("No runs to compare yet: train a few on the Train page (or queue a preset on the "
                "home page) and they appear here.")
        st.stop()

    compare.runs_table(data)
    compare.groups_table(data)

    options = data.options
    links.restore_compare(link, data)  # before the widgets: a link's values become their state
    init_state({"compare.selected": data.default_selection, "compare.confirm_delete": False,
                "compare.notice": "", **compare.STATE_DEFAULTS})
    keep_choice("compare.selected", list(options))
    selected = st.multiselect("Runs and seed groups to compare", list(options), format_func=options.get,
                              key="compare.selected",
                              help="A seed group is one entry, drawn as its mean with a band. "
                                   "Default: the latest finished runs and groups (up to 5).")
    links.write_compare(link, selected)
    if st.session_state["compare.notice"]:
        st.success(st.session_state["compare.notice"])
        st.session_state["compare.notice"] = ""

    view = compare_view(data, selected, show_individual=st.session_state["compare.show_individual"],
                              patience=int(st.session_state["compare.patience"]))
    for lesson in selection_lessons(store, view.run_ids):  # a preset's runs, selected together
        show_lesson(lesson, titled=True)
    # Only the open tab runs; its name is in the URL (?compare.tab=Sweep), so each tab is a link.
    tabs = st.tabs(list(compare.TABS), key="compare.tab", bind="query-params")
    for tab, draw in zip(tabs, compare.TABS.values()):
        if tab.open:
            with tab, error_boundary():
                draw(data, view, selected)

    download, remove = st.columns(2)
    with download:
        st.download_button("Download the selected curves (CSV)", view.curves_csv,
                           file_name="seqlab-curves.csv", mime="text/csv",
                           key="compare.download", on_click="ignore")
        links.take_away(store, view.run_ids, data.labels)
    with remove:
        st.checkbox(f"Yes, delete the {len(view.run_ids)} selected run(s) and their models",
                    key="compare.confirm_delete")
        st.button("Delete selected runs", key="compare.delete",
                  disabled=not st.session_state["compare.confirm_delete"] or not view.run_ids,
                  on_click=delete_selected_runs, args=(store, view.run_ids))
