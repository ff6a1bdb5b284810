"""The run form: every `RunConfig` field as a widget keyed `train.<field>`.

Each widget is drawn from the field's row in `seqlab.config.FIELDS`: its
label, help, choices and number format; its default comes from the
dataclasses (`RunConfig().flat()`). Adding a config field (with its row)
adds a form field by itself. Values persist for the session
(`persist_state="session"`), so leaving the Train page and coming back keeps
what the user typed.

Under a classroom lock (`seqlab.classroom`) the fields the instructor locked
are drawn disabled at their fixed value, the sweep and budget sections are
disabled, and `queue_action` refuses any config the lock does not allow.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import streamlit as st

from seqlab import classroom, jobs
from seqlab.classroom import LOCKED_NOTE, ClassroomLock
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


def _locked(lock: ClassroomLock | None, path: str) -> bool:
    return lock is not None and not lock.allows_field(path)


def _help(path: str, lock: ClassroomLock | None) -> str:
    help_text = FIELDS[path].help
    return f"{LOCKED_NOTE}. {help_text}" if _locked(lock, path) else help_text


def field_widget(path: str, lock: ClassroomLock | None = None) -> Any:
    """Draws the widget of one config field (inside the current container/form).

    Args:
        path: the config path ("model.units").
        lock: the classroom lock; a field it locks is drawn disabled (its
            value is set by `apply_lock` before the form is drawn).
    """
    key = widget_key(path)
    row = FIELDS[path]
    common = dict(key=key, help=_help(path, lock), persist_state="session",
                  disabled=_locked(lock, path))
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


def dataset_widget(options: dict[str, str], key: str = widget_key("data.dataset"),
                   lock: ClassroomLock | None = None) -> str:
    """Draws the dataset choice (a value of `options`, titled by it); disabled when `lock` fixes it."""
    keep_choice(key, list(options), "toy")
    return st.selectbox("Dataset", list(options), format_func=lambda value: options.get(value, value),
                        key=key, help=_help("data.dataset", lock), persist_state="session",
                        disabled=_locked(lock, "data.dataset"))


def apply_lock(lock: ClassroomLock | None) -> None:
    """Sets every locked field's widget to the lock's value (before the form is drawn).

    Whatever a link, a preset or another page put there, the form then shows
    and submits the fixed values. Repeats over seeds stay at 1 while the seed is locked.
    """
    if lock is None:
        return
    for path in lock.locked_fields:
        st.session_state[widget_key(path)] = lock.values[path]
    if not lock.allows_field("seed"):
        st.session_state[REPEATS_KEY] = 1


def show_lock(lock: ClassroomLock | None) -> None:
    """Says what the classroom lock fixes, or why it could not be read (then everything is locked)."""
    if lock is None:
        return
    if lock.problem:
        st.error(f"The classroom lock could not be read, so every setting is locked: {lock.problem}",
                 icon=":material/lock:")
        return
    allowed = ", ".join(FIELDS[path].label for path in lock.fields) or "nothing"
    st.caption(f":material/lock: Classroom: greyed-out settings are {LOCKED_NOTE.lower()}. "
               f"You may change: {allowed}.")


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
    lock = classroom.read_lock()
    keep_choice(widget_key("data.dataset"), list(dataset_options), "toy")
    follow_dataset(FORM_PREFIX.rstrip("."))
    apply_lock(lock)
    show_lock(lock)
    with st.form("train.form", border=True):
        data_column, model_column, train_column = st.columns(3)
        with data_column:
            st.markdown("**Data**")
            dataset_widget(dataset_options, lock=lock)
            for name in DATA_FIELDS:
                field_widget(f"data.{name}", lock)
        with model_column:
            st.markdown("**Model**")
            for name in MODEL_FIELDS:
                field_widget(f"model.{name}", lock)
        with train_column:
            st.markdown("**Training**")
            for name in TRAIN_FIELDS:
                field_widget(f"train.{name}", lock)
            field_widget("seed", lock)
            field_widget("name", lock)
            st.number_input("Repeats over seeds", min_value=1, max_value=20, step=1, key=REPEATS_KEY,
                            help="Train the same recipe with seeds seed, seed+1, ... as one group, "
                                 "to see how much results vary.", persist_state="session",
                            disabled=_locked(lock, "seed"))
        estimate_column, start_column = st.columns(2)
        estimate_column.form_submit_button("Update size and time estimate", key="train.estimate")
        start = start_column.form_submit_button("Start training", type="primary", key="train.start")
        sweep = _sweep_section(lock)
        queue_all = _budget_section(lock)
    if start:
        return START
    if sweep:
        return SWEEP
    return QUEUE_AT_BUDGET if queue_all else None


def _section_note(lock: ClassroomLock | None) -> bool:
    """Says a section is off under the classroom lock; returns whether it is off."""
    if lock is not None:
        st.caption(f":material/lock: {LOCKED_NOTE}: sweeps and budgets are off in the classroom.")
    return lock is not None


def _sweep_section(lock: ClassroomLock | None = None) -> bool:
    """Draws the sweep controls (disabled under a classroom lock); returns whether "Start sweep" was pressed."""
    with st.expander("Sweep one setting over several values"):
        st.caption("Trains the recipe above once per architecture and value (and seed); the "
                   "Compare page's Sweep tab charts the result. On synthetic data the task "
                   "length follows a swept sequence length.")
        # Any field may be swept, and archs and seeds vary too: simpler to switch it off than to
        # track which choices the lock allows (queue_action checks every config anyway).
        off = _section_note(lock)
        field_column, values_column = st.columns(2)
        keep_choice(SWEEP_FIELD_KEY, list(SWEEPABLE), "data.sequence_length")
        field_column.selectbox("Setting to vary", SWEEPABLE, key=SWEEP_FIELD_KEY,
                               persist_state="session", disabled=off,
                               help="Any of these; the others keep the values in the form.")
        values_column.text_input("Values to try (comma-separated)", key=SWEEP_VALUES_KEY,
                                 persist_state="session", disabled=off,
                                 placeholder="e.g. 20, 60, 120")
        archs_column, seeds_column = st.columns([3, 1])
        keep_choice(SWEEP_ARCHS_KEY, list(ARCHITECTURES))
        archs_column.multiselect("Architectures", ARCHITECTURES, key=SWEEP_ARCHS_KEY,
                                 persist_state="session", disabled=off)
        seeds_column.number_input("Seeds per point", min_value=1, max_value=20, step=1,
                                  key=SWEEP_SEEDS_KEY, persist_state="session", disabled=off,
                                  help="More than one makes each point a seed group with error bars.")
        return st.form_submit_button("Start sweep", key="train.sweep.start", disabled=off)


def _budget_section(lock: ClassroomLock | None = None) -> bool:
    """Draws the parameter-budget controls (disabled under a classroom lock); returns whether "Queue all" was pressed."""
    with st.expander("Size to a parameter budget"):
        st.caption("Compare architectures at equal size: the width (units for recurrent models, "
                   "feed-forward width for the Transformer, embedding size for the baseline) is set "
                   "to come nearest the target, with the vocabulary this dataset gives.")
        off = _section_note(lock)
        target_column, archs_column = st.columns([1, 2])
        target_column.number_input("Target parameters", min_value=1, step=1000, key=BUDGET_TARGET_KEY,
                                   persist_state="session", disabled=off)
        keep_choice(BUDGET_ARCHS_KEY, list(ARCHITECTURES))
        archs_column.multiselect("Architectures to queue at this size", ARCHITECTURES,
                                 key=BUDGET_ARCHS_KEY, persist_state="session", disabled=off)
        size_column, queue_column = st.columns(2)
        size_column.form_submit_button("Size this architecture to the budget", key="train.budget.apply",
                                       on_click=_apply_budget, disabled=off)
        return queue_column.form_submit_button("Queue all these architectures at this size",
                                               key="train.budget.queue_all", disabled=off)


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

    Under a classroom lock (`seqlab.classroom.read_lock`) every run is checked
    against it before any is queued, whatever the widgets allowed.

    Args:
        store: the run store.
        action: `START`, `SWEEP` or `QUEUE_AT_BUDGET` (from `run_form`).
        config: the form's validated config.
        dataset: its loaded dataset (for the vocabulary of budget sizing).

    Raises:
        ValueError: bad sweep values, no architecture, a bad budget, a field
            the classroom lock fixes at another value; nothing is queued then.
    """
    lock = classroom.read_lock()
    repeats = int(st.session_state[REPEATS_KEY])
    if action == START:
        groups = [seed_group(config, repeats)]
        describe = lambda run_ids: f"Queued {len(run_ids)} run(s): {', '.join(run_ids)}."  # noqa: E731
    elif action == SWEEP:
        field, archs = st.session_state[SWEEP_FIELD_KEY], st.session_state[SWEEP_ARCHS_KEY]
        values = sweep_values(field, st.session_state[SWEEP_VALUES_KEY])
        seeds = int(st.session_state[SWEEP_SEEDS_KEY])
        groups = sweep_groups(config, archs, field, values, seeds)
        describe = lambda run_ids: (  # noqa: E731
            f"Queued a sweep of {len(run_ids)} run(s): {', '.join(archs)} × {field} = "
            f"{', '.join(map(str, values))}, {seeds} seed(s) each. The Compare page's Sweep "
            f"tab charts it as runs complete.")
    elif action == QUEUE_AT_BUDGET:
        fits = budget_fits(config, int(st.session_state[BUDGET_TARGET_KEY]), dataset,
                           st.session_state[BUDGET_ARCHS_KEY])
        groups = [seed_group(fit.config, repeats) for fit in fits]
        describe = lambda run_ids: (  # noqa: E731
            f"Queued {len(run_ids)} run(s) at about {fits[0].target:,} parameters: "
            + "; ".join(fit.text for fit in fits) + ".")
    else:
        raise ValueError(f"action: received {action!r}, expected one of {START!r}, {SWEEP!r}, "
                         f"{QUEUE_AT_BUDGET!r}")
    if lock is not None:
        lock.check_configs(run for group in groups for run in group)
    run_ids = jobs.queue_groups(store, groups)
    return describe(run_ids)


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
