"""The Compare page: every run and epoch read once, and what each tab draws from them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import pandas as pd

from seqlab.analysis import advice, budgets, stats, sweeps, tables, words
from seqlab.analysis.frames import completed
from seqlab.analysis.labels import label_runs
from seqlab.config import RECURRENT_ARCHITECTURES
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
    """All runs and epochs, read once per page run, and the tables derived from them.

    The Compare page selects *items*: a run id, or `GROUP_PREFIX + group_id`
    for a seed group drawn as one mean curve with a band.
    """

    runs: pd.DataFrame  # `label_runs` of every run: labels unique over the whole store
    epochs: pd.DataFrame
    unlabelled: pd.DataFrame | None = None  # `store.runs_frame()` as read, to label a selection anew

    @cached_property
    def summary(self) -> pd.DataFrame:
        """`analysis.tables.run_summary_table` of every run (newest first)."""
        return tables.run_summary_table(self.epochs, self.runs)

    @cached_property
    def group_members(self) -> dict[str, list[str]]:
        """group_id -> the group's run ids, newest first."""
        grouped = self.runs.dropna(subset=["group_id"])
        return {group: list(ids) for group, ids in grouped.groupby("group_id", sort=False)["run_id"]}

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
        finished = self.runs[self.runs["status"].isin(FINISHED_STATUSES)]
        items = [GROUP_PREFIX + group if isinstance(group, str) else run_id
                 for run_id, group in zip(finished["run_id"], finished["group_id"])]
        return list(dict.fromkeys(items))[:DEFAULT_COMPARED]

    def members(self, item: str) -> list[str]:
        """Returns the run ids an item stands for (one run, or a group's runs)."""
        if item.startswith(GROUP_PREFIX):
            return self.group_members.get(item[len(GROUP_PREFIX):], [])
        return [item]

    def expand(self, items: Sequence[str]) -> list[str]:
        """Returns the run ids of the items, each once, in order."""
        return list(dict.fromkeys(run_id for item in items for run_id in self.members(item)))


def load_compare(store: RunStore) -> CompareData:
    """Reads every run and every epoch (two queries, however many runs there are) and labels the runs once."""
    runs = store.runs_frame()
    return CompareData(label_runs(runs), store.epochs_frame(), runs)


# The Compare page's run table: the outcome first, then the settings, the id last.
COMPARE_RUN_COLUMNS = [
    "status", "label", "size", "num_params", "seconds_per_epoch", "compile_seconds", "best_val_accuracy",
    "final_val_accuracy", "test_accuracy", "test_accuracy_last", "best_epoch", "epochs_run", "dataset",
    "data.sequence_length", "model.embedding_dim", "model.num_layers", "train.learning_rate",
    "train.batch_size", "run_id",
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


def compare_runs_table(data: CompareData) -> pd.DataFrame:
    """Returns the Compare page's run table: one row per run, `COMPARE_RUN_COLUMNS` in order.

    `size` says the width that applies to each architecture (units only for
    recurrent models); `dataset` is the short name (`dataset_name`).
    """
    summary = data.summary
    sizes = [model_size_text(arch, units=units, num_heads=heads, ff_dim=ff_dim, embedding_dim=embedding)
             for arch, units, heads, ff_dim, embedding in zip(
                 summary["arch"], summary["model.units"], summary["model.num_heads"],
                 summary["model.ff_dim"], summary["model.embedding_dim"])]
    names = {name: dataset_name(str(name)) for name in summary["dataset"].unique()}
    table = summary.assign(size=sizes, dataset=summary["dataset"].map(names))
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
    return stats.group_summary_table(data.summary)[GROUP_COLUMNS]


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
        """`analysis.tables.run_summary_table` of the selected runs, with their selection labels."""
        return tables.run_summary_table(self._epochs, self.runs)

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

    @property
    def _epochs(self) -> pd.DataFrame:
        return self.data.epochs[self.data.epochs["run_id"].isin(self.run_ids)]

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


def compare_view(data: CompareData, selected: Sequence[str], *, show_individual: bool = False,
                 patience: int = 2) -> CompareView:
    """Returns the (lazily computed) curves, bands, gap and replay of a selection; no query."""
    return CompareView(data, list(selected), show_individual, int(patience))


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
    return completed(data.summary)


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
    summary = view.data.summary
    if not view.datasets:
        return summary
    return summary[summary["dataset"].isin(view.datasets)]


def sweep_families(view: CompareView, field: str) -> list[SweepFamily]:
    """Returns the sweeps over `field` on the selected runs' datasets, each with a title.

    Families holding a selected run come first, then the largest.
    """
    summary = sweep_summary(view)
    rows = summary.set_index("run_id", drop=False)
    selected = set(view.run_ids)
    families = []
    found = sorted(sweeps.sweep_families(summary, field), key=lambda ids: not selected.intersection(ids))
    for run_ids in found:
        part = rows.loc[run_ids]
        archs = ", ".join(dict.fromkeys(part["arch"]))
        shown = ", ".join(f"{value:g}" if isinstance(value, (int, float)) else str(value)
                          for value in sorted(part[field].unique()))
        title = (f"{dataset_title(part['data.dataset'].iloc[0])} · {archs} · {field} = {shown} · "
                 f"{len(part)} runs of {part['train.epochs'].iloc[0]} epochs")
        families.append(SweepFamily(field, tuple(run_ids), title))
    return families


def sweep_fields(view: CompareView) -> list[str]:
    """Returns the sweepable settings some completed runs on the selected runs' datasets were swept over."""
    summary = sweep_summary(view)
    return [field for field in SWEEPABLE if sweeps.sweep_families(summary, field)]


def sweep_view(data: CompareData, family: SweepFamily) -> pd.DataFrame:
    """Returns `analysis.sweeps.sweep_table` of one sweep family."""
    summary = data.summary
    return sweeps.sweep_table(summary[summary["run_id"].isin(family.run_ids)], family.field)


def advice_lines(view: CompareView) -> list[str]:
    """Returns the "which architecture?" sentences drawn from the selected runs that completed."""
    if not view.run_ids:
        return [words.NOTHING_SELECTED]
    return advice.advice(view.summary, view.all_curves)


def curves_csv(curves: pd.DataFrame) -> bytes:
    """Returns the curves table as UTF-8 CSV bytes (for a download button)."""
    return curves.to_csv(index=False).encode("utf-8")
