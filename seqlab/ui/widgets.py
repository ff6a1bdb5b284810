"""Widgets shared by several pages: run tables, live run cards, preset buttons."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from seqlab import charts, jobs
from seqlab.analysis import words
from seqlab.quotas import save_upload_within_limits
from seqlab.views.datasets import dataset_title
from seqlab.views.runs import delete_runs
from seqlab.views.train import run_progress
from seqlab.store import RunRecord, RunStore
from seqlab.ui import place_chart

RUN_COLUMNS = {
    "label": st.column_config.TextColumn("run"),
    "best_val_accuracy": st.column_config.NumberColumn("best val. acc.", format="%.3f"),
    "test_accuracy": st.column_config.NumberColumn(
        "test acc.", format="%.3f", help="With the weights kept: the best validation epoch's."),
    "test_accuracy_last": st.column_config.NumberColumn(
        "test acc. (last epoch)", format="%.3f", help="With the last epoch's weights."),
    "best_epoch": st.column_config.NumberColumn("best epoch", help="Lowest validation loss."),
    "run_id": st.column_config.TextColumn("run id"),
}

# The Compare page's run table (`compare_runs_table`): friendly names, number formats.
COMPARE_RUN_COLUMNS = {
    "label": st.column_config.TextColumn("run"),
    "num_params": st.column_config.NumberColumn("parameters", format="localized"),
    "seconds_per_epoch": st.column_config.NumberColumn(
        "s / epoch", format="%.2f", help="Steady: the median of the epochs after the first."),
    "compile_seconds": st.column_config.NumberColumn(
        "compile s", format="%.1f", help="One-off: the first epoch's extra time (tracing, XLA compile)."),
    "best_val_accuracy": st.column_config.NumberColumn("best val. acc.", format="%.3f"),
    "final_val_accuracy": st.column_config.NumberColumn("final val. acc.", format="%.3f"),
    "test_accuracy": st.column_config.NumberColumn(
        "test acc.", format="%.3f", help="With the weights kept: the best validation epoch's."),
    "test_accuracy_last": st.column_config.NumberColumn(
        "test acc. (last epoch)", format="%.3f", help="With the last epoch's weights."),
    "best_epoch": st.column_config.NumberColumn("best epoch"),
    "epochs_run": st.column_config.NumberColumn("epochs"),
    "data.sequence_length": st.column_config.NumberColumn("sequence length"),
    "model.embedding_dim": st.column_config.NumberColumn("embedding"),
    "model.num_layers": st.column_config.NumberColumn("layers"),
    "train.learning_rate": st.column_config.NumberColumn("learning rate", format="%g"),
    "train.batch_size": st.column_config.NumberColumn("batch size"),
    "where": st.column_config.TextColumn(
        "where", help="local: a worker process on the store's host; ray: a Ray task, on the node named."),
    "run_id": st.column_config.TextColumn("run id"),
}


def show_lesson(lesson, *, titled: bool = False) -> None:
    """Places a preset's verdict: held, missed, or still waiting for its runs.

    Args:
        lesson: a `seqlab.analysis.lessons.Lesson`.
        titled: start with the preset's title (where the card is not around it).
    """
    sentence = f"**{lesson.title}**: {lesson.sentence}" if titled else lesson.sentence
    if lesson.status == "held":
        st.success(sentence, icon=":material/check_circle:")
    elif lesson.status == "missed":
        st.warning(sentence, icon=":material/help:")
    elif lesson.sentence:
        st.caption(f":material/hourglass_top: {sentence}")


def show_runs_table(table: pd.DataFrame, empty_message: str) -> None:
    """Shows a `recent_runs_table`, or `empty_message` when there are no runs."""
    if table.empty:
        st.info(empty_message)
        return
    st.dataframe(table, hide_index=True, column_config=RUN_COLUMNS, placeholder="—")


def live_run_card(store: RunStore, record: RunRecord, curves: pd.DataFrame | None,
                  steps: pd.DataFrame | None = None) -> None:
    """Draws one queued/running run: two progress bars, its curves so far, a Stop button."""
    progress = run_progress(record)
    with st.container(border=True):
        title, stop = st.columns([5, 1])
        title.markdown(f"**{record.label}** · {dataset_title(record.config.data.dataset)} "
                       f"· `{record.run_id}` · {record.status}")
        stop.button(
            "Stop" if record.status == "running" else "Cancel",
            key=f"train.stop.{record.run_id}",
            disabled=record.stop_requested,
            help="Stops after the current batches; the curves and model so far are kept.",
            on_click=jobs.stop_run, args=(store, record.run_id),
        )
        st.progress(progress.epoch_fraction, text=progress.epoch_text)
        st.progress(progress.run_fraction, text=progress.run_text)
        if curves is not None and not curves.empty:
            place_chart(charts.training_curves_chart(curves))
        elif record.status == "running":
            st.caption("Curves appear when the first epoch ends.")
        # Not the finished card's key: the two fragments read the store apart, so a run that
        # ends between them is drawn by both in one page run.
        step_loss_chart(steps, f"train.active.steps.{record.run_id}")


def finished_run_card(record: RunRecord, curves: pd.DataFrame | None,
                      steps: pd.DataFrame | None = None) -> None:
    """Draws a finished run's outcome and its final curves."""
    with st.container(border=True):
        epochs_run = int(curves["epoch"].max()) if curves is not None and not curves.empty else 0
        outcome = words.run_outcome_text(record.test_accuracy, record.test_accuracy_last, record.best_epoch,
                                         epochs_run, record.config.train.restore_best)
        timing = words.timing_text(record.seconds_per_epoch, record.compile_seconds)
        st.markdown(" · ".join(part for part in (
            f"Latest: **{record.label}**", f"`{record.run_id}`", record.status, outcome, timing) if part))
        if record.message:
            st.caption(record.message)
        if curves is not None and not curves.empty:
            place_chart(charts.training_curves_chart(curves))
        step_loss_chart(steps, f"train.steps.{record.run_id}")


def step_loss_chart(steps: pd.DataFrame | None, key: str, smoothing_key: str = "train.smoothing") -> None:
    """Draws a run's training loss step by step, smoothed by the weight in `smoothing_key`, raw beneath."""
    from seqlab.analysis.smoothing import DEFAULT_SMOOTHING
    from seqlab.curve_charts import smoothed_loss_chart

    if steps is None or steps.empty:
        return
    weight = float(st.session_state.get(smoothing_key, DEFAULT_SMOOTHING))
    place_chart(smoothed_loss_chart(steps, weight=weight), key=key)


def smoothing_slider(key: str) -> None:
    """The smoothing weight of the step-by-step loss charts (TensorBoard's slider: 0 = raw)."""
    from seqlab.analysis.smoothing import DEFAULT_SMOOTHING

    st.session_state.setdefault(key, DEFAULT_SMOOTHING)
    st.slider("Smoothing of the step-by-step training loss", 0.0, 0.99, step=0.01, key=key,
              help="An exponential moving average, as TensorBoard draws it: 0 shows the raw "
                   "loss; higher values smooth more. The raw curve stays faint underneath.")


def accept_upload(store: RunStore, uploaded, text_column: str, label_column: str, select_key: str):
    """Validates and saves an uploaded file in the session's workspace; selects it (once) in the dataset widget.

    Call before the dataset widget `select_key` is drawn in this run.

    Returns:
        The saved `Upload`, or None when no file is uploaded.

    Raises:
        DatasetError: the file cannot be read; nothing is saved.
        QuotaExceeded: the file is over the server's upload limit; nothing is saved.
    """
    if uploaded is None:
        return None
    upload = save_upload_within_limits(store, uploaded.name, uploaded.getvalue(), text_column, label_column)
    seen_key = f"{select_key.partition('.')[0]}.selected_upload"
    if st.session_state.get(seen_key) != str(upload.path):
        # Only a new file switches the selection; later reruns leave the user's choice alone.
        st.session_state[seen_key] = str(upload.path)
        st.session_state[select_key] = str(upload.path)
    return upload


def delete_selected_runs(store: RunStore, run_ids: list[str]) -> None:
    """Deletes the Compare page's selected runs (a button callback, so the page redraws without them).

    Args:
        store: the run store.
        run_ids: the selected runs, members of selected seed groups included.
    """
    deleted, problems = delete_runs(store, run_ids)
    # A group whose runs are all gone drops out of the selection with its option.
    st.session_state["compare.selected"] = [item for item in st.session_state.get("compare.selected", [])
                                            if item not in deleted]
    st.session_state["compare.confirm_delete"] = False
    st.session_state["compare.notice"] = f"Deleted {len(deleted)} run(s). {' '.join(problems)}".strip()


def choose_text(page: str, config, seed: int = 0, default: str = "") -> str:
    """Lets the user type a sentence or pick one of a run's test examples; returns the text.

    Args:
        page: the page's key prefix ("attention", "inside.memory"): the widgets
            are keyed `<page>.source`, `<page>.text` and `<page>.example`.
        config: the run's `DataConfig` (its test split gives the examples).
        seed: the run's seed (its split).
        default: the sentence first shown in the text box.
    """
    from seqlab.data import examples_table
    from seqlab.ui import load_dataset

    st.session_state.setdefault(f"{page}.source", "Type a sentence")
    st.session_state.setdefault(f"{page}.text", default)
    source = st.radio("Text", ["Type a sentence", "Pick a dataset example"],
                      key=f"{page}.source", horizontal=True)
    if source == "Type a sentence":
        return st.text_input("Sentence", key=f"{page}.text")
    examples = examples_table(load_dataset(config, seed), "test", n=10)
    return st.selectbox("Example from the test split", examples["text"].tolist(), key=f"{page}.example")
