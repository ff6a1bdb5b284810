"""The Search views: a search's progress on the Train page and its study on the Compare page.

Store (and the search's Optuna journal) -> the tables and sentences the
pages place: `search_view` for one search, `latest_search` for the Train
page's progress line. The trials' results come from `seqlab.search`; here
they are shaped for display (a `settings` text per trial, the importances
as a table).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from seqlab.config import FIELDS
from seqlab.search import SearchSummary, search_title, study_summary
from seqlab.store import RunStore

# The trials table as the Compare page shows it, after the searched fields.
TRIAL_COLUMNS = ["number", "state", "value", "best_so_far", "status", "run_id"]


@dataclass(frozen=True)
class SearchView:
    """One search as the pages draw it.

    Attributes:
        study_id: the search.
        title: its one-line name (`seqlab.search.search_title`).
        summary: `seqlab.search.study_summary`.
        sentence: its progress and best trial, in one sentence.
        trials: one row per trial: number, state, value, best_so_far,
            status, run_id, each searched field, and `settings` (the fields
            as "model.units=64, train.learning_rate=0.003").
        importances: field, label, importance (a share; largest first);
            empty when `summary.importance_note` says why.
    """

    study_id: str
    title: str
    summary: SearchSummary
    sentence: str
    trials: pd.DataFrame
    importances: pd.DataFrame

    @property
    def fields(self) -> list[str]:
        """The searched fields, in the order of the search's space."""
        return [item["field"] for item in self.summary.spec["space"]]


def search_options(store: RunStore) -> dict[str, str]:
    """The searches the store's actor may see, newest first: study id -> title."""
    return {search["study_id"]: search_title(search) for search in store.list_searches()}


def search_view(store: RunStore, study_id: str) -> SearchView:
    """Reads one search's trials, best trial and parameter importances.

    Raises:
        RunNotFoundError: when the store's actor has no such search.
        ValueError: when its Optuna journal is missing or unreadable.
    """
    search = store.get_search(study_id)
    summary = study_summary(store, study_id)
    fields = [item["field"] for item in summary.spec["space"]]
    table = summary.table
    trials = table[TRIAL_COLUMNS + fields].copy()
    trials["settings"] = [", ".join(f"{name}={_text(row[name])}" for name in fields)
                          for _, row in table.iterrows()]
    importances = pd.DataFrame(
        [{"field": name, "label": FIELDS[name].label, "importance": share}
         for name, share in summary.importances.items()],
        columns=["field", "label", "importance"])
    return SearchView(study_id, search_title(search), summary, summary.sentence(), trials, importances)


def latest_search(store: RunStore) -> SearchView | None:
    """The newest search the store's actor may see, or None when there is none."""
    searches = store.list_searches()
    return search_view(store, searches[0]["study_id"]) if searches else None


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
