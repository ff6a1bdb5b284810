"""Time to result: seqlab against a plain notebook, from the click to the test accuracy.

Two measurements, each run in fresh processes on the same machine in one go:

  (a) the classroom preset (LSTM, GRU, Transformer on 2,000 IMDB reviews):
      seqlab queues it exactly as the Home button does and the real worker
      pool trains it (`python -m seqlab preset NAME --wait --json`, timed
      from the command's start to its last run finished). As in the app,
      whose open page keeps workers warm (`seqlab.ui.worker`), the warm
      workers are started and have imported TensorFlow before the click.
      The preset is then queued a second time ("second click": another
      student, or the instructor's rehearsal), which finds its compiled
      steps in the compile cache. Against
      `bench/plain_notebook.py` doing the same work in one process (stock
      Keras layers, plain `fit`, batch 64), timed from process start.
  (b) one full-IMDB run per architecture, 3 epochs, end to end (process start
      to test accuracy): `python -m seqlab train --dataset imdb ... --json`
      against `bench/plain_notebook.py --subset 0 --arch A`.

Every wall includes imports, data loading, vectorizing, building and
compiling. Printed: walls, ratios (seqlab / plain; below 1 is faster) and test
accuracies.

Usage:
    python bench/time_to_result.py [--skip-full] [--archs lstm,gru,...] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMDB = Path(os.environ.get("SEQLAB_IMDB") or ROOT.parent / "shared" / "data" / "imdb")
CLASSROOM_PRESET = "LSTM vs GRU vs Transformer on 2,000 IMDB reviews"


def timed(command: list[str], env: dict) -> tuple[float, dict]:
    """Runs a command; returns (wall seconds, the JSON object on its last line)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def environment(home: str) -> dict:
    env = dict(os.environ, SEQLAB_HOME=home, SEQLAB_IMDB=str(IMDB), TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=str(ROOT))
    env.pop("SEQLAB_COMPILE_CACHE", None)  # the cache as users have it
    return env


def warm_workers(home: str, env: dict, timeout: float = 180.0) -> list[int]:
    """Starts the app's warm workers and waits until each has imported TensorFlow."""
    sys.path.insert(0, str(ROOT))
    from seqlab import jobs
    from seqlab.store import RunStore

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        store = RunStore(home)
        jobs.ensure_worker(store, warm=True)
        pids = store.live_workers()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    deadline = time.monotonic() + timeout
    logs = Path(home) / "logs"
    while time.monotonic() < deadline:
        started = [pid for pid in pids
                   if f"worker {pid} started" in (logs / f"worker-{pid}.log").read_text(errors="replace")]
        if len(started) == len(pids):
            return pids
        time.sleep(0.2)
    raise SystemExit(f"warm workers {pids} did not start within {timeout:.0f} s; see {logs}")


def describe(result: dict, home: str) -> str:
    """"lstm graph 0.74, gru XLA 0.78, ...": each run's compile choice and test accuracy."""
    parts = []
    for run in result["runs"]:
        meta_path = Path(home) / "artifacts" / run["run_id"] / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        parts.append(f"{run['label'].split()[0]} {'XLA' if meta.get('xla') else 'graph'}")
    return ", ".join(parts)


def breakdown(result: dict, home: str) -> str:
    """Where each run's time went: waiting in the queue, before its first epoch ended, the rest."""
    from seqlab.store import RunStore

    store = RunStore(home)
    lines = []
    for run in result["runs"]:
        record = store.get_run(run["run_id"])
        seconds = [row["seconds"] for row in store.epochs(record.run_id)]
        total = record.finished_at - record.started_at
        lines.append(f"  {record.label}: queued {record.started_at - record.created_at:.1f} s, "
                     f"ran {total:.1f} s = setup {total - sum(seconds):.1f} s + epochs "
                     f"{' + '.join(f'{value:.1f}' for value in seconds)} s")
    return "\n".join(lines)


def classroom(home: str) -> list[dict]:
    env = environment(home)
    rows = []
    plain_wall, plain = timed([sys.executable, "bench/plain_notebook.py", "--data", str(IMDB), "--arch",
                               "lstm,gru,transformer", "--subset", "2000", "--epochs", "4", "--json"], env)
    plain_accuracy = " / ".join(f"{run['test_accuracy']:.2f}" for run in plain["runs"])
    pids = warm_workers(home, env)
    print(f"warm workers: {len(pids)} (pids {', '.join(map(str, pids))})", file=sys.stderr)
    for click in ("first click", "second click"):
        seqlab_wall, result = timed([sys.executable, "-m", "seqlab", "preset", CLASSROOM_PRESET, "--wait",
                                     "--json"], env)
        seqlab_accuracy = " / ".join(f"{run['test_accuracy']:.2f}" for run in result["runs"])
        rows.append({"what": f"classroom preset, {click} ({describe(result, home)})",
                     "plain_s": plain_wall, "seqlab_s": seqlab_wall, "plain_acc": plain_accuracy,
                     "seqlab_acc": seqlab_accuracy})
        print(table_line(rows[-1]), file=sys.stderr, flush=True)
        print(breakdown(result, home), file=sys.stderr, flush=True)
    stop_workers(home)
    return rows


def stop_workers(home: str) -> None:
    """Ends the workers left waiting in `home`, before its folder goes."""
    from seqlab.store import RunStore

    pids = RunStore(home).live_workers(stale_after=10**9)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and RunStore(home).live_workers(stale_after=10**9):
        time.sleep(0.2)


def full_imdb(home: str, archs: list[str], epochs: int) -> list[dict]:
    env = environment(home)
    rows = []
    for arch in archs:
        plain_wall, plain = timed([sys.executable, "bench/plain_notebook.py", "--data", str(IMDB), "--arch", arch,
                                   "--subset", "0", "--epochs", str(epochs), "--json"], env)
        seqlab_wall, result = timed([sys.executable, "-m", "seqlab", "train", "--dataset", "imdb", "--arch", arch,
                                     "--epochs", str(epochs), "--json"], env)
        rows.append({"what": f"full IMDB, {arch}, {epochs} epochs", "plain_s": plain_wall, "seqlab_s": seqlab_wall,
                     "plain_acc": f"{plain['runs'][0]['test_accuracy']:.3f}",
                     "seqlab_acc": f"{result['test_accuracy']:.3f}"})
        print(table_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


def device() -> str:
    """The device TensorFlow trains on here (a GPU when one is visible)."""
    probe = subprocess.run([sys.executable, "-c", "import tensorflow as tf; "
                            "print(','.join(d.name for d in tf.config.list_physical_devices('GPU')) or 'CPU')"],
                           capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="lstm,gru,bilstm,bigru,transformer")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="only the classroom preset")
    parser.add_argument("--skip-classroom", action="store_true", help="only the full-IMDB runs")
    args = parser.parse_args()
    if not (IMDB / "train.csv.gz").exists():
        raise SystemExit(f"IMDB not found at {IMDB}: set SEQLAB_IMDB to a folder with train.csv.gz")
    rows = []
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; device: {device()}", flush=True)
    if not args.skip_classroom:
        with tempfile.TemporaryDirectory(prefix="seqlab-ttr-", ignore_cleanup_errors=True) as home:
            rows += classroom(home)
    if not args.skip_full:
        with tempfile.TemporaryDirectory(prefix="seqlab-ttr-", ignore_cleanup_errors=True) as home:
            rows += full_imdb(home, args.archs.split(","), args.epochs)
    print("| measurement | plain notebook wall | seqlab wall | seqlab / plain | test acc. plain | test acc. seqlab |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(table_line(row))


def table_line(row: dict) -> str:
    return (f"| {row['what']} | {row['plain_s']:.1f} s | {row['seqlab_s']:.1f} s | "
            f"{row['seqlab_s'] / row['plain_s']:.2f}x | {row['plain_acc']} | {row['seqlab_acc']} |")


if __name__ == "__main__":
    main()
