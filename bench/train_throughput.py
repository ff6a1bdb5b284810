"""Training throughput: the plain classroom `model.fit` vs seqlab's training path.

For each architecture, the same model (same config, same seed, same data,
same batch size) is trained three ways, each in its own process so peak memory
is its own:

  plain    `model.compile(optimizer="adam", loss=..., metrics=["accuracy"])`
           then `model.fit(x, y, batch_size=64, ...)` on NumPy arrays: the
           classroom notebook (Keras leaves XLA off on CPU by default).
  seqlab   `seqlab.training.train_run` with its store reporting (the real
           path every page waits on).
  silent   seqlab's compiled model fitted with no reporting callback: the
           difference to `seqlab` is what live reporting costs.
  stock    (Transformer only) `plain`, with the attention computed by Keras's
           own `MultiHeadAttention._compute_attention` instead of seqlab's
           `DeferredSoftmaxAttention` kernel: what a classroom notebook built
           from stock Keras layers runs. Same weights, same arithmetic.

Samples/s come from the fastest epoch after the first (the first pays for
tracing/compiling; the fastest, as `timeit` does, because other work on a
shared 2-core machine only ever slows an epoch down), over the training split,
validation included in both.

Usage:
    python bench/train_throughput.py [--subset 5000] [--epochs 3] [--arch lstm,gru,...]
        [--dropout 0.1]

Data: IMDB (SEQLAB_IMDB, or ../shared/data/imdb when present), else the
synthetic-variable task at the same length; the output says which.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seqlab.config import ARCHITECTURES, RunConfig  # noqa: E402


def bench_config(arch: str, subset: int, epochs: int, batch_size: int,
                 dropout_rate: float = 0.0) -> RunConfig:
    """The benchmark's recipe: Embedding(20k, 32) + one layer of 32, length 200."""
    shared = ROOT.parent / "shared" / "data" / "imdb"
    if not os.environ.get("SEQLAB_IMDB") and (shared / "train.csv.gz").exists():
        os.environ["SEQLAB_IMDB"] = str(shared)
    from seqlab.data import imdb_status

    dataset = "imdb" if imdb_status().found else "synthetic-variable"
    overrides = {
        "data.dataset": dataset, "data.subset": subset, "data.num_examples": subset,
        "data.synthetic_length": 200, "data.sequence_length": 200,
        "data.vocabulary_size": 20000, "model.arch": arch, "model.embedding_dim": 32,
        "model.units": 32, "model.dropout_rate": dropout_rate, "train.epochs": epochs,
        "train.batch_size": batch_size, "seed": 0,
    }
    return RunConfig().with_overrides(overrides).validate()


def run_variant(variant: str, config: RunConfig, home: str) -> dict:
    """Trains one variant in this process and returns its measurements."""
    import keras

    from seqlab.data import load_dataset
    from seqlab.data.vectorize import vectorize
    from seqlab.models import build_model, head
    from seqlab.store import RunStore
    from seqlab.training import compile_model, train_run

    dataset = load_dataset(config.data, config.seed)
    data = vectorize(dataset, config.data)
    sizes = dict(vocabulary_size=len(data.vocabulary),
                 sequence_length=config.data.sequence_length, num_classes=data.num_classes)
    n_train = len(data.y_train)

    if variant == "stock":
        from seqlab.models.transformer import DeferredSoftmaxAttention

        # In this child process only: Keras's attention arithmetic in the same model.
        DeferredSoftmaxAttention._compute_attention = keras.layers.MultiHeadAttention._compute_attention
    if variant == "seqlab":
        store = RunStore(home)
        run_id = store.create_run(config)
        record = train_run(store, run_id)
        seconds = [row["seconds"] for row in store.epochs(run_id)]
        test_accuracy = record.test_accuracy
        status = record.status
    else:
        keras.utils.set_random_seed(config.seed)
        if variant in ("plain", "stock"):
            model = build_model(config.model, seed=config.seed, **sizes)
            loss, _ = head(data.num_classes)
            model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        else:  # silent: seqlab's compiled model, no reporting
            model = compile_model(config, **sizes)
        timer = _EpochTimer()
        model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                  epochs=config.train.epochs, batch_size=config.train.batch_size,
                  shuffle=True, verbose=0, callbacks=[timer.callback()])
        seconds = timer.seconds
        test_accuracy = float(model.evaluate(data.x_test, data.y_test, batch_size=256,
                                             verbose=0, return_dict=True)["accuracy"])
        status = "completed"
    steady = seconds[1:] or seconds
    return {
        "variant": variant, "arch": config.model.arch, "status": status,
        "samples_per_second": n_train / min(steady),
        "epoch_seconds": seconds, "test_accuracy": test_accuracy,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "train_examples": n_train, "dataset": dataset.description,
    }


class _EpochTimer:
    def __init__(self):
        self.seconds: list[float] = []

    def callback(self):
        import keras

        timer = self

        class _Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds.append(time.perf_counter() - self.start)

        return _Timer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subset", type=int, default=5000, help="IMDB reviews (train+validation)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="model.dropout_rate for every variant (0: the classroom model has none)")
    parser.add_argument("--arch", default=",".join(ARCHITECTURES))
    parser.add_argument("--variants", default="plain,seqlab,silent,stock")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        variant, arch = args.child.split(":")
        config = bench_config(arch, args.subset, args.epochs, args.batch_size, args.dropout)
        print(json.dumps(run_variant(variant, config, args.home)))
        return

    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    home = tempfile.mkdtemp(prefix="seqlab-bench-")
    env = {**os.environ, "SEQLAB_HOME": home}
    results: dict[tuple[str, str], dict] = {}
    print(f"# train_throughput: subset={args.subset} epochs={args.epochs} "
          f"batch={args.batch_size} dropout={args.dropout} cores={os.cpu_count()}", flush=True)
    for arch in archs:
        for variant in variants:
            if variant == "stock" and arch != "transformer":
                continue  # no attention: it would be `plain` again
            command = [sys.executable, __file__, "--child", f"{variant}:{arch}",
                       "--subset", str(args.subset), "--epochs", str(args.epochs),
                       "--batch-size", str(args.batch_size), "--dropout", str(args.dropout),
                       "--home", home]
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                print(f"{arch:<12} {variant:<7} FAILED: {done.stderr.strip()[-400:]}", flush=True)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[(arch, variant)] = result
            print(f"{arch:<12} {variant:<7} {result['samples_per_second']:8.0f} samples/s  "
                  f"test_acc {result['test_accuracy']:.3f}  peak {result['peak_rss_mb']:6.0f} MB  "
                  f"epochs {', '.join(f'{s:.1f}s' for s in result['epoch_seconds'])}", flush=True)
    first = next(iter(results.values()), None)
    if first:
        print(f"# data: {first['dataset']}")
    print("\n| arch | plain samples/s | seqlab samples/s | speed-up | reporting cost "
          "| plain test acc | seqlab test acc | plain peak MB | seqlab peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arch in archs:
        plain, fast, silent, stock = (
            results.get((arch, v)) for v in ("plain", "seqlab", "silent", "stock"))
        if not (plain and fast):
            continue
        cost = (f"{(silent['samples_per_second'] / fast['samples_per_second'] - 1) * 100:+.1f}%"
                if silent else "-")
        print(f"| {arch} | {plain['samples_per_second']:.0f} | {fast['samples_per_second']:.0f} "
              f"| {fast['samples_per_second'] / plain['samples_per_second']:.2f}x | {cost} "
              f"| {plain['test_accuracy']:.3f} | {fast['test_accuracy']:.3f} "
              f"| {plain['peak_rss_mb']:.0f} | {fast['peak_rss_mb']:.0f} |")
        if stock:
            print(f"|  vs stock Keras attention | {stock['samples_per_second']:.0f} "
                  f"| {fast['samples_per_second']:.0f} "
                  f"| {fast['samples_per_second'] / stock['samples_per_second']:.2f}x | - "
                  f"| {stock['test_accuracy']:.3f} | {fast['test_accuracy']:.3f} "
                  f"| {stock['peak_rss_mb']:.0f} | {fast['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
