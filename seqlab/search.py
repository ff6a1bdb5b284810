"""Hyperparameter search with Optuna: a study whose trials are seqlab runs.

A search tunes a few settings of one recipe over ranges (`SpaceItem`, parsed
from `model.units=16:128:log` or `train.optimizer=adam,rmsprop`) with
Optuna's TPE sampler, and stops hopeless trials early with its median
pruner fed each epoch's validation loss. Each trial is an ordinary run
(`RunStore.create_run(..., study_id=, trial_number=)`) trained by the one
training path, `seqlab.training.train_run`, which calls back here:
`TrialPruner` (a Keras callback) reports every epoch and stops the run when
Optuna prunes it, and `trial_ended` tells Optuna how the run ended and, for
a search queued from the app, asks and queues the next trial. So a queued
search advances inside the workers, with no driver process.

The objective is a trial run's best (lowest) validation loss over its
epochs, minimized. Completed runs are COMPLETE trials with that value,
pruned ones PRUNED (Optuna keeps their last reported loss), and every other
end (failed, diverged, interrupted, stopped by the user) FAIL: the sampler
learns nothing from a run cut short for reasons of its own.

Optuna keeps each study in a journal file beside the run store
(`RunStore.search_storage_path`): for several processes on one machine (the
command line, the app and the workers all ask, report and tell trials)
Optuna's parallelization guide offers `JournalStorage`, and over a
`JournalFileBackend` it needs no database server: each process appends to
the log under a file lock and replays it to read. It is not made for many
writes at once, and a search makes few (one report per trial epoch). The
store records the search itself (`RunStore.create_search`: its spec) and its
runs; the journal records the trials (parameters, per-epoch values, states).

Nothing here imports TensorFlow, Streamlit, `seqlab.training` or
`seqlab.jobs` (training imports this module, lazily, for a trial's run);
Optuna is imported when a study is first opened. Starting searches (a
foreground loop for the command line, queued trials for the app) is in
`seqlab.search_jobs`, which may import the training path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from seqlab.config import FIELDS, RunConfig
from seqlab.experiments import SWEEPABLE
from seqlab.store import FINISHED_STATUSES, RunRecord, RunStore

# Fields a search may not vary, and why: they change the task or how it is
# measured (the trials' losses would no longer compare), or only how fast it runs.
NOT_SEARCHABLE = {
    "data.dataset": "every trial must learn the same task",
    "data.subset": "every trial must learn the same task",
    "data.num_examples": "every trial must learn the same task",
    "data.synthetic_length": "every trial must learn the same task",
    "data.validation_fraction": "the validation split is what the trials are measured on",
    "data.test_fraction": "every trial must learn the same task",
    "data.text_column": "every trial must learn the same task",
    "data.label_column": "every trial must learn the same task",
    "train.epochs": "every trial trains the same epochs (set them with --epochs); the pruner stops the poor ones",
    "train.jit_compile": "it changes only how fast a run trains",
    "train.steps_per_execution": "it changes only how fast a run trains",
    "train.precision": "it changes only how fast a run trains",
    "train.restore_best": "it changes only which weights are tested, not the validation loss searched on",
    "seed": "a search compares settings on one seed",
    "name": "it is a label, not a setting",
}
# Every field a search may vary: numbers over a range, the rest over a list of values.
SEARCHABLE = tuple(path for path in FIELDS if path not in NOT_SEARCHABLE)
# What the Train page offers: the sweepable fields (all numeric), in the sweep order.
PANEL_FIELDS = tuple(path for path in SWEEPABLE if FIELDS[path].low is not None)
MAX_TRIALS = 500
MAX_PARALLEL = 16
# TPE draws its first trials at random; with fewer trials than this it would never model the
# space. A quarter of the trials, from 2 to Optuna's default of 10, leaves most to TPE.
SAMPLER_STARTUP_TRIALS = (2, 10)
# The median pruner acts once this many trials completed, from this epoch on: small, so it
# acts in a classroom search of a few trials and epochs. Never at a run's last epoch (the
# run is done by then, and a full run recorded as pruned would read as cut short).
PRUNER_STARTUP_TRIALS = 2
PRUNE_FROM_EPOCH = 1
PRUNED_AFTER = "pruned_after_epoch"  # the trial's user attribute naming the epoch it was pruned after
RUN_ID = "run_id"  # the trial's user attribute naming its run
STOPPED = "stopped"  # the study's user attribute: no trial is asked after a stop
MODES = ("cli", "queued")
ACTIVE_STATUSES = ("queued", "running")
OBJECTIVE = "best validation loss"


# ------------------------------------------------------------------ space
@dataclass(frozen=True)
class SpaceItem:
    """One setting a search varies: a numeric range (`low`..`high`, maybe log) or a list of `choices`.

    Attributes:
        field: the config path ("model.units").
        low: the smallest value (ranges only), typed as the field.
        high: the largest value (ranges only).
        log: draw on a log scale (ranges only; needs `low` > 0).
        choices: the values to choose from (lists only), typed as the field.
    """

    field: str
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: tuple = ()

    @property
    def kind(self) -> str:
        """"int" or "float" for a range (the field's type), "categorical" for a list."""
        if self.choices:
            return "categorical"
        return "int" if FIELDS[self.field].kind is int else "float"

    def text(self) -> str:
        """The item as `parse_space_item` reads it: "model.units=16:128:log", "train.optimizer=adam,sgd"."""
        if self.choices:
            return f"{self.field}=" + ",".join(_value_text(value) for value in self.choices)
        return f"{self.field}={_value_text(self.low)}:{_value_text(self.high)}" + (":log" if self.log else "")

    def distribution(self):
        """The Optuna distribution trials are drawn from."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices:
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (the search's recorded spec)."""
        if self.choices:
            return {"field": self.field, "choices": list(self.choices)}
        return {"field": self.field, "low": self.low, "high": self.high, "log": self.log}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "SpaceItem":
        """Reads `to_dict()` output back (checked as a typed item would be)."""
        return parse_space_item(cls(field=payload["field"], low=payload.get("low"), high=payload.get("high"),
                                    log=bool(payload.get("log", False)),
                                    choices=tuple(payload.get("choices") or ())).text())


def parse_space_item(text: str) -> SpaceItem:
    """Parses one `FIELD=LOW:HIGH[:log]` (a range) or `FIELD=A,B,C` (a list) into a `SpaceItem`.

    Ranges are for numeric fields: whole numbers for integer fields, and
    within the range the field allows (`seqlab.config.FIELDS`). Lists take
    any searchable field, each value typed and checked as `--set` would.

    Args:
        text: e.g. "model.units=16:128:log", "train.learning_rate=1e-4:1e-2:log",
            "train.optimizer=adam,rmsprop".

    Returns:
        The item.

    Raises:
        ValueError: naming what was received, what is expected and how to fix it.
    """
    text = str(text).strip()
    field, sep, raw = text.partition("=")
    field, raw = field.strip(), raw.strip()
    if not sep or not field or not raw:
        raise ValueError(f"search space: received {text!r}, expected FIELD=LOW:HIGH[:log] or FIELD=A,B,C "
                         f"such as model.units=16:128:log or train.optimizer=adam,rmsprop")
    if field in NOT_SEARCHABLE:
        raise ValueError(f"search space: received field {field!r}, which a search cannot vary: "
                         f"{NOT_SEARCHABLE[field]}; vary one of {', '.join(SEARCHABLE)}")
    if field not in FIELDS:
        raise ValueError(f"search space: received field {field!r}, expected one of {', '.join(SEARCHABLE)}")
    row = FIELDS[field]
    if ":" in raw and "," not in raw:
        return _parse_range(text, field, raw)
    if "," not in raw:
        example = f"{field}=LOW:HIGH[:log]" if row.low is not None else f"{field}=A,B"
        raise ValueError(f"search space {text!r}: received one value, expected a range or at least two "
                         f"comma-separated values (e.g. {example}); to fix a value, use --set {field}={raw}")
    values = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            raise ValueError(f"search space {text!r}: received an empty value, expected A,B,C")
        try:
            value = RunConfig().with_overrides({field: item}).flat()[field]
            row.check(value)
        except ValueError as error:
            raise ValueError(f"search space {text!r}: {error}") from None
        values.append(value)
    if len(set(values)) != len(values):
        raise ValueError(f"search space {text!r}: received a value more than once; give each value once")
    return SpaceItem(field, choices=tuple(values))


def _parse_range(text: str, field: str, raw: str) -> SpaceItem:
    row = FIELDS[field]
    if row.low is None:
        choices = f"one of {', '.join(row.choices)}" if row.choices else "values"
        raise ValueError(f"search space {text!r}: {field} is not a number, so it takes a list of values "
                         f"(comma-separated, {choices}), not a range")
    parts = [part.strip() for part in raw.split(":")]
    log = len(parts) == 3 and parts[2].lower() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise ValueError(f"search space {text!r}: expected {field}=LOW:HIGH or {field}=LOW:HIGH:log")
    kind = "an integer" if row.kind is int else "a number"
    bounds = []
    for part in parts[:2]:
        try:
            value = int(part) if row.kind is int else float(part)
        except ValueError:
            raise ValueError(f"search space {text!r}: received {part!r}, expected {kind} ({field} is "
                             f"{'a whole number' if row.kind is int else 'a number'})") from None
        if row.kind is float and not math.isfinite(value):
            raise ValueError(f"search space {text!r}: received {part!r}, expected a finite number")
        try:
            row.check(value)
        except ValueError as error:
            raise ValueError(f"search space {text!r}: the range must lie within what {field} allows; {error}") from None
        bounds.append(value)
    low, high = bounds
    if not low < high:
        hint = (f"to fix a value, use --set {field}={parts[0]}" if low == high
                else f"swap them: {field}={parts[1]}:{parts[0]}" + (":log" if log else ""))
        raise ValueError(f"search space {text!r}: received LOW {parts[0]} and HIGH {parts[1]}, expected LOW "
                         f"below HIGH; {hint}")
    if log and low <= 0:
        raise ValueError(f"search space {text!r}: a log range needs LOW above 0, received {parts[0]}; "
                         f"drop ':log' or raise LOW")
    return SpaceItem(field, low=low, high=high, log=log)


def parse_space(texts: Iterable[str]) -> list[SpaceItem]:
    """Parses `--space` texts (each `parse_space_item`), each field at most once.

    Raises:
        ValueError: for a bad item, a field given twice, or no item at all.
    """
    space = [parse_space_item(text) for text in texts]
    if not space:
        raise ValueError("search space: received nothing, expected at least one --space FIELD=LOW:HIGH[:log] "
                         "such as model.units=16:128:log")
    fields = [item.field for item in space]
    repeated = sorted({name for name in fields if fields.count(name) > 1})
    if repeated:
        raise ValueError(f"search space: received {', '.join(repeated)} more than once; give each field once")
    return space


def check_space(base: RunConfig, space: Sequence[SpaceItem]) -> None:
    """Refuses a space with a field no architecture of the search uses (model.num_heads for an LSTM).

    The architectures are `base`'s, or the ones `model.arch` is searched over.

    Raises:
        ValueError: naming the field, the architectures and which ones use it.
    """
    archs = next((item.choices for item in space if item.field == "model.arch"), (base.model.arch,))
    for item in space:
        used = FIELDS[item.field].archs
        if not any(arch in used for arch in archs):
            raise ValueError(f"search space {item.text()!r}: {item.field} does not change the "
                             f"{'/'.join(archs)} model (only {', '.join(used)} use it); vary another setting")


def suggested_range(path: str, base: RunConfig | None = None) -> tuple[int | float, int | float, bool]:
    """Returns a starting (low, high, log) for a numeric field: around its value, within its range.

    Integers from a quarter to four times the value, numbers above 0 from a
    tenth to ten times on a log scale, rates starting at 0 from 0 to about
    four times; always within the field's range (the run form's defaults
    for its search panel).

    Args:
        path: a numeric field ("model.units").
        base: the recipe whose value is the centre (None: the default).

    Raises:
        KeyError: for a field without a numeric range.
    """
    row = FIELDS[path]
    if row.low is None:
        raise KeyError(f"{path}: no numeric range; numeric fields: {', '.join(PANEL_FIELDS)}")
    value = (base or RunConfig()).flat()[path]
    if row.kind is int:
        low, high = max(row.low, value // 4, 1), min(row.high, max(value * 4, value + 2))
        low = min(low, high - 1)
        return int(low), int(high), high / max(low, 1) >= 8
    if value > 0 and row.low > 0:
        return max(row.low, value / 10), min(row.high, value * 10), True
    return float(row.low), float(min(row.high, max(value * 4, (row.high - row.low) / 2))), False


# ------------------------------------------------------------------ spec
def search_spec(
    base: RunConfig, space: Sequence[SpaceItem], trials: int, *, mode: str = "cli", parallel: int = 1,
    seed: int | None = None, pruner_startup_trials: int = PRUNER_STARTUP_TRIALS,
    prune_from_epoch: int = PRUNE_FROM_EPOCH,
) -> dict[str, Any]:
    """Validates a search and returns the spec the store records for it (`RunStore.create_search`).

    Args:
        base: the recipe every trial starts from (validated here).
        space: the settings varied (`parse_space`).
        trials: how many trials to ask in all, 1 to `MAX_TRIALS`.
        mode: "cli" (one process trains the trials one after another) or
            "queued" (the workers train them; each trial's end queues the next).
        parallel: trials queued at once ("queued" mode), 1 to `MAX_PARALLEL`.
        seed: the sampler's seed (None: the recipe's seed).
        pruner_startup_trials: completed trials before the median pruner acts.
        prune_from_epoch: the first epoch after which it may prune.

    Returns:
        {"config", "space", "trials", "epochs", "mode", "parallel", "seed",
        "objective", "direction", "sampler", "pruner"} (JSON-able).

    Raises:
        ValueError: for a bad recipe, space, count or mode, each named.
    """
    if not isinstance(base, RunConfig):
        raise ValueError(f"base config: received {type(base).__name__}, expected a RunConfig")
    base.validate()
    space = list(space)
    if not space or not all(isinstance(item, SpaceItem) for item in space):
        raise ValueError("search space: received no settings to vary, expected at least one SpaceItem "
                         "(see parse_space)")
    check_space(base, space)
    _check_count("trials", trials, 1, MAX_TRIALS)
    _check_count("parallel", parallel, 1, MAX_PARALLEL)
    _check_count("pruner_startup_trials", pruner_startup_trials, 0, MAX_TRIALS)
    _check_count("prune_from_epoch", prune_from_epoch, 1, FIELDS["train.epochs"].high)
    if mode not in MODES:
        raise ValueError(f"mode: received {mode!r}, expected one of {', '.join(MODES)}")
    seed = base.seed if seed is None else seed
    FIELDS["seed"].check(seed)
    low, high = SAMPLER_STARTUP_TRIALS
    return {
        "config": base.to_dict(), "space": [item.to_dict() for item in space],
        "trials": trials, "epochs": base.train.epochs, "mode": mode, "parallel": parallel, "seed": seed,
        "objective": OBJECTIVE, "direction": "minimize",
        "sampler": {"name": "tpe", "startup_trials": max(low, min(high, trials // 4))},
        "pruner": {"name": "median", "startup_trials": pruner_startup_trials,
                   "prune_from_epoch": prune_from_epoch},
    }


def space_of(spec: dict[str, Any]) -> list[SpaceItem]:
    """The `SpaceItem`s of a recorded spec."""
    return [SpaceItem.from_dict(item) for item in spec["space"]]


def trial_config(spec: dict[str, Any], params: dict[str, Any]) -> RunConfig:
    """The recipe of a trial: the spec's base config with the trial's parameters, validated.

    Raises:
        ValueError: when the combination is not a valid recipe.
    """
    return RunConfig.from_dict(spec["config"]).with_overrides(dict(params)).validate()


# ------------------------------------------------------------------ study
def create_search(store: RunStore, spec: dict[str, Any]) -> str:
    """Records a search (`search_spec`) in the store and creates its Optuna study in the journal.

    Returns:
        The study id (also the Optuna study's name).
    """
    optuna = _optuna()
    study_id = store.create_search(spec)
    optuna.create_study(storage=_storage(store, study_id), study_name=study_id, direction=spec["direction"],
                        sampler=_sampler(spec, 0), pruner=_pruner(spec))
    return study_id


def load_study(store: RunStore, study_id: str, spec: dict[str, Any] | None = None, *,
               sampler_seed_offset: int = 0):
    """Opens a search's Optuna study with its sampler and pruner.

    Args:
        store: the run store (the search must be visible to its actor).
        study_id: the search.
        spec: its recorded spec (None: read from the store).
        sampler_seed_offset: added to the spec's seed. Every ask opens the
            study afresh (in whichever process asks), so the offset (the
            trials asked so far) keeps two asks from drawing alike.

    Raises:
        RunNotFoundError: when the store has no such search.
        ValueError: when its journal is missing or unreadable.
    """
    optuna = _optuna()
    spec = spec or store.get_search(study_id)["spec"]
    path = store.search_storage_path(study_id)
    if not path.is_file():
        raise ValueError(f"search {study_id}: its Optuna journal {path} is missing; the search's runs are "
                         f"still in the store, but its trials cannot be read or continued")
    try:
        return optuna.load_study(study_name=study_id, storage=_storage(store, study_id),
                                 sampler=_sampler(spec, sampler_seed_offset), pruner=_pruner(spec))
    except KeyError:
        raise ValueError(f"search {study_id}: its Optuna journal {path} holds no study of that name") from None


def ask_trial(store: RunStore, study_id: str, *, status: str = "queued") -> str | None:
    """Asks Optuna for the search's next trial and records its run; None once every trial was asked.

    Under the search's lock, so two processes never ask past `trials`.

    Args:
        store: the run store.
        study_id: the search.
        status: the new run's status: "queued" (a worker trains it) or
            "running" (this process trains it now).

    Returns:
        The new run's id, or None when the search asked all its trials or was stopped.

    Raises:
        ValueError: when the trial's recipe is invalid (the trial is then told FAIL).
    """
    search = store.get_search(study_id)
    with _search_lock(store, study_id):
        return _ask(store, search, status)


def advance_search(store: RunStore, study_id: str) -> list[str]:
    """Brings a queued search up to date: tells Optuna of trials whose run ended unseen, queues more.

    A run can end without `trial_ended` (stopped before it started, its
    worker killed): its trial is told here. Then trials are asked and queued
    until `parallel` are queued or running, or all `trials` were asked.

    Returns:
        The run ids queued now.
    """
    search = store.get_search(study_id)
    spec = search["spec"]
    queued = []
    with _search_lock(store, study_id):
        study = load_study(store, study_id, spec)
        _tell_ended(store, study, study_id)
        active = len(store.list_runs(statuses=list(ACTIVE_STATUSES), study_id=study_id))
        while active < spec["parallel"]:
            run_id = _ask(store, search, "queued")
            if run_id is None:
                break
            queued.append(run_id)
            active += 1
    return queued


def trial_ended(store: RunStore, run_id: str) -> None:
    """Tells Optuna how a trial's run ended; a queued search then queues its next trial.

    `seqlab.training.train_run` calls this when a run with a `study_id`
    ends, whichever process trained it.
    """
    record = store.get_run(run_id)
    if record.study_id is None or record.trial_number is None:
        return
    spec = store.get_search(record.study_id)["spec"]
    study = load_study(store, record.study_id, spec)
    _tell(study, record, store)
    if spec["mode"] == "queued":
        advance_search(store, record.study_id)


def stop_search(store: RunStore, study_id: str) -> int:
    """Stops a search: no trial is asked any more, and its queued and running trials are asked to stop.

    Returns:
        How many runs were asked to stop.

    Raises:
        RunNotFoundError: when the store (its actor) has no such search.
        PermissionDenied: when the actor may not stop its runs.
    """
    search = store.get_search(study_id)
    with _search_lock(store, study_id):
        study = load_study(store, study_id, search["spec"])
        study.set_user_attr(STOPPED, True)
    active = store.list_runs(statuses=list(ACTIVE_STATUSES), study_id=study_id)
    for record in active:
        store.request_stop(record.run_id)
    with _search_lock(store, study_id):
        _tell_ended(store, load_study(store, study_id, search["spec"]), study_id)
    return len(active)


def trial_outcome(store: RunStore, record: RunRecord, pruned_after: int | None = None) -> tuple[str, float | None]:
    """Returns the Optuna state ("COMPLETE", "PRUNED", "FAIL") and value of a finished trial run.

    Args:
        store: the run store.
        record: the trial's run, finished.
        pruned_after: the epoch the pruner stopped it after (the trial's
            `PRUNED_AFTER` attribute), None when it did not.

    Returns:
        COMPLETE with the run's best validation loss; PRUNED (no value:
        Optuna keeps the last one reported); FAIL for every other end, and
        for a completed run without a validation loss.
    """
    if record.status == "stopped" and pruned_after is not None:
        return "PRUNED", None
    if record.status != "completed":
        return "FAIL", None
    value = best_validation_loss(store, record.run_id)
    return ("COMPLETE", value) if value is not None else ("FAIL", None)


def best_validation_loss(store: RunStore, run_id: str) -> float | None:
    """The lowest validation loss of a run's recorded epochs (None: none recorded)."""
    losses = [row["val_loss"] for row in store.epochs(run_id) if row.get("val_loss") is not None]
    return min(losses) if losses else None


# -------------------------------------------------------------- pruning
def TrialPruner(store: RunStore, run_id: str):
    """Returns the Keras callback that reports a trial run's validation loss to Optuna each epoch.

    After each epoch (from the search's `prune_from_epoch`, never the last)
    it asks the median pruner whether the trial is worse than the median of
    the completed trials at that epoch; if so it stops training, notes the
    epoch on the trial (`PRUNED_AFTER`) and sets `message`, which the
    training path records as the run's "stopped" message. Built lazily, so
    importing this module does not import Keras. The reporting itself is a
    `TrialReporter`, which a run trained on Ray has its host do.

    Args:
        store: the run store.
        run_id: a run that is a trial of a search (its `study_id` is set).
    """
    return _make_pruner_class()(trial_reporter(store, run_id))


class TrialReporter:
    """Reports a trial run's epochs to its Optuna trial and says when the pruner stops it (no Keras).

    Attributes:
        pruned_after: the epoch it was pruned after (None: not pruned).
        message: the run's "stopped" message once pruned, else "".
    """

    def __init__(self, study, trial, epochs: int):
        self.study, self.trial, self.epochs = study, trial, int(epochs)
        self.pruned_after: int | None = None
        self.message = ""

    def report(self, epoch: int, value: float | None) -> bool:
        """Reports epoch `epoch`'s (from 1) validation loss; returns True when the trial is pruned now."""
        if self.pruned_after is not None or value is None or not math.isfinite(float(value)):
            return False  # a diverged epoch: the run ends as diverged, told FAIL
        self.trial.report(float(value), epoch)
        if epoch >= self.epochs or not self.trial.should_prune():
            return False
        self.pruned_after = epoch
        self.trial.set_user_attr(PRUNED_AFTER, epoch)
        self.message = pruned_message(self.study, epoch, self.trial)
        return True


def trial_reporter(store: RunStore, run_id: str) -> TrialReporter:
    """Returns the `TrialReporter` of a run that is a trial of a search (its `study_id` is set)."""
    record = store.get_run(run_id)
    spec = store.get_search(record.study_id)["spec"]
    study = load_study(store, record.study_id, spec)
    trial = _trial_object(store, study, record.trial_number)
    return TrialReporter(study, trial, record.config.train.epochs)


def _make_pruner_class():
    import keras

    class _TrialPruner(keras.callbacks.Callback):
        """Reports each epoch's validation loss to the trial; stops the run when the pruner says so."""

        def __init__(self, reporter: TrialReporter):
            super().__init__()
            self.reporter = reporter

        @property
        def message(self) -> str:
            return self.reporter.message

        def on_epoch_end(self, epoch, logs=None):
            if self.reporter.report(epoch + 1, (logs or {}).get("val_loss")):
                self.model.stop_training = True

    return _TrialPruner


def pruned_message(study, epoch: int, trial) -> str:
    """The run's message when pruned: after which epoch, its best loss so far and the median it lost to."""
    frozen = study.get_trials(deepcopy=False)
    ours = next(item for item in frozen if item.number == trial.number)
    best = min(value for step, value in ours.intermediate_values.items() if step <= epoch)
    others = [item.intermediate_values[epoch] for item in frozen
              if item.state.name == "COMPLETE" and epoch in item.intermediate_values]
    median = f", above the completed trials' median of {statistics.median(others):.4f}" if others else ""
    return (f"pruned by the median pruner after epoch {epoch}: best validation loss so far {best:.4f}"
            f"{median}; model and curves so far kept")


# --------------------------------------------------------------- results
TABLE_COLUMNS = ("number", "value", "state", "run_id", "status", "best_so_far")


def search_table(store: RunStore, study_id: str, study=None) -> pd.DataFrame:
    """Returns one row per trial: number, each searched field, value, state, run_id, status, best_so_far.

    `value` is the trial's best validation loss (for a pruned trial, its
    last reported one), `state` Optuna's ("COMPLETE", "PRUNED", "FAIL",
    "RUNNING"), `status` its run's (None once the run was deleted), and
    `best_so_far` the lowest value of the COMPLETE trials up to this one
    (NaN before the first).

    Args:
        store: the run store.
        study_id: the search.
        study: its study, when already open.
    """
    spec = store.get_search(study_id)["spec"]
    study = study or load_study(store, study_id, spec)
    fields = [item["field"] for item in spec["space"]]
    runs = {record.trial_number: record for record in store.list_runs(study_id=study_id)}
    rows = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda item: item.number):
        record = runs.get(trial.number)
        rows.append({"number": trial.number, **{name: trial.params.get(name) for name in fields},
                     "value": trial.value, "state": trial.state.name,
                     "run_id": record.run_id if record else trial.user_attrs.get(RUN_ID),
                     "status": record.status if record else None})
    table = pd.DataFrame(rows, columns=["number", *fields, *TABLE_COLUMNS[1:-1]])
    table["value"] = pd.to_numeric(table["value"], errors="coerce")
    complete = table["value"].where(table["state"] == "COMPLETE")
    table["best_so_far"] = complete.cummin().ffill() if len(table) else pd.Series(dtype=float)
    return table


@dataclass
class SearchSummary:
    """Where a search stands: its trials, the best one, counts and what mattered most.

    Attributes:
        study_id: the search.
        spec: its recorded spec.
        table: `search_table`.
        best: the best COMPLETE trial as `trial_payload` (None before one).
        counts: {"asked", "complete", "pruned", "failed", "active"} trials.
        importances: field -> share of the variation in the objective it
            explains (`optuna.importance.get_param_importances`), largest
            first; empty when it could not be computed.
        importance_note: why there are no importances, in a sentence ("" when there are).
        stopped: whether the search was stopped.
    """

    study_id: str
    spec: dict[str, Any]
    table: pd.DataFrame
    best: dict[str, Any] | None
    counts: dict[str, int]
    importances: dict[str, float] = dataclasses.field(default_factory=dict)
    importance_note: str = ""
    stopped: bool = False

    @property
    def finished(self) -> bool:
        """Every trial was asked and none is queued or running (or the search was stopped and none is)."""
        return self.counts["active"] == 0 and (self.stopped or self.counts["asked"] >= self.spec["trials"])

    def sentence(self) -> str:
        """One sentence on the search's progress and its best trial so far."""
        counts, spec = self.counts, self.spec
        done = counts["complete"] + counts["pruned"] + counts["failed"]
        parts = [f"{done} of {spec['trials']} trials finished"]
        details = [f"{counts[name]} {name}" for name in ("pruned", "failed") if counts[name]]
        if details:
            parts[0] += f" ({', '.join(details)})"
        if counts["active"]:
            parts.append(f"{counts['active']} queued or training")
        if self.stopped:
            parts.append("stopped: no more trials will be asked")
        text = "; ".join(parts)
        if self.best is None:
            return text + "; no trial has completed yet."
        settings = ", ".join(f"{name}={_short_text(value)}" for name, value in self.best["params"].items())
        return (text + f"; best so far: trial {self.best['number']}, {OBJECTIVE} "
                f"{self.best['value']:.4f} ({settings}).")


def study_summary(store: RunStore, study_id: str) -> SearchSummary:
    """Returns a search's trials, best trial, counts and parameter importances.

    Importances need at least two COMPLETE trials and two settings that
    took more than one value among them; otherwise (or when Optuna cannot
    compute them) `importance_note` says why in a sentence.
    """
    spec = store.get_search(study_id)["spec"]
    study = load_study(store, study_id, spec)
    table = search_table(store, study_id, study)
    states = table["state"]
    unfinished = table["status"].isin(ACTIVE_STATUSES)
    counts = {"asked": len(table), "complete": int((states == "COMPLETE").sum()),
              "pruned": int((states == "PRUNED").sum()),
              "failed": int(((states == "FAIL") | ((states == "RUNNING") & ~unfinished)).sum()),
              "active": int(((states == "RUNNING") & unfinished).sum())}
    best = None
    complete = table[states == "COMPLETE"].dropna(subset=["value"])
    if not complete.empty:
        best = _row_payload(complete.loc[complete["value"].idxmin()], spec)
    importances, note = _importances(study, table, spec)
    return SearchSummary(study_id, spec, table, best, counts, importances, note,
                         bool(study.user_attrs.get(STOPPED)))


def search_payload(store: RunStore, study_id: str) -> dict[str, Any]:
    """Returns the JSON of a search (`python -m seqlab search --json`).

    Returns:
        {"study_id", "trials": [{"number", "params", "value", "state",
        "run_id"}, ...] in trial order, "best": the best trial (same keys) or
        None, "objective", "counts"}.
    """
    summary = study_summary(store, study_id)
    return {"study_id": study_id,
            "trials": [_row_payload(row, summary.spec) for _, row in summary.table.iterrows()],
            "best": summary.best, "objective": OBJECTIVE, "counts": summary.counts}


def search_title(search: dict[str, Any]) -> str:
    """A one-line name for a recorded search: "s2026... · lstm on toy · model.units, train.learning_rate · 10 trials"."""
    spec = search["spec"]
    config = spec.get("config", {})
    arch = config.get("model", {}).get("arch", "?")
    dataset = str(config.get("data", {}).get("dataset", "?")).rsplit("/", 1)[-1]
    fields = ", ".join(item["field"] for item in spec.get("space", []))
    return f"{search['study_id']} · {arch} on {dataset} · {fields} · {spec.get('trials')} trials"


# ----------------------------------------------------------------- helpers
def _optuna():
    """Imports Optuna (here, not at the top: only searches need it) with its per-trial log lines off."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _storage(store: RunStore, study_id: str):
    """The search's journal storage: a file the store names, appended to under Optuna's file lock."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(store.search_storage_path(study_id))))


def _sampler(spec: dict[str, Any], seed_offset: int):
    import optuna

    sampler = spec["sampler"]
    # constant_liar: trials still running count as poor, so parallel trials spread out.
    with _quiet_experimental():
        return optuna.samplers.TPESampler(seed=int(spec["seed"]) + int(seed_offset),
                                          n_startup_trials=int(sampler["startup_trials"]),
                                          constant_liar=spec.get("parallel", 1) > 1)


def _pruner(spec: dict[str, Any]):
    import optuna

    pruner = spec["pruner"]
    # Steps are epochs counted from 1, and MedianPruner acts at steps >= n_warmup_steps.
    return optuna.pruners.MedianPruner(n_startup_trials=int(pruner["startup_trials"]),
                                       n_warmup_steps=int(pruner["prune_from_epoch"]))


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@contextlib.contextmanager
def _search_lock(store: RunStore, study_id: str) -> Iterator[None]:
    """Holds an exclusive lock on the search's journal file (across processes).

    A lock of its own: Optuna's journal lock guards each append, while
    counting the trials and asking the next must happen as one step.
    Appending nothing leaves the file as it was.
    """
    with open(store.search_storage_path(study_id), "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ask(store: RunStore, search: dict[str, Any], status: str) -> str | None:
    """Asks and records one trial (the caller holds the search's lock); None when no more may be asked."""
    optuna = _optuna()
    study_id, spec = search["study_id"], search["spec"]
    study = load_study(store, study_id, spec)
    asked = len(study.get_trials(deepcopy=False))
    study.sampler = _sampler(spec, asked)  # see `load_study`: each ask draws from its own seed
    if asked >= spec["trials"] or study.user_attrs.get(STOPPED):
        return None
    trial = study.ask({item.field: item.distribution() for item in space_of(spec)})
    try:
        config = trial_config(spec, trial.params)
        run_id = store.create_run(config, status=status, study_id=study_id, trial_number=trial.number,
                                  workspace=search["workspace"])
    except BaseException:
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        raise
    trial.set_user_attr(RUN_ID, run_id)
    return run_id


def _tell(study, record: RunRecord, store: RunStore) -> None:
    """Tells the trial of a finished run its state and value (once: a told trial is left alone)."""
    optuna = _optuna()
    frozen = next((item for item in study.get_trials(deepcopy=False) if item.number == record.trial_number), None)
    if frozen is None or frozen.state.is_finished():
        return
    state, value = trial_outcome(store, record, frozen.user_attrs.get(PRUNED_AFTER))
    study.tell(record.trial_number, value, state=getattr(optuna.trial.TrialState, state), skip_if_finished=True)


def _tell_ended(store: RunStore, study, study_id: str) -> None:
    """Tells every still-running trial whose run has finished (or vanished) how it ended."""
    optuna = _optuna()
    runs = {record.trial_number: record for record in store.list_runs(study_id=study_id)}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        record = runs.get(trial.number)
        if record is None:  # its run was deleted
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        elif record.status in FINISHED_STATUSES:
            _tell(study, record, store)


def _trial_object(store: RunStore, study, number: int):
    """The live `optuna.Trial` of a trial number (to report to and ask about pruning), in any process.

    Optuna's storage API maps a study name and trial number to the trial's
    id; a `Trial` built on that id reports to and is pruned as the trial
    the asking process (the command line, the app, another worker) created.
    """
    optuna = _optuna()
    storage = _storage(store, study.study_name)
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return optuna.trial.Trial(study, trial_id)


def _importances(study, table: pd.DataFrame, spec: dict[str, Any]) -> tuple[dict[str, float], str]:
    """Parameter importances over the COMPLETE trials, or a sentence saying why there are none."""
    optuna = _optuna()
    complete = table[table["state"] == "COMPLETE"]
    if len(complete) < 2:
        return {}, (f"Which setting mattered most is estimated once two trials have completed "
                    f"({len(complete)} so far).")
    fields = [item["field"] for item in spec["space"]]
    varied = [name for name in fields if complete[name].nunique(dropna=True) > 1]
    if len(varied) < 2:
        if len(fields) == 1:
            return {}, f"Only {fields[0]} is searched, so it accounts for every difference between the trials."
        return {}, ("Which setting mattered most is estimated once two settings took more than one value "
                    f"among the completed trials ({', '.join(varied) or 'none'} so far).")
    try:
        with _quiet_experimental():
            # PED-ANOVA (Optuna's default here): needs no extra package, and works from a few trials.
            found = optuna.importance.get_param_importances(
                study, params=varied, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except (ValueError, RuntimeError, ZeroDivisionError) as error:
        return {}, f"Optuna could not estimate which setting mattered most yet: {error}"
    return dict(sorted(found.items(), key=lambda item: -item[1])), ""


def _row_payload(row: pd.Series, spec: dict[str, Any]) -> dict[str, Any]:
    fields = [item["field"] for item in spec["space"]]
    return {"number": int(row["number"]), "params": {name: _plain(row[name]) for name in fields},
            "value": _plain(row["value"]), "state": row["state"], "run_id": _plain(row["run_id"])}


def _plain(value: Any) -> Any:
    """NumPy scalars as Python values, NaN as None (JSON-able)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # exact: the recorded space reads back as the same distributions
    return str(value)


def _short_text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _value_text(value)


def _check_count(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name}: received {value!r}, expected a whole number from {low} to {high}")
