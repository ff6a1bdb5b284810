"""Everything a trained run's model does with one text, as one JSON-ready object.

What `python -m seqlab inspect RUN_ID --text ... --json` prints: for every
architecture the tokens read, the predicted class's probability, the
all-zero-embedding baseline's and one integrated-gradients attribution and
one occlusion drop per token; for recurrent runs also the recomputed states,
gates and running prediction (`seqlab.states`); for Transformer runs the
attention weights (`seqlab.inference.attention_map`).
"""

from __future__ import annotations

from typing import Any

from seqlab.config import RECURRENT_ARCHITECTURES
from seqlab.inference import ModelCache, attention_map, load_trained
from seqlab.store import RunStore


def inspect_text(store: RunStore, run_id: str, text: str, models: ModelCache | None = None,
                 steps: int | None = None) -> dict[str, Any]:
    """Reads what run `run_id`'s model does with `text`.

    Args:
        store: the run store.
        run_id: a run with a saved model.
        text: the raw text (vectorized with the run's vocabulary and length).
        models: a cache of loaded models (see `load_trained`); None: load afresh.
        steps: integration nodes for the attributions (None: enough that
            completeness holds within 5%).

    Returns:
        A dict with `run_id`, `label`, `arch`, `tokens`, `class_name`,
        `output` (the predicted class's probability), `baseline_output`,
        `attribution` and `occlusion` (one number per token),
        `completeness_gap`; recurrent runs add `states` (per layer and
        direction: its hidden states, tokens x units, and its `gates`),
        `gates` (name -> tokens x units, of the last layer's forward
        direction; "backward <name>" for the backward one) and
        `running_probability` (one per token); Transformer runs add
        `attention` (layers, heads, tokens, tokens).

    Raises:
        KeyError: for an unknown run id.
        ValueError: for an empty text or a run without a saved model.
    """
    from seqlab.attribution import attribution_for_text

    trained = load_trained(store, run_id, models)
    explained = attribution_for_text(trained, text, steps=steps)
    found = {"arch": trained.config.model.arch, **explained.to_dict()}
    if trained.config.model.arch in RECURRENT_ARCHITECTURES:
        from seqlab.states import inspect_states

        states = inspect_states(trained, text)
        last = max(entry["layer"] for entry in states["states"])
        gates = {}
        for entry in states["states"]:
            if entry["layer"] == last:
                prefix = "" if entry["direction"] == "forward" else "backward "
                gates.update({prefix + name: values for name, values in entry.get("gates", {}).items()})
        found.update(states=states["states"], gates=gates,
                     running_probability=states["running_probability"])
    elif trained.loaded.probe is not None:
        found["attention"] = attention_map(store, run_id, text, models).to_dict()["attention"]
    return found
