"""Presentation mode: `?present=1` or the sidebar toggle makes text and charts projector-sized."""

from __future__ import annotations

import altair as alt
import pandas as pd

from seqlab.ui.present import CHART_LABEL_PX, CHART_TITLE_PX, projector_chart
from tests.apptest_support import check_page, open_via_app


def test_a_present_link_turns_the_mode_on_and_the_toggle_off(store):
    at = open_via_app("pages/3_Compare.py")
    at.query_params["present"] = "1"
    check_page(at.run())
    assert at.toggle(key="app.present").value is True
    assert any("font-size: 22px" in str(element.proto) for element in at.get("html"))
    at.toggle(key="app.present").set_value(False).run()
    check_page(at)
    assert not any("font-size: 22px" in str(element.proto) for element in at.get("html"))


def test_without_the_link_the_page_is_drawn_as_usual(store):
    at = check_page(open_via_app("pages/3_Compare.py").run())
    assert at.toggle(key="app.present").value is False
    assert "present" not in at.query_params


def test_projector_charts_get_large_labels_and_titles():
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y").properties(
        title="Loss")
    config = projector_chart(chart).to_dict()["config"]
    assert config["axis"]["labelFontSize"] == CHART_LABEL_PX == 18
    assert config["legend"]["labelFontSize"] == CHART_LABEL_PX
    assert config["title"]["fontSize"] == CHART_TITLE_PX == 24


def test_the_train_form_folds_away_when_presenting(store):
    at = open_via_app("pages/2_Train.py")
    at.query_params["present"] = "1"
    check_page(at.run())
    assert [expander.label for expander in at.expander if expander.label == "Set up a run"]
