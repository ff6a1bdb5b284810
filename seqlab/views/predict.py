"""The Predict page: typed texts, every run's prediction of them side by side, and what an edit changed."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

import pandas as pd

# Word statuses of a diff: kept, inserted, the new words of a replacement, and removed
# (old words, the replaced ones included).
SAME, INSERTED, REPLACED, REMOVED = "same", "inserted", "replaced", "removed"
# How each changed status is drawn in Streamlit markdown: new words bold on a background colour
# (bold because Streamlit's light-theme backgrounds are pale), removed ones struck through.
WORD_MARKUP = {INSERTED: ":green-background[**{}**]", REPLACED: ":orange-background[**{}**]",
               REMOVED: "~~{}~~"}
# A change smaller than this prints as "=" (it rounds to 0.000 in the table).
UNCHANGED_PROBABILITY = 0.0005
# Every ASCII punctuation character, each of which CommonMark lets a backslash escape; escaping
# all of them turns HTML tags, emphasis, links, Streamlit's :colour[...] directives and $math$
# in user text into the literal characters.
_MARKDOWN_SPECIAL = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
BEFORE_AFTER_COLUMNS = [
    "line", "text", "previous_text", "run", "run_id", "class_name", "previous_probability",
    "probability", "change", "change_label", "previous_class", "flipped",
]


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


# ------------------------------------------------------------- edit and compare
@dataclass(frozen=True)
class DiffWord:
    """One word of a word-level diff.

    Attributes:
        word: the word as typed.
        status: SAME, INSERTED, REPLACED (a new word standing in for removed
            ones) or REMOVED (a word of the previous text only).
    """

    word: str
    status: str


@dataclass(frozen=True)
class LineEdit:
    """One line of the text area that differs from the same line before the edit.

    Attributes:
        line: its 1-based number among the non-empty lines.
        previous: the line before the edit; None for a line the edit added.
        current: the line now.
        words: `word_diff(previous or "", current)`.
    """

    line: int
    previous: str | None
    current: str
    words: list[DiffWord]


def word_diff(previous: str, current: str) -> list[DiffWord]:
    """Compares two sentences word by word (words split on whitespace, case kept).

    Args:
        previous: the sentence before the edit.
        current: the sentence after it.

    Returns:
        The words of both in reading order: kept words once (SAME), words
        only in `current` as INSERTED, words only in `previous` as REMOVED,
        and where a run of words was replaced, the removed ones first and
        then their replacements (REPLACED).

    Raises:
        ValueError: when either sentence is not a string.
    """
    for name, value in (("previous", previous), ("current", current)):
        if not isinstance(value, str):
            raise ValueError(f"word_diff {name}: received {type(value).__name__} {value!r}, "
                             f"expected a string (a typed sentence); pass '' for no sentence")
    before, after = previous.split(), current.split()
    # autojunk would treat frequent words ("the") as junk in texts of 200+ words.
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    words: list[DiffWord] = []
    for operation, start_before, end_before, start_after, end_after in matcher.get_opcodes():
        if operation == "equal":
            words += [DiffWord(word, SAME) for word in after[start_after:end_after]]
            continue
        words += [DiffWord(word, REMOVED) for word in before[start_before:end_before]]
        status = REPLACED if operation == "replace" else INSERTED
        words += [DiffWord(word, status) for word in after[start_after:end_after]]
    return words


def escape_markdown(text: str) -> str:
    """Returns user text that Streamlit's markdown shows literally (no HTML, emphasis, links or math)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def diff_markdown(words: list[DiffWord]) -> str:
    """Returns a diff as one line of Streamlit markdown, every word escaped.

    Inserted words are bold on a green background, replacements bold on an
    orange one, and removed words are struck through; kept words are plain.

    Raises:
        ValueError: on a word whose status is not one of SAME, INSERTED,
            REPLACED, REMOVED.
    """
    parts = []
    for word in words:
        if word.status == SAME:
            parts.append(escape_markdown(word.word))
        elif word.status in WORD_MARKUP:
            parts.append(WORD_MARKUP[word.status].format(escape_markdown(word.word)))
        else:
            raise ValueError(f"diff word {word.word!r}: received status {word.status!r}, expected one "
                             f"of {[SAME, *WORD_MARKUP]}; build the words with word_diff")
    return " ".join(parts)


def edited_lines(previous_text: str, current_text: str) -> list[LineEdit]:
    """Pairs line i of the text area before an edit with line i after it, keeping the changed ones.

    Lines are the non-empty, stripped lines (`parse_texts`), so blank lines
    and surrounding spaces are not edits. A line beyond the previous text's
    last is an added line (no previous); lines the edit removed from the end
    have no current line and are left out.

    Returns:
        One LineEdit per current line that differs from its previous one, in order.
    """
    previous_lines, current_lines = parse_texts(previous_text), parse_texts(current_text)
    edits = []
    for index, current in enumerate(current_lines):
        previous = previous_lines[index] if index < len(previous_lines) else None
        if previous != current:
            edits.append(LineEdit(index + 1, previous, current, word_diff(previous or "", current)))
    return edits


def change_label(change: float) -> str:
    """Returns a probability change with its direction: "↑ +0.500", "↓ −0.020", "= 0.000", or "new line" (NaN)."""
    if change is None or math.isnan(change):
        return "new line"
    if abs(change) < UNCHANGED_PROBABILITY:
        return "= 0.000"
    return f"↑ +{change:.3f}" if change > 0 else f"↓ −{-change:.3f}"


def before_after_table(previous_predictions: pd.DataFrame | None, predictions: pd.DataFrame,
                       edits: list[LineEdit]) -> pd.DataFrame:
    """Returns, for each edited line and run, the probability of the class predicted now, before and after.

    Args:
        previous_predictions: `seqlab.inference.predictions_table` of the
            previous lines (None when the edit added every line).
        predictions: the same table of the current lines.
        edits: `edited_lines(previous_text, current_text)`.

    Returns:
        One row per edit and run that predicted the current line, in edit
        then run order, with columns line, text, previous_text (None for an
        added line), run (label), run_id, class_name (predicted now),
        previous_probability (of that class for the previous line; NaN for an
        added line), probability, change (after minus before), change_label
        (`change_label`), previous_class (predicted for the previous line)
        and flipped (whether the predicted class changed).

    Raises:
        ValueError: when a table lacks a column of `predictions_table`.
    """
    tables = {"predictions": predictions}
    if previous_predictions is not None:
        tables["previous_predictions"] = previous_predictions
    needed = {"text", "run_id", "label", "class_name", "probability", "predicted"}
    for name, table in tables.items():
        missing = sorted(needed - set(table.columns))
        if missing:
            raise ValueError(f"{name}: received columns {list(table.columns)}, missing {missing}; "
                             f"pass the frame seqlab.inference.predictions_table returns")
    current = _class_rows(predictions)
    previous = _class_rows(previous_predictions) if previous_predictions is not None else current.iloc[:0]
    rows = []
    for edit in edits:
        now = current[current["text"] == edit.current]
        before = previous[previous["text"] == edit.previous]
        for run_id in dict.fromkeys(now["run_id"]):
            run_now, run_before = now[now["run_id"] == run_id], before[before["run_id"] == run_id]
            picked = run_now[run_now["predicted"]].iloc[0]
            class_name = picked["class_name"]
            same_class = run_before[run_before["class_name"] == class_name]
            previous_probability = float(same_class["probability"].iloc[0]) if len(same_class) else math.nan
            previous_picked = run_before[run_before["predicted"]]
            previous_class = previous_picked["class_name"].iloc[0] if len(previous_picked) else None
            change = float(picked["probability"]) - previous_probability
            rows.append({
                "line": edit.line, "text": edit.current, "previous_text": edit.previous,
                "run": picked["label"], "run_id": run_id, "class_name": class_name,
                "previous_probability": previous_probability, "probability": float(picked["probability"]),
                "change": change, "change_label": change_label(change), "previous_class": previous_class,
                "flipped": previous_class is not None and previous_class != class_name,
            })
    return pd.DataFrame(rows, columns=BEFORE_AFTER_COLUMNS)


def _class_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """The rows that hold a class probability (error rows left out), each (text, run, class) once."""
    rows = predictions[predictions["class_name"].notna() & predictions["text"].notna()]
    rows = rows.drop_duplicates(["text", "run_id", "class_name"])
    return rows.assign(predicted=rows["predicted"].astype(bool))
