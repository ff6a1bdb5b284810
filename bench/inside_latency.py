"""Inside page latency: the first view of each tab once the page is open, against loading and predicting.

What issue 12 asks ("state the first-view time of each view on these
machines"), measured in one run of this script:

  runs      Three toy runs (lstm, bigru, transformer, the form's defaults
            otherwise) trained by the command line in child processes.
            `--home` reuses a store that has them.
  baseline  In a fresh interpreter, after TensorFlow and seqlab are
            imported: loading the views' runs and predicting one sentence
            with each (`seqlab.inference.predictions_table`, no cache), which
            any page that uses a model pays at least.
  views     In the same interpreter, AppTest of `pages/6_Inside.py` opened on
            each tab by its URL (`?inside.tab=...`): the page's first run
            (Streamlit's result caches cleared, the process's model cache
            emptied, so it loads and computes) and a second run (the cached
            result), each timed from the script's start to its end.

The table prints each view's first and second time and the first's ratio to
the baseline, the median over rounds. The load average is printed: other
processes on the machine slow every figure.

Usage:
    python bench/inside_latency.py [--rounds 3] [--home FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # seqlab, and the tests' AppTest harness
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ARCHITECTURES = ("lstm", "bigru", "transformer")
TABS = {"What the RNN remembers": {"inside.memory.run": "lstm"},
        "Which words decided": {"inside.words.runs": ["lstm", "transformer"]},
        "Gradient flow": {"inside.gradients.runs": ["lstm", "bigru", "transformer"]},
        "Where models err": {"inside.errors.run": "transformer", "inside.errors.other": "lstm"}}
SENTENCE = "the film was not good"


def ensure_runs(home: Path) -> dict[str, str]:
    """Returns {arch: run_id} of completed toy runs in `home`, training the missing ones."""
    from seqlab.store import RunStore

    found = {r.arch: r.run_id for r in RunStore(home).list_runs(statuses=("completed",))}
    for arch in ARCHITECTURES:
        if arch not in found:
            subprocess.run([sys.executable, "-m", "seqlab", "--home", str(home), "train", "--dataset", "toy",
                            "--arch", arch, "--set", "train.jit_compile=off"],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return {r.arch: r.run_id for r in RunStore(home).list_runs(statuses=("completed",))}


def child(home: Path, runs: dict[str, str]) -> dict[str, float]:
    """Measures the baseline and every view in this (fresh) interpreter; returns seconds by name."""
    import streamlit as st

    from seqlab.inference import predictions_table
    from seqlab.store import RunStore
    from seqlab.ui import model_cache
    from tests.apptest_support import INSIDE_PAGE, open_page, page_problems

    os.environ["SEQLAB_HOME"] = str(home)
    store = RunStore(home)
    started = time.perf_counter()
    predictions_table(store, list(runs.values()), [SENTENCE])
    figures = {"baseline": time.perf_counter() - started}
    for tab, state in TABS.items():
        st.cache_data.clear()
        model_cache().clear()
        at = open_page(INSIDE_PAGE)
        at.query_params["inside.tab"] = tab
        for key, value in state.items():
            at.session_state[key] = [runs[v] for v in value] if isinstance(value, list) else runs[value]
        started = time.perf_counter()
        at.run()
        figures[f"{tab} first"] = time.perf_counter() - started
        problems = page_problems(at)
        if problems:
            raise SystemExit(f"{tab}: {problems}")
        started = time.perf_counter()
        at.run()
        figures[f"{tab} again"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--home", type=Path, help="a store to reuse (toy lstm, bigru, transformer runs)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--runs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(args.runs))))
        return
    home = args.home or Path(tempfile.mkdtemp(prefix="seqlab-inside-"))
    runs = ensure_runs(home)
    rounds = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--child", str(home), "--runs", json.dumps(runs)],
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout
        rounds.append(json.loads(out.strip().splitlines()[-1]))
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds; runs {runs}")
    print(f"baseline: load {len(runs)} runs and predict one sentence: {median['baseline']:.2f} s")
    print(f"{'view':<24} {'first':>7} {'again':>7} {'first / baseline':>17}")
    for tab in TABS:
        first, again = median[f"{tab} first"], median[f"{tab} again"]
        print(f"{tab:<24} {first:6.2f}s {again:6.2f}s {first / median['baseline']:16.2f}x")


if __name__ == "__main__":
    main()
