"""Charts as files (`seqlab.chart_files`) and the "Save chart" controls under every chart.

Unit tests draw seqlab's own charts to PNG and SVG on the server (vl-convert,
no browser) and read the files back: Pillow decodes every PNG pixel, the SVG
is parsed as XML. AppTest checks that a page's charts carry their save
controls, found by key, and that drawing a page converts nothing. The real
download in a browser is tests/test_browser_chart_files.py.
"""

import io
import xml.etree.ElementTree as ElementTree

import altair as alt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import seqlab.chart_files
from seqlab import charts
from seqlab.attention_charts import attention_heatmap_chart
from seqlab.chart_files import FILE_WIDTH, chart_file_name, chart_file_spec, chart_png, chart_svg
from seqlab.config import RunConfig
from tests.apptest_support import COMPARE_PAGE, check_page, open_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
# A heatmap of 78 tokens attending to 78: 6,084 cells, past Altair's 5,000-row limit.
BIG_TOKENS = 78
EPOCHS = 3
# The Compare page's Curves tab: its three charts' keys.
COMPARE_CHARTS = ("compare.loss_chart", "compare.accuracy_chart", "compare.gap_chart")


# ------------------------------------------------------------------ helpers
def prediction_table() -> pd.DataFrame:
    """Two runs' class probabilities for one text, as `seqlab.inference.predictions_table` writes them."""
    return pd.DataFrame({
        "label": ["lstm 32u", "lstm 32u", "gru 32u", "gru 32u"],
        "class_name": ["negative", "positive"] * 2,
        "probability": [0.2, 0.8, 0.65, 0.35],
    })


def big_attention_table(tokens: int = BIG_TOKENS) -> pd.DataFrame:
    """One head's attention over `tokens` distinct words: tokens x tokens rows, each row summing to 1."""
    rng = np.random.default_rng(0)
    weights = rng.random((tokens, tokens))
    weights /= weights.sum(axis=1, keepdims=True)
    query, key = np.meshgrid(np.arange(tokens), np.arange(tokens), indexing="ij")
    return pd.DataFrame({
        "layer": 0, "head": 0, "query_position": query.ravel(), "key_position": key.ravel(),
        "query_token": [f"word{i}" for i in query.ravel()], "key_token": [f"word{i}" for i in key.ravel()],
        "weight": weights.ravel(),
    })


def svg_root(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def svg_texts(root: ElementTree.Element) -> list[str]:
    return [element.text for element in root.iter(f"{SVG_NAMESPACE}text") if element.text]


def drawn_marks(root: ElementTree.Element, kind: str) -> int:
    """How many marks of a kind ("rect", "line") vega drew into an SVG (axes and legends not counted)."""
    return sum(len(group.findall(f"{SVG_NAMESPACE}path")) for group in root.iter(f"{SVG_NAMESPACE}g")
               if group.get("class", "").startswith(f"mark-{kind} role-mark"))


def decoded_png(data: bytes) -> Image.Image:
    """Decodes every pixel of a PNG (a truncated or corrupt file raises)."""
    assert data.startswith(PNG_SIGNATURE), data[:16]
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def seed_run(store, arch: str, level: float) -> str:
    """Records a completed run with made-up curves (no training)."""
    config = RunConfig().with_overrides({"model.arch": arch, "train.epochs": EPOCHS})
    run_id = store.create_run(config, status="running", num_params=1000)
    for epoch in range(1, EPOCHS + 1):
        store.add_epoch(run_id, epoch, {
            "loss": 1.0 / epoch, "accuracy": 0.6 + 0.1 * epoch, "val_loss": 0.7 + 0.05 * (epoch - 2) ** 2,
            "val_accuracy": level - 0.02 * (EPOCHS - epoch), "seconds": 0.5,
        })
    store.finish_run(run_id, "completed", test_loss=0.5, test_accuracy=level - 0.01)
    return run_id


# --------------------------------------------------------------- PNG and SVG
def test_a_prediction_chart_exports_to_a_png_of_twice_the_page_width():
    picture = decoded_png(chart_png(charts.prediction_chart(prediction_table())))
    # width="container" gets the file's page width (title, axes and legend included), at scale 2.
    assert picture.width == 2 * FILE_WIDTH, picture.size
    assert 100 < picture.height < 600, picture.size  # two bars, their axis and title (measured: 198)
    # Bars, labels and a legend in several colours, not a blank image.
    assert len(picture.convert("RGB").getcolors(maxcolors=1 << 20)) > 20


def test_png_scale_sets_the_pixels_per_chart_pixel():
    chart = charts.prediction_chart(prediction_table())
    once, thrice = decoded_png(chart_png(chart, scale=1)), decoded_png(chart_png(chart, scale=3))
    assert once.width == FILE_WIDTH and thrice.size == (3 * once.width, 3 * once.height), (once.size, thrice.size)


def test_a_prediction_chart_exports_to_an_svg_with_its_title_and_run_labels():
    root = svg_root(chart_svg(charts.prediction_chart(prediction_table())))
    assert root.tag == f"{SVG_NAMESPACE}svg" and root.get("width") == str(FILE_WIDTH), root.attrib
    texts = svg_texts(root)
    assert "Predicted probability of each class, per run" in texts, texts
    assert {"lstm 32u", "gru 32u", "negative", "positive"} <= set(texts), texts
    assert drawn_marks(root, "rect") == 4  # each run's two stacked bars


def test_faceted_training_curves_export_at_their_own_cell_size():
    curves = pd.DataFrame([
        {"run_id": "r1", "epoch": epoch, "split": split, "metric": metric, "value": 1 / epoch}
        for epoch in range(1, 4) for split in ("train", "validation") for metric in ("loss", "accuracy")
    ])
    root = svg_root(chart_svg(charts.training_curves_chart(curves)))
    # Two panels of FACET_CELL + 60 pixels each beside their axes: wider than one, not "container" wide.
    width = float(root.get("width"))
    assert 2 * (charts.FACET_CELL + 60) < width < 3 * (charts.FACET_CELL + 60), width
    assert {"loss", "accuracy"} <= set(svg_texts(root))
    assert drawn_marks(root, "line") == 4  # train and validation in each panel


# ------------------------------------------------------------- big heatmaps
def test_a_heatmap_past_altairs_row_limit_exports_every_cell_to_svg():
    chart = attention_heatmap_chart(big_attention_table(), layer=0, head=0)
    with pytest.raises(alt.MaxRowsError):
        chart.to_dict()  # what a plain export would hit: 6,084 rows
    root = svg_root(chart_svg(chart))
    assert drawn_marks(root, "rect") == BIG_TOKENS ** 2
    # Every token labelled on both axes.
    labels = svg_texts(root)
    assert all(labels.count(f"word{i}") >= 2 for i in range(BIG_TOKENS))


def test_a_heatmap_past_altairs_row_limit_exports_to_png():
    picture = decoded_png(chart_png(attention_heatmap_chart(big_attention_table(), 0, 0), scale=1))
    # The chart's own height: ATTENTION_MARGIN + 16 pixels a token (measured: 1,448 high, 700 wide).
    assert picture.width == FILE_WIDTH and picture.height > 16 * BIG_TOKENS, picture.size


def test_exporting_leaves_the_chart_and_altairs_settings_as_they_were():
    table = big_attention_table()
    chart = attention_heatmap_chart(table, 0, 0)
    spec = chart_file_spec(chart)
    assert sum(len(rows) for rows in spec["datasets"].values()) == BIG_TOKENS ** 2
    # The chart still holds its DataFrame, and Altair's limit still applies to everything else.
    assert isinstance(chart.data, pd.DataFrame) and len(chart.data) == BIG_TOKENS ** 2
    assert alt.data_transformers.active == "default"
    with pytest.raises(alt.MaxRowsError):
        chart.to_dict()


def test_container_widths_become_fixed_and_the_whole_chart_fits_them():
    spec = chart_file_spec(charts.prediction_chart(prediction_table()), width=500)
    assert spec["width"] == 500 and spec["autosize"] == {"type": "fit", "contains": "padding"}
    assert "container" not in str(spec)
    assert svg_root(chart_svg(charts.prediction_chart(prediction_table()), width=500)).get("width") == "500"


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda chart: chart_png(pd.DataFrame()), "chart: received DataFrame, expected an Altair chart"),
    (lambda chart: chart_svg({"mark": "bar"}), "chart: received dict, expected an Altair chart"),
    (lambda chart: chart_png(chart, scale=0), "scale: received 0, expected a number above 0"),
    (lambda chart: chart_png(chart, scale=100), "scale: received 100, expected a number above 0 and at most 8"),
    (lambda chart: chart_svg(chart, width="wide"), "width: received 'wide', expected a positive whole number"),
    (lambda chart: chart_file_name("a.chart", chart, "pdf"), "extension: received 'pdf', expected 'png' or 'svg'"),
])
def test_bad_input_says_what_was_received_and_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call(charts.prediction_chart(prediction_table()))


# --------------------------------------------------------------- file names
def test_file_names_come_from_the_key_else_the_title():
    chart = charts.prediction_chart(prediction_table())
    assert chart_file_name("compare.loss_chart", chart, "png") == "compare.loss_chart.png"
    assert chart_file_name("predict.chart.0", chart, "svg") == "predict.chart.0.svg"
    assert chart_file_name(None, chart, "svg") == "predicted-probability-of-each-class-per-run.svg"
    # An alt.Title (title and subtitle) names the file by its title; no title: "chart".
    curves = charts.metric_overlay_chart(pd.DataFrame(), "loss")
    assert chart_file_name(None, curves, "png") == "loss-per-epoch.png"
    assert chart_file_name(None, alt.Chart(pd.DataFrame({"x": [1]})).mark_point(), "png") == "chart.png"
    assert chart_file_name("odd key/with spaces", chart, "png") == "odd-key-with-spaces.png"


# ----------------------------------------------------------------- the page
@pytest.fixture
def compare_runs(store):
    return [seed_run(store, "lstm", 0.9), seed_run(store, "gru", 0.8)]


@pytest.fixture
def conversions(monkeypatch):
    """Counts the charts drawn to PNG and SVG (what a page run must not do)."""
    calls = {"png": 0, "svg": 0}
    originals = {"png": seqlab.chart_files.chart_png, "svg": seqlab.chart_files.chart_svg}

    def counted(kind):
        def convert(*args, **kwargs):
            calls[kind] += 1
            return originals[kind](*args, **kwargs)
        return convert

    monkeypatch.setattr(seqlab.chart_files, "chart_png", counted("png"))
    monkeypatch.setattr(seqlab.chart_files, "chart_svg", counted("svg"))
    return calls


def test_every_chart_of_the_compare_page_has_png_and_svg_save_controls(compare_runs):
    at = check_page(open_page(COMPARE_PAGE).run())
    assert len(at.get("vega_lite_chart")) == len(COMPARE_CHARTS)
    for key in COMPARE_CHARTS:
        png, svg = at.download_button(key=f"{key}.save.png"), at.download_button(key=f"{key}.save.svg")
        assert (png.label, svg.label) == ("PNG picture", "SVG drawing")
        # Deferred: the page hands Streamlit a callable to run on click, not a converted file.
        assert png.proto.deferred_file_id and not png.proto.url, png.proto
        assert svg.proto.deferred_file_id and not svg.proto.url, svg.proto


def test_drawing_a_page_converts_no_chart(compare_runs, conversions):
    at = check_page(open_page(COMPARE_PAGE).run())
    at = check_page(at.run())  # a rerun draws the charts again
    assert len(at.get("vega_lite_chart")) == len(COMPARE_CHARTS)
    assert conversions == {"png": 0, "svg": 0}


def test_charts_without_a_key_get_save_controls_named_after_their_title_and_numbered():
    def script():
        import pandas as pd

        from seqlab import charts
        from seqlab.ui import place_chart

        table = pd.DataFrame({"label": ["a", "a"], "class_name": ["no", "yes"], "probability": [0.4, 0.6]})
        place_chart(charts.prediction_chart(table))
        place_chart(charts.prediction_chart(table))

    at = check_page(AppTest.from_function(script, default_timeout=60).run())
    name = "chart.predicted-probability-of-each-class-per-run"
    keys = [button.key for button in at.download_button]
    assert keys == [f"{name}.save.png", f"{name}.save.svg", f"{name}.2.save.png", f"{name}.2.save.svg"]
