"""Running runs: a queue in the store, worker processes that train it, stop, heartbeats,
and runs trained in the foreground.

Training never runs in a Streamlit script (a click reruns the script and
would kill it). The app calls `queue_groups` (or `queue_runs`), which records
queued runs and makes sure a worker process is alive (`python -m seqlab
--home ... worker`, detached, so closing the tab does not stop it). Workers form
a pool of up to `pool_size()` processes (one more than the cores by default): each
claims the oldest queued run, trains it with its share of the cores, and
exits after a while with nothing to do. A warm worker (`ensure_worker(...,
warm=True)`, called when a page opens) has TensorFlow imported before the
first click needs it. Every ~2 s a heartbeat thread refreshes the worker's and
its run's heartbeat; a run whose worker died is marked "interrupted" by
whoever next reaps (`RunStore.reap_dead_runs`), with the epochs done so far
kept. The command line trains in its own process instead
(`train_foreground`), with the same heartbeats.

With a Ray cluster configured (`SEQLAB_RAY_ADDRESS`, or `worker --ray
ADDRESS`), the one worker started is a dispatcher that trains the queued runs
as Ray tasks on the cluster instead (`seqlab.ray_backend`, imported only then).

Queueing is the queue's boundary: `queue_runs` and `queue_groups` validate
every config before recording any, so callers need not validate on the way.

Importing this module loads neither TensorFlow nor Streamlit: `seqlab.training`
imports Keras only when it builds a model.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Iterator, Sequence

from seqlab.config import RunConfig
from seqlab.quotas import check_queue
from seqlab.store import RunRecord, RunStore
from seqlab.training import ProgressCallback, train_run
from seqlab.worker_process import exit_on_signal, log, one_line

TrainFunction = Callable[[RunStore, str], object]

HEARTBEAT_SECONDS = 2.0
# A worker with nothing to do waits this long before exiting: long enough that
# a student designing a run between two clicks finds TensorFlow still imported.
IDLE_TIMEOUT_SECONDS = 300.0
LOCK_FILE = "worker.lock"
# Workers kept warm (TensorFlow imported, waiting) while the app is open: a
# preset's runs start at once, side by side, without a large pool idling.
WARM_WORKERS = 3
POOL_SIZE_VARIABLE = "SEQLAB_WORKERS"  # workers at most (default: one more than the cores)
THREADS_VARIABLE = "SEQLAB_WORKER_THREADS"  # threads per worker (default: cores / pool size)
# A Ray head ("HOST:PORT"): set, the worker is one dispatcher training runs as
# Ray tasks on the cluster (`seqlab.ray_backend`); unset, Ray is never imported.
RAY_ADDRESS_VARIABLE = "SEQLAB_RAY_ADDRESS"
LOG_FOLDER = "logs"
# The folder holding the `seqlab` package: the worker's cwd and PYTHONPATH.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent

# Worker processes this process started (pid bookkeeping only, no user
# state): reaped so none stays a zombie, and watched for crashes at start-up.
_spawned: list[tuple[subprocess.Popen, float, Path]] = []
_spawned_lock = threading.Lock()
_start_crashes: list[Path] = []  # logs of workers that died soon after starting
START_CRASH_LIMIT = 3  # after this many, queued runs fail with the log's words
START_CRASH_SECONDS = 30.0


def queue_runs(
    store: RunStore,
    configs: list[RunConfig],
    *,
    group_id: str | None = None,
    start_worker: bool = True,
) -> list[str]:
    """Validates every config, records them as queued runs and makes sure a worker runs them.

    Args:
        store: the run store.
        configs: the recipes, trained in this order.
        group_id: the group (seed repeats) the runs belong to.
        start_worker: start a worker process when none is alive.

    Returns:
        The new run ids, in the order of `configs`.

    Raises:
        ValueError: when a config is invalid (then nothing is queued); the
            message names which one when there are several.
        QuotaExceeded: (a ValueError) when the store's workspace would pass
            one of the server's limits (`seqlab.quotas`); nothing is queued.
    """
    configs = list(configs)
    _validate_all(configs)
    check_queue(store, configs)
    run_ids = [store.create_run(config, group_id=group_id) for config in configs]
    if start_worker:
        ensure_worker(store)
    return run_ids


def queue_groups(
    store: RunStore, groups: Sequence[Sequence[RunConfig]], *, start_worker: bool = True
) -> list[str]:
    """Queues lists of configs, each list of several as one seed group, all or nothing.

    Args:
        store: the run store.
        groups: the runs to queue, in order; a list of more than one config
            gets a new group id, a list of one is an ungrouped run.
        start_worker: start a worker process when none is alive.

    Returns:
        The new run ids, in order.

    Raises:
        ValueError: when any config is invalid (its own message; nothing is
            queued then).
        QuotaExceeded: (a ValueError) when the store's workspace would pass
            one of the server's limits (`seqlab.quotas`); nothing is queued.
    """
    groups = [list(configs) for configs in groups]
    for configs in groups:
        _validate_all(configs, numbered=False)
    check_queue(store, [config for configs in groups for config in configs])
    run_ids = []
    for configs in groups:
        group_id = store.new_group_id() if len(configs) > 1 else None
        run_ids += [store.create_run(config, group_id=group_id) for config in configs]
    if start_worker:
        ensure_worker(store)
    return run_ids


def train_foreground(
    config: RunConfig,
    store: RunStore,
    *,
    on_progress: ProgressCallback | None = None,
    group_id: str | None = None,
) -> RunRecord:
    """Validates `config`, records it as a new run and trains it in this process.

    What the command line does instead of queueing: the run is created as
    running (so no background worker claims it) and sends heartbeats while
    it trains, so a long step (loading data, an XLA compile) does not make it
    look dead to a reaper.

    Args:
        config: the recipe.
        store: where the run, its curves and its model are kept.
        on_progress: optional callable receiving progress dicts (phase, epoch,
            epochs, batch, batches, and `metrics` at epoch ends); the command
            line draws its progress bar from these.
        group_id: optional group (seed repeats) the run belongs to.

    Returns:
        The finished run's record.

    Raises:
        ValueError: when the config is invalid (nothing is recorded then).
    """
    _validate_all([config])
    run_id = store.create_run(config, status="running", group_id=group_id)
    store.start_run(run_id, os.getpid())
    store.set_placement(run_id, "local", socket.gethostname())
    with keep_alive(store, run_id=run_id):
        return train_run(store, run_id, on_progress=on_progress)


def pool_size() -> int:
    """Returns how many workers may train at once: `SEQLAB_WORKERS`, else one more than the cores.

    One more, because a run's one-off phases (reading data, tracing, XLA's
    compile) use one core: a third run overlapping two others' finished the
    classroom preset sooner on 2 cores (bench/time_to_result.py, README).

    Raises:
        ValueError: when `SEQLAB_WORKERS` is set but not a whole number >= 1.
    """
    return _positive_setting(POOL_SIZE_VARIABLE, (os.cpu_count() or 1) + 1)


def worker_threads(size: int | None = None) -> int:
    """Returns the threads each worker computes with: `SEQLAB_WORKER_THREADS`, else cores / pool size.

    Workers of a full pool then share the cores instead of fighting over them.

    Raises:
        ValueError: when `SEQLAB_WORKER_THREADS` is set but not a whole number >= 1.
    """
    default = max(1, (os.cpu_count() or 1) // (size or pool_size()))
    return _positive_setting(THREADS_VARIABLE, default)


def ensure_worker(store: RunStore, *, command: Sequence[str] | None = None,
                  warm: bool = False, size: int | None = None) -> int | None:
    """Reaps dead runs and starts workers for the queued runs no live worker is free for.

    Up to `size` workers (`pool_size()`) train at once, so independent queued
    runs train side by side. Two sessions calling at once start no more than
    are needed: the count and the start happen under a lock file, and each
    new pid is registered before the lock is released.

    Args:
        store: the run store.
        command: the worker command line (default: `python -m seqlab --home
            <store.home> worker`); tests pass a script here.
        warm: keep up to `WARM_WORKERS` workers alive even with nothing
            queued, so that TensorFlow is imported before the first run is
            queued (the app does this when a page opens).
        size: the most workers alive at once (None: `pool_size()`).

    Returns:
        The pid of a live (or new) worker, or None when nothing is queued and
        no worker is alive (and `warm` is false).
    """
    _reap_spawned()
    store = store.for_actor(None)  # the pool serves every workspace: count all their runs
    store.reap_dead_runs()
    if _fail_queue_after_start_crashes(store):
        return None
    if configured_ray_address() and command is None:
        size = 1  # one dispatcher feeds the whole cluster
    size = size or pool_size()
    with _lock(store.home / LOCK_FILE):
        live = store.live_workers()
        busy = {record.worker_pid for record in store.list_runs(statuses=["running"])}
        idle = len([pid for pid in live if pid not in busy])
        queued = len(store.list_runs(statuses=["queued"], limit=size))
        wanted = min(size - len(live), queued - idle)
        if warm:
            wanted = max(wanted, min(size, WARM_WORKERS) - len(live))
        started = []
        for _ in range(max(wanted, 0)):
            pid = _spawn_worker(store, command, threads=worker_threads(size))
            # Registered now, so a session checking right after us sees it alive
            # even before the new process has started up.
            store.register_worker(pid)
            started.append(pid)
        return (live + started)[0] if live or started else None


def run_worker(
    store: RunStore,
    *,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    poll_seconds: float = 0.5,
    train: TrainFunction | None = None,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ray_address: str | None = None,
) -> int:
    """Trains queued runs one after another until none has come for `idle_timeout` seconds.

    The worker registers itself in the store and sends heartbeats from a
    thread. An exception from `train` marks that run "failed" with a one-line
    message and the worker goes on to the next run. On SIGTERM (or Ctrl+C) the
    run in progress is marked "interrupted" and the worker unregisters.

    With `ray_address`, the worker is a dispatcher instead
    (`seqlab.ray_backend.run_ray_dispatcher`): it claims queued runs while
    the Ray cluster has room and trains each as a Ray task.

    Args:
        store: the run store.
        idle_timeout: seconds with nothing queued before the worker exits.
        poll_seconds: pause between looks at the queue while idle.
        train: `train(store, run_id)` trains a claimed run and records its end
            (None: `seqlab.training.train_run`).
        heartbeat_seconds: pause between heartbeats.
        ray_address: a Ray head ("HOST:PORT") to train on (None: here, in
            this process; `configured_ray_address()` is what the command line passes).

    Returns:
        How many runs this worker took from the queue (failed ones included).

    Raises:
        ValueError: when both `train` and `ray_address` are given (a Ray task
            trains through `seqlab.training.train_run`).
    """
    if ray_address:
        if train is not None:
            raise ValueError("run_worker: received both train and ray_address; a Ray task trains "
                             "through seqlab.training.train_run, so give one of them")
        from seqlab.ray_backend import run_ray_dispatcher  # here: without Ray configured, never imported

        return run_ray_dispatcher(store, ray_address, idle_timeout=idle_timeout,
                                  poll_seconds=poll_seconds, heartbeat_seconds=heartbeat_seconds)
    train = train or train_run
    pid = os.getpid()
    trained = 0
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, exit_on_signal)
    store.register_worker(pid)
    log(f"worker {pid} started on {store.home}")
    try:
        with keep_alive(store, worker_pid=pid, interval_seconds=heartbeat_seconds) as heartbeat:
            try:
                last_busy = time.monotonic()
                while True:
                    store.reap_dead_runs()
                    record = store.claim_next_run(pid)
                    if record is None:
                        if time.monotonic() - last_busy < idle_timeout:
                            time.sleep(poll_seconds)
                            continue
                        # Unregister first, then look once more: a session that
                        # queued after that look will find no live worker and
                        # start one, so no queued run is left without a worker.
                        store.unregister_worker(pid)
                        if not store.list_runs(statuses=["queued"], limit=1):
                            break
                        store.register_worker(pid)
                        continue
                    heartbeat.run_id = record.run_id
                    trained += 1
                    _train_one(store, record.run_id, train)
                    heartbeat.run_id = None
                    last_busy = time.monotonic()
            except BaseException as error:
                if heartbeat.run_id is not None:
                    if isinstance(error, (SystemExit, KeyboardInterrupt)):
                        reason = "was terminated"
                    else:
                        reason = f"crashed ({one_line(error)})"
                    store.mark_interrupted(heartbeat.run_id, f"worker process {pid} {reason}")
                raise
    finally:
        store.unregister_worker(pid)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        log(f"worker {pid} exiting after {trained} run(s)")
    return trained


def configured_ray_address() -> str | None:
    """Returns the Ray head workers train on: `SEQLAB_RAY_ADDRESS` ("HOST:PORT"), or None when unset."""
    return os.environ.get(RAY_ADDRESS_VARIABLE, "").strip() or None


def worker_command(store: RunStore) -> list[str]:
    """Returns the command line of a worker for `store`: with `--ray ADDRESS` when Ray is configured."""
    command = [sys.executable, "-m", "seqlab", "--home", str(store.home), "worker"]
    address = configured_ray_address()
    return command + ["--ray", address] if address else command


def stop_run(store: RunStore, run_id: str) -> None:
    """Asks a run to stop: a queued run stops at once, a running one within a few batches.

    Raises:
        RunNotFoundError: when there is no such run (or the store's actor may not see it).
        PermissionDenied: when the store's actor sees the run but does not own it.
    """
    store.request_stop(run_id)


def worker_alive(store: RunStore) -> bool:
    """Returns whether a worker process is alive and sending heartbeats."""
    return bool(store.live_workers())


class Heartbeat:
    """Refreshes a worker's and/or a run's heartbeat from a daemon thread.

    `run_id` may be changed while it runs (the worker points it at the run it trains).
    """

    def __init__(self, store: RunStore, *, run_id: str | None = None,
                 worker_pid: int | None = None, interval_seconds: float = HEARTBEAT_SECONDS):
        self.store = store
        self.run_id = run_id
        self.worker_pid = worker_pid
        self.interval_seconds = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="seqlab-heartbeat", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval_seconds):
            try:
                if self.worker_pid is not None:
                    self.store.worker_heartbeat(self.worker_pid)
                run_id = self.run_id
                if run_id is not None:
                    self.store.set_progress(run_id)  # no fields: heartbeat only
            except Exception as error:  # noqa: BLE001 - a busy or vanished row must not end the thread
                log(f"heartbeat failed: {type(error).__name__}: {error}")


@contextlib.contextmanager
def keep_alive(
    store: RunStore,
    *,
    run_id: str | None = None,
    worker_pid: int | None = None,
    interval_seconds: float = HEARTBEAT_SECONDS,
) -> Iterator[Heartbeat]:
    """Sends heartbeats for a run and/or a worker while the block runs.

    `train_foreground` wraps its training in this, so that a long step
    (loading data, compiling) does not make the run look dead to a reaper
    (`RunStore.find_dead_runs`, 60 s without a heartbeat).
    """
    heartbeat = Heartbeat(store, run_id=run_id, worker_pid=worker_pid,
                          interval_seconds=interval_seconds).start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()


# ----------------------------------------------------------------- helpers
def _validate_all(configs: list[RunConfig], numbered: bool = True) -> None:
    """Refuses any config that is not a valid `RunConfig`, before anything is recorded.

    Raises:
        ValueError: naming the config ("run 2 of 3: ...") when `numbered` and
            there are several.
    """
    for index, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise ValueError(
                f"configs[{index}]: received {type(config).__name__}, expected a RunConfig"
            )
        try:
            config.validate()
        except ValueError as error:
            if len(configs) == 1 or not numbered:
                raise
            raise ValueError(f"run {index + 1} of {len(configs)}: {error}") from None


def _train_one(store: RunStore, run_id: str, train: TrainFunction) -> None:
    log(f"training {run_id}")
    store.set_placement(run_id, "local", socket.gethostname())
    try:
        train(store, run_id)
    except Exception as error:  # noqa: BLE001 - the worker must survive any run
        traceback.print_exc(file=sys.stderr)
        if not store.get_run(run_id).finished:
            store.finish_run(run_id, "failed", message=one_line(error))
    else:
        if not store.get_run(run_id).finished:
            store.finish_run(run_id, "failed",
                             message="training returned without recording how the run ended")
    log(f"{run_id}: {store.get_run(run_id).status}")


def _spawn_worker(store: RunStore, command: Sequence[str] | None, threads: int = 0) -> int:
    if command is None:
        command = worker_command(store)
    log_folder = store.home / LOG_FOLDER
    log_folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if threads:
        env[THREADS_VARIABLE] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if part
    )
    # The pid is known only after the start: write to a temporary name, then
    # rename (the open file keeps receiving the worker's output).
    starting = log_folder / f"worker-starting-{os.getpid()}-{threading.get_ident()}.log"
    with open(starting, "ab") as output:
        process = subprocess.Popen(
            list(command), cwd=PACKAGE_PARENT, env=env, stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    log_path = log_folder / f"worker-{process.pid}.log"
    starting.rename(log_path)
    with _spawned_lock:
        _spawned.append((process, time.time(), log_path))
    log(f"started worker {process.pid}: {' '.join(command)}")
    return process.pid


def _reap_spawned() -> None:
    """Waits for workers this process started that have exited, so none stays a zombie.

    A worker that exits with an error soon after starting (a broken install, a
    bad environment) is remembered, so the app does not restart it forever.
    """
    with _spawned_lock:
        alive = []
        for process, started, log_path in _spawned:
            code = process.poll()
            if code is None:
                alive.append((process, started, log_path))
            elif code != 0 and time.time() - started < START_CRASH_SECONDS:
                _start_crashes.append(log_path)
            else:
                _start_crashes.clear()
        _spawned[:] = alive


def _fail_queue_after_start_crashes(store: RunStore) -> bool:
    """Fails the queued runs once workers keep dying at start; True if it did."""
    with _spawned_lock:
        if len(_start_crashes) < START_CRASH_LIMIT:
            return False
        log_path = _start_crashes[-1]
        _start_crashes.clear()
    try:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    reason = lines[-1].strip() if lines else "no output"
    for record in store.list_runs(statuses=["queued"]):
        store.finish_run(
            record.run_id, "failed",
            message=f"the worker process could not start ({START_CRASH_LIMIT} tries): "
                    f"{reason[:300]} (log: {log_path})",
        )
    return True


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `path` (across processes and threads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _positive_setting(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return max(1, int(default))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{variable}: received {text!r}, expected a whole number >= 1 (or leave it unset)")
    return int(text)

