"""The real-browser test: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Opens every page by its URL, trains a tiny Transformer from the Train page's
form through the background worker, and checks that its curves draw on the
Train and Compare pages, that the Attention page draws a heatmap for a typed
sentence and that Predict classifies with it, with no exception on any page.
Two 3-seed groups with clearly different curves (seeded straight into the
server's store, no training) are drawn on the Compare page as bands and its
Verdict tab calls the difference larger than the seed-to-seed noise. A
preset clicked on Home is trained by the worker and its card then says that
its lesson held. Last, the attention preset's Transformer, trained for real,
draws heatmaps whose rows concentrate on the two cue words (asserted on the
weights the page draws) with every token labelled.

Full-page screenshots land in tests/artifacts/screenshots/ (git-ignored) for
people to look at; with SEQLAB_UPDATE_DOCS=1 the Compare page comparing the
seed groups and three single runs is also copied to docs/compare.png (the
README's picture).
"""

import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser_support import (
    CHART, DRAWN_CHART, MAIN, SCREENSHOTS, drawn_charts, full_page_screenshot, new_page, page_problems,
    wait_for_app, wait_for_charts,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS_PICTURE = ROOT / "docs" / "compare.png"
# The README's pictures of the Inside page: (tab, the chart's title) -> file.
INSIDE_PICTURES = {("What the RNN remembers", "after each token"): ROOT / "docs" / "running-prediction.png",
                   ("Which words decided", "Which words decided"): ROOT / "docs" / "attributions.png"}
INSIDE_SENTENCE = "the film was not good"
# URL path (Streamlit derives it from the file name, number prefix dropped) -> title on the page.
PAGES = {"Home": ("/", "seqlab"), "Data": ("/Data", "Data"), "Train": ("/Train", "Train"),
         "Compare": ("/Compare", "Compare runs"), "Attention": ("/Attention", "Attention"),
         "Predict": ("/Predict", "Predict"), "Inside": ("/Inside", "Inside a model")}
# The tiny run typed into the Train page's form (widget key -> value); the rest keeps defaults.
TINY_FORM = {"train.sequence_length": 12, "train.embedding_dim": 8, "train.key_dim": 4,
             "train.ff_dim": 8, "train.epochs": 2, "train.batch_size": 16}
TRAINING_TIMEOUT_MS = 180_000  # the worker imports TensorFlow, builds and fits on 2 busy cores
SENTENCE = "a boring movie with great music"
# The app root while a script run is in flight or asked for (Streamlit 1.67's marker).
APP_BUSY = '[data-testid="stApp"]:not([data-test-script-state="notRunning"])'
# Streamlit marks the panels of closed tabs inert.
OPEN_TAB_PANEL = '[data-testid="stTabPanel"]:not([inert])'
# Seeded runs on the long-range task: (overrides, final validation accuracy, seconds per epoch).
SEEDED_EPOCHS = 10
SEEDED_GROUPS = {
    "lstm": ({"model.arch": "lstm", "model.units": 64}, 0.90, 1.3),
    "transformer": ({"model.arch": "transformer", "model.num_heads": 4, "model.num_layers": 2}, 0.74, 2.6),
}
SEEDED_SINGLES = (
    ({"model.arch": "gru"}, 0.86, 1.0),
    ({"model.arch": "bilstm"}, 0.88, 2.1),
    ({"model.arch": "baseline"}, 0.66, 0.3),
)
# The preset clicked on Home: the quickest to train whose lesson is still checked for real
# (three models on the toy sentences; its card names the accuracies they reached).
TOY_PRESET = "Toy sentiment in seconds"
# Its three runs, one after another in the one worker, each compiled and fitted on 2 busy cores.
PRESET_TIMEOUT_MS = 330_000
ATTENTION_PRESET = "Attention at work: word order needs positions"
CUE_WORDS = ("good", "bad")
SUCCESS = '[data-testid="stAlertContentSuccess"]'

pytestmark = pytest.mark.timeout(400)


# ---------------------------------------------------------------- fixtures
# `server` (over an empty store), `browser` and `page` are tests/conftest.py's.
@pytest.fixture(scope="module")
def trained_run(browser, server):
    """Trains a tiny Transformer from the Train page's form; returns its run id."""
    (SCREENSHOTS / "Train-timeout.png").unlink(missing_ok=True)
    tab = new_page(browser)
    try:
        open_page(tab, server, "Train")
        choose(tab, "train.arch", "transformer")
        for key, value in TINY_FORM.items():
            type_number(tab, key, value)
        # XLA compilation would take longer than the whole tiny fit.
        choose(tab, "train.jit_compile", "off")
        widget(tab, "train.start").locator("button").click()

        notice = tab.locator('[data-testid="stAlertContentSuccess"]', has_text="Queued 1 run(s)")
        notice.wait_for()
        run_id = re.search(r"Queued 1 run\(s\): (\S+)\.", notice.inner_text()).group(1)

        finished = tab.locator('[data-testid="stMarkdownContainer"]',
                               has_text=re.compile(rf"Latest: .*{re.escape(run_id)} · "))
        try:
            finished.wait_for(timeout=TRAINING_TIMEOUT_MS)
        except Exception as error:
            full_page_screenshot(tab, SCREENSHOTS / "Train-timeout.png")
            raise AssertionError(f"run {run_id} did not finish within {TRAINING_TIMEOUT_MS // 1000} s; "
                                 f"server and worker output:\n{server.log()}") from error
        assert "completed" in finished.inner_text(), f"{finished.inner_text()}\n{server.log()}"
        assert not page_problems(tab), page_problems(tab)
        return run_id
    finally:
        tab.context.close()


@pytest.fixture(scope="module")
def seed_groups(server):
    """Two 3-seed groups far apart (lstm ahead of transformer) and three single runs, newest last.

    Recorded straight into the server's store with made-up learning curves;
    returns {"lstm": group label, "transformer": group label}.
    """
    from seqlab.store import RunStore

    store = RunStore(server.home)
    for overrides, accuracy, seconds in SEEDED_SINGLES:
        seed_run(store, overrides, accuracy, seconds)
    labels = {}
    for name, (overrides, accuracy, seconds) in SEEDED_GROUPS.items():
        group_id = store.new_group_id()
        for seed in range(3):
            run_id = seed_run(store, overrides, accuracy, seconds, seed=seed, group_id=group_id)
        labels[name] = store.get_run(run_id).label
    return labels


def seed_run(store, overrides: dict, accuracy: float, seconds: float, *, seed: int = 0,
             group_id: str | None = None) -> str:
    """Records a completed run whose validation accuracy climbs to about `accuracy`.

    Each seed adds its own small noise (about 0.01), far below the gap
    between the seeded groups; validation loss turns up over the last epochs.
    """
    from seqlab.config import RunConfig
    from seqlab.models import count_parameters

    config = RunConfig().with_overrides({
        "data.dataset": "synthetic-longrange", "data.sequence_length": 40, "train.epochs": SEEDED_EPOCHS,
        **overrides, "seed": seed,
    })
    num_params = count_parameters(config.model, vocabulary_size=60, sequence_length=40, num_classes=2)
    run_id = store.create_run(config, status="running", group_id=group_id, num_params=num_params)
    noise = np.random.default_rng([seed, round(accuracy * 100)]).normal(0, 0.01, SEEDED_EPOCHS)
    val_loss = 1.25 - accuracy  # where validation loss levels off; training loss ends at half of it
    for epoch in range(1, SEEDED_EPOCHS + 1):
        learned = 1 - math.exp(-epoch / 2.5)
        store.add_epoch(run_id, epoch, {
            "loss": 0.69 - (0.69 - val_loss / 2) * learned, "accuracy": 0.5 + (accuracy + 0.06 - 0.5) * learned,
            "val_loss": 0.69 - (0.69 - val_loss) * learned + 0.004 * max(0, epoch - 6) ** 2,
            "val_accuracy": 0.5 + (accuracy - 0.5) * learned + noise[epoch - 1],
            "seconds": seconds * (3 if epoch == 1 else 1),
        })
    store.finish_run(run_id, "completed", test_loss=1.2 - accuracy, test_accuracy=accuracy - 0.01 + noise[0])
    return run_id


@pytest.fixture(scope="module")
def attention_run(server):
    """The attention preset's Transformer (with position embeddings), trained for real; returns its run id.

    The preset's recipe (`synthetic-longrange` at 24 tokens, 10,000 texts,
    the default model), trained through the one training path in this
    process and recorded in the server's store, in 3 epochs instead of 5 and
    without the XLA compile: it reaches 1.00 on validation by its 2nd epoch,
    and on 2 cores the compile costs more than the whole fit.
    """
    from seqlab.config import presets
    from seqlab.jobs import train_foreground
    from seqlab.store import RunStore

    config = presets()[ATTENTION_PRESET]["runs"][0].with_overrides(
        {"train.epochs": 3, "train.jit_compile": False})
    assert (config.model.arch, config.model.position_embedding, config.data.sequence_length) == (
        "transformer", True, 24)
    record = train_foreground(config, RunStore(server.home))
    assert record.status == "completed", record.message
    assert record.test_accuracy > 0.9, f"the Transformer did not learn the task: {record.test_accuracy}"
    return record.run_id


@pytest.fixture(scope="module")
def inside_runs(server):
    """An LSTM and a Transformer trained for real on the toy sentences with the form's defaults.

    The toy preset's own recipe (its negated sentences make "not good" a
    lesson), through the one training path in this process, without the XLA
    compile (it costs more than these fits on 2 cores). Returns their ids.
    """
    from seqlab.config import presets
    from seqlab.jobs import train_foreground
    from seqlab.store import RunStore

    found = []
    for config in presets()[TOY_PRESET]["runs"][:2]:
        record = train_foreground(config.with_overrides({"train.jit_compile": False}), RunStore(server.home))
        assert record.status == "completed", record.message
        found.append(record.run_id)
    return found


# ----------------------------------------------------------------- helpers
def widget(page, key: str):
    """The element holding the widget with Streamlit key `key` (dots become dashes in the class)."""
    return page.locator(f".st-key-{key.replace('.', '-')}")


def open_page(page, server, name: str) -> None:
    """Opens a page by its URL and waits until it has rendered; checks its title."""
    path, title = PAGES[name]
    page.goto(server.url + path)
    wait_for_app(page)
    heading = page.locator("h1").first
    assert heading.inner_text().strip() == title, f"{path}: title {heading.inner_text()!r}"


def choose(page, key: str, option: str) -> None:
    """Picks `option` in the selectbox with key `key`."""
    box = widget(page, key).get_by_role("combobox")
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    assert box.input_value() == option


def type_number(page, key: str, value: int | float) -> None:
    """Types `value` into the number input with key `key` (Tab commits it, as a person would)."""
    box = widget(page, key).locator("input")
    box.fill(str(value))
    box.press("Tab")


def set_checkbox(page, key: str, checked: bool) -> None:
    box = widget(page, key).locator("input[type=checkbox]")
    if box.is_checked() != checked:
        widget(page, key).locator("label").click()
    assert box.is_checked() == checked


def check_and_keep(page, name: str, suffix: str = "") -> Path:
    """Saves a full-page screenshot and asserts the page shows no exception or error."""
    path = SCREENSHOTS / f"{name}{suffix}.png"
    full_page_screenshot(page, path)
    problems = page_problems(page) + [f"script error: {error}" for error in page.script_errors]
    assert not problems, f"{name}: {problems} (screenshot: {path})"
    return path


def open_tab(page, name: str) -> None:
    """Opens a tab and waits for its content: only the open tab is drawn, by a rerun the click starts."""
    page.get_by_role("tab", name=name, exact=True).click()
    page.locator(f"{OPEN_TAB_PANEL} [data-testid='stElementContainer']").first.wait_for()
    wait_for_app(page)


def heatmap_labels(page) -> list[list[str]]:
    """The axis labels of the text's two attention heatmaps (every head, one enlarged).

    The page's third heatmap, the map recorded during training, shows a
    validation text of the run's, not the text typed.
    """
    return [chart["labels"] for chart in drawn_charts(page) if chart["rects"]][:2]


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_opens_by_its_url_on_an_empty_store(page, server, name):
    open_page(page, server, name)
    check_and_keep(page, name, "-empty")


def test_sidebar_names_every_page_home_first(page, server):
    open_page(page, server, "Home")
    links = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    links.first.wait_for()
    # Each link's text is its icon's ligature name, then its label.
    assert [text.split()[-1] for text in links.all_inner_texts()] == list(PAGES)
    page.get_by_role("link", name="Compare").first.click()
    page.wait_for_url(server.url + PAGES["Compare"][0])
    wait_for_app(page)
    assert page.locator("h1").first.inner_text().strip() == PAGES["Compare"][1]


def test_training_from_the_form_completes_with_the_form_settings(server, trained_run):
    from seqlab.store import RunStore

    record = RunStore(server.home).get_run(trained_run)
    assert record.status == "completed", record.message
    assert (record.config.model.arch, record.config.data.sequence_length,
            record.config.train.epochs, record.config.train.jit_compile) == ("transformer", 12, 2, "off")
    assert len(RunStore(server.home).epochs(trained_run)) == 2


def test_train_page_draws_the_finished_runs_curves(page, server, trained_run):
    open_page(page, server, "Train")
    # The finished run's card: the innermost block holding its "Latest: ..." line and a drawn chart.
    card = (page.locator('[data-testid="stVerticalBlock"]')
            .filter(has_text=re.compile(rf"Latest: .*{re.escape(trained_run)}"))
            .filter(has=page.locator(DRAWN_CHART)).last)
    card.wait_for()
    # Training and validation curves: at least two lines.
    assert any(chart["lines"] >= 2 for chart in drawn_charts(page)), drawn_charts(page)
    check_and_keep(page, "Train")


def test_compare_page_overlays_the_runs_curves(page, server, trained_run):
    open_page(page, server, "Compare")
    assert trained_run in widget(page, "compare.selected").inner_text()
    # Loss and accuracy overlays (train and validation lines), and the generalization gap.
    wait_for_charts(page, count=3)
    charts = drawn_charts(page)
    assert sum(chart["lines"] >= 2 for chart in charts) >= 2, charts
    assert all(chart["lines"] + chart["points"] > 0 for chart in charts), charts
    check_and_keep(page, "Compare")


def test_compare_page_tabs_open_without_errors(page, server, trained_run):
    open_page(page, server, "Compare")
    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    for name in tabs.all_inner_texts():
        open_tab(page, name.strip())
        check_and_keep(page, "Compare-tab-" + re.sub(r"\W+", "_", name.strip()))


def test_attention_page_draws_a_heatmap_for_a_typed_sentence(page, server, trained_run):
    open_page(page, server, "Attention")
    assert trained_run in widget(page, "attention.run_id").get_by_role("combobox").input_value()
    wait_for_charts(page, count=2)  # all heads of the last layer, and one head enlarged
    sentence = widget(page, "attention.text").locator("input")
    sentence.fill(SENTENCE)
    sentence.press("Enter")
    # Both heatmaps redraw with the typed words (or [UNK], outside the vocabulary) on their axes.
    allowed = sorted(set(SENTENCE.split()) | {"[UNK]"})
    try:
        page.wait_for_function(
            """([chart, allowed]) => {
                const heatmaps = [...document.querySelectorAll(chart)].filter(c => c.querySelector('.mark-rect path')).slice(0, 2);
                const labels = heatmaps.map(c => [...c.querySelectorAll('.role-axis-label text')].map(t => t.textContent));
                return heatmaps.length >= 2 && labels.every(axis => axis.length > 0 &&
                    axis.every(label => allowed.includes(label.split(':').slice(-1)[0])));
            }""",
            arg=[CHART, allowed], timeout=60_000)
    except PlaywrightTimeoutError:
        pass  # the assertion below says what the heatmaps show instead
    wait_for_app(page)
    labels = heatmap_labels(page)
    assert len(labels) >= 2 and all(
        axis and {label.split(":")[-1] for label in axis} <= set(allowed) for axis in labels
    ), f"heatmap axes {labels}, expected only tokens of {SENTENCE!r}"
    # Every token is labelled, on both axes (no label dropped for lack of room).
    positions = [f"{i}:" for i in range(len(SENTENCE.split()))]
    assert all(sum(label.startswith(p) for label in axis) >= 2 for axis in labels for p in positions), labels
    # Nothing wider than the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_and_keep(page, "Attention")


def test_predict_page_classifies_with_the_run(page, server, trained_run):
    open_page(page, server, "Predict")
    assert trained_run in widget(page, "predict.run_ids").inner_text()
    wait_for_charts(page)
    # One bar chart of class probabilities per text.
    assert all(chart["rects"] > 0 for chart in drawn_charts(page)), drawn_charts(page)
    check_and_keep(page, "Predict")


def test_home_and_data_pages_render_with_a_run_in_the_store(page, server, trained_run):
    open_page(page, server, "Home")
    check_and_keep(page, "Home")
    open_page(page, server, "Data")
    wait_for_charts(page, count=3)  # label balance, length histogram, tokens and padding
    check_and_keep(page, "Data")


def test_compare_draws_seed_groups_in_bands_and_calls_the_gap_beyond_the_noise(page, server, seed_groups):
    open_page(page, server, "Compare")
    # By default the latest items: both groups (bands) and the three single runs (overlaid curves).
    wait_for_charts(page, count=5)
    charts = drawn_charts(page)
    assert sum(chart["areas"] > 0 for chart in charts) == 2, charts  # accuracy and loss bands
    # Overlays of three runs: a train and a validation line each.
    assert sum(chart["lines"] >= 6 for chart in charts) >= 2, charts
    path = check_and_keep(page, "Compare-groups")
    if os.environ.get("SEQLAB_UPDATE_DOCS") == "1":
        DOCS_PICTURE.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS_PICTURE)

    keep_only_groups(page)
    selected = widget(page, "compare.selected").inner_text()
    assert all(label in selected for label in seed_groups.values()), selected
    # Exactly the two bands and the gap: the single runs' overlays (left over while the page reran) are gone.
    page.wait_for_function("chart => document.querySelectorAll(chart).length === 3", arg=CHART)
    wait_for_charts(page, count=3)
    charts = drawn_charts(page)
    assert sum(chart["areas"] > 0 for chart in charts) == 2, charts
    # Each group's label is drawn whole in the bands' legends (vega would end a cut one in "…").
    for chart in charts[:2]:
        legend = chart["legend_labels"]
        assert len(legend) == 2 and not any(label.endswith("…") for label in legend), legend
        assert all(any(label in shown for shown in legend) for label in seed_groups.values()), legend
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_and_keep(page, "Compare-groups-bands")

    open_tab(page, "Verdict")
    verdict = page.locator('[data-testid="stAlertContentSuccess"]', has_text="larger than the seed-to-seed noise")
    verdict.wait_for()
    assert all(label in verdict.inner_text() for label in seed_groups.values()), verdict.inner_text()
    check_and_keep(page, "Compare-verdict")
    # Every completed run on the seeded task against its size and speed.
    open_tab(page, "Budgets")
    wait_for_charts(page, count=2)
    check_and_keep(page, "Compare-budgets")


def keep_only_groups(page) -> None:
    """Removes every single run from the Compare selection, one tag at a time, as a person would."""
    while True:
        names = [button.get_attribute("aria-label") for button in
                 widget(page, "compare.selected").locator('button[aria-label^="Remove "]').all()]
        singles = [name for name in names if "seed group" not in name]
        if not singles:
            return
        widget(page, "compare.selected").locator(f'button[aria-label="{singles[0]}"]').click()
        page.locator(f'button[aria-label="{singles[0]}"]').wait_for(state="detached")
        wait_for_rerun(page)


def wait_for_rerun(page) -> None:
    """Waits for the rerun a widget change starts, then until the page has settled.

    The tag or value changes in the browser at once; the rerun (and so the
    idle marker going away) follows a moment later, or has already come and
    gone on a quick one.
    """
    try:
        page.wait_for_selector(APP_BUSY, timeout=3_000)
    except PlaywrightTimeoutError:
        pass
    wait_for_app(page)


def preset_card(page, title: str):
    """The bordered card of the Home page holding the preset's "Queue these runs" button."""
    from seqlab.config import presets

    button = widget(page, f"home.preset.{list(presets()).index(title)}")
    return page.locator('[data-testid="stVerticalBlock"]').filter(has=button).last


def test_a_preset_clicked_on_home_is_trained_and_its_card_says_its_lesson_held(page, server):
    from seqlab.config import presets
    from seqlab.store import RunStore
    from seqlab.views.home import preset_lessons

    open_page(page, server, "Home")
    card = preset_card(page, TOY_PRESET)
    assert card.locator("strong").first.inner_text() == TOY_PRESET
    assert "Expect: " in card.inner_text()
    widget(page, f"home.preset.{list(presets()).index(TOY_PRESET)}").locator("button").click()
    page.wait_for_url(server.url + PAGES["Train"][0])
    wait_for_app(page)

    # Back on Home while the worker trains them: the card waits, then redraws itself with the verdict.
    open_page(page, server, "Home")
    card = preset_card(page, TOY_PRESET)
    card.get_by_text(re.compile(r"waiting for its runs: \d of 3 finished")).wait_for()
    verdict = card.locator(SUCCESS, has_text="as expected: ")
    try:
        verdict.wait_for(timeout=PRESET_TIMEOUT_MS)
    except PlaywrightTimeoutError as error:
        full_page_screenshot(page, SCREENSHOTS / "Home-preset-timeout.png")
        raise AssertionError(f"no verdict on the {TOY_PRESET!r} card within {PRESET_TIMEOUT_MS // 1000} s; "
                             f"its card says {card.inner_text()!r}; server and worker output:\n"
                             f"{server.log()}") from error

    store = RunStore(server.home)
    lesson = next(item for item in preset_lessons(store) if item.title == TOY_PRESET)
    assert lesson.status == "held", lesson.sentence
    # The alert's text after its icon: the sentence `lessons` wrote for these runs.
    assert verdict.locator('[data-testid="stMarkdownContainer"]').inner_text().strip() == lesson.sentence
    # Judged on the three runs the click queued, as the preset configures them, trained by the worker.
    judged = [store.get_run(run_id) for run_id in lesson.run_ids]
    assert [record.config.flat() for record in judged] == [config.flat() for config in presets()[TOY_PRESET]["runs"]]
    assert all(record.status == "completed" and record.test_accuracy > 0.75 for record in judged), judged
    check_and_keep(page, "Home-preset-held")


def cue_shares(frame, text: str) -> dict[str, float]:
    """Each head's mean share of a row's weight that goes to the cue words, from a heatmap's table."""
    cues = frame[frame["key_token"].str.split(":").str[-1].isin(CUE_WORDS)]
    assert len(set(cues["key_position"])) == 2, f"{text!r}: cue columns {sorted(set(cues['key_token']))}"
    on_cues = cues.groupby(["head", "query_position"])["weight"].sum()
    return on_cues.groupby("head").mean().to_dict()


def test_the_attention_presets_transformer_looks_at_the_cue_words(server, attention_run, monkeypatch):
    """The weights behind the Attention page's heatmaps, for dataset examples as a student picks them."""
    from tests.apptest_support import ATTENTION_PAGE, check_page, frames_with
    from tests.apptest_support import open_page as open_script

    monkeypatch.setenv("SEQLAB_HOME", str(server.home))
    at = open_script(ATTENTION_PAGE)
    at.query_params["attention.run_id"] = attention_run
    check_page(at.run())
    at.radio(key="attention.source").set_value("Pick a dataset example").run()
    check_page(at)
    examples = at.selectbox(key="attention.example").options[:3]
    for text in examples:
        at.selectbox(key="attention.example").set_value(text).run()
        check_page(at)
        assert not [info.value for info in at.info if "nearly uniform" in str(info.value)]
        # Every head and their mean; the mean enlarged (the map recorded in training comes after).
        grid, heatmap = frames_with(at, "weight", "key_token")[:2]
        assert set(heatmap["head"]) == {"mean"} and len(set(grid["head"])) == 3
        num_tokens = len(text.split())
        assert heatmap["key_position"].nunique() == num_tokens == 24
        even = 2 / num_tokens  # what the two cue columns get of a row under a uniform spread
        shares = cue_shares(grid, text)
        # The enlarged map (the heads' mean): rows give the two cues over half their weight,
        # 6x their even share (measured: 8.5x to 11x, of at most 12x)...
        assert cue_shares(heatmap, text)["mean"] > 6 * even, shares
        # ... and every head of the grid gives them a third or more (measured: 6x to 12x): none is flat.
        assert min(shares.values()) > 4 * even, shares


def test_the_attention_presets_heatmaps_label_every_token_in_the_browser(page, server, attention_run):
    page.goto(f"{server.url}{PAGES['Attention'][0]}?attention.run_id={attention_run}")
    wait_for_app(page)
    widget(page, "attention.source").get_by_text("Pick a dataset example").click()
    wait_for_rerun(page)
    wait_for_charts(page, count=2)
    tokens = widget(page, "attention.example").get_by_role("combobox").input_value().split()
    assert len(tokens) == 24 and set(CUE_WORDS) <= set(tokens), tokens
    # Both heatmaps (every head, and the mean enlarged) label every token on both axes.
    expected = sorted(f"{position}:{token}" for position, token in enumerate(tokens))
    labels = heatmap_labels(page)
    assert len(labels) >= 2, labels
    for axis_labels in labels:
        assert all(axis_labels.count(label) >= 2 for label in expected), (expected, axis_labels)
    assert "nearly uniform" not in page.locator(MAIN).inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_and_keep(page, "Attention-preset")


@pytest.mark.parametrize("tab", ["What the RNN remembers", "Which words decided", "Gradient flow",
                                 "Where models err"])
def test_each_inside_view_draws_on_trained_runs(page, server, inside_runs, tab):
    page.goto(f"{server.url}/Inside?inside.tab={tab.replace(' ', '+')}")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text().strip() == "Inside a model"
    # app.py's navigation, also when a link is a fresh server's first visit (not Streamlit's file list).
    links = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    assert [text.split()[-1] for text in links.all_inner_texts()] == list(PAGES)
    wait_for_charts(page)
    charts = drawn_charts(page)
    assert all(chart["renderer"] != "svg" or chart["rects"] + chart["lines"] + chart["points"] > 0
               for chart in charts), charts
    # Nothing wider than the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_and_keep(page, "Inside-" + re.sub(r"\W+", "_", tab))
    for (picture_tab, title), picture in INSIDE_PICTURES.items():
        if picture_tab == tab and os.environ.get("SEQLAB_UPDATE_DOCS") == "1":
            page.locator(CHART).filter(has_text=title).first.screenshot(path=str(picture))


def test_presentation_mode_makes_text_and_chart_labels_projector_sized(page, server, seed_groups):
    page.goto(f"{server.url}{PAGES['Compare'][0]}?present=1")
    wait_for_app(page)
    wait_for_charts(page, count=2)  # how many depends on the latest runs the other tests left
    caption = page.locator(f"{MAIN} [data-testid='stMarkdownContainer'] p").first
    assert caption.evaluate("element => getComputedStyle(element).fontSize") == "22px"
    # Chart tick labels are drawn at 18 px (Vega writes the size on each label).
    sizes = page.evaluate(f"""() => [...document.querySelectorAll('{CHART} .role-axis-label text')]
                               .map(t => t.getAttribute('font-size') || getComputedStyle(t).fontSize)""")
    assert sizes and all(size.startswith("18") for size in sizes), sizes[:10]
    path = check_and_keep(page, "Compare-presentation")
    if os.environ.get("SEQLAB_UPDATE_DOCS") == "1":
        shutil.copyfile(path, ROOT / "docs" / "presentation.png")
