"""Shared fixtures: every test gets its own SEQLAB_HOME so no test sees another's runs.

Tiny runs on the toy set are trained once for the whole session (`toy_runs`,
`toy_deep_runs`) instead of once per test file: each costs seconds of Keras
fitting on 2 busy cores. Those stores are shared, so they are read-only:
a test that deletes runs or writes files works on a copy (`copy_runs`), and
`shared_stores_unchanged` fails the test that changed one anyway.
"""

import os
import shutil
import sys
from pathlib import Path
from types import MappingProxyType

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


# ------------------------------------------------------- the session's toy runs
# The one tiny recipe on the toy sentences: every architecture reads the fields it uses.
TOY_RUN = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 2, "train.batch_size": 16, "train.jit_compile": False,
}
# Oldest first: the order the test files trained them in before they shared them.
TOY_ARCHS = ("lstm", "rnn", "bigru", "gru", "baseline", "transformer")
# A two-layer Transformer whose attention visibly moves over its three epochs (large steps).
DEEP_TRANSFORMER = {**TOY_RUN, "model.arch": "transformer", "model.num_layers": 2, "train.epochs": 3,
                    "train.batch_size": 32, "train.learning_rate": 0.01}
# The shared stores made so far: home -> its fingerprint when it was made.
_SHARED_STORES: dict[Path, tuple] = {}
_SHARED_FIXTURES = {"toy_runs", "toy_deep_runs"}


def _train(home: Path, recipes: dict[str, dict]) -> dict[str, str]:
    """Trains each recipe into the store at `home`, in order; returns {name: run_id}."""
    from seqlab.config import RunConfig
    from seqlab.jobs import train_foreground
    from seqlab.store import RunStore

    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQLAB_HOME", str(home))
        store = RunStore(home)
        for name, overrides in recipes.items():
            record = train_foreground(RunConfig().with_overrides(overrides), store)
            assert record.status == "completed", f"{name}: {record.message}"
            runs[name] = record.run_id
    return runs


def _copy(runs: tuple[Path, dict[str, str]], destination: Path,
          keep: tuple[str, ...] | None = None) -> tuple[Path, dict[str, str]]:
    """Copies a trained store to `destination`, keeping only the runs named in `keep` (None: all)."""
    from seqlab.store import RunStore

    home, run_ids = runs
    kept = {name: run_ids[name] for name in (keep or run_ids)}
    shutil.copytree(home, destination)
    store = RunStore(destination)
    for record in store.list_runs():
        if record.run_id not in kept.values():
            store.delete_run(record.run_id)
    return destination, kept


def _fingerprint(home: Path) -> tuple:
    """What a test could change in a store: its revision, its runs' statuses, their artifact files.

    The store's caches (vectorized ids, written on first read) are left out.
    """
    from seqlab.store import RunStore

    store = RunStore(home)
    records = store.list_runs()
    files = []
    for record in records:
        folder = store.artifact_dir(record.run_id)
        for path in sorted(folder.rglob("*")):
            stat = path.stat()
            files.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return store.revision(), [(record.run_id, record.status) for record in records], files


def _share(home: Path, runs: dict[str, str]) -> tuple[Path, MappingProxyType]:
    """Registers a trained store as shared: `shared_stores_unchanged` watches it from now on."""
    _SHARED_STORES[home] = _fingerprint(home)
    return home, MappingProxyType(runs)  # read-only, as the store


@pytest.fixture(scope="session")
def toy_runs(tmp_path_factory):
    """(home, {arch: run_id}): one tiny run of each of TOY_ARCHS on one toy split, trained once.

    Read-only: tests that delete runs or write files use `copy_runs`.
    """
    home = tmp_path_factory.mktemp("toy_runs")
    return _share(home, _train(home, {arch: {**TOY_RUN, "model.arch": arch} for arch in TOY_ARCHS}))


@pytest.fixture(scope="session")
def toy_deep_runs(toy_runs, tmp_path_factory):
    """(home, {"transformer": id, "lstm": id}): DEEP_TRANSFORMER and the toy LSTM, in one store.

    Read-only, as `toy_runs`.
    """
    home, runs = _copy(toy_runs, tmp_path_factory.mktemp("toy_deep_runs") / "home", keep=("lstm",))
    runs = {"transformer": _train(home, {"transformer": DEEP_TRANSFORMER})["transformer"], **runs}
    return _share(home, runs)


@pytest.fixture(scope="session")
def copy_runs():
    """`copy_runs(runs, destination, keep=None) -> (home, runs)`: a copy of a shared store to change.

    Args (of the function):
        runs: (home, {name: run_id}), as `toy_runs` gives it.
        destination: a folder that does not exist yet.
        keep: the names of the runs to keep (None: all of them); the others are deleted.
    """
    return _copy


@pytest.fixture(autouse=True)
def shared_stores_unchanged(request):
    """Fails a test that changed a shared store (after it ran), naming the store."""
    yield
    if not _SHARED_FIXTURES & set(request.fixturenames):
        return
    changed = []
    for home, before in _SHARED_STORES.items():
        now = _fingerprint(home)
        if now != before:
            changed.append(home)
            _SHARED_STORES[home] = now  # only the test that changed it is reported
    assert not changed, (f"this test changed the shared store(s) {[str(home) for home in changed]}; "
                         f"copy one first (the `copy_runs` fixture) or train runs of its own")


# ------------------------------------------------------------ real-browser tests
# Each browser test file gets its own server (its tests read what its store holds) and Chromium.
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (never Playwright's download: the machines are offline)."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM_ARGS, require_chromium

    executable = require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server_home(tmp_path_factory):
    """The folder of the server's run store: empty (a test file overrides this fixture to fill it)."""
    return tmp_path_factory.mktemp("browser") / "seqlab_home"


@pytest.fixture(scope="module")
def server(server_home):
    """`streamlit run app.py` on a free loopback port over `server_home`; its log lies beside it."""
    from tests.browser_support import StreamlitServer

    app = StreamlitServer(ROOT, server_home, server_home.parent / "streamlit.log").start()
    yield app
    app.stop()


@pytest.fixture
def page(request, browser, server):
    """A fresh tab (`browser_support.new_page`); when the test fails, its picture and the server's log are kept."""
    from tests.browser_support import new_page, report_failure

    failures = request.session.testsfailed
    tab = new_page(browser)
    yield tab
    if request.session.testsfailed > failures:
        report_failure(tab, request.node.name, server)
    tab.context.close()
