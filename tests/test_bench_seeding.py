"""bench/ui_latency.py seeds its stores through RunStore: any number of epochs, summaries stored."""

import importlib.util
import sys
from pathlib import Path

import pytest

from seqlab.store import RunStore

BENCH = Path(__file__).resolve().parent.parent / "bench" / "ui_latency.py"


@pytest.fixture(scope="module")
def ui_latency():
    spec = importlib.util.spec_from_file_location("ui_latency", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("epochs", [1, 3, 4])
def test_seed_store_records_finished_runs_of_few_epochs(ui_latency, tmp_path, epochs):
    ui_latency.seed_store(tmp_path, 7, epochs)
    store = RunStore(tmp_path)
    runs = store.runs_frame()
    assert len(runs) == 7 and set(runs["status"]) == {"completed"}
    assert set(store.epochs_frame().groupby("run_id").size()) == {epochs}
    assert store.summaries_frame()["epochs_run"].tolist() == [epochs] * 7
    assert runs["group_id"].notna().sum() >= 3  # the second half repeats recipes over seeds
