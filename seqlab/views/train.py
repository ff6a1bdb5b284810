"""The Train page: size and time estimates, queueing runs, sweeps, budgets, the live board."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab import jobs
from seqlab.analysis import budgets, tables, words
from seqlab.analysis.labels import label_runs
from seqlab.analysis.smoothing import step_loss_table
from seqlab.config import WIDTH_FIELDS, RunConfig
from seqlab.data import split_tokens
from seqlab.experiments import parse_vary, plan_sweep
from seqlab.models import count_parameters
from seqlab.store import FINISHED_STATUSES, RunRecord, RunStore
from seqlab.views.runs import ACTIVE_STATUSES, runs_table

# Rough seconds per (training example x token) per epoch on a 2-core CPU, train
# and validation passes included (measured on synthetic-longrange, T=60, default
# sizes); used until the store holds a completed run of the same architecture.
ROUGH_SECONDS_PER_TOKEN = {
    "lstm": 8e-6, "gru": 7e-6, "rnn": 4e-6, "bilstm": 1.5e-5, "bigru": 1.2e-5,
    "transformer": 5e-5, "baseline": 2e-6,
}


ROUGH_STARTUP_SECONDS = 15.0  # one-off: loading, building, tracing and compiling, testing


# Vectorizer slots that are not words: padding ("") and unknown ("[UNK]").
SPECIAL_TOKENS = 2


MEASURED_RUNS = 5


BUDGET_TOLERANCE = 0.1  # a fit further than this share from the target is reported as missed


def estimate_vocabulary_size(config: RunConfig, dataset=None) -> int:
    """Returns the vocabulary a run will have: `data.vocabulary_size`, or fewer for small sets.

    Counting the distinct words of a large corpus is slow, so IMDB (and a
    missing dataset) takes `data.vocabulary_size` as it is.
    """
    limit = config.data.vocabulary_size
    if dataset is None or config.data.dataset == "imdb":
        return limit
    words: set[str] = set()
    for text in dataset.train_texts:
        words.update(split_tokens(text))
    return min(limit, len(words) + SPECIAL_TOKENS)


@dataclass(frozen=True)
class SizeEstimate:
    """What a run will cost before it starts."""

    num_params: int
    vocabulary_size: int
    num_classes: int
    num_train: int
    seconds: float  # the whole run: start-up plus its epochs at the steady rate
    basis: str  # how `seconds` was estimated, in words
    startup_seconds: float = 0.0  # the one-off part of `seconds`

    def sentence(self, label: str) -> str:
        """Says the estimate in Markdown, for the run labelled `label`."""
        return words.size_estimate_sentence(label, self.num_train, self.num_params, self.vocabulary_size,
                                            self.num_classes, self.seconds, self.basis,
                                            startup_seconds=self.startup_seconds)


@dataclass(frozen=True)
class Speed:
    """How fast an architecture trains here: a one-off start-up cost plus a steady rate."""

    seconds_per_token: float  # per training example x token x epoch, steady epochs only
    startup_seconds: float  # one-off: a run's time beyond its steady epochs (loading, compiling, testing)
    basis: str


def size_estimate(store: RunStore, config: RunConfig, dataset) -> SizeEstimate:
    """Counts the run's parameters (no TensorFlow) and estimates its training time.

    Raises:
        ValueError: for sizes the model builder refuses.
    """
    vocabulary_size = estimate_vocabulary_size(config, dataset)
    num_classes = dataset.num_classes
    num_train = len(dataset.train_texts)
    num_params = count_parameters(
        config.model, vocabulary_size=vocabulary_size,
        sequence_length=config.data.sequence_length, num_classes=num_classes,
    )
    speed = training_speed(store, config.model.arch)
    tokens = num_train * config.data.sequence_length * config.train.epochs
    seconds = speed.startup_seconds + speed.seconds_per_token * tokens
    return SizeEstimate(num_params, vocabulary_size, num_classes, num_train, seconds, speed.basis,
                        speed.startup_seconds)


def training_speed(store: RunStore, arch: str) -> Speed:
    """Measures `arch`'s speed on up to `MEASURED_RUNS` recent completed runs in the store.

    Falls back to `ROUGH_SECONDS_PER_TOKEN` and `ROUGH_STARTUP_SECONDS` when
    the store has no completed run of that architecture; `basis` says which.
    """
    measured = []
    for record in store.list_runs(statuses=["completed"], limit=50):
        if record.arch != arch:
            continue
        speed = _measured_speed(store, record)
        if speed is not None:
            measured.append(speed)
        if len(measured) == MEASURED_RUNS:
            break
    if not measured:
        return Speed(ROUGH_SECONDS_PER_TOKEN.get(arch, 5e-6), ROUGH_STARTUP_SECONDS,
                     f"a rough constant for {arch} (no completed {arch} run yet)")
    rates, startups = zip(*measured)
    runs = "run" if len(measured) == 1 else "runs"
    return Speed(float(np.median(rates)), float(np.median(startups)),
                 f"measured on {len(measured)} completed {arch} {runs} in this store")


def _measured_speed(store: RunStore, record: RunRecord) -> tuple[float, float] | None:
    """Returns (seconds per example x token, one-off start-up seconds) of a completed run.

    The rate comes from the run's steady seconds per epoch (recorded, or read
    from its epochs by `tables.epoch_timing`); the start-up is what the run
    took beyond its epochs at that rate (loading, building, compiling,
    testing), and at least its compile. None for a run with fewer than two
    timed epochs: its only epoch mixes the compile with the work.
    """
    epochs = store.epochs(record.run_id)
    compile_seconds, steady = record.compile_seconds, record.seconds_per_epoch
    if steady is None:
        compile_seconds, steady = tables.epoch_timing(
            [e.get("seconds") for e in epochs if not e.get("fraction")])
    try:
        num_train = int(store.read_meta(record.run_id)["examples"]["train"])
    except (ValueError, KeyError, TypeError):
        return None
    if steady is None or steady <= 0 or num_train < 1:
        return None
    startup = compile_seconds or 0.0
    if record.started_at is not None and record.finished_at is not None:
        startup = max(startup, record.finished_at - record.started_at - steady * len(epochs))
    return steady / (num_train * record.config.data.sequence_length), startup


def sweep_values(field: str, text: str) -> list:
    """Parses the comma-separated values of a sweep, typed like `field` ("20, 60, 120" -> [20, 60, 120]).

    Raises:
        ValueError: fewer than two values, a repeated one, or a value the field cannot take.
    """
    try:
        return parse_vary(f"{field}={text}")[1]
    except ValueError as error:
        # parse_vary speaks to the command line; here the values come from a text box.
        raise ValueError(str(error).replace("--vary", "values to try for", 1)) from None


def sweep_groups(config: RunConfig, archs: Sequence[str], field: str, values: Sequence,
                 num_seeds: int) -> list[list[RunConfig]]:
    """Plans a sweep from the form's config: one list (a seed group) per architecture and value.

    Raises:
        ValueError: no architecture, or an invalid point (named).
    """
    if not archs:
        raise ValueError("architectures: received none, expected at least one; pick them in the sweep section")
    groups: dict[tuple, list[RunConfig]] = {}
    for planned in plan_sweep(config, list(archs), field, list(values), num_seeds):
        groups.setdefault((planned.arch, planned.value), []).append(planned.config)
    return list(groups.values())


@dataclass(frozen=True)
class BudgetFit:
    """A config whose width was set to come nearest a parameter budget."""

    config: RunConfig
    field: str  # the width setting, e.g. "model.units"
    num_params: int
    target: int

    @property
    def width(self) -> int:
        return getattr(self.config.model, self.field.partition(".")[2])

    @property
    def missed(self) -> bool:
        """The width alone could not bring the count within `BUDGET_TOLERANCE` of the target."""
        return abs(self.num_params - self.target) > BUDGET_TOLERANCE * self.target

    @property
    def text(self) -> str:
        return words.budget_fit_sentence(self.config.model.arch, self.field, self.width, self.num_params,
                                         self.missed)


def fit_to_budget(config: RunConfig, target: int, dataset) -> BudgetFit:
    """Sizes `config`'s width (units, ff_dim or embedding_dim) to about `target` parameters.

    Uses the run's estimated vocabulary and `seqlab.models.count_parameters` (no TensorFlow).

    Raises:
        ValueError: a target that is not a positive whole number, or invalid sizes.
    """
    sizes = dict(vocabulary_size=estimate_vocabulary_size(config, dataset),
                 sequence_length=config.data.sequence_length, num_classes=dataset.num_classes)
    model = budgets.size_to_parameters(config.model, target, count=count_parameters, **sizes)
    field = f"model.{WIDTH_FIELDS[model.arch][0]}"
    sized = config.with_overrides({field: getattr(model, field.partition(".")[2])})
    return BudgetFit(sized, field, count_parameters(model, **sizes), int(target))


def budget_fits(config: RunConfig, target: int, dataset, archs: Sequence[str]) -> list[BudgetFit]:
    """Returns `config` as each architecture in `archs`, each sized to about `target` parameters.

    Raises:
        ValueError: no architecture, a bad target, or invalid sizes.
    """
    if not archs:
        raise ValueError("architectures: received none, expected at least one; pick them in the budget section")
    return [fit_to_budget(config.with_overrides({"model.arch": arch}), target, dataset) for arch in archs]


@dataclass(frozen=True)
class RunProgress:
    """How far one run is, for two progress bars."""

    epoch_fraction: float
    run_fraction: float
    epoch_text: str
    run_text: str


def run_progress(record: RunRecord, now: float | None = None) -> RunProgress:
    """Returns the epoch and run progress of a queued or running run.

    Batch counts are shown within their totals (never "batch 8/6"); while the
    model compiles, or another phase runs, the text says so with the seconds
    it has lasted ("epoch 1/5: compiling the model… 12 s"). The epoch bar
    stays full while an epoch validates, so it fills once per epoch.

    Args:
        record: the run.
        now: the time to count elapsed seconds to (default: `time.time()`).
    """
    progress = record.progress or {}
    epochs = max(int(progress.get("epochs") or record.config.train.epochs or 1), 1)
    if record.status == "queued":
        return RunProgress(0.0, 0.0, "waiting for the worker", f"queued: {epochs} epochs")
    epoch = min(max(int(progress.get("epoch") or 0), 0), epochs)
    batches = max(int(progress.get("batches") or 0), 0)
    batch = max(int(progress.get("batch") or 0), 0)
    batch = min(batch, batches) if batches else batch
    phase = str(progress.get("phase") or "starting")
    started = progress.get("phase_started_at")
    elapsed = (time.time() if now is None else now) - float(started) if started else None
    if not epoch:
        within = 0.0  # loading, building: before the first epoch
    elif phase in ("validating", "testing", "saving"):
        within = 1.0  # the epoch's batches are done
    else:
        within = batch / batches if batches else 0.0
    done = (epoch - 1 + within) / epochs if epoch else 0.0
    if phase == "training" and epoch:
        epoch_text = words.epoch_progress_text(epoch, epochs, batch, batches, progress.get("loss"))
    elif epoch and phase in ("compiling", "validating"):
        epoch_text = words.epoch_phase_text(epoch, epochs, phase, elapsed)
    else:
        epoch_text = words.phase_text(phase, elapsed)
    return RunProgress(min(max(within, 0.0), 1.0), min(max(done, 0.0), 1.0), epoch_text,
                       f"{record.label}: {done:.0%} of {epochs} epochs")


@dataclass
class LiveBoard:
    """The Train page's live part: active runs, the latest finished run, recent runs.

    `curves` maps run_id -> that run's `analysis.tables.curves_table` rows, for the
    active runs and the latest finished one; `steps` the same runs' training loss
    step by step (`analysis.smoothing.step_loss_table`).
    """

    active: list[RunRecord]
    latest: RunRecord | None
    curves: dict[str, pd.DataFrame]
    recent: pd.DataFrame
    steps: dict[str, pd.DataFrame] | None = None


def live_board(store: RunStore, recent: int = 5) -> LiveBoard:
    """Reads queued/running runs, the latest finished runs and their curves so far.

    A fixed number of queries whatever the number of runs. While runs are
    active it also makes sure a worker is alive (`jobs.ensure_worker`): one
    that died is restarted and its run marked interrupted, so no run waits
    forever.
    """
    active = list(reversed(store.list_runs(statuses=ACTIVE_STATUSES)))  # next to train first
    if active:
        jobs.ensure_worker(store)
    finished = store.list_runs(statuses=FINISHED_STATUSES, limit=recent)
    latest = finished[0] if finished else None
    ids = [record.run_id for record in active + finished]
    epochs = store.epochs_frame(ids) if ids else None
    curves: dict[str, pd.DataFrame] = {}
    steps: dict[str, pd.DataFrame] = {}
    shown = [record.run_id for record in active] + ([latest.run_id] if latest else [])
    if shown:
        runs = store.runs_frame(shown)
        table = tables.curves_table(epochs[epochs["run_id"].isin(shown)], runs)
        curves = {run_id: frame.reset_index(drop=True) for run_id, frame in table.groupby("run_id")}
        losses = step_loss_table(store, shown, runs=label_runs(runs))
        steps = {run_id: frame.reset_index(drop=True) for run_id, frame in losses.groupby("run_id")}
    return LiveBoard(active, latest, curves, runs_table(finished, epochs), steps)
