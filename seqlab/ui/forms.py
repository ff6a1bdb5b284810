"""The run form: every `RunConfig` field as a widget keyed `train.<field>`.

Widgets take their defaults from the dataclasses and their help from
`FIELD_HELP`, so adding a config field adds a form field by itself. Values
persist for the session (`persist_state="session"`), so leaving the Train
page and coming back keeps what the user typed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from seqlab.config import (
    ARCHITECTURES, FIELD_HELP, MERGE_MODES, OPTIMIZERS, POOLINGS, SIDES,
    DataConfig, ModelConfig, RunConfig, TrainConfig,
)
from seqlab.ui import init_state, keep_choice

FORM_PREFIX = "train."
CHOICES = {
    "model.arch": ARCHITECTURES,
    "model.merge_mode": MERGE_MODES,
    "model.pooling": POOLINGS,
    "train.optimizer": OPTIMIZERS,
    "data.truncation": SIDES,
    "data.padding": SIDES,
}
# Which architectures each model field matters for (shown in the label).
USED_BY = {
    "model.units": "recurrent", "model.recurrent_dropout_rate": "recurrent",
    "model.merge_mode": "bidirectional", "model.num_heads": "transformer",
    "model.key_dim": "transformer", "model.ff_dim": "transformer",
    "model.num_layers": "recurrent, transformer",
}
DATA_FIELDS = ("sequence_length", "vocabulary_size", "truncation", "padding", "subset",
               "num_examples", "synthetic_length", "validation_fraction", "test_fraction",
               "text_column", "label_column")
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
FLOAT_FORMATS = {"train.learning_rate": "%.5f"}
REPEATS_KEY = "train.repeats"


def widget_key(path: str) -> str:
    """Returns the widget key of a config path: "model.units" -> "train.units"."""
    return FORM_PREFIX + path.rpartition(".")[2]


def _defaults() -> dict[str, Any]:
    config = RunConfig()
    values = {}
    for section in (config.data, config.model, config.train):
        prefix = {DataConfig: "data", ModelConfig: "model", TrainConfig: "train"}[type(section)]
        for item in dataclasses.fields(section):
            values[f"{prefix}.{item.name}"] = getattr(section, item.name)
    values["seed"], values["name"] = config.seed, config.name
    return values


DEFAULTS = _defaults()


def init_form_state() -> None:
    """Sets every form key to its dataclass default unless the session has a value."""
    init_state({widget_key(path): value for path, value in DEFAULTS.items()})
    init_state({REPEATS_KEY: 1})


def _label(path: str) -> str:
    name = path.rpartition(".")[2].replace("_", " ")
    used = USED_BY.get(path)
    return f"{name[0].upper()}{name[1:]}" + (f" ({used})" if used else "")


def field_widget(path: str) -> Any:
    """Draws the widget of one config field (inside the current container/form)."""
    key = widget_key(path)
    default = DEFAULTS[path]
    common = dict(key=key, help=FIELD_HELP.get(path), persist_state="session")
    if path in CHOICES:
        keep_choice(key, list(CHOICES[path]), default)
        return st.selectbox(_label(path), CHOICES[path], **common)
    if isinstance(default, bool):
        return st.checkbox(_label(path), **common)
    if isinstance(default, int):
        return st.number_input(_label(path), min_value=0, step=1, **common)
    if isinstance(default, float):
        step = 0.0001 if path == "train.learning_rate" else 0.05
        return st.number_input(_label(path), min_value=0.0, step=step,
                               format=FLOAT_FORMATS.get(path, "%.2f"), **common)
    return st.text_input(_label(path), **common)


def dataset_widget(options: dict[str, str], key: str = widget_key("data.dataset")) -> str:
    """Draws the dataset choice (a value of `options`, titled by it)."""
    keep_choice(key, list(options), "toy")
    return st.selectbox("Dataset", list(options), format_func=lambda value: options.get(value, value),
                        key=key, help=FIELD_HELP["data.dataset"], persist_state="session")


def run_form(dataset_options: dict[str, str]) -> tuple[bool, bool]:
    """Draws the whole run form.

    Returns:
        (estimate pressed, start pressed).
    """
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
        estimate = estimate_column.form_submit_button("Update size and time estimate", key="train.estimate")
        start = start_column.form_submit_button("Start training", type="primary", key="train.start")
    return estimate, start


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
