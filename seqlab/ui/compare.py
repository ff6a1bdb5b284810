"""The Compare page's tabs: each draws what `seqlab.views` computed, with its own controls.

Every tab function takes (data, view, selected): the page's `CompareData`,
its `CompareView` and the selected items (run ids and seed groups).
Widget keys are `compare.*`; their defaults are in `STATE_DEFAULTS`.
"""

from __future__ import annotations

import streamlit as st

from seqlab import charts, hparam_charts
from seqlab.analysis.smoothing import step_loss_table
from seqlab.curve_charts import smoothed_loss_chart
from seqlab.views.compare import CompareData, CompareView, VERDICT_METRICS, VERDICT_NEEDS_TWO, advice_lines, budget_datasets, budget_table, compare_runs_table, groups_view, hyperparameter_table, pareto_labels, sentence_list, sweep_families, sweep_fields, sweep_view, verdict_view
from seqlab.views.datasets import dataset_title
from seqlab.ui import get_store, keep_choice, place_chart
from seqlab.ui.search import search_tab
from seqlab.ui.widgets import COMPARE_RUN_COLUMNS

STATE_DEFAULTS = {
    "compare.show_individual": False, "compare.band": "std", "compare.patience": 2,
    "compare.verdict_metric": "best_val_accuracy", "compare.verdict_method": "welch",
    "compare.budget_metric": "best_val_accuracy", "compare.sweep_metric": "val_accuracy",
    "compare.smoothing": 0.6,  # TensorBoard's default weight (seqlab.analysis.smoothing)
}
# The run and group tables show the newest this many rows unless "compare.all_runs" is on:
# a browser table of 10,000 rows is slow to send and not read row by row.
TABLE_ROWS = 1000
BANDS = {"std": "mean ± one standard deviation", "minmax": "min to max"}
METHODS = {"welch": "Welch's t interval", "bootstrap": "bootstrap (10,000 resamples)"}
BUDGET_METRICS = {"best_val_accuracy": "best validation accuracy", "test_accuracy": "test accuracy"}
SWEEP_METRICS = {"val_accuracy": "best validation accuracy", "seconds_per_epoch": "seconds per epoch"}
GROUP_COLUMNS = {
    "label": st.column_config.TextColumn("group"),
    "n_runs": st.column_config.NumberColumn("runs"),
    "best_val_accuracy": st.column_config.TextColumn("best val. acc."),
    "final_val_accuracy": st.column_config.TextColumn("final val. acc."),
    "test_accuracy": st.column_config.TextColumn("test acc. (best epoch)"),
    "test_accuracy_last": st.column_config.TextColumn("test acc. (last epoch)"),
    "seconds_per_epoch": st.column_config.TextColumn("s / epoch (steady)"),
    "compile_seconds": st.column_config.TextColumn("one-off compile s"),
}
OVERFITTING_COLUMNS = {
    "label": st.column_config.TextColumn("run"),
    "epochs_run": st.column_config.NumberColumn("epochs"),
    "best_epoch": st.column_config.NumberColumn("best epoch"),
    "best_val_accuracy": st.column_config.NumberColumn("best val. acc.", format="%.3f"),
    "overfit_epoch": st.column_config.NumberColumn("overfitting after epoch"),
    "gap_final": st.column_config.NumberColumn("final gap", format="%.3f"),
}

REPLAY_COLUMNS = {
    "label": st.column_config.TextColumn("run"),
    "stopped_epoch": st.column_config.NumberColumn("stops after epoch"),
    "val_accuracy_at_stop": st.column_config.NumberColumn("val. acc. kept", format="%.3f"),
    "epochs_saved": st.column_config.NumberColumn("epochs saved"),
}
SWEEP_COLUMNS = {
    "seconds_per_epoch": st.column_config.NumberColumn("s / epoch (steady)", format="%.3f"),
    "compile_seconds": st.column_config.NumberColumn("one-off compile s", format="%.1f"),
    "val_accuracy": st.column_config.NumberColumn("best val. acc. (mean)", format="%.3f"),
    "val_accuracy_std": st.column_config.NumberColumn("std", format="%.3f"),
    "n_runs": st.column_config.NumberColumn("runs"),
}


def kept(key: str) -> dict:
    """Widget arguments that keep a control's value while its tab is closed or the page is left."""
    return {"key": key, "persist_state": "session"}


def follow_selection(key: str, view: CompareView) -> None:
    """Forgets a tab's choice when the selection moved to other runs, so its default follows the selection.

    The choice is kept while the same runs stay selected (across reruns and
    tab switches).
    """
    marker = f"{key}.selection"
    current = tuple(view.run_ids)
    if st.session_state.get(marker) != current:
        st.session_state[marker] = current
        st.session_state.pop(key, None)


def runs_table(data: CompareData) -> None:
    """Shows the run table: every run, or the newest `TABLE_ROWS` with a switch to show them all."""
    table = compare_runs_table(data)
    if len(table) > TABLE_ROWS:
        st.toggle(f"Show all {len(table):,} runs in the tables", key="compare.all_runs",
                  help=f"Off, the run and group tables list the newest {TABLE_ROWS:,}; every run can "
                       f"still be selected below.")
        if not st.session_state["compare.all_runs"]:
            table = table.head(TABLE_ROWS)
    st.dataframe(table, hide_index=True, column_config=COMPARE_RUN_COLUMNS, placeholder="—")


def groups_table(data: CompareData) -> None:
    """Shows one row per seed group (mean ± std), when there are groups (the newest `TABLE_ROWS`
    unless "compare.all_runs" is on)."""
    groups = groups_view(data)
    if groups.empty:
        return
    if not st.session_state.get("compare.all_runs", False):
        groups = groups.head(TABLE_ROWS)
    st.markdown("**Seed groups** (mean ± standard deviation over each group's runs)")
    st.dataframe(groups, hide_index=True, column_config=GROUP_COLUMNS, key="compare.groups_table")


def curves_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """Seed groups as mean curves in bands, single runs as overlaid curves, and the gap."""
    if not selected:
        st.info("Select runs or seed groups above to overlay their curves.")
        return
    if not view.group_curves.empty:
        band_column, toggle_column = st.columns(2)
        band_column.radio("Band", list(BANDS), format_func=BANDS.get, horizontal=True, **kept("compare.band"))
        toggle_column.toggle("Also draw each group's runs one by one", **kept("compare.show_individual"))
        accuracy, loss = st.columns(2)
        band = st.session_state["compare.band"]
        with accuracy:
            place_chart(charts.group_band_chart(view.group_curves, "accuracy", band=band),
                        key="compare.band_accuracy_chart")
        with loss:
            place_chart(charts.group_band_chart(view.group_curves, "loss", band=band),
                        key="compare.band_loss_chart")
    if not view.curves.empty:
        loss, accuracy = st.columns(2)
        with loss:
            place_chart(charts.metric_overlay_chart(view.curves, "loss"), key="compare.loss_chart")
        with accuracy:
            place_chart(charts.metric_overlay_chart(view.curves, "accuracy"), key="compare.accuracy_chart")
        steps = step_loss_table(get_store(), view.run_ids, runs=data.runs)
        if not steps.empty:
            st.markdown("**Training loss, step by step** (recorded every few batches)")
            st.slider("Smoothing", 0.0, 0.99, step=0.01, help="An exponential moving average, as "
                      "TensorBoard draws it: 0 shows the raw loss; the raw curve stays faint underneath.",
                      **kept("compare.smoothing"))
            place_chart(smoothed_loss_chart(steps, weight=st.session_state["compare.smoothing"]),
                        key="compare.step_loss_chart")
    st.markdown("**Where overfitting starts** (explained run by run in the Overfitting tab)")
    place_chart(charts.gap_chart(view.gap), key="compare.gap_chart")


def overfitting_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """Best epoch, overfitting onset and final gap per run; early stopping replayed."""
    if not selected:
        st.info("Select runs or seed groups above to see where they start to overfit.")
        return
    st.caption("Best epoch: lowest validation loss. Overfitting: validation loss rising while "
               "training loss falls (— where it does not). Gap: validation minus training loss at "
               "the last epoch.")
    overfitting = view.overfitting
    st.dataframe(overfitting.drop(columns=["run_id", "explanation"]), hide_index=True, placeholder="—",
                 column_config=OVERFITTING_COLUMNS, key="compare.overfitting_table")
    # Sentences read as text; in a table cell they would be cut off.
    st.markdown("**What the curves say**\n\n" + sentence_list(overfitting["label"], overfitting["explanation"]))
    st.number_input("Early-stopping patience (epochs without a new lowest validation loss)",
                    min_value=0, max_value=50, step=1, **kept("compare.patience"))
    st.caption("What Keras EarlyStopping on validation loss (restoring the best weights) would "
               "have done with this patience, replayed on the recorded curves: nothing is retrained.")
    replay = view.early_stopping
    st.dataframe(replay[list(REPLAY_COLUMNS)], hide_index=True, placeholder="—",
                 column_config=REPLAY_COLUMNS, key="compare.early_stopping_table")
    st.markdown(sentence_list(replay["label"], replay["sentence"]))


def verdict_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """Says whether two selected runs or groups differ by more than seed-to-seed noise."""
    metric_column, method_column = st.columns(2)
    metric_column.selectbox("Metric", list(VERDICT_METRICS), format_func=VERDICT_METRICS.get,
                            **kept("compare.verdict_metric"))
    method_column.radio("Interval", list(METHODS), format_func=METHODS.get, horizontal=True,
                        **kept("compare.verdict_method"))
    verdict = verdict_view(view, st.session_state["compare.verdict_metric"],
                                 st.session_state["compare.verdict_method"])
    if verdict is None:
        st.info(VERDICT_NEEDS_TWO.format(count=len(selected)))
        return
    sentence = verdict.sentence
    if verdict.significant is None:
        st.warning(sentence)
        st.caption("Set 'Repeats over seeds' on the Train page to train a recipe over several seeds "
                   "as one group; then select the two groups here.")
    elif verdict.significant:
        st.success(sentence)
    else:
        st.info(sentence)
    st.dataframe(verdict.table, hide_index=True, key="compare.verdict_table", placeholder="—",
                 column_config={name: st.column_config.NumberColumn(name, format="%.4f")
                                for name in ("mean", "std", "min", "max")})


def budgets_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """Accuracy against parameters and against seconds per epoch, with the Pareto front."""
    datasets = budget_datasets(view)
    if not datasets:
        st.info("No completed runs yet: their accuracy, size and speed appear here.")
        return
    follow_selection("compare.budget_dataset", view)
    keep_choice("compare.budget_dataset", datasets, datasets[0])
    if len(datasets) > 1:
        st.selectbox("Dataset", datasets, format_func=dataset_title,
                     help="Accuracies are comparable on one dataset only.", **kept("compare.budget_dataset"))
    dataset = st.session_state["compare.budget_dataset"]
    st.radio("Accuracy", list(BUDGET_METRICS), format_func=BUDGET_METRICS.get, horizontal=True,
             **kept("compare.budget_metric"))
    metric = st.session_state["compare.budget_metric"]
    table = budget_table(data, dataset)
    st.caption(f"Every completed run on {dataset_title(dataset)}. The dashed line is the "
               "Pareto front: it joins the runs no other run beats on both accuracy and cost.")
    size, speed = st.columns(2)
    for column, cost, key in ((size, "num_params", "compare.pareto_params_chart"),
                              (speed, "seconds_per_epoch", "compare.pareto_seconds_chart")):
        with column:
            place_chart(charts.pareto_chart(table, cost, metric), key=key)
            front = pareto_labels(table, cost, metric)
            if front:
                st.caption("On the front: " + ", ".join(front))
    st.caption("To compare architectures at equal size, use 'Size to a parameter budget' on the "
               "Train page: it sizes each one to a target parameter count and queues them.")


def sweep_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """A metric against a swept setting, one line per architecture."""
    fields = sweep_fields(view)
    if not fields:
        st.info("No completed runs differ in just one sweepable setting yet. Start a sweep on the "
                "Train page (section 'Sweep one setting over several values').")
        return
    field_column, metric_column = st.columns(2)
    keep_choice("compare.sweep_field", fields, fields[0])
    field = field_column.selectbox("Swept setting", fields, **kept("compare.sweep_field"))
    metric_column.radio("Metric", list(SWEEP_METRICS), format_func=SWEEP_METRICS.get,
                        horizontal=True, **kept("compare.sweep_metric"))
    families = sweep_families(view, field)
    indices = list(range(len(families)))
    follow_selection("compare.sweep_family", view)
    keep_choice("compare.sweep_family", indices, 0)
    if len(families) > 1:
        st.selectbox("Sweep", indices, format_func=lambda index: families[index].title,
                     **kept("compare.sweep_family"),
                     help="Runs that differ only in this setting (and architecture and seed).")
    family = families[st.session_state["compare.sweep_family"]]
    st.caption(family.title)
    table = sweep_view(data, family)
    place_chart(charts.sweep_chart(table, field, st.session_state["compare.sweep_metric"]),
                key="compare.sweep_chart")
    # One seed per point has no spread: leave the empty column out.
    hidden = ["run_ids"] + (["val_accuracy_std"] if table["val_accuracy_std"].isna().all() else [])
    st.dataframe(table.drop(columns=hidden), hide_index=True, key="compare.sweep_table", placeholder="—",
                 column_config={**SWEEP_COLUMNS, "value": st.column_config.Column(field)})


def hyperparameters_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """Parallel coordinates of the settings that differ among the selected runs, against their accuracy."""
    if not selected:
        st.info("Select runs or seed groups above to see which of their settings went with high accuracy.")
        return
    st.caption("Each line is a run; where lines of high accuracy cross an axis shows the values that worked.")
    place_chart(hparam_charts.hyperparameter_chart(hyperparameter_table(view)), key="compare.hyperparameter_chart")


def advice_tab(data: CompareData, view: CompareView, selected: list[str]) -> None:
    """The 'which architecture?' panel, computed from the selected runs that completed."""
    st.markdown("**Which architecture?** Drawn from the selected runs that completed:")
    lines = advice_lines(view)
    st.markdown("\n".join(f"- {line}" for line in lines))


# Tab name -> what it draws, in order; the first is open by default.
TABS = {
    "Curves": curves_tab, "Overfitting": overfitting_tab, "Verdict": verdict_tab,
    "Budgets": budgets_tab, "Sweep": sweep_tab, "Hyperparameters": hyperparameters_tab, "Advice": advice_tab,
    "Search": search_tab,
}
