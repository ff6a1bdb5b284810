"""Whether a preset's runs showed what its card said they would.

Every preset (`seqlab.config.presets()`) names its lesson (`"lesson":
"longrange"`, ...). Before it runs, `expectation` says what to expect; once
its runs have finished, `check` says whether that happened, computed from
the runs' test accuracy (and, for the cheapest-model lesson, their size and
steady seconds per epoch).

A preset's runs are found without any extra record: for each of its
configs, the runs whose recipe equals it in every field but the seed
(`RunConfig.flat()`), the latest one per seed. So queueing a preset again
checks the new runs, and repeating its configs over 3 seeds (the Train
page's Seeds) checks their mean.

Nothing here imports TensorFlow or the store: records are any objects with
`run_id`, `status`, `config`, `created_at`, `test_accuracy`,
`seconds_per_epoch`, `num_params` and `majority_fraction`, as
`RunStore.list_runs()` returns them.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from seqlab.analysis import words
from seqlab.config import RunConfig

# Test accuracy that counts as "learned it" on the synthetic tasks.
LEARNED = 0.85
# ... on the toy sentences (measured: 0.84 or more for every architecture).
LEARNED_TOY = 0.75
# ... on 2,000 IMDB reviews in 4 epochs (measured: lstm 0.767, gru 0.783).
LEARNED_IMDB = 0.7
# Up to this far above chance counts as "at chance".
CHANCE_MARGIN = 0.1
# A drop at least this large counts as "fell".
FALL = 0.2
# Within this of the best counts as "level with the best".
LEVEL = 0.02
# A lead at least this large counts as "trailed".
TRAIL = 0.03

IN_FLIGHT = ("queued", "running")


@dataclass(frozen=True)
class Outcome:
    """One config of a preset, as its finished runs (one per seed) scored it.

    Attributes:
        config: the preset's config.
        run_ids: the completed runs counted (the latest per seed).
        accuracies: their test accuracies.
        seconds_per_epoch: the mean of their steady seconds per epoch (NaN when none recorded).
        num_params: the model's parameter count (None when not recorded).
        chance: what always guessing the majority class scores (0.5 when not recorded).
    """

    config: RunConfig
    run_ids: tuple[str, ...]
    accuracies: tuple[float, ...]
    seconds_per_epoch: float
    num_params: int | None
    chance: float

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def seeds(self) -> int:
        return len(self.accuracies)

    @property
    def arch(self) -> str:
        return self.config.model.arch

    @property
    def length(self) -> int:
        return self.config.data.synthetic_length

    def text(self) -> str:
        """Its accuracy as a lesson writes it: "0.96" or "0.96 (mean of 3 seeds)"."""
        return words.accuracy_text(self.accuracy, self.seeds)


@dataclass(frozen=True)
class Lesson:
    """What a preset's card says: the expectation, then whether it happened.

    Attributes:
        title: the preset's title.
        kind: its lesson ("longrange", "presence", ...).
        expectation: what to expect, said before it runs.
        status: "not run" (no run of it found), "waiting" (runs queued or
            running), "incomplete" (a run did not complete), "held" (as
            expected) or "missed" (not this time).
        sentence: the verdict or the waiting line; "" when not run.
        run_ids: the runs it was computed from (or is waiting for).
    """

    title: str
    kind: str
    expectation: str
    status: str
    sentence: str
    run_ids: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        """Whether the runs were there to check: the lesson held or was missed."""
        return self.status in ("held", "missed")


Fact = tuple[bool, str]  # (whether it held, what to say either way)


def recipe_key(config: RunConfig) -> str:
    """Returns a config's recipe without its seed, as text: runs with equal keys repeat one recipe."""
    flat = config.flat()
    flat.pop("seed")
    return json.dumps(flat, sort_keys=True, default=str)


def runs_by_recipe(records: Iterable[Any]) -> dict[str, list[Any]]:
    """Returns the runs grouped by `recipe_key`, each group newest first."""
    groups: dict[str, list[Any]] = {}
    for record in sorted(records, key=lambda r: r.created_at, reverse=True):
        groups.setdefault(recipe_key(record.config), []).append(record)
    return groups


def latest_per_seed(config: RunConfig, by_recipe: dict[str, list[Any]]) -> list[Any]:
    """Returns the latest run per seed whose recipe equals `config` but for the seed, newest first.

    Args:
        config: one of a preset's configs.
        by_recipe: the store's runs, as `runs_by_recipe` groups them.
    """
    latest: dict[int, Any] = {}
    for record in by_recipe.get(recipe_key(config), []):
        latest.setdefault(record.config.seed, record)
    return list(latest.values())


def _outcome(config: RunConfig, runs: Sequence[Any]) -> Outcome:
    done = [r for r in runs if r.status == "completed" and r.test_accuracy is not None]
    seconds = [r.seconds_per_epoch for r in done if r.seconds_per_epoch is not None]
    chances = [r.majority_fraction for r in done if r.majority_fraction is not None]
    return Outcome(
        config=config, run_ids=tuple(r.run_id for r in done),
        accuracies=tuple(float(r.test_accuracy) for r in done),
        seconds_per_epoch=statistics.fmean(seconds) if seconds else math.nan,
        num_params=next((r.num_params for r in done if r.num_params), None),
        chance=statistics.fmean(chances) if chances else 0.5,
    )


def expectation(preset: dict[str, Any]) -> str:
    """Returns what a preset's card says to expect before it runs ("" for a preset without a lesson)."""
    kind = preset.get("lesson", "")
    if kind == "longrange":
        lengths = sorted({c.data.synthetic_length for c in preset["runs"]})
        return words.expectation_longrange(lengths[0], lengths[-1])
    return _EXPECTATIONS.get(kind, "")


def check(title: str, preset: dict[str, Any], records: Iterable[Any]) -> Lesson:
    """Says whether a preset's runs showed its lesson.

    Args:
        title: the preset's title.
        preset: its entry in `config.presets()` ("runs", "lesson").
        records: the store's runs (`RunStore.list_runs()`), any order.

    Returns:
        The `Lesson`; see its `status` for the cases.
    """
    return _check(title, preset, runs_by_recipe(records))


def _check(title: str, preset: dict[str, Any], by_recipe: dict[str, list[Any]]) -> Lesson:
    kind = preset.get("lesson", "")
    configs = list(preset["runs"])
    runs = [latest_per_seed(config, by_recipe) for config in configs]
    found = tuple(r.run_id for rs in runs for r in rs)
    expected = expectation(preset)
    if not found:
        return Lesson(title, kind, expected, "not run", "")
    in_flight = sum(any(r.status in IN_FLIGHT for r in rs) for rs in runs)
    if in_flight:
        finished = sum(bool(rs) and not any(r.status in IN_FLIGHT for r in rs) for rs in runs)
        return Lesson(title, kind, expected, "waiting", words.lesson_waiting(finished, len(configs)), found)
    outcomes = [_outcome(config, rs) for config, rs in zip(configs, runs)]
    incomplete = sum(o.seeds == 0 for o in outcomes)
    if incomplete:
        return Lesson(title, kind, expected, "incomplete", words.lesson_unusable(incomplete, len(configs)), found)
    checker = _CHECKS.get(kind)
    if checker is None:
        return Lesson(title, kind, expected, "not run", "", found)
    facts = checker(outcomes)
    used = tuple(run_id for o in outcomes for run_id in o.run_ids)
    seeds = min(o.seeds for o in outcomes)
    if all(held for held, _ in facts):
        return Lesson(title, kind, expected, "held", words.lesson_held([text for _, text in facts]), used)
    missed = [text for held, text in facts if not held]
    return Lesson(title, kind, expected, "missed", words.lesson_missed(missed, seeds), used)


# ------------------------------------------------------------------- checks
def _at_chance(outcome: Outcome, label: str) -> Fact:
    if outcome.accuracy <= outcome.chance + CHANCE_MARGIN:
        return True, words.at_chance_fact(label, outcome.text(), outcome.chance)
    return False, words.above_chance_fact(label, outcome.text(), outcome.chance)


def _learned(outcome: Outcome, label: str, wanted: float, length: int | None = None) -> Fact:
    if outcome.accuracy >= wanted:
        if length is None:
            return True, words.learned_fact(label, outcome.text())
        return True, words.held_fact(outcome.arch, outcome.text(), length)
    return False, words.only_reached_fact(label, outcome.text(), wanted)


def _trails(leader: Outcome, leader_label: str, follower: Outcome, follower_label: str,
            margin: float, reason: str = "") -> Fact:
    if leader.accuracy - follower.accuracy >= margin:
        return True, words.gap_fact(leader_label, leader.text(), follower_label, follower.text(), reason)
    return False, words.no_gap_fact(leader_label, leader.text(), follower_label, follower.text())


def check_longrange(outcomes: list[Outcome]) -> list[Fact]:
    """A left-to-right RNN falls with length; the BiLSTM and the Transformer hold; the bag of words is at chance."""
    forward = sorted((o for o in outcomes if o.arch in ("lstm", "gru")), key=lambda o: o.length)
    long = max(o.length for o in outcomes)
    facts: list[Fact] = []
    if len(forward) >= 2 and forward[0].length < forward[-1].length:
        short, far = forward[0], forward[-1]
        fell = short.accuracy - far.accuracy >= FALL
        say = words.fell_fact if fell else words.did_not_fall_fact
        facts.append((fell, say(far.arch, short.length, short.text(), far.length, far.text())))
    for outcome in outcomes:
        if outcome.arch in ("bilstm", "bigru", "transformer") and outcome.length == long:
            facts.append(_learned(outcome, words.arch_name(outcome.arch), LEARNED, length=long))
        elif outcome.arch == "baseline":
            facts.append(_at_chance(outcome, words.arch_name("baseline")))
    return facts


def check_presence(outcomes: list[Outcome]) -> list[Fact]:
    """The bag of words is level with the best model and the cheapest."""
    baseline = next(o for o in outcomes if o.arch == "baseline")
    others = [o for o in outcomes if o.arch != "baseline"]
    best = max(others, key=lambda o: o.accuracy)
    facts: list[Fact] = []
    level = baseline.accuracy >= best.accuracy - LEVEL
    say = words.level_with_best_fact if level else words.behind_best_fact
    facts.append((level, say(baseline.text(), words.arch_name(best.arch), best.text())))
    sized = [o for o in others if o.num_params]
    if baseline.num_params and sized:
        timed = [o for o in sized if math.isfinite(o.seconds_per_epoch)]
        timed_too = timed and math.isfinite(baseline.seconds_per_epoch)
        # The rival: the fastest other model when epochs were timed, else the smallest.
        rival = (min(timed, key=lambda o: o.seconds_per_epoch) if timed_too
                 else min(sized, key=lambda o: o.num_params))
        smallest = all(baseline.num_params < o.num_params for o in sized)
        fastest = not timed_too or baseline.seconds_per_epoch < rival.seconds_per_epoch
        if smallest and fastest:
            seconds_ratio = rival.seconds_per_epoch / baseline.seconds_per_epoch if timed_too else None
            facts.append((True, words.cheapest_fact(rival.num_params / baseline.num_params, seconds_ratio,
                                                    words.arch_name(rival.arch))))
        else:
            facts.append((False, words.not_cheapest_fact(words.arch_name(rival.arch))))
    return facts


def check_attention(outcomes: list[Outcome]) -> list[Fact]:
    """The Transformer learns the order; without position embeddings it is at chance, like the bag of words."""
    facts: list[Fact] = []
    for outcome in outcomes:
        if outcome.arch == "transformer" and getattr(outcome.config.model, "position_embedding", True):
            facts.append(_learned(outcome, words.arch_name("transformer"), LEARNED))
        elif outcome.arch == "transformer":
            facts.append(_at_chance(outcome, "the Transformer without position embeddings"))
        elif outcome.arch == "baseline":
            facts.append(_at_chance(outcome, words.arch_name("baseline")))
    return facts


def check_masking(outcomes: list[Outcome]) -> list[Fact]:
    """The masked model learns; the unmasked one trails it by a wide margin."""
    masked = next(o for o in outcomes if o.config.model.use_mask)
    unmasked = next(o for o in outcomes if not o.config.model.use_mask)
    name = words.arch_name(masked.arch).removeprefix("the ")
    return [
        _learned(masked, f"the masked {name}", LEARNED),
        _trails(masked, f"the masked {name}", unmasked, f"the unmasked {name}", FALL,
                ": padding drowned its count"),
    ]


def check_all_learn(outcomes: list[Outcome], wanted: float = LEARNED_IMDB) -> list[Fact]:
    """Every model reaches `wanted`, well above chance (IMDB)."""
    failing = [o for o in outcomes if o.accuracy < wanted]
    if not failing:
        parts = [f"{o.arch} {o.text()}" for o in outcomes]
        return [(True, words.all_learned_fact(parts, max(o.chance for o in outcomes)))]
    return [(False, words.only_reached_fact(words.arch_name(o.arch), o.text(), wanted)) for o in failing]


def check_toy(outcomes: list[Outcome]) -> list[Fact]:
    """Every model is well above chance and the bag of words trails the Transformer."""
    facts = check_all_learn(outcomes, LEARNED_TOY)
    transformer = next((o for o in outcomes if o.arch == "transformer"), None)
    baseline = next((o for o in outcomes if o.arch == "baseline"), None)
    if transformer and baseline:
        facts.append(_trails(transformer, words.arch_name("transformer"), baseline, words.arch_name("baseline"),
                             TRAIL, ": it cannot read \"not\""))
    return facts


_CHECKS: dict[str, Callable[[list[Outcome]], list[Fact]]] = {
    "longrange": check_longrange,
    "presence": check_presence,
    "attention": check_attention,
    "masking": check_masking,
    "imdb": check_all_learn,
    "toy": check_toy,
}

_EXPECTATIONS = {
    "presence": words.EXPECTATION_PRESENCE,
    "attention": words.EXPECTATION_ATTENTION,
    "masking": words.EXPECTATION_MASKING,
    "imdb": words.EXPECTATION_IMDB,
    "toy": words.EXPECTATION_TOY,
}

# The lessons a preset may name.
KINDS = tuple(_CHECKS)


def check_presets(presets: dict[str, dict[str, Any]], records: Iterable[Any]) -> list[Lesson]:
    """Returns one `Lesson` per preset, in the presets' order (see `check`)."""
    by_recipe = runs_by_recipe(records)
    return [_check(title, preset, by_recipe) for title, preset in presets.items()]
