"""The toy sentiment set: a few dozen classroom sentences, in the package.

Small enough to train in seconds and to read in full. Some sentences are a
single word ("bad") or two ("very good") so that padding, truncation and
masks can be shown on real examples. A few need word order ("not good") and
so separate a bag-of-words baseline from sequence models.
"""

from __future__ import annotations

import numpy as np

from seqlab.config import DataConfig
from seqlab.data.texts import TextDataset, dataset_from_pool

CLASS_NAMES = ("negative", "positive")

POSITIVE = [
    "I love this movie it is great",
    "What a wonderful film",
    "The acting was brilliant and the story moving",
    "A truly great experience from start to finish",
    "I enjoyed every minute of it",
    "This is the best film I have seen this year",
    "Beautiful music and a lovely story",
    "The actors were fantastic",
    "I would watch it again",
    "A fun and charming movie for the whole family",
    "Great plot and great characters",
    "It made me laugh and cry in a good way",
    "An excellent and clever film",
    "I really liked the ending",
    "The director did an amazing job",
    "Funny warm and full of heart",
    "One of my favourite movies ever",
    "Highly recommended",
    "The story kept me interested all the way",
    "A masterpiece",
    "Superb performances by the whole cast",
    "I was smiling the whole time",
    "This film was a pleasant surprise",
    "Not bad at all",
    "good",
    "great",
    "very good",
    "really good movie",
    "loved it",
    "so good",
    "amazing film",
    "a great movie",
    "wonderful",
    "I liked it a lot",
    "simply excellent",
]

NEGATIVE = [
    "This film was terrible and boring",
    "I hated this movie",
    "The worst film I have ever seen",
    "The acting was awful and the story made no sense",
    "A complete waste of time",
    "I fell asleep halfway through",
    "Boring slow and far too long",
    "The plot was stupid and the jokes were not funny",
    "I want my money back",
    "Poor acting and a weak script",
    "The characters were dull and lifeless",
    "Nothing happens in this movie",
    "I could not wait for it to end",
    "A disappointing and forgettable film",
    "The music was annoying",
    "Bad direction and bad writing",
    "Do not watch this film",
    "It was a mess from start to finish",
    "The ending ruined everything",
    "Painful to watch",
    "I regret seeing this movie",
    "Dull predictable and badly made",
    "The story was not good",
    "Not funny not clever not worth it",
    "bad",
    "awful",
    "very bad",
    "really bad movie",
    "hated it",
    "so boring",
    "terrible film",
    "a boring movie",
    "horrible",
    "I did not like it",
    "simply terrible",
]


def load_toy(config: DataConfig, seed: int) -> TextDataset:
    """Splits the toy sentences with `seed`, both classes in every split.

    Args:
        config: gives `validation_fraction` and `test_fraction`.
        seed: fixes the split.

    Returns:
        The `TextDataset` (label 1 = positive).
    """
    texts = NEGATIVE + POSITIVE
    labels = np.array([0] * len(NEGATIVE) + [1] * len(POSITIVE), dtype=np.int64)
    return dataset_from_pool(
        "toy", "Toy sentiment", CLASS_NAMES, texts, labels, config,
        np.random.default_rng(seed), source="seqlab/data/toy.py", noun="sentences",
    )
