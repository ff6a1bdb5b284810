"""Page links: encoding and decoding each page's URL state (unit), and every page restoring its
state from a link opened in a fresh session (AppTest), with notices for what a link gets wrong.

Compare, Data and Train links need no model: their runs are seeded straight into the store.
The Attention and Predict pages need trained runs: a tiny two-layer Transformer and a tiny
LSTM, the session's (tests/conftest.py), trained once. Every page run is judged by
`tests.apptest_support.check_page` (no exception, no error box).
"""

import io
import os
import zipfile

import pytest

from seqlab.config import RunConfig, presets
from seqlab.store import RunStore
from seqlab.views import links
from seqlab.views.compare import GROUP_PREFIX
from tests.apptest_support import (
    ATTENTION_PAGE, COMPARE_PAGE, DATA_PAGE, PREDICT_PAGE, TRAIN_PAGE, check_page, chart_frames,
    open_page, texts_of,
)
from tests.test_pages_compare import seed_group, seed_run

SENTENCE = "a boring film with great music"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def trained_home(toy_deep_runs, copy_runs, tmp_path_factory):
    """(home, {"transformer": id, "lstm": id}): a two-layer tiny Transformer and a tiny LSTM.

    The session's `toy_deep_runs` (tests/conftest.py), trained once, copied: the pages run here
    with SEQLAB_HOME on this store.
    """
    return copy_runs(toy_deep_runs, tmp_path_factory.mktemp("links") / "home")


@pytest.fixture
def trained(trained_home, monkeypatch):
    """(store, runs) with SEQLAB_HOME on the trained store."""
    home, runs = trained_home
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    return RunStore(home), runs


@pytest.fixture
def compare_runs(store):
    """Three single runs and one seed group of two, seeded (no training)."""
    return {
        "lstm": seed_run(store, {"model.arch": "lstm"}, 0.80),
        "gru": seed_run(store, {"model.arch": "gru"}, 0.75),
        "transformer": seed_run(store, {"model.arch": "transformer"}, 0.70),
        "group": seed_group(store, {"model.arch": "bigru"}, [0.81, 0.83]),
    }


def open_link(page, params: dict):
    """Opens a page with these URL parameters in a fresh session; checks it."""
    at = open_page(page)
    for name, value in params.items():
        at.query_params[name] = value
    return check_page(at.run())


def link_notices(at) -> list[str]:
    """The page's info boxes about its link."""
    return [str(info.value) for info in at.info if "link" in str(info.value)]


def copy_link(at) -> str:
    """The URL in the page's "Copy link" popover."""
    [code] = [element.value for element in at.code if str(element.value).startswith(("?", "http"))]
    return code


# ------------------------------------------------------------- unit: values
def test_lists_read_commas_and_repeated_parameters_each_item_once():
    assert links.split_list("r1, r2,,r1") == ["r1", "r2"]
    assert links.split_list(["r1,r2", "r3"]) == ["r1", "r2", "r3"]
    assert links.split_list("") == [] and links.split_list(None) == []


def test_formatted_values_read_back_as_the_same_settings():
    values = {"train.learning_rate": 0.0003, "model.use_mask": False, "model.units": 48,
              "train.jit_compile": "off", "name": "my run, v2"}
    back = links.read_config_link({path: links.format_value(value) for path, value in values.items()})
    assert not back.notices
    assert {path: back.config.flat()[path] for path in values} == values


def test_numbers_out_of_range_or_not_numbers_give_notices():
    assert links.read_int("7", "patience", 0, 50) == (7, None)
    for text in ("seven", "99", "-1", "2.5"):
        value, notice = links.read_int(text, "patience", 0, 50)
        assert value is None and notice == (f"The link's patience={text!r} was left out: "
                                            f"expected a whole number from 0 to 50.")
    assert links.read_float("nan", "smoothing", 0.0, 1.0)[0] is None


# ------------------------------------------------------------ unit: Compare
OPTIONS = [GROUP_PREFIX + "g1", "r3", "r2", "r1"]  # newest first, a group before its newest run


def test_a_compare_link_round_trips_its_selection_patience_and_smoothing():
    selected = ["r1", GROUP_PREFIX + "g1"]
    params = links.compare_params(selected, group_prefix=GROUP_PREFIX, patience=4, default_patience=2,
                                  smoothing=0.6, default_smoothing=0.0)
    assert params == {"runs": "r1", "groups": "g1", "patience": "4", "smoothing": "0.6"}
    back = links.read_compare_link(params, OPTIONS, group_prefix=GROUP_PREFIX, smoothing_default=0.0)
    assert (back.selected, back.patience, back.smoothing, back.notices) == ([GROUP_PREFIX + "g1", "r1"], 4, 0.6, [])


def test_defaults_stay_out_of_a_compare_link_but_the_selection_is_always_named():
    assert links.compare_params([], group_prefix=GROUP_PREFIX, patience=2, default_patience=2) == {"runs": ""}
    back = links.read_compare_link({"runs": ""}, OPTIONS, group_prefix=GROUP_PREFIX)
    assert back.selected == [] and back.patience is None


def test_deleted_runs_and_groups_in_a_compare_link_are_named_in_one_notice():
    back = links.read_compare_link({"runs": "r1,r-gone,r-lost", "groups": "g-gone"}, OPTIONS,
                                   group_prefix=GROUP_PREFIX)
    assert back.selected == ["r1"]
    assert back.notices == ["Runs r-gone and r-lost and seed group g-gone in this link no longer exist; "
                            "showing the others."]


def test_a_compare_link_with_no_run_left_falls_back_to_the_default_selection():
    back = links.read_compare_link({"runs": "r-gone"}, OPTIONS, group_prefix=GROUP_PREFIX)
    assert back.selected is None
    assert back.notices == ["Run r-gone in this link no longer exists; showing the latest runs instead."]


def test_an_integer_smoothing_default_reads_a_whole_window():
    back = links.read_compare_link({"smoothing": "5"}, OPTIONS, group_prefix=GROUP_PREFIX, smoothing_default=1)
    assert back.smoothing == 5 and isinstance(back.smoothing, int)
    bad = links.read_compare_link({"smoothing": "1.5"}, OPTIONS, group_prefix=GROUP_PREFIX)
    assert bad.smoothing is None and "smoothing='1.5'" in bad.notices[0]


# ------------------------------------------------- unit: Attention, Predict
def test_an_attention_link_says_typed_text_apart_from_a_picked_example():
    typed = links.attention_params("r1", text=SENTENCE, picked=False, layer=1, default_layer=2, head="2")
    assert typed == {"run": "r1", "text": SENTENCE, "layer": "1", "head": "2"}
    assert links.read_attention_link(typed) == links.AttentionLink("r1", SENTENCE, None, "1", "2")
    picked = links.attention_params("r1", text=SENTENCE, picked=True, layer=2, default_layer=2, head="mean")
    assert picked == {"run": "r1", "example": SENTENCE}
    assert links.attention_params("r1", text="the default", picked=False, default_text="the default") == {"run": "r1"}


def test_a_predict_link_round_trips_runs_and_texts_and_names_what_is_missing():
    params = links.predict_params(["r2", "r1"], ["good film", "bad, long film"])
    assert params == {"runs": "r2,r1", "texts": "good film\nbad, long film"}
    back = links.read_predict_link(params, ["r1", "r2", "r3"])
    assert (back.run_ids, back.texts, back.missing) == (["r2", "r1"], "good film\nbad, long film", [])
    assert links.predict_params(["r1"], ["a"], ["a"]) == {"runs": "r1"}
    gone = links.read_predict_link({"runs": "r9,r1"}, ["r1"])
    assert (gone.run_ids, gone.missing) == (["r1"], ["r9"])
    assert links.read_predict_link({"runs": "r9"}, ["r1"]).run_ids is None


def test_the_notice_tells_a_deleted_run_from_one_without_a_model():
    assert links.runs_left_out_notice(["r9"], without_model=["r5", "r6"], others_left=False) == (
        "Run r9 in this link no longer exists; runs r5 and r6 in this link have no saved model "
        "(still training, or failed); showing the latest runs instead.")
    assert links.runs_left_out_notice() == ""


# ----------------------------------------------------- unit: Data and Train
def test_the_default_recipe_gives_an_empty_train_link():
    values = RunConfig().with_overrides({"data.sequence_length": 16}).flat()  # toy's suggested length
    assert links.config_params(values, links.reference_values(values)) == {}


def test_a_train_link_holds_only_what_differs_and_reads_back_the_same_recipe():
    config = RunConfig().with_overrides({"data.dataset": "synthetic-negation", "data.sequence_length": 40,
                                         "model.arch": "gru", "model.units": 64, "train.learning_rate": 0.0005,
                                         "model.use_mask": False, "seed": 3, "name": "gru & co"})
    params = links.config_params(config.flat(), links.reference_values(config.flat()))
    # 40 is the negation task's own length: the suggestion, so left out.
    assert params == {"data.dataset": "synthetic-negation", "model.arch": "gru", "model.units": "64",
                      "model.use_mask": "false", "train.learning_rate": "0.0005", "seed": "3", "name": "gru & co"}
    back = links.read_config_link(params)
    assert back.notices == [] and sorted(back.given) == sorted(params)
    reference = links.reference_values(back.config.flat())
    assert {**back.config.flat(), "data.sequence_length": reference["data.sequence_length"]} == config.flat()


def test_a_hand_edited_train_link_keeps_its_good_settings_and_names_the_bad_ones():
    back = links.read_config_link({"model.units": "64", "train.epochs": "0", "model.unitz": "8", "other": "x"},
                                  prefixes=links.CONFIG_PREFIXES)
    assert back.config.model.units == 64 and back.config.train.epochs == RunConfig().train.epochs
    [epochs, misspelt] = back.notices
    assert epochs.startswith("The link's train.epochs='0' was left out: train.epochs: received 0, expected")
    assert misspelt.startswith("The link's model.unitz='8' was left out: expected a setting this page takes")


def test_a_preset_is_found_by_its_title_or_its_lesson():
    title = "Attention at work: word order needs positions"
    first = presets()[title]["runs"][0]
    assert links.preset_config("attention") == (first, "")
    assert links.preset_config(title.upper()) == (first, "")
    config, notice = links.preset_config("nope")
    assert config is None and notice.startswith("The link's preset was left out: preset: received 'nope'")


def test_the_train_forms_other_controls_round_trip_and_bad_ones_are_named():
    values = {"train.repeats": 3, "train.sweep.archs": ["gru", "rnn"], "train.budget.target": 20_000}
    params = links.form_extra_params(values, {"train.repeats": 1, "train.budget.target": 20_000})
    assert params == {"repeats": "3", "sweep.archs": "gru,rnn"}
    assert links.read_form_extras(params) == ({"train.repeats": 3, "train.sweep.archs": ["gru", "rnn"]}, [])
    read, notices = links.read_form_extras({"repeats": "99", "sweep.archs": "gru,cnn", "sweep.field": "seed"})
    assert read == {} and len(notices) == 3


def test_a_files_link_always_carries_its_sequence_length():
    assert links.suggested_length("toy") == 16 and links.suggested_length("synthetic-presence", 24) == 24
    values = {"data.dataset": "/uploads/a.csv", "data.sequence_length": 200}
    assert links.config_params(values, links.reference_values(values)) == {"data.dataset": "/uploads/a.csv"}
    assert links.suggested_length("/uploads/a.csv") is None


# --------------------------------------------------------- AppTest: Compare
def test_compare_opens_a_link_with_its_runs_group_tab_and_patience(compare_runs):
    at = open_link(COMPARE_PAGE, {"runs": f"{compare_runs['lstm']},{compare_runs['gru']}",
                                  "groups": compare_runs["group"], "patience": "4", "compare.tab": "Overfitting"})
    assert set(at.multiselect(key="compare.selected").value) == {
        compare_runs["lstm"], compare_runs["gru"], GROUP_PREFIX + compare_runs["group"]}
    assert at.number_input(key="compare.patience").value == 4  # drawn: the Overfitting tab is open
    assert not link_notices(at)
    # The URL keeps the link, and "Copy link" offers it.
    assert at.query_params["patience"] == "4" and at.query_params["groups"] == compare_runs["group"]
    assert "patience=4" in copy_link(at) and "compare.tab=Overfitting" in copy_link(at)


def test_compare_url_follows_the_selection(compare_runs):
    at = open_link(COMPARE_PAGE, {"runs": compare_runs["lstm"]})
    at.multiselect(key="compare.selected").set_value([compare_runs["transformer"]]).run()
    check_page(at)
    assert at.query_params["runs"] == compare_runs["transformer"] and "groups" not in at.query_params
    assert at.multiselect(key="compare.selected").value == [compare_runs["transformer"]]  # not the link's


def test_compare_link_with_a_deleted_run_gives_one_notice_and_shows_the_others(store, compare_runs):
    gone = compare_runs["gru"]
    store.delete_run(gone)
    at = open_link(COMPARE_PAGE, {"runs": f"{compare_runs['lstm']},{gone}"})
    assert link_notices(at) == [f"Run {gone} in this link no longer exists; showing the others."]
    assert at.multiselect(key="compare.selected").value == [compare_runs["lstm"]]
    assert at.query_params["runs"] == compare_runs["lstm"]


def test_compare_link_with_a_malformed_patience_keeps_the_default(compare_runs):
    at = open_link(COMPARE_PAGE, {"patience": "lots"})
    assert link_notices(at) == ["The link's patience='lots' was left out: expected a whole number from 0 to 50."]
    assert "patience" not in at.query_params


# ------------------------------------------------------- AppTest: Attention
def test_attention_opens_a_link_with_its_run_text_layer_and_head(trained):
    store, runs = trained
    at = open_link(ATTENTION_PAGE, {"run": runs["transformer"], "text": SENTENCE, "layer": "1", "head": "2"})
    assert at.selectbox(key="attention.run_id").value == runs["transformer"]
    assert at.text_input(key="attention.text").value == SENTENCE
    assert (at.selectbox(key="attention.layer").value, at.selectbox(key="attention.head").value) == (1, "2")
    grid = next(frame for frame in chart_frames(at) if "weight" in frame)
    assert set(grid["layer"]) == {1}
    assert {token.split(":")[-1] for token in grid["key_token"]} <= set(SENTENCE.split()) | {"[UNK]"}
    assert dict(at.query_params) == {"run": runs["transformer"], "text": SENTENCE, "layer": "1", "head": "2"}


def test_attention_opens_a_link_with_a_picked_example(trained):
    from seqlab.data import examples_table, load_dataset

    store, runs = trained
    config = store.get_run(runs["transformer"]).config
    example = examples_table(load_dataset(config.data, config.seed), "test", n=10)["text"].iloc[3]
    at = open_link(ATTENTION_PAGE, {"run": runs["transformer"], "example": example})
    assert at.radio(key="attention.source").value == "Pick a dataset example"
    assert at.selectbox(key="attention.example").value == example
    assert at.query_params["example"] == example


def test_attention_link_with_a_bad_layer_names_it_and_shows_the_last_layer(trained):
    _, runs = trained
    at = open_link(ATTENTION_PAGE, {"run": runs["transformer"], "layer": "7"})
    assert link_notices(at) == ["The link's layer='7' was left out: expected one of 1, 2."]
    assert at.selectbox(key="attention.layer").value == 2 and "layer" not in at.query_params


def test_attention_link_to_a_deleted_run_gives_one_notice(trained):
    _, runs = trained
    at = open_link(ATTENTION_PAGE, {"run": "r-gone"})
    assert [text for text in texts_of(at.info).splitlines() if "r-gone" in text] == [
        "There is no run 'r-gone' in this store; pick a transformer run below."]
    assert at.query_params["run"] == runs["transformer"]


def test_an_old_attention_link_still_opens_its_run_and_is_rewritten(trained):
    _, runs = trained
    at = open_link(ATTENTION_PAGE, {"attention.run_id": runs["transformer"]})
    assert at.selectbox(key="attention.run_id").value == runs["transformer"]
    assert "attention.run_id" not in at.query_params and at.query_params["run"] == runs["transformer"]


# --------------------------------------------------------- AppTest: Predict
def test_predict_opens_a_link_with_its_runs_and_texts(trained):
    _, runs = trained
    at = open_link(PREDICT_PAGE, {"runs": runs["lstm"], "texts": "great film\nawful film"})
    assert at.multiselect(key="predict.run_ids").value == [runs["lstm"]]
    assert at.text_area(key="predict.texts").value == "great film\nawful film"
    shown = at.dataframe[0].value
    assert set(shown["text"]) == {"great film", "awful film"} and set(shown["run_id"]) == {runs["lstm"]}


def test_predict_link_with_a_deleted_run_gives_one_notice(trained):
    _, runs = trained
    at = open_link(PREDICT_PAGE, {"runs": f"r-gone,{runs['transformer']}"})
    assert link_notices(at) == ["Run r-gone in this link no longer exists; showing the others."]
    assert at.multiselect(key="predict.run_ids").value == [runs["transformer"]]


def test_predict_offers_each_runs_model_and_script_built_only_when_clicked(trained):
    _, runs = trained
    at = open_link(PREDICT_PAGE, {"runs": f"{runs['lstm']},{runs['transformer']}"})
    buttons = {element.proto.label: element.proto for element in at.get("download_button")}
    assert {"Download model (.zip)", "Download training script (.py)"} <= set(buttons)
    keys = [element.proto.id for element in at.get("download_button")]
    assert sum(f"predict.take_away.{runs['lstm']}.model" in key for key in keys) == 1
    assert sum("predict.take_away." in key and key.endswith((".model", ".script")) for key in keys) == 4
    # Deferred: no file was made while drawing the page.
    assert not buttons["Download model (.zip)"].url


def test_the_model_archive_is_a_loadable_zip_kept_per_model_version(trained_home, tmp_path):
    import shutil

    from seqlab.ui.links import model_archive

    home, runs = trained_home
    store = RunStore(shutil.copytree(home, tmp_path / "copy"))
    first = model_archive(store, runs["lstm"])
    assert model_archive(store, runs["lstm"]) is first  # kept: not zipped again
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert {"model.keras", "vocabulary.json", "run.json", "README.txt"} <= set(names)
    model_path = store.model_path(runs["lstm"])
    model_path.write_bytes(model_path.read_bytes())  # re-saved: a new version
    os.utime(model_path, ns=(1, 1))
    assert model_archive(store, runs["lstm"]) is not first


def test_compare_offers_a_selected_runs_model(trained):
    _, runs = trained
    at = open_link(COMPARE_PAGE, {"runs": runs["lstm"]})
    assert at.selectbox(key="compare.take_away").value == runs["lstm"]
    labels = [element.proto.label for element in at.get("download_button")]
    assert "Download model (.zip)" in labels and "Download training script (.py)" in labels


# ------------------------------------------------------------ AppTest: Data
def test_data_opens_a_link_with_its_dataset_settings_and_split():
    at = open_link(DATA_PAGE, {"data.dataset": "synthetic-negation", "data.vocabulary_size": "5000",
                               "data.padding": "pre", "split": "test"})
    assert at.selectbox(key="data.dataset").value == "synthetic-negation"
    assert at.number_input(key="data.vocabulary_size").value == 5000
    assert at.selectbox(key="data.padding").value == "pre"
    assert at.number_input(key="data.sequence_length").value == 40  # the task's suggested length
    assert at.radio(key="data.split").value == "test"
    assert not link_notices(at)
    assert dict(at.query_params) == {"data.dataset": "synthetic-negation", "data.vocabulary_size": "5000",
                                     "data.padding": "pre", "split": "test"}


def test_data_link_with_bad_values_names_them_and_uses_the_defaults():
    at = open_link(DATA_PAGE, {"data.dataset": "gone.csv", "data.sequence_length": "many"})
    [notice] = link_notices(at)
    assert "data.sequence_length='many'" in notice and "dataset 'gone.csv' is not available here" in notice
    assert at.selectbox(key="data.dataset").value == "toy" and not at.query_params.get("data.dataset")


def test_data_url_follows_the_settings():
    at = check_page(open_page(DATA_PAGE).run())
    assert dict(at.query_params) == {}
    at.number_input(key="data.vocabulary_size").set_value(3000).run()
    check_page(at)
    assert dict(at.query_params) == {"data.vocabulary_size": "3000"}


# ----------------------------------------------------------- AppTest: Train
def test_train_opens_a_link_with_its_recipe(no_worker):
    at = open_link(TRAIN_PAGE, {"model.arch": "gru", "model.units": "64", "train.epochs": "3", "repeats": "2"})
    assert at.selectbox(key="train.arch").value == "gru"
    assert (at.number_input(key="train.units").value, at.number_input(key="train.epochs").value) == (64, 3)
    assert at.number_input(key="train.repeats").value == 2
    assert at.number_input(key="train.sequence_length").value == 16  # the toy sentences' suggested length
    assert not link_notices(at)
    assert dict(at.query_params) == {"model.arch": "gru", "model.units": "64", "train.epochs": "3", "repeats": "2"}


def test_train_opens_a_preset_link_with_its_first_run(no_worker):
    first = presets()["Attention at work: word order needs positions"]["runs"][0]
    at = open_link(TRAIN_PAGE, {"preset": "attention"})
    assert at.selectbox(key="train.arch").value == first.model.arch == "transformer"
    assert at.selectbox(key="train.dataset").value == first.data.dataset
    assert at.number_input(key="train.sequence_length").value == first.data.sequence_length
    assert at.number_input(key="train.num_examples").value == first.data.num_examples
    # Rewritten as the recipe it filled in: the same form when opened again.
    again = open_link(TRAIN_PAGE, dict(at.query_params))
    assert "preset" not in at.query_params
    for key in ("train.sequence_length", "train.synthetic_length", "train.num_examples"):
        assert again.number_input(key=key).value == at.number_input(key=key).value


def test_train_link_with_bad_values_gives_one_notice_not_an_error(no_worker):
    at = open_link(TRAIN_PAGE, {"preset": "nope", "train.learning_rate": "fast", "model.units": "64"})
    [notice] = link_notices(at)
    assert "preset: received 'nope'" in notice and "train.learning_rate='fast'" in notice
    assert at.number_input(key="train.units").value == 64


def test_train_url_follows_the_submitted_form(no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    assert dict(at.query_params) == {}
    at.number_input(key="train.units").set_value(48)
    at.button(key="train.estimate").click().run()
    check_page(at)
    assert dict(at.query_params) == {"model.units": "48"}
    assert copy_link(at) == "?model.units=48"
