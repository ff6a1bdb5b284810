"""AppTest tests of the hyperparameter search's pages: Train's Search panel and Compare's Search tab.

Studies are seeded without training: trials are asked from Optuna as a
queued search asks them, and their runs are given made-up epochs and ends
(`finish_trial`), which tell Optuna as the training path would. Queued runs
stay queued (`no_worker`). Every page run is judged by `check_page`.
"""

import pytest

from seqlab import search
from seqlab.config import RunConfig
from seqlab.search import parse_space
from seqlab.search_jobs import start_search
from tests.apptest_support import COMPARE_PAGE, TRAIN_PAGE, check_page, frames_with, open_page, texts_of

SPACE = ["model.embedding_dim=4:16", "train.learning_rate=1e-3:3e-2:log"]
LOSSES = ([0.7, 0.6], [0.5, 0.4], [0.9, 0.8], [0.45, 0.5])


def finish_trial(store, run_id: str, losses: list[float]) -> None:
    """Records a trial run's epochs and its completion, then tells its search (as training does)."""
    for epoch, loss in enumerate(losses, start=1):
        store.add_epoch(run_id, epoch, {"loss": loss, "accuracy": 0.6, "val_loss": loss,
                                        "val_accuracy": 0.6, "seconds": 0.1})
    store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=0.6)
    search.trial_ended(store, run_id)


@pytest.fixture
def study(store):
    """A finished queued search of four trials, the second best (validation loss 0.4)."""
    base = RunConfig().with_overrides({"data.dataset": "toy", "model.arch": "baseline", "train.epochs": 2})
    study_id = start_search(store, base, parse_space(SPACE), len(LOSSES), parallel=1, start_worker=False)
    for losses in LOSSES:
        (active,) = store.list_runs(statuses=["queued"], study_id=study_id)
        finish_trial(store, active.run_id, losses)
    return study_id


def open_compare_search():
    at = open_page(COMPARE_PAGE)
    at.query_params["compare.tab"] = "Search"
    return check_page(at.run())


def test_compare_search_tab_draws_the_best_so_far_importances_and_trials(store, study):
    at = open_compare_search()
    (best,) = frames_with(at, "number", "best_so_far")
    assert sorted(best["best_so_far"].dropna().tolist()) == [0.4, 0.4, 0.4, 0.6]
    (importances,) = frames_with(at, "field", "importance")
    assert set(importances["field"]) == {"model.embedding_dim", "train.learning_rate"}
    table = next(frame.value for frame in at.dataframe if "best_so_far" in frame.value.columns)
    assert len(table) == 4 and list(table["state"]) == ["COMPLETE"] * 4
    assert "best so far: trial 1" in texts_of(at.markdown)


def test_compare_search_tab_says_how_to_start_a_search_when_there_is_none(store):
    run_id = store.create_run(RunConfig(), status="running")
    store.add_epoch(run_id, 1, {"loss": 0.6, "accuracy": 0.6, "val_loss": 0.6, "val_accuracy": 0.6,
                                "seconds": 0.1})
    store.finish_run(run_id, "completed")
    at = open_compare_search()
    assert "No hyperparameter search yet" in texts_of(at.info)


def test_train_search_panel_queues_a_search_from_the_form(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    assert at.selectbox(key="train.search.field.1").value == "model.units"
    at.number_input(key="train.search.trials").set_value(3)
    at = check_page(at.button(key="train.search.start").click().run())
    (found,) = store.list_searches()
    spec = found["spec"]
    assert (spec["trials"], spec["parallel"], spec["mode"]) == (3, 2, "queued")
    assert [item["field"] for item in spec["space"]] == ["model.units", "train.learning_rate"]
    runs = store.list_runs(study_id=found["study_id"])
    assert len(runs) == 2 and {record.status for record in runs} == {"queued"}
    assert all(8 <= record.config.model.units <= 128 for record in runs)
    assert f"Started search {found['study_id']}" in texts_of(at.success)
    assert "0 of 3 trials finished" in " ".join(str(bar.proto.text) for bar in at.get("progress"))


def test_train_search_panel_shows_a_bad_range_and_queues_nothing(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.number_input(key="train.search.low.1.model.units").set_value(64)
    at.number_input(key="train.search.high.1.model.units").set_value(16)
    at = check_page(at.button(key="train.search.start").click().run(), "expected LOW below HIGH")
    assert store.list_searches() == []


def test_train_search_panel_is_off_under_a_classroom_lock(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_CLASSROOM", "1")
    at = check_page(open_page(TRAIN_PAGE).run())
    assert at.button(key="train.search.start").disabled
    assert at.selectbox(key="train.search.field.1").disabled
