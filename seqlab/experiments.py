"""Fair experiments as lists of run configs: seed groups and one-parameter sweeps.

The command line's `sweep` and the Train page (its sweep section, and its
repeats over seeds through `seed_group`) build their runs here, so a sweep
launched from either place is the same set of runs. (`train --seeds N` on
the command line counts seeds up the same way, in `seqlab.cli`.)

The configs come in validated (from a form or the command line) and are
validated again where they are queued or trained (`seqlab.jobs`); only
`plan_sweep`, which makes new settings from typed values, validates here.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqlab.config import ARCHITECTURES, FIELDS, RunConfig

# Fields a sweep may vary (the table's `sweep` column): the ones whose effect
# students ask about, in the order the Train page offers them.
SWEEPABLE = tuple(sorted((path for path, row in FIELDS.items() if row.sweep),
                         key=lambda path: FIELDS[path].sweep))


@dataclass(frozen=True)
class PlannedRun:
    """One run of an experiment, with the coordinates it stands for."""

    arch: str
    value: Any  # the swept field's value (None outside sweeps)
    seed: int
    config: RunConfig


def seed_group(config: RunConfig, num_seeds: int) -> list[RunConfig]:
    """Returns `config` repeated over seeds `seed, seed+1, ...`.

    Not validated here: `config` comes from a boundary that validated it, and
    the queue (`seqlab.jobs.queue_groups`) validates every run it records.

    Args:
        config: the recipe.
        num_seeds: how many runs, 1 to 50.

    Returns:
        `num_seeds` configs differing only in their seed.

    Raises:
        ValueError: when `num_seeds` is not 1..50.
    """
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or not 1 <= num_seeds <= 50:
        raise ValueError(f"seeds: received {num_seeds!r}, expected a whole number from 1 to 50")
    return [config.with_overrides({"seed": config.seed + k}) for k in range(num_seeds)]


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Parses `--vary data.sequence_length=50,100,200` into (field, typed values).

    Raises:
        ValueError: naming what was received and the allowed fields.
    """
    if "=" not in text:
        raise ValueError(
            f"--vary: received {text!r}, expected FIELD=V1,V2,... such as "
            f"data.sequence_length=50,100,200"
        )
    field, _, raw = text.partition("=")
    field = field.strip()
    if field not in SWEEPABLE:
        raise ValueError(f"--vary: received field {field!r}, expected one of {', '.join(SWEEPABLE)}")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) < 2:
        raise ValueError(f"--vary {field}: received {raw!r}, expected at least two comma-separated values")
    # Typed through the config itself, so "abc" for an int field fails with its usual message.
    values = [getattr(_section(RunConfig().with_overrides({field: v}), field), field.split(".")[1])
              for v in items]
    if len(set(values)) != len(values):
        raise ValueError(f"--vary {field}: received repeated values in {raw!r}; give each value once")
    return field, values


def parse_archs(text: str) -> list[str]:
    """Parses `lstm,transformer` into a list of known architectures.

    Raises:
        ValueError: for an unknown or repeated name.
    """
    archs = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if not archs or unknown:
        raise ValueError(
            f"--arch: received {text!r}, expected a comma-separated list of "
            f"{', '.join(ARCHITECTURES)}"
        )
    if len(set(archs)) != len(archs):
        raise ValueError(f"--arch: received {text!r}, each architecture at most once")
    return archs


def plan_sweep(
    base: RunConfig, archs: list[str], field: str, values: list[Any], num_seeds: int = 1
) -> list[PlannedRun]:
    """Returns every run of a sweep: architectures x values x seeds.

    When the swept field is `data.sequence_length` and the data is synthetic,
    the synthetic text length follows it, so longer means a longer task rather
    than more padding. Every point (architecture and value) is validated here,
    since its settings are new; its seed repeats are validated where they are
    queued or trained.

    Args:
        base: the recipe every run starts from.
        archs: the architectures, in order.
        field: the swept field (one of `SWEEPABLE`).
        values: its values, typed (see `parse_vary`).
        num_seeds: runs per point, seeds `base.seed, base.seed + 1, ...`.

    Returns:
        The `PlannedRun`s, architecture by architecture, value by value, seed by seed.

    Raises:
        ValueError: when any point is invalid (naming which).
    """
    runs = []
    for arch in archs:
        for value in values:
            overrides: dict[str, Any] = {"model.arch": arch, field: value}
            if field == "data.sequence_length" and base.data.dataset.startswith("synthetic"):
                overrides["data.synthetic_length"] = value
            try:
                config = base.with_overrides(overrides).validate()
            except ValueError as error:
                raise ValueError(f"sweep {arch} {field}={value}: {error}") from None
            for seeded in seed_group(config, num_seeds):
                runs.append(PlannedRun(arch, value, seeded.seed, seeded))
    return runs


def _section(config: RunConfig, field: str):
    return getattr(config, field.split(".")[0])
