"""Dropout masks under XLA on CPU: Keras's random dropout vs seqlab's hashed one.

Why seqlab has `CounterDropout`: the Transformer's dropout masks cover
(batch, T, embedding_dim) values every step, and XLA on CPU draws random
numbers slowly. This times one XLA-compiled forward+backward step through five
(projection -> dropout) stages on a (64, 200, 32) batch (the throughput
benchmark's Transformer shapes), four ways, in one process:

  none           no dropout (the floor)
  keras_xla      `keras.layers.Dropout` under XLA
  keras_graph    `keras.layers.Dropout` in TensorFlow graph mode, no XLA
  counter_xla    `seqlab.models.layers.CounterDropout` under XLA

It prints milliseconds per step (fastest of several repeats) and each
variant's dropout cost relative to `keras_xla`'s.

Usage:
    python bench/dropout_masks.py [--rate 0.1] [--steps 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHAPE = (64, 200, 32)  # (batch, T, embedding_dim)
STAGES = 5


def time_variant(name: str, rate: float, steps: int, repeats: int = 3) -> float:
    """Returns the fastest mean milliseconds per step of one variant."""
    import keras
    import tensorflow as tf

    from seqlab.models.layers import CounterDropout

    keras.utils.set_random_seed(0)
    inputs = tf.random.normal(SHAPE)
    kernel = tf.Variable(tf.random.normal((SHAPE[-1], SHAPE[-1])) * 0.1)
    if name == "counter_xla":
        layers = [CounterDropout(rate) for _ in range(STAGES)]
    elif name == "none":
        layers = [None] * STAGES
    else:
        layers = [keras.layers.Dropout(rate) for _ in range(STAGES)]

    @tf.function(jit_compile=name != "keras_graph")
    def step(values):
        with tf.GradientTape() as tape:
            for layer in layers:
                values = tf.einsum("btd,de->bte", values, kernel)  # (batch, T, embedding_dim)
                if layer is not None:
                    values = layer(values, training=True)
            loss = tf.reduce_mean(values * values)
        return tape.gradient(loss, kernel)

    step(inputs).numpy()  # trace and compile outside the timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            gradient = step(inputs)
        gradient.numpy()
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    print(f"# dropout_masks: shape={SHAPE} stages={STAGES} rate={args.rate} "
          f"cores={os.cpu_count()}", flush=True)
    times = {name: time_variant(name, args.rate, args.steps)
             for name in ("none", "keras_xla", "keras_graph", "counter_xla")}
    floor = times["none"]
    baseline_cost = times["keras_xla"] - floor
    print("\n| variant | ms/step | dropout cost ms/step | cost vs keras_xla |")
    print("|---|---|---|---|")
    for name, milliseconds in times.items():
        cost = milliseconds - floor
        ratio = f"{cost / baseline_cost:.2f}x" if name != "none" else "-"
        print(f"| {name} | {milliseconds:.2f} | {cost:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
