"""The Predict page: typed texts, and every run's prediction of them side by side."""

from __future__ import annotations

import pandas as pd


def parse_texts(text: str) -> list[str]:
    """Returns the non-empty lines of a text area, stripped (one text per line)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def prediction_summary_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per text and run: text, run (label), predicted class, probability."""
    picked = predictions[predictions["predicted"].astype(bool)]
    table = picked.rename(columns={"label": "run", "class_name": "predicted_class"})
    return table[["text", "run", "run_id", "predicted_class", "probability"]].reset_index(drop=True)


def prediction_errors(predictions: pd.DataFrame) -> list[str]:
    """Returns the messages of runs that could not predict."""
    errors = predictions["error"].dropna() if "error" in predictions else []
    return [str(message) for message in dict.fromkeys(errors)]


def predictions_for_text(predictions: pd.DataFrame, text: str) -> pd.DataFrame:
    """Returns the rows of one text (for a per-text probability chart)."""
    return predictions[predictions["text"] == text].reset_index(drop=True)
