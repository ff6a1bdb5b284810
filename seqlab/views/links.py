"""Page links: each page's state as readable URL query parameters, written and read without Streamlit.

Opening a page's link in a fresh browser draws the same view:

- Compare: `runs=ID,ID` (single runs), `groups=ID,ID` (seed groups),
  `patience=3`, `smoothing=0.6` (the open tab is Streamlit's own `compare.tab`);
- Attention: `run=ID`, `text=...` (typed) or `example=...` (picked from the
  run's test split), `layer=2`, `head=1`;
- Predict: `runs=ID,ID`, `texts=...` (one text per line);
- Data: the data settings that differ from the page's defaults
  (`data.dataset=synthetic-negation&data.vocabulary_size=5000`), `split=test`;
- Train: `preset=NAME` (a preset's title or lesson: the form starts from its
  first run), then every setting that differs from the defaults as
  `model.units=64` pairs, and `repeats=3`, `sweep.*`, `budget.*`.

Settings equal to their defaults stay out of the link, so links stay short;
the sequence length's default is the one suggested for the dataset (what the
form starts at). Reading never raises: whatever a link gets wrong (a deleted
run, a value out of range, a misspelt setting) becomes a sentence of
`notices`, and the rest of the link still applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqlab.config import ARCHITECTURES, DataConfig, RunConfig, find_preset
from seqlab.experiments import SWEEPABLE
from seqlab.views.datasets import SUGGESTED_SEQUENCE_LENGTHS, is_synthetic

# A URL parameter's value: one string, or a list when the parameter is repeated (`?runs=a&runs=b`).
ParamValue = str | list[str]

COMPARE_PARAMS = ("runs", "groups", "patience", "smoothing")
ATTENTION_PARAMS = ("run", "text", "example", "layer", "head")
# Links made before the Attention page named its run `run`.
ATTENTION_LEGACY_PARAMS = {"attention.run_id": "run"}
PREDICT_PARAMS = ("runs", "texts")
DATA_FIELDS = ("dataset", "sequence_length", "vocabulary_size", "truncation", "padding", "subset",
               "text_column", "label_column")
DATA_PATHS = tuple(f"data.{name}" for name in DATA_FIELDS)
DATA_PARAMS = (*DATA_PATHS, "split")
SPLITS = ("train", "validation", "test")
CONFIG_PREFIXES = ("data.", "model.", "train.")
CONFIG_PATHS = tuple(RunConfig().flat())
# The Train form's controls beyond the recipe (their defaults are `seqlab.ui.forms`'):
# URL parameter -> (session key, kind, allowed). Kinds: "int" (allowed = (low, high), as the
# form's inputs take), "choice" (allowed = options), "choices" (a comma-separated list of
# options), "text".
FORM_EXTRAS = {
    "repeats": ("train.repeats", "int", (1, 20)),
    "sweep.field": ("train.sweep.field", "choice", SWEEPABLE),
    "sweep.values": ("train.sweep.values", "text", None),
    "sweep.archs": ("train.sweep.archs", "choices", ARCHITECTURES),
    "sweep.seeds": ("train.sweep.seeds", "int", (1, 20)),
    "budget.target": ("train.budget.target", "int", (1, 10**9)),
    "budget.archs": ("train.budget.archs", "choices", ARCHITECTURES),
}
TRAIN_PARAMS = ("preset", *CONFIG_PATHS, *FORM_EXTRAS)
# The Overfitting tab's early-stopping patience input (seqlab.ui.compare) takes 0 to 50.
PATIENCE_RANGE = (0, 50)
# A smoothing control (its widget `compare.smoothing`): an integer is a window, a float a weight.
SMOOTHING_INT_RANGE = (0, 100)
SMOOTHING_FLOAT_RANGE = (0.0, 1.0)


# ---------------------------------------------------------------- values
def last_value(value: ParamValue | None) -> str | None:
    """Returns a parameter's value (the last one when it is repeated), or None when absent."""
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def split_list(value: ParamValue | None) -> list[str]:
    """Returns the items of `"a,b"` (or of a repeated parameter), stripped, each once, empties dropped."""
    parts = value if isinstance(value, list) else [value or ""]
    items = [item.strip() for part in parts for item in part.split(",")]
    return list(dict.fromkeys(item for item in items if item))


def join_list(items: Sequence[str]) -> str:
    """Returns items as one parameter value, `"a,b"`."""
    return ",".join(items)


def format_value(value: Any) -> str:
    """Returns a setting as link text: `true`/`false`, `0.001`, `64`, or the text itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, (list, tuple)):
        return join_list([str(item) for item in value])
    return str(value)


def left_out(name: str, value: str, expected: str) -> str:
    """Returns the notice for a link value that cannot be used."""
    return f"The link's {name}={value!r} was left out: expected {expected}."


def read_int(value: ParamValue | None, name: str, low: int, high: int) -> tuple[int | None, str | None]:
    """Reads a whole number from `low` to `high`.

    Returns:
        (the number or None, a notice or None): None and no notice when absent.
    """
    text = last_value(value)
    if text is None:
        return None, None
    try:
        number = int(text.strip())
    except ValueError:
        return None, left_out(name, text, f"a whole number from {low} to {high}")
    if not low <= number <= high:
        return None, left_out(name, text, f"a whole number from {low} to {high}")
    return number, None


def read_float(value: ParamValue | None, name: str, low: float, high: float) -> tuple[float | None, str | None]:
    """Reads a number from `low` to `high` (see `read_int`)."""
    text = last_value(value)
    if text is None:
        return None, None
    try:
        number = float(text.strip())
    except ValueError:
        return None, left_out(name, text, f"a number from {low:g} to {high:g}")
    if not low <= number <= high:  # also refuses nan
        return None, left_out(name, text, f"a number from {low:g} to {high:g}")
    return number, None


def read_choice(value: ParamValue | None, name: str, options: Sequence[Any]) -> tuple[Any, str | None]:
    """Reads one of `options`, compared as text (so `layer=2` finds the option 2)."""
    text = last_value(value)
    if text is None:
        return None, None
    by_text = {str(option): option for option in options}
    if text.strip() not in by_text:
        return None, left_out(name, text, "one of " + ", ".join(by_text))
    return by_text[text.strip()], None


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _named(noun: str, ids: Sequence[str]) -> str:
    return f"{noun} {ids[0]}" if len(ids) == 1 else f"{noun}s {_and(list(ids))}"


def runs_left_out_notice(gone: Sequence[str] = (), gone_groups: Sequence[str] = (),
                         without_model: Sequence[str] = (), *, others_left: bool = True,
                         fallback: str = "the latest runs") -> str:
    """Returns the one notice for the runs a link names that cannot be shown ("" when none).

    Args:
        gone: run ids that are not in the store (any more).
        gone_groups: seed-group ids that are not in the store (any more).
        without_model: run ids that exist but saved no model (the page needs one).
        others_left: whether some of the link's runs are still shown.
        fallback: what is shown instead when none is left.

    Returns:
        E.g. "Run r2026... in this link no longer exists; showing the others."
    """
    rest = "showing the others" if others_left else f"showing {fallback} instead"
    sentences = []
    parts = [_named(noun, ids) for noun, ids in (("run", gone), ("seed group", gone_groups)) if ids]
    if parts:
        verb = "exists" if len(gone) + len(gone_groups) == 1 else "exist"
        sentences.append(f"{_and(parts)} in this link no longer {verb}")
    if without_model:
        verb = "has" if len(without_model) == 1 else "have"
        sentences.append(f"{_named('run', without_model)} in this link {verb} no saved model "
                         f"(still training, or failed)")
    if not sentences:
        return ""
    text = "; ".join(sentences) + f"; {rest}."
    return text[0].upper() + text[1:]


def combined_notice(notices: Sequence[str]) -> str:
    """Returns a page's link notices as one text, each once, in order."""
    return " ".join(dict.fromkeys(notice for notice in notices if notice))


# --------------------------------------------------------------- Compare
@dataclass(frozen=True)
class CompareLink:
    """What a Compare link asks for.

    Attributes:
        selected: the items to select (run ids, `group_prefix + group_id`), in
            the options' order; None when the link names no selection or none
            of its runs is left.
        patience: the early-stopping patience, or None (keep the current one).
        smoothing: the smoothing control's value, or None.
        notices: what the link gets wrong, as sentences.
    """

    selected: list[str] | None
    patience: int | None
    smoothing: float | int | None
    notices: list[str] = field(default_factory=list)


def compare_params(selected: Sequence[str], *, group_prefix: str, patience: int | None = None,
                   default_patience: int | None = None, smoothing: float | int | None = None,
                   default_smoothing: float | int | None = None) -> dict[str, str]:
    """Returns the Compare page's link parameters.

    The selection is always written (an empty one as `runs=`), so a link
    keeps naming the same runs when newer ones arrive.

    Args:
        selected: the selected items: run ids and `group_prefix + group_id`.
        group_prefix: what starts a seed group's item ("group:").
        patience: the early-stopping patience; left out when it is the default.
        default_patience: its default.
        smoothing: the smoothing control's value (None: the page has none).
        default_smoothing: its default (None: always written).
    """
    groups = [item[len(group_prefix):] for item in selected if item.startswith(group_prefix)]
    runs = [item for item in selected if not item.startswith(group_prefix)]
    params = {"runs": join_list(runs)}
    if groups:
        params["groups"] = join_list(groups)
    if patience is not None and patience != default_patience:
        params["patience"] = str(int(patience))
    if smoothing is not None and smoothing != default_smoothing:
        params["smoothing"] = format_value(smoothing)
    return params


def read_compare_link(params: Mapping[str, ParamValue], options: Sequence[str], *, group_prefix: str,
                      smoothing_default: float | int | None = None) -> CompareLink:
    """Reads a Compare link against the runs and groups that exist now.

    Args:
        params: the link's parameters (`COMPARE_PARAMS`).
        options: every selectable item now (run ids, `group_prefix + group_id`).
        group_prefix: what starts a seed group's item.
        smoothing_default: the smoothing control's default: an int reads
            `smoothing` as a whole number, anything else as a weight from 0 to 1.

    Returns:
        The `CompareLink`.
    """
    notices = []
    selected = None
    if "runs" in params or "groups" in params:
        runs, groups = split_list(params.get("runs")), split_list(params.get("groups"))
        wanted = set(runs) | {group_prefix + group for group in groups}
        known = set(options)
        selected = [item for item in options if item in wanted]
        gone = [run_id for run_id in runs if run_id not in known]
        gone_groups = [group for group in groups if group_prefix + group not in known]
        if gone or gone_groups:
            notices.append(runs_left_out_notice(gone, gone_groups, others_left=bool(selected)))
            if not selected:
                selected = None
    patience, notice = read_int(params.get("patience"), "patience", *PATIENCE_RANGE)
    notices.append(notice)
    if isinstance(smoothing_default, int) and not isinstance(smoothing_default, bool):
        smoothing, notice = read_int(params.get("smoothing"), "smoothing", *SMOOTHING_INT_RANGE)
    else:
        smoothing, notice = read_float(params.get("smoothing"), "smoothing", *SMOOTHING_FLOAT_RANGE)
    notices.append(notice)
    return CompareLink(selected, patience, smoothing, [notice for notice in notices if notice])


# ------------------------------------------------------------- Attention
@dataclass(frozen=True)
class AttentionLink:
    """What an Attention link asks for (each None when the link does not say).

    Attributes:
        run: the run id (or, in old links, its label).
        text: a typed sentence.
        example: a test example picked from the run's dataset.
        layer: the encoder block (from 1), checked against the run's layers by the page.
        head: the head to enlarge ("1".. or "mean"), likewise.
    """

    run: str | None = None
    text: str | None = None
    example: str | None = None
    layer: str | None = None
    head: str | None = None


def attention_params(run_id: str, *, text: str, picked: bool, default_text: str = "",
                     layer: int | None = None, default_layer: int | None = None,
                     head: str | None = None, default_head: str = "mean") -> dict[str, str]:
    """Returns the Attention page's link parameters.

    Args:
        run_id: the run shown.
        text: the text its map is drawn for.
        picked: whether the text was picked from the test examples (`example=`)
            rather than typed (`text=`; left out when it is `default_text`).
        default_text: the sentence the page starts with.
        layer: the layer shown; left out when None or `default_layer` (the last).
        default_layer: the layer shown by default.
        head: the head enlarged; left out when None or `default_head`.
        default_head: the head enlarged by default.
    """
    params = {"run": run_id}
    if picked:
        params["example"] = text
    elif text != default_text:
        params["text"] = text
    if layer is not None and layer != default_layer:
        params["layer"] = str(layer)
    if head is not None and str(head) != default_head:
        params["head"] = str(head)
    return params


def read_attention_link(params: Mapping[str, ParamValue]) -> AttentionLink:
    """Reads an Attention link's values (the page checks them against the run)."""
    return AttentionLink(**{name: last_value(params.get(name)) for name in ATTENTION_PARAMS})


# --------------------------------------------------------------- Predict
@dataclass(frozen=True)
class PredictLink:
    """What a Predict link asks for.

    Attributes:
        run_ids: the runs to select, in the link's order; None when the link
            names none, or none of them can predict.
        texts: the texts, one per line; None when the link has none.
        missing: the link's run ids that are not among the runs with a model.
    """

    run_ids: list[str] | None
    texts: str | None
    missing: list[str]


def predict_params(run_ids: Sequence[str], texts: Sequence[str], default_texts: Sequence[str] = ()) -> dict[str, str]:
    """Returns the Predict page's link parameters; the texts are left out when they are the defaults."""
    params = {"runs": join_list(run_ids)}
    if list(texts) != list(default_texts):
        params["texts"] = "\n".join(texts)
    return params


def read_predict_link(params: Mapping[str, ParamValue], runs: Sequence[str]) -> PredictLink:
    """Reads a Predict link against `runs`, the runs that saved a model (newest first)."""
    run_ids = None
    missing: list[str] = []
    if "runs" in params:
        wanted = split_list(params["runs"])
        run_ids = [run_id for run_id in wanted if run_id in runs]
        missing = [run_id for run_id in wanted if run_id not in runs]
        if missing and not run_ids:
            run_ids = None
    texts = params.get("texts")
    if isinstance(texts, list):
        texts = "\n".join(texts)
    return PredictLink(run_ids, texts, missing)


# ------------------------------------------------------------ Data, Train
def suggested_length(dataset: str, synthetic_length: int = DataConfig.synthetic_length) -> int | None:
    """Returns the sequence length the pages start a dataset at, or None for a file.

    A file's suggestion needs its texts read (`suggested_data_settings`), so
    links of files always carry their sequence length.
    """
    if dataset in SUGGESTED_SEQUENCE_LENGTHS:
        return SUGGESTED_SEQUENCE_LENGTHS[dataset]
    if is_synthetic(dataset):
        return int(synthetic_length)
    return None


def reference_values(values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Returns what a config link is written against: `defaults` with the dataset's suggested length.

    Args:
        values: the settings (config paths -> values), for their dataset.
        defaults: the page's defaults (config paths -> values); `RunConfig().flat()` when None.
    """
    reference = dict(RunConfig().flat() if defaults is None else defaults)
    dataset = values.get("data.dataset", reference.get("data.dataset", DataConfig.dataset))
    length = suggested_length(str(dataset), values.get("data.synthetic_length", DataConfig.synthetic_length))
    if length is not None:
        reference["data.sequence_length"] = length
    return reference


def config_params(values: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, str]:
    """Returns the settings that differ from `reference`, as `{"model.units": "64"}`, in `values`' order."""
    return {path: format_value(value) for path, value in values.items()
            if path not in reference or value != reference[path]}


@dataclass(frozen=True)
class ConfigLink:
    """The recipe a Data or Train link asks for.

    Attributes:
        config: the validated config: the base (defaults or a preset's run)
            with the link's good settings applied.
        given: the config paths the link set.
        notices: what the link gets wrong, as sentences.
    """

    config: RunConfig
    given: list[str]
    notices: list[str]


def read_config_link(params: Mapping[str, ParamValue], *, paths: Sequence[str] = CONFIG_PATHS,
                     base: RunConfig | None = None, prefixes: Sequence[str] = ()) -> ConfigLink:
    """Applies a link's `data.*`/`model.*`/`train.*`/`seed`/`name` settings to `base`, one at a time.

    Each setting is checked by `RunConfig.with_overrides(...).validate()`;
    one that fails is left out with a notice quoting the config's own
    message, and the others still apply.

    Args:
        params: the link's parameters.
        paths: the config paths this page takes from a link.
        base: what the link's settings change (`RunConfig()` when None).
        prefixes: parameters starting with one of these that are not in
            `paths` are misspelt settings: left out with a notice.

    Returns:
        The `ConfigLink`.
    """
    config = (base or RunConfig()).validate()
    given, notices = [], []
    for name, raw in params.items():
        text = last_value(raw)
        if text is None:
            continue
        if name not in paths:
            if name.startswith(tuple(prefixes)):
                allowed = ", ".join(path for path in paths if path.startswith(name.partition(".")[0] + "."))
                notices.append(left_out(name, text, f"a setting this page takes ({allowed})"))
            continue
        try:
            config = config.with_overrides({name: text}).validate()
        except ValueError as error:
            notices.append(f"The link's {name}={text!r} was left out: {error}.")
            continue
        given.append(name)
    return ConfigLink(config, given, notices)


def read_split(params: Mapping[str, ParamValue]) -> tuple[str | None, str | None]:
    """Reads the Data page's `split` (train, validation or test)."""
    return read_choice(params.get("split"), "split", SPLITS)


def dataset_notice(dataset: str, options: Mapping[str, str]) -> str:
    """Returns the notice for a link's dataset that this server cannot offer ("" when it can)."""
    if dataset in options:
        return ""
    return (f"The link's dataset {dataset!r} is not available here (an upload deleted since, or IMDB "
            f"not found on this server); showing the default dataset instead.")


def preset_config(name: str) -> tuple[RunConfig | None, str]:
    """Returns a preset's first run (named by its title or lesson) and "", or None and a notice."""
    try:
        _, preset = find_preset(name)
    except KeyError as error:
        return None, f"The link's preset was left out: {error.args[0]}."
    return preset["runs"][0], ""


def form_extra_params(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, str]:
    """Returns the Train form's extra controls that differ from their defaults, as link parameters.

    Args:
        values: session key -> value of the `FORM_EXTRAS` controls.
        defaults: session key -> the control's default.
    """
    params = {}
    for name, (key, _, _) in FORM_EXTRAS.items():
        if key in values and values[key] != defaults.get(key):
            params[name] = format_value(values[key])
    return params


def read_form_extras(params: Mapping[str, ParamValue]) -> tuple[dict[str, Any], list[str]]:
    """Reads the Train form's extra controls from a link.

    Returns:
        (session key -> value of the good ones, notices for the others).
    """
    values, notices = {}, []
    for name, (key, kind, allowed) in FORM_EXTRAS.items():
        if name not in params:
            continue
        notice = None
        if kind == "int":
            value, notice = read_int(params[name], name, *allowed)
        elif kind == "choice":
            value, notice = read_choice(params[name], name, allowed)
        elif kind == "choices":
            value = split_list(params[name])
            unknown = [item for item in value if item not in allowed]
            if unknown:
                value, notice = None, left_out(name, last_value(params[name]) or "",
                                               "a comma-separated list of " + ", ".join(allowed))
        else:
            value = last_value(params[name])
        if notice:
            notices.append(notice)
        elif value is not None:
            values[key] = value
    return values, notices
