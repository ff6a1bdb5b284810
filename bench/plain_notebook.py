"""The baseline of bench/time_to_result.py: what a student types into a notebook.

One process, stock Keras only (nothing from seqlab): read the IMDB CSV with
pandas, draw a balanced subset, split it, `TextVectorization`, then for each
architecture the lecture's layers (`Embedding` + `LSTM`/`GRU`/`Bidirectional`,
or a Transformer encoder block built from `MultiHeadAttention` + residual +
`LayerNormalization` + a position-wise feed-forward network), `compile` with
Adam and a plain `fit(batch_size=64)`, then `evaluate` on the test split.

Usage:
    python bench/plain_notebook.py --data ../shared/data/imdb --arch lstm,gru,transformer \
        --subset 2000 --epochs 4 [--json]

With --json the last line is one object: {"runs": [{"arch", "test_accuracy",
"seconds"}], "wall_seconds"} where wall_seconds counts from process start.
"""

from __future__ import annotations

import argparse
import json
import os
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

VOCABULARY, LENGTH, EMBEDDING, UNITS = 20000, 200, 32, 32


def read_reviews(folder: str, subset: int, seed: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray,
                                                                 list[str], np.ndarray]:
    """Returns train, validation and test texts and labels: a balanced draw of `subset` reviews, 60/20/20.

    With `subset` 0, the whole train CSV is split 80/20 into train and
    validation and the test CSV (when there is one) is the test split.
    """
    train = pd.read_csv(os.path.join(folder, "train.csv.gz"))
    test_path = next((os.path.join(folder, name) for name in ("test.csv.gz", "test_sample.csv.gz")
                      if os.path.exists(os.path.join(folder, name))), None)
    rng = np.random.default_rng(seed)
    if subset:
        per_class = subset // 2
        picked = pd.concat([part.sample(per_class, random_state=seed) for _, part in train.groupby("label")])
        picked = picked.iloc[rng.permutation(len(picked))]
        cut_a, cut_b = int(0.6 * len(picked)), int(0.8 * len(picked))
        parts = picked.iloc[:cut_a], picked.iloc[cut_a:cut_b], picked.iloc[cut_b:]
    else:
        shuffled = train.iloc[rng.permutation(len(train))]
        cut = int(0.8 * len(shuffled))
        test = pd.read_csv(test_path) if test_path else shuffled.iloc[cut:]
        parts = shuffled.iloc[:cut], shuffled.iloc[cut:], test
    return tuple(value for part in parts for value in (part["text"].astype(str).tolist(),
                                                        part["label"].to_numpy("int64")))


def build(arch: str):
    """The lecture's model for one architecture, on token ids of length LENGTH."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(LENGTH,), dtype="int64")
    if arch == "transformer":
        tokens = layers.Embedding(VOCABULARY, EMBEDDING)(inputs)
        positions = layers.Embedding(LENGTH, EMBEDDING)(keras.ops.arange(LENGTH))
        x = tokens + positions
        attention = layers.MultiHeadAttention(num_heads=2, key_dim=16)(x, x)
        x = layers.LayerNormalization()(x + layers.Dropout(0.1)(attention))
        feed_forward = layers.Dense(EMBEDDING)(layers.Dense(64, activation="relu")(x))
        x = layers.LayerNormalization()(x + layers.Dropout(0.1)(feed_forward))
        x = layers.GlobalAveragePooling1D()(x)
    else:
        x = layers.Embedding(VOCABULARY, EMBEDDING, mask_zero=True)(inputs)
        recurrent = {"lstm": layers.LSTM, "gru": layers.GRU, "bilstm": layers.LSTM, "bigru": layers.GRU}[arch]
        x = (layers.Bidirectional(recurrent(UNITS)) if arch.startswith("bi") else recurrent(UNITS))(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train.csv.gz (and test*.csv.gz)")
    parser.add_argument("--arch", default="lstm,gru,transformer")
    parser.add_argument("--subset", type=int, default=2000, help="0 = the whole train split")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import keras

    keras.utils.set_random_seed(args.seed)
    train_x, train_y, val_x, val_y, test_x, test_y = read_reviews(args.data, args.subset, args.seed)
    vectorizer = keras.layers.TextVectorization(max_tokens=VOCABULARY, output_sequence_length=LENGTH)
    vectorizer.adapt(train_x)
    train_ids, val_ids, test_ids = (np.asarray(vectorizer(texts)) for texts in (train_x, val_x, test_x))
    runs = []
    for arch in args.arch.split(","):
        started = time.perf_counter()
        model = build(arch)
        model.fit(train_ids, train_y, validation_data=(val_ids, val_y), batch_size=64, epochs=args.epochs,
                  verbose=0)
        _, accuracy = model.evaluate(test_ids, test_y, batch_size=64, verbose=0)
        runs.append({"arch": arch, "test_accuracy": float(accuracy), "seconds": time.perf_counter() - started})
        print(f"{arch}: test accuracy {accuracy:.3f} in {runs[-1]['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - START
    print(f"wall {wall:.1f} s from process start")
    if args.json:
        print(json.dumps({"runs": runs, "wall_seconds": wall}))


if __name__ == "__main__":
    main()
