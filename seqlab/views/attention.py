"""The Attention page: heads to pick, and why a linked run has no attention map."""

from __future__ import annotations

import pandas as pd

from seqlab.analysis import words
from seqlab.store import RunStore


def attention_heads(attention: pd.DataFrame) -> list[str]:
    """Returns the heads of an attention table as text, in order, "mean" last."""
    heads = sorted({str(head) for head in attention["head"]} - {"mean"}, key=lambda h: (len(h), h))
    return heads + ["mean"]


def no_attention_message(store: RunStore, run_id: str) -> str:
    """Says why run `run_id` (e.g. from a link) has no attention map to show."""
    try:
        record = store.get_run(run_id)
    except KeyError:
        return words.no_such_run(run_id)
    if record.arch != "transformer":
        return words.no_attention_layers(run_id, record.label, record.arch)
    return words.no_saved_model(run_id, record.label, record.status)
