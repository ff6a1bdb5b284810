"""The run form: every `RunConfig` field as a widget keyed `train.<field>`.

Each widget is drawn from the field's row in `seqlab.config.FIELDS`: its
label, help, choices and number format; its default comes from the
dataclasses (`RunConfig().flat()`). Adding a config field (with its row)
adds a form field by itself. Values persist for the session
(`persist_state="session"`), so leaving the Train page and coming back keeps
what the user typed.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import streamlit as st

from seqlab import jobs
from seqlab.config import ARCHITECTURES, FIELDS, RunConfig
from seqlab.experiments import SWEEPABLE, seed_group
from seqlab.ui import (
    error_message, follow_dataset, init_state, keep_choice, load_dataset, remember_typed_length,
)
from seqlab.views.train import budget_fits, fit_to_budget, sweep_groups, sweep_values

FORM_PREFIX = "train."
DATA_FIELDS = ("sequence_length", "vocabulary_size", "truncation", "padding", "subset",
               "num_examples", "synthetic_length", "validation_fraction", "test_fraction",
               "text_column", "label_column")
MODEL_FIELDS = tuple(row.name for path, row in FIELDS.items() if path.startswith("model."))
TRAIN_FIELDS = tuple(row.name for path, row in FIELDS.items() if path.startswith("train."))
REPEATS_KEY = "train.repeats"
# Keys of the sweep and budget sections (inside the form, so the form's values apply with them).
SWEEP_FIELD_KEY, SWEEP_VALUES_KEY = "train.sweep.field", "train.sweep.values"
SWEEP_ARCHS_KEY, SWEEP_SEEDS_KEY = "train.sweep.archs", "train.sweep.seeds"
BUDGET_TARGET_KEY, BUDGET_ARCHS_KEY = "train.budget.target", "train.budget.archs"
BUDGET_NOTICE_KEY, BUDGET_ERROR_KEY = "train.budget.notice", "train.budget.error"
SECTION_DEFAULTS = {
    SWEEP_FIELD_KEY: "data.sequence_length", SWEEP_VALUES_KEY: "",
    SWEEP_ARCHS_KEY: ["lstm", "transformer"], SWEEP_SEEDS_KEY: 1,
    BUDGET_TARGET_KEY: 20_000, BUDGET_ARCHS_KEY: ["lstm", "gru", "transformer", "baseline"],
    BUDGET_NOTICE_KEY: "", BUDGET_ERROR_KEY: "",
}
# What `run_form` returns for each submit button.
START, SWEEP, QUEUE_AT_BUDGET = "start", "sweep", "queue_at_budget"


def widget_key(path: str) -> str:
    """Returns the widget key of a config path: "model.units" -> "train.units"."""
    return FORM_PREFIX + path.rpartition(".")[2]


DEFAULTS = MappingProxyType(RunConfig().flat())  # read-only: shared by every session


def init_form_state() -> None:
    """Sets every form key to its dataclass default unless the session has a value."""
    init_state({widget_key(path): value for path, value in DEFAULTS.items()})
    init_state({REPEATS_KEY: 1, **SECTION_DEFAULTS})


def _label(path: str) -> str:
    """The field's label, with the architectures it matters for: "Units (recurrent)"."""
    row = FIELDS[path]
    return f"{row.label} ({', '.join(row.used_by)})" if row.used_by else row.label


def field_widget(path: str) -> Any:
    """Draws the widget of one config field (inside the current container/form)."""
    key = widget_key(path)
    row = FIELDS[path]
    common = dict(key=key, help=row.help, persist_state="session")
    if row.choices:
        keep_choice(key, list(row.choices), row.default)
        return st.selectbox(_label(path), row.choices, **common)
    if row.kind is bool:
        return st.checkbox(_label(path), **common)
    if row.kind is int:
        return st.number_input(_label(path), min_value=0, step=1, **common)
    if row.kind is float:
        return st.number_input(_label(path), min_value=0.0, step=row.step,
                               format=row.float_format, **common)
    return st.text_input(_label(path), **common)


def dataset_widget(options: dict[str, str], key: str = widget_key("data.dataset")) -> str:
    """Draws the dataset choice (a value of `options`, titled by it)."""
    keep_choice(key, list(options), "toy")
    return st.selectbox("Dataset", list(options), format_func=lambda value: options.get(value, value),
                        key=key, help=FIELDS["data.dataset"].help, persist_state="session")


def run_form(dataset_options: dict[str, str]) -> str | None:
    """Draws the whole run form; its values apply when any of its buttons submits it.

    The sequence length starts at the dataset's suggested value and follows
    a change of dataset (`seqlab.ui.follow_dataset`), keeping what the user typed.

    Returns:
        Which action was asked for: `START` (train the recipe, repeated over
        seeds), `SWEEP` (the sweep section's runs), `QUEUE_AT_BUDGET` (every
        budget architecture sized to the target), or None ("Update estimate",
        "Size to this budget", or no click).
    """
    keep_choice(widget_key("data.dataset"), list(dataset_options), "toy")
    follow_dataset(FORM_PREFIX.rstrip("."))
    with st.form("train.form", border=True):
        data_column, model_column, train_column = st.columns(3)
        with data_column:
            st.markdown("**Data**")
            dataset_widget(dataset_options)
            for name in DATA_FIELDS:
                field_widget(f"data.{name}")
        with model_column:
            st.markdown("**Model**")
            for name in MODEL_FIELDS:
                field_widget(f"model.{name}")
        with train_column:
            st.markdown("**Training**")
            for name in TRAIN_FIELDS:
                field_widget(f"train.{name}")
            field_widget("seed")
            field_widget("name")
            st.number_input("Repeats over seeds", min_value=1, max_value=20, step=1, key=REPEATS_KEY,
                            help="Train the same recipe with seeds seed, seed+1, ... as one group, "
                                 "to see how much results vary.", persist_state="session")
        estimate_column, start_column = st.columns(2)
        estimate_column.form_submit_button("Update size and time estimate", key="train.estimate")
        start = start_column.form_submit_button("Start training", type="primary", key="train.start")
        sweep = _sweep_section()
        queue_all = _budget_section()
    if start:
        return START
    if sweep:
        return SWEEP
    return QUEUE_AT_BUDGET if queue_all else None


def _sweep_section() -> bool:
    """Draws the sweep controls; returns whether "Start sweep" was pressed."""
    with st.expander("Sweep one setting over several values"):
        st.caption("Trains the recipe above once per architecture and value (and seed); the "
                   "Compare page's Sweep tab charts the result. On synthetic data the task "
                   "length follows a swept sequence length.")
        field_column, values_column = st.columns(2)
        keep_choice(SWEEP_FIELD_KEY, list(SWEEPABLE), "data.sequence_length")
        field_column.selectbox("Setting to vary", SWEEPABLE, key=SWEEP_FIELD_KEY,
                               persist_state="session",
                               help="Any of these; the others keep the values in the form.")
        values_column.text_input("Values to try (comma-separated)", key=SWEEP_VALUES_KEY,
                                 persist_state="session",
                                 placeholder="e.g. 20, 60, 120")
        archs_column, seeds_column = st.columns([3, 1])
        keep_choice(SWEEP_ARCHS_KEY, list(ARCHITECTURES))
        archs_column.multiselect("Architectures", ARCHITECTURES, key=SWEEP_ARCHS_KEY,
                                 persist_state="session")
        seeds_column.number_input("Seeds per point", min_value=1, max_value=20, step=1,
                                  key=SWEEP_SEEDS_KEY, persist_state="session",
                                  help="More than one makes each point a seed group with error bars.")
        return st.form_submit_button("Start sweep", key="train.sweep.start")


def _budget_section() -> bool:
    """Draws the parameter-budget controls; returns whether "Queue all" was pressed."""
    with st.expander("Size to a parameter budget"):
        st.caption("Compare architectures at equal size: the width (units for recurrent models, "
                   "feed-forward width for the Transformer, embedding size for the baseline) is set "
                   "to come nearest the target, with the vocabulary this dataset gives.")
        target_column, archs_column = st.columns([1, 2])
        target_column.number_input("Target parameters", min_value=1, step=1000, key=BUDGET_TARGET_KEY,
                                   persist_state="session")
        keep_choice(BUDGET_ARCHS_KEY, list(ARCHITECTURES))
        archs_column.multiselect("Architectures to queue at this size", ARCHITECTURES,
                                 key=BUDGET_ARCHS_KEY, persist_state="session")
        size_column, queue_column = st.columns(2)
        size_column.form_submit_button("Size this architecture to the budget", key="train.budget.apply",
                                       on_click=_apply_budget)
        return queue_column.form_submit_button("Queue all these architectures at this size",
                                               key="train.budget.queue_all")


def _apply_budget() -> None:
    """Sets the form's width field to meet the budget (a callback: widget values may change only here)."""
    st.session_state[BUDGET_NOTICE_KEY] = st.session_state[BUDGET_ERROR_KEY] = ""
    try:
        config = form_config().validate()
        fit = fit_to_budget(config, int(st.session_state[BUDGET_TARGET_KEY]),
                                  load_dataset(config.data, config.seed))
    except (ValueError, KeyError, OSError) as error:
        st.session_state[BUDGET_ERROR_KEY] = f"Cannot size to this budget: {error_message(error)}"
        return
    st.session_state[widget_key(fit.field)] = fit.width
    st.session_state[BUDGET_NOTICE_KEY] = (
        f"Sized to a budget of {fit.target:,} parameters: {fit.text}. Press Start training to train it.")


def queue_action(store, action: str, config: RunConfig, dataset) -> str:
    """Queues the runs a submit button asks for, from the form's values; returns what was queued.

    Args:
        store: the run store.
        action: `START`, `SWEEP` or `QUEUE_AT_BUDGET` (from `run_form`).
        config: the form's validated config.
        dataset: its loaded dataset (for the vocabulary of budget sizing).

    Raises:
        ValueError: bad sweep values, no architecture, a bad budget; nothing is queued then.
    """
    repeats = int(st.session_state[REPEATS_KEY])
    if action == START:
        run_ids = jobs.queue_groups(store, [seed_group(config, repeats)])
        return f"Queued {len(run_ids)} run(s): {', '.join(run_ids)}."
    if action == SWEEP:
        field, archs = st.session_state[SWEEP_FIELD_KEY], st.session_state[SWEEP_ARCHS_KEY]
        values = sweep_values(field, st.session_state[SWEEP_VALUES_KEY])
        seeds = int(st.session_state[SWEEP_SEEDS_KEY])
        run_ids = jobs.queue_groups(store, sweep_groups(config, archs, field, values, seeds))
        return (f"Queued a sweep of {len(run_ids)} run(s): {', '.join(archs)} × {field} = "
                f"{', '.join(map(str, values))}, {seeds} seed(s) each. The Compare page's Sweep "
                f"tab charts it as runs complete.")
    if action == QUEUE_AT_BUDGET:
        fits = budget_fits(config, int(st.session_state[BUDGET_TARGET_KEY]), dataset,
                                 st.session_state[BUDGET_ARCHS_KEY])
        run_ids = jobs.queue_groups(store, [seed_group(fit.config, repeats) for fit in fits])
        return (f"Queued {len(run_ids)} run(s) at about {fits[0].target:,} parameters: "
                + "; ".join(fit.text for fit in fits) + ".")
    raise ValueError(f"action: received {action!r}, expected one of {START!r}, {SWEEP!r}, {QUEUE_AT_BUDGET!r}")


def show_budget_messages() -> None:
    """Shows (once) what the last "Size to the budget" click did."""
    if st.session_state[BUDGET_ERROR_KEY]:
        st.error(st.session_state[BUDGET_ERROR_KEY])
    elif st.session_state[BUDGET_NOTICE_KEY]:
        st.success(st.session_state[BUDGET_NOTICE_KEY])
    st.session_state[BUDGET_NOTICE_KEY] = st.session_state[BUDGET_ERROR_KEY] = ""


def form_config() -> RunConfig:
    """Builds the `RunConfig` from the form's current values (not validated).

    Raises:
        ValueError: a value the config cannot take (named by its field).
    """
    values = {path: st.session_state.get(widget_key(path), default)
              for path, default in DEFAULTS.items()}
    return RunConfig().with_overrides(values)


def set_form_values(values: dict[str, Any]) -> None:
    """Puts config values (`{"data.sequence_length": 40}`) into the form, e.g. from the Data page.

    Call before the form is drawn in this run (or from another page).
    """
    for path, value in values.items():
        st.session_state[widget_key(path)] = value
    if "data.sequence_length" in values:
        # Chosen on purpose for this dataset: the form must not replace it with its suggestion.
        remember_typed_length(FORM_PREFIX.rstrip("."))
