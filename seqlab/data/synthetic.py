"""Synthetic tasks that make architectures differ for a reason one can explain.

Texts are word tokens over a small vocabulary: 60 distractor words
`w0 ... w59` drawn uniformly at random (they carry no label information) and
the two label words `good` and `bad`. Both tasks are generated from the seed,
with `DataConfig.num_examples` texts and `DataConfig.synthetic_length` as the
length knob; classes are balanced ("negative", "positive").

`synthetic-longrange` -- memory over distance.
    Every text is exactly `synthetic_length` tokens long. One cue word, `good`
    (positive) or `bad` (negative), sits in the first fifth of the text; every
    other token is a distractor. A left-to-right LSTM/GRU must carry the cue
    in its state across all the distractors that follow, and the gradient
    must travel back just as far, so it learns slowly or not at all as the
    length grows. A Transformer attends to every position at once and a
    bag-of-words baseline averages all tokens, so for both the cue is one
    step away wherever it is; a bidirectional RNN reads it early in its
    backward pass. Raising `synthetic_length` widens the gap.

`synthetic-variable` -- padding and masking.
    Lengths are drawn uniformly from 3 to `synthetic_length` tokens, so most
    texts are mostly padding once padded to `sequence_length`. A few words
    are `good` or `bad`, the rest distractors; the label is positive when
    `good` outnumbers `bad` (never a tie; the minority word is at most a third
    of them). With masking, every architecture only has to count two words.
    Without masking, a recurrent model must hold its count through a long run
    of padding steps (with post-padding) whose number varies with the text,
    and mean pooling divides the sum by the padded length instead of the real
    one, so padding changes the representation. Comparing `use_mask` on and off
    (and padding `pre` vs `post`) shows why masks exist.
"""

from __future__ import annotations

import numpy as np

from seqlab.config import DataConfig
from seqlab.data.texts import DatasetError, TextDataset, dataset_from_pool

CLASS_NAMES = ("negative", "positive")
NUM_DISTRACTORS = 60
DISTRACTORS = np.array([f"w{i}" for i in range(NUM_DISTRACTORS)])
LABEL_WORDS = ("bad", "good")  # index = label
TASKS = ("synthetic-longrange", "synthetic-variable")
# Share of the text, from its start, where the long-range cue may appear.
CUE_WINDOW_FRACTION = 0.2


def cue_window(length: int) -> int:
    """Returns how many leading positions may hold the long-range cue."""
    return max(1, int(length * CUE_WINDOW_FRACTION))


def generate_longrange(num_examples: int, length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of `length` tokens with one cue word near the start.

    Returns:
        (texts, labels (N,) int64); label 1 when the cue is `good`.
    """
    labels = rng.permutation(np.arange(num_examples) % 2).astype(np.int64)
    tokens = DISTRACTORS[rng.integers(0, NUM_DISTRACTORS, size=(num_examples, length))]  # (N, T)
    tokens = tokens.astype(object)
    positions = rng.integers(0, cue_window(length), size=num_examples)
    tokens[np.arange(num_examples), positions] = np.array(LABEL_WORDS, dtype=object)[labels]
    return [" ".join(row) for row in tokens], labels


def generate_variable(num_examples: int, max_length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of 3..`max_length` tokens labelled by the majority of good/bad.

    Returns:
        (texts, labels (N,) int64); label 1 when `good` outnumbers `bad`.
    """
    labels = rng.permutation(np.arange(num_examples) % 2).astype(np.int64)
    min_length = min(3, max_length)
    lengths = rng.integers(min_length, max_length + 1, size=num_examples)
    texts = []
    for label, length in zip(labels, lengths):
        tokens = DISTRACTORS[rng.integers(0, NUM_DISTRACTORS, size=length)].astype(object)
        num_label_words = int(rng.integers(1, max(1, length // 3) + 1))
        minority = int(rng.integers(0, num_label_words // 3 + 1))
        words = [LABEL_WORDS[label]] * (num_label_words - minority) + [LABEL_WORDS[1 - label]] * minority
        tokens[rng.choice(length, size=num_label_words, replace=False)] = words
        texts.append(" ".join(tokens))
    return texts, labels


def load_synthetic(config: DataConfig, seed: int) -> TextDataset:
    """Generates the task named by `config.dataset` and splits it with `seed`.

    Args:
        config: `dataset`, `num_examples`, `synthetic_length` and the split
            fractions.
        seed: the same seed always gives the same texts and split.

    Returns:
        The `TextDataset`.

    Raises:
        DatasetError: on an unknown synthetic task name.
    """
    rng = np.random.default_rng(seed)
    if config.dataset == "synthetic-longrange":
        texts, labels = generate_longrange(config.num_examples, config.synthetic_length, rng)
        window, length = cue_window(config.synthetic_length), config.synthetic_length
        title = f"Synthetic long-range (cue in first {window} of {length} tokens)"
    elif config.dataset == "synthetic-variable":
        texts, labels = generate_variable(config.num_examples, config.synthetic_length, rng)
        title = f"Synthetic variable-length (3 to {config.synthetic_length} tokens)"
    else:
        raise DatasetError(
            f"data.dataset: received {config.dataset!r}, expected one of {', '.join(TASKS)}"
        )
    return dataset_from_pool(
        config.dataset, title, CLASS_NAMES, texts, labels, config, rng,
        source=f"generated with seed {seed}", noun="texts",
    )
