"""The classroom lock: which presets and run fields students may change.

An instructor turns it on with `SEQLAB_CLASSROOM`:

- unset, empty or `0`: no lock; everything is allowed.
- `1`: read `$SEQLAB_HOME/classroom.json` when it exists, else `DEFAULT_LOCK`
  (every preset allowed; only `model.arch`, `model.units`, `train.epochs`,
  `train.learning_rate` and `seed` changeable; the toy dataset at its short
  sequence length).
- a path: read that JSON file.

The file::

    {"presets": ["toy", "attention"],          # titles or lesson keys (`find_preset`)
     "fields": ["model.arch", "train.epochs"],  # paths of `seqlab.config.FIELDS`
     "values": {"train.epochs": 3}}             # optional: fixed values of locked fields

Every field not in "fields" is locked at its value in "values", else at its
`RunConfig` default. A missing "presets" allows every preset; a missing
"fields" allows none. A value given for a field students may change is an
error (it would be unclear whether it is fixed or a starting value).

Fail closed: a lock that cannot be read (a missing file, bad JSON, an unknown
preset or field, a bad value) locks every field at its default and every
preset, and carries the reason in `ClassroomLock.problem` for the pages to
show; a typo must not open the classroom.

The checks here are what the app's queueing functions call
(`seqlab.ui.forms.queue_action`, `seqlab.views.home.queue_preset`), so the
lock holds whatever the widgets send. Nothing here imports streamlit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from seqlab.config import FIELDS, RunConfig, find_preset, presets

CLASSROOM_ENV = "SEQLAB_CLASSROOM"
CLASSROOM_FILE = "classroom.json"
LOCK_KEYS = ("presets", "fields", "values")
DEFAULT_FIELDS = ("model.arch", "model.units", "train.epochs", "train.learning_rate", "seed")
# The toy dataset's sentences are short: its preset trains at this length too.
DEFAULT_VALUES = MappingProxyType({"data.sequence_length": 16})
LOCKED_NOTE = "Locked by the instructor"


@dataclass(frozen=True)
class ClassroomLock:
    """What students may change; every other run field is fixed.

    Attributes:
        presets: titles of the presets students may queue.
        fields: config paths students may change.
        values: every locked field's fixed value, by path.
        source: where the lock came from (a file, or "default lock").
        problem: why the lock could not be read (it then locks everything); "" when read.
    """

    presets: tuple[str, ...]
    fields: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    problem: str = ""

    def allows_field(self, path: str) -> bool:
        return path in self.fields

    def allows_preset(self, title: str) -> bool:
        return title in self.presets

    @property
    def locked_fields(self) -> tuple[str, ...]:
        return tuple(path for path in FIELDS if path not in self.fields)

    def check_config(self, config: RunConfig) -> None:
        """Refuses a config whose locked fields differ from the lock's values.

        Raises:
            ValueError: naming the first differing field, its fixed value and what was received.
        """
        flat = config.flat()
        for path in self.locked_fields:
            if flat[path] != self.values[path]:
                raise ValueError(
                    f"{path} is locked by the instructor at {self.values[path]!r}; received "
                    f"{flat[path]!r}. Set it back to {self.values[path]!r}; students may change: "
                    f"{', '.join(self.fields) or 'nothing'}.")

    def check_configs(self, configs: Iterable[RunConfig]) -> None:
        """`check_config` on each config (before any is queued)."""
        for config in configs:
            self.check_config(config)

    def check_preset(self, title: str) -> None:
        """Refuses a preset students may not queue.

        Raises:
            ValueError: naming the preset and the ones allowed.
        """
        if not self.allows_preset(title):
            allowed = "; ".join(self.presets) or "none"
            raise ValueError(f"preset {title!r} is locked by the instructor; allowed presets: {allowed}.")


def parse_lock(raw: Any, source: str = "classroom lock") -> ClassroomLock:
    """Builds a lock from the file's parsed JSON, validated.

    Args:
        raw: the parsed JSON (an object with "presets", "fields", "values").
        source: where it came from, for messages.

    Returns:
        The lock, its `values` filled for every locked field.

    Raises:
        ValueError: naming what was received and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: received {type(raw).__name__} {raw!r}, expected a JSON object "
                         f"with keys {', '.join(LOCK_KEYS)}")
    unknown = sorted(set(raw) - set(LOCK_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(LOCK_KEYS)}")
    all_presets = list(presets())
    titles = all_presets if raw.get("presets") is None else [
        _preset_title(source, name) for name in _string_list(source, "presets", raw["presets"])]
    fields = _string_list(source, "fields", raw.get("fields", []))
    for path in fields:
        if path not in FIELDS:
            raise ValueError(f"{source}: fields: received {path!r}, expected field paths of "
                             f"seqlab.config.FIELDS: {', '.join(FIELDS)}")
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise ValueError(f"{source}: values: received {values!r}, expected an object such as "
                         f'{{"train.epochs": 3}}')
    for path in values:
        if path not in FIELDS:
            raise ValueError(f"{source}: values: received field {path!r}, expected field paths of "
                             f"seqlab.config.FIELDS: {', '.join(FIELDS)}")
        if path in fields:
            raise ValueError(f"{source}: values: {path!r} is also in fields (students may change it), so "
                             f"it takes no fixed value; remove it from one of the two")
    try:
        fixed = RunConfig().with_overrides(dict(values)).validate().flat()
    except ValueError as error:
        raise ValueError(f"{source}: values: {error}") from error
    return ClassroomLock(
        presets=tuple(title for title in all_presets if title in titles),  # in the Home page's order
        fields=tuple(path for path in FIELDS if path in fields),
        values=MappingProxyType({path: fixed[path] for path in FIELDS if path not in fields}),
        source=source)


DEFAULT_LOCK_SPEC = {"fields": list(DEFAULT_FIELDS), "values": dict(DEFAULT_VALUES)}


def closed_lock(source: str, problem: str) -> ClassroomLock:
    """The lock of an unreadable lock file: no preset, every field at its default."""
    return ClassroomLock(presets=(), fields=(), values=MappingProxyType(RunConfig().flat()),
                         source=source, problem=problem)


def read_lock(environ: Mapping[str, str] | None = None) -> ClassroomLock | None:
    """Returns the classroom lock `SEQLAB_CLASSROOM` asks for, or None when there is none.

    Args:
        environ: the environment to read (default `os.environ`).

    Returns:
        None without a lock; else the lock, or (fail closed) a lock of
        everything whose `problem` says why the file could not be used.
    """
    environ = os.environ if environ is None else environ
    setting = environ.get(CLASSROOM_ENV, "").strip()
    if setting in ("", "0"):
        return None
    if setting == "1":
        from seqlab.store import default_home  # the one reader of the store's folder

        path = default_home() / CLASSROOM_FILE
        if not path.exists():
            return parse_lock(DEFAULT_LOCK_SPEC, "default lock")
    else:
        path = Path(setting).expanduser()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return closed_lock(str(path), f"{CLASSROOM_ENV}={setting}: cannot read {path}: "
                                      f"{error.strerror or error}; expected a JSON lock file")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return closed_lock(str(path), f"{path}: not valid JSON ({error}); expected an object such as "
                                      f'{{"presets": ["toy"], "fields": ["train.epochs"]}}')
    try:
        return parse_lock(raw, str(path))
    except ValueError as error:
        return closed_lock(str(path), str(error))


def _string_list(source: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{source}: {key}: received {value!r}, expected a list of strings")
    return value


def _preset_title(source: str, name: str) -> str:
    try:
        return find_preset(name)[0]
    except KeyError as error:
        raise ValueError(f"{source}: presets: {error.args[0]}") from error
