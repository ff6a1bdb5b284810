"""Self-attention forward + backward on CPU: Keras's kernel vs seqlab's deferred softmax.

Why seqlab's Transformer uses `DeferredSoftmaxAttention` and a keys-only
padding mask: at the throughput benchmark's shapes (batch 64, T=200, 2 heads
of 16, embedding 32) the (batch, heads, T, T) work of attention is most of a
training step. This times one forward + backward pass (projections included,
gradients for the inputs and every weight) through one attention layer with
post-padded inputs whose lengths look like IMDB at 200 tokens (41% cut at 200,
the rest spread below), in one process:

  keras_full      `keras.layers.MultiHeadAttention`, (batch, T, T) query-and-key
                  mask: what seqlab's encoder block ran before
  keras_keys      the same layer with a keys-only (batch, 1, T) mask
  deferred_full   `DeferredSoftmaxAttention` (normalised after the value sum,
                  hand-written gradient), (batch, T, T) mask
  deferred_keys   the same with the keys-only mask: what seqlab runs now

each compiled with XLA (seqlab's path) and in TensorFlow graph mode (the plain
`model.fit`). It prints milliseconds per step (fastest of several repeats) and
each variant's time relative to `keras_full` under XLA.

Usage:
    python bench/attention_kernel.py [--steps 30] [--length 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH, EMBEDDING, HEADS, KEY_DIM = 64, 32, 2, 16
VARIANTS = ("keras_full", "keras_keys", "deferred_full", "deferred_keys")


def time_variant(name: str, jit: bool, length: int, steps: int, repeats: int = 5) -> float:
    """Returns the fastest mean milliseconds per forward + backward step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from seqlab.models.transformer import DeferredSoftmaxAttention

    rng = np.random.default_rng(0)
    lengths = np.where(rng.random(BATCH) < 0.41, length, rng.integers(10, length, BATCH))
    real = tf.constant(np.arange(length)[None, :] < lengths[:, None])  # (batch, T)
    inputs = tf.constant(rng.normal(size=(BATCH, length, EMBEDDING)).astype("float32"))
    layer_class = DeferredSoftmaxAttention if name.startswith("deferred") else \
        keras.layers.MultiHeadAttention
    layer = layer_class(num_heads=HEADS, key_dim=KEY_DIM, seed=0)
    if name.endswith("full"):
        mask = tf.logical_and(real[:, None, :], real[:, :, None])  # (batch, T, T)
    else:
        mask = real[:, None, :]  # (batch, 1, T)
    layer(inputs, inputs, attention_mask=mask)

    @tf.function(jit_compile=jit)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            output = layer(inputs, inputs, attention_mask=mask)  # (batch, T, embedding)
            loss = tf.reduce_sum(output * tf.cast(real, output.dtype)[:, :, None])
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    step()  # trace and compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            gradients = step()
        gradients[0].numpy()  # wait for the last step
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per timed repeat")
    parser.add_argument("--length", type=int, default=200, help="T, tokens per text")
    args = parser.parse_args()
    if args.steps < 1 or args.length < 11:
        parser.error(f"--steps must be >= 1 and --length >= 11; received "
                     f"--steps {args.steps} --length {args.length}")
    print(f"# attention_kernel: batch={BATCH} T={args.length} heads={HEADS}x{KEY_DIM} "
          f"embedding={EMBEDDING} cores={os.cpu_count()}", flush=True)
    results = {}
    for jit in (True, False):
        for name in VARIANTS:
            results[(name, jit)] = time_variant(name, jit, args.length, args.steps)
            print(f"{name:<14} {'xla' if jit else 'graph':<5} "
                  f"{results[(name, jit)]:7.2f} ms/step", flush=True)
    baseline = results[("keras_full", True)]
    print("\n| variant | XLA ms/step | vs keras_full XLA | graph ms/step | vs keras_full XLA |")
    print("|---|---|---|---|---|")
    for name in VARIANTS:
        xla, graph = results[(name, True)], results[(name, False)]
        print(f"| {name} | {xla:.2f} | {xla / baseline:.2f}x | {graph:.2f} | {graph / baseline:.2f}x |")


if __name__ == "__main__":
    main()
