"""How much the presets' Transformers use attention, with and without scaled embeddings.

Not a test: it trains each preset's Transformer (the IMDB preset's and the
long-range preset's, as `seqlab.config.presets()` defines them) twice per
seed, with `model.scale_embeddings` off (the Transformer of before issue 10:
Keras's tiny initial embeddings) and on (the default), in a temporary store,
and prints per run:

  test         test accuracy (the kept weights)
  sentence     the smallest and largest weight of any head for
               "the acting was not good but the story was great"
  peak         the mean over rows (real tokens, every layer and head) of the
               most-attended key's weight over an even share (1 = uniform)
  cues         the mean share of each row on the cue words good/bad/not,
               over their even share, on 50 test texts holding one

IMDB needs `SEQLAB_IMDB` (e.g. the shared offline copy).

Usage:
    python bench/attention_spread.py [--datasets imdb,synthetic-longrange] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SENTENCE = "the acting was not good but the story was great"
CUE_WORDS = ("good", "bad", "not")
NUM_TEXTS = 50


def measure(store, record, config) -> dict:
    """Returns the figures of one trained run (see the module docstring)."""
    import numpy as np

    from seqlab.attention import row_peaks
    from seqlab.data import load_dataset
    from seqlab.inference import attention_map

    sentence = attention_map(store, record.run_id, SENTENCE).scores
    peaks, cues = [], []
    for text in load_dataset(config.data, config.seed).test_texts[:NUM_TEXTS]:
        found = attention_map(store, record.run_id, text)
        peaks.append(row_peaks(found.table).query("head != 'mean'")["peak"].mean())
        is_cue = np.isin(found.tokens, CUE_WORDS)  # (R,)
        if is_cue.any():
            even = is_cue.sum() / len(found.tokens)
            cues.append((found.scores[..., is_cue].sum(axis=-1) / even).mean())  # over (layers, heads, R)
    return {"test": record.test_accuracy, "sentence": (float(sentence.min()), float(sentence.max())),
            "peak": float(np.mean(peaks)), "cues": float(np.mean(cues)) if cues else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="imdb,synthetic-longrange")
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    from seqlab.config import presets
    from seqlab.jobs import train_foreground
    from seqlab.store import RunStore

    datasets = args.datasets.split(",")
    configs = {config.data.dataset: config for preset in presets().values() for config in preset["runs"]
               if config.model.arch == "transformer" and config.data.dataset in datasets}
    print(f"{'dataset':<20} {'scaled':>6} {'seed':>4} {'test':>6} {'sentence weights':>17} "
          f"{'peak':>6} {'cues':>6}")
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        for dataset in datasets:
            for seed in (int(s) for s in args.seeds.split(",")):
                for scaled in (False, True):
                    config = configs[dataset].with_overrides(
                        {"model.scale_embeddings": scaled, "seed": seed})
                    record = train_foreground(config, store)
                    got = measure(store, record, config)
                    low, high = got["sentence"]
                    print(f"{dataset:<20} {str(scaled):>6} {seed:>4} {got['test']:>6.3f} "
                          f"{low:>8.4f}-{high:<8.4f} {got['peak']:>6.2f} {got['cues']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
