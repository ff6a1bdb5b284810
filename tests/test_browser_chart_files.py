"""Real-browser test of saving charts as files: `streamlit run app.py` driven by Debian's Chromium.

On the Compare page of two seeded runs, the "Save chart" popover under the
loss chart downloads a PNG and an SVG of it (drawn on the server by
`seqlab.chart_files` when clicked), and Streamlit's own chart toolbar
downloads a PNG of the view as the browser drew it (Streamlit 1.67 has no
SVG there, hence seqlab's popover). The server, browser and page fixtures
are tests/conftest.py's.
"""

import io
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PIL import Image

from seqlab.chart_files import FILE_WIDTH, PNG_SCALE
from tests.browser_support import CHART, page_problems, wait_for_app, wait_for_charts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
LOSS_CHART = "compare.loss_chart"
EPOCHS = 4

pytestmark = pytest.mark.timeout(300)


# ---------------------------------------------------------------- fixtures
# `server`, `browser` and `page` (a fresh tab that accepts downloads) are tests/conftest.py's.
@pytest.fixture(scope="module")
def server_home(tmp_path_factory):
    """The server's store: two finished runs (no training), recorded before the server starts."""
    from seqlab.store import RunStore

    home = tmp_path_factory.mktemp("browser_chart_files") / "seqlab_home"
    store = RunStore(home)
    for arch, level in (("lstm", 0.9), ("gru", 0.8)):
        seed_run(store, arch, level)
    return home


def seed_run(store, arch: str, level: float) -> str:
    """Records a completed run whose validation accuracy climbs to `level` (made-up curves)."""
    from seqlab.config import RunConfig

    config = RunConfig().with_overrides({"model.arch": arch, "train.epochs": EPOCHS})
    run_id = store.create_run(config, status="running", num_params=1000)
    for epoch in range(1, EPOCHS + 1):
        store.add_epoch(run_id, epoch, {
            "loss": 1.0 / epoch, "accuracy": 0.6 + 0.08 * epoch,
            "val_loss": 0.6 + 0.04 * (epoch - 2) ** 2, "val_accuracy": level - 0.03 * (EPOCHS - epoch),
            "seconds": 0.5,
        })
    store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=level - 0.01)
    return run_id


# ----------------------------------------------------------------- helpers
def widget(page, key: str):
    """The element holding the widget with Streamlit key `key` (dots become dashes in the class)."""
    return page.locator(f".st-key-{key.replace('.', '-')}")


def open_compare(page, server) -> None:
    """Opens the Compare page and waits until its three charts (loss, accuracy, gap) are drawn."""
    page.goto(f"{server.url}/Compare")
    wait_for_app(page)
    wait_for_charts(page, count=3)
    assert not page_problems(page), page_problems(page)


def download(page, button) -> tuple[str, bytes]:
    """Clicks a button that starts a download; returns the file's suggested name and its bytes."""
    with page.expect_download(timeout=60_000) as started:
        button.click()
    saved = started.value
    if saved.failure():
        raise AssertionError(f"download {saved.suggested_filename!r} failed: {saved.failure()}")
    return saved.suggested_filename, Path(saved.path()).read_bytes()


def drawn_marks(root: ElementTree.Element, kind: str) -> int:
    """How many marks of a kind ("line", "rect", "symbol") vega drew into an SVG (axes and legends not counted)."""
    return sum(len(group.findall(f"{SVG_NAMESPACE}path")) for group in root.iter(f"{SVG_NAMESPACE}g")
               if group.get("class", "").startswith(f"mark-{kind} role-mark"))


# ------------------------------------------------------------------- tests
def test_the_save_popover_downloads_the_chart_as_png_and_svg(page, server):
    open_compare(page, server)
    widget(page, f"{LOSS_CHART}.save").locator("button").first.click()
    png_button = widget(page, f"{LOSS_CHART}.save.png").locator("button")
    png_button.wait_for()

    name, png = download(page, png_button)
    assert name == f"{LOSS_CHART}.png"
    assert png.startswith(PNG_SIGNATURE), png[:16]
    picture = Image.open(io.BytesIO(png))
    picture.load()  # decodes every pixel: a truncated file fails here
    # The chart takes the file's page width (its "container"), drawn at twice the size.
    assert picture.width == FILE_WIDTH * PNG_SCALE and 300 < picture.height < 2000, picture.size
    assert len(picture.getcolors(maxcolors=1 << 20) or range(1 << 20)) > 10  # lines and text, not a blank

    name, svg = download(page, widget(page, f"{LOSS_CHART}.save.svg").locator("button"))
    assert name == f"{LOSS_CHART}.svg"
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG_NAMESPACE}svg" and root.get("width") == str(FILE_WIDTH), root.attrib
    texts = [element.text for element in root.iter(f"{SVG_NAMESPACE}text")]
    assert "Loss per epoch" in texts and "epoch" in texts, texts
    # Both runs' curves (a train and a validation line each): the data came along.
    assert drawn_marks(root, "line") >= 4, svg[:2000]
    assert not page_problems(page), page_problems(page)


def test_streamlits_own_toolbar_downloads_a_png_of_the_drawn_chart(page, server):
    open_compare(page, server)
    chart = page.locator(f"[data-testid='stElementContainer']:has({CHART})").first
    chart.hover()
    button = chart.get_by_role("button", name=re.compile("Download as PNG"))
    name, png = download(page, button)
    assert png.startswith(PNG_SIGNATURE), png[:16]
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.width > 300 and picture.height > 200, (name, picture.size)
