"""The Predict page's "edit and compare": the word diff, the before/after table, and the page.

Two tiny runs (an LSTM and the bag-of-embeddings baseline) come from the
session's `toy_runs` (tests/conftest.py), trained once, copied into a store of
their own (the page shows every run of its store); every page run is judged by
`tests.apptest_support.check_page`.
"""

import math
import re

import pandas as pd
import pytest

from seqlab.store import RunStore
from seqlab.views.predict import (
    INSERTED, REMOVED, REPLACED, SAME, DiffWord, before_after_table, change_label, diff_markdown,
    edited_lines, escape_markdown, word_diff,
)
from tests.apptest_support import PREDICT_PAGE, check_page, open_page, texts_of

BEFORE, AFTER = "the film was good", "the film was not good"
# A markdown or HTML character that no backslash escapes.
UNESCAPED = re.compile(r"(?<!\\)[<>*`\[\]$:]")


@pytest.fixture(scope="module")
def trained_runs(toy_runs, copy_runs, tmp_path_factory):
    """(home, {arch: run_id}) of a store holding only the session's tiny LSTM and baseline."""
    return copy_runs(toy_runs, tmp_path_factory.mktemp("predict") / "home", keep=("lstm", "baseline"))


@pytest.fixture
def predict_page(trained_runs, monkeypatch):
    """The Predict page over the trained store, after its first run."""
    home, _ = trained_runs
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    return check_page(open_page(PREDICT_PAGE).run())


def edit(at, text: str):
    """Types `text` into the page's text area and reruns it (checked)."""
    return check_page(at.text_area(key="predict.texts").set_value(text).run())


def before_after_of(at) -> pd.DataFrame | None:
    """The before/after table the page shows (the second table), or None when there is none."""
    frames = [element.value for element in at.dataframe]
    return next((frame for frame in frames if "previous_probability" in frame), None)


def predicted(home, run_ids, texts) -> pd.DataFrame:
    """`seqlab.inference.predictions_table` straight from the store (no page, no cache)."""
    from seqlab.inference import predictions_table

    return predictions_table(RunStore(home), list(run_ids), list(texts))


# ---------------------------------------------------------------- word diff
def test_word_diff_of_identical_sentences_keeps_every_word():
    assert word_diff(BEFORE, BEFORE) == [DiffWord(word, SAME) for word in BEFORE.split()]


def test_word_diff_marks_an_inserted_word():
    assert word_diff(BEFORE, AFTER) == [
        DiffWord("the", SAME), DiffWord("film", SAME), DiffWord("was", SAME),
        DiffWord("not", INSERTED), DiffWord("good", SAME),
    ]


def test_word_diff_marks_a_deleted_word():
    assert word_diff(AFTER, BEFORE) == [
        DiffWord("the", SAME), DiffWord("film", SAME), DiffWord("was", SAME),
        DiffWord("not", REMOVED), DiffWord("good", SAME),
    ]


def test_word_diff_puts_a_replaced_word_before_its_replacement():
    assert word_diff("the film was good", "the film was awful") == [
        DiffWord("the", SAME), DiffWord("film", SAME), DiffWord("was", SAME),
        DiffWord("good", REMOVED), DiffWord("awful", REPLACED),
    ]


def test_word_diff_refuses_a_non_string_saying_what_it_got():
    with pytest.raises(ValueError, match="received NoneType None, expected a string"):
        word_diff(None, BEFORE)


def test_diff_markdown_highlights_changes_and_strikes_removed_words():
    words = word_diff("the film was good", "the movie was not good")
    assert diff_markdown(words) == ("the ~~film~~ :orange-background[**movie**] was "
                                    ":green-background[**not**] good")


def test_escape_markdown_escapes_html_emphasis_links_and_directives():
    text = "<script>alert(1)</script> **bold** [link](x) :red[x] $x$"
    escaped = escape_markdown(text)
    assert escaped.replace("\\", "") == text
    assert not UNESCAPED.search(escaped)


# ------------------------------------------------------ lines and the table
def test_edited_lines_pairs_line_i_with_line_i_and_an_added_line_has_no_previous():
    edits = edited_lines("a b\nc d", "a b\nc x d\nnew line")
    assert [(edit.line, edit.previous, edit.current) for edit in edits] == [
        (2, "c d", "c x d"), (3, None, "new line")]
    assert {word.status for word in edits[1].words} == {INSERTED}


def test_edited_lines_ignores_blank_lines_and_spaces():
    assert edited_lines("a b\n\nc", "  a b \nc\n\n") == []


def test_change_label_signs_the_direction():
    assert [change_label(value) for value in (0.5, -0.02, 0.0001, math.nan)] == [
        "↑ +0.500", "↓ −0.020", "= 0.000", "new line"]


def fake_predictions(text: str, probabilities: dict[str, float]) -> pd.DataFrame:
    """A binary `predictions_table` of one text: {run_id: probability of "positive"}."""
    rows = []
    for run_id, positive in probabilities.items():
        for class_name, probability in (("negative", 1 - positive), ("positive", positive)):
            rows.append({"text": text, "run_id": run_id, "label": f"{run_id} label",
                         "class_name": class_name, "probability": probability,
                         "predicted": probability == max(positive, 1 - positive), "error": None})
    return pd.DataFrame(rows)


def test_before_after_table_gives_the_class_predicted_now_before_and_after():
    previous = fake_predictions(BEFORE, {"lstm": 0.8, "baseline": 0.8})
    current = fake_predictions(AFTER, {"lstm": 0.3, "baseline": 0.75})
    table = before_after_table(previous, current, edited_lines(BEFORE, AFTER)).set_index("run_id")
    assert table.loc["lstm", ["class_name", "previous_class", "flipped"]].tolist() == [
        "negative", "positive", True]
    assert table.loc["lstm", ["previous_probability", "probability", "change"]].tolist() == pytest.approx(
        [0.2, 0.7, 0.5])
    assert table.loc["baseline", ["class_name", "flipped", "change_label"]].tolist() == [
        "positive", False, "↓ −0.050"]


def test_before_after_table_refuses_a_frame_without_prediction_columns():
    with pytest.raises(ValueError, match="missing .*'probability'"):
        before_after_table(None, pd.DataFrame({"text": [AFTER]}), edited_lines(BEFORE, AFTER))


# --------------------------------------------------------------------- page
def test_first_visit_shows_no_before_after(predict_page):
    assert before_after_of(predict_page) is None
    assert "Before and after" not in texts_of(predict_page.subheader)


def test_edit_shows_both_probabilities_for_each_run_and_marks_the_inserted_word(
        predict_page, trained_runs):
    home, runs = trained_runs
    at = edit(edit(predict_page, BEFORE), AFTER)
    table = before_after_of(at).set_index("run_id")
    assert set(table.index) == set(runs.values())
    before, after = predicted(home, runs.values(), [BEFORE]), predicted(home, runs.values(), [AFTER])
    for run_id, row in table.iterrows():
        def probability(frame):
            return frame[(frame["run_id"] == run_id) & (frame["class_name"] == row["class_name"])][
                "probability"].item()
        assert row["previous_probability"] == pytest.approx(probability(before), abs=1e-6)
        assert row["probability"] == pytest.approx(probability(after), abs=1e-6)
    assert "Line 1: the film was :green-background[**not**] good" in texts_of(at.markdown)


def test_edit_compares_only_the_changed_lines_line_by_line(predict_page):
    at = edit(edit(predict_page, f"great acting\n{BEFORE}"), f"great acting\n{AFTER}\nboring plot")
    table = before_after_of(at)
    assert sorted(set(table["line"])) == [2, 3]
    added = table[table["line"] == 3]
    assert added["previous_probability"].isna().all()
    assert set(added["change_label"]) == {"new line"}


def test_comparison_stays_when_only_the_runs_change(predict_page, trained_runs):
    _, runs = trained_runs
    at = edit(edit(predict_page, BEFORE), AFTER)
    check_page(at.multiselect(key="predict.run_ids").set_value([runs["lstm"]]).run())
    assert before_after_of(at)["run_id"].tolist() == [runs["lstm"]]


def test_user_text_with_script_and_markdown_is_shown_escaped(predict_page):
    at = edit(edit(predict_page, BEFORE), "<script>alert(1)</script> **bold** [link](x)")
    shown = texts_of(at.markdown)
    assert "<script>" not in shown
    # The heading above the line's chart, and the replacements in the diff line.
    assert r"**\<script\>alert\(1\)\<\/script\> \*\*bold\*\* \[link\]\(x\)**" in shown
    assert (r":orange-background[**\<script\>alert\(1\)\<\/script\>**] "
            r":orange-background[**\*\*bold\*\***] :orange-background[**\[link\]\(x\)**]") in shown
