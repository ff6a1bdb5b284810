"""Streamlit glue shared by the pages: cached resources, errors, session state.

The only part of seqlab that imports Streamlit. Pages stay thin: they read
widgets, build a config, call one seqlab function and place the result; what
they share (the cached store, cached datasets, the error boundary, the run
form, the live progress widgets) lives here.

Nothing here imports TensorFlow at import time: the Attention and Predict
helpers import `seqlab.inference` inside the cached functions that need it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import streamlit as st

from seqlab.config import DataConfig
from seqlab.store import DamagedStoreError, RunStore, default_home
from seqlab.ui.workspace import current_actor
from seqlab.data.vectorize import VECTORIZED_CACHE
from seqlab.views.data import tokenization_view
from seqlab.views.datasets import is_synthetic, suggested_data_settings

# Bounded caches: a classroom server keeps a few datasets, not every one ever opened.
DATASET_CACHE_ENTRIES = 8
RESULT_CACHE_ENTRIES = 32


# ------------------------------------------------------------- resources
def store_home() -> str:
    """Returns the resolved run-store folder of this process ($SEQLAB_HOME or ~/.seqlab)."""
    return str(default_home().resolve())


@st.cache_resource(show_spinner=False)
def _store_for(home: str) -> RunStore:
    return RunStore(home)


def get_store() -> RunStore:
    """Returns the one `RunStore` of the current `SEQLAB_HOME`, shared by all sessions.

    The store comes as this session's workspace sees it (`RunStore.for_actor`,
    `seqlab.ui.workspace.current_actor`).
    Keyed by the folder, so changing `SEQLAB_HOME` (as each test does) opens
    another store instead of reusing a stale one. Every page calls this
    first: when runs.db is damaged (not a database any more) the page shows
    which file and how to recover, and stops there, instead of a traceback.
    """
    try:
        store = _store_for(store_home())
        store.check()  # one read: the cached store's file may have been damaged since
    except DamagedStoreError as error:
        st.error(error_message(error), icon=":material/database:")
        st.stop()
    # The session's own view: its workspace's runs (and the shared ones, when asked);
    # the instructor's: every run. Ownership is enforced by the store, not by the pages.
    return store.for_actor(current_actor())


@st.cache_data(max_entries=DATASET_CACHE_ENTRIES, show_spinner="Loading texts...")
def load_dataset(config: DataConfig, seed: int = 0):
    """Returns `seqlab.data.load_dataset(config, seed)`, cached (no TensorFlow).

    Raises:
        DatasetError: the source cannot be read (not cached, so a fix shows at once).
    """
    from seqlab.data import load_dataset as load

    return load(config, seed)


@st.cache_data(max_entries=DATASET_CACHE_ENTRIES, show_spinner="Tokenizing examples...")
def tokenization_table(config: DataConfig, seed: int, num_examples: int):
    """Returns the tokens/ids/padding/mask table of a few training examples, cached.

    Loads TensorFlow (the vocabulary comes from Keras `TextVectorization`) the
    first time a vocabulary is built; after that it comes from the store's cache.
    """
    return tokenization_view(load_dataset(config, seed), config, num_examples,
                             cache_dir=get_store().cache_dir(VECTORIZED_CACHE))


@st.cache_data(ttl=60, show_spinner=False)
def imdb_status():
    """Returns `seqlab.data.imdb_status()`, re-checked at most once a minute."""
    from seqlab.data import imdb_status as status

    return status()


@st.cache_resource(show_spinner=False)
def compare_cache():
    """Returns the process's one `seqlab.views.compare.CompareCache`, shared by all sessions."""
    from seqlab.views.compare import CompareCache

    return CompareCache()


@st.cache_resource(show_spinner=False)
def model_cache():
    """Returns the process's one `seqlab.inference.ModelCache`, shared by all sessions.

    Bounded (`seqlab.inference.MODEL_CACHE_ENTRIES` models) and keyed by store
    folder and run id, so every store of the process shares it safely. From
    then on Streamlit no longer clears Keras's session after each script run
    (`keep_keras_session`), which would make every kept model prepare its
    graph again on the next rerun of any session.
    """
    from seqlab.inference import ModelCache

    keep_keras_session()
    return ModelCache()


def keep_keras_session() -> bool:
    """Stops Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit's script runner does it (`_clean_problem_modules`) so that
    scripts building a model on each rerun do not pile up Keras state. The
    pages never build models, and the call empties TensorFlow's kernel cache:
    each cached model's traced graph would be instantiated and optimized
    again on its next call. What else the runner cleans (matplotlib's open
    figures) is still cleaned.

    Returns:
        Whether the runner's cleanup is now seqlab's (False when this
        Streamlit has no such function to replace).
    """
    import sys

    from streamlit.runtime.scriptrunner import script_runner

    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None:
        return False
    if getattr(current, "keeps_keras_session", False):
        return True

    def clean_problem_modules() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    clean_problem_modules.keeps_keras_session = True
    script_runner._clean_problem_modules = clean_problem_modules
    return True


def attention_map(home: str, run_id: str, text: str):
    """Returns `seqlab.inference.attention_map` for a run and a text, cached.

    Results are kept per version of the run's files (`model_version`), so a
    re-trained run is read again and a deleted one raises instead of being
    served; the model itself comes from `model_cache()`.
    """
    require_visible(run_id)
    from seqlab.inference import model_version

    return _attention_map(home, run_id, text, model_version(_store_for(home), run_id))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Reading attention...")
def _attention_map(home: str, run_id: str, text: str, version):
    # `home` is part of the key so two stores never share results; `version` so
    # a changed or deleted model is never answered from here.
    from seqlab.inference import attention_map as read

    return read(_store_for(home), run_id, text, model_cache())


def predictions_table(home: str, run_ids: tuple[str, ...], texts: tuple[str, ...]):
    """Returns `seqlab.inference.predictions_table` for runs and texts, cached per file version."""
    require_visible(*run_ids)
    from seqlab.inference import model_version

    store = _store_for(home)
    versions = tuple(model_version(store, run_id) for run_id in run_ids)
    return _predictions_table(home, run_ids, texts, versions)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Predicting...")
def _predictions_table(home: str, run_ids: tuple[str, ...], texts: tuple[str, ...], versions):
    from seqlab.inference import predictions_table as predict

    return predict(_store_for(home), list(run_ids), list(texts), model_cache())


def text_states(home: str, run_id: str, text: str):
    """Returns `seqlab.states.text_states` of a recurrent run for one text, cached per file version."""
    require_visible(run_id)
    from seqlab.inference import model_version

    return _text_states(home, run_id, text, model_version(_store_for(home), run_id))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Reading the states...")
def _text_states(home: str, run_id: str, text: str, version):
    from seqlab.inference import load_trained
    from seqlab.states import text_states as read

    return read(load_trained(_store_for(home), run_id, model_cache()), text)


def predictions_on_test(home: str, run_id: str):
    """Returns `seqlab.inference.test_predictions` of a run, cached per file version."""
    require_visible(run_id)
    from seqlab.inference import model_version

    return _test_predictions(home, run_id, model_version(_store_for(home), run_id))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Predicting the test texts...")
def _test_predictions(home: str, run_id: str, version):
    from seqlab.inference import test_predictions as predict

    return predict(_store_for(home), run_id, model_cache())


def disagreements_on_test(home: str, run_a: str, run_b: str):
    """Returns `seqlab.inference.test_disagreements` of two runs, cached per file version."""
    require_visible(run_a, run_b)
    from seqlab.inference import model_version

    store = _store_for(home)
    return _test_disagreements(home, run_a, run_b, model_version(store, run_a), model_version(store, run_b))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Comparing the test predictions...")
def _test_disagreements(home: str, run_a: str, run_b: str, version_a, version_b):
    from seqlab.inference import test_disagreements as compare

    return compare(_store_for(home), run_a, run_b, model_cache())


def attribution_table(home: str, run_ids: tuple[str, ...], text: str):
    """Returns `seqlab.attribution.attribution_table` of several runs for one text, cached per file version."""
    require_visible(*run_ids)
    from seqlab.inference import model_version

    store = _store_for(home)
    return _attribution_table(home, run_ids, text, tuple(model_version(store, r) for r in run_ids))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Integrating gradients...")
def _attribution_table(home: str, run_ids: tuple[str, ...], text: str, versions):
    from seqlab.attribution import attribution_for_text, attribution_table as stack
    from seqlab.inference import load_trained

    store = _store_for(home)
    return stack([attribution_for_text(load_trained(store, run_id, model_cache()), text) for run_id in run_ids])


def gradient_table(home: str, run_ids: tuple[str, ...], texts: tuple[str, ...], labels: tuple[int, ...]):
    """Returns `seqlab.attribution.gradient_by_position_table` of runs on texts, cached per file version."""
    require_visible(*run_ids)
    from seqlab.inference import model_version

    store = _store_for(home)
    return _gradient_table(home, run_ids, texts, labels, tuple(model_version(store, r) for r in run_ids))


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Reading the gradients...")
def _gradient_table(home: str, run_ids: tuple[str, ...], texts: tuple[str, ...], labels: tuple[int, ...],
                    versions):
    from seqlab.attribution import gradient_by_position_table
    from seqlab.inference import load_trained

    store = _store_for(home)
    trained = [load_trained(store, run_id, model_cache()) for run_id in run_ids]
    return gradient_by_position_table(trained, list(texts), list(labels))


def require_visible(*run_ids: str) -> None:
    """Raises `RunNotFoundError` unless this session's workspace may see every run in `run_ids`.

    The cached readers above open the store as the system (their results are
    shared between sessions), so each checks the session's right to the runs
    first: a run id typed into a URL reaches only the runs the workspace sees.
    """
    store = get_store()
    for run_id in run_ids:
        store.get_run(run_id)


# ---------------------------------------------------------------- errors
def error_message(error: BaseException) -> str:
    """Returns the user-facing text of an error (a KeyError's text without quotes)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__


@contextlib.contextmanager
def error_boundary(context: str = "") -> Iterator[None]:
    """Shows bad input, a missing run or a damaged store as `st.error` instead of a traceback.

    The rest of the `with` block is skipped; what came before it stays drawn.
    DatasetError is a ValueError, so unreadable datasets are covered too.

    Args:
        context: an optional lead-in, e.g. "Cannot load this dataset".
    """
    try:
        yield
    except DamagedStoreError as error:  # the store, not the input: no lead-in about the form
        st.error(error_message(error), icon=":material/database:")
    except (ValueError, KeyError, OSError) as error:
        message = error_message(error)
        st.error(f"{context}: {message}" if context else message)


# --------------------------------------------------------- session state
def init_state(defaults: dict[str, Any]) -> None:
    """Sets each namespaced key (`"train.epochs"`) to its default unless already set.

    Raises:
        ValueError: for a key without a page namespace (a programming slip).
    """
    for key, value in defaults.items():
        if "." not in key:
            raise ValueError(f"session key: received {key!r}, expected 'page.name' such as 'train.epochs'")
        st.session_state.setdefault(key, value)


def keep_choice(key: str, options: list, default: Any = None) -> None:
    """Makes a selection widget's stored value one of `options` before it is drawn.

    A value that is no longer an option (a deleted run, a removed file) falls
    back to `default` (or the first option); a missing value starts at
    `default` when one is given. Lists (multiselect) keep their valid items.
    """
    if key not in st.session_state:
        if default is not None:
            st.session_state[key] = default
        return
    value = st.session_state[key]
    if isinstance(value, list):
        kept = [item for item in value if item in options]
        if kept != value:
            st.session_state[key] = kept
    elif value not in options:
        st.session_state[key] = default if default in options else (options[0] if options else None)


def follow_dataset(page: str) -> None:
    """Starts `<page>.sequence_length` at the dataset's suggested length whenever the dataset changes.

    The Data page and the Train form share this, so both start from the same
    dataset-aware value (`suggested_data_settings`). Call before the
    page's dataset and sequence-length widgets are drawn. A length the user
    typed is never overwritten: it stays while the dataset does, comes back
    when they switch away and back, and wins when typed in the same form
    submit that switched the dataset. For synthetic tasks a new
    `<page>.synthetic_length` counts as a new dataset.

    Args:
        page: the key namespace, "data" or "train" (keys `<page>.dataset`,
            `<page>.sequence_length`, `<page>.synthetic_length`,
            `<page>.text_column`, `<page>.label_column`).
    """
    state = st.session_state
    length_key = f"{page}.sequence_length"
    memory = _length_memory(page)
    source, length = _length_source(page), state.get(length_key)
    if source == memory["source"] and length is not None:
        if length != memory["length"]:
            memory["typed"][source] = length
        memory["length"] = length
        return
    if source != memory["source"] and memory["source"] is not None and length not in (None, memory["length"]):
        # Typed in the submit that also switched the dataset: meant for the new one.
        memory["typed"][source] = length
    else:
        length = memory["typed"].get(source) or _suggested_length(page, length)
        state[length_key] = length
    memory.update(source=source, length=length)


def _suggested_length(page: str, current: int | None) -> int:
    """`suggested_data_settings` for the page's dataset; `current` when the file is unreadable."""

    state = st.session_state
    try:
        return suggested_data_settings(
            state[f"{page}.dataset"],
            synthetic_length=state.get(f"{page}.synthetic_length", DataConfig.synthetic_length),
            text_column=state.get(f"{page}.text_column", ""), label_column=state.get(f"{page}.label_column", ""),
        )["sequence_length"]
    except (ValueError, OSError):
        # The page's own loading of the dataset says why it cannot be read.
        return DataConfig.sequence_length if current is None else current


def remember_typed_length(page: str) -> None:
    """Records `<page>.sequence_length` as typed for `<page>`'s dataset (after setting both from code)."""
    memory = _length_memory(page)
    source, length = _length_source(page), st.session_state.get(f"{page}.sequence_length")
    memory["typed"][source] = length
    memory.update(source=source, length=length)


def _length_memory(page: str) -> dict:
    """The last dataset (source) and length seen on the page, and the lengths typed per source."""
    return st.session_state.setdefault(f"{page}.length_memory", {"source": None, "length": None, "typed": {}})


def _length_source(page: str) -> str:
    """What the suggested length depends on: the dataset, and a synthetic task's length."""

    dataset = str(st.session_state.get(f"{page}.dataset"))
    if is_synthetic(dataset):
        return f"{dataset} @ {st.session_state.get(f'{page}.synthetic_length', DataConfig.synthetic_length)}"
    return dataset


def use_app_navigation() -> None:
    """Reruns a page through app.py when Streamlit ran it on its own.

    A server whose first visitor opens a page's link (`/Compare?...`) has
    not yet run app.py's `st.navigation`, and Streamlit (1.67) then treats
    `pages/` as an old-style pages folder: it runs the page script alone,
    with a sidebar of file names ("app" first) and without app.py's warm
    worker. `st.navigation` itself clears that flag for the process; doing
    the same and rerunning runs app.py, which opens the same page (both
    name it by the same URL path), with the query parameters kept.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    # Only a session's first run: a rerun later would drop the click that started the run.
    if st.session_state.setdefault("app.navigation_checked", False):
        return
    st.session_state["app.navigation_checked"] = True
    if not PagesManager.uses_pages_directory or context is None:
        return
    # The fallback lists the main script itself as a page; app.py's navigation never does.
    main = context.pages_manager.main_script_path
    if any(page.get("script_path") == main for page in context.pages_manager.get_pages().values()):
        PagesManager.uses_pages_directory = False
        st.rerun()


def place_chart(chart, key: str | None = None, stretch: bool = True) -> None:
    """Draws an altair chart the full width of its column, or (`stretch=False`) at its own size.

    Heatmaps sized per token and unit keep their own size: stretched, their
    cells would no longer be square enough to read. Under the chart, a small
    "Save chart" popover offers it as PNG and SVG (`chart_save_controls`).

    Args:
        chart: an Altair chart from `seqlab.charts` or its siblings.
        key: the chart's widget key ("compare.loss_chart"); it also names
            the save controls (`<key>.save`, `<key>.save.png`,
            `<key>.save.svg`) and the files (`compare.loss_chart.png`).
        stretch: take the column's width (True) or the chart's own.
    """
    from seqlab.ui.present import presenting, projector_chart

    if presenting():
        chart = projector_chart(chart)
    st.altair_chart(chart, width="stretch" if stretch else "content", key=key)
    chart_save_controls(chart, key)


def chart_save_controls(chart, key: str | None = None) -> str:
    """Draws a "Save chart" popover with PNG and SVG downloads of `chart`.

    The files are drawn on the server (`seqlab.chart_files`) only when a
    download is clicked: `st.download_button` takes a callable, so a rerun
    converts nothing and a page of many charts costs no more than before.
    Streamlit's own chart toolbar offers a PNG of the view as drawn, but
    no SVG; these are the same files the command line and notebooks get.
    Clicking does not rerun the page.

    Args:
        chart: the chart placed just above.
        key: the chart's widget key. Without one the controls are named
            after the chart's title ("chart.<title>"), numbered from the
            second chart of that title on a page ("chart.<title>.2").

    Returns:
        The name the controls' keys start from (`<name>.save`, `<name>.save.png`, `<name>.save.svg`).
    """
    import functools

    from streamlit.errors import StreamlitDuplicateElementKey

    from seqlab.chart_files import chart_file_name, chart_png, chart_svg

    base = key or ".".join(dict.fromkeys(["chart", chart_file_name(None, chart, "png").removesuffix(".png")]))
    for number in range(1, 1000):
        name = base if number == 1 else f"{base}.{number}"
        try:
            popover = st.popover("Save chart", icon=":material/download:", type="tertiary", key=f"{name}.save",
                                 help="Download this chart as a PNG picture or an SVG drawing")
        except StreamlitDuplicateElementKey:
            if key is not None:  # the page's own key is taken: a slip the page must fix
                raise
            continue
        break
    with popover:
        st.download_button("PNG picture", data=functools.partial(chart_png, chart),
                           file_name=chart_file_name(key, chart, "png"), mime="image/png",
                           key=f"{name}.save.png", on_click="ignore", icon=":material/image:")
        st.download_button("SVG drawing", data=functools.partial(chart_svg, chart),
                           file_name=chart_file_name(key, chart, "svg"), mime="image/svg+xml",
                           key=f"{name}.save.svg", on_click="ignore", icon=":material/draw:")
    return name
