"""The Ray backend: queued runs trained as Ray tasks while the store stays on its host.

The cluster tests start one local Ray head for the module (`ray start --head
--block` on a free port, stopped by terminating that command, which shuts
down what it started) and one dispatcher (`python -m seqlab worker --ray
ADDRESS`) that serves every test's runs, so the Ray workers' TensorFlow
import is paid once. The dispatcher is a process of its own, as the app
starts it, so this test process never imports Ray. They run only where Ray
is installed (`requirements-cluster.txt`, which CI installs); the proxy
store, the artifact checks and "no Ray without configuration" run everywhere.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab import jobs, ray_backend
from seqlab.config import RunConfig
from seqlab.ray_backend import FORWARDED_METHODS, RemoteRunStore, RemoteStoreError
from seqlab.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install -r requirements-cluster.txt")
START_SECONDS = 120.0  # a head starting on 2 busy cores
TRAIN_SECONDS = 240.0  # the first runs: Ray workers start and import TensorFlow


def _tiny(epochs: int = 2, seed: int = 0) -> RunConfig:
    return RunConfig().with_overrides({
        "data.dataset": "toy", "data.sequence_length": 16, "model.arch": "gru", "model.units": 8,
        "model.embedding_dim": 8, "train.epochs": epochs, "train.jit_compile": "off", "seed": seed,
    }).validate()


def _wait_for(condition, what: str, seconds: float, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log and log.exists() else ""
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}\n{tail}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------ without a cluster
class FakeBridge:
    """Records what a `RemoteRunStore` posts, as the Ray bridge would receive it."""

    def __init__(self, stop: bool = False):
        self.posts: list[tuple] = []
        self.stop_questions = 0
        self.flushed = 0
        self.stop = stop

    def post(self, run_id, method, args, kwargs):
        self.posts.append((run_id, method, args, kwargs))

    def stop_requested(self, run_id):
        self.stop_questions += 1
        return self.stop

    def flush(self):
        self.flushed += 1


@pytest.fixture
def remote(tmp_path):
    host = RunStore(tmp_path / "host")
    run_id = host.create_run(_tiny())
    record = host.claim_next_run(os.getpid())
    bridge = FakeBridge()
    proxy = RemoteRunStore(record, bridge, RunStore(tmp_path / "node"), str(host.artifact_dir(run_id)))
    return host, proxy, bridge, run_id


def test_proxy_forwards_the_training_writes_in_order_and_the_host_applies_them(remote):
    host, proxy, bridge, run_id = remote
    proxy.set_progress(run_id, phase="training", epoch=1)
    proxy.add_epoch(run_id, 1, {"loss": 0.5, "accuracy": 0.7, "val_loss": 0.6, "val_accuracy": 0.6, "seconds": 1.0})
    proxy.set_num_params(run_id, 123)
    assert [post[1] for post in bridge.posts] == ["set_progress", "add_epoch", "set_num_params"]
    assert host.epochs(run_id) == []  # nothing reaches the store until the host applies it
    for post in bridge.posts:
        ray_backend.apply_post(host, *post)
    assert [row["val_loss"] for row in host.epochs(run_id)] == [0.6]
    assert host.get_run(run_id).num_params == 123
    assert host.get_run(run_id).progress["phase"] == "training"


def test_proxy_refuses_store_methods_it_does_not_forward(remote):
    _, proxy, bridge, run_id = remote
    for name in ("delete_run", "list_runs", "request_stop", "create_run"):
        assert name not in FORWARDED_METHODS
        with pytest.raises(RemoteStoreError, match=f"RunStore.{name} is not available to a run training on Ray"):
            getattr(proxy, name)(run_id)
    assert bridge.posts == []


def test_proxy_reads_its_own_run_only_and_puts_files_on_the_node(remote, tmp_path):
    host, proxy, _, run_id = remote
    assert proxy.get_run(run_id).run_id == run_id
    assert proxy.model_path(run_id).is_relative_to(tmp_path / "node")
    assert proxy.cache_dir("vectorized").is_relative_to(tmp_path / "node")
    other = host.create_run(_tiny())
    with pytest.raises(ValueError, match=f"this Ray task trains run {run_id!r}"):
        proxy.add_epoch(other, 1, {"loss": 0.5})


def test_proxy_asks_the_bridge_about_stops_at_most_once_a_second(remote):
    _, proxy, bridge, run_id = remote
    assert [proxy.is_stop_requested(run_id) for _ in range(50)] == [False] * 50
    assert bridge.stop_questions == 1
    bridge.stop = True
    proxy._stop = (False, time.monotonic() - ray_backend.STOP_CACHE_SECONDS)  # the second has passed
    assert proxy.is_stop_requested(run_id) is True


def test_proxy_finish_message_names_the_hosts_folder_not_the_nodes(remote):
    host, proxy, bridge, run_id = remote
    node_log = proxy.error_log_path(run_id)
    proxy.finish_run(run_id, "failed", message=f"RuntimeError: boom (details in {node_log})")
    message = bridge.posts[-1][3]["message"]
    assert str(host.artifact_dir(run_id)) in message and str(node_log.parent) not in message


def test_apply_post_refuses_a_method_outside_the_whitelist(remote):
    host, _, _, run_id = remote
    with pytest.raises(ValueError, match="received method 'delete_run', expected one of"):
        ray_backend.apply_post(host, run_id, "delete_run", (), {})
    assert host.get_run(run_id).status == "running"


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.txt", "tensorboard/../../x", "", "a\\b"])
def test_returned_files_outside_the_runs_folder_are_refused_and_nothing_is_written(remote, name):
    host, _, _, run_id = remote
    with pytest.raises(ValueError, match="expected a relative path inside the run's folder"):
        ray_backend.write_artifacts(host, run_id, {"model.keras": b"model", name: b"x"})
    assert not (host.artifact_dir(run_id) / "model.keras").exists()


def test_returned_files_land_in_the_runs_artifact_folder(remote, tmp_path):
    host, proxy, _, run_id = remote
    proxy.model_path(run_id).write_bytes(b"model")
    (proxy.tensorboard_path(run_id) / "train").mkdir(parents=True)
    (proxy.tensorboard_path(run_id) / "train" / "events").write_bytes(b"events")
    files = ray_backend.collect_artifacts(proxy.artifact_dir(run_id))
    assert sorted(files) == ["model.keras", "tensorboard/train/events"]
    ray_backend.write_artifacts(host, run_id, files)
    assert host.model_path(run_id).read_bytes() == b"model"
    assert (host.tensorboard_path(run_id) / "train" / "events").read_bytes() == b"events"


def test_a_dataset_file_goes_with_the_task_unless_the_node_has_the_same_file(tmp_path):
    host, node = RunStore(tmp_path / "host"), RunStore(tmp_path / "node")
    upload = tmp_path / "uploads" / "reviews.csv"
    upload.parent.mkdir()
    upload.write_bytes(b"text,label\ngood,pos\nbad,neg\n")
    run_id = host.create_run(_tiny().with_overrides({"data.dataset": str(upload)}))
    record = host.get_run(run_id)
    assert ray_backend.data_file(record) == upload
    assert ray_backend.data_file(host.get_run(host.create_run(_tiny()))) is None  # toy: made on the node
    # The node sees the same bytes at the same path (a shared file system): trained as it is.
    assert ray_backend._with_local_data(record, node, upload.read_bytes()) is record
    # Another file there, or none: a copy in the node's scratch store, under the file's own name.
    moved = ray_backend._with_local_data(record, node, b"text,label\nfine,pos\n")
    copy = Path(moved.config.data.dataset)
    assert copy.name == "reviews.csv" and copy.is_relative_to(tmp_path / "node")
    assert copy.read_bytes() == b"text,label\nfine,pos\n"
    assert dataclasses.replace(moved.config.data, dataset=str(upload)) == record.config.data  # nothing else changed


@pytest.mark.parametrize("variable, text", [("SEQLAB_RAY_CPUS", "0"), ("SEQLAB_RAY_CPUS", "two"),
                                            ("SEQLAB_RAY_GPUS", "-1")])
def test_bad_task_resources_are_refused_with_the_variable_named(monkeypatch, variable, text):
    monkeypatch.setenv(variable, text)
    with pytest.raises(ValueError, match=f"{variable}: received {text!r}, expected a number"):
        ray_backend.ray_settings()


def test_task_resources_default_to_one_cpu_and_no_gpu(monkeypatch):
    monkeypatch.delenv("SEQLAB_RAY_CPUS", raising=False)
    monkeypatch.setenv("SEQLAB_RAY_GPUS", "0.5")
    assert ray_backend.ray_settings() == ray_backend.RaySettings(cpus=1.0, gpus=0.5)


def test_workers_started_with_ray_configured_are_dispatchers(monkeypatch, store):
    monkeypatch.delenv("SEQLAB_RAY_ADDRESS", raising=False)
    assert "--ray" not in jobs.worker_command(store)
    monkeypatch.setenv("SEQLAB_RAY_ADDRESS", "10.0.0.5:6379")
    assert jobs.worker_command(store)[-3:] == ["worker", "--ray", "10.0.0.5:6379"]


def test_a_worker_pointed_at_no_ray_head_says_so_and_exits_1(store, capsys):
    from seqlab import cli

    code = cli.main(["--home", str(store.home), "worker", "--ray", f"127.0.0.1:{_free_port()}"])
    assert code == 1
    assert "seqlab: error: no Ray head answers at 127.0.0.1:" in capsys.readouterr().err
    assert store.live_workers() == []


def test_compare_says_where_each_run_trained(store):
    from seqlab.views.compare import compare_runs_table, load_compare

    on_ray, here, waiting = (store.create_run(_tiny()) for _ in range(3))
    store.set_placement(on_ray, "ray", "10.0.0.7 (node 3f9a2b1c)")
    store.set_placement(here, "local", "lab-pc")
    store.set_placement(waiting, "ray", None)
    where = compare_runs_table(load_compare(store)).set_index("run_id")["where"]
    assert where[on_ray] == "ray · 10.0.0.7 (node 3f9a2b1c)"
    assert where[here] == "local · lab-pc" and where[waiting] == "ray"


NO_RAY_SCRIPT = """
import socket, sys
from seqlab import jobs
from seqlab.config import RunConfig
from seqlab.store import RunStore
store = RunStore(sys.argv[1])
config = RunConfig().with_overrides({"model.units": 8, "model.embedding_dim": 8, "train.epochs": 1,
                                     "data.sequence_length": 16})
(run_id,) = jobs.queue_runs(store, [config], start_worker=False)
jobs.run_worker(store, idle_timeout=0, poll_seconds=0.01)
record = store.get_run(run_id)
loaded = sorted(name for name in sys.modules if name == "ray" or name.startswith("ray."))
print(record.status, record.backend, record.node == socket.gethostname(), loaded)
"""


def test_without_ray_configured_a_local_worker_trains_and_ray_is_never_imported(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "SEQLAB_RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", NO_RAY_SCRIPT, str(tmp_path / "home")], cwd=ROOT,
                            env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-2] == "completed local True []"


# --------------------------------------------------------- with a cluster
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray head on loopback with 2 CPUs; yields its address."""
    folder = tmp_path_factory.mktemp("ray")
    port = _free_port()
    log = folder / "head.log"
    # Ray's workers inherit this environment: node scratch in the test's folder.
    env = {**os.environ, "SEQLAB_RAY_SCRATCH": str(folder / "scratch"), "RAY_USAGE_STATS_ENABLED": "0"}
    with open(log, "w") as output:
        head = subprocess.Popen(
            ["ray", "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
             "--object-store-memory=200000000", f"--ray-client-server-port={_free_port()}",
             f"--dashboard-agent-listen-port={_free_port()}"],
            cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: head.poll() is not None or "Ray runtime started" in log.read_text(),
                  "the Ray head to start", START_SECONDS, log)
        assert head.poll() is None, log.read_text()[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()  # `ray start --block` shuts down what it started
        try:
            head.wait(timeout=90)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory):
    return tmp_path_factory.mktemp("ray-store") / "home"


@pytest.fixture(scope="module")
def dispatcher(cluster, ray_home):
    """`python -m seqlab worker --ray ADDRESS` on the module's store; yields (process, log path)."""
    RunStore(ray_home)
    log = ray_home.parent / "dispatcher.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEQLAB_RAY_ADDRESS", None)  # the flag says where
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "seqlab", "--home", str(ray_home), "worker", "--ray", cluster,
             "--idle-timeout", "900"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def ray_store(dispatcher, ray_home):
    process, log = dispatcher
    assert process.poll() is None, log.read_text()[-3000:]
    return RunStore(ray_home), log


def _finished(store: RunStore, run_ids):
    records = [store.get_run(run_id) for run_id in run_ids]
    return records if all(record.finished for record in records) else None


def _training(store: RunStore, run_id: str, epochs: int = 1):
    """The run's record once it is running on Ray with `epochs` epochs in the store."""
    record = store.get_run(run_id)
    if record.finished:
        raise AssertionError(f"run {run_id} ended before the test acted: {record.status} {record.message}")
    if record.status == "running" and len(store.epochs(run_id)) >= epochs and \
            record.progress.get("ray_worker_pid"):
        return record
    return None


@needs_ray
def test_two_queued_runs_train_on_ray_side_by_side_and_complete(ray_store):
    store, log = ray_store
    run_ids = jobs.queue_runs(store, [_tiny(seed=1), _tiny(seed=2)], start_worker=False)
    records = _wait_for(lambda: _finished(store, run_ids), "both runs to finish", TRAIN_SECONDS, log)
    assert [record.status for record in records] == ["completed", "completed"], [r.message for r in records]
    for record in records:
        assert [row["epoch"] for row in store.epochs(record.run_id)] == [1, 2]
        assert record.backend == "ray" and record.node and "node" in record.node
        assert record.worker_pid == store.live_workers()[0]  # the dispatcher, on this host
        assert store.has_model(record.run_id)  # the node's files, written on the host
        assert store.vocabulary_path(record.run_id).is_file()
        assert store.read_meta(record.run_id)["examples"]["train"] > 0
        assert record.test_accuracy is not None and record.num_params > 0
    assert not store.step_losses_frame(run_ids).empty
    pids = {record.progress["ray_worker_pid"] for record in records}
    assert len(pids) == 2  # two Ray workers: trained side by side, each with its CPU
    assert records[0].started_at < records[1].finished_at and records[1].started_at < records[0].finished_at


@needs_ray
def test_stop_request_stops_a_run_training_on_ray(ray_store):
    store, log = ray_store
    (run_id,) = jobs.queue_runs(store, [_tiny(epochs=1000, seed=3)], start_worker=False)
    _wait_for(lambda: _training(store, run_id), "an epoch on Ray", TRAIN_SECONDS, log)
    jobs.stop_run(store, run_id)
    (record,) = _wait_for(lambda: _finished(store, [run_id]), "the run to stop", 60, log)
    assert record.status == "stopped", record.message
    assert record.message.startswith("stopped on request after")
    assert 1 <= len(store.epochs(run_id)) < 1000
    assert store.has_model(run_id)


@needs_ray
def test_search_trials_on_ray_are_pruned_told_and_advanced_by_the_host(ray_store):
    import optuna

    from seqlab import search

    store, log = ray_store
    spec = search.search_spec(_tiny(epochs=50), search.parse_space(["model.units=4:16"]), 3, mode="queued",
                              parallel=1, pruner_startup_trials=1, prune_from_epoch=1)
    study_id = search.create_search(store, spec)
    # A made-up completed trial with loss 0 at every epoch: every real trial is worse than the median.
    search.load_study(store, study_id).add_trial(optuna.trial.create_trial(
        params={"model.units": 8}, distributions={"model.units": search.space_of(spec)[0].distribution()},
        value=0.0, intermediate_values={step: 0.0 for step in range(1, 51)}))
    search.advance_search(store, study_id)  # queues the first real trial; its end queues the second

    def both_ended():
        runs = store.list_runs(study_id=study_id)
        return runs if len(runs) == 2 and all(record.finished for record in runs) else None

    runs = _wait_for(both_ended, "both trials to end", TRAIN_SECONDS, log)
    for record in runs:
        assert record.backend == "ray" and record.status == "stopped", record.message
        assert record.message.startswith("pruned by the median pruner after epoch 1")
        assert 1 <= len(store.epochs(record.run_id)) < 50 and store.has_model(record.run_id)
    table = search.search_table(store, study_id).set_index("number")
    assert list(table.loc[[record.trial_number for record in runs], "state"]) == ["PRUNED", "PRUNED"]


@needs_ray
def test_killed_ray_worker_leaves_its_run_interrupted_with_its_epochs(ray_store):
    store, log = ray_store
    (run_id,) = jobs.queue_runs(store, [_tiny(epochs=1000, seed=4)], start_worker=False)
    record = _wait_for(lambda: _training(store, run_id, epochs=2), "two epochs on Ray", TRAIN_SECONDS, log)
    seen = len(store.epochs(run_id))
    os.kill(record.progress["ray_worker_pid"], signal.SIGKILL)
    (record,) = _wait_for(lambda: _finished(store, [run_id]), "the run to be marked", 60, log)
    done = len(store.epochs(run_id))
    assert record.status == "interrupted"
    assert record.message.startswith(f"the Ray worker on {record.node} died")
    assert record.message.endswith(f"epochs 1-{done} kept") and done >= seen >= 2
