"""The classroom lock: reading and validating it, the locked Train form and Home cards, enforcement."""

import json

import pytest

from seqlab import classroom
from seqlab.config import default_config, presets
from tests.apptest_support import HOME_PAGE, TRAIN_PAGE, check_page, open_page, texts_of

TOY, ATTENTION = list(presets())[0], list(presets())[3]
LOCKED_SAYS = "classroom lock could not be read"


def write_lock(home, content) -> None:
    """Writes `$SEQLAB_HOME/classroom.json` (a dict as JSON, a str as it is)."""
    home.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (home / classroom.CLASSROOM_FILE).write_text(text)


@pytest.fixture
def lock_file(seqlab_home, monkeypatch):
    """A lock of two presets and two fields, epochs fixed at 3."""
    write_lock(seqlab_home, {"presets": ["toy", ATTENTION], "fields": ["model.units", "seed"],
                             "values": {"train.epochs": 3}})
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")


# ---------------------------------------------------------------- reading
def test_no_env_means_no_lock(monkeypatch):
    monkeypatch.delenv(classroom.CLASSROOM_ENV, raising=False)
    assert classroom.read_lock() is None


def test_env_1_without_a_file_gives_the_documented_default_lock(monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    lock = classroom.read_lock()
    assert lock.problem == ""
    assert lock.presets == tuple(presets())
    assert set(lock.fields) == set(classroom.DEFAULT_FIELDS)
    assert lock.values["model.num_layers"] == 1


def test_good_file_is_read_with_lesson_keys_as_titles(lock_file):
    lock = classroom.read_lock()
    assert lock.problem == ""
    assert lock.presets == (TOY, ATTENTION)
    assert lock.fields == ("model.units", "seed")
    assert lock.values["train.epochs"] == 3
    assert lock.values["model.arch"] == "lstm"  # not named: its default


def test_env_path_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "lesson1.json"
    path.write_text(json.dumps({"fields": ["train.epochs"]}))
    monkeypatch.setenv(classroom.CLASSROOM_ENV, str(path))
    assert classroom.read_lock().fields == ("train.epochs",)


@pytest.mark.parametrize("content, says", [
    ({"fields": ["model.unitz"]}, "fields: received 'model.unitz', expected field paths"),
    ({"presets": ["nonsense"]}, "presets: preset: received 'nonsense', expected a title or one of"),
    ('{"fields": [', "not valid JSON"),
    ({"values": {"train.epochs": -1}}, "values: train.epochs"),
    ({"fields": ["train.epochs"], "values": {"train.epochs": 3}}, "also in fields"),
    ({"field": ["train.epochs"]}, "unknown key(s) 'field'"),
])
def test_a_bad_file_locks_everything_and_says_why(seqlab_home, monkeypatch, content, says):
    write_lock(seqlab_home, content)
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    lock = classroom.read_lock()
    assert says in lock.problem
    assert lock.presets == () and lock.fields == ()
    assert lock.values["train.epochs"] == 5  # the default


def test_a_missing_named_file_locks_everything(tmp_path, monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, str(tmp_path / "absent.json"))
    lock = classroom.read_lock()
    assert "cannot read" in lock.problem and lock.fields == ()


# ------------------------------------------------------------ enforcement
def test_queue_action_refuses_a_changed_locked_field_and_queues_nothing(lock_file, store, no_worker):
    import streamlit as st

    from seqlab.ui import forms

    st.session_state[forms.REPEATS_KEY] = 1
    config = default_config(**{"train.epochs": 3, "model.units": 64, "model.num_layers": 2})
    with pytest.raises(ValueError, match="model.num_layers is locked by the instructor at 1; received 2"):
        forms.queue_action(store, forms.START, config, None)
    assert store.list_runs() == []


def test_queue_action_queues_a_config_within_the_lock(lock_file, store, no_worker):
    import streamlit as st

    from seqlab.ui import forms

    st.session_state[forms.REPEATS_KEY] = 1
    config = default_config(**{"train.epochs": 3, "model.units": 64, "seed": 7})
    forms.queue_action(store, forms.START, config, None)
    assert [record.config.model.units for record in store.list_runs()] == [64]


def test_queue_preset_refuses_a_preset_the_lock_does_not_allow(lock_file, store, no_worker):
    from seqlab.views.home import queue_preset

    with pytest.raises(ValueError, match="is locked by the instructor; allowed presets"):
        queue_preset(store, list(presets())[1])
    assert store.list_runs() == []


# ------------------------------------------------------------------ pages
def test_train_form_draws_locked_fields_disabled_at_the_locks_value(lock_file):
    at = check_page(open_page(TRAIN_PAGE).run())
    epochs = at.number_input(key="train.epochs")
    assert epochs.disabled and epochs.value == 3
    assert at.selectbox(key="train.arch").disabled
    assert not at.number_input(key="train.units").disabled
    assert "Locked by the instructor" in epochs.help
    assert "locked by the instructor" in texts_of(at.caption)
    assert at.button(key="train.sweep.start").disabled
    assert at.button(key="train.budget.queue_all").disabled


def test_train_form_start_queues_the_locks_values(lock_file, store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.session_state["train.epochs"] = 9  # as a crafted client would: the lock sets it back
    at.number_input(key="train.units").set_value(48)
    at.button(key="train.start").click().run()
    check_page(at)
    (record,) = store.list_runs()
    assert (record.config.train.epochs, record.config.model.units) == (3, 48)


def test_train_page_says_when_the_lock_cannot_be_read(seqlab_home, monkeypatch):
    write_lock(seqlab_home, "not json")
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    at = check_page(open_page(TRAIN_PAGE).run(), LOCKED_SAYS)
    assert at.number_input(key="train.units").disabled


def test_without_the_env_nothing_on_train_is_disabled(monkeypatch):
    monkeypatch.delenv(classroom.CLASSROOM_ENV, raising=False)
    at = check_page(open_page(TRAIN_PAGE).run())
    assert not any(widget.disabled for widget in at.number_input)
    assert not at.button(key="train.sweep.start").disabled


def test_home_disables_presets_the_lock_does_not_allow(lock_file):
    at = check_page(open_page(HOME_PAGE).run())
    disabled = [at.button(key=f"home.preset.{index}").disabled for index in range(len(presets()))]
    assert disabled == [title not in (TOY, ATTENTION) for title in presets()]
    assert "cannot be queued in this class" in texts_of(at.caption)


def test_home_without_the_env_disables_no_preset(monkeypatch):
    monkeypatch.delenv(classroom.CLASSROOM_ENV, raising=False)
    at = check_page(open_page(HOME_PAGE).run())
    assert not any(at.button(key=f"home.preset.{index}").disabled for index in range(len(presets())))
