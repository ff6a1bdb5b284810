"""The Compare page: every run and its stored summary read once, the selected runs' epochs, and what each tab draws.

Its cost must not grow with the store's epochs: the tables over every run
(the run table, seed groups, budgets, sweeps) read the per-run summaries the
store keeps (`RunStore.summaries_frame`); only the selected runs' curves are
read from the epochs table, once per page run. And it must not grow with the
store's runs while nothing changes: what `load_compare` derives from every
run is kept, shared by the sessions, until the store's revision moves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

import pandas as pd

from seqlab.analysis import advice, budgets, hparams, stats, sweeps, tables, words
from seqlab.analysis.frames import EPOCH_COLUMNS, completed
from seqlab.analysis.labels import label_runs
from seqlab.analysis import lessons
from seqlab.analysis.lessons import Lesson
from seqlab.config import RECURRENT_ARCHITECTURES, presets
from seqlab.experiments import SWEEPABLE
from seqlab.store import FINISHED_STATUSES, RunStore
from seqlab.views.datasets import dataset_name, dataset_title

DEFAULT_COMPARED = 5


GROUP_PREFIX = "group:"  # a selection item naming a whole seed group instead of one run


VERDICT_METRICS = {
    "best_val_accuracy": "best validation accuracy",
    "final_val_accuracy": "final validation accuracy",
    "test_accuracy": "test accuracy",
}


VERDICT_NEEDS_TWO = ("Select exactly two runs or seed groups above to see whether their difference "
                     "is larger than the seed-to-seed noise (currently {count} selected).")


GROUP_COLUMNS = ["label", "arch", "n_runs", "best_val_accuracy", "final_val_accuracy",
                 "test_accuracy", "test_accuracy_last", "seconds_per_epoch", "compile_seconds"]


OVERFITTING_COLUMNS = ["run_id", "label", "arch", "epochs_run", "best_epoch", "best_val_accuracy",
                       "overfit_epoch", "gap_final", "explanation"]


def item_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Item -> label: each run's `label`, and `GROUP_PREFIX + group_id` -> its `group_label`.

    Args:
        runs: runs labelled by `analysis.labels.label_runs`.
    """
    labels = dict(zip(runs["run_id"], runs["label"]))
    groups = runs.dropna(subset=["group_id"]).drop_duplicates("group_id")
    labels.update({GROUP_PREFIX + g: str(name) for g, name in zip(groups["group_id"], groups["group_label"])})
    return labels


@dataclass
class CompareData:
    """All runs and their summaries, read once per page run, and the tables derived from them.

    The Compare page selects *items*: a run id, or `GROUP_PREFIX + group_id`
    for a seed group drawn as one mean curve with a band.
    """

    runs: pd.DataFrame  # `label_runs` of every run: labels unique over the whole store
    summaries: pd.DataFrame  # `store.summaries_frame()`: what each run's curves say
    unlabelled: pd.DataFrame | None = None  # `store.runs_frame()` as read, to label a selection anew
    read_epochs: Callable[[list[str]], pd.DataFrame] | None = None  # `store.epochs_frame`
    # `view`'s CompareViews, the most recently used last.
    _views: dict[tuple, CompareView] = field(default_factory=dict, init=False, repr=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """`analysis.tables.summary_table` of every run (newest first), from the stored summaries."""
        return tables.summary_table(self.runs, self.summaries)

    def epochs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Returns the epochs of these runs (`store.epochs_frame`; empty without a store)."""
        if self.read_epochs is None:
            return pd.DataFrame(columns=list(EPOCH_COLUMNS))
        return self.read_epochs(list(run_ids))

    @cached_property
    def group_members(self) -> dict[str, list[str]]:
        """group_id -> the group's run ids, newest first."""
        members: dict[str, list[str]] = {}
        for run_id, group_id in zip(self.runs["run_id"].tolist(), self.runs["group_id"].tolist()):
            if isinstance(group_id, str):
                members.setdefault(group_id, []).append(run_id)
        return members

    @cached_property
    def runs_table(self) -> pd.DataFrame:
        """`compare_runs_table` of this data (kept with it: the page draws it on every run)."""
        return _runs_table(self.summary, self.runs)

    @cached_property
    def groups(self) -> pd.DataFrame:
        """`groups_view` of this data (kept with it, like `runs_table`)."""
        return stats.group_summary_table(self.summary)[GROUP_COLUMNS]

    @cached_property
    def labels(self) -> dict[str, str]:
        """Item -> its unique label (run label with seed, or group label)."""
        return item_labels(self.runs)

    @cached_property
    def options(self) -> dict[str, str]:
        """Item -> text for the selection, newest first; a group comes just before its newest run."""
        options: dict[str, str] = {}
        for run_id, group_id in zip(self.runs["run_id"], self.runs["group_id"]):
            if isinstance(group_id, str) and GROUP_PREFIX + group_id not in options:
                count = len(self.group_members[group_id])
                options[GROUP_PREFIX + group_id] = f"{self.labels[GROUP_PREFIX + group_id]} · seed group of {count} runs"
            options[run_id] = f"{self.labels[run_id]} ({run_id})"
        return options

    @property
    def default_selection(self) -> list[str]:
        """The latest finished runs, a seed group counting once, at most `DEFAULT_COMPARED`."""
        return list(self._default_selection)  # a copy: session state may change it

    @cached_property
    def _default_selection(self) -> tuple[str, ...]:
        finished = self.runs[self.runs["status"].isin(FINISHED_STATUSES)]
        items = [GROUP_PREFIX + group if isinstance(group, str) else run_id
                 for run_id, group in zip(finished["run_id"], finished["group_id"])]
        return tuple(dict.fromkeys(items))[:DEFAULT_COMPARED]

    @cached_property
    def completed(self) -> pd.DataFrame:
        """`summary` rows of completed runs that recorded a validation accuracy."""
        return completed(self.summary)

    def view(self, selected: Sequence[str], show_individual: bool = False, patience: int = 2) -> CompareView:
        """Returns the `CompareView` of a selection: the same one while this data lasts.

        A rerun with the same selection and controls (a tab switch, another
        session) then draws from the tables the view computed the first time.
        """
        key = (tuple(selected), bool(show_individual), int(patience))
        with self._views_lock:
            view = self._views.pop(key, None)
            if view is None:
                view = CompareView(self, list(selected), bool(show_individual), int(patience))
            self._views[key] = view
            while len(self._views) > KEPT_VIEWS:
                del self._views[next(iter(self._views))]
        return view

    def members(self, item: str) -> list[str]:
        """Returns the run ids an item stands for (one run, or a group's runs)."""
        if item.startswith(GROUP_PREFIX):
            return self.group_members.get(item[len(GROUP_PREFIX):], [])
        return [item]

    def expand(self, items: Sequence[str]) -> list[str]:
        """Returns the run ids of the items, each once, in order."""
        return list(dict.fromkeys(run_id for item in items for run_id in self.members(item)))


KEPT_STORES = 64  # (store, actor) pairs a CompareCache keeps: a class of 30 workspaces, with room
KEPT_VIEWS = 16  # selections each CompareData keeps the tables of (sessions, tabs, back and forth)


class CompareCache:
    """The last `CompareData` of each store (by runs.db) and actor, with the revision it was read at.

    Bounded (`KEPT_STORES`, oldest out) and safe for several sessions at once;
    the app keeps one per process (`seqlab.ui.compare_cache`), as it keeps one
    `seqlab.inference.ModelCache`.
    """

    def __init__(self, stores: int = KEPT_STORES):
        self.stores = stores
        self._loaded: dict[tuple, tuple[int, CompareData]] = {}
        self._lock = threading.Lock()

    def load(self, store: RunStore) -> CompareData:
        """Returns the store's `CompareData`: the kept one while the store's revision is unchanged."""
        revision = store.revision()  # before the reads: data newer than it is never kept under it
        # One entry per store *and* actor: each workspace sees its own runs, never another's.
        key = (str(store.db_path), store.actor)
        with self._lock:
            kept = self._loaded.get(key)
        if kept is not None and kept[0] == revision:
            return kept[1]
        data = _read_compare(store)
        with self._lock:
            self._loaded.pop(key, None)
            self._loaded[key] = (revision, data)
            while len(self._loaded) > self.stores:
                del self._loaded[next(iter(self._loaded))]
        return data


def load_compare(store: RunStore, cache: CompareCache | None = None) -> CompareData:
    """Returns every run, labelled once, and its summary (no epochs).

    With a `cache`, it is read once per store revision: while `store.revision()`
    is unchanged the same `CompareData` is returned (to every session), with
    what it has computed so far, so a redraw costs one read however many runs
    there are. The selected runs' epochs are read later, once per page run,
    by the `CompareView` that draws them.
    """
    return cache.load(store) if cache is not None else _read_compare(store)


def _read_compare(store: RunStore) -> CompareData:
    runs = store.runs_frame()
    return CompareData(label_runs(runs), store.summaries_frame(), runs, store.epochs_frame)


# The Compare page's run table: the outcome first, then the settings, the id last.
COMPARE_RUN_COLUMNS = [
    "status", "label", "size", "num_params", "seconds_per_epoch", "compile_seconds", "best_val_accuracy",
    "final_val_accuracy", "test_accuracy", "test_accuracy_last", "best_epoch", "epochs_run", "dataset",
    "data.sequence_length", "model.embedding_dim", "model.num_layers", "train.learning_rate",
    "train.batch_size", "where", "run_id",
]


def model_size_text(arch: str, *, units: int, num_heads: int, ff_dim: int, embedding_dim: int) -> str:
    """Says how wide a model is in the terms of its architecture.

    Returns:
        "32 units" (recurrent), "2 heads, ff 64" (transformer) or "32-d"
        (baseline: the embedding is all it has).
    """
    if arch in RECURRENT_ARCHITECTURES:
        return f"{int(units)} units"
    if arch == "transformer":
        return f"{int(num_heads)} heads, ff {int(ff_dim)}"
    return f"{int(embedding_dim)}-d"


def where_text(backend: str | None, node: str | None) -> str:
    """Says where a run trained: "local · host" (a worker of the store's host) or "ray · node" (a Ray task).

    The backend alone while the node is not known yet (a Ray task waiting for room).
    """
    backend = backend if isinstance(backend, str) and backend else "local"
    return f"{backend} · {node}" if isinstance(node, str) and node else backend


def compare_runs_table(data: CompareData) -> pd.DataFrame:
    """Returns the Compare page's run table: one row per run, `COMPARE_RUN_COLUMNS` in order.

    `size` says the width that applies to each architecture (units only for
    recurrent models); `dataset` is the short name (`dataset_name`); `where`
    says where the run trained (`where_text`).
    """
    return data.runs_table


def _runs_table(summary: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    # One text per distinct width, not one call per run: stores hold thousands of runs alike.
    widths = ["arch", "model.units", "model.num_heads", "model.ff_dim", "model.embedding_dim"]
    texts = {key: model_size_text(key[0], units=key[1], num_heads=key[2], ff_dim=key[3], embedding_dim=key[4])
             for key in summary[widths].drop_duplicates().itertuples(index=False, name=None)}
    sizes = [texts[key] for key in summary[widths].itertuples(index=False, name=None)]
    names = {name: dataset_name(str(name)) for name in summary["dataset"].unique()}
    table = summary.assign(size=sizes, dataset=summary["dataset"].map(names))
    if runs is not None and {"backend", "node"} <= set(runs.columns):
        # The summary keeps results and settings; where a run trained is read from its row.
        places = {run_id: where_text(backend, node)
                  for run_id, backend, node in zip(runs["run_id"], runs["backend"], runs["node"])}
        table["where"] = table["run_id"].map(places)
    return table[[column for column in COMPARE_RUN_COLUMNS if column in table]].reset_index(drop=True)


def sentence_list(labels: Sequence[str], sentences: Sequence[str]) -> str:
    """Returns Markdown bullets "- **label**: sentence", one per run (labels escaped)."""
    return "\n".join(f"- **{_markdown_escaped(str(label))}**: {sentence}"
                     for label, sentence in zip(labels, sentences))


def _markdown_escaped(text: str) -> str:
    # A run name is the user's text: its * _ ` [ ] must not turn into formatting or links.
    for character in "\\`*_[]":
        text = text.replace(character, "\\" + character)
    return text


def groups_view(data: CompareData) -> pd.DataFrame:
    """Returns one row per seed group: label, arch, n_runs and "mean ± std" texts of its metrics."""
    return data.groups


@dataclass
class CompareView:
    """What the Compare page draws for the selected runs and groups.

    Each table is computed when first read, so a tab that is not open costs nothing.

    Args:
        data: `load_compare(store)`.
        selected: items (run ids and `GROUP_PREFIX + group_id`).
        show_individual: also draw the runs of selected groups one by one.
        patience: the early-stopping patience to replay.
    """

    data: CompareData
    selected: list[str]
    show_individual: bool = False
    patience: int = 2
    _titled_sweeps: dict[str, list[SweepFamily]] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def run_ids(self) -> list[str]:
        """Every selected run, group members included."""
        return self.data.expand(self.selected)

    @cached_property
    def groups(self) -> list[str]:
        """The group ids of the selected groups."""
        return [item[len(GROUP_PREFIX):] for item in self.selected if item.startswith(GROUP_PREFIX)]

    @cached_property
    def runs(self) -> pd.DataFrame:
        """The selected runs, labelled by what tells them apart from each other.

        The labels in the selection list must tell apart every run of the
        store; a chart only needs to tell apart the runs it draws, so its
        legend names just the settings in which those differ.
        """
        source = self.data.unlabelled if self.data.unlabelled is not None else self.data.runs
        return label_runs(source[source["run_id"].isin(self.run_ids)].drop(columns="group_label", errors="ignore"))

    @cached_property
    def labels(self) -> dict[str, str]:
        """Item -> its label within the selection (a run's, or a seed group's)."""
        return item_labels(self.runs)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """`analysis.tables.summary_table` of the selected runs, with their selection labels."""
        summaries = self.data.summaries
        return tables.summary_table(self.runs, summaries[summaries["run_id"].isin(self.run_ids)])

    @cached_property
    def curves_csv(self) -> bytes:
        """`curves_csv` of every selected run's curves (the download button's file)."""
        return curves_csv(self.all_curves)

    @cached_property
    def all_curves(self) -> pd.DataFrame:
        """`analysis.tables.curves_table` rows of every selected run."""
        return tables.curves_table(self._epochs, self.runs)

    @cached_property
    def curves(self) -> pd.DataFrame:
        """The curves of the runs drawn one by one (group members only when asked for)."""
        grouped = {run_id for group in self.groups for run_id in self.data.group_members.get(group, [])}
        one_by_one = [run_id for run_id in self.run_ids
                      if self.show_individual or run_id not in grouped or run_id in self.selected]
        return self.all_curves[self.all_curves["run_id"].isin(one_by_one)]

    @cached_property
    def group_curves(self) -> pd.DataFrame:
        """`analysis.stats.group_curves_table` of the selected groups."""
        return stats.group_curves_table(self.all_curves[self.all_curves["group_id"].isin(self.groups)])

    @cached_property
    def _epochs(self) -> pd.DataFrame:
        """The selected runs' epochs: the page's one read of the epochs table."""
        return self.data.epochs(self.run_ids)

    @cached_property
    def gap(self) -> pd.DataFrame:
        # Labels come from the selection, so a run is named the same in every chart and table.
        return tables.gap_table(self._epochs, self.runs)

    @cached_property
    def overfitting(self) -> pd.DataFrame:
        return overfitting_table(self.summary)

    @cached_property
    def early_stopping(self) -> pd.DataFrame:
        return tables.early_stopping_table(self._epochs, self.runs, [self.patience])

    @cached_property
    def datasets(self) -> list[str]:
        """The selected runs' datasets, the most recent first."""
        return list(dict.fromkeys(self.summary["dataset"].dropna()))

    @cached_property
    def sweep_summary(self) -> pd.DataFrame:
        """The summary rows a sweep may be read from: every run on the selected runs' datasets.

        With nothing selected, every run.
        """
        summary = self.data.summary
        if not self.datasets:
            return summary
        return summary[summary["dataset"].isin(self.datasets)]

    @cached_property
    def sweeps(self) -> dict[str, list[list[str]]]:
        """Sweepable setting -> `analysis.sweeps.sweep_families` of `sweep_summary` over it."""
        return {name: sweeps.sweep_families(self.sweep_summary, name) for name in SWEEPABLE}


def compare_view(data: CompareData, selected: Sequence[str], *, show_individual: bool = False,
                 patience: int = 2) -> CompareView:
    """Returns the (lazily computed) curves, bands, gap and replay of a selection; no query.

    The same selection of the same `CompareData` gives the same view (`CompareData.view`).
    """
    return data.view(selected, show_individual, patience)


def overfitting_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Returns `OVERFITTING_COLUMNS` of summary rows, with each run's curves explained in words."""
    rows = summary.assign(explanation=[words.overfitting_sentence(row) for row in summary.itertuples(index=False)])
    return rows[OVERFITTING_COLUMNS].reset_index(drop=True)


@dataclass
class Verdict:
    """Whether two selected runs or groups differ beyond seed noise."""

    sentence: str
    significant: bool | None  # None: too few seeds to tell
    table: pd.DataFrame  # one row per side: label, runs, mean, std, min, max
    result: dict  # `analysis.stats.compare_groups(...)`


def verdict_view(view: CompareView, metric: str = "best_val_accuracy", method: str = "welch") -> Verdict | None:
    """Compares the metric of two selected items (runs or seed groups); None unless exactly two.

    Raises:
        ValueError: on an unknown metric or method.
    """
    if metric not in VERDICT_METRICS:
        raise ValueError(f"metric: received {metric!r}, expected one of {', '.join(VERDICT_METRICS)}")
    if len(view.selected) != 2:
        return None
    values = view.summary.set_index("run_id")[metric]
    sides = [(view.labels.get(item, item), values.reindex(view.data.members(item)).dropna())
             for item in view.selected]
    labels = (sides[0][0], sides[1][0])
    result = stats.compare_groups(sides[0][1], sides[1][1], labels=labels, method=method)
    table = pd.DataFrame([{"run or group": label, "runs": len(side), "mean": side.mean(),
                           "std": side.std(), "min": side.min(), "max": side.max()}
                          for label, side in sides])
    sentence = words.full_sentence(words.verdict_sentence(result, labels, VERDICT_METRICS[metric]))
    return Verdict(sentence, result["significant"], table, result)


def completed_summary(data: CompareData) -> pd.DataFrame:
    """Returns the summary rows of completed runs that recorded a validation accuracy."""
    return data.completed


def budget_datasets(view: CompareView) -> list[str]:
    """Returns the datasets of completed runs: the selected runs' first, then the most recently used."""
    done = list(dict.fromkeys(completed_summary(view.data)["dataset"]))
    return [name for name in view.datasets if name in done] + [name for name in done if name not in view.datasets]


def budget_table(data: CompareData, dataset: str) -> pd.DataFrame:
    """Returns the completed runs on one dataset (the Budgets tab's points)."""
    done = completed_summary(data)
    return done[done["dataset"] == dataset].reset_index(drop=True)


def pareto_labels(table: pd.DataFrame, x: str, y: str) -> list[str]:
    """Returns the labels of the runs on the Pareto front (cheapest first)."""
    data = table.dropna(subset=[x, y])
    if data.empty:
        return []
    return data[budgets.pareto_front(data, x, y)].sort_values(x)["label"].tolist()


@dataclass(frozen=True)
class SweepFamily:
    """Completed runs that differ only in one setting (plus architecture and seed)."""

    field: str
    run_ids: tuple[str, ...]
    title: str


def sweep_summary(view: CompareView) -> pd.DataFrame:
    """Returns the summary rows a sweep may be read from: every run on the selected runs' datasets.

    With nothing selected, every run.
    """
    return view.sweep_summary


def sweep_families(view: CompareView, field: str) -> list[SweepFamily]:
    """Returns the sweeps over `field` on the selected runs' datasets, each with a title.

    Families holding a selected run come first, then the largest. Kept with
    the view: a rerun of the Sweep tab titles none again.
    """
    if field in view._titled_sweeps:
        return view._titled_sweeps[field]
    summary = sweep_summary(view)
    rows = summary.set_index("run_id", drop=False)
    selected = set(view.run_ids)
    families = []
    found = view.sweeps[field] if field in view.sweeps else sweeps.sweep_families(summary, field)
    found = sorted(found, key=lambda ids: not selected.intersection(ids))
    for run_ids in found:
        part = rows.loc[run_ids]
        archs = ", ".join(dict.fromkeys(part["arch"]))
        shown = ", ".join(f"{value:g}" if isinstance(value, (int, float)) else str(value)
                          for value in sorted(part[field].unique()))
        title = (f"{dataset_title(part['data.dataset'].iloc[0])} · {archs} · {field} = {shown} · "
                 f"{len(part)} runs of {part['train.epochs'].iloc[0]} epochs")
        families.append(SweepFamily(field, tuple(run_ids), title))
    view._titled_sweeps[field] = families
    return families


def sweep_fields(view: CompareView) -> list[str]:
    """Returns the sweepable settings some completed runs on the selected runs' datasets were swept over."""
    return [name for name, families in view.sweeps.items() if families]


def sweep_view(data: CompareData, family: SweepFamily) -> pd.DataFrame:
    """Returns `analysis.sweeps.sweep_table` of one sweep family."""
    summary = data.summary
    return sweeps.sweep_table(summary[summary["run_id"].isin(family.run_ids)], family.field)


def advice_lines(view: CompareView) -> list[str]:
    """Returns the "which architecture?" sentences drawn from the selected runs that completed."""
    if not view.run_ids:
        return [words.NOTHING_SELECTED]
    return advice.advice(view.summary, view.all_curves)


def hyperparameter_table(view: CompareView) -> pd.DataFrame:
    """Returns `analysis.hparams.hyperparameter_table` of the selected runs (the Hyperparameters tab).

    One row per run and axis: the settings that differ among the selected
    runs that recorded a validation accuracy, then their accuracies, each
    normalised to [0, 1]; runs are named by their labels within the selection.
    """
    return hparams.hyperparameter_table(view.summary)


def curves_csv(curves: pd.DataFrame) -> bytes:
    """Returns the curves table as UTF-8 CSV bytes (for a download button)."""
    return curves.to_csv(index=False).encode("utf-8")


def selection_lessons(store: RunStore, run_ids: Sequence[str]) -> list[Lesson]:
    """Returns the lessons of the presets whose runs are all among `run_ids`, checked on those runs.

    What the preset's Home card says, said again where its runs are compared.
    Only the selected runs are read, so the cost follows the selection, not
    the store.
    """
    records = [store.get_run(run_id) for run_id in run_ids]
    return [lesson for lesson in lessons.check_presets(presets(), records) if lesson.checked]
