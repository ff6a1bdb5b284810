"""Which words decided a prediction, and how far back the training gradient reaches.

Every seqlab model starts with a layer named "embedding" (a Keras
`Embedding` or the Transformer's `TokenAndPositionEmbedding`) followed by a
plain chain of layers. `EmbeddingReplay` splits a model there: ids ->
(token vectors, padding mask), then token vectors + mask -> the model's
output, so gradients can be taken with respect to the token vectors (ids
themselves have none). On top of it:

- `integrated_gradients` (Sundararajan et al. 2017, "Axiomatic Attribution
  for Deep Networks"): how much each token moved the predicted class's
  probability away from what the model says for an all-zero embedding.
  Attributions add up to that difference (completeness), which is checked.
- `occlusion`: how much that probability drops when one token is removed.
- `gradient_by_position`: the norm of the loss gradient at each token,
  by distance from the end of the text: the "vanishing gradients" picture.
- `attribution_for_text` and the two tables the charts of
  `seqlab.attribution_charts` draw, for runs of the store.

Keras and TensorFlow are imported inside the functions that need a model, so
importing this module stays cheap.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from seqlab.data.texts import split_tokens

if TYPE_CHECKING:
    import keras


EMBEDDING_LAYER = "embedding"
# Integrated gradients: Gauss-Legendre nodes in each interval of a mesh of
# [0, 1] graded towards 0, refined where the integral misses. Along the path
# alpha * x the output can change abruptly: a Transformer's LayerNorms rescale
# small inputs back to full size, so it turns from the baseline's output to
# the text's within a few percent of alpha near 0 (on a tiny trained one,
# mostly between alpha = 0.01 and 0.03), and a saturated GRU jumped by 0.4
# within 1/2000 of alpha near 0.05. One fixed rule on [0, 1] misses such
# steps (a 16-node rule's two smallest nodes are 0.005 and 0.03) and no fixed
# number of steps suits every model, so each interval's integral is checked
# against the exact change of the output across it, F(b x) - F(a x), and the
# intervals that miss are halved.
MESH_EDGES = (0.0, 2.0**-12, 2.0**-9, 2.0**-6, 2.0**-4, 2.0**-3, 2.0**-2, 2.0**-1, 1.0)
NODES_PER_INTERVAL = 4  # exact for polynomials up to degree 7 in alpha
DEFAULT_STEPS = NODES_PER_INTERVAL * (len(MESH_EDGES) - 1)
MAX_STEPS = 1024
# Completeness: |sum of attributions - (output - baseline_output)| must stay
# within this share of |output - baseline_output|...
COMPLETENESS_TOLERANCE = 0.05
# ...measured against at least this difference: when the zero embedding
# already gives almost the same probability, 5% of the difference is below
# what float32 gradients resolve.
COMPLETENESS_FLOOR = 1e-3
REFINEMENT_TARGET = COMPLETENESS_TOLERANCE / 2
# Interpolation points per forward/backward call: bounds memory on long texts
# (a Transformer holds (points, heads, T, T) weights per block).
STEPS_PER_CALL = 128
# Texts per forward/backward call in gradient_by_position.
GRADIENT_BATCH = 64
SIDES = ("pre", "post")


# ------------------------------------------------------------------ replay
class EmbeddingReplay:
    """A model split after its embedding: `embed(ids)`, then `outputs_from(vectors, mask)`.

    The builders of `seqlab.models` make a plain chain after the embedding
    (each layer reads the previous layer's output); this is checked when the
    replay is built. `outputs_from` calls each layer in order, in inference
    mode, passing the padding mask to the layers that take one and updating
    it as Keras does (`compute_mask`), so `outputs_from(*embed(ids))` equals
    `model(ids)` for every architecture, with or without masking.

    Args:
        model: a model built by `seqlab.models.build_model` (or loaded from a
            run): `(batch, T)` ids in, `(batch, 1)` or `(batch, C)`
            probabilities out.

    Raises:
        ValueError: when the model has no layer named "embedding" or what
            follows it is not a plain chain.
    """

    def __init__(self, model: "keras.Model"):
        names = [layer.name for layer in model.layers]
        if EMBEDDING_LAYER not in names:
            raise ValueError(
                f"model {model.name!r}: received layers {', '.join(names)}, expected one named "
                f"{EMBEDDING_LAYER!r}; attributions need a model built by seqlab.models.build_model"
            )
        self.model = model
        start = names.index(EMBEDDING_LAYER)
        self.embedding = model.layers[start]
        self.layers = tuple(model.layers[start + 1:])
        previous = self.embedding
        for layer in self.layers:
            inputs = layer.input
            inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            # Besides its data, a layer may read the padding mask (booleans) Keras hands it.
            data = [tensor for tensor in inputs if tensor.dtype != "bool"]
            if len(data) != 1 or data[0] is not previous.output:
                raise ValueError(
                    f"model {model.name!r}: layer {layer.name!r} does not read the output of "
                    f"{previous.name!r}; expected a plain chain of layers after the embedding, "
                    f"as seqlab.models.build_model makes"
                )
            previous = layer
        outputs = model.outputs
        if len(outputs) != 1 or outputs[0] is not previous.output:
            raise ValueError(
                f"model {model.name!r}: its output is not the last layer's ({previous.name!r}); "
                f"expected a plain chain of layers after the embedding"
            )
        self.output_width = int(previous.output.shape[-1])
        # Which layers take `mask=` and `training=`: only those get them.
        self._arguments = tuple(
            set(inspect.signature(layer.call).parameters) for layer in self.layers
        )
        # Traced gradient functions, built on first use: run eagerly, a recurrent layer's
        # gradient tape walks the time steps in Python, several times slower than its graph.
        self._traced: dict[str, Any] = {}

    @property
    def vocabulary_size(self) -> int:
        """The number of ids the embedding knows (ids run from 0 to this minus 1)."""
        size = getattr(self.embedding, "vocabulary_size", None)
        return int(size if size is not None else self.embedding.input_dim)

    @property
    def sequence_length(self) -> int | None:
        """The longest T the model accepts (the Transformer's positions), or None for any."""
        if getattr(self.embedding, "position_embedding", None) is None:
            return None
        return int(self.embedding.sequence_length)

    @property
    def num_classes(self) -> int:
        """2 for a `(batch, 1)` sigmoid head, else the softmax's width."""
        return 2 if self.output_width == 1 else self.output_width

    def check_ids(self, token_ids: Any, name: str = "token_ids") -> np.ndarray:
        """Returns the ids as int32 `(batch, T)` (a `(T,)` row becomes one text).

        Raises:
            ValueError: on a wrong shape, dtype or range.
        """
        ids = np.asarray(token_ids)
        if ids.ndim == 1:
            ids = ids[np.newaxis]
        if ids.ndim != 2 or ids.shape[1] == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"{name}: received a {ids.dtype} array of shape {np.shape(token_ids)}, expected "
                f"integer ids (batch, T) or (T,) with T >= 1, as the run's vectorizer encodes them"
            )
        limit = self.sequence_length
        if limit is not None and ids.shape[1] > limit:
            raise ValueError(
                f"{name}: received T={ids.shape[1]}, expected at most {limit} (the run's "
                f"data.sequence_length); truncate the ids"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            raise ValueError(
                f"{name}: received ids from {ids.min()} to {ids.max()}, expected 0 to "
                f"{self.vocabulary_size - 1} (the run's vocabulary); vectorize with the run's vocabulary"
            )
        return ids.astype(np.int32)

    def embed(self, token_ids: Any):
        """Returns `(vectors, mask)`: float32 `(batch, T, embedding_dim)` and `(batch, T)` bool or None.

        The mask is what the embedding gives Keras (True at real tokens), None
        for a model trained without masking.

        Raises:
            ValueError: on ids of a wrong shape, dtype or range.
        """
        from keras import ops

        ids = ops.convert_to_tensor(self.check_ids(token_ids))  # (batch, T)
        vectors = ops.cast(self.embedding(ids), "float32")  # (batch, T, embedding_dim)
        mask = self.embedding.compute_mask(ids)  # (batch, T) or None
        return vectors, mask

    def outputs_from(self, vectors, mask=None):
        """Runs the layers after the embedding on token vectors.

        Args:
            vectors: `(batch, T, embedding_dim)` token vectors (a tensor; may
                be watched by a `tf.GradientTape`).
            mask: `(batch, T)` booleans, True at real tokens, or None.

        Returns:
            The model's `(batch, 1)` or `(batch, C)` probabilities, a tensor.
        """
        x = vectors
        for layer, arguments in zip(self.layers, self._arguments):
            keywords = {}
            if "mask" in arguments:
                keywords["mask"] = mask
            if "training" in arguments:
                keywords["training"] = False
            next_mask = layer.compute_mask(x, mask)
            x = layer(x, **keywords)
            mask = next_mask
        return x

    def target_gradients(self, points, mask, predicted_class: int):
        """Returns the predicted class's probability at each point and its gradient there.

        Args:
            points: `(n, T, embedding_dim)` float32 token vectors.
            mask: `(n, T)` booleans or None.
            predicted_class: the class whose probability is differentiated.

        Returns:
            `(targets (n,), gradients (n, T, embedding_dim))` tensors; each
            point's gradient is that of its own target (they are independent rows).
        """
        def compute(points, mask, predicted_class):
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(points)
                target = _target(self.outputs_from(points, mask), predicted_class)  # (n,)
                total = tf.reduce_sum(tf.cast(target, "float32"))
            return target, tape.gradient(total, points)

        return self._function("target", compute)(points, mask, predicted_class)

    def loss_gradients(self, vectors, mask, labels):
        """Returns the gradient of each text's own loss at its token vectors, `(n, T, embedding_dim)`.

        Args:
            vectors: `(n, T, embedding_dim)` float32 token vectors.
            mask: `(n, T)` booleans or None.
            labels: `(n,)` int32 class labels.
        """
        def compute(vectors, mask, labels):
            import keras
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(vectors)
                outputs = tf.cast(self.outputs_from(vectors, mask), "float32")
                if self.output_width == 1:
                    losses = keras.losses.binary_crossentropy(tf.cast(labels[:, None], "float32"), outputs)
                else:
                    losses = keras.losses.sparse_categorical_crossentropy(labels, outputs)
                # A sum, not the mean: each text's gradient is then its own loss's, whatever the batch size.
                total = tf.reduce_sum(losses)
            return tape.gradient(total, vectors)

        return self._function("loss", compute)(vectors, mask, labels)

    def _function(self, name: str, compute):
        """`compute` traced once per replay (shapes relaxed, so new lengths and batch sizes reuse it)."""
        import tensorflow as tf

        if name not in self._traced:
            self._traced[name] = tf.function(compute, reduce_retracing=True)
        return self._traced[name]


def _target(outputs, predicted_class):
    """The probability of `predicted_class` from `(batch, 1)` sigmoid or `(batch, C)` softmax outputs; (batch,)."""
    if outputs.shape[-1] == 1:
        positive = outputs[:, 0]
        return positive if predicted_class == 1 else 1.0 - positive
    return outputs[:, predicted_class]


def _predicted_class(output_row: np.ndarray) -> int:
    """Binary: class 1 when p >= 0.5; else the argmax."""
    if output_row.shape[-1] == 1:
        return int(output_row[0] >= 0.5)
    return int(np.argmax(output_row))


def _replay_of(trained: Any) -> EmbeddingReplay:
    """The replay kept with a loaded run (its traced functions reused), else a new one."""
    replay = getattr(trained.loaded, "replay", None)
    return replay if replay is not None else EmbeddingReplay(trained.model)


def _replay(model) -> EmbeddingReplay:
    return model if isinstance(model, EmbeddingReplay) else EmbeddingReplay(model)


def _one_text(replay: EmbeddingReplay, token_ids: Any) -> np.ndarray:
    ids = replay.check_ids(token_ids)
    if ids.shape[0] != 1:
        raise ValueError(
            f"token_ids: received {ids.shape[0]} texts (shape {ids.shape}), expected one text, "
            f"(T,) or (1, T); call once per text"
        )
    if not ids.any():
        raise ValueError(
            "token_ids: received only padding (every id is 0), expected at least one real token; "
            "the text has no word the run's vectorizer keeps"
        )
    return ids


# ------------------------------------------------------ integrated gradients
@dataclass
class Attribution:
    """Integrated gradients of one text, for the class the model predicts.

    Attributes:
        token_ids: (T,) the ids explained, padding included.
        attribution: (T,) float64, per position: the sum over embedding
            dimensions of (x - x0) * the average gradient along the path.
            Positive values pushed the predicted class's probability up.
            Padding positions get zero under a mask; without one, padding is
            input like any other and may get some.
        output: the predicted class's probability for the text.
        baseline_output: the same class's probability for the baseline.
        predicted_class: the class explained.
        steps: the interpolation points (Gauss-Legendre nodes) evaluated,
            those of intervals later halved included.
        completeness_gap: |sum(attribution) - (output - baseline_output)|
            divided by max(|output - baseline_output|, COMPLETENESS_FLOOR).
    """

    token_ids: np.ndarray
    attribution: np.ndarray
    output: float
    baseline_output: float
    predicted_class: int
    steps: int
    completeness_gap: float

    @property
    def complete(self) -> bool:
        """Whether the attributions add up to the difference within COMPLETENESS_TOLERANCE."""
        return self.completeness_gap <= COMPLETENESS_TOLERANCE


def integrated_gradients(
    model: "keras.Model | EmbeddingReplay",
    token_ids: Any,
    steps: int | None = None,
    *,
    max_steps: int = MAX_STEPS,
) -> Attribution:
    """Integrated gradients of one text on the embedding output.

    The baseline x0 is the all-zero embedding (every position's vector is
    zero) read with the text's own padding mask, so it differs from the text
    only in what the tokens say, not in which positions count. The path
    x0 + alpha (x - x0), alpha in [0, 1], is integrated with Gauss-Legendre
    nodes in each interval of a mesh graded towards alpha = 0 (`MESH_EDGES`);
    each round of nodes is one batched forward and backward pass. The target
    is the probability of the class predicted for the text (binary: p when
    p >= 0.5, else 1 - p).

    Completeness says the attributions add up to output - baseline_output;
    it holds interval by interval too (the integral over [a, b] is
    F(b x) - F(a x)). With `steps=None`, the intervals whose integral misses
    that by more than their share of the tolerance are halved, round after
    round, until the misses add up to at most REFINEMENT_TARGET (2.5%, half
    the 5% COMPLETENESS_TOLERANCE) of the difference or `max_steps` nodes
    have been evaluated; the gap achieved is returned either way.

    Args:
        model: a seqlab model, or an `EmbeddingReplay` of one (built once
            when explaining many texts).
        token_ids: (T,) or (1, T) integer ids of one text, 0 = padding.
        steps: a fixed number of nodes on the mesh (rounded up to a whole
            number per interval, no refinement), or None to refine as above.
        max_steps: the most nodes evaluated when `steps` is None.

    Returns:
        The `Attribution`.

    Raises:
        ValueError: on ids that are not one text of valid ids, a text that is
            only padding, or a number of steps below 1.
    """
    for name, value in (("steps", steps), ("max_steps", max_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name}: received {value!r}, expected a whole number of at least 1 (or None for steps)")
    replay = _replay(model)
    ids = _one_text(replay, token_ids)  # (1, T)
    vectors, mask = replay.embed(ids)  # (1, T, E), (1, T) or None
    outputs = np.asarray(replay.outputs_from(vectors, mask))  # (1, outputs)
    predicted_class = _predicted_class(outputs[0])
    path = _Path(replay, vectors, mask, predicted_class)
    per_interval = NODES_PER_INTERVAL if steps is None else max(1, math.ceil(steps / (len(MESH_EDGES) - 1)))
    intervals = path.integrate(list(zip(MESH_EDGES[:-1], MESH_EDGES[1:])), per_interval)
    used = per_interval * len(intervals)
    difference = intervals[-1].end_output - intervals[0].start_output
    # Refining aims at half the tolerance, so what is reported sits well inside it.
    allowed = REFINEMENT_TARGET * max(abs(difference), COMPLETENESS_FLOOR)
    while steps is None:
        misses = np.array([interval.miss for interval in intervals])
        if misses.sum() <= allowed:
            break
        # Halve every interval missing more than an even share of what is allowed, the worst
        # first, as many as the node budget takes (2 halves of `per_interval` nodes each).
        worst = [int(i) for i in np.argsort(-misses) if misses[i] > allowed / len(intervals)]
        worst = worst[: (max_steps - used) // per_interval // 2]
        if not worst:
            break
        halves = []
        for index in worst:
            start, end = intervals[index].start, intervals[index].end
            middle = (start + end) / 2.0
            halves += [(start, middle), (middle, end)]
        refined = iter(path.integrate(halves, per_interval))
        replaced = {index: (next(refined), next(refined)) for index in worst}
        intervals = [part for index, interval in enumerate(intervals)
                     for part in replaced.get(index, (interval,))]
        used += 2 * per_interval * len(worst)
    attribution = np.sum([interval.attribution for interval in intervals], axis=0)  # (T,)
    output, baseline_output = intervals[-1].end_output, intervals[0].start_output
    gap = abs(float(attribution.sum()) - (output - baseline_output)) / max(
        abs(output - baseline_output), COMPLETENESS_FLOOR)
    return Attribution(
        token_ids=ids[0].copy(), attribution=attribution, output=output,
        baseline_output=baseline_output, predicted_class=predicted_class, steps=used,
        completeness_gap=gap,
    )


@dataclass
class _Interval:
    """One interval [start, end] of the path, integrated."""

    start: float
    end: float
    start_output: float  # F(start x)
    end_output: float  # F(end x)
    attribution: np.ndarray  # (T,) the integral of the gradient times x over the interval

    @property
    def miss(self) -> float:
        """How far the integral is from the exact change of the output across the interval."""
        return abs(float(self.attribution.sum()) - (self.end_output - self.start_output))


class _Path:
    """The straight path from the zero embedding to a text's vectors, evaluated in batches."""

    def __init__(self, replay: EmbeddingReplay, vectors, mask, predicted_class: int):
        self.replay, self.vectors, self.mask = replay, vectors, mask
        self.predicted_class = predicted_class
        self.difference = np.asarray(vectors[0], dtype=np.float64)  # (T, E): x - x0 with x0 = 0

    def integrate(self, bounds: list[tuple[float, float]], per_interval: int) -> list[_Interval]:
        """Integrates each interval with `per_interval` Gauss-Legendre nodes, all in one pass."""
        unit_nodes, unit_weights = np.polynomial.legendre.leggauss(per_interval)  # on [-1, 1]
        edges = np.array(bounds, dtype=np.float64)  # (intervals, 2)
        low, width = edges[:, :1], edges[:, 1:] - edges[:, :1]  # (intervals, 1) each
        nodes = low + width * (unit_nodes + 1.0) / 2.0  # (intervals, per_interval)
        weights = width * unit_weights / 2.0  # (intervals, per_interval)
        # Each interval's ends ride along for the outputs there (their gradients go unused).
        alphas = np.concatenate([nodes.ravel(), edges.ravel()])
        targets, contributions = self._evaluate(alphas)  # (points,), (points, T)
        count = nodes.size
        node_contributions = contributions[:count].reshape(*nodes.shape, -1)  # (intervals, per_interval, T)
        integrals = np.einsum("in,int->it", weights, node_contributions)  # (intervals, T)
        ends = targets[count:].reshape(-1, 2)  # (intervals, 2)
        return [_Interval(float(a), float(b), float(ends[i, 0]), float(ends[i, 1]), integrals[i])
                for i, (a, b) in enumerate(bounds)]

    def _evaluate(self, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns the target at each alpha (points,) and the gradient times x per token (points, T)."""
        from keras import ops

        targets, contributions = [], []
        for start in range(0, len(alphas), STEPS_PER_CALL):
            chunk = ops.convert_to_tensor(alphas[start:start + STEPS_PER_CALL].astype(np.float32))  # (chunk,)
            size = int(chunk.shape[0])
            points = chunk[:, None, None] * self.vectors  # (chunk, T, E): x0 + alpha (x - x0)
            mask = None if self.mask is None else ops.repeat(self.mask, size, axis=0)  # (chunk, T)
            # Each point's target depends on its own row only, so one sum gives every row's gradient.
            target, gradients = self.replay.target_gradients(points, mask, self.predicted_class)
            gradients = np.asarray(gradients, dtype=np.float64)  # (chunk, T, E)
            targets.append(np.asarray(target, dtype=np.float64))
            contributions.append(np.sum(gradients * self.difference, axis=-1))  # (chunk, T)
        return np.concatenate(targets), np.concatenate(contributions)


# ------------------------------------------------------------------ occlusion
def occlusion_variants(token_ids: Any, padding: str = "post") -> np.ndarray:
    """Returns the T texts with one position removed each, re-padded to T.

    Row i is the text without position i: the later tokens shift one place
    towards the start and a padding id (0) fills the freed place at the
    padded end (`padding="post"`: the last position; "pre": the first, the
    earlier tokens then shift one place towards the end). Removing a padding
    position therefore gives back the same ids.

    Args:
        token_ids: (T,) integer ids of one text.
        padding: the run's `data.padding` side, "post" or "pre".

    Returns:
        int32 array (T, T).

    Raises:
        ValueError: on ids that are not one row, or an unknown side.
    """
    if padding not in SIDES:
        raise ValueError(f"padding: received {padding!r}, expected 'pre' or 'post' (the run's data.padding)")
    ids = np.asarray(token_ids)
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"token_ids: received a {ids.dtype} array of shape {np.shape(token_ids)}, expected the "
            f"integer ids of one text, (T,) or (1, T)"
        )
    length = ids.size
    keep = ~np.eye(length, dtype=bool)  # (T, T): row i keeps every position but i
    shortened = np.broadcast_to(ids, (length, length))[keep].reshape(length, length - 1)  # (T, T - 1)
    zeros = np.zeros((length, 1), dtype=ids.dtype)
    parts = (shortened, zeros) if padding == "post" else (zeros, shortened)
    return np.concatenate(parts, axis=1).astype(np.int32)  # (T, T)


def occlusion(model: "keras.Model | EmbeddingReplay", token_ids: Any, padding: str = "post") -> np.ndarray:
    """How much the predicted class's probability drops when each token is removed.

    Each position is removed in turn (`occlusion_variants`: later tokens
    shift, padding refills the end) and the T variants are predicted in one
    forward call beside the text itself. A padding position's variant is the
    text itself, so its change is zero by construction.

    Args:
        model: a seqlab model, or an `EmbeddingReplay` of one.
        token_ids: (T,) or (1, T) integer ids of one text, 0 = padding.
        padding: the run's `data.padding` side ("post" or "pre").

    Returns:
        float64 array (T,): probability of the predicted class with the
        whole text minus the same without position i (positive: the token
        supported the prediction).

    Raises:
        ValueError: on ids that are not one text of valid ids, a text that is
            only padding, or an unknown padding side.
    """
    replay = _replay(model)
    ids = _one_text(replay, token_ids)  # (1, T)
    variants = occlusion_variants(ids[0], padding)  # (T, T)
    batch = np.concatenate([ids, variants])  # (T + 1, T): the text, then each variant
    outputs = np.asarray(replay.outputs_from(*replay.embed(batch)), dtype=np.float64)  # (T + 1, outputs)
    predicted_class = _predicted_class(outputs[0])
    target = _target(outputs, predicted_class)  # (T + 1,)
    return target[0] - target[1:]


# ------------------------------------------------------- gradient by position
def distances_from_end(token_ids: np.ndarray) -> np.ndarray:
    """Returns, per position, how many real tokens follow it (-1 at padding).

    Args:
        token_ids: (N, T) ids, 0 = padding (on either side).

    Returns:
        int64 array (N, T): 0 at each text's last real token, 1 at the one
        before, ...; -1 at padding.
    """
    real = np.asarray(token_ids) != 0  # (N, T)
    after = np.cumsum(real[:, ::-1], axis=1)[:, ::-1] - 1  # real tokens from here to the end, minus this one
    return np.where(real, after, -1).astype(np.int64)


def gradient_norms(model: "keras.Model | EmbeddingReplay", token_ids: Any, labels: Any) -> np.ndarray:
    """Returns the norm of each text's loss gradient at each position's token vector.

    Args:
        model: a seqlab model, or an `EmbeddingReplay` of one.
        token_ids: (N, T) integer ids, 0 = padding.
        labels: (N,) integer class labels.

    Returns:
        float64 array (N, T): ||d loss_n / d x_{n,t}|| over the embedding
        dimensions, where loss_n is text n's own loss (binary cross-entropy
        for a sigmoid head, sparse categorical cross-entropy for a softmax).

    Raises:
        ValueError: on invalid ids, or labels that do not match them.
    """
    from keras import ops

    replay = _replay(model)
    ids = replay.check_ids(token_ids)  # (N, T)
    targets = _check_labels(labels, len(ids), replay.num_classes)  # (N,)
    norms = []
    for start in range(0, len(ids), GRADIENT_BATCH):
        vectors, mask = replay.embed(ids[start:start + GRADIENT_BATCH])  # (batch, T, E)
        label = ops.convert_to_tensor(targets[start:start + GRADIENT_BATCH])
        gradients = replay.loss_gradients(vectors, mask, label)  # (batch, T, E)
        norms.append(np.linalg.norm(np.asarray(gradients, dtype=np.float64), axis=-1))  # (batch, T)
    return np.concatenate(norms)


def gradient_by_position(model: "keras.Model | EmbeddingReplay", token_ids_batch: Any, labels: Any) -> np.ndarray:
    """The mean norm of the loss gradient at each distance from the end of the text.

    Positions are counted from the END of each text (0 = its last real
    token, padding skipped on either side): a recurrent classifier reads its
    state after the last token, so the loss reaches a token through as many
    recurrent steps as there are tokens after it, and a gradient that
    shrinks by a factor at each step falls geometrically with the distance
    ("vanishing gradients"). Which cell vanishes depends on its weights, not
    on its name: with Keras's initial weights an LSTM's forget gates start
    near sigmoid(1) = 0.73 and its gradient falls about that much a step
    until training opens them, while a SimpleRNN's orthogonal recurrent
    kernel keeps its gradient's size as long as its tanh is unsaturated
    (on the 60-token long-range task after 2 epochs, the LSTM's gradient at
    the cues was 4e-5 of its size at the end, the SimpleRNN's 3.6 times).

    Args:
        model: a seqlab model, or an `EmbeddingReplay` of one.
        token_ids_batch: (N, T) integer ids, 0 = padding.
        labels: (N,) integer class labels of the texts.

    Returns:
        float64 array (T,): entry d is the mean, over the texts that have a
        real token d places before their end, of ||d loss / d x|| at that
        token (see `gradient_norms`); NaN where no text is that long.

    Raises:
        ValueError: on invalid ids, or labels that do not match them.
    """
    ids = _replay(model).check_ids(token_ids_batch, "token_ids_batch")
    norms = gradient_norms(model, ids, labels)  # (N, T)
    means, _ = _by_distance(norms, distances_from_end(ids))
    return means


def _by_distance(norms: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `norms` per distance from the end (NaN where none) and the count per distance; each (T,)."""
    length = norms.shape[1]
    real = distances >= 0
    counts = np.bincount(distances[real], minlength=length)[:length]
    totals = np.bincount(distances[real], weights=norms[real], minlength=length)[:length]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return means, counts


def _check_labels(labels: Any, count: int, num_classes: int) -> np.ndarray:
    values = np.asarray(labels)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (count,) or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"labels: received a {values.dtype} array of shape {np.shape(labels)}, expected {count} "
            f"integer class labels, one per text"
        )
    if count and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(
            f"labels: received labels from {values.min()} to {values.max()}, expected 0 to "
            f"{num_classes - 1} (the model has {num_classes} classes)"
        )
    return values.astype(np.int32)


def gradient_by_position_table(
    trained_runs: Sequence[Any], texts: Sequence[str], labels: Any,
) -> pd.DataFrame:
    """The gradient norm by distance from the end for several runs, as one tidy table.

    Each run encodes the texts with its own vocabulary and length. Besides
    the mean norm, `relative_gradient_norm` divides it by the run's norm at
    the last token, so runs whose losses differ in size compare on one scale.

    Args:
        trained_runs: `seqlab.inference.TrainedRun`s (from `load_trained`).
        texts: raw texts, e.g. a split of the runs' dataset.
        labels: (len(texts),) their integer labels.

    Returns:
        One row per run and distance with columns run_id, label, arch,
        distance_from_end, gradient_norm, relative_gradient_norm, texts (how
        many texts reach that distance); distances no text reaches are left out.

    Raises:
        ValueError: when no text is given, or labels do not match the texts.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts: received none, expected at least one text with its label")
    rows = []
    for trained in trained_runs:
        ids = trained.vectorizer.encode(texts)  # (N, T)
        norms = gradient_norms(_replay_of(trained), ids, labels)  # (N, T)
        means, counts = _by_distance(norms, distances_from_end(ids))
        at_end = means[0] if counts[0] and means[0] > 0 else np.nan
        for distance in np.flatnonzero(counts):
            rows.append({
                "run_id": trained.run_id, "label": trained.label, "arch": trained.config.model.arch,
                "distance_from_end": int(distance), "gradient_norm": float(means[distance]),
                "relative_gradient_norm": float(means[distance] / at_end),
                "texts": int(counts[distance]),
            })
    return pd.DataFrame(rows, columns=["run_id", "label", "arch", "distance_from_end", "gradient_norm",
                                       "relative_gradient_norm", "texts"])


# ------------------------------------------------------------- one text, runs
@dataclass
class TextAttribution:
    """Which words of one text decided one run's prediction.

    Attributes:
        run_id: the run.
        label: its label.
        tokens: the R real tokens the model read, in reading order.
        positions: (R,) their positions in the model's input (0 .. T-1).
        class_name: the class predicted (the one explained).
        output: its probability for the text.
        baseline_output: its probability for the all-zero embedding.
        attribution: (R,) integrated gradients per token (see `Attribution`).
        occlusion: (R,) drop of `output` when the token is removed.
        padding_attribution: what the padding positions got (zero with a
            mask), so sum(attribution) + padding_attribution is the whole.
        steps: integration nodes used.
        completeness_gap: see `Attribution.completeness_gap`.
        text_length: tokens in the text before truncation.
        first_kept: index, in the whole text, of the first token read (0
            unless the start was cut).
    """

    run_id: str
    label: str
    tokens: list[str]
    positions: np.ndarray
    class_name: str
    output: float
    baseline_output: float
    attribution: np.ndarray
    occlusion: np.ndarray
    padding_attribution: float
    steps: int
    completeness_gap: float
    text_length: int
    first_kept: int

    def table(self) -> pd.DataFrame:
        """One row per real token: run_id, label, position, token, attribution,
        occlusion, class_name, output, baseline_output."""
        return pd.DataFrame({
            "run_id": self.run_id, "label": self.label,
            "position": np.asarray(self.positions, dtype=np.int64),
            "token": list(self.tokens), "attribution": self.attribution, "occlusion": self.occlusion,
            "class_name": self.class_name, "output": self.output, "baseline_output": self.baseline_output,
        })

    def to_dict(self) -> dict[str, Any]:
        """Returns plain JSON-ready values (what `python -m seqlab` can print)."""
        return {
            "run_id": self.run_id, "label": self.label, "tokens": list(self.tokens),
            "positions": [int(p) for p in self.positions], "class_name": self.class_name,
            "output": self.output, "baseline_output": self.baseline_output,
            "attribution": [float(v) for v in self.attribution],
            "occlusion": [float(v) for v in self.occlusion],
            "padding_attribution": self.padding_attribution, "steps": self.steps,
            "completeness_gap": self.completeness_gap, "text_length": self.text_length,
            "first_kept": self.first_kept,
        }


def attribution_for_text(trained: Any, text: str, steps: int | None = None) -> TextAttribution:
    """Explains one run's prediction for one text: integrated gradients and occlusion per token.

    The text is vectorized as the run was trained (vocabulary, length,
    truncation and padding side); both measures explain the padded ids the
    model really reads, and are reported for the real tokens only.

    Args:
        trained: a `seqlab.inference.TrainedRun` (from `load_trained`).
        text: the raw text.
        steps: integration nodes; None chooses them so that completeness
            holds within 5% (see `integrated_gradients`).

    Returns:
        The `TextAttribution`.

    Raises:
        ValueError: for an empty text, one with no token the run reads, or
            an invalid number of steps.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: received {text!r}, expected a sentence to explain; type one or pick an example")
    ids = trained.vectorizer.encode([text])  # (1, T)
    if not ids.any():
        raise ValueError(
            f"text: received {text!r}, which has no token the run reads (after cleaning it is empty); "
            f"type words"
        )
    replay = _replay_of(trained)
    data = trained.config.data
    explained = integrated_gradients(replay, ids, steps=steps)
    dropped = occlusion(replay, ids, padding=data.padding)  # (T,)
    real = np.flatnonzero(ids[0] != 0)  # (R,)
    tokens = trained.vectorizer.tokens(ids[0])
    text_length = len(split_tokens(text))
    cut = max(0, text_length - data.sequence_length)
    return TextAttribution(
        run_id=trained.run_id, label=trained.label, tokens=[tokens[i] for i in real], positions=real,
        class_name=str(trained.class_names[explained.predicted_class]), output=explained.output,
        baseline_output=explained.baseline_output, attribution=explained.attribution[real],
        occlusion=dropped[real],
        padding_attribution=float(explained.attribution.sum() - explained.attribution[real].sum()),
        steps=explained.steps, completeness_gap=explained.completeness_gap, text_length=text_length,
        first_kept=cut if data.truncation == "pre" else 0,
    )


def attribution_table(attributions: Sequence[TextAttribution]) -> pd.DataFrame:
    """Stacks several runs' `TextAttribution.table()`s: what `attribution_text_chart` draws."""
    tables = [item.table() for item in attributions]
    if not tables:
        return pd.DataFrame(columns=["run_id", "label", "position", "token", "attribution", "occlusion",
                                     "class_name", "output", "baseline_output"])
    return pd.concat(tables, ignore_index=True)


__all__ = [
    "Attribution", "EmbeddingReplay", "TextAttribution", "attribution_for_text", "attribution_table",
    "distances_from_end", "gradient_by_position", "gradient_by_position_table", "gradient_norms",
    "integrated_gradients", "occlusion", "occlusion_variants",
]
