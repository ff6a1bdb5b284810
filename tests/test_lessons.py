"""Preset lessons: finding a preset's runs and saying whether its lesson held (no training)."""

import pytest

from seqlab.analysis import lessons
from seqlab.config import presets
from seqlab.views.home import preset_cards, preset_lessons

LONGRANGE = "Long-range memory: LSTM vs BiLSTM vs Transformer"
PRESENCE = "When a bag of words is enough"
ATTENTION = "Attention at work: word order needs positions"
MASKING = "Padding and masking on variable-length text"
TOY = "Toy sentiment in seconds"
IMDB = "LSTM vs GRU vs Transformer on 2,000 IMDB reviews"


def record(store, config, accuracy, *, status="completed", seconds=1.0, num_params=1000, seed=None):
    """Records a finished run of `config` (seed replaced when given) with this test accuracy."""
    if seed is not None:
        config = config.with_overrides({"seed": seed})
    run_id = store.create_run(config, status="running", num_params=num_params)
    if status in ("queued", "running"):
        return run_id
    store.finish_run(run_id, status, test_accuracy=accuracy, seconds_per_epoch=seconds, test_loss=0.5)
    return run_id


def lesson(store, title):
    return next(item for item in preset_lessons(store) if item.title == title)


def run_preset(store, title, accuracies, **kwargs):
    configs = presets()[title]["runs"]
    assert len(configs) == len(accuracies)
    return [record(store, config, accuracy, **kwargs) for config, accuracy in zip(configs, accuracies)]


def test_a_preset_never_run_says_only_what_to_expect(store):
    for item in preset_lessons(store):
        assert item.status == "not run" and item.sentence == ""
        assert item.expectation.startswith("Expect: ")
    assert "at 120" in lesson(store, LONGRANGE).expectation  # lengths come from the preset's configs


def test_longrange_lesson_held(store):
    # lstm at 20, then lstm, bilstm, transformer, baseline at 120.
    run_ids = run_preset(store, LONGRANGE, [0.99, 0.52, 1.0, 0.97, 0.5])
    item = lesson(store, LONGRANGE)
    assert item.status == "held" and item.checked
    assert item.sentence == (
        "as expected: the LSTM fell from 0.99 at length 20 to 0.52 at length 120; the BiLSTM held 1.00 "
        "at length 120; the Transformer held 0.97 at length 120; the bag of words stayed near chance "
        "(0.50)")
    assert set(item.run_ids) == set(run_ids)


def test_longrange_lesson_missed_says_what_and_suggests_seeds(store):
    run_preset(store, LONGRANGE, [0.99, 0.93, 1.0, 0.62, 0.5])
    item = lesson(store, LONGRANGE)
    assert item.status == "missed"
    assert item.sentence == (
        "not this time: the LSTM did not fall: 0.99 at length 20, still 0.93 at length 120; the Transformer "
        "reached only 0.62 (expected 0.85 or more); with one seed this may be noise: run each again with "
        "3 seeds (Train page, Seeds)")


def test_the_latest_runs_count_and_seeds_are_averaged(store):
    run_preset(store, LONGRANGE, [0.99, 0.93, 1.0, 0.62, 0.5])  # an older, missed attempt
    configs = presets()[LONGRANGE]["runs"]
    for seed, accuracies in enumerate([[0.99, 0.52, 1.0, 0.97, 0.5], [0.97, 0.50, 0.98, 0.95, 0.51],
                                       [0.98, 0.54, 0.99, 0.96, 0.49]]):
        for config, accuracy in zip(configs, accuracies):
            record(store, config, accuracy, seed=seed)
    item = lesson(store, LONGRANGE)
    assert item.status == "held"
    assert "the LSTM fell from 0.98 (mean of 3 seeds) at length 20 to 0.52 (mean of 3 seeds)" in item.sentence
    assert len(item.run_ids) == 15


def test_waiting_and_incomplete_runs_give_no_verdict(store):
    configs = presets()[PRESENCE]["runs"]
    record(store, configs[0], 1.0)
    record(store, configs[1], None, status="running")
    record(store, configs[2], None, status="queued")
    item = lesson(store, PRESENCE)
    assert item.status == "waiting" and not item.checked
    assert item.sentence == "waiting for its runs: 1 of 3 finished"
    record(store, configs[1], 1.0)
    record(store, configs[2], None, status="failed")
    item = lesson(store, PRESENCE)
    assert item.status == "incomplete"
    assert item.sentence.startswith("1 of its 3 runs did not complete")


def test_presence_lesson_names_the_cost(store):
    configs = presets()[PRESENCE]["runs"]  # baseline, lstm, transformer
    record(store, configs[0], 1.0, seconds=0.1, num_params=700)
    record(store, configs[1], 0.99, seconds=0.4, num_params=9000)
    record(store, configs[2], 1.0, seconds=0.3, num_params=14000)
    item = lesson(store, PRESENCE)
    assert item.sentence == ("as expected: the bag of words reached 1.00, level with the best (the "
                             "Transformer, 1.00); with 20.0x fewer parameters and 3.0x shorter epochs than "
                             "the Transformer")
    record(store, configs[0], 0.9, seconds=0.1, num_params=700)  # a newer, worse bag of words
    assert lesson(store, PRESENCE).sentence.startswith(
        "not this time: the bag of words reached 0.90, behind the Transformer (1.00)")


@pytest.mark.parametrize("title, accuracies, held", [
    (ATTENTION, [1.0, 0.51, 0.5], True),
    (ATTENTION, [0.7, 0.51, 0.5], False),
    (MASKING, [0.99, 0.53], True),
    (MASKING, [0.99, 0.9], False),
    (TOY, [0.89, 0.99, 0.86], True),
    (TOY, [0.89, 0.86, 0.86], False),
    (IMDB, [0.77, 0.78, 0.81], True),
    (IMDB, [0.77, 0.62, 0.81], False),
])
def test_each_lesson_holds_or_misses_on_its_numbers(store, title, accuracies, held):
    run_preset(store, title, accuracies)
    item = lesson(store, title)
    assert item.status == ("held" if held else "missed"), item.sentence


def test_runs_with_another_recipe_do_not_count(store):
    config = presets()[TOY]["runs"][0].with_overrides({"model.units": 64})
    record(store, config, 0.9)
    assert lesson(store, TOY).status == "not run"


def test_home_cards_carry_their_lessons(store):
    run_preset(store, TOY, [0.89, 0.99, 0.86])
    cards = preset_cards(True, store)
    assert [card.title for card in cards] == list(presets())
    toy = next(card for card in cards if card.title == TOY)
    assert toy.lesson.status == "held"
    assert toy.lesson.sentence.startswith("as expected: all learned well above chance (0.50): lstm 0.89")
    longrange = next(card for card in cards if card.title == LONGRANGE)
    assert longrange.run_labels[:2] == ("lstm 32u x1 at 20 tokens", "lstm 32u x1 at 120 tokens")


def test_every_preset_lesson_kind_has_a_check():
    assert {preset["lesson"] for preset in presets().values()} <= set(lessons.KINDS)


def test_compare_states_a_presets_lesson_when_its_runs_are_selected(store, no_worker):
    from tests.apptest_support import COMPARE_PAGE, check_page, open_page, texts_of

    run_ids = run_preset(store, LONGRANGE, [0.99, 0.52, 1.0, 0.97, 0.5])
    at = check_page(open_page(COMPARE_PAGE).run())
    at.multiselect(key="compare.selected").set_value(run_ids).run()
    check_page(at)
    assert f"**{LONGRANGE}**: as expected: the LSTM fell" in texts_of(at.success)


def test_compare_states_no_lesson_for_part_of_a_preset(store, no_worker):
    from tests.apptest_support import COMPARE_PAGE, check_page, open_page, texts_of

    run_ids = run_preset(store, LONGRANGE, [0.99, 0.52, 1.0, 0.97, 0.5])
    at = check_page(open_page(COMPARE_PAGE).run())
    at.multiselect(key="compare.selected").set_value(run_ids[:2]).run()
    check_page(at)
    assert LONGRANGE not in texts_of(at.success) + texts_of(at.warning)
