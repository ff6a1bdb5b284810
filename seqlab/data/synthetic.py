"""Synthetic tasks whose winners are known, each for a reason a teacher can explain.

Texts are word tokens over a small vocabulary: 60 distractor words
`w0 ... w59` drawn uniformly at random (they carry no label information), the
two cue words `good` and `bad` and the negation `not`. Cue words are plain,
distinct tokens, so the Attention page can show which rows look at them.
Every task is generated from the seed, with `DataConfig.num_examples` texts
(balanced: "negative", "positive") and `DataConfig.synthetic_length` tokens
as the length knob. The expected scoreboards below were measured with the
command line at default model and training settings and 10,000 texts
(`bench/task_scoreboard.py`, quoted in the README's "Tasks with known
winners"); `tests/test_tasks.py` checks how each task is built and its
scoreboard's key facts at small scale.

`synthetic-presence` -- a bag of words suffices.
    One cue word, `good` (positive) or `bad` (negative), sits at a uniformly
    random position; every other token is a distractor. Which words occur
    decides the label, so the bag-of-words baseline reaches 1.0 and, being
    the cheapest model (fewest parameters, shortest epochs), wins: every
    other architecture matches it at several times the cost. The honest
    lesson: attention is not always needed.

`synthetic-longrange` -- a relation between two tokens far from the end.
    Every text holds `good` once and `bad` once, both within its first
    `CUE_WINDOW` tokens (at most half the text, `cue_window`) and 1 to
    `CUE_GAP` tokens apart; the label is the word that comes first (positive
    when `good` precedes `bad`). Both classes contain exactly the same words,
    so any bag of words is at chance by construction. Where the pair sits and
    how far apart its words are is drawn before the label and never depends
    on it; only the order does. (So the position of `good` alone is a weak
    hint: in positive texts it is the earlier of two nearby slots, and the
    best rule on it alone scores about 0.63. It lies in the first tokens too,
    so it needs the same memory as the order.) Everything after the pair is
    distractors, so a left-to-right LSTM/GRU must carry the order (or "the
    last cue seen", which says the same) across the rest of the text: with
    default settings and 10,000 texts the LSTM learns it up to 60 tokens,
    found it in 1 of 3 seeds at 80 and in none at 120; the GRU stays at
    chance at both. A bidirectional RNN meets the pair within the last
    `CUE_WINDOW` steps of its backward pass, and a Transformer with position
    embeddings compares the two positions directly (its rows then
    concentrate on `good` and `bad`): both keep 1.0 as the text grows.
    Without position embeddings the Transformer sees a bag of words and is
    at chance.

`synthetic-negation` -- local word order.
    Every text holds one cue word and `not`, side by side in its last
    `NEGATION_WINDOW` tokens: "not good" is negative and "not bad" positive,
    while `not` after the cue ("good not") flips nothing. The cue word and
    whether `not` comes first are each a fair coin, independent of the label
    (the label is their exclusive or), and the cue's slot is drawn
    uniformly, so neither the bag of words nor any one word's position says
    anything: every model that looks at one word at a time is at chance by
    construction, and only the order of the two neighbours decides. Because
    they sit at the end, memory is not the problem: RNNs and the Transformer
    learn it (a Transformer without position embeddings cannot). Like any
    exclusive-or, it gives a model no gradient to follow until it combines
    the two words, so learning starts late: with 2,000 texts and the default
    5 epochs neither the LSTM nor the Transformer learns it; with 10,000
    every sequence model does, most by their second to fourth epoch.

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
NEGATION_WORD = "not"
CUE_WORDS = (*LABEL_WORDS, NEGATION_WORD)
TASKS = ("synthetic-presence", "synthetic-longrange", "synthetic-negation", "synthetic-variable")
# synthetic-longrange: the leading positions that hold both cues (at most half the text).
CUE_WINDOW = 10
# synthetic-longrange: the largest gap between the two cues.
CUE_GAP = 3
# synthetic-negation: the trailing positions that hold the cue and `not`.
NEGATION_WINDOW = 4
# The shortest texts each task can be built in (shorter lengths are raised to it).
MIN_LENGTH = {"synthetic-presence": 1, "synthetic-longrange": 4, "synthetic-negation": 4,
              "synthetic-variable": 1}


def cue_window(length: int) -> int:
    """Returns how many leading positions hold the two long-range cues (at least 2)."""
    return max(2, min(CUE_WINDOW, length // 2))


def cue_gap(length: int) -> int:
    """Returns the largest gap between the two long-range cues (at least 1)."""
    return max(1, min(CUE_GAP, cue_window(length) - 1))


def negation_window(length: int) -> int:
    """Returns how many trailing positions hold the cue and `not` (at most the whole text)."""
    return min(length, NEGATION_WINDOW)


def _balanced_labels(num_examples: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) int64 labels, half of each class, in random order."""
    return rng.permutation(np.arange(num_examples) % 2).astype(np.int64)


def _distractors(num_examples: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(N, T) object array of distractor words drawn uniformly."""
    return DISTRACTORS[rng.integers(0, NUM_DISTRACTORS, size=(num_examples, length))].astype(object)


def _join(tokens: np.ndarray) -> list[str]:
    return [" ".join(row) for row in tokens]


def generate_presence(num_examples: int, length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of `length` tokens with one cue word anywhere.

    Args:
        num_examples: texts to generate.
        length: tokens per text.
        rng: the seeded generator.

    Returns:
        (texts, labels (N,) int64); label 1 when the cue is `good`.
    """
    labels = _balanced_labels(num_examples, rng)
    tokens = _distractors(num_examples, length, rng)  # (N, T)
    positions = rng.integers(0, length, size=num_examples)  # (N,), independent of the label
    tokens[np.arange(num_examples), positions] = np.array(LABEL_WORDS, dtype=object)[labels]
    return _join(tokens), labels


def longrange_slots(num_examples: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws where the two long-range cues go, before (and without) the label.

    The gap is uniform from 1 to `cue_gap(length)`; the first slot is uniform
    over the positions that keep the second inside `cue_window(length)`.

    Returns:
        (first (N,), second (N,)) int64 positions, first < second < cue_window.
    """
    window, gap_limit = cue_window(length), cue_gap(length)
    gaps = rng.integers(1, gap_limit + 1, size=num_examples)  # (N,)
    firsts = (rng.random(num_examples) * (window - gaps)).astype(np.int64)  # (N,) in [0, window - gap)
    return firsts, firsts + gaps


def generate_longrange(num_examples: int, length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of `length` tokens holding `good` and `bad` once each, in the first half.

    Args:
        num_examples: texts to generate.
        length: tokens per text (at least 4).
        rng: the seeded generator.

    Returns:
        (texts, labels (N,) int64); label 1 when `good` comes before `bad`.
    """
    labels = _balanced_labels(num_examples, rng)
    tokens = _distractors(num_examples, length, rng)  # (N, T)
    firsts, seconds = longrange_slots(num_examples, length, rng)
    words = np.array(LABEL_WORDS, dtype=object)
    rows = np.arange(num_examples)
    tokens[rows, firsts] = words[labels]  # positive: good first
    tokens[rows, seconds] = words[1 - labels]
    return _join(tokens), labels


def negation_slots(num_examples: int, length: int, negated: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws where the cue and `not` go in the last `negation_window(length)` positions.

    Args:
        num_examples: texts.
        length: tokens per text.
        negated: (N,) bools; True puts `not` directly before the cue.
        rng: the seeded generator.

    Returns:
        (cue (N,), negation (N,)) int64 positions; where not negated, `not`
        is anywhere else in the window but directly before the cue.
    """
    window = negation_window(length)
    start = length - window
    cue = np.empty(num_examples, dtype=np.int64)
    negation = np.empty(num_examples, dtype=np.int64)
    for index in range(num_examples):
        slot = int(rng.integers(start + 1, length - 1))  # room for `not` on either side
        cue[index], negation[index] = slot, slot - 1 if negated[index] else slot + 1
    return cue, negation


def generate_negation(num_examples: int, length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of `length` tokens where `not` flips the cue word only when directly before it.

    Args:
        num_examples: texts to generate.
        length: tokens per text (at least 4).
        rng: the seeded generator.

    Returns:
        (texts, labels (N,) int64); label 1 for "good" or "not bad", 0 for
        "bad" or "not good".
    """
    labels = _balanced_labels(num_examples, rng)
    cues = rng.integers(0, 2, size=num_examples)  # (N,) index into LABEL_WORDS, independent of the label
    negated = cues != labels  # (N,) bool, also independent of the label
    tokens = _distractors(num_examples, length, rng)  # (N, T)
    cue_slots, negation_slots_ = negation_slots(num_examples, length, negated, rng)
    rows = np.arange(num_examples)
    tokens[rows, negation_slots_] = NEGATION_WORD
    tokens[rows, cue_slots] = np.array(LABEL_WORDS, dtype=object)[cues]
    return _join(tokens), labels


def generate_variable(num_examples: int, max_length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Texts of 3..`max_length` tokens labelled by the majority of good/bad.

    Args:
        num_examples: texts to generate.
        max_length: the longest text, in tokens.
        rng: the seeded generator.

    Returns:
        (texts, labels (N,) int64); label 1 when `good` outnumbers `bad`.
    """
    labels = _balanced_labels(num_examples, rng)
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


GENERATORS = {
    "synthetic-presence": generate_presence,
    "synthetic-longrange": generate_longrange,
    "synthetic-negation": generate_negation,
    "synthetic-variable": generate_variable,
}


def task_title(task: str, length: int) -> str:
    """Returns the description line's title of a task at a length, e.g. "Synthetic presence (40 tokens)"."""
    length = max(length, MIN_LENGTH[task])
    if task == "synthetic-presence":
        return f"Synthetic presence (one cue anywhere in {length} tokens)"
    if task == "synthetic-longrange":
        return (f"Synthetic long-range (which of good/bad comes first, both in the first "
                f"{cue_window(length)} of {length} tokens)")
    if task == "synthetic-negation":
        return (f"Synthetic negation (not right before the cue flips it; both in the last "
                f"{negation_window(length)} of {length} tokens)")
    return f"Synthetic variable-length (3 to {length} tokens)"


def load_synthetic(config: DataConfig, seed: int) -> TextDataset:
    """Generates the task named by `config.dataset` and splits it with `seed`.

    Args:
        config: `dataset`, `num_examples`, `synthetic_length` (raised to the
            task's `MIN_LENGTH` where shorter) and the split fractions.
        seed: the same seed always gives the same texts and split.

    Returns:
        The `TextDataset`.

    Raises:
        DatasetError: on an unknown synthetic task name.
    """
    generator = GENERATORS.get(config.dataset)
    if generator is None:
        raise DatasetError(
            f"data.dataset: received {config.dataset!r}, expected one of {', '.join(TASKS)}"
        )
    rng = np.random.default_rng(seed)
    length = max(config.synthetic_length, MIN_LENGTH[config.dataset])
    texts, labels = generator(config.num_examples, length, rng)
    return dataset_from_pool(
        config.dataset, task_title(config.dataset, length), CLASS_NAMES, texts, labels, config, rng,
        source=f"generated with seed {seed}", noun="texts",
    )
