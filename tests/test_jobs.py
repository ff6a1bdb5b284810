"""Background runs: queue, worker loop, stop, failures, killed workers, the pool of workers.

Training is faked (epochs are short sleeps that write to the store): what is
tested here is the queue and worker mechanics, not Keras. Subprocess workers
run a small script that calls `seqlab.jobs.run_worker` with the same fake.
"""

import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seqlab import jobs
from seqlab.config import RunConfig
from seqlab.store import RunStore, pid_alive

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 30.0

FAKE_WORKER = '''
"""A worker whose training is faked, so queue mechanics run in a fraction of a second."""
import os
import sys
import time

from seqlab.jobs import run_worker
from seqlab.store import RunStore

EPOCH_SECONDS = float(os.environ.get("FAKE_EPOCH_SECONDS", "0.01"))


def fake_train(store, run_id):
    epochs = store.get_run(run_id).config.train.epochs
    for epoch in range(1, epochs + 1):
        if store.is_stop_requested(run_id):
            store.finish_run(run_id, "stopped", message="stopped on request")
            return
        store.set_progress(run_id, phase="training", epoch=epoch, epochs=epochs)
        time.sleep(EPOCH_SECONDS)
        store.add_epoch(run_id, epoch, {"loss": 1.0 / epoch, "accuracy": 0.5,
                                        "val_loss": 1.0 / epoch, "val_accuracy": 0.5,
                                        "seconds": EPOCH_SECONDS})
    store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=0.5)


if __name__ == "__main__":
    run_worker(RunStore(sys.argv[1]), idle_timeout=float(sys.argv[2]), poll_seconds=0.02,
               train=fake_train, heartbeat_seconds=0.2)
'''


@pytest.fixture
def worker_script(tmp_path) -> Path:
    path = tmp_path / "fake_worker.py"
    path.write_text(FAKE_WORKER)
    return path


@pytest.fixture
def fake_train(worker_script):
    return runpy.run_path(str(worker_script))["fake_train"]


def _config(epochs: int = 2, **overrides) -> RunConfig:
    return RunConfig().with_overrides({"train.epochs": epochs, **overrides}).validate()


def _start_worker(store: RunStore, script: Path, *, idle_timeout: float = 30.0,
                  epoch_seconds: float = 0.01) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEQLAB_HOME=str(store.home),
               FAKE_EPOCH_SECONDS=str(epoch_seconds))
    return subprocess.Popen([sys.executable, str(script), str(store.home), str(idle_timeout)],
                            env=env)


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def _registered_workers(store: RunStore) -> list[int]:
    with sqlite3.connect(store.db_path) as conn:
        return [pid for (pid,) in conn.execute("SELECT pid FROM workers")]


# ---------------------------------------------------------------- queue
def test_queue_runs_records_queued_runs_in_order(store):
    configs = [_config(**{"model.arch": arch}) for arch in ("lstm", "gru", "transformer")]
    run_ids = jobs.queue_runs(store, configs, group_id="g1", start_worker=False)
    records = [store.get_run(run_id) for run_id in run_ids]
    assert [r.arch for r in records] == ["lstm", "gru", "transformer"]
    assert all(r.status == "queued" and r.group_id == "g1" for r in records)
    assert [store.claim_next_run(1).run_id for _ in run_ids] == run_ids


def test_queue_runs_validates_every_config_before_queuing_any(store):
    bad = RunConfig().with_overrides({"model.units": 0})
    with pytest.raises(ValueError, match=r"run 2 of 2: model\.units: received 0"):
        jobs.queue_runs(store, [_config(), bad], start_worker=False)
    assert store.list_runs() == []


def test_queue_groups_groups_lists_of_several_and_queues_all_or_nothing(store):
    pair, single = [_config(seed=0), _config(seed=1)], [_config(**{"model.arch": "gru"})]
    bad = RunConfig().with_overrides({"model.units": 0})
    with pytest.raises(ValueError, match=r"^model\.units: received 0"):
        jobs.queue_groups(store, [pair, [bad]], start_worker=False)
    assert store.list_runs() == []
    first, second, third = jobs.queue_groups(store, [pair, single], start_worker=False)
    records = [store.get_run(run_id) for run_id in (first, second, third)]
    assert records[0].group_id and records[0].group_id == records[1].group_id
    assert records[2].group_id is None and records[2].arch == "gru"
    assert all(r.status == "queued" for r in records)


def test_queue_groups_starts_a_worker_once(store, monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "ensure_worker", lambda store, **kwargs: calls.append(store))
    jobs.queue_groups(store, [[_config()], [_config(), _config()]])
    assert calls == [store]


# --------------------------------------------------------------- worker
def test_worker_trains_queued_runs_oldest_first(store, fake_train):
    first, second = jobs.queue_runs(store, [_config(2), _config(3)], start_worker=False)
    trained = jobs.run_worker(store, idle_timeout=0.05, poll_seconds=0.01, train=fake_train)
    assert trained == 2
    records = [store.get_run(first), store.get_run(second)]
    assert [r.status for r in records] == ["completed", "completed"]
    assert [len(store.epochs(r.run_id)) for r in records] == [2, 3]
    assert records[0].finished_at <= records[1].started_at
    assert all(r.worker_pid == os.getpid() for r in records)


def test_worker_exits_after_idle_timeout_and_unregisters(store):
    def never_called(store, run_id):
        raise AssertionError("nothing was queued")

    assert jobs.run_worker(store, idle_timeout=0.1, poll_seconds=0.01, train=never_called) == 0
    assert _registered_workers(store) == []
    assert not jobs.worker_alive(store)


def test_failing_train_marks_run_failed_and_worker_goes_on(store, fake_train):
    broken, healthy = jobs.queue_runs(store, [_config(), _config()], start_worker=False)

    def train(store, run_id):
        if run_id == broken:
            store.add_epoch(run_id, 1, {"loss": 1.0})
            raise RuntimeError("out of memory\nwhile building the model")
        return fake_train(store, run_id)

    assert jobs.run_worker(store, idle_timeout=0.05, poll_seconds=0.01, train=train) == 2
    failed = store.get_run(broken)
    assert failed.status == "failed"
    assert failed.message == "RuntimeError: out of memory while building the model"
    assert len(store.epochs(broken)) == 1
    assert store.get_run(healthy).status == "completed"


def test_train_that_forgets_to_finish_leaves_no_run_running(store):
    (run_id,) = jobs.queue_runs(store, [_config()], start_worker=False)
    jobs.run_worker(store, idle_timeout=0.05, poll_seconds=0.01, train=lambda store, run_id: None)
    record = store.get_run(run_id)
    assert record.status == "failed" and "without recording" in record.message


def test_worker_heartbeat_keeps_a_quiet_run_fresh(store):
    (run_id,) = jobs.queue_runs(store, [_config()], start_worker=False)
    heartbeats = []

    def quiet_train(store, run_id):
        heartbeats.append(store.get_run(run_id).heartbeat_at)
        time.sleep(0.4)  # writes nothing, like a long compile
        heartbeats.append(store.get_run(run_id).heartbeat_at)
        store.finish_run(run_id, "completed")

    jobs.run_worker(store, idle_timeout=0.05, poll_seconds=0.01, train=quiet_train,
                    heartbeat_seconds=0.05)
    assert heartbeats[1] > heartbeats[0]


def test_stop_request_ends_a_running_run_with_its_epochs(store, fake_train):
    (run_id,) = jobs.queue_runs(store, [_config(500)], start_worker=False)

    def stop_after_two_epochs():
        _wait_for(lambda: len(store.epochs(run_id)) >= 2, "two epochs")
        jobs.stop_run(store, run_id)

    stopper = threading.Thread(target=stop_after_two_epochs)
    stopper.start()
    jobs.run_worker(store, idle_timeout=0.05, poll_seconds=0.01, train=fake_train)
    stopper.join()
    record = store.get_run(run_id)
    assert record.status == "stopped"
    assert 2 <= len(store.epochs(run_id)) < 500


def test_stop_run_on_queued_run_stops_it_before_it_starts(store):
    (run_id,) = jobs.queue_runs(store, [_config()], start_worker=False)
    jobs.stop_run(store, run_id)
    assert store.get_run(run_id).status == "stopped"
    assert store.claim_next_run(1) is None


# ------------------------------------------------------ worker processes
def test_killed_worker_leaves_run_interrupted_with_epochs_done(store, worker_script):
    (run_id,) = jobs.queue_runs(store, [_config(1000)], start_worker=False)
    worker = _start_worker(store, worker_script, epoch_seconds=0.05)
    try:
        _wait_for(lambda: len(store.epochs(run_id)) >= 2, "two epochs")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert store.get_run(run_id).status == "running"  # nobody has noticed yet
    assert not jobs.worker_alive(store)
    assert store.reap_dead_runs() == [run_id]
    record = store.get_run(run_id)
    done = len(store.epochs(run_id))
    assert record.status == "interrupted" and done >= 2
    assert record.message == f"worker process {worker.pid} died; epochs 1-{done} kept"


def test_terminated_worker_marks_its_run_interrupted_and_unregisters(store, worker_script):
    (run_id,) = jobs.queue_runs(store, [_config(1000)], start_worker=False)
    worker = _start_worker(store, worker_script, epoch_seconds=0.05)
    try:
        _wait_for(lambda: store.epochs(run_id), "an epoch")
    finally:
        worker.terminate()
        worker.wait(timeout=WAIT_SECONDS)
    record = store.get_run(run_id)
    assert record.status == "interrupted"
    assert record.message.startswith(f"worker process {worker.pid} was terminated; epoch")
    assert _registered_workers(store) == []


def test_ensure_worker_reuses_a_live_worker(store, monkeypatch):
    jobs.queue_runs(store, [_config()], start_worker=False)
    store.register_worker(os.getpid())  # this test process plays the live worker

    def refuse_spawn(*args, **kwargs):
        raise AssertionError("a second worker was started")

    monkeypatch.setattr(jobs.subprocess, "Popen", refuse_spawn)
    assert jobs.ensure_worker(store) == os.getpid()
    assert jobs.worker_alive(store)


def test_ensure_worker_starts_nothing_when_nothing_is_queued(store, monkeypatch):
    monkeypatch.setattr(jobs.subprocess, "Popen", lambda *a, **k: pytest.fail("spawned"))
    assert jobs.ensure_worker(store) is None


def test_concurrent_sessions_start_one_worker_that_trains_the_queue(store, worker_script):
    run_ids = jobs.queue_runs(store, [_config(2), _config(2)], start_worker=False)
    command = [sys.executable, str(worker_script), str(store.home), "0.3"]
    pids = []
    start = threading.Barrier(4)

    def session():
        start.wait()
        pids.append(jobs.ensure_worker(store, command=command, size=1))

    sessions = [threading.Thread(target=session) for _ in range(4)]
    for thread in sessions:
        thread.start()
    for thread in sessions:
        thread.join()
    assert len(set(pids)) == 1 and pids[0] is not None
    _wait_for(lambda: all(store.get_run(r).finished for r in run_ids), "both runs to finish")
    assert [store.get_run(r).status for r in run_ids] == ["completed", "completed"]
    assert {store.get_run(r).worker_pid for r in run_ids} == {pids[0]}
    assert [p.name for p in (store.home / "logs").iterdir()] == [f"worker-{pids[0]}.log"]
    _wait_for(lambda: (jobs._reap_spawned(), not pid_alive(pids[0]))[1], "the idle worker to exit")
    assert not jobs.worker_alive(store)


def test_worker_that_keeps_crashing_at_start_fails_the_queue_with_its_words(store, tmp_path):
    script = tmp_path / "broken_worker.py"
    script.write_text("import sys\nprint('ImportError: no module named nowhere')\nsys.exit(3)\n")
    run_id = store.create_run(RunConfig())
    for _ in range(jobs.START_CRASH_LIMIT):
        pid = jobs.ensure_worker(store, command=[sys.executable, str(script)])
        assert pid is not None
        deadline = time.time() + 20
        while any(p.pid == pid and p.poll() is None for p, _, _ in jobs._spawned) and time.time() < deadline:
            time.sleep(0.05)
        store.unregister_worker(pid)
    assert jobs.ensure_worker(store, command=[sys.executable, str(script)]) is None
    record = store.get_run(run_id)
    assert record.status == "failed"
    assert "could not start" in record.message and "no module named nowhere" in record.message


def test_a_pool_starts_one_worker_per_queued_run_up_to_its_size(store, monkeypatch):
    jobs.queue_runs(store, [_config(), _config(), _config()], start_worker=False)
    spawned = []

    def spawn(store, command, threads=0):
        spawned.append(threads)
        return 10_000_000 + len(spawned)  # no such process: only the bookkeeping is tested

    monkeypatch.setattr(jobs, "_spawn_worker", spawn)
    monkeypatch.setattr(store, "live_workers", lambda: [10_000_000 + n for n in range(1, len(spawned) + 1)])
    jobs.ensure_worker(store, size=2)
    assert len(spawned) == 2


def test_a_second_call_starts_no_worker_while_the_pool_is_full(store, monkeypatch):
    jobs.queue_runs(store, [_config(), _config(), _config()], start_worker=False)
    spawned = []

    def spawn(store, command, threads=0):
        spawned.append(threads)
        return 10_000_000 + len(spawned)

    monkeypatch.setattr(jobs, "_spawn_worker", spawn)
    monkeypatch.setattr(store, "live_workers", lambda: [10_000_000 + n for n in range(1, len(spawned) + 1)])
    jobs.ensure_worker(store, size=2)
    jobs.ensure_worker(store, size=2)
    assert len(spawned) == 2


def test_pool_workers_share_the_cores(store, monkeypatch):
    jobs.queue_runs(store, [_config(), _config()], start_worker=False)
    given = []
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(jobs, "_spawn_worker", lambda store, command, threads=0: given.append(threads) or 1)
    monkeypatch.delenv(jobs.THREADS_VARIABLE, raising=False)
    jobs.ensure_worker(store, size=4)
    assert given == [2, 2]


def test_warm_workers_start_with_nothing_queued(store, monkeypatch):
    spawned = []
    monkeypatch.setattr(jobs, "_spawn_worker", lambda store, command, threads=0: spawned.append(1) or 4242)
    assert jobs.ensure_worker(store, warm=True, size=8) == 4242
    assert len(spawned) == jobs.WARM_WORKERS


def test_a_queued_run_goes_to_the_idle_warm_worker(store, monkeypatch):
    store.register_worker(os.getpid())  # this process plays the warm, idle worker
    jobs.queue_runs(store, [_config()], start_worker=False)
    monkeypatch.setattr(jobs, "_spawn_worker", lambda *a, **k: pytest.fail("a second worker was started"))
    assert jobs.ensure_worker(store, size=4) == os.getpid()


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_pool_size_setting_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv(jobs.POOL_SIZE_VARIABLE, value)
    with pytest.raises(ValueError, match=f"SEQLAB_WORKERS: received '{value}'"):
        jobs.pool_size()


def test_two_pool_workers_train_two_runs_side_by_side(store, worker_script):
    run_ids = jobs.queue_runs(store, [_config(20), _config(20)], start_worker=False)
    command = [sys.executable, str(worker_script), str(store.home), "0.3"]
    os.environ["FAKE_EPOCH_SECONDS"] = "0.05"
    try:
        jobs.ensure_worker(store, command=command, size=2)
    finally:
        del os.environ["FAKE_EPOCH_SECONDS"]
    _wait_for(lambda: all(store.get_run(r).finished for r in run_ids), "both runs to finish")
    records = [store.get_run(r) for r in run_ids]
    assert [r.status for r in records] == ["completed", "completed"]
    assert len({r.worker_pid for r in records}) == 2
    first, second = sorted(records, key=lambda r: r.started_at)
    assert second.started_at < first.finished_at  # they overlapped
