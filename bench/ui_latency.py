"""UI latency: the speed a user feels, with a store of 50 finished runs.

What the issue asks for, measured in one run of this script:

  cold      Each page (Home, Data, Train, Compare) rendered once by
            `AppTest.from_file(page).run()` in a fresh interpreter, as on a
            cold server; whether TensorFlow/Keras got imported, and by which
            lines of seqlab/pages when they did. Data is rendered twice: with
            no vocabulary cached yet (a first visit ever) and with it cached.
  warm      In one interpreter: page switches (`AppTest.switch_page`), reruns
            and widget changes (Compare's run selection, Data's sequence
            length and split, Train's "Update estimate" form submit); median
            and p90 over N tries. A measurement whose p90 is over 0.5 s is run
            once more under cProfile and its costliest seqlab functions printed.
  live      A real tiny run queued through `seqlab.jobs.queue_runs` (worker
            process, jit off, small batches), the store polled every 0.1 s for
            progress/epoch changes while the Train page is rerun every
            `run_every` seconds as an open tab would; then Stop, then the
            worker is terminated. Worst visible refresh = the longest gap
            between store updates + the Train fragment's `run_every` (read
            from pages/2_Train.py); the browser part measures it end to end.
  browser   `streamlit run` on a free loopback port driven by Debian's
            Chromium (Playwright): navigation -> page title visible, and ->
            whole page drawn, each page on a just-started server (Data with
            its vocabulary cache emptied); page switches through the sidebar;
            and the progress text of a second training run watched in the DOM
            of the open Train page.

  scale     With `--runs 1000` or more (e.g. `--runs 10000`), only the Compare
            page, on a store of that many runs beside stores of
            `--baseline-runs` runs (50 and 1,000 by default), printed side by
            side with the ratio: the first render in a fresh interpreter;
            opening a copy of the store as schema version 2 left it (migrate,
            then summarize every run once); and in one interpreter (AppTest)
            the first render, reruns, run-selection changes, a rerun of each
            tab and a redraw after a run was added (median and p90 over N
            tries; profiled when a p90 is over the 0.3 s target).

Timings come from this machine and this run only; nothing is hard-coded. The
load average is printed with them: other processes on the machine slow every
figure. The store is seeded through `RunStore.import_runs` (no training; the
summaries `finish_run` would store included), with varied architectures and
realistic curves, so pages have 50 runs x 20 epochs to read. About 3 minutes
on 2 cores; the scale mode with 10,000 runs about 2.

Usage:
    python bench/ui_latency.py [--runs 50] [--epochs 20] [--repeats 10]
                               [--train-seconds 15] [--no-browser]
    python bench/ui_latency.py --runs 10000 [--baseline-runs 50 1000] [--repeats 10]
"""

from __future__ import annotations

import argparse
import ast
import importlib.abc
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # seqlab, and the tests' AppTest and server helpers
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The one `streamlit run` helper (tests/browser_support.py; stdlib only, so importing
# it here does not import streamlit before the cold measurement times that).
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402

PAGES = {  # name -> (script, title the page shows, text of its last element)
    "Home": ("app.py", "seqlab", "Predict: side by side"),
    "Data": ("pages/1_Data.py", "Data", "The same as a table"),
    "Train": ("pages/2_Train.py", "Train", "Recently finished"),
    "Compare": ("pages/3_Compare.py", "Compare runs", "Delete selected runs"),
}
NO_TENSORFLOW_PAGES = ("Home", "Data", "Compare")  # the issue: first paint without TF
HEAVY_MODULES = ("tensorflow", "keras")
APPTEST_TIMEOUT = 180
SEED_BATCH = 2000  # runs recorded per transaction while seeding


# ------------------------------------------------------------------ helpers
def percentile(values: list[float], fraction: float) -> float:
    """Returns the `fraction` quantile of `values` (nearest rank), NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def spread(values: list[float], scale: float = 1000.0) -> str:
    """Returns "median / p90" of seconds, in ms by default."""
    if not values:
        return "-"
    unit = "ms" if scale == 1000.0 else "s"
    digits = 0 if scale == 1000.0 else 2
    return (f"{statistics.median(values) * scale:.{digits}f} / "
            f"{percentile(values, 0.9) * scale:.{digits}f} {unit}")


def run_every_seconds() -> float:
    """Returns the `run_every` of the Train page's live fragment, read from the page source."""
    tree = ast.parse((ROOT / PAGES["Train"][0]).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "run_every":
            return float(ast.literal_eval(node.value))
    raise ValueError(f"{PAGES['Train'][0]}: no st.fragment(run_every=...) found; expected the "
                     f"live runs fragment to set run_every in seconds")


class ImportTracer(importlib.abc.MetaPathFinder):
    """Records when TensorFlow/Keras are first imported and the seqlab/page lines that asked."""

    def __init__(self):
        self.first: dict[str, tuple[float, list[str]]] = {}

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY_MODULES and top not in self.first and top not in sys.modules:
            frames = [f"{path.relative_to(ROOT)}:{frame.lineno} {frame.name}"
                      for frame in traceback.extract_stack()
                      for path in [Path(frame.filename).resolve()]
                      if Path(frame.filename).is_absolute() and path.is_relative_to(ROOT)
                      and path.parent.name != "bench"]
            self.first[top] = (time.perf_counter(), frames)
        return None  # never loads anything itself


def apptest_support():
    """Returns the tests' AppTest harness (tests/apptest_support.py), AppTest's warning quieted.

    Imported here, not at the top: the cold measurement times this first
    import of streamlit. The "missing ScriptRunContext" warning AppTest logs
    on every new test is turned off.
    """
    import logging

    from tests import apptest_support as harness

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    return harness


def clear_vocabulary_cache(home: Path) -> None:
    """Deletes the vectorized-data cache of the benchmark's own store."""
    from seqlab.data.vectorize import VECTORIZED_CACHE
    from seqlab.store import RunStore

    folder = RunStore(home).cache_dir(VECTORIZED_CACHE).resolve()
    if folder.is_relative_to(home.resolve()):  # never anything outside the temporary store
        shutil.rmtree(folder, ignore_errors=True)


def page_test(page: str):
    """Returns an AppTest that opens `page` through app.py, as the sidebar does (not yet run)."""
    return apptest_support().open_via_app(PAGES[page][0], timeout=APPTEST_TIMEOUT)


def page_problems(at) -> list[str]:
    """Returns the exceptions and error boxes an AppTest run shows (the tests' strict check)."""
    return apptest_support().page_problems(at)


# ----------------------------------------------------------------- seeding
def seed_store(home: Path, num_runs: int, num_epochs: int, seed: int = 0):
    """Records `num_runs` finished runs of `num_epochs` epochs with made-up, plausible curves.

    Architectures, sizes, learning rates and datasets vary; every third
    recipe of the second half is repeated over 3 seeds as a group. Training
    loss decays exponentially; validation loss follows it, then rises after a
    per-run overfitting onset (from epoch 3 on; runs of 3 epochs or fewer
    never overfit). Recorded through `RunStore.import_runs`, a few thousand
    runs per transaction: what `finish_run` stores, summaries included, in
    seconds for 10,000 runs.
    """
    import functools

    import numpy as np

    from seqlab.config import ARCHITECTURES, RunConfig
    from seqlab.models import count_parameters
    from seqlab.store import RunStore

    if num_epochs < 1:
        raise ValueError(f"--epochs: received {num_epochs}, expected at least 1")
    rng = np.random.default_rng(seed)
    store = RunStore(home)
    epoch_cost = {"baseline": 0.3, "rnn": 0.9, "gru": 1.5, "lstm": 1.8, "bigru": 2.8, "bilstm": 3.2,
                  "transformer": 2.4}
    parameters = functools.lru_cache(maxsize=None)(
        lambda model, length: count_parameters(model, vocabulary_size=5000, sequence_length=length,
                                               num_classes=2))
    group_id, recipe, batch = None, None, []
    for index in range(num_runs):
        if index >= num_runs // 2 and index % 3 == 0:
            group_id, recipe = store.new_group_id(), None
        elif index < num_runs // 2:
            group_id, recipe = None, None
        if recipe is None:
            recipe = {
                "model.arch": ARCHITECTURES[index % len(ARCHITECTURES)],
                "model.units": int(rng.choice([16, 32, 64])),
                "model.embedding_dim": int(rng.choice([16, 32, 64])),
                "model.num_layers": int(rng.choice([1, 2])),
                "data.dataset": str(rng.choice(["toy", "synthetic-longrange", "synthetic-variable"])),
                "data.sequence_length": int(rng.choice([40, 100, 200])),
                "train.learning_rate": float(rng.choice([3e-4, 1e-3, 3e-3])),
                "train.epochs": num_epochs,
            }
        config = RunConfig().with_overrides({**recipe, "seed": index % 3})
        floor, rate = rng.uniform(0.05, 0.35), rng.uniform(0.15, 0.6)
        # integers(3, n) needs n > 3; a shorter run has no epoch left to overfit in.
        onset = int(rng.integers(3, num_epochs)) if num_epochs > 3 else num_epochs
        climb = rng.uniform(0.01, 0.05)
        seconds = epoch_cost[config.model.arch] * rng.uniform(0.8, 1.2)
        epochs = []
        for epoch in range(1, num_epochs + 1):
            loss = floor + (0.69 - floor) * math.exp(-rate * (epoch - 1)) + rng.normal(0, 0.01)
            val_loss = loss + 0.03 + climb * max(0, epoch - onset) + rng.normal(0, 0.015)
            epochs.append({
                "loss": loss, "accuracy": min(0.999, 1.0 - 0.7 * loss),
                "val_loss": val_loss, "val_accuracy": min(0.999, 1.0 - 0.75 * val_loss),
                "seconds": seconds * rng.uniform(0.95, 1.05),
            })
        status = "stopped" if index % 10 == 7 else "completed"
        batch.append({
            "config": config, "status": status, "epochs": epochs, "group_id": group_id,
            "num_params": parameters(config.model, config.data.sequence_length),
            "test_loss": val_loss, "test_accuracy": 1.0 - 0.75 * val_loss - rng.uniform(0, 0.02),
            "message": "stopped on request" if status == "stopped" else "",
        })
        if len(batch) == SEED_BATCH or index == num_runs - 1:
            store.import_runs(batch)
            batch = []
    return store


# -------------------------------------------------------------------- cold
def cold_child(page: str) -> dict:
    """Renders one page once in this (fresh) interpreter; returns timings and heavy imports."""
    tracer = ImportTracer()
    sys.meta_path.insert(0, tracer)
    started = time.perf_counter()
    apptest_support()
    imported = time.perf_counter()
    at = page_test(page)
    at.run()
    finished = time.perf_counter()
    heavy = {name: {"after_s": when - imported, "via": frames}
             for name, (when, frames) in tracer.first.items()}
    return {
        "page": page, "streamlit_import_s": imported - started, "run_s": finished - imported,
        "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
        "heavy": heavy, "problems": page_problems(at),
        "titles": [t.value for t in at.title],
    }


COLD_RENDERS = (  # (label, page, empty the vocabulary cache first)
    ("Home", "Home", False),
    ("Data (first visit: no vocabulary cached)", "Data", True),
    ("Data (vocabulary cached on disk)", "Data", False),
    ("Train", "Train", False),
    ("Compare", "Compare", False),
)


def measure_cold(home: Path, renders=COLD_RENDERS) -> dict[str, dict]:
    """Runs `cold_child` for each page in its own fresh interpreter.

    Args:
        home: the store the pages read.
        renders: (label, page, empty the vocabulary cache first) of each render.
    """
    results = {}
    for label, page, empty_cache in renders:
        if empty_cache:
            clear_vocabulary_cache(home)
        env = {**os.environ, "SEQLAB_HOME": str(home)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--child-cold", page],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            results[label] = {"page": page, "failed": done.stderr.strip()[-800:]}
            print(f"cold {label}: FAILED: {results[label]['failed']}", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["process_s"] = wall
        results[label] = result
        print(f"cold {label}: run {result['run_s']:.2f} s (process {wall:.2f} s) "
              f"tensorflow={result['tensorflow']} problems={len(result['problems'])}", flush=True)
        for name, info in list(result["heavy"].items())[:1]:  # keras comes in with tensorflow
            print(f"     {name} imported {info['after_s']:.2f} s into the run via: "
                  f"{' -> '.join(info['via']) or '(no seqlab frame)'}", flush=True)
        for problem in result["problems"]:
            print(f"     {problem[:300]}", flush=True)
    return results


# -------------------------------------------------------------------- warm
SLOW_SECONDS = 0.5  # the "well under a second": above this, say where the time goes


def timed_runs(at, repeats: int, change=None) -> list[float]:
    """Times `repeats` reruns of `at`, calling `change(at, index)` before each when given."""
    seconds = []
    for index in range(repeats):
        if change is not None:
            change(at, index)
        started = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - started)
        problems = page_problems(at)
        if problems:
            raise RuntimeError(f"{problems[0][:300]}")
    return seconds


def profile_run(at, change=None, index: int = 0, top: int = 6) -> list[str]:
    """Reruns `at` once under cProfile; returns the seqlab/page functions taking the most time.

    AppTest runs the page in its own thread, so the profiler is switched on
    from inside that thread (threading.setprofile).
    """
    import cProfile
    import pstats

    if change is not None:
        change(at, index)
    profiler = cProfile.Profile()
    threading.setprofile(lambda *unused: profiler.enable())
    try:
        at.run()
    finally:
        threading.setprofile(None)
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    rows = sorted(((ct, file, line, name) for (file, line, name), (_, _, _, ct, _) in stats.items()
                   if file.startswith(str(ROOT)) and "/bench/" not in file
                   and name != "<module>"), reverse=True)
    return [f"{ct * 1000:6.0f} ms  {Path(file).relative_to(ROOT)}:{line} {name}"
            for ct, file, line, name in rows[:top]]


def measure_warm(store, repeats: int) -> dict[str, list[float] | str]:
    """Page switches, reruns and widget changes in one warm interpreter.

    Measurements whose p90 is over `SLOW_SECONDS` are profiled once more and
    their costliest seqlab functions printed.

    Returns:
        Seconds of each try per measurement, or the error that stopped it.
    """
    def open_page(page: str):
        at = page_test(page)
        at.run()
        return at

    results: dict[str, list[float] | str] = {}
    # Page switches in one session, like clicks in the sidebar. The first round
    # pays for this interpreter's first import of each page's modules.
    session = open_page("Home")
    for round_index in range(max(3, repeats // 3)):
        for page in ("Data", "Train", "Compare", "Home"):
            started = time.perf_counter()
            session.switch_page(PAGES[page][0]).run()
            elapsed = time.perf_counter() - started
            key = "switch (first round)" if round_index == 0 else "switch (warm)"
            results.setdefault(key, []).append(elapsed)

    run_ids = list(store.runs_frame()["run_id"])
    selections = [run_ids[:5], run_ids[5:15], run_ids[20:23]]

    def select_runs(at, index):
        at.multiselect(key="compare.selected").set_value(selections[index % 3])

    def resubmit(at, index):
        at.number_input(key="train.units").set_value(16 + 8 * (index % 4))
        at.button(key="train.estimate").click()

    splits = ["validation", "test", "train"]

    def change_split(at, index):
        at.radio(key="data.split").set_value(splits[index % 3])

    def change_length(at, index):
        # A new length each time, as a user typing: the token table is rebuilt.
        at.number_input(key="data.sequence_length").set_value(21 + index)

    measurements = [(f"{page}: rerun", page, None) for page in PAGES] + [
        ("Compare: change run selection", "Compare", select_runs),
        ("Train: change units + Update estimate", "Train", resubmit),
        ("Data: change split", "Data", change_split),
        # Last: rebuilding the vocabulary imports TensorFlow into this process.
        ("Data: change sequence length", "Data", change_length),
    ]
    testers = {}
    for name, page, change in measurements:
        try:
            testers[name] = open_page(page)
            results[name] = timed_runs(testers[name], repeats, change)
        except (RuntimeError, KeyError, ValueError) as error:  # a page or widget mid-change
            results[name] = f"FAILED: {' '.join(str(error).split())[:300]}"
    for name, values in results.items():
        shown = values if isinstance(values, str) else f"{spread(values)}  (n={len(values)})"
        print(f"warm {name:<40} {shown}", flush=True)

    for name, page, change in measurements:
        values = results[name]
        if not isinstance(values, str) and percentile(values, 0.9) > SLOW_SECONDS:
            print(f"profile of one more '{name}' (cumulative, under cProfile):", flush=True)
            for line in profile_run(testers[name], change, index=repeats, top=8):
                print(f"    {line}", flush=True)
    return results


# -------------------------------------------------------------------- live
def live_config(epochs: int):
    """A small LSTM run: ~110 batches of 16 per epoch, about a second each on 2 cores (jit off)."""
    from seqlab.config import RunConfig

    return RunConfig().with_overrides({
        "data.dataset": "synthetic-variable", "data.num_examples": 3000,
        "data.synthetic_length": 40, "data.sequence_length": 40, "data.vocabulary_size": 2000,
        "model.arch": "lstm", "model.embedding_dim": 16, "model.units": 16,
        "train.epochs": epochs, "train.batch_size": 16, "train.jit_compile": False,
        "name": "ui-latency live run",
    }).validate()


class StorePoller(threading.Thread):
    """Polls one run every `interval` s; records when its progress or epoch count changes."""

    def __init__(self, store, run_id: str, interval: float = 0.1):
        super().__init__(daemon=True)
        self.store, self.run_id, self.interval = store, run_id, interval
        self.events: list[tuple[float, str, dict, int]] = []  # (time, status, progress, epochs)
        self.halt = threading.Event()

    def run(self) -> None:
        last = None
        while not self.halt.is_set():
            record = self.store.get_run(self.run_id)
            num_epochs = len(self.store.epochs(self.run_id))
            progress = {key: record.progress.get(key) for key in ("phase", "epoch", "batch")}
            state = (record.status, tuple(progress.values()), num_epochs)
            if state != last:
                self.events.append((time.perf_counter(), record.status, progress, num_epochs))
                last = state
            if record.finished:
                return
            self.halt.wait(self.interval)

    def first(self, test) -> float | None:
        return next((when for when, *event in self.events if test(*event)), None)


def wait_for(test, timeout: float, interval: float = 0.1) -> bool:
    """Calls `test()` every `interval` s until it is true (True) or `timeout` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(interval)
    return False


def worker_log_tail(store, lines: int = 3) -> str:
    """Returns the last lines of the newest worker log, to say why a worker did not train."""
    logs = sorted((store.home / "logs").glob("worker-*.log"), key=lambda path: path.stat().st_mtime)
    if not logs:
        return "no worker log was written"
    tail = " / ".join(logs[-1].read_text(errors="replace").strip().splitlines()[-lines:])
    return f"{logs[-1].name}: {tail}"


def terminate_worker(pid: int | None) -> None:
    """Ends the worker process this benchmark started (SIGTERM, then SIGKILL) and reaps it."""
    if not pid:
        return
    from seqlab.store import pid_alive

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_for(lambda: not pid_alive(pid), 15):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 5)
    try:
        os.waitpid(pid, os.WNOHANG)  # our child: do not leave a zombie
    except ChildProcessError:
        pass


def train_live(store, train_seconds: float, on_tick=None, tick_seconds: float = 1.0) -> dict:
    """Queues a real run, watches it train for `train_seconds`, stops it, ends the worker.

    Args:
        store: the run store (the worker trains there).
        train_seconds: how long to let it train once batches flow.
        on_tick: called every `tick_seconds` while it trains (an open page's redraw).

    Returns:
        Poll events, timings of queue -> training, stop -> stopped, tick timings.
    """
    from seqlab import jobs

    queued_at = time.perf_counter()
    run_id = jobs.queue_runs(store, [live_config(epochs=200)])[0]
    poller = StorePoller(store, run_id)
    poller.start()
    ticks: list[float] = []
    worker_pids = set(store.live_workers())

    def training() -> bool:
        record = store.get_run(run_id)
        worker_pids.update(store.live_workers())
        if record.finished:
            raise RuntimeError(f"run {run_id} ended '{record.status}' before training: "
                               f"{record.message}; {worker_log_tail(store)}")
        if (record.status == "queued" and time.perf_counter() - queued_at > 10
                and not store.live_workers()):
            raise RuntimeError(f"run {run_id} is still queued and no worker is alive; "
                               f"{worker_log_tail(store)}")
        return (record.progress.get("batch") or 0) > 0

    try:
        if not wait_for(training, 240):
            raise RuntimeError(f"run {run_id} did not start training within 240 s; "
                               f"{worker_log_tail(store)}")
        training_from = time.perf_counter()
        next_tick = training_from
        while time.perf_counter() - training_from < train_seconds:
            if on_tick is not None and time.perf_counter() >= next_tick:
                tick_started = time.perf_counter()
                on_tick()
                ticks.append(time.perf_counter() - tick_started)
                next_tick = tick_started + tick_seconds
            time.sleep(0.05)
        training_until = time.perf_counter()
        jobs.stop_run(store, run_id)
        wait_for(lambda: store.get_run(run_id).finished, 60)
        stopped_at = time.perf_counter()
    finally:
        if not store.get_run(run_id).finished:
            jobs.stop_run(store, run_id)  # never leave a queued run for the pages to restart
        poller.halt.set()
        poller.join(5)
        for pid in worker_pids | set(store.live_workers()):
            terminate_worker(pid)
    window = [when for when, status, progress, _ in poller.events
              if training_from <= when <= training_until]
    gaps = [b - a for a, b in zip(window, window[1:])]
    epoch_times = [when for (when, _, _, n), (_, _, _, previous)
                   in zip(poller.events[1:], poller.events) if n > previous]
    first_batch = poller.first(lambda status, progress, n: (progress.get("batch") or 0) > 0)
    return {
        "run_id": run_id, "gaps": gaps, "updates": len(window),
        "window_s": training_until - training_from,
        "queue_to_first_batch_s": (first_batch or training_from) - queued_at,
        "epochs_seen": len(epoch_times),
        "epoch_gaps": [b - a for a, b in zip(epoch_times, epoch_times[1:])],
        "stop_s": stopped_at - training_until, "final_status": store.get_run(run_id).status,
        "ticks": ticks,
    }


def measure_live(store, train_seconds: float, run_every: float) -> dict:
    """Trains a run while the Train page (AppTest) redraws every `run_every` s, as an open tab."""
    page = page_test("Train")
    page.run()
    try:
        live = train_live(store, train_seconds, on_tick=page.run, tick_seconds=run_every)
    except RuntimeError as error:
        print(f"live: FAILED: {error}", flush=True)
        return {"failed": str(error)}
    gaps = live["gaps"]
    print(f"live: queue -> first batch in store {live['queue_to_first_batch_s']:.1f} s; "
          f"{live['updates']} store updates in {live['window_s']:.1f} s; gap median "
          f"{statistics.median(gaps) if gaps else math.nan:.2f} s, max "
          f"{max(gaps, default=math.nan):.2f} s; {live['epochs_seen']} epochs; Train page "
          f"redraw while training {spread(live['ticks'])}; stop -> {live['final_status']} in "
          f"{live['stop_s']:.1f} s", flush=True)
    return live


# ----------------------------------------------------------------- browser
def heading(page, title: str):
    return page.get_by_role("heading", name=title, exact=True, level=1)


def measure_browser(home: Path, store, train_seconds: float) -> dict:
    """Cold page loads, sidebar switches and live progress, in Chromium."""
    from playwright.sync_api import sync_playwright

    results: dict = {"cold_title": {}, "cold_whole": {}, "server_ready": {}}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name in NO_TENSORFLOW_PAGES + ("Train",):
                script, title, last_text = PAGES[name]
                label = name
                if name == "Data":
                    # The worst first visit: no vocabulary cached, so the token table
                    # at the bottom imports TensorFlow; the title must not wait for it.
                    label = "Data (vocabulary not cached)"
                    clear_vocabulary_cache(home)
                with StreamlitServer(ROOT, home) as server:
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = context.new_page()
                    path = "" if name == "Home" else "/" + Path(script).stem.split("_", 1)[1]
                    started = time.perf_counter()
                    page.goto(server.url + path, wait_until="commit")
                    heading(page, title).wait_for(timeout=120_000)
                    results["cold_title"][label] = time.perf_counter() - started
                    page.get_by_text(last_text).first.wait_for(timeout=180_000)
                    results["cold_whole"][label] = time.perf_counter() - started
                    results["server_ready"][label] = server.ready_s
                    print(f"browser cold {label}: server ready {server.ready_s:.1f} s, title "
                          f"{results['cold_title'][label]:.2f} s, whole page "
                          f"{results['cold_whole'][label]:.2f} s", flush=True)
                    if name == "Train":
                        results.update(browser_switches(page))
                        results["live"] = browser_live(page, store, train_seconds)
                    context.close()
        finally:
            browser.close()
    return results


def browser_switches(page) -> dict:
    """Sidebar clicks between pages: first visits, then warm visits."""
    switches: dict[str, list[float]] = {"first": [], "warm": []}
    order = ["Compare", "Data", "Home", "Train"]
    for round_index in range(3):
        for name in order:
            title = PAGES[name][1]
            # A link's text is its icon's ligature name, then the page's label.
            link = page.locator('[data-testid="stSidebarNav"] a').filter(
                has_text=re.compile(rf"{name}\s*$"))
            started = time.perf_counter()
            link.first.click()
            heading(page, title).wait_for(timeout=120_000)
            switches["first" if round_index == 0 else "warm"].append(
                time.perf_counter() - started)
    print(f"browser sidebar switch: first visit {spread(switches['first'])}, "
          f"warm {spread(switches['warm'])}", flush=True)
    return {"switch_first": switches["first"], "switch_warm": switches["warm"]}


def browser_live(page, store, train_seconds: float) -> dict:
    """Trains a run and records when the open Train page's progress text changes."""
    from playwright.sync_api import Error as PlaywrightError

    texts: list[tuple[float, str]] = []

    def sample() -> None:
        try:
            text = " | ".join(page.locator('[data-testid="stProgress"]').all_inner_texts())
        except PlaywrightError:  # a bar replaced while being read: read again next tick
            return
        if text and (not texts or texts[-1][1] != text):
            texts.append((time.perf_counter(), text))

    try:
        live = train_live(store, train_seconds, on_tick=sample, tick_seconds=0.1)
    except RuntimeError as error:
        print(f"browser live: FAILED: {error}", flush=True)
        return {"failed": str(error)}
    times = [when for when, text in texts if "batch" in text]
    gaps = [b - a for a, b in zip(times, times[1:])]
    print(f"browser live: {len(times)} progress texts seen in {live['window_s']:.1f} s; gap "
          f"median {statistics.median(gaps) if gaps else math.nan:.2f} s, max "
          f"{max(gaps, default=math.nan):.2f} s", flush=True)
    return {"gaps": gaps, "updates": len(times), "window_s": live["window_s"]}


# ------------------------------------------------------------------ scale
SCALE_RUNS = 1000  # --runs at or above this: only the Compare page, against smaller stores
COMPARE_TARGET_SECONDS = 0.3  # the target for a Compare redraw with 10,000 runs


def downgraded_copy(home: Path, folder: Path) -> Path:
    """Copies a store's runs.db into `folder` as seqlab wrote it at schema version 2 (no summaries)."""
    import sqlite3

    from seqlab.store import RunStore

    RunStore(home).check()
    folder.mkdir(parents=True)
    source = sqlite3.connect(home / "runs.db")
    target = sqlite3.connect(folder / "runs.db")
    with target:
        source.backup(target)
    source.close()
    with target:
        target.execute("DROP TABLE summaries")
        target.execute("DROP TABLE revision")
        target.execute("PRAGMA user_version = 2")
    target.close()
    return folder


def open_tab(at) -> str:
    """Returns the Compare page's open tab (the first, "Curves", until one is clicked)."""
    try:
        return at.session_state["compare.tab"] or "Curves"
    except KeyError:
        return "Curves"


def measure_compare_at(store, repeats: int) -> dict[str, list[float] | str]:
    """The Compare page of one store in this interpreter: first render, reruns, selections, tabs.

    Returns:
        Seconds of each try per measurement (or the error that stopped it):
        the first render (runs read and labelled), reruns, run-selection
        changes, a rerun of each tab, and a redraw after a run was added
        (everything derived from the runs is computed again).
    """
    from seqlab.ui.compare import TABS

    os.environ["SEQLAB_HOME"] = str(store.home)
    run_ids = list(store.runs_frame()["run_id"])
    selections = [run_ids[:5], run_ids[5:15], run_ids[20:23]]
    template = store.get_run(run_ids[-1])

    def select_runs(at, index):
        at.multiselect(key="compare.selected").set_value(selections[index % 3])

    def add_run(at, index):
        store.import_runs([{"config": template.config.with_overrides({"seed": 1000 + index}),
                            "status": "completed", "epochs": store.epochs(template.run_id)}])

    results: dict[str, list[float] | str] = {}
    testers = {}
    try:
        at = page_test("Compare")
        started = time.perf_counter()
        at.run()
        results["Compare: first render in this interpreter"] = [time.perf_counter() - started]
        problems = page_problems(at)
        if problems:
            raise RuntimeError(problems[0][:300])
    except RuntimeError as error:
        return {"Compare: first render in this interpreter": f"FAILED: {' '.join(str(error).split())[:300]}"}
    few = max(3, repeats // 2)
    measurements = [("Compare: rerun", "Curves", None, repeats),
                    ("Compare: change run selection", "Curves", select_runs, repeats)]
    measurements += [(f"Compare: {tab} tab, rerun", tab, None, few) for tab in TABS]
    measurements += [("Compare: redraw after a run was added", "Curves", add_run, few)]
    for name, tab, change, tries in measurements:
        try:
            if open_tab(at) != tab:
                at.session_state["compare.tab"] = tab  # what clicking the tab does
                at.run()
            testers[name] = change
            results[name] = timed_runs(at, tries, change)
        except (RuntimeError, KeyError, ValueError) as error:
            results[name] = f"FAILED: {' '.join(str(error).split())[:300]}"
    for name, values in results.items():
        shown = values if isinstance(values, str) else f"{spread(values)}  (n={len(values)})"
        print(f"  {name:<50} {shown}", flush=True)
    slow = [name for name, change in testers.items() if change is not select_runs and change is not add_run
            and not isinstance(results[name], str) and percentile(results[name], 0.9) > COMPARE_TARGET_SECONDS]
    for name in slow:
        tab = name.removeprefix("Compare: ").removesuffix(" tab, rerun") if name.endswith("tab, rerun") else "Curves"
        at.session_state["compare.tab"] = tab
        at.run()
        print(f"  profile of one more '{name}' (cumulative, under cProfile):", flush=True)
        for line in profile_run(at, top=8):
            print(f"      {line}", flush=True)
    return results


def measure_upgrade(home: Path) -> float:
    """Seconds to open a copy of the store as schema version 2 left it and summarize every run once."""
    from seqlab.store import RunStore

    folder = Path(tempfile.mkdtemp(prefix="seqlab-ui-latency-v2-"))
    try:
        downgraded_copy(home, folder / "store")
        started = time.perf_counter()
        RunStore(folder / "store").summaries_frame()
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scale_report(counts: list[int], cold: dict[int, dict], warm: dict[int, dict], upgrade: dict[int, float],
                 epochs: int, repeats: int, load: tuple) -> None:
    """Prints the Compare page's figures at each store size side by side, with the ratio to the smallest."""
    largest, smallest = counts[-1], counts[0]
    header = " | ".join(f"{count:,} runs" for count in counts)
    print(f"\nCompare page, finished runs x {epochs} epochs in the store; {os.cpu_count()} CPU cores "
          f"(load average {load[0]:.1f} at the start, {load[1]:.1f} at the end); warm figures: median / p90 "
          f"over {repeats} tries (tabs and after-a-change over {max(3, repeats // 2)}), one interpreter, "
          f"AppTest.\n")
    print(f"| measurement | {header} | {largest:,} vs {smallest:,} (median) | target |")
    print(f"|---|{'---|' * len(counts)}---|---|")

    def row(name: str, cells: list[str], ratio: str, target: str) -> None:
        print(f"| {name} | {' | '.join(cells)} | {ratio} | {target} |")

    def ratio_of(first: float, last: float) -> str:
        return f"{last / first:.2f}x" if first > 0 and math.isfinite(first) and math.isfinite(last) else "-"

    cells, seconds = [], []
    for count in counts:
        result = cold[count]
        if "failed" in result:
            cells.append("FAILED")
            seconds.append(math.nan)
        else:
            cells.append(f"{result['run_s']:.2f} s" + (", TensorFlow imported" if result["tensorflow"] else ""))
            seconds.append(result["run_s"])
    row("Compare: first render, fresh interpreter (AppTest)", cells, ratio_of(seconds[0], seconds[-1]), "a few s")
    cells = [f"{upgrade[count]:.2f} s" for count in counts]
    row("Opening a schema-2 store: migrate + summarize every run once", cells,
        ratio_of(upgrade[smallest], upgrade[largest]), "once")
    for name in warm[largest]:
        cells, medians = [], []
        for count in counts:
            values = warm[count].get(name, "-")
            if isinstance(values, str):
                cells.append(values[:60])
                medians.append(math.nan)
            elif len(values) == 1:
                cells.append(f"{values[0]:.2f} s")
                medians.append(values[0])
            else:
                cells.append(spread(values))
                medians.append(statistics.median(values))
        target = f"< {COMPARE_TARGET_SECONDS:g} s" if name in ("Compare: rerun", "Compare: change run selection") else ""
        row(name, cells, ratio_of(medians[0], medians[-1]), target)


def main_scale(args) -> None:
    """`--runs` of `SCALE_RUNS` or more: the Compare page with that many runs beside `--baseline-runs`."""
    began = time.perf_counter()
    counts = sorted({*args.baseline_runs, args.runs})
    root = Path(tempfile.mkdtemp(prefix="seqlab-ui-latency-"))
    try:
        stores = {}
        for count in counts:
            started = time.perf_counter()
            stores[count] = seed_store(root / f"runs-{count}", count, args.epochs)
            print(f"# {count} runs x {args.epochs} epochs seeded ({time.perf_counter() - started:.1f} s)",
                  flush=True)
        load_before = os.getloadavg()[0]
        cold, warm, upgrade = {}, {}, {}
        for count in counts:
            print(f"# {count:,} runs", flush=True)
            os.environ["SEQLAB_HOME"] = str(stores[count].home)
            cold[count] = measure_cold(stores[count].home, [("Compare", "Compare", False)])["Compare"]
            upgrade[count] = measure_upgrade(stores[count].home)
            print(f"  upgrade from schema 2: {upgrade[count]:.2f} s", flush=True)
        for count in counts:
            print(f"# {count:,} runs, warm", flush=True)
            warm[count] = measure_compare_at(stores[count], args.repeats)
        scale_report(counts, cold, warm, upgrade, args.epochs, args.repeats, (load_before, os.getloadavg()[0]))
        print(f"\n# total {time.perf_counter() - began:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ report
def median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s / {max(values):.2f} s" if values else "-"


def report(args, cold, warm, live, browser, run_every: float, load: tuple) -> None:
    """Prints the Markdown table for the README."""
    rows: list[tuple[str, str, str]] = []
    for label, result in cold.items():
        name = f"{label}: first render, fresh interpreter (AppTest)"
        if "failed" in result:
            rows.append((name, "FAILED (see above)", ""))
            continue
        target = "a few s, no TensorFlow" if result["page"] in NO_TENSORFLOW_PAGES else "a few s"
        tf = "TensorFlow imported" if result["tensorflow"] else "no TensorFlow"
        if result["heavy"]:
            first = next(iter(result["heavy"].values()))
            via = first["via"]
            where = f"{via[0]} -> ... -> {via[-1]}" if len(via) > 1 else "".join(via)
            tf += f" {first['after_s']:.1f} s in, via {where}"
        rows.append((name, f"{result['run_s']:.2f} s, {tf}", target))
    if browser:
        for page, seconds in browser["cold_title"].items():
            rows.append((f"{page}: browser on a just-started server, navigation -> title / "
                         f"whole page", f"{seconds:.2f} s / {browser['cold_whole'][page]:.2f} s",
                         "a few s"))
        rows.append(("Browser: sidebar page switch, first visit / warm (median)",
                     f"{statistics.median(browser['switch_first']):.2f} s / "
                     f"{statistics.median(browser['switch_warm']):.2f} s", "< 1 s"))
    rows.append(("Page switch, warm server (AppTest switch_page; median / p90)",
                 spread(warm["switch (warm)"]), "< 0.5 s"))
    for name, values in warm.items():
        if not name.startswith("switch"):
            shown = values if isinstance(values, str) else spread(values)
            rows.append((f"{name} (median / p90)", shown, "< 0.5 s"))
    if "failed" in live:
        rows.append(("Live run through the worker", "FAILED (see above)", ""))
    else:
        gaps = live["gaps"]
        rows.append(("Live: progress update interval in the store (median / max)",
                     median_max(gaps), ""))
        rows.append(("Live: Train page full redraw while a run trains (median / p90)",
                     spread(live["ticks"]), "< 0.5 s"))
        # The fragment redraws only the live cards, so its own time is small next to
        # these; the browser row below measures the whole chain.
        rows.append((f"Live: worst visible refresh = max interval + run_every ({run_every:g} s)",
                     f"{max(gaps, default=math.nan) + run_every:.2f} s", "<= 2 s"))
        rows.append(("Live: Start -> first batch in the store (worker start + TF import)",
                     f"{live['queue_to_first_batch_s']:.1f} s", ""))
        rows.append(("Live: Stop -> run stopped", f"{live['stop_s']:.1f} s", ""))
    if browser and "live" in browser:
        browser_live_result = browser["live"]
        rows.append(("Live: browser, progress text change interval (median / max)",
                     "FAILED (see above)" if "failed" in browser_live_result
                     else median_max(browser_live_result["gaps"]), "<= 2 s"))

    print(f"\n{args.runs} finished runs x {args.epochs} epochs in the store; {os.cpu_count()} "
          f"CPU cores (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end); "
          f"warm figures over {args.repeats} tries.\n")
    print("| measurement | this machine | target |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50,
                        help=f"finished runs seeded in the store; {SCALE_RUNS} or more: only the Compare "
                             f"page, measured beside stores of --baseline-runs runs")
    parser.add_argument("--baseline-runs", type=int, nargs="+", default=[50, 1000],
                        help="with a large --runs: the run counts of the stores it is compared with")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per seeded run")
    parser.add_argument("--repeats", type=int, default=10, help="reruns per warm measurement")
    parser.add_argument("--train-seconds", type=float, default=15.0,
                        help="how long the live run trains before it is stopped")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    parser.add_argument("--child-cold", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_cold:
        print(json.dumps(cold_child(args.child_cold)))
        return
    if args.epochs < 1 or args.runs < 1:
        parser.error(f"--runs and --epochs: received {args.runs} and {args.epochs}, expected at least 1")
    if args.runs >= SCALE_RUNS:
        main_scale(args)
        return

    began = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="seqlab-ui-latency-"))
    os.environ["SEQLAB_HOME"] = str(home)  # AppTest pages read the store from here
    try:
        store = seed_store(home, args.runs, args.epochs)
        print(f"# ui_latency: {args.runs} runs x {args.epochs} epochs seeded in {home} "
              f"({time.perf_counter() - began:.1f} s)", flush=True)
        load_before = os.getloadavg()[0]
        run_every = run_every_seconds()
        cold = measure_cold(home)
        warm = measure_warm(store, args.repeats)
        live = measure_live(store, args.train_seconds, run_every)
        browser = None
        if not args.no_browser:
            if CHROMIUM.exists():
                from playwright.sync_api import Error as PlaywrightError

                try:
                    browser = measure_browser(home, store, args.train_seconds)
                # A page that never drew, or a server that never answered (ServerError).
                except (RuntimeError, PlaywrightError) as error:
                    print(f"# browser part FAILED: {' '.join(str(error).split())[:500]}",
                          flush=True)
            else:
                print(f"# browser part skipped: {CHROMIUM} not found", flush=True)
        report(args, cold, warm, live, browser, run_every, (load_before, os.getloadavg()[0]))
        print(f"\n# total {time.perf_counter() - began:.0f} s")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
