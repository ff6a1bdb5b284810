"""Charts as files: an Altair chart -> PNG bytes or SVG text, drawn on the server.

Pure functions (no Streamlit), so the command line, notebooks and the pages'
"Save chart" buttons (`seqlab.ui.place_chart`) share them. Drawing goes
through vl-convert (Vega-Lite and Vega compiled into the Python package):
no browser, no network.

Streamlit 1.67 draws charts with Vega-Embed's own menu turned off; its chart
toolbar offers "Download as PNG" (drawn in the browser at the screen's
scale) but no SVG, hence these.

Two things differ between a page and a file, and both are handled here:

- Altair refuses to write more than 5,000 rows into a spec (`MaxRowsError`);
  a token-by-token heatmap of a long text has more. The rows are written
  into a copy of the chart directly (`alt.to_values`), without switching
  Altair's global data transformer, which every session's thread shares
  (Streamlit switches it for each chart it draws).
- A file has no container: a view that takes the page's width
  (`width="container"`, as most seqlab charts do) gets `width` pixels,
  title, axes and legend included, as on the page.
"""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd

# The width a "container" chart gets in a file: Streamlit's centred page
# (seqlab.attention_charts.ATTENTION_PAGE_WIDTH sizes its grids for the same width).
FILE_WIDTH = 700
# Pixels per chart pixel of a PNG: sharp on high-density screens and in slides.
PNG_SCALE = 2
# A scale beyond this makes a PNG of hundreds of megabytes from one big heatmap.
MAX_PNG_SCALE = 8
# What a file name keeps of a chart's key or title.
FILE_STEM_CHARACTERS = 60


def chart_png(chart: alt.TopLevelMixin, scale: float = PNG_SCALE, width: int = FILE_WIDTH) -> bytes:
    """Draws a chart as a PNG image.

    Args:
        chart: an Altair chart (`alt.Chart`, layer, facet or concat), as the
            `seqlab.charts` functions return.
        scale: pixels of the image per pixel of the chart (2: twice the
            page's size, sharp on high-density screens).
        width: pixels given to a view whose width follows its page
            (`width="container"`).

    Returns:
        The PNG file's bytes (starting with the PNG signature).

    Raises:
        ValueError: when `chart` is not an Altair chart, `scale` or `width`
            is out of range, or Vega-Lite cannot draw the spec.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= MAX_PNG_SCALE:
        raise ValueError(f"scale: received {scale!r}, expected a number above 0 and at most {MAX_PNG_SCALE} "
                         f"(pixels of the image per pixel of the chart; {PNG_SCALE} is sharp on most screens)")
    import vl_convert

    return vl_convert.vegalite_to_png(chart_file_spec(chart, width), scale=float(scale), **_convert_options())


def chart_svg(chart: alt.TopLevelMixin, width: int = FILE_WIDTH) -> str:
    """Draws a chart as an SVG document (vector: it stays sharp at any size).

    Args:
        chart: an Altair chart, as for `chart_png`.
        width: pixels given to a view whose width follows its page.

    Returns:
        The SVG text, an `<svg>` root with the chart's title, axes and marks.

    Raises:
        ValueError: as for `chart_png`.
    """
    import vl_convert

    return vl_convert.vegalite_to_svg(chart_file_spec(chart, width), **_convert_options())


def chart_file_spec(chart: alt.TopLevelMixin, width: int = FILE_WIDTH) -> dict[str, Any]:
    """Returns the chart's Vega-Lite spec as a file draws it: every row inline, fixed widths.

    Args:
        chart: an Altair chart, as for `chart_png`.
        width: pixels for each `width="container"`; at the top level the
            whole chart (title, axes, legend) fits into them, as on the page.

    Returns:
        A JSON-ready dict; its `datasets` hold every row, however many.

    Raises:
        ValueError: when `chart` is not an Altair chart or `width` is not a
            positive whole number of pixels.
    """
    if not isinstance(chart, alt.TopLevelMixin):
        raise ValueError(f"chart: received {type(chart).__name__}, expected an Altair chart "
                         f"(alt.Chart, alt.LayerChart, a facet or concat), e.g. from seqlab.charts")
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
        raise ValueError(f"width: received {width!r}, expected a positive whole number of pixels "
                         f"such as {FILE_WIDTH}")
    spec = _with_rows(chart).to_dict()
    if spec.get("width") == "container":
        # "fit" makes the whole chart, not only its plot, as wide as `width`.
        spec.setdefault("autosize", {"type": "fit", "contains": "padding"})
    return _fixed_widths(spec, width)


def chart_file_name(key: str | None, chart: alt.TopLevelMixin, extension: str) -> str:
    """Returns a file name for a chart: its widget key, else its title, else "chart".

    Args:
        key: the chart's key on its page ("compare.loss_chart"), or None.
        chart: the chart, whose title names the file when there is no key.
        extension: "png" or "svg".

    Returns:
        A name of letters, digits, ".", "_" and "-" only, e.g.
        "compare.loss_chart.png" or "training-curves-solid-train-dashed-validation.svg".

    Raises:
        ValueError: for an extension other than png and svg.
    """
    if extension not in ("png", "svg"):
        raise ValueError(f"extension: received {extension!r}, expected 'png' or 'svg'")
    stem = _file_stem(key) if key else _file_stem(chart_title(chart).lower())
    return f"{stem or 'chart'}.{extension}"


def chart_title(chart: alt.TopLevelMixin) -> str:
    """Returns the text of a chart's title ("" when it has none)."""
    title = getattr(chart, "title", alt.Undefined)
    if isinstance(title, alt.Title):
        title = title.text
    elif isinstance(title, dict):
        title = title.get("text", "")
    if isinstance(title, (list, tuple)):
        title = " ".join(map(str, title))
    return title if isinstance(title, str) else ""


# ---------------------------------------------------------------- helpers
def _with_rows(node: Any) -> Any:
    """A copy of a chart with every DataFrame replaced by its rows (`{"values": [...]}`).

    Altair converts a DataFrame with its active data transformer, which
    stops at 5,000 rows and is global; rows given as values pass through
    untouched. Only the chart objects on the way are copied, not the data.
    """
    if isinstance(node, pd.DataFrame):
        return alt.to_values(node)
    if isinstance(node, alt.SchemaBase):
        copy = node.copy(deep=False)
        for name, value in list(copy._kwds.items()):
            copy._kwds[name] = _with_rows(value)
        return copy
    if isinstance(node, list):
        return [_with_rows(item) for item in node]
    if isinstance(node, tuple):
        return tuple(_with_rows(item) for item in node)
    if isinstance(node, dict):
        return {name: _with_rows(value) for name, value in node.items()}
    return node


def _fixed_widths(node: Any, width: int) -> Any:
    """Replaces every `"width": "container"` in a spec (nested views too) with `width` pixels."""
    if isinstance(node, dict):
        return {name: width if name == "width" and value == "container" else _fixed_widths(value, width)
                for name, value in node.items()}
    if isinstance(node, list):
        return [_fixed_widths(item, width) for item in node]
    return node


def _convert_options() -> dict[str, Any]:
    """vl-convert's options: the Vega-Lite version Altair writes, and no fetching of URLs."""
    import vl_convert

    # Altair 6.3 writes "v6.4.1"; vl-convert names its bundled versions "6.4".
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    options: dict[str, Any] = {"allowed_base_urls": []}  # every row is inline: nothing to fetch
    if version in vl_convert.get_vegalite_versions():
        options["vl_version"] = version
    return options


def _file_stem(text: str) -> str:
    """Letters, digits, ".", "_" and "-" of `text`; every other run of characters becomes one "-"."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")[:FILE_STEM_CHARACTERS].rstrip("-.")
