"""The app keeps a worker warm: opening a page starts one when none is alive, at most once a minute."""

from seqlab import jobs
from tests.apptest_support import HOME_PAGE, check_page, open_page


def _spawn_recorder(monkeypatch):
    spawned = []

    def spawn(store, command, threads=0):
        spawned.append(store.home)
        return 10_000_000 + len(spawned)  # no such process: the bookkeeping is what is tested

    monkeypatch.setattr(jobs, "_spawn_worker", spawn)
    return spawned


def test_opening_the_app_starts_a_warm_worker(monkeypatch, store):
    monkeypatch.setenv("SEQLAB_WARM_WORKER", "1")
    spawned = _spawn_recorder(monkeypatch)
    check_page(open_page(HOME_PAGE).run())
    assert spawned and set(spawned) == {store.home}


def test_a_rerun_within_a_minute_does_not_look_again(monkeypatch, store):
    monkeypatch.setenv("SEQLAB_WARM_WORKER", "1")
    spawned = _spawn_recorder(monkeypatch)
    at = check_page(open_page(HOME_PAGE).run())
    store.unregister_worker(10_000_001)  # as if the warm worker had exited
    check_page(at.run())
    assert len(spawned) == min(jobs.pool_size(), jobs.WARM_WORKERS)


def test_warming_can_be_turned_off(monkeypatch, store):
    monkeypatch.setenv("SEQLAB_WARM_WORKER", "0")
    spawned = _spawn_recorder(monkeypatch)
    check_page(open_page(HOME_PAGE).run())
    assert spawned == []
