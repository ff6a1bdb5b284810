"""The task suite: how each synthetic task is built, and its scoreboard's key facts at small scale.

Construction facts are checked on generated texts (no training): balanced
labels, the same bag of words in both classes where a bag must be at chance,
determinism by seed, and no single-token feature (a cue's position) that
gives the label away. Scoreboard facts are trained for real, tiny, and
asserted with margins of several standard errors of a test split's accuracy
(400 texts: about 0.025 at 0.5), never exact numbers or times.
"""

from collections import Counter

import numpy as np
import pytest
from scipy import stats

from seqlab.config import RunConfig
from seqlab.data import load_dataset, token_lengths
from seqlab.data.synthetic import (
    CUE_WORDS,
    DISTRACTORS,
    GENERATORS,
    LABEL_WORDS,
    NEGATION_WORD,
    TASKS,
    cue_window,
    negation_window,
)
from seqlab.data.toy import LECTURE_SENTENCE, toy_sentences
from seqlab.jobs import train_foreground

N = 4000  # generated texts for the construction checks
# p-values below this mean "the two classes differ" (a chance failure is about 1 in 1,000 per check).
P_FLOOR = 1e-3


def generate(task, length=40, num_examples=N, seed=0):
    texts, labels = GENERATORS[task](num_examples, length, np.random.default_rng(seed))
    return [text.split() for text in texts], labels


def positions(tokens, word):
    """(N,) position of `word`'s first occurrence in each text (-1 when absent)."""
    return np.array([row.index(word) if word in row else -1 for row in tokens])


def independent(feature, labels, p_floor=P_FLOOR):
    """Chi-square test that a discrete feature and the label are independent: True when nothing says otherwise."""
    values = sorted(set(feature.tolist()))
    table = np.array([[np.sum((feature == value) & (labels == label)) for value in values] for label in (0, 1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return True
    return stats.chi2_contingency(table).pvalue > p_floor


def same_bag_distribution(tokens, labels):
    """Whether every word's count per text has the same distribution in both classes.

    One chi-square test per word, Bonferroni-corrected over the words.
    """
    words = sorted({word for row in tokens for word in row})
    for word in words:
        counts = np.array([row.count(word) for row in tokens])
        if not independent(counts, labels, P_FLOOR / len(words)):
            return False
    return True


def best_single_position_accuracy(tokens, labels, word):
    """How well the best rule on `word`'s position alone predicts the label (Bayes on the sample)."""
    where = positions(tokens, word)
    right = sum(max(np.sum(labels[where == p] == 0), np.sum(labels[where == p] == 1)) for p in np.unique(where))
    return right / len(labels)


# ------------------------------------------------------------------ all tasks
@pytest.mark.parametrize("task", TASKS)
def test_every_task_is_balanced_deterministic_and_sized(task):
    config = RunConfig().with_overrides({"data.dataset": task, "data.num_examples": 200,
                                         "data.synthetic_length": 24}).data
    first, again, other = load_dataset(config, 5), load_dataset(config, 5), load_dataset(config, 6)
    texts = first.train_texts + first.val_texts + first.test_texts
    labels = np.concatenate([first.train_labels, first.val_labels, first.test_labels])
    assert texts == again.train_texts + again.val_texts + again.test_texts
    assert texts != other.train_texts + other.val_texts + other.test_texts
    assert np.bincount(labels).tolist() == [100, 100]
    lengths = token_lengths(texts)
    assert lengths.max() == 24 if task == "synthetic-variable" else set(lengths) == {24}
    assert set(" ".join(texts).split()) <= set(DISTRACTORS) | set(CUE_WORDS)


@pytest.mark.parametrize("task", ["synthetic-longrange", "synthetic-negation"])
def test_shortest_length_still_builds_the_task(task):
    tokens, labels = generate(task, length=4, num_examples=50)
    assert all(len(row) == 4 for row in tokens)
    assert np.bincount(labels).tolist() == [25, 25]


# ------------------------------------------------------------------ presence
def test_presence_one_cue_anywhere_decides():
    tokens, labels = generate("synthetic-presence", length=30)
    for row, label in zip(tokens, labels):
        cues = [token for token in row if token in CUE_WORDS]
        assert cues == [LABEL_WORDS[label]]
    where = np.array([next(i for i, t in enumerate(row) if t in LABEL_WORDS) for row in tokens])
    assert where.min() == 0 and where.max() == 29  # anywhere, start and end included
    assert independent(where // 5, labels)  # where it sits says nothing


# ----------------------------------------------------------------- longrange
def test_longrange_holds_both_cues_near_the_start_and_the_first_decides():
    length = 60
    tokens, labels = generate("synthetic-longrange", length=length)
    for row, label in zip(tokens, labels):
        assert row.count("good") == 1 and row.count("bad") == 1 and NEGATION_WORD not in row
        good, bad = row.index("good"), row.index("bad")
        assert max(good, bad) < cue_window(length)
        assert bool(label) == (good < bad)
        # No short-memory shortcut: the later cue is at least 50 tokens before the end.
        assert length - max(good, bad) >= length - cue_window(length)


def test_longrange_bag_of_words_is_the_same_in_both_classes():
    tokens, labels = generate("synthetic-longrange", length=30)
    assert all(Counter(t for t in row if t in CUE_WORDS) == Counter({"good": 1, "bad": 1}) for row in tokens)
    assert same_bag_distribution(tokens, labels)


def test_longrange_cue_slots_do_not_depend_on_the_label():
    tokens, labels = generate("synthetic-longrange", length=40)
    good, bad = positions(tokens, "good"), positions(tokens, "bad")
    first, second = np.minimum(good, bad), np.maximum(good, bad)
    assert independent(first, labels)
    assert independent(second - first, labels)
    # "First" means "earlier", so where `good` sits is a weak hint by construction (it
    # is the earlier of the two slots in positive texts); the slots are drawn a few
    # tokens apart so that this hint stays far from the answer.
    assert best_single_position_accuracy(tokens, labels, "good") < 0.7
    assert best_single_position_accuracy(tokens, labels, "bad") < 0.7


# ------------------------------------------------------------------ negation
def test_negation_not_flips_only_the_cue_right_after_it():
    length = 40
    tokens, labels = generate("synthetic-negation", length=length)
    for row, label in zip(tokens, labels):
        cues = [i for i, t in enumerate(row) if t in LABEL_WORDS]
        assert len(cues) == 1 and row.count(NEGATION_WORD) == 1
        cue, negation = cues[0], row.index(NEGATION_WORD)
        assert abs(cue - negation) == 1  # "not good" or "good not"
        assert min(cue, negation) >= length - negation_window(length)
        flipped = negation == cue - 1
        assert label == LABEL_WORDS.index(row[cue]) ^ int(flipped)


def test_negation_bag_of_words_and_single_positions_say_nothing():
    tokens, labels = generate("synthetic-negation", length=20)
    assert same_bag_distribution(tokens, labels)
    cue_word = np.array([1 if "good" in row else 0 for row in tokens])
    cue_position = np.array([next(i for i, t in enumerate(row) if t in LABEL_WORDS) for row in tokens])
    assert independent(cue_word, labels)
    assert independent(cue_position, labels)
    assert independent(positions(tokens, NEGATION_WORD), labels)
    assert best_single_position_accuracy(tokens, labels, NEGATION_WORD) < 0.55


# ----------------------------------------------------------------------- toy
def test_toy_is_big_enough_to_test_on_and_holds_the_lecture_sentence():
    texts, labels = toy_sentences()
    dataset = load_dataset(RunConfig().data, seed=0)
    assert len(set(texts)) == len(texts) == 2400
    assert np.bincount(labels).tolist() == [1200, 1200]
    assert len(dataset.test_texts) >= 100
    assert LECTURE_SENTENCE in texts
    negated = sum(" not " in f" {text.lower()} " for text in texts)
    assert 0.1 < negated / len(texts) < 0.5  # negations are common, not the rule


# ------------------------------------------------ scoreboards, trained tiny
# Without XLA: compiling costs more than these runs take (test_training covers jit).
FAST = {"train.jit_compile": False}


def accuracy(store, **overrides):
    config = RunConfig().with_overrides({**FAST, **overrides}).validate()
    record = train_foreground(config, store)
    assert record.status == "completed", record.message
    return record.test_accuracy


def task(dataset, length, num_examples, **more):
    return {"data.dataset": dataset, "data.synthetic_length": length, "data.sequence_length": length,
            "data.num_examples": num_examples, **more}


def test_presence_a_bag_of_words_suffices(store):
    assert accuracy(store, **task("synthetic-presence", 20, 2000, **{"model.arch": "baseline"})) >= 0.9


def test_longrange_bag_of_words_at_chance_and_the_bidirectional_rnn_wins(store):
    settings = task("synthetic-longrange", 40, 2000)
    baseline = accuracy(store, **settings, **{"model.arch": "baseline"})
    lstm = accuracy(store, **settings, **{"model.arch": "lstm"})
    bilstm = accuracy(store, **settings, **{"model.arch": "bilstm"})
    assert baseline <= 0.62 and lstm <= 0.65
    assert bilstm >= 0.75 and bilstm - lstm >= 0.15


def test_negation_bag_of_words_at_chance_and_the_transformer_learns_it(store):
    settings = task("synthetic-negation", 12, 6000, **{"train.epochs": 3})
    assert accuracy(store, **settings, **{"model.arch": "baseline"}) <= 0.57  # 1,200 test texts
    assert accuracy(store, **settings, **{"model.arch": "transformer"}) >= 0.85


def test_toy_defaults_reach_about_0_8(store):
    # The Train form's defaults on toy: RunConfig() with the suggested length of 16.
    assert accuracy(store, **{"data.dataset": "toy", "data.sequence_length": 16}) >= 0.75
