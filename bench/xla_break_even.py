"""When does XLA pay? One-off compile cost against steady step savings, per architecture.

For each architecture, the classroom-sized model (the form's defaults, batch
64) is fitted twice for one epoch of `--steps` steps on random ids of length
`--length`, with the training step XLA-compiled and in Keras's default graph
mode, each in a fresh process (so every compile is paid in full; the compile
cache is off), `--repeats` times, keeping the fastest first and steady fits. The first fit pays tracing/compiling, the second is steady:

    one-off    first fit - second fit  (compile + trace, validation included)
    per step   second fit / steps

XLA pays once a run's training steps exceed
    (one-off_xla - one-off_graph) / (per-step_graph - per-step_xla),
printed as steps and as step-tokens (steps x length), the unit
`seqlab.training.XLA_BREAK_EVEN_STEP_TOKENS` uses.

Usage:
    python bench/xla_break_even.py [--archs lstm,gru,...] [--length 200] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import keras
from seqlab.config import default_config
from seqlab.training import compile_model
arch, jit, length, steps = sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
config = default_config(**{"model.arch": arch, "train.jit_compile": jit, "data.sequence_length": length})
keras.utils.set_random_seed(0)
model = compile_model(config, vocabulary_size=20000, sequence_length=length, num_classes=2)
rng = np.random.default_rng(0)
n = steps * config.train.batch_size
x = rng.integers(1, 20000, size=(n, length)).astype("int32")
y = rng.integers(0, 2, size=(n,))
xv, yv = x[: n // 4], y[: n // 4]
times = []
for _ in range(3):
    started = time.perf_counter()
    model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=config.train.batch_size, verbose=0)
    times.append(time.perf_counter() - started)
print(json.dumps({"first": times[0], "steady": min(times[1:])}))
'''


def measure(arch: str, jit: bool, length: int, steps: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", SEQLAB_COMPILE_CACHE="0")
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), arch, "1" if jit else "0", str(length),
                           str(steps)], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="baseline,lstm,gru,bilstm,bigru,transformer")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2,
                        help="fresh processes per measurement; the fastest is kept (others' load only slows)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; length {args.length}, {args.steps} steps per fit, batch 64")
    print("| arch | one-off graph | one-off XLA | step graph | step XLA | XLA pays after | step-tokens |")
    print("|---|---|---|---|---|---|---|")
    for arch in args.archs.split(","):
        graph, xla = ({key: min(m[key] for m in runs) for key in ("first", "steady")}
                      for runs in ([measure(arch, jit, args.length, args.steps) for _ in range(args.repeats)]
                                   for jit in (False, True)))
        once = {name: m["first"] - m["steady"] for name, m in (("graph", graph), ("xla", xla))}
        step = {name: m["steady"] / args.steps for name, m in (("graph", graph), ("xla", xla))}
        saving = step["graph"] - step["xla"]
        extra = once["xla"] - once["graph"]
        if saving <= 0:
            pays, tokens = "never", "-"
        else:
            steps = max(extra, 0.0) / saving
            pays, tokens = f"{steps:.0f} steps", f"{steps * args.length:,.0f}"
        print(f"| {arch} | {once['graph']:.1f} s | {once['xla']:.1f} s | {step['graph'] * 1000:.0f} ms | "
              f"{step['xla'] * 1000:.0f} ms | {pays} | {tokens} |", flush=True)


if __name__ == "__main__":
    main()
