"""What a recurrent run remembers: hidden states, gates and the running prediction of one text.

Everything is recomputed in NumPy (float32) from the layers' own weights, step
by step, exactly as Keras 3 computes it in inference mode (no dropout), so
every gate of every unit after every token can be shown. Layer kinds are found
by class (`keras.layers.LSTM`, `GRU`, `SimpleRNN`, each optionally inside
`Bidirectional`), not by name; gate order is Keras 3's:

- LSTM: `z = x W + h U + b`, split into input i, forget f, candidate g and
  output o; `c = f * c + i * g`, `h = o * tanh(c)` (with the layer's own
  activations);
- GRU: update z, reset r, candidate; with `reset_after` (Keras 3's default,
  bias shape (2, 3 * units): input bias, recurrent bias) the reset gate
  multiplies `h U_h + b_h`, else it multiplies h before `U_h`;
  `h = z * h + (1 - z) * candidate`;
- SimpleRNN: `h = act(x W + h U + b)`.

A backward direction (of a `Bidirectional` layer) reads the text from its
last token to its first. Its values are reported aligned to the ORIGINAL
token order: its value at position t is its state after reading tokens
T-1 down to t. Each layer reads the previous layer's output sequence, the two
directions merged with the layer's `merge_mode` (concat, sum, mul, ave).

The running prediction is the classifier head applied after each token. For
a model with no bidirectional layer it is the head on the last layer's state
after token t, which is exactly the model's output on the text cut after
token t. A bidirectional model's backward direction has not read a prefix
"so far" (after token t it has read everything from the end), so here both
directions re-read each prefix tokens[:t+1]: the running probability at t is
again exactly the model's output on that prefix ("what the model would say
if the text stopped here"), and its last value is the model's output on the
whole text.

Keras is imported only inside the functions that read a model, so importing
this module (and building tables from states already computed) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from seqlab.data.texts import split_tokens

if TYPE_CHECKING:
    import keras

CELL_KINDS = ("lstm", "gru", "rnn")
DIRECTIONS = ("forward", "backward")
# What each kind of cell records per token, in the order tables and JSON list them.
QUANTITIES = {
    "lstm": ("hidden", "cell_state", "input_gate", "forget_gate", "output_gate", "candidate"),
    "gru": ("hidden", "update_gate", "reset_gate", "candidate"),
    "rnn": ("hidden",),
}
GATES = ("input_gate", "forget_gate", "output_gate", "update_gate", "reset_gate")
MERGE_MODES = ("concat", "sum", "mul", "ave")
# Prefixes a bidirectional running prediction recomputes together: bounds the
# memory of (prefixes, T, width) arrays for long texts, and the steps spent on
# short prefixes padded to the longest of their batch.
PREFIX_CHUNK = 64
# Keras computes recurrent layers in float32, so recomputing in float32 repeats its
# rounding; float64 would also double the memory of the prefix batches.
DTYPE = np.float32
# Digits kept in the JSON of `inspect_states`.
JSON_DIGITS = 6


@dataclass(frozen=True, eq=False)
class DirectionStates:
    """One direction of one recurrent layer, per token of one text.

    Attributes:
        layer: the recurrent layer's place in the stack, from 1.
        layer_name: its Keras name (the `Bidirectional` wrapper's for both
            directions of a bidirectional layer).
        kind: "lstm", "gru" or "rnn" (SimpleRNN).
        direction: "forward" or "backward"; backward values are aligned to
            the original token order (see the module docstring).
        values: quantity name -> (T, units) float32 array; the names are
            `QUANTITIES[kind]` ("hidden" always; "cell_state" and the gates
            for LSTM and GRU).
    """

    layer: int
    layer_name: str
    kind: str
    direction: str
    values: Mapping[str, np.ndarray]

    @property
    def hidden(self) -> np.ndarray:
        """(T, units) hidden state h after each token."""
        return self.values["hidden"]

    @property
    def units(self) -> int:
        """The layer's units (one direction's)."""
        return int(self.hidden.shape[1])

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """Gate name -> (T, units) values in [0, 1] (empty for SimpleRNN)."""
        return {name: values for name, values in self.values.items() if name in GATES}


@dataclass(frozen=True, eq=False)
class RecurrentStates:
    """What a recurrent model computes, token by token, for one text.

    Attributes:
        token_ids: (T,) the ids read, no padding.
        directions: one `DirectionStates` per layer and direction, layer by
            layer, forward before backward.
        running_probability: (T,) the probability of class `running_class`
            after each token (see the module docstring for bidirectional
            models); the last equals the model's output on the whole text.
        running_class: the class whose probability is followed: 1 for a
            binary model, else the class the model predicts for the whole text.
        probabilities: (num_classes,) the model's class probabilities for
            the whole text (2 for a binary model: 1 - p and p).
        initial_probability: the head's probability of `running_class`
            before any token (all states zero), what the first token moves
            away from.
        bidirectional: whether any layer reads the text in both directions.
    """

    token_ids: np.ndarray
    directions: tuple[DirectionStates, ...]
    running_probability: np.ndarray
    running_class: int
    probabilities: np.ndarray
    initial_probability: float
    bidirectional: bool

    @property
    def num_layers(self) -> int:
        """Recurrent layers in the model."""
        return max(states.layer for states in self.directions)

    def get(self, layer: int | None = None, direction: str = "forward") -> DirectionStates:
        """Returns one layer's direction; `layer=None` takes the last layer.

        Raises:
            ValueError: for a layer or direction the model does not have.
        """
        layer = self.num_layers if layer is None else layer
        for states in self.directions:
            if states.layer == layer and states.direction == direction:
                return states
        choices = ", ".join(f"({s.layer}, {s.direction!r})" for s in self.directions)
        raise ValueError(
            f"layer/direction: received ({layer!r}, {direction!r}), expected one of {choices}"
        )


def recurrent_states(model: "keras.Model", token_ids: np.ndarray) -> RecurrentStates:
    """Recomputes a recurrent model's states, gates and running prediction for one text.

    Args:
        model: a model built by `seqlab.models.build_model` with a recurrent
            `arch` (lstm, gru, rnn, bilstm, bigru), or loaded from such a run:
            Embedding -> LSTM/GRU/SimpleRNN layers (each optionally
            `Bidirectional`) -> Dropout -> Dense.
        token_ids: (T,) integer ids of ONE text without padding (or (1, T)),
            e.g. `ids[ids != 0]` of `vectorizer.encode([text])[0]`.

    Returns:
        The `RecurrentStates`: hidden states (and LSTM cell states and
        gates, GRU gates) of every layer and direction after each token,
        backward directions aligned to the original token order, and the
        running probability.

    Raises:
        ValueError: for a model without recurrent layers (e.g. a
            Transformer), a model of another shape, or ids that are empty,
            padded, not integers or outside the model's vocabulary.
    """
    network = _read_network(model)
    ids = _checked_text_ids(token_ids, network.vocabulary_size)  # (T,)
    layers, _ = _run_stack(network, ids[np.newaxis], np.array([len(ids)]), record_all=True)
    directions = tuple(
        DirectionStates(layer=index + 1, layer_name=layer.name, kind=recurrence.kind,
                        direction=DIRECTIONS[side],
                        values={name: values[0] for name, values in records.items()})
        for index, (layer, layer_records) in enumerate(zip(network.layers, layers))
        for side, (recurrence, records) in enumerate(zip(layer.directions, layer_records))
    )
    if network.bidirectional:
        running = _prefix_outputs(network, ids)  # (T, outputs)
    else:
        # Every layer is causal: the last layer's state after token t is the prefix's final state.
        running = network.head(layers[-1][0]["hidden"][0])  # (T, outputs)
    probabilities = _class_probabilities(running)  # (T, num_classes)
    final = probabilities[-1]
    running_class = 1 if running.shape[1] == 1 else int(np.argmax(final))
    initial = _class_probabilities(network.head(np.zeros((1, network.head_width), DTYPE)))[0]
    return RecurrentStates(
        token_ids=ids, directions=directions,
        running_probability=probabilities[:, running_class], running_class=running_class,
        probabilities=final, initial_probability=float(initial[running_class]),
        bidirectional=network.bidirectional,
    )


def state_table(states: RecurrentStates, tokens: Sequence[str] | None = None,
                quantities: Sequence[str] | None = None) -> pd.DataFrame:
    """Turns one text's states into a tidy table for heatmaps.

    Args:
        states: from `recurrent_states`.
        tokens: the T token strings (default: the ids as text).
        quantities: the quantities to keep (default: all the cells record;
            see `QUANTITIES`).

    Returns:
        One row per (layer, direction, quantity, position, unit): `layer`
        (int, from 1), `layer_name`, `kind`, `direction`, `quantity`,
        `position` (int, from 0, original order also for backward
        directions), `token`, `unit` (int, from 0) and `value` (float).

    Raises:
        ValueError: if the tokens do not number T, or a quantity is unknown.
    """
    tokens = _checked_tokens(states, tokens)
    known = {name for names in QUANTITIES.values() for name in names}
    if quantities is not None:
        unknown = [name for name in quantities if name not in known]
        if unknown:
            raise ValueError(
                f"quantities: received {unknown!r}, expected some of {', '.join(sorted(known))}"
            )
    frames = []
    for direction in states.directions:
        for name, values in direction.values.items():
            if quantities is not None and name not in quantities:
                continue
            length, units = values.shape
            position, unit = (index.ravel() for index in np.indices((length, units)))
            frames.append(pd.DataFrame({
                "layer": direction.layer, "layer_name": direction.layer_name,
                "kind": direction.kind, "direction": direction.direction, "quantity": name,
                "position": position, "token": np.asarray(tokens, dtype=object)[position],
                "unit": unit, "value": values.ravel(),
            }))
    columns = ["layer", "layer_name", "kind", "direction", "quantity", "position", "token",
               "unit", "value"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def running_prediction_table(states: RecurrentStates, tokens: Sequence[str] | None = None,
                             class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Turns one text's running prediction into a tidy table.

    Args:
        states: from `recurrent_states`.
        tokens: the T token strings (default: the ids as text).
        class_names: the name of each class (default: "class 0", ...).

    Returns:
        One row per token: `position` (from 0), `token`, `probability` (of
        class `states.running_class` after that token), `change` (from the
        previous token's, the first token's from `initial_probability`) and
        `class_name`.

    Raises:
        ValueError: if the tokens do not number T, or the class names do not
            cover the model's classes.
    """
    tokens = _checked_tokens(states, tokens)
    num_classes = len(states.probabilities)
    if class_names is None:
        class_names = [f"class {index}" for index in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(
            f"class_names: received {len(class_names)}, expected {num_classes} (one per "
            f"class of the model); pass the run's class_names"
        )
    probability = np.asarray(states.running_probability, dtype=np.float64)
    previous = np.concatenate([[states.initial_probability], probability[:-1]])
    return pd.DataFrame({
        "position": np.arange(len(probability)), "token": list(tokens),
        "probability": probability, "change": probability - previous,
        "class_name": str(class_names[states.running_class]),
    })


@dataclass(frozen=True, eq=False)
class TextStates:
    """A recurrent run's states for one raw text, as its vectorizer cut it.

    Attributes:
        run_id: the run.
        label: the run's label.
        arch: its `model.arch`.
        tokens: the T tokens the model read, in order (vocabulary entries:
            "[UNK]" for words outside it).
        states: the `RecurrentStates` of those tokens.
        class_names: the name of each class, in output order.
        padded_probabilities: (num_classes,) the run's prediction on the
            padded ids it is given in use (as the Predict page shows it).
        text_length: tokens in the text before truncation.
        sequence_length: the most tokens the run reads (`data.sequence_length`).
        truncation: which end of a longer text was cut ("pre": the start).
        first_kept: index, in the whole text, of the first token read.
        notes: sentences saying what the numbers do and do not show.
    """

    run_id: str
    label: str
    arch: str
    tokens: list[str]
    states: RecurrentStates
    class_names: tuple[str, ...]
    padded_probabilities: np.ndarray
    text_length: int
    sequence_length: int
    truncation: str
    first_kept: int
    notes: tuple[str, ...]

    def state_table(self, quantities: Sequence[str] | None = None) -> pd.DataFrame:
        """`state_table` of these states, with the tokens."""
        return state_table(self.states, self.tokens, quantities)

    def running_prediction_table(self) -> pd.DataFrame:
        """`running_prediction_table` of these states, with the tokens and class names."""
        return running_prediction_table(self.states, self.tokens, self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready dict of `inspect_states` (see there)."""
        def rounded(values: np.ndarray) -> list:
            return np.round(np.asarray(values, dtype=np.float64), JSON_DIGITS).tolist()

        entries = []
        for direction in self.states.directions:
            entry = {"layer": direction.layer, "layer_name": direction.layer_name,
                     "kind": direction.kind, "direction": direction.direction,
                     "units": direction.units, "hidden": rounded(direction.hidden)}
            for name in ("cell_state", "candidate"):
                if name in direction.values:
                    entry[name] = rounded(direction.values[name])
            entry["gates"] = {name: rounded(values) for name, values in direction.gates.items()}
            entries.append(entry)
        states = self.states
        return {
            "run_id": self.run_id, "label": self.label, "arch": self.arch,
            "tokens": list(self.tokens), "token_ids": states.token_ids.tolist(),
            "class_names": list(self.class_names),
            "class_name": self.class_names[states.running_class],
            "running_probability": rounded(states.running_probability),
            "initial_probability": round(float(states.initial_probability), JSON_DIGITS),
            "probabilities": rounded(states.probabilities),
            "padded_probabilities": rounded(self.padded_probabilities),
            "states": entries,
            "text_length": self.text_length, "sequence_length": self.sequence_length,
            "truncation": self.truncation, "first_kept": self.first_kept,
            "notes": list(self.notes),
        }


def text_states(trained: Any, text: str) -> TextStates:
    """Encodes one raw text with a recurrent run's vocabulary and recomputes its states.

    The run's vectorizer cuts a long text to `data.sequence_length` tokens
    (`truncation="post"` keeps the first ones, "pre" the last ones) and pads
    it; the padding is dropped here, so the states are those of the real
    tokens the model reads.

    Args:
        trained: a `seqlab.inference.TrainedRun` (from `load_trained`) of a
            recurrent run.
        text: the raw text.

    Returns:
        The `TextStates`.

    Raises:
        ValueError: for an empty text, or a run whose model is not recurrent.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"text: received {text!r}, expected a sentence to read; type one or pick an example"
        )
    padded = trained.vectorizer.encode([text])  # (1, sequence_length)
    real = padded[0][padded[0] != 0]  # (T,) the kept tokens, in order
    if real.size == 0:
        raise ValueError(f"text: received {text!r}, which has no tokens after standardizing; "
                         f"type a sentence with words in it")
    states = recurrent_states(trained.model, real)
    tokens = [str(token) for token in trained.vectorizer.tokens(real)]
    data, model_config = trained.config.data, trained.config.model
    text_length = len(split_tokens(text))
    cut = max(0, text_length - data.sequence_length)
    padded_probabilities = np.asarray(trained.loaded.probabilities(padded)[0], dtype=np.float64)
    notes = []
    if cut:
        kept = "first" if data.truncation == "post" else "last"
        notes.append(f"The text has {text_length} tokens; the run reads {data.sequence_length} "
                     f"(data.sequence_length), so these are its {kept} {len(real)}.")
    if states.bidirectional:
        notes.append("Running probability: the model's output on the text cut after each token. "
                     "A bidirectional model's backward direction reads from the end, so both "
                     "directions re-read each shortened text.")
    padding = padded.shape[1] - len(real)
    if not model_config.use_mask and padding:
        side = "after" if data.padding == "post" else "before"
        notes.append(
            f"This run does not mask padding (model.use_mask=False): in use it also reads "
            f"{padding} padding steps {side} the text, so its prediction there "
            f"({padded_probabilities[states.running_class]:.3f}) differs from the last running "
            f"probability ({states.running_probability[-1]:.3f}), which sees real tokens only."
        )
    return TextStates(
        run_id=trained.run_id, label=trained.label, arch=model_config.arch, tokens=tokens,
        states=states, class_names=tuple(trained.class_names),
        padded_probabilities=padded_probabilities, text_length=text_length,
        sequence_length=data.sequence_length, truncation=data.truncation,
        first_kept=cut if data.truncation == "pre" else 0, notes=tuple(notes),
    )


def inspect_states(trained: Any, text: str) -> dict[str, Any]:
    """Returns a recurrent run's states for one raw text, JSON-ready, for the CLI and pages.

    Args:
        trained: a `seqlab.inference.TrainedRun` of a recurrent run.
        text: the raw text.

    Returns:
        A dict: `tokens` (the T tokens read), `token_ids`, `class_names`,
        `class_name` (the class followed), `running_probability` (T
        floats), `initial_probability`, `probabilities` (the whole text's
        class probabilities from these states), `padded_probabilities` (the
        run's prediction on its padded input), `states` (one entry per layer
        and direction: `layer`, `layer_name`, `kind`, `direction`, `units`,
        `hidden` (T x units lists), `cell_state` and `candidate` where the
        cell has them, and `gates`: gate name -> T x units lists), then
        `text_length`, `sequence_length`, `truncation`, `first_kept` and
        `notes` (sentences).

    Raises:
        ValueError: as for `text_states`.
    """
    return text_states(trained, text).to_dict()


# -------------------------------------------------------------- the model
@dataclass(frozen=True, eq=False)
class _Recurrence:
    """One direction's weights and activations, as NumPy."""

    kind: str
    units: int
    kernel: np.ndarray  # (input_width, gates * units)
    recurrent_kernel: np.ndarray  # (units, gates * units)
    input_bias: np.ndarray  # (gates * units,), zeros without a bias
    recurrent_bias: np.ndarray | None  # (3 * units,) for a GRU with reset_after, else None
    reset_after: bool
    activation: Callable[[np.ndarray], np.ndarray]
    recurrent_activation: Callable[[np.ndarray], np.ndarray] | None


@dataclass(frozen=True, eq=False)
class _Layer:
    name: str
    directions: tuple[_Recurrence, ...]  # (forward,) or (forward, backward)
    merge_mode: str | None  # None for a one-direction layer


@dataclass(frozen=True, eq=False)
class _Network:
    embeddings: np.ndarray  # (vocabulary_size, embedding_dim)
    layers: tuple[_Layer, ...]
    head_kernel: np.ndarray  # (width, outputs)
    head_bias: np.ndarray  # (outputs,)
    head_activation: Callable[[np.ndarray], np.ndarray]

    @property
    def vocabulary_size(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def bidirectional(self) -> bool:
        return any(layer.merge_mode is not None for layer in self.layers)

    @property
    def head_width(self) -> int:
        return int(self.head_kernel.shape[0])

    def head(self, features: np.ndarray) -> np.ndarray:
        """(N, width) last-layer features -> (N, outputs) the classifier's outputs."""
        return self.head_activation(features @ self.head_kernel + self.head_bias)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (1.0 + np.tanh(0.5 * values))


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda values: np.clip(values / 6.0 + 0.5, 0.0, 1.0),  # Keras 3: relu6(x + 3) / 6
    "relu": lambda values: np.maximum(values, 0.0),
    "linear": lambda values: values,
    "softmax": _softmax,
}


def _activation(function, where: str) -> Callable[[np.ndarray], np.ndarray]:
    import keras

    name = keras.activations.serialize(function) if function is not None else "linear"
    name = name if isinstance(name, str) else str(name)
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"{where}: received activation {name!r}, expected one of {', '.join(_ACTIVATIONS)} "
            f"(the ones states can be recomputed with)"
        )
    return _ACTIVATIONS[name]


def _numpy(variable) -> np.ndarray:
    from keras import ops

    return np.asarray(ops.convert_to_numpy(variable), dtype=DTYPE)


def _read_recurrence(layer, where: str) -> _Recurrence:
    """Reads one LSTM/GRU/SimpleRNN layer's weights."""
    import keras

    kind = ("lstm" if isinstance(layer, keras.layers.LSTM) else
            "gru" if isinstance(layer, keras.layers.GRU) else "rnn")
    cell = layer.cell
    units = int(cell.units)
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    reset_after = kind == "gru" and bool(cell.reset_after)
    input_bias = np.zeros(gates * units, DTYPE)
    recurrent_bias = None
    if cell.use_bias:
        bias = _numpy(cell.bias)
        if reset_after:  # (2, 3 * units): input bias, then recurrent bias
            input_bias, recurrent_bias = bias[0], bias[1]
        else:
            input_bias = bias
    if reset_after and recurrent_bias is None:
        recurrent_bias = np.zeros(gates * units, DTYPE)
    recurrent_activation = (_activation(cell.recurrent_activation, f"{where} recurrent_activation")
                            if kind != "rnn" else None)
    return _Recurrence(
        kind=kind, units=units, kernel=_numpy(cell.kernel),
        recurrent_kernel=_numpy(cell.recurrent_kernel), input_bias=input_bias,
        recurrent_bias=recurrent_bias, reset_after=reset_after,
        activation=_activation(cell.activation, f"{where} activation"),
        recurrent_activation=recurrent_activation,
    )


def _read_network(model) -> _Network:
    """Finds the embedding, recurrent layers and head of a model, or says why it cannot."""
    import keras

    cells = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
    name = getattr(model, "name", type(model).__name__)
    if not isinstance(model, keras.Model):
        raise ValueError(f"model: received {type(model).__name__}, expected a keras.Model of a "
                         f"recurrent run (seqlab.inference.load_trained(...).model)")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    recurrent = [layer for layer in layers
                 if isinstance(layer, cells) or isinstance(layer, keras.layers.Bidirectional)]
    if not recurrent:
        raise ValueError(
            f"model {name!r} has no recurrent layers: states and gates exist only for recurrent "
            f"runs (lstm, gru, rnn, bilstm, bigru); pick a run trained with one of them"
        )
    expected = ("Embedding -> LSTM/GRU/SimpleRNN layers (each optionally Bidirectional) -> "
                "Dropout -> Dense, as seqlab.models.build_model builds them")
    kinds = ["embedding" if isinstance(layer, keras.layers.Embedding) else
             "recurrent" if layer in recurrent else
             "dropout" if isinstance(layer, keras.layers.Dropout) else
             "dense" if isinstance(layer, keras.layers.Dense) else type(layer).__name__
             for layer in layers]
    shape = [kind for kind in kinds if kind != "dropout"]
    if shape != ["embedding"] + ["recurrent"] * len(recurrent) + ["dense"]:
        received = " -> ".join(f"{layer.name} ({type(layer).__name__})" for layer in layers)
        raise ValueError(f"model {name!r}: received layers {received}, expected {expected}")
    embedding, head = layers[0], layers[-1]
    read = []
    for index, layer in enumerate(recurrent):
        is_last = index == len(recurrent) - 1
        where = f"model {name!r} layer {layer.name!r}"
        if bool(layer.return_sequences) == is_last:
            role = "the last recurrent layer returns its final state only" if is_last else \
                "every recurrent layer but the last returns its whole sequence"
            raise ValueError(
                f"{where}: received return_sequences={layer.return_sequences}, expected "
                f"{not is_last} ({role}); {expected}"
            )
        if isinstance(layer, keras.layers.Bidirectional):
            if layer.merge_mode not in MERGE_MODES:
                raise ValueError(f"{where}: received merge_mode={layer.merge_mode!r}, expected "
                                 f"one of {', '.join(MERGE_MODES)}")
            read.append(_Layer(layer.name, (_read_recurrence(layer.forward_layer, where),
                                            _read_recurrence(layer.backward_layer, where)),
                               layer.merge_mode))
        else:
            if layer.go_backwards or layer.stateful:
                raise ValueError(
                    f"{where}: received go_backwards={layer.go_backwards}, "
                    f"stateful={layer.stateful}, expected both False (read backwards through "
                    f"Bidirectional); {expected}"
                )
            read.append(_Layer(layer.name, (_read_recurrence(layer, where),), None))
    head_kernel = _numpy(head.kernel)
    head_bias = _numpy(head.bias) if head.use_bias else np.zeros(head_kernel.shape[1], DTYPE)
    return _Network(
        embeddings=_numpy(embedding.embeddings), layers=tuple(read), head_kernel=head_kernel,
        head_bias=head_bias, head_activation=_activation(head.activation, f"model {name!r} head"),
    )


# ---------------------------------------------------------- the recurrence
def _run_direction(recurrence: _Recurrence, inputs: np.ndarray, lengths: np.ndarray, *,
                   backward: bool, record_all: bool) -> dict[str, np.ndarray]:
    """Runs one direction over a batch of texts of the given lengths.

    Steps at or beyond a text's length are padding: the state is carried
    unchanged over them, as Keras does under a mask. A backward direction
    reads each text's real steps in reverse; its records are put back in
    the original order.

    Args:
        recurrence: the direction's weights.
        inputs: (batch, T, input_width) float32.
        lengths: (batch,) real steps of each text, at least 1.
        backward: read from each text's last real step to its first.
        record_all: record every quantity of the cell, else "hidden" only.

    Returns:
        Quantity name -> (batch, T, units) values after each step.
    """
    batch, steps, _ = inputs.shape
    units = recurrence.units
    positions = np.arange(steps)[np.newaxis]  # (1, T)
    real = positions < lengths[:, np.newaxis]  # (batch, T)
    order = None
    if backward:
        # An involution: reversing each text's real steps and leaving padding in place.
        order = np.where(real, lengths[:, np.newaxis] - 1 - positions, positions)  # (batch, T)
        inputs = np.take_along_axis(inputs, order[..., np.newaxis], axis=1)
    # One 2-D product: NumPy runs a 3-D one as many small ones, several times slower.
    projected = (inputs.reshape(batch * steps, -1) @ recurrence.kernel + recurrence.input_bias
                 ).reshape(batch, steps, -1)  # (batch, T, gates * units)
    names = QUANTITIES[recurrence.kind] if record_all else ("hidden",)
    records = {name: np.zeros((batch, steps, units), DTYPE) for name in names}
    hidden = np.zeros((batch, units), DTYPE)  # (batch, units)
    cell_state = np.zeros((batch, units), DTYPE)
    kernel_h = recurrence.recurrent_kernel  # (units, gates * units)
    act, gate = recurrence.activation, recurrence.recurrent_activation
    for step in range(steps):
        x = projected[:, step]  # (batch, gates * units)
        values: dict[str, np.ndarray] = {}
        if recurrence.kind == "lstm":
            z = x + hidden @ kernel_h
            input_gate, forget_gate = gate(z[:, :units]), gate(z[:, units:2 * units])
            candidate, output_gate = act(z[:, 2 * units:3 * units]), gate(z[:, 3 * units:])
            new_cell = forget_gate * cell_state + input_gate * candidate
            new_hidden = output_gate * act(new_cell)
            values = {"input_gate": input_gate, "forget_gate": forget_gate,
                      "output_gate": output_gate, "candidate": candidate}
        elif recurrence.kind == "gru":
            if recurrence.reset_after:
                inner = hidden @ kernel_h + recurrence.recurrent_bias  # (batch, 3 * units)
            else:
                inner = hidden @ kernel_h[:, :2 * units]  # (batch, 2 * units)
            update_gate = gate(x[:, :units] + inner[:, :units])
            reset_gate = gate(x[:, units:2 * units] + inner[:, units:2 * units])
            if recurrence.reset_after:
                recurrent_candidate = reset_gate * inner[:, 2 * units:]
            else:
                recurrent_candidate = (reset_gate * hidden) @ kernel_h[:, 2 * units:]
            candidate = act(x[:, 2 * units:] + recurrent_candidate)
            new_hidden = update_gate * hidden + (1.0 - update_gate) * candidate
            new_cell = cell_state
            values = {"update_gate": update_gate, "reset_gate": reset_gate, "candidate": candidate}
        else:
            new_hidden = act(x + hidden @ kernel_h)
            new_cell = cell_state
        keep = real[:, step, np.newaxis]  # (batch, 1)
        hidden = np.where(keep, new_hidden, hidden)
        cell_state = np.where(keep, new_cell, cell_state)
        values.update(hidden=hidden, cell_state=cell_state)
        for name in names:
            records[name][:, step] = values[name]
    if backward:
        records = {name: np.take_along_axis(values, order[..., np.newaxis], axis=1)
                   for name, values in records.items()}
    return records


def _merge(forward: np.ndarray, backward: np.ndarray, merge_mode: str) -> np.ndarray:
    """Merges two directions' outputs as `keras.layers.Bidirectional` does."""
    if merge_mode == "concat":
        return np.concatenate([forward, backward], axis=-1)
    if merge_mode == "sum":
        return forward + backward
    if merge_mode == "ave":
        return (forward + backward) / 2.0
    return forward * backward  # "mul"


def _run_stack(network: _Network, ids: np.ndarray, lengths: np.ndarray, *,
               record_all: bool) -> tuple[list[list[dict[str, np.ndarray]]], np.ndarray]:
    """Runs every recurrent layer over a batch of texts.

    Args:
        network: the model's weights.
        ids: (batch, T) ids; positions at or beyond a text's length are ignored.
        lengths: (batch,) real tokens of each text.
        record_all: record every quantity, else hidden states only.

    Returns:
        (per layer, per direction, the records of `_run_direction`;
        (batch, width) the last layer's final features, what the head reads).
    """
    inputs = network.embeddings[ids]  # (batch, T, embedding_dim)
    layers = []
    for layer in network.layers:
        records = [
            _run_direction(recurrence, inputs, lengths, backward=side == 1, record_all=record_all)
            for side, recurrence in enumerate(layer.directions)
        ]
        layers.append(records)
        if layer.merge_mode is None:
            inputs = records[0]["hidden"]  # (batch, T, units)
        else:
            inputs = _merge(records[0]["hidden"], records[1]["hidden"], layer.merge_mode)
    rows = np.arange(len(ids))
    top, records = network.layers[-1], layers[-1]
    # Forward: the state after the last real token; backward: after reading back to the first.
    features = records[0]["hidden"][rows, lengths - 1]  # (batch, units)
    if top.merge_mode is not None:
        features = _merge(features, records[1]["hidden"][:, 0], top.merge_mode)
    return layers, features


def _prefix_outputs(network: _Network, ids: np.ndarray) -> np.ndarray:
    """Returns the head's outputs on every prefix ids[:t+1], (T, outputs)."""
    length = len(ids)
    outputs = []
    for start in range(0, length, PREFIX_CHUNK):
        prefix_lengths = np.arange(start + 1, min(start + PREFIX_CHUNK, length) + 1)  # (chunk,)
        width = int(prefix_lengths[-1])
        batch = np.broadcast_to(ids[:width], (len(prefix_lengths), width))  # (chunk, width)
        _, features = _run_stack(network, batch, prefix_lengths, record_all=False)
        outputs.append(network.head(features))  # (chunk, outputs)
    return np.concatenate(outputs)


def _class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(N, 1) sigmoid outputs -> (N, 2) [1 - p, p]; softmax outputs unchanged."""
    if outputs.shape[1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=1)
    return outputs


# ------------------------------------------------------------------ input
def _checked_text_ids(token_ids, vocabulary_size: int) -> np.ndarray:
    """Returns one text's ids as int64 (T,), or says what is wrong with them."""
    ids = np.asarray(token_ids)
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1:
        raise ValueError(
            f"token_ids: received an array of shape {ids.shape}, expected the ids (T,) of one "
            f"text; pass one row, e.g. vectorizer.encode([text])[0] without its padding"
        )
    if ids.size == 0:
        raise ValueError(
            "token_ids: received an empty text (no ids), expected at least one token; "
            "type a text with words in it"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"token_ids: received {ids.dtype} values, expected integer ids from the run's "
            f"vectorizer (vectorizer.encode)"
        )
    padding = np.flatnonzero(ids == 0)
    if padding.size:
        raise ValueError(
            f"token_ids: received padding (id 0) at positions {padding[:10].tolist()}, expected "
            f"the real tokens of one text only; drop the padding with ids[ids != 0]"
        )
    if ids.min() < 0 or ids.max() >= vocabulary_size:
        raise ValueError(
            f"token_ids: received ids from {ids.min()} to {ids.max()}, expected 1 to "
            f"{vocabulary_size - 1} (the model's vocabulary); vectorize with the run's vocabulary"
        )
    return ids.astype(np.int64)


def _checked_tokens(states: RecurrentStates, tokens: Sequence[str] | None) -> list[str]:
    length = len(states.token_ids)
    if tokens is None:
        return [str(token_id) for token_id in states.token_ids.tolist()]
    tokens = [str(token) for token in tokens]
    if len(tokens) != length:
        raise ValueError(
            f"tokens: received {len(tokens)}, expected {length} (one per id the states were "
            f"computed for, no padding)"
        )
    return tokens
