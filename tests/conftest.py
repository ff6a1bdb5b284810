"""Shared fixtures: every test gets its own SEQLAB_HOME so no test sees another's runs."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow reads its compile-cache folder once per process: in this one it would
# be the first test's SEQLAB_HOME, deleted after it. test_compile_cache turns the
# cache on in processes of its own.
os.environ.setdefault("SEQLAB_COMPILE_CACHE", "0")
# Pages opened through app.py would start a warm worker (TensorFlow in a process
# of its own) for every page test; test_worker_warm turns it on where it is tested.
os.environ.setdefault("SEQLAB_WARM_WORKER", "0")
# Tests never reach the network: IMDB comes from the shared offline copy when present.
SHARED_IMDB = ROOT.parent / "shared" / "data" / "imdb"


@pytest.fixture(autouse=True)
def seqlab_home(tmp_path, monkeypatch):
    """A fresh, empty SEQLAB_HOME for each test."""
    home = tmp_path / "seqlab_home"
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    return home


@pytest.fixture
def store(seqlab_home):
    """A real RunStore (SQLite) in the test's own SEQLAB_HOME."""
    from seqlab.store import RunStore

    return RunStore(seqlab_home)


@pytest.fixture
def imdb_dir():
    """The shared offline IMDB copy; tests needing it are skipped only where it is absent."""
    if not (SHARED_IMDB / "train.csv.gz").exists():
        pytest.skip("shared IMDB copy not present on this machine")
    return SHARED_IMDB


@pytest.fixture
def store_reads(monkeypatch):
    """Counts calls of RunStore.runs_frame / epochs_frame (the Compare page's two reads)."""
    from seqlab.store import RunStore

    calls = {"runs_frame": 0, "epochs_frame": 0}
    for name in calls:
        original = getattr(RunStore, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(RunStore, name, counted)
    return calls


@pytest.fixture
def no_worker(monkeypatch):
    """Queued runs stay queued: no background worker is started (AppTest runs in this process)."""
    import seqlab.jobs

    monkeypatch.setattr(seqlab.jobs, "ensure_worker", lambda store, **kwargs: None)
