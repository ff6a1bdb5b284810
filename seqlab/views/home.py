"""The Home page: the one-click presets as cards, what each should show, and whether it did."""

from __future__ import annotations

from dataclasses import dataclass

from seqlab import classroom, jobs
from seqlab.analysis import lessons
from seqlab.analysis.lessons import Lesson
from seqlab.config import RunConfig, presets
from seqlab.store import RunStore


@dataclass(frozen=True)
class PresetCard:
    """What the Home page says about one preset: before it is queued, and once its runs finish.

    Attributes:
        title: the preset's title.
        description: one line on what it compares.
        run_labels: its runs as the card lists them.
        needs_imdb: it trains on IMDB, which was not found locally.
        lesson: what to expect and, once its runs have finished, whether it happened.
        allowed: students may queue it (no classroom lock, or the lock allows it).
    """

    title: str
    description: str
    run_labels: tuple[str, ...]
    needs_imdb: bool
    lesson: Lesson
    allowed: bool = True

    @property
    def caption(self) -> str:
        return f"{self.description} ({len(self.run_labels)} runs: {', '.join(self.run_labels)})"


def run_labels(configs: list[RunConfig]) -> tuple[str, ...]:
    """Returns each config's label, with its text length where the preset's lengths differ."""
    lengths = {config.data.synthetic_length for config in configs}
    synthetic = all(config.data.dataset.startswith("synthetic-") for config in configs)
    if not synthetic or len(lengths) == 1:
        return tuple(config.label() for config in configs)
    return tuple(f"{config.label()} at {config.data.synthetic_length} tokens" for config in configs)


def preset_lessons(store: RunStore) -> list[Lesson]:
    """Returns every preset's lesson, computed from the runs in `store`, in the presets' order.

    A preset's runs are the latest ones (per seed) whose recipe equals one of
    its configs but for the seed (`seqlab.analysis.lessons.check`); the
    Compare page can show the same verdicts.
    """
    return lessons.check_presets(presets(), store.list_runs())


def preset_cards(imdb_found: bool, store: RunStore | None = None) -> list[PresetCard]:
    """Returns one card per preset, in the order `config.presets()` lists them.

    Args:
        imdb_found: whether a local copy of IMDB was found.
        store: the run store whose runs say whether each lesson held; None:
            the cards carry only what to expect.
    """
    chosen = presets()
    verdicts = lessons.check_presets(chosen, store.list_runs() if store is not None else [])
    lock = classroom.read_lock()
    return [
        PresetCard(title, preset["description"], run_labels(preset["runs"]),
                   not imdb_found and any(config.data.dataset == "imdb" for config in preset["runs"]),
                   lesson, lock is None or lock.allows_preset(title))
        for (title, preset), lesson in zip(chosen.items(), verdicts)
    ]


def queue_preset(store: RunStore, title: str) -> list[str]:
    """Queues a preset's runs (each on its own, not as a seed group) and makes sure a worker runs them.

    Returns:
        The new run ids, in the preset's order.

    Raises:
        KeyError: for a title that is not a preset.
        ValueError: a preset the classroom lock (`seqlab.classroom`) does not allow; nothing is queued.
    """
    chosen = presets().get(title)
    if chosen is None:
        raise KeyError(f"preset: received {title!r}, expected one of {', '.join(presets())}")
    lock = classroom.read_lock()
    if lock is not None:
        lock.check_preset(title)
    return jobs.queue_runs(store, chosen["runs"], group_id=None)


def sharing_choices(store: RunStore) -> tuple[dict[str, str], list[str]]:
    """Returns the finished runs the instructor may share ({run_id: "label · workspace"}) and those shared now."""
    records = store.list_runs(statuses=["completed", "stopped", "diverged"])
    options = {record.run_id: f"{record.label} · {record.workspace}" for record in records}
    return options, [record.run_id for record in records if record.shared]


def set_sharing(store: RunStore, chosen: list[str]) -> int:
    """Shares exactly the `chosen` runs with the class among the finished ones; returns how many changed.

    Raises:
        PermissionDenied: unless `store` acts for the instructor (or the system).
    """
    options, shared = sharing_choices(store)
    changed = 0
    for run_id in options:
        wanted = run_id in chosen
        if wanted != (run_id in shared):
            store.set_shared(run_id, wanted)
            changed += 1
    return changed
