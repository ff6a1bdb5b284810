"""Page latency: the first Attention heatmap and a 4-runs x 4-texts Predict, before and after the model cache.

What issue 11 asks of the Attention and Predict pages ("< 2 s once the page
is open; models loaded once per process, in a bounded cache keyed by run
id"), measured in one run of this script:

  runs      Four small runs (lstm, gru, transformer, bilstm on the toy
            dataset, the defaults otherwise) trained by the command line in
            child processes, so this interpreter has loaded no model before
            it measures. `--home` reuses a store that has them.
  page open Each measurement runs in a fresh interpreter (a child of this
            script), so neither path inherits the other's loaded models,
            kernels or XLA programs. There, importing TensorFlow and seqlab's
            inference code, AppTest's first page run (Home) and the first
            model load and call of the process (a throwaway load of one run,
            called on five ids) are paid first and printed apart: a server
            pays them once, for whichever page first needs a model.
  before    The path before the cache, reproduced by patching two functions
            of `seqlab.inference` back: every call loads the run's model (with
            its optimizer, `seqlab.models.load_model`) and predicts with
            `model.predict`, which builds a new predict function per call and,
            under the saved XLA setting, compiles one program per batch shape.
            The pages get no model cache.
  after     `seqlab.inference` with a `ModelCache`, empty before every "first"
            figure: loads once, then one traced forward graph per model that
            every batch size reuses; attention from a probe kept with the
            model. The pages use `seqlab.ui.model_cache()`, which also keeps
            Streamlit from clearing Keras's session (and TensorFlow's kernel
            cache) after every script run.

Each figure is timed through the function the page calls
(`seqlab.inference.attention_map` / `predictions_table`, one interpreter per
path and round) and through AppTest of the page itself (`pages/4_Attention.py`,
`pages/5_Predict.py`, another interpreter, Streamlit's result caches cleared
first, so a "first" run computes). Rounds alternate which path goes first; the
table gives the median over rounds and the ratio before / after. The load
average is printed: other processes on the machine slow every figure.

Usage:
    python bench/page_latency.py [--rounds 3] [--epochs 1] [--home FOLDER]
"""

from __future__ import annotations

import argparse
import contextlib
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ARCHITECTURES = ("lstm", "gru", "transformer", "bilstm")
ATTENTION_TEXTS = ("the acting was not good but the story was great",  # the page's default
                   "a slow start but a wonderful ending")
PREDICT_TEXTS = ("I loved this film, the acting was great", "the plot was boring and far too long",
                 "not good", "what a wonderful film")
OTHER_TEXTS = ("a dull and lifeless story", "one of the best films this year",
               "not bad at all", "I would not watch it again")
APPTEST_TIMEOUT = 180


# ------------------------------------------------------------------ the runs
def ensure_runs(home: Path, epochs: int) -> dict[str, str]:
    """Returns {arch: run_id} of a finished toy run per architecture, training the missing ones.

    Trains through the command line in child processes, so this process has
    loaded no model when it starts measuring.
    """
    from seqlab.store import RunStore
    from seqlab.views.runs import model_runs

    store = RunStore(home)
    found = {}
    for run_id in model_runs(store):
        record = store.get_run(run_id)
        if record.config.data.dataset == "toy":
            found.setdefault(record.arch, run_id)
    for arch in ARCHITECTURES:
        if arch in found:
            continue
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "seqlab", "--home", str(home), "train", "--dataset", "toy",
             "--arch", arch, "--epochs", str(epochs), "--json"],
            cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"training {arch} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        found[arch] = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
        print(f"# trained {arch}: {found[arch]} ({time.perf_counter() - began:.1f} s)", flush=True)
    return {arch: found[arch] for arch in ARCHITECTURES}


# ------------------------------------------------------------ the two paths
@contextlib.contextmanager
def before_the_cache():
    """Puts back the inference path of before the cache for the duration of the block.

    Loading goes through `seqlab.models.load_model` (optimizer included),
    probabilities through `model.predict`, and the pages get no model cache.
    """
    import numpy as np

    import seqlab.inference as inference
    import seqlab.ui as ui
    from seqlab.models import load_model

    def probabilities(self, token_ids):
        outputs = np.asarray(self.model.predict(token_ids, verbose=0))  # (batch, outputs)
        if outputs.shape[-1] == 1:
            positive = outputs[:, 0]
            return np.stack([1.0 - positive, positive], axis=1)
        return outputs

    saved = inference._load_keras_model, inference.LoadedModel.probabilities, ui.model_cache
    inference._load_keras_model = load_model
    inference.LoadedModel.probabilities = probabilities
    ui.model_cache = lambda: None
    try:
        yield
    finally:
        inference._load_keras_model, inference.LoadedModel.probabilities, ui.model_cache = saved


def timed(function, *args) -> float:
    """Seconds one call of `function(*args)` takes."""
    began = time.perf_counter()
    function(*args)
    return time.perf_counter() - began


def measure_functions(store, runs: dict[str, str], cached: bool) -> dict[str, float]:
    """Times the seqlab functions the pages call, the model cache empty at the start.

    Args:
        store: the run store.
        runs: {arch: run_id}.
        cached: give the functions a fresh `ModelCache` (the after path), or none.
    """
    from seqlab.inference import ModelCache, attention_map, predictions_table

    models = ModelCache() if cached else None
    run_ids = list(runs.values())
    transformer = runs["transformer"]
    times = {
        "attention first": timed(attention_map, store, transformer, ATTENTION_TEXTS[0], models),
        "attention second": timed(attention_map, store, transformer, ATTENTION_TEXTS[1], models),
    }
    if models is not None:
        models.clear()  # a first Predict loads every model, the transformer's included
    times["predict first"] = timed(predictions_table, store, run_ids, list(PREDICT_TEXTS), models)
    times["predict again"] = timed(predictions_table, store, run_ids, list(OTHER_TEXTS), models)
    times["predict 4x3"] = timed(predictions_table, store, run_ids, list(OTHER_TEXTS[:3]), models)
    return times


def measure_pages(runs: dict[str, str], harness) -> tuple[dict[str, float], list[str]]:
    """Times AppTest runs of the Attention and Predict pages, Streamlit's caches emptied first.

    Returns:
        (seconds per measurement, what was wrong on a page, one line each).
    """
    import streamlit as st

    import seqlab.ui as ui

    def fresh():
        st.cache_data.clear()
        cache = ui.model_cache()
        if cache is not None:
            cache.clear()

    problems, times = [], {}
    fresh()
    attention = harness.open_page(harness.ATTENTION_PAGE, timeout=APPTEST_TIMEOUT)
    attention.session_state["attention.run_id"] = runs["transformer"]
    attention.session_state["attention.text"] = ATTENTION_TEXTS[0]
    times["attention page first"] = timed(attention.run)
    problems += harness.page_problems(attention)
    attention.text_input(key="attention.text").set_value(ATTENTION_TEXTS[1])
    times["attention page second"] = timed(attention.run)
    problems += harness.page_problems(attention)
    if not [frame for frame in harness.chart_frames(attention) if "weight" in frame]:
        problems.append("the Attention page drew no heatmap")

    fresh()
    predict = harness.open_page(harness.PREDICT_PAGE, timeout=APPTEST_TIMEOUT)
    predict.session_state["predict.run_ids"] = list(runs.values())
    predict.session_state["predict.texts"] = "\n".join(PREDICT_TEXTS)
    times["predict page first"] = timed(predict.run)
    problems += harness.page_problems(predict)
    predict.text_area(key="predict.texts").set_value("\n".join(OTHER_TEXTS))
    times["predict page again"] = timed(predict.run)
    problems += harness.page_problems(predict)
    if not predict.dataframe or len(predict.dataframe[0].value) != len(runs) * len(OTHER_TEXTS):
        problems.append("the Predict page did not show 4 runs x 4 texts")
    return times, problems


# ------------------------------------------------------------- one child
def child(path: str, surface: str, home: Path, runs: dict[str, str]) -> dict:
    """Measures one path on one surface in this (fresh) interpreter; returns what the parent prints.

    Args:
        path: "before" or "after".
        surface: "functions" (the seqlab functions the pages call) or "pages" (AppTest).
        home: the store.
        runs: {arch: run_id}.
    """
    import logging

    opening = {}
    began = time.perf_counter()
    import numpy as np
    import tensorflow  # noqa: F401

    import seqlab.inference as inference
    from seqlab.store import RunStore
    from tests import apptest_support as harness

    opening["TensorFlow + seqlab import"] = time.perf_counter() - began
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    store = RunStore(home)
    if surface == "pages":
        opening["AppTest's first page run (Home)"] = timed(
            harness.open_page(harness.HOME_PAGE, timeout=APPTEST_TIMEOUT).run)
    began = time.perf_counter()
    # Five ids, eagerly: the process's first variables and kernels, not a 200-step eager loop.
    inference._load_keras_model(store.model_path(runs["gru"]))(np.ones((1, 5), np.int32))  # (1, 5)
    opening["first model load + call of the process"] = time.perf_counter() - began

    problems = []
    with before_the_cache() if path == "before" else contextlib.nullcontext():
        if surface == "functions":
            times = measure_functions(store, runs, cached=path == "after")
        else:
            times, problems = measure_pages(runs, harness)
    return {"times": times, "opening": opening, "problems": problems}


# -------------------------------------------------------------------- report
ROWS = (
    ("attention first", "First Attention heatmap (attention_map, cache empty)"),
    ("attention second", "Second heatmap, another text"),
    ("predict first", "Predict 4 runs x 4 texts, first (predictions_table, cache empty)"),
    ("predict again", "Predict 4x4 again, new texts"),
    ("predict 4x3", "Predict 4 runs x 3 texts (another batch size)"),
    ("attention page first", "Attention page, AppTest: open -> heatmaps drawn (caches empty)"),
    ("attention page second", "Attention page, AppTest: another text"),
    ("predict page first", "Predict page, AppTest: open with 4 runs x 4 texts (caches empty)"),
    ("predict page again", "Predict page, AppTest: 4 new texts"),
)


def report(before: list[dict], after: list[dict], opening: dict[str, list[float]], loads,
           rounds: int) -> None:
    """Prints the page-open costs and the before/after table (medians over rounds)."""
    print(f"\n# page_latency: {rounds} round(s), each path and surface in a fresh interpreter; "
          f"load average {loads[0]:.2f} at the start, {loads[1]:.2f} at the end ({os.cpu_count()} CPUs)")
    print("# paid once per process before the figures below (median): "
          + ", ".join(f"{name} {statistics.median(values):.2f} s" for name, values in opening.items()))
    print("\n| measurement | before (no cache, model.predict) | after (ModelCache) | before / after |")
    print("|---|---|---|---|")
    for key, title in ROWS:
        old = [times[key] for times in before if key in times]
        new = [times[key] for times in after if key in times]
        low, high = statistics.median(old), statistics.median(new)
        print(f"| {title} | {low:.2f} s ({min(old):.2f}-{max(old):.2f}) | "
              f"{high:.2f} s ({min(new):.2f}-{max(new):.2f}) | {low / high:.1f}x |")
    print("\n(median over rounds, min-max in brackets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="before/after rounds (alternating order)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each trained run")
    parser.add_argument("--home", type=Path, help="a store to reuse (toy runs of each architecture "
                                                  "are trained there when missing)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "SURFACE"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", help=argparse.SUPPRESS)
    args = parser.parse_args()

    home = (args.home or Path(tempfile.mkdtemp(prefix="seqlab-page-latency-"))).resolve()
    os.environ["SEQLAB_HOME"] = str(home)  # the AppTest pages read the store from here
    if args.child:
        print(json.dumps(child(*args.child, home, json.loads(args.runs))))
        return
    runs = ensure_runs(home, args.epochs)
    print(f"# runs in {home}: " + ", ".join(f"{arch} {run_id}" for arch, run_id in runs.items()),
          flush=True)
    loads = [os.getloadavg()[0]]
    results = {"before": [], "after": []}
    opening: dict[str, list[float]] = {}
    problems = []
    for round_index in range(args.rounds):
        order = ("before", "after") if round_index % 2 == 0 else ("after", "before")
        for path in order:
            times = {}
            for surface in ("functions", "pages"):
                done = subprocess.run(
                    [sys.executable, __file__, "--home", str(home), "--child", path, surface,
                     "--runs", json.dumps(runs)],
                    cwd=ROOT, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise SystemExit(f"measuring {path} {surface} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                times.update(result["times"])
                for name, seconds in result["opening"].items():
                    opening.setdefault(name, []).append(seconds)
                problems += [f"{path}: {problem}" for problem in result["problems"]]
            results[path].append(times)
            print(f"# round {round_index + 1} {path}: "
                  + ", ".join(f"{key} {seconds:.2f}" for key, seconds in times.items()), flush=True)
    loads.append(os.getloadavg()[0])
    report(results["before"], results["after"], opening, loads, args.rounds)
    for problem in dict.fromkeys(problems):
        print(f"PROBLEM: {problem}")


if __name__ == "__main__":
    main()
