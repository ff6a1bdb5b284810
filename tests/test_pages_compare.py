"""AppTest tests of honest comparisons: seed groups and bands, the verdict, budgets,
early-stopping replay, sweeps and advice (Compare), and the seed, sweep and budget
controls of the Train page.

Runs are seeded straight into each test's store with made-up curves whose
levels the tests choose; no training happens here (queued runs stay queued).
Every page run is judged by `tests.apptest_support.check_page`.
"""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from seqlab.analysis.labels import label_runs
from seqlab.analysis.tables import run_summary_table
from seqlab.ui import compare as compare_ui
from seqlab.views.compare import load_compare
from seqlab.views.train import estimate_vocabulary_size
from seqlab.config import RunConfig
from seqlab.data import load_dataset
from seqlab.models import count_parameters
from seqlab.store import RunStore
from tests.apptest_support import (
    COMPARE_PAGE, TRAIN_PAGE, check_page, frames_with, open_page, texts_of,
)

EPOCHS = 5
LONGRANGE = {"data.dataset": "synthetic-longrange", "train.epochs": EPOCHS}
SWEEP_LENGTHS = (20, 60, 120)


# ------------------------------------------------------------------ helpers
def seed_run(store: RunStore, overrides: dict, level: float, *, group_id: str | None = None,
             seed: int = 0, seconds: float = 0.5, num_params: int = 1000) -> str:
    """Records a completed run whose validation accuracy peaks at `level`.

    Validation loss is lowest at epoch 3 and rises after it while training
    loss keeps falling (overfitting after epoch 3).
    """
    config = RunConfig().with_overrides({"train.epochs": EPOCHS, **overrides, "seed": seed})
    run_id = store.create_run(config, status="running", group_id=group_id, num_params=num_params)
    for epoch in range(1, EPOCHS + 1):
        store.add_epoch(run_id, epoch, {
            "loss": 1.0 / epoch, "accuracy": 0.6 + 0.07 * epoch,
            "val_loss": 0.5 + 0.05 * (epoch - 3) ** 2, "val_accuracy": level - 0.02 * abs(epoch - 3),
            "seconds": seconds,
        })
    store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=level - 0.01)
    return run_id


def seed_group(store: RunStore, overrides: dict, levels: list[float], **kwargs) -> str:
    """Records one completed run per level as a seed group; returns the group id."""
    group_id = store.new_group_id()
    for seed, level in enumerate(levels):
        seed_run(store, overrides, level, group_id=group_id, seed=seed, **kwargs)
    return group_id


@pytest.fixture
def groups(store):
    """Four seed groups of 3: lstm clearly ahead of transformer; gru and bigru overlapping."""
    return {
        "lstm": seed_group(store, {"model.arch": "lstm"}, [0.900, 0.905, 0.895], seconds=1.0, num_params=9000),
        "transformer": seed_group(store, {"model.arch": "transformer"}, [0.700, 0.710, 0.690],
                                  seconds=3.0, num_params=20000),
        "gru": seed_group(store, {"model.arch": "gru"}, [0.80, 0.84, 0.77], seconds=0.8, num_params=7000),
        "bigru": seed_group(store, {"model.arch": "bigru"}, [0.81, 0.77, 0.83], seconds=1.6, num_params=14000),
    }


def open_compare(tab: str = "Curves") -> AppTest:
    """Opens the Compare page on a tab (only the open tab is drawn), as the link ?compare.tab=... does."""
    at = open_page(COMPARE_PAGE)
    at.query_params["compare.tab"] = tab
    at.run()
    check_page(at)
    return at


def compare_with(selected: list[str], tab: str = "Curves") -> AppTest:
    """Opens the Compare page on a tab and selects these items (run ids, or 'group:' + group id)."""
    at = open_compare(tab)
    at.multiselect(key="compare.selected").set_value(selected).run()
    check_page(at)
    return at


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if column in frame.value)


# ------------------------------------------------------------ seed groups
def test_a_group_is_one_entry_drawn_as_a_band(store, groups):
    at = compare_with([f"group:{groups['lstm']}"])
    [accuracy_band, loss_band] = frames_with(at, "band_low")
    assert set(accuracy_band["metric"]) == {"accuracy"} and set(loss_band["metric"]) == {"loss"}
    assert set(accuracy_band["n"]) == {3}
    assert not frames_with(at, "run_id", "split")  # no single-run lines until asked for
    at.toggle(key="compare.show_individual").set_value(True).run()
    check_page(at)
    members = {record.run_id for record in store.list_runs(group_id=groups["lstm"])}
    assert set(frames_with(at, "run_id", "split")[0]["run_id"]) == members


def test_group_row_shows_mean_and_std_of_its_runs(store, groups):
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    table = table_with(at, "n_runs")
    assert len(table) == len(groups)
    summary = load_compare(store).summary
    best = summary[summary["group_id"] == groups["gru"]]["best_val_accuracy"]
    row = table[table["label"].str.startswith("gru")].iloc[0]
    assert row["best_val_accuracy"] == f"{best.mean():.3f} ± {best.std():.3f}"


def test_default_selection_counts_a_group_once(store, groups):
    at = open_page(COMPARE_PAGE).run()
    check_page(at)
    assert sorted(at.multiselect(key="compare.selected").value) == sorted(f"group:{g}" for g in groups.values())


# ----------------------------------------------------------------- verdict
def test_verdict_calls_a_clear_gap_larger_than_the_noise(groups):
    at = compare_with([f"group:{groups['lstm']}", f"group:{groups['transformer']}"], "Verdict")
    assert "larger than the seed-to-seed noise" in texts_of(at.success)
    numbers = table_with(at, "runs")
    assert list(numbers["runs"]) == [3, 3]


def test_verdict_calls_overlapping_groups_within_the_noise(groups):
    at = compare_with([f"group:{groups['gru']}", f"group:{groups['bigru']}"], "Verdict")
    assert "within seed-to-seed noise" in texts_of(at.info)
    at.radio(key="compare.verdict_method").set_value("bootstrap").run()
    check_page(at)
    assert "within seed-to-seed noise" in texts_of(at.info)


def test_verdict_on_test_accuracy_uses_that_metric(groups):
    at = compare_with([f"group:{groups['lstm']}", f"group:{groups['transformer']}"], "Verdict")
    at.selectbox(key="compare.verdict_metric").set_value("test_accuracy").run()
    check_page(at)
    assert "on test accuracy" in texts_of(at.success)


def test_verdict_on_single_runs_says_too_few_seeds(store):
    first = seed_run(store, {"model.arch": "lstm"}, 0.9)
    second = seed_run(store, {"model.arch": "gru"}, 0.8)
    at = compare_with([first, second], "Verdict")
    assert "too few seeds to tell" in texts_of(at.warning).lower()


def test_verdict_asks_for_exactly_two(groups):
    at = compare_with([f"group:{g}" for g in list(groups.values())[:3]], "Verdict")
    assert "Select exactly two runs or seed groups" in texts_of(at.info)


# ------------------------------------------------------------- overfitting
def test_overfitting_tab_explains_each_run_and_replays_early_stopping(store):
    run_id = seed_run(store, {"model.arch": "lstm"}, 0.9)
    at = compare_with([run_id], "Overfitting")
    [row] = table_with(at, "overfit_epoch").to_dict("records")
    assert (row["best_epoch"], row["overfit_epoch"]) == (3, 3)  # the seeded val_loss bottoms at 3
    assert "overfitting after epoch 3" in texts_of(at.markdown)  # explained in words, as text
    at.number_input(key="compare.patience").set_value(1).run()
    check_page(at)
    [replay] = table_with(at, "epochs_saved").to_dict("records")
    assert "with patience 1, training would have stopped at epoch 4" in texts_of(at.markdown)
    assert replay["epochs_saved"] == EPOCHS - 4


# ----------------------------------------------------------------- budgets
def test_budgets_tab_marks_the_pareto_front(groups):
    at = open_compare("Budgets")
    # Each chart holds all runs and, as a second dataset, the front's line: keep the first.
    by_size = max(frames_with(at, "on_front", "num_params"), key=len)
    by_speed = max(frames_with(at, "on_front", "seconds_per_epoch"), key=len)
    assert len(by_size) == len(by_speed) == 3 * len(groups)
    # The most accurate run is on both fronts, and so is the best of the fastest (gru) runs.
    assert by_size.loc[by_size["best_val_accuracy"].idxmax(), "on_front"]
    assert by_speed.loc[by_speed["best_val_accuracy"].idxmax(), "on_front"]
    fastest = by_speed[by_speed["seconds_per_epoch"] == by_speed["seconds_per_epoch"].min()]
    assert by_speed.loc[fastest["best_val_accuracy"].idxmax(), "on_front"]
    assert not by_size[by_size["arch"] == "transformer"]["on_front"].any()


# ------------------------------------------------------------------ advice
def test_advice_ranks_the_users_runs_with_their_numbers(store, groups):
    at = open_compare("Advice")
    advice = texts_of(at.markdown)
    summary = load_compare(store).summary
    best = summary.groupby("arch")["best_val_accuracy"].max()
    assert f"lstm {best['lstm']:.3f}" in advice and f"transformer {best['transformer']:.3f}" in advice
    assert "seconds per epoch" in advice.lower()


# ------------------------------------------------------------------ sweeps
def test_sweep_tab_charts_runs_that_differ_in_sequence_length(store, groups):
    for arch, slope in (("lstm", -0.001), ("transformer", 0.0005)):
        for length in SWEEP_LENGTHS:
            seed_run(store, {**LONGRANGE, "model.arch": arch, "data.sequence_length": length,
                             "data.synthetic_length": length}, 0.8 + slope * length, seconds=length / 100)
    # The same dataset and length but another width: not part of the sweep.
    seed_run(store, {**LONGRANGE, "model.units": 64, "data.sequence_length": 60,
                     "data.synthetic_length": 60}, 0.99)
    at = open_compare("Sweep")
    at.selectbox(key="compare.sweep_field").set_value("data.sequence_length").run()
    check_page(at)
    [sweep] = frames_with(at, "n_runs")
    assert set(sweep["arch"]) == {"lstm", "transformer"}
    assert sorted(sweep["value"].unique()) == list(SWEEP_LENGTHS)
    assert set(sweep["n_runs"]) == {1}
    lstm = sweep[sweep["arch"] == "lstm"].sort_values("value")
    assert np.allclose(lstm["val_accuracy"], [0.8 - 0.001 * length for length in SWEEP_LENGTHS])
    at.radio(key="compare.sweep_metric").set_value("seconds_per_epoch").run()
    check_page(at)
    assert "seconds_per_epoch" in frames_with(at, "n_runs")[0]


def test_sweep_tab_without_a_sweep_says_how_to_start_one(groups):
    at = open_compare("Sweep")
    assert "Start a sweep on the Train page" in texts_of(at.info)


# ------------------------------------------------------------- train page
def test_repeats_queue_one_group_over_seeds(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.number_input(key="train.repeats").set_value(3)
    at.button(key="train.start").click().run()
    check_page(at)
    records = store.list_runs()
    assert sorted(record.config.seed for record in records) == [0, 1, 2]
    assert len({record.group_id for record in records}) == 1 and records[0].group_id


def test_sweep_start_queues_each_architecture_value_and_seed(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.selectbox(key="train.dataset").set_value("synthetic-longrange")
    at.selectbox(key="train.sweep.field").set_value("data.sequence_length")
    at.text_input(key="train.sweep.values").input("20, 60")
    at.multiselect(key="train.sweep.archs").set_value(["lstm", "transformer"])
    at.number_input(key="train.sweep.seeds").set_value(2)
    at.button(key="train.sweep.start").click().run()
    check_page(at)
    records = store.list_runs()
    assert "Queued a sweep of 8 run(s)" in texts_of(at.success)
    points = {(r.arch, r.config.data.sequence_length, r.config.seed) for r in records}
    assert points == {(a, v, s) for a in ("lstm", "transformer") for v in (20, 60) for s in (0, 1)}
    assert all(r.config.data.synthetic_length == r.config.data.sequence_length for r in records)
    assert all(r.config.data.dataset == "synthetic-longrange" for r in records)
    groups = {}
    for record in records:
        groups.setdefault(record.group_id, set()).add((record.arch, record.config.data.sequence_length))
    assert None not in groups and len(groups) == 4  # one seed group per architecture and value
    assert all(len(points) == 1 for points in groups.values())


@pytest.mark.parametrize("values, fragment", [("20", "at least two"), ("20, abc", "'abc'")])
def test_sweep_with_bad_values_says_why_and_queues_nothing(store, no_worker, values, fragment):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.text_input(key="train.sweep.values").input(values)
    at.button(key="train.sweep.start").click().run()
    check_page(at, fragment)
    assert fragment in texts_of(at.error)
    assert store.list_runs() == []


def test_sweep_without_architectures_says_so(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.text_input(key="train.sweep.values").input("20, 40")
    at.multiselect(key="train.sweep.archs").set_value([])
    at.button(key="train.sweep.start").click().run()
    check_page(at, "architectures: received none")
    assert "architectures: received none" in texts_of(at.error)
    assert store.list_runs() == []


def budget_step_ok(config: RunConfig, field: str, target: int) -> bool:
    """Whether `config`'s width is the one whose count is nearest `target` (within one step)."""
    dataset = load_dataset(config.data, config.seed)
    sizes = dict(vocabulary_size=estimate_vocabulary_size(config, dataset),
                 sequence_length=config.data.sequence_length, num_classes=dataset.num_classes)
    name = field.partition(".")[2]
    width = getattr(config.model, name)
    count = {w: count_parameters(config.with_overrides({field: w}).model, **sizes)
             for w in (width - 1, width, width + 1)}
    return abs(count[width] - target) <= min(abs(count[width - 1] - target), abs(count[width + 1] - target))


def test_budget_button_sizes_the_width_to_the_target(no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.selectbox(key="train.arch").set_value("transformer")
    at.number_input(key="train.budget.target").set_value(30_000)
    at.button(key="train.budget.apply").click().run()
    check_page(at)
    ff_dim = at.number_input(key="train.ff_dim").value
    assert ff_dim != RunConfig().model.ff_dim
    # Position embeddings count too: size at the form's (dataset-suggested) sequence length.
    config = RunConfig().with_overrides({"model.arch": "transformer", "model.ff_dim": ff_dim,
                                         "data.sequence_length": at.number_input(key="train.sequence_length").value})
    assert budget_step_ok(config, "model.ff_dim", 30_000)
    assert f"model.ff_dim = {ff_dim}" in texts_of(at.success)


def test_queue_all_at_budget_sizes_each_architecture(store, no_worker):
    at = check_page(open_page(TRAIN_PAGE).run())
    at.number_input(key="train.budget.target").set_value(25_000)
    at.multiselect(key="train.budget.archs").set_value(["lstm", "transformer", "baseline"])
    at.button(key="train.budget.queue_all").click().run()
    check_page(at)
    records = store.list_runs()
    assert sorted(record.arch for record in records) == ["baseline", "lstm", "transformer"]
    fields = {"lstm": "model.units", "transformer": "model.ff_dim", "baseline": "model.embedding_dim"}
    for record in records:
        assert budget_step_ok(record.config, fields[record.arch], 25_000), record.arch


def test_only_the_open_tab_is_drawn(groups):
    at = open_compare("Curves")
    assert frames_with(at, "band_low") and not frames_with(at, "on_front")
    at.session_state["compare.tab"] = "Budgets"  # what clicking the tab does
    at.run()
    check_page(at)
    assert frames_with(at, "on_front") and not frames_with(at, "band_low")


def test_every_tab_draws_from_one_read_while_the_store_is_unchanged(store, groups, store_reads):
    for length in (20, 40):
        seed_run(store, {**LONGRANGE, "data.sequence_length": length, "data.synthetic_length": length}, 0.8)
    calls = store_reads
    at = open_compare()
    assert calls == {"runs_frame": 1, "epochs_frame": 1}
    for tab in ("Curves", "Overfitting", "Verdict", "Budgets", "Sweep", "Advice"):
        at.session_state["compare.tab"] = tab
        calls.update(runs_frame=0, epochs_frame=0)
        at.run()
        check_page(at)
        # Nothing was written and the selection is the same: nothing is read again.
        assert calls == {"runs_frame": 0, "epochs_frame": 0}, tab


def test_a_new_selection_reads_only_its_epochs(store, groups, store_reads):
    at = open_compare()
    store_reads.update(runs_frame=0, epochs_frame=0)
    at.multiselect(key="compare.selected").set_value([f"group:{groups['gru']}"]).run()
    check_page(at)
    assert store_reads == {"runs_frame": 0, "epochs_frame": 1}


def test_a_run_finishing_between_reruns_is_read_and_listed(store, groups, store_reads):
    at = open_compare()
    newer = seed_run(store, {"model.arch": "gru"}, 0.6)
    store_reads.update(runs_frame=0, epochs_frame=0)
    at.run()
    check_page(at)
    assert store_reads["runs_frame"] == 1
    assert newer in set(at.dataframe[0].value["run_id"])


def test_deleting_a_selected_group_deletes_its_runs(store, groups):
    at = compare_with([f"group:{groups['gru']}"])
    at.checkbox(key="compare.confirm_delete").check().run()
    check_page(at)
    at.button(key="compare.delete").click().run()
    check_page(at)
    assert "Deleted 3 run(s)" in texts_of(at.success)
    assert store.list_runs(group_id=groups["gru"]) == []
    assert len(store.list_runs()) == 3 * (len(groups) - 1)
    assert not any(option.startswith("gru ") for option in at.multiselect(key="compare.selected").options)


# ------------------------------------------------------- the selection
def test_legend_labels_name_only_what_tells_the_selected_runs_apart(store):
    # Another lstm elsewhere in the store shares "lstm 32u x1": the selection list must tell the
    # two apart, but a chart of lstm, gru and transformer needs no settings in its legend.
    seed_run(store, {"model.arch": "lstm", "data.sequence_length": 60}, 0.7)
    chosen = [seed_run(store, {"model.arch": arch}, 0.8) for arch in ("lstm", "gru", "transformer")]
    at = compare_with(chosen)
    curves = frames_with(at, "run_id", "split")[0]
    assert set(curves["run_id"]) == set(chosen)
    assert sorted(set(curves["label"])) == ["gru 32u x1", "lstm 32u x1", "transformer 2h x1"]
    options = load_compare(store).options
    assert options[chosen[0]] != "lstm 32u x1" and "sequence_length" in options[chosen[0]]


def test_budgets_open_on_the_selected_runs_dataset(store):
    longrange = [seed_run(store, {**LONGRANGE, "model.arch": arch}, 0.8) for arch in ("lstm", "gru")]
    seed_run(store, {"model.arch": "lstm"}, 0.7)  # newer, on toy
    at = compare_with(longrange, "Budgets")
    assert at.selectbox(key="compare.budget_dataset").value == "synthetic-longrange"
    at.multiselect(key="compare.selected").set_value([store.list_runs(limit=1)[0].run_id]).run()
    check_page(at)
    assert at.selectbox(key="compare.budget_dataset").value == "toy"


def test_advice_speaks_only_of_the_selection(store):
    chosen = [seed_run(store, {"model.arch": arch}, level) for arch, level in (("lstm", 0.8), ("gru", 0.85))]
    seed_run(store, {"model.arch": "transformer"}, 0.9)  # not selected
    at = compare_with(chosen, "Advice")
    advice = texts_of(at.markdown)
    assert "gru 0.850" in advice and "lstm 0.800" in advice
    assert "transformer" not in advice


def test_advice_counts_still_improving_runs_by_their_own_epochs(store):
    config = RunConfig().with_overrides({"model.arch": "lstm", "data.dataset": "toy"})
    run_ids = []
    for seed, epochs in enumerate((4, 4, 6)):
        run_id = store.create_run(config.with_overrides({"seed": seed, "train.epochs": epochs}), status="running")
        for epoch in range(1, epochs + 1):
            store.add_epoch(run_id, epoch, {"loss": 1 / epoch, "accuracy": 0.5, "val_loss": 1 / epoch,
                                            "val_accuracy": 0.5 + epoch / 100, "seconds": 0.1})
        store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=0.6)
        run_ids.append(run_id)
    at = compare_with(run_ids, "Advice")
    advice = texts_of(at.markdown)
    assert "still falling at its last epoch in 3 of 3 runs (epochs 4, 4 and 6)" in advice


# ------------------------------------------------------ stored summaries
def test_compare_reads_the_same_summary_the_epochs_give(store, groups):
    running = store.create_run(RunConfig().with_overrides({"model.arch": "gru"}), status="running")
    stopped = store.create_run(RunConfig().with_overrides({"model.arch": "bigru"}), status="running")
    for epoch in (1, 2):
        store.add_epoch(running, epoch, {"loss": 1 / epoch, "val_loss": 0.9, "val_accuracy": 0.6, "seconds": 1.0})
        store.add_epoch(stopped, epoch, {"loss": 1 / epoch, "val_loss": 1 / epoch, "val_accuracy": 0.7,
                                         "seconds": 1.0, **({"fraction": 0.5} if epoch == 2 else {})})
    store.finish_run(stopped, "stopped", best_epoch=1)  # recorded best epoch: not the lowest loss
    store.finish_run(store.create_run(RunConfig(), status="running"), "failed", message="no data")
    data = load_compare(store)
    recomputed = run_summary_table(store.epochs_frame(), label_runs(store.runs_frame()))
    pd.testing.assert_frame_equal(data.summary, recomputed)


def test_the_run_table_lists_the_newest_runs_until_asked_for_all(store, groups, monkeypatch):
    monkeypatch.setattr(compare_ui, "TABLE_ROWS", 3)
    at = open_compare()
    newest = [record.run_id for record in store.list_runs()]
    assert at.dataframe[0].value["run_id"].tolist() == newest[:3]
    assert len(table_with(at, "n_runs")) == 3  # of the 4 groups
    assert len(at.multiselect(key="compare.selected").options) == len(newest) + len(groups)  # all selectable
    at.toggle(key="compare.all_runs").set_value(True).run()
    check_page(at)
    assert at.dataframe[0].value["run_id"].tolist() == newest
    assert len(table_with(at, "n_runs")) == len(groups)
