"""Run recipes: frozen dataclasses with defaults, validation and presets.

A `RunConfig` (data + model + training + seed) is the whole recipe of a run.
The store saves it as JSON beside the weights, so any run can be re-run from
its record. Every field has a default and a one-line reason (`FIELD_HELP`),
which the command line and the app show as help.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from typing import Any

ARCHITECTURES = ("lstm", "gru", "bilstm", "bigru", "transformer", "baseline")
BUILTIN_DATASETS = ("toy", "synthetic-longrange", "synthetic-variable", "imdb")
SIDES = ("pre", "post")
MERGE_MODES = ("concat", "sum", "mul", "ave")
POOLINGS = ("mean", "max", "first")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
PRECISIONS = ("float32", "mixed_bfloat16")
RECURRENT_ARCHITECTURES = ("lstm", "gru", "bilstm", "bigru")


@dataclass(frozen=True)
class DataConfig:
    """Where the texts come from and how they become padded token ids."""

    dataset: str = "toy"
    subset: int = 0
    num_examples: int = 2000
    synthetic_length: int = 40
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    vocabulary_size: int = 20000
    sequence_length: int = 200
    truncation: str = "pre"
    padding: str = "post"
    text_column: str = ""
    label_column: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """The architecture and its size."""

    arch: str = "lstm"
    embedding_dim: int = 32
    units: int = 32
    num_layers: int = 1
    dropout_rate: float = 0.1
    recurrent_dropout_rate: float = 0.0
    merge_mode: str = "concat"
    num_heads: int = 2
    key_dim: int = 16
    ff_dim: int = 64
    pooling: str = "mean"
    use_mask: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """How the model is fitted."""

    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 0.001
    optimizer: str = "adam"
    jit_compile: bool = True
    steps_per_execution: int = 8
    precision: str = "float32"


@dataclass(frozen=True)
class RunConfig:
    """The whole recipe of one run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    name: str = ""

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """Returns the recipe as plain JSON-able dicts (section -> field -> value)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "RunConfig":
        """Builds a config from `to_dict()` output; unknown keys are an error.

        Missing keys take their defaults, so records written by an older
        seqlab (with fewer fields) still load.

        Raises:
            ValueError: on an unknown section or field, or a badly typed value.
        """
        if not isinstance(payload, dict):
            raise ValueError(
                f"run config: received {type(payload).__name__}, expected a JSON object"
            )
        sections = {}
        for name, section_cls in _SECTIONS.items():
            raw = payload.get(name, {})
            if not isinstance(raw, dict):
                raise ValueError(f"{name}: received {raw!r}, expected an object of fields")
            known = {f.name: f for f in dataclasses.fields(section_cls)}
            values = {}
            for key, value in raw.items():
                if key not in known:
                    raise ValueError(
                        f"{name}.{key}: unknown field; allowed: {', '.join(sorted(known))}"
                    )
                values[key] = _coerce(f"{name}.{key}", value, _field_type(section_cls, key))
            sections[name] = section_cls(**values)
        extra = set(payload) - set(_SECTIONS) - {"seed", "name"}
        if extra:
            raise ValueError(
                f"run config: unknown key(s) {', '.join(sorted(extra))}; "
                f"allowed: data, model, train, seed, name"
            )
        seed = _coerce("seed", payload.get("seed", 0), int)
        name = _coerce("name", payload.get("name", ""), str)
        return cls(seed=seed, name=name, **sections)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        return cls.from_dict(json.loads(text))

    def with_overrides(self, assignments: list[str] | dict[str, Any]) -> "RunConfig":
        """Returns a copy with `section.field=value` assignments applied.

        Args:
            assignments: strings such as `"model.units=64"` (values parsed by the
                field's type), or a dict `{"model.units": 64}`.

        Returns:
            A new `RunConfig` (not yet validated: call `validate()`).

        Raises:
            ValueError: naming the key, what was received and what is allowed.
        """
        if isinstance(assignments, dict):
            items = list(assignments.items())
        else:
            items = []
            for text in assignments:
                if "=" not in text:
                    raise ValueError(
                        f"--set: received {text!r}, expected key=value "
                        f"such as model.units=64"
                    )
                key, value = text.split("=", 1)
                items.append((key.strip(), value.strip()))
        config = self
        for key, value in items:
            config = config._with_one(key, value)
        return config

    def _with_one(self, key: str, value: Any) -> "RunConfig":
        if key in ("seed", "name"):
            typ = int if key == "seed" else str
            return dataclasses.replace(self, **{key: _coerce(key, value, typ)})
        section_name, _, field_name = key.partition(".")
        if section_name not in _SECTIONS or not field_name:
            raise ValueError(
                f"{key}: unknown setting; expected data.FIELD, model.FIELD, "
                f"train.FIELD, seed or name (e.g. model.units=64)"
            )
        section_cls = _SECTIONS[section_name]
        names = [f.name for f in dataclasses.fields(section_cls)]
        if field_name not in names:
            raise ValueError(
                f"{key}: unknown field of {section_name}; allowed: {', '.join(names)}"
            )
        section = getattr(self, section_name)
        new_value = _coerce(key, value, _field_type(section_cls, field_name))
        return dataclasses.replace(
            self, **{section_name: dataclasses.replace(section, **{field_name: new_value})}
        )

    # ----------------------------------------------------------- validation
    def validate(self) -> "RunConfig":
        """Checks every field and returns self.

        Raises:
            ValueError: one message naming the field, the value received, what is
                allowed and how to fix it.
        """
        d, m, t = self.data, self.model, self.train
        if d.dataset not in BUILTIN_DATASETS and not _looks_like_path(d.dataset):
            _fail("data.dataset", d.dataset,
                  f"one of {', '.join(BUILTIN_DATASETS)} or a path to a .csv/.tsv/.jsonl file")
        _int_range("data.subset", d.subset, 0, 50_000, "0 for all, or a count of reviews")
        _int_range("data.num_examples", d.num_examples, 20, 200_000)
        _int_range("data.synthetic_length", d.synthetic_length, 4, 2_000)
        _float_range("data.validation_fraction", d.validation_fraction, 0.05, 0.5)
        _float_range("data.test_fraction", d.test_fraction, 0.05, 0.5)
        _int_range("data.vocabulary_size", d.vocabulary_size, 10, 200_000)
        _int_range("data.sequence_length", d.sequence_length, 2, 2_000)
        _choice("data.truncation", d.truncation, SIDES)
        _choice("data.padding", d.padding, SIDES)

        _choice("model.arch", m.arch, ARCHITECTURES)
        _int_range("model.embedding_dim", m.embedding_dim, 2, 2048)
        _int_range("model.units", m.units, 1, 4096)
        _int_range("model.num_layers", m.num_layers, 1, 12)
        _float_range("model.dropout_rate", m.dropout_rate, 0.0, 0.9)
        _float_range("model.recurrent_dropout_rate", m.recurrent_dropout_rate, 0.0, 0.9)
        _choice("model.merge_mode", m.merge_mode, MERGE_MODES)
        _int_range("model.num_heads", m.num_heads, 1, 64)
        _int_range("model.key_dim", m.key_dim, 1, 1024)
        _int_range("model.ff_dim", m.ff_dim, 1, 16384)
        _choice("model.pooling", m.pooling, POOLINGS)

        _int_range("train.epochs", t.epochs, 1, 1000)
        _int_range("train.batch_size", t.batch_size, 1, 8192)
        _float_range("train.learning_rate", t.learning_rate, 1e-6, 10.0)
        _choice("train.optimizer", t.optimizer, OPTIMIZERS)
        _int_range("train.steps_per_execution", t.steps_per_execution, 1, 256)
        _choice("train.precision", t.precision, PRECISIONS)
        _int_range("seed", self.seed, 0, 2**31 - 1)
        return self

    def label(self) -> str:
        """A short human name for charts and tables (the `name` if set)."""
        if self.name:
            return self.name
        m = self.model
        size = f"{m.units}u" if m.arch in RECURRENT_ARCHITECTURES else f"{m.num_heads}h"
        if m.arch == "baseline":
            size = f"{m.embedding_dim}d"
        return f"{m.arch} {size} x{m.num_layers}" if m.arch != "baseline" else f"baseline {size}"


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}

# One-line reasons for every default: shown as help in the CLI and the app.
FIELD_HELP: dict[str, str] = {
    "data.dataset": "toy trains in seconds; synthetic tasks isolate one skill; imdb is the real benchmark; or a path to your own CSV/TSV/JSONL.",
    "data.subset": "IMDB only: reviews drawn balanced with the seed (0 = all 25,000); 2,000 keeps a classroom run under a minute.",
    "data.num_examples": "Synthetic only: 2,000 examples are enough for every architecture to learn or visibly fail.",
    "data.synthetic_length": "Synthetic only: tokens per example; longer puts the cue further from the end and tests memory over distance.",
    "data.validation_fraction": "Share of training texts held out to watch overfitting; 20% is the usual compromise.",
    "data.test_fraction": "Share held out for the final test where a source has no test split of its own.",
    "data.vocabulary_size": "Most frequent words kept; 20,000 covers almost all IMDB tokens that matter.",
    "data.sequence_length": "Tokens per text after padding/truncation; 200 keeps most of an IMDB review's signal at a modest cost.",
    "data.truncation": "Which end of a long text is cut: pre keeps the closing words, where reviews state their verdict (IMDB test accuracy 0.858 vs 0.832 for post).",
    "data.padding": "Which end of a short text gets zeros: post, so masks matter and can be seen.",
    "data.text_column": "Your file's text column (name or 0-based number); empty = detect 'text', 'review', 'sentence'...",
    "data.label_column": "Your file's label column (name or 0-based number); empty = detect 'label', 'sentiment', 'class'...",
    "model.arch": "lstm/gru read left to right; bi* read both ways; transformer attends to all tokens at once; baseline averages embeddings.",
    "model.embedding_dim": "Size of each token vector; 32 is plenty for small vocabularies and keeps runs fast.",
    "model.units": "Recurrent state size; 32 fits IMDB-scale tasks without heavy overfitting.",
    "model.num_layers": "Stacked recurrent layers or encoder blocks; 1 is the honest starting point.",
    "model.dropout_rate": "Randomly drops activations while training to fight overfitting; 0.1 is gentle.",
    "model.recurrent_dropout_rate": "Dropout on the recurrent state; off by default because it slows training.",
    "model.merge_mode": "How the two directions of a bidirectional layer are combined; concat keeps both.",
    "model.num_heads": "Attention heads per block; 2 gives two different views to inspect in heatmaps.",
    "model.key_dim": "Size of each head's query/key vectors; 16 keeps attention cheap.",
    "model.ff_dim": "Width of the position-wise feed-forward network; 2x the embedding is the classic ratio.",
    "model.pooling": "How token vectors become one: mean over real tokens, max, or the first token.",
    "model.use_mask": "Mask padding so zeros cannot change predictions; turn off to see why masking matters.",
    "train.epochs": "Passes over the training texts; 5 shows the curves bend and overfitting start.",
    "train.batch_size": "Texts per gradient step; 64 is fast on CPU and stable.",
    "train.learning_rate": "Adam's step size; 0.001 is Adam's well-tested default.",
    "train.optimizer": "adam adapts per weight and is the safe default.",
    "train.jit_compile": "XLA-compile the training step: on CPU it trains every architecture 1.4-3.1x faster than Keras's default graph mode.",
    "train.steps_per_execution": "Batches per call into the compiled step; 8 cuts Python overhead, and stop/progress are checked between calls.",
    "train.precision": "float32 is the reference; mixed_bfloat16 computes in bfloat16 (weights stay float32), measured no faster here and slightly less accurate.",
    "seed": "Fixes data split, initial weights and shuffling so a run can be repeated exactly.",
    "name": "Optional label for charts; empty = built from the architecture.",
}


def default_config(**overrides: Any) -> RunConfig:
    """Returns `RunConfig()` with `{"model.units": 64}`-style overrides, validated."""
    return RunConfig().with_overrides(overrides).validate()


# Presets: each is a list of run configs queued together (one click on Home).
def presets() -> dict[str, dict[str, Any]]:
    """Returns the one-click presets: title -> {"description", "runs": [RunConfig]}."""
    imdb = {"data.dataset": "imdb", "data.subset": 2000, "data.sequence_length": 200,
            "train.epochs": 4}
    longrange = {"data.dataset": "synthetic-longrange", "data.synthetic_length": 60,
                 "data.sequence_length": 60, "data.num_examples": 2000, "train.epochs": 6}
    variable = {"data.dataset": "synthetic-variable", "data.synthetic_length": 80,
                "data.sequence_length": 80, "train.epochs": 5, "model.arch": "gru"}
    toy = {"data.dataset": "toy", "data.sequence_length": 16, "train.epochs": 20,
           "train.batch_size": 8}
    return {
        "LSTM vs GRU vs Transformer on 2,000 IMDB reviews": {
            "description": "Three architectures, same data and budget: which learns fastest, which overfits?",
            "runs": [default_config(**imdb, **{"model.arch": a}) for a in ("lstm", "gru", "transformer")],
        },
        "Padding and masking on variable-length text": {
            "description": "The same GRU with and without a padding mask on texts of very different lengths.",
            "runs": [
                default_config(**variable, **{"model.use_mask": True, "name": "gru masked"}),
                default_config(**variable, **{"model.use_mask": False, "name": "gru unmasked"}),
            ],
        },
        "Long-range memory: LSTM vs Transformer": {
            "description": "The label hides in a cue far from the end: can the model remember it?",
            "runs": [default_config(**longrange, **{"model.arch": a}) for a in ("lstm", "transformer", "baseline")],
        },
        "Toy sentiment in seconds": {
            "description": "A few dozen sentences, three tiny models: watch the curves in real time.",
            "runs": [default_config(**toy, **{"model.arch": a}) for a in ("lstm", "transformer", "baseline")],
        },
    }


# ----------------------------------------------------------------- helpers
def _fail(name: str, value: Any, expected: str) -> typing.NoReturn:
    raise ValueError(f"{name}: received {value!r}, expected {expected}")


def _int_range(name: str, value: Any, low: int, high: int, expected: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(name, value, expected or f"an integer from {low} to {high}")


def _float_range(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        _fail(name, value, f"a number from {low} to {high}")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(name, value, f"one of {', '.join(allowed)}")


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith((".csv", ".tsv", ".jsonl", ".txt", ".json", ".csv.gz", ".tsv.gz", ".jsonl.gz"))


def _field_type(section_cls: type, name: str) -> type:
    return _type_hints(section_cls)[name]


@functools.lru_cache(maxsize=None)
def _type_hints(section_cls: type) -> dict[str, type]:
    # get_type_hints re-parses annotations on every call; the store parses
    # every run's config on each page redraw, so this is worth caching.
    return typing.get_type_hints(section_cls)


def _coerce(name: str, value: Any, typ: type) -> Any:
    """Parses `value` (often a command-line string) into `typ`, or says why not."""
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        _fail(name, value, "true or false")
    if typ is int:
        if isinstance(value, bool):
            _fail(name, value, "an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip().replace("_", "").replace(",", ""))
        except ValueError:
            _fail(name, value, "an integer")
    if typ is float:
        if isinstance(value, bool):
            _fail(name, value, "a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            _fail(name, value, "a number such as 0.001")
    if typ is str:
        if isinstance(value, (dict, list)):
            _fail(name, value, "text")
        return str(value)
    return value
