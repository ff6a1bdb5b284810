"""AppTest tests of every page, plus the page logic in `seqlab.views`.

Runs are seeded straight into each test's own store where training is not
the point; one test trains a real tiny run through the background worker
from the Train page, and a module fixture trains one tiny Transformer for
the Attention and Predict pages. Every page run is judged by
`tests.apptest_support.check_page`: no exception and no error box the test
did not name.
"""

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seqlab.data.uploads import list_uploads, save_upload
from seqlab.views.datasets import MAX_SUGGESTED_LENGTH, suggested_data_settings
from seqlab.views.predict import parse_texts
from seqlab.views.train import run_progress, training_speed
from seqlab.config import DataConfig, RunConfig, presets
from seqlab.data import DatasetError, load_dataset
from seqlab.store import RunStore, pid_alive
from tests.apptest_support import (
    ATTENTION_PAGE, COMPARE_PAGE, DATA_PAGE, HOME_PAGE, PREDICT_PAGE, ROOT, TIMEOUT, TRAIN_PAGE,
    chart_frames, check_page, open_page, texts_of,
)

TRAINING_DEADLINE = 240  # seconds a tiny run may take in the worker, TF import included
TINY = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.embedding_dim": 8,
    "model.units": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 1, "train.batch_size": 16, "train.jit_compile": False,
}
GOOD_CSV = b"text,label\n" + b"".join(
    f"{word} film number {i},{label}\n".encode()
    for i in range(12) for word, label in (("great", "pos"), ("awful", "neg"))
)


# ------------------------------------------------------------------ helpers
def seed_run(store: RunStore, *, arch: str = "lstm", epochs: int = 3, status: str = "completed",
             name: str = "") -> str:
    """Records a run with made-up curves (validation loss bottoming out at epoch 2)."""
    config = RunConfig().with_overrides({"model.arch": arch, "train.epochs": epochs, "name": name})
    run_id = store.create_run(config, status="running", num_params=1234)
    for epoch in range(1, epochs + 1):
        store.add_epoch(run_id, epoch, {
            "loss": 1.0 / epoch, "accuracy": 0.5 + 0.1 * epoch,
            "val_loss": 0.8 + 0.05 * (epoch - 2) ** 2, "val_accuracy": 0.55 + 0.05 * epoch,
            "seconds": 0.5,
        })
    if status != "running":
        store.finish_run(run_id, status, test_loss=0.6, test_accuracy=0.7)
    return run_id


def _set_column(store: RunStore, run_id: str, column: str, value) -> None:
    import sqlite3

    with sqlite3.connect(store.db_path) as conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, run_id))


@pytest.fixture
def stop_workers(store):
    """Terminates the worker processes a test started (by their pids in the store)."""
    yield
    for pid in store.live_workers():
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(pid_alive(pid) for pid in store.live_workers()) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="module")
def trained_transformer(toy_runs, copy_runs, tmp_path_factory):
    """(home, run_id) of a store holding only the session's tiny Transformer (tests/conftest.py).

    It was trained for two epochs: the Attention page slides over the maps recorded after each.
    """
    home, runs = copy_runs(toy_runs, tmp_path_factory.mktemp("trained_home") / "home", keep=("transformer",))
    return home, runs["transformer"]


# --------------------------------------------------------------------- home
def test_home_empty_store_says_what_to_do():
    at = open_page(HOME_PAGE).run()
    check_page(at)
    assert "No runs yet" in texts_of(at.info)
    assert "IMDB" in texts_of(at.warning) + texts_of(at.success)
    assert len(at.get("page_link")) == 6  # every page but Home


def test_home_lists_recent_runs(store):
    run_ids = [seed_run(store), seed_run(store, arch="gru", status="failed")]
    at = open_page(HOME_PAGE).run()
    check_page(at)
    shown = at.dataframe[0].value
    assert set(shown["run_id"]) == set(run_ids)
    assert set(shown["status"]) == {"completed", "failed"}


def test_home_preset_queues_its_runs_and_opens_train(store, no_worker):
    titles = list(presets())
    index = next(i for i, title in enumerate(titles) if title.startswith("Toy"))
    at = check_page(open_page(HOME_PAGE).run())
    at.button(key=f"home.preset.{index}").click().run()
    check_page(at)
    queued = store.list_runs(statuses=["queued"])
    assert len(queued) == len(presets()[titles[index]]["runs"])
    assert at.title[0].value == "Train"


def test_home_cards_say_what_to_expect_and_then_whether_it_happened(store):
    at = check_page(open_page(HOME_PAGE).run())
    shown = texts_of(at.markdown)
    for preset in presets().values():
        assert "Expect: " in shown and preset["description"] in texts_of(at.caption)
    assert "as expected" not in texts_of(at.success) and "not this time" not in texts_of(at.warning)
    toy_runs = next(preset["runs"] for title, preset in presets().items() if title.startswith("Toy"))
    for config, accuracy in zip(toy_runs, (0.89, 0.99, 0.86)):  # lstm, transformer, baseline
        run_id = store.create_run(config, status="running", num_params=1000)
        store.finish_run(run_id, "completed", test_accuracy=accuracy, test_loss=0.4)
    at = check_page(open_page(HOME_PAGE).run())
    assert "as expected: all learned well above chance (0.50): lstm 0.89" in texts_of(at.success)


def test_home_and_compare_render_without_tensorflow(store):
    seed_run(store)
    seed_run(store, arch="transformer")
    script = (
        "import sys\n"
        "from tests.apptest_support import check_page, open_page\n"
        f"for page in {[str(HOME_PAGE), str(COMPARE_PAGE)]!r}:\n"
        "    at = check_page(open_page(page, timeout=60).run())\n"
        "print(len(at.get('vega_lite_chart')))\n"
        "print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=TIMEOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    compare_charts, loaded = result.stdout.strip().splitlines()[-2:]
    assert int(compare_charts) >= 3  # the Compare page drew its charts
    assert loaded == "[]"


# --------------------------------------------------------------------- data
def test_data_page_shows_texts_lengths_and_tokens():
    at = check_page(open_page(DATA_PAGE).run())
    at.number_input(key="data.sequence_length").set_value(5).run()
    check_page(at)
    assert len(at.dataframe) >= 2  # splits and examples
    frames = chart_frames(at)
    notes = [frame["note"].iloc[0] for frame in frames if "note" in frame]
    assert any("longer than 5 tokens" in note for note in notes)  # the cut is marked at 5
    tokens = next(frame for frame in frames if "token_id" in frame)
    assert tokens["position"].max() == 4  # 5 positions per example
    assert set(tokens["mask"]) <= {0, 1}


def test_data_page_bad_upload_shows_the_reason():
    at = check_page(open_page(DATA_PAGE).run())
    at.file_uploader(key="data.upload").upload("bad.csv", b"text,label\nhello,1\nworld,1\n", "text/csv")
    at.run()
    check_page(at, "only one class")
    assert "only one class" in texts_of(at.error)


def test_data_page_selects_a_good_upload(seqlab_home):
    at = check_page(open_page(DATA_PAGE).run())
    at.file_uploader(key="data.upload").upload("reviews.csv", GOOD_CSV, "text/csv")
    at.run()
    check_page(at)
    selected = at.selectbox(key="data.dataset").value
    assert Path(selected).parent == seqlab_home.resolve() / "uploads"
    assert "reviews.csv" in texts_of(at.success)


def test_data_settings_carry_over_to_the_train_form():
    at = check_page(open_page(HOME_PAGE).run())
    at.switch_page("pages/1_Data.py").run()
    check_page(at)
    at.number_input(key="data.sequence_length").set_value(7).run()
    check_page(at)
    at.button(key="data.use_settings").click().run()
    check_page(at)
    assert at.title[0].value == "Train"
    assert at.number_input(key="train.sequence_length").value == 7


def test_suggested_sequence_length_suits_each_dataset(seqlab_home):
    assert suggested_data_settings("toy") == {"sequence_length": 16}
    assert suggested_data_settings("imdb") == {"sequence_length": 200}
    assert suggested_data_settings("synthetic-longrange", synthetic_length=60) == {"sequence_length": 60}
    # A file: the 95th percentile of its token counts (every text here has 4), at most 400.
    short = save_upload(seqlab_home, "short.csv", GOOD_CSV)
    assert suggested_data_settings(str(short.path)) == {"sequence_length": 4}
    long_csv = b"text,label\n" + b"".join(f"{'word ' * 500},{i % 2}\n".encode() for i in range(12))
    long = save_upload(seqlab_home, "long.csv", long_csv)
    assert suggested_data_settings(str(long.path)) == {"sequence_length": MAX_SUGGESTED_LENGTH}


def test_data_page_length_follows_the_dataset_and_keeps_what_the_user_typed():
    at = check_page(open_page(DATA_PAGE).run())
    length = lambda: at.number_input(key="data.sequence_length").value  # noqa: E731
    assert length() == suggested_data_settings("toy")["sequence_length"]
    at.selectbox(key="data.dataset").set_value("synthetic-longrange").run()
    check_page(at)
    assert length() == suggested_data_settings("synthetic-longrange")["sequence_length"]
    at.number_input(key="data.sequence_length").set_value(30).run()
    check_page(at)
    at.selectbox(key="data.dataset").set_value("toy").run()
    check_page(at)
    assert length() == suggested_data_settings("toy")["sequence_length"]
    at.selectbox(key="data.dataset").set_value("synthetic-longrange").run()
    check_page(at)
    assert length() == 30  # typed for this dataset, so it comes back


def test_train_form_length_follows_the_dataset_unless_typed_in_the_same_submit(no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    length = lambda: at.number_input(key="train.sequence_length").value  # noqa: E731
    assert length() == suggested_data_settings("toy")["sequence_length"]
    at.selectbox(key="train.dataset").set_value("synthetic-variable")
    at.number_input(key="train.synthetic_length").set_value(24)
    at.button(key="train.estimate").click().run()  # a form applies values on submit
    check_page(at)
    assert length() == 24  # the synthetic task's own length
    at.selectbox(key="train.dataset").set_value("toy")
    at.number_input(key="train.sequence_length").set_value(50)
    at.button(key="train.estimate").click().run()
    check_page(at)
    assert length() == 50


def test_save_upload_refuses_bad_content_and_saves_nothing(seqlab_home):
    with pytest.raises(DatasetError, match="only one class"):
        save_upload(seqlab_home, "bad.csv", b"text,label\nhello,1\nworld,1\n")
    with pytest.raises(DatasetError, match="expected a .csv"):
        save_upload(seqlab_home, "notes.docx", GOOD_CSV)
    assert list_uploads(seqlab_home) == []


def test_saved_json_upload_is_listed_with_its_own_file(seqlab_home):
    content = "".join(f'{{"text": "{word} film {i}", "label": "{label}"}}\n'
                      for i in range(6) for word, label in (("great", "pos"), ("awful", "neg")))
    upload = save_upload(seqlab_home, "reviews.json", content.encode())
    [listed] = list_uploads(seqlab_home)
    assert listed.path == upload.path and listed.path.suffix == ".json"
    assert listed.path.read_bytes() == content.encode()
    assert (listed.filename, listed.num_texts, listed.class_names) == ("reviews.json", 12, ("neg", "pos"))


@pytest.mark.parametrize("filename", ["reviews.json.gz", "reviews.txt.gz"])
def test_gzipped_json_and_txt_uploads_are_accepted(seqlab_home, filename):
    # data/files reads these; the upload list once refused them while saying they were accepted.
    if filename.startswith("reviews.json"):
        text = "".join(f'{{"text": "{word} film {i}", "label": "{label}"}}\n'
                       for i in range(6) for word, label in (("great", "pos"), ("awful", "neg")))
    else:
        text = "text\tlabel\n" + "".join(f"{word} film {i}\t{label}\n"
                                        for i in range(6) for word, label in (("great", "pos"), ("awful", "neg")))
    upload = save_upload(seqlab_home, filename, gzip.compress(text.encode()))
    assert upload.path.name.endswith(filename.partition(".")[2]) and upload.num_texts == 12
    assert RunConfig().with_overrides({"data.dataset": str(upload.path)}).validate()


def test_saved_upload_is_a_dataset_choice_on_the_train_page(store):
    upload = save_upload(store.home, "reviews.csv", GOOD_CSV)
    assert upload.path.read_bytes() == GOOD_CSV
    at = check_page(open_page(TRAIN_PAGE).run())
    at.selectbox(key="train.dataset").set_value(str(upload.path))
    at.button(key="train.estimate").click().run()  # a form applies values on submit
    check_page(at)
    dataset = load_dataset(DataConfig(dataset=str(upload.path)), seed=0)
    assert f"on {len(dataset.train_texts)} training texts" in texts_of(at.markdown)


# -------------------------------------------------------------------- train
def test_train_page_empty_store_shows_form_and_estimate():
    at = open_page(TRAIN_PAGE).run()
    check_page(at)
    assert "parameters" in texts_of(at.markdown)
    assert "rough constant" in texts_of(at.markdown)
    assert "No run is training" in texts_of(at.info)


def test_train_page_invalid_setting_shows_error_not_traceback(store):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.number_input(key="train.sequence_length").set_value(1)
    at.button(key="train.start").click().run()
    check_page(at, "data.sequence_length")
    assert "data.sequence_length" in texts_of(at.error)
    assert store.list_runs() == []


def test_train_page_shows_running_run_and_stop_requests_it(store):
    run_id = seed_run(store, status="running", epochs=3)
    store.set_progress(run_id, phase="training", epoch=3, epochs=3, batch=2, batches=4)
    at = open_page(TRAIN_PAGE).run()
    check_page(at)
    assert len(at.get("progress")) == 2
    curves = next(frame for frame in chart_frames(at) if "split" in frame)
    assert set(curves["run_id"]) == {run_id}
    at.button(key=f"train.stop.{run_id}").click().run()
    check_page(at)
    assert store.get_run(run_id).stop_requested


def test_train_page_trains_a_real_run_in_the_worker(store, stop_workers):
    at = check_page(open_page(TRAIN_PAGE).run())
    for key, value in (("train.sequence_length", 12), ("train.embedding_dim", 8), ("train.units", 8),
                       ("train.epochs", 2), ("train.batch_size", 16)):
        at.number_input(key=key).set_value(value)
    at.selectbox(key="train.jit_compile").set_value("off")
    at.button(key="train.start").click().run()
    check_page(at)
    [record] = store.list_runs()
    assert "Queued 1 run" in texts_of(at.success)
    deadline = time.monotonic() + TRAINING_DEADLINE
    while not store.get_run(record.run_id).finished and time.monotonic() < deadline:
        if not store.live_workers():
            break  # the worker died: its log says why
        time.sleep(0.5)
    finished = store.get_run(record.run_id)
    logs = "\n".join(p.read_text() for p in (store.home / "logs").glob("*.log"))
    assert finished.status == "completed", f"{finished.status}: {finished.message}\n{logs}"
    at.run()
    check_page(at)
    curves = next(frame for frame in chart_frames(at) if "split" in frame)
    assert set(curves["run_id"]) == {record.run_id}
    assert sorted(curves["epoch"].unique()) == [1, 2]
    assert record.run_id in set(at.dataframe[0].value["run_id"])


def test_train_page_states_the_latest_runs_best_and_last_test_accuracy_and_its_seconds(store):
    run_id = seed_run(store, epochs=3)
    store.finish_run(run_id, "completed", test_accuracy=0.74, test_accuracy_last=0.7, best_epoch=2,
                     seconds_per_epoch=0.42, compile_seconds=6.1)
    at = check_page(open_page(TRAIN_PAGE).run())
    text = texts_of(at.markdown)
    assert "test accuracy 0.740 (weights of epoch 2 of 3, the best on validation; the last epoch's: 0.700)" in text
    assert "0.42 s per epoch after a one-off 6.1 s compile" in text


def test_train_form_keeps_the_best_epochs_weights_by_default():
    at = check_page(open_page(TRAIN_PAGE).run())
    box = at.checkbox(key="train.restore_best")
    assert box.value is True and box.label == "Keep the best epoch's weights"


def test_train_page_live_card_says_compiling(store, no_worker):
    run_id = seed_run(store, status="running", epochs=3)
    store.set_progress(run_id, phase="compiling", phase_started_at=time.time() - 5, epoch=1, epochs=3,
                       batch=0, batches=4)
    at = check_page(open_page(TRAIN_PAGE).run())
    texts = [str(bar.proto.text) for bar in at.get("progress")]
    assert any(text.startswith("epoch 1/3: compiling the model… ") and text.endswith(" s") for text in texts)


@pytest.mark.parametrize("page", [TRAIN_PAGE, HOME_PAGE, COMPARE_PAGE])
def test_a_damaged_store_is_reported_on_the_page_not_thrown(seqlab_home, page):
    seqlab_home.mkdir(parents=True, exist_ok=True)
    (seqlab_home / "runs.db").write_bytes(b"junk bytes, not SQLite " * 300)
    at = open_page(page).run()
    check_page(at, "is damaged or is not a seqlab database")
    [error] = at.error
    assert str(seqlab_home / "runs.db") in error.value and "mv " in error.value


# ------------------------------------------------------------------ compare
def test_compare_empty_store_says_what_to_do():
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    assert "No runs to compare yet" in texts_of(at.info)


def test_compare_shows_table_and_overlays_latest_finished_runs(store):
    finished = [seed_run(store, name=f"run {i}") for i in range(3)]
    running = seed_run(store, status="running")
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    assert set(at.dataframe[0].value["run_id"]) == set(finished) | {running}
    assert set(at.multiselect(key="compare.selected").value) == set(finished)
    curves = [frame for frame in chart_frames(at) if "split" in frame]
    assert len(curves) == 2  # loss and accuracy overlays
    assert set(curves[0]["run_id"]) == set(finished)
    assert any("is_best" in frame for frame in chart_frames(at))  # the gap chart


def test_compare_table_says_each_architectures_size_in_its_own_terms(store):
    lstm, transformer = seed_run(store), seed_run(store, arch="transformer")
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    table = at.dataframe[0].value.set_index("run_id")
    config = RunConfig().model
    assert table.loc[lstm, "size"] == f"{config.units} units"
    assert table.loc[transformer, "size"] == f"{config.num_heads} heads, ff {config.ff_dim}"
    assert table.columns[0] == "status"


def test_compare_selection_changes_the_chart_data(store):
    seed_run(store)
    second = seed_run(store)
    at = check_page(open_page(COMPARE_PAGE).run())
    at.multiselect(key="compare.selected").set_value([second]).run()
    check_page(at)
    curves = next(frame for frame in chart_frames(at) if "split" in frame)
    assert set(curves["run_id"]) == {second}
    # The curves' CSV (besides each chart's own PNG/SVG save buttons).
    assert "compare.download" in [button.key for button in at.download_button]


def test_compare_delete_needs_confirmation_and_removes_the_run(store):
    kept, deleted = seed_run(store), seed_run(store)
    at = check_page(open_page(COMPARE_PAGE).run())
    at.multiselect(key="compare.selected").set_value([deleted]).run()
    check_page(at)
    assert at.button(key="compare.delete").disabled
    at.checkbox(key="compare.confirm_delete").check().run()
    check_page(at)
    at.button(key="compare.delete").click().run()
    check_page(at)
    assert [record.run_id for record in store.list_runs()] == [kept]
    assert "Deleted 1 run" in texts_of(at.success)


def test_compare_reads_runs_and_epochs_once_with_many_runs(store, store_reads):
    for i in range(50):
        seed_run(store, arch=("lstm", "gru", "transformer")[i % 3], epochs=4)
    calls = store_reads
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    assert len(at.dataframe[0].value) == 50
    assert calls == {"runs_frame": 1, "epochs_frame": 1}


# ---------------------------------------------------------------- attention
def test_attention_without_transformer_runs_says_how_to_get_one(store):
    lstm = seed_run(store)
    at = open_page(ATTENTION_PAGE)
    at.query_params["attention.run_id"] = lstm
    at.run()
    check_page(at)
    info = texts_of(at.info)
    assert "attention maps exist for transformer runs: train one on the train page" in info.lower()
    assert f"{lstm}" in info and "lstm architecture" in info


def test_attention_draws_heatmaps_of_a_trained_transformer(trained_transformer, monkeypatch):
    home, run_id = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = open_page(ATTENTION_PAGE).run()
    check_page(at)
    assert at.selectbox(key="attention.run_id").value == run_id
    heatmaps = [frame for frame in chart_frames(at) if "weight" in frame]
    # The per-head grid, the enlarged head, and the map recorded after the last epoch.
    assert len(heatmaps) == 3
    assert "" not in set(heatmaps[0]["key_token"])  # padding is left out
    at.text_input(key="attention.text").set_value("   ").run()
    check_page(at, "no text received")
    assert "no text received" in texts_of(at.error)


def test_attention_slider_shows_each_recorded_epochs_map(trained_transformer, monkeypatch):
    home, run_id = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = open_page(ATTENTION_PAGE).run()
    check_page(at)
    slider = at.select_slider(key="attention.history.epoch")
    assert list(slider.options) == ["1", "2"] and slider.value == 2
    last = [frame for frame in chart_frames(at) if "weight" in frame][-1]
    slider.set_value(1).run()
    check_page(at)
    first = [frame for frame in chart_frames(at) if "weight" in frame][-1]
    assert list(first["key_token"]) == list(last["key_token"])
    assert not np.allclose(first["weight"].to_numpy(float), last["weight"].to_numpy(float))
    assert "After epoch 1" in texts_of(at.caption)


def test_compare_draws_the_step_losses_smoothed_by_the_slider(trained_transformer, monkeypatch):
    home, run_id = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = check_page(open_page(COMPARE_PAGE).run())
    steps = next(frame for frame in chart_frames(at) if "smoothed" in frame)
    assert set(steps["run_id"]) == {run_id} and len(steps) > 2
    assert not np.allclose(steps["smoothed"], steps["loss"])  # the default weight smooths
    at.slider(key="compare.smoothing").set_value(0.0).run()
    check_page(at)
    raw = next(frame for frame in chart_frames(at) if "smoothed" in frame)
    np.testing.assert_allclose(raw["smoothed"], raw["loss"])  # weight 0: the raw curve


# ------------------------------------------------------------------ predict
def test_predict_without_runs_says_what_to_do():
    at = open_page(PREDICT_PAGE).run()
    check_page(at)
    assert "No trained run yet" in texts_of(at.info)


def test_predict_shows_each_runs_class(trained_transformer, monkeypatch):
    home, run_id = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = check_page(open_page(PREDICT_PAGE).run())
    at.text_area(key="predict.texts").set_value("what a wonderful film\nboring and awful").run()
    check_page(at)
    table = at.dataframe[0].value
    assert list(table["text"]) == ["what a wonderful film", "boring and awful"]
    assert set(table["predicted_class"]) <= {"negative", "positive"}
    assert set(table["run_id"]) == {run_id}
    assert len([frame for frame in chart_frames(at) if "probability" in frame]) == 2


def test_predict_loads_a_model_once_for_every_text_and_rerun(trained_transformer, monkeypatch):
    import seqlab.inference as inference
    from seqlab.ui import model_cache

    home, run_id = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    model_cache().clear()  # the process's one cache: start without this run's model
    loads = []
    load = inference._load_keras_model
    monkeypatch.setattr(inference, "_load_keras_model", lambda path: loads.append(path) or load(path))
    at = check_page(open_page(PREDICT_PAGE).run())
    at.text_area(key="predict.texts").set_value("a sentence never seen\nnor this one").run()
    check_page(at)
    assert set(at.dataframe[0].value["run_id"]) == {run_id}
    assert len(loads) == 1


def test_page_runs_leave_keras_session_and_prepared_models_alone(trained_transformer, monkeypatch):
    import keras

    from seqlab.ui import model_cache

    home, _ = trained_transformer
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: cleared.append(args))
    model_cache()  # what the Attention and Predict pages call first
    at = check_page(open_page(PREDICT_PAGE).run())
    check_page(at.run())
    assert cleared == []  # Streamlit's runner would empty TensorFlow's kernel cache here


# -------------------------------------------------------------------- views
def test_parse_texts_keeps_non_empty_lines():
    assert parse_texts("  a b \n\n c\n") == ["a b", "c"]


def test_run_progress_of_queued_and_training_runs(store):
    record = store.get_run(store.create_run(RunConfig().with_overrides({"train.epochs": 4})))
    assert run_progress(record).run_fraction == 0.0
    run_id = seed_run(store, status="running", epochs=4)
    store.set_progress(run_id, phase="training", epoch=3, epochs=4, batch=1, batches=2)
    progress = run_progress(store.get_run(run_id))
    assert progress.epoch_fraction == 0.5
    assert progress.run_fraction == (2 + 0.5) / 4


def test_training_speed_is_measured_on_completed_runs_of_the_same_arch(store):
    run_id = seed_run(store, arch="gru", epochs=3)  # 0.5 s per epoch
    store.add_epoch(run_id, 1, {"loss": 1.0, "seconds": 4.0})  # the first epoch compiles
    store.write_meta(run_id, {"examples": {"train": 100}})
    speed = training_speed(store, "gru")
    sequence_length = store.get_run(run_id).config.data.sequence_length
    assert speed.seconds_per_token == pytest.approx(0.5 / (100 * sequence_length))
    assert speed.startup_seconds == pytest.approx(4.0 - 0.5)
    assert "measured on 1 completed gru run" in speed.basis
    assert "rough constant" in training_speed(store, "lstm").basis


def test_training_speed_takes_the_recorded_steady_figure_and_the_whole_one_off_cost(store):
    run_id = seed_run(store, arch="gru", epochs=3)  # epochs of 0.5 s as recorded
    store.finish_run(run_id, "completed", seconds_per_epoch=0.25, compile_seconds=2.0)
    _set_column(store, run_id, "started_at", 100.0)
    _set_column(store, run_id, "finished_at", 110.0)  # 10 s in all: 3 x 0.25 s of steady epochs
    store.write_meta(run_id, {"examples": {"train": 100}})
    speed = training_speed(store, "gru")
    sequence_length = store.get_run(run_id).config.data.sequence_length
    assert speed.seconds_per_token == pytest.approx(0.25 / (100 * sequence_length))
    assert speed.startup_seconds == pytest.approx(10.0 - 3 * 0.25)  # loading, compiling, testing


def test_a_one_epoch_run_does_not_set_the_speed(store):
    run_id = seed_run(store, arch="gru", epochs=1)  # its one epoch includes the compile
    store.write_meta(run_id, {"examples": {"train": 100}})
    assert "rough constant" in training_speed(store, "gru").basis


def test_run_progress_never_shows_more_batches_than_the_epoch_has(store):
    run_id = seed_run(store, status="running", epochs=4)
    store.set_progress(run_id, phase="training", epoch=2, epochs=4, batch=8, batches=6)  # as Keras reported it
    progress = run_progress(store.get_run(run_id))
    assert "batch 6/6" in progress.epoch_text
    assert progress.epoch_fraction == 1.0 and progress.run_fraction == pytest.approx(2 / 4)


def test_run_progress_says_compiling_with_its_seconds(store):
    run_id = seed_run(store, status="running", epochs=4)
    store.set_progress(run_id, phase="compiling", phase_started_at=1000.0, epoch=1, epochs=4,
                       batch=0, batches=6)
    progress = run_progress(store.get_run(run_id), now=1012.4)
    assert progress.epoch_text == "epoch 1/4: compiling the model… 12 s"
    assert progress.epoch_fraction == 0.0


def test_run_progress_keeps_the_epoch_bar_full_while_validating(store):
    run_id = seed_run(store, status="running", epochs=4)
    store.set_progress(run_id, phase="validating", phase_started_at=1000.0, epoch=3, epochs=4,
                       batch=6, batches=6)
    progress = run_progress(store.get_run(run_id), now=1001.0)
    assert progress.epoch_fraction == 1.0 and progress.run_fraction == pytest.approx(3 / 4)
    assert progress.epoch_text.startswith("epoch 3/4: validating")


def test_runs_table_shows_both_test_accuracies_and_the_best_epoch(store):
    from seqlab.views.runs import recent_runs_table

    run_id = seed_run(store, epochs=3)
    store.finish_run(run_id, "completed", test_accuracy=0.74, test_accuracy_last=0.7, best_epoch=2)
    row = recent_runs_table(store).iloc[0]
    assert (row["test_accuracy"], row["test_accuracy_last"], row["best_epoch"]) == (0.74, 0.7, 2)
