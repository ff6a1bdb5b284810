"""Real-browser tests of page links: `streamlit run app.py` driven by Debian's Chromium.

Each link is opened in a fresh browser context (a new session with nothing
in it, as a colleague opening a shared link): a Compare link with two chosen
runs and the Overfitting tab shows exactly that selection on that tab, and so
does the link its "Copy link" button offers; the URL follows the selection;
an Attention link shows its run and its sentence on the heatmaps' axes; a
link naming a deleted run shows one notice and no error; and a run's model
and training script download from the Predict page under their file names.

Compare runs are seeded straight into the server's store (`seed_run` from
tests/test_browser.py, no training); the Attention and Predict links need a
model, so the server's store starts as a copy of the session's tiny
Transformer, trained for real (`toy_runs`, tests/conftest.py).
"""

import ast
import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.browser_support import (
    ERROR_BOX, SCREENSHOTS, full_page_screenshot, new_page, page_problems, wait_for_app, wait_for_charts,
)
from tests.test_browser import heatmap_labels, seed_run, widget

ROOT = Path(__file__).resolve().parent.parent
INFO = '[data-testid="stAlertContentInfo"]'
SENTENCE = "a boring film with great music"

pytestmark = pytest.mark.timeout(400)


# ---------------------------------------------------------------- fixtures
# `server`, `browser` and `page` (a fresh browser context) are tests/conftest.py's.
@pytest.fixture(scope="module")
def served_runs(toy_runs, copy_runs, tmp_path_factory):
    """(home, {"transformer": id}): the server's store, holding the session's tiny Transformer only."""
    return copy_runs(toy_runs, tmp_path_factory.mktemp("browser_links") / "seqlab_home", keep=("transformer",))


@pytest.fixture(scope="module")
def server_home(served_runs):
    """The server's store starts with the tiny Transformer (trained for real, before the server starts)."""
    return served_runs[0]


@pytest.fixture(scope="module")
def compare_runs(server):
    """Three completed runs with made-up curves in the server's store: {arch: run_id}."""
    from seqlab.store import RunStore

    store = RunStore(server.home)
    return {arch: seed_run(store, {"model.arch": arch}, accuracy, seconds)
            for arch, accuracy, seconds in (("lstm", 0.85, 1.0), ("gru", 0.82, 0.8), ("baseline", 0.7, 0.2))}


@pytest.fixture(scope="module")
def transformer_run(server, served_runs):
    """A tiny Transformer trained for real, in the server's store; returns its run id."""
    return served_runs[1]["transformer"]


# ----------------------------------------------------------------- helpers
def open_url(page, url: str) -> None:
    """Opens a URL and waits until its page has drawn its title and settled.

    A fresh server's first visit runs the page twice (the second time through
    app.py's navigation): the app is briefly idle in between, before any title.
    """
    page.goto(url)
    wait_for_app(page)
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    wait_for_app(page)


def selected_items(page) -> list[str]:
    """The Compare selection's tags, as their remove buttons name them ("Remove <option>")."""
    widget(page, "compare.selected").wait_for()
    buttons = widget(page, "compare.selected").locator('button[aria-label^="Remove "]')
    return [button.get_attribute("aria-label").removeprefix("Remove ") for button in buttons.all()]


def open_tab_name(page) -> str:
    return page.get_by_role("tab", selected=True).inner_text().strip()


def copied_link(page) -> str:
    """Opens the page's "Copy link" popover and returns the URL it offers."""
    page.get_by_role("button", name=re.compile("Copy link")).click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"] code')
    code.wait_for()
    return code.inner_text().strip()


def check(page, name: str) -> None:
    """Keeps a screenshot and asserts the page shows no exception or error box."""
    full_page_screenshot(page, SCREENSHOTS / f"links-{name}.png")
    assert not page_problems(page), page_problems(page)


# ------------------------------------------------------------------- tests
def test_a_compare_link_opens_its_two_runs_on_the_overfitting_tab(page, browser, server, compare_runs):
    chosen = [compare_runs["lstm"], compare_runs["baseline"]]
    open_url(page, f"{server.url}/Compare?runs={','.join(chosen)}&compare.tab=Overfitting")
    items = selected_items(page)
    assert len(items) == 2 and all(any(run_id in item for item in items) for run_id in chosen), items
    assert open_tab_name(page) == "Overfitting"
    widget(page, "compare.patience").wait_for()  # the tab's own control is drawn
    check(page, "compare")

    # The link "Copy link" offers opens the same view in yet another fresh browser.
    link = copied_link(page)
    assert link.startswith(f"{server.url}/Compare?") and "compare.tab=Overfitting" in link, link
    other = new_page(browser)
    try:
        open_url(other, link)
        assert sorted(selected_items(other)) == sorted(items)
        assert open_tab_name(other) == "Overfitting"
        assert not page_problems(other), page_problems(other)
    finally:
        other.context.close()


def test_the_compare_url_follows_the_selection(page, server, compare_runs):
    chosen = [compare_runs["lstm"], compare_runs["gru"]]
    open_url(page, f"{server.url}/Compare?runs={','.join(chosen)}")
    [removed] = [item for item in selected_items(page) if compare_runs["gru"] in item]
    widget(page, "compare.selected").locator(f'button[aria-label="Remove {removed}"]').click()
    page.wait_for_url(re.compile(rf"runs={re.escape(compare_runs['lstm'])}(&|$)"))
    wait_for_app(page)
    assert compare_runs["gru"] not in page.url
    check(page, "compare-follows")


def test_a_compare_link_with_a_deleted_run_shows_one_notice(page, server, compare_runs):
    from seqlab.store import RunStore

    store = RunStore(server.home)
    gone = seed_run(store, {"model.arch": "rnn"}, 0.6, 0.5)
    store.delete_run(gone)
    open_url(page, f"{server.url}/Compare?runs={compare_runs['gru']},{gone}")
    notice = page.locator(INFO, has_text=gone)
    notice.wait_for()
    assert notice.count() == 1
    assert notice.locator('[data-testid="stMarkdownContainer"]').inner_text().strip() == f"Run {gone} in this link no longer exists; showing the others."
    items = selected_items(page)
    assert len(items) == 1 and compare_runs["gru"] in items[0], items
    assert page.locator(ERROR_BOX).count() == 0
    check(page, "compare-deleted")


def test_an_attention_link_opens_its_run_and_sentence(page, server, transformer_run):
    open_url(page, f"{server.url}/Attention?run={transformer_run}&text={SENTENCE.replace(' ', '+')}")
    assert transformer_run in widget(page, "attention.run_id").get_by_role("combobox").input_value()
    assert widget(page, "attention.text").locator("input").input_value() == SENTENCE
    wait_for_charts(page, count=2)
    labels = heatmap_labels(page)[:2]  # every head, and one enlarged (the training probe's map follows)
    allowed = set(SENTENCE.split()) | {"[UNK]"}
    assert len(labels) >= 2 and all(axis and {label.split(":")[-1] for label in axis} <= allowed
                                    for axis in labels), labels
    check(page, "attention")


def test_a_runs_model_and_script_download_from_predict(page, server, transformer_run):
    from seqlab.export import archive_name, script_name

    open_url(page, f"{server.url}/Predict?runs={transformer_run}")
    page.get_by_text("Take these runs away").click()
    with page.expect_download() as model_download:
        widget(page, f"predict.take_away.{transformer_run}.model").get_by_role(
            "button", name="Download model (.zip)").click()
    assert model_download.value.suggested_filename == archive_name(transformer_run)
    archive = zipfile.ZipFile(io.BytesIO(Path(model_download.value.path()).read_bytes()))
    assert {"model.keras", "vocabulary.json", "run.json", "README.txt"} <= set(archive.namelist())
    with page.expect_download() as script_download:
        widget(page, f"predict.take_away.{transformer_run}.script").get_by_role(
            "button", name="Download training script (.py)").click()
    assert script_download.value.suggested_filename == script_name(transformer_run)
    ast.parse(Path(script_download.value.path()).read_text())
    wait_for_app(page)
    check(page, "predict-downloads")
