"""Hyperparameter search (seqlab.search, seqlab.search_jobs, `python -m seqlab search`).

The space's parsing and every refusal; a real 3-trial search on the toy set
from the command line; a trial the median pruner stops; a queued search that
advances inside a worker; stopping and resuming. Trials train for real
(tiny baseline models, 2 epochs, a few seconds each); the study is Optuna's
own, in the journal file the store names.
"""

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from seqlab import search
from seqlab.cli import main
from seqlab.config import RunConfig
from seqlab.jobs import run_worker
from seqlab.search import SpaceItem, parse_space, parse_space_item
from seqlab.search_jobs import resume_search, run_trials, start_search

# A tiny baseline on short toy texts: about a second a trial once TensorFlow is loaded.
TINY = {"data.dataset": "toy", "model.arch": "baseline", "model.embedding_dim": 8,
        "data.sequence_length": 12, "train.jit_compile": "off", "train.epochs": 2}
TINY_FLAGS = ["--dataset", "toy", "--arch", "baseline", "--epochs", "2", "--set", "model.embedding_dim=8",
              "--set", "data.sequence_length=12", "--set", "train.jit_compile=off"]
SPACE = ["model.embedding_dim=4:16", "train.learning_rate=1e-3:3e-2:log"]
ROOT = Path(__file__).resolve().parent.parent


def tiny_base(**overrides) -> RunConfig:
    return RunConfig().with_overrides({**TINY, **overrides}).validate()


# ------------------------------------------------------------------ space
def test_ranges_are_typed_by_their_field_and_lists_by_the_config():
    units, rate, optimizer, mask = parse_space(
        ["model.units=16:128:log", "train.learning_rate=1e-4:1e-2:log", "train.optimizer=adam,rmsprop",
         "model.use_mask=true,false"])
    assert (units.kind, units.low, units.high, units.log) == ("int", 16, 128, True)
    assert isinstance(units.low, int)
    assert (rate.kind, rate.low, rate.high, rate.log) == ("float", 1e-4, 1e-2, True)
    assert (optimizer.kind, optimizer.choices) == ("categorical", ("adam", "rmsprop"))
    assert mask.choices == (True, False)


def test_a_space_item_reads_back_exactly_from_its_record():
    item = parse_space_item("train.learning_rate=0.000123456789:0.01:log")
    assert SpaceItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    assert parse_space_item(item.text()) == item


@pytest.mark.parametrize("text, fragment", [
    ("model.units=0:128", "model.units: received 0, expected an integer from 1 to 4096"),
    ("model.units=8:5000", "received 5000, expected an integer from 1 to 4096"),
    ("model.units=8:64.5", "received '64.5', expected an integer"),
    ("train.learning_rate=0:0.1:log", "expected a number from 1e-06 to 10.0"),
    ("model.dropout_rate=0:0.5:log", "a log range needs LOW above 0"),
    ("model.units=64:16", "expected LOW below HIGH; swap them: model.units=16:64"),
    ("model.units=16", "to fix a value, use --set model.units=16"),
    ("model.units=16:64:linear", "expected model.units=LOW:HIGH or model.units=LOW:HIGH:log"),
    ("train.epochs=1:5", "every trial trains the same epochs"),
    ("seed=0,1", "a search compares settings on one seed"),
    ("model.unit=8:16", "received field 'model.unit', expected one of"),
    ("train.optimizer=adam,nesterov", "train.optimizer: received 'nesterov', expected one of adam"),
    ("train.optimizer=adam:sgd", "not a number, so it takes a list of values"),
    ("model.units=16,16", "a value more than once"),
    ("model.units", "expected FIELD=LOW:HIGH[:log] or FIELD=A,B,C"),
])
def test_bad_space_items_are_refused_saying_what_was_received_and_expected(text, fragment):
    with pytest.raises(ValueError, match="search space") as error:
        parse_space_item(text)
    assert fragment in str(error.value)


def test_a_field_given_twice_or_no_field_is_refused():
    with pytest.raises(ValueError, match="model.units more than once"):
        parse_space(["model.units=8:16", "model.units=32,64"])
    with pytest.raises(ValueError, match="at least one --space"):
        parse_space([])


def test_a_field_the_architecture_does_not_use_is_refused():
    with pytest.raises(ValueError, match="model.num_heads does not change the lstm model"):
        search.check_space(RunConfig(), parse_space(["model.num_heads=1:4"]))
    # Searched together with the architecture, it counts when one of them uses it.
    search.check_space(RunConfig(), parse_space(["model.arch=lstm,transformer", "model.num_heads=1:4"]))


def test_suggested_ranges_lie_within_each_fields_range():
    for path in search.PANEL_FIELDS:
        low, high, _ = search.suggested_range(path)
        parse_space_item(f"{path}={low!r}:{high!r}")  # would refuse a range the field does not allow
    assert search.suggested_range("train.learning_rate") == (0.0001, 0.01, True)


def test_bad_counts_are_refused_before_anything_is_recorded(store):
    space = parse_space(SPACE)
    for kwargs, fragment in (({"trials": 0}, "trials: received 0"), ({"trials": 3, "parallel": 0}, "parallel"),
                             ({"trials": 3, "mode": "later"}, "mode: received 'later'")):
        with pytest.raises(ValueError, match=fragment):
            search.search_spec(tiny_base(), space, **kwargs)
    with pytest.raises(ValueError, match="model.units: received 0"):
        search.search_spec(RunConfig().with_overrides({"model.units": 0}), space, 3)
    assert store.list_searches() == []


def test_plain_training_imports_no_optuna():
    code = ("import sys, seqlab.training, seqlab.jobs, seqlab.search, seqlab.cli\n"
            "print('optuna' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr[-2000:]


# ------------------------------------------------------------ a real search
def test_cli_search_trains_its_trials_and_reports_the_best(capsys, store):
    code = main(["search", *TINY_FLAGS, "--space", SPACE[0], "--space", SPACE[1], "--trials", "3", "--json"])
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert [trial["number"] for trial in payload["trials"]] == [0, 1, 2]
    for trial in payload["trials"]:
        assert set(trial) == {"number", "params", "value", "state", "run_id"}
        record = store.get_run(trial["run_id"])
        assert (record.study_id, record.trial_number) == (payload["study_id"], trial["number"])
        assert record.status in ("completed", "stopped")  # a trial may be pruned
        assert record.config.flat()["model.embedding_dim"] == trial["params"]["model.embedding_dim"]
        assert record.config.train.learning_rate == trial["params"]["train.learning_rate"]
        assert 4 <= trial["params"]["model.embedding_dim"] <= 16
    complete = [trial for trial in payload["trials"] if trial["state"] == "COMPLETE"]
    assert complete and payload["best"] == min(complete, key=lambda trial: trial["value"])
    best_run = payload["best"]["run_id"]
    assert payload["best"]["value"] == min(row["val_loss"] for row in store.epochs(best_run))
    recorded = store.get_search(payload["study_id"])
    assert recorded["spec"]["trials"] == 3 and recorded["spec"]["mode"] == "cli"
    assert store.search_storage_path(payload["study_id"]).stat().st_size > 0


def test_cli_search_with_a_bad_space_exits_2_with_one_line(capsys):
    code = main(["search", *TINY_FLAGS, "--space", "model.units=0:128"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "model.units: received 0, expected an integer from 1 to 4096" in err[0]


def test_a_trial_worse_than_the_median_is_pruned_and_ends_stopped(store):
    spec = search.search_spec(tiny_base(), parse_space(SPACE), 2, pruner_startup_trials=1, prune_from_epoch=1)
    study_id = search.create_search(store, spec)
    # A completed trial whose loss was 0 at every epoch: any real trial is worse than that median.
    study = search.load_study(store, study_id)
    study.add_trial(optuna.trial.create_trial(
        params={"model.embedding_dim": 8, "train.learning_rate": 0.01},
        distributions={item.field: item.distribution() for item in search.space_of(spec)},
        value=0.0, intermediate_values={1: 0.0, 2: 0.0}))
    (record,) = run_trials(store, study_id)
    assert record.status == "stopped"
    assert record.message.startswith("pruned by the median pruner after epoch 1")
    assert len(store.epochs(record.run_id)) == 1 and store.has_model(record.run_id)
    table = search.search_table(store, study_id)
    assert table.set_index("number").loc[record.trial_number, "state"] == "PRUNED"
    assert search.study_summary(store, study_id).best["number"] == 0  # the made-up trial


def test_a_queued_search_advances_inside_the_worker(store):
    study_id = start_search(store, tiny_base(), parse_space(SPACE), 2, parallel=1, start_worker=False)
    (first,) = store.list_runs(study_id=study_id)
    assert first.status == "queued" and first.trial_number == 0
    assert run_worker(store, idle_timeout=1, poll_seconds=0.1) == 2  # the first's end queued the second
    runs = sorted(store.list_runs(study_id=study_id), key=lambda record: record.trial_number)
    assert [record.trial_number for record in runs] == [0, 1]
    assert all(record.status in ("completed", "stopped") for record in runs)
    summary = search.study_summary(store, study_id)
    assert summary.finished and summary.counts["active"] == 0
    assert set(summary.table["state"]) <= {"COMPLETE", "PRUNED"}


# ------------------------------------------------- without training
def finish_trial(store, run_id: str, losses: list[float], status: str = "completed") -> None:
    """Records a trial run's epochs and end as training would, then tells its search."""
    for epoch, loss in enumerate(losses, start=1):
        store.add_epoch(run_id, epoch, {"loss": loss, "accuracy": 0.5, "val_loss": loss, "val_accuracy": 0.5,
                                        "seconds": 0.1})
    store.finish_run(run_id, status)
    search.trial_ended(store, run_id)


def test_a_stopped_search_asks_no_more_trials(store):
    study_id = start_search(store, tiny_base(), parse_space(SPACE), 3, parallel=1, start_worker=False)
    assert search.stop_search(store, study_id) == 1
    (only,) = store.list_runs(study_id=study_id)
    assert only.status == "stopped"
    assert search.advance_search(store, study_id) == []
    summary = search.study_summary(store, study_id)
    assert summary.stopped and summary.finished
    assert list(summary.table["state"]) == ["FAIL"]  # stopped before it started: nothing learned


def test_resume_tells_an_interrupted_trial_and_queues_the_next(store):
    study_id = start_search(store, tiny_base(), parse_space(SPACE), 3, parallel=1, start_worker=False)
    (first,) = store.list_runs(study_id=study_id)
    store.mark_interrupted(first.run_id, "worker process 1 died")  # no end hook ran
    queued = resume_search(store, study_id, start_worker=False)
    assert len(queued) == 1 and store.get_run(queued[0]).trial_number == 1
    assert list(search.search_table(store, study_id)["state"]) == ["FAIL", "RUNNING"]


def test_summary_keeps_the_best_so_far_and_says_which_setting_mattered(store):
    study_id = start_search(store, tiny_base(), parse_space(SPACE), 4, parallel=1, start_worker=False)
    for losses in ([0.7, 0.6], [0.5, 0.4], [0.9, 0.8], [0.45, 0.5]):
        (active,) = store.list_runs(statuses=["queued"], study_id=study_id)
        finish_trial(store, active.run_id, losses)
    summary = search.study_summary(store, study_id)
    assert list(summary.table["value"]) == [0.6, 0.4, 0.8, 0.45]
    assert list(summary.table["best_so_far"]) == [0.6, 0.4, 0.4, 0.4]
    assert summary.best["number"] == 1 and summary.best["value"] == 0.4 and summary.finished
    assert set(summary.importances) == {"model.embedding_dim", "train.learning_rate"}
    assert sum(summary.importances.values()) == pytest.approx(1.0)
    assert "4 of 4 trials finished" in summary.sentence() and "best so far: trial 1" in summary.sentence()


def test_importances_wait_for_two_completed_trials(store):
    study_id = start_search(store, tiny_base(), parse_space(SPACE), 2, parallel=1, start_worker=False)
    (active,) = store.list_runs(statuses=["queued"], study_id=study_id)
    finish_trial(store, active.run_id, [0.5])
    summary = search.study_summary(store, study_id)
    assert summary.importances == {}
    assert "once two trials have completed (1 so far)" in summary.importance_note
