"""RunStore: records, epochs, frames, transactions, concurrency and dead-run reaping."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from seqlab.config import RunConfig
from seqlab.store import (
    FINISHED_STATUSES, MIGRATIONS, SCHEMA_VERSION, STATUSES, DamagedStoreError, RunStore, default_home,
)

ROOT = Path(__file__).resolve().parent.parent


def _config(**overrides) -> RunConfig:
    return RunConfig().with_overrides(overrides).validate()


def _metrics(epoch: int) -> dict:
    return {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100, "val_loss": 1.5 / epoch,
            "val_accuracy": 0.4 + epoch / 100, "seconds": 0.1 * epoch}


def _subprocess_env(home: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["SEQLAB_HOME"] = str(home)
    return env


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _set_column(store: RunStore, run_id: str, column: str, value) -> None:
    with sqlite3.connect(store.db_path) as conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, run_id))


# -------------------------------------------------------------- records
def test_default_home_is_seqlab_home_for_the_entry_points(seqlab_home, monkeypatch):
    store = RunStore(default_home())
    assert store.home == seqlab_home.resolve()
    assert store.db_path.exists()
    monkeypatch.setenv("SEQLAB_HOME", "")
    assert default_home() == Path("~/.seqlab").expanduser()


def test_the_store_lives_where_it_is_told_whatever_seqlab_home_says(tmp_path, seqlab_home):
    store = RunStore(tmp_path / "given")
    assert store.home == (tmp_path / "given").resolve() and store.db_path.exists()
    assert store.cache_dir("vectorized") == store.home / "cache" / "vectorized"
    assert not seqlab_home.exists()


def test_create_and_get_round_trip(store):
    config = _config(**{"model.arch": "gru", "model.units": 8, "train.epochs": 3, "seed": 7})
    run_id = store.create_run(config, group_id="g1", num_params=123)
    record = store.get_run(run_id)
    assert record.run_id == run_id
    assert record.status == "queued"
    assert record.config == config
    assert (record.group_id, record.num_params) == ("g1", 123)
    assert record.label == config.label() and record.arch == "gru"
    assert not record.finished and record.started_at is None
    assert record.progress["epochs"] == 3
    assert {"python", "numpy", "pandas", "keras"} <= set(record.versions)


def test_run_ids_are_unique_and_sort_by_creation(store):
    run_ids = [store.create_run(_config()) for _ in range(30)]
    assert len(set(run_ids)) == 30
    assert sorted(run_ids, key=lambda run_id: run_id[:16]) == run_ids


def test_creating_runs_does_not_import_tensorflow(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from seqlab.config import RunConfig
        from seqlab.store import RunStore
        from seqlab import jobs
        store = RunStore({str(tmp_path / "home")!r})
        store.create_run(RunConfig())
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "imported"
        assert "streamlit" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env=_subprocess_env(tmp_path))


def test_list_runs_newest_first_with_filters(store):
    first = store.create_run(_config(), group_id="g")
    second = store.create_run(_config(), group_id="g")
    third = store.create_run(_config())
    store.finish_run(second, "completed")
    assert [r.run_id for r in store.list_runs()] == [third, second, first]
    assert [r.run_id for r in store.list_runs(statuses=["queued"])] == [third, first]
    assert [r.run_id for r in store.list_runs(group_id="g")] == [second, first]
    assert [r.run_id for r in store.list_runs(limit=1)] == [third]


def test_unknown_run_id_says_how_to_list_runs(store):
    with pytest.raises(KeyError) as caught:
        store.get_run("r-missing")
    text = str(caught.value)
    assert "r-missing" in text and str(store.db_path) in text
    assert "python -m seqlab runs" in text


@pytest.mark.parametrize("call", [
    lambda store, run_id: store.create_run(RunConfig(), status="done"),
    lambda store, run_id: store.finish_run(run_id, "running"),
    lambda store, run_id: store.list_runs(statuses=["finished"]),
])
def test_bad_status_names_the_allowed_ones(store, call):
    run_id = store.create_run(_config())
    with pytest.raises(ValueError, match="expected one of .*completed"):
        call(store, run_id)
    assert store.get_run(run_id).status == "queued"


def test_statuses_constants_agree():
    assert FINISHED_STATUSES < set(STATUSES)
    assert {"queued", "running"} == set(STATUSES) - FINISHED_STATUSES


def test_set_progress_merges_and_refreshes_heartbeat(store):
    run_id = store.create_run(_config(**{"train.epochs": 4}))
    store.start_run(run_id, os.getpid())
    _set_column(store, run_id, "heartbeat_at", 1.0)
    store.set_progress(run_id, phase="training", epoch=1, batch=3, batches=10)
    store.set_progress(run_id, batch=7)
    record = store.get_run(run_id)
    assert record.progress == {"epoch": 1, "epochs": 4, "phase": "training",
                               "batch": 7, "batches": 10}
    assert record.heartbeat_at > 1.0


def test_start_run_refuses_finished_run(store):
    run_id = store.create_run(_config())
    store.finish_run(run_id, "stopped")
    with pytest.raises(ValueError, match="stopped"):
        store.start_run(run_id, os.getpid())


def test_finish_run_records_results(store):
    run_id = store.create_run(_config())
    store.start_run(run_id, os.getpid())
    store.finish_run(run_id, "completed", message="done", test_loss=0.25, test_accuracy=0.875)
    record = store.get_run(run_id)
    assert record.finished and record.status == "completed"
    assert (record.test_loss, record.test_accuracy, record.message) == (0.25, 0.875, "done")
    assert record.finished_at >= record.started_at


# --------------------------------------------------------------- epochs
def test_epochs_ordered_replaced_and_extra_metrics_kept(store):
    run_id = store.create_run(_config())
    store.add_epoch(run_id, 2, _metrics(2))
    store.add_epoch(run_id, 1, {**_metrics(1), "fraction": 0.5})
    store.add_epoch(run_id, 1, {**_metrics(1), "loss": 0.75, "val_loss": None})
    epochs = store.epochs(run_id)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[0]["loss"] == 0.75 and epochs[0]["val_loss"] is None
    assert "fraction" not in epochs[0]
    assert epochs[1] == {"epoch": 2, **_metrics(2)}

    store.add_epoch(run_id, 3, {**_metrics(3), "learning_rate": 0.01})
    assert store.epochs(run_id)[2]["learning_rate"] == 0.01


def test_add_epoch_rejects_bad_input(store):
    run_id = store.create_run(_config())
    with pytest.raises(ValueError, match="epoch: received 0"):
        store.add_epoch(run_id, 0, _metrics(1))
    with pytest.raises(ValueError, match="metric loss: received 'low'"):
        store.add_epoch(run_id, 1, {"loss": "low"})
    with pytest.raises(KeyError, match="r-missing"):
        store.add_epoch("r-missing", 1, _metrics(1))
    assert store.epochs(run_id) == [] and store.epochs("r-missing") == []


def test_epochs_frame_one_row_per_run_epoch(store):
    first, second, third = (store.create_run(_config()) for _ in range(3))
    for run_id, count in ((first, 2), (second, 3), (third, 1)):
        for epoch in range(1, count + 1):
            store.add_epoch(run_id, epoch, _metrics(epoch))
    frame = store.epochs_frame()
    assert list(frame.columns[:7]) == ["run_id", "epoch", "loss", "accuracy", "val_loss",
                                       "val_accuracy", "seconds"]
    assert len(frame) == 6
    assert frame.groupby("run_id")["epoch"].max().to_dict() == {first: 2, second: 3, third: 1}
    chosen = store.epochs_frame([first, third])
    assert set(chosen["run_id"]) == {first, third} and len(chosen) == 3


def test_empty_frames_keep_their_columns(store):
    assert list(store.epochs_frame().columns) == ["run_id", "epoch", "loss", "accuracy",
                                                  "val_loss", "val_accuracy", "seconds"]
    columns = list(store.runs_frame().columns)
    assert columns[:3] == ["run_id", "label", "arch"] and "model.units" in columns
    assert columns[-len(RunConfig().flat()):] == list(RunConfig().flat())  # every config field


def test_runs_frame_flattens_config(store):
    transformer = store.create_run(_config(**{"model.arch": "transformer", "model.num_heads": 4,
                                              "data.sequence_length": 12}), num_params=99)
    lstm = store.create_run(_config(**{"model.units": 8, "name": "small"}))
    store.finish_run(lstm, "completed", test_accuracy=0.9)
    frame = store.runs_frame().set_index("run_id")
    for column in ("label", "arch", "status", "group_id", "created_at", "started_at",
                   "finished_at", "num_params", "test_loss", "test_accuracy", "message",
                   "dataset", "model.units", "data.sequence_length", "train.epochs", "seed"):
        assert column in frame.columns, column
    assert frame.loc[transformer, "model.num_heads"] == 4
    assert frame.loc[transformer, "data.sequence_length"] == 12
    assert frame.loc[transformer, "num_params"] == 99
    assert frame.loc[lstm, "label"] == "small" and frame.loc[lstm, "status"] == "completed"
    assert frame.loc[lstm, "test_accuracy"] == 0.9
    assert list(store.runs_frame([lstm])["run_id"]) == [lstm]


def test_unreadable_stored_config_keeps_run_listable(store):
    run_id = store.create_run(_config())
    _set_column(store, run_id, "config", '{"model": {"flux_capacitor": 3}}')
    (record,) = store.list_runs()
    assert record.config == RunConfig()
    assert "flux_capacitor" in record.message and "defaults" in record.message
    assert store.runs_frame()["run_id"].tolist() == [run_id]


# ---------------------------------------------------------- transactions
def test_failed_write_rolls_back_whole(store):
    run_id = store.create_run(_config())
    store.add_epoch(run_id, 1, _metrics(1))
    with sqlite3.connect(store.db_path) as conn:
        # delete_run removes the epochs first, then the run row: make the second step fail.
        conn.execute("CREATE TRIGGER refuse BEFORE DELETE ON runs "
                     "BEGIN SELECT RAISE(ABORT, 'refused by test'); END")
    with pytest.raises(sqlite3.DatabaseError, match="refused by test"):
        store.delete_run(run_id)
    assert [e["epoch"] for e in store.epochs(run_id)] == [1]
    assert store.get_run(run_id).status == "queued"


def test_schema_is_versioned_and_wal(store):
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    RunStore(store.home)  # reopening an up-to-date store migrates nothing
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused_with_a_clear_message(store):
    with sqlite3.connect(store.db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ValueError, match="newer seqlab.*SEQLAB_HOME"):
        RunStore(store.home)


def _version_1_store(home: Path) -> Path:
    """A runs.db as seqlab wrote it before schema version 2: two finished runs, three epochs each.

    Run "r-overfit" had its lowest validation loss at epoch 2, "r-improving" at its last.
    """
    home.mkdir(parents=True)
    db_path = home / "runs.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    config = RunConfig().to_dict()
    del config["train"]["restore_best"]  # fields an old seqlab did not have
    for run_id, val_losses in (("r-overfit", (0.6, 0.5, 0.7)), ("r-improving", (0.6, 0.5, 0.4))):
        conn.execute(
            "INSERT INTO runs (run_id, status, config, created_at, finished_at, test_loss, test_accuracy)"
            " VALUES (?, 'completed', ?, 1.0, 2.0, 0.5, 0.8)", (run_id, json.dumps(config)))
        for epoch, val_loss in enumerate(val_losses, start=1):
            conn.execute("INSERT INTO epochs (run_id, epoch, loss, val_loss, val_accuracy, seconds)"
                         " VALUES (?, ?, 0.5, ?, 0.7, ?)", (run_id, epoch, val_loss, 6.0 if epoch == 1 else 0.5))
    conn.close()
    return db_path


def test_opening_a_version_1_store_migrates_it_in_place(tmp_path):
    db_path = _version_1_store(tmp_path / "old")
    store = RunStore(tmp_path / "old")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    assert {"best_epoch", "test_accuracy_last", "compile_seconds", "seconds_per_epoch",
            "majority_fraction"} <= columns
    assert [r.run_id for r in store.list_runs()] == ["r-improving", "r-overfit"]  # both kept


def test_migrated_runs_say_their_test_accuracy_was_the_last_epochs(tmp_path):
    _version_1_store(tmp_path / "old")
    store = RunStore(tmp_path / "old")
    overfit, improving = store.get_run("r-overfit"), store.get_run("r-improving")
    # Measured with the last epoch's weights: kept as that; it is the headline only
    # where the last epoch was the best one.
    assert (overfit.best_epoch, overfit.test_accuracy_last, overfit.test_accuracy) == (2, 0.8, None)
    assert (improving.best_epoch, improving.test_accuracy_last, improving.test_accuracy) == (3, 0.8, 0.8)
    assert overfit.config.train.restore_best is False  # they kept their last weights
    assert overfit.seconds_per_epoch is None  # the summary reads old runs' seconds from their epochs


def test_migrated_runs_get_steady_seconds_in_the_summary(tmp_path):
    from seqlab.analysis.tables import run_summary_table

    _version_1_store(tmp_path / "old")
    store = RunStore(tmp_path / "old")
    summary = run_summary_table(store.epochs_frame(), store.runs_frame()).set_index("run_id")
    assert summary.loc["r-overfit", "seconds_per_epoch"] == pytest.approx(0.5)
    assert summary.loc["r-overfit", "compile_seconds"] == pytest.approx(5.5)


def test_finish_run_records_best_epoch_last_epoch_accuracy_and_timing(store):
    run_id = store.create_run(_config())
    store.set_majority_fraction(run_id, 0.55)
    store.finish_run(run_id, "completed", test_accuracy=0.86, test_accuracy_last=0.81, best_epoch=2,
                     compile_seconds=6.2, seconds_per_epoch=0.4)
    record = store.get_run(run_id)
    assert (record.test_accuracy, record.test_accuracy_last, record.best_epoch) == (0.86, 0.81, 2)
    assert (record.compile_seconds, record.seconds_per_epoch, record.majority_fraction) == (6.2, 0.4, 0.55)
    row = store.runs_frame([run_id]).iloc[0]
    assert (row["best_epoch"], row["test_accuracy_last"], row["compile_seconds"]) == (2, 0.81, 6.2)


@pytest.mark.parametrize("call", [
    lambda store, run_id: store.finish_run(run_id, "completed", best_epoch=0),
    lambda store, run_id: store.set_majority_fraction(run_id, 1.5),
])
def test_bad_results_are_refused(store, call):
    with pytest.raises(ValueError, match="best_epoch|majority_fraction"):
        call(store, store.create_run(_config()))


def test_a_store_whose_file_is_junk_says_which_file_and_how_to_recover(tmp_path):
    home = tmp_path / "junk"
    home.mkdir()
    (home / "runs.db").write_bytes(b"this is not sqlite \x00\xff" * 200)
    with pytest.raises(DamagedStoreError) as caught:
        RunStore(home)
    message = str(caught.value)
    assert str(home / "runs.db") in message and "not a database" in message
    assert "mv " in message and "SEQLAB_HOME" in message


def test_a_store_damaged_while_open_reports_it_on_the_next_read(store):
    store.create_run(_config())
    store.db_path.write_bytes(b"\x00junk" * 1000)
    for name in ("-wal", "-shm"):
        Path(f"{store.db_path}{name}").unlink(missing_ok=True)
    with pytest.raises(DamagedStoreError, match="runs.db"):
        store.list_runs()
    with pytest.raises(DamagedStoreError):
        store.check()


def test_reader_sees_consistent_epochs_while_another_process_writes(store, tmp_path):
    run_id = store.create_run(_config(**{"train.epochs": 60}))
    store.start_run(run_id, os.getpid())
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from seqlab.store import RunStore
        store = RunStore(sys.argv[1])
        for epoch in range(1, 61):
            store.add_epoch(sys.argv[2], epoch, {"loss": 1.0 / epoch, "seconds": 0.01})
            store.set_progress(sys.argv[2], epoch=epoch, phase="training")
            time.sleep(0.01)
    """))
    writer = subprocess.Popen([sys.executable, str(script), str(store.home), run_id],
                              env=_subprocess_env(store.home))
    seen, partial_reads = 0, 0
    while writer.poll() is None:
        epochs = [e["epoch"] for e in store.epochs(run_id)]
        assert epochs == list(range(1, len(epochs) + 1))  # never a gap or a torn write
        assert len(epochs) >= seen
        seen = len(epochs)
        partial_reads += 0 < seen < 60
        store.runs_frame()
    assert writer.returncode == 0
    assert partial_reads > 0  # the reads really overlapped the writes
    assert len(store.epochs(run_id)) == 60
    assert store.get_run(run_id).progress["epoch"] == 60


# ------------------------------------------------------------- claiming
def test_claim_takes_oldest_queued_run(store):
    first, second = store.create_run(_config()), store.create_run(_config())
    claimed = store.claim_next_run(4321)
    assert claimed.run_id == first
    assert (claimed.status, claimed.worker_pid) == ("running", 4321)
    assert claimed.started_at is not None and claimed.heartbeat_at is not None
    assert store.claim_next_run(4321).run_id == second
    assert store.claim_next_run(4321) is None


def test_concurrent_claims_never_share_a_run(store):
    run_ids = {store.create_run(_config()) for _ in range(24)}
    claims: dict[int, list[str]] = {}
    start = threading.Barrier(4)

    def claim_all(worker: int) -> None:
        mine = claims.setdefault(worker, [])
        start.wait()
        while (record := store.claim_next_run(1000 + worker)) is not None:
            mine.append(record.run_id)

    threads = [threading.Thread(target=claim_all, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [run_id for mine in claims.values() for run_id in mine]
    assert sorted(claimed) == sorted(run_ids)  # each run exactly once
    for worker, mine in claims.items():
        assert all(store.get_run(run_id).worker_pid == 1000 + worker for run_id in mine)


# ------------------------------------------------------ stop and delete
def test_request_stop_on_queued_run_stops_it_at_once(store):
    run_id = store.create_run(_config())
    store.request_stop(run_id)
    record = store.get_run(run_id)
    assert record.status == "stopped" and record.finished and record.stop_requested
    assert store.claim_next_run(1) is None


def test_request_stop_on_running_run_sets_the_flag(store):
    run_id = store.create_run(_config())
    store.start_run(run_id, os.getpid())
    assert not store.is_stop_requested(run_id)
    store.request_stop(run_id)
    assert store.is_stop_requested(run_id)
    assert store.get_run(run_id).status == "running"


def test_delete_refuses_running_run(store):
    run_id = store.create_run(_config())
    store.start_run(run_id, os.getpid())
    store.add_epoch(run_id, 1, _metrics(1))
    with pytest.raises(ValueError, match="running; stop it first"):
        store.delete_run(run_id)
    assert len(store.epochs(run_id)) == 1


def test_delete_removes_rows_and_artifacts(store):
    run_id = store.create_run(_config())
    store.add_epoch(run_id, 1, _metrics(1))
    store.model_path(run_id).write_bytes(b"weights")
    store.finish_run(run_id, "completed")
    store.delete_run(run_id)
    with pytest.raises(KeyError):
        store.get_run(run_id)
    assert store.epochs(run_id) == []
    assert not (store.home / "artifacts" / run_id).exists()


def test_artifact_dir_refuses_paths(store):
    with pytest.raises(ValueError, match="expected a run id"):
        store.artifact_dir("../outside")
    for method in (store.model_path, store.vocabulary_path, store.error_log_path):
        with pytest.raises(ValueError, match="expected a run id"):
            method("../outside")
    with pytest.raises(ValueError, match="plain folder name"):
        store.cache_dir("../outside")


def test_the_store_names_and_reads_a_runs_files(store):
    run_id = store.create_run(_config())
    assert not store.has_model(run_id) and store.read_meta(run_id) is None
    assert not (store.home / "artifacts" / run_id).exists()  # asking creates nothing
    store.write_meta(run_id, {"class_names": ["a", "b"], "examples": {"train": 3}})
    assert store.read_meta(run_id) == {"class_names": ["a", "b"], "examples": {"train": 3}}
    store.model_path(run_id).write_bytes(b"weights")
    assert store.has_model(run_id)
    paths = {store.model_path(run_id), store.vocabulary_path(run_id), store.error_log_path(run_id)}
    assert {path.parent for path in paths} == {store.artifact_dir(run_id)} and len(paths) == 3
    assert not store.has_model("../outside") and store.read_meta("../outside") is None


def test_unreadable_meta_reads_as_none(store):
    run_id = store.create_run(_config())
    store.write_meta(run_id, {"examples": {"train": 1}})
    (store.artifact_dir(run_id) / "meta.json").write_text("{not json")
    assert store.read_meta(run_id) is None


# -------------------------------------------------------------- reaping
def test_run_of_a_dead_process_becomes_interrupted_with_epochs_kept(store):
    pid = _dead_pid()
    run_id = store.create_run(_config())
    alive = store.create_run(_config())
    store.start_run(run_id, pid)
    store.start_run(alive, os.getpid())
    store.add_epoch(run_id, 1, _metrics(1))
    store.add_epoch(run_id, 2, _metrics(2))
    assert store.find_dead_runs() == [run_id]
    assert store.reap_dead_runs() == [run_id]
    record = store.get_run(run_id)
    assert record.status == "interrupted" and record.finished
    assert record.message == f"worker process {pid} died; epochs 1-2 kept"
    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    assert store.get_run(alive).status == "running"


def test_run_without_recent_heartbeat_becomes_interrupted(store):
    run_id = store.create_run(_config())
    store.start_run(run_id, os.getpid())
    _set_column(store, run_id, "heartbeat_at", time.time() - 120)
    assert store.find_dead_runs(stale_after=300) == []
    assert store.reap_dead_runs(is_alive=lambda pid: True, stale_after=60) == [run_id]
    message = store.get_run(run_id).message
    assert "stopped responding" in message and "no epoch had finished" in message


def test_mark_interrupted_leaves_finished_runs_alone(store):
    run_id = store.create_run(_config())
    store.finish_run(run_id, "completed")
    store.mark_interrupted(run_id, "worker process 1 died")
    assert store.get_run(run_id).status == "completed"


# -------------------------------------------------------------- workers
def test_live_workers_need_a_live_pid_and_a_fresh_heartbeat(store):
    dead = _dead_pid()
    store.register_worker(os.getpid())
    store.register_worker(dead)
    assert store.live_workers() == [os.getpid()]
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE workers SET heartbeat_at = ?", (time.time() - 100,))
    assert store.live_workers(stale_after=30) == []
    store.worker_heartbeat(os.getpid())
    assert store.live_workers() == [os.getpid()]
    store.unregister_worker(os.getpid())
    assert store.live_workers() == []


def test_group_ids_are_fresh(store):
    assert store.new_group_id() != store.new_group_id()
