"""Run recipes: frozen dataclasses with defaults, validation and presets.

A `RunConfig` (data + model + training + seed) is the whole recipe of a run.
The store saves it as JSON beside the weights, so any run can be re-run from
its record.

Every field is described once, in `FIELDS` (one `Field` per "section.name"):
its range or choices, a one-line reason for its default, its form label, the
architectures it matters for, whether a sweep may vary it. Validation
(`RunConfig.validate`), the help of the command line and the app
(`FIELD_HELP`), the run form's widgets, the Data page's bounds
(`field_bounds`), the sweep list (`seqlab.experiments.SWEEPABLE`) and the
width searched by parameter budgets (`WIDTH_FIELDS`) are all read from it.
Defaults live in the dataclasses only; the table reads them from there.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

ARCHITECTURES = ("lstm", "gru", "rnn", "bilstm", "bigru", "transformer", "baseline")
BUILTIN_DATASETS = ("toy", "synthetic-presence", "synthetic-longrange", "synthetic-negation",
                    "synthetic-variable", "imdb")
SIDES = ("pre", "post")
MERGE_MODES = ("concat", "sum", "mul", "ave")
POOLINGS = ("mean", "max", "first")
# train.jit_compile: "auto" lets seqlab.training.uses_xla weigh the one-off
# compile against the steps it saves; true/false (older records, --set) mean on/off.
JIT_CHOICES = ("auto", "on", "off")
_VALUE_ALIASES = {"train.jit_compile": {"true": "on", "false": "off", "1": "on", "0": "off",
                                        "yes": "on", "no": "off"}}
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
PRECISIONS = ("float32", "mixed_bfloat16")
# "rnn" is keras.layers.SimpleRNN: no gates, one tanh per step. The Inside page's
# gradient-flow view shows how far back each trained model's gradient reaches.
RECURRENT_ARCHITECTURES = ("lstm", "gru", "rnn", "bilstm", "bigru")
BIDIRECTIONAL_ARCHITECTURES = ("bilstm", "bigru")
# Names for sets of architectures, as the run form shows them ("Units (recurrent)").
ARCHITECTURE_GROUPS = {
    "recurrent": RECURRENT_ARCHITECTURES,
    "bidirectional": BIDIRECTIONAL_ARCHITECTURES,
    "transformer": ("transformer",),
    "baseline": ("baseline",),
}
# The file formats `seqlab.data.files` reads, by suffix -> parser; each may
# also be gzipped (".csv.gz"). The one list: dataset validation, the file
# reader and the upload box all take it from here.
DATA_FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
GZIP_SUFFIX = ".gz"
DATA_FILE_SUFFIXES = (tuple(suffix + GZIP_SUFFIX for suffix in DATA_FILE_FORMATS)
                      + tuple(DATA_FILE_FORMATS))


# The synthetic tasks' default size, used by the presets and the README's
# scoreboard (bench/task_scoreboard.py): with 10,000 texts (6,000 to train on)
# the default 5 epochs are enough for every architecture to learn or visibly fail.
TASK_NUM_EXAMPLES = 10_000


@dataclass(frozen=True)
class DataConfig:
    """Where the texts come from and how they become padded token ids."""

    dataset: str = "toy"
    subset: int = 0
    num_examples: int = TASK_NUM_EXAMPLES
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
    position_embedding: bool = True
    scale_embeddings: bool = True
    use_mask: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """How the model is fitted."""

    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 0.001
    optimizer: str = "adam"
    jit_compile: str = "auto"
    steps_per_execution: int = 8
    precision: str = "float32"
    restore_best: bool = True


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

    def flat(self) -> dict[str, Any]:
        """Returns the recipe flattened to one level, keyed by field path.

        The paths are those of `FIELDS`, `with_overrides` and the store's
        config columns.

        Returns:
            `{"data.dataset": ..., "model.units": ..., "seed": ..., "name": ...}`
            in dataclass order (data, model, train, then seed and name).
        """
        values: dict[str, Any] = {}
        for section_name, section_cls in _SECTIONS.items():
            section = getattr(self, section_name)
            for item in dataclasses.fields(section_cls):
                values[f"{section_name}.{item.name}"] = getattr(section, item.name)
        values["seed"], values["name"] = self.seed, self.name
        return values

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
        """Checks every field against its range or choices in `FIELDS` and returns self.

        Returns:
            This config, unchanged.

        Raises:
            ValueError: one message naming the field, the value received, what is
                allowed and how to fix it (the first bad field, in dataclass order).
        """
        for path, value in self.flat().items():
            FIELDS[path].check(value)
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


def _field_type(section_cls: type, name: str) -> type:
    return _type_hints(section_cls)[name]


@functools.lru_cache(maxsize=None)
def _type_hints(section_cls: type) -> dict[str, type]:
    # get_type_hints re-parses annotations on every call; the store parses
    # every run's config on each page redraw, so this is worth caching.
    return typing.get_type_hints(section_cls)


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Field:
    """One `RunConfig` field as every part of seqlab describes it (a row of `FIELDS`).

    Attributes:
        path: "section.name" ("model.units"), or "seed" / "name".
        help: the one-line reason for its default (command-line and app help).
        low: the smallest value allowed (numbers only).
        high: the largest value allowed (numbers only).
        choices: the allowed values (text fields with a fixed set).
        or_path: a value outside `choices` may also be a data file's path.
        expected: what a refusal says is allowed, where the generated text
            ("an integer from 0 to 50000") would not say what the value means.
        label: the run form's label; empty: the name, capitalised.
        used_by: the `ARCHITECTURE_GROUPS` it matters for, shown beside the
            label ("Units (recurrent)"); empty: every architecture.
        width_of: the groups whose parameter budget is met by searching this
            field (see `WIDTH_FIELDS`).
        sweep: its place in the list of fields a sweep may vary (1 is offered
            first); 0: not sweepable.
        float_format: the printf format of its number box (float fields).
        step: the step of its number box (float fields).
        default: the dataclass default (filled in from the dataclasses).
        kind: the dataclass type: int, float, str or bool (filled in likewise).
    """

    path: str
    help: str
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[str, ...] = ()
    or_path: bool = False
    expected: str = ""
    label: str = ""
    used_by: tuple[str, ...] = ()
    width_of: tuple[str, ...] = ()
    sweep: int = 0
    float_format: str = ""
    step: float | None = None
    default: Any = None
    kind: type = object

    @property
    def name(self) -> str:
        """The field's name within its section ("units" for "model.units")."""
        return self.path.rpartition(".")[2]

    @property
    def archs(self) -> tuple[str, ...]:
        """The architectures it matters for (every one when `used_by` is empty)."""
        if not self.used_by:
            return ARCHITECTURES
        members = {arch for group in self.used_by for arch in ARCHITECTURE_GROUPS[group]}
        return tuple(arch for arch in ARCHITECTURES if arch in members)

    def check(self, value: Any) -> None:
        """Refuses a value outside the field's range or choices.

        Args:
            value: the value to check.

        Raises:
            ValueError: naming the field, the value received and what is allowed.
        """
        if self.choices:
            if value in self.choices or (self.or_path and _looks_like_path(value)):
                return
            _fail(self.path, value, self.expected or f"one of {', '.join(self.choices)}")
        elif self.low is not None and self.kind is int:
            _int_range(self.path, value, self.low, self.high, self.expected)
        elif self.low is not None:
            _float_range(self.path, value, self.low, self.high, self.expected)


_FIELD_ROWS = (
    Field("data.dataset", or_path=True, choices=BUILTIN_DATASETS,
          expected=f"one of {', '.join(BUILTIN_DATASETS)} or a path to a .csv/.tsv/.jsonl file",
          help="toy trains in seconds; each synthetic task has a known winner (presence: a bag of words suffices; longrange: the order of two far cues, BiLSTM/Transformer; negation: local word order; variable: masking); imdb is the real benchmark; or a path to your own CSV/TSV/JSONL."),
    Field("data.subset", low=0, high=50_000, expected="0 for all, or a count of reviews",
          label="IMDB reviews (0 = all)",
          help="IMDB only: reviews drawn balanced with the seed (0 = all 25,000); 2,000 keeps a classroom run under a minute."),
    Field("data.num_examples", low=20, high=200_000, label="Examples (synthetic)",
          help="Synthetic only: with 10,000 examples every architecture learns its task or visibly fails; at 2,000 the order and negation tasks are learned by none."),
    Field("data.synthetic_length", low=4, high=2_000, label="Tokens per example (synthetic)",
          help="Synthetic only: tokens per example; longer puts the cue further from the end and tests memory over distance."),
    Field("data.validation_fraction", low=0.05, high=0.5, float_format="%.2f", step=0.05,
          help="Share of training texts held out to watch overfitting; 20% is the usual compromise."),
    Field("data.test_fraction", low=0.05, high=0.5, float_format="%.2f", step=0.05,
          help="Share held out for the final test where a source has no test split of its own."),
    Field("data.vocabulary_size", low=10, high=200_000, sweep=10,
          help="Most frequent words kept; 20,000 covers almost all IMDB tokens that matter."),
    Field("data.sequence_length", low=2, high=2_000, sweep=1,
          help="Tokens per text after padding/truncation; 200 keeps most of an IMDB review's signal at a modest cost."),
    Field("data.truncation", choices=SIDES,
          help="Which end of a long text is cut: pre keeps the closing words, where reviews state their verdict (IMDB test accuracy 0.858 vs 0.832 for post)."),
    Field("data.padding", choices=SIDES,
          help="Which end of a short text gets zeros: post, so masks matter and can be seen."),
    Field("data.text_column",
          help="Your file's text column (name or 0-based number); empty = detect 'text', 'review', 'sentence'..."),
    Field("data.label_column",
          help="Your file's label column (name or 0-based number); empty = detect 'label', 'sentiment', 'class'..."),
    Field("model.arch", choices=ARCHITECTURES, label="Architecture",
          help="lstm/gru read left to right (rnn too, with no gates); bi* read both ways; transformer attends to all tokens at once; baseline averages embeddings."),
    Field("model.embedding_dim", low=2, high=2048, label="Embedding size", width_of=("baseline",),
          sweep=6, help="Size of each token vector; 32 is plenty for small vocabularies and keeps runs fast."),
    Field("model.units", low=1, high=4096, used_by=("recurrent",), width_of=("recurrent",), sweep=2,
          help="Recurrent state size; 32 fits IMDB-scale tasks without heavy overfitting."),
    Field("model.num_layers", low=1, high=12, label="Layers", used_by=("recurrent", "transformer"),
          sweep=7, help="Stacked recurrent layers or encoder blocks; 1 is the honest starting point."),
    Field("model.dropout_rate", low=0.0, high=0.9, float_format="%.2f", step=0.05, sweep=5,
          help="Randomly drops activations while training to fight overfitting; 0.1 is gentle."),
    Field("model.recurrent_dropout_rate", low=0.0, high=0.9, used_by=("recurrent",),
          float_format="%.2f", step=0.05,
          help="Dropout on the recurrent state; off by default because it slows training."),
    Field("model.merge_mode", choices=MERGE_MODES, used_by=("bidirectional",),
          help="How the two directions of a bidirectional layer are combined; concat keeps both."),
    Field("model.num_heads", low=1, high=64, label="Attention heads", used_by=("transformer",),
          sweep=3, help="Attention heads per block; 2 gives two different views to inspect in heatmaps."),
    Field("model.key_dim", low=1, high=1024, label="Key size", used_by=("transformer",),
          help="Size of each head's query/key vectors; 16 keeps attention cheap."),
    Field("model.ff_dim", low=1, high=16384, label="Feed-forward width", used_by=("transformer",),
          width_of=("transformer",), sweep=8,
          help="Width of the position-wise feed-forward network; 2x the embedding is the classic ratio."),
    Field("model.pooling", choices=POOLINGS, used_by=("transformer",),
          help="How token vectors become one: mean over real tokens, max, or the first token."),
    Field("model.position_embedding", label="Position embeddings", used_by=("transformer",),
          help="Adds a learned vector per position so attention can use word order; off, the Transformer sees a bag of words (it should fail on synthetic-negation)."),
    Field("model.scale_embeddings", label="Scale embeddings to unit size", used_by=("transformer",),
          help="Scales the embedding sum to standard deviation ~1 so attention starts non-uniform and can learn; off (Keras's tiny initial vectors), attention logits start near 0 and stay uniform."),
    Field("model.use_mask", label="Mask padding",
          help="Mask padding so zeros cannot change predictions; turn off to see why masking matters."),
    Field("train.epochs", low=1, high=1000,
          help="Passes over the training texts; 5 shows the curves bend and overfitting start."),
    Field("train.batch_size", low=1, high=8192, sweep=9,
          help="Texts per gradient step; 64 is fast on CPU and stable."),
    Field("train.learning_rate", low=1e-6, high=10.0, float_format="%.5f", step=0.0001, sweep=4,
          help="Adam's step size; 0.001 is Adam's well-tested default."),
    Field("train.optimizer", choices=OPTIMIZERS,
          help="adam adapts per weight and is the safe default."),
    Field("train.jit_compile", choices=JIT_CHOICES, label="XLA-compile the training step",
          help="auto compiles with XLA only when the run is long enough to win back the compile (bench/xla_break_even.py measures when, per architecture); on and off force it."),
    Field("train.steps_per_execution", low=1, high=256,
          help="Batches per call into the compiled step; 8 cuts Python overhead, and stop/progress are checked between calls."),
    Field("train.precision", choices=PRECISIONS,
          help="float32 is the reference; mixed_bfloat16 computes in bfloat16 (weights stay float32), measured no faster here and slightly less accurate."),
    Field("train.restore_best", label="Keep the best epoch's weights",
          help="Keep the weights of the epoch with the lowest validation loss, so test accuracy (and Attention, Predict) reflect the best epoch, not where training happened to stop; the last epoch's test accuracy is reported beside it."),
    Field("seed", low=0, high=2**31 - 1,
          help="Fixes data split, initial weights and shuffling so a run can be repeated exactly."),
    Field("name", label="Run name (optional)",
          help="Optional label for charts; empty = built from the architecture."),
)


def _build_table(rows: tuple[Field, ...]) -> dict[str, Field]:
    """Orders the rows as the dataclasses do and fills in each default, type and label.

    Raises:
        RuntimeError: when the rows and the dataclass fields differ (a field
            added without its row, or a row left behind).
    """
    defaults = RunConfig().flat()
    by_path = {row.path: row for row in rows}
    if set(by_path) != set(defaults) or len(by_path) != len(rows):
        missing, extra = sorted(set(defaults) - set(by_path)), sorted(set(by_path) - set(defaults))
        raise RuntimeError(f"config FIELDS: rows missing for {missing}, rows without a field {extra}")
    table = {}
    for path, default in defaults.items():
        section, _, name = path.rpartition(".")
        kind = _field_type(_SECTIONS[section], name) if section else type(default)
        row = by_path[path]
        spaced = name.replace("_", " ")
        label = row.label or spaced[0].upper() + spaced[1:]
        table[path] = dataclasses.replace(row, default=default, kind=kind, label=label)
    return table


# Every field of `RunConfig`, by path, in dataclass order.
FIELDS: typing.Mapping[str, Field] = MappingProxyType(_build_table(_FIELD_ROWS))
# One-line reasons for every default: shown as help in the CLI and the app.
FIELD_HELP: dict[str, str] = {path: row.help for path, row in FIELDS.items()}
# The width each architecture's parameter budget is searched over: arch ->
# (ModelConfig field, lowest, highest), within the range `validate` allows.
WIDTH_FIELDS: dict[str, tuple[str, int, int]] = {
    arch: (row.name, row.low, row.high)
    for arch in ARCHITECTURES for row in FIELDS.values()
    if any(arch in ARCHITECTURE_GROUPS[group] for group in row.width_of)
}


def field_bounds(path: str) -> tuple[int | float, int | float]:
    """Returns the (lowest, highest) value `validate` allows for a numeric field.

    Args:
        path: a field path such as "data.sequence_length".

    Returns:
        The two bounds, e.g. (2, 2000).

    Raises:
        KeyError: for an unknown field, or one without a numeric range.
    """
    row = FIELDS.get(path)
    if row is None or row.low is None:
        ranged = ", ".join(p for p, r in FIELDS.items() if r.low is not None)
        raise KeyError(f"{path}: no numeric range; fields with one: {ranged}")
    return row.low, row.high


def default_config(**overrides: Any) -> RunConfig:
    """Returns `RunConfig()` with `{"model.units": 64}`-style overrides, validated."""
    return RunConfig().with_overrides(overrides).validate()


# Presets: each is a list of run configs queued together (one click on Home).


def presets() -> dict[str, dict[str, Any]]:
    """Returns the one-click presets: title -> {"description", "lesson", "runs": [RunConfig]}.

    `lesson` names what `seqlab.analysis.lessons` expects of the runs and checks
    once they finish.
    """
    def task(dataset: str, length: int, **more: Any) -> dict[str, Any]:
        return {"data.dataset": dataset, "data.synthetic_length": length, "data.sequence_length": length,
                "data.num_examples": TASK_NUM_EXAMPLES, **more}

    imdb = {"data.dataset": "imdb", "data.subset": 2000, "data.sequence_length": 200,
            "train.epochs": 4}
    # 2,000 texts: enough for masking to show, and the two runs stay quick.
    variable = {"data.dataset": "synthetic-variable", "data.synthetic_length": 80,
                "data.sequence_length": 80, "data.num_examples": 2000, "train.epochs": 5,
                "model.arch": "gru"}
    toy = {"data.dataset": "toy", "data.sequence_length": 16}
    longrange = [task("synthetic-longrange", 20, **{"model.arch": "lstm"})] + [
        task("synthetic-longrange", 120, **{"model.arch": arch})
        for arch in ("lstm", "bilstm", "transformer", "baseline")]
    attention = task("synthetic-longrange", 24)
    return {
        "Toy sentiment in seconds": {
            "description": "2,400 short film sentences, some negated, three small models: watch the curves in real time.",
            "lesson": "toy",
            "runs": [default_config(**toy, **{"model.arch": a}) for a in ("lstm", "transformer", "baseline")],
        },
        "When a bag of words is enough": {
            "description": "One cue word anywhere decides the label: does attention or memory buy anything here?",
            "lesson": "presence",
            "runs": [default_config(**task("synthetic-presence", 40), **{"model.arch": a})
                     for a in ("baseline", "lstm", "transformer")],
        },
        "Long-range memory: LSTM vs BiLSTM vs Transformer": {
            "description": "Which of two cue words came first, both near the start: who still knows at the end?",
            "lesson": "longrange",
            "runs": [default_config(**overrides) for overrides in longrange],
        },
        "Attention at work: word order needs positions": {
            "description": "The same Transformer with and without position embeddings on the order of two cue words; then look at its heatmap.",
            "lesson": "attention",
            "runs": [
                default_config(**attention, **{"model.arch": "transformer"}),
                default_config(**attention, **{"model.arch": "transformer", "model.position_embedding": False,
                                               "name": "transformer without positions"}),
                default_config(**attention, **{"model.arch": "baseline"}),
            ],
        },
        "Padding and masking on variable-length text": {
            "description": "The same GRU with and without a padding mask on texts of very different lengths.",
            "lesson": "masking",
            "runs": [
                default_config(**variable, **{"model.use_mask": True, "name": "gru masked"}),
                default_config(**variable, **{"model.use_mask": False, "name": "gru unmasked"}),
            ],
        },
        "LSTM vs GRU vs Transformer on 2,000 IMDB reviews": {
            "description": "Three architectures, same data and budget: which learns fastest, which overfits?",
            "lesson": "imdb",
            "runs": [default_config(**imdb, **{"model.arch": a}) for a in ("lstm", "gru", "transformer")],
        },
    }


# ----------------------------------------------------------------- helpers
def _fail(name: str, value: Any, expected: str) -> typing.NoReturn:
    raise ValueError(f"{name}: received {value!r}, expected {expected}")


def _int_range(name: str, value: Any, low: int, high: int, expected: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(name, value, expected or f"an integer from {low} to {high}")


def _float_range(name: str, value: Any, low: float, high: float, expected: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        _fail(name, value, expected or f"a number from {low} to {high}")


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(DATA_FILE_SUFFIXES)


def _coerce(name: str, value: Any, typ: type) -> Any:
    """Parses `value` (often a command-line string) into `typ`, or says why not."""
    aliases = _VALUE_ALIASES.get(name)
    if aliases is not None and not isinstance(value, (dict, list)):
        text = str(value).strip().lower()
        value = aliases.get(text, text)
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


def find_preset(name: str) -> tuple[str, dict[str, Any]]:
    """Returns `(title, preset)` for a preset named by its title or its lesson ("toy", "imdb", ...).

    Case and surrounding spaces do not matter, so `python -m seqlab preset imdb`
    and the Home card's full title name the same preset.

    Raises:
        KeyError: naming what was received and every accepted name.
    """
    wanted = " ".join(str(name).split()).casefold()
    chosen = presets()
    for title, preset in chosen.items():
        if wanted in (title.casefold(), preset["lesson"].casefold()):
            return title, preset
    names = "; ".join(f"{preset['lesson']} ({title})" for title, preset in chosen.items())
    raise KeyError(f"preset: received {name!r}, expected a title or one of: {names}")
