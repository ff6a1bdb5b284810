"""Classroom load: 30 students queue a run at once on one machine; what each waits, and the pages.

What issue 14 asks, measured in one run of this script:

  students  `--students` AppTest sessions of the real app (app.py switched to
            the Train page, as the sidebar opens it), each in its own
            workspace (`SEQLAB_WORKSPACES=1`, `?workspace=student-07`), in a
            fresh temporary store. Opening them starts the app's warm workers
            as any open tab does (`SEQLAB_WARM_WORKER`); the bench waits
            until those have imported TensorFlow.
  baseline  The Train page of `SAMPLED` students rerun with the store idle.
  queue     Each student sets a tiny recipe in the Train form (toy dataset,
            an 8-unit LSTM, `--epochs` epochs) and clicks "Start training",
            `--runs-per-student` times in a row, one student after another:
            each click is one rerun of that student's page, as fast as they
            come. The worker pool (`seqlab.jobs.ensure_worker`, `SEQLAB_WORKERS`
            or `--workers`) trains them; the queue is round-robin across
            workspaces (`RunStore.claim_next_run`).
  load      Until every run has finished, the sampled students' Train pages
            are rerun in turn about once a second (an open tab's
            `run_every`), and a thread reads the store every `POLL_SECONDS`
            to note when each run's first epoch appears.

It prints the runs queued, each final status, the runs lost (queued but not
finished, or not seen by their own workspace through `store.for_actor`), the
wait from click to a worker claiming the run and to its first epoch (median,
max), the order the runs were served and, with several runs per student,
whether a later run started while another student's earlier one still waited;
then the page redraw time under load beside the idle baseline, with the ratio.
Timings come from this machine and this run only; the load average is printed
with them. About 3 minutes for 30 students on 2 cores.

Usage:
    python bench/classroom_load.py [--students 30] [--runs-per-student 1] [--epochs 2]
                                   [--workers N] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # seqlab, the tests' AppTest harness, the other benches

# The UI bench's helpers: the Train page through app.py, the strict page check, workers.
from bench.ui_latency import (  # noqa: E402
    median_max, page_problems, page_test, terminate_worker, wait_for, worker_log_tail,
)

# What a student changes in the Train form (widget keys `train.<field>`); the dataset
# stays the form's default, the toy set, and everything else at its default too.
RECIPE = {"train.sequence_length": 20, "train.embedding_dim": 8, "train.units": 8,
          "train.batch_size": 32}
SAMPLED = 3  # students whose Train page redraw is timed
BASELINE_REPEATS = 5  # idle reruns of each sampled page
REDRAW_EVERY = 1.0  # seconds between redraws of one open tab (the Train fragments' run_every)
POLL_SECONDS = 0.5


class EpochWatcher(threading.Thread):
    """Reads the store every `POLL_SECONDS`; notes when each run's first epoch appears (time.time())."""

    def __init__(self, store):
        super().__init__(daemon=True)
        self.store, self.first_epoch, self.halt = store, {}, threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            frame = self.store.epochs_frame()
            now = time.time()
            for run_id in frame.loc[frame["epoch"] == 1, "run_id"]:
                self.first_epoch.setdefault(run_id, now)
            self.halt.wait(POLL_SECONDS)


def open_students(names: list[str]) -> dict:
    """Returns an AppTest of the Train page per workspace name, each run once."""
    sessions = {}
    for name in names:
        at = page_test("Train")
        at.query_params["workspace"] = name
        at.run()
        for problem in page_problems(at):
            print(f"# {name}: {problem[:300]}", flush=True)
        sessions[name] = at
    return sessions


def time_redraws(sessions: list, repeats: int, problems: list[str]) -> list[float]:
    """Returns the seconds of `repeats` reruns of each AppTest in `sessions`, taken in turn.

    Args:
        sessions: the students' AppTests.
        repeats: reruns of each.
        problems: receives what each rerun showed wrong (an exception, an error box).
    """
    seconds = []
    for _ in range(repeats):
        for at in sessions:
            started = time.perf_counter()
            at.run()
            seconds.append(time.perf_counter() - started)
            problems += page_problems(at)
    return seconds


def queue_all(store, sessions: dict, runs_per_student: int, epochs: int) -> list[dict]:
    """Clicks "Start training" `runs_per_student` times on each student's page, one after another.

    Returns:
        One dict per click: student, number (1 = the student's first run),
        clicked_at (time.time()), run_id (None when the click queued nothing).
    """
    from seqlab.workspaces import Actor

    clicks = []
    for name, at in sessions.items():
        view = store.for_actor(Actor(name))  # what the student's own pages see
        for number in range(1, runs_per_student + 1):
            before = {record.run_id for record in view.list_runs()}
            for key, value in {**RECIPE, "train.epochs": epochs}.items():
                at.number_input(key=key).set_value(value)
            clicked_at = time.time()
            at.button(key="train.start").click().run()
            new = [record.run_id for record in view.list_runs() if record.run_id not in before]
            for problem in page_problems(at):
                print(f"# {name} click {number}: {problem[:300]}", flush=True)
            clicks.append({"student": name, "number": number, "clicked_at": clicked_at,
                           "run_id": new[0] if len(new) == 1 else None})
    return clicks


def follow_load(store, sessions: list, run_ids: list[str], timeout: float,
                problems: list[str]) -> tuple[list[float], float]:
    """Redraws `sessions` in turn about every `REDRAW_EVERY` s until every run has finished.

    Problems the redraws show are added to `problems`.

    Returns:
        (the redraw seconds, time.time() when the last run finished or the timeout passed).
    """
    redraws, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(store.get_run(run_id).finished for run_id in run_ids):
            break
        round_started = time.perf_counter()
        redraws += time_redraws(sessions, 1, problems)
        # One round redraws every sampled tab once: each tab then redraws every REDRAW_EVERY s.
        time.sleep(max(0.0, REDRAW_EVERY - (time.perf_counter() - round_started)))
    return redraws, time.time()


def served_order(runs: list[dict]) -> str:
    """Returns "3.1 1.1 2.1 ..." (student number . run number) in the order workers claimed them."""
    started = sorted((run for run in runs if run["started_at"]), key=lambda run: run["started_at"])
    return " ".join(f"{int(run['student'].rpartition('-')[2])}.{run['number']}" for run in started)


def overtakes(runs: list[dict]) -> int:
    """Returns how many later runs started while another student's earlier-numbered run waited queued."""
    return sum(
        1 for late in runs if late["number"] > 1 and late["started_at"]
        if any(other["student"] != late["student"] and other["number"] < late["number"]
               and other["created_at"] <= late["started_at"] < (other["started_at"] or math.inf)
               for other in runs))


def run_classroom(store, args) -> dict:
    """Opens the students' pages, times the idle baseline, queues every run, follows them to the end.

    Returns:
        runs (one dict per queued run: the click, its record's times and
        status, when its first epoch appeared), clicks, the redraw seconds
        idle and under load, their problems, when the last run ended, the
        worker pids seen.
    """
    from seqlab.workspaces import Actor

    names = [f"student-{index:02d}" for index in range(1, args.students + 1)]
    sessions = open_students(names)
    pids = set(store.live_workers())
    # Warm workers log "started" once TensorFlow is imported (seqlab.cli, seqlab.jobs.run_worker).
    logs = [store.home / "logs" / f"worker-{pid}.log" for pid in pids]
    wait_for(lambda: all(log.exists() and " started on " in log.read_text() for log in logs), 180)
    print(f"# {args.students} Train pages opened, {len(pids)} warm worker(s) ready", flush=True)
    sampled = [sessions[name] for name in names[:: max(1, args.students // SAMPLED)][:SAMPLED]]
    result = {"idle_problems": [], "load_problems": [], "pids": pids}
    result["idle"] = time_redraws(sampled, BASELINE_REPEATS, result["idle_problems"])

    watcher = EpochWatcher(store)
    watcher.start()
    try:
        clicks = queue_all(store, sessions, args.runs_per_student, args.epochs)
        run_ids = [click["run_id"] for click in clicks if click["run_id"]]
        print(f"# {len(run_ids)} runs queued in {time.time() - clicks[0]['clicked_at']:.1f} s; following them",
              flush=True)
        result["load"], result["ended_at"] = follow_load(store, sampled, run_ids, args.timeout,
                                                         result["load_problems"])
        pids.update(store.live_workers())
        time.sleep(2 * POLL_SECONDS)  # the watcher's last look
    finally:
        watcher.halt.set()
        watcher.join(5)
    result["clicks"], result["runs"] = clicks, []
    for click in clicks:
        if click["run_id"]:
            record = store.get_run(click["run_id"])
            result["runs"].append({**click, "status": record.status, "created_at": record.created_at,
                                   "started_at": record.started_at,
                                   "first_epoch_at": watcher.first_epoch.get(click["run_id"])})
    # Each workspace, as its own pages see the store, holds exactly the runs its clicks queued.
    result["own"] = sum({record.run_id for record in store.for_actor(Actor(name)).list_runs()}
                        == {click["run_id"] for click in clicks if click["student"] == name}
                        for name in names)
    return result


def report(args, result: dict, pool: int, load: tuple[float, float]) -> None:
    """Prints the figures the README quotes."""
    from seqlab.store import FINISHED_STATUSES

    clicks, runs, first_click = result["clicks"], result["runs"], result["clicks"][0]["clicked_at"]
    finished = [run for run in runs if run["status"] in FINISHED_STATUSES]
    statuses = collections.Counter(run["status"] for run in runs)
    claimed = [run["started_at"] - run["clicked_at"] for run in runs if run["started_at"]]
    first_epoch = [run["first_epoch_at"] - run["clicked_at"] for run in runs if run["first_epoch_at"]]
    idle, loaded = result["idle"], result["load"]
    print(f"\n{args.students} students x {args.runs_per_student} run(s) of {args.epochs} epoch(s) "
          f"(toy set, LSTM of 8 units); pool of {pool} workers on {os.cpu_count()} CPU cores; load "
          f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end.\n")
    print(f"- runs queued: {len(runs)} of {len(clicks)} clicks, in "
          f"{max(run['created_at'] for run in runs) - first_click:.1f} s from the first click to the last queued run")
    print(f"- final status: {', '.join(f'{status} {count}' for status, count in sorted(statuses.items()))}")
    print(f"- lost: {len(clicks) - len(finished)} (clicked {len(clicks)}, finished {len(finished)}); "
          f"workspaces that see exactly their own runs: {result['own']} of {args.students}")
    print(f"- click -> a worker claims the run (median / max): {median_max(claimed)}")
    print(f"- click -> first epoch in the store (median / max, polled every {POLL_SECONDS:g} s): "
          f"{median_max(first_epoch)}")
    print(f"- every run finished {result['ended_at'] - first_click:.0f} s after the first click")
    print(f"- served (student.run, in the order workers claimed them): {served_order(runs)}")
    if args.runs_per_student > 1:
        last_first = max(run["created_at"] for run in runs if run["number"] == 1)
        laters = [run["started_at"] or math.inf for run in runs if run["number"] > 1]
        # A free worker takes whatever is queued: before the last student clicked, a second
        # run may start with no one else waiting. Round-robin shows in the overtakes.
        print(f"- later runs (a student's 2nd, 3rd, ...): {len(laters)}; started while another student's "
              f"earlier run waited in the queue: {overtakes(runs)}; started before the last student's first "
              f"click, nobody else waiting or not: {sum(started < last_first for started in laters)}")
    ratio = statistics.median(loaded) / statistics.median(idle) if loaded and idle else math.nan
    print(f"- Train page redraw (AppTest rerun of {SAMPLED} students' pages; median / max): idle store "
          f"{median_max(idle)} ({len(idle)} redraws); while the runs trained {median_max(loaded)} "
          f"({len(loaded)} redraws); {ratio:.1f}x the idle median")
    problems = result["idle_problems"] + result["load_problems"]
    print(f"- redraws that showed an exception or error box: idle {len(result['idle_problems'])}, "
          f"under load {len(result['load_problems'])}")
    for problem, count in collections.Counter(problem[:200] for problem in problems).items():
        print(f"    {count}x {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30, help="simulated students (AppTest sessions)")
    parser.add_argument("--runs-per-student", type=int, default=1, help="clicks on Start per student, in a row")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each run")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker pool size (SEQLAB_WORKERS; default: the pool's own, cores + 1)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for every run to end")
    args = parser.parse_args()
    for flag, value in (("--students", args.students), ("--runs-per-student", args.runs_per_student),
                        ("--epochs", args.epochs), ("--workers", args.workers or 1)):
        if value < 1:
            parser.error(f"{flag}: received {value}, expected a whole number >= 1")

    began = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="seqlab-classroom-load-"))
    os.environ["SEQLAB_HOME"] = str(home)  # the AppTest pages and their workers use this store
    os.environ["SEQLAB_WORKSPACES"] = "1"  # a classroom server: each session its own workspace
    if args.workers:
        os.environ["SEQLAB_WORKERS"] = str(args.workers)
    from seqlab import jobs
    from seqlab.store import RunStore

    store = RunStore(home)
    load_before = os.getloadavg()[0]
    print(f"# classroom_load: pool of {jobs.pool_size()} workers, warm workers "
          f"{'off' if os.environ.get('SEQLAB_WARM_WORKER') == '0' else 'on'}; store {home}", flush=True)
    result = {"pids": set()}
    try:
        result = run_classroom(store, args)
        report(args, result, jobs.pool_size(), (load_before, os.getloadavg()[0]))
        if any(run["status"] != "completed" for run in result["runs"]):
            print(f"- the newest worker log: {worker_log_tail(store)}")
        print(f"\n# total {time.perf_counter() - began:.0f} s")
    finally:
        for record in store.list_runs(statuses=["queued", "running"]):
            jobs.stop_run(store, record.run_id)  # after a timeout: nothing left for a worker to start
        for pid in result["pids"] | set(store.live_workers()):
            terminate_worker(pid)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
