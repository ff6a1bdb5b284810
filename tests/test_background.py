"""Background runs with a real worker process and real training (DESIGN decision 3).

Stop from the Train page, a worker killed mid-run, and two browser sessions
queueing at once: each must leave correct statuses and the epochs done so far.
"""

import os
import signal
import time

import pytest

from seqlab import jobs
from seqlab.config import RunConfig
from seqlab.store import pid_alive
from tests.apptest_support import TRAIN_PAGE, check_page, open_page

DEADLINE = 240  # seconds: worker start + TensorFlow import + a tiny run, on a busy 2-core box


def long_tiny_config(epochs: int = 300) -> RunConfig:
    """A toy run that would take minutes, so there is time to stop or kill it."""
    return RunConfig().with_overrides({
        "data.sequence_length": 12, "model.units": 8, "model.embedding_dim": 8,
        "train.epochs": epochs, "train.batch_size": 8, "train.jit_compile": False,
    }).validate()


def wait_for(condition, what: str, store, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.3)
    logs = "\n".join(p.read_text()[-2000:] for p in (store.home / "logs").glob("*.log"))
    pytest.fail(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def workers(store):
    """Kills whatever worker processes a test leaves behind."""
    yield
    for pid in store.live_workers():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_stop_from_the_train_page_keeps_epochs_and_model(store, workers):
    [run_id] = jobs.queue_runs(store, [long_tiny_config()])
    wait_for(lambda: len(store.epochs(run_id)) >= 1, "the first epoch", store)

    at = check_page(open_page(TRAIN_PAGE).run())
    at.button(key=f"train.stop.{run_id}").click().run()
    check_page(at)

    wait_for(lambda: store.get_run(run_id).finished, "the run to end", store, deadline=60)
    record = store.get_run(run_id)
    assert record.status == "stopped"
    assert 1 <= len(store.epochs(run_id)) < 300
    assert store.has_model(run_id)


def test_killed_worker_leaves_run_interrupted_with_its_epochs(store, workers):
    [run_id] = jobs.queue_runs(store, [long_tiny_config()])
    wait_for(lambda: len(store.epochs(run_id)) >= 2, "two epochs", store)
    [pid] = store.live_workers()

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), "the worker to die", store, deadline=30)
    kept = len(store.epochs(run_id))
    jobs.ensure_worker(store)  # what the app calls on every redraw: reaps dead runs

    record = store.get_run(run_id)
    assert record.status == "interrupted"
    assert str(pid) in record.message
    assert len(store.epochs(run_id)) == kept >= 2


def test_two_sessions_queueing_at_once_both_finish_intact(store, workers):
    sessions = [check_page(open_page(TRAIN_PAGE).run()) for _ in range(2)]
    for at, units in zip(sessions, (6, 10)):
        for key, value in (("train.sequence_length", 12), ("train.embedding_dim", 8),
                           ("train.units", units), ("train.epochs", 2), ("train.batch_size", 16)):
            at.number_input(key=key).set_value(value)
        at.selectbox(key="train.jit_compile").set_value("off")
    for at in sessions:
        at.button(key="train.start").click().run()
        check_page(at)

    records = store.list_runs()
    assert len(records) == 2
    wait_for(lambda: all(store.get_run(r.run_id).finished for r in records), "both runs", store)
    assert len(store.live_workers()) <= jobs.pool_size()  # the pool, never more
    for record in records:
        final = store.get_run(record.run_id)
        assert final.status == "completed", final.message
        assert [e["epoch"] for e in store.epochs(record.run_id)] == [1, 2]
    assert sorted(store.get_run(r.run_id).config.model.units for r in records) == [6, 10]
