"""The hyperparameter search's widgets: the Train page's Search panel and the Compare page's Search tab.

The panel (keys `train.search.*`) picks up to `SLOTS` of the sweepable
numeric settings, each with a range (from, to, log scale) starting around
the form's value, the number of trials and how many train at once, and
queues the search (`seqlab.search_jobs.start_search`) from the recipe the
run form last submitted; below it, the newest search's progress, redrawn
while it runs, with Stop (and Resume when its last trial's worker died).
The tab (keys `compare.search*`) picks a search and places its charts
(`seqlab.search_charts`) and its trials table (`seqlab.views.search`).

Under a classroom lock the panel is drawn but off, as the sweep and budget
sections are: a search varies settings the lock may fix.
"""

from __future__ import annotations

import streamlit as st

from seqlab import classroom
from seqlab.classroom import LOCKED_NOTE
from seqlab.config import FIELDS, field_bounds
from seqlab.search import MAX_PARALLEL, MAX_TRIALS, PANEL_FIELDS, parse_space, stop_search, suggested_range
from seqlab.search_charts import best_so_far_chart, importance_chart
from seqlab.search_jobs import resume_search, start_search
from seqlab.store import RunStore
from seqlab.ui import error_boundary, get_store, init_state, keep_choice, place_chart
from seqlab.ui.forms import form_config
from seqlab.views.search import SearchView, latest_search, search_options, search_view

SLOTS = 3
NO_FIELD = ""
DEFAULT_FIELDS = ("model.units", "train.learning_rate", NO_FIELD)  # the issue's own example
FIELD_KEY = "train.search.field.{slot}"
# A range's widgets are keyed by slot and field, so each field keeps its own from/to/log.
LOW_KEY, HIGH_KEY, LOG_KEY = ("train.search.low.{slot}.{field}", "train.search.high.{slot}.{field}",
                              "train.search.log.{slot}.{field}")
TRIALS_KEY, PARALLEL_KEY = "train.search.trials", "train.search.parallel"
START_KEY, STOP_KEY, RESUME_KEY = "train.search.start", "train.search.stop", "train.search.resume"
NOTICE_KEY = "train.search.notice"
COMPARE_KEY = "compare.search"
PROGRESS_SECONDS = 2.0
TRIAL_COLUMNS = {
    "number": st.column_config.NumberColumn("trial"),
    "state": st.column_config.TextColumn("Optuna state"),
    "value": st.column_config.NumberColumn("best val. loss", format="%.4f"),
    "best_so_far": st.column_config.NumberColumn("best so far", format="%.4f"),
    "status": st.column_config.TextColumn("run status"),
    "run_id": st.column_config.TextColumn("run"),
}


# --------------------------------------------------------------- Train page
def search_panel(store: RunStore) -> None:
    """Draws the Search expander: settings and ranges, trials, Start search, and the newest search's progress."""
    init_state({FIELD_KEY.format(slot=slot): field for slot, field in enumerate(DEFAULT_FIELDS, start=1)})
    init_state({TRIALS_KEY: 10, PARALLEL_KEY: 2, NOTICE_KEY: ""})
    lock = classroom.read_lock()
    off = lock is not None
    with st.expander("Search hyperparameters with Optuna"):
        st.caption("Tunes up to three settings of the recipe above (as the form was last submitted) over "
                   "ranges: Optuna's TPE sampler picks each trial's values from the trials so far, and its "
                   "median pruner stops a trial whose validation loss is worse than the median of the "
                   "completed trials at the same epoch. Each trial is a run the workers train; the "
                   "Compare page's Search tab charts the study.")
        if off:
            st.caption(f":material/lock: {LOCKED_NOTE}: searches are off in the classroom.")
        base = _form_recipe()
        for slot in range(1, SLOTS + 1):
            _slot_widgets(slot, base, off)
        trials_column, parallel_column = st.columns(2)
        trials_column.number_input("Trials", min_value=2, max_value=MAX_TRIALS, step=1, key=TRIALS_KEY,
                                   persist_state="session", disabled=off,
                                   help="Runs in all; the first few are drawn at random, the rest by TPE.")
        parallel_column.number_input("Trials at once", min_value=1, max_value=MAX_PARALLEL, step=1,
                                     key=PARALLEL_KEY, persist_state="session", disabled=off,
                                     help="Trials queued or training at the same time (each takes a worker).")
        if st.button("Start search", key=START_KEY, type="primary", disabled=off):
            with error_boundary("Cannot start the search"):
                st.session_state[NOTICE_KEY] = start_from_panel(store)
        if st.session_state[NOTICE_KEY]:
            st.success(st.session_state[NOTICE_KEY])
        with error_boundary("Cannot read the latest search"):
            latest = latest_search(store)
            if latest is not None and latest.summary.finished:
                _draw_progress(store, latest)
            elif latest is not None:
                _live_progress(store)


def panel_space_texts() -> list[str]:
    """The panel's settings as `--space` texts ("model.units=8:128:log"), one per chosen slot."""
    texts = []
    for slot in range(1, SLOTS + 1):
        field = st.session_state.get(FIELD_KEY.format(slot=slot), NO_FIELD)
        if field == NO_FIELD:
            continue
        keys = {name: key.format(slot=slot, field=field) for name, key in
                (("low", LOW_KEY), ("high", HIGH_KEY), ("log", LOG_KEY))}
        low, high = st.session_state[keys["low"]], st.session_state[keys["high"]]
        texts.append(f"{field}={low!r}:{high!r}" + (":log" if st.session_state[keys["log"]] else ""))
    return texts


def start_from_panel(store: RunStore) -> str:
    """Queues the panel's search from the run form's recipe; returns the notice saying what was queued.

    Raises:
        ValueError: a bad recipe or range, no setting chosen, or a limit
            of the server (`seqlab.quotas`); nothing is queued then.
    """
    if classroom.read_lock() is not None:  # the button is off; a stale click must not get through
        raise ValueError(f"{LOCKED_NOTE}: searches are off in the classroom")
    base = form_config().validate()
    texts = panel_space_texts()
    if not texts:
        raise ValueError("no setting chosen: pick at least one setting to search over")
    space = parse_space(texts)
    trials, parallel = int(st.session_state[TRIALS_KEY]), int(st.session_state[PARALLEL_KEY])
    study_id = start_search(store, base, space, trials, min(parallel, trials))
    return (f"Started search {study_id}: {trials} trials over {', '.join(item.field for item in space)}, "
            f"{min(parallel, trials)} at a time. Its trials show under Active runs at the top of this page.")


def _form_recipe():
    """The run form's recipe, or None while the form holds a value it cannot take (the form says why)."""
    try:
        return form_config().validate()
    except (ValueError, KeyError):
        return None


def _slot_widgets(slot: int, base, off: bool) -> None:
    """One row: the setting (or none), from, to and log scale, starting around the recipe's value."""
    key = FIELD_KEY.format(slot=slot)
    arch = base.model.arch if base is not None else None
    fields = [path for path in PANEL_FIELDS if arch is None or arch in FIELDS[path].archs]
    options = [NO_FIELD, *fields]
    keep_choice(key, options, NO_FIELD)
    field_column, low_column, high_column, log_column = st.columns([3, 2, 2, 1], vertical_alignment="bottom")
    field = field_column.selectbox(f"Setting {slot}", options, key=key, persist_state="session", disabled=off,
                                   format_func=lambda path: f"{FIELDS[path].label} ({path})" if path else "—")
    if field == NO_FIELD:
        return
    keys = {name: pattern.format(slot=slot, field=field) for name, pattern in
            (("low", LOW_KEY), ("high", HIGH_KEY), ("log", LOG_KEY))}
    low, high, log = suggested_range(field, base)
    init_state({keys["low"]: low, keys["high"]: high, keys["log"]: log})
    row = FIELDS[field]
    lowest, highest = field_bounds(field)
    number = dict(min_value=lowest, max_value=highest, persist_state="session", disabled=off, help=row.help)
    if row.kind is int:
        number.update(step=1)
    else:
        number.update(step=row.step, format=row.float_format or None)
    low_column.number_input("From", key=keys["low"], **number)
    high_column.number_input("To", key=keys["high"], **number)
    log_column.checkbox("Log", key=keys["log"], persist_state="session", disabled=off,
                        help="Draw on a log scale: as many trials between 8 and 16 as between 64 and 128.")


def _draw_progress(store: RunStore, found: SearchView) -> None:
    summary = found.summary
    done = summary.counts["asked"] - summary.counts["active"]
    st.markdown(f"**Latest search:** {found.title}")
    st.progress(min(1.0, done / max(1, summary.spec["trials"])), text=found.sentence)
    if summary.finished:
        return
    if summary.spec.get("mode") == "queued" and summary.counts["active"] == 0 and not summary.stopped:
        st.caption("No trial is queued or training (its worker stopped): Resume queues the next ones.")
        if st.button("Resume this search", key=RESUME_KEY):
            queued = resume_search(store, found.study_id)
            st.session_state[NOTICE_KEY] = f"Resumed search {found.study_id}: queued {len(queued)} trial(s)."
            st.rerun()
    if summary.counts["active"] and st.button("Stop this search", key=STOP_KEY,
                                              help="No new trial is asked; queued and training ones stop."):
        stopped = stop_search(store, found.study_id)
        st.session_state[NOTICE_KEY] = f"Stopped search {found.study_id}: {stopped} trial run(s) asked to stop."
        st.rerun()


@st.fragment(run_every=PROGRESS_SECONDS)
def _live_progress(store: RunStore) -> None:
    """The newest search's progress, redrawn from the store and its journal every few seconds."""
    with error_boundary("Cannot read the latest search"):
        found = latest_search(store)
        if found is not None:
            _draw_progress(store, found)


# ------------------------------------------------------------- Compare page
def search_tab(data, view, selected) -> None:
    """Compare's Search tab: choose a search; its best loss over trials, what mattered, every trial.

    Args:
        data, view, selected: what every Compare tab receives (unused: a
            search is chosen here, not by the run selection).
    """
    store = get_store()
    options = search_options(store)
    if not options:
        st.info("No hyperparameter search yet. Start one on the Train page (section 'Search hyperparameters "
                "with Optuna') or from the command line: `python -m seqlab search --dataset toy --arch lstm "
                "--space model.units=16:128:log --space train.learning_rate=1e-4:1e-2:log --trials 10`.")
        return
    keep_choice(COMPARE_KEY, list(options), next(iter(options)))
    st.selectbox("Search", list(options), format_func=options.get, key=COMPARE_KEY, persist_state="session",
                 help="Newest first. Each trial is a run: select trials above to overlay their curves.")
    found = search_view(store, st.session_state[COMPARE_KEY])
    st.markdown(found.sentence)
    best, importance = st.columns(2)
    with best:
        place_chart(best_so_far_chart(found.trials), key="compare.search_best_chart")
    with importance:
        if found.importances.empty:
            st.info(found.summary.importance_note)
        else:
            place_chart(importance_chart(found.importances), key="compare.search_importance_chart")
    columns = ["number", *found.fields, "value", "best_so_far", "state", "status", "run_id"]
    st.dataframe(found.trials[columns], hide_index=True, key="compare.search_table", placeholder="—",
                 column_config={**TRIAL_COLUMNS, **{name: st.column_config.Column(name) for name in found.fields}})
