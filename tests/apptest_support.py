"""The one AppTest harness: opening pages, the strict page check, reading what a page drew.

Every page test uses `check_page` after each run: it fails on an exception
*and* on any `st.error` the test did not declare. The pages wrap their work
in `seqlab.ui.error_boundary`, which turns a ValueError, KeyError or OSError
into an `st.error` box, so checking `at.exception` alone would pass over a
page that shows an error instead of its content. A test that means to
provoke an error names it: `check_page(at, "only one class")` passes only
when every error box contains one of the given substrings and every
substring is in some error box.

`bench/ui_latency.py` uses `open_via_app` and `page_problems` from here
too (it puts the repository root on `sys.path`), so the tests and
the benchmark judge a page the same way.

Paths are built from this file's location, so the tests run from any
working directory. Nothing here imports seqlab (or TensorFlow): a test that
checks a page draws without TensorFlow can use it in a fresh interpreter.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PAGES_DIR = ROOT / "pages"
HOME_PAGE = APP  # through the entry point, as `streamlit run app.py` opens it
DATA_PAGE = PAGES_DIR / "1_Data.py"
TRAIN_PAGE = PAGES_DIR / "2_Train.py"
COMPARE_PAGE = PAGES_DIR / "3_Compare.py"
ATTENTION_PAGE = PAGES_DIR / "4_Attention.py"
PREDICT_PAGE = PAGES_DIR / "5_Predict.py"
INSIDE_PAGE = PAGES_DIR / "6_Inside.py"
# Seconds one AppTest run may take: a first run imports the page's modules on a busy 2-core box.
TIMEOUT = 90


# ------------------------------------------------------------------ opening
def open_page(path: Path | str, *, timeout: float = TIMEOUT) -> AppTest:
    """Returns an AppTest of one page script (not yet run)."""
    return AppTest.from_file(str(path), default_timeout=timeout)


def open_via_app(script: str, *, timeout: float = TIMEOUT) -> AppTest:
    """Returns an AppTest of app.py switched to `script`, as the sidebar opens it (not yet run).

    Args:
        script: the page's path relative to app.py ("pages/1_Data.py"); going
            through the entry point keeps `st.page_link`/`st.switch_page`
            paths (relative to app.py) valid on every page.
    """
    at = open_page(APP, timeout=timeout)
    if Path(script) != Path(APP.name):
        at.switch_page(script)
    return at


# -------------------------------------------------------------------- check
def page_problems(at: AppTest, expected_errors: Iterable[str] = ()) -> list[str]:
    """Returns what is wrong on the page after a run, one line each (empty: nothing).

    Args:
        at: an AppTest that has been run.
        expected_errors: substrings of the `st.error` boxes the caller expects;
            an error box containing none of them is a problem, and so is an
            expected substring that no error box contains.
    """
    expected = list(expected_errors)
    problems = [f"exception: {element.value}" for element in at.exception]
    errors = [str(element.value) for element in at.error]
    problems += [f"unexpected error: {text}" for text in errors
                 if not any(fragment in text for fragment in expected)]
    problems += [f"expected error not shown: {fragment!r} (errors: {errors})"
                 for fragment in expected if not any(fragment in text for text in errors)]
    return problems


def check_page(at: AppTest, *expected_errors: str) -> AppTest:
    """Asserts the page shows no exception and no error box other than `expected_errors`.

    Args:
        at: an AppTest that has been run.
        expected_errors: substrings of the error boxes this test provokes on
            purpose; each must be shown, and nothing else may be.

    Returns:
        `at`, so a test can write `at = check_page(open_page(PAGE).run())`.
    """
    problems = page_problems(at, expected_errors)
    assert not problems, "\n".join(problems)
    return at


# ------------------------------------------------------------------ reading
def chart_frames(at: AppTest) -> list[pd.DataFrame]:
    """Returns the data of every altair chart on the page (one frame per dataset)."""
    return [dataframe_util.convert_arrow_bytes_to_pandas_df(dataset.data.data)
            for chart in at.get("vega_lite_chart") for dataset in chart.proto.datasets]


def frames_with(at: AppTest, *columns: str) -> list[pd.DataFrame]:
    """Returns the chart frames that have all of `columns`."""
    return [frame for frame in chart_frames(at) if set(columns) <= set(frame.columns)]


def texts_of(elements) -> str:
    """Returns the values of AppTest elements (at.info, at.markdown, ...) as one text."""
    return "\n".join(str(element.value) for element in elements)
