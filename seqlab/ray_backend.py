"""Training queued runs as Ray tasks on a cluster, while the store stays on its own host.

With `SEQLAB_RAY_ADDRESS` set (or `python -m seqlab worker --ray ADDRESS`),
the worker that `seqlab.jobs` starts is a *dispatcher* (`run_ray_dispatcher`):
it claims queued runs from the store (`RunStore.claim_next_run`, fair across
workspaces) while the cluster has room for them, and submits each as a Ray
task that declares what it needs (`SEQLAB_RAY_CPUS`, default 1 CPU;
`SEQLAB_RAY_GPUS` for a GPU, or a share of one). The task trains through the
one training path, `seqlab.training.train_run`, given a `RemoteRunStore`:

- reads come from the run's record, sent with the task;
- every write the training path makes (`FORWARDED_METHODS`: progress, epochs,
  step losses, meta.json, attention history, the end of the run) is posted to
  a small Ray actor, the bridge, which the dispatcher drains every half
  second and applies to the real store in the order it was made. Only the
  host that owns the store writes it, so SQLite's locking (per host) holds;
- files (the model, the vocabulary, TensorBoard's event files, error.log) are
  written in a scratch store on the node and returned as bytes when the task
  ends; the dispatcher writes them into the run's artifact folder before it
  records how the run ended, so a finished run always has its model;
- stop requests are copied from the store to the bridge, which the task asks
  between batches (at most once a second).

A task is never retried (`max_retries=0`): a second attempt would train the
run again and add its epochs twice. A Ray worker or node that dies leaves its
run "interrupted" with the epochs that reached the host. The dispatcher
sends the heartbeats of the runs it has in flight (they are recorded as run
by its process), so reapers on the host leave them alone, and a dispatcher
that dies leaves them to those reapers.

Ray is an optional extra (`requirements-cluster.txt`): nothing else in
seqlab imports this module unless Ray is configured, and this module imports
Ray only inside its functions, so its pure parts (the proxy store, the
artifact checks) are usable without it.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from seqlab.config import BUILTIN_DATASETS
from seqlab.store import RunRecord, RunStore
from seqlab.worker_process import exit_on_signal, log, one_line

CPUS_VARIABLE = "SEQLAB_RAY_CPUS"  # CPUs each run's task declares (default 1)
GPUS_VARIABLE = "SEQLAB_RAY_GPUS"  # GPUs each run's task declares (default 0: none)
# The folder on each node for its caches and the files of runs being trained there.
SCRATCH_VARIABLE = "SEQLAB_RAY_SCRATCH"
NAMESPACE = "seqlab"
# How long a task trusts its last answer about a stop request: the training
# path asks every half second, and a bridge call crosses the network.
STOP_CACHE_SECONDS = 1.0
# How often the dispatcher re-reads the cluster's size (nodes come and go).
CAPACITY_SECONDS = 5.0
# The seqlab package, shipped to every node with the tasks (Ray's `py_modules`),
# so nodes train with exactly the host's code.
PACKAGE_FOLDER = Path(__file__).resolve().parent
# Files of uploaded datasets go with the task when they are at most this large
# (the loader's own limit is the same: `seqlab.data.files.MAX_FILE_BYTES`).
MAX_DATA_BYTES = 200 * 1024 * 1024

# The RunStore writes the training path makes, forwarded from a Ray task to the
# host and applied there in order. Anything else a task calls on its store is
# refused (`RemoteStoreError`): a read of the live store, or a write the host has
# not agreed to apply, would silently diverge from the store.
FORWARDED_METHODS = frozenset({
    "set_progress", "set_num_params", "set_majority_fraction", "add_epoch",
    "add_step_losses", "write_meta", "write_attention_history", "finish_run",
    "set_placement",
})


class RayUnavailableError(RuntimeError):
    """Ray is not installed here, or the cluster at the address cannot be reached."""


class RemoteStoreError(AttributeError):
    """A run training on Ray asked its store for something the host does not forward."""


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class RaySettings:
    """What each run's Ray task declares: CPUs (and with them its TensorFlow threads) and GPUs."""

    cpus: float = 1.0
    gpus: float = 0.0

    @property
    def threads(self) -> int:
        """TensorFlow's threads in the task: its CPUs, at least one."""
        return max(1, int(self.cpus))


def ray_settings() -> RaySettings:
    """Returns the task resources set by `SEQLAB_RAY_CPUS` (default 1) and `SEQLAB_RAY_GPUS` (default 0).

    Raises:
        ValueError: when a variable is set but is not a number in its range
            (CPUs > 0; GPUs >= 0, a fraction shares one GPU between runs).
    """
    return RaySettings(cpus=_number_setting(CPUS_VARIABLE, 1.0, minimum=0.0, inclusive=False),
                       gpus=_number_setting(GPUS_VARIABLE, 0.0, minimum=0.0, inclusive=True))


def _number_setting(variable: str, default: float, *, minimum: float, inclusive: bool) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ValueError(f"{variable}: received {text!r}, expected a number {bound} (or leave it unset)")
    return value


def scratch_home() -> Path:
    """Returns this node's scratch folder: `SEQLAB_RAY_SCRATCH`, else `<temp>/seqlab-ray`.

    It is a `RunStore` home of its own on the node: its caches (vectorized
    texts, XLA's compiled steps) serve every run trained there, and a run's
    files stay in it only until they are sent to the host.
    """
    text = os.environ.get(SCRATCH_VARIABLE, "").strip()
    return Path(text).expanduser() if text else Path(tempfile.gettempdir()) / "seqlab-ray"


# ------------------------------------------------------- the proxy store
class RemoteRunStore:
    """The store as a run training in a Ray task sees it: one run's record, writes sent to the host.

    Reads answer from the record sent with the task (`get_run`) and the
    bridge (`is_stop_requested`); writes in `FORWARDED_METHODS` are posted to
    the bridge for the host to apply; file paths point into a scratch store
    on the node, whose artifact folder the task returns when it ends. Any
    other store method raises `RemoteStoreError`, saying so.

    Args:
        record: the run's record as the host claimed it.
        bridge: the channel to the host: `post(run_id, method, args, kwargs)`,
            `stop_requested(run_id) -> bool` and `flush()` (wait until every
            post has arrived).
        scratch: the node's scratch `RunStore` (caches, the run's files).
        host_artifact_dir: the run's artifact folder on the host, put in place
            of the node's folder in messages (a failed run's "details in ...").
    """

    def __init__(self, record: RunRecord, bridge: Any, scratch: RunStore, host_artifact_dir: str = ""):
        self._record = record
        self._bridge = bridge
        self._scratch = scratch
        self._host_artifact_dir = host_artifact_dir
        self._stop = (False, -math.inf)  # the last answer, and when it came (monotonic)

    def __repr__(self) -> str:
        return f"RemoteRunStore({self._record.run_id!r}, scratch={str(self._scratch.home)!r})"

    def __getattr__(self, name: str):
        # Only called for names not defined here: a store method this proxy does not offer.
        if name.startswith("__"):
            raise AttributeError(name)
        raise RemoteStoreError(
            f"RunStore.{name} is not available to a run training on Ray: the store lives on the host, "
            f"and a task may only read its own run's record and send the writes in "
            f"seqlab.ray_backend.FORWARDED_METHODS ({', '.join(sorted(FORWARDED_METHODS))}); "
            f"add {name!r} there if the host should apply it"
        )

    # -------------------------------------------------------------- reads
    def get_run(self, run_id: str) -> RunRecord:
        """Returns the run's record as it was sent with the task."""
        self._check_run(run_id)
        return self._record

    def is_stop_requested(self, run_id: str) -> bool:
        """Asks the host's bridge whether a stop was requested (answers cached for a second)."""
        self._check_run(run_id)
        stopped, asked_at = self._stop
        now = time.monotonic()
        if not stopped and now - asked_at >= STOP_CACHE_SECONDS:
            self._stop = (bool(self._bridge.stop_requested(run_id)), now)
        return self._stop[0]

    # -------------------------------------------------------------- files
    def cache_dir(self, name: str) -> Path:
        """Returns the node's cache folder `name` (shared by the runs trained on this node)."""
        return self._scratch.cache_dir(name)

    def artifact_dir(self, run_id: str) -> Path:
        """Returns the run's folder in the node's scratch store (sent to the host at the end)."""
        self._check_run(run_id)
        return self._scratch.artifact_dir(run_id)

    def model_path(self, run_id: str) -> Path:
        """Returns where the run's Keras model goes in the node's scratch store (the store names it)."""
        self._check_run(run_id)
        return self._scratch.model_path(run_id)

    def vocabulary_path(self, run_id: str) -> Path:
        """Returns where the run's vocabulary goes in the node's scratch store (the store names it)."""
        self._check_run(run_id)
        return self._scratch.vocabulary_path(run_id)

    def error_log_path(self, run_id: str) -> Path:
        """Returns where the run's error.log goes in the node's scratch store (the store names it)."""
        self._check_run(run_id)
        return self._scratch.error_log_path(run_id)

    def tensorboard_path(self, run_id: str) -> Path:
        """Returns where the run's TensorBoard folder goes in the node's scratch store (the store names it)."""
        self._check_run(run_id)
        return self._scratch.tensorboard_path(run_id)

    # ------------------------------------------------------------- writes
    def flush(self) -> None:
        """Waits until every write posted so far has reached the bridge."""
        self._bridge.flush()

    def _forward(self, method: str, run_id: str, args: tuple, kwargs: dict) -> None:
        self._check_run(run_id)
        if method == "finish_run" and self._host_artifact_dir and "message" in kwargs:
            node_folder = str(self._scratch.artifact_dir(run_id))
            kwargs = {**kwargs, "message": str(kwargs["message"]).replace(node_folder, self._host_artifact_dir)}
        self._bridge.post(run_id, method, tuple(args), dict(kwargs))

    def _check_run(self, run_id: str) -> None:
        if run_id != self._record.run_id:
            raise ValueError(
                f"run_id: received {run_id!r}, but this Ray task trains run {self._record.run_id!r} "
                f"and may only read and write that one"
            )


def _forwarder(method: str):
    def forward(self: RemoteRunStore, run_id: str, *args: Any, **kwargs: Any) -> None:
        self._forward(method, run_id, args, kwargs)

    forward.__name__ = method
    forward.__doc__ = f"Posts `RunStore.{method}` to the host, which applies it to the store in order."
    return forward


for _method in sorted(FORWARDED_METHODS):
    setattr(RemoteRunStore, _method, _forwarder(_method))
del _method


def apply_post(store: RunStore, run_id: str, method: str, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    """Applies one write a Ray task posted to the real store.

    Raises:
        ValueError: for a method outside `FORWARDED_METHODS` (or the store's
            own refusal of the values).
        RunNotFoundError: when the run no longer exists.
    """
    if method not in FORWARDED_METHODS:
        raise ValueError(
            f"post for run {run_id}: received method {method!r}, expected one of "
            f"{', '.join(sorted(FORWARDED_METHODS))}"
        )
    getattr(store, method)(run_id, *tuple(args), **dict(kwargs))


# ---------------------------------------------------------------- files
def collect_artifacts(folder: Path) -> dict[str, bytes]:
    """Returns every file under `folder` as {relative POSIX path: bytes} (temporary dot-files left out)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path.read_bytes()
    return files


def checked_relative_path(name: str) -> PurePosixPath:
    """Returns `name` as a relative path inside a run's folder.

    Raises:
        ValueError: for anything that could land outside it: an absolute
            path, a '..' part, an empty name, a backslash or a NUL.
    """
    path = PurePosixPath(name) if isinstance(name, str) else None
    if (path is None or not name or path.is_absolute() or ".." in path.parts or "\\" in name
            or "\x00" in name or path.parts in ((), (".",))):
        raise ValueError(
            f"artifact file: received {name!r}, expected a relative path inside the run's folder "
            f"(no leading '/', no '..')"
        )
    return path


def write_artifacts(store: RunStore, run_id: str, files: dict[str, bytes]) -> list[str]:
    """Writes the files a Ray task returned into the run's artifact folder on the host.

    Every name is checked before anything is written; each file is written
    to a temporary name and renamed, so a page never reads half a model.

    Args:
        store: the run store.
        run_id: the run.
        files: {relative path: bytes}, as `collect_artifacts` returns them.

    Returns:
        The relative paths written.

    Raises:
        ValueError: when a name is not a plain relative path
            (`checked_relative_path`) or a value is not bytes; nothing is written then.
    """
    if not isinstance(files, dict):
        raise ValueError(f"artifacts of run {run_id}: received {type(files).__name__}, expected a dict of files")
    checked = []
    for name, content in files.items():
        if not isinstance(content, (bytes, bytearray)):
            raise ValueError(f"artifact {name!r} of run {run_id}: received {type(content).__name__}, expected bytes")
        checked.append((checked_relative_path(name), bytes(content)))
    folder = store.artifact_dir(run_id)
    for relative, content in checked:
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(content)
        os.replace(partial, target)
    return [relative.as_posix() for relative, _ in checked]


def data_file(record: RunRecord) -> Path | None:
    """Returns the run's dataset file when it reads one (an upload, a user's CSV), else None."""
    name = record.config.data.dataset
    if name in BUILTIN_DATASETS or name.startswith("synthetic-") or not name.strip():
        return None
    path = Path(name).expanduser()
    return path if path.is_file() else None


def _with_local_data(record: RunRecord, scratch: RunStore, data_bytes: bytes) -> RunRecord:
    """Points the record at a copy of its dataset file on this node, unless the same file is here already."""
    digest = hashlib.sha256(data_bytes).hexdigest()
    path = Path(record.config.data.dataset).expanduser()
    try:
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            return record  # a shared file system, or the same copy: train as on the host
    except OSError:
        pass
    folder = scratch.cache_dir("ray-data") / digest[:32]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name  # the file's own name: the dataset is shown by it
    if not target.is_file():
        partial = folder / f".{path.name}.{os.getpid()}.partial"
        partial.write_bytes(data_bytes)
        os.replace(partial, target)
    data = replace(record.config.data, dataset=str(target))
    return replace(record, config=replace(record.config, data=data))


# ------------------------------------------------------------------- Ray
def import_ray():
    """Imports Ray, or says how to install it.

    Raises:
        RayUnavailableError: when Ray is not installed.
    """
    try:
        import ray
    except ImportError as error:
        raise RayUnavailableError(
            f"Ray is not installed in this Python ({sys.executable}): {error}. "
            f"Install the cluster extra on every machine: pip install -r requirements-cluster.txt"
        ) from None
    return ray


def connect(address: str) -> Any:
    """Connects this process to the Ray cluster at `address` ("HOST:PORT", "auto" or "local").

    The seqlab package goes with the connection (Ray's `py_modules`), so
    every node trains with this host's code; the nodes need its
    requirements installed.

    Returns:
        The `ray` module.

    Raises:
        ValueError: for an empty address.
        RayUnavailableError: when Ray is missing or the cluster cannot be reached.
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"Ray address: received {address!r}, expected HOST:PORT of a Ray head "
                         f"(`ray start --head --port=6379` prints it), 'auto' or 'local'")
    _check_reachable(address.strip())
    ray = import_ray()
    if ray.is_initialized():
        return ray
    runtime_env = {
        "py_modules": [str(PACKAGE_FOLDER)],
        "excludes": ["__pycache__", "*.pyc"],
        "env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")},
    }
    try:
        ray.init(address=address.strip(), namespace=NAMESPACE, runtime_env=runtime_env,
                 logging_level="WARNING", log_to_driver=True)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayUnavailableError(
            f"could not connect to the Ray cluster at {address!r}: {one_line(error)}. Start one with "
            f"`ray start --head --port=6379` on the host (and `ray start --address=HOST:6379` on the "
            f"others), then give HOST:6379"
        ) from None
    return ray


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fails at once when nothing listens at HOST:PORT (`ray.init` would wait for it for minutes).

    Raises:
        RayUnavailableError: when the connection is refused or times out.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", "local", "ray://...": Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as error:
        raise RayUnavailableError(
            f"no Ray head answers at {address} ({error.strerror or error}). Start one there with "
            f"`ray start --head --port={port}` (and `ray start --address={address}` on the other "
            f"machines), or fix SEQLAB_RAY_ADDRESS / --ray"
        ) from None


class _Bridge:
    """The Ray actor between tasks and the dispatcher: posted writes in, stop flags out.

    Calls from one task run in the order it made them (one caller, one
    thread), so a run's writes reach the store in order.
    """

    def __init__(self):
        self._posts: list[tuple[str, str, tuple, dict]] = []
        self._stops: set[str] = set()

    def post(self, run_id: str, method: str, args: tuple, kwargs: dict) -> None:
        self._posts.append((run_id, method, args, kwargs))

    def drain(self) -> list[tuple[str, str, tuple, dict]]:
        posts, self._posts = self._posts, []
        return posts

    def request_stop(self, run_id: str) -> None:
        self._stops.add(run_id)

    def stop_requested(self, run_id: str) -> bool:
        return run_id in self._stops

    def forget(self, run_id: str) -> None:
        self._stops.discard(run_id)


class _BridgeClient:
    """A task's handle on the bridge: posts without waiting, `flush` waits for the last one."""

    def __init__(self, ray, actor):
        self._ray, self._actor = ray, actor
        self._last = None

    def post(self, run_id: str, method: str, args: tuple, kwargs: dict) -> None:
        self._last = self._actor.post.remote(run_id, method, args, kwargs)

    def stop_requested(self, run_id: str) -> bool:
        return bool(self._ray.get(self._actor.stop_requested.remote(run_id)))

    def flush(self) -> None:
        if self._last is not None:
            # Calls from this caller run in order: when the last is done, all are.
            self._ray.get(self._last)


def node_name(ray) -> str:
    """Says which Ray node this process runs on: its IP address and the start of its node id."""
    try:
        address = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - a name for people; the host name will do
        address = socket.gethostname()
    return f"{address} (node {ray.get_runtime_context().get_node_id()[:8]})"


def train_on_node(record: RunRecord, bridge_actor: Any, settings: RaySettings,
                  host_artifact_dir: str, data_bytes: bytes | None) -> dict[str, bytes]:
    """The Ray task: trains one claimed run through `seqlab.training.train_run` on this node.

    Reports where it runs first (node and process id, so the host records the
    placement and a test can find the process), trains with a
    `RemoteRunStore`, waits until every write has reached the bridge, and
    returns the run's files.

    Args:
        record: the run's record as the host claimed it.
        bridge_actor: the dispatcher's bridge actor.
        settings: the resources the task was given (its threads).
        host_artifact_dir: the run's folder on the host (for messages).
        data_bytes: the dataset file's content when the run reads a file, else None.

    Returns:
        The run's files, {relative path: bytes}.
    """
    import ray

    from seqlab.training import prepare_process, train_run

    bridge = _BridgeClient(ray, bridge_actor)
    run_id = record.run_id
    bridge.post(run_id, "set_placement", ("ray", node_name(ray)), {})
    bridge.post(run_id, "set_progress", (), {"ray_worker_pid": os.getpid()})
    bridge.flush()
    scratch = RunStore(scratch_home())
    prepare_process(scratch, threads=settings.threads)  # threads and compile cache, before TF loads
    if data_bytes is not None:
        record = _with_local_data(record, scratch, data_bytes)
    store = RemoteRunStore(record, bridge, scratch, host_artifact_dir)
    folder = scratch.artifact_dir(run_id)
    try:
        train_run(store, run_id)
        store.flush()
        return collect_artifacts(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------- the host
@dataclass
class _Flight:
    """A run the dispatcher has submitted and not yet settled."""

    run_id: str
    ref: Any
    node: str = "an unknown node"
    stop_sent: bool = False
    finish: tuple[tuple, dict] | None = None  # the task's finish_run, applied after its files
    problem: str = ""  # why a write the task posted was refused (the run then fails)
    trial: Any = None  # a search trial's `seqlab.search.TrialReporter`: the host prunes it
    started: float = field(default_factory=time.monotonic)


class Dispatcher:
    """The host side: claims queued runs, submits them, applies their writes, settles their ends.

    `run_ray_dispatcher` drives it; tests may call its steps one by one.

    Args:
        store: the run store (system view).
        ray: the connected `ray` module.
        settings: the resources each task declares.
        pid: the process recorded as the runs' worker (this one).
    """

    def __init__(self, store: RunStore, ray: Any, settings: RaySettings, pid: int | None = None):
        self.store, self.ray, self.settings = store, ray, settings
        self.pid = pid or os.getpid()
        self.flights: dict[str, _Flight] = {}
        self._capacity = (1, -math.inf)
        self._data: dict[tuple, Any] = {}  # (path, size, mtime) -> object ref of the file's bytes
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        # On this host's node, so a worker node that dies does not take the bridge with it.
        self.bridge = ray.remote(_Bridge).options(num_cpus=0, scheduling_strategy=strategy).remote()
        self._train = ray.remote(train_on_node)

    def capacity(self) -> int:
        """How many runs may be in flight: the cluster's CPUs (or GPUs) over what one run declares."""
        count, read_at = self._capacity
        if time.monotonic() - read_at >= CAPACITY_SECONDS:
            resources = self.ray.cluster_resources()
            count = int(resources.get("CPU", 0) // self.settings.cpus)
            if self.settings.gpus:
                count = min(count, int(resources.get("GPU", 0) // self.settings.gpus))
            self._capacity = (max(count, 1), time.monotonic())
        return self._capacity[0]

    def fill(self) -> int:
        """Claims and submits queued runs while the cluster has room; returns how many."""
        submitted = 0
        while len(self.flights) < self.capacity():
            record = self.store.claim_next_run(self.pid)
            if record is None:
                break
            try:
                self.submit(record)
            except Exception as error:  # noqa: BLE001 - a run that cannot be sent must not stay "running"
                traceback.print_exc(file=sys.stderr)
                self.flights.pop(record.run_id, None)
                self._finish_failed(record.run_id, f"could not send the run to Ray: {one_line(error)}")
            submitted += 1
        return submitted

    def submit(self, record: RunRecord) -> None:
        """Submits one claimed run as a Ray task (never retried).

        A search's trial trains on the node as a plain run: its Optuna journal
        is on this host, so this host reports its epochs, prunes it (a stop
        request) and tells its search how it ended.
        """
        run_id = record.run_id
        self.store.set_placement(run_id, "ray", None)  # the task reports its node when it starts
        trial = None
        if record.study_id is not None:
            trial = _trial_reporter(self.store, run_id)
            record = replace(record, study_id=None, trial_number=None)
        ref = self._train.options(
            num_cpus=self.settings.cpus, num_gpus=self.settings.gpus, max_retries=0,
            name=f"seqlab-{run_id}",
        ).remote(record, self.bridge, self.settings, str(self.store.artifact_dir(run_id)),
                 self._data_ref(record))
        self.flights[run_id] = _Flight(run_id, ref, trial=trial)
        log(f"submitted {run_id} to Ray")

    def _data_ref(self, record: RunRecord) -> Any:
        path = data_file(record)
        if path is None:
            return None
        info = path.stat()
        if info.st_size > MAX_DATA_BYTES:
            return None  # the node reads the path itself (and its loader refuses a file this large)
        key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
        if key not in self._data:
            if len(self._data) >= 4:  # the object store holds them: keep the latest few
                self._data.pop(next(iter(self._data)))
            self._data[key] = self.ray.put(path.read_bytes())
        return self._data[key]

    def exchange(self) -> int:
        """Applies the writes tasks posted, in order, and passes stop requests on; returns the writes."""
        posts = self.ray.get(self.bridge.drain.remote())
        for run_id, method, args, kwargs in posts:
            flight = self.flights.get(run_id)
            if flight is None:
                # Settled already (a worker that died with writes on the way): the
                # run's end is recorded and stays as it is.
                log(f"{run_id}: ignored a late {method} from Ray")
                continue
            if method == "set_placement" and len(args) > 1 and args[1]:
                flight.node = str(args[1])
            if method == "finish_run":
                flight.finish = (tuple(args), dict(kwargs))  # after the files: a finished run has its model
                continue
            try:
                apply_post(self.store, run_id, method, args, kwargs)
            except Exception as error:  # noqa: BLE001 - one bad write must not end the dispatcher
                log(f"{run_id}: could not apply {method}: {one_line(error)}")
                if not flight.problem:
                    flight.problem = f"the host could not record {method} from the Ray task: {one_line(error)}"
                    self.bridge.request_stop.remote(run_id)
                continue
            if method == "add_epoch" and flight.trial is not None:
                self._report_trial(flight, args)
        if self.flights:
            for record in self.store.list_runs(statuses=["running"]):
                flight = self.flights.get(record.run_id)
                if flight is not None and record.stop_requested and not flight.stop_sent:
                    self.bridge.request_stop.remote(record.run_id)
                    flight.stop_sent = True
        return len(posts)

    def _report_trial(self, flight: _Flight, args: tuple) -> None:
        """Reports a trial's full epoch to Optuna; asks the task to stop when the pruner says so."""
        epoch, metrics = (args + (None, None))[:2]
        if not isinstance(metrics, dict) or "fraction" in metrics:
            return  # a partial epoch, cut short by a stop: not the epoch Optuna compares
        try:
            if flight.trial.report(int(epoch), metrics.get("val_loss")):
                self.bridge.request_stop.remote(flight.run_id)
                flight.stop_sent = True
        except Exception as error:  # noqa: BLE001 - a journal problem leaves the run training
            log(f"{flight.run_id}: could not report epoch {epoch} to its search: {one_line(error)}")
            flight.trial = None

    def heartbeat(self) -> None:
        """Refreshes this process's and its runs' heartbeats (the runs train elsewhere)."""
        self.store.worker_heartbeat(self.pid)
        for run_id in list(self.flights):
            try:
                self.store.set_progress(run_id)
            except KeyError:
                pass  # deleted meanwhile: settled when its task ends

    def collect(self, timeout: float) -> list[str]:
        """Waits up to `timeout` seconds for tasks to end and settles them; returns their run ids."""
        if not self.flights:
            time.sleep(timeout)
            return []
        refs = [flight.ref for flight in self.flights.values()]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if not ready:
            return []
        self.exchange()  # each task flushed its writes before it ended: they are all here now
        done = []
        for flight in [flight for flight in self.flights.values() if flight.ref in ready]:
            self.settle(flight)
            done.append(flight.run_id)
        return done

    def settle(self, flight: _Flight) -> None:
        """Records how a finished task's run ended: its files and status, or why it did not end."""
        exceptions = self.ray.exceptions
        run_id = flight.run_id
        del self.flights[run_id]
        self.bridge.forget.remote(run_id)
        try:
            files = self.ray.get(flight.ref)
        except exceptions.RayTaskError as error:  # the task raised outside the training path
            cause = getattr(error, "cause", None) or error
            self._finish_failed(run_id, f"the Ray task on {flight.node} failed: {one_line(cause)}")
        except (exceptions.TaskCancelledError, exceptions.RayError) as error:
            # The worker process or its node died (or lost the task's result): the
            # epochs that reached the host are kept.
            self.store.mark_interrupted(
                run_id, f"the Ray worker on {flight.node} died ({type(error).__name__})")
        else:
            try:
                write_artifacts(self.store, run_id, files)
            except (OSError, ValueError) as error:
                self._finish_failed(run_id, f"the host could not write the run's files: {one_line(error)}")
            else:
                if flight.problem:
                    self._finish_failed(run_id, flight.problem)
                elif flight.finish is not None:
                    args, kwargs = flight.finish
                    if flight.trial is not None and flight.trial.message and args[:1] == ("stopped",):
                        kwargs = {**kwargs, "message": flight.trial.message}  # stopped by the pruner
                    apply_post(self.store, run_id, "finish_run", args, kwargs)
                else:
                    self._finish_failed(run_id, "training returned without recording how the run ended")
        if self._is_trial(run_id):
            _end_trial(self.store, run_id)
        log(f"{run_id}: {self._status(run_id)} (Ray, {flight.node})")

    def abandon(self, reason: str) -> None:
        """Cancels every task in flight and marks its run "interrupted" (this process is going away)."""
        try:
            self.exchange()
        except Exception as error:  # noqa: BLE001 - the cluster may be what failed
            log(f"could not read the last writes: {one_line(error)}")
        for flight in list(self.flights.values()):
            try:
                self.ray.cancel(flight.ref, force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.store.mark_interrupted(flight.run_id, f"the Ray dispatcher (process {self.pid}) {reason}")
            if self._is_trial(flight.run_id):
                _end_trial(self.store, flight.run_id)
        self.flights.clear()

    def _finish_failed(self, run_id: str, message: str) -> None:
        try:
            if not self.store.get_run(run_id).finished:
                self.store.finish_run(run_id, "failed", message=message)
        except KeyError:
            pass

    def _is_trial(self, run_id: str) -> bool:
        try:
            return self.store.get_run(run_id).study_id is not None
        except KeyError:
            return False

    def _status(self, run_id: str) -> str:
        try:
            return self.store.get_run(run_id).status
        except KeyError:
            return "deleted"


def _trial_reporter(store: RunStore, run_id: str) -> Any:
    """The host's `TrialReporter` of a search's trial run, or None when its search cannot be read."""
    try:
        from seqlab.search import trial_reporter  # here: only searches import Optuna

        return trial_reporter(store, run_id)
    except Exception as error:  # noqa: BLE001 - the run trains either way, unpruned
        log(f"{run_id}: could not open its search, so it is not pruned: {one_line(error)}")
        return None


def _end_trial(store: RunStore, run_id: str) -> None:
    """Tells a search how its trial's run ended (`seqlab.search.trial_ended`), as the training path does."""
    try:
        from seqlab.search import trial_ended

        trial_ended(store, run_id)
    except Exception:  # noqa: BLE001 - the run's record is final either way
        print(f"run {run_id}: could not tell its search how it ended:\n{traceback.format_exc()}",
              file=sys.stderr, flush=True)


def run_ray_dispatcher(
    store: RunStore,
    address: str,
    *,
    idle_timeout: float = 300.0,
    poll_seconds: float = 0.5,
    heartbeat_seconds: float = 2.0,
    settings: RaySettings | None = None,
) -> int:
    """Trains queued runs on the Ray cluster at `address` until none has come for `idle_timeout` seconds.

    What `seqlab.jobs.run_worker` does when Ray is configured. The process
    registers as a worker; every run it claims is recorded as run by it, on
    backend "ray". On SIGTERM (or Ctrl+C) its runs in flight are cancelled
    and marked "interrupted", their epochs kept.

    Args:
        store: the run store (system view).
        address: the Ray head, "HOST:PORT" (or "auto", "local").
        idle_timeout: seconds with nothing queued or in flight before it exits.
        poll_seconds: the longest pause between two looks at the queue and the tasks.
        heartbeat_seconds: pause between heartbeats.
        settings: the resources each task declares (None: `ray_settings()`).

    Returns:
        How many runs it took from the queue.

    Raises:
        ValueError: for a bad address or resource setting.
        RayUnavailableError: when Ray is missing or the cluster cannot be reached.
    """
    settings = settings or ray_settings()
    ray = connect(address)
    pid = os.getpid()
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, exit_on_signal)
    dispatcher = Dispatcher(store, ray, settings, pid)
    resources = ray.cluster_resources()
    log(f"Ray dispatcher {pid} started on {store.home}: cluster {address} with "
         f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
         f"{settings.cpus:g} CPUs and {settings.gpus:g} GPUs a run")
    store.register_worker(pid)
    taken = 0
    try:
        try:
            last_busy = last_heartbeat = time.monotonic()
            while True:
                if time.monotonic() - last_heartbeat >= heartbeat_seconds:
                    dispatcher.heartbeat()
                    store.reap_dead_runs()
                    last_heartbeat = time.monotonic()
                taken += dispatcher.fill()
                dispatcher.exchange()
                dispatcher.collect(poll_seconds)
                if dispatcher.flights:
                    last_busy = time.monotonic()
                    continue
                if time.monotonic() - last_busy < idle_timeout:
                    continue
                # As `jobs.run_worker`: unregister, then look once more, so a run
                # queued meanwhile finds no live worker and gets one.
                store.unregister_worker(pid)
                if not store.list_runs(statuses=["queued"], limit=1):
                    break
                store.register_worker(pid)
        except BaseException as error:
            reason = ("was terminated" if isinstance(error, (SystemExit, KeyboardInterrupt))
                      else f"crashed ({one_line(error)})")
            if not isinstance(error, (SystemExit, KeyboardInterrupt)):
                traceback.print_exc(file=sys.stderr)
            dispatcher.abandon(reason)
            raise
    finally:
        store.unregister_worker(pid)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        try:
            ray.shutdown()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
        log(f"Ray dispatcher {pid} exiting after {taken} run(s)")
    return taken

