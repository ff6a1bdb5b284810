"""Time to result: seqlab against a plain notebook, from the click to the test accuracy.

Two measurements, each run in fresh processes on the same machine in one go:

  (a) the classroom preset (LSTM, GRU, Transformer on 2,000 IMDB reviews):
      seqlab queues it exactly as the Home button does and a real worker
      trains it (`python -m seqlab preset NAME --wait --json`, timed from the
      command's start to its last run finished), against
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
    env = dict(os.environ, SEQLAB_HOME=home, SEQLAB_IMDB=str(IMDB), TF_CPP_MIN_LOG_LEVEL="2")
    return env


def classroom(home: str) -> list[dict]:
    env = environment(home)
    rows = []
    plain_wall, plain = timed([sys.executable, "bench/plain_notebook.py", "--data", str(IMDB), "--arch",
                               "lstm,gru,transformer", "--subset", "2000", "--epochs", "4", "--json"], env)
    seqlab_wall, result = timed([sys.executable, "-m", "seqlab", "preset", CLASSROOM_PRESET, "--wait",
                                 "--json"], env)
    plain_accuracy = " / ".join(f"{run['test_accuracy']:.2f}" for run in plain["runs"])
    seqlab_accuracy = " / ".join(f"{run['test_accuracy']:.2f}" for run in result["runs"])
    rows.append({"what": "classroom preset (lstm, gru, transformer; 2,000 reviews, 4 epochs)",
                 "plain_s": plain_wall, "seqlab_s": seqlab_wall, "plain_acc": plain_accuracy,
                 "seqlab_acc": seqlab_accuracy})
    return rows


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
    return rows


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
    with tempfile.TemporaryDirectory(prefix="seqlab-ttr-") as home:
        if not args.skip_classroom:
            rows += classroom(home)
        if not args.skip_full:
            rows += full_imdb(home, args.archs.split(","), args.epochs)
    print("| measurement | plain notebook wall | seqlab wall | seqlab / plain | test acc. plain | test acc. seqlab |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['what']} | {row['plain_s']:.1f} s | {row['seqlab_s']:.1f} s | "
              f"{row['seqlab_s'] / row['plain_s']:.2f}x | {row['plain_acc']} | {row['seqlab_acc']} |")


if __name__ == "__main__":
    main()
