"""Streamlit glue of page links: reading a link once, keeping the URL in step, "Copy link", downloads.

Each page makes one `PageLink` under its title. When the page opens with a
link this session has not applied yet (a fresh browser, an edited address),
`PageLink.params` holds the link's values and the page's `restore_*`
function puts them into session state before the widgets are drawn; on every
other run `params` is empty and the widgets keep what the user chose. After
the widgets are read, `PageLink.write` puts the page's state back into the
URL and draws the "Copy link" button with the page's full address.

Why not `bind="query-params"` on every widget (Streamlit 1.67 has it on
selectbox, multiselect, text inputs and more): a bound select widget puts
its *label* in the URL (a run's long label, not its id), a bound value that
is not an option any more is dropped without a word, where a link's deleted
run must be named, and a bound widget that is not drawn (a closed tab's
control) loses its parameter. The Compare tabs keep their own binding
(`compare.tab`): a tab label is short, and the open tab is always drawn.

Encoding and decoding are `seqlab.views.links`' (no Streamlit there).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import streamlit as st

from seqlab.config import RunConfig
from seqlab.export import archive_name, model_bytes, script_for_run, script_name
from seqlab.store import RunStore
from seqlab.ui import keep_choice, load_dataset, remember_typed_length
from seqlab.views import links
from seqlab.views.links import ParamValue
from seqlab.ui.workspace import URL_PARAMETER as WORKSPACE_PARAMETER

# Model archives kept built (per process): a few runs are taken away at a time, and a big
# model's zip takes a moment to write.
ARCHIVE_CACHE_ENTRIES = 4
NOTICE_ICON = ":material/link_off:"


class PageLink:
    """One page's link: what it opened with (once), one notice, and the URL written back.

    Make it right under the page's title: its "Copy link" button and its
    notice are drawn there.

    Args:
        page: the page's key namespace ("compare").
        names: the URL parameters the page owns.
        state_keys: session keys that hold the page's state; when one is
            missing (the page was left and its widgets forgotten) the URL's
            values are applied again.
        legacy: old parameter names -> the name they stand for now (read, then removed).
        prefixes: parameters starting with these are also the page's (misspelt
            settings get a notice instead of being ignored).
    """

    def __init__(self, page: str, names: Sequence[str], *, state_keys: Sequence[str] = (),
                 legacy: Mapping[str, str] | None = None, prefixes: Sequence[str] = ()):
        self.page = page
        self.names = tuple(names)
        self.legacy = dict(legacy or {})
        self.prefixes = tuple(prefixes)
        self.notices: list[str] = []
        slot = st.container()
        self._share_box = slot.empty()
        self._notice_box = slot.empty()
        self.params = self._opened(state_keys)

    @property
    def _written_key(self) -> str:
        return f"{self.page}.link_written"

    def _owns(self, name: str) -> bool:
        return name in self.names or name in self.legacy or name.startswith(self.prefixes)

    def current(self) -> dict[str, ParamValue]:
        """Returns the page's parameters in the URL now (old names under their new ones)."""
        found: dict[str, ParamValue] = {}
        for name in st.query_params:
            if not self._owns(name):
                continue
            values = st.query_params.get_all(name)
            value = values[0] if len(values) == 1 else values
            target = self.legacy.get(name, name)
            if name in self.legacy:
                found.setdefault(target, value)  # the current name wins over the old one
            else:
                found[target] = value
        return found

    def _opened(self, state_keys: Sequence[str]) -> dict[str, ParamValue]:
        """The link's values when this session has not applied them yet, else {}."""
        current = self.current()
        if not current:
            return {}
        written = st.session_state.get(self._written_key)
        if current == written and all(key in st.session_state for key in state_keys):
            return {}  # the URL this page wrote itself: the widgets hold newer values
        return current

    def notice(self, *sentences: str) -> None:
        """Adds sentences to the page's one link notice (drawn under the title at once)."""
        self.notices += [sentence for sentence in sentences if sentence]
        text = links.combined_notice(self.notices)
        if text:
            self._notice_box.info(text, icon=NOTICE_ICON)

    def write(self, params: Mapping[str, str]) -> str:
        """Puts `params` in the URL (the page's other parameters removed) and draws "Copy link".

        May be called again later in the run with more of the page's state.

        Returns:
            The page's share URL.
        """
        for name in list(st.query_params):
            if self._owns(name) and (name in self.legacy or name not in params):
                del st.query_params[name]
        for name, value in params.items():
            if st.query_params.get_all(name) != [value]:
                st.query_params[name] = value
        st.session_state[self._written_key] = dict(params)
        url = share_url()
        with self._share_box.container():
            with st.popover("Copy link", icon=":material/link:",
                            help="This view as a link: the same runs, text and settings in any browser."):
                st.caption("Opens this page as you see it now (copy with the button at the right):")
                st.code(url, language=None, wrap_lines=True)
        return url


def share_url() -> str:
    """Returns the page's address with its query string (relative, `?...`, where the browser's is unknown)."""
    # Without the workspace: a shared view opens in the reader's own workspace, never in the sender's.
    pairs = [(name, value) for name in st.query_params if name != WORKSPACE_PARAMETER
             for value in st.query_params.get_all(name)]
    query = urlencode(pairs, quote_via=quote, safe=",")
    base = st.context.url or ""
    return f"{base}?{query}" if query else (base or "?")


# ------------------------------------------------------------------ Compare
def restore_compare(link: PageLink, data) -> None:
    """Puts a newly opened Compare link's selection, patience and smoothing into session state.

    Args:
        link: the page's `PageLink`.
        data: the page's `seqlab.views.compare.CompareData`.
    """
    if not link.params:
        return
    from seqlab.ui.compare import STATE_DEFAULTS
    from seqlab.views.compare import GROUP_PREFIX

    restored = links.read_compare_link(
        link.params, list(data.options), group_prefix=GROUP_PREFIX,
        smoothing_default=STATE_DEFAULTS.get("compare.smoothing", st.session_state.get("compare.smoothing")))
    if restored.selected is not None:
        st.session_state["compare.selected"] = restored.selected
    if restored.patience is not None:
        st.session_state["compare.patience"] = restored.patience
    if restored.smoothing is not None:
        st.session_state["compare.smoothing"] = restored.smoothing
    link.notice(*restored.notices)


def write_compare(link: PageLink, selected: Sequence[str]) -> str:
    """Writes the Compare page's state into the URL; returns the share URL."""
    from seqlab.ui.compare import STATE_DEFAULTS
    from seqlab.views.compare import GROUP_PREFIX

    state = st.session_state
    return link.write(links.compare_params(
        selected, group_prefix=GROUP_PREFIX,
        patience=state.get("compare.patience"), default_patience=STATE_DEFAULTS["compare.patience"],
        smoothing=state.get("compare.smoothing"), default_smoothing=STATE_DEFAULTS.get("compare.smoothing")))


# ---------------------------------------------------------------- Attention
def attention_link() -> PageLink:
    """Returns the Attention page's `PageLink` (`run`, `text` or `example`, `layer`, `head`)."""
    return PageLink("attention", links.ATTENTION_PARAMS, state_keys=("attention.run_id",),
                    legacy=links.ATTENTION_LEGACY_PARAMS)


def restore_attention_text(link: PageLink, config: RunConfig) -> None:
    """Puts a newly opened link's text into the text choice (`seqlab.ui.widgets.choose_text`).

    A picked example that is not among the run's examples any more is typed
    in instead: the map is the same.

    Args:
        link: the page's `PageLink`.
        config: the run's config (its test split gives the examples).
    """
    restored = links.read_attention_link(link.params)
    state = st.session_state
    if restored.example is not None:
        if restored.example in example_texts(config.data, config.seed):
            state["attention.source"], state["attention.example"] = "Pick a dataset example", restored.example
        else:
            state["attention.source"], state["attention.text"] = "Type a sentence", restored.example
    elif restored.text is not None:
        state["attention.source"], state["attention.text"] = "Type a sentence", restored.text


def example_texts(config, seed: int = 0) -> list[str]:
    """Returns the test examples `choose_text` offers for a run's data."""
    from seqlab.data import examples_table

    return examples_table(load_dataset(config, seed), "test", n=10)["text"].tolist()


def restore_choice(link: PageLink, name: str, key: str, options: Sequence[Any]) -> None:
    """Puts a newly opened link's `name` into the selection widget `key` when it is one of `options`."""
    if name not in link.params:
        return
    value, notice = links.read_choice(link.params[name], name, options)
    if value is not None:
        st.session_state[key] = value
    link.notice(notice or "")


# ------------------------------------------------------------------ Predict
def restore_predict(link: PageLink, store: RunStore, runs: Sequence[str]) -> None:
    """Puts a newly opened Predict link's runs and texts into session state, naming what it lost.

    Args:
        link: the page's `PageLink`.
        store: the run store (tells a deleted run from one without a model).
        runs: the runs with a saved model, newest first.
    """
    if not link.params:
        return
    restored = links.read_predict_link(link.params, list(runs))
    if restored.missing:
        gone = [run_id for run_id in restored.missing if not _exists(store, run_id)]
        without_model = [run_id for run_id in restored.missing if run_id not in gone]
        link.notice(links.runs_left_out_notice(gone, without_model=without_model,
                                               others_left=restored.run_ids is not None,
                                               fallback="the latest runs"))
    if restored.run_ids is not None:
        st.session_state["predict.run_ids"] = restored.run_ids
    if restored.texts is not None:
        st.session_state["predict.texts"] = restored.texts


def _exists(store: RunStore, run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except KeyError:
        return False
    return True


# ---------------------------------------------------------------- Data, Train
def restore_data(link: PageLink, options: Mapping[str, str], defaults: Mapping[str, Any]) -> None:
    """Puts a newly opened Data link's settings (`data.*`, `split`) into the page's widgets.

    Args:
        link: the page's `PageLink`.
        options: the datasets offered (`dataset_options`).
        defaults: the page's starting values, config path -> value.
    """
    if not link.params:
        return
    restored = _read_config(link, options, links.DATA_PATHS,
                            RunConfig().with_overrides(dict(defaults)), prefixes=())
    values = restored.flat()
    for path in links.DATA_PATHS:
        st.session_state[path] = values[path]
    remember_typed_length("data")  # chosen by the link: the page must not replace it with its suggestion
    split, notice = links.read_split(link.params)
    if split is not None:
        st.session_state["data.split"] = split
    link.notice(notice or "")


def write_data(link: PageLink, settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """Writes the Data page's settings (those not at their defaults) and split into the URL."""
    values = {f"data.{name}": value for name, value in settings.items()}
    params = links.config_params(values, links.reference_values(values, defaults))
    if st.session_state.get("data.split", "train") != "train":
        params["split"] = st.session_state["data.split"]
    return link.write(params)


def train_link() -> PageLink:
    """Returns the Train page's `PageLink` (`preset`, config pairs, the form's other controls)."""
    return PageLink("train", links.TRAIN_PARAMS, prefixes=links.CONFIG_PREFIXES)


def restore_train(link: PageLink, options: Mapping[str, str]) -> None:
    """Fills the Train form from a newly opened link: a preset's first run, then the link's settings.

    Args:
        link: the page's `PageLink`.
        options: the datasets offered (`dataset_options`).
    """
    if not link.params:
        return
    from seqlab.ui.forms import set_form_values

    base = None
    preset = links.last_value(link.params.get("preset"))
    if preset is not None:
        base, notice = links.preset_config(preset)
        link.notice(notice)
    config = _read_config(link, options, links.CONFIG_PATHS, base or RunConfig(),
                          prefixes=links.CONFIG_PREFIXES, suggest=base is None)
    set_form_values(config.flat())
    extras, notices = links.read_form_extras(link.params)
    st.session_state.update(extras)
    link.notice(*notices)


def write_train(link: PageLink, config: RunConfig) -> str:
    """Writes the Train form's recipe (what differs from the defaults) and its other controls into the URL."""
    from seqlab.ui.forms import REPEATS_KEY, SECTION_DEFAULTS

    values = config.flat()
    params = links.config_params(values, links.reference_values(values))
    keys = [key for key, _, _ in links.FORM_EXTRAS.values()]
    params.update(links.form_extra_params({key: st.session_state[key] for key in keys if key in st.session_state},
                                          {**SECTION_DEFAULTS, REPEATS_KEY: 1}))
    return link.write(params)


def _read_config(link: PageLink, options: Mapping[str, str], paths: Sequence[str], base: RunConfig, *,
                 prefixes: Sequence[str], suggest: bool = True) -> RunConfig:
    """The link's settings on `base`; a dataset not offered here falls back to `base`'s, with a notice.

    With `suggest`, a link without a sequence length takes the one suggested
    for its dataset (what the link was written against).
    """
    restored = links.read_config_link(link.params, paths=paths, base=base, prefixes=prefixes)
    link.notice(*restored.notices)
    config = restored.config
    notice = links.dataset_notice(config.data.dataset, options)
    if notice:
        link.notice(notice)
        config = config.with_overrides({"data.dataset": base.data.dataset if base.data.dataset in options
                                        else "toy"})
    if suggest and "data.sequence_length" not in restored.given:
        length = links.suggested_length(config.data.dataset, config.data.synthetic_length)
        if length is not None:
            config = config.with_overrides({"data.sequence_length": length})
    return config


# ---------------------------------------------------------------- downloads
def model_archive(store: RunStore, run_id: str) -> bytes:
    """Returns `seqlab.export.model_bytes` of a run, kept per model version (a re-saved model is zipped anew).

    Raises:
        KeyError: for an unknown run id.
        ValueError: when the run has no saved model.
    """
    from seqlab.inference import model_version

    version = model_version(store, run_id)  # through the session's store: another workspace's run raises
    return _archive(str(store.home), run_id, version)


@functools.lru_cache(maxsize=ARCHIVE_CACHE_ENTRIES)
def _archive(home: str, run_id: str, version) -> bytes:
    # Keyed by folder, not by store object: every rerun's store is a new (scoped) object.
    return model_bytes(RunStore(home), run_id)


def download_buttons(store: RunStore, run_id: str, key: str) -> None:
    """Draws "Download model (.zip)" and "Download training script (.py)" for a run with a saved model.

    Both files are built when clicked (Streamlit calls the data function
    then, not on every rerun); the archive is kept per model version
    (`model_archive`).

    Args:
        store: the run store.
        run_id: a run that saved a model.
        key: the buttons' key prefix (`<key>.model`, `<key>.script`).
    """
    model_column, script_column = st.columns(2)
    model_column.download_button(
        "Download model (.zip)", functools.partial(model_archive, store, run_id),
        file_name=archive_name(run_id), mime="application/zip", key=f"{key}.model", on_click="ignore",
        icon=":material/download:", disabled=not store.has_model(run_id),
        help="model.keras, its vocabulary, the recipe and a README; loads with "
             "keras.saving.load_model(..., safe_mode=True).")
    script_column.download_button(
        "Download training script (.py)", functools.partial(script_for_run, store, run_id),
        file_name=script_name(run_id), mime="text/x-python", key=f"{key}.script", on_click="ignore",
        icon=":material/code:",
        help="One Python file that trains this model again with plain Keras (no seqlab needed).")


def take_away(store: RunStore, run_ids: Sequence[str], labels: Mapping[str, str],
              key: str = "compare.take_away") -> None:
    """Lets the user pick one of `run_ids` with a saved model and download its model and script.

    Args:
        store: the run store.
        run_ids: the runs to choose from (the selection's runs).
        labels: run id -> its label.
        key: the selectbox's key (the buttons' key prefix too).
    """
    saved = [run_id for run_id in run_ids if store.has_model(run_id)]
    if not saved:
        st.caption("None of the selected runs saved a model to take away yet (a model is saved "
                   "when a run completes or is stopped).")
        return
    keep_choice(key, saved, saved[0])
    run_id = st.selectbox("Take a run away", saved, key=key,
                          format_func=lambda item: f"{labels.get(item, item)} ({item})",
                          help="Its trained model as a .zip, or a standalone Keras script that trains it again.")
    download_buttons(store, run_id, key)
