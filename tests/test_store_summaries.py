"""RunStore's per-run summaries and revision: written when a run finishes, migrated, read back.

The Compare page reads `summaries_frame` instead of every run's epochs, so a
stored summary must equal what `analysis.tables.curve_summary_table` computes
from the epochs, for every way a run can end; a store written before schema
version 3 must migrate in place and get its summaries on first read.
"""

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from seqlab.analysis.tables import CURVE_SUMMARY_COLUMNS, CURVE_SUMMARY_RULES, curve_summary_table
from seqlab.config import RunConfig
from seqlab.store import FINISHED_STATUSES, MIGRATIONS, SCHEMA_VERSION, RunStore

ROOT = Path(__file__).resolve().parent.parent


def _config(**overrides) -> RunConfig:
    return RunConfig().with_overrides(overrides).validate()


def _overfitting(epoch: int) -> dict:
    """Validation loss lowest at epoch 2, then rising while training loss falls."""
    return {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100, "val_loss": 0.5 + 0.1 * (epoch - 2) ** 2,
            "val_accuracy": 0.7 - 0.01 * abs(epoch - 2), "seconds": 3.0 if epoch == 1 else 0.5}


def _running(store: RunStore, epochs: int = 4) -> str:
    run_id = store.create_run(_config(), status="running")
    for epoch in range(1, epochs + 1):
        store.add_epoch(run_id, epoch, _overfitting(epoch))
    return run_id


def _stored(store: RunStore) -> pd.DataFrame:
    """The summaries table as it is on disk."""
    with sqlite3.connect(store.db_path) as conn:
        return pd.read_sql_query("SELECT * FROM summaries ORDER BY run_id", conn)


def _recomputed(store: RunStore, run_ids: list[str]) -> pd.DataFrame:
    """What the analysis computes from the runs' epochs now, in `summaries_frame`'s order."""
    runs = store.runs_frame(run_ids)[["run_id", "best_epoch"]].astype({"best_epoch": "float64"})
    table = curve_summary_table(store.epochs_frame(run_ids), runs)
    return table.sort_values("run_id", ignore_index=True)


def _assert_same(read: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(read.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)


# -------------------------------------------------------- written on finish
@pytest.mark.parametrize("status", sorted(FINISHED_STATUSES))
def test_finishing_a_run_stores_its_summary(store, status):
    run_id = _running(store)
    assert _stored(store).empty  # a running run has none on disk
    store.finish_run(run_id, status, best_epoch=2)
    [row] = _stored(store).to_dict("records")
    assert row["run_id"] == run_id and row["rules"] == CURVE_SUMMARY_RULES
    assert (row["epochs_run"], row["curve_best_epoch"], row["overfit_epoch"]) == (4, 2, 2)
    assert row["curve_seconds_per_epoch"] == 0.5 and row["curve_compile_seconds"] == 2.5
    _assert_same(store.summaries_frame(), _recomputed(store, [run_id]))


def test_a_run_marked_interrupted_stores_its_summary(store):
    run_id = _running(store, epochs=3)
    store.mark_interrupted(run_id, "worker process 1234 died")
    assert _stored(store)["epochs_run"].tolist() == [3]


def test_a_reaped_run_stores_its_summary(store):
    dead, alive = store.create_run(_config()), store.create_run(_config())
    store.start_run(dead, 4242)
    store.start_run(alive, 4343)
    for epoch in (1, 2):
        store.add_epoch(dead, epoch, _overfitting(epoch))
    assert store.reap_dead_runs(is_alive=lambda pid: pid == 4343) == [dead]
    assert _stored(store)[["run_id", "epochs_run"]].values.tolist() == [[dead, 2]]


def test_a_queued_run_stopped_before_it_started_stores_an_empty_summary(store):
    run_id = store.create_run(_config())
    store.request_stop(run_id)
    [row] = _stored(store).to_dict("records")
    assert row["epochs_run"] == 0 and pd.isna(row["best_val_accuracy"])


def test_a_run_recorded_finished_gets_a_summary_at_once(store):
    store.create_run(_config(), status="completed")
    assert _stored(store)["epochs_run"].tolist() == [0]


def test_running_runs_are_summarized_from_their_epochs_so_far(store):
    run_id = _running(store, epochs=2)
    _assert_same(store.summaries_frame(), _recomputed(store, [run_id]))
    store.add_epoch(run_id, 3, _overfitting(3))
    assert store.summaries_frame()["epochs_run"].tolist() == [3]
    assert _stored(store).empty


def test_an_epoch_added_to_a_finished_run_renews_its_summary(store):
    run_id = _running(store, epochs=2)
    store.finish_run(run_id, "completed")
    store.add_epoch(run_id, 3, _overfitting(3))
    assert _stored(store)["epochs_run"].tolist() == [3]
    _assert_same(store.summaries_frame(), _recomputed(store, [run_id]))


def test_deleting_a_run_deletes_its_summary(store):
    kept, deleted = _running(store), _running(store)
    for run_id in (kept, deleted):
        store.finish_run(run_id, "completed")
    store.delete_run(deleted)
    assert _stored(store)["run_id"].tolist() == [kept]
    assert store.summaries_frame()["run_id"].tolist() == [kept]


def test_the_summaries_table_holds_what_the_analysis_computes():
    conn = sqlite3.connect(":memory:")
    for migration in MIGRATIONS:
        migration(conn)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(summaries)")]
    assert columns == ["run_id", "rules", *CURVE_SUMMARY_COLUMNS]


# ---------------------------------------------------------------- migration
def _version_2_store(home: Path) -> Path:
    """A runs.db as seqlab wrote it at schema version 2: a finished run, a running one, a failed one."""
    home.mkdir(parents=True)
    db_path = home / "runs.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    MIGRATIONS[0](conn)
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 2")
    config = json.dumps(RunConfig().to_dict())
    for run_id, status, epochs, best in (("r-done", "completed", 4, 2), ("r-live", "running", 2, None),
                                         ("r-failed", "failed", 0, None)):
        conn.execute("INSERT INTO runs (run_id, status, config, created_at, best_epoch) VALUES (?, ?, ?, 1.0, ?)",
                     (run_id, status, config, best))
        for epoch in range(1, epochs + 1):
            metrics = _overfitting(epoch)
            conn.execute("INSERT INTO epochs (run_id, epoch, loss, accuracy, val_loss, val_accuracy, seconds)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (run_id, epoch, *(metrics[name] for name in
                                           ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"))))
    conn.close()
    return db_path


def test_opening_a_version_2_store_migrates_it_in_place(tmp_path):
    db_path = _version_2_store(tmp_path / "old")
    store = RunStore(tmp_path / "old")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT COUNT(*) FROM summaries").fetchone()[0] == 0  # left to the first read
    assert sorted(store.runs_frame()["run_id"]) == ["r-done", "r-failed", "r-live"]
    assert [e["epoch"] for e in store.epochs("r-done")] == [1, 2, 3, 4]


def test_a_migrated_stores_finished_runs_get_their_summaries_on_first_read(tmp_path):
    _version_2_store(tmp_path / "old")
    store = RunStore(tmp_path / "old")
    read = store.summaries_frame()
    _assert_same(read, _recomputed(store, ["r-done", "r-failed", "r-live"]))
    stored = _stored(store)
    assert stored["run_id"].tolist() == ["r-done", "r-failed"]  # the running run's may still change
    assert stored["epochs_run"].tolist() == [4, 0]
    _assert_same(store.summaries_frame(), read)  # the second read comes from the table


def test_summaries_computed_under_other_rules_are_computed_again(store):
    run_id = _running(store)
    store.finish_run(run_id, "completed")
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE summaries SET rules = rules - 1, best_val_accuracy = 0.0")
    _assert_same(store.summaries_frame(), _recomputed(store, [run_id]))
    assert _stored(store)["rules"].tolist() == [CURVE_SUMMARY_RULES]


# ------------------------------------------------------------------ imports
def test_import_runs_records_runs_epochs_and_summaries_in_one_go(store):
    group = store.new_group_id()
    run_ids = store.import_runs([
        {"config": _config(seed=seed), "status": status, "group_id": group, "num_params": 10,
         "epochs": [_overfitting(epoch) for epoch in range(1, 5)], "test_accuracy": 0.7, "best_epoch": 2}
        for seed, status in enumerate(("completed", "stopped", "diverged"))])
    assert len(set(run_ids)) == 3
    records = {record.run_id: record for record in store.list_runs(group_id=group)}
    assert {records[run_id].status for run_id in run_ids} == {"completed", "stopped", "diverged"}
    assert records[run_ids[0]].test_accuracy == 0.7 and records[run_ids[0]].best_epoch == 2
    assert store.epochs(run_ids[1]) == [{"epoch": epoch, **_overfitting(epoch)} for epoch in range(1, 5)]
    _assert_same(store.summaries_frame(), _recomputed(store, sorted(run_ids)))


@pytest.mark.parametrize("bad, fragment", [
    ({"status": "running"}, "status"), ({"config": {"model": {}}}, "RunConfig"),
    ({"test_accuracy": "high"}, "test_accuracy"), ({"colour": "red"}, "unknown key"),
])
def test_import_runs_records_nothing_when_one_run_is_wrong(store, bad, fragment):
    good = {"config": _config(), "status": "completed", "epochs": [_overfitting(1)]}
    with pytest.raises(ValueError, match=fragment):
        store.import_runs([good, {**good, **bad}])
    assert store.list_runs() == []


# ----------------------------------------------------------------- revision
def test_the_revision_moves_with_runs_and_epochs_but_not_with_live_progress(store):
    start = store.revision()
    run_id = store.create_run(_config())
    created = store.revision()
    assert created != start
    store.start_run(run_id, 1234)
    store.set_progress(run_id, batch=3)
    store.worker_heartbeat(1234)
    started = store.revision()
    store.set_progress(run_id, batch=4)
    assert store.revision() == started
    store.add_epoch(run_id, 1, _overfitting(1))
    assert store.revision() != started
    epoch = store.revision()
    store.finish_run(run_id, "completed")
    assert store.revision() != epoch


def test_a_new_store_does_not_start_at_another_stores_revision(tmp_path):
    assert RunStore(tmp_path / "a").revision() != RunStore(tmp_path / "b").revision()
