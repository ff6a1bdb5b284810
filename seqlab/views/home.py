"""The Home page: the one-click presets as cards, and queueing one."""

from __future__ import annotations

from dataclasses import dataclass

from seqlab import jobs
from seqlab.config import presets
from seqlab.store import RunStore


@dataclass(frozen=True)
class PresetCard:
    """What the Home page says about one preset before it is queued."""

    title: str
    description: str
    run_labels: tuple[str, ...]
    needs_imdb: bool  # it trains on IMDB, which was not found locally

    @property
    def caption(self) -> str:
        return f"{self.description} ({len(self.run_labels)} runs: {', '.join(self.run_labels)})"


def preset_cards(imdb_found: bool) -> list[PresetCard]:
    """Returns one card per preset, in the order `config.presets()` lists them."""
    return [
        PresetCard(title, preset["description"], tuple(config.label() for config in preset["runs"]),
                   not imdb_found and any(config.data.dataset == "imdb" for config in preset["runs"]))
        for title, preset in presets().items()
    ]


def queue_preset(store: RunStore, title: str) -> list[str]:
    """Queues a preset's runs (each on its own, not as a seed group) and makes sure a worker runs them.

    Returns:
        The new run ids, in the preset's order.

    Raises:
        KeyError: for a title that is not a preset.
    """
    chosen = presets().get(title)
    if chosen is None:
        raise KeyError(f"preset: received {title!r}, expected one of {', '.join(presets())}")
    return jobs.queue_runs(store, chosen["runs"], group_id=None)
