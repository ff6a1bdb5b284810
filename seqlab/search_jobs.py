"""Running a search's trials: one after another in this process (the command line), or queued (the app).

`run_search` is `python -m seqlab search`: it records the search, then asks
Optuna for a trial, records its run as running, trains it here through the
one training path with heartbeats (as `seqlab.jobs.train_foreground` does),
and goes on until every trial was asked. `start_search` is the Train page's
"Start search": it records the search and queues its first `parallel`
trials for the worker pool; each trial's end (`seqlab.search.trial_ended`,
called by the training path) queues the next, so the search advances
inside the workers with no process driving it.

Study, trials, pruning and results are `seqlab.search`'s; this module only
adds what needs the training path and the worker pool, which
`seqlab.search` may not import (the training path imports it).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from seqlab import search
from seqlab.config import RunConfig
from seqlab import jobs
from seqlab.quotas import check_queue
from seqlab.search import SpaceItem
from seqlab.store import RunRecord, RunStore
from seqlab.training import ProgressCallback, train_run

TrialCallback = Callable[[RunRecord, bool], None]


def run_search(
    store: RunStore,
    base: RunConfig,
    space: Sequence[SpaceItem],
    trials: int,
    *,
    seed: int | None = None,
    on_progress: ProgressCallback | None = None,
    on_trial: TrialCallback | None = None,
) -> str:
    """Records a search and trains all its trials in this process, one after another.

    Args:
        store: the run store.
        base: the recipe every trial starts from (its epochs are every trial's).
        space: the settings varied (`seqlab.search.parse_space`).
        trials: how many trials.
        seed: the sampler's seed (None: the recipe's).
        on_progress: receives each trial run's progress dicts (as `train_run`'s).
        on_trial: called with (record, finished) before and after each trial.

    Returns:
        The study id (`seqlab.search.search_payload` describes the result).

    Raises:
        ValueError: for a bad recipe, space or count (nothing is recorded then).
    """
    spec = search.search_spec(base, space, trials, mode="cli", seed=seed)
    study_id = search.create_search(store, spec)
    run_trials(store, study_id, on_progress=on_progress, on_trial=on_trial)
    return study_id


def run_trials(
    store: RunStore,
    study_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    on_trial: TrialCallback | None = None,
) -> list[RunRecord]:
    """Trains a recorded search's remaining trials in this process until every trial was asked.

    Each trial's run is recorded as running (so no worker claims it) and
    sends heartbeats while it trains, so a long step does not make it look
    dead to a reaper; `train_run` tells Optuna how it ended.

    Returns:
        The trial runs' final records, in order.
    """
    records = []
    while True:
        run_id = search.ask_trial(store, study_id, status="running")
        if run_id is None:
            return records
        store.start_run(run_id, os.getpid())
        if on_trial is not None:
            on_trial(store.get_run(run_id), False)
        with jobs.keep_alive(store, run_id=run_id):
            record = train_run(store, run_id, on_progress=on_progress)
        records.append(record)
        if on_trial is not None:
            on_trial(record, True)


def start_search(
    store: RunStore,
    base_config: RunConfig,
    space: Sequence[SpaceItem],
    trials: int,
    parallel: int = 2,
    *,
    seed: int | None = None,
    start_worker: bool = True,
) -> str:
    """Records a search and queues its first `parallel` trials for the workers.

    Each queued trial that ends asks and queues the next, until `trials`
    were asked; the search is recorded in the store's actor's workspace and
    so are its runs.

    Args:
        store: the run store (as the page's actor sees it).
        base_config: the recipe every trial starts from.
        space: the settings varied.
        trials: how many trials in all.
        parallel: how many trials are queued or training at once.
        seed: the sampler's seed (None: the recipe's).
        start_worker: start workers for the queued trials when none is free.

    Returns:
        The study id.

    Raises:
        ValueError: for a bad recipe, space or count (nothing is recorded then).
        QuotaExceeded: (a ValueError) when the first trials would pass one of
            the server's limits for the workspace (`seqlab.quotas`); each later
            trial takes the place of one that ended.
    """
    spec = search.search_spec(base_config, space, trials, mode="queued", parallel=parallel, seed=seed)
    check_queue(store, [base_config] * min(parallel, trials))
    study_id = search.create_search(store, spec)
    search.advance_search(store, study_id)
    if start_worker:
        jobs.ensure_worker(store)
    return study_id


def resume_search(store: RunStore, study_id: str, *, start_worker: bool = True) -> list[str]:
    """Queues a queued search's next trials when none is queued or training (its last worker died).

    Returns:
        The run ids queued now (none when the search is finished or stopped).
    """
    queued = search.advance_search(store, study_id)
    if queued and start_worker:
        jobs.ensure_worker(store)
    return queued
