"""The toy sentiment set: short classroom sentences about films, in the package.

Big enough that its test accuracy means something (2,400 sentences, 480 of
them held out for the test at the default split) and small enough to train
in seconds: with the Train form's defaults (5 epochs, batch 64, sequence
length 16) an LSTM scores about 0.87 on the test sentences, the Transformer
about 0.99 and the bag-of-words baseline about 0.85 (README, "Tasks with
known winners"). It is built from two parts:

- `HANDWRITTEN`: a few dozen sentences as a person would write them,
  including single words ("bad") and pairs ("very good") so that padding,
  truncation and masks can be shown on real examples;
- `template_sentences()`: lecture-style sentences made from templates, the
  same every time: "the acting was really good", "the plot was not bad",
  "i did not like the ending", "the acting was not good but the story was
  great" (the verdict after "but" decides). Negations flip the adjective
  after them (about one clause in six is negated), so word order matters: a
  bag-of-words baseline gets the plain sentences right and misses many
  negated ones, where sequence models pull ahead.

Which sentences land in which split is drawn with the run's seed.
"""

from __future__ import annotations

import itertools

import numpy as np

from seqlab.config import DataConfig
from seqlab.data.texts import TextDataset, dataset_from_pool

CLASS_NAMES = ("negative", "positive")
# Sentences in all, half of each class.
TOY_SIZE = 2400
# One in NEGATED_SHARE of the sampled clause sentences is negated ("was not good").
NEGATED_SHARE = 6

HANDWRITTEN_POSITIVE = (
    "I love this movie it is great",
    "What a wonderful film",
    "The acting was brilliant and the story moving",
    "A truly great experience from start to finish",
    "I enjoyed every minute of it",
    "This is the best film I have seen this year",
    "Beautiful music and a lovely story",
    "I would watch it again",
    "A fun and charming movie for the whole family",
    "It made me laugh and cry in a good way",
    "One of my favourite movies ever",
    "Highly recommended",
    "A masterpiece",
    "Not bad at all",
    "good",
    "great",
    "very good",
    "loved it",
    "wonderful",
    "simply excellent",
)

HANDWRITTEN_NEGATIVE = (
    "This film was terrible and boring",
    "I hated this movie",
    "The worst film I have ever seen",
    "The acting was awful and the story made no sense",
    "A complete waste of time",
    "I fell asleep halfway through",
    "I want my money back",
    "Nothing happens in this movie",
    "I could not wait for it to end",
    "Do not watch this film",
    "It was a mess from start to finish",
    "Painful to watch",
    "The story was not good",
    "Not funny not clever not worth it",
    "bad",
    "awful",
    "very bad",
    "hated it",
    "horrible",
    "simply terrible",
)

SUBJECTS = ("the movie", "the film", "this movie", "the story", "the acting", "the plot",
            "the ending", "the music", "the cast", "the script", "the dialogue", "the characters")
VERBS = ("was", "is", "felt", "seemed")
INTENSIFIERS = ("", "very", "really", "truly", "quite")
# Adjectives by label: index 0 negative, 1 positive.
ADJECTIVES = (
    ("bad", "terrible", "boring", "awful", "dull", "weak", "poor", "predictable", "slow", "silly"),
    ("good", "great", "wonderful", "brilliant", "excellent", "amazing", "fun", "moving", "clever",
     "beautiful"),
)
# "i ... the ending": verbs by label, and the negated forms that flip them.
OPINIONS = (("hated", "disliked", "did not enjoy", "did not like", "could not stand"),
            ("loved", "liked", "enjoyed", "really liked", "did not hate"))
NOUNS = ("film", "movie", "story", "plot", "ending", "cast", "script", "soundtrack")


# How each verb is negated: "was" -> "was not", "felt" -> "did not feel".
NEGATED_VERBS = {"was": "was not", "is": "is not", "felt": "did not feel", "seemed": "did not seem"}


def _clause(subject: str, verb: str, intensifier: str, adjective: str, negated: bool) -> str:
    words = [subject, NEGATED_VERBS[verb] if negated else verb, intensifier, adjective]
    return " ".join(word for word in words if word)


def template_sentences() -> dict[str, tuple[list[str], list[int]]]:
    """Returns every template sentence with its label, by kind, in a fixed order.

    Kinds: "plain" ("the plot was really clever": the adjective's label),
    "negated" ("the plot was not clever": flipped), "opinion" ("i did not
    like the ending": the opinion's label), "short" ("great film") and "but"
    ("the acting was not good but the story was great": the clause after
    "but" decides, the one before says the opposite).

    Returns:
        kind -> (sentences, labels), labels 1 = positive.
    """
    kinds: dict[str, tuple[list[str], list[int]]] = {
        kind: ([], []) for kind in ("plain", "negated", "opinion", "short", "but")}

    def add(kind: str, sentence: str, label: int) -> None:
        kinds[kind][0].append(sentence)
        kinds[kind][1].append(label)

    for subject, verb, intensifier, negated in itertools.product(SUBJECTS, VERBS, INTENSIFIERS, (False, True)):
        for label, adjectives in enumerate(ADJECTIVES):
            for adjective in adjectives:
                add("negated" if negated else "plain",
                    _clause(subject, verb, intensifier, adjective, negated), label ^ int(negated))
    for label, opinions in enumerate(OPINIONS):
        for opinion, subject in itertools.product(opinions, SUBJECTS):
            add("opinion", f"i {opinion} {subject}", label)
    for label, adjectives in enumerate(ADJECTIVES):
        for adjective, noun in itertools.product(adjectives, NOUNS):
            add("short", f"{adjective} {noun}", label)
    for index, (first, second) in enumerate(itertools.permutations(SUBJECTS[3:8], 2)):
        for label, negated in itertools.product((0, 1), (False, True)):
            first_adjective = ADJECTIVES[(1 - label) ^ int(negated)][index % 10]
            second_adjective = ADJECTIVES[label][(index + 3) % 10]
            add("but", f"{_clause(first, 'was', '', first_adjective, negated)} but "
                       f"{_clause(second, 'was', '', second_adjective, False)}", label)
    return kinds


# The lecture's example, always in the toy set.
LECTURE_SENTENCE = "the acting was not good but the story was great"


def toy_sentences() -> tuple[list[str], np.ndarray]:
    """Returns the toy set: handwritten sentences, every short, opinion and "but" sentence, and plain/negated ones.

    The plain and negated sentences are a fixed sample (drawn once with a
    fixed generator, independent of any run's seed) that fills each class to
    `TOY_SIZE / 2`, half plain and half negated. The lecture's example
    `LECTURE_SENTENCE` is always in it.

    Returns:
        (sentences, labels (N,) int64), N = `TOY_SIZE`; label 1 = positive.
    """
    kinds = template_sentences()
    rng = np.random.default_rng(20240)
    sentences = list(HANDWRITTEN_NEGATIVE) + list(HANDWRITTEN_POSITIVE) + [LECTURE_SENTENCE]
    labels = [0] * len(HANDWRITTEN_NEGATIVE) + [1] * (len(HANDWRITTEN_POSITIVE) + 1)
    for kind in ("short", "opinion", "but"):
        sentences += kinds[kind][0]
        labels += kinds[kind][1]
    for label in (0, 1):
        missing = TOY_SIZE // 2 - labels.count(label)
        negated = missing // NEGATED_SHARE
        for kind, share in (("plain", missing - negated), ("negated", negated)):
            pool = [text for text, lab in zip(*kinds[kind]) if lab == label and text != LECTURE_SENTENCE]
            sentences += [pool[i] for i in np.sort(rng.choice(len(pool), size=share, replace=False))]
            labels += [label] * share
    return sentences, np.array(labels, dtype=np.int64)


def load_toy(config: DataConfig, seed: int) -> TextDataset:
    """Splits the toy sentences with `seed`, both classes in every split.

    Args:
        config: gives `validation_fraction` and `test_fraction`.
        seed: fixes the split.

    Returns:
        The `TextDataset` (label 1 = positive).
    """
    texts, labels = toy_sentences()
    return dataset_from_pool(
        "toy", "Toy sentiment", CLASS_NAMES, texts, labels, config,
        np.random.default_rng(seed), source="seqlab/data/toy.py", noun="sentences",
    )
