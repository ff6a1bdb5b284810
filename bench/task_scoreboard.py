"""The task suite's scoreboard: test accuracy per architecture and task, over seeds.

Trains every architecture on every built-in task through the command line
(`python -m seqlab train --seeds 3 --json`), with the default model and
training settings; each synthetic task at its lesson's length with
`data.num_examples=10000` (`config.TASK_NUM_EXAMPLES`) and the sequence
length equal to the text length, as the Train form suggests; toy at its
suggested length of 16. A few variants show what a switch does (the GRU
without a padding mask on synthetic-variable, the Transformer without
position embeddings on the order tasks). Then, unless `--no-sweep`, the
LSTM-vs-length sweep on synthetic-longrange through `python -m seqlab sweep`.

It prints a Markdown table of test accuracy (mean ± std over the seeds, with
the kept weights of each run's best validation epoch), one of steady seconds
per epoch, and the sweep's own table, as the README quotes them. Runs go to a
temporary store unless `--home` is given; results are also written as JSON
(`--out`) so `--from-json` can print the tables again without training.

Usage:
    python bench/task_scoreboard.py [--seeds 3] [--tasks synthetic-longrange,...]
        [--archs lstm,gru,...] [--no-sweep] [--home DIR] [--out results.json]
    python bench/task_scoreboard.py --from-json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqlab.config import ARCHITECTURES, TASK_NUM_EXAMPLES

# Each task at the length its lesson is told at.
TASK_LENGTHS = {
    "toy": 16,
    "synthetic-presence": 40,
    "synthetic-longrange": 120,
    "synthetic-negation": 40,
    "synthetic-variable": 80,
}
# (task, arch, settings, row label): what one switch changes.
VARIANTS = (
    ("synthetic-variable", "gru", ["model.use_mask=false"], "gru, no mask"),
    ("synthetic-variable", "gru", ["data.num_examples=2000"], "gru, 2,000 texts"),
    ("synthetic-variable", "gru", ["data.num_examples=2000", "model.use_mask=false"], "gru, 2,000 texts, no mask"),
    ("synthetic-longrange", "transformer", ["model.position_embedding=false"], "transformer, no positions"),
    ("synthetic-negation", "transformer", ["model.position_embedding=false"], "transformer, no positions"),
)
SWEEP_LENGTHS = (20, 40, 60, 80, 120)
SWEEP_ARCHS = ("lstm", "bilstm", "transformer")


def task_settings(task: str) -> list[str]:
    """The `--set` assignments that size a task."""
    length = TASK_LENGTHS[task]
    settings = [f"data.sequence_length={length}"]
    if task.startswith("synthetic-"):
        settings += [f"data.synthetic_length={length}", f"data.num_examples={TASK_NUM_EXAMPLES}"]
    return settings


def command(home: str, task: str, arch: str, seeds: int, extra: list[str]) -> list[str]:
    sets = [item for setting in task_settings(task) + extra for item in ("--set", setting)]
    return [sys.executable, "-m", "seqlab", "--home", home, "train", "--dataset", task, "--arch", arch,
            "--seeds", str(seeds), "--json", *sets]


def steady_seconds(history: list[dict]) -> float:
    """Median seconds of the epochs after the first (the first pays for compiling)."""
    steady = [row["seconds"] for row in history[1:] if row.get("seconds") is not None]
    return statistics.median(steady) if steady else float("nan")


def train_cell(home: str, task: str, arch: str, seeds: int, extra: list[str]) -> dict:
    """Trains one (task, arch) over `seeds` seeds; returns its accuracies and timings."""
    cmd = command(home, task, arch, seeds, extra)
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed:\n{result.stderr[-2000:]}")
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    runs = payload["runs"] if "runs" in payload else [payload["run_id"]]
    histories = list(payload["history"].values()) if "runs" in payload else [payload["history"]]
    accuracies = _test_accuracies(home, runs)
    return {
        "task": task, "arch": arch, "extra": extra, "command": " ".join(cmd[1:]).replace(home, "HOME"),
        "test_accuracies": accuracies, "seconds_per_epoch": [steady_seconds(h) for h in histories],
        "wall_seconds": time.perf_counter() - started,
    }


def _test_accuracies(home: str, run_ids: list[str]) -> list[float]:
    out = subprocess.run([sys.executable, "-m", "seqlab", "--home", home, "runs", "--json"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    by_id = {row["run_id"]: row for row in json.loads(out.strip().splitlines()[-1])}
    return [float(by_id[run_id]["test_accuracy"]) for run_id in run_ids]


def mean_std(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def cell_length(cell: dict) -> int:
    """The text length a cell was trained at (its sequence length)."""
    return int(cell["command"].split("data.sequence_length=")[1].split()[0])


def tables(cells: list[dict], seeds: int) -> str:
    """The Markdown tables: test accuracy, then steady seconds per epoch."""
    tasks = [task for task in TASK_LENGTHS if any(c["task"] == task for c in cells)]
    rows: list[tuple[str, list[dict]]] = []
    for arch in ARCHITECTURES:
        rows.append((arch, [c for c in cells if c["arch"] == arch and not c["extra"]]))
    for task, arch, extra, label in VARIANTS:
        rows.append((label, [c for c in cells if c["task"] == task and c["arch"] == arch and c["extra"] == extra]))
    rows = [(label, row) for label, row in rows if row]
    lengths = {task: next(cell_length(c) for c in cells if c["task"] == task) for task in tasks}
    header = "| | " + " | ".join(f"{task} ({lengths[task]})" for task in tasks) + " |"
    rule = "|---" * (len(tasks) + 1) + "|"
    out = [f"Test accuracy, mean ± std over {seeds} seeds (best-epoch weights):", "", header, rule]
    for label, row in rows:
        by_task = {c["task"]: c for c in row}
        out.append(f"| {label} | " + " | ".join(
            mean_std(by_task[t]["test_accuracies"]) if t in by_task else "" for t in tasks) + " |")
    out += ["", "Steady seconds per epoch (median of epochs 2 onwards), mean over the seeds:", "", header, rule]
    for label, row in rows:
        by_task = {c["task"]: c for c in row}
        out.append(f"| {label} | " + " | ".join(
            f"{statistics.fmean(by_task[t]['seconds_per_epoch']):.2f}" if t in by_task else "" for t in tasks) + " |")
    return "\n".join(out)


def sweep(home: str, seeds: int) -> str:
    """Runs the LSTM-vs-length sweep on synthetic-longrange; returns what the command printed."""
    cmd = [sys.executable, "-m", "seqlab", "--home", home, "sweep", "--dataset", "synthetic-longrange",
           "--arch", ",".join(SWEEP_ARCHS), "--vary", "data.sequence_length=" + ",".join(map(str, SWEEP_LENGTHS)),
           "--seeds", str(seeds), "--set", f"data.num_examples={TASK_NUM_EXAMPLES}"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if result.returncode != 0:
        raise RuntimeError(f"sweep failed:\n{result.stderr[-2000:]}")
    shown = " ".join(cmd[1:]).replace(home, "HOME")
    return f"$ python {shown}\n{result.stdout.strip()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASK_LENGTHS))
    parser.add_argument("--archs", default=",".join(ARCHITECTURES))
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--sweep-seeds", type=int, default=1)
    parser.add_argument("--home", help="run store folder (default: a temporary one)")
    parser.add_argument("--out", default="task_scoreboard.json", help="where to write the results")
    parser.add_argument("--from-json", nargs="+", metavar="FILE",
                        help="print the tables of earlier --out files, train nothing; a later file's "
                             "cells replace an earlier one's for the same task and architecture")
    args = parser.parse_args(argv)
    if args.from_json:
        merged: dict[tuple, dict] = {}
        swept, seeds = "", args.seeds
        for name in args.from_json:
            saved = json.loads(Path(name).read_text())
            merged.update({(c["task"], c["arch"], tuple(c["extra"])): c for c in saved["cells"]})
            swept, seeds = saved.get("sweep") or swept, saved["seeds"]
        print(tables(list(merged.values()), seeds))
        if swept:
            print("\n" + swept)
        return 0
    home = args.home or tempfile.mkdtemp(prefix="seqlab-scoreboard-")
    tasks, archs = args.tasks.split(","), args.archs.split(",")
    plan = [(task, arch, []) for task in tasks for arch in archs]
    plan += [(task, arch, extra) for task, arch, extra, _ in VARIANTS if task in tasks and arch in archs]
    cells = []
    for index, (task, arch, extra) in enumerate(plan, start=1):
        cell = train_cell(home, task, arch, args.seeds, extra)
        cells.append(cell)
        print(f"[{index}/{len(plan)}] {task} {arch} {' '.join(extra)}: "
              f"{mean_std(cell['test_accuracies'])} ({cell['wall_seconds']:.0f} s)", file=sys.stderr, flush=True)
        Path(args.out).write_text(json.dumps({"seeds": args.seeds, "cells": cells}, indent=1))
    swept = "" if args.no_sweep else sweep(home, args.sweep_seeds)
    Path(args.out).write_text(json.dumps({"seeds": args.seeds, "cells": cells, "sweep": swept}, indent=1))
    print(tables(cells, args.seeds))
    if swept:
        print("\n" + swept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
